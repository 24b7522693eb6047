package ccwrap_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/immunix/immunix/internal/logline"
	"github.com/immunix/immunix/internal/testenv"
)

var tmpName = regexp.MustCompile(`/tmp/cc[A-Za-z0-9]{6}\.`)

// TestQueryByteIdentical runs every query mode through the masquerade
// symlink and straight through the real compiler and wants the same bytes
// and exit code. The real compiler is run by its full path, as immunix-cc
// runs it: gcc prints its argv[0] in -v and -### output (COLLECT_GCC), and
// a bare name would make gcc find its install prefix through PATH, which
// holds the masquerade directory (see docs/immunix-cc.md, limits).
func TestQueryByteIdentical(t *testing.T) {
	mdir := testenv.Masquerade(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "x.c"), "int main(void){return 0;}\n")
	queries := [][]string{
		{"--version"}, {"-v"}, {"-dumpmachine"}, {"-dumpversion"}, {"-print-search-dirs"},
		{"-print-prog-name=ld"}, {"-print-file-name=libc.so"}, {"-print-libgcc-file-name"},
		{"--help"}, {"-###", "-O2", "-c", "x.c"}, {"--version", "x.c"}, {"-print-multi-lib"},
		{"-c"}, // no input: the compiler's own error
	}
	for _, cc := range allCompilers(t) {
		real, err := exec.LookPath(cc)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			name := cc + " " + strings.Join(q, " ")
			t.Run(name, func(t *testing.T) {
				c := cmd{dir: dir, path: mdir + ":" + os.Getenv("PATH")}
				got := c.run(t, cc, q...)
				want := cmd{dir: dir}.run(t, real, q...)
				if q[0] == "-###" {
					// gcc names its temporary files at random.
					got.stderr = tmpName.ReplaceAllString(got.stderr, "/tmp/ccXXXXXX.")
					want.stderr = tmpName.ReplaceAllString(want.stderr, "/tmp/ccXXXXXX.")
				}
				if got != want {
					t.Errorf("%s differs through immunix-cc:\n got exit %d stdout %.300q stderr %.300q\nwant exit %d stdout %.300q stderr %.300q",
						name, got.code, got.stdout, got.stderr, want.code, want.stdout, want.stderr)
				}
			})
		}
	}
}

// TestMasquerade builds through symlinks named like compilers, first in PATH.
func TestMasquerade(t *testing.T) {
	mdir := testenv.Masquerade(t)
	for _, name := range testenv.MasqueradeNames {
		if _, err := exec.LookPath(name); err != nil {
			continue // this machine has no such compiler
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src := source(t, dir, name)
			c := cmd{dir: dir, path: mdir + ":" + os.Getenv("PATH"), env: []string{"IMMUNIX_LOG=" + filepath.Join(dir, "log")}}
			c.ok(t, name, "-O2", src, "-o", "prog")
			if r := (cmd{dir: dir}).ok(t, filepath.Join(dir, "prog")); r.stdout != "hello\n" {
				t.Errorf("prog printed %q", r.stdout)
			}
			checkHardenedExe(t, filepath.Join(dir, "prog"), lang(name), true)
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			if !strings.Contains(string(log), "cc=/") || strings.Count(string(log), "\n") != 1 {
				t.Errorf("log %q: want one line naming the real compiler", log)
			}
		})
	}
}

