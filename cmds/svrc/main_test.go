package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/cli"
)

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if filepath.Base(name) == "run" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

var good = map[string]string{
	"mount/type": "oneshot\n", "mount/up": "true\n",
	"db/type": "longrun\n", "db/run": "#!/bin/sh\n", "db/dependencies.d/mount": "",
	"db/notification-fd": "3\n",
	"app/type":           "longrun\n", "app/run": "#!/bin/sh\n", "app/dependencies.d/db": "",
	"default/type": "bundle\n", "default/contents.d/app": "",
}

func TestRun(t *testing.T) {
	defs := t.TempDir()
	write(t, defs, good)
	bad := t.TempDir()
	write(t, bad, map[string]string{"x/type": "oneshot\n", "x/up": "true\n", "x/dependencies.d/mout": "",
		"mount/type": "oneshot\n", "mount/up": "true\n"})
	scan := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // exact, when not empty
		errHas string
	}{
		{"check ok", []string{"check", defs}, 0, "3 services and 1 bundles: ok\n", ""},
		{"check problems", []string{"check", bad}, 4, "", "x/dependencies.d/mout: no service named mout (did you mean mount?)"},
		{"invalid definitions", []string{"-c", bad, "-l", scan, "listall", "x"}, 4, "", "invalid definitions"},
		{"status without definitions", []string{"-c", filepath.Join(scan, "none"), "-l", scan, "status"}, 0, "", "no service definitions"},
		{"change without definitions", []string{"-c", filepath.Join(scan, "none"), "-l", scan, "-u", "change", "default"}, 4, "", "cannot list the definitions"},
		{"dry run", []string{"-c", defs, "-l", scan, "-n0", "-u", "change", "default"}, 0,
			"1 up oneshot mount (runs up)\n2 up longrun db (until ready) after mount\n3 up longrun app after db\n", ""},
		{"dry run down of nothing up", []string{"-c", defs, "-l", scan, "-n", "0", "-d", "change", "mount"}, 0, "", ""},
		{"listall up", []string{"-c", defs, "-l", scan, "listall", "app"}, 0, "app\ndb\nmount\n", ""},
		{"listall down", []string{"-c", defs, "-l", scan, "-d", "listall", "mount"}, 0, "app\ndb\nmount\n", ""},
		{"list bundle", []string{"-c", defs, "-l", scan, "list", "default"}, 0, "app\n", ""},
		{"list inverted", []string{"-c", defs, "-l", scan, "-d", "list", "default"}, 0, "db\nmount\n", ""},
		{"unknown name", []string{"-c", defs, "-l", scan, "-u", "change", "ap"}, 3, "", "no service or bundle named ap (did you mean app?)"},
		{"usage", []string{"-u"}, 100, "", "missing subcommand"},
		{"bad option", []string{"-z", "change"}, 100, "", ""},
		{"bad timeout", []string{"-t", "1s", "change"}, 100, "", "-t"},
		{"unknown subcommand", []string{"-c", defs, "frobnicate"}, 100, "", "unknown subcommand"},
		{"no scan directory", []string{"-c", defs, "-l", filepath.Join(scan, "nope"), "-u", "change", "default"}, 111, "", "start svscan on it"},
		{"status, nothing up", []string{"-c", defs, "-l", scan, "status"}, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(append([]string{"svrc"}, tt.args...), nil, &out, &errb)
			code := cli.Report(&errb, prog, err)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, errb.String())
			}
			if tt.stdout != "" && out.String() != tt.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), tt.stdout)
			}
			if !strings.Contains(strings.ReplaceAll(errb.String(), bad+"/", ""), tt.errHas) {
				t.Errorf("stderr %q does not say %q", errb.String(), tt.errHas)
			}
		})
	}
}
