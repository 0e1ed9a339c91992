package uevent

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func msg(parts ...string) []byte { return []byte(strings.Join(parts, "\x00") + "\x00") }

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    *Event
		wantErr string
	}{
		{
			name: "pci add",
			in: msg("add@/devices/pci0000:00/0000:00:03.0", "ACTION=add", "DEVPATH=/devices/pci0000:00/0000:00:03.0",
				"SUBSYSTEM=pci", "MODALIAS=pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", "SEQNUM=812"),
			want: &Event{Action: "add", DevPath: "/devices/pci0000:00/0000:00:03.0", Subsystem: "pci", SeqNum: 812,
				Env: map[string]string{"ACTION": "add", "DEVPATH": "/devices/pci0000:00/0000:00:03.0", "SUBSYSTEM": "pci",
					"MODALIAS": "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", "SEQNUM": "812"}},
		},
		{
			name: "header only keys filled in",
			in:   []byte("remove@/devices/virtual/mem/null"),
			want: &Event{Action: "remove", DevPath: "/devices/virtual/mem/null",
				Env: map[string]string{"ACTION": "remove", "DEVPATH": "/devices/virtual/mem/null"}},
		},
		{
			name: "value with equals sign",
			in:   msg("change@/devices/x", "ACTION=change", "DEVPATH=/devices/x", "SUBSYSTEM=block", "DISK_MEDIA_CHANGE=1", "X=a=b"),
			want: &Event{Action: "change", DevPath: "/devices/x", Subsystem: "block",
				Env: map[string]string{"ACTION": "change", "DEVPATH": "/devices/x", "SUBSYSTEM": "block", "DISK_MEDIA_CHANGE": "1", "X": "a=b"}},
		},
		{name: "libudev", in: []byte("libudev\x00\xfe\xed\xca\xfe"), wantErr: "not a kernel uevent"},
		{name: "no at", in: msg("add", "ACTION=add"), wantErr: "not ACTION@DEVPATH"},
		{name: "empty action", in: msg("@/devices/x"), wantErr: "not ACTION@DEVPATH"},
		{name: "empty devpath", in: msg("add@"), wantErr: "not ACTION@DEVPATH"},
		{name: "field without equals", in: msg("add@/d", "GARBAGE"), wantErr: "not KEY=VALUE"},
		{name: "empty key", in: msg("add@/d", "=x"), wantErr: "not KEY=VALUE"},
		{name: "action mismatch", in: msg("add@/d", "ACTION=remove"), wantErr: "disagrees"},
		{name: "devpath mismatch", in: msg("add@/d", "DEVPATH=/e"), wantErr: "disagrees"},
		{name: "bad seqnum", in: msg("add@/d", "SEQNUM=12x"), wantErr: "bad SEQNUM"},
		{name: "too big", in: append([]byte("add@/d\x00X="), make([]byte, MaxSize)...), wantErr: "larger than"},
		{name: "empty", in: nil, wantErr: "not ACTION@DEVPATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse() error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(): %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseNotKernelIs(t *testing.T) {
	_, err := Parse([]byte("libudev\x00abc"))
	if !errors.Is(err, ErrNotKernel) {
		t.Fatalf("err = %v, want ErrNotKernel", err)
	}
}

func TestParseFile(t *testing.T) {
	got, err := ParseFile([]byte("MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"MAJOR": "8", "MINOR": "0", "DEVNAME": "sda", "DEVTYPE": "disk"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if _, err := ParseFile([]byte("A=1\nbroken\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want line 2 error", err)
	}
}

func TestEnviron(t *testing.T) {
	e := &Event{Env: map[string]string{"B": "2", "A": "1"}}
	if got := e.Environ(); !reflect.DeepEqual(got, []string{"A=1", "B=2"}) {
		t.Fatalf("Environ() = %v", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(msg("add@/devices/pci0000:00/0000:00:03.0", "ACTION=add", "DEVPATH=/devices/pci0000:00/0000:00:03.0", "SUBSYSTEM=pci", "SEQNUM=1"))
	f.Add([]byte("libudev\x00"))
	f.Add([]byte("remove@/x"))
	f.Add([]byte("a@b\x00\x00=\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Parse(b)
		if err != nil {
			return
		}
		if ev.Action == "" || ev.DevPath == "" || ev.Env["ACTION"] != ev.Action || ev.Env["DEVPATH"] != ev.DevPath {
			t.Fatalf("inconsistent event %+v", ev)
		}
		// Re-encoding the environment parses to the same event.
		var parts []string
		parts = append(parts, ev.Action+"@"+ev.DevPath)
		parts = append(parts, ev.Environ()...)
		ev2, err := Parse(msg(parts...))
		if err != nil {
			if len(msg(parts...)) > MaxSize {
				return
			}
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(ev, ev2) {
			t.Fatalf("re-parse differs: %+v vs %+v", ev, ev2)
		}
	})
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte("MAJOR=8\nMINOR=0\nDEVNAME=sda\n"))
	f.Add([]byte("x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := ParseFile(b)
		if err != nil {
			return
		}
		for k := range env {
			if k == "" || strings.ContainsAny(k, "=\n") {
				t.Fatalf("bad key %q", k)
			}
		}
	})
}

// TestOpen opens a real uevent socket (works unprivileged) and checks that
// a datagram from a non-kernel sender is ignored.
func TestOpenAndSkipNonKernel(t *testing.T) {
	c, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p, err := c.Pending(0); err != nil {
		t.Fatal(err)
	} else {
		_ = p // kernel events may or may not be arriving; just exercise it
	}
	// Send ourselves a unicast datagram: port id != 0, must be skipped.
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	sa, err := unix.Getsockname(c.Fd())
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Sendto(s, msg("add@/devices/fake", "SUBSYSTEM=x"), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: sa.(*unix.SockaddrNetlink).Pid}); err != nil {
		t.Fatalf("unicast to our own uevent socket: %v", err)
	}
	for {
		ev, err := c.Read()
		if err != nil && errors.Is(err, ErrSkipped) {
			return // our fake datagram
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.DevPath == "/devices/fake" {
			t.Fatalf("a datagram from user space was accepted as a kernel event")
		}
	}
}
