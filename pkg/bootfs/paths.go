// Package bootfs is svinit's boot contract, the root file system as
// data: the paths of the image layout that the image generator lays out
// and stage 1, stage 2 and the way down use at run time, the file
// systems stage 1 mounts, svinit's kernel command-line parameters, and
// the kernel's mount table. It is the one home of each: the generator
// (pkg/image), stage 1 (pkg/stage1) and shutdown (pkg/shutdown) import
// it and define none of these themselves.
//
// Paths are absolute, as seen on the running system; the generator,
// which names archive entries without the leading slash, uses Rel.
package bootfs

import (
	"path/filepath"
	"strings"
)

// Paths in the image, put there by the generator (see docs/boot.md).
const (
	// Init is stage 1, the program the kernel runs from the initramfs.
	Init = "/init"
	// Svscan is the scanner stage 1 execs as process 1.
	Svscan = "/bin/svscan"
	// SeedScandir is the scan directory as the image carries it: the
	// early services and the scanner's .s6-svscan hooks. Stage 1 copies
	// it to Scandir.
	SeedScandir = "/etc/svinit/scandir"
	// ServicesDir holds the other services, which stage 2 copies into
	// Scandir.
	ServicesDir = "/etc/svinit/services"
	// Stage2 is the default stage-2 program (svinit.stage2= names
	// another).
	Stage2 = "/etc/svinit/stage2"
	// ShutdownHook is the image's shutdown hook, run with the action
	// as its argument (optional).
	ShutdownHook = "/etc/svinit/shutdown"
	// CmdlineFile holds the image's default kernel parameters, one line
	// (optional); see ReadCmdline.
	CmdlineFile = "/etc/svinit/cmdline"
	// HostnameFile holds the host name (optional).
	HostnameFile = "/etc/hostname"
	// Console is the console device; the image carries the node (5:1)
	// because the kernel opens it for init before anything is mounted.
	Console = "/dev/console"
	// DefaultPath is PATH for stage 2 and the services: the image's
	// command directories (/sbin is a link to /bin).
	DefaultPath = "/bin:/sbin:/bbin"
)

// Paths made at run time.
const (
	// Scandir is the scan directory svscan runs on.
	Scandir = "/run/service"
	// CatchAllLogger is the name of the catch-all logger's service, in
	// SeedScandir and Scandir: the service that reads LoggerFIFO, where
	// process 1's stdout and stderr (and every service's without a
	// log/ of its own) go. As s6-svscan treats "s6-svscan-log", the
	// scanner recognises the catch-all logger by this name.
	CatchAllLogger = "svscan-log"
	// LoggerService is the catch-all logger's service directory.
	LoggerService = Scandir + "/" + CatchAllLogger
	// LoggerFIFO is the catch-all logger's FIFO, created by stage 1
	// (mode 0600).
	LoggerFIFO = LoggerService + "/fifo"
	// CatchAllLogDir is the catch-all logger's log directory (named in
	// templates/svscan-log/run; svlog creates it).
	CatchAllLogDir = "/run/uncaught-logs"
	// StateDir holds svinit's own run-time state.
	StateDir = "/run/svinit"
	// ShutdownRecord is the requested shutdown action, written by
	// svinit-shutdown and read by svinit-final.
	ShutdownRecord = StateDir + "/shutdown"
)

// Kernel interfaces svinit reads.
const (
	ProcCmdline = "/proc/cmdline"
	ProcMounts  = "/proc/mounts"
)

// Rel returns the absolute path p as an image archive names it: without
// the leading slash ("/etc/svinit/stage2" gives "etc/svinit/stage2").
func Rel(p string) string { return strings.TrimPrefix(filepath.Clean(p), "/") }

// Under returns the absolute path p under root: p itself when root is
// "" or "/" (the running system), root/p otherwise (a tree laid out for
// a test, a root file system mounted elsewhere).
func Under(root, p string) string {
	if root == "" || root == "/" {
		return p
	}
	return filepath.Join(root, p)
}
