package ccwrap

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/version"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// Compiler flavours every golden case runs under. "old" is a compiler
// without stack-clash, CET and FORTIFY 3 (gcc 7 era).
var flavours = []struct {
	name string
	caps Caps
}{
	{"gcc", Caps{Kind: "gcc", Version: "12.2.0", X86: true, Canary: true, StackClash: true, CET: true, Fortify3: true, DefaultPIE: true}},
	{"clang", Caps{Kind: "clang", Version: "14.0.6", X86: true, Canary: true, StackClash: true, CET: true, Fortify3: true}},
}

var otherCaps = map[string]Caps{
	"old":     {Kind: "gcc", Version: "7.5.0", X86: true, Canary: true},
	"aarch64": {Kind: "gcc", Version: "12.2.0", Canary: true, StackClash: true, Fortify3: true, DefaultPIE: true},
}

// TestGolden runs each testdata/golden/*.txtar case: the "args" section (one
// argument a line) through Parse, Decide and Rewrite, with fake assets, and
// compares the result with the "want" section (or "want gcc" and "want
// clang" when the flavours differ). See testdata/README.md.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sections := map[string]string{}
			files := map[string][]byte{}
			for _, f := range ar.Files {
				if name, ok := strings.CutPrefix(f.Name, "file:"); ok {
					files[name] = f.Data
					continue
				}
				sections[f.Name] = string(f.Data)
			}
			args := lines(sections["args"])
			env := map[string]string{}
			for _, kv := range lines(sections["env"]) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			readFile := func(name string) ([]byte, error) {
				if d, ok := files[name]; ok {
					return d, nil
				}
				return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
			}
			fl := flavours
			if c := strings.TrimSpace(sections["caps"]); c != "" {
				caps, ok := otherCaps[c]
				if !ok {
					t.Fatalf("unknown caps %q", c)
				}
				fl = fl[:0:0]
				fl = append(fl, struct {
					name string
					caps Caps
				}{c, caps})
			}
			got := map[string]string{}
			for _, f := range fl {
				// The release version is a placeholder, so that a version
				// bump does not rewrite every golden file.
				got[f.name] = strings.ReplaceAll(runGolden(args, env, readFile, f.caps), version.Version, "{{version}}")
			}
			var want []txtar.File
			if len(fl) == 1 || got["gcc"] == got["clang"] {
				want = []txtar.File{{Name: "want", Data: []byte(got[fl[0].name])}}
			} else {
				for _, f := range fl {
					want = append(want, txtar.File{Name: "want " + f.name, Data: []byte(got[f.name])})
				}
			}
			if *update {
				var keep []txtar.File
				for _, f := range ar.Files {
					if !strings.HasPrefix(f.Name, "want") {
						keep = append(keep, f)
					}
				}
				ar.Files = append(keep, want...)
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, w := range want {
				if sections[w.Name] != string(w.Data) {
					t.Errorf("%s: section %q differs (run go test -run TestGolden -update and review the diff)\n--- got\n%s--- want\n%s", file, w.Name, w.Data, sections[w.Name])
				}
			}
			for name := range sections {
				found := false
				for _, w := range want {
					found = found || w.Name == name
				}
				if strings.HasPrefix(name, "want") && !found {
					t.Errorf("%s: stale section %q (run -update)", file, name)
				}
			}
		})
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func runGolden(args []string, env map[string]string, readFile func(string) ([]byte, error), caps Caps) string {
	var b bytes.Buffer
	pol, err := LoadPolicy("/nonexistent/immunix.conf", readFile, func(k string) string { return env[k] })
	if err != nil {
		return fmt.Sprintf("policy error: %v\n", err)
	}
	parseArgs := append(append([]string{}, pol.Flags...), args...)
	inv, err := Parse(parseArgs, readFile)
	if err != nil {
		return fmt.Sprintf("parse error: %v\n", err)
	}
	p := Decide(inv, pol, caps)
	fmt.Fprintf(&b, "mode: %s", inv.Mode)
	if inv.Mode == ModeLink {
		fmt.Fprintf(&b, " (%s)", inv.Link)
	}
	b.WriteString("\n")
	if inv.Reason != NoReason {
		fmt.Fprintf(&b, "pass: %s %s\n", inv.Reason, inv.Detail)
	}
	for _, in := range inv.Inputs {
		fmt.Fprintf(&b, "input: %q %s\n", in.Name, in.Lang)
	}
	if len(inv.ABIFlags) > 0 {
		fmt.Fprintf(&b, "abi: %s\n", strings.Join(inv.ABIFlags, " "))
	}
	show := func(step string, r *Record) {
		fmt.Fprintf(&b, "%s: on=%s off=%s user-off=%s fortify=%d\n", step, joinP(r.On), joinP(r.Off), userOffList(r), r.Fortify)
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
	}
	if p.Compile {
		show("compile", &p.CompileRec)
	}
	if p.Link {
		show("link", &p.LinkRec)
	}
	if p.Unstamped != "" {
		fmt.Fprintf(&b, "unstamped: %s\n", p.Unstamped)
	}
	var a Assets
	if p.FormatGuard {
		a.FormatGuardArgs = []string{"-isystem", "$FORMATGUARD"}
	}
	if p.Runtime {
		a.RuntimeArgs = []string{"-Wl,-u,__immunix_guard_init", "$RUNTIME/libimmunix-guard.a"}
	}
	if p.StampC || p.StampAsm {
		a.StampHeader = "$STAMP/immunix-stamp.h"
	}
	if p.LinkNote {
		a.LinkNote = "$NOTE_O"
	}
	b.WriteString("argv:\n")
	for _, x := range Rewrite(&p, []string{"$CC"}, pol.Flags, args, a) {
		fmt.Fprintf(&b, "  %s\n", x)
	}
	return b.String()
}