// TestLaunchers is the ccache and distcc matrix: immunix-cc behind ccache,
// ccache behind immunix-cc (prefix and masquerade, before and after ours in
// PATH) and distcc with no daemon. No hang (timeouts), no loop, and the
// object comes out stamped, on a cache miss and on a hit.
func TestLaunchers(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	ccache := testenv.NeedsTool(t, "ccache")
	bin := testenv.Binaries(t)
	mdir := testenv.Masquerade(t)
	ccacheDir := "/usr/lib/ccache"
	if _, err := os.Stat(filepath.Join(ccacheDir, "gcc")); err != nil {
		testenv.Missing(t, "no ccache masquerade directory /usr/lib/ccache")
	}
	path := os.Getenv("PATH")
	cases := []struct {
		name string
		path string
		env  []string
		argv []string
	}{
		{"CC=ccache immunix-cc", path, nil, []string{ccache, filepath.Join(bin, "immunix-cc")}},
		{"IMMUNIX_CC=ccache gcc", path, []string{"IMMUNIX_CC=ccache gcc"}, []string{filepath.Join(bin, "immunix-cc")}},
		{"ccache dir after ours", mdir + ":" + ccacheDir + ":" + path, nil, []string{"gcc"}},
		{"ccache dir before ours", ccacheDir + ":" + mdir + ":" + path, nil, []string{"gcc"}},
		{"IMMUNIX_CC=ccache gcc with both dirs", mdir + ":" + ccacheDir + ":" + path, []string{"IMMUNIX_CC=ccache gcc"}, []string{"gcc"}},
		{"IMMUNIX_CC=distcc gcc", path, []string{"IMMUNIX_CC=distcc gcc", "DISTCC_HOSTS=localhost", "DISTCC_DIR=" + t.TempDir()}, []string{filepath.Join(bin, "immunix-cc")}},
		// distcc's masquerade runs "x86_64-linux-gnu-gcc": the masquerade
		// directory has that name too.
		{"distcc dir after ours", mdir + ":/usr/lib/distcc:" + path, []string{"DISTCC_HOSTS=localhost", "DISTCC_DIR=" + t.TempDir()}, []string{"gcc"}},
		{"distcc dir before ours", "/usr/lib/distcc:" + mdir + ":" + path, []string{"DISTCC_HOSTS=localhost", "DISTCC_DIR=" + t.TempDir()}, []string{"gcc"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "distcc") {
				testenv.NeedsTool(t, "distcc")
				if strings.Contains(tc.path, "/usr/lib/distcc") {
					if _, err := os.Stat("/usr/lib/distcc/gcc"); err != nil {
						testenv.Missing(t, "no distcc masquerade directory /usr/lib/distcc")
					}
				}
			}
			dir := t.TempDir()
			src := source(t, dir, "gcc")
			env := append([]string{"CCACHE_DIR=" + filepath.Join(dir, "ccache"), "IMMUNIX_DEBUG=1"}, tc.env...)
			c := cmd{dir: dir, path: tc.path, env: env}
			for _, round := range []string{"miss", "hit"} {
				os.Remove(filepath.Join(dir, "o.o"))
				args := append(append([]string{}, tc.argv[1:]...), "-O2", "-c", src, "-o", "o.o")
				r := c.ok(t, tc.argv[0], args...)
				if n := strings.Count(r.stderr, "immunix-cc: /"); n != 1 {
					t.Errorf("%s: immunix-cc rewrote %d times (want once):\n%s", round, n, r.stderr)
				}
				fa := readFacts(t, filepath.Join(dir, "o.o"))
				if len(fa.compile) != 1 || !fa.compile[0].Has("canary") {
					t.Errorf("%s: o.o compile notes %v", round, fa.compile)
				}
			}
			c.ok(t, tc.argv[0], append(append([]string{}, tc.argv[1:]...), "o.o", "-o", "prog")...)
			if r := (cmd{dir: dir}).ok(t, filepath.Join(dir, "prog")); r.stdout != "hello\n" {
				t.Errorf("prog printed %q", r.stdout)
			}
		})
	}
}

