package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/svclient/svtest"
)

func TestSvok(t *testing.T) {
	sup := svtest.New(t, svtest.Up(1))
	sup.Lock()
	notSup := svtest.New(t, svtest.Up(1))
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"supervised", []string{sup.Dir}, 0},
		{"extra args ignored", []string{sup.Dir, "x"}, 0},
		{"not supervised", []string{notSup.Dir}, cli.ExitFalse},
		{"nonexistent", []string{filepath.Join(file + "-nope")}, cli.ExitFalse},
		{"not a directory", []string{file}, cli.ExitSystem},
		{"usage", nil, cli.ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(append([]string{"svok"}, tc.args...), strings.NewReader(""), &out, &errb)
			code := cli.Report(&errb, "svok", err)
			if code != tc.code {
				t.Errorf("exit %d (%s), want %d", code, errb.String(), tc.code)
			}
			if code == cli.ExitFalse && errb.Len() > 0 {
				t.Errorf("not supervised should be silent, got %q", errb.String())
			}
		})
	}
}
