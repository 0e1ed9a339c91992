package bootmenu

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"runtime"

	"github.com/u-root/u-root/pkg/boot"
)

// LocalFiles returns the paths of a Linux entry's kernel and initrd
// ("" for none) when both are plain files of a mounted file system and
// the kernel needs no unpacking, so kexec_file_load can read them where
// they are. ok is false otherwise (a gzip'd kernel, a device tree, an
// arm64 PE image, a file that is not local): u-root's LinuxImage.Load,
// which copies them to /tmp first, is then the way to load the entry.
func LocalFiles(e Entry) (kernel, initrd string, ok bool) {
	li, isLinux := e.Image.(*boot.LinuxImage)
	if !isLinux || li.DTB != nil || li.LoadSyscall || runtime.GOARCH == "arm64" {
		return "", "", false
	}
	if kernel = localPath(li.Kernel); kernel == "" || gzipped(kernel) {
		return "", "", false
	}
	if li.Initrd != nil {
		if initrd = localPath(li.Initrd); initrd == "" {
			return "", "", false
		}
	}
	return kernel, initrd, true
}

// localPath is the path of r when it is an open file (the BLS parser's)
// or a file: URL (the GRUB and syslinux parsers' lazy files).
func localPath(r io.ReaderAt) string {
	switch f := r.(type) {
	case *os.File:
		return f.Name()
	case interface{ URL() *url.URL }:
		if u := f.URL(); u != nil && u.Scheme == "file" {
			return u.Path
		}
	}
	return ""
}

// gzipped reports whether the file starts with gzip's magic (or cannot
// be read: then u-root's loader says why).
func gzipped(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	b := make([]byte, 2)
	if _, err := io.ReadFull(f, b); err != nil {
		return true
	}
	return bytes.Equal(b, []byte{0x1f, 0x8b})
}
