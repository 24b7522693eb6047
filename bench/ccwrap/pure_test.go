package main

import (
	"testing"

	"github.com/immunix/immunix/ccwrap"
)

// BenchmarkParseDecideRewrite times the pure part of one invocation (a
// typical autotools compile line) with no file system access.
func BenchmarkParseDecideRewrite(b *testing.B) {
	args := []string{"-DHAVE_CONFIG_H", "-I.", "-I..", "-Wdate-time", "-D_FORTIFY_SOURCE=2", "-g", "-O2",
		"-ffile-prefix-map=/build/x=.", "-fstack-protector-strong", "-Wformat", "-Werror=format-security",
		"-MT", "foo.o", "-MD", "-MP", "-MF", ".deps/foo.Tpo", "-c", "-o", "foo.o", "foo.c"}
	caps := ccwrap.Caps{Kind: "gcc", Version: "12.2.0", X86: true, Canary: true, StackClash: true, CET: true, Fortify3: true}
	a := ccwrap.Assets{StampHeader: "/cache/stamp-h/x/immunix-stamp.h", FormatGuardArgs: []string{"-isystem", "/cache/fg"}}
	for b.Loop() {
		inv, err := ccwrap.Parse(args, nil)
		if err != nil {
			b.Fatal(err)
		}
		p := ccwrap.Decide(inv, ccwrap.Policy{}, caps)
		_ = ccwrap.Rewrite(&p, []string{"/usr/bin/gcc"}, nil, args, a)
	}
}
