// Package svlog implements an s6-log compatible logger: a logging script
// of selection, control and action directives, line processing with
// TAI64N/ISO 8601 timestamps and prefixes, and log directories with
// automatic rotation laid out exactly as s6-log lays them out.
package svlog

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Defaults and limits of the control directives, as s6-log 2.11 has them.
const (
	DefaultArchives   = 10    // nN
	DefaultFileSize   = 99999 // sN
	MinFileSize       = 4096  // sN lower clamp
	MaxFileSize       = 268435455
	DefaultTolerance  = 2000 // lN
	DefaultRetry      = 2000 * time.Millisecond
	DefaultAlertSize  = 200  // EN
	DefaultStatusSize = 1001 // ^N
	DefaultLineLimit  = 8192 // -l
	MinLineLimit      = 48
)

// SelKind is the kind of a selection directive.
type SelKind uint8

// Selection directive kinds.
const (
	SelDefault SelKind = iota // f
	SelPlus                   // +regexp
	SelMinus                  // -regexp
)

// Selection is one selection directive.
type Selection struct {
	Kind SelKind
	Re   *regexp.Regexp // nil for SelDefault
	Src  string         // the regexp as written
}

// ActKind is the kind of an action directive.
type ActKind uint8

// Action directive kinds.
const (
	ActNothing ActKind = iota // a disabled stdout action
	ActStdout                 // 1
	ActAlert                  // 2
	ActStatus                 // =file
	ActDir                    // /dir or ./dir
)

// Action is one action directive with the control settings in force
// when it was given.
type Action struct {
	Kind   ActKind
	TAI    bool   // t: prefix a TAI64N label and a space
	ISO    bool   // T: prefix a local ISO 8601 time and two spaces
	Prefix string // p: prefix (followed by a space), empty for none
	HasPfx bool
	Size   int    // E for alerts, ^ for status files (0: unlimited)
	File   string // status file
	Dir    int    // index into Script.Dirs
}

// DirConfig is a log directory and the control settings it got.
type DirConfig struct {
	Path      string
	Archives  uint32        // n
	FileSize  uint32        // s
	Tolerance uint32        // l
	TotalSize uint64        // S (0: unlimited)
	Retry     time.Duration // r
	Processor string        // ! or ? (empty: none)
	Shell     bool          // processor given with ?: always /bin/sh -c
}

// Element is a run of selection directives followed by the actions
// they govern.
type Element struct {
	Sels []Selection
	Acts []Action
}

// Script is a compiled logging script.
type Script struct {
	Elems    []Element
	Dirs     []DirConfig
	Warnings []string
	// Stamp flags: whether any action needs a TAI64N or ISO 8601 time.
	NeedTAI, NeedISO bool
}

// SyntaxError is a logging script error; commands exit 100 on it.
type SyntaxError struct{ Msg string }

func (e *SyntaxError) Error() string { return e.Msg }

func syntaxf(format string, a ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, a...)}
}

// scanUint parses a directive's number: decimal digits only, all of
// them (s6-log 2.11 rejects "n5x", "n+5", "n 5"), at least one, and a
// value that fits in bits bits.
func scanUint(s string, bits int) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, false
	}
	return v, true
}

