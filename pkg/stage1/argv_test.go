package stage1

import (
	"reflect"
	"testing"

	"github.com/svinit/svinit/pkg/bootfs"
)

// TestSvscanArgv: svinit.s6 gives svscan -B -C (s6's exact behaviour).
func TestSvscanArgv(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		want    []string
	}{
		{"", []string{"svscan", bootfs.Scandir}},
		{"svinit.s6", []string{"svscan", "-B", "-C", bootfs.Scandir}},
		{"svinit.s6=0", []string{"svscan", bootfs.Scandir}},
	} {
		if got := SvscanArgv(bootfs.ParseCmdline(tc.cmdline)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.cmdline, got, tc.want)
		}
	}
}
