package stamp

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestNotesAssemble: the compile header (for C, C++ and preprocessed
// assembler) and Asm (the link note) give, through the real compilers and
// assembler, notes that Read decodes to what was written.
func TestNotesAssemble(t *testing.T) {
	dir := t.TempDir()
	hdr := filepath.Join(dir, "immunix-stamp.h")
	if err := os.WriteFile(hdr, []byte(CompileHeader()), 0o644); err != nil {
		t.Fatal(err)
	}
	text := "v=9.9 on=canary,pie off=- user-off=- fortify=3"
	link := Stamp{Type: Link, Version: "9.9", On: []string{"relro"}, Fortify: 0}
	cases := []struct {
		cc, src, code string
		flags         []string
		want          []string // the notes' text, in order
	}{
		{"gcc", "u.c", "int f(void) { return 1; }\n", []string{"-D__IMMUNIX_STAMP=\"" + text + "\""}, []string{text + " lang=c"}},
		{"clang", "u.c", "int f(void) { return 1; }\n", []string{"-D__IMMUNIX_STAMP=\"" + text + "\""}, []string{text + " lang=c"}},
		{"g++", "u.cc", "int f() { return 1; }\n", []string{"-D__IMMUNIX_STAMP=\"" + text + "\""}, []string{text + " lang=c++"}},
		{"gcc", "u.S", "\t.text\n", []string{"-D__IMMUNIX_STAMP_ASM=\"" + text + " lang=asm\""}, []string{text + " lang=asm"}},
		{"gcc", "link.s", link.Asm() + link.Asm(), nil, []string{link.String(), link.String()}},
	}
	for _, c := range cases {
		t.Run(c.cc+"/"+c.src, func(t *testing.T) {
			testenv.NeedsTool(t, c.cc)
			src := filepath.Join(dir, c.cc+"-"+c.src)
			if err := os.WriteFile(src, []byte(c.code), 0o644); err != nil {
				t.Fatal(err)
			}
			obj := src + ".o"
			args := append([]string{"-c", "-include", hdr}, c.flags...)
			if filepath.Ext(c.src) == ".s" {
				args = []string{"-c"}
			}
			out, err := exec.Command(c.cc, append(args, src, "-o", obj)...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", c.cc, err, out)
			}
			f, err := elf.Open(obj)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Read(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d notes, want %d: %+v", len(got), len(c.want), got)
			}
			for i, s := range got {
				if s.String() != c.want[i] {
					t.Errorf("note %d: %q, want %q", i, s.String(), c.want[i])
				}
			}
		})
	}
}
