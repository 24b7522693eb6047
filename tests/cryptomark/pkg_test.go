package cryptomark

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

const debControl = `Source: cmhello
Section: misc
Priority: optional
Maintainer: immunix tests <tests@immunix.invalid>
Build-Depends: debhelper-compat (= 13)
Standards-Version: 4.6.2

Package: cmhello
Architecture: any
Depends: ${shlibs:Depends}, ${misc:Depends}
Description: CryptoMark test package
 A program and a shared library, stripped by dh_strip.
`

const debChangelog = `cmhello (1.0) unstable; urgency=medium

  * Test package.

 -- immunix tests <tests@immunix.invalid>  Wed, 02 Dec 2026 00:00:00 +0000
`

// debRules: dh with or without the immunix-sign addon.
func debRules(with string) string {
	return "#!/usr/bin/make -f\n%:\n\tdh $@" + with + "\n" +
		"override_dh_auto_install:\n\t$(MAKE) install DESTDIR=$(CURDIR)/debian/cmhello\n" +
		"override_dh_makeshlibs:\n" +
		"override_dh_shlibdeps:\n\tdh_shlibdeps -l$(CURDIR)/debian/cmhello/usr/lib\n"
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

// buildDeb runs dpkg-buildpackage on the test package, with the
// immunix-sign addon (debhelper/) when signed, and returns the .deb.
func buildDeb(t *testing.T, k keys, signed bool) string {
	t.Helper()
	root := testenv.ModuleRoot(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "cmhello-1.0")
	os.MkdirAll(filepath.Join(src, "debian", "source"), 0o755)
	copyDir(t, "testdata/pkg", src)
	with := ""
	if signed {
		with = " --with immunix-sign"
	}
	for name, text := range map[string]string{
		"control": debControl, "changelog": debChangelog, "rules": debRules(with), "source/format": "3.0 (native)\n",
	} {
		os.WriteFile(filepath.Join(src, "debian", name), []byte(text), 0o755)
	}
	// The addon and dh_immunix_sign as installed: the Perl module on
	// PERL5LIB, the command on PATH.
	bin := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(root, "debhelper", "dh_immunix_sign"))
	os.WriteFile(filepath.Join(bin, "dh_immunix_sign"), data, 0o755)
	cmd := exec.Command("dpkg-buildpackage", "-us", "-uc", "-b", "-d")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "PERL5LIB="+filepath.Join(root, "debhelper"), "PATH="+bin+":"+os.Getenv("PATH"),
		"IMMUNIX="+filepath.Join(testenv.Binaries(t), "immunix"), "IMMUNIX_SIGN_KEY="+k.Key)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-buildpackage: %v\n%s", err, out)
	}
	if signed != strings.Contains(string(out), "dh_immunix_sign") {
		t.Fatalf("dh_immunix_sign ran: %v, want %v\n%s", !signed, signed, out)
	}
	// dh_immunix_sign comes right after dh_strip.
	if signed && !strings.Contains(string(out), "dh_strip -a\n   dh_immunix_sign") {
		t.Errorf("dh_immunix_sign does not follow dh_strip:\n%s", out)
	}
	return filepath.Join(dir, "cmhello_1.0_amd64.deb")
}

// buildRPM runs rpmbuild with rpmbuild/macros.cryptomark, with the key
// defined when signed, and returns the .rpm.
func buildRPM(t *testing.T, k keys, signed bool) string {
	t.Helper()
	top := t.TempDir()
	abs, _ := filepath.Abs("testdata/pkg")
	args := []string{"-bb", "--nodeps", "--define", "_topdir " + top, "--define", "pkgsrc " + abs,
		"--load", filepath.Join(testenv.ModuleRoot(t), "rpmbuild", "macros.cryptomark"),
		"--define", "_cryptomark_immunix " + filepath.Join(testenv.Binaries(t), "immunix")}
	if signed {
		args = append(args, "--define", "_cryptomark_key "+k.Key)
	}
	out, err := exec.Command("rpmbuild", append(args, "testdata/hello.spec")...).CombinedOutput()
	if err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	strip := strings.Index(string(out), "brp-strip ")
	sign := strings.Index(string(out), "immunix sign ")
	if strip < 0 || signed != (sign > strip) || (!signed && sign >= 0) {
		t.Errorf("signed=%v: brp-strip at %d, immunix sign at %d in the log:\n%s", signed, strip, sign, out)
	}
	rpms, _ := filepath.Glob(filepath.Join(top, "RPMS", "*", "cmhello-1.0-1.*.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("rpmbuild wrote %v", rpms)
	}
	return rpms[0]
}

// TestPackageHooks: a .deb built with the debhelper addon and an .rpm
// built with the rpm macro install programs and libraries that run under
// require-signed; the same packages built without the hooks are denied.
// The files were built with -g and stripped by the packaging, so a
// signature made before the strip would not verify.
func TestPackageHooks(t *testing.T) {
	for _, tool := range []string{"dpkg-buildpackage", "dh", "rpmbuild", "rpm", "gcc"} {
		testenv.NeedsTool(t, tool)
	}
	mnt := mountTmpfs(t)
	k := newKeys(t)
	type pkg struct {
		name   string
		file   string
		signed bool
	}
	pkgs := []pkg{
		{"deb-signed", buildDeb(t, k, true), true},
		{"deb-plain", buildDeb(t, k, false), false},
		{"rpm-signed", buildRPM(t, k, true), true},
		{"rpm-plain", buildRPM(t, k, false), false},
	}
	for _, p := range pkgs {
		// immunix check reads the package in place.
		code, out := immunix(t, "check", "--policy", "basic", "--require", "signed", "--keys", k.Dir, p.file)
		if (code == 0) != p.signed {
			t.Errorf("immunix check --require signed %s: exit %d\n%s", p.name, code, out)
		}
		// Install into a root on the gated tmpfs.
		root := filepath.Join(mnt, p.name)
		var cmd *exec.Cmd
		if strings.HasPrefix(p.name, "deb") {
			os.MkdirAll(filepath.Join(root, "var/lib/dpkg/info"), 0o755)
			os.MkdirAll(filepath.Join(root, "var/lib/dpkg/updates"), 0o755)
			os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
			cmd = exec.Command("dpkg", "--root="+root, "--force-depends", "--force-script-chrootless", "-i", p.file)
		} else {
			cmd = exec.Command("rpm", "-i", "--root", root, "--nodeps", "--noscripts", p.file)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("install %s: %v\n%s", p.name, err, out)
		}
		f, err := elf.Open(filepath.Join(root, "usr/bin/hello"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Section(".debug_info") != nil {
			t.Errorf("%s: the installed program was not stripped", p.name)
		}
		f.Close()
	}
	startMarkd(t, "--mark", mnt, "--policy", writePolicy(t, mnt+" require-signed\n"), "--keys", k.Dir)
	for _, p := range pkgs {
		root := filepath.Join(mnt, p.name)
		cmd := exec.Command(filepath.Join(root, "usr/bin/hello"), p.name)
		cmd.Env = []string{"LD_LIBRARY_PATH=" + filepath.Join(root, "usr/lib")}
		out, err := cmd.Output()
		switch {
		case p.signed && (err != nil || !bytes.Equal(out, []byte("hello, "+p.name+"\n"))):
			t.Errorf("%s: installed program: %v %q", p.name, err, out)
		case !p.signed && !errors.Is(err, syscall.EPERM):
			t.Errorf("%s: unsigned installed program: %v, want EPERM", p.name, err)
		}
	}
}
