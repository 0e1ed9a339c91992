package svscan

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// childNoFile is the soft descriptor limit services get under process 1:
// the kernel's default for init (INR_OPEN_CUR), which is what they get
// under s6-svscan; FD_SETSIZE, for programs that still use select(2).
const childNoFile = 1024

// raiseFileLimit raises the scanner's limits on open descriptors and
// returns the limit its children must get instead (nil: the same as
// the scanner's). Failures are reported through logf.
func raiseFileLimit(pid1 bool, logf func(string, ...any)) *unix.Rlimit {
	var start, now unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &start); err != nil {
		logf("cannot read the open-file limit (RLIMIT_NOFILE): %v", err)
		return nil
	}
	if err := setFileLimit(pid1); err != nil {
		logf("cannot raise the open-file limit (RLIMIT_NOFILE): %v", err)
	}
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &now) != nil {
		return nil
	}
	child := start // as it was (Go's runtime has already raised the soft one)
	if pid1 {
		child = unix.Rlimit{Cur: min(childNoFile, now.Max), Max: now.Max}
	}
	if child == now {
		return nil
	}
	return &child
}

// setFileLimit raises the soft limit on open descriptors (RLIMIT_NOFILE)
// to the hard limit: the scanner holds 3 per service, 8 per service
// with a logger. With hard set (process 1, which has no parent to have
// chosen a limit for it and inherits the kernel's 1024 and 4096), it
// first raises the hard limit to the most the kernel allows
// (fs.nr_open).
func setFileLimit(hard bool) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	var hardErr error
	if hard {
		if n, _ := nrOpen(); n > lim.Max {
			want := unix.Rlimit{Cur: n, Max: n}
			hardErr = unix.Setrlimit(unix.RLIMIT_NOFILE, &want)
			if hardErr == nil {
				return nil
			}
			// EPERM: no CAP_SYS_RESOURCE (a container's process 1).
			hardErr = fmt.Errorf("hard limit %d to fs.nr_open (%d): %w", lim.Max, n, hardErr)
		}
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("soft limit to the hard limit (%d): %w", lim.Max, err)
		}
	}
	return hardErr
}

// nrOpen is the kernel's ceiling for RLIMIT_NOFILE.
func nrOpen() (uint64, error) {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		return 1 << 20, err // the kernel's default, when /proc is not there yet
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}
