package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/cpio"
)

// rcFixture adds s6-rc definitions to a fixture repository.
func rcFixture(t *testing.T, root string) {
	t.Helper()
	for name, content := range map[string]string{
		"rc/mnt/type":                 "oneshot\n",
		"rc/mnt/up":                   "mount -t tmpfs tmpfs /data\n",
		"rc/db/type":                  "longrun\n",
		"rc/db/run":                   "#!/bin/execlineb -P\ndb\n",
		"rc/db/dependencies.d/mnt":    "",
		"rc/db/data/conf":             "x\n",
		"rc/default/type":             "bundle\n",
		"rc/default/contents.d/db":    "",
		"rc2/web/type":                "longrun\n",
		"rc2/web/run":                 "#!/bin/execlineb -P\nweb\n",
		"rc2/web/dependencies.d/db":   "",
		"rc2/web/notification-fd":     "3\n",
		"bad/web/type":                "longrun\n",
		"bad/web/run":                 "#!/bin/execlineb -P\nweb\n",
		"bad/web/dependencies.d/dbb":  "",
		"bad/other/type":              "oneshot\n",
		"bad/other/up":                "true\n",
		"bad/other/dependencies.d/db": "",
	} {
		mode := os.FileMode(0o644)
		if filepath.Base(name) == "run" {
			mode = 0o755
		}
		writeFile(t, filepath.Join(root, name), content, mode)
	}
}

func TestRcStage2AndLayout(t *testing.T) {
	root, ro := fixture(t)
	rcFixture(t, root)
	def := "commands: [gosh]\nrc:\n  from: [rc, rc2]\n  bundle: web\nstage2:\n  wait_timeout: 20000\n"
	d, err := image.ParseDefinition([]byte(def), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := "foreground { svrc -c /etc/svinit/rc -l /run/service -t 20000 -u change web }\nsvinit-switch-root\n"
	if got := GenerateStage2(d, nil, nil); !strings.HasSuffix(got, want) {
		t.Errorf("stage 2:\n%s\nwant ending with %q", got, want)
	}
	// The plan lays the definitions out (build's tests write and read
	// images back).
	p, err := Resolve(d, root, ro)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, err := p.Layout(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*cpio.Entry{}
	for _, e := range a.Entries() {
		got[e.Name] = e
	}
	for _, n := range []string{"etc/svinit/rc/mnt/up", "etc/svinit/rc/db/run", "etc/svinit/rc/db/data/conf",
		"etc/svinit/rc/db/dependencies.d/mnt", "etc/svinit/rc/default/contents.d/db", "etc/svinit/rc/web/notification-fd"} {
		if got[n] == nil {
			t.Errorf("%s missing from the image", n)
		}
	}
	if e := got["etc/svinit/rc/db/run"]; e != nil && e.Mode&0o111 == 0 {
		t.Errorf("db/run not executable in the image: %o", e.Mode)
	}
	if e := got["etc/svinit/stage2"]; e == nil || !strings.HasSuffix(string(e.Data), want) {
		t.Errorf("stage 2 in the image does not end with %q", want)
	}

	// Without bundle: default.
	d, _ = image.ParseDefinition([]byte("commands: [gosh]\nrc: {from: [rc]}\n"), "test.yaml")
	if got := GenerateStage2(d, nil, nil); !strings.HasSuffix(got, "\nforeground { svrc -c /etc/svinit/rc -l /run/service -u change default }\nsvinit-switch-root\n") {
		t.Errorf("default bundle:\n%s", got)
	}
}

func TestRcErrors(t *testing.T) {
	root, ro := fixture(t)
	rcFixture(t, root)
	for _, tc := range []struct{ name, def, want string }{
		{"invalid definitions", "commands: [gosh]\nrc:\n  from: [bad]\n", "bad/web/dependencies.d/dbb: no service named dbb"},
		{"missing directory", "commands: [gosh]\nrc:\n  from: [nowhere]\n", "test.yaml:3: rc: from: no directory " + root + "/nowhere"},
		{"unknown bundle", "commands: [gosh]\nrc:\n  from: [rc]\n  bundle: defualt\n", "test.yaml:4: rc: bundle: no service or bundle named defualt (did you mean default?)"},
		{"default bundle from the second directory", "commands: [gosh]\nrc:\n  from: [rc2, rc]\n  bundle: \"\"\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := image.ParseDefinition([]byte(tc.def), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			p, err := Resolve(d, root, ro)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				p.Close()
				return
			}
			if err == nil {
				p.Close()
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant containing %q", err, tc.want)
			}
		})
	}
	if _, err := image.ParseDefinition([]byte("rc: {bundle: x}\n"), "t.yaml"); err == nil || !strings.Contains(err.Error(), "rc: bundle \"x\" without from") {
		t.Errorf("bundle without from: %v", err)
	}
}
