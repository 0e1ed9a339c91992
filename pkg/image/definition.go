package image

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Definition is an image definition (images/*.yaml). See images/README.md.
type Definition struct {
	Description   string    `yaml:"description"`
	Commands      []Word    `yaml:"commands"`
	Init          Word      `yaml:"init"`
	Shell         Word      `yaml:"shell"`
	EarlyServices []Service `yaml:"early_services"`
	Services      []Service `yaml:"services"`
	ScandirHooks  Word      `yaml:"scandir_hooks"`
	Kernel        Word      `yaml:"kernel"`
	Modules       Modules   `yaml:"modules"`
	Files         []File    `yaml:"files"`
	Hostname      Word      `yaml:"hostname"`
	Cmdline       Word      `yaml:"cmdline"`
	Compression   Word      `yaml:"compression"`
	Output        Word      `yaml:"output"`
	Stage2        Stage2    `yaml:"stage2"`
	ShutdownHook  Word      `yaml:"shutdown_hook"`
	Rc            Rc        `yaml:"rc"`
	Root          RootDef   `yaml:"root"`

	// File is the definition's file name (for messages).
	File string `yaml:"-"`
	// Name names the definition inside the image (the generated stage 2
	// says where it comes from); see DefinitionName. File when empty.
	Name string `yaml:"-"`
}

// DefinitionName is how an image names the definition file at path: its
// slash-separated path from the repository root, or its base name when it
// is outside the root. It does not depend on how the path was spelt on the
// command line, so that the same definition gives the same bytes.
func DefinitionName(root, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Base(path)
	}
	if r, err := filepath.Abs(root); err == nil {
		if rel, err := filepath.Rel(r, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(abs)
}

// Word is a scalar with the line it was written on.
type Word struct {
	Value string
	Line  int
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (w *Word) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &Error{Line: n.Line, Msg: fmt.Sprintf("want a single value, got a %s", kindName(n.Kind))}
	}
	w.Value, w.Line = n.Value, n.Line
	return nil
}

// Service names a service directory: a template name (templates/NAME), or
// a mapping {name: N, from: DIR} taking the directory from DIR.
type Service struct {
	Name string
	From string
	Line int
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Service) UnmarshalYAML(n *yaml.Node) error {
	s.Line = n.Line
	switch n.Kind {
	case yaml.ScalarNode:
		s.Name = n.Value
		return nil
	case yaml.MappingNode:
		var m struct {
			Name Word `yaml:"name"`
			From Word `yaml:"from"`
		}
		if err := decodeStrict(n, &m); err != nil {
			return err
		}
		s.Name, s.From = m.Name.Value, m.From.Value
		return nil
	}
	return &Error{Line: n.Line, Msg: "a service is a template name or a mapping {name: NAME, from: DIRECTORY}"}
}

// Modules selects kernel modules: a list of names, or a mapping
// {include: [names], aliases: included|all}.
type Modules struct {
	Include []Word
	Aliases Word // "included" (default) or "all"
	Line    int
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (m *Modules) UnmarshalYAML(n *yaml.Node) error {
	m.Line = n.Line
	switch n.Kind {
	case yaml.SequenceNode:
		return decodeStrict(n, &m.Include)
	case yaml.MappingNode:
		var v struct {
			Include []Word `yaml:"include"`
			Aliases Word   `yaml:"aliases"`
		}
		if err := decodeStrict(n, &v); err != nil {
			return err
		}
		m.Include, m.Aliases = v.Include, v.Aliases
		return nil
	}
	return &Error{Line: n.Line, Msg: "want a list of module names or a mapping {include: [...], aliases: included|all}"}
}

// File is an extra file: copied from Src (a file or a directory tree) or
// holding Content, placed at Dst.
type File struct {
	Src     Word `yaml:"src"`
	Dst     Word `yaml:"dst"`
	Content Word `yaml:"content"`
	Mode    Word `yaml:"mode"`
	Line    int  `yaml:"-"`
}

// Stage2 describes the generated stage 2 script.
type Stage2 struct {
	Script      Word    `yaml:"script"`       // use this file instead of generating one
	Modules     []Word  `yaml:"modules"`      // load these modules first
	Mounts      []Mount `yaml:"mounts"`       // then mount these
	Run         []Word  `yaml:"run"`          // then run these execline command lines
	WaitReady   []Word  `yaml:"wait_ready"`   // after starting services, wait for these to be ready
	WaitTimeout Word    `yaml:"wait_timeout"` // milliseconds, default 10000
}

// Rc declares services in s6-rc's source format (docs/writing-services.md):
// every definition directory under the From directories goes to
// /etc/svinit/rc, and stage 2 runs svrc -u change Bundle.
type Rc struct {
	From   []Word `yaml:"from"`   // directories of definitions, relative to the repository root
	Bundle Word   `yaml:"bundle"` // what stage 2 brings up; default "default"
}

// Mount is one filesystem stage 2 mounts.
type Mount struct {
	Type    Word `yaml:"type"`
	Source  Word `yaml:"source"`
	Target  Word `yaml:"target"`
	Options Word `yaml:"options"`
	Line    int  `yaml:"-"`
}

// Error is a definition error at a line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// FindRoot returns the directory holding go.mod at or above dir.
func FindRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", fmt.Errorf("no go.mod at or above %s: run mkimage inside the svinit repository (or give -C)", dir)
		}
		d = p
	}
}
