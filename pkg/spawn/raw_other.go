//go:build !(linux && amd64)

package spawn

import "syscall"

const (
	haveRaw = false
	sysDup3 = syscall.SYS_DUP3
)

func start(path string, argv []string, attr *Attr, _ *shared) (int, error) {
	return forkExec(path, argv, attr)
}
