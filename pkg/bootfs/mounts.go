package bootfs

import (
	"bufio"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// A MountSpec is one file system stage 1 mounts.
type MountSpec struct {
	Source, Target, FSType string
	Flags                  uintptr
	Data                   string
	Optional               bool // a kernel without it is fine (cgroup2)
}

// EarlyMounts is what stage 1 mounts, in order: the kernel's file
// systems and /run, the tmpfs that holds Scandir and StateDir.
var EarlyMounts = []MountSpec{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "", false},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "", false},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755", false},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "mode=0620,ptmxmode=0666", false},
	{"tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777", false},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755", false},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "", true},
}

// A MountEntry is one line of /proc/mounts.
type MountEntry struct{ Source, Target, FSType string }

// A MountTable is the content of /proc/mounts, in file order (a mount
// comes after the one it is mounted on).
type MountTable []MountEntry

// ParseMounts returns the mounts listed in a /proc/mounts-format file,
// in file order, with the octal escapes (\040 ...) decoded. Lines with
// fewer than three fields are skipped.
func ParseMounts(r io.Reader) (MountTable, error) {
	var out MountTable
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		out = append(out, MountEntry{Source: Unescape(f[0]), Target: Unescape(f[1]), FSType: Unescape(f[2])})
	}
	return out, sc.Err()
}

// ReadMounts parses the mount table file at path (ProcMounts on the
// running system).
func ReadMounts(path string) (MountTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseMounts(f)
}

// Has reports whether target is a mount point of type fstype in t.
func (t MountTable) Has(target, fstype string) bool {
	for _, m := range t {
		if m.Target == target && m.FSType == fstype {
			return true
		}
	}
	return false
}

// Unescape decodes the \NNN octal escapes the kernel uses in /proc/mounts.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOct(s[i+1]) && isOct(s[i+2]) && isOct(s[i+3]) {
			v := (int(s[i+1]-'0')<<6 | int(s[i+2]-'0')<<3 | int(s[i+3]-'0'))
			if v < 256 {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }
