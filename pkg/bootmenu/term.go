package bootmenu

import (
	"golang.org/x/sys/unix"
)

// RawTerminal puts the terminal on fd in the mode the menu reads keys
// in: no line editing, no echo, no signals from ^C, a byte at a time.
// It returns what restores the previous mode; on a descriptor that is
// not a terminal it does nothing and returns a no-op.
func RawTerminal(fd int) (restore func(), err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		if err == unix.ENOTTY {
			return func() {}, nil
		}
		return func() {}, err
	}
	t := *old
	t.Lflag &^= unix.ICANON | unix.ECHO | unix.ECHONL | unix.ISIG | unix.IEXTEN
	t.Iflag &^= unix.IXON | unix.ICRNL | unix.INLCR | unix.IGNCR
	t.Oflag |= unix.OPOST | unix.ONLCR
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return func() {}, err
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETSW, old) }, nil
}