// TestErrors: the wrapper's own failures are one "immunix-cc:" line and a
// code from docs/contracts.md.
func TestErrors(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	bin := testenv.Binaries(t)
	w := filepath.Join(bin, "immunix-cc")
	dir := t.TempDir()
	src := source(t, dir, "gcc")
	loopDir := filepath.Join(dir, "loop")
	os.Mkdir(loopDir, 0o755)
	os.Symlink(w, filepath.Join(loopDir, "gcc"))
	wrapDir := filepath.Join(dir, "wrap")
	os.Mkdir(wrapDir, 0o755)
	// A wrapper that calls "gcc" from PATH, which is immunix-cc again.
	os.WriteFile(filepath.Join(wrapDir, "gcc"), []byte("#!/bin/sh\nexec gcc \"$@\"\n"), 0o755)
	// Wrappers that call "gcc" with a cleared environment (env -i), with
	// exec and through a forked child: the environment marker is gone, the
	// inherited marker descriptor is not (issue 14 item 4).
	envDir := filepath.Join(dir, "envwrap")
	os.Mkdir(envDir, 0o755)
	os.WriteFile(filepath.Join(envDir, "gcc"), []byte("#!/bin/sh\nexec /usr/bin/env -i PATH="+loopDir+":"+envDir+" gcc \"$@\"\n"), 0o755)
	forkDir := filepath.Join(dir, "forkwrap")
	os.Mkdir(forkDir, 0o755)
	os.WriteFile(filepath.Join(forkDir, "gcc"), []byte("#!/bin/sh\n/usr/bin/env -i PATH="+loopDir+":"+forkDir+" gcc \"$@\"\nexit $?\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "junk"), []byte("not a program"), 0o755)
	conf := writeFile(t, filepath.Join(dir, "immunix.conf"), "# test\nIMMUNIX_DISABLE=canary\nIMMUNIX_BOGUS=1\n")
	tests := []struct {
		name string
		c    cmd
		prog string
		args []string
		code int
		msg  string
	}{
		{"loop through a wrapper", cmd{dir: dir, path: loopDir + ":" + wrapDir}, "gcc", []string{"-c", src}, 102, "recursion"},
		{"loop through env -i", cmd{dir: dir, path: loopDir + ":" + envDir}, "gcc", []string{"-c", src}, 102, "recursion"},
		{"loop through a forked env -i", cmd{dir: dir, path: loopDir + ":" + forkDir}, "gcc", []string{"-c", src}, 102, "recursion"},
		{"IMMUNIX_CC is us", cmd{dir: dir, env: []string{"IMMUNIX_CC=" + w}}, w, []string{"-c", src}, 102, "recursion"},
		{"missing compiler", cmd{dir: dir, env: []string{"IMMUNIX_CC=/nonexistent/gcc"}}, w, []string{"-c", src}, 101, "not found"},
		{"no cc in PATH", cmd{dir: dir, path: wrapDir}, w, []string{"-c", src}, 101, "not found"},
		{"unreadable @file", cmd{dir: dir}, w, []string{"-c", "@missing.rsp"}, 103, "missing.rsp"},
		{"bad IMMUNIX_DISABLE", cmd{dir: dir, env: []string{"IMMUNIX_DISABLE=canary,stackguard"}}, w, []string{"-c", src}, 100, "stackguard"},
		{"bad IMMUNIX_STRICT", cmd{dir: dir, env: []string{"IMMUNIX_STRICT=maybe"}}, w, []string{"-c", src}, 100, "IMMUNIX_STRICT"},
		{"bad config file", cmd{dir: dir, env: []string{"IMMUNIX_CONFIG=" + conf}}, w, []string{"-c", src}, 100, conf + ":3"},
		{"exec fails", cmd{dir: dir, env: []string{"IMMUNIX_CC=" + filepath.Join(dir, "junk")}}, w, []string{"--version"}, 105, "exec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.run(t, tt.prog, tt.args...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != tt.code || len(lines) != 1 || !strings.HasPrefix(lines[0], "immunix-cc: ") || !strings.Contains(lines[0], tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and one immunix-cc: line mentioning %q", r.code, r.stderr, tt.code, tt.msg)
			}
		})
	}
}

