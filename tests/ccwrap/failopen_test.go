package ccwrap_test

import (
	"debug/elf"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestRuntimeDroppedIsVisible (issue 14 item 2): when the guard runtime
// cannot be built (here the archiver fails), the link goes on without it,
// but never silently: one "immunix-cc: warning:" line on stderr, the link
// stamp says failed=runtime, and the code itself shows it: the program
// lacks the runtime's exported FORTIFY entry points (__memcpy_chk), and
// its canary failures call libc's __stack_chk_fail directly (a global
// import) where the runtime wraps them (leaving only its weak fallback
// import).
func TestRuntimeDroppedIsVisible(t *testing.T) {
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		t.Run(cc, func(t *testing.T) {
			w, env := wrapper(t, cc)
			dir := t.TempDir()
			src := source(t, dir, cc)
			good := cmd{dir: dir, env: env}.ok(t, w, "-O2", src, "-o", "good")
			if strings.Contains(good.stderr, "immunix-cc:") {
				t.Fatalf("a build with the runtime warns: %s", good.stderr)
			}
			// A fresh cache, so the runtime must be built, with an archiver
			// that fails.
			c := cmd{dir: dir, env: append(env, "IMMUNIX_CACHE_DIR="+t.TempDir(), "IMMUNIX_AR=false")}
			r := c.ok(t, w, "-O2", src, "-o", "bad")
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "immunix-cc: warning: runtime left out (the stamp says failed=runtime): ") {
				t.Errorf("want one warning line about the dropped runtime, got:\n%s", r.stderr)
			}
			fa := readFacts(t, filepath.Join(dir, "bad"))
			if len(fa.link) != 1 || fa.link[0].Has("runtime") || !has(fa.link[0].Failed, "runtime") {
				t.Errorf("link notes %v: want failed=runtime and runtime not on", fa.link)
			}
			if g := readFacts(t, filepath.Join(dir, "good")); len(g.link) != 1 || !g.link[0].Has("runtime") || len(g.link[0].Failed) != 0 {
				t.Errorf("link notes with the runtime: %v", g.link)
			}
			// What the runtime adds (its fork wrappers included) passes the gate.
			if r := (cmd{dir: dir}).run(t, filepath.Join(testenv.Binaries(t), "immunix"), "check", "--policy", "immunix", "good"); r.code != 0 {
				t.Errorf("immunix check --policy immunix fails a program built with the runtime: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			// ... and the gate fails the program without it, from the
			// stamp's confession (failed=runtime).
			bad := (cmd{dir: dir}).run(t, filepath.Join(testenv.Binaries(t), "immunix"), "check", "--policy", "immunix", "bad")
			if bad.code == 0 || !strings.Contains(bad.stdout, "failed=runtime") {
				t.Errorf("immunix check --policy immunix passes the program built without the runtime: exit %d\n%s%s", bad.code, bad.stdout, bad.stderr)
			}
			if s, ok := dynSym(t, filepath.Join(dir, "good"), "__memcpy_chk"); !ok || s.Section == elf.SHN_UNDEF {
				t.Errorf("with the runtime, the program does not define __memcpy_chk: %+v", s)
			}
			if s, ok := dynSym(t, filepath.Join(dir, "bad"), "__memcpy_chk"); ok && s.Section != elf.SHN_UNDEF {
				t.Errorf("without the runtime, the program defines __memcpy_chk: the loss cannot be seen in the code")
			}
			if s, ok := dynSym(t, filepath.Join(dir, "good"), "__stack_chk_fail"); !ok || s.Section != elf.SHN_UNDEF || elf.ST_BIND(s.Info) != elf.STB_WEAK {
				t.Errorf("with the runtime, want only the wrapper's weak import of __stack_chk_fail: %+v", s)
			}
			if s, ok := dynSym(t, filepath.Join(dir, "bad"), "__stack_chk_fail"); !ok || s.Section != elf.SHN_UNDEF || elf.ST_BIND(s.Info) != elf.STB_GLOBAL {
				t.Errorf("without the runtime, want the canary's own global import of libc's __stack_chk_fail: %+v", s)
			}
			// IMMUNIX_STRICT=1 refuses instead.
			st := cmd{dir: dir, env: append(c.env, "IMMUNIX_STRICT=1")}.run(t, w, "-O2", src, "-o", "strict")
			if st.code != 106 {
				t.Errorf("strict: exit %d, %s", st.code, st.stderr)
			}
		})
	}
}

// dynSym returns name's entry in the dynamic symbol table of path.
func dynSym(t *testing.T, path, name string) (elf.Symbol, bool) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s, true
		}
	}
	return elf.Symbol{}, false
}
