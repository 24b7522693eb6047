package checktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestImmunixBuilds builds the corpus program through immunix-cc (with gcc
// and with clang as the real compiler) and checks what the stamp and the
// code say: everything on by default; the user's -fno-stack-protector and
// the policy's IMMUNIX_DISABLE recorded and refused by --policy immunix.
func TestImmunixBuilds(t *testing.T) {
	bin := testenv.Binaries(t)
	cc := filepath.Join(bin, "immunix-cc")
	dir := t.TempDir()
	src := filepath.Join(dir, "main.c")
	if err := os.WriteFile(src, []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	type build struct {
		name  string
		env   []string
		flags []string
		strip bool
		want  map[string]string // property -> "status" or "status:substring of value"
	}
	builds := []build{
		{name: "default", want: map[string]string{
			"stamp": "pass", "canary": "pass", "fortify": "pass", "formatguard": "pass", "relro": "pass:full", "now": "pass", "pie": "pass", "noexecstack": "pass",
		}},
		{name: "default-stripped", strip: true, want: map[string]string{
			// The runtime's deliberately unprotected functions cannot be
			// told from the program's once the names are gone, nor can
			// calls to its own __*printf_chk entry points be named.
			"stamp": "pass", "canary": "unknown", "fortify": "pass", "formatguard": "unknown",
		}},
		{name: "user-nossp", flags: []string{"-fno-stack-protector"}, want: map[string]string{
			"stamp": "fail:user-off=canary", "canary": "fail",
		}},
		{name: "policy-off", env: []string{"IMMUNIX_DISABLE=fortify"}, want: map[string]string{
			"stamp": "fail:off=fortify", "canary": "pass",
		}},
	}
	for _, real := range testenv.Compilers() {
		testenv.NeedsTool(t, real)
		var paths []string
		for _, b := range builds {
			out := filepath.Join(dir, real+"-"+b.name)
			args := append(append([]string{"-O2"}, b.flags...), "-o", out, src)
			cmd := exec.Command(cc, args...)
			cmd.Env = append(append(os.Environ(), "IMMUNIX_CC="+real), b.env...)
			if o, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("immunix-cc %s (%s): %v\n%s", strings.Join(args, " "), real, err, o)
			}
			if b.strip {
				if o, err := exec.Command("strip", out).CombinedOutput(); err != nil {
					t.Fatalf("strip: %v\n%s", err, o)
				}
			}
			paths = append(paths, out)
		}
		rep, code := checkJSON(t, append([]string{"--policy", "immunix"}, paths...)...)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1 (the user-off and policy-off builds fail)", real, code)
		}
		for i, b := range builds {
			f := rep.Files[i]
			if f.Error != "" {
				t.Errorf("%s %s: %s", real, b.name, f.Error)
				continue
			}
			for _, r := range f.Results {
				w, ok := b.want[r.Property]
				if !ok {
					continue
				}
				status, sub, _ := strings.Cut(w, ":")
				if r.Status != status || !strings.Contains(r.Value, sub) {
					t.Errorf("%s %s: %s = %s %q, want %s (value containing %q)", real, b.name, r.Property, r.Status, r.Value, status, sub)
				}
			}
		}
		if len(rep.Files[0].Failed) != 0 {
			t.Errorf("%s default build fails --policy immunix: %v", real, rep.Files[0].Failed)
		}
	}
}
