package netconf

import (
	"net"
	"reflect"
	"strings"
	"testing"
)

func ips(s ...string) []net.IP {
	var out []net.IP
	for _, a := range s {
		out = append(out, net.ParseIP(a).To4())
	}
	return out
}

func ip4(s string) net.IP { return net.ParseIP(s).To4() }

func mask(s string) net.IPMask { return net.IPMask(ip4(s)) }

func TestParseIP(t *testing.T) {
	tests := []struct {
		in      string
		want    IPParam
		wantErr string
	}{
		{in: "dhcp", want: IPParam{Method: MethodDHCP}},
		{in: "on", want: IPParam{Method: MethodDHCP}},
		{in: "any", want: IPParam{Method: MethodDHCP}},
		{in: "both", want: IPParam{Method: MethodDHCP}},
		{in: "bootp", want: IPParam{Method: MethodDHCP}},
		{in: "off", want: IPParam{Method: MethodOff}},
		{in: "none", want: IPParam{Method: MethodOff}},
		{in: "eth0:dhcp", want: IPParam{Method: MethodDHCP, Device: "eth0"}},
		{in: "eth1:off", want: IPParam{Method: MethodOff, Device: "eth1"}},
		{in: "10.0.2.15::10.0.2.2:255.255.255.0:guest:eth0:off", want: IPParam{
			Method: MethodStatic, Addr: ip4("10.0.2.15"), Gateway: ip4("10.0.2.2"),
			Mask: mask("255.255.255.0"), Hostname: "guest", Device: "eth0"}},
		{in: "10.0.2.15::10.0.2.2:255.255.255.0:guest:eth0:none", want: IPParam{
			Method: MethodStatic, Addr: ip4("10.0.2.15"), Gateway: ip4("10.0.2.2"),
			Mask: mask("255.255.255.0"), Hostname: "guest", Device: "eth0"}},
		{in: "192.168.1.5:192.168.1.1:192.168.1.254:255.255.0.0:h:eth0:off:1.1.1.1:9.9.9.9:192.168.1.2", want: IPParam{
			Method: MethodStatic, Addr: ip4("192.168.1.5"), Server: ip4("192.168.1.1"), Gateway: ip4("192.168.1.254"),
			Mask: mask("255.255.0.0"), Hostname: "h", Device: "eth0",
			DNS: ips("1.1.1.1", "9.9.9.9"), NTP: ips("192.168.1.2")}},
		// No autoconf field, an address: static, the class's netmask.
		{in: "10.1.2.3", want: IPParam{Method: MethodStatic, Addr: ip4("10.1.2.3"), Mask: mask("255.0.0.0")}},
		{in: "192.168.7.9:::::eth2", want: IPParam{Method: MethodStatic, Addr: ip4("192.168.7.9"), Mask: mask("255.255.255.0"), Device: "eth2"}},
		// No address: DHCP, other fields kept.
		{in: ":::::eth0", want: IPParam{Method: MethodDHCP, Device: "eth0"}},
		{in: "::::myhost::dhcp", want: IPParam{Method: MethodDHCP, Hostname: "myhost"}},
		{in: ":::::eth0:off", want: IPParam{Method: MethodOff, Device: "eth0"}},
		{in: ":::::eth0:dhcp:8.8.8.8", want: IPParam{Method: MethodDHCP, Device: "eth0", DNS: ips("8.8.8.8")}},
		{in: "10.0.0.2:::::eth0:dhcp", want: IPParam{Method: MethodDHCP, Addr: ip4("10.0.0.2"), Device: "eth0"}},
		{in: "rarp", wantErr: "RARP is not supported"},
		{in: ":::::eth0:rarp", wantErr: "RARP is not supported"},
		{in: "eth0:bogus", wantErr: `unknown method "bogus"`},
		{in: ":::::eth0:bogus", wantErr: `unknown autoconf "bogus"`},
		{in: "10.0.0.300::::::off", wantErr: `client address "10.0.0.300"`},
		{in: "10.0.0.2::gw:::eth0:off", wantErr: `gateway "gw"`},
		{in: "10.0.0.2:::255.0.255.0::eth0:off", wantErr: "not contiguous"},
		{in: "10.0.0.2:::255.255.255.0::eth0:off:dns", wantErr: `DNS0 "dns"`},
		{in: "10.0.0.2:::255.255.255.0::eth0:off::x", wantErr: `DNS1 "x"`},
		{in: "10.0.0.2:::255.255.255.0::eth0:off:::y", wantErr: `NTP0 "y"`},
		{in: "::2001:db8::1::::", wantErr: `gateway "2001"`},
		{in: "1:2:3:4:5:6:7:8:9:10:11", wantErr: "11 fields"},
		{in: "::::" + strings.Repeat("h", 65), wantErr: "longer than 64"},
	}
	for _, tt := range tests {
		got, err := ParseIP(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseIP(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseIP(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseIP(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		// The printed form parses back to the same value.
		back, err := ParseIP(got.String())
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("ParseIP(%q).String() = %q, parsed back as %+v, %v", tt.in, got.String(), back, err)
		}
	}
}

func TestFromParams(t *testing.T) {
	tests := []struct {
		params  []string
		want    []string // String() of each
		ok      bool
		wantErr string
	}{
		{params: []string{"console=ttyS0", "quiet"}},
		{params: []string{"ip=dhcp"}, want: []string{"dhcp"}, ok: true},
		// The image's default comes first, the kernel's own replaces it.
		{params: []string{"ip=dhcp", "root=/dev/vda", "ip=10.0.0.2::10.0.0.1:255.255.255.0:::off"},
			want: []string{"10.0.0.2::10.0.0.1:255.255.255.0:::off"}, ok: true},
		{params: []string{"ip=eth0:dhcp", "ip=10.0.1.2:::255.255.255.0::eth1:off"},
			want: []string{"eth0:dhcp", "10.0.1.2:::255.255.255.0::eth1:off"}, ok: true},
		{params: []string{"ip=bogus:x"}, ok: true, wantErr: "unknown method"},
	}
	for _, tt := range tests {
		cfgs, ok, err := FromParams(tt.params)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("FromParams(%q) error = %v, want %q", tt.params, err, tt.wantErr)
			}
			continue
		}
		if err != nil || ok != tt.ok {
			t.Errorf("FromParams(%q) ok=%v err=%v, want ok=%v", tt.params, ok, err, tt.ok)
			continue
		}
		var got []string
		for _, c := range cfgs {
			got = append(got, c.String())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("FromParams(%q) = %q, want %q", tt.params, got, tt.want)
		}
	}
}
