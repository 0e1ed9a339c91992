package cli

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
		out  string
	}{
		{"nil", nil, 0, ""},
		{"plain", errors.New("boom"), 111, "svc: boom\n"},
		{"usage", Usagef("usage: svc [-udo] dir"), 100, "svc: usage: svc [-udo] dir\n"},
		{"silent", Silent(1), 1, ""},
		{"wrapped", Exitf(102, "service dir %s: supervisor not running", "/x"), 102, "svc: service dir /x: supervisor not running\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if got := Report(&b, "svc", tc.err); got != tc.code {
				t.Errorf("code = %d, want %d", got, tc.code)
			}
			if b.String() != tc.out {
				t.Errorf("output = %q, want %q", b.String(), tc.out)
			}
		})
	}
}

func TestPrefixed(t *testing.T) {
	var b strings.Builder
	w := Prefixed(&b, "svnetd")
	for _, l := range []string{"eth0: 10.0.2.15/24\n", "ready\n"} {
		if n, err := io.WriteString(w, l); err != nil || n != len(l) {
			t.Fatalf("Write(%q) = %d, %v; want %d, nil", l, n, err, len(l))
		}
	}
	if want := "svnetd: eth0: 10.0.2.15/24\nsvnetd: ready\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