// Parse compiles a logging script given as a list of directives.
// Regular expressions are compiled with Go's POSIX ERE syntax
// (regexp.CompilePOSIX).
func Parse(args []string) (*Script, error) {
	sc := &Script{}
	var (
		sels      []Selection
		acts      []Action
		acted     bool
		archives  uint32 = DefaultArchives
		fileSize  uint32 = DefaultFileSize
		tolerance uint32 = DefaultTolerance
		totalSize uint64
		retry     = DefaultRetry
		alertSize = DefaultAlertSize
		statSize  = DefaultStatusSize
		prefix    string
		hasPfx    bool
		processor string
		shell     bool
		tai, iso  bool
		pending   bool // control directives after the last action
	)
	flushElem := func() {
		sc.Elems = append(sc.Elems, Element{Sels: sels, Acts: acts})
		sels, acts = nil, nil
	}
	addAct := func(a Action) {
		a.TAI, a.ISO, a.Prefix, a.HasPfx = tai, iso, prefix, hasPfx
		sc.NeedTAI = sc.NeedTAI || tai
		sc.NeedISO = sc.NeedISO || iso
		tai, iso = false, false
		acts = append(acts, a)
		acted = true
		pending = false
	}
	for _, d := range args {
		if d == "" {
			return nil, syntaxf("unrecognized directive: (empty)")
		}
		rest := d[1:]
		switch d[0] {
		case 'f', '+', '-':
			var sel Selection
			switch d[0] {
			case 'f':
				if rest != "" {
					return nil, syntaxf("syntax error at directive: %s", d)
				}
				sel.Kind = SelDefault
			default:
				re, err := regexp.CompilePOSIX(rest)
				if err != nil {
					return nil, syntaxf("unrecognized directive: %s: invalid regular expression: %v", d, err)
				}
				sel.Kind, sel.Re, sel.Src = SelPlus, re, rest
				if d[0] == '-' {
					sel.Kind = SelMinus
				}
			}
			if acted {
				flushElem()
				acted = false
			}
			sels = append(sels, sel)
			pending = true
		case 'n':
			v, ok := scanUint(rest, 32)
			if !ok {
				return nil, syntaxf("unrecognized directive: %s", d)
			}
			archives = uint32(v)
			pending = true
		case 's':
			v, ok := scanUint(rest, 32)
			if !ok {
				return nil, syntaxf("unrecognized directive: %s", d)
			}
			v = min(max(v, MinFileSize), MaxFileSize)
			fileSize = uint32(v)
			pending = true
		case 'S':
			v, ok := scanUint(rest, 64)
			if !ok {
				return nil, syntaxf("unrecognized directive: %s", d)
			}
			totalSize = v
			pending = true
		case 'l':
			v, ok := scanUint(rest, 32)
			if !ok {
				return nil, syntaxf("unrecognized directive: %s", d)
			}
			if v > uint64(fileSize>>1) {
				return nil, syntaxf("directive %s conflicts with previous s directive (tolerance cannot exceed half the file size %d)", d, fileSize)
			}
			tolerance = uint32(v)
			pending = true
		case 'r':
			v, ok := scanUint(rest, 31) // s6-log's limit: 2147483647 ms
			if !ok {
				return nil, syntaxf("unrecognized directive: %s", d)
			}
			retry = time.Duration(v) * time.Millisecond
			pending = true
		case 'E', '^':
			v, ok := scanUint(rest, 32)
			if !ok {
				return nil, syntaxf("unrecognized directive: %s", d)
			}
			v = min(v, 1<<31-1) // no line is that long; int may be 32 bits
			if d[0] == 'E' {
				alertSize = int(v)
			} else {
				statSize = int(v)
			}
			pending = true
		case 'p':
			prefix, hasPfx = rest, rest != ""
			pending = true
		case '!', '?':
			processor, shell = rest, d[0] == '?'
			pending = true
		case 't', 'T':
			if rest != "" {
				return nil, syntaxf("syntax error at directive: %s", d)
			}
			if d[0] == 't' {
				tai = true
			} else {
				iso = true
			}
			pending = true
		case '1', '2':
			if rest != "" {
				return nil, syntaxf("syntax error at directive: %s", d)
			}
			if d[0] == '1' {
				addAct(Action{Kind: ActStdout})
			} else {
				addAct(Action{Kind: ActAlert, Size: alertSize})
			}
		case '=':
			if rest == "" {
				return nil, syntaxf("syntax error at directive: %s", d)
			}
			addAct(Action{Kind: ActStatus, File: rest, Size: statSize})
		case '.', '/':
			for _, o := range sc.Dirs {
				if cleanPath(o.Path) == cleanPath(d) {
					return nil, syntaxf("directive %s names the log directory %s again", d, o.Path)
				}
			}
			sc.Dirs = append(sc.Dirs, DirConfig{
				Path: d, Archives: archives, FileSize: fileSize, Tolerance: tolerance,
				TotalSize: totalSize, Retry: retry, Processor: processor, Shell: shell,
			})
			addAct(Action{Kind: ActDir, Dir: len(sc.Dirs) - 1})
		default:
			return nil, syntaxf("unrecognized directive: %s", d)
		}
	}
	if acted {
		flushElem()
	}
	if len(sc.Elems) == 0 {
		return nil, syntaxf("no action directive specified")
	}
	if pending {
		sc.Warnings = append(sc.Warnings, "ignoring extraneous non-action directives")
	}
	return sc, nil
}
