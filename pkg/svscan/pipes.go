package svscan

// pipes.go: the pipes per consumer of s6-rc's pipelines. A service
// directory scandir/P may hold producer-for naming another entry C of
// the scan directory: the scanner keeps one pipe per consumer name C,
// C's ./run reads it on stdin and every producer's ./run writes it on
// stdout. It is the logger pipe of pairs.go for a consumer with a name
// of its own (chains: a consumer may itself be a producer; funnels: its
// producers share its pipe), held, as s6-rc's fd-holder holds it, while
// C or any producer of C is supervised, so that either side restarts
// without losing a line.

import (
	"os"
	"path/filepath"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/servicedir"
)

// consumerPipe is the pipe of one consumer name.
type consumerPipe struct {
	name  string
	r, w  *os.File
	users int // pairs reading or writing it
}

// pipeTable is what the scanner knows of pipelines. Its lock is taken
// by the scan's workers (start) and by Run's goroutine.
type pipeTable struct {
	mu     sync.Mutex
	byName map[string]*consumerPipe
	feeds  map[key]string        // each producer's producer-for
	in     map[key]*consumerPipe // the pipe each pair's ./run reads
	out    map[key]*consumerPipe // the pipe each producer's ./run writes
}

// notePipe reads the producer-for of a new entry of the scan directory
// before any new service is started, so that a consumer set up in the
// same scan as its producer (in either order) gets its pipe from its
// first start. A producer with a log/ has no stdout left for a
// consumer: its producer-for is refused.
func (s *Scanner) notePipe(p *pair, dir string) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return // validate reports it
	}
	c := servicedir.ReadFiles(fd, dir, servicedir.ProducerFor, servicedir.Log)
	unix.Close(fd)
	file := filepath.Join(dir, servicedir.ProducerFor)
	switch {
	case c.ProducerFor == "":
		return // none, or malformed: its supervisor reports the warning
	case c.HasLog:
		s.logf("service %s: %s ignored: %s/log reads its stdout already (one stdout, one reader): "+
			"remove %s, or make the logger a service of its own in the scan directory and name it in producer-for",
			dir, file, dir, file)
		return
	case c.ProducerFor == p.name:
		s.logf("service %s: %s ignored: a service cannot read its own stdout: name another entry of %s", dir, file, s.opts.Dir)
		return
	}
	t := &s.pipes
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.feeds == nil {
		t.feeds = map[key]string{}
	}
	t.feeds[p.key] = c.ProducerFor
}

// pipeEnds returns the stdin and stdout of p's ./run: the read end of
// the pipe of p's name if some producer names it, and logW (the pipe to
// p/log) or else the write end of the pipe of p's producer-for. The
// pipes are made when first needed; ok is false (reported) when one
// cannot be, and the service is then started again later.
func (s *Scanner) pipeEnds(p *pair, logW *os.File) (in, out *os.File, ok bool) {
	t := &s.pipes
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.feeds) == 0 && len(t.byName) == 0 {
		return nil, logW, true // no pipelines: nothing to look up
	}
	cin := t.in[p.key]
	if cin == nil {
		if cp, wanted := t.byName[p.name], t.named(p.name); cp != nil || wanted {
			if cin, ok = s.pipeOf(p.name); !ok {
				return nil, nil, false
			}
			t.hold(&t.in, p.key, cin)
		}
	}
	out = logW
	if logW == nil {
		cout := t.out[p.key]
		if c := t.feeds[p.key]; cout == nil && c != "" {
			if cout, ok = s.pipeOf(c); !ok {
				return nil, nil, false
			}
			t.hold(&t.out, p.key, cout)
		}
		if cout != nil {
			out = cout.w
		}
	}
	if cin != nil {
		in = cin.r
	}
	return in, out, true
}

// named reports whether a producer names consumer c. Under t.mu.
func (t *pipeTable) named(c string) bool {
	for _, n := range t.feeds {
		if n == c {
			return true
		}
	}
	return false
}

