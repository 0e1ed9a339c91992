// Package cgroup puts supervised services in cgroups of their own (cgroup
// v2): it finds the hierarchy, keeps a subtree for a supervisor (a Tree,
// normally "svinit" under the supervisor's own cgroup), makes one cgroup
// per service in it (a Group), writes the service's limits there
// (memory.max, pids.max, cpu.weight), kills every process of a service at
// once (cgroup.kill), and reads what svstat shows (memory.current,
// memory.peak, pids.current, memory.events' oom_kill).
//
// Where the hierarchy has no controllers (a host that mounts cgroup v1
// for them and cgroup2 on /sys/fs/cgroup/unified), groups still contain
// and kill; limits and memory figures are then unavailable, and say so.
//
// Layout (docs/supervise.md, "A cgroup per service"): the subtree is
// OWN/svinit, OWN being the supervisor's cgroup as /proc/self/cgroup
// names it (the root of the hierarchy for process 1: /sys/fs/cgroup/svinit).
// A second supervisor finding it locked (each Tree holds an flock on its
// directory) takes svinit-2, then svinit-3... A service's cgroup is
// named after the service, with "/" turned into ":" (foo/log: foo:log),
// so a logger is never inside the service it logs and survives it.
// Processes are only ever in the leaves: cgroup v2 lets a cgroup with
// processes have no controllers for its children ("no internal
// processes"), so the subtree itself stays empty.
package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Options configure a Tree.
type Options struct {
	// Dir is the subtree's directory; empty: DefaultName under the
	// process's own cgroup (Find). If it is held by another Tree, the
	// next free of Dir-2, Dir-3... is taken.
	Dir string
}

// A Tree is one supervisor's subtree: it holds an flock on its directory
// while open, and makes one Group per service in it.
type Tree struct {
	dir   string
	fd    int // dir, open and locked
	ctl   map[string]bool
	kill  bool // cgroup.kill exists (Linux 5.14)
	mu    sync.Mutex
	used  map[string]*Group
	enErr error          // why controllers could not be enabled, if they could not
	gone  sync.WaitGroup // removals waiting for a cgroup to empty
}

// Open makes (or takes over) the subtree and enables in it every
// controller its parent gives it. It fails when there is no
// cgroup2 hierarchy or the directory cannot be made (unprivileged).
func Open(o Options) (*Tree, error) {
	base := o.Dir
	if base == "" {
		own, _, err := Find()
		if err != nil {
			return nil, err
		}
		base = filepath.Join(own, DefaultName)
	}
	parent := filepath.Dir(base)
	if !IsCgroup2(parent) {
		return nil, fmt.Errorf("%s: %w", parent, ErrNoCgroup2)
	}
	// The parent's cgroup.subtree_control is left as it is: it says which
	// controllers the subtree can have (stage 1 enables every one in the
	// root's; elsewhere it is the business of whoever made the parent).
	var t *Tree
	for i := 1; i <= 64; i++ {
		d := base
		if i > 1 {
			d = base + "-" + strconv.Itoa(i)
		}
		if err := unix.Mkdir(d, 0o755); err != nil && err != unix.EEXIST {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", d, err)
		}
		// Not ours to use if we cannot make cgroups in it (a subtree
		// made by root, seen by an unprivileged supervisor).
		if err := unix.Access(d, unix.W_OK); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("%s: %w", d, err)
		}
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			unix.Close(fd)
			if err == unix.EWOULDBLOCK {
				continue // another supervisor's
			}
			return nil, fmt.Errorf("lock %s: %w", d, err)
		}
		t = &Tree{dir: d, fd: fd, used: map[string]*Group{}}
		break
	}
	if t == nil {
		return nil, fmt.Errorf("%s: 64 subtrees in use by other supervisors", base)
	}
	t.ctl, t.enErr = enable(t.dir)
	var st unix.Stat_t
	t.kill = unix.Fstatat(t.fd, "cgroup.kill", &st, 0) == nil
	t.sweep()
	sweepStale(base, t.dir)
	return t, nil
}

// sweepStale removes the subtrees base-2... that no supervisor holds any
// more (one killed before it could remove it), with their empty cgroups.
func sweepStale(base, ours string) {
	for i := 1; i <= 64; i++ {
		d := base
		if i > 1 {
			d = base + "-" + strconv.Itoa(i)
		}
		if d == ours {
			continue
		}
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			(&Tree{dir: d, fd: fd}).sweep()
			unix.Rmdir(d)
		}
		unix.Close(fd)
	}
}

// EnableAll enables, for the children of the cgroup at dir, every
// controller it has (stage 1 does it for the root: process 1's services
// get every controller the kernel has). It returns those then enabled.
func EnableAll(dir string) ([]string, error) {
	on, err := enable(dir)
	var l []string
	for c := range on {
		l = append(l, c)
	}
	slices.Sort(l)
	return l, err
}

// enable enables every controller dir's cgroup.controllers lists in its
// cgroup.subtree_control, each on its own (one refused does not stop the
// others), and returns those that are on.
func enable(dir string) (map[string]bool, error) {
	avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	on := map[string]bool{}
	cur, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	for _, c := range strings.Fields(string(cur)) {
		on[c] = true
	}
	var errs []error
	for _, c := range strings.Fields(string(avail)) {
		if on[c] {
			continue
		}
		if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+"+c); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c, err))
			continue
		}
		on[c] = true
	}
	if len(errs) > 0 {
		return on, fmt.Errorf("%s/cgroup.subtree_control: %w", dir, errors.Join(errs...))
	}
	return on, nil
}

// sweep removes the empty cgroups a previous supervisor left in the
// subtree (a cgroup with processes or children stays).
func (t *Tree) sweep() {
	ents, err := os.ReadDir(t.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			unix.Unlinkat(t.fd, e.Name(), unix.AT_REMOVEDIR)
		}
	}
}

// Dir is the subtree's directory.
func (t *Tree) Dir() string { return t.dir }

// Has reports whether controller c (memory, pids, cpu...) is enabled for
// the services' cgroups.
func (t *Tree) Has(c string) bool { return t.ctl[c] }

// Controllers lists the controllers enabled for the services' cgroups.
func (t *Tree) Controllers() []string {
	var l []string
	for c := range t.ctl {
		l = append(l, c)
	}
	slices.Sort(l)
	return l
}

// EnableError says why some controllers could not be enabled in the
// subtree, nil if none was refused.
func (t *Tree) EnableError() error { return t.enErr }

// Close removes the subtree's empty cgroups and the subtree itself if
// it is then empty, and lets go of its lock. It first waits for the
// cgroups Release left to empty (10 s at most).
func (t *Tree) Close() error {
	t.gone.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fd < 0 {
		return nil
	}
	t.sweep()
	err := unix.Rmdir(t.dir)
	unix.Close(t.fd)
	t.fd = -1
	if err == unix.EBUSY || err == unix.ENOTEMPTY {
		err = nil // a service's processes are still there
	}
	return err
}
