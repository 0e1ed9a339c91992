package build

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"
)

func timeNow() time.Time { return time.Now() }

func hex8(v uint64) string { return fmt.Sprintf("%08X", v) }

func parseHex(s string) uint64 {
	v, _ := strconv.ParseUint(s, 16, 32)
	return v
}

func align4(n int) int { return (n + 3) &^ 3 }

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
