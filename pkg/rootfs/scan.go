package rootfs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/sys/unix"
)

// A Device is one block device the kernel has, with what is on it.
type Device struct {
	Name      string // vda, vda1, nvme0n1p2
	Path      string // its node, /dev/NAME
	Dev       uint64 // device number (major:minor)
	Size      int64  // bytes
	Parent    string // the disk of a partition ("" for a whole disk)
	Partition int    // partition number (0 for a whole disk)
	FS        FS     // the file system found on it
	PartUUID  string // from the disk's partition table
	PartLabel string
	Err       error // why it could not be read (the rest is what sysfs says)
}

// Scanner looks at the block devices under a sysfs and a /dev.
type Scanner struct {
	Sys string // /sys
	Dev string // /dev
	// parts caches each disk's partition table.
	parts map[string][]Part
}

// NewScanner returns a Scanner on the running system's /sys and /dev.
func NewScanner() *Scanner { return &Scanner{Sys: "/sys", Dev: "/dev"} }

// Names lists the block devices in sysfs, in name order.
func (s *Scanner) Names() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.Sys, "class", "block"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out, nil
}

// Device looks at block device name: sysfs's size, number and parent,
// its partition table entry, and the file system on it.
func (s *Scanner) Device(name string) Device {
	d := Device{Name: name, Path: filepath.Join(s.Dev, name)}
	sysdir := filepath.Join(s.Sys, "class", "block", name)
	if v, err := readSys(sysdir, "size"); err == nil {
		n, _ := strconv.ParseInt(v, 10, 64)
		d.Size = n * 512
	}
	if v, err := readSys(sysdir, "dev"); err == nil {
		if maj, min, ok := strings.Cut(v, ":"); ok {
			a, _ := strconv.ParseUint(maj, 10, 32)
			b, _ := strconv.ParseUint(min, 10, 32)
			d.Dev = unix.Mkdev(uint32(a), uint32(b))
		}
	}
	if v, err := readSys(sysdir, "partition"); err == nil {
		d.Partition, _ = strconv.Atoi(v)
		if real, err := filepath.EvalSymlinks(sysdir); err == nil {
			d.Parent = filepath.Base(filepath.Dir(real))
		}
	}
	if d.Size == 0 {
		return d // an empty drive, a loop device with nothing behind it
	}
	f, err := os.Open(d.Path)
	if err != nil {
		d.Err = err
		return d
	}
	defer f.Close()
	if d.FS, err = Probe(f); err != nil {
		d.Err = fmt.Errorf("read %s: %w", d.Path, err)
	}
	if d.Parent != "" {
		for _, p := range s.partitions(d.Parent) {
			if p.Number == d.Partition {
				d.PartUUID, d.PartLabel = p.UUID, p.Label
			}
		}
	}
	return d
}

// partitions reads disk's partition table once.
func (s *Scanner) partitions(disk string) []Part {
	if p, ok := s.parts[disk]; ok {
		return p
	}
	if s.parts == nil {
		s.parts = map[string][]Part{}
	}
	var parts []Part
	if f, err := os.Open(filepath.Join(s.Dev, disk)); err == nil {
		parts, _ = Partitions(f)
		f.Close()
	}
	s.parts[disk] = parts
	return parts
}

// All looks at every block device.
func (s *Scanner) All() ([]Device, error) {
	names, err := s.Names()
	var out []Device
	for _, n := range names {
		out = append(out, s.Device(n))
	}
	return out, err
}

func readSys(dir, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	return strings.TrimSpace(string(b)), err
}

// Matches reports whether device d is the one root= spec names:
// /dev/NAME (by name, or by device number when the node exists), UUID=
// and PARTUUID= (hex digits in either case), LABEL= and PARTLABEL=
// (exactly).
func Matches(spec string, d Device) bool {
	key, val, _ := strings.Cut(spec, "=")
	switch key {
	case "UUID":
		return d.FS.UUID != "" && strings.EqualFold(d.FS.UUID, val)
	case "LABEL":
		return d.FS.Label != "" && d.FS.Label == val
	case "PARTUUID":
		return d.PartUUID != "" && strings.EqualFold(d.PartUUID, val)
	case "PARTLABEL":
		return d.PartLabel != "" && d.PartLabel == val
	}
	name, ok := strings.CutPrefix(spec, "/dev/")
	if !ok {
		return false
	}
	if name == d.Name {
		return true
	}
	var st unix.Stat_t
	return d.Dev != 0 && unix.Stat(spec, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK && uint64(st.Rdev) == d.Dev
}

// WriteTable prints devices for a person choosing root=: name, size,
// type, UUID, LABEL, PARTUUID and PARTLABEL, one device a line.
func WriteTable(w io.Writer, devs []Device) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tTYPE\tUUID\tLABEL\tPARTUUID\tPARTLABEL")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, d := range devs {
		t := d.FS.Type
		if d.Err != nil {
			t = "unreadable"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, HumanSize(d.Size), dash(t), dash(d.FS.UUID),
			dash(d.FS.Label), dash(d.PartUUID), dash(d.PartLabel))
	}
	tw.Flush()
}

// HumanSize is a size in binary units, as lsblk prints it.
func HumanSize(n int64) string {
	units := []string{"B", "K", "M", "G", "T", "P"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 || f >= 10 || f == float64(int64(f)) {
		return fmt.Sprintf("%.0f%s", f, units[i])
	}
	return fmt.Sprintf("%.1f%s", f, units[i])
}
