package checktest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/cbuild"
	"github.com/immunix/immunix/internal/testenv"
)

// fgResult is the formatguard result of each file, with its lists.
type fgResult struct {
	Status, Value string
	Lists         map[string][]string
}

func formatGuardOf(t *testing.T, args ...string) ([]fgResult, int) {
	t.Helper()
	out, errOut, code := run(t, "", append([]string{"check", "-f", "json"}, args...)...)
	var rep struct {
		Files []struct {
			Path    string
			Results []struct {
				Property string
				fgResult
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	var res []fgResult
	for _, f := range rep.Files {
		for _, r := range f.Results {
			if r.Property == "formatguard" {
				res = append(res, r.fgResult)
			}
		}
	}
	return res, code
}

// immunixCC builds src with immunix-cc over the real compiler cc.
func immunixCC(t *testing.T, cc, src string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "main.c")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "prog")
	cmd := exec.Command(filepath.Join(testenv.Binaries(t), "immunix-cc"), append(append([]string{}, flags...), "-o", exe, p)...)
	cmd.Env = append(os.Environ(), "IMMUNIX_CC="+cc)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("immunix-cc (%s): %v\n%s", cc, err, out)
	}
	return exe
}

// leaks runs exe with args and reports whether its output shows a pointer
// the format read off the stack (%p prints 0x... or (nil)).
func leaks(t *testing.T, exe string, args ...string) bool {
	t.Helper()
	out, _ := exec.Command(exe, args...).CombinedOutput()
	return regexp.MustCompile(`0x[0-9a-f]{4,}|\(nil\)`).Match(out)
}

// grcat is gawk's awklib/eg/lib/grcat.c: the two printf formats are
// literals that gcc -O2 loads into callee-saved registers before the loop;
// the loop's blocks after a jump are reached by the back edges only.
// Before the fix the data-flow lost them there and gawk's grcat and pwcat
// had "bare" calls.
const grcat = `#include <stdio.h>
#include <grp.h>
int main(void) {
    struct group *g;
    int i;
    while ((g = getgrent()) != NULL) {
        printf("%s:%s:%ld:", g->gr_name, g->gr_passwd, (long) g->gr_gid);
        for (i = 0; g->gr_mem[i] != NULL; i++) {
            printf("%s", g->gr_mem[i]);
            if (g->gr_mem[i+1] != NULL)
                putchar(',');
        }
        putchar('\n');
    }
    endgrent();
    return 0;
}
`

// loopSwap is the attacker's counterpart: a literal format held in a
// register across the loop, replaced by argv[1] on the back edge. The
// optimistic data-flow must still see the non-literal format at the call.
const loopSwap = `#include <stdio.h>
int main(int c, char **v) {
    const char *f = "%d\n";
    for (int i = 0; i < c; i++) {
        printf(f, i);
        if (i == 1)
            f = v[1];
    }
    return 0;
}
`

// TestFormatFlowLoops: literal formats kept in registers across a loop are
// literals (gawk's grcat, pwcat), and a format a back edge replaces with
// argv is bare: the plain build leaks the stack, the check fails it;
// through immunix-cc the same call is checked.
func TestFormatFlowLoops(t *testing.T) {
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		flags := []string{"-O2", "-D_FORTIFY_SOURCE=2", "-w"}
		gr := cbuild.Build(t, cc, grcat, flags...)
		plain := cbuild.Build(t, cc, loopSwap, flags...)
		if !leaks(t, plain, "%p%p%p%p", "x") {
			t.Fatalf("%s: the plain loopSwap program did not leak with a hostile format: the attack does not work", cc)
		}
		guarded := immunixCC(t, cc, loopSwap, "-O2")
		res, _ := formatGuardOf(t, gr, plain, guarded)
		if r := res[0]; r.Status != "pass" || len(r.Lists["bare"]) > 0 {
			t.Errorf("%s grcat: formatguard %s (%s) %v, want pass: its formats are literals", cc, r.Status, r.Value, r.Lists)
		}
		if r := res[1]; r.Status != "fail" || len(r.Lists["bare"]) != 1 || !strings.Contains(r.Lists["bare"][0], "in main") {
			t.Errorf("%s loopSwap (plain): formatguard %s (%s) %v, want fail with the one bare call in main", cc, r.Status, r.Value, r.Lists)
		}
		if r := res[2]; r.Status != "pass" || len(r.Lists["checked"]) == 0 {
			t.Errorf("%s loopSwap (immunix-cc): formatguard %s (%s) %v, want pass with the call checked", cc, r.Status, r.Value, r.Lists)
		}
	}
}

