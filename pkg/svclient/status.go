package svclient

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/svinit/svinit/pkg/s6status"
)

// ReadStatus reads DIR/supervise/status. Like s6, it decodes the first
// 35 bytes and ignores anything after them; a shorter file is reported
// as corrupt (errors.Is(err, s6status.ErrCorrupt)), naming the file.
func ReadStatus(dir string) (s6status.Status, error) {
	p := s6status.Path(dir)
	// Non-blocking, so a FIFO in its place cannot hang us.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return s6status.Status{}, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return s6status.Status{}, err
	} else if !fi.Mode().IsRegular() {
		return s6status.Status{}, fmt.Errorf("%s: %w: not a regular file (%v)", p, s6status.ErrCorrupt, fi.Mode().Type())
	}
	var b [s6status.Size]byte
	n, err := io.ReadFull(f, b[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return s6status.Status{}, fmt.Errorf("read %s: %w", p, err)
	}
	if n < s6status.Size {
		return s6status.Status{}, fmt.Errorf("%s: %w: truncated to %d bytes, want %d", p, s6status.ErrCorrupt, n, s6status.Size)
	}
	st, err := s6status.Unmarshal(b[:])
	if err != nil {
		return st, fmt.Errorf("%s: %w", p, err)
	}
	return st, nil
}

// NormallyUp reports whether DIR has no "down" file, i.e. whether the
// service starts when its supervisor does.
func NormallyUp(dir string) (bool, error) {
	_, err := os.Lstat(filepath.Join(dir, "down"))
	if err == nil {
		return false, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	return false, err
}

// ReadRestart reads svinit's supervise/svinit-restart of DIR: nil when
// there is none or it cannot be used (it is optional: an s6 supervisor
// does not write it).
func ReadRestart(dir string) *s6status.Restart {
	r, err := s6status.ReadRestart(dir)
	if err != nil {
		return nil
	}
	return &r
}
