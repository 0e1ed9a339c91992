package devrules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/kmod"
)

func lookup(m map[string]int) func(string) (int, error) {
	return func(n string) (int, error) {
		if id, ok := m[n]; ok {
			return id, nil
		}
		return -1, fmt.Errorf("no such name %q", n)
	}
}

var testOpts = Options{LookupUser: lookup(map[string]int{"root": 0, "daemon": 1}), LookupGroup: lookup(map[string]int{"disk": 6, "tty": 5, "input": 101})}

func TestParseLine(t *testing.T) {
	tests := []struct {
		in      string
		want    *Rule // nil: no rule (blank/comment) unless wantErr
		wantErr string
	}{
		{in: "", want: nil},
		{in: "   # comment", want: nil},
		{in: "SUBSYSTEM==block DEVNAME==sd* mode=0660 group=disk",
			want: &Rule{Conds: []Cond{{"SUBSYSTEM", "block", false}, {"DEVNAME", "sd*", false}}, Mode: 0o660, UID: -1, GID: 6}},
		{in: "DEVNAME!=tty[0-9]* SUBSYSTEM==tty mode=0620 owner=daemon group=5 # trailing",
			want: &Rule{Conds: []Cond{{"DEVNAME", "tty[0-9]*", true}, {"SUBSYSTEM", "tty", false}}, Mode: 0o620, UID: 1, GID: 5}},
		{in: `ID_NAME=="a b" symlink=disk/by-name/$DEVNAME symlink=x last`,
			want: &Rule{Conds: []Cond{{"ID_NAME", "a b", false}}, Mode: -1, UID: -1, GID: -1, Symlinks: []string{"disk/by-name/$DEVNAME", "x"}, Last: true}},
		{in: `ACTION==add SUBSYSTEM==net run=/bin/ip link set "$INTERFACE" up`,
			want: &Rule{Conds: []Cond{{"ACTION", "add", false}, {"SUBSYSTEM", "net", false}}, Mode: -1, UID: -1, GID: -1, Run: []string{"/bin/ip", "link", "set", "$INTERFACE", "up"}}},
		{in: `MODALIAS==pci:* run="/bin/logger -t dev 'hello world'"`,
			want: &Rule{Conds: []Cond{{"MODALIAS", "pci:*", false}}, Mode: -1, UID: -1, GID: -1, Run: []string{"/bin/logger", "-t", "dev", "hello world"}}},
		{in: "mode=0600", want: &Rule{Mode: 0o600, UID: -1, GID: -1}},
		{in: "SUBSYSTEM==block", wantErr: "no action"},
		{in: "SUBSYSTEM=block mode=0600", wantErr: "needs == or !="},
		{in: "SUBSYSTEM~block mode=0600", wantErr: "expected KEY==glob"},
		{in: "SUB-SYS==block mode=0600", wantErr: "bad key"},
		{in: "DEVNAME==x mode=999", wantErr: "octal mode"},
		{in: "DEVNAME==x mode=017777", wantErr: "octal mode"},
		{in: "DEVNAME==x owner=nobody", wantErr: "owner=nobody"},
		{in: "DEVNAME==x group=nogroup", wantErr: "group=nogroup"},
		{in: "DEVNAME==x symlink=/abs", wantErr: "relative to /dev"},
		{in: "DEVNAME==x chmod=0600", wantErr: "unknown action"},
		{in: `DEVNAME=="x mode=0600`, wantErr: "unterminated quote"},
		{in: `DEVNAME=="x"y mode=0600`, wantErr: "closing quote"},
		{in: "DEVNAME==x run=", wantErr: "empty command"},
		{in: "DEVNAME==x run=a 'b", wantErr: "unterminated"},
		{in: "==x mode=0600", wantErr: "bad key"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			rules, errs := Parse(strings.NewReader(tt.in), testOpts)
			if tt.wantErr != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.wantErr) || !strings.Contains(errs[0].Error(), "line 1") {
					t.Fatalf("errs = %v, want one line-1 error containing %q", errs, tt.wantErr)
				}
				if len(rules) != 0 {
					t.Fatalf("bad line produced a rule: %+v", rules)
				}
				return
			}
			if len(errs) != 0 {
				t.Fatalf("errs = %v", errs)
			}
			if tt.want == nil {
				if len(rules) != 0 {
					t.Fatalf("rules = %+v, want none", rules)
				}
				return
			}
			tt.want.Line = 1
			if len(rules) != 1 || !reflect.DeepEqual(rules[0], *tt.want) {
				t.Fatalf("got %+v\nwant %+v", rules, *tt.want)
			}
		})
	}
}

