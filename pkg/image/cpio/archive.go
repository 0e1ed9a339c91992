// Package cpio is the image's one archive model: the entries an initramfs
// holds, keyed by path, and the newc format they are written in and read
// from. An entry's contents are bytes in memory or a host file read when
// the archive is written (Entry.Host), so that a plan can describe a whole
// image without reading it.
package cpio

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// File type bits of a cpio mode (the same as Linux st_mode).
const (
	TypeMask    = 0o170000
	TypeDir     = 0o040000
	TypeRegular = 0o100000
	TypeSymlink = 0o120000
	TypeChar    = 0o020000
	TypeBlock   = 0o060000
	TypeFIFO    = 0o010000
)

// Entry is one file of an image.
type Entry struct {
	Name string // path inside the image, relative, no leading slash
	Mode uint32 // type bits | permission bits
	// Data is a regular file's contents, unless Host names a host file
	// of HostSize bytes that holds them (read when the archive is written).
	Data     []byte
	Host     string
	HostSize int64
	Link     string // symlink target
	Major    uint32 // device numbers of device nodes
	Minor    uint32
	Part     string // which part of the image it belongs to (for the size summary)
	Src      string // where it came from (for error messages)

	auto bool // a parent directory created implicitly
}

// IsDir reports whether e is a directory.
func (e *Entry) IsDir() bool { return e.Mode&TypeMask == TypeDir }

// Size is what the entry adds to the uncompressed archive's payload.
func (e *Entry) Size() int64 {
	switch e.Mode & TypeMask {
	case TypeRegular:
		if e.Host != "" {
			return e.HostSize
		}
		return int64(len(e.Data))
	case TypeSymlink:
		return int64(len(e.Link))
	}
	return 0
}

// Archive is the set of entries an image holds, keyed by path.
type Archive struct {
	entries map[string]*Entry
}

// NewArchive returns an empty archive.
func NewArchive() *Archive { return &Archive{entries: map[string]*Entry{}} }

// CleanName turns an image path into the archive's form: slash-separated,
// relative, cleaned. It rejects paths escaping the root.
func CleanName(p string) (string, error) {
	c := path.Clean("/" + p)
	if c == "/" {
		return "", fmt.Errorf("%q: the image root itself cannot be an entry", p)
	}
	if strings.Contains(p, "\x00") {
		return "", fmt.Errorf("%q: NUL byte in path", p)
	}
	return c[1:], nil
}

// Add adds e, creating missing parent directories (mode 0755). Adding a
// path twice is an error unless both entries are identical directories or
// identical symlinks.
func (a *Archive) Add(e *Entry) error {
	name, err := CleanName(e.Name)
	if err != nil {
		return err
	}
	e.Name = name
	if old, ok := a.entries[name]; ok {
		if old.IsDir() && e.IsDir() && (old.auto || e.auto) {
			if old.auto && !e.auto {
				old.Mode, old.Part, old.Src, old.auto = e.Mode, e.Part, e.Src, false
			}
			return nil
		}
		if old.Mode == e.Mode && (old.IsDir() || (old.Mode&TypeMask == TypeSymlink && old.Link == e.Link)) {
			if old.Part == "" || (old.IsDir() && old.Src == "") {
				old.Part, old.Src = e.Part, e.Src
			}
			return nil
		}
		return fmt.Errorf("/%s: added twice (from %s and from %s)", name, describe(old), describe(e))
	}
	if dir := path.Dir(name); dir != "." {
		if p, ok := a.entries[dir]; ok {
			if !p.IsDir() {
				return fmt.Errorf("/%s: parent /%s is not a directory (from %s)", name, dir, describe(p))
			}
		} else if err := a.Add(&Entry{Name: dir, Mode: TypeDir | 0o755, Part: e.Part, auto: true}); err != nil {
			return err
		}
	}
	a.entries[name] = e
	return nil
}

func describe(e *Entry) string {
	if e.Src != "" {
		return e.Src
	}
	if e.Part != "" {
		return e.Part
	}
	return "the generator"
}

// Dir adds a directory.
func (a *Archive) Dir(name string, perm uint32, part string) error {
	return a.Add(&Entry{Name: name, Mode: TypeDir | perm, Part: part})
}

// File adds a regular file.
func (a *Archive) File(name string, perm uint32, data []byte, part string) error {
	return a.Add(&Entry{Name: name, Mode: TypeRegular | perm, Data: data, Part: part})
}

// Symlink adds a symbolic link.
func (a *Archive) Symlink(name, target, part string) error {
	return a.Add(&Entry{Name: name, Mode: TypeSymlink | 0o777, Link: target, Part: part})
}

// Get returns the entry at name.
func (a *Archive) Get(name string) (*Entry, bool) {
	n, err := CleanName(name)
	if err != nil {
		return nil, false
	}
	e, ok := a.entries[n]
	return e, ok
}

// Len is the number of entries.
func (a *Archive) Len() int { return len(a.entries) }

// Entries returns every entry sorted by path (parents before children).
func (a *Archive) Entries() []*Entry {
	out := make([]*Entry, 0, len(a.entries))
	for _, e := range a.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Clone returns a copy of the archive whose entries can be added to or
// changed without changing a's.
func (a *Archive) Clone() *Archive {
	c := &Archive{entries: make(map[string]*Entry, len(a.entries))}
	for n, e := range a.entries {
		x := *e
		c.entries[n] = &x
	}
	return c
}
