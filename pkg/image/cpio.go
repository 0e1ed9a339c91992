package image

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
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
	Name  string // path inside the image, relative, no leading slash
	Mode  uint32 // type bits | permission bits
	Data  []byte // regular file contents
	Link  string // symlink target
	Major uint32 // device numbers of device nodes
	Minor uint32
	Part  string // which part of the image it belongs to (for the size summary)
	Src   string // where it came from (for error messages)

	auto bool // a parent directory created implicitly
}

// IsDir reports whether e is a directory.
func (e *Entry) IsDir() bool { return e.Mode&TypeMask == TypeDir }

// Size is what the entry adds to the uncompressed archive's payload.
func (e *Entry) Size() int64 {
	switch e.Mode & TypeMask {
	case TypeRegular:
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

// Entries returns every entry sorted by path (parents before children).
func (a *Archive) Entries() []*Entry {
	out := make([]*Entry, 0, len(a.entries))
	for _, e := range a.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AddTree copies the host tree src to dst in the image: directories, regular
// files, symlinks and FIFOs with their permission bits (setuid/setgid/sticky
// included, group and other write permission dropped); ownership becomes
// root. Anything else is an error.
func (a *Archive) AddTree(src, dst, part string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := path.Join(dst, filepath.ToSlash(rel))
		return a.AddHostFile(p, name, part)
	})
}

// AddHostFile adds one host file (not following a final symlink).
func (a *Archive) AddHostFile(src, name, part string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	// Drop group and other write permission, so the image does not
	// depend on the umask of the checkout it was built from.
	perm := uint32(st.Mode().Perm()) &^ 0o022
	if st.Mode()&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if st.Mode()&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if st.Mode()&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	e := &Entry{Name: name, Part: part, Src: src}
	switch {
	case st.IsDir():
		e.Mode = TypeDir | perm
	case st.Mode().IsRegular():
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		e.Mode, e.Data = TypeRegular|perm, data
	case st.Mode()&fs.ModeSymlink != 0:
		l, err := os.Readlink(src)
		if err != nil {
			return err
		}
		e.Mode, e.Link = TypeSymlink|0o777, l
	case st.Mode()&fs.ModeNamedPipe != 0:
		e.Mode = TypeFIFO | perm
	default:
		return fmt.Errorf("%s: unsupported file type %v (only directories, regular files, symlinks and FIFOs)", src, st.Mode().Type())
	}
	return a.Add(e)
}

// WriteOptions tune the cpio writer.
type WriteOptions struct {
	MTime int64 // modification time of every entry (SOURCE_DATE_EPOCH)
	// Check, when non-nil, is called between entries; a non-nil result
	// aborts writing (used for interruption).
	Check func() error
}

// WriteCPIO writes the archive in the newc format, entries sorted by path,
// owned by root, with inode numbers 1, 2, ... in that order and the same
// mtime everywhere: the same archive always gives the same bytes.
func (a *Archive) WriteCPIO(w io.Writer, o WriteOptions) error {
	cw := &cpioWriter{w: bufio.NewWriterSize(w, 1<<20)}
	for i, e := range a.Entries() {
		if o.Check != nil {
			if err := o.Check(); err != nil {
				return err
			}
		}
		var data []byte
		nlink := uint32(1)
		switch e.Mode & TypeMask {
		case TypeRegular:
			data = e.Data
		case TypeSymlink:
			data = []byte(e.Link)
		case TypeDir:
			nlink = 2
		}
		if err := cw.record(uint32(i+1), e.Mode, nlink, uint32(o.MTime), e.Major, e.Minor, e.Name, data); err != nil {
			return err
		}
	}
	if err := cw.record(0, 0, 1, 0, 0, 0, "TRAILER!!!", nil); err != nil {
		return err
	}
	return cw.w.Flush()
}

type cpioWriter struct {
	w   *bufio.Writer
	off int64
}

func (c *cpioWriter) record(ino, mode, nlink, mtime, major, minor uint32, name string, data []byte) error {
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, major, minor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad()
	c.write(data)
	c.pad()
	return c.err()
}

func (c *cpioWriter) write(b []byte) {
	n, _ := c.w.Write(b)
	c.off += int64(n)
}

func (c *cpioWriter) pad() {
	if r := c.off % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) err() error {
	// bufio.Writer keeps the first error; a zero-length write surfaces it.
	_, err := c.w.Write(nil)
	return err
}

// Limits on what ReadCPIO accepts from one archive.
const (
	maxNameSize  = 4096
	maxEntrySize = 1 << 30
)

// ErrNotCPIO means the data does not start with a newc header.
var ErrNotCPIO = errors.New("not a newc cpio archive")

// ReadCPIO reads newc archives from r until the end of the stream: the
// kernel accepts several archives back to back (padded with NULs), and so
// does ReadCPIO. Entries appear in archive order; a later one replaces an
// earlier one of the same name, as the kernel does when unpacking.
func ReadCPIO(r io.Reader) ([]*Entry, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var out []*Entry
	seenArchive := false
	for {
		// Skip NUL padding between archives.
		for {
			b, err := br.Peek(1)
			if err == io.EOF {
				if !seenArchive {
					return nil, ErrNotCPIO
				}
				return out, nil
			}
			if err != nil {
				// Not the end: e.g. a decompressor that met data it
				// cannot read after its stream.
				return nil, fmt.Errorf("after %d entries: %w", len(out), err)
			}
			if b[0] != 0 {
				break
			}
			br.ReadByte()
		}
		es, err := readOneCPIO(br)
		if err != nil {
			return nil, err
		}
		seenArchive = true
		out = append(out, es...)
	}
}

func readOneCPIO(br *bufio.Reader) ([]*Entry, error) {
	var out []*Entry
	var off int64
	read := func(n int64) ([]byte, error) {
		b := make([]byte, n)
		_, err := io.ReadFull(br, b)
		off += n
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return b, err
	}
	pad := func() error {
		if r := off % 4; r != 0 {
			_, err := read(4 - r)
			return err
		}
		return nil
	}
	for {
		hdr, err := read(110)
		if err != nil {
			return nil, fmt.Errorf("cpio header at offset %d: %w", off-110, err)
		}
		if !bytes.HasPrefix(hdr, []byte("070701")) && !bytes.HasPrefix(hdr, []byte("070702")) {
			if len(out) == 0 {
				return nil, ErrNotCPIO
			}
			return nil, fmt.Errorf("bad cpio header magic %q at offset %d", hdr[:6], off-110)
		}
		var f [13]uint64
		for i := range f {
			v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("bad cpio header field %d at offset %d: %q", i, off-110, hdr[6+8*i:14+8*i])
			}
			f[i] = v
		}
		mode, size, rmaj, rmin, namesize := uint32(f[1]), int64(f[6]), uint32(f[9]), uint32(f[10]), int64(f[11])
		if namesize < 1 || namesize > maxNameSize {
			return nil, fmt.Errorf("bad cpio name size %d at offset %d", namesize, off-110)
		}
		if size > maxEntrySize {
			return nil, fmt.Errorf("cpio entry of %d bytes at offset %d is too large", size, off-110)
		}
		nb, err := read(namesize)
		if err != nil {
			return nil, err
		}
		name := string(bytes.TrimRight(nb, "\x00"))
		if err := pad(); err != nil {
			return nil, err
		}
		data, err := read(size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := pad(); err != nil {
			return nil, err
		}
		if name == "TRAILER!!!" {
			return out, nil
		}
		e := &Entry{Name: strings.TrimPrefix(path.Clean("/"+name), "/"), Mode: mode, Major: rmaj, Minor: rmin}
		if e.Name == "" {
			e.Name = "."
		}
		switch mode & TypeMask {
		case TypeSymlink:
			e.Link = string(data)
		default:
			e.Data = data
		}
		out = append(out, e)
	}
}
