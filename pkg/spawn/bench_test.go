package spawn

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// BenchmarkStart compares syscall.ForkExec, Start and a Spawner starting
// a program that waits to be killed, with n more descriptors open in the
// parent (a scanner holds three per service). Besides the time per spawn
// it reports the CPU time of each child up to its first read
// (child-us/op, from /proc/PID/schedstat): the child's share of a spawn,
// which the parent does not see.
func BenchmarkStart(b *testing.B) {
	sleeper := "/bin/sleep"
	if _, err := os.Stat(sleeper); err != nil {
		b.Fatalf("no /bin/sleep: %v (apt-get install coreutils)", err)
	}
	sp, err := NewSpawner()
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	dir := b.TempDir()
	forkExec := func(path string, argv []string, attr *Attr) (int, error) { return forkExec(path, argv, attr) }
	opened := 0
	for _, n := range []int{0, 300, 3000} {
		for ; opened < n; opened++ {
			fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer syscall.Close(fd)
		}
		for _, s := range []struct {
			name  string
			start starter
		}{{"ForkExec", forkExec}, {"Start", Start}, {"Spawner", sp.Start}} {
			b.Run(s.name+"/fds="+strconv.Itoa(n), func(b *testing.B) {
				var pids []int
				defer func() {
					for _, pid := range pids {
						syscall.Kill(pid, syscall.SIGKILL)
						syscall.Wait4(pid, nil, 0, nil)
					}
				}()
				attr := &Attr{Dir: dir, Files: []int{0, 1, 2}, Setsid: true}
				for i := 0; i < b.N; i++ {
					pid, err := s.start(sleeper, []string{"sleep", "1000"}, attr)
					if err != nil {
						b.Fatal(err)
					}
					pids = append(pids, pid)
				}
				b.StopTimer()
				var cpu int64
				for _, pid := range pids {
					// Wait until the child is asleep, then read its CPU time.
					for {
						st, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
						if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "S" {
							break
						}
					}
					ss, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "schedstat"))
					if f := strings.Fields(string(ss)); len(f) > 0 {
						v, _ := strconv.ParseInt(f[0], 10, 64)
						cpu += v
					}
				}
				b.ReportMetric(float64(cpu)/1000/float64(len(pids)), "child-us/op")
			})
		}
	}
}
