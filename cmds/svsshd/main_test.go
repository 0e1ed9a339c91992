package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/cli"
)

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"svsshd", "-d", "1"}, cli.ExitUsage, "-d 1: want a descriptor number of 3 or more"},
		{[]string{"svsshd", "-x"}, cli.ExitUsage, "usage: svsshd"},
		{[]string{"svsshd", "extra"}, cli.ExitUsage, "too many arguments"},
		{[]string{"svsshd", "-a", filepath.Join(dir, "none"), "-k", filepath.Join(dir, "key")}, cli.ExitSystem, "nobody could log in"},
	}
	for _, tt := range tests {
		err := run(tt.args, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || cli.Code(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v (code %d), want exit %d with %q", tt.args, err, cli.Code(err), tt.code, tt.want)
		}
	}
}
