package ccwrap

import (
	"sort"
	"testing"
)

func TestOptionTableSorted(t *testing.T) {
	if !sort.SliceIsSorted(options, func(i, j int) bool { return options[i].name < options[j].name }) {
		for i := 1; i < len(options); i++ {
			if options[i-1].name >= options[i].name {
				t.Errorf("option table not sorted (or duplicate) at %q >= %q", options[i-1].name, options[i].name)
			}
		}
	}
	for _, o := range options {
		if o.flags&takesJoined != 0 && o.flags&takesArg == 0 && o.name[len(o.name)-1] != '=' && o.name[len(o.name)-1] != ',' && o.name != "-Wl," {
			t.Errorf("%q takes only a joined argument but does not end in '=' or ','", o.name)
		}
	}
}

func TestLookupOption(t *testing.T) {
	tests := []struct {
		arg, canon, joined string
		isJoined, ok       bool
	}{
		{"-o", "-o", "", false, true},
		{"-ofoo", "-o", "foo", true, true},
		{"-include", "-include", "", false, true},
		{"-includefoo.h", "-include", "foo.h", true, true},
		{"-include-pch", "-include-pch", "", false, true},
		{"-isystem-after", "-isystem-after", "", false, true},
		{"-iwithprefixbeforex", "-iwithprefixbefore", "x", true, true},
		{"-Wl,-z,relro", "-Wl,", "-z,relro", true, true},
		{"--sysroot=/x", "--sysroot", "/x", true, true},
		{"--output=a.o", "-o", "a.o", true, true},
		{"-MFdep.d", "-MF", "dep.d", true, true},
		{"-MD", "", "", false, false},
		{"-e", "-e", "", false, true},
		{"-emit-llvm", "", "", false, false},
		{"-fstack-protector", "", "", false, false},
		{"-O2", "", "", false, false},
	}
	for _, tt := range tests {
		o, joined, isJoined, ok := lookupOption(tt.arg)
		if ok != tt.ok || (ok && (o.canonical() != tt.canon || joined != tt.joined || isJoined != tt.isJoined)) {
			t.Errorf("lookupOption(%q) = %q, %q, %v, %v; want %q, %q, %v, %v", tt.arg, o.canonical(), joined, isJoined, ok, tt.canon, tt.joined, tt.isJoined, tt.ok)
		}
	}
}
