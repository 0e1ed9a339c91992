// Package depmod is the host side of kernel modules, what the image
// generator does and a running system never needs: it reads each
// module's .modinfo (name, depends, aliases, soft dependencies) out of
// its ELF file, computes dependency closures either from modules.dep or,
// when a tree has none (Debian's kernel packages ship none), from the
// modules themselves, and writes modules.dep, modules.alias and
// modules.softdep in the formats depmod writes. Names, the index formats
// and decompression are package kmod's.
package depmod

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/svinit/svinit/pkg/kmod"
)

// Info is what a module's .modinfo section says about it.
type Info struct {
	Name     string   // name= (normalized: '-' becomes '_')
	Depends  []string // depends=, normalized, in the order given
	Aliases  []string // every alias=
	SoftPre  []string // softdep= "pre:" modules
	SoftPost []string // softdep= "post:" modules
}

// ParseModinfo parses a module file's contents (possibly compressed) and
// returns its .modinfo. fallbackName is used when the section has no name=
// (modules built before the kernel added it).
func ParseModinfo(data []byte, fallbackName string) (*Info, error) {
	img, err := kmod.Decompress(data)
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
		info.Name = kmod.Name(fallbackName)
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
			info.Name = kmod.Name(v)
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					info.Depends = append(info.Depends, kmod.Name(d))
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
				*cur = append(*cur, kmod.Name(w))
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
