package rootfs

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"

	"github.com/u-root/u-root/pkg/mount/gpt"
)

// A Part is one partition as its disk's partition table describes it.
type Part struct {
	Number int    // the kernel's partition number (sda1 is 1)
	UUID   string // PARTUUID: the GPT entry's unique GUID, or SSSSSSSS-NN on MBR
	Label  string // PARTLABEL: the GPT entry's name ("" on MBR)
}

// Partitions reads a disk's partition table: GPT (u-root's
// pkg/mount/gpt reads and checks the primary header and entries,
// assuming 512-byte sectors), else an MBR's primary partitions. A disk
// with neither gives no partitions and no error.
func Partitions(r io.ReaderAt) ([]Part, error) {
	mbr := make([]byte, 512)
	if n, err := r.ReadAt(mbr, 0); n < len(mbr) {
		if err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		return nil, nil
	}
	if mbr[0x1C2] == 0xEE { // protective MBR: a GPT disk
		g, err := gpt.Table(r, gpt.HeaderOff)
		if err != nil {
			return nil, fmt.Errorf("GPT: %w", err)
		}
		var out []Part
		for i, p := range g.Parts {
			if p.PartGUID == (gpt.GUID{}) {
				continue // an unused entry
			}
			out = append(out, Part{Number: i + 1, UUID: p.UniqueGUID.String(), Label: partName(p.Name)})
		}
		return out, nil
	}
	if _, ok := probeFAT(mbr); ok {
		return nil, nil // a file system's boot sector, not a partition table
	}
	sig := binary.LittleEndian.Uint32(mbr[0x1B8:])
	var out []Part
	for i := range 4 {
		e := mbr[0x1BE+16*i:]
		if e[4] == 0 || binary.LittleEndian.Uint32(e[12:]) == 0 {
			continue
		}
		out = append(out, Part{Number: i + 1, UUID: fmt.Sprintf("%08x-%02x", sig, i+1)})
	}
	return out, nil
}

// partName decodes a GPT entry's UTF-16LE name.
func partName(n gpt.PartName) string {
	u := make([]uint16, 0, len(n)/2)
	for i := 0; i+1 < len(n); i += 2 {
		c := binary.LittleEndian.Uint16(n[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return strings.TrimRight(string(utf16.Decode(u)), "\x00")
}
