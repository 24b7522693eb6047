package cryptomark

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestLibraries: a signed program that loads an unsigned library from
// the marked filesystem (DT_NEEDED, LD_PRELOAD) runs it under the plain
// gate, which sees only execs: the attack works. With --libraries the
// open of the unsigned library is denied (ld.so reports "Operation not
// permitted") and alerted with op=open; signed, it loads.
func TestLibraries(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	mnt := mountTmpfs(t)
	k := newKeys(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	gcc := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	lib := filepath.Join(mnt, "libevil.so")
	gcc("-shared", "-fPIC", "-o", lib, write("evil.c", "#include <stdio.h>\nvoid evil(void) { puts(\"evil ran\"); }\n"))
	prog := filepath.Join(mnt, "prog")
	gcc("-o", prog, write("prog.c", "void evil(void);\nint main(void) { evil(); return 0; }\n"), lib, "-Wl,-rpath,"+mnt)
	preload := filepath.Join(mnt, "preload.so")
	gcc("-shared", "-fPIC", "-o", preload, write("pre.c", "#include <stdio.h>\n__attribute__((constructor)) static void pwn(void) { puts(\"PWNED\"); }\n"))
	k.sign(t, prog)
	data := filepath.Join(mnt, "notes.txt")
	os.WriteFile(data, []byte("plain data\n"), 0o644)

	runOut := func(env []string, p string, args ...string) (string, error) {
		cmd := exec.Command(p, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	sink := testenv.NewSyslog(t)
	pol := writePolicy(t, mnt+" require-signed\n")
	d := startMarkd(t, "--mark", mnt, "--policy", pol, "--keys", k.Dir, "--syslog-socket", sink.Path)
	if out, err := runOut(nil, prog); err != nil || out != "evil ran\n" {
		t.Fatalf("exec-only gate: the unsigned library should load (the attack): %v %q", err, out)
	}
	if out, _ := runOut([]string{"LD_PRELOAD=" + preload}, "/bin/true"); !strings.Contains(out, "PWNED") {
		t.Fatalf("exec-only gate: LD_PRELOAD should run (the attack): %q", out)
	}
	d.kill()

	startMarkd(t, "--libraries", "--mark", mnt, "--policy", pol, "--keys", k.Dir, "--syslog-socket", sink.Path)
	out, err := runOut(nil, prog)
	if err == nil || !strings.Contains(out, "libevil.so: cannot open shared object file: Operation not permitted") {
		t.Errorf("--libraries: program with an unsigned library: %v %q", err, out)
	}
	waitAlert(t, sink, "kind=cryptomark", "exe="+lib, "op=open", "msg=denied: not signed")
	if out, _ := runOut([]string{"LD_PRELOAD=" + preload}, "/bin/true"); strings.Contains(out, "PWNED") {
		t.Errorf("--libraries: an unsigned LD_PRELOAD library ran: %q", out)
	}
	if out, err := runOut(nil, "/bin/cat", data); err != nil || out != "plain data\n" {
		t.Errorf("--libraries: reading a data file: %v %q", err, out)
	}
	// The unsigned library cannot even be opened to sign it in place:
	// sign a copy elsewhere, then replace it (unlink opens nothing).
	if err := os.Remove(lib); err != nil {
		t.Fatal(err)
	}
	signedLib := filepath.Join(dir, "libevil.so")
	gcc("-shared", "-fPIC", "-o", signedLib, filepath.Join(dir, "evil.c"))
	k.sign(t, signedLib)
	libData, _ := os.ReadFile(signedLib)
	if err := os.WriteFile(lib, libData, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := runOut(nil, prog); err != nil || out != "evil ran\n" {
		t.Errorf("--libraries: program with a signed library: %v %q", err, out)
	}
}