// TestOwnOptions: --immunix-help, --immunix-version and --immunix-explain
// are ours; explain runs nothing.
func TestOwnOptions(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	w, env := wrapper(t, "gcc")
	dir := t.TempDir()
	src := source(t, dir, "gcc")
	c := cmd{dir: dir, env: env}
	if r := c.ok(t, w, "--immunix-help"); !strings.Contains(r.stdout, "IMMUNIX_DISABLE") || !strings.Contains(r.stdout, "--immunix-explain") {
		t.Errorf("help: %q", r.stdout)
	}
	if r := c.ok(t, w, "--immunix-version"); !strings.HasPrefix(r.stdout, "immunix-cc ") {
		t.Errorf("version: %q", r.stdout)
	}
	r := c.ok(t, w, "--immunix-explain", "-O2", "-fno-stack-protector", src, "-o", "never")
	for _, want := range []string{"mode:      link (exe)", "user-off=canary(-fno-stack-protector)", "command:   /usr/bin/gcc ", "-Wl,-z,relro"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain output lacks %q:\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "never")); err == nil {
		t.Errorf("--immunix-explain ran the compiler")
	}
}

// TestLogParallel: IMMUNIX_LOG gets exactly one whole line per invocation
// from many parallel compiles.
func TestLogParallel(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	w, env := wrapper(t, "gcc")
	dir := t.TempDir()
	src := source(t, dir, "gcc")
	log := filepath.Join(dir, "immunix.log")
	c := cmd{dir: dir, env: append(env, "IMMUNIX_LOG="+log)}
	c.ok(t, w, "-c", src, "-o", "warm.o") // the first run probes and caches
	const n = 12
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = c.run(t, w, "-O2", "-c", src, "-o", fmt.Sprintf("o%d.o", i))
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("compile %d: %+v", i, r)
		}
	}
	c.ok(t, w, "--version")
	data, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != n+2 {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), n+2, data)
	}
	for _, l := range lines[1 : n+1] {
		f, err := logline.Parse(l)
		if err != nil {
			t.Errorf("log line %q: %v", l, err)
			continue
		}
		mode, _ := logline.Get(f, "mode")
		on, _ := logline.Get(f, "compile-on")
		_, fortify := logline.Get(f, "fortify")
		if f[0].Key != "time" || mode != "compile" || !strings.HasPrefix(on, "canary,") || !fortify {
			t.Errorf("bad log line %q", l)
		}
	}
	last, err := logline.Parse(lines[n+1])
	mode, _ := logline.Get(last, "mode")
	pass, _ := logline.Get(last, "pass")
	if err != nil || mode != "query" || pass != "query" {
		t.Errorf("query log line %q: %v", lines[n+1], err)
	}
}

