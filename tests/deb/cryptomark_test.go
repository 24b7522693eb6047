package deb

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A Debian source package that asks for the installed immunix-sign addon
// the way a package would: "dh $@ --with immunix-sign", nothing on
// PERL5LIB or PATH but the system's.
const (
	signControl = `Source: cmsigned
Section: misc
Priority: optional
Maintainer: immunix tests <tests@immunix.invalid>
Build-Depends: debhelper-compat (= 13)
Standards-Version: 4.6.2

Package: cmsigned
Architecture: any
Depends: ${shlibs:Depends}, ${misc:Depends}
Description: CryptoMark addon test package
 One program, stripped by dh_strip, then signed.
`
	signChangelog = `cmsigned (1.0) unstable; urgency=medium

  * Test package.

 -- immunix tests <tests@immunix.invalid>  Wed, 02 Dec 2026 00:00:00 +0000
`
	signRules = "#!/usr/bin/make -f\n%:\n\tdh $@ --with immunix-sign\n" +
		"override_dh_auto_install:\n\tinstall -D -m 0755 hello $(CURDIR)/debian/cmsigned/usr/bin/cmsigned\n"
	signMakefile = "all: hello\nhello: hello.c\n\t$(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) -g -o hello hello.c\n"
	signHello    = "#include <stdio.h>\nint main(void) { puts(\"signed\"); return 0; }\n"
)

// checkCryptoMarkInstalled: the .deb ships the CryptoMark gate's unit
// installed but neither enabled nor started (with no trusted key, an
// enforcing gate would refuse programs), the doc the unit names, the
// policy as a conffile, and the debhelper addon, which signs a package
// built with it.
func checkCryptoMarkInstalled(t *testing.T, work string, env []string) {
	t.Helper()
	unit := "/lib/systemd/system/immunix-markd.service"
	for _, p := range []string{
		unit, "/usr/bin/dh_immunix_sign", "/usr/share/perl5/Debian/Debhelper/Sequence/immunix_sign.pm",
		"/usr/share/man/man1/dh_immunix_sign.1.gz", "/etc/immunix/cryptomark.conf", "/etc/immunix/keys",
		// By this exact name: the unit's Documentation= (not gzipped).
		"/usr/share/doc/immunix/cryptomark.md",
	} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("CryptoMark layout: %v", err)
		}
	}
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "Documentation=file:///usr/share/doc/immunix/cryptomark.md") {
		t.Errorf("the installed unit does not name the shipped doc:\n%s", data)
	}
	conff := run(t, "", nil, "dpkg-query", "-W", "-f", "${Conffiles}\n", "immunix")
	if !strings.Contains(conff, "/etc/immunix/cryptomark.conf ") {
		t.Errorf("/etc/immunix/cryptomark.conf is not a conffile: %q", conff)
	}
	// Not enabled: no symlink in any .wants of /etc/systemd/system.
	if links, _ := filepath.Glob("/etc/systemd/system/*/immunix-markd.service"); len(links) > 0 {
		t.Errorf("the install enabled the gate: %v", links)
	}
	// Not started: no markd process.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if cmd, err := os.ReadFile(p); err == nil && strings.Contains(string(cmd), "markd\x00--foreground") {
			t.Errorf("the install started the gate: %s %q", p, cmd)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		if out, err := exec.Command("systemd-analyze", "verify", unit).CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
	}

	// The addon, as installed, signs what dh_strip left.
	keys := filepath.Join(work, "cmkeys")
	if err := os.MkdirAll(filepath.Join(keys, "trusted"), 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(keys, "signer")
	run(t, "", env, "immunix", "keygen", key)
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys, "trusted", "signer.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(work, "cmsigned-1.0")
	if err := os.MkdirAll(filepath.Join(src, "debian", "source"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"debian/control": signControl, "debian/changelog": signChangelog, "debian/rules": signRules,
		"debian/source/format": "3.0 (native)\n", "Makefile": signMakefile, "hello.c": signHello,
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := run(t, src, append(env, "IMMUNIX_SIGN_KEY="+key), "dpkg-buildpackage", "-us", "-uc", "-b", "-d")
	if !strings.Contains(out, "dh_strip -a\n   dh_immunix_sign") {
		t.Errorf("the installed addon did not run dh_immunix_sign right after dh_strip:\n%s", out)
	}
	debs, _ := filepath.Glob(filepath.Join(work, "cmsigned_1.0_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("dpkg-buildpackage wrote %v", debs)
	}
	x := filepath.Join(work, "cmsigned-x")
	run(t, "", nil, "dpkg-deb", "-x", debs[0], x)
	run(t, "", env, "immunix", "sign", "--verify", "--keys", filepath.Join(keys, "trusted"), filepath.Join(x, "usr", "bin", "cmsigned"))

	// A package that asked to be signed is not built unsigned when the
	// key is missing.
	cmd := exec.Command("dpkg-buildpackage", "-us", "-uc", "-b", "-d")
	cmd.Dir = src
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "IMMUNIX_SIGN_KEY is not set") {
		t.Errorf("build with the addon and no key: %v, want a failure naming IMMUNIX_SIGN_KEY\n%s", err, b)
	}
}
