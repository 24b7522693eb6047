package boundsguard

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestCheckBoundsVerdict: the bounds verdict of `immunix check` on real
// compiled code, gcc and clang at -O0 and -O2, built with immunix-cc
// without BoundsGuard (plain) and with it. The false alarms found on
// make test-rebuild's level-max builds (gawk's readfile.so, GNU hello:
// issue 16) must not come back, and no plain build may ever pass:
//
//   - heap_rbp (readfile.so): optimised code keeps a malloc'd buffer in
//     %rbp, which is no frame pointer there; text[n] is not a stack index.
//   - bounded_struct (hello's quotearg_char): a local struct's
//     unsigned bits[8] indexed with uc / 32: the code bounds the index
//     inside the frame, the compiler needs no check; unknown, not none.
//   - index_attack: an index from input overwrites the guard after a[4]
//     in the plain build; check says none, and bounds with BoundsGuard.
//   - masked_attack: the index n & 7 is bounded inside the frame but not
//     inside char a[4]; the plain build is overwritten and must not pass
//     (unknown at best: check cannot see the array's size).
//   - forged_handler: a plain build defines a function named like the
//     bounds handler, which returns, and calls it away from the access;
//     the attack lands, and a handler that returns is not counted: none.
//   - forged_halting: the same with a handler that never returns, called
//     from a check of the program's own, looser than the array, that
//     passes no compiler record: the attack lands, and a call outside a
//     check tied to a record is no check: none.
func TestCheckBoundsVerdict(t *testing.T) {
	bin := testenv.Binaries(t)
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	testenv.NeedsTool(t, "objdump")
	cases := []struct {
		name string
		// plain and with: the statuses allowed for the build without
		// and with BoundsGuard.
		plain, with []string
		// (with nil: the plain build only.)
		// attack: the argument that overflows the array; its plain
		// build exits 1 when the guard was overwritten.
		attack string
	}{
		{name: "heap_rbp", plain: []string{"n/a"}, with: []string{"n/a"}},
		// -O0 keeps the pointer arithmetic out of the frame operand
		// (n/a); BoundsGuard checks show()'s o->bits[*p / 32] there.
		{name: "bounded_struct", plain: []string{"unknown", "n/a"}, with: []string{"unknown", "pass"}},
		{name: "index_attack", plain: []string{"fail"}, with: []string{"pass"}, attack: "4"},
		{name: "masked_attack", plain: []string{"unknown", "fail"}, with: []string{"pass"}, attack: "4"},
		{name: "forged_handler", plain: []string{"fail"}, attack: "4"},
		{name: "forged_halting", plain: []string{"fail"}, attack: "4"},
	}
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		for _, opt := range []string{"-O0", "-O2"} {
			for _, c := range cases {
				t.Run(cc+"/"+opt+"/"+c.name, func(t *testing.T) {
					dir := t.TempDir()
					src, _ := filepath.Abs(filepath.Join("testdata", "verdict", c.name+".c"))
					build := func(name string, env []string) string {
						exe := filepath.Join(dir, name)
						if o, err := immunixCC(t, bin, cc, env, opt, src, "-o", exe); err != nil {
							t.Fatalf("%s: %v\n%s", name, err, o)
						}
						return exe
					}
					plain := build("plain", []string{"IMMUNIX_DISABLE=bounds"})
					builds := []struct {
						exe  string
						want []string
					}{{plain, c.plain}}
					with := ""
					if c.with != nil {
						with = build("with", boundsEnv)
						builds = append(builds, builds[0])
						builds[1].exe, builds[1].want = with, c.with
					}
					for _, b := range builds {
						st, val := boundsVerdict(t, bin, b.exe)
						if !contains(b.want, st) {
							t.Errorf("%s: bounds %s %q, want one of %v", filepath.Base(b.exe), st, val, b.want)
						}
						if b.exe == plain && st == "pass" {
							t.Errorf("plain build (no BoundsGuard) passes bounds: %q", val)
						}
					}
					if c.name == "heap_rbp" && cc == "gcc" && opt == "-O2" {
						// The shape must really be there: the buffer
						// indexed through %rbp.
						out, err := exec.Command("objdump", "-d", "--no-show-raw-insn", "--disassemble=read_all", plain).Output()
						if err != nil {
							t.Fatal(err)
						}
						if !strings.Contains(string(out), "(%rbp,%r") {
							t.Errorf("gcc -O2 no longer indexes the buffer through %%rbp; the test lost its shape:\n%s", out)
						}
					}
					if c.attack == "" {
						return
					}
					// The attack first: the plain build's guard is
					// overwritten (exit 1).
					landed := func(exe string) (bool, string) {
						out, err := exec.Command(exe, c.attack).CombinedOutput()
						return err != nil && strings.Contains(string(out), "guard=") && !strings.Contains(string(out), "guard=5a5a") && !strings.Contains(string(out), "guard=G"), string(out)
					}
					if ok, out := landed(plain); !ok {
						t.Errorf("the attack did not land in the plain build:\n%s", out)
					}
					if with == "" {
						return
					}
					// With BoundsGuard the program is halted before the
					// write (the alert itself: TestCorpus).
					out, err := exec.Command(with, c.attack).CombinedOutput()
					if err == nil || strings.Contains(string(out), "guard=") {
						t.Errorf("BoundsGuard build ran through the attack: %v\n%s", err, out)
					}
				})
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestCheckBoundsMixed: a program linked from a unit built with
// BoundsGuard and one built without it holds checks, but the attack in the
// plain unit lands: check must not pass it. It reads partial (unknown)
// and names the plain unit's function; the same program with both units
// built with BoundsGuard passes, and halts the attack. With gcc, the same
// holds for the user's own -fsanitize=bounds (libubsan) on one unit.
func TestCheckBoundsMixed(t *testing.T) {
	bin := testenv.Binaries(t)
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	plainEnv := []string{"IMMUNIX_DISABLE=bounds"}
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		for _, opt := range []string{"-O0", "-O2"} {
			t.Run(cc+"/"+opt, func(t *testing.T) {
				dir := t.TempDir()
				src := func(name string) string {
					p, _ := filepath.Abs(filepath.Join("testdata", "verdict", name))
					return p
				}
				compile := func(env []string, in, out string) string {
					obj := filepath.Join(dir, out)
					if o, err := immunixCC(t, bin, cc, env, opt, "-c", src(in), "-o", obj); err != nil {
						t.Fatalf("%s: %v\n%s", out, err, o)
					}
					return obj
				}
				link := func(name string, objs ...string) string {
					exe := filepath.Join(dir, name)
					if o, err := immunixCC(t, bin, cc, boundsEnv, append(objs, "-o", exe)...); err != nil {
						t.Fatalf("%s: %v\n%s", name, err, o)
					}
					return exe
				}
				mainObj := compile(boundsEnv, "mixed_main.c", "main.o")
				mixed := link("mixed", mainObj, compile(plainEnv, "mixed_plain.c", "plain.o"))
				whole := link("whole", mainObj, compile(boundsEnv, "mixed_plain.c", "checked.o"))

				st, val := boundsVerdict(t, bin, mixed)
				if st != "unknown" || !strings.HasPrefix(val, "partial:") {
					t.Errorf("mixed: bounds %s %q, want unknown (partial)", st, val)
				}
				if st, val := boundsVerdict(t, bin, whole); st != "pass" {
					t.Errorf("whole: bounds %s %q, want pass", st, val)
				}
				// The attack lands in the mixed program (its guard is
				// overwritten: exit 1) and is halted in the whole one.
				out, err := exec.Command(mixed, "4").CombinedOutput()
				if err == nil || !strings.Contains(string(out), "guard=41414141") {
					t.Errorf("the attack did not land in the mixed program: %v\n%s", err, out)
				}
				out, err = exec.Command(whole, "4").CombinedOutput()
				if err == nil || strings.Contains(string(out), "guard=") {
					t.Errorf("the whole program ran through the attack: %v\n%s", err, out)
				}
				if cc != "gcc" {
					return // clang links its ubsan runtime statically
				}
				// The same with the user's own -fsanitize=bounds
				// (libubsan) on the main unit only: not a pass either.
				user := append(append([]string{}, plainEnv...), "IMMUNIX_FLAGS=-fsanitize=bounds")
				userMain := compile(user, "mixed_main.c", "user-main.o")
				ubsan := filepath.Join(dir, "ubsan-mixed")
				if o, err := immunixCC(t, bin, cc, user, userMain, compile(plainEnv, "mixed_plain.c", "plain2.o"), "-o", ubsan); err != nil {
					t.Fatalf("ubsan-mixed: %v\n%s", err, o)
				}
				if st, val := boundsVerdict(t, bin, ubsan); st != "unknown" || !strings.HasPrefix(val, "partial:") || !strings.Contains(val, "libubsan") {
					t.Errorf("ubsan-mixed: bounds %s %q, want unknown (partial) through libubsan", st, val)
				}
			})
		}
	}
}
