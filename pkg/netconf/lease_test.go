package netconf

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestLeaseFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "leases")
	if ls, err := ReadLeases(dir); err != nil || ls != nil {
		t.Fatalf("missing directory: %v %v, want no lease and no error", ls, err)
	}
	mk := func(ip net.IP, file string) *dhcpv4.DHCPv4 {
		ack, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(ip),
			dhcpv4.WithServerIP(net.IPv4(10, 0, 2, 2)))
		if err != nil {
			t.Fatal(err)
		}
		ack.BootFileName = file
		return ack
	}
	if err := writeLease(dir, "eth1", mk(net.IPv4(10, 0, 3, 15), "")); err != nil {
		t.Fatal(err)
	}
	if err := writeLease(dir, "eth0", mk(net.IPv4(10, 0, 2, 15), "pxelinux.0")); err != nil {
		t.Fatal(err)
	}
	// A renewal replaces the file.
	if err := writeLease(dir, "eth0", mk(net.IPv4(10, 0, 2, 16), "pxelinux.0")); err != nil {
		t.Fatal(err)
	}
	ls, err := ReadLeases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].Iface != "eth0" || ls[1].Iface != "eth1" {
		t.Fatalf("leases %v, want eth0 then eth1", ls)
	}
	if !ls[0].ACK.YourIPAddr.Equal(net.IPv4(10, 0, 2, 16)) || ls[0].ACK.BootFileName != "pxelinux.0" ||
		!ls[0].ACK.ServerIPAddr.Equal(net.IPv4(10, 0, 2, 2)) {
		t.Errorf("eth0's lease read back as %s", ls[0].ACK.Summary())
	}
	if err := removeLease(dir, "eth1"); err != nil {
		t.Fatal(err)
	}
	if err := removeLease(dir, "eth1"); err != nil {
		t.Errorf("removing a lease twice: %v", err)
	}
	if ls, _ := ReadLeases(dir); len(ls) != 1 {
		t.Errorf("after removing eth1: %v", ls)
	}
	os.WriteFile(filepath.Join(dir, "bad0"), []byte("not a packet"), 0o644)
	if _, err := ReadLeases(dir); err == nil || !strings.Contains(err.Error(), "bad0") {
		t.Errorf("a file that is not a packet: %v, want an error naming it", err)
	}
}
