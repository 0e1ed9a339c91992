package kcmdline

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  console=ttyS0   quiet\n", []string{"console=ttyS0", "quiet"}},
		{`a="b c" d`, []string{"a=b c", "d"}},
		{`"x=y z"`, []string{"x=y z"}},
		{`a -- svinit.debug`, []string{"a"}},
		{`a --`, []string{"a"}},
		{`a="" b`, []string{"a=", "b"}},
		{`a="unterminated b`, []string{"a=unterminated b"}},
	} {
		if got := Split(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
