package main_test

import (
	"path/filepath"
	"testing"

	"github.com/svinit/svinit/pkg/servicedir"
)

// TestScannerNoBackoff: svscan -B turns every service's restart backoff
// off (s6's rule); without it, a crash loop counts deaths in a row.
func TestScannerNoBackoff(t *testing.T) {
	for _, tc := range []struct {
		args []string
		off  bool
	}{{nil, false}, {[]string{"-B"}, true}} {
		d := t.TempDir()
		service(t, d, map[string]string{"a/run": "#!/bin/sh\nexit 1\n"})
		s := startScan(t, d, tc.args...)
		var r servicedir.Restart
		s.waitFor("two restarts in supervise/svinit-restart", func() bool {
			var err error
			r, err = servicedir.ReadRestart(filepath.Join(d, "a"))
			return err == nil && r.Restarts >= 2
		})
		if r.NoBackoff != tc.off || (r.Streak == 0) != tc.off {
			t.Errorf("svscan %q: %+v, want backoff off = %v", tc.args, r, tc.off)
		}
	}
}

// TestScannerNoCgroup: svscan -C runs every service without a cgroup of
// its own (s6's behaviour); without it, each service names its cgroup in
// supervise/svinit-cgroup (this needs root and a cgroup2 hierarchy, as
// the tests have).
func TestScannerNoCgroup(t *testing.T) {
	for _, tc := range []struct {
		args []string
		off  bool
	}{{nil, false}, {[]string{"-C"}, true}} {
		d := t.TempDir()
		service(t, d, map[string]string{"a/run": "#!/bin/sh\nexec sleep 1000\n"})
		s := startScan(t, d, tc.args...)
		s.waitFor("a up", func() bool {
			st, err := servicedir.ReadStatus(filepath.Join(d, "a"))
			return err == nil && st.Up()
		})
		cg, err := servicedir.ReadCgroup(filepath.Join(d, "a"))
		if tc.off && err == nil {
			t.Errorf("svscan -C: the service has a cgroup: %s", cg)
		}
		if !tc.off && err != nil {
			t.Errorf("svscan: no cgroup for the service: %v", err)
		}
	}
}
