package supervise

// A cgroup per service (cgroup v2, package cgroup): ./run and ./finish
// start inside the service's cgroup (CLONE_INTO_CGROUP), whatever is
// left in it once the service is really down is killed (cgroup.kill),
// timeout-kill kills the whole cgroup, and an OOM kill is reported at the
// death of ./run.

import (
	"errors"
	"fmt"
	"sync"

	"github.com/svinit/svinit/pkg/cgroup"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/spawn"
	"golang.org/x/sys/unix"
)

// Cgroups is the cgroup subtree the services of one process share: made
// at the first start of a service that wants a cgroup. Where it cannot
// be made (no cgroup2 hierarchy, not allowed), it says so once and the
// services run as under s6, without a cgroup of their own.
type Cgroups struct {
	dir  string
	once sync.Once
	tree *cgroup.Tree
	mu   sync.Mutex
	said map[string]bool
}

// NewCgroups returns a subtree made at dir when first needed; empty dir:
// "svinit" under the process's own cgroup (see package cgroup). A
// Poller has one of its own for the services that share it.
func NewCgroups(dir string) *Cgroups { return &Cgroups{dir: dir} }

// get opens the subtree the first time, and returns it (nil if there is
// none); logf reports why not, once.
func (c *Cgroups) get(logf func(string, ...any)) *cgroup.Tree {
	c.once.Do(func() {
		if logf == nil {
			logf = func(string, ...any) {}
		}
		t, err := cgroup.Open(cgroup.Options{Dir: c.dir})
		if err != nil {
			logf("cgroups: %v: services run without a cgroup of their own (as under s6)", err)
			return
		}
		if err := t.EnableError(); err != nil {
			logf("cgroups: %s: some controllers could not be enabled: %v", t.Dir(), err)
		}
		c.mu.Lock()
		c.tree = t
		c.mu.Unlock()
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tree
}

// Dir is the subtree's directory, empty if it has not been made.
func (c *Cgroups) Dir() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tree == nil {
		return ""
	}
	return c.tree.Dir()
}

// sayOnce reports a message once for the subtree, by key.
func (c *Cgroups) sayOnce(key string, logf func(string, ...any), format string, a ...any) {
	c.mu.Lock()
	said := c.said[key]
	if c.said == nil {
		c.said = map[string]bool{}
	}
	c.said[key] = true
	c.mu.Unlock()
	if !said {
		logf(format, a...)
	}
}

// Close removes the subtree's empty cgroups, and the subtree if it is
// empty (see cgroup.Tree.Close).
func (c *Cgroups) Close() error {
	c.once.Do(func() {}) // never made after Close
	c.mu.Lock()
	t := c.tree
	c.tree = nil
	c.mu.Unlock()
	if t == nil {
		return nil
	}
	return t.Close()
}

// cgroups returns the subtree the service uses, nil for none.
func (s *Service) cgroups() *Cgroups {
	if s.opts.NoCgroup {
		return nil
	}
	if s.opts.Cgroups != nil {
		return s.opts.Cgroups
	}
	return s.opts.Poller.cgroups
}

// cgroupFd returns a descriptor of the cgroup ./run or ./finish is to
// start in, -1 for none; the caller closes it. For ./run (cfg not nil),
// it first makes the cgroup if the service has none yet and writes its
// limits; svinit-no-cgroup lets go of it.
func (s *Service) cgroupFd(cfg *servicedir.Config) int {
	if cfg != nil {
		if cfg.NoCgroup {
			s.dropCgroup()
			return -1
		}
		s.makeCgroup(cfg)
	}
	if s.cg == nil {
		return -1
	}
	fd, err := s.cg.OpenDir()
	if err != nil {
		// Removed under us: made again at the next start.
		s.logQ("%v: starting without a cgroup", err)
		s.dropCgroup()
		return -1
	}
	return fd
}

// makeCgroup makes the service's cgroup if it has none, and writes the
// limits of cfg.
func (s *Service) makeCgroup(cfg *servicedir.Config) {
	c := s.cgroups()
	if c == nil {
		return
	}
	logf := s.opts.Logf
	if s.cg == nil {
		t := c.get(logf)
		if t == nil {
			return
		}
		g, err := t.Group(s.opts.Name)
		if err != nil {
			s.warn([]string{fmt.Sprintf("cgroup: %v: starting without one", err)})
			return
		}
		s.cg = g
		if err := servicedir.WriteCgroupAt(s.dfd, g.Path()); err != nil {
			s.logQ("%v", err)
		}
		s.oomSeen, _ = g.OOMKills() // a cgroup taken over keeps its count
	}
	var ws []string
	for _, err := range s.cg.SetLimits(cfg.Limits) {
		var u *cgroup.ErrUnavailable
		if errors.As(err, &u) {
			c.sayOnce(u.File, logf, "cgroups: %v: the services' %s files are ignored (first: %s)", u, limitFile(u.File), s.dir)
			continue
		}
		ws = append(ws, fmt.Sprintf("cgroup: %v", err))
	}
	s.warn(ws)
}

// limitFile is the service directory file of a cgroup file.
func limitFile(f string) string {
	switch f {
	case "memory.max":
		return servicedir.MemoryMax
	case "pids.max":
		return servicedir.PidsMax
	}
	return servicedir.CPUWeight
}

// dropCgroup lets go of the service's cgroup: what is left in it is
// killed, and it is removed once empty.
func (s *Service) dropCgroup() {
	if s.cg == nil {
		return
	}
	s.cg.Release()
	s.cg = nil
	servicedir.RemoveCgroupFileAt(s.dfd)
}

// killCgroup kills every process left in the service's cgroup; why says
// when, for the message. It reports whether it killed anything.
func (s *Service) killCgroup(why string) bool {
	if s.cg == nil {
		return false
	}
	n, err := s.cg.Procs()
	if err != nil || n == 0 {
		return false
	}
	if err := s.cg.Kill(); err != nil {
		s.logQ("%s: cannot kill the %d process(es) left in %s: %v", why, n, s.cg.Path(), err)
		return false
	}
	s.logQ("%s: killed the %d process(es) left in its cgroup", why, n)
	return true
}

// checkOOM reports the OOM kills in the service's cgroup since the last
// look (memory.events' oom_kill), at a death of ./run.
func (s *Service) checkOOM() {
	if s.cg == nil {
		return
	}
	n, ok := s.cg.OOMKills()
	if !ok || n <= s.oomSeen {
		return
	}
	limit := s.cfg.Limits.MemoryMax
	if limit == "" {
		limit = "max"
	}
	s.logQ("OOM: the kernel's OOM killer killed %d process(es) of the service (memory.max %s, %s)", n-s.oomSeen, limit, servicedir.MemoryMax)
	s.oomSeen = n
}

// spawnInCgroup spawns argv0 through the reaper in the service's cgroup
// (see cgroupFd; cfg is ./run's configuration, nil for ./finish). When
// the kernel refuses the cgroup (not allowed to move processes there, a
// cgroup with controllers for children...), the child starts where the
// supervisor is, as under s6, and that is said once.
func (s *Service) spawnInCgroup(cfg *servicedir.Config, argv0 string, argv []string, attr *spawn.Attr) (int, error) {
	cgfd := s.cgroupFd(cfg)
	if cgfd >= 0 {
		attr.UseCgroupFD, attr.CgroupFD, attr.CgroupMoveSelf = true, cgfd, !s.cg.CloneInto()
	}
	pid, err := s.opts.Reaper.Spawn(argv0, argv, attr, s.childExited)
	closeCgroupFd(cgfd)
	if err == nil || cgfd < 0 || !spawn.IsCgroupError(err) {
		return pid, err
	}
	s.warn([]string{fmt.Sprintf("cannot start %s in its cgroup %s: %v: starting it without (as under s6)", argv0, s.cg.Path(), err)})
	attr.UseCgroupFD, attr.CgroupFD, attr.CgroupMoveSelf = false, 0, false
	return s.opts.Reaper.Spawn(argv0, argv, attr, s.childExited)
}

// closeCgroupFd closes a descriptor cgroupFd returned.
func closeCgroupFd(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}
