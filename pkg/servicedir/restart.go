package servicedir

// supervise/svinit-restart: svinit's restart backoff state, next to the
// 35-byte supervise/status, which stays exactly s6's. s6's clients do not
// know it and do not read it.
//
// Layout (RestartSize bytes):
//
//	[0]     format version, 1
//	[1:5]   restarts: automatic restarts since supervision began, big-endian
//	[5:9]   streak: deaths in a row, each after a run shorter than
//	        svinit-restart-reset; what the delay grows with
//	[9:13]  delay in milliseconds of the pending (or last) automatic restart
//	[13:25] TAI64N when the next automatic start is due; all zero if none
//	[25]    flags: 0x01 permanent failure (stays down), 0x02 backoff off

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

// RestartFile is the name of the restart state file under a service
// directory.
const RestartFile = "supervise/svinit-restart"

// RestartSize is its size.
const RestartSize = 26

const restartVersion = 1

// Flags of Restart.
const (
	RestartPermFail  = 0x01
	RestartNoBackoff = 0x02
)

// Restart is the content of supervise/svinit-restart.
type Restart struct {
	Restarts  uint32
	Streak    uint32
	Delay     time.Duration // millisecond precision
	Next      tai64n.Stamp  // zero: no automatic start is due
	PermFail  bool          // stopped for good: too many deaths (or ./finish exited 125)
	NoBackoff bool          // s6's restart rule (svinit-no-backoff or the scanner's option)
}

// Due reports whether an automatic start is due (Next is set).
func (r *Restart) Due() bool { return r.Next != tai64n.Stamp{} }

// Marshal packs r.
func (r *Restart) Marshal() [RestartSize]byte {
	var b [RestartSize]byte
	b[0] = restartVersion
	binary.BigEndian.PutUint32(b[1:5], r.Restarts)
	binary.BigEndian.PutUint32(b[5:9], r.Streak)
	binary.BigEndian.PutUint32(b[9:13], uint32(min(r.Delay.Milliseconds(), 1<<32-1)))
	copy(b[13:25], r.Next[:])
	if r.PermFail {
		b[25] |= RestartPermFail
	}
	if r.NoBackoff {
		b[25] |= RestartNoBackoff
	}
	return b
}

// UnmarshalRestart decodes the file's content: a wrong size, version or
// timestamp is ErrCorrupt.
func UnmarshalRestart(b []byte) (Restart, error) {
	var r Restart
	if len(b) != RestartSize {
		return r, fmt.Errorf("%w: %d bytes, want %d", ErrCorrupt, len(b), RestartSize)
	}
	if b[0] != restartVersion {
		return r, fmt.Errorf("%w: format version %d, want %d", ErrCorrupt, b[0], restartVersion)
	}
	r.Restarts = binary.BigEndian.Uint32(b[1:5])
	r.Streak = binary.BigEndian.Uint32(b[5:9])
	r.Delay = time.Duration(binary.BigEndian.Uint32(b[9:13])) * time.Millisecond
	copy(r.Next[:], b[13:25])
	if r.Due() {
		if _, err := tai64n.Parse(b[13:25]); err != nil {
			return r, fmt.Errorf("%w: next start stamp: %v", ErrCorrupt, err)
		}
	}
	r.PermFail = b[25]&RestartPermFail != 0
	r.NoBackoff = b[25]&RestartNoBackoff != 0
	return r, nil
}

// WriteRestartAt atomically replaces supervise/svinit-restart of the
// service directory open as dirfd (svinit-restart.new, then rename).
func WriteRestartAt(dirfd int, r *Restart) error {
	b := r.Marshal()
	return ReplaceAt(dirfd, RestartFile, b[:])
}

// ReadRestart reads supervise/svinit-restart of service directory dir,
// without blocking and only if it is a regular file. A missing file is
// an error satisfying errors.Is(err, fs.ErrNotExist): the supervisor is
// s6's, or older.
func ReadRestart(dir string) (Restart, error) {
	p := filepath.Join(dir, RestartFile)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return Restart{}, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return Restart{}, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return Restart{}, fmt.Errorf("%s: %w: not a regular file", p, ErrCorrupt)
	}
	var b [RestartSize + 1]byte
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		if m <= 0 || err != nil {
			break
		}
		n += m
	}
	r, err := UnmarshalRestart(b[:n])
	if err != nil {
		return r, fmt.Errorf("%s: %w", p, err)
	}
	return r, nil
}
