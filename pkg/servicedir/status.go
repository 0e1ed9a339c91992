package servicedir

// supervise/status: the 35-byte file that s6-supervise (2.11, as
// packaged by Debian) writes and that its clients (s6-svstat, s6-svwait,
// s6-svc -w...) read.
//
// Layout:
//
//	[0:12]  TAI64N of the last up/down change
//	[12:24] TAI64N of the last readiness
//	[24:32] pid, big-endian (0 when down)
//	[32:34] wait status, big-endian
//	[34]    flags: 0x01 paused, 0x02 finishing, 0x04 want up, 0x08 ready

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

// StatusSize is the size of the status file.
const StatusSize = 35

// Flag bits of byte 34.
const (
	FlagPaused    = 0x01
	FlagFinishing = 0x02
	FlagWantUp    = 0x04
	FlagReady     = 0x08
)

// ErrCorrupt reports a status file that cannot be decoded.
var ErrCorrupt = errors.New("corrupt status file")

// Status is the decoded content of supervise/status.
type Status struct {
	Stamp      tai64n.Stamp // last up/down change
	ReadyStamp tai64n.Stamp // last readiness
	Pid        uint64       // 0 when down
	Wstat      uint16       // wait status of the last death
	Paused     bool
	Finishing  bool
	WantUp     bool
	Ready      bool
}

// Up reports whether the service process is running.
func (s *Status) Up() bool { return s.Pid != 0 && !s.Finishing }

// ws returns the wait status as syscall.WaitStatus.
func (s *Status) ws() syscall.WaitStatus { return syscall.WaitStatus(uint32(s.Wstat)) }

// Exited reports whether the last death was a normal exit, and its code.
func (s *Status) Exited() (code int, ok bool) {
	w := s.ws()
	if w.Exited() {
		return w.ExitStatus(), true
	}
	return 0, false
}

// Signaled reports whether the last death was caused by a signal, and which.
func (s *Status) Signaled() (syscall.Signal, bool) {
	w := s.ws()
	if w.Signaled() {
		return w.Signal(), true
	}
	return 0, false
}

// Marshal packs s into its 35-byte form.
func (s *Status) Marshal() [StatusSize]byte {
	var b [StatusSize]byte
	copy(b[0:12], s.Stamp[:])
	copy(b[12:24], s.ReadyStamp[:])
	binary.BigEndian.PutUint64(b[24:32], s.Pid)
	binary.BigEndian.PutUint16(b[32:34], s.Wstat)
	var f byte
	if s.Paused {
		f |= FlagPaused
	}
	if s.Finishing {
		f |= FlagFinishing
	}
	if s.WantUp {
		f |= FlagWantUp
	}
	if s.Ready {
		f |= FlagReady
	}
	b[34] = f
	return b
}

// UnmarshalStatus decodes a status file's content. It rejects a wrong size and
// malformed timestamps; unknown flag bits are ignored, as s6 does.
func UnmarshalStatus(b []byte) (Status, error) {
	var s Status
	if len(b) != StatusSize {
		return s, fmt.Errorf("%w: %d bytes, want %d", ErrCorrupt, len(b), StatusSize)
	}
	var err error
	if s.Stamp, err = tai64n.Parse(b[0:12]); err != nil {
		return s, fmt.Errorf("%w: up/down stamp: %v", ErrCorrupt, err)
	}
	if s.ReadyStamp, err = tai64n.Parse(b[12:24]); err != nil {
		return s, fmt.Errorf("%w: readiness stamp: %v", ErrCorrupt, err)
	}
	s.Pid = binary.BigEndian.Uint64(b[24:32])
	s.Wstat = binary.BigEndian.Uint16(b[32:34])
	f := b[34]
	s.Paused = f&FlagPaused != 0
	s.Finishing = f&FlagFinishing != 0
	s.WantUp = f&FlagWantUp != 0
	s.Ready = f&FlagReady != 0
	return s, nil
}

// StatusPath returns the status file path of service directory dir.
func StatusPath(dir string) string { return filepath.Join(dir, SuperviseDir, "status") }

// ReadStatus reads DIR/supervise/status. Like s6, it decodes the first
// 35 bytes and ignores anything after them; a shorter file is reported
// as corrupt (errors.Is(err, ErrCorrupt)), naming the file. It never
// blocks: a FIFO in its place is reported, not opened for reading.
func ReadStatus(dir string) (Status, error) {
	p := StatusPath(dir)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return Status{}, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return Status{}, err
	} else if !fi.Mode().IsRegular() {
		return Status{}, fmt.Errorf("%s: %w: not a regular file (%v)", p, ErrCorrupt, fi.Mode().Type())
	}
	var b [StatusSize]byte
	n, err := io.ReadFull(f, b[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Status{}, fmt.Errorf("read %s: %w", p, err)
	}
	if n < StatusSize {
		return Status{}, fmt.Errorf("%s: %w: truncated to %d bytes, want %d", p, ErrCorrupt, n, StatusSize)
	}
	st, err := UnmarshalStatus(b[:])
	if err != nil {
		return st, fmt.Errorf("%s: %w", p, err)
	}
	return st, nil
}

// WriteStatus atomically replaces the status file of service directory dir
// (write to status.new, then rename), as s6-supervise does, so a reader
// never sees a partial file.
func WriteStatus(dir string, s *Status) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	return WriteStatusAt(fd, s)
}

// WriteStatusAt is WriteStatus for the service directory open as dirfd, in raw
// system calls (a supervisor writes it on every state change).
//
// When the file system is full (ENOSPC, EDQUOT: status.new cannot get a
// block), it overwrites supervise/status in place instead: the 35 bytes
// go in one write to a block the file already has, so the status stays
// true while the disk is full (a reader racing that write may see a
// mix of old and new bytes; s6 would keep a stale status instead).
func WriteStatusAt(dirfd int, s *Status) error {
	b := s.Marshal()
	err := writeReplace(dirfd, "supervise/status", b[:])
	if err == unix.ENOSPC || err == unix.EDQUOT {
		if fd, err2 := unix.Openat(dirfd, "supervise/status", unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err2 == nil {
			n, err2 := unix.Pwrite(fd, b[:], 0)
			unix.Close(fd)
			if err2 == nil && n == len(b) {
				return nil
			}
		}
	}
	if err != nil {
		return &os.PathError{Op: "write", Path: "supervise/status", Err: err}
	}
	return nil
}

// writeReplace writes name.new under dirfd and renames it to name.
// name.new is always a file it creates (O_EXCL): whatever was left there
// (a FIFO, a link, a directory) is removed first, never opened.
func writeReplace(dirfd int, name string, b []byte) error {
	tmp := name + ".new"
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, tmp, flags, 0o644)
	if err == unix.EEXIST {
		if unix.Unlinkat(dirfd, tmp, 0) == unix.EISDIR {
			unix.Unlinkat(dirfd, tmp, unix.AT_REMOVEDIR)
		}
		fd, err = unix.Openat(dirfd, tmp, flags, 0o644)
	}
	if err != nil {
		return err
	}
	n, err := unix.Write(fd, b)
	if err == nil && n != len(b) {
		err = unix.ENOSPC
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlinkat(dirfd, tmp, 0)
		return err
	}
	return unix.Renameat(dirfd, tmp, dirfd, name)
}

// ReplaceAt atomically replaces the file name (relative to dirfd) with b:
// name.new is written, then renamed over it.
func ReplaceAt(dirfd int, name string, b []byte) error {
	if err := writeReplace(dirfd, name, b); err != nil {
		return &os.PathError{Op: "write", Path: name, Err: err}
	}
	return nil
}
