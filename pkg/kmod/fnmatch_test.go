package kmod

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"pci:v00001AF4d00001000sv*sd*bc*sc*i*", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", true},
		{"pci:v00001AF4d00001001sv*sd*bc*sc*i*", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", false},
		{"virtio:d00000001v*", "virtio:d00000001v00001AF4", true},
		{"acpi*:PNP0501:*", "acpi:PNP0501:", true},
		{"acpi*:PNP0501:*", "acpi:PNP0500:", false},
		{"usb:v*p*d*dc*dsc*dp*ic09isc*ip*in*", "usb:v1D6Bp0002d0606dc09dsc00dp01ic09isc00ip00in00", true},
		{"input:b*v*p*e*-e*1,*k*110,*", "input:b0011v0001p0001eAB41-e0,1,4,11,14,k71,72,110,ram4,", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"a*", "a/b/c", true}, // no FNM_PATHNAME: * crosses '/'
		{"[abc]x", "bx", true},
		{"[!abc]x", "bx", false},
		{"[^abc]x", "dx", true},
		{"[a-f]0", "e0", true},
		{"[a-f]0", "g0", false},
		{"[]]", "]", true},
		{"[!]]", "a", true},
		{"[a-]", "-", true},
		{"[", "[", true},
		{"[ab", "[ab", true},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"a\\", "a\\", false},
		{"dmi*:svnQEMU:*", "dmi:bvnSeaBIOS:bvr1.16:svnQEMU:pnStandardPC", true},
		{"*a*b*c*", "xxaxxbxxc", true},
		{"*a*b*c*", "xxaxxcxxb", false},
		{"of:N*T*Cfoo,bar", "of:NnameTtypeCfoo,bar", true},
		// POSIX classes (C locale), as in rules like DEVNAME==tty[[:digit:]]*.
		{"tty[[:digit:]]*", "tty12", true},
		{"tty[[:digit:]]*", "ttyS0", false},
		{"[[:alpha:]_]x", "_x", true},
		{"[![:upper:]]", "a", true},
		{"[![:upper:]]", "A", false},
		{"[[:xdigit:]][[:space:]]", "f ", true},
		{"[[:punct:]]", ":", true},
		{"[[:foo:]]", "f", false},   // unknown class: no match
		{"[[:Alpha:]]", "A]", true}, // not a class name: "[" ":" "A" ... are members
		{"[[:Alpha:]]", "A", false}, // and the set closes at the first "]"
		// Malformed brackets, as glibc 2.36 (checked against it with 4M
		// random patterns): unterminated is a literal "[", even when a
		// member matched...
		{"[[", "[[", true},
		{"[[:punct:]", "[:", true},
		// ...but a range or an escape running into the end fails.
		{"[*-", "[/-", false},
		{"[a-", "[a-", false},
		{"[a\\", "[a\\", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("pci:v*d*", "pci:v1d2")
	f.Add("[!a-z]*\\?", "1xyz?")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got := Match(pattern, name)
		// A pattern with no special bytes matches exactly itself.
		special := false
		for i := 0; i < len(pattern); i++ {
			switch pattern[i] {
			case '*', '?', '[', '\\':
				special = true
			}
		}
		if !special && got != (pattern == name) {
			t.Fatalf("Match(%q, %q) = %v", pattern, name, got)
		}
		if !Match("*", name) {
			t.Fatal("* must match everything")
		}
		if !special && !Match(pattern, pattern) {
			t.Fatalf("literal %q does not match itself", pattern)
		}
	})
}
