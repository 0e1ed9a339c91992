package getty

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// settleWait bounds settle after a ^C: only a process blocking SIGINT
// (or stopped) keeps one pending for longer than a few milliseconds.
const settleWait = 2 * time.Second

// settlePoll is how often settle looks again.
const settlePoll = time.Millisecond

// settle returns true once no process of process group pgrp but the
// shell itself (self) still has a SIGINT to take, or a SIGKILL to die
// of: those are the processes a ^C is killing, and until one is gone
// it can still read the terminal. A command the shell runs is reaped
// when it dies, but not what it started: a ^C typed to `gosh -c 'cat'`
// kills gosh and cat together, the shell reaps gosh, and cat, not yet
// scheduled to die, would take the next line typed at the prompt. It
// returns false if that is still so after limit (the prompt then shows
// all the same), or when procRoot (/proc) cannot be read.
func settle(procRoot string, pgrp, self int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		busy, err := dying(procRoot, pgrp, self)
		if err != nil {
			return false
		}
		if !busy {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(settlePoll)
	}
}

// dying reports whether a process of group pgrp other than self has a
// SIGINT or SIGKILL pending and has not exited.
func dying(procRoot string, pgrp, self int) (bool, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		stat, err := os.ReadFile(procRoot + "/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold anything.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err != nil || g != pgrp {
			continue
		}
		if f[0] == "Z" || f[0] == "X" {
			continue
		}
		status, err := os.ReadFile(procRoot + "/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		if pendingKill(string(status)) {
			return true, nil
		}
	}
	return false, nil
}

// pendingKill reports whether a /proc/PID/status text shows SIGINT
// pending (for the process or its main thread) or SIGKILL (the kernel
// already killing it).
func pendingKill(status string) bool {
	for _, line := range strings.Split(status, "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "SigPnd" && name != "ShdPnd") {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
		if err != nil {
			continue
		}
		if mask&(1<<(unix.SIGINT-1)|1<<(unix.SIGKILL-1)) != 0 {
			return true
		}
	}
	return false
}