// TestFormatGuardRetry: a unit that does not compile with the FormatGuard
// headers (it defines its own printf) is compiled again without them.
func TestFormatGuardRetry(t *testing.T) {
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		t.Run(cc, func(t *testing.T) {
			w, env := wrapper(t, cc)
			dir := t.TempDir()
			src := writeFile(t, filepath.Join(dir, "own.c"), `#include <stdio.h>
#include <stdarg.h>
int printf(const char *f, ...) { va_list ap; va_start(ap, f); int n = vfprintf(stdout, f, ap); va_end(ap); return n; }
int main(void) { return printf("hello\n") < 0; }
`)
			probe := cmd{dir: dir, env: env}.ok(t, w, "--immunix-explain", "-c", src)
			if !strings.Contains(probe.stdout, "formatguard") || strings.Contains(probe.stdout, "note:    formatguard") {
				testenv.Missing(t, "FormatGuard headers are not available: "+probe.stdout)
			}
			c := cmd{dir: dir, env: append(env, "IMMUNIX_LOG="+filepath.Join(dir, "log"))}
			// Without optimisation: glibc's own FORTIFY macros (clang) would
			// make this unit fail too.
			r := c.ok(t, w, src, "-o", "own")
			if strings.Contains(r.stderr, "error") {
				t.Errorf("the failed first attempt leaked: %s", r.stderr)
			}
			fa := readFacts(t, filepath.Join(dir, "own"))
			if len(fa.compile) != 1 || fa.compile[0].Extra["fg"] != "retried" || fa.compile[0].Has("formatguard") || !has(fa.compile[0].Failed, "formatguard") {
				t.Errorf("compile notes %v: want fg=retried failed=formatguard without formatguard", fa.compile)
			}
			// Dropping FormatGuard is visible: one warning line (issue 14).
			if n := strings.Count(r.stderr, "immunix-cc: warning: formatguard left out of "+src); n != 1 || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("want exactly one warning line about the dropped FormatGuard, got:\n%s", r.stderr)
			}
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			if !strings.Contains(string(log), " fg=retried") {
				t.Errorf("log: %s", log)
			}
			s := cmd{dir: dir, env: append(env, "IMMUNIX_STRICT=1")}.run(t, w, src, "-o", "own2")
			if s.code != 106 || !strings.Contains(s.stderr, "immunix-cc: IMMUNIX_STRICT=1") {
				t.Errorf("strict: exit %d, %s", s.code, s.stderr)
			}
			// A real error is the compiler's: its exit code and message, once.
			bad := writeFile(t, filepath.Join(dir, "bad.c"), "#include <stdio.h>\nint main(void) { return undeclared; }\n")
			b := c.run(t, w, "-c", bad)
			if b.code != 1 || strings.Count(b.stderr, "undeclared") < 1 || strings.Contains(b.stderr, "immunix-cc:") {
				t.Errorf("compile error: exit %d, %s", b.code, b.stderr)
			}
			// ... and it is compiled once: its diagnostics do not involve the
			// FormatGuard headers, so a second attempt could only fail again.
			d := cmd{dir: dir, env: append(env, "IMMUNIX_DEBUG=1")}.run(t, w, "-c", bad)
			if d.code != 1 || !strings.Contains(d.stderr, "not compiled again") || strings.Contains(d.stderr, "compiled again without it") {
				t.Errorf("unrelated error: exit %d, %s", d.code, d.stderr)
			}
			// Where the compiler hides the macro expansions, a failure is
			// retried whatever its diagnostics say.
			if cc == "gcc" {
				c.ok(t, w, "-ftrack-macro-expansion=0", src, "-o", "own3")
			}
		})
	}
}

