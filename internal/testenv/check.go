package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// CheckResult is one property's result in "immunix check --format json".
type CheckResult struct {
	Status string
	Value  string
	Lists  map[string][]string
}

// CheckedFile is one file of "immunix check --format json": its path as
// check prints it (a .deb's members as DEB:PATH), the properties it
// failed, and each property's result.
type CheckedFile struct {
	Path    string
	Failed  []string
	Results map[string]CheckResult
}

// CheckJSON runs "immunix check --format json ARGS..." with the given
// immunix and environment (nil: the test's) and returns its exit code (0
// pass, 1 refused) and the files it judged.
func CheckJSON(immunix string, env []string, args ...string) (int, []CheckedFile, error) {
	cmd := exec.Command(immunix, append([]string{"check", "--format", "json", "--progress", "never"}, args...)...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		return 0, nil, fmt.Errorf("run immunix check: %w", err)
	}
	var rep struct {
		Files []struct {
			Path    string
			Failed  []string
			Results []struct {
				Property string
				CheckResult
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return code, nil, fmt.Errorf("immunix check (exit %d) wrote no JSON report: %w\n%s%s", code, err, out.String(), errb.String())
	}
	files := make([]CheckedFile, len(rep.Files))
	for i, f := range rep.Files {
		files[i] = CheckedFile{Path: f.Path, Failed: f.Failed, Results: map[string]CheckResult{}}
		for _, r := range f.Results {
			files[i].Results[r.Property] = r.CheckResult
		}
	}
	return code, files, nil
}

// CheckImmunix runs "immunix check --policy immunix" (the immunix Binaries
// builds) on one file and returns the exit code and each property's
// result.
func CheckImmunix(t testing.TB, path string) (int, map[string]CheckResult) {
	t.Helper()
	code, f := CheckImmunixFile(t, path)
	return code, f.Results
}

// CheckImmunixFile is CheckImmunix with the file's whole report (the
// properties it failed among them).
func CheckImmunixFile(t testing.TB, path string) (int, CheckedFile) {
	t.Helper()
	code, files, err := CheckJSON(filepath.Join(Binaries(t), "immunix"), nil, "--policy", "immunix", path)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("immunix check %s: %d files in the report, want 1", path, len(files))
	}
	return code, files[0]
}
