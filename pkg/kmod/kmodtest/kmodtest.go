// Package kmodtest writes tiny fake kernel modules (ELF files holding only a
// .modinfo section) and module trees for tests.
package kmodtest

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
)

// ELF returns a minimal ELF64 relocatable file whose .modinfo section holds
// the given key=value fields.
func ELF(fields ...string) []byte {
	var modinfo bytes.Buffer
	for _, f := range fields {
		modinfo.WriteString(f)
		modinfo.WriteByte(0)
	}
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	modOff := uint64(ehsize)
	strOff := modOff + uint64(modinfo.Len())
	shOff := (strOff + uint64(len(shstr)) + 7) &^ 7

	var b bytes.Buffer
	le := binary.LittleEndian
	// ELF header.
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	b.Write(make([]byte, 8))
	binary.Write(&b, le, uint16(1))  // ET_REL
	binary.Write(&b, le, uint16(62)) // EM_X86_64
	binary.Write(&b, le, uint32(1))  // version
	binary.Write(&b, le, uint64(0))  // entry
	binary.Write(&b, le, uint64(0))  // phoff
	binary.Write(&b, le, shOff)      // shoff
	binary.Write(&b, le, uint32(0))  // flags
	binary.Write(&b, le, uint16(ehsize))
	binary.Write(&b, le, uint16(0)) // phentsize
	binary.Write(&b, le, uint16(0)) // phnum
	binary.Write(&b, le, uint16(shentsize))
	binary.Write(&b, le, uint16(3)) // shnum
	binary.Write(&b, le, uint16(2)) // shstrndx
	b.Write(modinfo.Bytes())
	b.Write(shstr)
	for uint64(b.Len()) < shOff {
		b.WriteByte(0)
	}
	sh := func(name uint32, typ uint32, off, size uint64) {
		binary.Write(&b, le, name)
		binary.Write(&b, le, typ)
		binary.Write(&b, le, uint64(0)) // flags
		binary.Write(&b, le, uint64(0)) // addr
		binary.Write(&b, le, off)
		binary.Write(&b, le, size)
		binary.Write(&b, le, uint32(0)) // link
		binary.Write(&b, le, uint32(0)) // info
		binary.Write(&b, le, uint64(1)) // addralign
		binary.Write(&b, le, uint64(0)) // entsize
	}
	sh(0, 0, 0, 0)
	sh(1, 1, modOff, uint64(modinfo.Len())) // .modinfo PROGBITS
	sh(10, 3, strOff, uint64(len(shstr)))   // .shstrtab STRTAB
	return b.Bytes()
}

// Module describes a fake module for Tree.
type Module struct {
	Path    string // relative to the tree, e.g. kernel/drivers/net/virtio_net.ko
	Depends []string
	Aliases []string
	Softdep string // e.g. "pre: crc32c"
	Data    []byte // file contents instead of a generated ELF, if non-nil
}

// Tree writes a fake /lib/modules/<version> tree under root and returns its
// path. builtin names go to modules.builtin.
func Tree(root, version string, mods []Module, builtin ...string) (string, error) {
	dir := filepath.Join(root, "lib", "modules", version)
	if err := os.MkdirAll(filepath.Join(dir, "kernel"), 0o755); err != nil {
		return "", err
	}
	for _, m := range mods {
		data := m.Data
		if data == nil {
			name := filepath.Base(m.Path)
			name = name[:strings.Index(name, ".ko")]
			fields := []string{"license=GPL"}
			for _, a := range m.Aliases {
				fields = append(fields, "alias="+a)
			}
			if m.Softdep != "" {
				fields = append(fields, "softdep="+m.Softdep)
			}
			fields = append(fields, "depends="+strings.Join(m.Depends, ","), "intree=Y",
				"name="+strings.ReplaceAll(name, "-", "_"), "vermagic="+version+" SMP mod_unload")
			data = ELF(fields...)
		}
		p := filepath.Join(dir, m.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "", err
		}
	}
	var bl strings.Builder
	for _, b := range builtin {
		bl.WriteString("kernel/" + b + ".ko\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte(bl.String()), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}
