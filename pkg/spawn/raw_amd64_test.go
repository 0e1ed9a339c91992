//go:build linux && amd64

package spawn

import (
	"io"
	"os"
	"runtime"
	"syscall"
	"testing"
	"unsafe"
)

// TestOps runs a hand-made op list in a child: an op that fails with
// orElse runs the next one, an op that succeeds with orElse skips it, an
// ignored failure goes on, and a failing mustSucceed op ends the child
// with its error reported.
func TestOps(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	msg := []byte("ABCDE")
	write := func(i int, check uintptr) op {
		return op{nr: syscall.SYS_WRITE, a1: w.Fd(), a2: uintptr(unsafe.Pointer(&msg[i])), a3: 1, check: check}
	}
	bad := op{nr: syscall.SYS_CLOSE, a1: 1 << 20} // EBADF
	ops := []op{
		{nr: syscall.SYS_UNSHARE, a1: cloneFiles, check: mustSucceed},
		{nr: bad.nr, a1: bad.a1, check: orElse}, write(0, mustSucceed), // fails: A written
		{nr: syscall.SYS_GETPID, check: orElse}, write(1, mustSucceed), // succeeds: B skipped
		{nr: bad.nr, a1: bad.a1, check: ignore}, write(2, mustSucceed), // ignored: C written
		{nr: bad.nr, a1: bad.a1, check: mustSucceed}, write(3, mustSucceed), // ends the child
	}
	rq := &req{allmask: ^uint64(0), flags: cloneVM | cloneVfork | sigchld}
	rq.ops, rq.nops = &ops[0], uintptr(len(ops))
	ret := vfork(rq)
	runtime.KeepAlive(ops)
	runtime.KeepAlive(msg)
	w.Close()
	if int(ret) <= 0 {
		t.Fatalf("vfork: %d", int(ret))
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(int(ret), &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	if string(out) != "AC" || ws.ExitStatus() != 127 || syscall.Errno(rq.errno) != syscall.EBADF || rq.errop != 7 {
		t.Errorf("child wrote %q, exit %d, errno %v at op %d; want \"AC\", 127, EBADF at op 7", out, ws.ExitStatus(), syscall.Errno(rq.errno), rq.errop)
	}
}

// TestReqLayout: the assembly reads req at fixed offsets.
func TestReqLayout(t *testing.T) {
	var r req
	if o := unsafe.Offsetof(r.flags); o != 88 {
		t.Errorf("flags at %d, the assembly reads 88", o)
	}
	if o := unsafe.Offsetof(r.clone3); o != 96 {
		t.Errorf("clone3 at %d, the assembly reads 96", o)
	}
	if o := unsafe.Offsetof(r.cargs); o != 104 {
		t.Errorf("cargs at %d, the assembly reads 104", o)
	}
	if n := unsafe.Sizeof(r.cargs); n != 88 {
		t.Errorf("struct clone_args is %d bytes, the assembly passes 88", n)
	}
}
