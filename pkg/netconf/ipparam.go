// Package netconf configures the network of an svinit system: the
// kernel's ip= parameter, static addresses and routes, DHCPv4 leases
// (u-root's dhclient and insomniacslk's nclient4) kept renewed, and
// /etc/resolv.conf. cmds/svnetd is its command; see docs/svnetd.md.
package netconf

import (
	"fmt"
	"net"
	"strings"
)

// Method is how an interface gets its address.
type Method int

const (
	MethodOff    Method = iota // no configuration (ip=off, ip=none)
	MethodStatic               // the address given
	MethodDHCP                 // DHCPv4 (ip=dhcp, on, any, both, bootp)
)

func (m Method) String() string {
	switch m {
	case MethodStatic:
		return "static"
	case MethodDHCP:
		return "dhcp"
	}
	return "off"
}

// IPParam is one ip= parameter of the kernel command line, in the
// kernel's syntax (Documentation/admin-guide/nfs/nfsroot.rst):
//
//	ip=CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF:DNS0:DNS1:NTP0
//
// or one word (ip=dhcp, ip=off...), or dracut's ip=DEVICE:AUTOCONF.
// Empty fields are unset. SERVER (the NFS root server) is kept but unused.
type IPParam struct {
	Method   Method
	Addr     net.IP     // client address (static)
	Mask     net.IPMask // netmask; nil: the address class's (as the kernel)
	Server   net.IP
	Gateway  net.IP
	Hostname string
	Device   string // "" = every interface with a carrier
	DNS      []net.IP
	NTP      []net.IP
}

// autoconf maps the kernel's AUTOCONF words to a method.
var autoconf = map[string]Method{
	"off": MethodOff, "none": MethodOff,
	"on": MethodDHCP, "any": MethodDHCP, "dhcp": MethodDHCP, "both": MethodDHCP, "bootp": MethodDHCP,
}

// ParseIP parses the value of one ip= parameter.
func ParseIP(v string) (IPParam, error) {
	var p IPParam
	if m, ok := autoconf[v]; ok {
		p.Method = m
		return p, nil
	}
	if v == "rarp" {
		return p, fmt.Errorf("ip=%s: RARP is not supported: use ip=dhcp or a static address", v)
	}
	f := strings.Split(v, ":")
	if len(f) > 10 {
		return p, fmt.Errorf("ip=%s: %d fields, at most 10 (CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF:DNS0:DNS1:NTP0)", v, len(f))
	}
	// dracut's ip=DEVICE:AUTOCONF.
	if len(f) == 2 && f[0] != "" && net.ParseIP(f[0]) == nil {
		m, ok := autoconf[f[1]]
		if !ok {
			return p, fmt.Errorf("ip=%s: unknown method %q (want dhcp, on, any, off or none)", v, f[1])
		}
		p.Method, p.Device = m, f[0]
		return p, nil
	}
	field := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	addr := func(i int, name string) (net.IP, error) {
		s := field(i)
		if s == "" {
			return nil, nil
		}
		ip := net.ParseIP(s).To4()
		if ip == nil {
			return nil, fmt.Errorf("ip=%s: %s %q is not an IPv4 address", v, name, s)
		}
		return ip, nil
	}
	var err error
	if p.Addr, err = addr(0, "client address"); err != nil {
		return p, err
	}
	if p.Server, err = addr(1, "server address"); err != nil {
		return p, err
	}
	if p.Gateway, err = addr(2, "gateway"); err != nil {
		return p, err
	}
	mask, err := addr(3, "netmask")
	if err != nil {
		return p, err
	}
	if mask != nil {
		p.Mask = net.IPMask(mask)
		if ones, bits := p.Mask.Size(); ones == 0 && bits == 0 {
			return p, fmt.Errorf("ip=%s: netmask %s is not contiguous", v, mask)
		}
	}
	p.Hostname = field(4)
	if len(p.Hostname) > 64 {
		return p, fmt.Errorf("ip=%s: host name longer than 64 bytes", v)
	}
	p.Device = field(5)
	ac := field(6)
	m, ok := autoconf[ac]
	switch {
	case ac == "":
		// The kernel configures statically when it has an address and
		// asks DHCP otherwise.
		if p.Addr != nil {
			p.Method = MethodStatic
		} else {
			p.Method = MethodDHCP
		}
	case ac == "rarp":
		return p, fmt.Errorf("ip=%s: RARP is not supported: use dhcp or off", v)
	case !ok:
		return p, fmt.Errorf("ip=%s: unknown autoconf %q (want off, none, dhcp, on, any, both or bootp)", v, ac)
	case m == MethodOff && p.Addr != nil:
		p.Method = MethodStatic
	default:
		p.Method = m
	}
	for i, name := range []string{"DNS0", "DNS1"} {
		ip, err := addr(7+i, name)
		if err != nil {
			return p, err
		}
		if ip != nil {
			p.DNS = append(p.DNS, ip)
		}
	}
	ntp, err := addr(9, "NTP0")
	if err != nil {
		return p, err
	}
	if ntp != nil {
		p.NTP = append(p.NTP, ntp)
	}
	if p.Method == MethodStatic && p.Mask == nil {
		p.Mask = p.Addr.DefaultMask()
	}
	return p, nil
}

// FromParams finds the ip= parameters among kernel parameters (as
// kcmdline.Split returns them) and parses them. A later ip= for the same
// device replaces an earlier one (the image's defaults come first, the
// kernel's own parameters after them). ok is false without any ip=.
func FromParams(params []string) (cfgs []IPParam, ok bool, err error) {
	for _, a := range params {
		v, found := strings.CutPrefix(a, "ip=")
		if !found {
			continue
		}
		p, err := ParseIP(v)
		if err != nil {
			return nil, true, err
		}
		ok = true
		replaced := false
		for i := range cfgs {
			if cfgs[i].Device == p.Device {
				cfgs[i], replaced = p, true
			}
		}
		if !replaced {
			cfgs = append(cfgs, p)
		}
	}
	return cfgs, ok, nil
}

// String gives p back in the kernel's syntax.
func (p IPParam) String() string {
	if p.Method != MethodStatic && p.Addr == nil && p.Gateway == nil && p.Mask == nil &&
		p.Hostname == "" && len(p.DNS) == 0 && len(p.NTP) == 0 && p.Server == nil {
		if p.Device != "" {
			return p.Device + ":" + p.Method.String()
		}
		return p.Method.String()
	}
	s := func(ip net.IP) string {
		if ip == nil {
			return ""
		}
		return ip.String()
	}
	at := func(l []net.IP, i int) net.IP {
		if i < len(l) {
			return l[i]
		}
		return nil
	}
	mask := ""
	if p.Mask != nil {
		mask = net.IP(p.Mask).String()
	}
	method := "off" // the kernel's word for a static address
	if p.Method == MethodDHCP {
		method = "dhcp"
	}
	f := []string{s(p.Addr), s(p.Server), s(p.Gateway), mask, p.Hostname, p.Device, method,
		s(at(p.DNS, 0)), s(at(p.DNS, 1)), s(at(p.NTP, 0))}
	n := len(f)
	for n > 7 && f[n-1] == "" {
		n--
	}
	return strings.Join(f[:n], ":")
}
