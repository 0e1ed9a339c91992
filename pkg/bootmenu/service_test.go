package bootmenu

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestService(t *testing.T) {
	three := entries(3)
	for _, tc := range []struct {
		name     string
		entries  []Entry
		findErr  error
		def      string
		boot     string
		keys     <-chan byte
		after    func(time.Duration) <-chan time.Time
		chain    []string
		dry      bool
		loadErr  error
		kexecErr error
		want     []string // the calls, in order
		wantErr  string
		wantOut  []string
	}{
		{name: "the default after the countdown", entries: three, after: instant,
			want:    []string{"find", "load osA", "unmount", "kexec", "wait"},
			wantOut: []string{"3 boot entries found", "boot 1) osA (after the countdown, GRUB on vda1)", "loaded osA in", "asking svinit for kexec"}},
		{name: "a default by title", entries: three, def: "osC", after: instant,
			want: []string{"find", "load osC", "unmount", "kexec", "wait"}},
		{name: "a default that names nothing", entries: three, def: "Windows", after: instant,
			want: []string{"find", "load osA", "unmount", "kexec", "wait"}, wantOut: []string{"default Windows: no entry titled"}},
		{name: "typed on the console", entries: three, keys: openKeys("2"), after: never,
			want: []string{"find", "load osB", "unmount", "kexec", "wait"}, wantOut: []string{"chosen on the console"}},
		{name: "svinit.boot= by number", entries: three, boot: "3", after: never,
			want: []string{"find", "load osC", "unmount", "kexec", "wait"}, wantOut: []string{"(svinit.boot=3, GRUB on vda1)"}},
		{name: "svinit.boot= names nothing: the menu", entries: three, boot: "9", after: instant,
			want: []string{"find", "load osA", "unmount", "kexec", "wait"}, wantOut: []string{"svinit.boot=9: no entry 9", "after the countdown"}},
		{name: "dry run", entries: three, after: instant, dry: true,
			want: []string{"find", "unmount"}, wantOut: []string{"dry run"}},
		{name: "no entries", after: instant,
			want: []string{"find", "unmount"}, wantErr: "no boot entries on the local disks"},
		{name: "no entries, chained", after: instant, chain: []string{"getty", "-b", "9600"},
			want: []string{"find", "unmount", "exec getty -b 9600"}, wantOut: []string{"no boot entries", "exec getty -b 9600"}},
		{name: "find fails", findErr: errors.New("no sysfs"), after: instant,
			want: []string{"find", "unmount"}, wantErr: "find the boot entries: no sysfs"},
		{name: "the shell", entries: three, keys: openKeys("s"), after: never, chain: []string{"getty"},
			want: []string{"find", "unmount", "exec getty"}},
		{name: "load fails, chained", entries: three, after: instant, chain: []string{"getty"}, loadErr: errors.New("ENOEXEC"),
			want: []string{"find", "load osA", "unmount", "exec getty"}, wantOut: []string{"load osA: ENOEXEC"}},
		{name: "kexec refused", entries: three, after: instant, kexecErr: errors.New("kexec: no kernel is loaded"),
			want: []string{"find", "load osA", "unmount", "kexec"}, wantErr: "no kernel is loaded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			add := func(s string) { calls = append(calls, s) }
			var log, term bytes.Buffer
			s := &Service{
				Timeout: 3 * time.Second, Default: tc.def, Boot: tc.boot, DryRun: tc.dry, Chain: tc.chain,
				Log: &log, Term: &term, Keys: tc.keys, After: tc.after,
				Find: func(context.Context) ([]Entry, func() error, error) {
					add("find")
					return tc.entries, func() error { add("unmount"); return nil }, tc.findErr
				},
				Load:  func(e Entry) error { add("load " + e.Title); return tc.loadErr },
				Kexec: func() error { add("kexec"); return tc.kexecErr },
				Exec:  func(argv []string) error { add("exec " + strings.Join(argv, " ")); return nil },
				Wait:  func() { add("wait") },
			}
			err := s.Run(context.Background())
			if (tc.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Run = %v, want %q", err, tc.wantErr)
			}
			if !reflect.DeepEqual(calls, tc.want) {
				t.Errorf("calls %q, want %q", calls, tc.want)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(log.String(), w) || !strings.Contains(term.String(), w) {
					t.Errorf("log and console should both have %q:\nlog:\n%s\nconsole:\n%s", w, log.String(), term.String())
				}
			}
			if tc.entries != nil && !strings.Contains(term.String(), "svboot: boot entries:") {
				t.Errorf("no menu on the console:\n%s", term.String())
			}
		})
	}
}
