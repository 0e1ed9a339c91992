package supervise

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// ControlPoller reads the supervise/control FIFOs of many services from
// one goroutine (epoll), instead of one blocked reader goroutine per
// service: a scanner with hundreds of services saves a goroutine stack
// per service.
type ControlPoller struct {
	epfd int
	stop [2]int     // a pipe: a byte written to stop[1] ends Run
	mu   sync.Mutex // held while a FIFO is read, and to add or remove one
	// busy is held from the read of a FIFO to the end of applying what
	// it brought (Pause).
	busy sync.Mutex
	fds  map[int32]*Service
	// cgroups is the cgroup subtree of the services that share the
	// poller and have no Options.Cgroups: one per process (a scanner's).
	cgroups *Cgroups
}

// NewControlPoller creates a poller; Run it in a goroutine and Close it
// when no service uses it any more.
func NewControlPoller() (*ControlPoller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &ControlPoller{epfd: fd, fds: map[int32]*Service{}, cgroups: NewCgroups("")}
	if err := unix.Pipe2(p.stop[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		unix.Close(fd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p.stop[0])}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, p.stop[0], &ev); err != nil {
		unix.Close(fd)
		unix.Close(p.stop[0])
		unix.Close(p.stop[1])
		return nil, err
	}
	return p, nil
}

func (p *ControlPoller) add(fd int, s *Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fds[int32(fd)] = s
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		delete(p.fds, int32(fd))
		return err
	}
	return nil
}

// remove stops watching fd and closes it; once it returns, the poller
// will not touch fd again.
func (p *ControlPoller) remove(fd int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	delete(p.fds, int32(fd))
	unix.Close(fd)
}

// Run reads control bytes and hands them to their services until Close.
func (p *ControlPoller) Run() {
	events := make([]unix.EpollEvent, 32)
	buf := make([]byte, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.stop[0]) {
				// Closed here, not in Close, so that no descriptor number
				// is reused while this goroutine still waits on it.
				unix.Close(p.epfd)
				unix.Close(p.stop[0])
				unix.Close(p.stop[1])
				return
			}
			// Read under the lock (so the descriptor cannot be closed
			// and reused meanwhile), apply without it: applying a
			// letter can end the service, which removes its FIFO here.
			p.busy.Lock()
			p.mu.Lock()
			s := p.fds[ev.Fd]
			if s == nil {
				p.mu.Unlock()
				p.busy.Unlock()
				continue
			}
			var got []byte
			var rerr error
			for {
				r, err := unix.Read(int(ev.Fd), buf)
				if r > 0 {
					got = append(got, buf[:r]...)
				}
				if err != nil || r < len(buf) {
					if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
						rerr = err
					}
					break
				}
				if len(got) >= 64<<10 {
					break // a flood: apply this much, epoll reports the rest
				}
			}
			p.mu.Unlock()
			if rerr != nil {
				s.logQ("read supervise/control: %v", rerr)
			}
			if len(got) > 0 {
				s.controlFIFO(got)
			}
			p.busy.Unlock()
		}
	}
}

// Pause waits until no letters read from a FIFO are still being applied
// and keeps the poller from reading more until Unpause: letters then
// wait in their FIFOs (a scanner handing its services over to its next
// image).
func (p *ControlPoller) Pause() { p.busy.Lock() }

// Unpause undoes Pause.
func (p *ControlPoller) Unpause() { p.busy.Unlock() }

// Close makes Run return (and release the poller's descriptors), and
// removes the services' cgroup subtree if it is empty.
func (p *ControlPoller) Close() {
	p.cgroups.Close()
	unix.Write(p.stop[1], []byte{0})
}
