package boot

import (
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/image"
)

// ntpImage is images/net.yaml with a default bundle of net and ntp
// (testdata/ntprc) and u-root's date.
var ntpImage = imageSpec{name: "ntp", def: "images/net.yaml",
	edit: func(t *testing.T, e *env, d *image.Definition) error {
		d.Commands = append(d.Commands, image.Word{Value: "date"})
		d.Rc.From = []image.Word{{Value: "templates/rc-net"}, {Value: "templates/rc-ntp"},
			{Value: "integration/boot/testdata/ntprc"}}
		return nil
	}}

// ntpEpoch is NTP's era 0 start (1900) in Unix seconds, negated.
const ntpEpoch = 2208988800

func ntpStamp(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpoch)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// sntpServer answers SNTP requests on addr with the time now + shift
// (stratum 1, a server's mode 4 reply echoing the request's transmit
// stamp as its origin) until the test ends; it counts the answers.
func sntpServer(t *testing.T, addr string, shift time.Duration) *atomic.Int32 {
	t.Helper()
	conn, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatalf("SNTP server on %s: %v (the guest's NTP queries to 10.0.2.2:123 reach the host's 127.0.0.1:123: the test needs root and the port free)", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	var n atomic.Int32
	go func() {
		buf := make([]byte, 512)
		for {
			k, peer, err := conn.ReadFrom(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil || k < 48 || buf[0]&7 != 3 { // mode 3: a client
				continue
			}
			now := time.Now().Add(shift)
			r := make([]byte, 48)
			r[0] = 0<<6 | (buf[0]>>3&7)<<3 | 4 // no leap warning, the client's version, server
			r[1] = 1                           // stratum 1
			r[2] = buf[2]
			r[3] = 0xec // precision 2^-20
			copy(r[12:16], "TEST")
			binary.BigEndian.PutUint64(r[16:], ntpStamp(now)) // reference
			copy(r[24:32], buf[40:48])                        // origin: the request's transmit
			binary.BigEndian.PutUint64(r[32:], ntpStamp(now)) // receive
			binary.BigEndian.PutUint64(r[40:], ntpStamp(now)) // transmit
			if _, err := conn.WriteTo(r, peer); err == nil {
				n.Add(1)
			}
		}
	}()
	return &n
}

// TestNTP: an SNTP server on the host (reached from the guest at QEMU's
// 10.0.2.2) tells a time five years ahead; ip='s NTP0 field names it.
// The ntp oneshot, which depends on net, runs ntpdate once the network
// is ready, and the guest's clock moves to the server's time.
func TestNTP(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, ntpImage)
	shift := 5 * 365 * 24 * time.Hour
	answers := sntpServer(t, "127.0.0.1:123", shift)
	g := bootShell(t, e, "ntp", img, bootOpts{qemuArg: netDevices(freePort(t)),
		append: []string{"ip=:::::eth0:dhcp:::10.0.2.2"}})
	g.step(t, "ClockSet", func(t *testing.T) {
		g.run("svrc -b -u change default") // waits for stage 2's svrc
		if c := g.run("cat /run/svnetd/ntp.conf"); !strings.Contains(c, "server 10.0.2.2") {
			t.Errorf("ntp.conf from ip='s NTP0:\n%s", c)
		}
		year := strings.TrimSpace(g.run("date -u +%Y"))
		want := time.Now().Add(shift).UTC().Format("2006")
		if year != want {
			t.Errorf("guest year %q after the ntp oneshot, want the server's %s (%d answers sent)", year, want, answers.Load())
		}
		if answers.Load() == 0 {
			t.Errorf("the SNTP server was never asked")
		}
		// ntpdate's line, if the oneshot's output reaches the catch-all
		// log, comes after svnetd's readiness.
		log := g.run("cat /run/uncaught-logs/current")
		ready, adj := strings.Index(log, "svnetd: ready"), strings.Index(log, "adjust time server 10.0.2.2")
		t.Logf("ntp: %d SNTP answers; guest year now %s", answers.Load(), year)
		if ready < 0 {
			t.Errorf("no svnetd readiness in the log:\n%s", tail(log, 2000))
		} else if adj >= 0 && adj < ready {
			t.Errorf("ntpdate ran before the network was ready:\n%s", tail(log, 2000))
		}
	})
	g.step(t, "Poweroff", func(t *testing.T) {
		shutdown(t, g, "poweroff", "")
	})
}
