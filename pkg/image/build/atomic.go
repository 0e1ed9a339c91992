package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// AtomicFile is a file being written under a temporary name next to its
// final path: Commit renames it into place, Abort removes it. Until Commit
// the final path is untouched.
type AtomicFile struct {
	f    *os.File
	path string
	done bool
}

// CreateAtomic checks that path can be written (it is not a directory; its
// directory exists or can be made) and opens the temporary file that will
// become it. Callers defer Abort, which does nothing after a Commit.
func CreateAtomic(path string) (*AtomicFile, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory: name the image file", path)
	}
	if path == "" || os.IsPathSeparator(path[len(path)-1]) {
		return nil, fmt.Errorf("%q: is a directory: name the image file", path)
	}
	dir, base := filepath.Dir(path), filepath.Base(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("cannot create a file next to %s: %w", path, err)
	}
	return &AtomicFile{f: f, path: path}, nil
}

// Write writes to the temporary file.
func (a *AtomicFile) Write(b []byte) (int, error) { return a.f.Write(b) }

// Commit gives the file its permissions, syncs it and renames it over the
// final path, then syncs the directory. On error the temporary file is
// removed.
func (a *AtomicFile) Commit(perm os.FileMode) (err error) {
	if a.done {
		return errors.New(a.path + ": already committed or aborted")
	}
	defer func() {
		if err != nil {
			a.Abort()
		}
	}()
	if err = a.f.Chmod(perm); err != nil {
		return err
	}
	if err = a.f.Sync(); err != nil {
		return fmt.Errorf("%s: sync: %w", a.f.Name(), err)
	}
	if err = a.f.Close(); err != nil {
		return err
	}
	if err = os.Rename(a.f.Name(), a.path); err != nil {
		return err
	}
	a.done = true
	if d, derr := os.Open(filepath.Dir(a.path)); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort removes the temporary file (if not committed yet).
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	os.Remove(a.f.Name())
}

// WriteAtomic creates path with the bytes fill writes: into a temporary
// file in the same directory, synced, then renamed over path, so that path
// is either untouched or complete. On any error (including one returned by
// fill, e.g. after an interruption) the temporary file is removed.
func WriteAtomic(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	a, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	defer a.Abort()
	if err := fill(a); err != nil {
		return err
	}
	return a.Commit(perm)
}
