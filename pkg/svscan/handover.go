package svscan

// Re-exec in place (svscanctl -X): the scanner execs its next image (the
// same program, or an upgrade) and hands it its whole state, so that no
// service is restarted: the processes stay its children across execve,
// the descriptors it holds stay open, and the state is serialised into a
// memfd named by HandoverEnv. Process 1 stays process 1.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/supervise"
)

// HandoverEnv names the descriptor of the state a re-exec'd scanner
// adopts; the new image removes it from its environment at once.
const HandoverEnv = "SVSCAN_HANDOVER_FD"

const handoverMagic = "svscan-handover/2"

// reexec carries out 'U' (svscanctl -X, -E). w is what the loop still
// had to do after it (a terminate asked for in the same batch): the new
// image does it. On any failure the scanner goes on as before.
func (s *Scanner) reexec(w want) {
	prog, given, err := servicedir.ReadScanRequest(s.opts.Dir, servicedir.ScanExecRequest)
	if err == nil && !given {
		if s.self < 0 {
			err = errors.New("/proc/self/exe could not be opened at start-up: give the program to exec (svscanctl -E PROG)")
		}
		prog = "/proc/self/fd/" + strconv.Itoa(s.self)
	}
	if err == nil {
		s.logf("re-executing %s", prog)
		err = s.handOver(prog, want{kill: w.kill})
	}
	if err != nil {
		s.logf("cannot re-exec (still running as before): %v", err)
	}
}

// handOver freezes everything that could take an event from a service
// (the control FIFOs' readers, the reaper, every service), serialises
// the state and execs prog. It returns only if that failed, after
// undoing the freeze.
func (s *Scanner) handOver(prog string, later want) error {
	if err := unix.Access(prog, unix.X_OK); err != nil {
		return fmt.Errorf("%s: %w", prog, err)
	}
	// What was said so far reaches the output first.
	for i := 0; i < 100 && len(s.logq) > 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	// No letter taken from .s6-svscan/control and left unapplied: the
	// reader stops before its next read.
	if !s.pauseControl() {
		s.logf("the reader of .s6-svscan/control did not pause: a letter written right now may be lost")
	}
	defer s.resumeControl()
	s.stopReaper()
	defer s.startReaper()
	s.poller.Pause()
	defer s.poller.Unpause()
	var held []*supervise.Service
	defer func() {
		for _, svc := range held {
			svc.Release()
		}
	}()
	hands := map[*supervise.Service]*supervise.Handover{}
	for _, k := range s.order {
		p := s.pairs[k]
		for _, svc := range []*supervise.Service{p.main, p.log} {
			if svc != nil {
				held = append(held, svc)
				hands[svc] = svc.Hold()
			}
		}
	}
	// Ends of supervision that came before the freeze, and letters.
	s.takeIn()
	pending := s.want
	pending.merge(later)
	blob, fds := s.marshal(hands, pending)
	if s.self >= 0 {
		fds = append(fds, s.self)
	}
	mfd, err := unix.MemfdCreate("svscan-handover", 0)
	if err != nil {
		return fmt.Errorf("memfd for the handover: %w", err)
	}
	defer unix.Close(mfd)
	for b := blob; len(b) > 0; {
		n, err := unix.Write(mfd, b)
		if err != nil {
			return fmt.Errorf("write the handover: %w", err)
		}
		b = b[n:]
	}
	if _, err := unix.Seek(mfd, 0, 0); err != nil {
		return fmt.Errorf("rewind the handover: %w", err)
	}
	for _, fd := range fds {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			restoreCloexec(fds)
			return fmt.Errorf("keep descriptor %d open across execve: %w", fd, err)
		}
	}
	env := []string{fmt.Sprintf("%s=%d %d", HandoverEnv, mfd, s.self)}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, HandoverEnv+"=") {
			env = append(env, e)
		}
	}
	err = syscall.Exec(prog, os.Args, env)
	restoreCloexec(fds)
	return fmt.Errorf("exec %s: %w", prog, err)
}

func restoreCloexec(fds []int) {
	for _, fd := range fds {
		unix.CloseOnExec(fd)
	}
}

// marshal serialises the scanner's state; fds are the descriptors it
// names.
func (s *Scanner) marshal(hands map[*supervise.Service]*supervise.Handover, pending want) (blob []byte, fds []int) {
	var e enc
	e.str(handoverMagic)
	e.int(monotonic())
	e.str(s.opts.Dir)
	e.int(int64(fdOf(s.lock)))
	e.int(int64(fdOf(s.control)))
	fds = append(fds, fdOf(s.lock), fdOf(s.control))
	if nf := s.reaper.NoFile; nf != nil {
		e.bool(true)
		e.uint(nf.Cur)
		e.uint(nf.Max)
	} else {
		e.bool(false)
	}
	e.str(pending.String())
	now := time.Now()
	e.int(int64(left(s.rescanAt, now)))
	fds = s.encodePipes(&e, fds)
	e.uint(uint64(len(s.order)))
	for _, k := range s.order {
		p := s.pairs[k]
		e.str(p.name)
		e.uint(p.key.dev)
		e.uint(p.key.ino)
		e.bool(p.active)
		e.int(int64(fdOf(p.pipeR)))
		e.int(int64(fdOf(p.pipeW)))
		for _, f := range []*os.File{p.pipeR, p.pipeW} {
			if f != nil {
				fds = append(fds, fdOf(f))
			}
		}
		e.str(p.reported)
		e.int(int64(now.Sub(p.mainStarted)))
		e.int(int64(now.Sub(p.logStarted)))
		for _, svc := range []*supervise.Service{p.main, p.log} {
			h := hands[svc]
			e.bool(h != nil)
			if h != nil {
				e.service(h)
				fds = append(fds, h.Fds()...)
			}
		}
	}
	return e.b, fds
}

