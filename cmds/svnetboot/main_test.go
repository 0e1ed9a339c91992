package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cli"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"svnetboot", "-u", "ftp://h/x"}, `scheme "ftp"`},
		{[]string{"svnetboot", "-r", "0"}, "-r 0: want milliseconds above 0"},
		{[]string{"svnetboot", "-x"}, "usage: svnetboot"},
		{[]string{"svnetboot", "extra"}, "too many arguments"},
	}
	for _, tt := range tests {
		err := run(tt.args, strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
		if err == nil || cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v (code %d), want exit 100 with %q", tt.args, err, cli.Code(err), tt.want)
		}
	}
}

// TestDryRun: -n fetches the entry an iPXE script names and prints it,
// loading nothing; with nothing to boot it exits 1 saying why.
func TestDryRun(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "boot.ipxe"), []byte("#!ipxe\nkernel k console=ttyS0\ninitrd i\nboot\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "k"), []byte("K"), 0o644)
	os.WriteFile(filepath.Join(dir, "i"), []byte("I"), 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	work := t.TempDir()
	var out, errw strings.Builder
	err := run([]string{"svnetboot", "-n", "-D", work, "-a", "x=1", "-u", srv.URL + "/boot.ipxe"}, nil, &out, &errw)
	want := "kernel " + work + "/kernel\ninitrd " + work + "/initrd\ncmdline console=ttyS0 x=1\n"
	if err != nil || out.String() != want {
		t.Errorf("dry run: %v\n%q, want\n%q\nstderr:\n%s", err, out.String(), want, errw.String())
	}
	out.Reset()
	errw.Reset()
	err = run([]string{"svnetboot", "-n", "-D", work, "-l", t.TempDir()}, nil, &out, &errw)
	if cli.Code(err) != cli.ExitFalse || !strings.Contains(err.Error(), "no DHCP lease names a boot file") {
		t.Errorf("dry run with no lease: %v (code %d)", err, cli.Code(err))
	}
}

// TestCmdline: svinit.netboot=URL wins over the leases (and -u),
// svinit.netboot=off boots nothing, -K ignores both, a bad URL is
// ignored with a message.
func TestCmdline(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "boot.ipxe"), []byte("#!ipxe\nkernel k from=cmdline\nboot\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "k"), []byte("K"), 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	work, leases := t.TempDir(), t.TempDir()
	tests := []struct {
		cmdline string
		args    []string
		out     string // stdout, or the error's text
		code    int
	}{
		{"svinit.netboot=" + srv.URL + "/boot.ipxe", []string{"-u", "tftp://192.0.2.1/x"}, "cmdline from=cmdline\n", 0},
		{"svinit.netboot=off", nil, "nothing to boot: svinit.netboot=off", cli.ExitFalse},
		{"svinit.netboot=off", []string{"-K"}, "no DHCP lease names a boot file", cli.ExitFalse},
		{"svinit.netboot=ftp://x/y", nil, "no DHCP lease names a boot file", cli.ExitFalse},
	}
	for _, tt := range tests {
		var out, errw strings.Builder
		args := append([]string{"svnetboot", "-n", "-D", work, "-l", leases}, tt.args...)
		err := runWith(args, &out, &errw, func() bootfs.Cmdline { return bootfs.ParseCmdline(tt.cmdline) })
		if tt.code == 0 {
			if err != nil || !strings.HasSuffix(out.String(), tt.out) {
				t.Errorf("%s %q: %v, stdout %q, want ending %q\n%s", tt.cmdline, tt.args, err, out.String(), tt.out, errw.String())
			}
			continue
		}
		if cli.Code(err) != tt.code || !strings.Contains(err.Error(), tt.out) {
			t.Errorf("%s %q: %v (code %d), want %d with %q", tt.cmdline, tt.args, err, cli.Code(err), tt.code, tt.out)
		}
	}
}
