package image

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/svinit/svinit/pkg/execline"
	"github.com/svinit/svinit/pkg/image/compress"
	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/kmod/depmod"
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

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// checkKeys verifies that every mapping key under n names a field of t
// (recursively), so a typo is an error naming the key and its line.
func checkKeys(n *yaml.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		return &Error{Line: n.Line, Msg: "YAML aliases are not supported in image definitions"}
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		// It checks its own shape and keys: run it here so that its
		// errors get the key they are under.
		err := reflect.New(t).Interface().(yaml.Unmarshaler).UnmarshalYAML(n)
		var de *Error
		if err != nil && !errors.As(err, &de) {
			de = &Error{Line: n.Line, Msg: cleanYAMLError(err)}
		}
		if de != nil {
			return de
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return &Error{Line: n.Line, Msg: fmt.Sprintf("want a mapping, got a %s", kindName(n.Kind))}
		}
		fields := map[string]reflect.StructField{}
		var known []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f
			known = append(known, tag)
		}
		sort.Strings(known)
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("unknown key %q", k.Value)
				if near := depmod.Near(k.Value, known, 1); len(near) > 0 {
					msg += fmt.Sprintf(" (did you mean %q?)", near[0])
				} else {
					msg += fmt.Sprintf(" (known keys: %s)", strings.Join(known, ", "))
				}
				return &Error{Line: k.Line, Msg: msg}
			}
			if l, dup := seen[k.Value]; dup {
				return &Error{Line: k.Line, Msg: fmt.Sprintf("key %q given twice (first on line %d)", k.Value, l)}
			}
			seen[k.Value] = k.Line
			if err := checkKeys(v, f.Type); err != nil {
				return underKey(k.Value, err)
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return &Error{Line: n.Line, Msg: fmt.Sprintf("want a list, got a %s", kindName(n.Kind))}
		}
		for _, c := range n.Content {
			if err := checkKeys(c, t.Elem()); err != nil {
				return err
			}
		}
	}
	return nil
}

// underKey prefixes the message of an error found in key's value with the
// key, so that "want a list" reads "commands: want a list".
func underKey(key string, err error) error {
	var de *Error
	if !errors.As(err, &de) {
		return err
	}
	return &Error{File: de.File, Line: de.Line, Msg: key + ": " + de.Msg}
}

// decodeStrict checks keys then decodes, adding line numbers to yaml's
// own errors.
func decodeStrict(n *yaml.Node, v any) error {
	if err := checkKeys(n, reflect.TypeOf(v)); err != nil {
		return err
	}
	if err := n.Decode(v); err != nil {
		var de *Error
		if errors.As(err, &de) {
			return de
		}
		return &Error{Line: n.Line, Msg: cleanYAMLError(err)}
	}
	return nil
}

var yamlLine = regexp.MustCompile(`^(yaml: )?line (\d+): `)

func cleanYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return strings.Join(te.Errors, "; ")
	}
	return yamlLine.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
}

// ParseDefinition parses and checks the syntax of an image definition.
// file names it in errors. Semantic checks that need the file system
// (templates, commands, modules) happen in Resolve.
func ParseDefinition(data []byte, file string) (*Definition, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[2])
			msg = yamlLine.ReplaceAllString(msg, "")
		}
		return nil, &Error{File: file, Line: line, Msg: msg}
	}
	def := &Definition{File: file}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "empty image definition"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: root.Line, Msg: "an image definition is a mapping of keys (commands, services, ...)"}
	}
	if err := decodeStrict(root, def); err != nil {
		var de *Error
		if errors.As(err, &de) {
			de.File = file
			return nil, de
		}
		return nil, &Error{File: file, Msg: err.Error()}
	}
	// Lines of list items that are plain structs.
	setLines(root, "files", func(i, line int) { def.Files[i].Line = line })
	if s := child(root, "stage2"); s != nil {
		setLines(s, "mounts", func(i, line int) { def.Stage2.Mounts[i].Line = line })
	}
	if err := def.check(); err != nil {
		err.File = file
		return nil, err
	}
	return def, nil
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func setLines(n *yaml.Node, key string, set func(i, line int)) {
	if c := child(n, key); c != nil && c.Kind == yaml.SequenceNode {
		for i, e := range c.Content {
			set(i, e.Line)
		}
	}
}

var (
	serviceName  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$`)
	commandWord  = regexp.MustCompile(`^[A-Za-z0-9_.~/-]+$`)
	hostnameRe   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$`)
	moduleNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// check validates what can be validated without the file system.
