package servicedir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProducerFor(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
		warn                bool
	}{
		{"absent", "", "", false},
		{"name", "logger\n", "logger", false},
		{"no newline", "b", "b", false},
		{"first line", "c\nignored\n", "c", false},
		{"empty", "\n", "", true},
		{"slash", "a/b\n", "", true},
		{"dot-name", ".svrc\n", "", true},
		{"too long", strings.Repeat("x", 256) + "\n", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, Run), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.name != "absent" {
				if err := os.WriteFile(filepath.Join(dir, ProducerFor), []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if c.ProducerFor != tc.want {
				t.Errorf("ProducerFor = %q, want %q", c.ProducerFor, tc.want)
			}
			if got := len(c.Warnings) > 0; got != tc.warn {
				t.Errorf("warnings %q, want some: %v", c.Warnings, tc.warn)
			}
		})
	}
}
