package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
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

func TestNotificationFd(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	open := strconv.Itoa(int(w.Fd()))
	for _, tc := range []struct {
		arg, err string
	}{
		{open, ""},
		{"x", "-d x: want a descriptor number of 3 or more"},
		{"2", "-d 2: want a descriptor number of 3 or more"},
		{"-5", "-d -5: want a descriptor number of 3 or more"},
		{"987", "-d 987: descriptor not open, an invalid notification fd"},
	} {
		fd, err := NotificationFd(tc.arg)
		if tc.err == "" && (err != nil || fd != int(w.Fd())) || tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)) {
			t.Errorf("NotificationFd(%q) = %d, %v; want error %q", tc.arg, fd, err, tc.err)
		}
	}
	// Ready: a newline, then the descriptor is closed (the reader sees
	// end of file).
	fd, _ := NotificationFd(open)
	Ready(fd)
	w.Close() // already closed: harmless
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "\n" {
		t.Errorf("after Ready: read %q, %v; want one newline then end of file", b, err)
	}
	Ready(-1) // no -d: nothing
}
