package cryptomark

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/cryptomark"
	"github.com/immunix/immunix/internal/testenv"
)

// TestImmunixCCSigns: IMMUNIX_SIGN_KEY makes immunix-cc sign what it
// links (programs and shared libraries, with gcc and clang, through the
// FormatGuard retry path too); objects are not signed; a bad key is exit
// 107 with one line. The signed program runs under require-signed.
func TestImmunixCCSigns(t *testing.T) {
	mnt := mountTmpfs(t)
	k := newKeys(t)
	ring, err := cryptomark.LoadKeyring(k.Dir)
	if err != nil {
		t.Fatal(err)
	}
	bin := testenv.Binaries(t)
	src := filepath.Join(mnt, "hello.c")
	os.WriteFile(src, []byte("#include <stdio.h>\nint main(int c, char **v) { printf(\"%s\\n\", v[0]); return 0; }\n"), 0o644)
	lib := filepath.Join(mnt, "lib.c")
	os.WriteFile(lib, []byte("int f(int x) { return x + 1; }\n"), 0o644)
	cc := func(t *testing.T, env []string, args ...string) (int, string) {
		cmd := exec.Command(filepath.Join(bin, "immunix-cc"), args...)
		cmd.Dir = mnt
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	var progs []string
	for _, compiler := range testenv.Compilers() {
		t.Run(compiler, func(t *testing.T) {
			testenv.NeedsTool(t, compiler)
			env := []string{"IMMUNIX_CC=" + compiler, "IMMUNIX_SIGN_KEY=" + k.Key}
			prog := filepath.Join(mnt, "hello-"+compiler)
			if code, out := cc(t, env, "-O2", "-o", prog, src); code != 0 {
				t.Fatalf("immunix-cc: exit %d: %s", code, out)
			}
			if v := cryptomark.VerifyFile(prog, ring); !v.OK() {
				t.Errorf("linked program: %+v", v)
			}
			so := filepath.Join(mnt, "lib-"+compiler+".so")
			if code, out := cc(t, env, "-shared", "-fPIC", "-o", so, lib); code != 0 {
				t.Fatalf("immunix-cc -shared: exit %d: %s", code, out)
			}
			if v := cryptomark.VerifyFile(so, ring); !v.OK() {
				t.Errorf("shared library: %+v", v)
			}
			obj := filepath.Join(mnt, "lib-"+compiler+".o")
			if code, out := cc(t, env, "-c", "-o", obj, lib); code != 0 {
				t.Fatalf("immunix-cc -c: exit %d: %s", code, out)
			}
			if v := cryptomark.VerifyFile(obj, ring); v.Signed {
				t.Errorf("an object was signed: %+v", v)
			}
			code, out := cc(t, []string{"IMMUNIX_CC=" + compiler, "IMMUNIX_SIGN_KEY=" + filepath.Join(mnt, "nokey")}, "-o", prog+"-nokey", src)
			if code != 107 || !strings.HasPrefix(out, "immunix-cc: IMMUNIX_SIGN_KEY: ") || strings.Count(out, "\n") != 1 {
				t.Errorf("missing key: exit %d, %q; want 107 and one line", code, out)
			}
			progs = append(progs, prog)
		})
	}
	if len(progs) == 0 {
		return
	}
	startMarkd(t, "--mark", mnt, "--policy", writePolicy(t, "/ require-signed\n"), "--keys", k.Dir)
	for _, p := range progs {
		if err := run(p); err != nil {
			t.Errorf("%s signed by immunix-cc, under the gate: %v", p, err)
		}
	}
}
