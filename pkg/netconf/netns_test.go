package netconf

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/vishvananda/netlink"
)

// The DHCP tests run in network namespaces of their own, never in the
// test's: the test binary runs itself again with CLONE_NEWNET as the
// client (role "client"), which makes a veth pair and runs itself once
// more in a second new namespace as the server (role "server"), moving
// the pair's other end there. Nothing is sent outside them.

const roleEnv = "NETCONF_TEST_ROLE"

// reexec runs this test binary's test name in a new network namespace.
func reexec(t *testing.T, role, test string, extra ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{roleEnv + "=" + role}, extra...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	return cmd
}

// serveFromPeer starts the test binary as a DHCP server (role, test) in
// a network namespace of its own, moves the veth peer there, and returns
// the server's output once it says it is serving. The server stops when
// the test ends.
func serveFromPeer(t *testing.T, role, test, peerName string) *bufio.Scanner {
	t.Helper()
	srv := reexec(t, role, test)
	stdin, _ := srv.StdinPipe()
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); srv.Wait() })
	peer, err := netlink.LinkByName(peerName)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetNsPid(peer, srv.Process.Pid); err != nil {
		t.Fatalf("moving %s: %v", peerName, err)
	}
	stdin.Write([]byte("go\n"))
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.Contains(sc.Text(), "serving") {
		t.Logf("server: %s", sc.Text())
	}
	return sc
}

func TestDHCPInNamespace(t *testing.T) {
	if os.Getenv(roleEnv) != "" {
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces and a veth pair); run the tests as root as CI does")
	}
	// The interface named by ip=, then by Interfaces (svnetd -i).
	// "nak": the server refuses the first renewal; the address goes
	// and a new exchange brings it back.
	for _, how := range []string{"ip", "interfaces", "nak"} {
		cmd := reexec(t, "client", "TestHelperClient", "NETCONF_TEST_HOW="+how)
		out, err := cmd.CombinedOutput()
		t.Logf("client namespace (%s):\n%s", how, out)
		if err != nil {
			t.Fatalf("client namespace (%s): %v", how, err)
		}
	}
}

// TestHelperClient: in the client's namespace.
func TestHelperClient(t *testing.T) {
	if os.Getenv(roleEnv) != "client" {
		return
	}
	la := netlink.NewLinkAttrs()
	la.Name = "cli0"
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "srv0"}); err != nil {
		t.Fatalf("veth pair: %v", err)
	}
	sc := serveFromPeer(t, "server", "TestHelperServer", "srv0")
	go func() {
		for sc.Scan() {
			t.Logf("server: %s", sc.Text())
		}
	}()

	dir := t.TempDir()
	resolv, ntp := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "ntp.conf")
	ready := make(chan struct{})
	var log strings.Builder
	logw := &syncWriter{b: &log}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	leases := filepath.Join(dir, "leases")
	c := Config{ResolvConf: resolv, NTPConf: ntp, LeaseDir: leases,
		Ready: func() { close(ready) }, Log: logw, Timeout: time.Second, Retry: 200 * time.Millisecond}
	if os.Getenv("NETCONF_TEST_HOW") == "interfaces" {
		c.Interfaces = []string{"cli0"}
	} else {
		c.Params = []IPParam{{Method: MethodDHCP, Device: "cli0"}}
	}
	go func() { done <- Run(ctx, c) }()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("not ready after 60s; log:\n%s", logw.String())
	}
	t.Logf("ready after %s", time.Since(start))
	link, _ := netlink.LinkByName("cli0")
	addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.99.0.2/24" {
		t.Errorf("cli0 addresses %v, want 10.99.0.2/24", addrs)
	}
	routes, _ := netlink.RouteList(link, netlink.FAMILY_V4)
	def := false
	for _, r := range routes {
		if (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.Equal(net.IPv4(10, 99, 0, 1)) {
			def = true
		}
	}
	if !def {
		t.Errorf("no default route via 10.99.0.1 at readiness: %v", routes)
	}
	if b, _ := os.ReadFile(resolv); !strings.Contains(string(b), "nameserver 10.99.0.53\n") || !strings.Contains(string(b), "search test.example\n") {
		t.Errorf("resolv.conf:\n%s", b)
	}
	if b, _ := os.ReadFile(ntp); string(b) != "server 10.99.0.123\n" {
		t.Errorf("ntp.conf: %q", b)
	}
	if ls, err := ReadLeases(leases); err != nil || len(ls) != 1 || ls[0].Iface != "cli0" || !ls[0].ACK.YourIPAddr.Equal(net.IPv4(10, 99, 0, 2)) {
		t.Errorf("lease files at readiness: %v %v, want cli0's lease of 10.99.0.2", ls, err)
	}
	lo, _ := netlink.LinkByName("lo")
	if lo.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("lo is down")
	}
	// The server gives 4-second leases: a renewal at T1 (2s) shows in
	// the log as a second "dhcp 10.99.0.2/24" line.
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logw.String(), "dhcp 10.99.0.2/24") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no renewal within 30s; log:\n%s", logw.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a log, not synchronising
	}
	if os.Getenv("NETCONF_TEST_HOW") == "nak" {
		l := logw.String()
		i, j := strings.Index(l, "removed 10.99.0.2/24"), strings.LastIndex(l, "dhcp 10.99.0.2/24")
		if !strings.Contains(l, "NAK") && !strings.Contains(l, "renewing") || i < 0 || j < i {
			t.Errorf("after a NAK: want the address removed then leased again; log:\n%s", l)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	t.Logf("log:\n%s", logw.String())
}

type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestHelperServer: in the server's namespace, a DHCP server on srv0
// giving 10.99.0.2 for 4 seconds.
func TestHelperServer(t *testing.T) {
	if os.Getenv(roleEnv) != "server" {
		return
	}
	bufio.NewReader(os.Stdin).ReadString('\n') // srv0 is here now
	link, err := netlink.LinkByName("srv0")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("10.99.0.1/24")
	if err := netlink.AddrAdd(link, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	lo, _ := netlink.LinkByName("lo")
	netlink.LinkSetUp(lo)
	sid := net.IPv4(10, 99, 0, 1).To4()
	var naks atomic.Int32
	handler := func(conn net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
		var typ dhcpv4.MessageType
		switch m.MessageType() {
		case dhcpv4.MessageTypeDiscover:
			typ = dhcpv4.MessageTypeOffer
		case dhcpv4.MessageTypeRequest:
			typ = dhcpv4.MessageTypeAck
			// A renewal carries the client's address in ciaddr.
			if os.Getenv("NETCONF_TEST_HOW") == "nak" && !m.ClientIPAddr.IsUnspecified() && naks.Add(1) == 1 {
				typ = dhcpv4.MessageTypeNak
			}
		default:
			return
		}
		reply, err := dhcpv4.NewReplyFromRequest(m,
			dhcpv4.WithMessageType(typ),
			dhcpv4.WithYourIP(net.IPv4(10, 99, 0, 2)),
			dhcpv4.WithServerIP(sid),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid)),
			dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
			dhcpv4.WithRouter(sid),
			dhcpv4.WithDNS(net.IPv4(10, 99, 0, 53)),
			dhcpv4.WithOption(dhcpv4.OptDomainName("test.example")),
			dhcpv4.WithOption(dhcpv4.OptNTPServers(net.IPv4(10, 99, 0, 123))),
			dhcpv4.WithLeaseTime(4),
		)
		if err != nil {
			t.Errorf("reply: %v", err)
			return
		}
		dst := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
		if _, err := conn.WriteTo(reply.ToBytes(), dst); err != nil {
			t.Errorf("send: %v", err)
		}
		os.Stdout.WriteString(m.MessageType().String() + " -> " + typ.String() + "\n")
	}
	s, err := server4.NewServer("srv0", &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ServerPort}, handler)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("serving\n")
	go func() {
		bufio.NewReader(os.Stdin).ReadString('\n') // the client closes stdin
		s.Close()
	}()
	s.Serve()
}

