package rootfs

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
)

func TestFinder(t *testing.T) {
	disk, ext4, vfat := testImages(t)
	for _, tc := range []struct {
		name     string
		cmdline  string
		mountErr map[string]error // by type
		noInit   bool
		want     []string // mount calls
		err      string   // "" = success
		out      []string
	}{
		{"UUIDReadOnly", "root=UUID=d0d0d0d0-1111-2222-3333-444444444444", nil, false,
			[]string{"load ext4", "mount vda2 ext4 ro \"\""}, "", []string{"root=UUID=d0d0d0d0-1111-2222-3333-444444444444 is", "(ext4 UUID=d0d0d0d0-1111-2222-3333-444444444444 LABEL=sysroot PARTUUID=66666666-7777-8888-9999-aaaaaaaaaaaa PARTLABEL=root)", "mounted", "read-only on"}},
		{"RWWithFlags", "root=PARTLABEL=root rw rootflags=noatime,discard", nil, false,
			[]string{"load ext4", "mount vda2 ext4 rw \"noatime,discard\""}, "", []string{"read-write"}},
		{"FSTypeList", "root=LABEL=BOOT rootfstype=msdos,vfat", map[string]error{"msdos": unix.ENODEV}, false,
			[]string{"load msdos", "mount vda1 msdos ro \"\"", "load vfat", "mount vda1 vfat ro \"\""}, "", nil},
		{"AllTypesFail", "root=/dev/vda2 rootfstype=xfs", map[string]error{"xfs": unix.EINVAL}, false,
			[]string{"load xfs", "mount vda2 xfs ro \"\""}, "mount -t xfs", nil},
		{"NoFileSystem", "root=/dev/vda", nil, false, nil, "no file system recognised", nil},
		{"NoInit", "root=LABEL=sysroot init=/sbin/runit-init", nil, true,
			[]string{"load ext4", "mount vda2 ext4 ro \"\""}, "the real root has no init", nil},
		{"NotFound", "root=LABEL=elsewhere rootdelay=0", nil, false, nil, "root device not found",
			[]string{"root=LABEL=elsewhere not found", "NAME", "vda2", "sysroot", "put one of these in root="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeSys(t)
			fs.add("vda", "", 0, disk)
			fs.add("vda1", "vda", 1, vfat)
			fs.add("vda2", "vda", 2, ext4)
			var calls []string
			var out bytes.Buffer
			mnt := filepath.Join(t.TempDir(), "sysroot")
			c := bootfs.ParseCmdline(tc.cmdline)
			f := &Finder{
				Root: c.Root, Scanner: fs.s,
				OpenEvents: func() (Events, error) { return chanEvents{c: make(chan string)}, nil },
				LoadFS:     func(t string) error { calls = append(calls, "load "+t); return nil },
				Mount: func(src, target, fstype string, flags uintptr, data string) error {
					mode := "rw"
					if flags&unix.MS_RDONLY != 0 {
						mode = "ro"
					}
					calls = append(calls, fmt.Sprintf("mount %s %s %s %q", filepath.Base(src), fstype, mode, data))
					if target != mnt {
						t.Errorf("mounted on %s, want %s", target, mnt)
					}
					return tc.mountErr[fstype]
				},
				MountDir: mnt, Out: &out, Now: time.Now,
				CheckInit: func(root, init string) error {
					if tc.noInit {
						return errors.New(init + ": no such file")
					}
					return nil
				},
			}
			_, err := f.Find()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("Find: %v, want %q\n%s", err, tc.err, out.String())
			}
			if fmt.Sprint(calls) != fmt.Sprint(tc.want) {
				t.Errorf("calls %q, want %q", calls, tc.want)
			}
			for _, w := range tc.out {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
