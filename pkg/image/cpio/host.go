package cpio

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// AddTree adds the host tree src at dst in the image: directories, regular
// files, symlinks and FIFOs with their permission bits (setuid/setgid/sticky
// included, group and other write permission dropped); ownership becomes
// root. Anything else is an error. Regular files are added by reference
// (Entry.Host): their contents are read when the archive is written.
func (a *Archive) AddTree(src, dst, part string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := path.Join(dst, filepath.ToSlash(rel))
		return a.AddHostFile(p, name, part)
	})
}

// AddHostFile adds one host file (not following a final symlink); a
// regular file's contents are read when the archive is written.
func (a *Archive) AddHostFile(src, name, part string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	// Drop group and other write permission, so the image does not
	// depend on the umask of the checkout it was built from.
	perm := uint32(st.Mode().Perm()) &^ 0o022
	if st.Mode()&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if st.Mode()&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if st.Mode()&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	e := &Entry{Name: name, Part: part, Src: src}
	switch {
	case st.IsDir():
		e.Mode = TypeDir | perm
	case st.Mode().IsRegular():
		e.Mode, e.Host, e.HostSize = TypeRegular|perm, src, st.Size()
	case st.Mode()&fs.ModeSymlink != 0:
		l, err := os.Readlink(src)
		if err != nil {
			return err
		}
		e.Mode, e.Link = TypeSymlink|0o777, l
	case st.Mode()&fs.ModeNamedPipe != 0:
		e.Mode = TypeFIFO | perm
	default:
		return fmt.Errorf("%s: unsupported file type %v (only directories, regular files, symlinks and FIFOs)", src, st.Mode().Type())
	}
	return a.Add(e)
}
