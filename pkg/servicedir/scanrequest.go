package servicedir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Requests to a scanner that carry an argument (svscanctl -R, -E): the
// argument is in a file of .s6-svscan, written atomically before the
// letter is sent; the scanner reads and removes it when it acts on the
// letter. (svinit's; s6-svscan has neither.)
const (
	ScanRootRequest = "svinit-root" // letter R: the new root, an absolute path
	ScanExecRequest = "svinit-exec" // letter U: the program to exec (absent: the running one)
)

// WriteScanRequest writes arg, one absolute path, into scandir's
// .s6-svscan/name atomically (a temporary file renamed); an empty arg
// removes the file.
func WriteScanRequest(scandir, name, arg string) error {
	p := filepath.Join(scandir, ScanDir, name)
	if arg == "" {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	if !filepath.IsAbs(arg) || strings.ContainsAny(arg, "\x00\n") {
		return fmt.Errorf("%q: want an absolute path on one line", arg)
	}
	tmp := fmt.Sprintf("%s.%d.new", p, os.Getpid())
	if err := os.WriteFile(tmp, []byte(arg+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// ReadScanRequest reads and removes scandir's .s6-svscan/name (the
// scanner's side); ok is false when there is none.
func ReadScanRequest(scandir, name string) (arg string, ok bool, err error) {
	p := filepath.Join(scandir, ScanDir, name)
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	os.Remove(p)
	arg = strings.TrimSuffix(string(b), "\n")
	if !filepath.IsAbs(arg) || strings.ContainsAny(arg, "\x00\n") {
		return "", false, fmt.Errorf("%s: want one absolute path on one line, got %q", p, b)
	}
	return arg, true, nil
}
