// Package buildsystems proves that real build systems (autotools, CMake,
// Meson) work through immunix-cc unchanged: configure decides the same
// things, masquerade mode is picked up without setting CC, and every object
// and program that comes out carries the immunix build stamp.
package buildsystems

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/testenv"
	"github.com/immunix/immunix/tests/distro"
)

// run runs name with args in dir and env, failing the test with the output
// on error, and returns the combined output.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// cleanEnv is the test process's environment without anything that would
// change immunix's or the compilers' behaviour, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "IMMUNIX_") || k == "CC" || k == "CXX" || k == "CFLAGS" || k == "CXXFLAGS" || k == "LDFLAGS" || k == "MAKEFLAGS" ||
			k == "LIBRARY_PATH" || k == "GCC_EXEC_PREFIX" || k == "COMPILER_PATH" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "IMMUNIX_CACHE_DIR="+cacheDir)
	return append(env, extra...)
}

var cacheDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "immunix-cache-")
	if err != nil {
		panic(err)
	}
	cacheDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func withPath(env []string, dir string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			kv = "PATH=" + dir + string(os.PathListSeparator) + v
		}
		out = append(out, kv)
	}
	return out
}

// copyProject copies testdata/shared and testdata/<name> into one new
// directory and returns it.
func copyProject(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	for _, from := range []string{"shared", name} {
		entries, err := os.ReadDir(filepath.Join("testdata", from))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join("testdata", from, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dst
}

// requireStamped fails unless the ELF file at path carries immunix compile
// notes and a link note with the given protections on.
func requireStamped(t *testing.T, path string, linkOn ...string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	stamps, err := stamp.Read(f)
	if err != nil {
		t.Fatalf("read stamps of %s: %v", path, err)
	}
	var compile, link int
	for _, s := range stamps {
		switch s.Type {
		case stamp.Compile:
			compile++
			if !s.Has("canary") {
				t.Errorf("%s: compile stamp without canary: %s", path, s)
			}
		case stamp.Link:
			link++
			for _, p := range linkOn {
				if !s.Has(p) {
					t.Errorf("%s: link stamp lacks %s: %s", path, p, s)
				}
			}
		}
	}
	if compile == 0 || link == 0 {
		t.Errorf("%s: %d compile and %d link stamps, want at least one of each (immunix-cc was not used?)", path, compile, link)
	}
}

var toolchains = []struct{ cc, cxx string }{
	{"cc", "c++"},
	{"clang", "clang++"},
}

// A route is how a build reaches the hardening under the compiler names it
// uses: immunix-cc in masquerade mode (the names first in PATH), or the
// zero-process mode by one of testenv.ZeroProcRoutes (gcc's default specs,
// clang --config, clang under a prefixed name). mode is what the stamps
// and immunix check then say: wrapper, specs or config.
type route struct {
	name, mode string
	cc, cxx    string   // CC and CXX
	env        []string // the build's environment
}

// routes returns every route for one toolchain, with env's entries added.
func routes(t *testing.T, cc, cxx string, env ...string) []route {
	out := []route{{name: "wrapper", mode: "wrapper", cc: cc, cxx: cxx, env: withPath(cleanEnv(env...), testenv.Masquerade(t))}}
	z := testenv.ZeroProcess(t)
	for _, r := range testenv.ZeroProcRoutes(cc) {
		ccArgv, ccEnv := z.Command(r, cc)
		cxxArgv, cxxEnv := z.Command(r, cxx)
		out = append(out, route{name: r, mode: testenv.RouteMode(r), cc: strings.Join(ccArgv, " "), cxx: strings.Join(cxxArgv, " "),
			env: cleanEnv(append(append(slices.Clone(env), ccEnv...), cxxEnv...)...)})
	}
	return out
}

// buildEnv is the route's environment with CC and CXX set.
func (r route) buildEnv() []string {
	return append(slices.Clone(r.env), "CC="+r.cc, "CXX="+r.cxx)
}

// verdicts are immunix check's results on a build's outputs, by file name.
type verdicts map[string]map[string]testenv.CheckResult

// allowFunc says whether a refusal of one property of one file (by name)
// is a known gap of every route, immunix-cc's included.
type allowFunc func(file, prop string, res testenv.CheckResult) bool

// requireChecked runs immunix check --policy immunix on the route's
// outputs: each must pass, but for the refusals allow accepts (nil: none),
// and its stamp must show the route's mode. In the zero-process mode every
// verdict must also be the one the wrapper's build of the same project
// got (wrapper: its requireChecked's result).
// requireHello runs the project's hello built by system (cmake, meson)
// in build, requires its stamps and the gate's verdicts on it and its
// library, and keeps the wrapper route's verdicts in *wrapper for the
// routes after it.
func (r route) requireHello(t *testing.T, src string, env []string, build, system, cc string, wrapper *verdicts) {
	t.Helper()
	out := run(t, src, env, filepath.Join(build, "hello"), system)
	if want := "hello, " + system + "\n12\n"; out != want {
		t.Errorf("hello printed %q, want %q", out, want)
	}
	requireStamped(t, filepath.Join(build, "hello"), "pie", "relro", "now")
	requireStamped(t, filepath.Join(build, "libgreet.so"), "relro", "now")
	v := r.requireChecked(t, *wrapper, clangCXXFortify(cc, "hello"), filepath.Join(build, "hello"), filepath.Join(build, "libgreet.so"))
	if r.name == "wrapper" {
		*wrapper = v
	}
}

func (r route) requireChecked(t *testing.T, wrapper verdicts, allow allowFunc, files ...string) verdicts {
	t.Helper()
	out := verdicts{}
	for _, path := range files {
		name := filepath.Base(path)
		_, f := testenv.CheckImmunixFile(t, path)
		out[name] = f.Results
		for _, p := range f.Failed {
			if allow == nil || !allow(name, p, f.Results[p]) {
				t.Errorf("%s: immunix check --policy immunix refused it for %s (%s; %v)", name, p, f.Results[p].Value, f.Results[p].Lists)
			}
		}
		if m := f.Results["stamp"].Lists["mode"]; !slices.Equal(m, []string{r.mode}) {
			t.Errorf("%s: stamp mode %v, want [%s] (%s)", name, m, r.mode, f.Results["stamp"].Value)
		}
		if r.name == "wrapper" {
			continue
		}
		if wrapper[name] == nil {
			t.Errorf("%s: no verdicts of the wrapper's build to compare with", name)
		}
		for p, w := range wrapper[name] {
			if z := f.Results[p]; z.Status != w.Status {
				t.Errorf("%s: %s: %s %s (%s), immunix-cc %s (%s)", name, p, r.name, z.Status, z.Value, w.Status, w.Value)
			}
		}
	}
	return out
}

// clangCXXFortify: with clang++, glibc 2.36 leaves printf and the
// sprintf family unchecked (its C++ wrappers need __builtin_va_arg_pack,
// which clang lacks: docs/stackguard.md), so a C++ program whose only
// fortifiable calls are those is refused for fortify, by every route.
func clangCXXFortify(cc, program string) allowFunc {
	return func(file, prop string, _ testenv.CheckResult) bool {
		return cc == "clang" && file == program && prop == "fortify"
	}
}

// helloGaps are GNU hello's known refusals, by every route: formatguard
// for the calls FormatGuard cannot wrap in it (the rebuild suite's
// distro.Package FormatGuardGaps: gnulib's error() in main), and with
// clang the canary of main, which ends in exit(): clang leaves such a
// function without the canary load that gcc keeps (docs/check.md: a
// function that never returns), and immunix check calls it missing.
func helloGaps(cc string) allowFunc {
	p, _ := distro.PackageByName("hello")
	return func(file, prop string, res testenv.CheckResult) bool {
		switch prop {
		case "formatguard":
			for _, call := range res.Lists["bare"] {
				// "error at 0x5eb9 in main"
				f := strings.Fields(call)
				if len(f) != 5 || !slices.Contains(p.FormatGuardGaps, f[0]+" in "+f[4]) {
					return false
				}
			}
			return len(res.Lists["bare"]) > 0
		case "canary":
			return cc == "clang" && slices.Equal(res.Lists["missing"], []string{"main"})
		}
		return false
	}
}

// TestCMake builds a C library and a C++ program with CMake by every route.
func TestCMake(t *testing.T) {
	testenv.NeedsTool(t, "cmake")
	testenv.NeedsTool(t, "clang")
	for _, tc := range toolchains {
		var wrapper verdicts
		for _, r := range routes(t, tc.cc, tc.cxx) {
			t.Run(tc.cc+"/"+r.name, func(t *testing.T) {
				src := copyProject(t, "cmake")
				build := filepath.Join(src, "build")
				env := r.buildEnv()
				run(t, src, env, "cmake", "-S", ".", "-B", build, "-DCMAKE_BUILD_TYPE=Release")
				cache, err := os.ReadFile(filepath.Join(build, "CMakeCache.txt"))
				if err != nil {
					t.Fatal(err)
				}
				// CMake keeps the compiler's absolute path: in masquerade
				// mode, the masquerade directory's.
				if want := filepath.Join(filepath.SplitList(getenv(env, "PATH"))[0], tc.cc); r.name == "wrapper" &&
					!bytes.Contains(cache, []byte("CMAKE_C_COMPILER:FILEPATH="+want)) &&
					!bytes.Contains(cache, []byte("CMAKE_C_COMPILER:STRING="+tc.cc)) {
					t.Errorf("CMake did not record the masquerade compiler %s:\n%s", want, grepLines(cache, "CMAKE_C_COMPILER"))
				}
				run(t, src, env, "cmake", "--build", build)
				r.requireHello(t, src, env, build, "cmake", tc.cc, &wrapper)
			})
		}
	}
}

// TestMeson builds the same project with Meson and ninja by every route.
func TestMeson(t *testing.T) {
	testenv.NeedsTool(t, "meson")
	testenv.NeedsTool(t, "ninja")
	testenv.NeedsTool(t, "clang")
	for _, tc := range toolchains {
		var wrapper verdicts
		for _, r := range routes(t, tc.cc, tc.cxx) {
			t.Run(tc.cc+"/"+r.name, func(t *testing.T) {
				src := copyProject(t, "meson")
				build := filepath.Join(src, "build")
				env := r.buildEnv()
				run(t, src, env, "meson", "setup", "--buildtype=release", build)
				run(t, src, env, "ninja", "-C", build)
				r.requireHello(t, src, env, build, "meson", tc.cc, &wrapper)
			})
		}
	}
}

// getenv returns key's last value in env.
func getenv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// TestAutotoolsConfigHUnchanged configures GNU hello (a real autotools and
// gnulib package, from Debian's sources) with the plain compiler, as
// CC=immunix-cc, and by every route (masquerade mode and the zero-process
// mode's), and requires the same config.h: hardening must not change what
// configure decides. By every route the package then builds, passes its
// own tests, is stamped, and passes immunix check --policy immunix.
func TestAutotoolsConfigHUnchanged(t *testing.T) {
	testenv.NeedsTool(t, "make")
	testenv.NeedsTool(t, "clang")
	bin := testenv.Binaries(t)
	for _, cc := range []string{"gcc", "clang"} {
		t.Run(cc, func(t *testing.T) {
			configure := func(env []string, ccArg string) (string, string) {
				src := testenv.DebianSource(t, "hello")
				run(t, src, env, "./configure", "CC="+ccArg, "CFLAGS=-O2 -g")
				h, err := os.ReadFile(filepath.Join(src, "config.h"))
				if err != nil {
					t.Fatal(err)
				}
				return string(h), src
			}
			plain, _ := configure(cleanEnv(), cc)
			if viaCC, _ := configure(cleanEnv("IMMUNIX_CC="+cc), filepath.Join(bin, "immunix-cc")); plain != viaCC {
				t.Errorf("config.h differs with CC=immunix-cc (IMMUNIX_CC=%s):\n%s", cc, lineDiff(plain, viaCC))
			}
			var wrapper verdicts
			for _, r := range routes(t, cc, cc) {
				t.Run(r.name, func(t *testing.T) {
					h, src := configure(r.env, r.cc)
					if plain != h {
						t.Errorf("config.h differs by route %s (CC=%s):\n%s", r.name, r.cc, lineDiff(plain, h))
					}
					run(t, src, r.env, "make", "-j2")
					run(t, src, r.env, "make", "check")
					requireStamped(t, filepath.Join(src, "hello"), "pie", "relro", "now", "runtime")
					v := r.requireChecked(t, wrapper, helloGaps(cc), filepath.Join(src, "hello"))
					if r.name == "wrapper" {
						wrapper = v
					}
				})
			}
		})
	}
}

func grepLines(b []byte, sub string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// lineDiff lists the lines only in a ("-") and only in b ("+").
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
