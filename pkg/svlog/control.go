package svlog

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The logger's loop runs in one goroutine. Signals and processor exits
// arrive on others: they are queued under l.mu and a byte written to a
// self-pipe wakes the loop, which then handles them in order (woken).

type procEvent struct {
	d   *Logdir
	err error
}

// openWake creates the self-pipe.
func (l *Logger) openWake() error {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return fmt.Errorf("create self-pipe: %w", err)
	}
	l.mu.Lock()
	l.wakeR, l.wakeW = p[0], p[1]
	l.mu.Unlock()
	return nil
}

// closeWake closes the self-pipe.
func (l *Logger) closeWake() {
	l.mu.Lock()
	unix.Close(l.wakeR)
	unix.Close(l.wakeW)
	l.wakeR, l.wakeW = -1, -1
	l.mu.Unlock()
}

// wake rings the self-pipe. It is called from other goroutines; the
// write end is only closed under l.mu, so a late call never writes to a
// closed (or reused) descriptor.
func (l *Logger) wake() {
	l.mu.Lock()
	if l.wakeW >= 0 {
		unix.Write(l.wakeW, []byte{0})
	}
	l.mu.Unlock()
}

// catchSignals queues TERM, HUP, ALRM and PIPE for the loop until the
// function it returns is called.
func (l *Logger) catchSignals() (stop func()) {
	sigc := make(chan os.Signal, 16)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGALRM, syscall.SIGPIPE)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigc:
				l.mu.Lock()
				l.sigs = append(l.sigs, s.(syscall.Signal))
				l.mu.Unlock()
				l.wake()
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		signal.Stop(sigc)
	}
}

// processorDone is a log directory's procDone: it runs on the goroutine
// that waited for the processor.
func (l *Logger) processorDone(d *Logdir, err error) {
	l.mu.Lock()
	l.procEvents = append(l.procEvents, procEvent{d, err})
	l.mu.Unlock()
	l.wake()
}

// woken empties the self-pipe, then handles the queued signals and
// processor exits.
func (l *Logger) woken() {
	var drain [64]byte
	for {
		if k, _ := unix.Read(l.wakeR, drain[:]); k <= 0 {
			break
		}
	}
	l.mu.Lock()
	sigs, evs := l.sigs, l.procEvents
	l.sigs, l.procEvents = nil, nil
	l.mu.Unlock()
	for _, s := range sigs {
		l.signal(s)
	}
	for _, e := range evs {
		e.d.ProcessorDone(e.err)
	}
}

// signal acts on one signal: ALRM rotates every directory, TERM (unless
// -p) and HUP end the input, after the partial line pending if any.
func (l *Logger) signal(s syscall.Signal) {
	switch s {
	case syscall.SIGALRM:
		for _, d := range l.dirs {
			d.Rotate()
		}
	case syscall.SIGTERM, syscall.SIGHUP:
		if s == syscall.SIGTERM && l.opts.Protect {
			return
		}
		if l.exiting {
			return
		}
		if len(l.buf) == 0 {
			l.exiting = true
			return
		}
		if !l.lastLine {
			l.lastLine = true
			l.lastDL = time.Now().Add(l.opts.LastLine)
		}
	}
}
