//go:build linux && amd64

#include "textflag.h"

// func vfork(r *req) uintptr
//
// It clones with clone3 when r.clone3 is set (to start the child in a
// cgroup), with clone otherwise. The child shares the parent's memory and, until it execs, runs on the
// parent's stack pointer; it touches no stack (system calls and
// registers only) and never returns. Every signal stays blocked in the
// child until its ops have reset the handlers of the signals a Go
// program catches and set the mask for execve.
TEXT ·vfork(SB),NOSPLIT,$0-16
	MOVQ	r+0(FP), R12
	// rt_sigprocmask(SIG_SETMASK, &r.allmask, &r.oldmask, 8)
	MOVQ	$14, AX
	MOVQ	$2, DI
	LEAQ	40(R12), SI
	LEAQ	32(R12), DX
	MOVQ	$8, R10
	SYSCALL
	CMPQ	96(R12), $0
	JEQ	oldclone
	// clone3(&r.cargs, 88): no stack given, the child runs on this one
	// as with clone below.
	MOVQ	$435, AX
	LEAQ	104(R12), DI
	MOVQ	$88, SI
	SYSCALL
	JMP	cloned
oldclone:
	// clone(r.flags, NULL, NULL, NULL, 0)
	MOVQ	$56, AX
	MOVQ	88(R12), DI
	XORQ	SI, SI
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	SYSCALL
cloned:
	TESTQ	AX, AX
	JEQ	child
	MOVQ	AX, R13
	// rt_sigprocmask(SIG_SETMASK, &r.oldmask, NULL, 8)
	MOVQ	$14, AX
	MOVQ	$2, DI
	LEAQ	32(R12), SI
	XORQ	DX, DX
	MOVQ	$8, R10
	SYSCALL
	MOVQ	R13, ret+8(FP)
	RET

child:
	MOVQ	0(R12), R13	// the op
	XORQ	BX, BX		// its index
loop:
	CMPQ	BX, 8(R12)
	JGE	noexec
	MOVQ	0(R13), AX
	MOVQ	8(R13), DI
	MOVQ	16(R13), SI
	MOVQ	24(R13), DX
	MOVQ	32(R13), R10
	SYSCALL
	MOVQ	40(R13), CX	// check: 0 ignore, 1 must succeed, 2 or else the next op
	CMPQ	CX, $0
	JEQ	next
	CMPQ	AX, $0xfffffffffffff001
	JHI	failed
	CMPQ	CX, $2
	JNE	next
	ADDQ	$48, R13	// succeeded: skip the alternative
	INCQ	BX
	JMP	next
failed:
	CMPQ	CX, $2
	JEQ	next	// failed: run the alternative
	JMP	fail
next:
	ADDQ	$48, R13
	INCQ	BX
	JMP	loop
noexec:
	// The ops ended without an execve that failed: cannot happen (the
	// last op is the execve), report ENOEXEC rather than run on.
	MOVQ	$-8, AX
fail:
	NEGQ	AX
	MOVQ	AX, 16(R12)
	MOVQ	BX, 24(R12)
die:
	MOVQ	$60, AX	// exit(127)
	MOVQ	$127, DI
	SYSCALL
	JMP	die
