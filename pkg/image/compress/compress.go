// Package compress writes the compressed forms of an image Linux's
// initramfs unpacker accepts, and recognises and undoes them (with lz4,
// which pkg/decompress leaves to its callers) when images are read.
package compress

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/svinit/svinit/pkg/decompress"
	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/ulikunitz/xz"
)

// Compressions the generator can write, each in a form Linux's initramfs
// unpacker accepts.
var Compressions = []string{"none", "gzip", "xz", "zstd", "lz4"}

// Suffix is the file name suffix conventional for a compression.
func Suffix(c string) string {
	switch c {
	case "gzip":
		return ".gz"
	case "xz":
		return ".xz"
	case "zstd":
		return ".zst"
	case "lz4":
		return ".lz4"
	}
	return ""
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Writer returns a writer compressing into w; Close finishes the stream
// (it does not close w).
//   - xz uses CRC32 checks: the kernel's xz decoder rejects CRC64 and SHA-256.
//   - lz4 uses the legacy frame format, the only one the kernel reads.
//   - gzip and zstd are standard; gzip headers carry no name and no time.
func Writer(w io.Writer, c string) (io.WriteCloser, error) {
	switch c {
	case "none", "":
		return nopCloser{w}, nil
	case "gzip":
		return gzip.NewWriterLevel(w, gzip.BestCompression)
	case "xz":
		cfg := xz.WriterConfig{CheckSum: xz.CRC32, DictCap: 8 << 20}
		return cfg.NewWriter(w)
	case "zstd":
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(8<<20))
	case "lz4":
		lw := lz4.NewWriter(w)
		if err := lw.Apply(lz4.LegacyOption(true), lz4.CompressionLevelOption(lz4.Level9), lz4.ConcurrencyOption(1)); err != nil {
			return nil, err
		}
		return lw, nil
	}
	return nil, fmt.Errorf("unknown compression %q (want one of %s)", c, strings.Join(Compressions, ", "))
}

// lz4Formats are what Reader undoes besides decompress.Standard:
// lz4's legacy frame (the kernel's, and what Writer writes) and its
// current frame.
func lz4Formats() []decompress.Format {
	open := func(r io.Reader) (io.Reader, error) { return lz4.NewReader(r), nil }
	return append(decompress.Standard(),
		decompress.Format{Name: "lz4", Magic: []byte{0x02, 0x21, 0x4c, 0x18}, Open: open},
		decompress.Format{Name: "lz4", Magic: []byte{0x04, 0x22, 0x4d, 0x18}, Open: open})
}

// Detect names the compression of data from its first bytes ("" if unknown).
func Detect(head []byte) string {
	if cpio.IsNewc(head) {
		return "none"
	}
	if f, ok := decompress.Detect(head, lz4Formats()...); ok {
		return f.Name
	}
	return ""
}

// Reader returns a reader of r's contents with any compression (by
// magic number) undone, and the compression's name.
func Reader(r io.Reader) (io.Reader, string, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(6)
	switch Detect(head) {
	case "none":
		return br, "none", nil
	case "":
		return nil, "", fmt.Errorf("unknown format (magic % x): not a cpio archive nor gzip, xz, zstd or lz4 compressed", head)
	}
	return decompress.Reader(br, lz4Formats()...)
}
