// Package netboot boots from the network (svnetboot): it takes the boot
// file a DHCP lease names (svnetd keeps the leases, netconf.ReadLeases)
// or a URL given instead, fetches it over TFTP or HTTP and reads it as
// u-root's pxeboot does: an iPXE script when it starts with "#!ipxe",
// else the PXELINUX configuration looked up in pxelinux.cfg/ next to it
// (by MAC address, by the leased address in hexadecimal, then
// "default"). The parsers and the TFTP and HTTP clients are u-root's
// (pkg/boot/netboot/ipxe, pkg/boot/netboot/pxe, pkg/curl); FIT images,
// which u-root's netboot also probes, are not read (their package links
// an OpenPGP library a firmware image has no room for). The chosen
// entry's kernel and initrd are fetched into files and handed to a
// Kexec (in svnetboot, pkg/shutdown's Load and RequestKexec: the same
// orderly way down as a reboot, ending in the new kernel).
package netboot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/boot"
	"github.com/u-root/u-root/pkg/boot/netboot/ipxe"
	"github.com/u-root/u-root/pkg/boot/netboot/pxe"
	"github.com/u-root/u-root/pkg/curl"
	"github.com/u-root/u-root/pkg/dhclient"
	"github.com/vishvananda/netlink"

	"github.com/svinit/svinit/pkg/netconf"
)

// A Source is where to look for something to boot: a boot file's URL
// and, for the PXELINUX lookup, the interface's MAC address and leased
// address.
type Source struct {
	Iface string // "" when the URL was given
	URL   *url.URL
	MAC   net.HardwareAddr
	IP    net.IP
}

func (s Source) String() string {
	if s.Iface == "" {
		return s.URL.String()
	}
	return fmt.Sprintf("%s: %s", s.Iface, s.URL)
}

// ErrNoBootFile is Sources' error when no lease names a boot file.
var ErrNoBootFile = errors.New("no DHCP lease names a boot file")

// Sources returns a Source per lease that names a boot file (the file
// name, option 67, or the BOOTP file field; its server, option 66 or
// the BOOTP server name, the next-server address or the DHCP server:
// u-root's dhclient's rules, plus option 66), for the interfaces in ifaces (all when
// empty). mac gives an interface's hardware address (nil: the system's).
func Sources(leases []netconf.Lease, ifaces []string, mac func(iface string) net.HardwareAddr) ([]Source, error) {
	if mac == nil {
		mac = HardwareAddr
	}
	var out []Source
	var why []string
	for _, l := range leases {
		if len(ifaces) > 0 && !slices.Contains(ifaces, l.Iface) {
			continue
		}
		hw := mac(l.Iface)
		link := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: l.Iface, HardwareAddr: hw}}
		p := l.ACK
		if p.ServerHostName == "" && p.TFTPServerName() != "" {
			// Option 66 stands for the BOOTP server name, which is all
			// u-root's dhclient reads.
			c := *p
			c.ServerHostName = p.TFTPServerName()
			p = &c
		}
		u, err := dhclient.NewPacket4(link, p).Boot()
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", l.Iface, err))
			continue
		}
		out = append(out, Source{Iface: l.Iface, URL: u, MAC: hw, IP: l.ACK.YourIPAddr})
	}
	if len(out) == 0 {
		if len(why) == 0 {
			return nil, fmt.Errorf("%w (no lease yet)", ErrNoBootFile)
		}
		return nil, fmt.Errorf("%w (%s)", ErrNoBootFile, strings.Join(why, "; "))
	}
	return out, nil
}

// HardwareAddr is iface's MAC address (nil when it has none).
func HardwareAddr(iface string) net.HardwareAddr {
	i, err := net.InterfaceByName(iface)
	if err != nil {
		return nil
	}
	return i.HardwareAddr
}

// ParseURL reads a boot file URL given by hand: tftp://, http:// or
// file:// (a bare path is tftp's, as in a lease, needing a host).
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("netboot: boot URL %q: %w", s, err)
	}
	switch u.Scheme {
	case "tftp", "http":
		if u.Host == "" {
			return nil, fmt.Errorf("netboot: boot URL %q: no server", s)
		}
	case "file":
	default:
		return nil, fmt.Errorf("netboot: boot URL %q: scheme %q, want tftp, http or file", s, u.Scheme)
	}
	return u, nil
}

