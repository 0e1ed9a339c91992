package kmod

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/svinit/svinit/pkg/kcmdline"
	"golang.org/x/sys/unix"
)

// LoadFunc loads one module file with its parameters. It returns nil when
// the module is already loaded.
type LoadFunc func(path, params string) error

// LoadFile loads a module file into the kernel: a plain .ko through
// finit_module(2) (init_module(2) when that is missing); a .ko.xz,
// .ko.zst or .ko.gz first through finit_module with
// MODULE_INIT_COMPRESSED_FILE (the kernel decompresses, when built to),
// else decompressed here and passed to init_module(2). EEXIST (already
// loaded) is success.
func LoadFile(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ext := filepath.Ext(path)
	if ext == ".ko" {
		err = unix.FinitModule(int(f.Fd()), params, 0)
		if err == unix.ENOSYS {
			img, rerr := io.ReadAll(f)
			if rerr != nil {
				return rerr
			}
			err = unix.InitModule(img, params)
		}
		return loadErr(err)
	}
	if ext != ".xz" && ext != ".zst" && ext != ".gz" {
		return fmt.Errorf("unknown module file type %q (want .ko, .ko.xz, .ko.zst or .ko.gz)", ext)
	}
	if err := unix.FinitModule(int(f.Fd()), params, unix.MODULE_INIT_COMPRESSED_FILE); err == nil || err == unix.EEXIST {
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	img, err := Decompress(data)
	if err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	return loadErr(unix.InitModule(img, params))
}

func loadErr(err error) error {
	if err == nil || err == unix.EEXIST {
		return nil
	}
	if err == unix.ENOENT {
		return fmt.Errorf("%w (unknown symbol: a dependency is missing or not loaded)", err)
	}
	if err == unix.ENOEXEC {
		return fmt.Errorf("%w (not a module for this kernel)", err)
	}
	return err
}

// Loader loads modules for devices, each module at most once while it
// stays loaded (see LoaderOptions.IsLoaded), dependencies and pre soft
// dependencies first, independent dependencies concurrently. It is
// safe for concurrent use: two events needing the same module share one
// load.
type Loader struct {
	idx       *Index
	load      LoadFunc
	logf      func(format string, a ...any)
	params    map[string]string
	blacklist map[string]bool
	isLoaded  func(name string) bool
	// Soft dependencies (modules.softdep), resolved once: pre[m] are
	// waited for before m is loaded (only those that cannot lead back
	// to m, so waits never form a cycle); post[m] are loaded after m.
	pre, post map[string][]string

	mu   sync.Mutex
	mods map[string]*modState
}

// postQueue collects the post soft dependencies met while loading for
// one request; they are loaded once the request's modules are.
type postQueue struct {
	mu    sync.Mutex
	items []postItem
}

type postItem struct{ module, of, why string }

func (q *postQueue) add(it postItem) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
}

func (q *postQueue) take() []postItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.items
	q.items = nil
	return it
}

type modState struct {
	done chan struct{}
	err  error // set before done is closed
}

// succeeded reports whether the load finished without error.
func (s *modState) succeeded() bool {
	select {
	case <-s.done:
		return s.err == nil
	default:
		return false
	}
}

// LoaderOptions configures NewLoader.
type LoaderOptions struct {
	Load      LoadFunc                      // default LoadFile
	Logf      func(format string, a ...any) // default: discard
	Params    map[string]string             // module name -> parameters
	Blacklist map[string]bool               // never loaded for an alias
	Loaded    []string                      // already in the kernel (e.g. from /proc/modules)
	// IsLoaded, when set, is asked before a module loaded earlier is
	// taken as still there: when it says no (the module was removed
	// with rmmod since), the module is loaded again for the new device,
	// as modprobe would. nil: a module loaded once stays loaded.
	IsLoaded func(name string) bool
}

// SysfsLoaded returns an IsLoaded for LoaderOptions that looks for
// sysRoot/module/NAME/initstate, which the kernel creates for every
// loaded (not built-in) module and removes when it is unloaded.
func SysfsLoaded(sysRoot string) func(name string) bool {
	return func(name string) bool {
		_, err := os.Stat(filepath.Join(sysRoot, "module", name, "initstate"))
		return err == nil
	}
}

// NewLoader returns a loader over idx.
func NewLoader(idx *Index, o LoaderOptions) *Loader {
	l := &Loader{idx: idx, load: o.Load, logf: o.Logf, params: o.Params, blacklist: o.Blacklist, isLoaded: o.IsLoaded, mods: map[string]*modState{}}
	if l.load == nil {
		l.load = LoadFile
	}
	if l.logf == nil {
		l.logf = func(string, ...any) {}
	}
	for _, m := range o.Loaded {
		st := &modState{done: make(chan struct{})}
		close(st.done)
		l.mods[Name(m)] = st
	}
	l.resolveSoftdeps()
	return l
}

// resolveSoftdeps fills pre and post for every module of the index. A
// pre soft dependency s of m is kept only if m cannot be reached from s
// through the hard dependencies and the pre soft dependencies kept so
// far (modules in name order): the graph of waits stays acyclic, as kmod
// keeps its probe list free of loops.
func (l *Loader) resolveSoftdeps() {
	l.pre, l.post = map[string][]string{}, map[string][]string{}
	if len(l.idx.Softdeps) == 0 {
		return
	}
	names := make([]string, 0, len(l.idx.Deps))
	for m := range l.idx.Deps {
		names = append(names, m)
	}
	slices.Sort(names)
	reaches := func(from, to string) bool {
		seen := map[string]bool{}
		stack := []string{from}
		for len(stack) > 0 {
			m := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if m == to {
				return true
			}
			if seen[m] {
				continue
			}
			seen[m] = true
			stack = append(stack, l.idx.Deps[m].Deps...)
			stack = append(stack, l.pre[m]...)
		}
		return false
	}
	for _, m := range names {
		pre, post := l.idx.SoftdepsOf(m)
		for _, s := range pre {
			if !reaches(s, m) {
				l.pre[m] = append(l.pre[m], s)
			}
		}
		if len(post) > 0 {
			l.post[m] = post
		}
	}
}

