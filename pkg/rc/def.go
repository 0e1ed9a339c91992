// Package rc is svrc's engine: s6-rc's service model read straight from
// s6-rc-compile's source format, without a compile step.
//
//   - def.go reads one definition directory per service (type,
//     dependencies, contents, timeouts, scripts, pipeline files);
//   - db.go checks a set of definitions and builds the dependency graph
//     (bundles flattened, cycles printed, pipelines verified);
//   - graph.go and plan.go compute closures, parallel layers and the
//     transitions that bring a selection up or down;
//   - live.go, longrun.go, oneshot.go and exec.go carry a plan out against
//     a running scanner, through the scan directory's on-disk interface.
package rc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
)

// Type is the kind of a service.
type Type int

// The three kinds of services of s6-rc.
const (
	Oneshot Type = iota + 1
	Longrun
	Bundle
)

func (t Type) String() string {
	switch t {
	case Oneshot:
		return "oneshot"
	case Longrun:
		return "longrun"
	case Bundle:
		return "bundle"
	}
	return "unknown"
}

// Files of a definition directory this package reads.
const (
	FileType         = "type"
	FileDeps         = "dependencies"
	FileContents     = "contents"
	FileTimeoutUp    = "timeout-up"
	FileTimeoutDown  = "timeout-down"
	FileEssential    = "flag-essential"
	FileRecommended  = "flag-recommended"
	FileUp           = "up"
	FileDown         = "down"
	FileProducerFor  = "producer-for"
	FileConsumerFor  = "consumer-for"
	FilePipelineName = "pipeline-name"
)

// LongrunFiles are the files of a longrun definition copied into its
// service directory; LongrunDirs the subdirectories copied verbatim.
var (
	LongrunFiles = append([]string{servicedir.Run, servicedir.Finish, servicedir.NotificationFd,
		servicedir.LockFd, servicedir.TimeoutKill, servicedir.TimeoutFinish,
		servicedir.MaxDeathTally, servicedir.DownSignal}, servicedir.CgroupFiles...)
	LongrunDirs = []string{"data", "env", "instance", "instances"}
)

// ReservedPrefixes may not start a service name: svrc's own services in
// the scan directory use the first; s6-rc reserves the others.
var ReservedPrefixes = []string{"svrc-", "s6rc-", "s6-rc-"}

// maxScript bounds an up or down script (s6-rc keeps them in memory too).
const maxScript = 1 << 20

// Service is one service definition.
type Service struct {
	Name string
	Dir  string // the definition directory
	Type Type
	// Deps are the direct dependencies as written (atomic services or
	// bundles); Contents the members of a bundle.
	Deps     []string
	Contents []string
	// DepsFile and ContentsFile name where they were read from, for
	// messages.
	DepsFile, ContentsFile string
	TimeoutUp, TimeoutDown time.Duration
	Essential              bool
	// Longruns.
	ProducerFor    string
	ConsumerFor    []string
	PipelineName   string
	NotificationFd bool
	// Oneshots: the up and down scripts, execlineb command lines.
	Up, Down []byte
}

// Problem is one thing wrong with a set of definitions: the file it is
// in, and what to do.
type Problem struct {
	File string
	Msg  string
}

func (p Problem) Error() string { return p.File + ": " + p.Msg }

// Problems is a list of problems; as an error it prints one a line.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Error()
	}
	return strings.Join(s, "\n")
}

// ReadDir reads every service definition under dir, in name order:
// every subdirectory whose name does not start with a dot. A problem
// with one definition does not stop the others from being read.
func ReadDir(dir string) ([]*Service, Problems) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, Problems{{dir, fmt.Sprintf("cannot list the definitions: %v (give an existing directory with -c)", unwrapPath(err))}}
	}
	var svcs []*Service
	var probs Problems
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(dir, name)
		if !e.IsDir() {
			if e.Type()&fs.ModeSymlink == 0 {
				continue
			}
			if st, err := os.Stat(p); err != nil || !st.IsDir() {
				continue
			}
		}
		s, ps := Read(p)
		probs = append(probs, ps...)
		if s != nil {
			svcs = append(svcs, s)
		}
	}
	return svcs, probs
}

