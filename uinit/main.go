// Command uinit is svinit's stage 1, the image's /init. It runs as
// process 1, prepares the system (see docs/boot.md) and execs svscan.
// Started again with SVINIT_STAGE2=1 in its environment it is the
// stage-2 child instead. The logic lives in pkg/stage1.
package main

import (
	"fmt"
	"os"

	"github.com/svinit/svinit/pkg/stage1"
)

func main() {
	if stage1.IsStage2Child() {
		os.Exit(stage1.Stage2Child())
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "uinit: must run as process 1 (the kernel's init): it mounts file systems and becomes svscan")
		os.Exit(100)
	}
	stage1.Boot()
}
