package boot

import (
	"strings"
	"testing"
)

// TestGoshPromptRe: gosh's prompt is recognised even with kernel messages
// printed inside it (a boot test once waited 4 minutes for it).
func TestGoshPromptRe(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"\x1b[?25l> ", true},
		{"\x1b[6n", true},
		{"\x1b[?25l[    3.006361] 9pnet: Installing 9P2000 support\r\n> ", true},
		{"\x1b[?25l[    3.0] a\r\n[    3.1] b\r\n> ", true},
		{"\x1b[?25l\x1b[40m\x1b[37m> ", true}, // gosh without TERM
		{"\x1b[?25l\x1b[40mfoo> ", false},
		{"\x1b[?25lfoo> ", false},
		{"> ", false},
	} {
		if got := goshPromptRe.MatchString(tc.in); got != tc.want {
			t.Errorf("%q: match %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestWithoutLogLines: a logger's console copies are not a command's
// output (TestTestImage/Kexec once read svstat's answer as
// "@4000... boottest-chatty: up").
func TestWithoutLogLines(t *testing.T) {
	in := "@400000006b174d772eb00aa8 boottest-chatty: up\r\nup (pid 106) 1 seconds, ready 1 seconds\r\n"
	if got, want := strings.TrimSpace(withoutLogLines(in)), "up (pid 106) 1 seconds, ready 1 seconds"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
