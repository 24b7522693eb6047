package checktest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

type jsonReport struct {
	Files []struct {
		Path, Package, Member, Error string
		Results                      []struct{ Property, Status, Value string }
		Failed                       []string
	}
	Summary struct{ Files, Passed, Failed, Errors, Skipped int }
}

func checkJSON(t *testing.T, args ...string) (jsonReport, int) {
	t.Helper()
	out, errOut, code := run(t, "", append([]string{"check", "-f", "json"}, args...)...)
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	return rep, code
}

// verdicts renders a file's results for comparison.
func verdicts(rep jsonReport, i int) string {
	var b strings.Builder
	for _, r := range rep.Files[i].Results {
		fmt.Fprintf(&b, "%s=%s(%s) ", r.Property, r.Status, r.Value)
	}
	return b.String()
}

// packageInputs are the corpus programs put into the packages, by the name
// they get there.
func packageInputs(t *testing.T) map[string]string {
	return map[string]string{
		"good": corpusFile(t, goodStrong...),
		"bad":  corpusFile(t, noSSP...),
	}
}

// onDisk checks the inputs as plain files, for comparison.
func onDisk(t *testing.T, in map[string]string) map[string]string {
	rep, _ := checkJSON(t, in["good"], in["bad"])
	return map[string]string{"good": verdicts(rep, 0), "bad": verdicts(rep, 1)}
}

func TestDeb(t *testing.T) {
	testenv.NeedsTool(t, "dpkg-deb")
	in := packageInputs(t)
	want := onDisk(t, in)
	for _, comp := range []string{"gzip", "xz", "zstd", "none"} {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755)
		os.MkdirAll(filepath.Join(root, "usr", "bin"), 0o755)
		os.MkdirAll(filepath.Join(root, "usr", "share", "doc", "corpus"), 0o755)
		os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte("Package: corpus\nVersion: 1.0\nArchitecture: amd64\nMaintainer: immunix tests <tests@example.invalid>\nDescription: immunix check test package\n"), 0o644)
		for name, src := range in {
			data, _ := os.ReadFile(src)
			os.WriteFile(filepath.Join(root, "usr", "bin", name), data, 0o755)
		}
		os.WriteFile(filepath.Join(root, "usr", "share", "doc", "corpus", "README"), []byte("not ELF\n"), 0o644)
		os.Symlink("good", filepath.Join(root, "usr", "bin", "good-link"))
		deb := filepath.Join(t.TempDir(), "corpus_1.0_amd64.deb")
		out, err := exec.Command("dpkg-deb", "-Z"+comp, "--root-owner-group", "--build", root, deb).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb -Z%s: %v\n%s", comp, err, out)
		}
		checkPackage(t, "deb/"+comp, deb, want)
	}
}

func TestRPM(t *testing.T) {
	testenv.NeedsTool(t, "rpmbuild")
	in := packageInputs(t)
	want := onDisk(t, in)
	for comp, payload := range map[string]string{"gzip": "w9.gzdio", "xz": "w6.xzdio", "zstd": "w19.zstdio"} {
		top := t.TempDir()
		src := filepath.Join(top, "SOURCES")
		os.MkdirAll(src, 0o755)
		for name, p := range in {
			data, _ := os.ReadFile(p)
			os.WriteFile(filepath.Join(src, name), data, 0o755)
		}
		spec := filepath.Join(top, "corpus.spec")
		os.WriteFile(spec, []byte(`Name: corpus
Version: 1.0
Release: 1
Summary: immunix check test package
License: MIT
BuildArch: x86_64
%global debug_package %{nil}
%global __os_install_post %{nil}
%global __strip /bin/true
%description
Corpus programs for immunix check.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/doc/corpus
install -m 755 %{_sourcedir}/good %{_sourcedir}/bad %{buildroot}/usr/bin/
ln %{buildroot}/usr/bin/good %{buildroot}/usr/bin/good-hardlink
echo not ELF > %{buildroot}/usr/share/doc/corpus/README
%files
/usr/bin/good
/usr/bin/good-hardlink
/usr/bin/bad
/usr/share/doc/corpus/README
`), 0o644)
		out, err := exec.Command("rpmbuild", "-bb", "--define", "_topdir "+top, "--define", "_binary_payload "+payload,
			"--define", "_build_id_links none", "--nodeps", spec).CombinedOutput()
		if err != nil {
			t.Fatalf("rpmbuild (%s): %v\n%s", comp, err, out)
		}
		rpms, _ := filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
		if len(rpms) != 1 {
			t.Fatalf("rpmbuild made %v", rpms)
		}
		// The hard link holds the data once (newc puts it on the last link),
		// so "good" appears once, under one of its names.
		checkPackage(t, "rpm/"+comp, rpms[0], want)
	}
}

// checkPackage checks pkg under strace, and asserts that the verdicts of
// its members equal those of the same files on disk and that nothing was
// written to disk (no open for writing, no mkdir, no rename).
func checkPackage(t *testing.T, label, pkg string, want map[string]string) {
	t.Helper()
	rep, code := checkJSON(t, pkg)
	if code != 1 {
		t.Errorf("%s: exit %d, want 1 (bad fails)", label, code)
	}
	got := map[string]string{}
	for i, f := range rep.Files {
		if f.Error != "" {
			t.Errorf("%s: %s: %s", label, f.Path, f.Error)
			continue
		}
		if f.Package != pkg || !strings.HasPrefix(f.Path, pkg+"!") {
			t.Errorf("%s: member %q not named after its package", label, f.Path)
		}
		name := filepath.Base(f.Member)
		if name == "good-hardlink" {
			name = "good"
		}
		got[name] = verdicts(rep, i)
	}
	if len(got) != 2 || got["good"] != want["good"] || got["bad"] != want["bad"] {
		t.Errorf("%s: member verdicts differ from the files on disk:\ngot  %v\nwant %v", label, got, want)
	}
	if rep.Summary.Skipped < 1 {
		t.Errorf("%s: the README was not skipped: %+v", label, rep.Summary)
	}
	if _, err := exec.LookPath("strace"); err != nil {
		return
	}
	trace := filepath.Join(t.TempDir(), "trace")
	bin := filepath.Join(testenv.Binaries(t), "immunix")
	cmd := exec.Command("strace", "-f", "-qq", "-o", trace, "-e", "trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat", bin, "check", "-q", pkg)
	cmd.Run()
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatalf("%s: strace: %v", label, err)
	}
	writes := regexp.MustCompile(`O_WRONLY|O_RDWR|O_CREAT|creat\(|mkdir|rename|unlink`)
	for _, line := range strings.Split(string(data), "\n") {
		if writes.MatchString(line) && !strings.Contains(line, "/dev/") {
			t.Errorf("%s: immunix check wrote to disk: %s", label, line)
		}
	}
}
