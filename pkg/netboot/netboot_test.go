package netboot

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"pack.ag/tftp"

	"github.com/svinit/svinit/pkg/netconf"
)

// tftpServer serves dir on 127.0.0.1 (a port of its own) until the test
// ends, and returns its host:port.
func tftpServer(t *testing.T, dir string) string {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tftp.NewServer(conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	s.ReadHandler(tftp.FileServer(dir))
	done := make(chan struct{})
	go func() { s.Serve(conn); close(done) }()
	t.Cleanup(func() { s.Close(); <-done; conn.Close() })
	return conn.LocalAddr().String()
}

// tree writes files (name: content) under a new directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const pxeDefault = `DEFAULT second
PROMPT 0
TIMEOUT 10

LABEL first
  KERNEL vmlinuz-first
  APPEND console=ttyS0 first=1

LABEL second
  KERNEL boot/vmlinuz
  INITRD boot/initrd.cpio
  APPEND console=ttyS0 marker=netboot
`

var mac = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

// fakeKexec records what would have been loaded, with the files' content
// read at load time.
type fakeKexec struct {
	kernel, initrd, cmdline string
	requested               bool
	loadErr                 error
}

func (f *fakeKexec) kexec() Kexec {
	return Kexec{
		Load: func(k, i, c string) error {
			if f.loadErr != nil {
				return f.loadErr
			}
			b, err := os.ReadFile(k)
			if err != nil {
				return err
			}
			f.kernel, f.cmdline = string(b), c
			if i != "" {
				b, err := os.ReadFile(i)
				if err != nil {
					return err
				}
				f.initrd = string(b)
			}
			return nil
		},
		Request: func() error { f.requested = true; return nil },
	}
}

func leaseDir(t *testing.T, leases map[string]*dhcpv4.DHCPv4) string {
	t.Helper()
	dir := t.TempDir()
	for iface, ack := range leases {
		if err := os.WriteFile(filepath.Join(dir, iface), ack.ToBytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func ack(t *testing.T, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m := append([]dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(10, 0, 2, 15))}, mods...)
	a, err := dhcpv4.New(m...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSources(t *testing.T) {
	withFile := func(f string) dhcpv4.Modifier { return func(d *dhcpv4.DHCPv4) { d.BootFileName = f } }
	tests := []struct {
		name   string
		ack    *dhcpv4.DHCPv4
		ifaces []string
		want   string // URL, or the error's text
	}{
		{"BOOTP file and next server", ack(t, withFile("pxelinux.0"), dhcpv4.WithServerIP(net.IPv4(10, 0, 2, 2))), nil, "tftp://10.0.2.2/pxelinux.0"},
		{"options 66 and 67", ack(t, dhcpv4.WithOption(dhcpv4.OptBootFileName("boot/pxelinux.0")),
			dhcpv4.WithOption(dhcpv4.OptTFTPServerName("tftp.example"))), nil, "tftp://tftp.example/boot/pxelinux.0"},
		{"a URL as the file", ack(t, withFile("http://10.0.2.2:8080/boot.ipxe")), nil, "http://10.0.2.2:8080/boot.ipxe"},
		{"the DHCP server when no next server", ack(t, withFile("pxelinux.0"),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 2, 3)))), nil, "tftp://10.0.2.3/pxelinux.0"},
		{"no boot file", ack(t), nil, "no DHCP lease names a boot file (eth0: "},
		{"another interface asked for", ack(t, withFile("pxelinux.0"), dhcpv4.WithServerIP(net.IPv4(10, 0, 2, 2))), []string{"eth1"}, "no DHCP lease names a boot file (no lease yet)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leases, err := netconf.ReadLeases(leaseDir(t, map[string]*dhcpv4.DHCPv4{"eth0": tt.ack}))
			if err != nil {
				t.Fatal(err)
			}
			srcs, err := Sources(leases, tt.ifaces, func(string) net.HardwareAddr { return mac })
			if err != nil {
				if !errors.Is(err, ErrNoBootFile) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want %q", err, tt.want)
				}
				return
			}
			if len(srcs) != 1 || srcs[0].URL.String() != tt.want || srcs[0].Iface != "eth0" ||
				srcs[0].MAC.String() != mac.String() || !srcs[0].IP.Equal(net.IPv4(10, 0, 2, 15)) {
				t.Errorf("sources %v, want eth0's %s", srcs, tt.want)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	for _, tt := range []struct{ in, err string }{
		{"tftp://10.0.2.2/pxelinux.0", ""},
		{"http://10.0.2.2:8080/boot.ipxe", ""},
		{"file:///boot/boot.ipxe", ""},
		{"pxelinux.0", `scheme ""`},
		{"tftp:///pxelinux.0", "no server"},
		{"ftp://h/x", `scheme "ftp"`},
	} {
		_, err := ParseURL(tt.in)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseURL(%q): %v, want %q", tt.in, err, tt.err)
		}
	}
}

// TestRunPXELINUXOverTFTP: a lease naming pxelinux.0 on an in-process
// TFTP server; the default entry's kernel and initrd are fetched and
// loaded with its command line and the -a addition, then the kexec is
// requested.
func TestRunPXELINUXOverTFTP(t *testing.T) {
	dir := tree(t, map[string]string{
		"pxelinux.0":            "not really pxelinux",
		"pxelinux.cfg/default":  pxeDefault,
		"boot/vmlinuz":          "KERNEL-" + strings.Repeat("k", 5000), // several TFTP blocks
		"boot/initrd.cpio":      "INITRD",
		"vmlinuz-first":         "FIRST",
		"pxelinux.cfg/01-other": "DEFAULT x\nLABEL x\n KERNEL nothere\n",
	})
	addr := tftpServer(t, dir)
	host, _, _ := net.SplitHostPort(addr)
	// The lease names the file on the server by address and port (a test
	// cannot have port 69): a URL in the file field.
	a := ack(t, func(d *dhcpv4.DHCPv4) { d.BootFileName = "tftp://" + addr + "/pxelinux.0" })
	var log strings.Builder
	var k fakeKexec
	c := Config{LeaseDir: leaseDir(t, map[string]*dhcpv4.DHCPv4{"eth0": a}), Dir: t.TempDir(),
		Append: "svinit.extra=1", Kexec: k.kexec(), Log: &log,
		MAC: func(string) net.HardwareAddr { return mac }}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Run(ctx, c); err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	if !k.requested || k.kernel != "KERNEL-"+strings.Repeat("k", 5000) || k.initrd != "INITRD" ||
		k.cmdline != "console=ttyS0 marker=netboot svinit.extra=1" {
		t.Errorf("loaded kernel %.10q initrd %q cmdline %q requested %v\n%s", k.kernel, k.initrd, k.cmdline, k.requested, log.String())
	}
	for _, want := range []string{"boot file eth0: tftp://" + host, "PXELINUX configuration, 2 entries", "booting second", "fetched second (5013 bytes)"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

// TestPXELINUXLookupOrder: pxelinux.cfg/01-MAC wins over the address's
// hexadecimal prefixes, which win over default.
func TestPXELINUXLookupOrder(t *testing.T) {
	entry := func(k string) string { return "DEFAULT e\nLABEL e\n KERNEL " + k + "\n" }
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"MAC", map[string]string{"pxelinux.cfg/01-52-54-00-12-34-56": entry("bymac"), "pxelinux.cfg/0A00": entry("byip"), "pxelinux.cfg/default": entry("bydefault")}, "bymac"},
		{"address prefix", map[string]string{"pxelinux.cfg/0A00": entry("byip"), "pxelinux.cfg/default": entry("bydefault")}, "byip"},
		{"default", map[string]string{"pxelinux.cfg/default": entry("bydefault")}, "bydefault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.files["bymac"], tt.files["byip"], tt.files["bydefault"] = "M", "I", "D"
			addr := tftpServer(t, tree(t, tt.files))
			u, _ := url.Parse("tftp://" + addr + "/pxelinux.0")
			imgs, err := Images(context.Background(), nil, Source{URL: u, MAC: mac, IP: net.IPv4(10, 0, 2, 15)}, &strings.Builder{})
			if err != nil {
				t.Fatal(err)
			}
			f, err := Fetch(imgs[0], t.TempDir(), "")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(f.Kernel)
			if want := map[string]string{"bymac": "M", "byip": "I", "bydefault": "D"}[tt.want]; string(b) != want {
				t.Errorf("booted %q, want %s's kernel", b, tt.want)
			}
		})
	}
}

// TestRunIPXEOverHTTP: a URL given by hand naming an iPXE script on an
// HTTP server; its kernel and initrd lines are relative to it.
func TestRunIPXEOverHTTP(t *testing.T) {
	dir := tree(t, map[string]string{
		"nb/boot.ipxe":   "#!ipxe\nkernel vmlinuz console=ttyS0 marker=ipxe\ninitrd initrd.cpio\nboot\n",
		"nb/vmlinuz":     "IPXE-KERNEL",
		"nb/initrd.cpio": "IPXE-INITRD",
	})
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	u, err := ParseURL(srv.URL + "/nb/boot.ipxe")
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	var k fakeKexec
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Run(ctx, Config{URL: u, Dir: t.TempDir(), Kexec: k.kexec(), Log: &log}); err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	if k.kernel != "IPXE-KERNEL" || k.initrd != "IPXE-INITRD" || k.cmdline != "console=ttyS0 marker=ipxe" || !k.requested {
		t.Errorf("loaded %q %q %q (requested %v)\n%s", k.kernel, k.initrd, k.cmdline, k.requested, log.String())
	}
	if !strings.Contains(log.String(), "an iPXE script") {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestRunRetries: with nothing to boot, Run says why once and keeps
// trying until its context ends; a lease that comes later is booted.
func TestRunRetries(t *testing.T) {
	leases := t.TempDir()
	addr := tftpServer(t, tree(t, map[string]string{"pxelinux.cfg/default": pxeDefault, "boot/vmlinuz": "K", "boot/initrd.cpio": "I"}))
	var k fakeKexec
	log := &lineLog{lines: make(chan string, 100)}
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		done <- Run(ctx, Config{LeaseDir: leases, Dir: t.TempDir(), Kexec: k.kexec(), Log: log, Retry: 20 * time.Millisecond,
			MAC: func(string) net.HardwareAddr { return mac }})
	}()
	if l := <-log.lines; !strings.Contains(l, "no DHCP lease names a boot file (no lease yet); trying again every 20ms") {
		t.Fatalf("first line %q", l)
	}
	// The lease arrives: written as svnetd writes it (renamed into place).
	a := ack(t, func(d *dhcpv4.DHCPv4) { d.BootFileName = "tftp://" + addr + "/pxelinux.0" })
	os.WriteFile(filepath.Join(leases, "eth0.new"), a.ToBytes(), 0o644)
	os.Rename(filepath.Join(leases, "eth0.new"), filepath.Join(leases, "eth0"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(log.lines)
	n := 1
	for l := range log.lines {
		if strings.Contains(l, "no DHCP lease") {
			n++
		}
	}
	if n != 1 || k.kernel != "K" || !k.requested {
		t.Errorf("%d \"no lease\" lines (want the reason once), kernel %q requested %v", n, k.kernel, k.requested)
	}
	// Nothing at all: Run ends with its context.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := Run(ctx2, Config{LeaseDir: t.TempDir(), Kexec: k.kexec(), Retry: 10 * time.Millisecond}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run with nothing to boot ended with %v, want its context's end", err)
	}
}

// lineLog sends each line written to a channel.
type lineLog struct{ lines chan string }

func (l *lineLog) Write(p []byte) (int, error) {
	for _, s := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.lines <- s
	}
	return len(p), nil
}

func TestChooseAndFetchErrors(t *testing.T) {
	dir := tree(t, map[string]string{"pxelinux.cfg/default": pxeDefault, "boot/vmlinuz": "K", "boot/initrd.cpio": "I"})
	addr := tftpServer(t, dir)
	u, _ := url.Parse("tftp://" + addr + "/pxelinux.0")
	imgs, err := Images(context.Background(), nil, Source{URL: u}, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if img, err := Choose(imgs, "first"); err != nil || img.Label() != "first" {
		t.Errorf("Choose first: %v %v", img, err)
	}
	if _, err := Choose(imgs, "nope"); err == nil || !strings.Contains(err.Error(), `no entry labelled "nope" (have "second", "first")`) {
		t.Errorf("Choose nope: %v", err)
	}
	if _, err := save(strings.NewReader(""), filepath.Join(t.TempDir(), "f")); err == nil || err.Error() != "empty file" {
		t.Errorf("an empty file: %v", err)
	}
	if _, err := Fetch(imgs[1], t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "kernel") {
		t.Errorf("a missing kernel: %v", err)
	}
	// Neither an iPXE script nor a PXELINUX configuration.
	empty := tftpServer(t, tree(t, map[string]string{"pxelinux.0": "x"}))
	u, _ = url.Parse("tftp://" + empty + "/pxelinux.0")
	if _, err := Images(context.Background(), nil, Source{URL: u}, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "no PXELINUX configuration") {
		t.Errorf("nothing to boot: %v", err)
	}
}
