package deb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

// needDeb gates the test: it installs and purges packages on this machine,
// so it runs with IMMUNIX_DEB=1 (make test-deb, and CI through .ci/run).
func needDeb(t *testing.T) {
	t.Helper()
	if os.Getenv("IMMUNIX_DEB") != "1" {
		t.Skip("installs Debian packages on this machine: runs with IMMUNIX_DEB=1 (make test-deb)")
	}
	testenv.NeedsRoot(t)
	for _, tool := range []string{"dpkg-buildpackage", "apt-get", "dpkg-deb", "lintian", "rpmbuild", "gcc", "clang"} {
		testenv.NeedsTool(t, tool)
	}
	for _, p := range []string{"/usr/bin/immunix", "/usr/bin/immunix-cc", "/usr/lib/immunix", "/etc/immunix", "/etc/profile.d/immunix.sh"} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists before the install: remove it (apt-get purge immunix immunix-masquerade) so that the test can compare the system before and after", p)
		}
	}
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, buf.String())
	}
	return buf.String()
}

// cleanEnv is the environment without what changes compilers or immunix.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "IMMUNIX_") || strings.HasPrefix(k, "DEB_") || k == "CC" || k == "CXX" || k == "CFLAGS" || k == "LDFLAGS" || k == "MAKEFLAGS" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

const prog = `#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
	char buf[32];
	strncpy(buf, argv[0], sizeof buf - 1);
	buf[sizeof buf - 1] = 0;
	printf("%zu %d\n", strlen(buf), argc);
	return 0;
}
`

const spec = `Name: greeter
Version: 1.0
Release: 1
Summary: one C program built with a hard-coded cc
License: none
%description
Built by rpmbuild with only the macros in /usr/lib/rpm/macros.d.
%build
cc -O2 -o greeter %{_sourcedir}/greeter.c
%install
install -D -m 0755 greeter %{buildroot}/usr/bin/greeter
%files
/usr/bin/greeter
`

