// Package kmod reads Linux kernel modules and the kmod text indexes that
// describe them: it extracts each module's .modinfo (name, depends, aliases,
// soft dependencies), computes dependency closures either from modules.dep
// or, when a tree has none (Debian's kernel packages ship none), from the
// modules themselves, writes modules.dep, modules.alias and modules.softdep
// in the formats depmod writes, and matches a device's modalias against
// modules.alias the way modprobe does.
package kmod

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Info is what a module's .modinfo section says about it.
type Info struct {
	Name     string   // name= (normalized: '-' becomes '_')
	Depends  []string // depends=, normalized, in the order given
	Aliases  []string // every alias=
	SoftPre  []string // softdep= "pre:" modules
	SoftPost []string // softdep= "post:" modules
}

// maxModuleSize bounds what Decompress produces from one module file.
const maxModuleSize = 256 << 20

// NormalizeName turns a module name or file name into the form the kernel
// uses internally: the ".ko" suffix (with any compression suffix) and the
// directory are dropped and '-' becomes '_'.
func NormalizeName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	for _, suf := range []string{".ko.xz", ".ko.zst", ".ko.gz", ".ko"} {
		if strings.HasSuffix(s, suf) {
			s = strings.TrimSuffix(s, suf)
			break
		}
	}
	return strings.ReplaceAll(s, "-", "_")
}

// IsModuleFile reports whether a file name is a kernel module (.ko, .ko.xz,
// .ko.zst or .ko.gz).
func IsModuleFile(name string) bool {
	for _, suf := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

// Decompress returns the ELF image of a module file's contents, undoing xz,
// zstd or gzip compression recognized by magic number.
func Decompress(data []byte) ([]byte, error) {
	var r io.Reader
	switch {
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		return data, nil
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		r = xr
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		gr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		r = gr
	default:
		return nil, errors.New("not an ELF file nor xz, zstd or gzip compressed")
	}
	out, err := io.ReadAll(io.LimitReader(r, maxModuleSize+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxModuleSize {
		return nil, fmt.Errorf("decompressed module larger than %d bytes", maxModuleSize)
	}
	if !bytes.HasPrefix(out, []byte("\x7fELF")) {
		return nil, errors.New("decompressed data is not an ELF file")
	}
	return out, nil
}

// ParseModinfo parses a module file's contents (possibly compressed) and
// returns its .modinfo. fallbackName is used when the section has no name=
// (modules built before the kernel added it).
func ParseModinfo(data []byte, fallbackName string) (*Info, error) {
	img, err := Decompress(data)
	if err != nil {
		return nil, err
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("not a valid ELF file: %w", err)
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("no .modinfo section: not a kernel module")
	}
	raw, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf(".modinfo: %w", err)
	}
	info := ParseModinfoSection(raw)
	if info.Name == "" {
		info.Name = NormalizeName(fallbackName)
	}
	return info, nil
}

// ParseModinfoSection parses the raw bytes of a .modinfo section: a
// sequence of NUL-terminated key=value strings.
func ParseModinfoSection(raw []byte) *Info {
	info := &Info{}
	for _, field := range bytes.Split(raw, []byte{0}) {
		k, v, ok := strings.Cut(string(field), "=")
		if !ok {
			continue
		}
		switch k {
		case "name":
			info.Name = NormalizeName(v)
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					info.Depends = append(info.Depends, NormalizeName(d))
				}
			}
		case "alias":
			if v != "" {
				info.Aliases = append(info.Aliases, v)
			}
		case "softdep":
			pre, post := parseSoftdep(v)
			info.SoftPre = append(info.SoftPre, pre...)
			info.SoftPost = append(info.SoftPost, post...)
		}
	}
	return info
}

// parseSoftdep parses "pre: a b post: c".
func parseSoftdep(v string) (pre, post []string) {
	var cur *[]string
	for _, w := range strings.Fields(v) {
		switch w {
		case "pre:":
			cur = &pre
		case "post:":
			cur = &post
		default:
			if cur != nil {
				*cur = append(*cur, NormalizeName(w))
			}
		}
	}
	return pre, post
}

// ReadModinfo reads and parses the module file at path.
func ReadModinfo(path string) (*Info, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	info, err := ParseModinfo(data, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}
