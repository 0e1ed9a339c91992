package execline

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// fakeSys records the system calls a chain makes, with a tiny fd table.
type fakeSys struct {
	fakeFiles
	calls []string
	open  map[int]string // fd -> what
	execs []string       // paths tried by Exec
	found string         // the path Exec succeeds on
	umask int
}

func newFake() *fakeSys {
	return &fakeSys{fakeFiles: fakeFiles{}, open: map[int]string{0: "stdin", 1: "stdout", 2: "stderr"}, umask: 0o22}
}

func (f *fakeSys) rec(format string, a ...any) { f.calls = append(f.calls, fmt.Sprintf(format, a...)) }

func (f *fakeSys) lowest() int {
	for i := 0; ; i++ {
		if _, ok := f.open[i]; !ok {
			return i
		}
	}
}

func (f *fakeSys) Open(p string, flags int, mode uint32) (int, error) {
	fd := f.lowest()
	f.open[fd] = p
	f.rec("open %s %#o", p, flags&^syscall.O_CLOEXEC)
	return fd, nil
}

func (f *fakeSys) OpenFIFOWriter(p string, flags int, blocking bool) (int, error) {
	fd := f.lowest()
	f.open[fd] = p
	f.rec("openfifo %s %#o %v", p, flags&^syscall.O_CLOEXEC, blocking)
	return fd, nil
}

func (f *fakeSys) Dup2(o, n int) error {
	w, ok := f.open[o]
	if !ok {
		return syscall.EBADF
	}
	f.open[n] = w
	f.rec("dup2 %d %d", o, n)
	return nil
}

func (f *fakeSys) Dup(o int) (int, error) {
	w, ok := f.open[o]
	if !ok {
		return -1, syscall.EBADF
	}
	fd := f.lowest()
	if fd < 3 {
		fd = 3
		for f.open[fd] != "" {
			fd++
		}
	}
	f.open[fd] = w
	return fd, nil
}

func (f *fakeSys) Close(fd int) error {
	if _, ok := f.open[fd]; !ok {
		return syscall.EBADF
	}
	delete(f.open, fd)
	return nil
}

func (f *fakeSys) SetNonblock(fd int, nb bool) error { f.rec("nonblock %d %v", fd, nb); return nil }
func (f *fakeSys) Chdir(d string) error              { f.rec("chdir %s", d); return nil }
func (f *fakeSys) Umask(m int) int                   { old := f.umask; f.umask = m; return old }
func (f *fakeSys) SetIDs(u, g int, gs []int) error {
	f.rec("setids %d %d %v", u, g, gs)
	return nil
}

func (f *fakeSys) Exec(p string, argv, env []string) error {
	f.execs = append(f.execs, p)
	if p == f.found {
		f.rec("exec %s %q", p, argv)
		return errExecuted
	}
	return syscall.ENOENT
}

var errExecuted = fmt.Errorf("executed")

func TestChainWithFakeSys(t *testing.T) {
	for _, tc := range []struct {
		name  string
		argv  []string
		env   Env
		found string
		calls []string
		fds   map[int]string
		execs []string
	}{
		{
			name:  "redirfd wnb",
			argv:  []string{"redirfd", "-wnb", "1", "/run/fifo", "prog"},
			env:   Env{"PATH=/a:/b"},
			found: "/b/prog",
			calls: []string{"openfifo /run/fifo 01100 false", "nonblock 3 false", "dup2 3 1",
				`exec /b/prog ["prog"]`},
			fds:   map[int]string{0: "stdin", 1: "/run/fifo", 2: "stderr"},
			execs: []string{"/a/prog", "/b/prog"},
		},
		{
			name:  "redirfd modes",
			argv:  []string{"redirfd", "-r", "0", "in", "redirfd", "-a", "5", "log", "redirfd", "-xn", "6", "new", "/bin/prog"},
			found: "/bin/prog",
			calls: []string{"open in 0", "dup2 3 0", "open log 02101", "dup2 3 5", "openfifo new 0300 false", "dup2 3 6", `exec /bin/prog ["/bin/prog"]`},
			fds:   map[int]string{0: "in", 1: "stdout", 2: "stderr", 5: "log", 6: "new"},
		},
		{
			name:  "redirfd c u w",
			argv:  []string{"redirfd", "-c", "1", "exists", "redirfd", "-u", "4", "rw", "redirfd", "-w", "7", "new", "/bin/prog"},
			found: "/bin/prog",
			calls: []string{"open exists 01", "dup2 3 1", "open rw 02", "dup2 3 4", "open new 01101", "dup2 3 7", `exec /bin/prog ["/bin/prog"]`},
			fds:   map[int]string{0: "stdin", 1: "exists", 2: "stderr", 4: "rw", 7: "new"},
		},
		{
			name:  "fdmove and fdswap",
			argv:  []string{"fdmove", "-c", "4", "1", "fdswap", "1", "2", "fdmove", "5", "4", "fdclose", "0", "/p"},
			found: "/p",
			fds:   map[int]string{1: "stderr", 2: "stdout", 5: "stdout"},
		},
		{
			name:  "PATH set two links before applies",
			argv:  []string{"export", "PATH", "/new", "exec", "-l", "-a", "name", "prog", "x"},
			env:   Env{"PATH=/old"},
			found: "/new/prog",
			calls: []string{`exec /new/prog ["-name" "x"]`},
			execs: []string{"/new/prog"},
		},
		{
			name:  "PATH set by the last link does not apply",
			argv:  []string{"export", "PATH", "/new", "prog"},
			env:   Env{"PATH=/old"},
			found: "/old/prog",
			execs: []string{"/old/prog"},
		},
		{
			name:  "exec argv0",
			argv:  []string{"exec", "-l", "-a", "name", "prog", "x"},
			env:   Env{"PATH=/old"},
			found: "/old/prog",
			calls: []string{`exec /old/prog ["-name" "x"]`},
		},
		{
			name:  "emptyenv keeps the old PATH for the search",
			argv:  []string{"emptyenv", "prog"},
			env:   Env{"PATH=/x"},
			found: "/x/prog",
			calls: []string{`exec /x/prog ["prog"]`},
		},
		{
			name:  "no PATH",
			argv:  []string{"prog"},
			found: "/bin/prog",
			execs: []string{"/usr/bin/prog", "/bin/prog"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.found = tc.found
			st := &State{Env: tc.env, Sys: f}
			err := st.Run(tc.argv)
			if tc.calls != nil && !reflect.DeepEqual(f.calls, tc.calls) {
				t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(tc.calls, "\n"))
			}
			if tc.fds != nil && !reflect.DeepEqual(f.open, tc.fds) {
				t.Errorf("fds = %v, want %v", f.open, tc.fds)
			}
			if tc.execs != nil && !reflect.DeepEqual(f.execs, tc.execs) {
				t.Errorf("exec attempts = %q, want %q", f.execs, tc.execs)
			}
			if !errors.Is(err, errExecuted) {
				t.Errorf("Run: %v, want the final exec", err)
			}
		})
	}
}
