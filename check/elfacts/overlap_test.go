package elfacts

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immunix/immunix/internal/testenv"
)

// overlapLib assembles a shared library of n small functions whose
// symbols each claim to run to the end of .text: the symbol table of the
// quadratic-time attack (issue 14, item 11).
func overlapLib(t *testing.T, n int) string {
	t.Helper()
	testenv.NeedsTool(t, "gcc")
	var b strings.Builder
	b.WriteString("\t.text\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\t.globl f%d\n\t.type f%d,@function\nf%d:\n\tsub $0x28,%%rsp\n\tlea 0x10(%%rsp),%%rdi\n\tmov %%rdi,%%rax\n\tadd $0x28,%%rsp\n\tret\n\t.size f%d, .Lend-f%d\n", i, i, i, i, i)
	}
	b.WriteString(".Lend:\n\t.section .note.GNU-stack,\"\",@progbits\n")
	dir := t.TempDir()
	src := filepath.Join(dir, "o.s")
	os.WriteFile(src, []byte(b.String()), 0o644)
	lib := filepath.Join(dir, "libo.so")
	if out, err := exec.Command("gcc", "-shared", "-nostdlib", "-o", lib, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return lib
}

func readFile(t *testing.T, path string, opt Options) *Facts {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	fa, err := Read(f, st.Size(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return fa
}

// TestOverlappingSymbolsLinear: 4,000 symbols that all cover the rest of
// the text cost one decode of each byte, not one per symbol (before the
// fix: about 2,000 times the code size, tens of seconds). The work is
// counted, not timed.
func TestOverlappingSymbolsLinear(t *testing.T) {
	const n = 4000
	fa := readFile(t, overlapLib(t, n), Options{Functions: true})
	c := fa.Canary
	if !c.Analyzed || len(c.Funcs) < n {
		t.Fatalf("analysed %v, %d functions (%s)", c.Analyzed, len(c.Funcs), c.Why)
	}
	if c.Missing != n {
		t.Errorf("%d functions missing a canary, want %d", c.Missing, n)
	}
	if c.Decoded > 4*c.CodeBytes+1<<16 {
		t.Errorf("decoded %d bytes for %d bytes of code: not linear", c.Decoded, c.CodeBytes)
	}
}

// TestBudget: when the per-file budget runs out the analysis says so and
// claims nothing.
func TestBudget(t *testing.T) {
	fa := readFile(t, overlapLib(t, 600), Options{Functions: true, Budget: time.Nanosecond})
	if fa.Canary.Analyzed || !strings.Contains(fa.Canary.Why, "budget") || fa.Calls.Analyzed {
		t.Errorf("canary %+v, calls %+v: want not analysed, budget named", fa.Canary.Why, fa.Calls.Why)
	}
}
