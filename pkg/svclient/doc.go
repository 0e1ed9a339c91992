// Package svclient is the client side of s6-style supervision: what
// svc, svstat, svok, svwait and svscanctl need, written against s6's
// on-disk interface only (supervise/control, supervise/lock,
// supervise/status, event/, .s6-svscan/control), so the same code
// drives Debian's s6-supervise and s6-svscan as well as ours.
//
//   - OpenControl/WriteControl: command letters to a control FIFO,
//     opened O_WRONLY|O_NONBLOCK so that "no supervisor" (ENXIO) is
//     told apart from errors.
//   - Supervised: the supervise/lock test of s6-svok.
//   - ReadStatus, NormallyUp, NewView, Human, ParseFields, Format: the
//     status file and s6-svstat's two output forms.
//   - Listen/Waiter: subscribe to event/ first, read the status next,
//     then wait on events only (s6-svwait, s6-svc -w).
package svclient
