package svlog

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Reading the input. On a pipe svlog peeks (tee(2) into an internal
// pipe) and consumes the bytes only once their lines are written; a
// partial line is left in the pipe for a while (stall). Otherwise it
// reads. wait is where the loop blocks, on poll(2) or, peeking, epoll.

// setupPeek enables peeking when the input is a pipe: data is then
// duplicated with tee(2), processed and written, and only then consumed
// from the pipe, so that a logger killed at any moment leaves every line
// it has not written yet in the pipe for its successor.
func (l *Logger) setupPeek() {
	var st unix.Stat_t
	if err := unix.Fstat(l.in, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return
	}
	null, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		null = -1
	}
	l.peek, l.tpr, l.tpw, l.null = true, p[0], p[1], null
}

func (l *Logger) closePeek() {
	if l.tpr >= 0 {
		unix.Close(l.tpr)
		unix.Close(l.tpw)
	}
	if l.null >= 0 {
		unix.Close(l.null)
	}
	l.peek, l.tpr, l.tpw, l.null = false, -1, -1, -1
}

// consume removes from the input pipe the bytes already processed.
func (l *Logger) consume() {
	for l.unconsumed > 0 {
		var n int
		var err error
		if l.null >= 0 {
			var n64 int64
			n64, err = spliceN(l.in, l.null, l.unconsumed)
			n = int(n64)
			if err == unix.EINVAL || err == unix.ENOSYS {
				unix.Close(l.null)
				l.null = -1
				continue
			}
		} else {
			if cap(l.scratch) < 4096 {
				l.scratch = make([]byte, 0, 65536)
			}
			k := min(l.unconsumed, cap(l.scratch))
			n, err = unix.Read(l.in, l.scratch[:k])
		}
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil || n <= 0 {
			// Should not happen: the bytes were there when peeked.
			l.warnf("consume %d processed bytes from stdin: %v (another reader on the pipe?)", l.unconsumed, err)
			l.unconsumed = 0
			return
		}
		l.unconsumed -= n
	}
}

func spliceN(from, to, n int) (int64, error) {
	r, err := unix.Splice(from, nil, to, nil, n, 0)
	return int64(r), err
}

// fill gets more input into l.buf: in peek mode the bytes are copied
// from the pipe but stay there; otherwise they are read. It returns the
// number of new bytes, 0 at end of input, -1 when nothing is available.
func (l *Logger) fill() int {
	b := l.buf
	if cap(b)-len(b) < 4096 {
		nb := make([]byte, len(b), 2*cap(b))
		copy(nb, b)
		b = nb
		l.buf = b
	}
	c := len(b)
	want := cap(b) - c
	if l.peek {
		n64, err := unix.Tee(l.in, l.tpw, want, unix.SPLICE_F_NONBLOCK)
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			return -1
		case err == unix.EINVAL || err == unix.ENOSYS:
			l.closePeek()
			return l.fill()
		case err != nil:
			l.warnf("read from stdin: %v", err)
			return 0
		}
		n := int(n64)
		for got := 0; got < n; {
			k, err := unix.Read(l.tpr, b[c+got:c+n])
			if err == unix.EINTR {
				continue
			}
			if err != nil || k <= 0 {
				l.warnf("read from internal pipe: %v", err)
				l.closePeek()
				return -1
			}
			got += k
		}
		return n
	}
	if l.lastLine {
		want = 1
	}
	n, err := unix.Read(l.in, b[c:c+want])
	if err != nil {
		if err == unix.EINTR || err == unix.EAGAIN {
			return -1
		}
		if err != unix.EPIPE {
			l.warnf("read from stdin: %v", err)
		}
		return 0
	}
	return n
}

// setupEpoll prepares waiting in peek mode. The input pipe is watched
// edge-triggered: Linux (5.16 on) reports every write to a pipe to an
// edge-triggered watcher, so that svlog learns when the rest of a
// partial line arrives without taking the partial line out of the pipe.
func (l *Logger) setupEpoll() error {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, l.wakeR, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.wakeR)}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, l.in, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(l.in)}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("epoll_ctl on stdin: %w", err)
	}
	// inReady starts false: EPOLL_CTL_ADD reports input already there,
	// and reading a FIFO that never had a writer would return EOF.
	l.epfd = fd
	return nil
}

// wait blocks until a signal or processor event (wake), input to read
// (in; hup when the writers are gone), or the timeout in milliseconds.
func (l *Logger) wait(timeout int, wantRead bool) (wake, in, hup bool, err error) {
	if !l.peek {
		pfd := [2]unix.PollFd{{Fd: int32(l.wakeR), Events: unix.POLLIN}, {Fd: int32(l.in), Events: unix.POLLIN}}
		nfd := 1
		if wantRead {
			nfd = 2
		}
		n, err := unix.Poll(pfd[:nfd], timeout)
		if err != nil && err != unix.EINTR {
			return false, false, false, fmt.Errorf("poll: %w", err)
		}
		if n <= 0 {
			return false, false, false, nil
		}
		return pfd[0].Revents != 0, nfd == 2 && pfd[1].Revents != 0, pfd[1].Revents&(unix.POLLHUP|unix.POLLERR) != 0, nil
	}
	if wantRead {
		switch {
		case l.inReady && !l.stalled:
			timeout = 0
		case l.stalled && l.stallDelay == 0:
			timeout = 0 // spin: look again at once
		case l.stalled && l.stallDelay < time.Millisecond:
			// Short looks first: the writer is most likely about to
			// complete the line, and a writer that was blocked on a full
			// pipe does not report its writes to an edge-triggered watcher.
			time.Sleep(l.stallDelay)
			timeout = 0
		case l.stalled:
			if ms := int(l.stallDelay / time.Millisecond); timeout < 0 || timeout > ms {
				timeout = ms
			}
		}
	}
	var evs [2]unix.EpollEvent
	n, err := unix.EpollWait(l.epfd, evs[:], timeout)
	if err != nil && err != unix.EINTR {
		return false, false, false, fmt.Errorf("epoll_wait: %w", err)
	}
	for _, ev := range evs[:max(n, 0)] {
		switch ev.Fd {
		case int32(l.wakeR):
			wake = true
		case int32(l.in):
			l.inReady = true
			l.stalled = false
			if ev.Events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				l.inHup = true
			}
		}
	}
	return wake, wantRead && l.inReady, l.inHup, nil
}

// stallMax is how long a partial line may sit in the input pipe before
// svlog takes it out (where a SIGKILL would lose it).
const stallMax = time.Second

// stallFirstLook is when svlog first looks at a partial line again if no
// write to the pipe was reported; the delay then doubles up to
// stallMaxLook. Linux does not report every write to an edge-triggered
// watcher (not before 5.16, and not the writes of a writer that had to
// wait for room in the pipe), hence the looks.
const (
	stallSpins     = 100 // immediate looks first: the writer is usually mid-write
	stallFirstLook = 50 * time.Microsecond
	stallMaxLook   = 250 * time.Millisecond
)

// stall records that only n bytes of an incomplete line were seen. It
// returns false when the line has made no progress for stallMax.
func (l *Logger) stall(n int) bool {
	now := time.Now()
	if !l.stalled || n != l.stallSize {
		if !l.stalled {
			l.stallDelay, l.stallSpins = 0, 0
		}
		l.stalled, l.stallSize, l.stallSince = true, n, now
		return true
	}
	if now.Sub(l.stallSince) >= stallMax {
		return false
	}
	if l.stallSpins < stallSpins {
		l.stallSpins++
		return true
	}
	l.stallDelay = min(max(2*l.stallDelay, stallFirstLook), stallMaxLook)
	return true
}
