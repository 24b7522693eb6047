package guardlib

import (
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
				for _, s := range []string{InitSymbol, "__stack_chk_fail", "__stack_chk_fail_local", "__immunix_alert", "__immunix_halt", "__memcpy_chk", "__sprintf_chk", "__read_chk",
					"__ubsan_handle_out_of_bounds_abort", "__ubsan_handle_type_mismatch_v1_abort"} {
					if typ := defs[s]; typ != "T" && typ != "t" {
						t.Errorf("archive does not define %s (nm type %q)", s, typ)
					}
				}
				if strings.Contains(string(out), "__stack_chk_guard") {
					t.Errorf("runtime refers to the stack protector itself:\n%s", out)
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