// Read reads the definition directory dir; the service is named after
// it. It returns nil only when the type cannot be known.
func Read(dir string) (*Service, Problems) {
	s := &Service{Name: filepath.Base(dir), Dir: dir}
	var probs Problems
	bad := func(file, format string, a ...any) {
		probs = append(probs, Problem{filepath.Join(dir, file), fmt.Sprintf(format, a...)})
	}
	for _, pre := range ReservedPrefixes {
		if strings.HasPrefix(s.Name, pre) {
			bad("", "the prefix %q is reserved: rename the directory", pre)
		}
	}
	if strings.Contains(s.Name, "\n") {
		bad("", "a service name cannot hold a newline: rename the directory")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		bad("", "cannot list the definition: %v", unwrapPath(err))
		return nil, probs
	}
	has := map[string]fs.DirEntry{}
	for _, e := range ents {
		has[e.Name()] = e
	}
	t, err := readFile(dir, FileType, 64)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		bad(FileType, "missing: write oneshot, longrun or bundle in it")
		return nil, probs
	case err != nil:
		bad(FileType, "%v", err)
		return nil, probs
	}
	switch word := strings.TrimSpace(string(t)); word {
	case "oneshot":
		s.Type = Oneshot
	case "longrun":
		s.Type = Longrun
	case "bundle":
		s.Type = Bundle
	default:
		hint := ""
		if n := nearest(word, []string{"oneshot", "longrun", "bundle"}); n != "" {
			hint = fmt.Sprintf(" (did you mean %s?)", n)
		}
		bad(FileType, "unknown type %q%s: write oneshot, longrun or bundle", word, hint)
		return nil, probs
	}
	_, s.Essential = has[FileEssential]
	if s.Type == Bundle {
		s.Contents, s.ContentsFile, err = readNames(dir, FileContents, has)
		if err != nil {
			bad(s.ContentsFile, "%v", err)
		}
		if s.ContentsFile == "" {
			bad(FileContents+".d", "missing: a bundle lists its members in contents.d/ (one empty file per member)")
		}
		for _, f := range []string{FileDeps + ".d", FileUp, servicedir.Run} {
			if _, ok := has[f]; ok {
				bad(f, "ignored: a bundle has no %s (list the members in contents.d/ instead)", f)
			}
		}
		return s, probs
	}
	s.Deps, s.DepsFile, err = readNames(dir, FileDeps, has)
	if err != nil {
		bad(s.DepsFile, "%v", err)
	}
	if _, ok := has[FileTimeoutUp]; ok {
		s.TimeoutUp = readTimeout(dir, FileTimeoutUp, bad)
	}
	if _, ok := has[FileTimeoutDown]; ok {
		s.TimeoutDown = readTimeout(dir, FileTimeoutDown, bad)
	}
	if s.Type == Oneshot {
		s.Up = readScript(dir, FileUp, true, bad)
		if _, ok := has[FileDown]; ok {
			s.Down = readScript(dir, FileDown, false, bad)
		}
		if _, ok := has[servicedir.Run]; ok {
			bad(servicedir.Run, "ignored: a oneshot runs up and down, not run (write type longrun for a daemon)")
		}
		return s, probs
	}
	readLongrun(s, has, bad)
	return s, probs
}

