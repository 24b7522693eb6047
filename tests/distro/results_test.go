package distro

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/results/*.txtar")

// parsers maps the names used in testdata to the parsers.
var parsers = map[string]Parser{
	"automake": ParseAutomake,
	"ctest":    ParseCTest,
	"meson":    ParseMeson,
	"ed":       ParseEd,
	"mawk":     ParseMawk,
	"gawk":     ParseGawk,
	"bzip2":    ParseBzip2,
	"zlib":     ParseZlib,
}

// render is the golden form of one parser's answer.
func render(name string, r Results, err error) string {
	if err != nil {
		return fmt.Sprintf("%s: error: %v\n", name, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", name, r)
	for _, e := range r.Evidence {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

// TestParsers runs each case of testdata/results: excerpts of real build
// logs (the -pass cases) and the harnesses' failure output (the -fail
// cases). The comment's "parser:" line names the parser, or "all".
// To add a case, write NAME.txtar with a comment, a log section and an
// empty want section, and run with -update.
func TestParsers(t *testing.T) {
	files, err := filepath.Glob("testdata/results/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases in testdata/results: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var name string
			for _, l := range strings.Split(string(ar.Comment), "\n") {
				if v, ok := strings.CutPrefix(l, "parser: "); ok {
					name = v
				}
			}
			var log, want []byte
			wantIdx := -1
			for i, f := range ar.Files {
				switch f.Name {
				case "log":
					log = f.Data
				case "want":
					want, wantIdx = f.Data, i
				}
			}
			if wantIdx < 0 || log == nil {
				t.Fatalf("%s needs a log and a want section", file)
			}
			names := []string{name}
			if name == "all" {
				names = names[:0]
				for n := range parsers {
					names = append(names, n)
				}
				sort.Strings(names)
			}
			var got strings.Builder
			for _, n := range names {
				p, ok := parsers[n]
				if !ok {
					t.Fatalf("unknown parser %q", n)
				}
				r, err := p(string(log))
				got.WriteString(render(n, r, err))
			}
			if *update {
				ar.Files[wantIdx].Data = []byte(got.String())
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !bytes.Equal(want, []byte(got.String())) {
				t.Errorf("got:\n%s\nwant:\n%s", got.String(), want)
			}
		})
	}
}

// TestParsersNeedASummary: the failure mode that matters most is a build
// whose tests never ran being taken for a pass.
func TestParsersNeedASummary(t *testing.T) {
	for _, log := range []string{"", "make check\nmake: Nothing to be done for 'check'.\n", "PASS: x\nOk\n"} {
		for n, p := range parsers {
			if r, err := p(log); !errors.Is(err, ErrNoSummary) {
				t.Errorf("%s(%q) = %v, %v; want ErrNoSummary", n, log, r, err)
			}
		}
	}
}

// FuzzParsers: no parser panics, counts are never negative, and a result
// without an error always shows the lines it came from.
func FuzzParsers(f *testing.F) {
	files, _ := filepath.Glob("testdata/results/*.txtar")
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, fl := range ar.Files {
			if fl.Name == "log" {
				f.Add(string(fl.Data))
			}
		}
	}
	f.Fuzz(func(t *testing.T, log string) {
		for n, p := range parsers {
			r, err := p(log)
			if err != nil {
				continue
			}
			if r.Passed < 0 || r.Failed < 0 || r.Skipped < 0 {
				t.Fatalf("%s: negative counts %v", n, r)
			}
			if len(r.Evidence) == 0 {
				t.Fatalf("%s: result %v without evidence", n, r)
			}
		}
	})
}
