package rootfs

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RemoveStats says what RemoveContents deleted.
type RemoveStats struct {
	Files int   // files and directories deleted
	Freed int64 // bytes of file data deleted (regular files with one link)
}

// A victim is a file RemoveContents deletes: a name in an open
// directory.
type victim struct {
	dir  int
	name string
	reg  bool // a regular file: its size counts in Freed
}

// A subdir is a directory to delete once it is empty.
type subdir struct {
	parent int
	name   string
	fd     int
}

// RemoveContents deletes everything directory dir holds, staying on
// device dev: a directory on another device (a mount point) is neither
// entered nor deleted. It reads directories with getdents(2) and uses
// the type the directory entry gives, so only regular files are
// stat'ed (for their size) and only directories opened; files are
// deleted by up to workers goroutines at once (0: GOMAXPROCS), as
// freeing the pages of a RAM file system is most of the work and each
// CPU can free its own. Failures are skipped (a busy mount point):
// freeing memory is best effort, as with switch_root. The caller keeps
// dir.
func RemoveContents(dir int, dev uint64, workers int) RemoveStats {
	w := walker{dev: dev, buf: make([]byte, 16<<10)}
	w.walk(dir)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, max(len(w.files), 1))
	var (
		next  atomic.Int64
		files atomic.Int64
		freed atomic.Int64
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(w.files) {
					return
				}
				v := w.files[i]
				var size int64
				if v.reg {
					var st unix.Stat_t
					if unix.Fstatat(v.dir, v.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Nlink <= 1 {
						size = st.Size
					}
				}
				if unix.Unlinkat(v.dir, v.name, 0) == nil {
					files.Add(1)
					freed.Add(size)
				}
			}
		}()
	}
	wg.Wait()
	n := int(files.Load())
	// Directories last, deepest first (the walk lists each after its
	// contents).
	for _, d := range w.dirs {
		unix.Close(d.fd)
		if unix.Unlinkat(d.parent, d.name, unix.AT_REMOVEDIR) == nil {
			n++
		}
	}
	return RemoveStats{Files: n, Freed: freed.Load()}
}

// walker lists what RemoveContents deletes.
type walker struct {
	dev   uint64
	buf   []byte
	files []victim
	dirs  []subdir
}

// walk lists directory fd's entries, the contents of its
// subdirectories on the same device before the subdirectories
// themselves.
func (w *walker) walk(fd int) {
	for {
		n, err := unix.Getdents(fd, w.buf)
		if err != nil || n <= 0 {
			return
		}
		// Names are copied out of buf: a subdirectory's walk reuses it.
		var subs []string
		for off := 0; off+19 <= n; {
			// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name.
			reclen := int(*(*uint16)(unsafe.Pointer(&w.buf[off+16])))
			if reclen == 0 || off+reclen > n {
				break
			}
			typ := w.buf[off+18]
			name := cstring(w.buf[off+19 : off+reclen])
			off += reclen
			if name == "." || name == ".." {
				continue
			}
			if typ == unix.DT_UNKNOWN {
				var st unix.Stat_t
				if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
					continue
				}
				typ = dtype(st.Mode)
			}
			switch typ {
			case unix.DT_DIR:
				subs = append(subs, name)
			default:
				w.files = append(w.files, victim{dir: fd, name: name, reg: typ == unix.DT_REG})
			}
		}
		for _, name := range subs {
			sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			var st unix.Stat_t
			if unix.Fstat(sub, &st) != nil || uint64(st.Dev) != w.dev {
				unix.Close(sub) // a mount point: not ours
				continue
			}
			w.walk(sub)
			w.dirs = append(w.dirs, subdir{parent: fd, name: name, fd: sub})
		}
	}
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func dtype(mode uint32) byte {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFREG:
		return unix.DT_REG
	case unix.S_IFLNK:
		return unix.DT_LNK
	}
	return unix.DT_UNKNOWN // deleted like any non-directory
}
