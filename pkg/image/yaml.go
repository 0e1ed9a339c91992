package image

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/svinit/svinit/pkg/kmod/depmod"
	"gopkg.in/yaml.v3"
)

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
