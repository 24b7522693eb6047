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

// TestGawkDebianPackage builds GNU awk, a real printf-heavy program (printf
// is its core feature, and it formats numbers with formats it builds at run
// time), from its Debian source package with dpkg-buildpackage and
// immunix-cc as CC, so with Debian's own flags and rules, and with its own
// test suite ("make check", run by dh_auto_test), which must pass.
//
// It takes a minute or two; -short skips it.
func TestGawkDebianPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gawk Debian package and runs its test suite")
	}
	testenv.NeedsTool(t, "dpkg-buildpackage")
	testenv.NeedsTool(t, "objdump")
	src := testenv.DebianSource(t, "gawk")
	if out, err := exec.Command("dpkg-checkbuilddeps", filepath.Join(src, "debian", "control")).CombinedOutput(); err != nil {
		testenv.Missing(t, "gawk's build dependencies are not installed (scripts/deps.d/formatguard.txt): "+strings.TrimSpace(string(out)))
	}
	bin := testenv.Binaries(t)
	logf := filepath.Join(t.TempDir(), "immunix.log")
	cmd := exec.Command("dpkg-buildpackage", "-b", "-uc", "-us")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CC="+filepath.Join(bin, "immunix-cc"), "IMMUNIX_CC=gcc",
		"IMMUNIX_LOG="+logf, "DEB_BUILD_OPTIONS=parallel=2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-buildpackage: %v\n%s", err, tailOf(out))
	}
	if !bytes.Contains(out, []byte("ALL TESTS PASSED")) {
		t.Errorf("gawk's make check did not report ALL TESTS PASSED:\n%s", tailOf(out))
	}

	// FormatGuard was really on: gawk's code calls checkers (the runtime
	// defines all of them either way, so count call sites), and no unit of
	// gawk had to be compiled again without the headers.
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
	if !strings.Contains(string(log), "formatguard") {
		t.Errorf("the immunix-cc log never mentions formatguard:\n%s", tailOf(log))
	}
	t.Logf("checked call sites in gawk: %v; immunix-cc invocations: %d", calls, strings.Count(string(log), "\n"))
}

var callRE = regexp.MustCompile(`call\s+[0-9a-f]+ <(__immunix_fg_[a-z_]+)`)
