//go:build !(amd64 || arm || arm64 || loong64 || ppc || ppc64 || ppc64le || riscv64 || s390x)

package shutdown

import "golang.org/x/sys/unix"

// kexec_file_load(2) does not exist on this architecture.
func kexecFileLoad(kernel, initrd int, cmdline string, flags int) error {
	return unix.ENOSYS
}
