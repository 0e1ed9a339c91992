// Package getty is the early console getty: it finds the console,
// makes it the controlling terminal of a new session with sane terminal
// settings, prints a banner, optionally asks for a password, and hands
// the terminal to a shell.
package getty

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ConsoleTTY returns the device of the kernel's preferred console: the
// last name in sysRoot/class/tty/console/active (the kernel lists the
// consoles with the preferred one last, e.g. "tty1 ttyS0"), as a path
// under devRoot. With no active console it returns devRoot/console.
func ConsoleTTY(sysRoot, devRoot string) (string, error) {
	p := filepath.Join(sysRoot, "class", "tty", "console", "active")
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return filepath.Join(devRoot, "console"), nil
		}
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return filepath.Join(devRoot, "console"), nil
	}
	name := f[len(f)-1]
	if strings.Contains(name, "/") || name == "." || name == ".." {
		return "", fmt.Errorf("%s: bad console name %q", p, name)
	}
	return filepath.Join(devRoot, name), nil
}

// DevPath turns a TTY argument into a device path: names without a "/"
// live in /dev.
func DevPath(tty string) string {
	if strings.Contains(tty, "/") {
		return tty
	}
	return filepath.Join("/dev", tty)
}

// Term picks TERM for a terminal: "linux" for the kernel's virtual
// consoles (tty0..tty63, console), "vt102" for serial and other
// consoles, which are usually terminal emulators speaking ANSI.
func Term(ttyPath string) string {
	name := filepath.Base(ttyPath)
	if name == "console" {
		return "linux"
	}
	if rest, ok := strings.CutPrefix(name, "tty"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
		return "linux"
	}
	return "vt102"
}

// Banner is the text printed before the shell starts.
func Banner(hostname, release, ttyPath string) string {
	if hostname == "" {
		hostname = "(none)"
	}
	return fmt.Sprintf("\nsvinit on %s (Linux %s) %s\n\n", hostname, release, ttyPath)
}

// Uname returns the kernel's host name and release.
func Uname() (hostname, release string) {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "", ""
	}
	return unix.ByteSliceToString(u.Nodename[:]), unix.ByteSliceToString(u.Release[:])
}

// Password file format: one line, either a SHA-crypt hash as in
// /etc/shadow ("$6$SALT$HASH" or "$5$SALT$HASH", optionally with
// "rounds=N$" after the id; what `openssl passwd -6` and
// `mkpasswd -m sha-512` print), or the older "sha256:SALT:HEX" where HEX
// is the lower-case hex SHA-256 of SALT immediately followed by the
// password (SALT: any text without ":" or white space).

// HashPassword returns a password file line for password: a "$6$"
// SHA-crypt hash (5000 rounds) with salt, or with a random 16-character
// salt when salt is empty. A salt is 1 to 16 characters of
// [./0-9A-Za-z].
func HashPassword(salt, password string) (string, error) {
	if salt == "" {
		var b [cryptMaxSalt]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		for i := range b {
			b[i] = cryptAlphabet[b[i]&0x3f]
		}
		salt = string(b[:])
	}
	if !validCryptSalt(salt) {
		return "", fmt.Errorf("salt %q: want 1 to 16 characters of . / 0-9 A-Z a-z", salt)
	}
	return cryptHash(cryptParams{id: "6", rounds: cryptDefaultRounds, salt: salt}, password), nil
}

// Hash is a parsed password entry.
type Hash struct {
	Salt  string
	Sum   [sha256.Size]byte // the "sha256:" form
	crypt string            // the "$5$"/"$6$" form: the whole entry
	p     cryptParams
}

// ParseHash parses a password entry (surrounding white space allowed).
func ParseHash(s string) (Hash, error) {
	var h Hash
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "$") {
		p, hashPart, err := parseCryptSetting(s)
		if err != nil {
			return h, fmt.Errorf(`want "$6$SALT$HASH", "$5$SALT$HASH" or "sha256:SALT:HEX": %v`, err)
		}
		if p.salt == "" || strings.ContainsAny(p.salt, " \t\r\n:") || len(hashPart) != p.hashLength || strings.Trim(hashPart, cryptAlphabet) != "" {
			return h, fmt.Errorf(`"$%s$" entry: want an id, a salt and a %d-character hash separated by "$"`, p.id, p.hashLength)
		}
		// glibc cuts a longer salt to 16 characters: compare with the
		// entry as crypt(3) would write it.
		h.Salt, h.p = p.salt, p
		h.crypt = "$" + p.id + "$"
		if p.roundsSet {
			h.crypt += "rounds=" + strconv.Itoa(p.rounds) + "$"
		}
		h.crypt += p.salt + "$" + hashPart
		return h, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] != "sha256" {
		return h, errors.New(`want one line "$6$SALT$HASH", "$5$SALT$HASH" or "sha256:SALT:HEX"`)
	}
	if parts[1] == "" || strings.ContainsAny(parts[1], " \t\r\n") {
		return h, errors.New("empty salt or salt with white space")
	}
	b, err := hex.DecodeString(parts[2])
	if err != nil || len(b) != sha256.Size {
		return h, errors.New("HEX must be 64 hex digits (a SHA-256)")
	}
	h.Salt = parts[1]
	copy(h.Sum[:], b)
	return h, nil
}

// Check reports whether password matches; the comparison of the results
// takes the same time whatever they hold.
func (h Hash) Check(password string) bool {
	if h.crypt != "" {
		return subtle.ConstantTimeCompare([]byte(cryptHash(h.p, password)), []byte(h.crypt)) == 1
	}
	sum := sha256.Sum256([]byte(h.Salt + password))
	return subtle.ConstantTimeCompare(sum[:], h.Sum[:]) == 1
}

