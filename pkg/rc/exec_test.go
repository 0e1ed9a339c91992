package rc

import (
	"strings"
	"testing"
)

// What svrc prints when a change did not fully succeed: one line per
// failure with what it left as it was, and a line for an interruption.
func TestOutcomeReport(t *testing.T) {
	tests := []struct {
		name string
		out  Outcome
		up   bool
		want string
	}{
		{"success", Outcome{Done: []string{"a"}}, true, ""},
		{"failure blocking others", Outcome{Failed: []Failure{{Name: "mnt", Reason: "up script failed: exit 3", Blocked: []string{"app", "db"}}}}, true,
			"svrc: mnt failed: up script failed: exit 3; left down because of it: app db\n"},
		{"failure going down", Outcome{Failed: []Failure{{Name: "db", Reason: "still not down in time", Blocked: []string{"mnt"}}}}, false,
			"svrc: db failed: still not down in time; left up because of it: mnt\n"},
		{"lone failure", Outcome{Failed: []Failure{{Name: "x", Reason: "not ready in time"}}}, true,
			"svrc: x failed: not ready in time\n"},
		{"interrupted", Outcome{Interrupted: true, NotStarted: []string{"b", "c"},
			Failed: []Failure{{Name: "a", Reason: errInterruptedUp.Error()}}}, true,
			"svrc: a failed: " + errInterruptedUp.Error() + "\nsvrc: interrupted: no transition started after the signal; left down, not started: b c\n"},
		{"interrupted, nothing pending", Outcome{Interrupted: true}, false,
			"svrc: interrupted: no transition started after the signal\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		tt.out.Report(&b, tt.up)
		if b.String() != tt.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tt.name, b.String(), tt.want)
		}
	}
}