// Images fetches the source's boot file and returns what it offers to
// boot, in order: the iPXE script's image, or the PXELINUX
// configuration's entries, its default first. log receives a line per
// step. schemes nil means curl.DefaultSchemes.
func Images(ctx context.Context, schemes curl.Schemes, src Source, log io.Writer) ([]boot.OSImage, error) {
	if schemes == nil {
		schemes = curl.DefaultSchemes
	}
	var errs []string
	img, err := ipxe.ParseConfig(ctx, printer{log}, src.URL, schemes)
	switch {
	case err == nil && img != nil:
		fmt.Fprintf(log, "%s: an iPXE script\n", src)
		return []boot.OSImage{img}, nil
	case errors.Is(err, ipxe.ErrNotIpxeScript):
	case err != nil:
		errs = append(errs, fmt.Sprintf("%s: %v", src.URL, err))
	}
	// PXELINUX: its working directory is the boot file's.
	wd := &url.URL{Scheme: src.URL.Scheme, Host: src.URL.Host, Path: path.Dir(src.URL.Path)}
	imgs, err := pxe.ParseConfig(ctx, wd, src.MAC, src.IP.To4(), schemes)
	if err == nil && len(imgs) > 0 {
		fmt.Fprintf(log, "%s: PXELINUX configuration, %d entries\n", src, len(imgs))
		return imgs, nil
	}
	if err == nil {
		err = errors.New("no entry")
	}
	errs = append(errs, fmt.Sprintf("pxelinux.cfg/ under %s: %v", wd, err))
	return nil, fmt.Errorf("netboot: %s: not an iPXE script, and no PXELINUX configuration: %s", src, strings.Join(errs, "; "))
}

// printer is a ulog.Logger writing lines to w.
type printer struct{ w io.Writer }

func (p printer) Printf(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	io.WriteString(p.w, s)
}

// Choose returns the image labelled label (its label, or the PXELINUX
// entry name shown in it), or the first when label is "".
func Choose(imgs []boot.OSImage, label string) (boot.OSImage, error) {
	if len(imgs) == 0 {
		return nil, errors.New("netboot: nothing to boot")
	}
	if label == "" {
		return imgs[0], nil
	}
	var labels []string
	for _, i := range imgs {
		if i.Label() == label {
			return i, nil
		}
		labels = append(labels, fmt.Sprintf("%q", i.Label()))
	}
	return nil, fmt.Errorf("netboot: no entry labelled %q (have %s)", label, strings.Join(labels, ", "))
}

// Fetched is a Linux image's files on the local file system.
type Fetched struct {
	Kernel, Initrd string // Initrd "" when it has none
	Cmdline        string
	Bytes          int64         // fetched, both files
	Took           time.Duration // fetching them
}

// Fetch writes img's kernel and initrd into dir (files "kernel" and
// "initrd", replaced) and returns them with its command line, append
// added. Only Linux images can be fetched (a multiboot entry is refused).
func Fetch(img boot.OSImage, dir, appendArgs string) (Fetched, error) {
	li, ok := img.(*boot.LinuxImage)
	if !ok {
		return Fetched{}, fmt.Errorf("netboot: %s: not a Linux kernel entry (%T); only Linux kernels are booted", img.Label(), img)
	}
	if li.Kernel == nil {
		return Fetched{}, fmt.Errorf("netboot: %s: the entry names no kernel", img.Label())
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Fetched{}, fmt.Errorf("netboot: %w", err)
	}
	start := time.Now()
	f := Fetched{Cmdline: strings.TrimSpace(li.Cmdline + " " + appendArgs)}
	var err error
	f.Kernel = filepath.Join(dir, "kernel")
	n, err := save(li.Kernel, f.Kernel)
	if err != nil {
		return Fetched{}, fmt.Errorf("netboot: %s: kernel: %w", img.Label(), err)
	}
	f.Bytes += n
	if li.Initrd != nil {
		f.Initrd = filepath.Join(dir, "initrd")
		n, err := save(li.Initrd, f.Initrd)
		if err != nil {
			return Fetched{}, fmt.Errorf("netboot: %s: initrd: %w", img.Label(), err)
		}
		f.Bytes += n
	} else {
		os.Remove(filepath.Join(dir, "initrd"))
	}
	f.Took = time.Since(start)
	return f, nil
}

