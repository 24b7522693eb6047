// Package image builds the Dockerfile for real (podman, base image made by
// mmdebstrap: no registry is reachable) and uses it: a Debian source package
// rebuilt inside through the masquerade directory, its own tests run, and
// immunix check --policy immunix on the .debs it made; then the same in the
// image's zeroproc target, where plain gcc builds in the zero-process mode.
package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immunix/immunix/internal/testenv"
)

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return buf.String(), err
}

func TestImage(t *testing.T) {
	if os.Getenv("IMMUNIX_IMAGE") != "1" {
		t.Skip("builds the container image: runs with IMMUNIX_IMAGE=1 (make test-image)")
	}
	testenv.NeedsRoot(t)
	for _, tool := range []string{"podman", "buildah", "mmdebstrap"} {
		testenv.NeedsTool(t, tool)
	}
	root := testenv.ModuleRoot(t)
	tag := fmt.Sprintf("localhost/immunix-rebuild-test-%d", os.Getpid())
	zptag := tag + "-zeroproc"
	// The zeroproc image first: it shares its parent layers with the other.
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", zptag, tag).Run() })

	out, err := run(t, "bash", filepath.Join(root, "scripts", "build-image.sh"), "--tag", tag, "--zeroproc-tag", zptag)
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(out, 80))
	}
	m := regexp.MustCompile(`image (\S+): ([0-9]+) bytes \(([0-9]+) MiB\), built in ([0-9]+)s`).FindAllStringSubmatch(out, -1)
	if len(m) != 2 || m[0][1] != tag || m[1][1] != zptag {
		t.Fatalf("build-image.sh did not state the size and time of %s and %s:\n%s", tag, zptag, tail(out, 20))
	}
	for _, im := range m {
		t.Logf("image %s: %s MiB, built in %ss", im[1], im[3], im[4])
	}

	inImage := container(t, tag)

	// No Go in the final image, no CA bundle from the host in it.
	if o, err := inImage("", "command -v go; ls -d /usr/local/go /usr/lib/go /usr/lib/go-[0-9]* /gomod /run/secrets/ca 2>/dev/null; true"); err != nil || strings.TrimSpace(o) != "" {
		t.Errorf("the image holds Go or the build secret: %q %v", o, err)
	}
	if o, err := run(t, "podman", "history", "--no-trunc", "--format", "{{.CreatedBy}}", tag); err != nil || strings.Contains(o, "COPY") && strings.Contains(o, "ca-certificates.crt") {
		t.Errorf("image history copies a CA bundle or fails: %v\n%s", err, o)
	}
	// Masquerade for every process: gcc is the farm's.
	if o, err := inImage("", "command -v gcc; readlink -f $(command -v gcc)"); err != nil || o != "/usr/lib/immunix/bin/gcc\n/usr/bin/immunix-cc\n" {
		t.Errorf("in the image gcc is %q (%v), want /usr/lib/immunix/bin/gcc -> /usr/bin/immunix-cc", o, err)
	}

	// Rebuild hello inside, with its test suite, and gate its .debs.
	src := testenv.DebianSource(t, "hello")
	work := filepath.Dir(src)
	script := buildHello(src) + `ls *.deb
immunix check --policy immunix --progress never --color never $(ls *.deb | grep -v -- -dbgsym)
`
	o, err := inImage(work, script)
	if err != nil {
		t.Fatalf("rebuild of hello in the image: %v\n%s", err, tail(o, 80))
	}
	requireHelloTests(t, o, "the image")
	if !strings.Contains(o, "0 failed, 0 unreadable") {
		t.Errorf("immunix check --policy immunix on hello's .debs:\n%s", tail(o, 20))
	}
	t.Logf("%s", tail(o, 8))

	testZeroProcImage(t, zptag)
}

