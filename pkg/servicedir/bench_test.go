package servicedir

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoad reads a service directory as a scanner does for every new
// service: one with only run (most services), one with every
// configuration file.
func BenchmarkLoad(b *testing.B) {
	for _, bc := range []struct {
		name  string
		files map[string]string
	}{
		{"run only", map[string]string{"run": "#!/bin/sh\nexec sleep 1000\n"}},
		{"all files", map[string]string{"run": "#!/bin/sh\nexec sleep 1000\n", "finish": "#!/bin/sh\n",
			"notification-fd": "3\n", "timeout-kill": "200\n", "timeout-finish": "0\n", "max-death-tally": "10\n",
			"down-signal": "SIGHUP\n", "log/": ""}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := b.TempDir()
			for name, content := range bc.files {
				if name == "log/" {
					os.Mkdir(filepath.Join(d, "log"), 0o755)
					continue
				}
				if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Load(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