// LoadAlias loads every module matching modalias (a device's MODALIAS),
// logging what it loads and why. devpath only labels the log lines. It
// returns the joined errors of the modules that could not be loaded.
func (l *Loader) LoadAlias(modalias, devpath string) error {
	why := "for " + modalias
	if devpath != "" {
		why += " on " + devpath
	}
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	q := &postQueue{}
	for _, m := range l.idx.Lookup(modalias) {
		if l.blacklist[m] {
			l.logf("not loading %s (%s): blacklisted", m, why)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.load1(m, why, q); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	l.drainPost(q)
	return errors.Join(errs...)
}

// Load loads module name and its dependencies, its soft dependencies
// (modules.softdep: "pre" ones before it, "post" ones after it; their
// failures are logged, not returned); why labels the log line ("for
// ALIAS on DEVPATH").
func (l *Loader) Load(name, why string) error {
	q := &postQueue{}
	err := l.load1(Name(name), why, q)
	l.drainPost(q)
	return err
}

// load1 checks name's hard dependency graph, then loads it.
func (l *Loader) load1(name, why string, q *postQueue) error {
	if l.idx.Builtin[name] {
		return nil
	}
	// The dependency graph is static: reject cycles and unknown modules
	// before waiting on anything, so waits can never deadlock.
	if _, err := l.idx.Order(name); err != nil {
		l.logf("cannot load %s (%s): %v", name, why, err)
		return fmt.Errorf("%s: %w", name, err)
	}
	return l.ensure(name, why, q)
}

// drainPost loads the post soft dependencies queued, and theirs, until
// none is left. Nothing is held meanwhile, so these waits cannot block
// anyone.
func (l *Loader) drainPost(q *postQueue) {
	for items := q.take(); len(items) > 0; items = q.take() {
		for _, it := range items {
			_ = l.load1(it.module, "soft dependency (post) of "+it.of+", "+it.why, q)
		}
	}
}

func (l *Loader) ensure(name, why string, q *postQueue) error {
	if l.idx.Builtin[name] {
		return nil
	}
	l.mu.Lock()
	st, ok := l.mods[name]
	if ok && l.isLoaded != nil && st.succeeded() && !l.isLoaded(name) {
		ok = false // removed since: load it again
	}
	if !ok {
		st = &modState{done: make(chan struct{})}
		l.mods[name] = st
	}
	l.mu.Unlock()
	if ok {
		<-st.done
		return st.err
	}
	defer close(st.done)

	dep := l.idx.Deps[name]
	deps := dep.Deps
	errs := make([]error, len(deps))
	var wg sync.WaitGroup
	for i, d := range deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.ensure(d, "needed by "+name+", "+why, q)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			st.err = fmt.Errorf("%s: dependency %s not loaded", name, deps[i])
			l.logf("cannot load %s (%s): dependency %s not loaded", name, why, deps[i])
			return st.err
		}
	}

	// Soft dependencies to load first, in order; a failure is logged by
	// load1 and does not stop this module.
	for _, s := range l.pre[name] {
		_ = l.load1(s, "soft dependency of "+name+", "+why, q)
	}

	path := dep.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.idx.Root, path)
	}
	if _, err := os.Stat(path); err != nil {
		if os.IsNotExist(err) {
			st.err = fmt.Errorf("%s: module file %s is missing (listed in modules.dep but not in the image)", name, path)
		} else {
			st.err = fmt.Errorf("%s: module file: %w", name, err)
		}
		l.logf("cannot load %s (%s): module file %s is missing", name, why, path)
		return st.err
	}
	if err := l.load(path, l.params[name]); err != nil {
		st.err = fmt.Errorf("%s: load %s: %w", name, path, err)
		l.logf("cannot load %s (%s): %s: %v", name, why, path, err)
		return st.err
	}
	l.logf("loaded %s (%s)", name, why)
	for _, s := range l.post[name] {
		q.add(postItem{module: s, of: name, why: why})
	}
	return nil
}

// ProcModules returns the names of the modules listed in a
// /proc/modules-format file (first field of each line).
func ProcModules(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, Name(f[0]))
		}
	}
	return out, nil
}

// CmdlineOptions extracts module options from a kernel command line the
// way kmod does: "mod.param=value" words become params["mod"] (joined by
// spaces), and "modprobe.blacklist=a,b" names blacklisted modules.
// Double quotes group words with spaces.
func CmdlineOptions(cmdline string) (params map[string]string, blacklist map[string]bool) {
	params = map[string]string{}
	blacklist = map[string]bool{}
	for _, w := range kcmdline.Split(cmdline) {
		key, val, hasVal := strings.Cut(w, "=")
		mod, param, ok := strings.Cut(key, ".")
		if !ok || mod == "" || param == "" {
			continue
		}
		mod = Name(mod)
		if mod == "modprobe" && param == "blacklist" {
			for _, b := range strings.Split(val, ",") {
				if b != "" {
					blacklist[Name(b)] = true
				}
			}
			continue
		}
		opt := param
		if hasVal {
			if strings.ContainsAny(val, " \t") {
				val = `"` + val + `"`
			}
			opt += "=" + val
		}
		if params[mod] != "" {
			params[mod] += " "
		}
		params[mod] += opt
	}
	return params, blacklist
}