// container starts a buildah working container of image and returns a
// function running a bash script in it, with vol (when not "") mounted at
// /src: chroot isolation, since crun cannot create containers on this
// machine's hybrid cgroups (see scripts/build-image.sh).
func container(t *testing.T, image string) func(vol, script string) (string, error) {
	t.Helper()
	ctr, err := run(t, "buildah", "from", "--pull-never", "--quiet", image)
	if err != nil {
		t.Fatalf("%v\n%s", err, ctr)
	}
	ctr = strings.TrimSpace(ctr)
	t.Cleanup(func() { exec.Command("buildah", "rm", ctr).Run() })
	return func(vol string, script string) (string, error) {
		args := []string{"run", "--isolation", "chroot", "--network", "host"}
		if vol != "" {
			args = append(args, "-v", vol+":/src")
		}
		return run(t, "buildah", append(args, ctr, "--", "bash", "-c", script)...)
	}
}

// testZeroProcImage: in the zeroproc target, gcc is Debian's own and reads
// the mode as its default specs, no masquerade directory is in PATH, and
// hello rebuilt with dpkg-buildpackage (its tests run) gives a program that
// passes immunix check --policy immunix with the stamp saying specs.
func testZeroProcImage(t *testing.T, image string) {
	start := time.Now()
	inImage := container(t, image)
	o, err := inImage("", `echo "PATH=$PATH"; command -v gcc; gcc -v -E -x c /dev/null 2>&1 | grep -i specs`)
	libgccSpecs := "Reading specs from /usr/lib/gcc/x86_64-linux-gnu/12/specs"
	if err != nil || strings.Contains(o, "/usr/lib/immunix/bin:") || !strings.Contains(o, "\n/usr/bin/gcc\n") || !strings.Contains(o, libgccSpecs) {
		t.Errorf("zeroproc image: want Debian's PATH, /usr/bin/gcc reading %q; got (%v)\n%s", libgccSpecs, err, o)
	}

	src := testenv.DebianSource(t, "hello")
	work := filepath.Dir(src)
	script := buildHello(src) + `debs=$(ls *.deb | grep -v -- -dbgsym)
echo "check-exit=$(immunix check --policy immunix --progress never --color never $debs >check.txt; echo $?)"
cat check.txt
immunix check --policy immunix --format json $debs > check.json || true
`
	o, err = inImage(work, script)
	if err != nil {
		t.Fatalf("rebuild of hello in the zeroproc image: %v\n%s", err, tail(o, 80))
	}
	requireHelloTests(t, o, "the zeroproc image")
	data, err := os.ReadFile(filepath.Join(work, "check.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Files []struct {
			Results []struct {
				Property, Status string
				Lists            map[string][]string
			}
		}
	}
	if err := json.Unmarshal(data, &rep); err != nil || len(rep.Files) == 0 {
		t.Fatalf("immunix check --format json: %v\n%s", err, data)
	}
	if !strings.Contains(o, "check-exit=0") {
		t.Errorf("hello built in the zeroproc image: immunix check --policy immunix %s, want exit 0\n%s", regexp.MustCompile(`check-exit=\d+`).FindString(o), tail(o, 12))
	}
	for i, f := range rep.Files {
		var mode []string
		for _, r := range f.Results {
			if r.Property == "stamp" {
				mode = r.Lists["mode"]
			}
		}
		if !slices.Equal(mode, []string{"specs"}) {
			t.Errorf("hello built in the zeroproc image: file %d's stamp mode is %v, want [specs]\n%s", i, mode, tail(o, 12))
		}
	}
	t.Logf("zeroproc image, hello rebuilt and checked in %s:\n%s", time.Since(start).Round(time.Second), tail(o, 5))
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// buildHello is the start of a script that builds GNU hello's Debian
// source src (mounted at /src) with its test suite, leaving the .debs in
// /src, its working directory.
func buildHello(src string) string {
	return `set -e
apt-get update -qq
apt-get install -y -qq --no-install-recommends help2man texinfo >/dev/null
cd /src/` + filepath.Base(src) + `
dpkg-buildpackage -b -uc -us
cd /src
`
}

// requireHelloTests requires that hello's own tests ran and passed in
// the output o of buildHello's script (the automake harness's summary).
func requireHelloTests(t *testing.T, o, where string) {
	t.Helper()
	if !regexp.MustCompile(`(?m)^# PASS: +[1-9]`).MatchString(o) || !regexp.MustCompile(`(?m)^# FAIL: +0`).MatchString(o) {
		t.Errorf("hello's test suite did not run and pass in %s:\n%s", where, tail(o, 60))
	}
}
