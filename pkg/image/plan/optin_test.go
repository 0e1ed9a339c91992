package plan

import (
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/internal/imagetest"
)

// coreModules are the modules (other than this one and the standard
// library) the core commands, those in every image, may link, with why.
// A core command linking another module fails TestCoreDependencies: either
// the module is worth its place in every image (add it here), or the
// command is opt-in (add it to OptInCommands).
var coreModules = map[string]string{
	"golang.org/x/sys":              "system calls, everywhere",
	"golang.org/x/term":             "getty's terminal modes",
	"mvdan.cc/sh/v3":                "getty's login shell quoting; gosh links it too",
	"github.com/u-root/u-root":      "svinit-switch-root (u-root's mount packages)",
	"github.com/klauspost/compress": "compressed kernel modules (ueventd, svinit-switch-root)",
	"github.com/ulikunitz/xz":       "xz-compressed kernel modules",
}

// heavyPackages must never be in the core busybox: the reasons svnetd and
// svsshd are opt-in.
var heavyPackages = []string{
	"golang.org/x/crypto/ssh",
	"github.com/pkg/sftp",
	"github.com/insomniacslk/dhcp",
	"github.com/vishvananda/netlink",
}

// TestCoreDependencies: what every image links from cmds/ (its core
// commands and uinit) stays within coreModules, and none of the opt-in
// commands' heavy packages creeps in through a core command.
func TestCoreDependencies(t *testing.T) {
	root := imagetest.RepoRoot(t)
	own, err := OwnCommands(root)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := []string{"./uinit"}
	for _, c := range own {
		if !c.OptIn {
			pkgs = append(pkgs, "./cmds/"+c.Name)
		}
	}
	golist := func(args ...string) []string {
		t.Helper()
		cmd := exec.Command("go", append(append([]string{"list"}, args...), pkgs...)...)
		cmd.Dir = root
		cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list of the core commands: %v\n%s", err, out)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	// The module of every package linked, then each command's packages.
	module := map[string]string{}
	for _, l := range golist("-deps", "-f", "{{.ImportPath}} {{if .Module}}{{.Module.Path}}{{end}}") {
		if f := strings.Fields(l); len(f) == 2 {
			module[f[0]] = f[1]
		}
	}
	bad := map[string][]string{}   // module: the commands linking it
	heavy := map[string][]string{} // heavy package: the commands linking it
	for _, l := range golist("-f", "{{.ImportPath}} {{join .Deps \" \"}}") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		cmd := strings.TrimPrefix(f[0], "github.com/svinit/svinit/")
		seen := map[string]bool{}
		for _, dep := range f[1:] {
			for _, h := range heavyPackages {
				if (dep == h || strings.HasPrefix(dep, h+"/")) && !seen[h] {
					seen[h] = true
					heavy[h] = append(heavy[h], cmd)
				}
			}
			m := module[dep]
			if _, ok := coreModules[m]; !ok && m != "" && m != "github.com/svinit/svinit" && !seen[m] {
				seen[m] = true
				bad[m] = append(bad[m], cmd)
			}
		}
	}
	for _, h := range heavyPackages {
		if len(heavy[h]) > 0 {
			t.Errorf("the core busybox links %s (an opt-in command's dependency) through %s: make the command opt-in (OptInCommands in pkg/image/optin.go) or move that code out of it", h, strings.Join(heavy[h], " "))
		}
	}
	var mods []string
	for m := range bad {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	for _, m := range mods {
		t.Errorf("core commands (in every image) link module %s: %s: make the command opt-in (OptInCommands in pkg/image/optin.go) or accept the module in coreModules", m, strings.Join(bad[m], " "))
	}
	// Every opt-in command exists, and is opt-in for a reason: it links
	// something the core does not.
	for name := range OptInCommands {
		found := false
		for _, c := range own {
			found = found || (c.Name == name && c.OptIn)
		}
		if !found {
			t.Errorf("OptInCommands names %s, which is not a command of cmds/: remove it", name)
		}
	}
}

// optInFixture is fixture's repository with two opt-in commands and
// templates running them.
func optInFixture(t *testing.T) (string, Options) {
	root, ro := fixture(t)
	for _, n := range []string{"svnetd", "svsshd"} {
		writeFile(t, filepath.Join(root, "cmds", n, "main.go"), "package main\nfunc main() {}\n", 0o644)
	}
	writeFile(t, filepath.Join(root, "templates/net/run"), "#!/bin/execlineb -P\nfdmove -c 2 1\nsvnetd -d3 -n /run/svnetd/ntp.conf\n", 0o755)
	writeFile(t, filepath.Join(root, "templates/binpath/run"), "#!/bin/execlineb -P\nforeground { echo start }\n/bin/svsshd -d3\n", 0o755)
	writeFile(t, filepath.Join(root, "templates/mention/run"), "#!/bin/execlineb -P\n# waits for svnetd's files\nif { mkdir -p /run/svnetd /run/svsshd }\nsvlog /run/log/mention\n", 0o755)
	writeFile(t, filepath.Join(root, "templates/logged/run"), "#!/bin/execlineb -P\ngetty ttyS1\n", 0o755)
	writeFile(t, filepath.Join(root, "templates/logged/log/run"), "#!/bin/sh\nexec svnetd -q\n", 0o755)
	writeFile(t, filepath.Join(root, "templates/hooks/SIGTERM"), "#!/bin/svsshd\n", 0o755)
	writeFile(t, filepath.Join(root, "rc/sshd/type"), "longrun\n", 0o644)
	writeFile(t, filepath.Join(root, "rc/sshd/run"), "#!/bin/execlineb -P\nsvsshd -d3\n", 0o755)
	writeFile(t, filepath.Join(root, "rc/default/type"), "bundle\n", 0o644)
	writeFile(t, filepath.Join(root, "rc/default/contents"), "sshd\n", 0o644)
	writeFile(t, filepath.Join(root, "shutdown"), "#!/bin/execlineb -P\nsvnetd -r\n", 0o755)
	return root, ro
}

func TestResolveOptIn(t *testing.T) {
	root, ro := optInFixture(t)
	for _, tc := range []struct {
		name, def string
		want      []string // the image's opt-in commands
		err       string
	}{
		{"core only", "commands: [gosh]\n", nil, ""},
		{"listed", "commands: [svnetd, gosh]\n", []string{"svnetd"}, ""},
		{"both listed", "commands: [gosh, svsshd, svnetd]\n", []string{"svnetd", "svsshd"}, ""},
		{"service running it", "commands: [gosh, cp, mv, svnetd]\nservices: [net]\n", []string{"svnetd"}, ""},
		{"mentions are not calls", "commands: [gosh, cp, mv]\nservices: [mention]\n", nil, ""},
		{"service without it", "commands: [gosh, cp, mv]\nservices: [logged, net]\n",
			nil, `test.yaml:2: services: "logged": templates/logged/log/run:2 runs svnetd, an opt-in command (` + OptInCommands["svnetd"] + `) the image leaves out: add svnetd to commands`},
		{"early service, by path", "commands: [gosh]\nearly_services:\n  - binpath\n",
			nil, `test.yaml:3: early_services: "binpath": templates/binpath/run:3 runs svsshd, an opt-in command (`},
		{"from elsewhere", "commands: [gosh, cp, mv]\nservices: [{name: n, from: templates/net}]\n",
			nil, `test.yaml:2: services: "n": templates/net/run:3 runs svnetd`},
		{"rc service", "commands: [gosh, svnetd]\nrc: {from: [rc]}\n",
			nil, `test.yaml:2: rc: service "sshd": rc/sshd/run:2 runs svsshd, an opt-in command (` + OptInCommands["svsshd"] + `) the image leaves out: add svsshd to commands`},
		{"rc service listed", "commands: [gosh, svsshd]\nrc: {from: [rc]}\n", []string{"svsshd"}, ""},
		{"scandir hooks", "commands: [gosh]\nscandir_hooks: hooks\n",
			nil, "test.yaml:2: scandir_hooks: templates/hooks/SIGTERM:1 runs svsshd"},
		{"shutdown hook", "commands: [gosh]\nshutdown_hook: shutdown\n",
			nil, "test.yaml:2: shutdown_hook: shutdown:2 runs svnetd"},
		{"stage 2 run", "commands: [gosh]\nstage2:\n  run:\n    - \"svsshd -d3\"\n",
			nil, `test.yaml:4: stage2: run: "svsshd -d3" runs svsshd, an opt-in command (`},
		{"stage 2 script", "commands: [gosh]\nstage2: {script: templates/net/run}\n",
			nil, "test.yaml:2: stage2: script: templates/net/run:3 runs svnetd"},
		{"misspelt", "commands: [gosh, svnetdd]\n",
			nil, `test.yaml:1: commands: unknown command "svnetdd": not an opt-in command of this repository (svnetd, svsshd) nor a u-root command (cmds/core or cmds/exp); did you mean svnetd?`},
		{"by another path", "commands: [gosh, github.com/u-root/u-root/cmds/core/svnetd]\n",
			nil, `test.yaml:1: commands: github.com/u-root/u-root/cmds/core/svnetd: this repository's opt-in command "svnetd" has that name: write svnetd alone for ours, or drop it`},
		{"core still refused", "commands: [gosh, svscan]\n",
			nil, `test.yaml:1: commands: "svscan" is this repository's own command, always in the image: remove it from commands`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := image.ParseDefinition([]byte(tc.def), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			p, err := Resolve(d, root, ro)
			if tc.err != "" {
				if err == nil {
					p.Close()
					t.Fatalf("no error, want %q", tc.err)
				}
				if !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("error %q\nwant starting with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var got []string
			core := false
			for _, c := range p.Commands {
				if c.OptIn {
					got = append(got, c.Name)
					if !c.Own || c.Package != filepath.Join(root, "cmds", c.Name) {
						t.Errorf("%s: %+v, want own package %s", c.Name, c, filepath.Join(root, "cmds", c.Name))
					}
				}
				core = core || c.Name == "svscan"
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("opt-in commands %q, want %q", got, tc.want)
			}
			if !core {
				t.Error("the core command svscan is missing")
			}
		})
	}
}

func TestCallIn(t *testing.T) {
	names := map[string]bool{"svnetd": true, "svsshd": true}
	for _, tc := range []struct{ line, want string }{
		{"svnetd -d3", "svnetd"},
		{"  svnetd", "svnetd"},
		{"foreground { svsshd -d3 }", "svsshd"},
		{"if { grep x y } svnetd", "svnetd"},
		{"exec /bin/svnetd", "svnetd"},
		{"/usr/sbin/svsshd", "svsshd"},
		{"/bbin/svsshd", "svsshd"},
		{"#!/bin/svnetd -P", "svnetd"},
		{"x=$(svnetd -q)", "svnetd"},
		{`"svnetd"`, "svnetd"},
		{"svnetd;true", "svnetd"},
		{"# svnetd writes it", ""},
		{"#!/bin/execlineb -P", ""},
		{"cat /run/svnetd/ntp.conf", ""},
		{"mkdir -p /run/svnetd", ""},
		{"svnetd-helper", ""},
		{"mysvnetd", ""},
		{"/opt/svnetd", ""},
		{"", ""},
	} {
		if got := callIn(tc.line, names); got != tc.want {
			t.Errorf("callIn(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}
