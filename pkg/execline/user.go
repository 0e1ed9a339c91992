package execline

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/svinit/svinit/pkg/cli"
)

// Account is what setuidgid switches to.
type Account struct {
	UID, GID int
	Groups   []int // supplementary groups
}

func numID(s string) (int, bool) {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return int(n), err == nil
}

// dbLines returns the colon-split records of an /etc/passwd-style file.
func dbLines(b []byte) [][]string {
	var out [][]string
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		out = append(out, strings.Split(l, ":"))
	}
	return out
}

// errUnknown is a lookup failure that is the user's fault (exit 1).
var errUnknown = errors.New("unknown")

// errInvalid is a malformed account argument (exit 100).
var errInvalid = errors.New("invalid account")

// ResolveAccount turns setuidgid's argument into credentials, reading
// the account database through sys:
//   - "uid:gid" (numbers): that uid and gid, supplementary groups = {gid};
//   - "user": the user's uid and primary gid from /etc/passwd, plus every
//     group of /etc/group listing the user as a member;
//   - "user:group" (each side a name or a number): that uid and gid,
//     supplementary groups = {gid}.
func ResolveAccount(sys Sys, spec string) (Account, error) {
	user, group, hasGroup := strings.Cut(spec, ":")
	if user == "" || (hasGroup && (group == "" || strings.ContainsRune(group, ':'))) {
		return Account{}, fmt.Errorf("%w %q: expected user, user:group or uid:gid", errInvalid, spec)
	}
	var passwd, groups [][]string
	loadPasswd := func() error {
		if passwd != nil {
			return nil
		}
		b, err := sys.ReadFile("/etc/passwd", 0)
		if err != nil {
			return fmt.Errorf("/etc/passwd: unable to read: %w", err)
		}
		passwd = dbLines(b)
		return nil
	}
	loadGroup := func() error {
		if groups != nil {
			return nil
		}
		b, err := sys.ReadFile("/etc/group", 0)
		if err != nil {
			return fmt.Errorf("/etc/group: unable to read: %w", err)
		}
		groups = dbLines(b)
		return nil
	}
	var a Account
	uid, uidNum := numID(user)
	if hasGroup {
		if uidNum {
			a.UID = uid
		} else {
			if err := loadPasswd(); err != nil {
				return a, err
			}
			found := false
			for _, r := range passwd {
				if len(r) >= 4 && r[0] == user {
					if a.UID, found = numID(r[2]); !found {
						return a, fmt.Errorf("/etc/passwd: invalid uid for %s", user)
					}
					break
				}
			}
			if !found {
				return a, fmt.Errorf("%w user: %s", errUnknown, user)
			}
		}
		if gid, ok := numID(group); ok {
			a.GID = gid
		} else {
			if err := loadGroup(); err != nil {
				return a, err
			}
			found := false
			for _, r := range groups {
				if len(r) >= 3 && r[0] == group {
					if a.GID, found = numID(r[2]); !found {
						return a, fmt.Errorf("/etc/group: invalid gid for %s", group)
					}
					break
				}
			}
			if !found {
				return a, fmt.Errorf("%w group: %s", errUnknown, group)
			}
		}
		a.Groups = []int{a.GID}
		return a, nil
	}
	if err := loadPasswd(); err != nil {
		return a, err
	}
	found := false
	for _, r := range passwd {
		if len(r) >= 4 && r[0] == user {
			u, ok1 := numID(r[2])
			g, ok2 := numID(r[3])
			if !ok1 || !ok2 {
				return a, fmt.Errorf("/etc/passwd: invalid uid or gid for %s", user)
			}
			a.UID, a.GID, found = u, g, true
			break
		}
	}
	if !found {
		return a, fmt.Errorf("%w user: %s", errUnknown, user)
	}
	a.Groups = []int{a.GID}
	if err := loadGroup(); err != nil {
		// no group database: the primary group only
		return a, nil
	}
	for _, r := range groups {
		if len(r) < 4 {
			continue
		}
		g, ok := numID(r[2])
		if !ok || g == a.GID {
			continue
		}
		for _, m := range strings.Split(r[3], ",") {
			if m == user {
				a.Groups = append(a.Groups, g)
				break
			}
		}
	}
	return a, nil
}

const setuidgidUsage = "setuidgid account prog..."

func setuidgid(st *State, args []string) ([]string, error) {
	_, rest, _, ok := getopt(args, "")
	if !ok || len(rest) < 2 {
		return nil, usage(setuidgidUsage)
	}
	a, err := ResolveAccount(st.Sys, rest[0])
	if err != nil {
		if errors.Is(err, errInvalid) {
			return nil, cli.Usagef("%v", err)
		}
		if errors.Is(err, errUnknown) {
			return nil, cli.Exitf(cli.ExitFalse, "%v", err)
		}
		return nil, fmt.Errorf("%s: %w", rest[0], err)
	}
	if err := st.Sys.SetIDs(a.UID, a.GID, a.Groups); err != nil {
		return nil, fmt.Errorf("%s: unable to set uid %d gid %d: %w", rest[0], a.UID, a.GID, err)
	}
	return rest[1:], nil
}
