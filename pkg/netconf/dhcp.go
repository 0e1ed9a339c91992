package netconf

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
)

// Times are a lease's renewal (T1), rebinding (T2) and expiry times,
// from its options or, when the server sends none, RFC 2131's defaults
// (T1 = 50%, T2 = 87.5% of the lease).
type Times struct{ T1, T2, Lease time.Duration }

// LeaseTimes reads a lease's times from an ACK.
func LeaseTimes(ack *dhcpv4.DHCPv4) Times {
	t := Times{Lease: ack.IPAddressLeaseTime(0)}
	if t.Lease <= 0 {
		t.Lease = 24 * time.Hour // a server that gives no time: assume a day
	}
	t.T1 = ack.IPAddressRenewalTime(t.Lease / 2)
	t.T2 = ack.IPAddressRebindingTime(t.Lease * 7 / 8)
	if t.T1 <= 0 || t.T1 > t.Lease {
		t.T1 = t.Lease / 2
	}
	if t.T2 <= t.T1 || t.T2 > t.Lease {
		t.T2 = t.T1 + (t.Lease-t.T1)*3/4
	}
	return t
}

// dhcp gets a lease on link and keeps it: renewal from T1 (unicast
// would need the address bound; nclient4 broadcasts on the raw socket,
// which every server accepts), a new exchange from T2, and the address
// removed when the lease expires unrenewed.
func (r *runner) dhcp(ctx context.Context, link netlink.Link, p IPParam, named bool) {
	dev := link.Attrs().Name
	first := true
	for ctx.Err() == nil {
		client, err := nclient4.New(dev, nclient4.WithTimeout(r.c.Timeout), nclient4.WithRetry(3))
		if err != nil {
			r.logf("%s: dhcp: %v", dev, err)
			if !sleep(ctx, r.c.Retry) {
				return
			}
			continue
		}
		r.keep(ctx, client, link, p, named, &first)
		client.Close()
	}
}

// request is the options every request carries.
func requestMods() []dhcpv4.Modifier {
	return []dhcpv4.Modifier{
		dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter,
			dhcpv4.OptionDomainNameServer, dhcpv4.OptionDomainName, dhcpv4.OptionDNSDomainSearchList,
			dhcpv4.OptionNTPServers, dhcpv4.OptionHostName, dhcpv4.OptionClasslessStaticRoute),
	}
}

// keep runs one client: the exchange, then renewals until the lease is
// lost (then it returns, for a new client and exchange).
func (r *runner) keep(ctx context.Context, client *nclient4.Client, link netlink.Link, p IPParam, named bool, first *bool) {
	dev := link.Attrs().Name
	start := time.Now()
	lease, err := client.Request(ctx, requestMods()...)
	if err != nil {
		r.logf("%s: dhcp: no lease: %v", dev, err)
		sleep(ctx, r.c.Retry)
		return
	}
	got := time.Now()
	if err := r.apply(link, p, lease.ACK); err != nil {
		r.logf("%s: %v", dev, err)
		sleep(ctx, r.c.Retry)
		return
	}
	r.logf("%s: lease obtained in %s", dev, got.Sub(start).Round(time.Millisecond))
	if *first {
		*first = false
		r.configured(named)
	}
	for {
		t := LeaseTimes(lease.ACK)
		at := got
		// Renew from T1 until T2, retrying at half the time left (RFC 2131
		// 4.4.5, at least a second apart).
		for wait := t.T1; ; {
			if !sleep(ctx, time.Until(at.Add(wait))) {
				return // stopping: the address stays for its lifetime
			}
			sent := time.Now()
			nl, err := client.Renew(ctx, lease, requestMods()...)
			if err == nil {
				lease, got = nl, sent
				if err := r.apply(link, p, lease.ACK); err != nil {
					r.logf("%s: %v", dev, err)
				}
				break
			}
			r.logf("%s: dhcp: renewing: %v", dev, err)
			if _, nak := err.(*nclient4.ErrNak); nak {
				r.drop(link, lease.ACK)
				return
			}
			left := t.T2 - time.Since(at)
			if left <= 0 {
				// Rebinding: any server may answer a new exchange; the
				// address stays until the lease expires.
				for time.Since(at) < t.Lease {
					if nl, err := client.Request(ctx, requestMods()...); err == nil {
						lease, got = nl, time.Now()
						if err := r.apply(link, p, lease.ACK); err != nil {
							r.logf("%s: %v", dev, err)
						}
						break
					}
					if !sleep(ctx, r.c.Retry) {
						return
					}
				}
				if time.Since(at) >= t.Lease {
					r.logf("%s: lease expired", dev)
					r.drop(link, lease.ACK)
					return
				}
				break
			}
			wait = time.Since(at) + max(left/2, time.Second)
		}
	}
}

