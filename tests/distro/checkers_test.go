package distro

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestSymbolsFiles: a .deb with a symbols control file counts, one without
// does not.
func TestSymbolsFiles(t *testing.T) {
	testenv.NeedsTool(t, "dpkg-deb")
	dir := t.TempDir()
	var debs []string
	for _, withSymbols := range []bool{true, false} {
		name := "libx1"
		if !withSymbols {
			name = "x-tools"
		}
		root := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
			t.Fatal(err)
		}
		control := "Package: " + name + "\nVersion: 1\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: t\n"
		if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
			t.Fatal(err)
		}
		if withSymbols {
			if err := os.WriteFile(filepath.Join(root, "DEBIAN", "symbols"), []byte("libx.so.1 libx1 #MINVER#\n x_init@Base 1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		deb := filepath.Join(dir, name+".deb")
		if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
		}
		debs = append(debs, deb)
	}
	if n := SymbolsFiles(debs); n != 1 {
		t.Errorf("SymbolsFiles = %d, want 1", n)
	}
	if n := SymbolsFiles(debs[1:]); n != 0 {
		t.Errorf("SymbolsFiles without one = %d, want 0", n)
	}
}

// TestDisagreement: the rule the rebuild holds the checkers to.
func TestDisagreement(t *testing.T) {
	for _, tc := range []struct {
		name  string
		v     CanaryView
		agree bool
	}{
		{"pass, both yes", CanaryView{Immunix: "pass", Checksec: "yes", Hardening: "yes", Exec: true}, true},
		{"pass, hardening-check blind", CanaryView{Immunix: "pass", Checksec: "yes", Hardening: "no", Exec: true}, false},
		{"pass, checksec blind", CanaryView{Immunix: "pass", Checksec: "no", Hardening: "yes"}, false},
		{"pass but exports __stack_chk_fail", CanaryView{Immunix: "pass", Checksec: "yes", Hardening: "yes", Exec: true, DefinesChkFail: true}, false},
		{"n/a, both no", CanaryView{Immunix: "n/a", Checksec: "no", Hardening: "no", Exec: true}, true},
		{"n/a, checksec yes", CanaryView{Immunix: "n/a", Checksec: "yes", Hardening: "no", Exec: true}, false},
		{"fail: nothing asserted", CanaryView{Immunix: "fail", Checksec: "yes", Hardening: "no"}, true},
		{"unknown: nothing asserted", CanaryView{Immunix: "unknown", Checksec: "no", Hardening: "yes"}, true},
	} {
		if d := Disagreement(tc.v); (d == "") != tc.agree {
			t.Errorf("%s: Disagreement = %q, want agreement %v", tc.name, d, tc.agree)
		}
	}
}