func TestStaticInNamespace(t *testing.T) {
	if os.Getenv(roleEnv) != "" {
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("needs root (a network namespace); run the tests as root as CI does")
	}
	out, err := reexec(t, "static", "TestHelperStatic").CombinedOutput()
	t.Logf("static namespace:\n%s", out)
	if err != nil {
		t.Fatalf("static namespace: %v", err)
	}
}

// TestHelperStatic: ip= static on one end of a veth pair, in a namespace of
// its own.
func TestHelperStatic(t *testing.T) {
	if os.Getenv(roleEnv) != "static" {
		return
	}
	la := netlink.NewLinkAttrs()
	la.Name = "dum0"
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "peer0"}); err != nil {
		t.Fatalf("veth pair: %v", err)
	}
	peer, _ := netlink.LinkByName("peer0")
	netlink.LinkSetUp(peer) // the carrier
	p, err := ParseIP("192.168.77.5::192.168.77.1:255.255.255.0::dum0:off:192.168.77.53")
	if err != nil {
		t.Fatal(err)
	}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var log syncWriter
	log.b = &strings.Builder{}
	go func() {
		done <- Run(ctx, Config{Params: []IPParam{p}, ResolvConf: resolv, Ready: func() { close(ready) }, Log: &log})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run ended before readiness: %v\n%s", err, log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("not ready; log:\n%s", log.String())
	}
	link, _ := netlink.LinkByName("dum0")
	addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "192.168.77.5/24" {
		t.Errorf("dum0 addresses %v", addrs)
	}
	routes, _ := netlink.RouteList(link, netlink.FAMILY_V4)
	def := false
	for _, r := range routes {
		if (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.Equal(net.IPv4(192, 168, 77, 1)) {
			def = true
		}
	}
	if !def {
		t.Errorf("no default route via 192.168.77.1: %v", routes)
	}
	if b, _ := os.ReadFile(resolv); string(b) != "# written by svnetd\nnameserver 192.168.77.53\n" {
		t.Errorf("resolv.conf %q", b)
	}
	// A supervised service stays up with nothing left to do.
	select {
	case err := <-done:
		t.Fatalf("Run returned before its context ended: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	if !strings.Contains(log.String(), "dum0: static 192.168.77.5/24, router 192.168.77.1") {
		t.Errorf("log:\n%s", log.String())
	}
}