// left is how long until t; -1 when t is not set.
func left(t, now time.Time) time.Duration {
	if t.IsZero() {
		return -1
	}
	return max(0, t.Sub(now))
}

// fdOf is f's descriptor, -1 for nil. Unlike File.Fd it leaves the
// descriptor's blocking mode alone (the control FIFO stays pollable).
func fdOf(f *os.File) int {
	if f == nil {
		return -1
	}
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(u uintptr) { fd = int(u) })
	}
	return fd
}

// monotonic is CLOCK_MONOTONIC in nanoseconds: it goes on across execve,
// so the new image knows how long the handover took.
func monotonic() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// String gives w back as control letters.
func (w want) String() string {
	var b []byte
	if w.scan {
		b = append(b, 'a')
	}
	if w.prune != 0 {
		b = append(b, w.prune)
	}
	if w.reap {
		b = append(b, 'z')
	}
	if w.kill != 0 {
		b = append(b, w.kill)
	}
	return string(b)
}

// adopt rebuilds the scanner from the handover in descriptor fd (New,
// in the new image). The services are resumed before Run starts the
// reaper, so no exit is collected before its pid is known again.
func (s *Scanner) adopt(fd int) error {
	var blob []byte
	buf := make([]byte, 64<<10)
	for off := int64(0); ; {
		n, err := unix.Pread(fd, buf, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", HandoverEnv, err)
		}
		if n == 0 {
			break
		}
		blob = append(blob, buf[:n]...)
		off += int64(n)
	}
	d := dec{b: blob}
	if d.str() != handoverMagic {
		return errNotOurs
	}
	elapsed := time.Duration(max(0, monotonic()-d.int()))
	s.opts.Dir = d.str()
	s.lock = fdFile(d.int(), filepath.Join(s.opts.Dir, ".s6-svscan", "lock"))
	cfd := d.int()
	if cfd >= 0 {
		unix.SetNonblock(int(cfd), true) // pollable: the reader can be paused
	}
	s.control = fdFile(cfd, filepath.Join(s.opts.Dir, ".s6-svscan", "control"))
	if d.bool() {
		s.reaper.NoFile = &unix.Rlimit{Cur: d.uint(), Max: d.uint()}
	}
	s.want.letters([]byte(d.str()))
	now := time.Now()
	if rescan := time.Duration(d.int()); rescan >= 0 {
		s.rescanAt = now.Add(max(0, rescan-elapsed))
		s.wakeAt(s.rescanAt)
	}
	type adopted struct {
		svc *supervise.Service
		h   *supervise.Handover
	}
	var all []adopted
	s.decodePipes(&d)
	n := int(d.uint())
	for i := 0; i < n && d.err == nil; i++ {
		p := &pair{name: d.str()}
		p.key = key{d.uint(), d.uint()}
		p.active = d.bool()
		p.pipeR = fdFile(d.int(), "logger pipe (read end)")
		p.pipeW = fdFile(d.int(), "logger pipe (write end)")
		p.reported = d.str()
		p.mainStarted = now.Add(-time.Duration(d.int()) - elapsed)
		p.logStarted = now.Add(-time.Duration(d.int()) - elapsed)
		for _, isLog := range []bool{false, true} {
			if !d.bool() {
				continue
			}
			h := d.service()
			if d.err != nil {
				break
			}
			opts := supervise.Options{Reaper: s.reaper, Poller: s.poller, Logf: s.logf, NoBackoff: s.opts.NoBackoff, NoCgroup: s.opts.NoCgroup}
			if isLog {
				opts.Stdin = p.pipeR
			} else {
				opts.Stdin, opts.Stdout = s.adoptedEnds(p.key, p.pipeW)
			}
			svc, err := supervise.Adopt(h, elapsed, opts)
			if err != nil {
				return err
			}
			all = append(all, adopted{svc, h})
			s.watch(svc, p, isLog)
			if isLog {
				p.log = svc
			} else {
				p.main = svc
			}
		}
		s.pairs[p.key] = p
		s.order = append(s.order, p.key)
	}
	if d.err != nil {
		return fmt.Errorf("%s: %w", HandoverEnv, d.err)
	}
	for _, a := range all {
		if err := a.svc.Resume(a.h, elapsed); err != nil {
			s.logf("%v", err)
		}
	}
	for _, k := range s.order {
		s.schedule(s.pairs[k])
	}
	s.logf("re-executed: %d service(s) adopted, %v after the old image stopped", len(all), elapsed.Round(time.Microsecond))
	return nil
}

