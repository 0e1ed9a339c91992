// Command linepipe is the services of svscan's pipeline tests. It stops
// at a line boundary on SIGTERM, so that a test can stop any member of a
// pipeline while lines flow and ask for every line exactly once:
//
//	linepipe produce STATE N TAG  writes "TAG n" for n from STATE's number (1 if none) to N,
//	                              one write a line (then n+1 into STATE), then waits
//	linepipe forward              copies stdin to stdout a line at a time
//	linepipe consume FILE         appends stdin to FILE a line at a time
//
// It reads stdin a byte at a time: nothing read is ever left unwritten.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "linepipe:", err)
		os.Exit(1)
	}
}

// term returns a descriptor that becomes readable on SIGTERM.
func term() (int, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, err
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	go func() { <-c; unix.Write(p[1], []byte{1}) }()
	return p[0], nil
}

func pending(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, _ := unix.Poll(fds, 0)
	return n > 0
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func run(args []string) error {
	tfd, err := term()
	if err != nil {
		return err
	}
	switch {
	case len(args) == 4 && args[0] == "produce":
		state, tag := args[1], args[3]
		last, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		n := 1
		if b, err := os.ReadFile(state); err == nil {
			if n, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
				return err
			}
		}
		for ; n <= last; n++ {
			if pending(tfd) {
				return nil
			}
			if err := writeAll(1, []byte(fmt.Sprintf("%s %d\n", tag, n))); err != nil {
				return err
			}
			if err := os.WriteFile(state, []byte(strconv.Itoa(n+1)), 0o644); err != nil {
				return err
			}
		}
		var b [1]byte
		unix.Read(tfd, b[:])
		return nil
	case len(args) == 1 && args[0] == "forward", len(args) == 2 && args[0] == "consume":
		out := 1
		if args[0] == "consume" {
			if out, err = unix.Open(args[1], unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644); err != nil {
				return err
			}
		}
		var line []byte
		for {
			if len(line) == 0 {
				// Between lines: stop if asked, else wait for input.
				fds := []unix.PollFd{{Fd: 0, Events: unix.POLLIN}, {Fd: int32(tfd), Events: unix.POLLIN}}
				if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
					return err
				}
				if fds[1].Revents != 0 {
					return nil
				}
				if fds[0].Revents == 0 {
					continue
				}
			}
			var b [1]byte
			n, err := unix.Read(0, b[:])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			if n == 0 {
				return nil // end of input
			}
			line = append(line, b[0])
			if b[0] == '\n' {
				if err := writeAll(out, line); err != nil {
					return err
				}
				line = line[:0]
			}
		}
	}
	return fmt.Errorf("usage: linepipe produce STATE N TAG | forward | consume FILE")
}
