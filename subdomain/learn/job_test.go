package learn

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/immunix/immunix/subdomain"
)

// TestJobReplayAndMerge: two replayed traces and a profile merge into one
// profile; each trace's unreadable lines are reported under its name.
func TestJobReplayAndMerge(t *testing.T) {
	ar, err := txtar.ParseFile("testdata/golden/basic.txtar")
	if err != nil {
		t.Fatal(err)
	}
	var trace []byte
	for _, f := range ar.Files {
		if f.Name == "trace" {
			trace = f.Data
		}
	}
	dir := t.TempDir()
	extra := filepath.Join(dir, "extra.profile")
	prof, _, err := (&Job{Traces: []string{"a"}, OpenTrace: open(trace), Options: Options{GlobMin: 4, GlobMinDepth: 2}}).Run()
	if err != nil {
		t.Fatal(err)
	}
	extraProf := &subdomain.Profile{Program: prof.Program, Version: subdomain.SyntaxVersion,
		Rules: []subdomain.Rule{{Path: "/srv/extra", Mode: subdomain.Read}}}
	var b bytes.Buffer
	if err := subdomain.Format(&b, extraProf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(extra, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	bad := append(append([]byte(nil), trace...), []byte("1 openat(AT_FDCWD, \"unterminated\n")...)
	j := &Job{
		Traces: []string{"a", "b"}, Merge: []string{extra},
		OpenTrace: func(name string) (io.ReadCloser, error) {
			if name == "b" {
				return open(bad)(name)
			}
			return open(trace)(name)
		},
		Options: Options{GlobMin: 4, GlobMinDepth: 2},
		Warn:    func(s string) { warnings = append(warnings, s) },
	}
	got, exit, err := j.Run()
	if err != nil || exit != 0 {
		t.Fatalf("Run: exit %d, %v", exit, err)
	}
	var out bytes.Buffer
	subdomain.Format(&out, got)
	if !strings.Contains(out.String(), "/srv/extra r") {
		t.Errorf("merged profile lacks the merged rule:\n%s", out.String())
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "b: 1 trace lines not understood") {
		t.Errorf("warnings = %q, want one for trace b", warnings)
	}
}

func TestJobErrors(t *testing.T) {
	if _, _, err := (&Job{}).Run(); !errors.Is(err, ErrNothingToLearn) {
		t.Errorf("empty job: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.profile")
	if _, _, err := (&Job{Merge: []string{missing}}).Run(); err == nil || !strings.Contains(err.Error(), "merge: read profile") {
		t.Errorf("missing profile: %v", err)
	}
	if _, _, err := (&Job{Traces: []string{"t"}, OpenTrace: open([]byte("not a trace\n"))}).Run(); err == nil || !strings.Contains(err.Error(), "replay t:") {
		t.Errorf("not a trace: %v", err)
	}
}

func open(data []byte) func(string) (io.ReadCloser, error) {
	return func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}
