package timeline

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoRunInit reports a kernel log without the "Run ... as init
// process" line (a ring buffer that wrapped since the boot).
var ErrNoRunInit = errors.New(`no "Run ... as init process" line (the kernel's ring buffer may have wrapped since the boot)`)

// maxKmsg bounds what RunInit reads of the kernel log.
const maxKmsg = 16 << 20

// RunInit reads the kernel log from path (/dev/kmsg, or a file of
// records in its format) and returns the time of the line "Run PROG as
// init process" since the kernel started, and PROG. The kernel stamps
// its records with its local clock, which is CLOCK_BOOTTIME as long as
// the machine was not suspended.
//
// /dev/kmsg gives one record a read, starting with the oldest the ring
// buffer holds, and EAGAIN (opened non-blocking) after the newest;
// EPIPE means records were overwritten while reading, and reading goes
// on with the next.
func RunInit(path string) (time.Duration, string, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, "", &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var all []byte
	buf := make([]byte, 8192)
	for len(all) < maxKmsg {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EINTR || err == syscall.EPIPE {
			continue
		}
		if err == syscall.EAGAIN {
			break
		}
		if err != nil {
			return 0, "", &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n <= 0 {
			break
		}
		all = append(all, buf[:n]...)
	}
	return parseRunInit(all)
}

// parseRunInit finds the first "Run PROG as init process" record in
// /dev/kmsg's format: "PRIO,SEQ,USEC,FLAGS[,...];MESSAGE" a line,
// followed by continuation lines starting with a space.
func parseRunInit(b []byte) (time.Duration, string, error) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) == 0 || line[0] == ' ' {
			continue
		}
		head, msg, ok := bytes.Cut(line, []byte{';'})
		if !ok {
			continue
		}
		rest, ok := bytes.CutPrefix(msg, []byte("Run "))
		if !ok {
			continue
		}
		prog, ok := bytes.CutSuffix(rest, []byte(" as init process"))
		if !ok {
			continue
		}
		f := strings.Split(string(head), ",")
		if len(f) < 4 {
			return 0, "", fmt.Errorf("kernel log record %q: want PRIO,SEQ,USEC,FLAGS before ';'", line)
		}
		us, err := strconv.ParseUint(f[2], 10, 63)
		if err != nil {
			return 0, "", fmt.Errorf("kernel log record %q: time %q: %v", line, f[2], err)
		}
		return time.Duration(us) * time.Microsecond, string(prog), nil
	}
	return 0, "", ErrNoRunInit
}
