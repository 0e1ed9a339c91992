package s6status

import (
	"os"
	"path/filepath"
)

func mkdirSupervise(dir string) error { return os.Mkdir(filepath.Join(dir, "supervise"), 0o700) }
