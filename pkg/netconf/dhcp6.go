package netconf

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/nclient6"
	"github.com/vishvananda/netlink"
)

// v6key is the key of an interface's DHCPv6 name servers in the resolver
// maps (next to its DHCPv4 ones under the interface's name).
func v6key(dev string) string { return dev + " v6" }

// dhcp6Mods is what every DHCPv6 message asks for.
func dhcp6Mods() []dhcpv6.Modifier {
	return []dhcpv6.Modifier{dhcpv6.WithRequestedOptions(dhcpv6.OptionDNSRecursiveNameServer,
		dhcpv6.OptionDomainSearchList, dhcpv6.OptionNTPServer)}
}

// Times6 are a DHCPv6 reply's renewal time (T1) and the addresses' valid
// lifetime (the longest), with RFC 8415's defaults when the server
// leaves T1 to the client (0): half the shortest preferred lifetime.
type Times6 struct{ T1, Valid time.Duration }

// LeaseTimes6 reads a reply's times from its IA_NA options.
func LeaseTimes6(reply *dhcpv6.Message) Times6 {
	var t Times6
	pref := time.Duration(0)
	for _, ia := range reply.Options.IANA() {
		if ia.T1 > 0 && (t.T1 == 0 || ia.T1 < t.T1) {
			t.T1 = ia.T1
		}
		for _, a := range ia.Options.Addresses() {
			if a.ValidLifetime > t.Valid {
				t.Valid = a.ValidLifetime
			}
			if a.PreferredLifetime > 0 && (pref == 0 || a.PreferredLifetime < pref) {
				pref = a.PreferredLifetime
			}
		}
	}
	if t.T1 == 0 {
		t.T1 = pref / 2
	}
	if t.T1 <= 0 {
		t.T1 = time.Hour // no lifetime at all: look again in an hour
	}
	return t
}

// dhcp6 asks DHCPv6 for addresses on link and keeps them: a Solicit,
// Advertise, Request, Reply exchange, then a Renew at T1 (a new exchange
// when the Renew is not answered); the addresses carry their lifetimes,
// so the kernel drops them if nothing renews them. It never counts
// toward readiness (an IPv6 default route comes from router
// advertisements, not from DHCPv6).
func (r *runner) dhcp6(ctx context.Context, link netlink.Link) {
	dev := link.Attrs().Name
	for ctx.Err() == nil {
		// The socket binds the link-local address, which is usable once
		// duplicate address detection is over: retried until then.
		client, err := nclient6.New(dev, nclient6.WithTimeout(r.c.Timeout), nclient6.WithRetry(3))
		if err != nil {
			r.logf("%s: dhcpv6: %v", dev, err)
			if !sleep(ctx, r.c.Retry) {
				return
			}
			continue
		}
		r.keep6(ctx, client, link)
		client.Close()
	}
}

// keep6 runs one client: the exchange, then renewals until one fails.
func (r *runner) keep6(ctx context.Context, client *nclient6.Client, link netlink.Link) {
	dev := link.Attrs().Name
	start := time.Now()
	adv, err := client.Solicit(ctx, dhcp6Mods()...)
	var reply *dhcpv6.Message
	if err == nil {
		reply, err = client.Request(ctx, adv, dhcp6Mods()...)
	}
	if err == nil {
		err = replyStatus(reply)
	}
	if err != nil {
		r.logf("%s: dhcpv6: no lease: %v", dev, err)
		sleep(ctx, r.c.Retry)
		return
	}
	if err := r.apply6(link, reply); err != nil {
		r.logf("%s: %v", dev, err)
		sleep(ctx, r.c.Retry)
		return
	}
	r.logf("%s: dhcpv6 lease obtained in %s", dev, time.Since(start).Round(time.Millisecond))
	for {
		if !sleep(ctx, LeaseTimes6(reply).T1) {
			return // stopping: the addresses stay for their lifetime
		}
		msg, err := renew6(reply)
		if err != nil {
			r.logf("%s: dhcpv6: renew: %v", dev, err)
			return
		}
		nr, err := client.SendAndRead(ctx, client.RemoteAddr(), msg, nclient6.IsMessageType(dhcpv6.MessageTypeReply))
		if err == nil {
			err = replyStatus(nr)
		}
		if err != nil {
			r.logf("%s: dhcpv6: renewing: %v; a new exchange", dev, err)
			return
		}
		reply = nr
		if err := r.apply6(link, reply); err != nil {
			r.logf("%s: %v", dev, err)
		}
	}
}

// replyStatus is a reply's refusal, if any: a status code other than
// success, for the message or an IA_NA, or no address at all.
func replyStatus(m *dhcpv6.Message) error {
	if s := m.Options.Status(); s != nil && s.StatusCode != 0 {
		return fmt.Errorf("server says %s", s)
	}
	n := 0
	for _, ia := range m.Options.IANA() {
		if s := ia.Options.Status(); s != nil && s.StatusCode != 0 {
			return fmt.Errorf("server says %s", s)
		}
		n += len(ia.Options.Addresses())
	}
	if n == 0 {
		return fmt.Errorf("no address in the reply")
	}
	return nil
}

// renew6 is the Renew for a reply's addresses (RFC 8415 18.2.4: the
// client's and server's identifiers, the IA_NAs as they were given).
func renew6(reply *dhcpv6.Message) (*dhcpv6.Message, error) {
	m, err := dhcpv6.NewMessage(dhcp6Mods()...)
	if err != nil {
		return nil, err
	}
	m.MessageType = dhcpv6.MessageTypeRenew
	m.AddOption(dhcpv6.OptClientID(reply.Options.ClientID()))
	m.AddOption(dhcpv6.OptServerID(reply.Options.ServerID()))
	m.AddOption(dhcpv6.OptElapsedTime(0))
	for _, ia := range reply.Options.IANA() {
		m.AddOption(ia)
	}
	return m, nil
}

// apply6 configures a reply's addresses (each a /128 with its
// lifetimes, as DHCPv6 gives no prefix length: the on-link prefix comes
// from router advertisements) and name servers.
func (r *runner) apply6(link netlink.Link, reply *dhcpv6.Message) error {
	dev := link.Attrs().Name
	var addrs []string
	for _, ia := range reply.Options.IANA() {
		for _, a := range ia.Options.Addresses() {
			n := &net.IPNet{IP: a.IPv6Addr, Mask: net.CIDRMask(128, 128)}
			na := &netlink.Addr{IPNet: n, ValidLft: int(a.ValidLifetime / time.Second), PreferedLft: int(a.PreferredLifetime / time.Second)}
			if err := netlink.AddrReplace(link, na); err != nil {
				return fmt.Errorf("address %s: %w", n, err)
			}
			addrs = append(addrs, fmt.Sprintf("%s (valid %s)", n, a.ValidLifetime))
		}
	}
	msg := []string{fmt.Sprintf("%s: dhcpv6 %s", dev, strings.Join(addrs, ", "))}
	dns := reply.Options.DNS()
	var search []string
	if l := reply.Options.DomainSearchList(); l != nil {
		search = l.Labels
	}
	ntp := reply.Options.NTPServers()
	if len(dns) > 0 {
		msg = append(msg, fmt.Sprintf("dns %v", dns))
	}
	if len(ntp) > 0 {
		msg = append(msg, fmt.Sprintf("ntp %v", ntp))
	}
	r.logf("%s", strings.Join(msg, ", "))
	if len(dns) > 0 || len(search) > 0 || len(ntp) > 0 {
		r.setResolv(v6key(dev), dns, search, ntp)
	}
	return nil
}
