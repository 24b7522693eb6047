package ccwrap

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary command lines (NUL-separated) and @file
// contents through Parse, Decide and Rewrite: nothing may panic, and the
// final command must keep every user argument in order.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"-c\x00-O2\x00hello.c", "-x\x00c++\x00-\x00-E", "--version", "@r\x00-o", "-Wl,-z,norelro\x00a.o",
		"-D_FORTIFY_SOURCE=1\x00-Wp,-U_FORTIFY_SOURCE\x00x.c", "-shared\x00-static-pie\x00-r\x00x.o", "-x",
		"-MD\x00-MF\x00-MT", "-Xlinker\x00-z\x00-Xlinker", "-mcmodel=kernel\x00-c\x00k.c", "-T\x00s.ld\x00-nostdlib\x00b.c",
	} {
		f.Add(s, "-O2 'a b' @r")
	}
	f.Fuzz(func(t *testing.T, argline, rsp string) {
		args := strings.Split(argline, "\x00")
		read := func(string) ([]byte, error) { return []byte(rsp), nil }
		inv, err := Parse(args, read)
		if err != nil {
			return // a self-including @file
		}
		for _, c := range []Caps{flavours[0].caps, flavours[1].caps, otherCaps["old"]} {
			p := Decide(inv, Policy{}, c)
			out := Rewrite(&p, []string{"cc"}, nil, args, Assets{StampHeader: "h", LinkNote: "n.o", RuntimeArgs: []string{"r.a"}})
			i := 0
			for _, a := range out[1:] {
				if i < len(args) && a == args[i] {
					i++
				}
			}
			if i != len(args) {
				t.Fatalf("Rewrite lost user arguments: %q -> %q", args, out)
			}
			if p.Inv.Reason != NoReason && len(out) != len(args)+1 {
				t.Fatalf("pass-through %s changed the command: %q -> %q", p.Inv.Reason, args, out)
			}
		}
	})
}

// FuzzResponseFile checks that splitting never panics and that quoting
// every word back gives the same words.
func FuzzResponseFile(f *testing.F) {
	for _, s := range []string{"a b", `"a b" 'c'`, `\`, `''`, "a\\\nb", `x"y\"z"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words := SplitResponseFile(s)
		var b strings.Builder
		for _, w := range words {
			b.WriteString("'")
			for _, r := range []byte(w) {
				if r == '\'' || r == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(r)
			}
			b.WriteString("' ")
		}
		again := SplitResponseFile(b.String())
		if len(again) != len(words) {
			t.Fatalf("%q -> %q -> %q", s, words, again)
		}
		for i := range words {
			if again[i] != words[i] {
				t.Fatalf("%q -> %q -> %q", s, words, again)
			}
		}
	})
}

// FuzzConfig feeds arbitrary configuration files through LoadPolicy: an
// error is always one line naming the file with exit 100, never a panic.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{"IMMUNIX_DISABLE=canary\n", "# c\nIMMUNIX_FLAGS=\"-O2 'a b'\"\r\n", "=\n", "IMMUNIX_STRICT=maybe", "\x00\n\n#", strings.Repeat("x", 70000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		read := func(string) ([]byte, error) { return []byte(data), nil }
		_, err := LoadPolicy("/c.conf", read, func(string) string { return "" })
		if err == nil {
			return
		}
		if msg := err.Error(); !strings.Contains(msg, "/c.conf:") || ExitCode(err) != ExitUsage {
			t.Fatalf("error %q (exit %d) does not name /c.conf:LINE with exit 100", msg, ExitCode(err))
		}
	})
}