func (d *Definition) check() *Error {
	errf := func(line int, format string, a ...any) *Error {
		return &Error{Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	seenCmd := map[string]int{}
	for _, c := range d.Commands {
		if c.Value == "" || !commandWord.MatchString(c.Value) || strings.Contains(c.Value, "..") {
			return errf(c.Line, "commands: %q is not a command name or Go package path", c.Value)
		}
		if l, ok := seenCmd[c.Value]; ok {
			return errf(c.Line, "commands: %q listed twice (first on line %d)", c.Value, l)
		}
		seenCmd[c.Value] = c.Line
	}
	seenSvc := map[string]int{}
	for _, list := range [][]Service{d.EarlyServices, d.Services} {
		for _, s := range list {
			if !serviceName.MatchString(s.Name) {
				return errf(s.Line, "service name %q: use letters, digits and _ . @ + - (not starting with . or -)", s.Name)
			}
			if l, ok := seenSvc[s.Name]; ok {
				return errf(s.Line, "service %q listed twice (first on line %d)", s.Name, l)
			}
			seenSvc[s.Name] = s.Line
		}
	}
	for _, s := range d.Stage2.WaitReady {
		if _, ok := seenSvc[s.Value]; !ok {
			return errf(s.Line, "stage2: wait_ready: %q is not one of the image's services", s.Value)
		}
	}
	if b := d.Rc.Bundle; b.Value != "" && len(d.Rc.From) == 0 {
		return errf(b.Line, "rc: bundle %q without from: name the directories of service definitions", b.Value)
	}
	if w := d.Stage2.WaitTimeout; w.Value != "" {
		if n, err := strconv.ParseUint(w.Value, 10, 31); err != nil || n == 0 {
			return errf(w.Line, "stage2: wait_timeout: %q is not a positive number of milliseconds", w.Value)
		}
	}
	for _, m := range append(append([]Word(nil), d.Modules.Include...), d.Stage2.Modules...) {
		if !moduleNameRe.MatchString(m.Value) {
			return errf(m.Line, "module name %q: use letters, digits, _ and -", m.Value)
		}
	}
	if len(d.Modules.Include)+len(d.Stage2.Modules) > 0 && d.Kernel.Value == "" {
		line := d.Modules.Line
		if line == 0 && len(d.Stage2.Modules) > 0 {
			line = d.Stage2.Modules[0].Line
		}
		return errf(line, "modules need a kernel: key naming a /lib/modules/VERSION tree, a root holding lib/modules, or a .deb")
	}
	if a := d.Modules.Aliases; a.Value != "" && a.Value != "included" && a.Value != "all" {
		return errf(a.Line, "modules: aliases: %q: want included or all", a.Value)
	}
	if c := d.Compression; c.Value != "" {
		ok := false
		for _, k := range compress.Compressions {
			ok = ok || k == c.Value
		}
		if !ok {
			return errf(c.Line, "compression: unknown %q (want one of %s)", c.Value, strings.Join(compress.Compressions, ", "))
		}
	}
	if h := d.Hostname; h.Value != "" && !hostnameRe.MatchString(h.Value) {
		return errf(h.Line, "hostname: %q is not a valid host name", h.Value)
	}
	if c := d.Cmdline; strings.ContainsAny(c.Value, "\n\x00") {
		return errf(c.Line, "cmdline: must be one line")
	}
	if err := d.Root.validate(errf); err != nil {
		return err
	}
	seenDst := map[string]int{}
	for _, f := range d.Files {
		if f.Dst.Value == "" {
			return errf(f.Line, "files: every entry needs dst (where in the image)")
		}
		if (f.Src.Value == "") == (f.Content.Line == 0) {
			return errf(f.Line, "files: %s: give exactly one of src (a host file or directory) or content", f.Dst.Value)
		}
		dst, err := cpio.CleanName(f.Dst.Value)
		if err != nil {
			return errf(f.Dst.Line, "files: dst: %v", err)
		}
		if l, ok := seenDst[dst]; ok {
			return errf(f.Dst.Line, "files: /%s listed twice (first on line %d)", dst, l)
		}
		seenDst[dst] = f.Dst.Line
		if f.Mode.Value != "" {
			if _, err := parseMode(f.Mode.Value); err != nil {
				return errf(f.Mode.Line, "files: %s: mode: %v", f.Dst.Value, err)
			}
		}
	}
	for _, m := range d.Stage2.Mounts {
		if m.Type.Value == "" || m.Target.Value == "" {
			return errf(m.Line, "stage2: mounts: every mount needs type and target")
		}
		for _, w := range []Word{m.Type, m.Source, m.Target, m.Options} {
			if strings.ContainsAny(w.Value, " \t\n\"{}") {
				return errf(w.Line, "stage2: mounts: %q: no blanks, quotes or braces allowed", w.Value)
			}
		}
		if !strings.HasPrefix(m.Target.Value, "/") {
			return errf(m.Target.Line, "stage2: mounts: target %q must be an absolute path", m.Target.Value)
		}
	}
	for _, r := range d.Stage2.Run {
		if strings.TrimSpace(r.Value) == "" || strings.ContainsAny(r.Value, "\n") {
			return errf(r.Line, "stage2: run: each entry is one non-empty execline command line")
		}
		if err := inBlock(r.Value); err != nil {
			return errf(r.Line, "stage2: run: %q: %v", r.Value, err)
		}
	}
	return nil
}

// inBlock checks that an execline command line stays one command when
// stage 2 puts it in a block ("foreground { LINE }"): it parses, and
// neither a comment nor an unbalanced brace swallows or ends the block.
func inBlock(line string) error {
	words, err := execline.Parse("stage2", []byte("foreground { "+line+" }\ntrue\n"))
	if err != nil {
		if strings.Contains(line, "#") {
			return fmt.Errorf("a # starts a comment that would hide the end of stage 2's block: quote it (\"#\") or drop it")
		}
		return fmt.Errorf("not an execline command line: %v", err)
	}
	n := len(words)
	ok := n >= 4 && words[0] == "foreground" && words[n-2] == "" && words[n-1] == "true"
	for _, w := range words[1 : n-2] {
		ok = ok && strings.HasPrefix(w, " ")
	}
	if !ok {
		return fmt.Errorf("unbalanced { } or a # comment: it would not stay one command in stage 2's block")
	}
	return nil
}

// parseMode parses an octal permission like "0644" or "755".
func parseMode(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, fmt.Errorf("%q is not an octal permission between 0 and 7777", s)
	}
	return uint32(v), nil
}
