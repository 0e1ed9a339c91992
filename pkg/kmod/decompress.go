package kmod

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/svinit/svinit/pkg/decompress"
)

// maxModuleSize bounds what Decompress produces from one module file.
const maxModuleSize = 256 << 20

var elfMagic = []byte("\x7fELF")

// Decompress returns the ELF image of a module file's contents, undoing
// xz, zstd or gzip compression recognized by magic number.
func Decompress(data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, elfMagic) {
		return data, nil
	}
	if _, ok := decompress.Detect(data); !ok {
		return nil, errors.New("not an ELF file nor xz, zstd or gzip compressed")
	}
	r, _, err := decompress.Reader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	out, err := io.ReadAll(io.LimitReader(r, maxModuleSize+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxModuleSize {
		return nil, fmt.Errorf("decompressed module larger than %d bytes", maxModuleSize)
	}
	if !bytes.HasPrefix(out, elfMagic) {
		return nil, errors.New("decompressed data is not an ELF file")
	}
	return out, nil
}
