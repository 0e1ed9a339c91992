package cpio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
)

// Magics start a newc header: without and with checksums.
var Magics = [][]byte{[]byte("070701"), []byte("070702")}

// IsNewc reports whether head starts with a newc header's magic.
func IsNewc(head []byte) bool {
	for _, m := range Magics {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
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
// mtime everywhere: the same archive always gives the same bytes. Entries
// whose contents are a host file are read now; a file whose size changed
// since it was added is an error.
func (a *Archive) WriteCPIO(w io.Writer, o WriteOptions) error {
	cw := &cpioWriter{w: bufio.NewWriterSize(w, 1<<20)}
	for i, e := range a.Entries() {
		if o.Check != nil {
			if err := o.Check(); err != nil {
				return err
			}
		}
		if err := cw.entry(uint32(i+1), e, uint32(o.MTime)); err != nil {
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

func (c *cpioWriter) entry(ino uint32, e *Entry, mtime uint32) error {
	var data []byte
	nlink := uint32(1)
	switch e.Mode & TypeMask {
	case TypeRegular:
		if e.Host != "" {
			return c.hostFile(ino, e, mtime)
		}
		data = e.Data
	case TypeSymlink:
		data = []byte(e.Link)
	case TypeDir:
		nlink = 2
	}
	return c.record(ino, e.Mode, nlink, mtime, e.Major, e.Minor, e.Name, data)
}

// hostFile writes a regular file whose contents are the host file e.Host,
// streamed from it.
func (c *cpioWriter) hostFile(ino uint32, e *Entry, mtime uint32) error {
	f, err := os.Open(e.Host)
	if err != nil {
		return err
	}
	defer f.Close()
	c.header(ino, e.Mode, 1, mtime, 0, 0, e.Name, e.HostSize)
	n, err := io.Copy(c, io.LimitReader(f, e.HostSize))
	if err == nil && n == e.HostSize {
		var one [1]byte
		if m, _ := f.Read(one[:]); m > 0 {
			n++
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", e.Host, err)
	}
	if n != e.HostSize {
		return fmt.Errorf("%s: changed while the image was made (%d bytes when planned): build again", e.Host, e.HostSize)
	}
	c.pad()
	return c.err()
}

func (c *cpioWriter) header(ino, mode, nlink, mtime, major, minor uint32, name string, size int64) {
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, mtime, size, 0, 0, major, minor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad()
}

func (c *cpioWriter) record(ino, mode, nlink, mtime, major, minor uint32, name string, data []byte) error {
	c.header(ino, mode, nlink, mtime, major, minor, name, int64(len(data)))
	c.write(data)
	c.pad()
	return c.err()
}

// Write makes the writer an io.Writer for io.Copy.
func (c *cpioWriter) Write(b []byte) (int, error) {
	c.write(b)
	return len(b), c.err()
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

// Limits on what the reader accepts from one archive.
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
		es, err := ReadOne(br)
		if err != nil {
			return nil, err
		}
		seenArchive = true
		out = append(out, es...)
	}
}

// ReadOne reads one newc archive from br, up to and including its
// trailer, and returns its entries in archive order (contents in Data).
func ReadOne(br *bufio.Reader) ([]*Entry, error) {
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
		if !IsNewc(hdr) {
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
