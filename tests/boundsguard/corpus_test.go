package boundsguard

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/internal/testenv"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite the corpus table in docs/boundsguard.md")

// shape is one program of testdata/shapes: benign writes in bounds, attack
// goes past. bounds says BoundsGuard must stop it with every compiler and
// optimisation level, and index is the index the alert must name.
type shape struct {
	name           string
	benign, attack int
	bounds         bool
	index          string
	what           string
}

var shapes = []shape{
	{"loop_past", 8, 9, true, "8", "loop one element past a declared array into the next local"},
	{"index_len", 16, 17, true, "16", "index equal to the array's length, from input"},
	{"copy_off_by_one", 16, 17, true, "16", "off-by-one copy loop (terminator one past)"},
	{"struct_member", 4, 5, true, "4", "struct member overrun into the next member"},
	{"alloca_bytes", 4, 8, false, "", "alloca sized in bytes, filled with ints"},
	{"vla", 4, 9, true, "8", "VLA written past its end"},
	{"wide_loop", 8, 9, true, "8", "wchar_t array, loop one past"},
	{"wide_copy", 8, 9, false, "", "wchar_t array, wcscpy of a too-long string"},
	{"multidim", 4, 5, true, "4", "int m[4][4], m[3][4]"},
	{"param_array", 10, 11, false, "", "the same through a function taking int a[10]"},
}

var opts = []string{"-O0", "-O2", "-O3"}

// build is one way of compiling a shape.
type build struct {
	name string
	env  []string // nil: the real compiler, no immunix
}

var builds = []build{
	{"plain", nil},
	// What immunix gave before BoundsGuard: the default level, without it.
	{"immunix", []string{"IMMUNIX_DISABLE=bounds"}},
	// BoundsGuard alone on top of that (whatever level it is in).
	{"boundsguard", []string{"IMMUNIX_LEVEL=max", "IMMUNIX_DISABLE=autoinit,cxxassert,zeroregs,objsize"}},
}

// outcome is what one run did.
type outcome struct {
	stdout string        // the harness's one line
	alerts []alert.Alert // from the test's syslog socket
	guard  string        // "intact" or "overwritten"
	halted bool          // the shape's child died of a signal
}

func (o outcome) caughtBy() string {
	if len(o.alerts) == 0 {
		if o.halted {
			return "crashed"
		}
		return "missed"
	}
	switch o.alerts[0].Kind {
	case "stackguard":
		return "canary"
	case "fortify":
		return "FORTIFY"
	case "bounds":
		return "BoundsGuard"
	}
	return o.alerts[0].Kind
}

func run(t *testing.T, sink *testenv.Syslog, exe string, n int) outcome {
	t.Helper()
	cmd := exec.Command(exe, fmt.Sprint(n))
	cmd.Env = append(os.Environ(), "IMMUNIX_SYSLOG_SOCKET="+sink.Path)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("run %s %d: %v\nstdout: %s\nstderr: %s", exe, n, err, so.String(), se.String())
	}
	o := outcome{stdout: strings.TrimSpace(so.String())}
	for _, l := range sink.Take() {
		_, body, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("syslog record %q", l)
		}
		a, err := alert.ParseBody(body)
		if err != nil {
			t.Fatalf("parse %q: %v", l, err)
		}
		o.alerts = append(o.alerts, a)
	}
	o.halted = strings.HasPrefix(o.stdout, "signal=")
	switch {
	case strings.HasSuffix(o.stdout, "guard=intact"):
		o.guard = "intact"
	case strings.HasSuffix(o.stdout, "guard=overwritten"):
		o.guard = "overwritten"
	default:
		t.Fatalf("%s %d: unexpected output %q (stderr %s)", exe, n, o.stdout, se.String())
	}
	return o
}

