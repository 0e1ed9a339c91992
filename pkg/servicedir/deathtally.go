package servicedir

// supervise/death_tally: one record per death of ./run, the newest
// last, that s6-supervise 2.11 keeps (max-death-tally of them) and
// s6-svdt reads.

import (
	"syscall"

	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

// DeathRecordSize is the size of one supervise/death_tally record: the
// TAI64N time of the death, then one byte of exit code (128+signal for a
// signal death) and one byte of signal number (0 for a normal exit), as
// s6-supervise 2.11 writes them.
const DeathRecordSize = tai64n.Size + 2

// DeathTallyFile is the death tally under a service directory.
const DeathTallyFile = "supervise/death_tally"

// DeathRecord encodes the death of a process with wait status ws at now.
func DeathRecord(now tai64n.Stamp, ws syscall.WaitStatus) [DeathRecordSize]byte {
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

// ReadDeaths returns the newest max records of supervise/death_tally
// under dirfd, as s6-supervise reads them at each death (so that
// s6-svdt-clear works): a missing file, or a torn one (a size that is
// not a multiple of the record), counts as empty. It reads at most max
// records, without blocking; a file that is not regular is an error.
func ReadDeaths(dirfd int, max int) ([]byte, error) {
	if max <= 0 {
		return nil, nil
	}
	fd, err := OpenRegular(dirfd, DeathTallyFile, unix.O_RDONLY, 0)
	if err == unix.ENOENT {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Size%DeathRecordSize != 0 {
		return nil, nil
	}
	n := min(st.Size/DeathRecordSize, int64(max))
	b := make([]byte, n*DeathRecordSize)
	got := 0
	for got < len(b) {
		r, err := unix.Pread(fd, b[got:], st.Size-int64(len(b))+int64(got))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if r <= 0 {
			break // shrunk meanwhile
		}
		got += r
	}
	return b[:got-got%DeathRecordSize], nil
}

// AppendDeath adds a record to the tally read from tally (the newest max
// records kept) and rewrites supervise/death_tally atomically. It
// returns the records written.
func AppendDeath(dirfd int, tally []byte, rec [DeathRecordSize]byte, max int) ([]byte, error) {
	if max <= 0 {
		tally = tally[:0]
	} else {
		tally = append(tally, rec[:]...)
		if n := len(tally) / DeathRecordSize; n > max {
			tally = append(tally[:0], tally[(n-max)*DeathRecordSize:]...)
		}
	}
	return tally, ReplaceAt(dirfd, DeathTallyFile, tally)
}
