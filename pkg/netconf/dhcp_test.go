package netconf

import (
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestLeaseTimes(t *testing.T) {
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	tests := []struct {
		name string
		mods []dhcpv4.Modifier
		want Times
	}{
		{"no times: a day, RFC 2131's T1 and T2", nil, Times{T1: 12 * time.Hour, T2: 21 * time.Hour, Lease: 24 * time.Hour}},
		{"lease only", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(3600)}, Times{T1: sec(1800), T2: sec(3150), Lease: sec(3600)}},
		{"all three", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(1000),
			timeOpt(dhcpv4.OptionRenewTimeValue, (sec(300))),
			timeOpt(dhcpv4.OptionRebindingTimeValue, (sec(600)))}, Times{T1: sec(300), T2: sec(600), Lease: sec(1000)}},
		{"T1 past the lease: half", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(100),
			timeOpt(dhcpv4.OptionRenewTimeValue, (sec(500)))}, Times{T1: sec(50), T2: sec(87) + 500*time.Millisecond, Lease: sec(100)}},
		{"T2 before T1: between T1 and the end", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(100),
			timeOpt(dhcpv4.OptionRenewTimeValue, (sec(60))),
			timeOpt(dhcpv4.OptionRebindingTimeValue, (sec(30)))}, Times{T1: sec(60), T2: sec(90), Lease: sec(100)}},
	}
	for _, tt := range tests {
		ack, err := dhcpv4.New(tt.mods...)
		if err != nil {
			t.Fatal(err)
		}
		if got := LeaseTimes(ack); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// timeOpt is a time option (seconds, 32 bits) as a server sends it.
func timeOpt(code dhcpv4.OptionCode, d time.Duration) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.Option{Code: code, Value: dhcpv4.Duration(d)})
}

func TestResolvAndNTPConf(t *testing.T) {
	ip := func(s string) net.IP { return net.ParseIP(s).To4() }
	dns := map[string][]net.IP{"eth1": {ip("10.0.0.3"), ip("10.0.0.1")}, "eth0": {ip("10.0.0.1")}}
	search := map[string][]string{"eth0": {"a.example"}, "eth1": {"b.example", "a.example"}}
	want := "# written by svnetd\nsearch a.example b.example\nnameserver 10.0.0.1\nnameserver 10.0.0.3\n"
	if got := string(ResolvConf(dns, search)); got != want {
		t.Errorf("ResolvConf:\n%s\nwant:\n%s", got, want)
	}
	if got := string(ResolvConf(nil, nil)); got != "# written by svnetd\n" {
		t.Errorf("empty ResolvConf: %q", got)
	}
	ntp := map[string][]net.IP{"eth0": {ip("10.0.0.9")}, "eth1": {ip("10.0.0.9"), ip("10.0.0.8")}}
	if got := string(NTPConf(ntp)); got != "server 10.0.0.9\nserver 10.0.0.8\n" {
		t.Errorf("NTPConf: %q", got)
	}
}