// pipeOf returns the pipe of consumer name c, made if there is none.
// Under s.pipes.mu.
func (s *Scanner) pipeOf(c string) (*consumerPipe, bool) {
	t := &s.pipes
	if cp := t.byName[c]; cp != nil {
		return cp, true
	}
	r, w, err := os.Pipe()
	if err != nil {
		s.logf("service %s not supervised yet: cannot create the pipe its producers write to: %v (trying again every %v)",
			filepath.Join(s.opts.Dir, c), explain(err), restartGap)
		return nil, false
	}
	cp := &consumerPipe{name: c, r: r, w: w}
	if t.byName == nil {
		t.byName = map[string]*consumerPipe{}
	}
	t.byName[c] = cp
	return cp, true
}

// hold records that pair k reads or writes cp. Under t.mu.
func (t *pipeTable) hold(m *map[key]*consumerPipe, k key, cp *consumerPipe) {
	if *m == nil {
		*m = map[key]*consumerPipe{}
	}
	(*m)[k] = cp
	cp.users++
}

// releasePipes forgets a pair that has no supervisor left: a pipe is
// closed once neither its consumer nor any of its producers is
// supervised.
func (s *Scanner) releasePipes(p *pair) {
	t := &s.pipes
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.feeds, p.key)
	for _, m := range []map[key]*consumerPipe{t.in, t.out} {
		cp := m[p.key]
		if cp == nil {
			continue
		}
		delete(m, p.key)
		if cp.users--; cp.users == 0 {
			cp.r.Close()
			cp.w.Close()
			if t.byName[cp.name] == cp {
				delete(t.byName, cp.name)
			}
		}
	}
}

// encodePipes adds the pipe table to a handover (before the pairs, so
// that the new image adopts each producer and consumer with its ends)
// and returns fds with the pipes' descriptors added.
func (s *Scanner) encodePipes(e *enc, fds []int) []int {
	t := &s.pipes
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.byName))
	for n := range t.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	e.uint(uint64(len(names)))
	for _, n := range names {
		cp := t.byName[n]
		e.str(n)
		e.int(int64(fdOf(cp.r)))
		e.int(int64(fdOf(cp.w)))
		fds = append(fds, fdOf(cp.r), fdOf(cp.w))
	}
	for _, m := range []map[key]*consumerPipe{t.in, t.out} {
		e.uint(uint64(len(m)))
		for k, cp := range m {
			e.uint(k.dev)
			e.uint(k.ino)
			e.str(cp.name)
		}
	}
	e.uint(uint64(len(t.feeds)))
	for k, c := range t.feeds {
		e.uint(k.dev)
		e.uint(k.ino)
		e.str(c)
	}
	return fds
}

// decodePipes reads what encodePipes wrote.
func (s *Scanner) decodePipes(d *dec) {
	t := &s.pipes
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byName = map[string]*consumerPipe{}
	n := int(d.uint())
	for i := 0; i < n && d.err == nil; i++ {
		name := d.str()
		cp := &consumerPipe{name: name}
		cp.r = fdFile(d.int(), "pipe of consumer "+name+" (read end)")
		cp.w = fdFile(d.int(), "pipe of consumer "+name+" (write end)")
		t.byName[name] = cp
	}
	for _, m := range []*map[key]*consumerPipe{&t.in, &t.out} {
		n := int(d.uint())
		for i := 0; i < n && d.err == nil; i++ {
			k := key{d.uint(), d.uint()}
			if cp := t.byName[d.str()]; cp != nil {
				t.hold(m, k, cp)
			}
		}
	}
	t.feeds = map[key]string{}
	n = int(d.uint())
	for i := 0; i < n && d.err == nil; i++ {
		k := key{d.uint(), d.uint()}
		t.feeds[k] = d.str()
	}
}

// adoptedEnds are the stdin and stdout of a main service adopted in a
// handover: its consumer pipe's ends as the old image gave them.
func (s *Scanner) adoptedEnds(k key, logW *os.File) (in, out *os.File) {
	t := &s.pipes
	t.mu.Lock()
	defer t.mu.Unlock()
	out = logW
	if cp := t.in[k]; cp != nil {
		in = cp.r
	}
	if cp := t.out[k]; cp != nil && logW == nil {
		out = cp.w
	}
	return in, out
}
