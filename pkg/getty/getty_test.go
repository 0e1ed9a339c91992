package getty

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestConsoleTTY(t *testing.T) {
	tests := []struct {
		active  *string
		want    string
		wantErr bool
	}{
		{active: ptr("ttyS0\n"), want: "/dev/ttyS0"},
		{active: ptr("tty1 ttyS0\n"), want: "/dev/ttyS0"},
		{active: ptr("ttyS0 tty1\n"), want: "/dev/tty1"},
		{active: ptr("hvc0\n"), want: "/dev/hvc0"},
		{active: ptr("\n"), want: "/dev/console"},
		{active: nil, want: "/dev/console"},
		{active: ptr("../../etc/passwd\n"), wantErr: true},
	}
	for _, tt := range tests {
		sys := t.TempDir()
		if tt.active != nil {
			p := filepath.Join(sys, "class/tty/console/active")
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(*tt.active), 0o444)
		}
		got, err := ConsoleTTY(sys, "/dev")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("active %v: ConsoleTTY = %q, %v; want %q", tt.active, got, err, tt.want)
		}
	}
}

func ptr(s string) *string { return &s }

func TestTermAndDevPath(t *testing.T) {
	for tty, want := range map[string]string{"/dev/tty1": "linux", "/dev/tty63": "linux", "/dev/console": "linux",
		"/dev/ttyS0": "vt102", "/dev/hvc0": "vt102", "/dev/pts/3": "vt102", "/dev/tty": "vt102", "/dev/ttyAMA0": "vt102"} {
		if got := Term(tty); got != want {
			t.Errorf("Term(%s) = %s, want %s", tty, got, want)
		}
	}
	if DevPath("ttyS0") != "/dev/ttyS0" || DevPath("/dev/pts/1") != "/dev/pts/1" {
		t.Error("DevPath")
	}
}

func TestBanner(t *testing.T) {
	if got, want := Banner("box", "6.1.0-13-amd64", "/dev/ttyS0"), "\nsvinit on box (Linux 6.1.0-13-amd64) /dev/ttyS0\n\n"; got != want {
		t.Errorf("Banner = %q, want %q", got, want)
	}
	if got := Banner("", "6.1", "/dev/tty1"); !strings.Contains(got, "(none)") {
		t.Errorf("Banner without hostname = %q", got)
	}
}