// apply configures the lease's address, routes and name servers.
func (r *runner) apply(link netlink.Link, p IPParam, ack *dhcpv4.DHCPv4) error {
	dev := link.Attrs().Name
	mask := ack.SubnetMask()
	if mask == nil {
		mask = ack.YourIPAddr.DefaultMask()
	}
	n := &net.IPNet{IP: ack.YourIPAddr.To4(), Mask: mask}
	t := LeaseTimes(ack)
	a := &netlink.Addr{IPNet: n, ValidLft: int(t.Lease / time.Second), PreferedLft: int(t.Lease / time.Second)}
	if err := netlink.AddrReplace(link, a); err != nil {
		return fmt.Errorf("address %s: %w", n, err)
	}
	msg := []string{fmt.Sprintf("%s: dhcp %s from %s", dev, n, ack.ServerIPAddr)}
	if sid := ack.ServerIdentifier(); sid != nil {
		msg[0] = fmt.Sprintf("%s: dhcp %s from %s", dev, n, sid)
	}
	msg = append(msg, fmt.Sprintf("lease %s", t.Lease))
	// RFC 3442: classless routes, when given, replace the router option.
	if routes := ack.ClasslessStaticRoute(); routes != nil {
		for _, rt := range routes {
			nr := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: rt.Dest, Gw: rt.Router}
			if rt.Router == nil || rt.Router.IsUnspecified() {
				nr.Scope = netlink.SCOPE_LINK
				nr.Gw = nil
			}
			if err := netlink.RouteReplace(nr); err != nil {
				return fmt.Errorf("route %s: %w", rt, err)
			}
			msg = append(msg, "route "+rt.String())
		}
	} else if gw := ack.Router(); len(gw) > 0 {
		if err := netlink.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw[0]}); err != nil {
			return fmt.Errorf("default route via %s: %w", gw[0], err)
		}
		msg = append(msg, "router "+gw[0].String())
	}
	dns := append(ack.DNS(), p.DNS...)
	var search []string
	if l := ack.DomainSearch(); l != nil {
		search = l.Labels
	} else if d := ack.DomainName(); d != "" {
		search = []string{d}
	}
	ntp := append(ack.NTPServers(), p.NTP...)
	if len(dns) > 0 {
		msg = append(msg, fmt.Sprintf("dns %v", dns))
	}
	if len(ntp) > 0 {
		msg = append(msg, fmt.Sprintf("ntp %v", ntp))
	}
	r.logf("%s", strings.Join(msg, ", "))
	r.setResolv(dev, dns, search, ntp)
	if r.c.LeaseDir != "" {
		if err := writeLease(r.c.LeaseDir, dev, ack); err != nil {
			r.logf("%s: lease file: %v", dev, err)
		}
	}
	if r.c.SetHostname && p.Hostname == "" {
		if h := ack.HostName(); h != "" {
			r.hostname(dev, h)
		}
	}
	return nil
}

// drop removes a lost lease's address (its routes go with it).
func (r *runner) drop(link netlink.Link, ack *dhcpv4.DHCPv4) {
	mask := ack.SubnetMask()
	if mask == nil {
		mask = ack.YourIPAddr.DefaultMask()
	}
	n := &net.IPNet{IP: ack.YourIPAddr.To4(), Mask: mask}
	if err := netlink.AddrDel(link, &netlink.Addr{IPNet: n}); err != nil {
		r.logf("%s: removing %s: %v", link.Attrs().Name, n, err)
	} else {
		r.logf("%s: removed %s", link.Attrs().Name, n)
	}
	r.setResolv(link.Attrs().Name, nil, nil, nil)
	if r.c.LeaseDir != "" {
		if err := removeLease(r.c.LeaseDir, link.Attrs().Name); err != nil {
			r.logf("%s: lease file: %v", link.Attrs().Name, err)
		}
	}
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
