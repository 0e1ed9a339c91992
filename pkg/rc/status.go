package rc

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/tai64n"
)

// Row is one line of svrc status.
type Row struct {
	Name, Type string
	State      string // up, down, starting (up, not ready yet), failed, partial (bundles)
	Pid        int    // 0: none
	Uptime     time.Duration
	Ready      string // yes, no, "-" (no readiness notification or not a longrun)
	Restarts   int    // deaths of run since its supervisor started (restarts and stops); -1 unknown
	LastExit   string // how the last run ended, "" if it never did
	Reason     string // why the last transition failed
}

// Status returns a row for every service and bundle, in name order.
func (l *Live) Status(db *DB) []Row {
	now := time.Now()
	var rows []Row
	up := make([]bool, len(db.atoms))
	for id, s := range db.atoms {
		up[id] = l.IsUp(s)
	}
	for _, n := range db.names {
		s := db.Services[n]
		r := Row{Name: n, Type: s.Type.String(), State: "down", Ready: "-", Restarts: -1, Reason: l.Failed(n)}
		switch s.Type {
		case Bundle:
			k := 0
			for _, id := range db.members[n] {
				if up[id] {
					k++
				}
			}
			switch {
			case k == len(db.members[n]) && k > 0:
				r.State = "up"
			case k > 0:
				r.State = fmt.Sprintf("partial %d/%d", k, len(db.members[n]))
			}
		case Oneshot:
			if up[db.index[n]] {
				r.State = "up"
			}
		case Longrun:
			dir := l.ServiceDir(n)
			if up[db.index[n]] {
				r.State = "up"
			}
			if st, err := servicedir.ReadStatus(dir); err == nil {
				if st.Up() && !st.Finishing {
					r.Pid = int(int32(uint32(st.Pid)))
					r.Uptime = now.Sub(st.Stamp.Time()).Truncate(time.Second)
				} else if r.State == "up" {
					r.State = "up (not running)"
				}
				if s.NotificationFd {
					r.Ready = "no"
					if st.Ready && st.Up() {
						r.Ready = "yes"
					} else if r.State == "up" {
						r.State = "starting"
					}
				}
				r.LastExit = wstatReason(&st)
				if st.Stamp == (tai64n.Stamp{}) || (st.Up() && st.Wstat == 0) {
					r.LastExit = ""
				}
				if fi, err := os.Stat(filepath.Join(dir, "supervise", "death_tally")); err == nil {
					r.Restarts = int(fi.Size() / servicedir.DeathRecordSize)
				}
			}
		}
		if r.State == "down" && r.Reason != "" {
			r.State = "failed"
		}
		rows = append(rows, r)
	}
	return rows
}

// PrintStatus writes rows as an aligned table.
func PrintStatus(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tSTATE\tPID\tUPTIME\tREADY\tDEATHS\tLAST-EXIT\tREASON")
	for _, r := range rows {
		pid, upt, rs, le, why := "-", "-", "-", r.LastExit, r.Reason
		if r.Pid != 0 {
			pid, upt = strconv.Itoa(r.Pid), r.Uptime.String()
		}
		if r.Restarts >= 0 {
			rs = strconv.Itoa(r.Restarts)
		}
		if le == "" {
			le = "-"
		}
		if why == "" {
			why = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Type, r.State, pid, upt, r.Ready, rs, le, why)
	}
	return tw.Flush()
}
