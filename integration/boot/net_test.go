package boot

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/svinit/svinit/pkg/image"
)

// netKey is the key the net image authorizes, made once per run.
var netKey = sync.OnceValues(func() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
})

// netImage is images/default.yaml with the network and SSH services
// (templates/rc-net) and testdata/netrc: a default bundle of net, sshd
// and netcheck, a oneshot needing net that records the routes it sees
// when it runs.
var netImage = imageSpec{name: "net", def: "images/default.yaml",
	edit: func(t *testing.T, e *env, d *image.Definition) error {
		key, err := netKey()
		if err != nil {
			return err
		}
		// svnetd and svsshd are opt-in: the services need them listed.
		d.Commands = append(d.Commands, image.Word{Value: "scp"}, image.Word{Value: "svnetd"}, image.Word{Value: "svsshd"})
		d.Rc.From = []image.Word{{Value: "templates/rc-net"}, {Value: "integration/boot/testdata/netrc"}}
		d.Files = append(d.Files, image.File{
			Dst:     image.Word{Value: "/etc/svinit/ssh/authorized_keys"},
			Content: image.Word{Value: string(ssh.MarshalAuthorizedKey(key.PublicKey()))},
			Mode:    image.Word{Value: "0600"},
		})
		return nil
	}}

// freePort finds a free TCP port on 127.0.0.1 for QEMU's hostfwd.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func netDevices(port int) []string {
	return []string{
		"-netdev", fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:22", port),
		"-device", "virtio-net-pci,netdev=n0",
	}
}

// defaultRoute is /proc/net/route's line of a default route (destination
// 0) via 10.0.2.2 (little-endian hex) on eth0.
var defaultRoute = regexp.MustCompile(`(?m)^eth0\s+00000000\s+0202000A\s`)

var leaseRe = regexp.MustCompile(`eth0: lease obtained in (\S+)`)

// TestNetwork boots the net image on QEMU's user network: svnetd gets
// the 10.0.2.15 lease, netcheck runs only once the default route is
// there, and an SSH login forwarded from 127.0.0.1 with the authorized
// key runs svstat in the guest; a password login is refused.
func TestNetwork(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, netImage)
	port := freePort(t)
	g := bootShell(t, e, "net", img, bootOpts{qemuArg: netDevices(port)})
	g.step(t, "Lease", func(t *testing.T) {
		g.run("svrc -b -u change default") // waits for stage 2's svrc
		if a := g.run("ip addr show eth0"); !strings.Contains(a, "10.0.2.15/24") {
			t.Errorf("eth0 has no 10.0.2.15/24:\n%s", a)
		}
		if r := g.run("cat /run/netcheck"); !defaultRoute.MatchString(r) {
			t.Errorf("netcheck ran before the default route was there; it saw:\n%s", r)
		}
		if r := g.run("cat /etc/resolv.conf"); !strings.Contains(r, "nameserver 10.0.2.3") {
			t.Errorf("resolv.conf:\n%s", r)
		}
		log := g.run("cat /run/uncaught-logs/current")
		if n := strings.Count(log, "svnetd: lo: up"); n != 1 {
			t.Errorf("svnetd started %d times, want once (it must not exit)", n)
		}
		if m := leaseRe.FindStringSubmatch(log); m != nil {
			t.Logf("time to lease (svnetd's DHCP exchange): %s", m[1])
		} else {
			t.Errorf("no lease line in the catch-all log:\n%s", tail(log, 40))
		}
		if s := g.run("svstat /run/service/net"); !strings.Contains(s, "ready") {
			t.Errorf("net not ready: %s", s)
		}
	})
	g.step(t, "SSH", func(t *testing.T) {
		key, _ := netKey()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: cmdTimeout}
		c, err := ssh.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatalf("key login on %s: %v", addr, err)
		}
		defer c.Close()
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.CombinedOutput("svstat /run/service/sshd")
		if err != nil || !strings.Contains(string(out), "up (pid") {
			t.Errorf("remote svstat: %v\n%s", err, out)
		}
		// A terminal session: getty's console shell on the pseudo-terminal.
		s, err = c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RequestPty("vt100", 24, 80, ssh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
		s.Stdin = strings.NewReader("svstat /run/service/net\nexit 7\n")
		var term strings.Builder
		s.Stdout = &term
		if err := s.Shell(); err != nil {
			t.Fatal(err)
		}
		var ee *ssh.ExitError
		if err := s.Wait(); !errors.As(err, &ee) || ee.ExitStatus() != 7 || !strings.Contains(term.String(), "up (pid") {
			t.Errorf("terminal session: %v\n%s", err, term.String())
		}
		// scp's classic protocol, as `scp -O` speaks it, to u-root's scp.
		sent := "copied over scp\n"
		if err := scpTo(c, "/tmp/scp-test", sent); err != nil {
			t.Errorf("scp to the guest: %v", err)
		} else if got := g.run("cat /tmp/scp-test"); !strings.Contains(got, strings.TrimSpace(sent)) {
			t.Errorf("copied file holds %q", got)
		}
		if got, err := scpFrom(c, "/tmp/scp-test"); err != nil || got != sent {
			t.Errorf("scp from the guest: %q %v", got, err)
		}
		pw := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.Password("root")},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: cmdTimeout}
		if c, err := ssh.Dial("tcp", addr, pw); err == nil {
			c.Close()
			t.Error("password login accepted")
		} else if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("password login: %v, want an authentication refusal", err)
		}
		if h := g.run("ls /run/svsshd"); !strings.Contains(h, "ssh_host_ed25519_key") {
			t.Errorf("no host key generated in /run/svsshd: %s", h)
		}
	})
	g.step(t, "Poweroff", func(t *testing.T) {
		shutdown(t, g, "poweroff", "")
	})
}