func readLongrun(s *Service, has map[string]fs.DirEntry, bad func(string, string, ...any)) {
	dir := s.Dir
	if _, ok := has[servicedir.Run]; !ok {
		bad(servicedir.Run, "missing: a longrun needs an executable run file")
	} else if err := servicedir.CheckExecutable(filepath.Join(dir, servicedir.Run)); err != nil {
		bad(servicedir.Run, "%v (chmod +x it)", err)
	}
	if f, ok := has[servicedir.Finish]; ok && !f.IsDir() {
		if err := servicedir.CheckExecutable(filepath.Join(dir, servicedir.Finish)); err != nil {
			bad(servicedir.Finish, "%v (chmod +x it)", err)
		}
	}
	if _, ok := has[FileUp]; ok {
		bad(FileUp, "ignored: a longrun has run, not up (write type oneshot for a one-time job)")
	}
	if _, ok := has[servicedir.Log]; ok {
		bad(servicedir.Log, "ignored: define the logger as its own longrun with consumer-for, and producer-for here")
	}
	if _, ok := has[servicedir.NotificationFd]; ok {
		b, err := readFile(dir, servicedir.NotificationFd, 64)
		if err != nil {
			bad(servicedir.NotificationFd, "%v", err)
		} else if _, ok := servicedir.ParseUint(strings.TrimSpace(string(b))); !ok {
			bad(servicedir.NotificationFd, "%q is not a descriptor number: write digits only, e.g. 3", strings.TrimSpace(string(b)))
		} else {
			s.NotificationFd = true
		}
	}
	for _, f := range []string{servicedir.TimeoutKill, servicedir.TimeoutFinish, servicedir.MaxDeathTally, servicedir.LockFd} {
		if _, ok := has[f]; ok {
			if b, err := readFile(dir, f, 64); err != nil {
				bad(f, "%v", err)
			} else if _, ok := servicedir.ParseUint(strings.TrimSpace(string(b))); !ok {
				bad(f, "%q is not a number: write digits only", strings.TrimSpace(string(b)))
			}
		}
	}
	if _, ok := has[FileProducerFor]; ok {
		names, _, err := readNames(dir, FileProducerFor, nil)
		switch {
		case err != nil:
			bad(FileProducerFor, "%v", err)
		case len(names) != 1:
			bad(FileProducerFor, "holds %d names: a producer feeds exactly one consumer", len(names))
		default:
			s.ProducerFor = names[0]
		}
	}
	if _, ok := has[FileConsumerFor]; ok {
		var err error
		if s.ConsumerFor, _, err = readNames(dir, FileConsumerFor, nil); err != nil {
			bad(FileConsumerFor, "%v", err)
		}
	}
	if _, ok := has[FilePipelineName]; ok {
		names, _, err := readNames(dir, FilePipelineName, nil)
		if err != nil || len(names) != 1 {
			bad(FilePipelineName, "must hold one name, the pipeline's bundle")
		} else {
			s.PipelineName = names[0]
		}
	}
}

// readNames reads a list of names from base.d/ (one entry per name) or,
// failing that, from the file base (one per line, leading blanks and
// #-comments ignored). It returns the file it used ("" for neither).
// With has nil only the file is read.
func readNames(dir, base string, has map[string]fs.DirEntry) ([]string, string, error) {
	if has != nil {
		if e, ok := has[base+".d"]; ok {
			file := base + ".d"
			if !e.IsDir() {
				return nil, file, fmt.Errorf("not a directory: make it a directory of empty files, one per name")
			}
			ents, err := os.ReadDir(filepath.Join(dir, file))
			if err != nil {
				return nil, file, fmt.Errorf("cannot list: %v", unwrapPath(err))
			}
			var names []string
			for _, e := range ents {
				if !strings.HasPrefix(e.Name(), ".") {
					names = append(names, e.Name())
				}
			}
			return names, file, nil
		}
		if _, ok := has[base]; !ok {
			return nil, "", nil
		}
	}
	b, err := readFile(dir, base, maxScript)
	if err != nil {
		return nil, base, err
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimLeft(line, " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		names = append(names, line)
	}
	return names, base, nil
}

// readTimeout reads a timeout file: milliseconds, 0 or absent for none.
func readTimeout(dir, file string, bad func(string, string, ...any)) time.Duration {
	b, err := readFile(dir, file, 64)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		bad(file, "%v", err)
		return 0
	}
	word := strings.TrimSpace(string(b))
	n, ok := servicedir.ParseUint(word)
	if !ok {
		bad(file, "%q is not a number of milliseconds: write digits only, e.g. 5000 (0 waits forever)", word)
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// readScript reads an up or down script.
func readScript(dir, file string, required bool, bad func(string, string, ...any)) []byte {
	b, err := readFile(dir, file, maxScript)
	if errors.Is(err, fs.ErrNotExist) {
		if required {
			bad(file, "missing: a oneshot needs an up script (an execlineb command line)")
		}
		return nil
	}
	if err != nil {
		bad(file, "%v", err)
	}
	return b
}

// readFile reads a small regular file without blocking on a FIFO, in
// raw system calls (svrc reads a few files of every definition on
// every run).
func readFile(dir, name string, max int) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(filepath.Join(dir, name), syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		if err == syscall.ENOENT {
			return nil, fs.ErrNotExist
		}
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, fmt.Errorf("not a regular file: replace it with one")
	}
	if st.Size > int64(max) {
		return nil, fmt.Errorf("too big (%d bytes, at most %d)", st.Size, max)
	}
	b := make([]byte, st.Size)
	n := 0
	for n < len(b) {
		k, err := syscall.Read(fd, b[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if k == 0 {
			break
		}
		n += k
	}
	return b[:n], nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, fs.ErrNotExist) {
			return fs.ErrNotExist
		}
		return pe.Err
	}
	return err
}