// TestPassword: the entries are checked as libcrypt's crypt(3) made
// them (the vectors come from it; 578 random ones agreed too), and the
// older sha256: form still works.
func TestPassword(t *testing.T) {
	tests := []struct {
		entry, password string
	}{
		{"$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1", "secret"},
		{"$5$abc$qsg6EHbUzHQzF1POlD7zUwBINSELQxypPaeDcZe6vH0", "secret"},
		{"$6$rounds=1000$NaCl$hXJwKDeXO6xVlju3TR9GzmNzlH583WPxMLJqYX5S6IUvn.51hkAuMT9q9gTATZoDn/mzjdY4cQZyEE7Mn/qOK.", "letmein"},
		{"$5$rounds=77777$short$cw9wqDXLY4X0MTjNtVWoURQ4tcldH1MKP34q6YSoACC", "x"},
		{"$6$saltstringsaltst$e.3mR68CqZEpesEX1HlFZT6sEanSOjM/b5UoDyDo00a8syek2cJldMjrbtKP86.FJvzluVR7nc3DNzelAwTxj.", "Hello world!"},
		{"$6$xy$FURHvm45vkjODyqlqPBCECA4EZWcG81VzyRU5kPWYSVpBj004aWdW96j1P9eIlvKGHgbAn2QoTyNNJjS.LR.V0", ""},
		// The specification's own examples.
		{"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"},
		{"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.", "Hello world!"},
		// printf abcsecret | sha256sum
		{"sha256:abc:a42178b773273f5c9f24387fbea546af537d08b8c06b23631e44878b9ce47f49", "secret"},
	}
	for _, tt := range tests {
		h, err := ParseHash(tt.entry + "\n")
		if err != nil {
			t.Errorf("ParseHash(%q): %v", tt.entry, err)
			continue
		}
		if !h.Check(tt.password) {
			t.Errorf("%q does not accept %q", tt.entry, tt.password)
		}
		for _, wrong := range []string{tt.password + "x", "Secret", tt.password + "\n"} {
			if wrong != tt.password && h.Check(wrong) {
				t.Errorf("%q accepts %q", tt.entry, wrong)
			}
		}
	}
	entry, err := HashPassword("abc", "secret")
	if err != nil || entry != tests[0].entry {
		t.Fatalf("HashPassword = %q, %v; want %q", entry, err, tests[0].entry)
	}
	r1, _ := HashPassword("", "x")
	r2, _ := HashPassword("", "x")
	if r1 == r2 || !strings.HasPrefix(r1, "$6$") || len(r1) != 3+16+1+86 {
		t.Errorf("random salts: %q %q", r1, r2)
	}
	if h, err := ParseHash(r1); err != nil || !h.Check("x") {
		t.Errorf("random-salt entry %q does not check: %v", r1, err)
	}
	for _, bad := range []string{"a:b", "a$b", strings.Repeat("s", 17), "sp ace"} {
		if _, err := HashPassword(bad, "x"); err == nil {
			t.Errorf("salt %q accepted", bad)
		}
	}
	for _, bad := range []string{
		"", "sha256:abc", "md5:abc:00", "sha256::" + strings.Repeat("0", 64), "sha256:abc:zz",
		"sha256:abc:" + strings.Repeat("0", 62), "sha256:a b:" + strings.Repeat("0", 64),
		"$1$abc$xyz", "$6$", "$6$abc", "$6$abc$short", "$6$$" + strings.Repeat("a", 86),
		"$6$abc$" + strings.Repeat("a", 85) + "!", "$5$abc$" + strings.Repeat("a", 86),
		"$6$rounds=x$abc$" + strings.Repeat("a", 86), "$6$rounds=5000" + strings.Repeat("a", 86),
	} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}

func TestReadPasswordFile(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := ReadPasswordFile(filepath.Join(dir, "none")); ok || err != nil {
		t.Fatalf("missing file: ok=%v err=%v", ok, err)
	}
	entry, _ := HashPassword("s", "pw")
	p := filepath.Join(dir, "pw")
	os.WriteFile(p, []byte("# generated\n\n"+entry+"\n"), 0o600)
	h, ok, err := ReadPasswordFile(p)
	if err != nil || !ok || !h.Check("pw") {
		t.Fatalf("ReadPasswordFile = %v %v", ok, err)
	}
	os.WriteFile(p, []byte("# only comments\n"), 0o600)
	if _, _, err := ReadPasswordFile(p); err == nil {
		t.Fatal("empty file accepted (must fail closed)")
	}
	os.WriteFile(p, []byte("plaintext\n"), 0o600)
	if _, _, err := ReadPasswordFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("bad file: %v", err)
	}
}

func FuzzParseHash(f *testing.F) {
	e, _ := HashPassword("salt", "pw")
	f.Add(e)
	f.Add("sha256:x:00")
	f.Add("$5$rounds=1000$abc$qsg6EHbUzHQzF1POlD7zUwBINSELQxypPaeDcZe6vH0")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHash(s)
		if err != nil {
			return
		}
		if h.Salt == "" || strings.ContainsAny(h.Salt, ": \t\r\n") {
			t.Fatalf("bad salt %q", h.Salt)
		}
	})
}

// openPty returns the master and the slave's path.
func openPty(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	return m, "/dev/pts/" + strconv.Itoa(int(n))
}

