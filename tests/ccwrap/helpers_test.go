// Package ccwrap_test runs immunix-cc end to end with the real compilers:
// gcc, g++, clang and clang++, ccache and distcc.
package ccwrap_test

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/testenv"
)

var cacheDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "immunix-ccwrap-cache-")
	if err != nil {
		panic(err)
	}
	cacheDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// result is what a command did.
type result struct {
	stdout, stderr string
	code           int
}

// cmd describes one command to run.
type cmd struct {
	dir   string
	env   []string // added to the test environment
	stdin string
	path  string // PATH; "" keeps the test's
}

func (c cmd) run(t *testing.T, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv0 := name
	if c.path != "" && !strings.Contains(name, "/") {
		// exec.Command looks names up in the test's PATH, not c.path.
		name = lookPathIn(t, name, c.path)
	}
	x := exec.CommandContext(ctx, name, args...)
	x.Args[0] = argv0 // as a shell would pass it
	x.Dir = c.dir
	x.Env = append(os.Environ(), "IMMUNIX_CACHE_DIR="+cacheDir, "LC_ALL=C", "IMMUNIX_CONFIG=/nonexistent/immunix.conf")
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "IMMUNIX_") && !strings.HasPrefix(kv, "IMMUNIX_CACHE_DIR=") {
			t.Fatalf("test environment has %s set", kv)
		}
	}
	if c.path != "" {
		x.Env = append(x.Env, "PATH="+c.path)
	}
	x.Env = append(x.Env, c.env...)
	x.Stdin = strings.NewReader(c.stdin)
	var out, errb bytes.Buffer
	x.Stdout, x.Stderr = &out, &errb
	err := x.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out (a hang or a loop)\n%s", name, strings.Join(args, " "), errb.String())
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", name, err)
		}
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	return result{out.String(), errb.String(), code}
}

// ok runs and fails the test unless the command succeeds.
func (c cmd) ok(t *testing.T, name string, args ...string) result {
	t.Helper()
	r := c.run(t, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// wrapper returns the path of immunix-cc (or immunix-c++ for C++ drivers)
// and the environment that makes it use the real compiler cc.
func wrapper(t *testing.T, cc string) (string, []string) {
	bin := testenv.Binaries(t)
	if strings.Contains(cc, "++") {
		return filepath.Join(bin, "immunix-c++"), []string{"IMMUNIX_CXX=" + cc}
	}
	return filepath.Join(bin, "immunix-cc"), []string{"IMMUNIX_CC=" + cc}
}

func writeFile(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const helloC = `#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
	char buf[32];
	strcpy(buf, argc > 1 ? argv[1] : "hello");
	printf("%s\n", buf);
	return 0;
}
`

const helloCXX = `#include <iostream>
#include <string>
int main() { std::string s = "hello"; std::cout << s << std::endl; return 0; }
`

// source returns the hello program for a C or C++ driver.
func source(t *testing.T, dir, cc string) string {
	if strings.Contains(cc, "++") {
		return writeFile(t, filepath.Join(dir, "hello.cc"), helloCXX)
	}
	return writeFile(t, filepath.Join(dir, "hello.c"), helloC)
}

func allCompilers(t *testing.T) []string {
	var out []string
	for _, c := range append(testenv.Compilers(), testenv.CXXCompilers()...) {
		testenv.NeedsTool(t, c)
		out = append(out, c)
	}
	return out
}

// facts are the properties of a built ELF file the tests check.
type facts struct {
	typ         elf.Type
	interp      bool
	relro, now  bool
	execStack   bool
	compile     []stamp.Stamp
	link        []stamp.Stamp
	symbols     map[string]bool
	class       elf.Class
	hasGNUStack bool
}

func readFacts(t *testing.T, path string) facts {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	fa := facts{typ: f.Type, class: f.Class, symbols: map[string]bool{}}
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			fa.interp = true
		case elf.PT_GNU_RELRO:
			fa.relro = true
		case elf.PT_GNU_STACK:
			fa.hasGNUStack = true
			fa.execStack = p.Flags&elf.PF_X != 0
		}
	}
	if ds := f.SectionByType(elf.SHT_DYNAMIC); ds != nil {
		if v, err := f.DynValue(elf.DT_FLAGS); err == nil && len(v) > 0 && v[0]&uint64(elf.DF_BIND_NOW) != 0 {
			fa.now = true
		}
		if v, err := f.DynValue(elf.DT_FLAGS_1); err == nil && len(v) > 0 && v[0]&uint64(elf.DF_1_NOW) != 0 {
			fa.now = true
		}
	}
	stamps, err := stamp.Read(f)
	if err != nil {
		t.Fatalf("%s: read stamps: %v", path, err)
	}
	for _, s := range stamps {
		if s.Type == stamp.Compile {
			fa.compile = append(fa.compile, s)
		} else {
			fa.link = append(fa.link, s)
		}
	}
	syms, _ := f.Symbols()
	dsyms, _ := f.DynamicSymbols()
	for _, s := range append(syms, dsyms...) {
		fa.symbols[s.Name] = true
	}
	return fa
}

func has(list []string, x string) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

func lookPathIn(t *testing.T, name, path string) string {
	t.Helper()
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s not in PATH %s", name, path)
	return ""
}
