package supervise

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/svinit/svinit/pkg/tai64n"
)

// DeathRecordSize is the size of one supervise/death_tally record: the
// TAI64N time of the death, then one byte of exit code (128+signal for a
// signal death) and one byte of signal number (0 for a normal exit), as
// s6-supervise 2.11 writes them.
const DeathRecordSize = tai64n.Size + 2

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
// and rewrites dir/supervise/death_tally atomically.
func appendDeath(dir string, tally []byte, rec [DeathRecordSize]byte, max int) ([]byte, error) {
	if max <= 0 {
		tally = tally[:0]
	} else {
		tally = append(tally, rec[:]...)
		if n := len(tally) / DeathRecordSize; n > max {
			tally = append(tally[:0], tally[(n-max)*DeathRecordSize:]...)
		}
	}
	p := filepath.Join(dir, "supervise", "death_tally")
	if err := os.WriteFile(p+".new", tally, 0o644); err != nil {
		return tally, err
	}
	return tally, os.Rename(p+".new", p)
}

// loadDeaths reads an existing tally, dropping a torn last record.
func loadDeaths(dir string) []byte {
	b, _ := os.ReadFile(filepath.Join(dir, "supervise", "death_tally"))
	return b[:len(b)-len(b)%DeathRecordSize]
}
