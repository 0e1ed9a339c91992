package decompress

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func TestReader(t *testing.T) {
	data := bytes.Repeat([]byte("some module or archive "), 500)
	compress := map[string]func(io.Writer) (io.WriteCloser, error){
		"gzip": func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil },
		"xz":   func(w io.Writer) (io.WriteCloser, error) { return xz.NewWriter(w) },
		"zstd": func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) },
	}
	for _, f := range Standard() {
		var b bytes.Buffer
		w, err := compress[f.Name](&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
		if got, ok := Detect(b.Bytes()); !ok || got.Name != f.Name {
			t.Errorf("%s: Detect = %q, %v", f.Name, got.Name, ok)
		}
		r, name, err := Reader(&b)
		if err != nil || name != f.Name {
			t.Fatalf("%s: Reader: %q, %v", f.Name, name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: read %d bytes, %v; want the %d written", f.Name, len(got), err, len(data))
		}
	}
}

func TestExtraFormat(t *testing.T) {
	upper := Format{Name: "upper", Magic: []byte("UP:"), Open: func(r io.Reader) (io.Reader, error) {
		b, err := io.ReadAll(r)
		return strings.NewReader(strings.ToLower(string(b[3:]))), err
	}}
	r, name, err := Reader(strings.NewReader("UP:HELLO"), upper)
	if err != nil || name != "upper" {
		t.Fatalf("Reader = %q, %v", name, err)
	}
	if b, _ := io.ReadAll(r); string(b) != "hello" {
		t.Errorf("read %q", b)
	}
	// Only the formats given count: gzip is not among them.
	if _, _, err := Reader(bytes.NewReader([]byte{0x1f, 0x8b, 8}), upper); err == nil || !strings.Contains(err.Error(), "want upper") {
		t.Errorf("gzip with only upper: %v", err)
	}
	if _, _, err := Reader(strings.NewReader("PK\x03\x04")); err == nil || !strings.Contains(err.Error(), "want gzip, xz, zstd") {
		t.Errorf("zip: %v", err)
	}
	var ge bytes.Buffer
	ge.Write([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 'x'})
	if _, name, err := Reader(&ge); err == nil || name != "xz" || !strings.HasPrefix(err.Error(), "xz: ") {
		t.Errorf("broken xz: %q, %v", name, err)
	}
}
