//go:build !(linux && amd64)

package spawn

const haveRaw = false

func start(path string, argv []string, attr *Attr, _ *shared) (int, error) {
	return forkExec(path, argv, attr)
}
