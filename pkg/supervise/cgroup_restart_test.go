package supervise

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/svinit/svinit/pkg/spawn"
)

// TestCgroupRestartAfterKill: a ./run killed while a child of it lives on
// leaves that child in the cgroup; the cgroup is killed, and the next
// ./run, started in the same cgroup, must live. Linux kills at birth a
// child cloned into a cgroup once killed (CLONE_INTO_CGROUP and
// cgroup.kill's sequence numbers): the service then never came back up.
// It runs twice: with clone3, and the way of kernels without it.
func TestCgroupRestartAfterKill(t *testing.T) {
	run := "#!/bin/sh\necho start >> starts\nsleep 1000 </dev/null >/dev/null 2>&1 &\necho $! >> strays\nexec sleep 1000\n"
	for _, force := range []bool{false, true} {
		name := "clone3"
		if force {
			name = "cgroup.procs"
		}
		t.Run(name, func(t *testing.T) {
			if force {
				defer spawn.ForceCgroupProcs()()
			}
			h := startWith(t, map[string]string{"run": run}, Options{Cgroups: privateCgroups(t)})
			h.waitEvents("u")
			t.Cleanup(func() {
				b, _ := os.ReadFile(filepath.Join(h.dir, "strays"))
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil {
						syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			})
			starts := func(n int) {
				waitFor(t, fmt.Sprintf("./run's first command, start %d", n), func() bool {
					b, _ := os.ReadFile(filepath.Join(h.dir, "starts"))
					return strings.Count(string(b), "start") >= n
				})
			}
			starts(1)
			for i := 2; i <= 3; i++ {
				old := h.status().Pid
				h.control("k")
				// A ./run killed at birth would never get there.
				starts(i)
				if st := h.status(); !st.Up() || st.Pid == old {
					t.Fatalf("start %d: status %+v, want up with a new pid", i, st)
				}
			}
			if pid := int(h.status().Pid); !alive(pid) {
				t.Errorf("./run %d died", pid)
			}
			if !h.logged("left in its cgroup") {
				t.Errorf("no report of the stray's kill: the test did not test it")
			}
		})
	}
}