// TestFormatGuardCountsRetry: a C call whose argument is a compound literal
// with a top-level comma does not compile with the argument classes (the
// preprocessor splits the literal); immunix-cc compiles the unit again with
// counts only (fg=counts), which keeps the count check, also under
// IMMUNIX_STRICT=1, and never drops FormatGuard for it.
func TestFormatGuardCountsRetry(t *testing.T) {
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		t.Run(cc, func(t *testing.T) {
			w, env := wrapper(t, cc)
			dir := t.TempDir()
			src := writeFile(t, filepath.Join(dir, "lit.c"), `#include <stdio.h>
struct pt { int x, y; };
int main(int argc, char **argv) {
	if (argc < 2) return 2;
	printf(argv[1], (struct pt){7, 2}.x);
	return 0;
}
`)
			probe := cmd{dir: dir, env: env}.ok(t, w, "--immunix-explain", "-c", src)
			if !strings.Contains(probe.stdout, "formatguard") || strings.Contains(probe.stdout, "note:    formatguard") {
				testenv.Missing(t, "FormatGuard headers are not available: "+probe.stdout)
			}
			// The regression itself: the unit does not compile with the classes.
			if r := (cmd{dir: dir, env: env}).run(t, cc, append(fgArgs(t, w, dir, env), "-c", src, "-o", "direct.o")...); r.code == 0 {
				t.Fatalf("the unit compiles with the FormatGuard headers and their classes: nothing to retry")
			}
			for _, strict := range []bool{false, true} {
				e := append(append([]string{}, env...), "IMMUNIX_LOG="+filepath.Join(dir, "log"))
				if strict {
					e = append(e, "IMMUNIX_STRICT=1")
				}
				r := cmd{dir: dir, env: e}.ok(t, w, "-O2", src, "-o", "lit")
				if strings.Contains(r.stderr, "error") {
					t.Errorf("the failed first attempt leaked: %s", r.stderr)
				}
				if n := strings.Count(r.stderr, "immunix-cc: warning: formatguard checks only the argument counts in "+src); n != 1 || strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("want exactly one warning line about the counts-only unit, got:\n%s", r.stderr)
				}
				fa := readFacts(t, filepath.Join(dir, "lit"))
				if len(fa.compile) != 1 || fa.compile[0].Extra["fg"] != "counts" || !fa.compile[0].Has("formatguard") || has(fa.compile[0].Failed, "formatguard") {
					t.Errorf("compile notes %v: want fg=counts with formatguard on", fa.compile)
				}
				log, _ := os.ReadFile(filepath.Join(dir, "log"))
				if !strings.Contains(string(log), " fg=counts") {
					t.Errorf("log: %s", log)
				}
				// The count check is there: a benign format prints, a
				// format reading more than the call's 2 (an over-count: the
				// literal counts twice) is stopped before any output.
				ok := cmd{dir: dir, env: env}.run(t, filepath.Join(dir, "lit"), "x=%d\n")
				if ok.code != 0 || ok.stdout != "x=7\n" {
					t.Errorf("benign format: %+v", ok)
				}
				bad := cmd{dir: dir, env: env}.run(t, filepath.Join(dir, "lit"), "%x%x%x%x")
				if bad.code == 0 || bad.stdout != "" || !strings.Contains(bad.stderr, "kind=formatguard") || !strings.Contains(bad.stderr, "passed=2 demanded=4") {
					t.Errorf("leak not stopped: %+v", bad)
				}
			}
		})
	}
}

// TestFormatGuardHelpers: a unit with a printf helper is compiled from its
// rewritten text (fgh=N in the stamp and the log); when the rewritten text
// does not compile (here gcc's -Werror=nested-externs, which the rewrite's
// block-scope declarations trip), the unit is compiled as usual, says so in
// one warning line and fgh=failed, and IMMUNIX_STRICT=1 refuses it.
func TestFormatGuardHelpers(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	w, env := wrapper(t, "gcc")
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "h.c"), `#include <stdarg.h>
#include <stdio.h>
static void log_msg(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vfprintf(stdout, fmt, ap); va_end(ap); }
int main(int argc, char **argv) { if (argc > 1) log_msg(argv[1], 1); return 0; }
`)
	e := append(append([]string{}, env...), "IMMUNIX_LOG="+filepath.Join(dir, "log"))
	r := cmd{dir: dir, env: e}.ok(t, w, "-O2", "-Wall", "-Wextra", src, "-o", "h")
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
	fa := readFacts(t, filepath.Join(dir, "h"))
	if len(fa.compile) != 1 || fa.compile[0].Extra["fgh"] != "2" || !fa.compile[0].Has("formatguard") {
		t.Errorf("compile notes %v: want fgh=2 (one helper call, one v*printf call)", fa.compile)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "log")); !strings.Contains(string(log), " fgh=2") {
		t.Errorf("log: %s", log)
	}
	if a := (cmd{dir: dir, env: env}).run(t, filepath.Join(dir, "h"), "%x%x%x"); a.code == 0 || a.stdout != "" || !strings.Contains(a.stderr, "call=vfprintf passed=1 demanded=3") {
		t.Errorf("attack through the helper not stopped: %+v", a)
	}
	// Failing rewritten text: compiled as usual.
	f := cmd{dir: dir, env: e}.ok(t, w, "-O2", "-Werror=nested-externs", src, "-o", "h2")
	if n := strings.Count(f.stderr, "immunix-cc: warning: formatguard does not check the printf helpers of "+src); n != 1 || strings.Count(f.stderr, "\n") != 1 {
		t.Errorf("want exactly one warning line, got:\n%s", f.stderr)
	}
	fa = readFacts(t, filepath.Join(dir, "h2"))
	if len(fa.compile) != 1 || fa.compile[0].Extra["fgh"] != "failed" || !fa.compile[0].Has("formatguard") {
		t.Errorf("compile notes %v: want fgh=failed", fa.compile)
	}
	s := cmd{dir: dir, env: append(env, "IMMUNIX_STRICT=1")}.run(t, w, "-O2", "-Werror=nested-externs", src, "-o", "h3")
	if s.code != 106 || !strings.Contains(s.stderr, "fgh=failed") {
		t.Errorf("strict: exit %d, %s", s.code, s.stderr)
	}
}

