// Package decompress is the one place that recognises a compressed
// stream by its magic number and undoes it. It knows gzip, xz and zstd,
// the compressions of kernel modules (and of initramfs images); a caller
// that needs more passes its own Formats (the image generator adds lz4),
// so that a program that does not, such as ueventd, links none of them.
package decompress

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Format is one compression: its name, the bytes its streams start
// with, and how to read one.
type Format struct {
	Name  string
	Magic []byte
	Open  func(io.Reader) (io.Reader, error)
}

// Standard lists gzip, xz and zstd.
func Standard() []Format {
	return []Format{
		{Name: "gzip", Magic: []byte{0x1f, 0x8b}, Open: openGzip},
		{Name: "xz", Magic: []byte{0xfd, '7', 'z', 'X', 'Z', 0}, Open: openXZ},
		{Name: "zstd", Magic: []byte{0x28, 0xb5, 0x2f, 0xfd}, Open: openZstd},
	}
}

func openGzip(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }

func openXZ(r io.Reader) (io.Reader, error) { return xz.NewReader(r) }

// openZstd decodes on the calling goroutine only: no decoder goroutines
// are left behind by a reader that is not read to the end.
func openZstd(r io.Reader) (io.Reader, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	return zr.IOReadCloser(), nil
}

// Detect returns the format of formats (Standard when none is given)
// whose magic number head starts with.
func Detect(head []byte, formats ...Format) (Format, bool) {
	if len(formats) == 0 {
		formats = Standard()
	}
	for _, f := range formats {
		if bytes.HasPrefix(head, f.Magic) {
			return f, true
		}
	}
	return Format{}, false
}

// Reader returns a reader of r's contents with the compression of
// formats (Standard when none is given) that its magic number names
// undone, and that compression's name. A stream no format recognises is
// an error naming the formats.
func Reader(r io.Reader, formats ...Format) (io.Reader, string, error) {
	if len(formats) == 0 {
		formats = Standard()
	}
	br := bufio.NewReaderSize(r, 1<<16)
	n := 0
	for _, f := range formats {
		n = max(n, len(f.Magic))
	}
	head, _ := br.Peek(n)
	f, ok := Detect(head, formats...)
	if !ok {
		var names []string
		for _, f := range formats {
			names = append(names, f.Name)
		}
		return nil, "", fmt.Errorf("unknown compression (magic % x): want %s", head, strings.Join(names, ", "))
	}
	dr, err := f.Open(br)
	if err != nil {
		return nil, f.Name, fmt.Errorf("%s: %w", f.Name, err)
	}
	return dr, f.Name, nil
}
