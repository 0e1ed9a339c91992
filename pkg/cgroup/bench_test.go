package cgroup

import (
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/spawn"
)

// BenchmarkSpawn: what starting a child inside its cgroup costs, against
// a plain start: spawn.Start of /bin/true, waited for, plain, with
// clone3's CLONE_INTO_CGROUP, and with the child writing itself into
// cgroup.procs (kernels without it); each iteration also opens and closes
// the cgroup's directory, as a supervisor does at each start.
func BenchmarkSpawn(b *testing.B) {
	tr, err := Open(Options{Dir: privateDir(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	g, err := tr.Group("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer g.Release()
	for _, mode := range []string{"plain", "clone3", "cgroup.procs"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "cgroup.procs" {
				defer spawn.ForceCgroupProcs()()
			}
			for b.Loop() {
				attr := &spawn.Attr{Files: []int{-1, -1, 2}}
				if mode != "plain" {
					fd, err := g.OpenDir()
					if err != nil {
						b.Fatal(err)
					}
					attr.UseCgroupFD, attr.CgroupFD = true, fd
				}
				pid, err := spawn.Start("/bin/true", []string{"true"}, attr)
				if attr.UseCgroupFD {
					unix.Close(attr.CgroupFD)
				}
				if err != nil {
					b.Fatal(err)
				}
				var ws syscall.WaitStatus
				syscall.Wait4(pid, &ws, 0, nil)
			}
		})
	}
}

// BenchmarkGroup: making a service's cgroup and removing it again (once
// per service and supervision).
func BenchmarkGroup(b *testing.B) {
	tr, err := Open(Options{Dir: privateDir(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	i := 0
	for b.Loop() {
		g, err := tr.Group("g" + strconv.Itoa(i))
		if err != nil {
			b.Fatal(err)
		}
		g.Release()
		i++
	}
}
