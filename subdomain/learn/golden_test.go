package learn

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/immunix/immunix/subdomain"
)

var update = flag.Bool("update", false, "rewrite the profile section of testdata/golden/*.txtar")

// TestGolden replays each testdata/golden/*.txtar "trace" and compares
// the profile it makes with the "profile" section. To add a case, write
// a txtar with a comment, a "trace" section (strace -f -y output,
// optionally an "options" section with "inherit") and run
// go test -run TestGolden -update, then review the profile by hand.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var trace, want []byte
			var opts Options
			wantIdx := -1
			for i, f := range ar.Files {
				switch f.Name {
				case "trace":
					trace = f.Data
				case "profile":
					want, wantIdx = f.Data, i
				case "options":
					opts.Inherit = strings.Contains(string(f.Data), "inherit")
				}
			}
			got := profileFromTrace(t, trace, opts)
			if *update {
				if wantIdx < 0 {
					ar.Files = append(ar.Files, txtar.File{Name: "profile"})
					wantIdx = len(ar.Files) - 1
				}
				ar.Files[wantIdx].Data = got
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !bytes.Equal(got, want) {
				t.Errorf("profile differs (go test -run TestGolden -update rewrites it)\ngot:\n%s\nwant:\n%s", got, want)
			}
			// The same trace gives the same bytes: stable output.
			if again := profileFromTrace(t, trace, opts); !bytes.Equal(again, got) {
				t.Errorf("second build differs:\n%s", again)
			}
			// And the output is a valid profile.
			if _, err := subdomain.Parse("golden", got); err != nil {
				t.Errorf("output does not parse: %v", err)
			}
		})
	}
}

func profileFromTrace(t *testing.T, trace []byte, opts Options) []byte {
	t.Helper()
	b := NewBuilder(opts)
	p := &Parser{Emit: b.Add}
	if err := p.Parse(bytes.NewReader(trace)); err != nil {
		t.Fatal(err)
	}
	if p.Warnings > 0 {
		t.Errorf("%d warnings, first: %s", p.Warnings, p.FirstWarning)
	}
	prof, err := b.Profile()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := subdomain.Format(&out, prof); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
