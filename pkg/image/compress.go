package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
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

// Compress returns a writer compressing into w; Close finishes the stream
// (it does not close w).
//   - xz uses CRC32 checks: the kernel's xz decoder rejects CRC64 and SHA-256.
//   - lz4 uses the legacy frame format, the only one the kernel reads.
//   - gzip and zstd are standard; gzip headers carry no name and no time.
func Compress(w io.Writer, c string) (io.WriteCloser, error) {
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

// Magic numbers of the formats Decompress recognizes.
var magics = map[string][]byte{
	"gzip":       {0x1f, 0x8b},
	"xz":         {0xfd, '7', 'z', 'X', 'Z', 0},
	"zstd":       {0x28, 0xb5, 0x2f, 0xfd},
	"lz4":        {0x02, 0x21, 0x4c, 0x18}, // legacy frame
	"lz4-frame":  {0x04, 0x22, 0x4d, 0x18},
	"none":       []byte("070701"),
	"none (crc)": []byte("070702"),
}

// Detect names the compression of data from its first bytes ("" if unknown).
func Detect(head []byte) string {
	var names []string
	for n := range magics {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if bytes.HasPrefix(head, magics[n]) {
			return strings.TrimSuffix(strings.TrimSuffix(n, " (crc)"), "-frame")
		}
	}
	return ""
}

// Decompress returns a reader of r's contents with any compression (by
// magic number) undone, and the compression's name.
func Decompress(r io.Reader) (io.Reader, string, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(6)
	c := Detect(head)
	switch c {
	case "none":
		return br, c, nil
	case "gzip":
		zr, err := gzip.NewReader(br)
		return zr, c, err
	case "xz":
		xr, err := xz.NewReader(br)
		return xr, c, err
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, c, err
		}
		return zr.IOReadCloser(), c, nil
	case "lz4":
		return lz4.NewReader(br), c, nil
	}
	return nil, "", fmt.Errorf("unknown format (magic % x): not a cpio archive nor gzip, xz, zstd or lz4 compressed", head)
}
