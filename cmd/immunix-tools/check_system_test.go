package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/immunix/immunix/check/sysfacts"
	"github.com/immunix/immunix/internal/cli"
)

// TestCheckSystem: immunix check --system reports the running kernel's
// settings, each with the value the kernel gives under /proc/sys.
func TestCheckSystem(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		return registry.Main(env, append([]string{"check"}, args...)), out.String(), errb.String()
	}
	code, out, errs := run("--system", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep sysfacts.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Facts) != len(sysfacts.Names()) {
		t.Fatalf("%d facts, want %d: %s", len(rep.Facts), len(sysfacts.Names()), out)
	}
	for _, f := range rep.Facts {
		data, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(f.Name, ".", "/"))
		if err != nil {
			if f.Status != sysfacts.StatusAbsent {
				t.Errorf("%s: %v, but reported %s", f.Name, err, f.Status)
			}
			continue
		}
		if want := strings.TrimSpace(string(data)); f.Value != want {
			t.Errorf("%s = %q, the kernel says %q", f.Name, f.Value, want)
		}
	}
	code, out, _ = run("--system")
	if code != 0 || !strings.Contains(out, "fs.protected_symlinks = ") || !strings.Contains(out, "  means:  ") {
		t.Errorf("text: exit %d\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--system", "/bin/true"}, "--system checks the kernel, not files"},
		{[]string{"--system", "--policy", "immunix"}, "--system takes only --format and --output, not --policy"},
		{[]string{"--system", "-f", "sarif"}, "--system writes text or json"},
	} {
		code, _, errs := run(c.args...)
		if code != 2 || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", c.args, code, errs, c.want)
		}
	}
}
