package netconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Config is what Run configures.
type Config struct {
	// Params are the ip= configurations (FromParams); empty: DHCP on
	// Interfaces.
	Params []IPParam
	// Interfaces are the interfaces to ask DHCP on when a configuration
	// names no device; empty: every interface but loopback that has a
	// carrier (and those that appear later).
	Interfaces []string
	// ResolvConf is the resolver file written from the leases and ip=
	// (default /etc/resolv.conf; "-" = none).
	ResolvConf string
	// NTPConf is the file listing NTP servers from the leases and ip=,
	// in ntp.conf's "server ADDR" lines ("" = none).
	NTPConf string
	// LeaseDir is where each interface's current DHCPv4 lease is kept,
	// as the server's ACK in a file named after the interface (ReadLeases;
	// "" = none).
	LeaseDir string
	// DHCPv6 also asks DHCPv6 for addresses on each interface that asks
	// DHCPv4 (their name servers join resolv.conf; readiness stays
	// DHCPv4's).
	DHCPv6 bool
	// SetHostname sets the host name from the lease (ip='s HOSTNAME
	// field is always applied).
	SetHostname bool
	// Ready is called once, when the network is configured (see Run).
	Ready func()
	// Log receives one line per thing configured.
	Log io.Writer
	// Retry is the wait before a failed DHCP exchange is tried again
	// (default 2s); Timeout bounds one exchange's answer (default 3s).
	Retry, Timeout time.Duration
}

// Run configures the network and keeps it so until ctx ends: loopback
// up; each static configuration applied; DHCPv4 on each interface
// asked for, leases renewed at T1, rebound at T2 and dropped when they
// expire. Ready is called when every configuration naming an interface
// has its address (and its default route, when it has a gateway), or,
// when none names one, when the first interface has been configured.
func Run(ctx context.Context, c Config) error {
	if c.ResolvConf == "" {
		c.ResolvConf = "/etc/resolv.conf"
	}
	if c.Retry == 0 {
		c.Retry = 2 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	r := &runner{c: c, dns: map[string][]net.IP{}, ntp: map[string][]net.IP{}, search: map[string][]string{}}
	if err := LoopbackUp(); err != nil {
		return err
	}
	r.logf("lo: up")

	params := c.Params
	if len(params) == 0 {
		params = []IPParam{{Method: MethodDHCP}}
	}
	var named []IPParam
	auto := false
	for _, p := range params {
		switch {
		case p.Device != "":
			named = append(named, p)
		case p.Method == MethodDHCP && len(c.Interfaces) > 0:
			for _, i := range c.Interfaces {
				q := p
				q.Device = i
				named = append(named, q)
			}
		case p.Method == MethodOff:
		case p.Method == MethodStatic:
			return fmt.Errorf("netconf: ip=%s: a static address needs a device (the 6th field)", p)
		default:
			auto = true
		}
	}
	r.pending = len(named)
	if !auto && r.pending == 0 {
		r.ready()
	}
	var wg sync.WaitGroup
	for _, p := range named {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.iface(ctx, p)
		}()
	}
	var err error
	if auto {
		err = r.watch(ctx, params[0], named)
	}
	wg.Wait()
	if err != nil {
		return err
	}
	// A supervised service stays: static configurations are done, but
	// an exit would have the supervisor start it again.
	<-ctx.Done()
	return nil
}

type runner struct {
	c       Config
	mu      sync.Mutex
	pending int // named configurations not yet configured
	readyed bool
	dns     map[string][]net.IP // per interface
	search  map[string][]string
	ntp     map[string][]net.IP
}

func (r *runner) logf(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.c.Log, format+"\n", a...)
}

func (r *runner) ready() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.readyed {
		return
	}
	r.readyed = true
	if r.c.Ready != nil {
		r.c.Ready()
	}
}

// configured is called each time an interface has its address.
func (r *runner) configured(named bool) {
	r.mu.Lock()
	if named {
		r.pending--
	}
	done := r.pending <= 0
	r.mu.Unlock()
	if done {
		r.ready()
	}
}

// LoopbackUp brings lo up (the kernel gives it 127.0.0.1 then).
func LoopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("netconf: lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("netconf: lo: set up: %w", err)
	}
	return nil
}

// watch runs DHCP on every interface but loopback (and those named)
// that has or gets a carrier, as links appear.
func (r *runner) watch(ctx context.Context, p IPParam, named []IPParam) error {
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{ListExisting: true}); err != nil {
		return fmt.Errorf("netconf: watching links: %w", err)
	}
	started := map[string]bool{}
	for _, q := range named {
		started[q.Device] = true
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-updates:
			if !ok {
				return errors.New("netconf: the link watch ended")
			}
			a := u.Attrs()
			if a == nil || a.Flags&net.FlagLoopback != 0 || started[a.Name] {
				continue
			}
			if a.Flags&net.FlagUp == 0 {
				if err := netlink.LinkSetUp(u.Link); err != nil {
					r.logf("%s: set up: %v", a.Name, err)
				}
				continue
			}
			if u.Flags&unix.IFF_LOWER_UP == 0 && a.OperState != netlink.OperUp {
				continue // no carrier yet
			}
			started[a.Name] = true
			q := p
			q.Device = a.Name
			r.logf("%s: carrier", a.Name)
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.iface(ctx, q)
			}()
		}
	}
}

