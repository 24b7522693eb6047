package stackguard

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

// TestColdCacheConcurrentFirstUse starts 32 "immunix guardlib
// --print-archive" processes at once on an empty cache, as the 32 links of
// a "make -j32" would, then links a program with each answer. The compiler
// and ar are counting wrappers around the real gcc and ar: the runtime must
// be compiled exactly once, every process must get the same complete
// archive, and no temporary directory may be left behind.
func TestColdCacheConcurrentFirstUse(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	testenv.NeedsTool(t, "ar")
	dir := t.TempDir()
	bin := filepath.Join(dir, "immunix")
	build := exec.Command("go", "build", "-o", bin, "./cmd/immunix")
	build.Dir = testenv.ModuleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/immunix: %v\n%s", err, out)
	}
	count := filepath.Join(dir, "count")
	wrap := func(name, real string) string {
		p := filepath.Join(dir, name)
		script := "#!/bin/sh\necho \"" + name + "\" >> " + count + "\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cc := wrap("cc-counting", "gcc")
	ar := wrap("ar-counting", "ar")
	cache := filepath.Join(dir, "cache")

	const n = 32
	paths := make([]string, n)
	errs := make([]error, n)
	outs := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			cmd := exec.Command(bin, "guardlib", "--print-archive", "--cc", cc)
			cmd.Env = append(os.Environ(), "IMMUNIX_CACHE_DIR="+cache, "IMMUNIX_AR="+ar)
			var so, se bytes.Buffer
			cmd.Stdout, cmd.Stderr = &so, &se
			errs[i] = cmd.Run()
			paths[i] = strings.TrimSpace(so.String())
			outs[i] = se.String()
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
		if paths[i] != paths[0] {
			t.Fatalf("process %d got %q, process 0 got %q", i, paths[i], paths[0])
		}
	}
	log, err := os.ReadFile(count)
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := guardlib.SourceFiles()
	if err != nil {
		t.Fatal(err)
	}
	nc := 0
	for _, s := range srcs {
		if strings.HasSuffix(s, ".c") {
			nc++
		}
	}
	got := strings.Fields(string(log))
	compiles, archives := 0, 0
	for _, g := range got {
		switch g {
		case "cc-counting":
			compiles++
		case "ar-counting":
			archives++
		}
	}
	// One build makes three archives: the guard runtime, the guard runtime
	// for shared libraries and RaceGuard's (guardlib.OutputFiles).
	if compiles != nc || archives != 3 {
		t.Errorf("32 cold first uses ran %d compiles and %d ar; want %d and 3 (one build: the guard, shared-library and RaceGuard archives)", compiles, archives, nc)
	}
	entries, err := os.ReadDir(filepath.Join(cache, "runtime"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary directory left in the cache: %s", e.Name())
		}
	}

	// Every process's answer is a complete archive a real link accepts, and
	// the link pulls the runtime in (the fork handler's flag is defined).
	src := filepath.Join(dir, "hello.c")
	os.WriteFile(src, []byte("#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n"), 0o644)
	exe := filepath.Join(dir, "hello")
	link := exec.Command("gcc", "-O2", "-fstack-protector-strong", src, "-o", exe, "-Wl,-u,"+guardlib.InitSymbol, paths[0])
	if out, err := link.CombinedOutput(); err != nil {
		t.Fatalf("link with %s: %v\n%s", paths[0], err, out)
	}
	nm, err := exec.Command("nm", exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(nm, []byte("__immunix_renew_claimed")) || !bytes.Contains(nm, []byte("__immunix_guard_init")) {
		t.Errorf("the runtime was not linked in:\n%s", nm)
	}
	if out, err := exec.Command(exe).Output(); err != nil || string(out) != "hi\n" {
		t.Errorf("hello: %q, %v", out, err)
	}
}

// TestPrebuiltSystemCopyIsUsed: "immunix guardlib --prebuild --dest D"
// writes D/KEY/libimmunix-guard.a, and Archive prefers it to the cache.
func TestPrebuiltSystemCopyIsUsed(t *testing.T) {
	testenv.NeedsTool(t, "clang")
	dir := t.TempDir()
	bin := filepath.Join(dir, "immunix")
	build := exec.Command("go", "build", "-o", bin, "./cmd/immunix")
	build.Dir = testenv.ModuleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/immunix: %v\n%s", err, out)
	}
	dest := filepath.Join(dir, "sys")
	out, err := exec.Command(bin, "guardlib", "--prebuild", "--dest", dest, "--cc", "clang", "--abi", "", "--abi", "-m32").CombinedOutput()
	if err != nil {
		t.Fatalf("prebuild: %v\n%s", err, out)
	}
	// One line for the FormatGuard headers, then one archive per ABI.
	var lines []string
	for _, l := range strings.Fields(string(out)) {
		if strings.HasSuffix(l, ".a") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("prebuild printed %q", out)
	}
	old := guardlib.SystemDir
	guardlib.SystemDir = dest
	defer func() { guardlib.SystemDir = old }()
	for i, abi := range [][]string{nil, {"-m32"}} {
		got, err := guardlib.Archive(guardlib.Target{Compiler: []string{"clang"}, ABIFlags: abi})
		if err != nil {
			t.Fatal(err)
		}
		if got != lines[i] {
			t.Errorf("Archive(clang %v) = %s, want the prebuilt %s", abi, got, lines[i])
		}
	}
}
