package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/svinit/svinit/pkg/getty"
)

func newKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// start runs a server on 127.0.0.1 authorizing key; passwordFile may be "".
func start(t *testing.T, key ssh.Signer, passwordFile string) (addr string, hostKeyPath string) {
	t.Helper()
	dir := t.TempDir()
	keys := filepath.Join(dir, "authorized_keys")
	text := "# the test's key\n\n" + string(ssh.MarshalAuthorizedKey(key.PublicKey()))
	if err := os.WriteFile(keys, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	hostKeyPath = filepath.Join(dir, "run", "ssh_host_ed25519_key")
	srv, err := New(Config{HostKey: hostKeyPath, AuthorizedKeys: keys, PasswordFile: passwordFile,
		Shell: "/bin/sh", Env: []string{"PATH=/usr/bin:/bin", "HOME=" + dir}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String(), hostKeyPath
}

func dial(addr string, auth ssh.AuthMethod) (*ssh.Client, error) {
	return ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.InsecureIgnoreHostKey()})
}

func TestKeyLoginRunsCommands(t *testing.T) {
	key := newKey(t)
	addr, hostKey := start(t, key, "")
	if fi, err := os.Stat(hostKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key not generated with mode 0600: %v %v", fi, err)
	}
	c, err := dial(addr, ssh.PublicKeys(key))
	if err != nil {
		t.Fatalf("key login: %v", err)
	}
	defer c.Close()
	tests := []struct {
		cmd, stdin, out string
		status          int
	}{
		{cmd: "echo hello; echo err >&2", out: "hello\n"},
		{cmd: "exit 3", status: 3},
		{cmd: "tr a-z A-Z", stdin: "piped\n", out: "PIPED\n"},
		{cmd: "kill -9 $$", status: 137},
		{cmd: "test -t 0 || echo notty", out: "notty\n"},
	}
	for _, tt := range tests {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		s.Stdin = strings.NewReader(tt.stdin)
		var errb strings.Builder
		s.Stderr = &errb
		out, err := s.Output(tt.cmd)
		status := 0
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitStatus()
		} else if err != nil {
			t.Fatalf("%q: %v", tt.cmd, err)
		}
		if string(out) != tt.out || status != tt.status {
			t.Errorf("%q: output %q status %d, want %q %d", tt.cmd, out, status, tt.out, tt.status)
		}
		if tt.cmd == "echo hello; echo err >&2" && errb.String() != "err\n" {
			t.Errorf("stderr %q, want err", errb.String())
		}
	}
	// A terminal session: the shell's standard input is a terminal.
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, err := s.Output("test -t 0 && echo tty $TERM; stty size")
	if err != nil || !strings.Contains(string(out), "tty xterm") || !strings.Contains(string(out), "24 80") {
		t.Errorf("pty session: %q %v", out, err)
	}
}

func TestRefusals(t *testing.T) {
	key := newKey(t)
	addr, hostKey := start(t, key, "")
	if _, err := dial(addr, ssh.Password("anything")); err == nil {
		t.Error("password login accepted without a password file")
	}
	if _, err := dial(addr, ssh.PublicKeys(newKey(t))); err == nil {
		t.Error("a key not in authorized_keys accepted")
	}
	// The host key is reused at the next start.
	before, _ := os.ReadFile(hostKey)
	if _, made, err := LoadHostKey(hostKey); err != nil || made {
		t.Errorf("LoadHostKey of an existing key: made=%v %v", made, err)
	}
	after, _ := os.ReadFile(hostKey)
	if string(before) != string(after) {
		t.Error("host key rewritten")
	}
}

func TestPasswordWhenAsked(t *testing.T) {
	dir := t.TempDir()
	line, err := getty.HashPassword("saltsalt", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "password")
	os.WriteFile(pw, []byte(line+"\n"), 0o600)
	addr, _ := start(t, newKey(t), pw)
	if _, err := dial(addr, ssh.Password("wrong")); err == nil {
		t.Error("wrong password accepted")
	}
	c, err := dial(addr, ssh.Password("s3cret"))
	if err != nil {
		t.Fatalf("password login with a password file: %v", err)
	}
	c.Close()
}

func TestParseAuthorizedKeys(t *testing.T) {
	k := string(ssh.MarshalAuthorizedKey(newKey(t).PublicKey()))
	tests := []struct {
		in      string
		n       int
		wantErr string
	}{
		{in: "", n: 0},
		{in: "# c\n\n" + k + k, n: 2},
		{in: strings.TrimSuffix(k, "\n"), n: 1},
		{in: "from=\"10.0.0.1\" " + k, wantErr: "line 1: key options"},
		{in: "\nnot a key\n", wantErr: "line 2"},
	}
	for _, tt := range tests {
		keys, err := ParseAuthorizedKeys([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(keys) != tt.n {
			t.Errorf("%q: %d keys, %v; want %d", tt.in, len(keys), err, tt.n)
		}
	}
}

// TestLoginProgram: with Login set, a terminal session runs it on the
// terminal (its controlling terminal); commands still run the shell.
func TestLoginProgram(t *testing.T) {
	dir := t.TempDir()
	login := filepath.Join(dir, "login")
	script := "#!/bin/sh\necho login on $(tty); read line; echo got $line\n"
	if err := os.WriteFile(login, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	keys := filepath.Join(dir, "authorized_keys")
	os.WriteFile(keys, ssh.MarshalAuthorizedKey(key.PublicKey()), 0o600)
	srv, err := New(Config{HostKey: filepath.Join(dir, "hk"), AuthorizedKeys: keys, Shell: "/bin/sh", Login: login,
		Env: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, l)
	c, err := dial(l.Addr().String(), ssh.PublicKeys(key))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, _ := c.NewSession()
	if err := s.RequestPty("vt100", 24, 80, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	s.Stdin = strings.NewReader("hello\n")
	var out strings.Builder
	s.Stdout = &out
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err != nil {
		t.Fatalf("login session: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "login on /dev/pts/") || !strings.Contains(out.String(), "got hello") {
		t.Errorf("login session output %q", out.String())
	}
	s2, _ := c.NewSession()
	if b, err := s2.Output("echo cmd"); err != nil || string(b) != "cmd\n" {
		t.Errorf("exec with Login set: %q %v", b, err)
	}
}

// TestSFTP: the sftp subsystem (what OpenSSH's scp uses by default)
// writes and reads files.
func TestSFTP(t *testing.T) {
	key := newKey(t)
	addr, _ := start(t, key, "")
	c, err := dial(addr, ssh.PublicKeys(key))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatalf("sftp subsystem: %v", err)
	}
	defer sc.Close()
	path := filepath.Join(t.TempDir(), "f")
	f, err := sc.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("over sftp\n"))
	f.Close()
	if b, err := os.ReadFile(path); err != nil || string(b) != "over sftp\n" {
		t.Errorf("written over sftp: %q %v", b, err)
	}
	r, err := sc.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "over sftp\n" {
		t.Errorf("read over sftp: %q", b)
	}
}
