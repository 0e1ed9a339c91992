package cgroup

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Finding the cgroup2 hierarchy and the process's own cgroup in it.

// superMagic is cgroup2's file system magic (statfs).
const superMagic = 0x63677270

// DefaultName is the subtree's name under the supervisor's own cgroup.
const DefaultName = "svinit"

// ErrNoCgroup2 means no cgroup v2 hierarchy is mounted (or the process's
// cgroup is not in one).
var ErrNoCgroup2 = errors.New("no cgroup2 file system mounted (mount -t cgroup2 none /sys/fs/cgroup)")

// Find returns the directory of the calling process's own cgroup in the
// cgroup v2 hierarchy, and whether it is the hierarchy's root. It reads
// /proc/self/cgroup and /proc/self/mountinfo.
func Find() (dir string, root bool, err error) {
	own, err := ownCgroup("/proc/self/cgroup")
	if err != nil {
		return "", false, err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	mounts, err := cgroup2Mounts(f)
	if err != nil {
		return "", false, err
	}
	dir, err = pick(mounts, own)
	if err != nil {
		return "", false, err
	}
	return dir, IsRoot(dir), nil
}

// ownCgroup returns the cgroup v2 path ("0::PATH") in a /proc/PID/cgroup file.
func ownCgroup(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return strings.TrimSuffix(p, " (deleted)"), nil
		}
	}
	return "", ErrNoCgroup2
}

// A mount is one cgroup2 mount: the cgroup at its root, and where.
type mount struct{ root, point string }

// cgroup2Mounts returns the cgroup2 mounts of a mountinfo file.
func cgroup2Mounts(f *os.File) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// id parent maj:min root point options [optional...] - type source super
		l := sc.Text()
		i := strings.Index(l, " - ")
		if i < 0 {
			continue
		}
		after := strings.Fields(l[i+3:])
		f := strings.Fields(l[:i])
		if len(after) < 1 || after[0] != "cgroup2" || len(f) < 5 {
			continue
		}
		out = append(out, mount{root: unescape(f[3]), point: unescape(f[4])})
	}
	return out, sc.Err()
}

// pick returns the directory of cgroup own in one of the mounts, the
// first under /sys/fs/cgroup if several show it.
func pick(mounts []mount, own string) (string, error) {
	best := ""
	for _, m := range mounts {
		rel, ok := under(own, m.root)
		if !ok {
			continue
		}
		d := filepath.Join(m.point, rel)
		if best == "" || strings.HasPrefix(m.point, "/sys/fs/cgroup") && !strings.HasPrefix(best, "/sys/fs/cgroup") {
			best = d
		}
	}
	if best == "" {
		return "", ErrNoCgroup2
	}
	return best, nil
}

// under returns p relative to root when p is root or below it.
func under(p, root string) (string, bool) {
	if root == "/" {
		return p, true
	}
	if p == root {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, root+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}

// unescape decodes mountinfo's \NNN octal escapes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// IsRoot reports whether dir is the root cgroup of its hierarchy (it has
// no cgroup.type: the root is the one cgroup without).
func IsRoot(dir string) bool {
	var st unix.Stat_t
	return unix.Stat(filepath.Join(dir, "cgroup.type"), &st) == unix.ENOENT
}

// IsCgroup2 reports whether dir is on a cgroup2 file system.
func IsCgroup2(dir string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(dir, &fs) == nil && fs.Type == superMagic
}
