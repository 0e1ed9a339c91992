package compress

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestCompressionRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte("svinit initramfs "), 100000)
	for _, c := range Compressions {
		var b bytes.Buffer
		w, err := Writer(&b, c)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if c != "none" && b.Len() >= len(data) {
			t.Errorf("%s did not compress", c)
		}
		if got := Detect(b.Bytes()); got != c && !(c == "none" && got == "") {
			t.Errorf("%s detected as %q", c, got)
		}
		switch c {
		case "xz":
			// Stream flags (bytes 6-7): check type 1 = CRC32, what the kernel accepts.
			if b.Bytes()[6] != 0 || b.Bytes()[7] != 1 {
				t.Errorf("xz stream flags % x, want 00 01 (CRC32)", b.Bytes()[6:8])
			}
		case "lz4":
			if !bytes.HasPrefix(b.Bytes(), []byte{0x02, 0x21, 0x4c, 0x18}) {
				t.Errorf("lz4 magic % x, want the legacy frame's 02 21 4c 18", b.Bytes()[:4])
			}
		case "gzip":
			if m := b.Bytes()[4:8]; !bytes.Equal(m, []byte{0, 0, 0, 0}) {
				t.Errorf("gzip header mtime % x", m)
			}
		}
		if c == "none" {
			continue
		}
		r, name, err := Reader(&b)
		if err != nil || name != c {
			t.Fatalf("%s: Decompress: %v %s", c, err, name)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: round trip: %d bytes, %v", c, len(got), err)
		}
	}
	if _, err := Writer(io.Discard, "bzip2"); err == nil {
		t.Error("unknown compression accepted")
	}
	if _, _, err := Reader(strings.NewReader("PK\x03\x04")); err == nil {
		t.Error("zip accepted")
	}
}
