package svscan

import (
	"os"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/supervise"
)

// key is a service directory's identity: services are known by device
// and inode, not by name.
type key struct{ dev, ino uint64 }

// pair is one scan-directory entry: a service and, if it has log/, its
// logger, joined by a pipe the scanner holds.
type pair struct {
	name         string
	key          key
	active       bool
	main, log    *supervise.Service
	pipeR, pipeW *os.File
	reported     string
	// When each supervisor was last started: a supervisor that exits
	// while its service is active is started again, not sooner than
	// restartGap after that.
	mainStarted, logStarted time.Time
	// cfg and logCfg are what validate read, handed to the first start
	// so that the directory is not read twice on the way to up.
	cfg, logCfg *servicedir.Config
}

// done is the end of one supervisor of a pair.
type done struct {
	p     *pair
	isLog bool
}

// stopAll begins the exit ('t', or 'q' with quit): every service down,
// its supervisor told to exit; loggers told to exit when their input
// ends ('t') or brought down too ('q'). A 'q' after a 't' escalates.
func (s *Scanner) stopAll(quit bool) {
	if s.exiting == 't' && !quit || s.exiting == 'q' {
		return
	}
	if quit {
		s.exiting = 'q'
	} else {
		s.exiting = 't'
	}
	if s.pid1 {
		s.shutdownCatchAll()
	}
	for _, k := range s.order {
		s.stopPair(s.pairs[k], quit)
	}
}

// prune stops the services whose directory was gone at the last scan;
// with loggers too, their loggers are brought down as well instead of
// being left to exit on EOF.
func (s *Scanner) prune(loggers bool) {
	for _, k := range s.order {
		if p := s.pairs[k]; !p.active {
			s.stopPair(p, loggers)
		}
	}
}

// stopPair brings a pair's service down and makes its supervisor exit;
// its logger is brought down too with loggers, otherwise left to exit
// on end of file.
func (s *Scanner) stopPair(p *pair, loggers bool) {
	if p.main != nil {
		p.main.Control("dx")
	} else {
		// No supervisor will ever write to the logger again.
		s.closeWriter(p)
	}
	if p.log != nil {
		if loggers {
			p.log.Control("dx")
		} else {
			p.log.Control("x")
		}
	}
}

func (s *Scanner) allDone() bool {
	for _, p := range s.pairs {
		if p.main != nil || p.log != nil {
			return false
		}
	}
	return true
}

func (s *Scanner) closeWriter(p *pair) {
	if p.pipeW != nil {
		p.pipeW.Close()
		p.pipeW = nil
	}
}

// serviceDone handles the end of one supervisor: the logger pipe's
// write end is closed once nothing will write to it any more, a pair
// whose service is still active gets its supervisor again (schedule),
// and a pair with neither supervisor left that is inactive (or the
// scanner exiting) is forgotten.
func (s *Scanner) serviceDone(d done) {
	p := d.p
	if d.isLog {
		p.log = nil
	} else {
		p.main = nil
		if !p.active || s.exiting != 0 {
			// Nothing will write to the logger any more once the
			// service's own processes are gone: let it see EOF.
			s.closeWriter(p)
		}
	}
	s.schedule(p)
	if p.main == nil && p.log == nil && (!p.active || s.exiting != 0) {
		if p.pipeR != nil {
			p.pipeR.Close()
		}
		s.closeWriter(p)
		s.releasePipes(p)
		delete(s.pairs, p.key)
		for i, k := range s.order {
			if k == p.key {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
	}
	s.doneWithCatchAll()
}

// supervise starts supervising dir; nil when it cannot be set up (then
// reported once until the error changes; schedule tries again).
func (s *Scanner) supervise(p *pair, dir, name string, stdin, stdout *os.File, cfg *servicedir.Config, isLog bool) *supervise.Service {
	svc, err := supervise.New(dir, supervise.Options{Reaper: s.reaper, Poller: s.poller, Name: name, Stdin: stdin, Stdout: stdout, Config: cfg, Logf: s.logf, NoBackoff: s.opts.NoBackoff, NoCgroup: s.opts.NoCgroup})
	if err != nil {
		if k := reportKey(err); p.reported != k {
			s.logf("%v (trying again every %v)", explain(err), restartGap)
			p.reported = k
		}
		return nil
	}
	p.reported = ""
	s.watch(svc, p, isLog)
	svc.Start()
	return svc
}

// watch hands the end of svc's supervision to the loop. The callback
// runs once supervise/lock is released, on whatever goroutine delivered
// the last event; it never blocks, so the service's Done follows at once.
func (s *Scanner) watch(svc *supervise.Service, p *pair, isLog bool) {
	svc.OnExit(func() {
		s.mu.Lock()
		s.exits = append(s.exits, done{p: p, isLog: isLog})
		s.mu.Unlock()
		s.kick()
	})
}
