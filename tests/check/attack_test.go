package checktest

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/cbuild"
	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/testenv"
)

// vulnerable reads a line into a 64-byte stack buffer with gets: built
// without a canary, a long line smashes the return address.
const vulnerable = `#include <stdio.h>
#include <string.h>
char *gets(char *);
__attribute__((noinline)) int readname(void) { char buf[64]; if (!gets(buf)) return 1; return (int)strlen(buf); }
int main(void) { return readname() > 1000; }
`

// forgedStamps is what immunix-cc would have written: one compile note
// with every protection on, one link note.
func forgedStamps() string {
	on := []string{"canary", "stackclash", "cet", "fortify", "formatsec", "formatguard", "pie"}
	c := stamp.Stamp{Type: stamp.Compile, Version: "0.1.0", On: on, Fortify: 3, Lang: "c"}
	l := stamp.Stamp{Type: stamp.Link, Version: "0.1.0", On: []string{"pie", "relro", "now", "noexecstack", "runtime"}}
	return c.Asm() + l.Asm()
}

// sectionEdit rewrites section headers in place, as a forger with a hex
// editor would: the loader never reads them, so the program runs the same.
func sectionEdit(t *testing.T, path string, edit func(f *elf.File, raw []byte, shoff uint64)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	edit(f, raw, binary.LittleEndian.Uint64(raw[0x28:]))
	if err := os.WriteFile(path, raw, 0o755); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return to
}

// runs checks that the edited program still runs (short input) and
// crashes on a smash (long input): the edits changed nothing that runs.
func runs(t *testing.T, exe string) {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Stdin = strings.NewReader("short\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s does not run after the edit: %v\n%s", exe, err, out)
	}
	cmd = exec.Command(exe)
	cmd.Stdin = strings.NewReader(strings.Repeat("A", 400) + "\n")
	if err := cmd.Run(); err == nil {
		t.Fatalf("%s survived a 400-byte line into a 64-byte buffer: the test program is not vulnerable", exe)
	}
}

func propOf(rep jsonReport, i int, prop string) (string, string) {
	for _, r := range rep.Files[i].Results {
		if r.Property == prop {
			return r.Status, r.Value
		}
	}
	return "", ""
}

