package svclient

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/svinit/svinit/pkg/cgroup"
	"github.com/svinit/svinit/pkg/servicedir"
)

// NormallyUp reports whether DIR has no "down" file, i.e. whether the
// service starts when its supervisor does.
func NormallyUp(dir string) (bool, error) {
	_, err := os.Lstat(filepath.Join(dir, "down"))
	if err == nil {
		return false, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	return false, err
}

// ReadRestart reads svinit's supervise/svinit-restart of DIR: nil when
// there is none or it cannot be used (it is optional: an s6 supervisor
// does not write it).
func ReadRestart(dir string) *servicedir.Restart {
	r, err := servicedir.ReadRestart(dir)
	if err != nil {
		return nil
	}
	return &r
}

// Cgroup is a service's cgroup as svstat shows it: its directory
// (supervise/svinit-cgroup) and its figures at one moment.
type Cgroup struct {
	Path  string
	Stats cgroup.Stats
}

// ReadCgroup returns the cgroup of service directory dir, nil when its
// supervisor names none (s6's, or the service has no cgroup) or the
// cgroup cannot be read (gone).
func ReadCgroup(dir string) *Cgroup {
	p, err := servicedir.ReadCgroup(dir)
	if err != nil {
		return nil
	}
	st, err := cgroup.ReadStats(p)
	if err != nil {
		return nil
	}
	return &Cgroup{Path: p, Stats: st}
}
