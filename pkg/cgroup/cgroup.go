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
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// superMagic is cgroup2's file system magic (statfs).
const superMagic = 0x63677270

// DefaultName is the subtree's name under the supervisor's own cgroup.
const DefaultName = "svinit"

// ErrNoCgroup2 means no cgroup v2 hierarchy is mounted (or the process's
// cgroup is not in one).
var ErrNoCgroup2 = errors.New("no cgroup2 file system mounted (mount -t cgroup2 none /sys/fs/cgroup)")

// Find returns the directory of the calling process's own cgroup in the
// cgroup v2 hierarchy, and whether it is the hierarchy's root. It reads
// /proc/self/cgroup and /proc/self/mountinfo.
func Find() (dir string, root bool, err error) {
	own, err := ownCgroup("/proc/self/cgroup")
	if err != nil {
		return "", false, err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	mounts, err := cgroup2Mounts(f)
	if err != nil {
		return "", false, err
	}
	dir, err = pick(mounts, own)
	if err != nil {
		return "", false, err
	}
	return dir, IsRoot(dir), nil
}

// ownCgroup returns the cgroup v2 path ("0::PATH") in a /proc/PID/cgroup file.
func ownCgroup(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return strings.TrimSuffix(p, " (deleted)"), nil
		}
	}
	return "", ErrNoCgroup2
}

// A mount is one cgroup2 mount: the cgroup at its root, and where.
type mount struct{ root, point string }

// cgroup2Mounts returns the cgroup2 mounts of a mountinfo file.
func cgroup2Mounts(f *os.File) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// id parent maj:min root point options [optional...] - type source super
		l := sc.Text()
		i := strings.Index(l, " - ")
		if i < 0 {
			continue
		}
		after := strings.Fields(l[i+3:])
		f := strings.Fields(l[:i])
		if len(after) < 1 || after[0] != "cgroup2" || len(f) < 5 {
			continue
		}
		out = append(out, mount{root: unescape(f[3]), point: unescape(f[4])})
	}
	return out, sc.Err()
}

// pick returns the directory of cgroup own in one of the mounts, the
// first under /sys/fs/cgroup if several show it.
func pick(mounts []mount, own string) (string, error) {
	best := ""
	for _, m := range mounts {
		rel, ok := under(own, m.root)
		if !ok {
			continue
		}
		d := filepath.Join(m.point, rel)
		if best == "" || strings.HasPrefix(m.point, "/sys/fs/cgroup") && !strings.HasPrefix(best, "/sys/fs/cgroup") {
			best = d
		}
	}
	if best == "" {
		return "", ErrNoCgroup2
	}
	return best, nil
}

