package svscan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/servicedir"
)

// restartGap is the least time between two starts of one supervisor, as
// s6-svscan spaces the s6-supervise processes it restarts.
const restartGap = time.Second

// rescanDelay is how long a scan that failed for want of resources (a
// descriptor, memory) waits before the scanner tries again.
const rescanDelay = 3 * time.Second

// missing reports whether an active pair lacks a supervisor, and from
// when it may have it again.
func (s *Scanner) missing(p *pair) (bool, time.Time) {
	var due time.Time
	need := false
	if p.main == nil {
		need, due = true, p.mainStarted.Add(restartGap)
	}
	if p.log == nil && p.pipeR != nil {
		if t := p.logStarted.Add(restartGap); !need || t.Before(due) {
			due = t
		}
		need = true
	}
	return need, due
}

// schedule arranges for the supervisors an active pair lacks to be
// started again (s6-svscan restarts an s6-supervise that died while its
// service is active, at most once a second).
func (s *Scanner) schedule(p *pair) {
	if s.exiting != 0 || !p.active {
		return
	}
	if need, due := s.missing(p); need {
		s.wakeAt(due)
	}
}

// restartDue starts the supervisors that are due to be started again,
// and asks for a scan when a service directory was renamed or removed
// meanwhile.
func (s *Scanner) restartDue(now time.Time) {
	for _, k := range s.order {
		p := s.pairs[k]
		if !p.active {
			continue
		}
		need, due := s.missing(p)
		if !need {
			continue
		}
		if due.After(now) {
			s.wakeAt(due)
			continue
		}
		dir := filepath.Join(s.opts.Dir, p.name)
		var st unix.Stat_t
		if unix.Stat(dir, &st) != nil || (key{st.Dev, st.Ino}) != p.key {
			s.want.scan = true // renamed or gone: the scan will tell
			continue
		}
		s.start(p, dir)
		s.schedule(p) // could not be started: try again later
	}
}

// scan reads the scan directory, starts supervising new services and
// marks vanished ones inactive. A service that cannot be supervised is
// reported once per scan and skipped; it never disturbs the others.
func (s *Scanner) scan() {
	s.scans.Add(1)
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		s.logf("scan dir %s: %v (keeping the current services; trying again in %v)", s.opts.Dir, explain(err), rescanDelay)
		s.rescanLater()
		return
	}
	seen := map[key]bool{}
	added := 0
	// A new entry is validated and started by a worker (below); it joins
	// s.pairs only if it was valid.
	type todo struct {
		p     *pair
		dir   string
		fresh bool   // not in s.pairs yet: validate first
		ok    bool   // fresh and valid
		retry bool   // fresh, and invalid for want of resources
		why   string // fresh and invalid: the report
		key   string // and its reportKey
	}
	var starts []todo
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		dir := filepath.Join(s.opts.Dir, name)
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			s.logf("service %s: %v", dir, err)
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		k := key{st.Dev, st.Ino}
		if seen[k] {
			continue // two names for one directory: supervise it once
		}
		seen[k] = true
		p := s.pairs[k]
		if p == nil {
			starts = append(starts, todo{p: &pair{name: name, key: k, active: true}, dir: dir, fresh: true})
			continue
		}
		p.active = true
		p.name = name // renamed: restarts look for it here
		if p.main == nil || (p.log == nil && p.pipeR != nil) {
			starts = append(starts, todo{p: p, dir: dir})
		}
	}
	for k, p := range s.pairs {
		if !seen[k] {
			p.active = false
		}
	}
	// Pipelines: every new producer is known before any consumer starts.
	for _, t := range starts {
		if t.fresh {
			s.notePipe(t.p, t.dir)
		}
	}
	one := func(t *todo) {
		if t.fresh {
			if t.ok, t.retry, t.why, t.key = s.validate(t.p, t.dir); !t.ok {
				return
			}
			// What the last scan said of it is not news (s.refused is
			// only read while the workers run).
			t.p.reported = s.refused[t.p.key]
		}
		s.start(t.p, t.dir)
	}
	// Setting up a service is a few dozen file system calls and a fork:
	// with many to start, spread them over the processors (each pair is
	// validated and set up by one worker; forks may run concurrently).
	workers := 2 * runtime.GOMAXPROCS(0)
	if workers > 8 {
		workers = 8
	}
	if len(starts) < 8 || workers < 2 {
		for i := range starts {
			one(&starts[i])
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= len(starts) {
						return
					}
					one(&starts[i])
				}
			}()
		}
		wg.Wait()
	}
	refused := map[key]string{}
	for _, t := range starts {
		if t.ok {
			s.pairs[t.p.key] = t.p
			s.order = append(s.order, t.p.key)
			added++
		}
		if t.retry {
			s.rescanLater()
		}
		if t.why != "" {
			if s.refused[t.p.key] != t.key {
				s.logf("%s", t.why) // once until it changes
			}
			refused[t.p.key] = t.key
		}
		if t.ok || !t.fresh {
			s.schedule(t.p) // a supervisor that could not be set up
		}
	}
	s.refused = refused
	if added >= 16 {
		// Starting many services leaves garbage the collector would only
		// reclaim once the heap doubled: give it back now they are up.
		debug.FreeOSMemory()
	}
}