func TestSetTerminal(t *testing.T) {
	_, slave := openPty(t)
	fd, err := unix.Open(slave, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	// Start from raw-ish settings so the test sees them change.
	raw, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	raw.Lflag, raw.Iflag, raw.Oflag = 0, 0, 0
	raw.Cflag = raw.Cflag&unix.CBAUD | unix.CS7 | unix.PARENB
	unix.IoctlSetTermios(fd, unix.TCSETS, raw)
	before := raw.Cflag & unix.CBAUD

	if err := SetTerminal(fd, 0); err != nil {
		t.Fatal(err)
	}
	got, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	checks := []struct {
		name string
		ok   bool
	}{
		{"ICANON", got.Lflag&unix.ICANON != 0},
		{"ECHO", got.Lflag&unix.ECHO != 0},
		{"ISIG", got.Lflag&unix.ISIG != 0},
		{"ICRNL", got.Iflag&unix.ICRNL != 0},
		{"OPOST", got.Oflag&unix.OPOST != 0},
		{"ONLCR", got.Oflag&unix.ONLCR != 0},
		{"CS8", got.Cflag&unix.CSIZE == unix.CS8},
		{"no parity", got.Cflag&unix.PARENB == 0},
		{"one stop bit", got.Cflag&unix.CSTOPB == 0},
		{"CREAD", got.Cflag&unix.CREAD != 0},
		{"speed kept", got.Cflag&unix.CBAUD == before},
		{"VINTR ^C", got.Cc[unix.VINTR] == 3},
		{"VERASE DEL", got.Cc[unix.VERASE] == 0x7f},
		{"VMIN 1", got.Cc[unix.VMIN] == 1},
		{"no VSUSP (no job control)", got.Cc[unix.VSUSP] == 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s not set: %+v", c.name, got)
		}
	}
	b, _ := Speed(9600)
	if err := SetTerminal(fd, b); err != nil {
		t.Fatal(err)
	}
	got, _ = unix.IoctlGetTermios(fd, unix.TCGETS)
	if got.Cflag&unix.CBAUD != unix.B9600 {
		t.Errorf("speed = %#x, want B9600", got.Cflag&unix.CBAUD)
	}
	if _, err := Speed(12345); err == nil {
		t.Error("Speed(12345) accepted")
	}
}

func TestAskPassword(t *testing.T) {
	var out strings.Builder
	pw, err := AskPassword(-1, bufio.NewReader(strings.NewReader("hunter2\r\nrest")), &out)
	if err != nil || pw != "hunter2" || out.String() != "Password: " {
		t.Fatalf("AskPassword = %q %v %q", pw, err, out.String())
	}
	if _, err := AskPassword(-1, bufio.NewReader(strings.NewReader("")), &out); err == nil {
		t.Fatal("EOF not reported")
	}
}

func TestSetSize(t *testing.T) {
	_, slave := openPty(t)
	fd, err := unix.Open(slave, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, tc := range []struct {
		name      string
		set, want unix.Winsize
	}{
		{"no size: 80x24", unix.Winsize{}, unix.Winsize{Row: DefaultRows, Col: DefaultCols}},
		{"a size is kept", unix.Winsize{Row: 50, Col: 132}, unix.Winsize{Row: 50, Col: 132}},
	} {
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &tc.set); err != nil {
			t.Fatal(err)
		}
		if err := SetSize(fd); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		if err != nil {
			t.Fatal(err)
		}
		if got.Row != tc.want.Row || got.Col != tc.want.Col {
			t.Errorf("%s: size %dx%d, want %dx%d", tc.name, got.Col, got.Row, tc.want.Col, tc.want.Row)
		}
	}
}

func TestEditor(t *testing.T) {
	for _, tc := range []struct {
		term string
		tty  bool
		want bool
	}{
		{"vt102", true, true},
		{"linux", true, true},
		{"xterm-256color", true, true},
		{"vt102", false, false}, // not a terminal: plain lines
		{"", true, false},       // TERM unset
		{"dumb", true, false},
		{"DUMB", true, false},
		{"unknown", true, false},
	} {
		if got := Editor(tc.term, tc.tty); got != tc.want {
			t.Errorf("Editor(%q, %v) = %v, want %v", tc.term, tc.tty, got, tc.want)
		}
	}
}
