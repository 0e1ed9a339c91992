// Package sshd is svinit's SSH server (golang.org/x/crypto/ssh): public
// key logins from an authorized_keys file, passwords only when a
// password file is given, a host key made on first use, and sessions
// running a shell, on a pseudo-terminal or not, or one command. See
// docs/svsshd.md.
package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/svinit/svinit/pkg/getty"
)

// Config is the server's configuration.
type Config struct {
	// HostKey is the private host key's file (OpenSSH or PEM format);
	// created as a new ed25519 key when it does not exist.
	HostKey string
	// AuthorizedKeys is the authorized_keys file, read at each login.
	AuthorizedKeys string
	// PasswordFile, when set, allows password logins checked against
	// it (getty's format: one SHA-crypt line, docs/getty.md).
	PasswordFile string
	// Shell runs sessions: "Shell -c COMMAND" for a command, "Shell"
	// alone for an interactive session.
	Shell string
	// Login, when set, runs interactive sessions that have a terminal
	// instead of Shell: a program run without arguments on the
	// terminal (e.g. a script running getty's console shell on it).
	Login string
	// Env is the environment of sessions (PATH, HOME...).
	Env []string
	// Log receives one line per connection event.
	Log io.Writer
}

// Server is a configured SSH server.
type Server struct {
	c   Config
	cfg *ssh.ServerConfig
	mu  sync.Mutex
}

// LoadHostKey reads the host key at path, or generates an ed25519 key
// and writes it there (mode 0600, directories made) when it is missing.
func LoadHostKey(path string) (ssh.Signer, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, false, fmt.Errorf("host key %s: %w", path, err)
		}
		return s, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("host key: generating: %w", err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(blk), 0o600); err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	return s, true, err
}

// ParseAuthorizedKeys reads an authorized_keys text: one key a line,
// blank lines and # comments skipped. Options before a key are refused
// (none is implemented, and ignoring one such as from= would open more
// than the file's author meant).
func ParseAuthorizedKeys(b []byte) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	for line := 1; len(bytes.TrimSpace(b)) > 0; line++ {
		var rest []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b, rest = b[:i], b[i+1:]
		} else {
			rest = nil
		}
		t := bytes.TrimSpace(b)
		b = rest
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		k, _, opts, _, err := ssh.ParseAuthorizedKey(t)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(opts) > 0 {
			return nil, fmt.Errorf("line %d: key options (%v) are not supported: remove them", line, opts)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// New makes a server from c, loading or creating its host key.
func New(c Config) (*Server, error) {
	if c.Shell == "" {
		c.Shell = "/bin/sh"
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	s := &Server{c: c}
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: s.publicKey,
		ServerVersion:     "SSH-2.0-svinit",
	}
	if c.PasswordFile != "" {
		s.cfg.PasswordCallback = s.password
	}
	key, made, err := LoadHostKey(c.HostKey)
	if err != nil {
		return nil, err
	}
	if made {
		s.logf("host key %s generated: %s", c.HostKey, ssh.FingerprintSHA256(key.PublicKey()))
	} else {
		s.logf("host key %s: %s", c.HostKey, ssh.FingerprintSHA256(key.PublicKey()))
	}
	s.cfg.AddHostKey(key)
	return s, nil
}

func (s *Server) logf(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.c.Log, format+"\n", a...)
}

func (s *Server) publicKey(m ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	b, err := os.ReadFile(s.c.AuthorizedKeys)
	if err != nil {
		s.logf("%s: %v", m.RemoteAddr(), err)
		return nil, errors.New("no authorized keys")
	}
	keys, err := ParseAuthorizedKeys(b)
	if err != nil {
		s.logf("%s: %s: %v", m.RemoteAddr(), s.c.AuthorizedKeys, err)
		return nil, errors.New("no authorized keys")
	}
	for _, k := range keys {
		if bytes.Equal(k.Marshal(), key.Marshal()) {
			return &ssh.Permissions{Extensions: map[string]string{"key": ssh.FingerprintSHA256(key)}}, nil
		}
	}
	return nil, fmt.Errorf("key %s not authorized", ssh.FingerprintSHA256(key))
}

func (s *Server) password(m ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	h, ok, err := getty.ReadPasswordFile(s.c.PasswordFile)
	if err != nil || !ok {
		s.logf("%s: password file %s: %v", m.RemoteAddr(), s.c.PasswordFile, err)
		return nil, errors.New("password refused")
	}
	if !h.Check(string(pw)) {
		return nil, errors.New("password refused")
	}
	return &ssh.Permissions{Extensions: map[string]string{"key": "password"}}, nil
}

// Serve accepts connections on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go s.conn(ctx, c)
	}
}

func (s *Server) conn(ctx context.Context, nc net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.cfg)
	if err != nil {
		s.logf("%s: refused: %v", nc.RemoteAddr(), err)
		nc.Close()
		return
	}
	s.logf("%s: login %s (%s)", sc.RemoteAddr(), sc.User(), sc.Permissions.Extensions["key"])
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		go s.session(ctx, sc, ch, creqs)
	}
	s.logf("%s: closed", sc.RemoteAddr())
}