// save copies r (read from its start to its end) into the file path.
func save(r io.ReaderAt, file string) (int64, error) {
	out, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.NewSectionReader(r, 0, math.MaxInt64))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n == 0 {
		err = errors.New("empty file")
	}
	if err != nil {
		os.Remove(file)
	}
	return n, err
}

// Kexec boots fetched files: Load loads them, Request starts the way
// down that ends in the loaded kernel.
type Kexec struct {
	Load    func(kernel, initrd, cmdline string) error
	Request func() error
}

// Config is what Run needs.
type Config struct {
	// LeaseDir is svnetd's lease directory (svnetd -l); URL, when set,
	// is booted instead of the leases' boot files.
	LeaseDir string
	URL      *url.URL
	// Interfaces limits the leases looked at (all when empty).
	Interfaces []string
	// Label chooses the entry ("": the configuration's default).
	Label string
	// Append is added to the chosen entry's kernel command line.
	Append string
	// Dir is where the kernel and initrd are written (a tmpfs: /run).
	Dir string
	// Retry is the wait before looking again when nothing could be
	// booted (default 5s).
	Retry time.Duration
	// Once makes one attempt and returns its error.
	Once    bool
	Schemes curl.Schemes // default curl.DefaultSchemes
	Kexec   Kexec
	Log     io.Writer
	// MAC gives an interface's hardware address (default HardwareAddr).
	MAC func(iface string) net.HardwareAddr
}

// Run looks for something to boot until it has booted it or ctx ends:
// the sources (the leases' boot files, or the URL), each source's
// images, the chosen one fetched, loaded and the kexec requested. When a
// step fails it says why (once, while the reason stays the same) and
// tries again after Retry: a lease may come, a server may answer. It
// returns nil once the kexec is requested (the caller waits to be
// stopped) and ctx's error when ctx ends first.
func Run(ctx context.Context, c Config) error {
	if c.Retry == 0 {
		c.Retry = 5 * time.Second
	}
	if c.Schemes == nil {
		c.Schemes = curl.DefaultSchemes
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	last := ""
	for {
		err := c.once(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c.Once {
			return err
		}
		if msg := err.Error(); msg != last {
			fmt.Fprintf(c.Log, "%s; trying again every %s\n", msg, c.Retry)
			last = msg
		}
		t := time.NewTimer(c.Retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// once makes one attempt.
func (c *Config) once(ctx context.Context) error {
	var srcs []Source
	if c.URL != nil {
		srcs = []Source{{URL: c.URL}}
	} else {
		leases, err := netconf.ReadLeases(c.LeaseDir)
		if err != nil {
			return err
		}
		if srcs, err = Sources(leases, c.Interfaces, c.MAC); err != nil {
			return err
		}
	}
	var errs []string
	for _, src := range srcs {
		fmt.Fprintf(c.Log, "boot file %s\n", src)
		imgs, err := Images(ctx, c.Schemes, src, c.Log)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		img, err := Choose(imgs, c.Label)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Log, "booting %s\n", img.Label())
		f, err := Fetch(img, c.Dir, c.Append)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Log, "fetched %s (%d bytes) in %s\n", img.Label(), f.Bytes, f.Took.Round(time.Millisecond))
		if err := c.Kexec.Load(f.Kernel, f.Initrd, f.Cmdline); err != nil {
			return err
		}
		fmt.Fprintf(c.Log, "loaded for kexec, command line %q; asking for the kexec\n", f.Cmdline)
		return c.Kexec.Request()
	}
	return errors.New(strings.Join(errs, "; "))
}