// ownErr has a function of its own named err, like gawk's msg.c
// (err(false, _("warning: "), mesg, args)): its second argument is a
// prefix, not a format, and calls to it are not calls to libc's err(3),
// whatever its name. libcErr calls the real errx(3) with a format from
// argv.
const ownErr = `#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
__attribute__((noinline)) void err(int fatal, const char *prefix, const char *fmt, ...) {
    va_list ap;
    fputs(prefix, stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (fatal)
        exit(2);
}
int main(int c, char **v) {
    printf("%d\n", c);
    err(0, c > 2 ? v[2] : "warning: ", "%s\n", v[0]);
    return 0;
}
`

const libcErr = `#include <err.h>
int main(int c, char **v) {
    if (c > 1)
        errx(1, v[1]);
    return 0;
}
`

// TestOwnFunctionNamedLikeLibc (issue 14, item 9 for formatguard): a
// program's own err is not libc's err: before the fix, calls to gawk's
// err were "bare". libc's errx called with a format from argv (built
// without FormatGuard: the format leaks the stack) stays bare.
func TestOwnFunctionNamedLikeLibc(t *testing.T) {
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		own := cbuild.Build(t, cc, ownErr, "-O2", "-w", "-fno-inline")
		libc := cbuild.Build(t, cc, libcErr, "-O2", "-w")
		if !leaks(t, libc, "%p%p%p%p") {
			t.Fatalf("%s: errx with a hostile format did not leak: the attack does not work", cc)
		}
		res, _ := formatGuardOf(t, own, libc)
		if r := res[0]; r.Status != "pass" || len(r.Lists["own-function"]) == 0 || len(r.Lists["bare"]) > 0 {
			t.Errorf("%s own err: formatguard %s (%s) %v, want pass with the call to err listed as the program's own", cc, r.Status, r.Value, r.Lists)
		}
		if r := res[1]; r.Status != "fail" || len(r.Lists["bare"]) != 1 || !strings.HasPrefix(r.Lists["bare"][0], "errx at ") {
			t.Errorf("%s libc errx: formatguard %s (%s) %v, want fail with errx bare", cc, r.Status, r.Value, r.Lists)
		}
	}
}

// addressTaken stores fprintf in a function pointer and calls through it
// with a format from argv, as mawk's do_printf does with its own parsed
// conversions: FormatGuard cannot count arguments through a pointer.
const addressTaken = `#include <stdio.h>
typedef int (*printer)(FILE *, const char *, ...);
__attribute__((noinline)) printer pick(int c) { return c > 5 ? (printer)fputs : fprintf; }
int main(int c, char **v) {
    printer p = pick(c);
    if (c > 1)
        p(stdout, v[1], 1);
    return 0;
}
`

// TestAddressTakenPartial: printf-family functions used through a pointer
// are beyond FormatGuard (its count is made at the call). The verdict is
// unknown, "partial", with the places listed, neither a pass nor a
// failure by accident; --strict refuses it. The attack works through the
// pointer even when built by immunix-cc: that is the gap the verdict names.
func TestAddressTakenPartial(t *testing.T) {
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		exe := immunixCC(t, cc, addressTaken, "-O2")
		if !leaks(t, exe, "%p%p%p%p") {
			t.Fatalf("%s: the call through the pointer did not leak", cc)
		}
		res, _ := formatGuardOf(t, exe)
		r := res[0]
		if r.Status != "unknown" || !strings.HasPrefix(r.Value, "partial: ") || len(r.Lists["address-taken"]) == 0 || len(r.Lists["bare"]) > 0 {
			t.Errorf("%s: formatguard %s (%s) %v, want unknown, partial, with the address-taken places", cc, r.Status, r.Value, r.Lists)
		}
		if _, code := formatGuardOf(t, "--strict", "--require", "formatguard", exe); code != 1 {
			t.Errorf("%s: --strict --require formatguard exit %d, want 1", cc, code)
		}
	}
}
