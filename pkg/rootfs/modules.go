package rootfs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/kmod"
)

// LoadFSModule makes file system type fstype available to mount(2): a
// type the kernel lists in procFilesystems needs nothing; otherwise the
// module the tree under modRoot (/lib/modules) names for the alias
// fs-TYPE is loaded with its dependencies, as the kernel's own
// request_module("fs-TYPE") would through modprobe.
func LoadFSModule(fstype, procFilesystems, modRoot, sysRoot string) error {
	if have, err := hasFS(procFilesystems, fstype); err == nil && have {
		return nil
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return err
	}
	root := filepath.Join(modRoot, unix.ByteSliceToString(u.Release[:]))
	idx, err := kmod.LoadIndex(root)
	if err != nil {
		return fmt.Errorf("no module index: %w", err)
	}
	alias := "fs-" + fstype
	if len(idx.Lookup(alias)) == 0 {
		return fmt.Errorf("no module for %s in %s (add it to the image's modules)", alias, root)
	}
	loaded, _ := kmod.ProcModules("/proc/modules")
	l := kmod.NewLoader(idx, kmod.LoaderOptions{Loaded: loaded, IsLoaded: kmod.SysfsLoaded(sysRoot)})
	return l.LoadAlias(alias, "")
}

// hasFS reports whether /proc/filesystems lists fstype.
func hasFS(path, fstype string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && fields[len(fields)-1] == fstype {
			return true, nil
		}
	}
	return false, sc.Err()
}
