package netconf

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
)

func reply6(t *testing.T, ias ...*dhcpv6.OptIANA) *dhcpv6.Message {
	t.Helper()
	m, err := dhcpv6.NewMessage()
	if err != nil {
		t.Fatal(err)
	}
	m.MessageType = dhcpv6.MessageTypeReply
	for _, ia := range ias {
		m.AddOption(ia)
	}
	return m
}

func ia(t1 time.Duration, addrs ...dhcpv6.OptIAAddress) *dhcpv6.OptIANA {
	o := &dhcpv6.OptIANA{T1: t1}
	for i := range addrs {
		o.Options.Add(&addrs[i])
	}
	return o
}

func addr6(s string, pref, valid time.Duration) dhcpv6.OptIAAddress {
	return dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP(s), PreferredLifetime: pref, ValidLifetime: valid}
}

func TestLeaseTimes6(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		ias  []*dhcpv6.OptIANA
		want Times6
	}{
		{"T1 given", []*dhcpv6.OptIANA{ia(100*s, addr6("2001:db8::1", 300*s, 600*s))}, Times6{T1: 100 * s, Valid: 600 * s}},
		{"T1 left to the client: half the preferred lifetime", []*dhcpv6.OptIANA{ia(0, addr6("2001:db8::1", 300*s, 600*s))}, Times6{T1: 150 * s, Valid: 600 * s}},
		{"two IA_NAs: the sooner T1, the longer lifetime", []*dhcpv6.OptIANA{ia(200*s, addr6("2001:db8::1", 300*s, 600*s)),
			ia(50*s, addr6("2001:db8::2", 100*s, 900*s))}, Times6{T1: 50 * s, Valid: 900 * s}},
		{"nothing: an hour", nil, Times6{T1: time.Hour}},
	}
	for _, tt := range tests {
		if got := LeaseTimes6(reply6(t, tt.ias...)); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestReplyStatus(t *testing.T) {
	ok := reply6(t, ia(0, addr6("2001:db8::1", time.Minute, time.Hour)))
	if err := replyStatus(ok); err != nil {
		t.Errorf("a reply with an address: %v", err)
	}
	if err := replyStatus(reply6(t, ia(0))); err == nil || !strings.Contains(err.Error(), "no address") {
		t.Errorf("a reply without an address: %v", err)
	}
	refused := reply6(t, ia(0))
	refused.AddOption(&dhcpv6.OptStatusCode{StatusCode: 2, StatusMessage: "no addresses available"})
	if err := replyStatus(refused); err == nil || !strings.Contains(err.Error(), "server says") {
		t.Errorf("a refusal: %v", err)
	}
	r, err := renew6(ok)
	if err != nil || r.MessageType != dhcpv6.MessageTypeRenew || len(r.Options.IANA()) != 1 {
		t.Errorf("renew6: %v %v", r, err)
	}
}
