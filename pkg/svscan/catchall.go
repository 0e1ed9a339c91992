package svscan

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/supervise"
)

// The catch-all logger at shutdown, process 1 only. Its stdout and
// stderr are the catch-all logger's FIFO, which the logger (ignoring
// SIGTERM so that it logs the shutdown) reads until end of file. On 't'
// or 'q' the scanner:
//
//  1. keeps a copy of the FIFO for what is still written during the
//     shutdown: every other service's last ./finish, its own messages
//     (keepCatchAll);
//  2. points its own stdout and stderr at the console (releaseCatchAll);
//  3. closes the copy once every service but the catch-all logger is
//     down (doneWithCatchAll, after each end of supervision): the
//     logger sees end of file, drains and exits.
//
// The catch-all logger is the service named bootfs.CatchAllLogger, as
// s6-svscan knows s6-svscan-log by name.

// shutdownCatchAll runs the three steps' start when a shutdown begins.
func (s *Scanner) shutdownCatchAll() {
	s.keepCatchAll()
	s.releaseCatchAll()
	s.doneWithCatchAll()
}

// keepCatchAll keeps a copy of the scanner's stdout, when it is a FIFO
// and the catch-all logger is supervised, and gives it to every other
// service as the default output of what it still runs.
func (s *Scanner) keepCatchAll() {
	if s.keep != nil {
		return
	}
	var out unix.Stat_t
	if unix.Fstat(1, &out) != nil || out.Mode&unix.S_IFMT != unix.S_IFIFO {
		return
	}
	for _, k := range s.order {
		if p := s.pairs[k]; p.name == bootfs.CatchAllLogger && p.main != nil {
			s.catchAll = p
			break
		}
	}
	if s.catchAll == nil {
		return
	}
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		s.logf("cannot keep the catch-all logger's FIFO for the shutdown: %v", err)
		s.catchAll = nil
		return
	}
	s.keep = os.NewFile(uintptr(fd), "catch-all FIFO")
	for _, p := range s.pairs {
		if p == s.catchAll {
			continue
		}
		for _, svc := range []*supervise.Service{p.main, p.log} {
			if svc != nil {
				svc.SetDefaultOutput(s.keep)
			}
		}
	}
	s.errw.set(s.keep)
}

// doneWithCatchAll closes the kept copy of the catch-all FIFO once every
// service but the catch-all logger is down, so that the logger, which
// only exits on EOF, can finish.
func (s *Scanner) doneWithCatchAll() {
	if s.keep == nil {
		return
	}
	for _, p := range s.pairs {
		if p != s.catchAll && (p.main != nil || p.log != nil) {
			return
		}
	}
	s.errw.set(s.opts.Stderr)
	s.keep.Close()
	s.keep = nil
}

// releaseCatchAll points the scanner's own stdout and stderr at the
// console (or /dev/null): EOF on the FIFO needs every writer gone, the
// scanner included.
func (s *Scanner) releaseCatchAll() {
	fd, err := unix.Open("/dev/console", unix.O_WRONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		s.logf("cannot release the catch-all logger's FIFO: %v", err)
		return
	}
	// Let queued messages reach the logger first.
	for i := 0; i < 100 && len(s.logq) > 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	unix.Dup3(fd, 1, 0)
	unix.Dup3(fd, 2, 0)
	unix.Close(fd)
}
