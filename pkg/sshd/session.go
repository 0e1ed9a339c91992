package sshd

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"github.com/creack/pty"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Request payloads (RFC 4254).
type ptyRequest struct {
	Term                 string
	Cols, Rows, PxW, PxH uint32
	Modes                string
}

type execRequest struct{ Command string }

type envRequest struct{ Name, Value string }

type windowChange struct{ Cols, Rows, PxW, PxH uint32 }

// session serves one session channel: requests until shell or exec,
// then the program, its exit status, and the channel's close.
func (s *Server) session(ctx context.Context, sc *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var (
		ptyReq  *ptyRequest
		ptm     *os.File
		outDone chan struct{}
		env     []string
		started bool
		done    = make(chan struct{})
		mu      sync.Mutex
	)
	for {
		var req *ssh.Request
		select {
		case req = <-reqs:
		case <-done:
			return
		}
		if req == nil {
			return
		}
		ok := false
		switch req.Type {
		case "pty-req":
			var p ptyRequest
			if ssh.Unmarshal(req.Payload, &p) == nil && !started {
				ptyReq, ok = &p, true
			}
		case "window-change":
			var w windowChange
			if ssh.Unmarshal(req.Payload, &w) == nil {
				mu.Lock()
				if ptm != nil {
					pty.Setsize(ptm, &pty.Winsize{Cols: uint16(w.Cols), Rows: uint16(w.Rows)})
				} else if ptyReq != nil {
					ptyReq.Cols, ptyReq.Rows = w.Cols, w.Rows
				}
				mu.Unlock()
				ok = true
			}
		case "env":
			// Only the locale and TERM-like names; never LD_* or PATH.
			var e envRequest
			if ssh.Unmarshal(req.Payload, &e) == nil && (strings.HasPrefix(e.Name, "LC_") || e.Name == "LANG") {
				env, ok = append(env, e.Name+"="+e.Value), true
			}
		case "subsystem":
			var sub execRequest // the same payload: one string
			if started || ssh.Unmarshal(req.Payload, &sub) != nil || sub.Command != "sftp" {
				break
			}
			started, ok = true, true
			s.logf("%s: sftp", sc.RemoteAddr())
			go func() {
				srv, err := sftp.NewServer(ch, sftp.WithServerWorkingDirectory(s.home()))
				if err == nil {
					err = srv.Serve()
				}
				if err != nil && err != io.EOF {
					s.logf("%s: sftp: %v", sc.RemoteAddr(), err)
				}
				ch.SendRequest("exit-status", false, []byte{0, 0, 0, 0})
				close(done)
			}()
		case "shell", "exec":
			if started {
				break
			}
			args := []string{s.c.Shell}
			what := "shell"
			if req.Type == "exec" {
				var e execRequest
				if ssh.Unmarshal(req.Payload, &e) != nil {
					break
				}
				args = append(args, "-c", e.Command)
				what = "exec " + e.Command
			} else if ptyReq != nil && s.c.Login != "" {
				args = []string{s.c.Login}
				what = "login " + s.c.Login
			}
			cmd := exec.CommandContext(ctx, args[0], args[1:]...)
			cmd.Env = append(append([]string{"USER=" + sc.User()}, s.c.Env...), env...)
			cmd.Dir = s.home()
			var err error
			if ptyReq != nil {
				mu.Lock()
				ptm, outDone, err = startPty(cmd, ptyReq, ch)
				mu.Unlock()
			} else {
				err = startPipes(cmd, ch)
			}
			if err != nil {
				s.logf("%s: %s: %v", sc.RemoteAddr(), what, err)
				break
			}
			s.logf("%s: %s", sc.RemoteAddr(), what)
			started, ok = true, true
			go func() {
				status := wait(cmd)
				if outDone != nil {
					// The program is gone: what it wrote is read from the
					// terminal until its end (EIO once drained).
					<-outDone
					mu.Lock()
					ptm.Close()
					mu.Unlock()
				}
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], uint32(status))
				ch.SendRequest("exit-status", false, b[:])
				close(done)
			}()
		}
		if req.WantReply {
			req.Reply(ok, nil)
		}
	}
}

// home is the sessions' working directory: HOME, else /.
func (s *Server) home() string {
	if h := lookupEnv(s.c.Env, "HOME"); h != "" {
		return h
	}
	return "/"
}

func lookupEnv(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// startPty runs cmd on a new pseudo-terminal, its controlling terminal
// in a new session, copying between it and the channel.
func startPty(cmd *exec.Cmd, p *ptyRequest, ch ssh.Channel) (*os.File, chan struct{}, error) {
	ptm, tty, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	defer tty.Close()
	if p.Cols > 0 && p.Rows > 0 {
		pty.Setsize(ptm, &pty.Winsize{Cols: uint16(p.Cols), Rows: uint16(p.Rows)})
	}
	term := p.Term
	if term == "" {
		term = "dumb"
	}
	cmd.Env = append(cmd.Env, "TERM="+term)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		ptm.Close()
		return nil, nil, err
	}
	go io.Copy(ptm, ch)
	out := make(chan struct{})
	go func() {
		io.Copy(ch, ptm)
		close(out)
	}()
	return ptm, out, nil
}

// startPipes runs cmd with its stdin, stdout and stderr on the
// channel (stderr as the channel's extended data).
func startPipes(cmd *exec.Cmd, ch ssh.Channel) error {
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		io.Copy(in, ch)
		in.Close()
	}()
	return nil
}

// wait waits for cmd and gives its exit status as a shell does
// (128+signal for a killed program).
func wait(cmd *exec.Cmd) int {
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return 255
	}
	return 0
}