// under returns p relative to root when p is root or below it.
func under(p, root string) (string, bool) {
	if root == "/" {
		return p, true
	}
	if p == root {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, root+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}

// unescape decodes mountinfo's \NNN octal escapes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// IsRoot reports whether dir is the root cgroup of its hierarchy (it has
// no cgroup.type: the root is the one cgroup without).
func IsRoot(dir string) bool {
	var st unix.Stat_t
	return unix.Stat(filepath.Join(dir, "cgroup.type"), &st) == unix.ENOENT
}

// IsCgroup2 reports whether dir is on a cgroup2 file system.
func IsCgroup2(dir string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(dir, &fs) == nil && fs.Type == superMagic
}

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

// GroupName is the name of service's cgroup: the service's name (as a
// scanner gives it: foo, foo/log) with every "/" turned into ":"; a name
// given as a path (a supervisor of one directory) loses its leading "/"
// and "./".
func GroupName(service string) string {
	n := strings.TrimLeft(service, "/")
	for strings.HasPrefix(n, "./") {
		n = strings.TrimLeft(n[2:], "/")
	}
	n = strings.TrimRight(n, "/")
	n = strings.ReplaceAll(n, "/", ":")
	n = strings.ReplaceAll(n, "\n", "_")
	if n == "" || n == "." || n == ".." || strings.HasPrefix(n, "cgroup.") {
		n = "service:" + n
	}
	return n
}

// Group makes (or takes over) the cgroup of service in the subtree. Two
// services whose names give the same GroupName cannot both have one.
func (t *Tree) Group(service string) (*Group, error) {
	name := GroupName(service)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fd < 0 {
		return nil, errors.New("cgroup subtree closed")
	}
	if g := t.used[name]; g != nil {
		return nil, fmt.Errorf("%s: in use by service %s", filepath.Join(t.dir, name), g.service)
	}
	err := unix.Mkdirat(t.fd, name, 0o755)
	if err != nil && err != unix.EEXIST {
		return nil, fmt.Errorf("create %s: %w", filepath.Join(t.dir, name), err)
	}
	g := &Group{t: t, name: name, service: service, path: filepath.Join(t.dir, name)}
	// One taken over may have been killed before: see CloneInto.
	g.killed.Store(err == unix.EEXIST)
	t.used[name] = g
	return g, nil
}

// A Group is one service's cgroup.
type Group struct {
	t       *Tree
	name    string // in the subtree
	service string
	path    string
	limits  Limits // as last written
	written bool
	killed  atomic.Bool // cgroup.kill written (or unknown: taken over)
}

// CloneInto reports whether a child may be started in the cgroup by
// clone3's CLONE_INTO_CGROUP (spawn.Attr.CgroupMoveSelf false). Not once
// its cgroup.kill was written: Linux then kills every child cloned into
// it at birth (the cgroup's kill sequence number differs from that of
// the parent's cgroup; seen on 6.18), so such children move themselves
// in through cgroup.procs instead. A cgroup taken over, whose past is
// unknown, is treated as killed.
func (g *Group) CloneInto() bool { return !g.killed.Load() }

// Path is the cgroup's directory.
func (g *Group) Path() string { return g.path }

// OpenDir opens the cgroup's directory for spawn.Attr.CgroupFD
// (close-on-exec); the caller closes it.
func (g *Group) OpenDir() (int, error) {
	fd, err := unix.Openat(g.t.fd, g.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", g.path, err)
	}
	return fd, nil
}

// write writes value into the cgroup's file name.
func (g *Group) write(name, value string) error {
	fd, err := unix.Openat(g.t.fd, g.name+"/"+name, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", g.path, name, err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(value)); err != nil {
		return fmt.Errorf("write %q to %s/%s: %w", value, g.path, name, err)
	}
	return nil
}

// read reads the cgroup's file name (small files only).
func (g *Group) read(name string, buf []byte) ([]byte, error) {
	fd, err := unix.Openat(g.t.fd, g.name+"/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// Populated reports whether any process is in the cgroup (cgroup.events).
func (g *Group) Populated() (bool, error) {
	var buf [128]byte
	b, err := g.read("cgroup.events", buf[:])
	if err != nil {
		return false, fmt.Errorf("%s/cgroup.events: %w", g.path, err)
	}
	v, ok := field(b, "populated")
	return ok && v != 0, nil
}

// Procs returns how many processes are in the cgroup (cgroup.procs).
func (g *Group) Procs() (int, error) {
	fd, err := unix.Openat(g.t.fd, g.name+"/cgroup.procs", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("%s/cgroup.procs: %w", g.path, err)
	}
	defer unix.Close(fd)
	var buf [4096]byte
	n := 0
	for {
		r, err := unix.Read(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("%s/cgroup.procs: %w", g.path, err)
		}
		if r <= 0 {
			return n, nil
		}
		n += bytes.Count(buf[:r], []byte{'\n'})
	}
}

// Kill kills every process in the cgroup at once with SIGKILL
// (cgroup.kill: processes forked meanwhile too). On a kernel without
// cgroup.kill (before 5.14), it freezes the cgroup (cgroup.freeze, 5.2)
// and SIGKILLs every process listed in cgroup.procs until none is left.
func (g *Group) Kill() error {
	if g.t.kill {
		g.killed.Store(true)
		return g.write("cgroup.kill", "1")
	}
	frozen := g.write("cgroup.freeze", "1") == nil
	if frozen {
		defer g.write("cgroup.freeze", "0")
	}
	for range 100 {
		b, err := os.ReadFile(filepath.Join(g.path, "cgroup.procs"))
		if err != nil {
			return err
		}
		pids := strings.Fields(string(b))
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			if n, err := strconv.Atoi(p); err == nil && n > 0 {
				unix.Kill(n, unix.SIGKILL)
			}
		}
		if frozen {
			return nil // frozen: none forked meanwhile
		}
	}
	return fmt.Errorf("%s: processes still forking after 100 rounds of SIGKILL", g.path)
}

// OOMKills returns memory.events' oom_kill: how many of the cgroup's
// processes the OOM killer killed since it was made; ok is false without
// the memory controller.
func (g *Group) OOMKills() (n uint64, ok bool) {
	var buf [512]byte
	b, err := g.read("memory.events", buf[:])
	if err != nil {
		return 0, false
	}
	return field(b, "oom_kill")
}

// Release kills what is left in the cgroup and removes it, now or (its
// processes take a moment to die) from a goroutine once it is empty; the
// name can then be used again. It does not block.
func (g *Group) Release() {
	t := g.t
	t.mu.Lock()
	if t.used[g.name] == g {
		delete(t.used, g.name)
	}
	t.mu.Unlock()
	if p, err := g.Populated(); err == nil && p {
		g.Kill()
	}
	if err := unix.Rmdir(g.path); err != unix.EBUSY {
		return
	}
	t.gone.Add(1)
	go g.removeWhenEmpty()
}

// removeWhenEmpty waits (cgroup.events wakes poll with POLLPRI when it
// changes; at most 10 s) until the cgroup is empty, then removes it.
func (g *Group) removeWhenEmpty() {
	defer g.t.gone.Done()
	fd, err := unix.Open(filepath.Join(g.path, "cgroup.events"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	var buf [128]byte
	for range 100 {
		n, err := unix.Pread(fd, buf[:], 0)
		if err != nil {
			return
		}
		if v, ok := field(buf[:n], "populated"); ok && v == 0 {
			break
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
		unix.Poll(pfd, 100)
	}
	g.t.mu.Lock()
	defer g.t.mu.Unlock()
	if g.t.used[g.name] == nil { // not taken again meanwhile
		unix.Rmdir(g.path)
	}
}

// field returns the number after "key " on a line of a flat-keyed file
// (cgroup.events, memory.events, memory.stat).
func field(b []byte, key string) (uint64, bool) {
	for len(b) > 0 {
		l := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			l, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if v, ok := bytes.CutPrefix(l, []byte(key+" ")); ok {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// writeFile writes value into an existing file (a cgroup interface file).
func writeFile(path, value string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(value))
	return err
}
