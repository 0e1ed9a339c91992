package uevent

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// DefaultBufSize is the receive buffer asked for by Open: large enough
// that the burst of events when modules are loaded at coldplug is not
// dropped while the reader is busy.
const DefaultBufSize = 16 << 20

// ErrOverflow reports that the kernel dropped events because the socket's
// receive buffer was full (ENOBUFS). The caller should rescan sysfs.
var ErrOverflow = errors.New("uevent socket overflowed (ENOBUFS): events were lost")

// Conn is a NETLINK_KOBJECT_UEVENT socket subscribed to the kernel's
// event group.
type Conn struct {
	fd  int
	buf []byte
}

// Open creates the socket, binds it to multicast group 1 (kernel events)
// and sets its receive buffer to bufSize bytes (SO_RCVBUFFORCE, which
// ignores rmem_max, when permitted; else SO_RCVBUF). bufSize <= 0 means
// DefaultBufSize.
func Open(bufSize int) (*Conn, error) {
	if bufSize <= 0 {
		bufSize = DefaultBufSize
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("netlink uevent socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bufSize); err != nil {
		// Not privileged: the kernel caps SO_RCVBUF at rmem_max.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, bufSize)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink uevent socket: bind to the kernel's group: %w", err)
	}
	return &Conn{fd: fd, buf: make([]byte, MaxSize+1)}, nil
}

// Fd returns the socket's descriptor.
func (c *Conn) Fd() int { return c.fd }

// Close closes the socket.
func (c *Conn) Close() error { return unix.Close(c.fd) }

// Pending reports whether a datagram is waiting, waiting at most
// timeoutMs milliseconds (0: do not wait, -1: forever).
func (c *Conn) Pending(timeoutMs int) (bool, error) {
	for {
		fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, timeoutMs)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, os.NewSyscallError("poll", err)
		}
		return n > 0, nil
	}
}

// ErrSkipped wraps the reason a datagram was ignored (not sent by the
// kernel, a udev re-broadcast, malformed). Callers log it and read on.
var ErrSkipped = errors.New("uevent ignored")

// Read blocks until the next datagram arrives and returns its event.
// Datagrams that are not kernel uevents (sender port id != 0, udev's
// re-broadcasts, malformed text) give an error wrapping ErrSkipped.
// ENOBUFS gives ErrOverflow; the socket stays usable.
func (c *Conn) Read() (*Event, error) {
	for {
		n, from, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ENOBUFS {
			return nil, ErrOverflow
		}
		if err != nil {
			return nil, os.NewSyscallError("recvfrom", err)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			return nil, fmt.Errorf("%w: datagram not sent by the kernel", ErrSkipped)
		}
		if n > MaxSize {
			return nil, fmt.Errorf("%w: datagram larger than %d bytes", ErrSkipped, MaxSize)
		}
		ev, err := Parse(c.buf[:n])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSkipped, err)
		}
		return ev, nil
	}
}
