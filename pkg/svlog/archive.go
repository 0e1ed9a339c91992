package svlog

import (
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/tai64n"
)

// Archives: current and previous become @<TAI64N label>.s (complete)
// or .u (possibly cut short), and the oldest go past the nN and SN limits.

// isArchive reports whether name is "@" + 24 hex digits + ".s" or ".u".
func isArchive(name string) bool {
	if len(name) != 27 || name[0] != '@' || name[25] != '.' || (name[26] != 's' && name[26] != 'u') {
		return false
	}
	_, err := tai64n.ParseLabel(name[:25])
	return err == nil
}

// finish archives name as @<now>.<suffix> (link then unlink, so a crash
// in between leaves both names and the next start finishes the job),
// then trims old archives. A missing file is not an error.
func (d *Logdir) finish(name string, suffix byte) error {
	x := d.path(name)
	var st unix.Stat_t
	if err := unix.Stat(x, &st); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return err
	}
	if st.Nlink == 1 {
		t := d.now()
		for {
			lbl := tai64n.FromTime(t).Label()
			err := unix.Link(x, d.path(lbl+"."+string(suffix)))
			if err == nil {
				break
			}
			if err != unix.EEXIST {
				return err
			}
			t = t.Add(time.Nanosecond)
		}
	}
	if err := unix.Unlink(x); err != nil {
		return err
	}
	return d.trim()
}

type archive struct {
	name string
	size int64
}

// trim deletes the oldest archives while there are more than n of them
// or they weigh more than S bytes.
func (d *Logdir) trim() error {
	ents, err := os.ReadDir(d.cfg.Path)
	if err != nil {
		return err
	}
	var arcs []archive
	var total uint64
	for _, e := range ents {
		if !isArchive(e.Name()) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(d.path(e.Name()), &st); err != nil {
			d.warn("stat %s: %v", d.path(e.Name()), err)
			continue
		}
		arcs = append(arcs, archive{e.Name(), st.Size})
		total += uint64(st.Size)
	}
	n := uint64(d.cfg.Archives)
	if uint64(len(arcs)) <= n && (d.cfg.TotalSize == 0 || total <= d.cfg.TotalSize) {
		return nil
	}
	sort.Slice(arcs, func(i, j int) bool { return arcs[i].name[1:26] < arcs[j].name[1:26] })
	left := uint64(len(arcs))
	for _, a := range arcs {
		if left <= n && (d.cfg.TotalSize == 0 || total <= d.cfg.TotalSize) {
			break
		}
		if err := unix.Unlink(d.path(a.name)); err != nil && err != unix.ENOENT {
			d.warn("unlink %s: %v", d.path(a.name), err)
		} else {
			total -= uint64(a.size)
		}
		left--
	}
	return nil
}
