package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

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