// TestNetworkStatic boots the net image with a static ip= on the kernel
// command line: no DHCP, the address and default route as given.
func TestNetworkStatic(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, netImage)
	g := bootShell(t, e, "net-static", img, bootOpts{qemuArg: netDevices(freePort(t)),
		append: []string{"ip=10.0.2.16::10.0.2.2:255.255.255.0:statichost:eth0:off:10.0.2.3"}})
	g.step(t, "Static", func(t *testing.T) {
		g.run("svrc -b -u change default")
		if a := g.run("ip addr show eth0"); !strings.Contains(a, "10.0.2.16/24") {
			t.Errorf("eth0 has no 10.0.2.16/24:\n%s", a)
		}
		if r := g.run("cat /run/netcheck"); !defaultRoute.MatchString(r) {
			t.Errorf("netcheck saw:\n%s", r)
		}
		log := g.run("cat /run/uncaught-logs/current")
		if n := strings.Count(log, "svnetd: lo: up"); n != 1 {
			t.Errorf("svnetd started %d times, want once (it must not exit)", n)
		}
		if !strings.Contains(log, "eth0: static 10.0.2.16/24, router 10.0.2.2") || strings.Contains(log, "eth0: dhcp") {
			t.Errorf("svnetd's log:\n%s", tail(log, 40))
		}
		if r := g.run("cat /etc/resolv.conf"); !strings.Contains(r, "nameserver 10.0.2.3") {
			t.Errorf("resolv.conf:\n%s", r)
		}
		if h := g.run("hostname"); strings.TrimSpace(h) != "statichost" {
			t.Errorf("host name %q, want ip='s statichost", h)
		}
	})
	g.step(t, "Poweroff", func(t *testing.T) {
		shutdown(t, g, "poweroff", "")
	})
}

// scpTo copies content to path in the guest with scp's classic protocol
// (the remote side is "scp -t PATH").
func scpTo(c *ssh.Client, path, content string) error {
	s, err := c.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.Start("scp -t " + path); err != nil {
		return err
	}
	ack := func(what string) error {
		var b [1]byte
		if _, err := io.ReadFull(out, b[:]); err != nil || b[0] != 0 {
			return fmt.Errorf("%s: no acknowledgement (%v, %q)", what, err, b)
		}
		return nil
	}
	if err := ack("start"); err != nil {
		return err
	}
	fmt.Fprintf(in, "C0644 %d %s\n", len(content), filepath.Base(path))
	if err := ack("header"); err != nil {
		return err
	}
	io.WriteString(in, content)
	in.Write([]byte{0})
	if err := ack("content"); err != nil {
		return err
	}
	in.Close()
	return s.Wait()
}

// scpFrom reads path from the guest with scp's classic protocol (the
// remote side is "scp -f PATH").
func scpFrom(c *ssh.Client, path string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.Start("scp -f " + path); err != nil {
		return "", err
	}
	r := bufio.NewReader(out)
	in.Write([]byte{0})
	var mode, size int64
	var name string
	if _, err := fmt.Fscanf(r, "C%o %d %s\n", &mode, &size, &name); err != nil {
		return "", fmt.Errorf("header: %w", err)
	}
	in.Write([]byte{0})
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	if z, err := r.ReadByte(); err != nil || z != 0 {
		return "", fmt.Errorf("no end of file mark (%v)", err)
	}
	in.Write([]byte{0})
	in.Close()
	return string(b), s.Wait()
}