// ReadPasswordFile reads the password file. ok is false (and err nil)
// when the file does not exist: no password is asked. Comment lines
// ("#") and blank lines are skipped; the first other line is the entry.
func ReadPasswordFile(path string) (h Hash, ok bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return h, false, nil
		}
		return h, false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		h, err = ParseHash(line)
		if err != nil {
			return h, false, fmt.Errorf("%s: %w", path, err)
		}
		return h, true, nil
	}
	return h, false, fmt.Errorf("%s: no password entry in the file (remove the file to disable the password)", path)
}

// Sane sets t to sane interactive settings: canonical input with echo
// and signals, CR->NL on input, NL->CRNL on output, 8 data bits, no
// parity, one stop bit, receiver on, modem lines ignored, the usual
// control characters (no suspend: see below). baud 0 keeps t's speed.
func Sane(t *unix.Termios, baud uint32) {
	speed := t.Cflag & unix.CBAUD
	if baud != 0 {
		speed = baud
	}
	t.Iflag = unix.ICRNL | unix.IXON | unix.BRKINT | unix.IMAXBEL | unix.IUTF8
	t.Oflag = unix.OPOST | unix.ONLCR
	t.Cflag = speed | unix.CS8 | unix.CREAD | unix.CLOCAL | unix.HUPCL
	t.Lflag = unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE | unix.ISIG | unix.IEXTEN
	if baud != 0 {
		t.Ispeed, t.Ospeed = speedValue(baud), speedValue(baud)
	}
	for i := range t.Cc {
		t.Cc[i] = 0
	}
	t.Cc[unix.VINTR] = 0x03  // ^C
	t.Cc[unix.VQUIT] = 0x1c  // ^\
	t.Cc[unix.VERASE] = 0x7f // DEL
	t.Cc[unix.VKILL] = 0x15  // ^U
	t.Cc[unix.VEOF] = 0x04   // ^D
	t.Cc[unix.VSTART] = 0x11 // ^Q
	t.Cc[unix.VSTOP] = 0x13  // ^S
	// No suspend character: the console shells have no job control, so
	// a ^Z would stop the command and the shell with it (they share the
	// foreground group) and nothing could ever continue them.
	t.Cc[unix.VSUSP] = 0
	t.Cc[unix.VREPRINT] = 0x12
	t.Cc[unix.VWERASE] = 0x17
	t.Cc[unix.VLNEXT] = 0x16
	t.Cc[unix.VDISCARD] = 0x0f
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}

var speeds = []struct {
	baud int
	code uint32
}{
	{50, unix.B50}, {75, unix.B75}, {110, unix.B110}, {134, unix.B134}, {150, unix.B150}, {200, unix.B200},
	{300, unix.B300}, {600, unix.B600}, {1200, unix.B1200}, {1800, unix.B1800}, {2400, unix.B2400},
	{4800, unix.B4800}, {9600, unix.B9600}, {19200, unix.B19200}, {38400, unix.B38400},
	{57600, unix.B57600}, {115200, unix.B115200}, {230400, unix.B230400}, {460800, unix.B460800},
	{500000, unix.B500000}, {576000, unix.B576000}, {921600, unix.B921600}, {1000000, unix.B1000000},
	{1152000, unix.B1152000}, {1500000, unix.B1500000}, {2000000, unix.B2000000}, {2500000, unix.B2500000},
	{3000000, unix.B3000000}, {3500000, unix.B3500000}, {4000000, unix.B4000000},
}

// Speed maps a baud rate to its termios code.
func Speed(baud int) (uint32, error) {
	for _, s := range speeds {
		if s.baud == baud {
			return s.code, nil
		}
	}
	return 0, fmt.Errorf("unsupported baud rate %d", baud)
}

func speedValue(code uint32) uint32 {
	for _, s := range speeds {
		if s.code == code {
			return uint32(s.baud)
		}
	}
	return 0
}

// SetTerminal applies Sane settings to the terminal fd.
func SetTerminal(fd int, baud uint32) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("get terminal settings: %w", err)
	}
	Sane(t, baud)
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("set terminal settings: %w", err)
	}
	return nil
}

// AskPassword prompts on w and reads one line from r with echo turned
// off on fd (when fd >= 0). It returns io.EOF when the line is empty at
// end of input (^D).
func AskPassword(fd int, r *bufio.Reader, w io.Writer) (string, error) {
	// Echo goes off before the prompt appears, so that nothing typed
	// as soon as the prompt shows can be echoed.
	if fd >= 0 {
		if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			old := *t
			t.Lflag &^= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOKE | unix.ECHOCTL
			t.Lflag |= unix.ECHONL
			if unix.IoctlSetTermios(fd, unix.TCSETS, t) == nil {
				defer unix.IoctlSetTermios(fd, unix.TCSETS, &old)
			}
		}
	}
	fmt.Fprint(w, "Password: ")
	line, err := r.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// Default size of a terminal the kernel knows no size for (a serial
// line): what a serial terminal usually is.
const (
	DefaultRows = 24
	DefaultCols = 80
)

// SetSize gives the terminal fd a size when it has none (0x0, as a
// serial line has): programs that lay out text, the line editor
// included, need a width.
func SetSize(fd int) error {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return fmt.Errorf("get window size: %w", err)
	}
	if ws.Row != 0 || ws.Col != 0 {
		return nil
	}
	ws.Row, ws.Col = DefaultRows, DefaultCols
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws); err != nil {
		return fmt.Errorf("set window size %dx%d: %w", DefaultCols, DefaultRows, err)
	}
	return nil
}
