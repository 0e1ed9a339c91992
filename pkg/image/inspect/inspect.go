// Package inspect reads built images (any compression, several archives
// back to back as the kernel reads them), lists their entries and compares
// two images (mkimage ls, cat, diff).
package inspect

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/svinit/svinit/pkg/image/compress"
	"github.com/svinit/svinit/pkg/image/cpio"
)

// ReadImage reads an image file's entries, undoing its compression. Like
// the kernel, it reads uncompressed archives back to back (NUL padding
// between them is skipped), then the compressed stream that may follow
// them: the layout of an initrd with early microcode (an uncompressed cpio
// first) is read whole. A compressed stream runs to the end of the data;
// several streams of the same format back to back (gzip members, xz
// streams, zstd or lz4 frames) are one. The compression named is that of
// the last part ("none", "xz"...).
func ReadImage(r io.Reader) ([]*cpio.Entry, string, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var out []*cpio.Entry
	comp := ""
	for n := 1; ; n++ {
		if err := skipNULs(br); err == io.EOF {
			if comp == "" {
				return nil, "", cpio.ErrNotCPIO
			}
			return out, comp, nil
		} else if err != nil {
			return nil, comp, err
		}
		head, _ := br.Peek(6)
		if compress.Detect(head) != "none" {
			break
		}
		es, err := cpio.ReadOne(br)
		if err != nil {
			return nil, "none", fmt.Errorf("uncompressed cpio archive %d: %w", n, err)
		}
		out = append(out, es...)
		comp = "none"
	}
	dr, c, err := compress.Reader(br)
	if err != nil {
		if comp != "" {
			return nil, comp, fmt.Errorf("after %d entries of uncompressed archives: %w", len(out), err)
		}
		return nil, "", err
	}
	es, err := cpio.ReadCPIO(dr)
	if err != nil {
		return nil, c, fmt.Errorf("%s-compressed data: %w", c, err)
	}
	return append(out, es...), c, nil
}

// skipNULs skips NUL bytes; io.EOF at the end of the data.
func skipNULs(br *bufio.Reader) error {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return err
		}
		if b[0] != 0 {
			return nil
		}
		br.ReadByte()
	}
}

// modeString renders a mode like ls -l does.
func modeString(m uint32) string {
	t := "?"
	switch m & cpio.TypeMask {
	case cpio.TypeDir:
		t = "d"
	case cpio.TypeRegular:
		t = "-"
	case cpio.TypeSymlink:
		t = "l"
	case cpio.TypeChar:
		t = "c"
	case cpio.TypeBlock:
		t = "b"
	case cpio.TypeFIFO:
		t = "p"
	case 0o140000:
		t = "s"
	}
	const rwx = "rwxrwxrwx"
	b := []byte(t)
	for i := 0; i < 9; i++ {
		if m&(1<<(8-i)) != 0 {
			b = append(b, rwx[i])
		} else {
			b = append(b, '-')
		}
	}
	if m&0o4000 != 0 {
		b[3] = map[bool]byte{true: 's', false: 'S'}[b[3] == 'x']
	}
	if m&0o2000 != 0 {
		b[6] = map[bool]byte{true: 's', false: 'S'}[b[6] == 'x']
	}
	if m&0o1000 != 0 {
		b[9] = map[bool]byte{true: 't', false: 'T'}[b[9] == 'x']
	}
	return string(b)
}

// FormatEntry renders one entry as a listing line: mode, size (or device
// numbers), /path, and -> target for symlinks.
func FormatEntry(e *cpio.Entry, long bool) string {
	if !long {
		return "/" + e.Name
	}
	size := fmt.Sprintf("%10d", len(e.Data))
	if t := e.Mode & cpio.TypeMask; t == cpio.TypeChar || t == cpio.TypeBlock {
		size = fmt.Sprintf("%6d, %3d", e.Major, e.Minor)
	} else if t == cpio.TypeSymlink {
		size = fmt.Sprintf("%10d", len(e.Link))
	}
	s := fmt.Sprintf("%s %s /%s", modeString(e.Mode), size, e.Name)
	if e.Mode&cpio.TypeMask == cpio.TypeSymlink {
		s += " -> " + e.Link
	}
	return s
}

// Diff compares two images' entries and returns one line per difference:
// "- /path" only in a, "+ /path" only in b, "~ /path: what" changed.
func Diff(a, b []*cpio.Entry) []string {
	index := func(es []*cpio.Entry) map[string]*cpio.Entry {
		m := map[string]*cpio.Entry{}
		for _, e := range es {
			m[e.Name] = e
		}
		return m
	}
	ma, mb := index(a), index(b)
	names := map[string]bool{}
	for n := range ma {
		names[n] = true
	}
	for n := range mb {
		names[n] = true
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out []string
	for _, n := range sorted {
		ea, eb := ma[n], mb[n]
		switch {
		case eb == nil:
			out = append(out, "- /"+n)
		case ea == nil:
			out = append(out, "+ /"+n)
		default:
			var what []string
			if ea.Mode != eb.Mode {
				what = append(what, fmt.Sprintf("mode %s -> %s", modeString(ea.Mode), modeString(eb.Mode)))
			}
			if ea.Link != eb.Link {
				what = append(what, fmt.Sprintf("target %s -> %s", ea.Link, eb.Link))
			}
			if ea.Major != eb.Major || ea.Minor != eb.Minor {
				what = append(what, fmt.Sprintf("device %d,%d -> %d,%d", ea.Major, ea.Minor, eb.Major, eb.Minor))
			}
			if len(ea.Data) != len(eb.Data) {
				what = append(what, fmt.Sprintf("size %d -> %d", len(ea.Data), len(eb.Data)))
			} else if sha256.Sum256(ea.Data) != sha256.Sum256(eb.Data) {
				what = append(what, "contents differ")
			}
			if len(what) > 0 {
				out = append(out, "~ /"+n+": "+strings.Join(what, ", "))
			}
		}
	}
	return out
}
