//go:build tools

// Package tools pins, in go.mod, the modules the image generator and the
// boot tests build from: mkuimage builds every busybox command from this
// module's dependency graph, so each u-root command offered in an image
// must be imported here (a test keeps this list and images/ in sync).
package tools

import (
	_ "github.com/hugelgupf/vmtest/qemu"
	_ "github.com/u-root/mkuimage/uimage"
	_ "github.com/u-root/u-root/cmds/core/gosh"
	_ "github.com/u-root/u-root/pkg/cmdline"
	_ "github.com/u-root/u-root/pkg/kmodule"
	_ "gopkg.in/yaml.v3"
)
