package netconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// A Lease is an interface's current DHCPv4 lease as svnetd keeps it in
// its lease directory (Config.LeaseDir): the server's ACK, as it was
// received, in a file named after the interface. Other services read
// what the lease says beyond the address (svnetboot: the boot file and
// its server).
type Lease struct {
	Iface string
	ACK   *dhcpv4.DHCPv4
}

// writeLease records ack as dev's lease in dir (replacing the file).
func writeLease(dir, dev string, ack *dhcpv4.DHCPv4) error {
	return writeAtomic(filepath.Join(dir, dev), ack.ToBytes())
}

// removeLease removes dev's lease file from dir (none is not an error).
func removeLease(dir, dev string) error {
	err := os.Remove(filepath.Join(dir, dev))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// ReadLeases reads the leases kept in dir, in interface name order. A
// missing directory is no lease; a file that is not a DHCPv4 packet is
// an error naming it.
func ReadLeases(dir string) ([]Lease, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("netconf: lease directory: %w", err)
	}
	var out []Lease
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".new") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("netconf: lease %s: %w", p, err)
		}
		ack, err := dhcpv4.FromBytes(b)
		if err != nil {
			return nil, fmt.Errorf("netconf: lease %s: not a DHCPv4 packet: %w", p, err)
		}
		out = append(out, Lease{Iface: e.Name(), ACK: ack})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Iface < out[j].Iface })
	return out, nil
}
