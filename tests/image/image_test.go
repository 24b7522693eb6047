// Package image builds the Dockerfile for real (podman, base image made by
// mmdebstrap: no registry is reachable) and uses it: a Debian source package
// rebuilt inside through the masquerade directory, its own tests run, and
// immunix check --policy immunix on the .debs it made.
package image

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", tag).Run() })

	out, err := run(t, "bash", filepath.Join(root, "scripts", "build-image.sh"), "--tag", tag)
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(out, 80))
	}
	m := regexp.MustCompile(`image \S+: ([0-9]+) bytes \(([0-9]+) MiB\), built in ([0-9]+)s`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("build-image.sh did not state the size and time:\n%s", tail(out, 20))
	}
	t.Logf("image %s: %s MiB, built in %ss", tag, m[2], m[3])

	// Commands in the image: a buildah working container run with chroot
	// isolation (crun cannot create containers on this machine's hybrid
	// cgroups: see scripts/build-image.sh).
	ctr, err := run(t, "buildah", "from", "--pull-never", "--quiet", tag)
	if err != nil {
		t.Fatalf("%v\n%s", err, ctr)
	}
	ctr = strings.TrimSpace(ctr)
	t.Cleanup(func() { exec.Command("buildah", "rm", ctr).Run() })
	inImage := func(vol string, script string) (string, error) {
		args := []string{"run", "--isolation", "chroot", "--network", "host"}
		if vol != "" {
			args = append(args, "-v", vol+":/src")
		}
		return run(t, "buildah", append(args, ctr, "--", "bash", "-c", script)...)
	}

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
	script := `set -e
apt-get update -qq
apt-get install -y -qq --no-install-recommends help2man texinfo >/dev/null
cd /src/` + filepath.Base(src) + `
dpkg-buildpackage -b -uc -us
cd /src
ls *.deb
immunix check --policy immunix --progress never --color never $(ls *.deb | grep -v -- -dbgsym)
`
	o, err := inImage(work, script)
	if err != nil {
		t.Fatalf("rebuild of hello in the image: %v\n%s", err, tail(o, 80))
	}
	// Its own tests ran and passed (the automake harness's summary).
	if !regexp.MustCompile(`(?m)^# PASS: +[1-9]`).MatchString(o) || !regexp.MustCompile(`(?m)^# FAIL: +0`).MatchString(o) {
		t.Errorf("hello's test suite did not run and pass in the image:\n%s", tail(o, 60))
	}
	if !strings.Contains(o, "0 failed, 0 unreadable") {
		t.Errorf("immunix check --policy immunix on hello's .debs:\n%s", tail(o, 20))
	}
	t.Logf("%s", tail(o, 8))
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