// TestForgedStampsAndSectionHeaders (issue 14, item 7): a plain
// "gcc -fno-stack-protector" program with forged immunix build stamps,
// then with the section headers edited (SHF_EXECINSTR cleared on .text,
// .eh_frame renamed), then stripped, then with no section headers at all.
// Before the fix, the edited ones passed --strict --policy immunix. Each
// must fail, with canary, fortify and formatguard decided from the code.
func TestForgedStampsAndSectionHeaders(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "v.c")
	notes := filepath.Join(dir, "stamps.s")
	os.WriteFile(src, []byte(vulnerable), 0o644)
	os.WriteFile(notes, []byte(forgedStamps()), 0o644)
	base := filepath.Join(dir, "forged")
	if out, err := exec.Command("gcc", "-O2", "-w", "-fno-stack-protector", "-fPIE", "-pie", "-Wl,-z,relro,-z,now", "-o", base, src, notes).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	runs(t, base)
	flags := copyFile(t, base, filepath.Join(dir, "forged-flags"))
	sectionEdit(t, flags, func(f *elf.File, raw []byte, shoff uint64) {
		for i, s := range f.Sections {
			h := raw[shoff+uint64(i)*64:]
			switch s.Name {
			case ".text":
				fl := binary.LittleEndian.Uint64(h[8:])
				binary.LittleEndian.PutUint64(h[8:], fl&^uint64(elf.SHF_EXECINSTR))
			case ".eh_frame":
				name := binary.LittleEndian.Uint32(h[0:])
				// ".eh_frame" -> ".eh_frXme" in .shstrtab
				str := f.Sections[binary.LittleEndian.Uint16(raw[0x3e:])]
				raw[str.Offset+uint64(name)+5] = 'X'
			}
		}
	})
	runs(t, flags)
	stripped := copyFile(t, flags, filepath.Join(dir, "forged-flags-stripped"))
	if out, err := exec.Command("strip", stripped).CombinedOutput(); err != nil {
		t.Fatalf("strip: %v\n%s", err, out)
	}
	runs(t, stripped)
	noShdr := copyFile(t, base, filepath.Join(dir, "forged-noshdr"))
	sectionEdit(t, noShdr, func(f *elf.File, raw []byte, shoff uint64) {
		binary.LittleEndian.PutUint64(raw[0x28:], 0) // e_shoff
		binary.LittleEndian.PutUint16(raw[0x3c:], 0) // e_shnum
		binary.LittleEndian.PutUint16(raw[0x3e:], 0) // e_shstrndx
	})
	runs(t, noShdr)

	files := []string{base, flags, stripped, noShdr}
	rep, code := checkJSON(t, append([]string{"--strict", "--policy", "immunix"}, files...)...)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for i, p := range files {
		if len(rep.Files[i].Failed) == 0 {
			t.Errorf("%s passes --strict --policy immunix: %s", filepath.Base(p), verdicts(rep, i))
		}
		// Without a symbol table (stripped, or no section headers at all)
		// the forged link stamp's "runtime" leaves the missing canary
		// unknown (the runtime's functions cannot be named): --strict
		// refuses it (docs/check.md, Limits). Otherwise the code says fail.
		if st, v := propOf(rep, i, "canary"); st != "fail" && !((p == stripped || p == noShdr) && st == "unknown") {
			t.Errorf("%s: canary %s (%s), want fail: readname has a 64-byte buffer and no canary", filepath.Base(p), st, v)
		}
		if st, v := propOf(rep, i, "fortify"); st != "fail" {
			t.Errorf("%s: fortify %s (%s), want fail: gets and strlen are called, nothing fortified", filepath.Base(p), st, v)
		}
		if st, v := propOf(rep, i, "stamp"); st != "pass" {
			t.Errorf("%s: stamp %s (%s): the forged stamps should read as stamps (they explain, they do not decide)", filepath.Base(p), st, v)
		}
	}
}

// TestPrintfDeclaredByHand (issue 14, item 7): a file that declares printf
// itself instead of including <stdio.h> bypasses FormatGuard's header
// wrapper; built by immunix-cc, its non-literal printf is unchecked and
// formatguard must fail. The same call with <stdio.h> is checked.
func TestPrintfDeclaredByHand(t *testing.T) {
	cc := filepath.Join(testenv.Binaries(t), "immunix-cc")
	for _, real := range testenv.Compilers() {
		testenv.NeedsTool(t, real)
		dir := t.TempDir()
		var paths []string
		for name, src := range map[string]string{
			"byhand": "int printf(const char *, ...);\nint main(int c, char **v) { (void)c; return printf(v[0]) < 0; }\n",
			"header": "#include <stdio.h>\nint main(int c, char **v) { (void)c; return printf(v[0]) < 0; }\n",
		} {
			p := filepath.Join(dir, name+".c")
			os.WriteFile(p, []byte(src), 0o644)
			exe := filepath.Join(dir, name)
			cmd := exec.Command(cc, "-O2", "-o", exe, p)
			cmd.Env = append(os.Environ(), "IMMUNIX_CC="+real)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("immunix-cc (%s): %v\n%s", real, err, out)
			}
			paths = append(paths, exe)
		}
		rep, _ := checkJSON(t, append([]string{"--policy", "immunix"}, paths...)...)
		for i, p := range paths {
			st, v := propOf(rep, i, "formatguard")
			want := "pass"
			if filepath.Base(p) == "byhand" {
				want = "fail"
			}
			if st != want {
				t.Errorf("%s %s: formatguard %s (%s), want %s", real, filepath.Base(p), st, v, want)
			}
		}
	}
}

