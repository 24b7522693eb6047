// Package policy states the import direction between immunix's packages as
// a test (after Go's src/go/build/deps_test.go). This is a statement of
// policy: do not change the data to fix a build; change the code, or change
// the architecture deliberately and update docs/architecture.md with it.
package policy

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

const module = "github.com/immunix/immunix"

// forbidden maps a package prefix (relative to the module) to the module
// packages it must never import, directly or indirectly.
var forbidden = map[string][]string{
	"check":       {"ccwrap", "subdomain", "cmd"},
	"ccwrap":      {"check", "subdomain", "cmd"},
	"guardlib":    {"ccwrap", "check", "subdomain", "cmd"},
	"canary":      {"ccwrap", "guardlib", "check", "subdomain", "formatguard", "cmd"},
	"formatguard": {"ccwrap", "guardlib", "check", "subdomain", "canary", "cmd"},
	"raceguard":   {"ccwrap", "guardlib", "check", "subdomain", "canary", "formatguard", "cmd"},
	"subdomain":   {"ccwrap", "guardlib", "check", "canary", "formatguard", "cmd"},
	"alert":       {"ccwrap", "guardlib", "check", "subdomain", "canary", "formatguard", "cmd"},
	"internal":    {"ccwrap", "guardlib", "check", "subdomain", "canary", "formatguard", "cmd"},
	// CryptoMark's signatures are read by check and written by ccwrap;
	// the gate may send alerts and nothing else.
	"cryptomark": {"ccwrap", "guardlib", "check", "subdomain", "canary", "formatguard", "cmd"},
}

func TestImportPolicy(t *testing.T) {
	root := testenv.ModuleRoot(t)
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(fields[0], module+"/")
		if strings.HasPrefix(pkg, "tests/") || strings.HasPrefix(pkg, "bench/") {
			continue
		}
		for prefix, bad := range forbidden {
			if pkg != prefix && !strings.HasPrefix(pkg, prefix+"/") {
				continue
			}
			checked++
			for _, dep := range fields[1:] {
				rel, ok := strings.CutPrefix(dep, module+"/")
				if !ok {
					continue
				}
				for _, b := range bad {
					if rel == b || strings.HasPrefix(rel, b+"/") {
						t.Errorf("%s imports %s (directly or not): forbidden by the architecture", pkg, rel)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package was checked: the go list output changed shape")
	}
	// Nothing imports cmd/...
	cmd = exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = root
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		for _, dep := range fields[min(1, len(fields)):] {
			if strings.HasPrefix(dep, module+"/cmd/") {
				t.Errorf("%s imports %s: nothing may import a command", fields[0], dep)
			}
		}
	}
}
