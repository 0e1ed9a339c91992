// Package fifo opens FIFOs the way early boot needs: for writing without
// blocking when no reader is there yet (execline's "redirfd -wnb" trick).
package fifo

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// OpenWriter opens path for writing with O_NONBLOCK plus extra open flags
// (e.g. unix.O_CLOEXEC). If the FIFO has no reader (ENXIO), it opens a
// temporary reader non-blocking, opens the writer, and closes the reader
// again, so the open succeeds anyway; writes then block or fail with
// EAGAIN/EPIPE until a real reader appears. With blocking set, the
// returned descriptor is switched back to blocking mode, so writes wait
// for the reader rather than fail. The caller owns the returned fd.
func OpenWriter(path string, flags int, blocking bool) (int, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|flags, 0o666)
	if err == unix.ENXIO {
		r, rerr := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if rerr != nil {
			return -1, fmt.Errorf("open %s for reading (to open it for writing without a reader): %w", path, rerr)
		}
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|flags, 0o666)
		unix.Close(r)
	}
	if err != nil {
		return -1, fmt.Errorf("open %s for writing: %w", path, err)
	}
	if blocking {
		if err := unix.SetNonblock(fd, false); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: set blocking: %w", path, err)
		}
	}
	return fd, nil
}
