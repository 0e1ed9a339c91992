// Package servicedir is s6's on-disk interface, the contract between a
// supervisor and its clients, one file per file format:
//
//   - config.go: a service directory's configuration files (run, finish,
//     down, notification-fd, lock-fd, timeout-kill, timeout-finish,
//     max-death-tally, down-signal, log/) and svinit's own (their names
//     start with "svinit-" so that they never clash with s6's, which
//     s6-supervise ignores): the restart backoff and permanent failure.
//   - signal.go: signal names as down-signal and the tools spell them.
//   - status.go: the 35-byte supervise/status.
//   - restart.go: svinit's supervise/svinit-restart, next to it.
//   - deathtally.go: supervise/death_tally.
//   - lock.go: supervise/lock (an open-file-description lock) and the
//     s6-svok test.
//   - control.go: the control FIFOs (supervise/control,
//     .s6-svscan/control), both ends, and the control letters.
//   - fifodir.go: the event/ fifodir (ftrig1), both ends, and the event
//     letters.
//
// The configuration files are read as s6-supervise 2.11 reads them, and
// safely: every file is opened without blocking (a FIFO in place of a
// file cannot stall the reader), only a regular file is read, and only
// its first few bytes (a symbolic link to /dev/zero or a huge file costs
// nothing). A file that is malformed or not a regular file is reported
// and its default used, as s6-supervise warns and goes on; the
// directory's other files still count.
package servicedir