func TestBadLineOthersApply(t *testing.T) {
	src := "SUBSYSTEM==block mode=0640\nthis is not a rule\nDEVNAME==sda group=disk\n"
	rules, errs := Parse(strings.NewReader(src), Options{File: "/etc/ueventd.rules", LookupGroup: testOpts.LookupGroup})
	if len(errs) != 1 {
		t.Fatalf("errs = %v", errs)
	}
	var le *LineError
	if !errors.As(errs[0], &le) || le.Line != 2 || !strings.HasPrefix(errs[0].Error(), "/etc/ueventd.rules: line 2: ") {
		t.Fatalf("err = %v", errs[0])
	}
	res := Apply(rules, map[string]string{"SUBSYSTEM": "block", "DEVNAME": "sda"})
	if res.Mode != 0o640 || res.GID != 6 || !reflect.DeepEqual(res.Lines, []int{1, 3}) {
		t.Fatalf("Apply = %+v", res)
	}
}

func TestApply(t *testing.T) {
	src := `
# defaults
SUBSYSTEM==block mode=0660 group=disk
DEVNAME==null mode=0666
DEVNAME==input/event* group=input mode=0640 symlink=input/by-seq/$SEQNUM
DEVNAME==sd[a-z] symlink=disk/$DEVNAME symlink=${DEVNAME}-disk
DEVNAME==sda mode=0600 last
DEVNAME==sd* mode=0644
ACTION==add SUBSYSTEM==net run=/bin/netup $INTERFACE "$$literal"
ACTION!=add SUBSYSTEM==net run=/bin/netdown ${INTERFACE}
DEVTYPE==partition mode=0640
MISSING==x mode=0777
MISSING=="" owner=1
`
	rules, errs := Parse(strings.NewReader(src), testOpts)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	tests := []struct {
		name string
		env  map[string]string
		want Result
	}{
		{"sda stops at last", map[string]string{"SUBSYSTEM": "block", "DEVNAME": "sda"},
			Result{Mode: 0o600, UID: -1, GID: 6, Symlinks: []string{"disk/sda", "sda-disk"}, Lines: []int{3, 6, 7}}},
		{"sdb continues", map[string]string{"SUBSYSTEM": "block", "DEVNAME": "sdb"},
			Result{Mode: 0o644, UID: 1, GID: 6, Symlinks: []string{"disk/sdb", "sdb-disk"}, Lines: []int{3, 6, 8, 13}}},
		{"partition", map[string]string{"SUBSYSTEM": "block", "DEVNAME": "sdb1", "DEVTYPE": "partition"},
			Result{Mode: 0o640, UID: 1, GID: 6, Lines: []int{3, 8, 11, 13}}},
		{"input", map[string]string{"SUBSYSTEM": "input", "DEVNAME": "input/event3", "SEQNUM": "42"},
			Result{Mode: 0o640, UID: 1, GID: 101, Symlinks: []string{"input/by-seq/42"}, Lines: []int{5, 13}}},
		{"net add", map[string]string{"ACTION": "add", "SUBSYSTEM": "net", "INTERFACE": "eth0"},
			Result{Mode: -1, UID: 1, GID: -1, Run: [][]string{{"/bin/netup", "eth0", "$literal"}}, Lines: []int{9, 13}}},
		{"net remove", map[string]string{"ACTION": "remove", "SUBSYSTEM": "net", "INTERFACE": "eth0"},
			Result{Mode: -1, UID: 1, GID: -1, Run: [][]string{{"/bin/netdown", "eth0"}}, Lines: []int{10, 13}}},
		{"missing key set", map[string]string{"MISSING": "x"},
			Result{Mode: 0o777, UID: -1, GID: -1, Lines: []int{12}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Apply(rules, tt.env); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Apply =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// TestMatchKeys: every key the issue names, and any other event key,
// matches with globs, == and !=.
func TestMatchKeys(t *testing.T) {
	env := map[string]string{
		"ACTION": "add", "SUBSYSTEM": "net", "DEVNAME": "net/tun", "DRIVER": "virtio_net",
		"MODALIAS": "virtio:d00000001v00001AF4", "ID_VENDOR": "Red Hat, Inc.", "INTERFACE": "eth0",
	}
	tests := []struct {
		rule string
		want bool
	}{
		{"ACTION==add mode=0600", true},
		{"ACTION==remove mode=0600", false},
		{"ACTION!=remove mode=0600", true},
		{"SUBSYSTEM==ne? mode=0600", true},
		{"SUBSYSTEM==block mode=0600", false},
		{"DEVNAME==net/* mode=0600", true},
		{"DEVNAME==tun mode=0600", false},
		{"DRIVER==virtio_* mode=0600", true},
		{"DRIVER!=virtio_* mode=0600", false},
		{"MODALIAS==virtio:d00000001v* mode=0600", true},
		{"MODALIAS==pci:* mode=0600", false},
		{`ID_VENDOR=="Red Hat*" mode=0600`, true},
		{"INTERFACE==eth[0-9] mode=0600", true},
		{"INTERFACE==eth[!0-9] mode=0600", false},
		{"ABSENT==* mode=0600", true}, // an absent key is empty, and * matches ""
		{"ABSENT==?* mode=0600", false},
		{"ACTION==add SUBSYSTEM==net DRIVER==virtio_net MODALIAS==virtio:* mode=0600", true},
		{"ACTION==add SUBSYSTEM==net DRIVER==e1000 mode=0600", false},
	}
	for _, tt := range tests {
		rules, errs := Parse(strings.NewReader(tt.rule), Options{})
		if len(errs) != 0 || len(rules) != 1 {
			t.Fatalf("%q: %v", tt.rule, errs)
		}
		if got := rules[0].Matches(env); got != tt.want {
			t.Errorf("%q matches = %v, want %v", tt.rule, got, tt.want)
		}
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "1", "B_2": "two"}
	for in, want := range map[string]string{
		"$A":       "1",
		"x$A/y":    "x1/y",
		"${B_2}x":  "twox",
		"$B_2x":    "",
		"$$A":      "$A",
		"$":        "$",
		"a$-b":     "a$-b",
		"${nope":   "${nope",
		"${}":      "${}",
		"$NOPE.":   ".",
		"no dolla": "no dolla",
	} {
		if got := Expand(in, env); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLookupID(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "group")
	os.WriteFile(p, []byte("root:x:0:\ndisk:x:6:\nbad:x:q:\n"), 0o644)
	if id, err := LookupID(p, "disk"); err != nil || id != 6 {
		t.Fatalf("disk = %d, %v", id, err)
	}
	if _, err := LookupID(p, "bad"); err == nil {
		t.Fatal("bad id accepted")
	}
	if _, err := LookupID(p, "nope"); err == nil || !strings.Contains(err.Error(), "no entry") {
		t.Fatalf("nope: %v", err)
	}
	if rules, errs := ParseFile(filepath.Join(dir, "absent"), Options{}); rules != nil || errs != nil {
		t.Fatal("missing rules file should be empty")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("SUBSYSTEM==block DEVNAME==sd* mode=0660 group=disk\n")
	f.Add(`ACTION==add run=/bin/x "$A" 'b c'` + "\n")
	f.Add(`X=="a\"b" symlink=${X}/y last`)
	f.Add("mode=0600 owner=0\n# c\nA!=b run=\"x\"")
	f.Fuzz(func(t *testing.T, src string) {
		rules, _ := Parse(strings.NewReader(src), Options{})
		env := map[string]string{"ACTION": "add", "DEVNAME": "sda", "SUBSYSTEM": "block"}
		res := Apply(rules, env)
		if res.Mode > 0o7777 || len(res.Lines) > len(rules) {
			t.Fatalf("bad result %+v", res)
		}
		for _, r := range rules {
			if len(r.Conds) == 0 && r.Mode < 0 && r.UID < 0 && r.GID < 0 && r.Symlinks == nil && r.Run == nil && !r.Last {
				t.Fatalf("empty rule %+v", r)
			}
			if r.Run != nil && len(r.Run) == 0 {
				t.Fatalf("empty run %+v", r)
			}
		}
	})
}

// FuzzApply: any rules against any event values: matching and $KEY
// expansion never fail, and a rule matches exactly when all of its
// conditions do.
func FuzzApply(f *testing.F) {
	f.Add("DEVNAME==sd[a-z]* symlink=disk/$DEVNAME run=/bin/x ${MODALIAS} $$", "sda", "pci:v*")
	f.Add("MODALIAS!=[!a-z]*\\ DRIVER==?* mode=0600 last", "[x", "")
	f.Add(`ID=="a b" symlink=${ID}/$ID`, "a b", "$ID")
	f.Fuzz(func(t *testing.T, rule, v1, v2 string) {
		rules, _ := Parse(strings.NewReader(rule), Options{})
		env := map[string]string{"ACTION": "add", "DEVNAME": v1, "MODALIAS": v2, "DRIVER": v1 + v2, "ID": v2}
		res := Apply(rules, env)
		matched := 0
		for i := range rules {
			all := true
			for _, c := range rules[i].Conds {
				if kmod.Match(c.Pattern, env[c.Key]) == c.Negate {
					all = false
				}
			}
			if all != rules[i].Matches(env) {
				t.Fatalf("rule %+v: Matches = %v, conditions say %v", rules[i], !all, all)
			}
			if all {
				matched++
				if rules[i].Last {
					break
				}
			}
		}
		if len(res.Lines) != matched {
			t.Fatalf("Apply matched lines %v, want %d rules", res.Lines, matched)
		}
	})
}
