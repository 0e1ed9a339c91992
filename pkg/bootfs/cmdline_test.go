package bootfs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/kcmdline"
)

func TestParseCmdline(t *testing.T) {
	for _, tc := range []struct {
		in       string
		want     Cmdline
		warnings int
	}{
		{"console=ttyS0", Cmdline{GraceMS: -1}, 0},
		{"svinit.stage2=/bin/s2 svinit.debug svinit.rescue=1", Cmdline{Stage2: "/bin/s2", Debug: true, Rescue: true, GraceMS: -1}, 0},
		{"svinit.debug svinit.debug=0", Cmdline{GraceMS: -1}, 0},
		{"svinit.debug=maybe", Cmdline{Debug: true, GraceMS: -1}, 1},
		{"svinit.stage2=", Cmdline{GraceMS: -1}, 1},
		{"svinit.grace=1500", Cmdline{GraceMS: 1500}, 0},
		{"svinit.grace=0", Cmdline{GraceMS: 0}, 0},
		{"svinit.grace=-3", Cmdline{GraceMS: -1}, 1},
		{"svinit.grace=soon", Cmdline{GraceMS: -1}, 1},
		{"hostname=box", Cmdline{Hostname: "box", GraceMS: -1}, 0},
		{"svinit.hostname=sv hostname=plain", Cmdline{Hostname: "sv", GraceMS: -1}, 0},
		{"hostname=plain svinit.hostname=sv", Cmdline{Hostname: "sv", GraceMS: -1}, 0},
		{`hostname="a b"`, Cmdline{GraceMS: -1}, 1},
		{"hostname=" + strings.Repeat("x", 65), Cmdline{GraceMS: -1}, 1},
		{"quiet -- svinit.rescue", Cmdline{GraceMS: -1}, 0},
		{`svinit.boot=2 svinit.boot.timeout=3`, Cmdline{Boot: "2", BootTimeout: 3, HasBootTimeout: true, GraceMS: -1}, 0},
		{`svinit.boot="Debian GNU/Linux" svinit.boot.timeout=0`, Cmdline{Boot: "Debian GNU/Linux", HasBootTimeout: true, GraceMS: -1}, 0},
		{"svinit.boot= svinit.boot.timeout=soon", Cmdline{GraceMS: -1}, 2},
		{"svinit.boot.timeout=3601", Cmdline{GraceMS: -1}, 1},
		{"svinit.netboot=off", Cmdline{Netboot: "off", GraceMS: -1}, 0},
		{"svinit.netboot=http://10.0.2.2/boot.ipxe", Cmdline{Netboot: "http://10.0.2.2/boot.ipxe", GraceMS: -1}, 0},
		{"svinit.netboot=", Cmdline{GraceMS: -1}, 1},
		{"root=LABEL=sys rw svinit.keep", Cmdline{Root: Root{Spec: "LABEL=sys", ReadWrite: true}, Keep: true, GraceMS: -1}, 0},
		{"svinit.keep svinit.keep=0", Cmdline{GraceMS: -1}, 0},
		{"svinit.s6", Cmdline{S6: true, GraceMS: -1}, 0},
		{"svinit.s6=0", Cmdline{GraceMS: -1}, 0},
	} {
		got := ParseCmdline(tc.in)
		if len(got.Warnings) != tc.warnings {
			t.Errorf("ParseCmdline(%q): warnings %q, want %d", tc.in, got.Warnings, tc.warnings)
		}
		got.Warnings = nil
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseCmdline(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseCmdline(f *testing.F) {
	for _, s := range []string{"", "svinit.debug", `a="b c" -- d`, "svinit.grace=12 hostname=x", `"`, "svinit.hostname=\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := ParseCmdline(s)
		if c.Hostname != "" {
			if err := ValidHostname(c.Hostname); err != nil {
				t.Fatalf("accepted bad host name %q", c.Hostname)
			}
		}
		if c.GraceMS < -1 {
			t.Fatalf("grace %d", c.GraceMS)
		}
		for _, p := range kcmdline.Split(s) {
			if p == "--" {
				t.Fatalf("-- returned as a parameter")
			}
		}
	})
}

func TestReadCmdline(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/svinit"), 0o755)
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	if c := ReadCmdline(root); c.Debug || c.GraceMS != -1 {
		t.Fatalf("nothing to read: %+v", c)
	}
	os.WriteFile(filepath.Join(root, CmdlineFile), []byte("svinit.debug=1 svinit.grace=500 hostname=img --\n"), 0o644)
	c := ReadCmdline(root)
	if !c.Debug || c.GraceMS != 500 || c.Hostname != "img" {
		t.Fatalf("defaults only: %+v", c)
	}
	os.WriteFile(filepath.Join(root, "proc/cmdline"), []byte("console=ttyS0 svinit.debug=0 hostname=kern\n"), 0o644)
	c = ReadCmdline(root)
	if c.Debug || c.GraceMS != 500 || c.Hostname != "kern" {
		t.Fatalf("kernel must win over the defaults: %+v", c)
	}
}

func TestParamsOnceEach(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range params {
		if p.name == "" || strings.Contains(p.name, "=") || seen[p.name] {
			t.Errorf("parameter %q: empty, with '=' or listed twice", p.name)
		}
		seen[p.name] = true
	}
}

func TestParseRoot(t *testing.T) {
	for _, tc := range []struct {
		in       string
		want     Root
		warnings int
		timeout  time.Duration
		init     string
	}{
		{"console=ttyS0", Root{}, 0, DefaultRootTimeout, DefaultInit},
		{"root=/dev/vda1", Root{Spec: "/dev/vda1"}, 0, DefaultRootTimeout, DefaultInit},
		{"root=UUID=0a1b rootfstype=ext4 rootflags=noatime rw", Root{Spec: "UUID=0a1b", FSType: "ext4", Flags: "noatime", ReadWrite: true}, 0, DefaultRootTimeout, DefaultInit},
		{"rw ro root=LABEL=sys", Root{Spec: "LABEL=sys"}, 0, DefaultRootTimeout, DefaultInit},
		{"root=PARTUUID=1234abcd-02 rootwait", Root{Spec: "PARTUUID=1234abcd-02", Wait: true}, 0, -1, DefaultInit},
		{"root=PARTLABEL=root rootdelay=5", Root{Spec: "PARTLABEL=root", Delay: 5, HasDelay: true}, 0, 5 * time.Second, DefaultInit},
		{"rootdelay=5 rootwait", Root{Delay: 5, HasDelay: true, Wait: true}, 0, -1, DefaultInit},
		{"rootdelay=soon", Root{}, 1, DefaultRootTimeout, DefaultInit},
		{"rootdelay=-1", Root{}, 1, DefaultRootTimeout, DefaultInit},
		{"init=/bin/sh", Root{Init: "/bin/sh"}, 0, DefaultRootTimeout, "/bin/sh"},
		{"init=sh", Root{}, 1, DefaultRootTimeout, DefaultInit},
		{"root=UUID=", Root{}, 1, DefaultRootTimeout, DefaultInit},
		{"root=/dev/", Root{}, 1, DefaultRootTimeout, DefaultInit},
		{"root=fe01", Root{}, 1, DefaultRootTimeout, DefaultInit},
		{"root=/dev/sda1 root=/dev/sdb1", Root{Spec: "/dev/sdb1"}, 0, DefaultRootTimeout, DefaultInit},
		{"root=/dev/sda1 -- root=/dev/sdb1", Root{Spec: "/dev/sda1"}, 0, DefaultRootTimeout, DefaultInit},
	} {
		got := ParseCmdline(tc.in)
		if len(got.Warnings) != tc.warnings {
			t.Errorf("ParseCmdline(%q): warnings %q, want %d", tc.in, got.Warnings, tc.warnings)
		}
		if got.Root != tc.want {
			t.Errorf("ParseCmdline(%q).Root = %+v, want %+v", tc.in, got.Root, tc.want)
		}
		if d := got.Root.Timeout(); d != tc.timeout {
			t.Errorf("ParseCmdline(%q).Root.Timeout() = %v, want %v", tc.in, d, tc.timeout)
		}
		if i := got.Root.InitPath(); i != tc.init {
			t.Errorf("ParseCmdline(%q).Root.InitPath() = %q, want %q", tc.in, i, tc.init)
		}
	}
}