// fgArgs returns the FormatGuard include options immunix-cc adds (from
// --immunix-explain's command).
func fgArgs(t *testing.T, w, dir string, env []string) []string {
	t.Helper()
	r := cmd{dir: dir, env: env}.ok(t, w, "--immunix-explain", "-c", "x.c")
	f := strings.Fields(r.stdout)
	for i, a := range f {
		if a == "-isystem" && i+1 < len(f) && strings.Contains(f[i+1], "formatguard-include") {
			return []string{"-isystem", f[i+1]}
		}
	}
	t.Fatalf("no FormatGuard include directory in %s", r.stdout)
	return nil
}

// TestColourOnTerminal: in retry mode the compiler's stderr is a memory
// file, yet on a terminal its diagnostics keep their colours, as with the
// plain compiler.
func TestColourOnTerminal(t *testing.T) {
	script := testenv.NeedsTool(t, "script")
	gcc := testenv.NeedsTool(t, "gcc")
	w, _ := wrapper(t, "gcc")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "err.c"), "#include <stdio.h>\nint main(void) { return undeclared; }\n")
	onTTY := func(command string) string {
		r := cmd{dir: dir, env: []string{"IMMUNIX_CC=" + gcc, "TERM=xterm"}}.run(t, script, "-qec", command, "/dev/null")
		return r.stdout
	}
	plain, wrapped := onTTY(gcc+" -c err.c"), onTTY(w+" -c err.c")
	if !strings.Contains(plain, "\x1b[") {
		testenv.Missing(t, "gcc prints no colours on this terminal")
	}
	if strings.Count(wrapped, "\x1b[") != strings.Count(plain, "\x1b[") {
		t.Errorf("colours differ on a terminal:\nplain   %q\nwrapped %q", plain, wrapped)
	}
}

