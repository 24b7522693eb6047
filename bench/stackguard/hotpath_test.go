package stackguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

// TestHotPathUnchanged backs the call-heavy benchmark with a fact that
// noise cannot blur: the canary-carrying function compiles to the same
// instructions with and without the runtime (only addresses, and the
// __stack_chk_fail call going direct to the runtime's wrapper,
// __wrap___stack_chk_fail or its alias __stack_chk_fail_local, instead
// of through the PLT, differ).
func TestHotPathUnchanged(t *testing.T) {
	testenv.NeedsTool(t, "objdump")
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	for _, cc := range testenv.Compilers() {
		t.Run(cc, func(t *testing.T) {
			testenv.NeedsTool(t, cc)
			dir := t.TempDir()
			src := filepath.Join(dir, "calls.c")
			if err := os.WriteFile(src, []byte(callSrc), 0o644); err != nil {
				t.Fatal(err)
			}
			dis := func(name string, runtime bool) []string {
				exe := filepath.Join(dir, name)
				args := []string{"-O2", "-fstack-protector-strong", src, "-o", exe}
				if runtime {
					la, err := guardlib.LinkArgs(guardlib.Target{Compiler: []string{cc}})
					if err != nil {
						t.Fatal(err)
					}
					args = append(args, la...)
				}
				if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
					t.Fatalf("%s %v: %v\n%s", cc, args, err, out)
				}
				out, err := exec.Command("objdump", "-d", "--no-show-raw-insn", exe).Output()
				if err != nil {
					t.Fatal(err)
				}
				return function(string(out), "f")
			}
			plain, withRT := dis("plain", false), dis("runtime", true)
			if len(plain) == 0 {
				t.Fatal("function f not found in the disassembly")
			}
			if strings.Join(plain, "\n") != strings.Join(withRT, "\n") {
				t.Errorf("hot function differs:\nplain:\n%s\nruntime:\n%s", strings.Join(plain, "\n"), strings.Join(withRT, "\n"))
			}
		})
	}
}

var (
	addrRe = regexp.MustCompile(`\b[0-9a-f]+ <`)
	pltRe  = regexp.MustCompile(`@plt>`)
	wrapRe = regexp.MustCompile(`<__wrap_`)
	// The runtime's __wrap___stack_chk_fail_local is an alias of its
	// __wrap___stack_chk_fail (one address), and objdump may name that
	// address by either symbol (wrapRe has taken the __wrap_ off).
	localRe = regexp.MustCompile(`<__stack_chk_fail_local>`)
)

// function returns the instructions of fn from objdump -d output, with
// addresses, PLT markers and the linker's __wrap_ prefix removed, the
// runtime's alias (__wrap_)__stack_chk_fail_local named __stack_chk_fail, and
// trailing padding dropped.
func function(dis, fn string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(dis, "\n") {
		if strings.HasSuffix(l, "<"+fn+">:") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if strings.TrimSpace(l) == "" {
			break
		}
		parts := strings.SplitN(l, "\t", 2)
		if len(parts) != 2 {
			continue
		}
		ins := strings.Join(strings.Fields(parts[1]), " ")
		if strings.HasPrefix(ins, "nop") || strings.HasPrefix(ins, "cs nop") || strings.HasPrefix(ins, "int3") || strings.HasPrefix(ins, "data16") || strings.HasPrefix(ins, "xchg %ax,%ax") {
			continue
		}
		ins = addrRe.ReplaceAllString(ins, "<")
		ins = pltRe.ReplaceAllString(ins, ">")
		ins = wrapRe.ReplaceAllString(ins, "<")
		ins = localRe.ReplaceAllString(ins, "<__stack_chk_fail>")
		out = append(out, ins)
	}
	return out
}
