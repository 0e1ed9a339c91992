// Package rootfs finds the real root file system and hands the machine
// over to it: what a file system or partition is (superblocks, GPT and
// MBR partition tables), the block devices the kernel has (sysfs), the
// event-driven wait for the one root= names, and the switch itself
// (switch_root). See docs/booting-a-real-root.md.
package rootfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// FS is what a superblock says about a file system.
type FS struct {
	Type  string // ext2, ext3, ext4, xfs, btrfs, vfat ("" = none recognised)
	UUID  string // as blkid prints it: 8-4-4-4-12 hex, or XXXX-XXXX for vfat
	Label string
}

// probeSize is how much of a device Probe reads: btrfs's superblock
// lies at 64 KiB.
const probeSize = 0x10000 + 0x1000

// Probe reads the start of a device (or image) and recognises the file
// system on it by its superblock. A device with none it knows gives a
// zero FS and no error; an I/O error is returned.
func Probe(r io.ReaderAt) (FS, error) {
	b := make([]byte, probeSize)
	n, err := r.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return FS{}, err
	}
	b = b[:n]
	for _, p := range probers {
		if fs, ok := p(b); ok {
			return fs, nil
		}
	}
	return FS{}, nil
}

var probers = []func(b []byte) (FS, bool){probeExt, probeXFS, probeBtrfs, probeFAT}

// has reports whether b holds magic at off.
func has(b []byte, off int, magic string) bool {
	return len(b) >= off+len(magic) && string(b[off:off+len(magic)]) == magic
}

// uuid formats 16 bytes the way blkid does.
func uuid(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// cstr is a NUL-padded string field.
func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// ext2/3/4: the superblock is at 1024; the feature words tell the three
// apart as blkid does (a journal makes ext3; features ext3 lacks make
// ext4).
func probeExt(b []byte) (FS, bool) {
	const sb = 1024
	if len(b) < sb+0x88 || binary.LittleEndian.Uint16(b[sb+0x38:]) != 0xEF53 {
		return FS{}, false
	}
	compat := binary.LittleEndian.Uint32(b[sb+0x5C:])
	incompat := binary.LittleEndian.Uint32(b[sb+0x60:])
	roCompat := binary.LittleEndian.Uint32(b[sb+0x64:])
	const (
		hasJournal     = 0x4
		ext3Incompat   = 0x2 | 0x4 | 0x8 | 0x10 // filetype, recover, journal_dev, meta_bg
		ext2RoCompat   = 0x1 | 0x2 | 0x4        // sparse_super, large_file, btree_dir
		journalDevFlag = 0x8
	)
	if incompat&journalDevFlag != 0 {
		return FS{Type: "jbd", UUID: uuid(b[sb+0x68 : sb+0x78])}, true
	}
	t := "ext2"
	switch {
	case incompat&^ext3Incompat != 0 || roCompat&^ext2RoCompat != 0:
		t = "ext4"
	case compat&hasJournal != 0:
		t = "ext3"
	}
	return FS{Type: t, UUID: uuid(b[sb+0x68 : sb+0x78]), Label: cstr(b[sb+0x78 : sb+0x88])}, true
}

// xfs: "XFSB" at 0, the UUID at 32, the 12-byte name at 108.
func probeXFS(b []byte) (FS, bool) {
	if !has(b, 0, "XFSB") || len(b) < 120 {
		return FS{}, false
	}
	return FS{Type: "xfs", UUID: uuid(b[32:48]), Label: cstr(b[108:120])}, true
}

// btrfs: the superblock at 64 KiB: fsid at +0x20, magic at +0x40, the
// label at +0x12b.
func probeBtrfs(b []byte) (FS, bool) {
	const sb = 0x10000
	if !has(b, sb+0x40, "_BHRfS_M") || len(b) < sb+0x12b+256 {
		return FS{}, false
	}
	return FS{Type: "btrfs", UUID: uuid(b[sb+0x20 : sb+0x30]), Label: cstr(b[sb+0x12b : sb+0x12b+256])}, true
}

// vfat: a boot sector (55 AA) whose extended BIOS parameter block names
// FAT12, FAT16 (at 0x36) or FAT32 (at 0x52); the volume serial and label
// follow the extended boot signature 0x29.
func probeFAT(b []byte) (FS, bool) {
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xAA {
		return FS{}, false
	}
	bps := binary.LittleEndian.Uint16(b[11:])
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || b[13] == 0 || b[16] == 0 {
		return FS{}, false
	}
	var sig, id, label int
	switch {
	case has(b, 0x52, "FAT32"):
		sig, id, label = 0x42, 0x43, 0x47
	case has(b, 0x36, "FAT1"):
		sig, id, label = 0x26, 0x27, 0x2B
	default:
		return FS{}, false
	}
	fs := FS{Type: "vfat"}
	if b[sig] == 0x29 {
		v := binary.LittleEndian.Uint32(b[id:])
		fs.UUID = fmt.Sprintf("%04X-%04X", v>>16, v&0xffff)
		if l := strings.TrimRight(string(b[label:label+11]), " \x00"); l != "NO NAME" {
			fs.Label = l
		}
	}
	return fs, true
}