func compile(t *testing.T, bin, cc string, b build, src, exe, opt string) {
	t.Helper()
	var cmd *exec.Cmd
	if b.env == nil {
		cmd = exec.Command(cc, opt, "-o", exe, src)
	} else {
		cmd = exec.Command(filepath.Join(bin, "immunix-cc"), opt, "-o", exe, src)
		cmd.Env = append(append(os.Environ(), "IMMUNIX_CC="+cc), b.env...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

// TestCorpus compiles every shape with gcc and clang at -O0, -O2 and -O3,
// plain, with immunix before BoundsGuard and with BoundsGuard, runs the
// benign and the attacking input, and checks: the benign output is the
// plain build's; the attack runs to completion in the plain build (it
// works without protection); with BoundsGuard the shapes it covers halt
// with one kind=bounds alert naming the array type and the index, before
// the write lands (the guard after the array is intact). The outcomes
// form the table of docs/boundsguard.md, which must match.
func TestCorpus(t *testing.T) {
	bin := testenv.Binaries(t)
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
	}
	srcDir, err := filepath.Abs("testdata/shapes")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	var mu sync.Mutex
	table := map[string]string{}
	for _, s := range shapes {
		s := s
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			sink := testenv.NewSyslog(t)
			dir := t.TempDir()
			for _, cc := range testenv.Compilers() {
				for _, opt := range opts {
					var row []string
					var plainBenign string
					for _, b := range builds {
						exe := filepath.Join(dir, fmt.Sprintf("%s-%s%s-%s", s.name, cc, opt, b.name))
						compile(t, bin, cc, b, filepath.Join(srcDir, s.name+".c"), exe, opt)
						ok := run(t, sink, exe, s.benign)
						if len(ok.alerts) != 0 || ok.halted || ok.guard != "intact" {
							t.Errorf("%s %s %s benign: %q alerts %v", cc, opt, b.name, ok.stdout, ok.alerts)
						}
						if b.env == nil {
							plainBenign = ok.stdout
						} else if ok.stdout != plainBenign {
							t.Errorf("%s %s %s benign output %q, plain build %q", cc, opt, b.name, ok.stdout, plainBenign)
						}
						bad := run(t, sink, exe, s.attack)
						if len(bad.alerts) > 1 {
							t.Errorf("%s %s %s attack: %d alerts", cc, opt, b.name, len(bad.alerts))
						}
						switch {
						case b.env == nil:
							// The attack works without protection: no
							// runtime, nothing stops it.
							if bad.halted || len(bad.alerts) != 0 {
								t.Errorf("%s %s plain attack did not run through: %q", cc, opt, bad.stdout)
							}
							row = append(row, "guard "+bad.guard)
						case b.name == "boundsguard" && s.bounds:
							checkBoundsAlert(t, s, cc, opt, exe, bad)
							row = append(row, bad.caughtBy()+", guard "+bad.guard)
						default:
							row = append(row, bad.caughtBy()+", guard "+bad.guard)
						}
					}
					mu.Lock()
					table[s.name+"|"+cc+"|"+opt] = strings.Join(row, " | ")
					mu.Unlock()
				}
			}
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		checkDoc(t, table)
	})
}

func checkBoundsAlert(t *testing.T, s shape, cc, opt, exe string, o outcome) {
	t.Helper()
	if !o.halted || len(o.alerts) != 1 || o.alerts[0].Kind != "bounds" {
		t.Errorf("%s %s %s: want a halt with one kind=bounds alert, got %q alerts %v", s.name, cc, opt, o.stdout, o.alerts)
		return
	}
	a := o.alerts[0]
	if o.guard != "intact" {
		t.Errorf("%s %s %s: the write landed before the halt (guard overwritten)", s.name, cc, opt)
	}
	real, _ := filepath.EvalSymlinks(exe)
	if a.Exe != real {
		t.Errorf("%s %s %s: exe=%q, want %q", s.name, cc, opt, a.Exe, real)
	}
	if v, _ := a.Get("index"); v != s.index {
		t.Errorf("%s %s %s: index=%q, want %s (%s)", s.name, cc, opt, v, s.index, a.Body())
	}
	for _, k := range []string{"addr", "off", "type", "src"} {
		if _, ok := a.Get(k); !ok {
			t.Errorf("%s %s %s: alert without %s: %s", s.name, cc, opt, k, a.Body())
		}
	}
	if a.Msg != "array index out of bounds" {
		t.Errorf("%s %s %s: msg=%q", s.name, cc, opt, a.Msg)
	}
}

const (
	docPath    = "../../docs/boundsguard.md"
	beginTable = "<!-- corpus table: generated by tests/boundsguard (go test -run TestCorpus -update-doc) -->"
	endTable   = "<!-- end of corpus table -->"
)

func renderTable(table map[string]string) string {
	var b strings.Builder
	b.WriteString("| shape | compiler | opt | plain build, attack | immunix without BoundsGuard | with BoundsGuard |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, s := range shapes {
		for _, cc := range testenv.Compilers() {
			for _, opt := range opts {
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.name, cc, opt, table[s.name+"|"+cc+"|"+opt])
			}
		}
	}
	b.WriteString("\nShapes:\n\n")
	for _, s := range shapes {
		fmt.Fprintf(&b, "- `%s`: %s (benign N=%d, attack N=%d)\n", s.name, s.what, s.benign, s.attack)
	}
	return b.String()
}

func checkDoc(t *testing.T, table map[string]string) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, beginTable), strings.Index(doc, endTable)
	if i < 0 || j < i {
		t.Fatal(errors.New("docs/boundsguard.md has no corpus table markers"))
	}
	want := doc[:i+len(beginTable)] + "\n" + renderTable(table) + doc[j:]
	if want == doc {
		return
	}
	if *updateDoc {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the corpus table in docs/boundsguard.md is out of date; run go test ./tests/boundsguard -run TestCorpus -update-doc")
}
