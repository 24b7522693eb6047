package ccwrap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/testenv"
)

// checkHardenedExe checks a protected executable: PIE (unless static),
// RELRO, BIND_NOW, non-executable stack, one link note and at least one
// compile note with the expected language, and the canary wired up.
func checkHardenedExe(t *testing.T, path, lang string, pie bool) facts {
	t.Helper()
	fa := readFacts(t, path)
	if pie && fa.typ != 3 /* ET_DYN */ {
		t.Errorf("%s: type %v, want a PIE (ET_DYN)", path, fa.typ)
	}
	if !fa.relro || !fa.now {
		t.Errorf("%s: relro=%v now=%v, want both", path, fa.relro, fa.now)
	}
	if !fa.hasGNUStack || fa.execStack {
		t.Errorf("%s: executable stack", path)
	}
	if len(fa.link) != 1 {
		t.Errorf("%s: %d link notes, want 1", path, len(fa.link))
	} else {
		l := fa.link[0]
		for _, p := range []string{"relro", "now", "noexecstack"} {
			if !l.Has(p) {
				t.Errorf("%s: link note %q lacks %s", path, l.String(), p)
			}
		}
		if pie && !l.Has("pie") {
			t.Errorf("%s: link note %q lacks pie", path, l.String())
		}
		if l.Has("runtime") != fa.symbols["__immunix_guard_init"] {
			t.Errorf("%s: link note says runtime=%v but __immunix_guard_init present=%v", path, l.Has("runtime"), fa.symbols["__immunix_guard_init"])
		}
	}
	if len(fa.compile) == 0 {
		t.Errorf("%s: no compile note", path)
	}
	for _, c := range fa.compile {
		if c.Lang != lang {
			t.Errorf("%s: compile note %q, want lang=%s", path, c.String(), lang)
		}
		for _, p := range []string{"canary", "stackclash", "cet", "fortify", "formatsec"} {
			if !c.Has(p) {
				t.Errorf("%s: compile note %q lacks %s", path, c.String(), p)
			}
		}
		if c.Fortify < 2 {
			t.Errorf("%s: compile note %q: fortify level %d", path, c.String(), c.Fortify)
		}
	}
	if !fa.symbols["__stack_chk_fail"] {
		t.Errorf("%s: no __stack_chk_fail: the canary is not in the code", path)
	}
	return fa
}

func lang(cc string) string {
	if strings.Contains(cc, "++") {
		return "c++"
	}
	return "c"
}

