package servicedir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fuzzNames are the names a fuzzed service directory may hold: every
// file a supervisor reads, and a few it does not.
var fuzzNames = append(append([]string{}, Files...), "env", "data", "other")

// FuzzServiceDir builds a service directory from the input (for each
// name: absent, a file with some of the input as content, executable or
// not, a FIFO, a directory, a link to /dev/zero, to another name (loops
// too), dangling, a huge sparse file) and reads it: Read and Load must
// return promptly whatever they find, with a sane configuration, every
// warning naming its file.
func FuzzServiceDir(f *testing.F) {
	f.Add([]byte{1, 3, 'r', 'u', 'n'})
	f.Add([]byte{8, 0, 0, 1, 2, '1', '\n', 2, 4, 5, 6, 7, 3, 1, 4, 'T', 'E', 'R', 'M'})
	f.Add([]byte{8, 0, 2, 2, 1, 3, '3', '3', ' ', 7, 6, 5, 4, 3, 2, 1, 0, 1, 11, '4', '2', '9', '4', '9', '6', '7', '2', '9', '6', '\n'})
	f.Add([]byte{6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6})
	f.Add([]byte{5, 4, 3, 2, 7, 1, 0, 'x'})
	f.Fuzz(func(t *testing.T, in []byte) {
		d := t.TempDir()
		next := func() byte {
			if len(in) == 0 {
				return 0
			}
			b := in[0]
			in = in[1:]
			return b
		}
		for i, name := range fuzzNames {
			p := filepath.Join(d, name)
			switch next() % 9 {
			case 0: // absent
			case 1, 8: // a file: a length, then that much content
				n := int(next() % 32)
				if n > len(in) {
					n = len(in)
				}
				mode := os.FileMode(0o644)
				if n > 0 && in[0]&1 == 1 {
					mode = 0o755
				}
				if err := os.WriteFile(p, in[:n], mode); err != nil {
					t.Fatal(err)
				}
				in = in[n:]
			case 2:
				unix.Mkfifo(p, 0o644)
			case 3:
				os.Mkdir(p, 0o755)
			case 4:
				os.Symlink("/dev/zero", p)
			case 5:
				os.Symlink("nowhere", p)
			case 6: // a link to another name: chains and loops
				os.Symlink(fuzzNames[(i+1+int(next()))%len(fuzzNames)], p)
			case 7:
				if fh, err := os.Create(p); err == nil {
					fh.Truncate(1 << 30)
					fh.Close()
				}
			}
		}
		type result struct {
			c    Config
			err  error
			lerr error
		}
		done := make(chan result, 1)
		go func() {
			c, err := Read(d)
			_, lerr := Load(d)
			done <- result{c, err, lerr}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(time.Minute):
			t.Fatal("Read or Load blocked")
		}
		if r.err != nil {
			t.Fatalf("Read: %v", r.err)
		}
		c := r.c
		if c.NotificationFd < -1 || c.LockFd < -1 || c.MaxDeathTally < 0 || c.MaxDeathTally > MaxDeathTallyLimit ||
			c.DownSignal < 1 || c.DownSignal > 64 || c.TimeoutKill < 0 || c.TimeoutFinish < 0 {
			t.Fatalf("config out of range: %+v", c)
		}
		for _, w := range c.Warnings {
			if !strings.HasPrefix(w, d+"/") {
				t.Errorf("warning %q does not name its file", w)
			}
		}
		if (r.lerr == nil) != (c.RunErr == nil && len(c.Warnings) == 0) {
			t.Errorf("Load: %v; Read: RunErr %v, warnings %q", r.lerr, c.RunErr, c.Warnings)
		}
	})
}
