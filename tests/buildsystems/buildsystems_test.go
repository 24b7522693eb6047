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
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/testenv"
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
		if strings.HasPrefix(k, "IMMUNIX_") || k == "CC" || k == "CXX" || k == "CFLAGS" || k == "CXXFLAGS" || k == "LDFLAGS" || k == "MAKEFLAGS" {
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

func TestCMakeMasquerade(t *testing.T) {
	testenv.NeedsTool(t, "cmake")
	testenv.NeedsTool(t, "clang")
	masq := testenv.Masquerade(t)
	for _, tc := range toolchains {
		t.Run(tc.cc, func(t *testing.T) {
			src := copyProject(t, "cmake")
			build := filepath.Join(src, "build")
			env := withPath(cleanEnv("CC="+tc.cc, "CXX="+tc.cxx), masq)
			run(t, src, env, "cmake", "-S", ".", "-B", build, "-DCMAKE_BUILD_TYPE=Release")
			cache, err := os.ReadFile(filepath.Join(build, "CMakeCache.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(cache, []byte("CMAKE_C_COMPILER:FILEPATH="+filepath.Join(masq, tc.cc))) &&
				!bytes.Contains(cache, []byte("CMAKE_C_COMPILER:STRING="+tc.cc)) {
				t.Errorf("CMake did not record the masquerade compiler %s:\n%s", filepath.Join(masq, tc.cc), grepLines(cache, "CMAKE_C_COMPILER"))
			}
			run(t, src, env, "cmake", "--build", build)
			out := run(t, src, env, filepath.Join(build, "hello"), "cmake")
			if out != "hello, cmake\n12\n" {
				t.Errorf("hello printed %q", out)
			}
			requireStamped(t, filepath.Join(build, "hello"), "pie", "relro", "now")
			requireStamped(t, filepath.Join(build, "libgreet.so"), "relro", "now")
		})
	}
}

func TestMesonMasquerade(t *testing.T) {
	testenv.NeedsTool(t, "meson")
	testenv.NeedsTool(t, "ninja")
	testenv.NeedsTool(t, "clang")
	masq := testenv.Masquerade(t)
	for _, tc := range toolchains {
		t.Run(tc.cc, func(t *testing.T) {
			src := copyProject(t, "meson")
			build := filepath.Join(src, "build")
			env := withPath(cleanEnv("CC="+tc.cc, "CXX="+tc.cxx), masq)
			run(t, src, env, "meson", "setup", "--buildtype=release", build)
			run(t, src, env, "ninja", "-C", build)
			out := run(t, src, env, filepath.Join(build, "hello"), "meson")
			if out != "hello, meson\n12\n" {
				t.Errorf("hello printed %q", out)
			}
			requireStamped(t, filepath.Join(build, "hello"), "pie", "relro", "now")
			requireStamped(t, filepath.Join(build, "libgreet.so"), "relro", "now")
		})
	}
}

// TestAutotoolsConfigHUnchanged configures GNU hello (a real autotools and
// gnulib package, from Debian's sources) with the plain compiler and through
// immunix-cc, both as CC=immunix-cc and in masquerade mode, and requires the
// same config.h: hardening must not change what configure decides.
func TestAutotoolsConfigHUnchanged(t *testing.T) {
	testenv.NeedsTool(t, "make")
	testenv.NeedsTool(t, "clang")
	bin := testenv.Binaries(t)
	masq := testenv.Masquerade(t)
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
			viaCC, _ := configure(cleanEnv("IMMUNIX_CC="+cc), filepath.Join(bin, "immunix-cc"))
			viaMasq, srcMasq := configure(withPath(cleanEnv(), masq), cc)
			if plain != viaCC {
				t.Errorf("config.h differs with CC=immunix-cc (IMMUNIX_CC=%s):\n%s", cc, lineDiff(plain, viaCC))
			}
			if plain != viaMasq {
				t.Errorf("config.h differs in masquerade mode (%s):\n%s", cc, lineDiff(plain, viaMasq))
			}
			// And the package builds, passes its own tests, and is stamped.
			env := withPath(cleanEnv(), masq)
			run(t, srcMasq, env, "make", "-j2")
			run(t, srcMasq, env, "make", "check")
			requireStamped(t, filepath.Join(srcMasq, "hello"), "pie", "relro", "now", "runtime")
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
