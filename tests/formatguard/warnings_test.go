package formatguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// warnC has one -Wformat problem per line, literal and not.
const warnC = `#include <stdio.h>
#include <err.h>
void f(const char *fmt, char *buf, int i);
void f(const char *fmt, char *buf, int i)
{
	printf("%d\n", "str");
	printf(fmt, i);
	printf(buf);
	sprintf(buf, "%s", i);
	snprintf(buf, 4, "%s %s", "one");
	fprintf(stderr, "");
	warnx("%ld", i);
}
`

var warnOpt = regexp.MustCompile(`(?m)warning: .*\[(-W[^\]=]+)[=\]]`)

// warnings returns the -W options of the warnings cc reports, sorted.
func warnings(t *testing.T, cc, file string, flags ...string) []string {
	t.Helper()
	args := append(append([]string{"-c", "-o", os.DevNull, "-Wall", "-Wformat=2", "-fdiagnostics-color=never"}, flags...), file)
	out, _ := exec.Command(cc, args...).CombinedOutput()
	var opts []string
	for _, m := range warnOpt.FindAllStringSubmatch(string(out), -1) {
		opts = append(opts, m[1])
	}
	sort.Strings(opts)
	return opts
}

// TestWarningsUnchanged: every -Wformat warning about the user's calls is
// still reported, once, with the FormatGuard headers (gcc hides warnings
// located in system-header macros; see immunix-formatguard.h).
func TestWarningsUnchanged(t *testing.T) {
	inc := includeDir(t)
	dir := t.TempDir()
	c := filepath.Join(dir, "w.c")
	cxx := filepath.Join(dir, "w.cc")
	for _, p := range []string{c, cxx} {
		if err := os.WriteFile(p, []byte(warnC), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, cc := range append(testenv.Compilers(), testenv.CXXCompilers()...) {
		testenv.NeedsTool(t, cc)
		file := c
		if strings.Contains(cc, "++") {
			file = cxx
		}
		for _, flags := range [][]string{{"-O0"}, {"-O2", "-D_FORTIFY_SOURCE=2"}} {
			without := warnings(t, cc, file, flags...)
			with := warnings(t, cc, file, append([]string{"-isystem", inc}, flags...)...)
			// (clang with FORTIFY reports fewer: glibc's own printf macros
			// hide some, with or without FormatGuard.)
			if len(without) < 3 {
				t.Fatalf("%s %v: only %d warnings without FormatGuard (%v): the test checks nothing", cc, flags, len(without), without)
			}
			if strings.Join(with, " ") != strings.Join(without, " ") {
				t.Errorf("%s %v: warnings differ\nwithout FormatGuard: %v\nwith FormatGuard:    %v", cc, flags, without, with)
			}
		}
	}
}