// rescanLater asks for a scan in rescanDelay, after one that could not
// read the scan directory or set up a service for want of resources.
func (s *Scanner) rescanLater() {
	if s.exiting != 0 || !s.rescanAt.IsZero() {
		return
	}
	s.rescanAt = time.Now().Add(rescanDelay)
	s.wakeAt(s.rescanAt)
}

// resourceError reports whether err is a want of descriptors or memory,
// which goes away by itself or when the administrator raises a limit,
// rather than a mistake in a service directory.
func resourceError(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOMEM)
}

// reportKey says when a failure to supervise a service is news: a want
// of descriptors or memory is the same news wherever it struck (a file
// of supervise/, the logger pipe...); anything else, when its message
// changes.
func reportKey(err error) string {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

// explain adds to a want of descriptors which limit was reached and
// what raises it.
func explain(err error) error {
	switch {
	case errors.Is(err, syscall.EMFILE):
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		return fmt.Errorf("%w: svscan has reached its limit of %d open descriptors (RLIMIT_NOFILE; "+
			"a service takes 3, a service with a logger 8): raise the hard limit before starting svscan "+
			"(ulimit -Hn, prlimit --nofile); as process 1 svscan raises it to fs.nr_open itself", err, lim.Cur)
	case errors.Is(err, syscall.ENFILE):
		return fmt.Errorf("%w: the system's limit of open files is reached (raise fs.file-max)", err)
	}
	return err
}

// validate reads a new service's configuration and makes its logger
// pipe. As under s6-svscan, a service is supervised whatever its files
// hold: its supervisor reports a malformed configuration file (and uses
// the default) and a ./run that cannot run (and retries it). Only a
// directory that cannot be read is refused; retry says it was for want
// of resources, not because of the service directory.
func (s *Scanner) validate(p *pair, dir string) (ok, retry bool, why, key string) {
	cfg, err := servicedir.Read(dir)
	if err == nil {
		p.cfg = &cfg
		if cfg.HasLog {
			var lcfg servicedir.Config
			lcfg, err = servicedir.Read(filepath.Join(dir, "log"))
			p.logCfg = &lcfg
		}
	}
	if err != nil {
		return false, resourceError(err), fmt.Sprintf("service %s not supervised: %v", dir, explain(err)), reportKey(err)
	}
	if cfg.HasLog {
		r, w, err := os.Pipe()
		if err != nil {
			return false, resourceError(err), fmt.Sprintf("service %s not supervised: cannot create the pipe to its logger: %v", dir, explain(err)), reportKey(err)
		}
		p.pipeR, p.pipeW = r, w
	}
	return true, false, "", ""
}

// start (re)creates the supervisors a pair lacks.
func (s *Scanner) start(p *pair, dir string) {
	if p.log == nil && p.pipeR != nil {
		p.logStarted = time.Now()
		p.log = s.supervise(p, filepath.Join(dir, "log"), p.name+"/log", p.pipeR, nil, p.logCfg, true)
		p.logCfg = nil
	}
	if p.main == nil {
		p.mainStarted = time.Now()
		if in, out, ok := s.pipeEnds(p, p.pipeW); ok {
			p.main = s.supervise(p, dir, p.name, in, out, p.cfg, false)
		}
		p.cfg = nil
	}
}
