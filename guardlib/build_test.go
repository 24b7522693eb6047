package guardlib

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestBuildWarningFree compiles the whole runtime (canary, FormatGuard and
// the alert writer) with -Werror under both compilers and every x86 ABI, and
// checks what the archive defines and leaves undefined.
func TestBuildWarningFree(t *testing.T) {
	testenv.NeedsTool(t, "ar")
	for _, cc := range testenv.Compilers() {
		for _, abi := range [][]string{nil, {"-m32"}, {"-mx32"}} {
			name := cc + strings.Join(abi, "")
			t.Run(name, func(t *testing.T) {
				testenv.NeedsTool(t, cc)
				dir := t.TempDir()
				var cmds []string
				err := Build(Target{Compiler: []string{cc}, ABIFlags: abi}, dir, BuildOptions{Werror: true, Log: func(a []string) { cmds = append(cmds, strings.Join(a, " ")) }})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cmds {
					if strings.Contains(c, " -c ") && (!strings.Contains(c, "-fno-stack-protector") || !strings.Contains(c, "-fPIC") || strings.Contains(c, "-flto") || strings.Contains(c, "_FORTIFY_SOURCE=")) {
						t.Errorf("runtime compiled with the wrong flags: %s", c)
					}
				}
				out, err := exec.Command("nm", "-A", filepath.Join(dir, ArchiveName)).Output()
				if err != nil {
					t.Fatalf("nm: %v", err)
				}
				defs := map[string]string{}
				for _, l := range strings.Split(string(out), "\n") {
					f := strings.Fields(l)
					// A definition in any member wins over a use in another
					// (bounds.o uses __immunix_alert, defined by alert.o).
					if len(f) == 3 && (f[1] != "U" || defs[f[2]] == "") {
						defs[f[2]] = f[1]
					}
				}
				for _, s := range []string{InitSymbol, "__wrap___stack_chk_fail", "__wrap___stack_chk_fail_local", "__immunix_alert", "__immunix_halt", "__memcpy_chk", "__sprintf_chk", "__read_chk",
					"__ubsan_handle_out_of_bounds_abort", "__ubsan_handle_type_mismatch_v1_abort"} {
					if typ := defs[s]; typ != "T" && typ != "t" {
						t.Errorf("archive does not define %s (nm type %q)", s, typ)
					}
				}
				if strings.Contains(string(out), "__stack_chk_guard") {
					t.Errorf("runtime refers to the stack protector itself:\n%s", out)
				}
				// The canary's failure path is the wrapper of the name the
				// compilers call, hidden; glibc's stays imported.
				if typ := defs["__stack_chk_fail"]; typ != "" {
					t.Errorf("archive defines __stack_chk_fail (nm type %q): the file would stop importing glibc's", typ)
				}
				if typ := defs["__real___stack_chk_fail"]; typ != "w" {
					t.Errorf("archive does not refer weakly to glibc's __stack_chk_fail through __real___stack_chk_fail (nm type %q)", typ)
				}
				// The libraries' archive: the initialiser, the canary's
				// hidden wrapper and the rest, but no FORTIFY entry point
				// and no __stack_chk_fail (a library imports them).
				sh, err := exec.Command("nm", "--defined-only", filepath.Join(dir, SharedArchiveName)).Output()
				if err != nil {
					t.Fatalf("nm: %v", err)
				}
				shDefs := map[string]bool{}
				for _, l := range strings.Split(string(sh), "\n") {
					if f := strings.Fields(l); len(f) == 3 {
						shDefs[f[2]] = true
					}
				}
				for _, s := range []string{InitSymbol, "__immunix_alert", "__ubsan_handle_out_of_bounds_abort", "__immunix_renew_claimed", "__wrap___stack_chk_fail"} {
					if !shDefs[s] {
						t.Errorf("%s does not define %s", SharedArchiveName, s)
					}
				}
				for s := range shDefs {
					if s == "__stack_chk_fail" || (strings.HasSuffix(s, "_chk") && s != "__wrap___stack_chk_fail") {
						t.Errorf("%s defines %s, which a library must import", SharedArchiveName, s)
					}
				}
				// The executable's export list: every FORTIFY entry point,
				// none of the hidden helpers, nothing of the canary.
				list, err := os.ReadFile(filepath.Join(dir, ExportListName))
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range []string{"__memcpy_chk", "__read_chk", "__sprintf_chk", "__fdelt_chk"} {
					if !strings.Contains(string(list), "  "+s+";\n") {
						t.Errorf("%s does not export %s:\n%s", ExportListName, s, list)
					}
				}
				for _, s := range []string{"__stack_chk_fail", "__wrap___stack_chk_fail", "__stack_chk_fail_local", "__wrap___stack_chk_fail_local", "__immunix_fortify_fail", "__immunix_alert"} {
					if strings.Contains(string(list), " "+s+";") {
						t.Errorf("%s exports the hidden %s", ExportListName, s)
					}
				}
			})
		}
	}
}

func TestKey(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	testenv.NeedsTool(t, "clang")
	k := func(tg Target) string {
		t.Helper()
		s, err := Key(tg)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(s, "/ \t") || strings.HasPrefix(s, ".") {
			t.Fatalf("key %q is not one safe path element", s)
		}
		return s
	}
	gcc := k(Target{Compiler: []string{"gcc"}})
	if again := k(Target{Compiler: []string{"gcc"}, ID: "ignored when gcc is found"}); again != gcc {
		t.Errorf("key not stable: %s vs %s", gcc, again)
	}
	distinct := map[string]Target{
		gcc: {Compiler: []string{"gcc"}},
	}
	for _, tg := range []Target{
		{Compiler: []string{"clang"}},
		{Compiler: []string{"gcc"}, ABIFlags: []string{"-m32"}},
		{Compiler: []string{"gcc"}, ABIFlags: []string{"-mx32"}},
		{Compiler: []string{"clang"}, ABIFlags: []string{"--target=i686-linux-gnu"}},
		{Compiler: []string{"gcc", "-B/opt/x"}},
	} {
		key := k(tg)
		if prev, dup := distinct[key]; dup {
			t.Errorf("targets %+v and %+v share key %s", prev, tg, key)
		}
		distinct[key] = tg
	}
	if !strings.HasPrefix(k(Target{Compiler: []string{"clang"}, ABIFlags: []string{"-m32"}}), "clang-m32-") {
		t.Errorf("key does not say compiler and ABI")
	}
	if _, err := Key(Target{Compiler: []string{"no-such-compiler-xyz"}}); err == nil {
		t.Errorf("key of a missing compiler without ID: want error")
	}
	if s, err := Key(Target{Compiler: []string{"no-such-compiler-xyz"}, ID: "id-from-ccwrap"}); err != nil || !strings.HasPrefix(s, "no_such_compiler_xyz-native-") {
		t.Errorf("key falls back to ID: %q, %v", s, err)
	}
	if _, err := Key(Target{}); err == nil {
		t.Errorf("key of an empty target: want error")
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"gcc":                     "gcc",
		"-m32":                    "m32",
		"--target=i686-linux-gnu": "target=i686_linux_gnu",
		"x86_64-linux-gnu-gcc-12": "x86_64_linux_gnu_gcc_12",
		"../../evil":              ".._.._evil",
		"":                        "x",
		strings.Repeat("a", 100):  strings.Repeat("a", 40),
		"clang++":                 "clang++",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLinkArgsBadCompiler(t *testing.T) {
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	if _, err := LinkArgs(Target{Compiler: []string{"/nonexistent/cc"}}); err == nil {
		t.Fatal("LinkArgs with a missing compiler: want error")
	}
	// A compiler that exists but cannot build the runtime: the error names
	// the command and nothing is left in the cache.
	cache := t.TempDir()
	t.Setenv("IMMUNIX_CACHE_DIR", cache)
	_, err := LinkArgs(Target{Compiler: []string{"false"}})
	if err == nil || !strings.Contains(err.Error(), "build guard runtime") {
		t.Fatalf("LinkArgs(false): %v", err)
	}
	matches, _ := filepath.Glob(filepath.Join(cache, "runtime", "*"))
	for _, m := range matches {
		if !strings.HasSuffix(m, ".lock") {
			t.Errorf("failed build left %s", m)
		}
	}
}

// TestLinkArgsByKind: an executable forces in and exports the entry points;
// a shared library links the libraries' archive, hidden; a static
// executable exports nothing.
func TestLinkArgsByKind(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	has := func(args []string, want string) bool {
		for _, a := range args {
			if a == want || strings.HasSuffix(a, "/"+want) {
				return true
			}
		}
		return false
	}
	exe, err := LinkArgs(Target{Compiler: []string{"gcc"}, Exe: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"-Wl,--wrap=__stack_chk_fail", "-Wl,-u,__memcpy_chk", "-Wl,-u,__read_chk", ArchiveName, RaceGuardArchiveName} {
		if !has(exe, w) {
			t.Errorf("executable link: no %s in %q", w, exe)
		}
	}
	if has(exe, "-Wl,-u,__stack_chk_fail") {
		t.Errorf("executable link forces __stack_chk_fail in: %q", exe)
	}
	if !strings.Contains(strings.Join(exe, " "), "--dynamic-list=") || !strings.Contains(strings.Join(exe, " "), ExportListName) {
		t.Errorf("executable link exports nothing of the runtime: %q", exe)
	}
	lib, err := LinkArgs(Target{Compiler: []string{"gcc"}, Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	if !has(lib, SharedArchiveName) || !has(lib, "-Wl,--exclude-libs,"+SharedArchiveName) || !has(lib, "-Wl,--wrap=__stack_chk_fail") || has(lib, ArchiveName) || strings.Contains(strings.Join(lib, " "), "dynamic-list") {
		t.Errorf("shared library link: %q", lib)
	}
	st, err := LinkArgs(Target{Compiler: []string{"gcc"}, Static: true})
	if err != nil {
		t.Fatal(err)
	}
	// The static libc's protected functions call the wrapper even when
	// the program's own code does not (tests/boundsguard TestNoLibubsan
	// links such a program).
	if !has(st, ArchiveName) || strings.Contains(strings.Join(st, " "), "dynamic-list") || has(st, "-Wl,-u,__stack_chk_fail") || !has(st, "-Wl,-u,__wrap___stack_chk_fail") {
		t.Errorf("static link: %q", st)
	}
}
