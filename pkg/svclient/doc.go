// Package svclient is the client side of s6-style supervision: what
// svc, svstat, svok, svwait and svscanctl need beyond the on-disk
// interface itself, which is pkg/servicedir (the control FIFOs,
// supervise/lock, supervise/status, event/). Written against that
// interface only, the same code drives Debian's s6-supervise and
// s6-svscan as well as ours.
//
//   - NormallyUp, ReadRestart, NewView, Human, ParseFields, Format: what
//     s6-svstat shows, in its two output forms.
//   - Listen/Waiter: subscribe to event/ first, read the status next,
//     then wait on events only (s6-svwait, s6-svc -w).
package svclient