// iface configures one interface and keeps it configured.
func (r *runner) iface(ctx context.Context, p IPParam) {
	named := p.Device != "" && (len(r.c.Params) > 0 && slices.ContainsFunc(r.c.Params, func(q IPParam) bool { return q.Device == p.Device }) ||
		slices.Contains(r.c.Interfaces, p.Device))
	link, err := waitLink(ctx, p.Device)
	if err != nil {
		r.logf("%s: %v", p.Device, err)
		return
	}
	if err := netlink.LinkSetUp(link); err != nil {
		r.logf("%s: set up: %v", p.Device, err)
	}
	if p.Hostname != "" {
		r.hostname(p.Device, p.Hostname) // as the kernel does with ip=
	}
	switch p.Method {
	case MethodOff:
		return
	case MethodStatic:
		for {
			err := r.static(link, p)
			if err == nil {
				r.configured(named)
				return
			}
			r.logf("%s: %v", p.Device, err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.c.Retry):
			}
		}
	}
	if r.c.DHCPv6 {
		done6 := make(chan struct{})
		go func() {
			defer close(done6)
			r.dhcp6(ctx, link)
		}()
		defer func() { <-done6 }()
	}
	r.dhcp(ctx, link, p, named)
}

// waitLink finds a link by name, waiting for it to appear.
func waitLink(ctx context.Context, name string) (netlink.Link, error) {
	if l, err := netlink.LinkByName(name); err == nil {
		return l, nil
	}
	updates := make(chan netlink.LinkUpdate, 16)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{ListExisting: true}); err != nil {
		return nil, fmt.Errorf("watching links: %w", err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case u := <-updates:
			if u.Attrs() != nil && u.Attrs().Name == name {
				return u.Link, nil
			}
		}
	}
}

// static applies an ip= static configuration.
func (r *runner) static(link netlink.Link, p IPParam) error {
	n := &net.IPNet{IP: p.Addr, Mask: p.Mask}
	if err := netlink.AddrReplace(link, &netlink.Addr{IPNet: n}); err != nil {
		return fmt.Errorf("address %s: %w", n, err)
	}
	msg := fmt.Sprintf("%s: static %s", p.Device, n)
	if p.Gateway != nil {
		rt := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: p.Gateway}
		if err := netlink.RouteReplace(rt); err != nil {
			return fmt.Errorf("default route via %s: %w", p.Gateway, err)
		}
		msg += ", router " + p.Gateway.String()
	}
	r.logf("%s", msg)
	r.setResolv(p.Device, p.DNS, nil, p.NTP)
	return nil
}

func (r *runner) hostname(dev, h string) {
	if err := unix.Sethostname([]byte(h)); err != nil {
		r.logf("%s: host name %s: %v", dev, h, err)
		return
	}
	r.logf("%s: host name %s", dev, h)
}

// setResolv records an interface's name servers and rewrites the files.
func (r *runner) setResolv(dev string, dns []net.IP, search []string, ntp []net.IP) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if dns == nil && search == nil && ntp == nil {
		delete(r.dns, dev)
		delete(r.search, dev)
		delete(r.ntp, dev)
	} else {
		r.dns[dev], r.search[dev], r.ntp[dev] = dns, search, ntp
	}
	if r.c.ResolvConf != "-" {
		if err := writeAtomic(r.c.ResolvConf, ResolvConf(r.dns, r.search)); err != nil {
			fmt.Fprintf(r.c.Log, "%s: %v\n", r.c.ResolvConf, err)
		}
	}
	if r.c.NTPConf != "" {
		if err := writeAtomic(r.c.NTPConf, NTPConf(r.ntp)); err != nil {
			fmt.Fprintf(r.c.Log, "%s: %v\n", r.c.NTPConf, err)
		}
	}
}

// ResolvConf is resolv.conf's text for these name servers and search
// domains (per interface, in interface name order, duplicates dropped).
func ResolvConf(dns map[string][]net.IP, search map[string][]string) []byte {
	var b strings.Builder
	b.WriteString("# written by svnetd\n")
	var doms []string
	for _, dev := range sortedKeys(search) {
		for _, s := range search[dev] {
			if !slices.Contains(doms, s) {
				doms = append(doms, s)
			}
		}
	}
	if len(doms) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(doms, " "))
	}
	seen := map[string]bool{}
	for _, dev := range sortedKeys(dns) {
		for _, ip := range dns[dev] {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				fmt.Fprintf(&b, "nameserver %s\n", ip)
			}
		}
	}
	return []byte(b.String())
}

// NTPConf is the "server ADDR" lines u-root's ntpdate reads.
func NTPConf(ntp map[string][]net.IP) []byte {
	var b strings.Builder
	seen := map[string]bool{}
	for _, dev := range sortedKeys(ntp) {
		for _, ip := range ntp[dev] {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				fmt.Fprintf(&b, "server %s\n", ip)
			}
		}
	}
	return []byte(b.String())
}

func sortedKeys[V any](m map[string]V) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}

// writeAtomic replaces path's content (a temporary file renamed over it).
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
