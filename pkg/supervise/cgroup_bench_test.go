package supervise

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/servicedir"
)

// BenchmarkStartCgroup: 100 services set up and started as a scanner
// does it (New then Start on 4 workers),
// with a cgroup per service and without (svinit-no-cgroup): what the
// cgroups cost scan-to-up. Start spawns ./run before it returns, so the
// time is the set-ups and spawns, not the shell scripts' start.
func BenchmarkStartCgroup(b *testing.B) {
	const n = 100
	for _, mode := range []string{"cgroup", "no-cgroup"} {
		b.Run(mode, func(b *testing.B) {
			c := privateCgroups(b)
			var cpu time.Duration // the supervisor's CPU time in the timed parts
			for b.Loop() {
				b.StopTimer()
				base := b.TempDir()
				r := reaper.New()
				stop := make(chan struct{})
				go r.Run(stop, nil)
				p, err := NewControlPoller()
				if err != nil {
					b.Fatal(err)
				}
				go p.Run()
				var dirs []string
				for i := range n {
					d := filepath.Join(base, strconv.Itoa(i))
					os.Mkdir(d, 0o755)
					os.WriteFile(filepath.Join(d, "run"), []byte(sleeper), 0o755)
					if mode == "no-cgroup" {
						os.WriteFile(filepath.Join(d, servicedir.NoCgroup), nil, 0o644)
					}
					dirs = append(dirs, d)
				}
				svcs := make([]*Service, n)
				cpu0 := cpuTime()
				b.StartTimer()
				var wg sync.WaitGroup
				for w := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := w; i < n; i += 4 {
							s, err := New(dirs[i], Options{Reaper: r, Name: strconv.Itoa(i), Poller: p, Cgroups: c})
							if err != nil {
								b.Error(err)
								return
							}
							s.Start()
							svcs[i] = s
						}
					}()
				}
				wg.Wait() // Start spawns ./run before it returns
				b.StopTimer()
				cpu += cpuTime() - cpu0
				for _, s := range svcs {
					if s != nil {
						s.Control("dx")
					}
				}
				for _, s := range svcs {
					if s != nil {
						<-s.Done()
					}
				}
				p.Close()
				close(stop)
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N)/1000, "cpu-ms/op")
		})
	}
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCgroupOps: what a cgroup adds to a service, without the spawn
// itself: "first start" makes the cgroup, names it in
// supervise/svinit-cgroup, writes no limit, opens it for the spawn and
// finally releases it (once per service and supervision); "restart" is
// what each later start and death add (open the cgroup for the spawn,
// memory.events at the death, cgroup.procs once really down).
func BenchmarkCgroupOps(b *testing.B) {
	c := privateCgroups(b)
	dir := b.TempDir()
	os.Mkdir(filepath.Join(dir, "supervise"), 0o700)
	r := reaper.New()
	s := &Service{dir: dir, opts: Options{Cgroups: c, Logf: func(string, ...any) {}, Reaper: r}}
	s.logQ = s.opts.Logf
	var err error
	if s.dfd, err = syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0); err != nil {
		b.Fatal(err)
	}
	defer syscall.Close(s.dfd)
	cfg := servicedir.Defaults(dir)
	b.Run("first start", func(b *testing.B) {
		i := 0
		for b.Loop() {
			s.opts.Name = "s" + strconv.Itoa(i)
			i++
			closeCgroupFd(s.cgroupFd(&cfg))
			s.dropCgroup()
		}
	})
	s.opts.Name = "r"
	closeCgroupFd(s.cgroupFd(&cfg))
	defer s.dropCgroup()
	b.Run("restart", func(b *testing.B) {
		for b.Loop() {
			closeCgroupFd(s.cgroupFd(&cfg))
			s.checkOOM()
			s.killCgroup("down")
		}
	})
}