// TestNoUnwindStripped (issue 14, item 8): without unwind tables and
// stripped, the functions have no symbol and no FDE. Before the fix the
// canary was "n/a (3 functions)" and passed --strict; such code is
// unknown (found by sweeping the executable segment), never n/a.
func TestNoUnwindStripped(t *testing.T) {
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		exe := cbuild.Build(t, cc, vulnerable, "-O2", "-w", "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-s")
		rep, code := checkJSON(t, "--strict", exe)
		st, v := propOf(rep, 0, "canary")
		if st != "unknown" && st != "fail" {
			t.Errorf("%s: canary %s (%s), want unknown (or fail)", cc, st, v)
		}
		if code != 1 {
			t.Errorf("%s: --strict exit %d, want 1", cc, code)
		}
	}
}

// TestClangSmallArray (issue 14, item 10): clang -O2 sets up the frame of
// a function with char name[8] by "push %rax" and passes "mov %rsp,%rdi":
// before the fix it was needs-none and the program n/a.
func TestClangSmallArray(t *testing.T) {
	testenv.NeedsTool(t, "clang")
	exe := cbuild.Build(t, "clang", `#include <string.h>
__attribute__((noinline)) int greet(const char *s) { char name[8]; strcpy(name, s); return name[0]; }
int main(int c, char **v) { (void)c; return greet(v[0]); }
`, "-O2", "-w", "-fno-stack-protector")
	out, err := exec.Command("objdump", "-d", "--no-show-raw-insn", exe).Output()
	if err == nil && !strings.Contains(string(out), "push   %rax") {
		t.Logf("clang no longer uses push %%rax here:\n%s", out)
	}
	if got := functionClasses(t, exe)["greet"]; got != "missing" {
		t.Errorf("greet: %s, want missing", got)
	}
	rep, _ := checkJSON(t, exe)
	if st, v := propOf(rep, 0, "canary"); st != "fail" {
		t.Errorf("canary %s (%s), want fail", st, v)
	}
}

// TestRuntimeAndLibcNotByName (issue 14, item 9): a program's own
// function is neither the guard runtime's because its source file is
// called init.c (the runtime has an init.c), nor libc's because it is
// called next_line (libc.a has one) in a static-pie program.
func TestRuntimeAndLibcNotByName(t *testing.T) {
	cc := filepath.Join(testenv.Binaries(t), "immunix-cc")
	testenv.NeedsTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "init.c")
	os.WriteFile(src, []byte(`#include <string.h>
static __attribute__((noinline)) int copy(const char *s) { char b[32]; strcpy(b, s); return b[1]; }
int main(int c, char **v) { (void)c; return copy(v[0]); }
`), 0o644)
	rt := filepath.Join(dir, "rt")
	cmd := exec.Command(cc, "-O2", "-fno-stack-protector", "-o", rt, src)
	cmd.Env = append(os.Environ(), "IMMUNIX_CC=gcc")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("immunix-cc: %v\n%s", err, out)
	}
	libc := cbuild.Build(t, "gcc", `#include <string.h>
__attribute__((noinline)) int next_line(const char *s) { char b[32]; strcpy(b, s); return b[1]; }
int main(int c, char **v) { (void)c; return next_line(v[0]); }
`, "-O2", "-w", "-fno-stack-protector", "-static-pie")
	for exe, fn := range map[string]string{rt: "copy"} {
		if got := functionClasses(t, exe)[fn]; got != "missing" {
			t.Errorf("%s: %s is %s, want missing", exe, fn, got)
		}
	}
	rep, _ := checkJSON(t, rt, libc)
	for i := range []string{"copy", "next_line"} {
		st, v := propOf(rep, i, "canary")
		if st != "fail" {
			t.Errorf("%s: canary %s (%s), want fail", rep.Files[i].Path, st, v)
		}
	}
}
