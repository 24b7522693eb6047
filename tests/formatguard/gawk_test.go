package formatguard

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestGawkBuildsAndPassesItsTests builds GNU awk, a real printf-heavy
// program (printf is its core feature, and it formats numbers with formats
// it builds at run time), from its Debian source package through immunix-cc
// with FormatGuard, and runs its own test suite ("make check").
//
// It takes a few minutes; -short skips it.
func TestGawkBuildsAndPassesItsTests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gawk and runs its test suite (minutes)")
	}
	testenv.NeedsTool(t, "make")
	src := testenv.DebianSource(t, "gawk")
	bin := testenv.Binaries(t)
	logf := filepath.Join(t.TempDir(), "immunix.log")
	env := append(os.Environ(), "IMMUNIX_LOG="+logf, "IMMUNIX_CC=gcc")
	steps := [][]string{
		{"./configure", "CC=" + filepath.Join(bin, "immunix-cc"), "CFLAGS=-O2 -g", "--disable-nls", "--without-readline", "--without-mpfr"},
		// As debian/rules does: the Debian source ships no manual sources.
		{"touch", "--date=Jan 01 2000", "doc/gawktexi.in", "doc/sidebar.awk", "doc/gawk.texi", "doc/gawk.info", "doc/gawkinet.texi", "doc/gawkinet.info", "doc/gawkworkflow.texi", "doc/gawkworkflow.info", "doc/pm-gawk.texi", "doc/pm-gawk.info"},
		{"make", "-j2"},
		{"make", "check"},
	}
	for _, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Dir = src
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			tail := out
			if len(tail) > 6000 {
				tail = tail[len(tail)-6000:]
			}
			t.Fatalf("%s: %v\n%s", strings.Join(s, " "), err, tail)
		}
		if len(s) > 1 && s[1] == "check" && !bytes.Contains(out, []byte("ALL TESTS PASSED")) {
			t.Errorf("make check did not report ALL TESTS PASSED:\n%s", out[max(0, len(out)-3000):])
		}
	}

	// FormatGuard was really on: gawk's code calls checkers (the runtime
	// defines all of them either way, so count call sites), and no unit of
	// gawk itself had to be compiled again without the headers.
	testenv.NeedsTool(t, "objdump")
	dis, err := exec.Command("objdump", "-d", "--no-show-raw-insn", filepath.Join(src, "gawk")).Output()
	if err != nil {
		t.Fatalf("objdump gawk: %v", err)
	}
	calls := map[string]int{}
	for _, m := range callRE.FindAllStringSubmatch(string(dis), -1) {
		calls[m[1]]++
	}
	if calls["__immunix_fg_sprintf"]+calls["__immunix_fg_snprintf"] == 0 {
		t.Errorf("gawk makes no checked sprintf/snprintf call: FormatGuard was not active (checked calls: %v)", calls)
	}
	log, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	var retried []string
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "fg=retried") && !strings.Contains(l, "conftest") {
			retried = append(retried, l)
		}
	}
	if len(retried) > 0 {
		t.Errorf("%d gawk units compiled only without FormatGuard:\n%s", len(retried), strings.Join(retried, "\n"))
	}
	t.Logf("checked call sites in gawk: %v; immunix-cc log lines: %d", calls, strings.Count(string(log), "\n"))
}

var callRE = regexp.MustCompile(`call\s+[0-9a-f]+ <(__immunix_fg_[a-z_]+)`)