// TestFormatGuardHelpersWithDeps: the compile lines of automake, meson and
// plain makefiles write dependencies (-MD -MP -MF, -MD alone, -Wp,-MD,FILE)
// or read a response file. Those units get the helper pass too (fgh=2),
// their dependency file is where the usual compile writes it, names the
// same target and the real source and headers (never the rewritten text),
// the preprocessor's #warning is printed once, and the helper attack is
// stopped. -M alone (dependencies only) still prints the rule and compiles
// nothing.
func TestFormatGuardHelpersWithDeps(t *testing.T) {
	const src = `#include <stdarg.h>
#include <stdio.h>
#include "h.h"
#warning from-the-unit
static void log_msg(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vfprintf(stdout, fmt, ap); va_end(ap); }
int main(int argc, char **argv) { if (argc > 1) log_msg(argv[1], ONE); return 0; }
`
	cases := []struct {
		name    string
		args    []string // the compile, writing obj/h.o
		depFile string
		target  map[string]string // by compiler, as the plain compile writes it
	}{
		{"automake", []string{"-MT", "obj/h.o", "-MD", "-MP", "-MF", ".deps/h.Tpo", "-c", "-o", "obj/h.o", "h.c"}, ".deps/h.Tpo", map[string]string{"gcc": "obj/h.o:", "clang": "obj/h.o:"}},
		{"MD-alone", []string{"-MD", "-c", "-o", "obj/h.o", "h.c"}, "obj/h.d", map[string]string{"gcc": "obj/h.o:", "clang": "obj/h.o:"}},
		{"MMD-joined-MF-MQ", []string{"-MMD", "-MFobj/x.dep", "-MQ$out", "-c", "h.c", "-o", "obj/h.o"}, "obj/x.dep", map[string]string{"gcc": "$$out:", "clang": "$$out:"}},
		{"Wp-MD", []string{"-Wp,-MD,.deps/h.pp", "-c", "-o", "obj/h.o", "h.c"}, ".deps/h.pp", map[string]string{"gcc": "h.o:", "clang": "obj/h.o:"}},
		{"response-file", []string{"-MD", "@rsp"}, "obj/h.d", map[string]string{"gcc": "obj/h.o:", "clang": "obj/h.o:"}},
	}
	for _, cc := range []string{"gcc", "clang"} {
		testenv.NeedsTool(t, cc)
		for _, c := range cases {
			t.Run(cc+"/"+c.name, func(t *testing.T) {
				w, env := wrapper(t, cc)
				dir := t.TempDir()
				writeFile(t, filepath.Join(dir, "h.c"), src)
				writeFile(t, filepath.Join(dir, "h.h"), "#define ONE 1\n")
				writeFile(t, filepath.Join(dir, "rsp"), "-c -o obj/h.o h.c\n")
				for _, d := range []string{"obj", ".deps"} {
					if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				r := cmd{dir: dir, env: env}.ok(t, w, append([]string{"-O2", "-Wall"}, c.args...)...)
				if n := strings.Count(r.stderr, "h.c:4:2: warning:"); n != 1 {
					t.Errorf("the unit's #warning printed %d times, want once:\n%s", n, r.stderr)
				}
				dep, err := os.ReadFile(filepath.Join(dir, c.depFile))
				if err != nil {
					t.Fatalf("no dependency file: %v", err)
				}
				d := string(dep)
				if !strings.HasPrefix(d, c.target[cc]) || !strings.Contains(d, " h.c") || !strings.Contains(d, "h.h") || strings.Contains(d, "immunix-cc-fgh-") {
					t.Errorf("dependency file %s, want target %q, h.c, h.h and no temporary name:\n%s", c.depFile, c.target[cc], d)
				}
				cmd{dir: dir, env: env}.ok(t, w, "-o", "h", "obj/h.o")
				fa := readFacts(t, filepath.Join(dir, "h"))
				if len(fa.compile) != 1 || fa.compile[0].Extra["fgh"] != "2" {
					t.Errorf("compile notes %v: want fgh=2", fa.compile)
				}
				if a := (cmd{dir: dir, env: env}).run(t, filepath.Join(dir, "h"), "%x%x%x"); a.code == 0 || a.stdout != "" || !strings.Contains(a.stderr, "call=vfprintf passed=1 demanded=3") {
					t.Errorf("attack through the helper not stopped: %+v", a)
				}
			})
		}
		t.Run(cc+"/M-only", func(t *testing.T) {
			w, env := wrapper(t, cc)
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "h.c"), src)
			writeFile(t, filepath.Join(dir, "h.h"), "#define ONE 1\n")
			r := cmd{dir: dir, env: env}.ok(t, w, "-M", "h.c")
			if !strings.HasPrefix(r.stdout, "h.o: h.c") || !strings.Contains(r.stdout, "h.h") {
				t.Errorf("-M printed %q", r.stdout)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 2 {
				t.Errorf("-M wrote files: %v", ents)
			}
		})
	}
}
