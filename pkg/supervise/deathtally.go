package supervise

import (
	"syscall"

	"github.com/svinit/svinit/pkg/s6status"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

// DeathRecordSize is the size of one supervise/death_tally record: the
// TAI64N time of the death, then one byte of exit code (128+signal for a
// signal death) and one byte of signal number (0 for a normal exit), as
// s6-supervise 2.11 writes them.
const DeathRecordSize = tai64n.Size + 2

// maxTallyBytes bounds how much of a death_tally is read: more records
// than max-death-tally allows are never kept.
const maxTallyBytes = (servicedir.MaxDeathTallyLimit + 1) * DeathRecordSize

func deathRecord(now tai64n.Stamp, ws syscall.WaitStatus) [DeathRecordSize]byte {
	var r [DeathRecordSize]byte
	copy(r[:], now[:])
	if ws.Signaled() {
		r[12] = byte(128 + int(ws.Signal()))
		r[13] = byte(ws.Signal())
	} else {
		r[12] = byte(ws.ExitStatus())
	}
	return r
}

// appendDeath adds a record to the tally, keeps the newest max records,
// and rewrites supervise/death_tally (under dirfd) atomically.
func appendDeath(dirfd int, tally []byte, rec [DeathRecordSize]byte, max int) ([]byte, error) {
	if max <= 0 {
		tally = tally[:0]
	} else {
		tally = append(tally, rec[:]...)
		if n := len(tally) / DeathRecordSize; n > max {
			tally = append(tally[:0], tally[(n-max)*DeathRecordSize:]...)
		}
	}
	return tally, s6status.ReplaceAt(dirfd, "supervise/death_tally", tally)
}

// loadDeaths reads supervise/death_tally under dirfd, creating it empty
// if it does not exist, and drops a torn last record.
func loadDeaths(dirfd int) ([]byte, error) {
	fd, err := unix.Openat(dirfd, "supervise/death_tally", unix.O_RDONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var b []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		b = append(b, buf[:n]...)
		if len(b) > maxTallyBytes {
			break
		}
	}
	return b[:len(b)-len(b)%DeathRecordSize], nil
}
