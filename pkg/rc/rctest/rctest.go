// Package rctest writes service definitions in s6-rc's source format for
// the tests and benchmarks of the service manager (pkg/rc's tests,
// scripts/bench/svrcbench): any tree from a map, and the two large
// shapes both measure.
package rctest

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write writes files under root: each key is a path relative to root,
// each value the file's content; "/" as a content makes a directory.
// run and finish scripts are made executable.
func Write(root string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(root, name)
		if content == "/" {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if b := filepath.Base(name); b == "run" || b == "finish" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}

// Layered returns a layered tree: ten layers of ten longruns, l0-0 to
// l9-9, each depending on the ten of the layer below; a hundred free
// longruns, free-0 to free-99; every one running run and notifying
// readiness on descriptor 3; and the bundle all holding them all.
func Layered(run string) map[string]string {
	files := map[string]string{"all/type": "bundle\n"}
	add := func(n string) {
		files[n+"/type"] = "longrun\n"
		files[n+"/run"] = run
		files[n+"/notification-fd"] = "3\n"
		files["all/contents.d/"+n] = ""
	}
	for layer := 0; layer < 10; layer++ {
		for i := 0; i < 10; i++ {
			n := fmt.Sprintf("l%d-%d", layer, i)
			add(n)
			if layer > 0 {
				for j := 0; j < 10; j++ {
					files[n+"/dependencies.d/"+fmt.Sprintf("l%d-%d", layer-1, j)] = ""
				}
			}
		}
	}
	for i := 0; i < 100; i++ {
		add(fmt.Sprintf("free-%d", i))
	}
	return files
}

// Chains returns n definitions, s0000 on: the even ones oneshots whose
// up is "true", the odd ones longruns running run with readiness on
// descriptor 3, each depending on the one ten before it (ten chains);
// and the bundle all holding them all.
func Chains(n int, run string) map[string]string {
	files := map[string]string{"all/type": "bundle\n"}
	for i := 0; i < n; i++ {
		s := fmt.Sprintf("s%04d", i)
		if i%2 == 0 {
			files[s+"/type"] = "oneshot\n"
			files[s+"/up"] = "true\n"
		} else {
			files[s+"/type"] = "longrun\n"
			files[s+"/run"] = run
			files[s+"/notification-fd"] = "3\n"
		}
		if i >= 10 {
			files[s+"/dependencies.d/"+fmt.Sprintf("s%04d", i-10)] = ""
		}
		files["all/contents.d/"+s] = ""
	}
	return files
}