func TestModes(t *testing.T) {
	for _, cc := range allCompilers(t) {
		t.Run(cc, func(t *testing.T) {
			w, env := wrapper(t, cc)
			dir := t.TempDir()
			src := source(t, dir, cc)
			c := cmd{dir: dir, env: env}
			// runs takes the subtest's own t: a failure must stop the
			// subtest, never FailNow its parent from the subtest's goroutine.
			runs := func(t *testing.T, exe string, extraEnv ...string) {
				t.Helper()
				r := cmd{dir: dir, env: extraEnv}.ok(t, exe)
				if r.stdout != "hello\n" {
					t.Errorf("%s printed %q", exe, r.stdout)
				}
			}

			t.Run("one-step", func(t *testing.T) {
				c.ok(t, w, "-O2", src, "-o", "one")
				runs(t, filepath.Join(dir, "one"))
				checkHardenedExe(t, filepath.Join(dir, "one"), lang(cc), true)
			})
			t.Run("compile-then-link", func(t *testing.T) {
				c.ok(t, w, "-O2", "-c", src, "-o", "two.o")
				fa := readFacts(t, filepath.Join(dir, "two.o"))
				if len(fa.compile) != 1 || len(fa.link) != 0 {
					t.Errorf("two.o: %d compile and %d link notes, want 1 and 0", len(fa.compile), len(fa.link))
				}
				c.ok(t, w, "two.o", "-o", "two")
				runs(t, filepath.Join(dir, "two"))
				checkHardenedExe(t, filepath.Join(dir, "two"), lang(cc), true)
			})
			t.Run("asm-output", func(t *testing.T) {
				c.ok(t, w, "-O2", "-S", src, "-o", "three.s")
				data, _ := os.ReadFile(filepath.Join(dir, "three.s"))
				if !strings.Contains(string(data), ".note.immunix") {
					t.Errorf("three.s has no .note.immunix section")
				}
				c.ok(t, w, "three.s", "-o", "three")
				runs(t, filepath.Join(dir, "three"))
				checkHardenedExe(t, filepath.Join(dir, "three"), lang(cc), true)
			})
			t.Run("preprocess-then-compile", func(t *testing.T) {
				r := c.ok(t, w, "-O2", "-E", src)
				if strings.Contains(r.stdout, ".note.immunix") {
					t.Errorf("-E output carries the stamp header")
				}
				ext := ".i"
				if lang(cc) == "c++" {
					ext = ".ii"
				}
				writeFile(t, filepath.Join(dir, "four"+ext), r.stdout)
				c.ok(t, w, "-O2", "four"+ext, "-o", "four")
				runs(t, filepath.Join(dir, "four"))
				if fa := readFacts(t, filepath.Join(dir, "four")); len(fa.link) != 1 {
					t.Errorf("four: %d link notes", len(fa.link))
				}
			})
			t.Run("syntax-only", func(t *testing.T) {
				c.ok(t, w, "-O2", "-fsyntax-only", src)
			})
			t.Run("shared", func(t *testing.T) {
				lib := writeFile(t, filepath.Join(dir, "lib.c"), "int answer(void) { return 42; }\n")
				if lang(cc) == "c++" {
					lib = writeFile(t, filepath.Join(dir, "lib.cc"), "extern \"C\" int answer() { return 42; }\n")
				}
				c.ok(t, w, "-O2", "-fPIC", "-shared", lib, "-o", "libanswer.so")
				fa := readFacts(t, filepath.Join(dir, "libanswer.so"))
				if fa.typ != 3 || fa.interp || !fa.relro || !fa.now || len(fa.link) != 1 || len(fa.compile) != 1 {
					t.Errorf("libanswer.so: type=%v interp=%v relro=%v now=%v notes=%d/%d", fa.typ, fa.interp, fa.relro, fa.now, len(fa.compile), len(fa.link))
				}
				if len(fa.link) == 1 && fa.link[0].Has("pie") {
					t.Errorf("libanswer.so: link note claims pie")
				}
				decl := "int answer(void);"
				if lang(cc) == "c++" {
					decl = "extern \"C\" int answer(void);"
				}
				main := writeFile(t, filepath.Join(dir, "usemain."+map[string]string{"c": "c", "c++": "cc"}[lang(cc)]),
					"#include <stdio.h>\n"+decl+"\nint main(void){printf(\"%d\\n\", answer()); return 0;}\n")
				c.ok(t, w, "-O2", main, "-L.", "-lanswer", "-o", "uselib")
				r := cmd{dir: dir, env: []string{"LD_LIBRARY_PATH=" + dir}}.ok(t, filepath.Join(dir, "uselib"))
				if r.stdout != "42\n" {
					t.Errorf("uselib printed %q", r.stdout)
				}
			})
			t.Run("relocatable", func(t *testing.T) {
				c.ok(t, w, "-O2", "-c", src, "-o", "r1.o")
				c.ok(t, w, "-r", "r1.o", "-o", "r.o")
				fa := readFacts(t, filepath.Join(dir, "r.o"))
				if fa.typ != 1 /* ET_REL */ || len(fa.link) != 0 || len(fa.compile) != 1 {
					t.Errorf("r.o: type=%v notes=%d/%d, want a relocatable object with only the compile note", fa.typ, len(fa.compile), len(fa.link))
				}
				c.ok(t, w, "r.o", "-o", "rexe")
				runs(t, filepath.Join(dir, "rexe"))
			})
			t.Run("stdin", func(t *testing.T) {
				x := "c"
				if lang(cc) == "c++" {
					x = "c++"
				}
				data, _ := os.ReadFile(src)
				cmd{dir: dir, env: env, stdin: string(data)}.ok(t, w, "-O2", "-x", x, "-", "-o", "fromstdin")
				runs(t, filepath.Join(dir, "fromstdin"))
				checkHardenedExe(t, filepath.Join(dir, "fromstdin"), lang(cc), true)
			})
			t.Run("response-file", func(t *testing.T) {
				writeFile(t, filepath.Join(dir, "inner.rsp"), "-o 'rsp out'\n")
				writeFile(t, filepath.Join(dir, "outer.rsp"), "\"-O2\" "+filepath.Base(src)+" @inner.rsp\n")
				c.ok(t, w, "@outer.rsp")
				runs(t, filepath.Join(dir, "rsp out"))
				checkHardenedExe(t, filepath.Join(dir, "rsp out"), lang(cc), true)
			})
			t.Run("deps", func(t *testing.T) {
				c.ok(t, w, "-O2", "-c", src, "-MMD", "-MF", "dep.d", "-MT", "dep.o", "-o", "dep.o")
				d, err := os.ReadFile(filepath.Join(dir, "dep.d"))
				if err != nil || !strings.HasPrefix(string(d), "dep.o: ") || strings.Contains(string(d), "immunix") {
					t.Errorf("dep.d = %q, %v: want the user's rule, without immunix's headers", d, err)
				}
				r := c.ok(t, w, "-M", src)
				plain := cmd{dir: dir}.ok(t, cc, "-M", src)
				if !strings.HasPrefix(r.stdout, strings.SplitN(plain.stdout, ":", 2)[0]+":") {
					t.Errorf("-M target differs:\n%s\nvs\n%s", r.stdout, plain.stdout)
				}
			})
			t.Run("flto-strip", func(t *testing.T) {
				c.ok(t, w, "-O2", "-flto", src, "-o", "lto")
				runs(t, filepath.Join(dir, "lto"))
				cmd{dir: dir}.ok(t, "strip", "lto")
				fa := readFacts(t, filepath.Join(dir, "lto"))
				if len(fa.compile) != 1 || len(fa.link) != 1 {
					t.Errorf("stripped LTO executable: %d compile and %d link notes, want 1 and 1", len(fa.compile), len(fa.link))
				}
			})
			t.Run("user-off", func(t *testing.T) {
				c.ok(t, w, "-O2", "-fno-stack-protector", "-U_FORTIFY_SOURCE", src, "-o", "weak")
				runs(t, filepath.Join(dir, "weak"))
				fa := readFacts(t, filepath.Join(dir, "weak"))
				if len(fa.compile) != 1 || !has(fa.compile[0].UserOff, "canary") || !has(fa.compile[0].UserOff, "fortify") || fa.compile[0].Has("canary") {
					t.Errorf("weak: compile notes %v, want user-off=canary,fortify", fa.compile)
				}
			})
			if lang(cc) == "c" {
				t.Run("static", func(t *testing.T) {
					c.ok(t, w, "-O2", "-static", src, "-o", "static")
					runs(t, filepath.Join(dir, "static"))
					fa := readFacts(t, filepath.Join(dir, "static"))
					if fa.typ != 2 /* ET_EXEC */ || fa.interp || len(fa.link) != 1 {
						t.Errorf("static: type=%v interp=%v link notes=%d", fa.typ, fa.interp, len(fa.link))
					}
				})
				t.Run("static-pie", func(t *testing.T) {
					c.ok(t, w, "-O2", "-static-pie", src, "-o", "spie")
					runs(t, filepath.Join(dir, "spie"))
					fa := readFacts(t, filepath.Join(dir, "spie"))
					if fa.typ != 3 || fa.interp || len(fa.link) != 1 || !fa.link[0].Has("pie") {
						t.Errorf("static-pie: type=%v interp=%v link=%v", fa.typ, fa.interp, fa.link)
					}
				})
				t.Run("m32", func(t *testing.T) {
					testenv.NeedsABIBuild(t, "-m32")
					c.ok(t, w, "-m32", "-O2", src, "-o", "m32")
					fa := checkHardenedExe(t, filepath.Join(dir, "m32"), "c", true)
					if fa.class != 1 /* ELFCLASS32 */ {
						t.Errorf("m32: class %v", fa.class)
					}
					// Built, stamped, canary and runtime in the code: checked.
					// Running it needs the kernel's IA-32 emulation.
					testenv.NeedsABIRun(t, "-m32")
					runs(t, filepath.Join(dir, "m32"))
				})
				t.Run("nostdlib", func(t *testing.T) {
					start := writeFile(t, filepath.Join(dir, "start.c"),
						"void _start(void) { __asm__ volatile(\"mov $60, %eax\\n\\txor %edi, %edi\\n\\tsyscall\"); }\n")
					c.ok(t, w, "-O2", "-static", "-nostdlib", start, "-o", "bare")
					cmd{dir: dir}.ok(t, filepath.Join(dir, "bare"))
					fa := readFacts(t, filepath.Join(dir, "bare"))
					if fa.symbols["__stack_chk_fail"] || fa.execStack || len(fa.link) != 1 {
						t.Errorf("bare: canary=%v execstack=%v link notes=%d", fa.symbols["__stack_chk_fail"], fa.execStack, len(fa.link))
					}
				})
				t.Run("asm-cpp", func(t *testing.T) {
					s := writeFile(t, filepath.Join(dir, "f.S"), "\t.text\n\t.globl answer\nanswer:\n\tmov $42, %eax\n\tret\n\t.section .note.GNU-stack,\"\",%progbits\n")
					c.ok(t, w, "-c", s, "-o", "f.o")
					fa := readFacts(t, filepath.Join(dir, "f.o"))
					if len(fa.compile) != 1 || fa.compile[0].Lang != "asm" {
						t.Errorf("f.o: compile notes %v, want one with lang=asm", fa.compile)
					}
				})
			}
		})
	}
}