// fdFile wraps a handed-over descriptor (close-on-exec again); nil for -1.
func fdFile(fd int64, name string) *os.File {
	if fd < 0 {
		return nil
	}
	unix.CloseOnExec(int(fd))
	return os.NewFile(uintptr(fd), name)
}

// enc and dec are the handover's encoding: varints and length-prefixed
// strings, in a fixed order.
type enc struct{ b []byte }

func (e *enc) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) str(v string)  { e.uint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) bool(v bool) {
	if v {
		e.uint(1)
	} else {
		e.uint(0)
	}
}

func (e *enc) service(h *supervise.Handover) {
	e.str(h.Dir)
	e.str(h.Name)
	for _, fd := range []int{h.Dfd, h.Lock, h.Control, h.Notify, h.State, h.Pid} {
		e.int(int64(fd))
	}
	e.str(string(h.Status[:]))
	e.bool(h.Started)
	e.bool(h.QuietEnd)
	e.bool(h.RsOnce)
	e.uint(uint64(h.Gen))
	e.int(int64(h.Spawned))
	e.int(int64(h.Lived))
	e.uint(uint64(len(h.Deaths)))
	for _, t := range h.Deaths {
		e.int(int64(t))
	}
	e.str(string(h.Restart[:]))
	e.str(string(h.RestartFile[:]))
	e.int(int64(h.Timer))
	e.int(int64(h.Killer))
	e.bool(h.ReadyRead)
	e.str(h.Cgroup)
	e.uint(h.OOMSeen)
	e.str(h.LastErr)
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = errors.New("truncated or corrupt")
	}
	d.b = nil
}

func (d *dec) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	v := string(d.b[:n])
	d.b = d.b[n:]
	return v
}

func (d *dec) bool() bool { return d.uint() != 0 }

func (d *dec) service() *supervise.Handover {
	h := &supervise.Handover{Dir: d.str(), Name: d.str()}
	h.Dfd, h.Lock, h.Control, h.Notify = int(d.int()), int(d.int()), int(d.int()), int(d.int())
	h.State, h.Pid = int(d.int()), int(d.int())
	if copy(h.Status[:], d.str()) != len(h.Status) {
		d.fail()
	}
	h.Started, h.QuietEnd, h.RsOnce = d.bool(), d.bool(), d.bool()
	h.Gen = uint32(d.uint())
	h.Spawned, h.Lived = time.Duration(d.int()), time.Duration(d.int())
	n := d.uint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		h.Deaths = append(h.Deaths, time.Duration(d.int()))
	}
	if copy(h.Restart[:], d.str()) != len(h.Restart) || copy(h.RestartFile[:], d.str()) != len(h.RestartFile) {
		d.fail()
	}
	h.Timer, h.Killer = time.Duration(d.int()), time.Duration(d.int())
	h.ReadyRead = d.bool()
	h.Cgroup, h.OOMSeen = d.str(), d.uint()
	h.LastErr = d.str()
	return h
}

// errNotOurs: the handover is of another version of the scanner.
var errNotOurs = errors.New("not a handover this scanner understands")

// newFromHandover is New in an image exec'd by svscanctl -X: val is
// "STATE PREVIOUS", the descriptors of the state and of the previous
// image. A handover of another version sends the state back to the
// previous image (which exec'd this one), so that process 1 survives an
// incompatible upgrade.
func (s *Scanner) newFromHandover(val string) (*Scanner, error) {
	os.Unsetenv(HandoverEnv)
	f := strings.Fields(val)
	state, prev := -1, -1
	if len(f) == 2 {
		state, _ = strconv.Atoi(f[0])
		prev, _ = strconv.Atoi(f[1])
	}
	if state < 0 {
		return nil, fmt.Errorf("%s=%q: want two descriptors", HandoverEnv, val)
	}
	var err error
	if s.poller, err = supervise.NewControlPoller(); err != nil {
		return nil, fmt.Errorf("scan dir %s: %w", s.opts.Dir, err)
	}
	go s.poller.Run()
	raiseFileLimit(s.pid1, s.logf) // the children's limit comes with the state
	err = s.adopt(state)
	if errors.Is(err, errNotOurs) && prev >= 0 {
		unix.Seek(state, 0, 0)
		env := append(os.Environ(), HandoverEnv+"="+val)
		prog := "/proc/self/fd/" + strconv.Itoa(prev)
		err = fmt.Errorf("%w; and exec'ing the previous image back: %w", err, syscall.Exec(prog, os.Args, env))
	}
	if prev >= 0 {
		unix.Close(prev)
	}
	unix.Close(state)
	if err != nil {
		return nil, fmt.Errorf("adopting the previous scanner's services: %w", err)
	}
	return s, nil
}
