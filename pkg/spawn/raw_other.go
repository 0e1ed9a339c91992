//go:build !(linux && amd64)

package spawn

const haveRaw = false

func start(path string, argv []string, attr *Attr, _ *shared) (int, error) {
	return forkExec(path, argv, attr)
}

// ForceCgroupProcs does nothing here: children are started by
// syscall.ForkExec, which uses clone3 itself. For tests.
func ForceCgroupProcs() (restore func()) { return func() {} }