// TestStampText checks the notes' text against what was asked.
func TestStampText(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	w, env := wrapper(t, "gcc")
	dir := t.TempDir()
	src := source(t, dir, "gcc")
	c := cmd{dir: dir, env: append(env, "IMMUNIX_DISABLE=now,stackclash")}
	c.ok(t, w, "-O2", "-no-pie", src, "-o", "p")
	fa := readFacts(t, filepath.Join(dir, "p"))
	if len(fa.compile) != 1 || len(fa.link) != 1 {
		t.Fatalf("notes %v %v", fa.compile, fa.link)
	}
	comp, link := fa.compile[0], fa.link[0]
	if !has(comp.Off, "stackclash") || comp.Has("stackclash") || comp.Version == "" {
		t.Errorf("compile note %q: want stackclash off by policy", comp.String())
	}
	if !has(link.Off, "now") || !has(link.UserOff, "pie") || link.Has("pie") || fa.now {
		t.Errorf("link note %q (BIND_NOW=%v): want now off by policy, pie off by the user", link.String(), fa.now)
	}
	if comp.Type != stamp.Compile || link.Type != stamp.Link {
		t.Errorf("note types %d %d", comp.Type, link.Type)
	}
}

// TestConfigFile: /etc/immunix/immunix.conf (here IMMUNIX_CONFIG) sets the
// same keys as the environment, and the environment wins.
func TestConfigFile(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	w, env := wrapper(t, "gcc")
	dir := t.TempDir()
	src := source(t, dir, "gcc")
	conf := writeFile(t, filepath.Join(dir, "immunix.conf"), "# site policy\nIMMUNIX_DISABLE=now\nIMMUNIX_FLAGS=\"-DFROM_CONF=1\"\nIMMUNIX_LOG="+filepath.Join(dir, "log")+"\n")
	c := cmd{dir: dir, env: append(env, "IMMUNIX_CONFIG="+conf)}
	c.ok(t, w, "-O2", src, "-o", "p1")
	if fa := readFacts(t, filepath.Join(dir, "p1")); fa.now || len(fa.link) != 1 || !has(fa.link[0].Off, "now") {
		t.Errorf("config IMMUNIX_DISABLE=now: BIND_NOW=%v link notes %v", fa.now, fa.link)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	if !strings.Contains(string(log), "link-off=now") {
		t.Errorf("config IMMUNIX_LOG: %q", log)
	}
	r := c.ok(t, w, "--immunix-explain", "-c", src)
	if !strings.Contains(r.stdout, "-DFROM_CONF=1") {
		t.Errorf("config IMMUNIX_FLAGS not used:\n%s", r.stdout)
	}
	c.env = append(c.env, "IMMUNIX_DISABLE=relro")
	c.ok(t, w, "-O2", src, "-o", "p2")
	if fa := readFacts(t, filepath.Join(dir, "p2")); !fa.now || !has(fa.link[0].Off, "relro") {
		t.Errorf("environment over config: BIND_NOW=%v link notes %v", fa.now, fa.link)
	}
}

// TestWerrorStillBuilds: a unit the plain compiler builds with -Werror also
// builds through immunix-cc: the format warnings it adds, and the
// warn_unused_result warnings that FORTIFY brings, stay warnings.
func TestWerrorStillBuilds(t *testing.T) {
	progs := map[string]string{
		"write-unused.c": "#include <unistd.h>\nint main(void) { write(1, \"x\\n\", 2); return 0; }\n",
		"format.c":       "#include <unistd.h>\n#include <stdio.h>\nint main(int c, char **v) { long x = c; write(1, \"x\\n\", 2); printf(v[0]); printf(\"%d\\n\", x); return 0; }\n",
	}
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		t.Run(cc, func(t *testing.T) {
			w, env := wrapper(t, cc)
			dir := t.TempDir()
			plainPassed := 0
			for name, src := range progs {
				writeFile(t, filepath.Join(dir, name), src)
				if r := (cmd{dir: dir}).run(t, cc, "-Werror", "-O2", "-c", name, "-o", "plain.o"); r.code != 0 {
					continue // the plain compiler refuses it too
				}
				plainPassed++
				if r := (cmd{dir: dir, env: env}).run(t, w, "-Werror", "-O2", "-c", name, "-o", "wrapped.o"); r.code != 0 {
					t.Errorf("%s: plain %s -Werror builds it, immunix-cc does not:\n%s", name, cc, r.stderr)
				}
			}
			if plainPassed == 0 {
				t.Fatalf("no test program builds with plain %s -Werror", cc)
			}
		})
	}
}

// TestPrecompiledHeader: a header precompiled through immunix-cc is used by
// units compiled through it (the stamp header comes after the user's
// -include), and those units are stamped.
func TestPrecompiledHeader(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	w, env := wrapper(t, "gcc")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "all.h"), "#include <stdio.h>\n#include <string.h>\n")
	writeFile(t, filepath.Join(dir, "u.c"), "int main(void) { puts(\"pch\"); return 0; }\n")
	c := cmd{dir: dir, env: env}
	c.ok(t, w, "-O2", "-x", "c-header", "all.h", "-o", "all.h.gch")
	r := c.ok(t, w, "-O2", "-Winvalid-pch", "-H", "-include", "all.h", "-c", "u.c", "-o", "u.o")
	if !strings.Contains(r.stderr, "! ./all.h.gch") {
		t.Errorf("the precompiled header was not used (gcc -H marks a used one with '!'):\n%s", r.stderr)
	}
	if fa := readFacts(t, filepath.Join(dir, "u.o")); len(fa.compile) != 1 {
		t.Errorf("u.o: %d compile notes", len(fa.compile))
	}
}
