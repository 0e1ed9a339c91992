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
