package bootfs

import (
	"path"
	"strings"
	"testing"
)

func TestPathsAbsoluteAndClean(t *testing.T) {
	for _, p := range []string{Init, Svscan, SeedScandir, ServicesDir, Stage2, ShutdownHook, CmdlineFile,
		HostnameFile, Console, Scandir, LoggerService, LoggerFIFO, StateDir, ShutdownRecord, ProcCmdline, ProcMounts} {
		if !path.IsAbs(p) || path.Clean(p) != p {
			t.Errorf("%q: not an absolute, clean path", p)
		}
	}
	for _, p := range strings.Split(DefaultPath, ":") {
		if !path.IsAbs(p) {
			t.Errorf("PATH element %q is not absolute", p)
		}
	}
	if path.Dir(LoggerService) != Scandir || path.Base(LoggerService) != CatchAllLogger || path.Dir(LoggerFIFO) != LoggerService {
		t.Errorf("catch-all logger %s, FIFO %s: not %s/%s/fifo", LoggerService, LoggerFIFO, Scandir, CatchAllLogger)
	}
	// /run is a tmpfs stage 1 mounts: what is made at run time lives there.
	for _, p := range []string{Scandir, StateDir} {
		if !strings.HasPrefix(p, "/run/") {
			t.Errorf("%s is not under /run", p)
		}
	}
}

func TestRelUnder(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/etc/svinit/stage2", "etc/svinit/stage2"},
		{"/run/service/", "run/service"},
		{"//init", "init"},
		{"etc/x", "etc/x"},
	} {
		if got := Rel(tc.in); got != tc.want {
			t.Errorf("Rel(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ root, p, want string }{
		{"", "/proc/mounts", "/proc/mounts"},
		{"/", "/proc/mounts", "/proc/mounts"},
		{"/tmp/r", "/proc/mounts", "/tmp/r/proc/mounts"},
	} {
		if got := Under(tc.root, tc.p); got != tc.want {
			t.Errorf("Under(%q, %q) = %q, want %q", tc.root, tc.p, got, tc.want)
		}
	}
}