// TestDebLifecycle: the README's install (scripts/install.sh) builds
// immunix_*.deb and immunix-masquerade_*.deb with dpkg-buildpackage and
// installs them; lintian reports no error; the layout is complete; a login
// shell builds through the masquerade directory with the prebuilt runtime;
// rpmbuild builds through the macros rpm loads by itself; immunix check
// passes both; remove keeps the conffiles, purge takes them; then
// immunix-zeroproc's lifecycle (checkZeroProcLifecycle); and the file list
// of the system is what it was before.
func TestDebLifecycle(t *testing.T) {
	needDeb(t)
	root := testenv.ModuleRoot(t)
	debs := t.TempDir()
	pkgsBefore, err := Packages()
	if err != nil {
		t.Fatal(err)
	}
	before, err := Snapshot(SnapshotRoots...)
	if err != nil {
		t.Fatal(err)
	}
	purged := false
	t.Cleanup(func() {
		if !purged {
			exec.Command("apt-get", "purge", "-y", "-qq", "immunix", "immunix-masquerade").Run()
		}
	})

	run(t, root, cleanEnv(), "bash", "scripts/install.sh", "--debs", debs)

	// lintian: no error.
	main, _ := filepath.Glob(filepath.Join(debs, "immunix_*.deb"))
	masq, _ := filepath.Glob(filepath.Join(debs, "immunix-masquerade_*.deb"))
	zp, _ := filepath.Glob(filepath.Join(debs, "immunix-zeroproc_*.deb"))
	if len(main) != 1 || len(masq) != 1 || len(zp) != 1 {
		t.Fatalf("install.sh --debs kept %v %v %v, want one immunix, one immunix-masquerade and one immunix-zeroproc package", main, masq, zp)
	}
	lint, _ := exec.Command("lintian", "--tag-display-limit", "0", main[0], masq[0], zp[0]).CombinedOutput()
	for _, l := range strings.Split(string(lint), "\n") {
		if strings.HasPrefix(l, "E: ") {
			t.Errorf("lintian: %s", l)
		}
	}
	t.Logf("lintian:\n%s", lint)

	// The layout.
	for _, p := range []string{
		"/usr/bin/immunix", "/usr/bin/immunix-cc", "/usr/bin/immunix-c++", "/usr/lib/immunix/immunix-tools", "/usr/lib/immunix/immunix-supervise",
		"/usr/lib/rpm/macros.d/macros.immunix", "/usr/lib/rpm/macros.d/macros.subdomain",
		"/etc/immunix/immunix.conf", "/etc/subdomain.d", "/etc/profile.d/immunix.sh",
		"/usr/share/man/man1/immunix.1.gz", "/usr/share/man/man1/immunix-cc.1.gz", "/usr/share/man/man1/immunix-c++.1.gz",
		"/usr/lib/immunix/bin/gcc", "/usr/lib/immunix/bin/cc", "/usr/lib/immunix/bin/clang", "/usr/lib/immunix/bin/x86_64-linux-gnu-gcc",
	} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("installed layout: %v", err)
		}
	}
	// immunix run starts the installed stand-in of its supervisor
	// (root-owned, in /usr/lib/immunix), not the Go supervisor at once.
	sd := t.TempDir()
	prof := filepath.Join(sd, "true.sd")
	run(t, sd, nil, "/usr/bin/immunix", "learn", "-o", prof, "--", "/bin/true")
	trace := filepath.Join(sd, "trace")
	sdOut := run(t, sd, nil, "strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o", trace,
		"/usr/bin/immunix", "run", "-v", "--profile", prof, "--", "/bin/true")
	if execs, err := os.ReadFile(trace); err != nil {
		t.Error(err)
	} else if !strings.Contains(sdOut, "no supervisor") && !strings.Contains(string(execs), `execve("/usr/lib/immunix/immunix-supervise"`) {
		t.Errorf("the installed immunix run did not start /usr/lib/immunix/immunix-supervise:\n%s\n%s", sdOut, execs)
	}
	// The docs: dh_compress gzips every file of /usr/share/doc larger than
	// 4 KiB (Debian policy 12.3), so a doc's installed name follows its
	// size; each must be there under one of the two names.
	for _, d := range []string{"README.md", "distro.md", "stackguard.md"} {
		p := filepath.Join("/usr/share/doc/immunix", d)
		_, err1 := os.Stat(p)
		_, err2 := os.Stat(p + ".gz")
		if err1 != nil && err2 != nil {
			t.Errorf("installed docs: neither %s nor %s.gz", p, p)
		}
	}
	conff := run(t, "", nil, "dpkg-query", "-W", "-f", "${Conffiles}\n", "immunix", "immunix-masquerade")
	for _, c := range []string{"/etc/immunix/immunix.conf", "/etc/profile.d/immunix.sh"} {
		if !strings.Contains(conff, c+" ") {
			t.Errorf("%s is not a conffile: %q", c, conff)
		}
	}
	// The prebuilt runtime for gcc and clang and every ABI they link here
	// (gcc-multilib is a build dependency on amd64: -m32 and -mx32).
	probe := t.TempDir()
	if err := os.WriteFile(filepath.Join(probe, "p.c"), []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cc := range []string{"/usr/bin/gcc", "/usr/bin/clang"} {
		for _, abi := range []string{"", "-m32", "-mx32"} {
			args := []string{"-o", filepath.Join(probe, "p"), filepath.Join(probe, "p.c")}
			if abi != "" {
				args = append([]string{abi}, args...)
			}
			if err := exec.Command(cc, args...).Run(); err != nil {
				t.Logf("%s %s links no program here: no prebuilt runtime expected", cc, abi)
				continue
			}
			key := strings.TrimSpace(run(t, "", nil, "/usr/bin/immunix", "guardlib", "--print-key", "--cc", cc, "--abi", abi))
			// Every file the link line names (guardlib.OutputFiles), under
			// every name of the compiler (gcc shares cc's binary).
			if err := guardlib.CheckPrebuilt(filepath.Join("/usr/lib/immunix", key)); err != nil {
				t.Errorf("prebuilt runtime for %s %q: %v", cc, abi, err)
			}
		}
	}

	// A login shell: gcc is the farm's; the program built through it carries
	// immunix's protections and the prebuilt runtime was used (the cache got
	// no runtime).
	work := t.TempDir()
	cache := filepath.Join(work, "cache")
	if err := os.WriteFile(filepath.Join(work, "p.c"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv("IMMUNIX_CACHE_DIR="+cache, "PATH=/usr/bin:/bin")
	if got := strings.TrimSpace(run(t, work, env, "bash", "-lc", "command -v gcc")); got != "/usr/lib/immunix/bin/gcc" {
		t.Errorf("a login shell finds gcc at %q, want /usr/lib/immunix/bin/gcc", got)
	}
	run(t, work, env, "bash", "-lc", "gcc -O2 -o p p.c && gcc -m32 -O2 -o p32 p.c && ./p")
	out := run(t, work, env, "immunix", "check", "--policy", "immunix", "--progress", "never", "--color", "never", "p", "p32")
	t.Logf("immunix check:\n%s", out)
	if rt, _ := filepath.Glob(filepath.Join(cache, "runtime", "*")); len(rt) != 0 {
		t.Errorf("immunix-cc built the runtime into the cache (%v): the prebuilt one in /usr/lib/immunix was not used", rt)
	}

	// rpmbuild with only what rpm loads by itself: the installed macros put
	// immunix-cc behind the spec's hard-coded cc.
	top := filepath.Join(work, "rpm")
	if err := os.MkdirAll(filepath.Join(top, "SOURCES"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "SOURCES", "greeter.c"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "greeter.spec"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, top, env, "rpmbuild", "-bb", "--nodeps", "--define", "_topdir "+top, "greeter.spec")
	rpms, _ := filepath.Glob(filepath.Join(top, "RPMS", "*", "greeter-*.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("rpmbuild wrote %v", rpms)
	}
	run(t, work, env, "immunix", "check", "--policy", "immunix", "--progress", "never", "--color", "never", rpms[0])
	// And the gate on the packages themselves reads them (Go programs: no
	// canary expected, so only that every file is readable).
	if out, err := exec.Command("immunix", "check", "--policy", "basic", "--progress", "never", "--color", "never", main[0]).CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 2 {
			t.Errorf("immunix check %s: %v\n%s", main[0], err, out)
		}
	}

	checkCryptoMarkInstalled(t, work, env)

	// Remove keeps the conffiles; purge takes them.
	run(t, "", nil, "apt-get", "remove", "-y", "-qq", "immunix-masquerade", "immunix")
	for _, c := range []string{"/etc/immunix/immunix.conf", "/etc/profile.d/immunix.sh", "/etc/immunix/cryptomark.conf"} {
		if _, err := os.Stat(c); err != nil {
			t.Errorf("after remove, conffile %s is gone: %v", c, err)
		}
	}
	if _, err := os.Stat("/usr/bin/immunix-cc"); err == nil {
		t.Errorf("after remove, /usr/bin/immunix-cc is still there")
	}
	run(t, "", nil, "apt-get", "purge", "-y", "-qq", "immunix-masquerade", "immunix")
	purged = true

	// The third package, on its own: the zero-process mode as gcc's default.
	checkZeroProcLifecycle(t, debs)

	// Packages apt pulled in for the build or the install go too.
	pkgsAfter, err := Packages()
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for p := range pkgsAfter {
		if _, ok := pkgsBefore[p]; !ok {
			extra = append(extra, p)
		}
	}
	if len(extra) > 0 {
		t.Logf("purging the packages the install pulled in: %v", extra)
		run(t, "", nil, "apt-get", append([]string{"purge", "-y", "-qq"}, extra...)...)
	}

	after, err := Snapshot(SnapshotRoots...)
	if err != nil {
		t.Fatal(err)
	}
	added, removed := Diff(before, after)
	added, removed = OwnedByOthers(added), OwnedByOthers(removed)
	for _, p := range added {
		t.Errorf("left behind: %s (%s)", p, after[p])
	}
	for _, p := range removed {
		t.Errorf("gone or changed: %s (%s)", p, before[p])
	}
}
