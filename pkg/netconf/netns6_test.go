package netconf

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/server6"
	"github.com/vishvananda/netlink"
)

// The DHCPv6 test, in namespaces as the DHCPv4 one (see reexec): the
// server gives 2001:db8::10 for 8 seconds (preferred 4, so T1 is 2) and
// a name server; the client must configure both and renew with a Renew.

func TestDHCPv6InNamespace(t *testing.T) {
	if os.Getenv(roleEnv) != "" {
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces and a veth pair); run the tests as root as CI does")
	}
	out, err := reexec(t, "client6", "TestHelperClient6").CombinedOutput()
	t.Logf("client namespace:\n%s", out)
	if err != nil {
		t.Fatalf("client namespace: %v", err)
	}
}

// noDAD turns duplicate address detection off for the namespace's new
// interfaces: the link-local addresses are usable at once.
func noDAD(t *testing.T) {
	for _, f := range []string{"/proc/sys/net/ipv6/conf/all/accept_dad", "/proc/sys/net/ipv6/conf/default/accept_dad"} {
		if err := os.WriteFile(f, []byte("0"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHelperClient6: in the client's namespace.
func TestHelperClient6(t *testing.T) {
	if os.Getenv(roleEnv) != "client6" {
		return
	}
	noDAD(t)
	la := netlink.NewLinkAttrs()
	la.Name = "cli6"
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "srv6"}); err != nil {
		t.Fatalf("veth pair: %v", err)
	}
	// Up now (Run would do it): srv6's link-local address, which the
	// server waits for, needs the carrier.
	if cli, err := netlink.LinkByName("cli6"); err != nil || netlink.LinkSetUp(cli) != nil {
		t.Fatalf("cli6 up: %v", err)
	}
	sc := serveFromPeer(t, "server6", "TestHelperServer6", "srv6")
	var renews atomic.Int32
	go func() {
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "RENEW") {
				renews.Add(1)
			}
			t.Logf("server: %s", sc.Text())
		}
	}()

	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	logw := &syncWriter{b: &strings.Builder{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	c := Config{Params: []IPParam{{Method: MethodDHCP, Device: "cli6"}}, DHCPv6: true, ResolvConf: resolv,
		Log: logw, Timeout: time.Second, Retry: 200 * time.Millisecond}
	go func() { done <- Run(ctx, c) }()
	// The address, then a renewal (T1 = 2 s): a second line, and a Renew
	// seen by the server. The log is polled, not slept on.
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(logw.String(), "cli6: dhcpv6 2001:db8::10/128") < 2 || renews.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no DHCPv6 lease and renewal within 60s (%d Renews); log:\n%s", renews.Load(), logw.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a log, not synchronising
	}
	link, _ := netlink.LinkByName("cli6")
	addrs, _ := netlink.AddrList(link, netlink.FAMILY_V6)
	found := false
	for _, a := range addrs {
		if a.IPNet.String() == "2001:db8::10/128" {
			found = a.ValidLft > 0 && a.ValidLft <= 8
		}
	}
	if !found {
		t.Errorf("cli6 has no 2001:db8::10/128 with the lease's lifetime: %v", addrs)
	}
	if b, _ := os.ReadFile(resolv); !strings.Contains(string(b), "nameserver 2001:db8::53\n") || !strings.Contains(string(b), "search v6.example\n") {
		t.Errorf("resolv.conf:\n%s", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	t.Logf("log:\n%s", logw.String())
}

// TestHelperServer6: in the server's namespace, a DHCPv6 server on srv6.
func TestHelperServer6(t *testing.T) {
	if os.Getenv(roleEnv) != "server6" {
		return
	}
	noDAD(t)
	bufio.NewReader(os.Stdin).ReadString('\n') // srv6 is here now
	link, err := netlink.LinkByName("srv6")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	lo, _ := netlink.LinkByName("lo")
	netlink.LinkSetUp(lo)
	// Wait for srv6's link-local address (the server binds to the link).
	for deadline := time.Now().Add(30 * time.Second); ; {
		addrs, _ := netlink.AddrList(link, netlink.FAMILY_V6)
		if len(addrs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("srv6 has no link-local address")
		}
		time.Sleep(20 * time.Millisecond) // polling the kernel's state
	}
	sid := &dhcpv6.DUIDLL{HWType: 1, LinkLayerAddr: link.Attrs().HardwareAddr}
	handler := func(conn net.PacketConn, peer net.Addr, m dhcpv6.DHCPv6) {
		msg, err := m.GetInnerMessage()
		if err != nil {
			return
		}
		ia := msg.Options.OneIANA()
		if ia == nil {
			return
		}
		mods := []dhcpv6.Modifier{dhcpv6.WithServerID(sid), dhcpv6.WithIAID(ia.IaId),
			dhcpv6.WithIANA(dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP("2001:db8::10"), PreferredLifetime: 4 * time.Second, ValidLifetime: 8 * time.Second}),
			dhcpv6.WithDNS(net.ParseIP("2001:db8::53")), dhcpv6.WithDomainSearchList("v6.example")}
		var reply *dhcpv6.Message
		switch msg.MessageType {
		case dhcpv6.MessageTypeSolicit:
			reply, err = dhcpv6.NewAdvertiseFromSolicit(msg, mods...)
		case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew:
			reply, err = dhcpv6.NewReplyFromMessage(msg, mods...)
		default:
			return
		}
		if err != nil {
			t.Errorf("reply: %v", err)
			return
		}
		if _, err := conn.WriteTo(reply.ToBytes(), peer); err != nil {
			t.Errorf("send: %v", err)
		}
		os.Stdout.WriteString(msg.MessageType.String() + " -> " + reply.MessageType.String() + "\n")
	}
	s, err := server6.NewServer("srv6", nil, handler)
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
