package distro

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// RPMBuild runs `rpmbuild -bb --nodeps` on spec in a fresh _topdir (top)
// whose SOURCES already hold the spec's sources, loading the image's macro
// files. It returns rpmbuild's output and the binary packages it wrote.
// --nodeps: Debian's rpm has an empty package database, so BuildRequires
// cannot be checked here.
func RPMBuild(im Image, top, spec string, env []string, defines ...string) (string, []string, error) {
	args := []string{"-bb", "--nodeps", "--define", "_topdir " + top,
		"--load", im.MacroFile("macros.immunix"), "--load", im.MacroFile("macros.subdomain")}
	for _, d := range defines {
		args = append(args, "--define", d)
	}
	args = append(args, spec)
	out, err := Run(top, env, "rpmbuild", args...)
	if err != nil {
		return out, nil, err
	}
	rpms, err := filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
	if err != nil || len(rpms) == 0 {
		return out, nil, fmt.Errorf("rpmbuild -bb %s wrote no package under %s/RPMS", spec, top)
	}
	return out, rpms, nil
}

// ExtractRPM unpacks rpm into dir with rpm2cpio and cpio.
func ExtractRPM(rpm, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet`, "sh", rpm)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("extract %s: %w\n%s", rpm, err, out)
	}
	return nil
}

// RPMQuery runs `rpm -qp QUERYARGS rpm` and returns its output lines.
func RPMQuery(rpm string, query ...string) ([]string, error) {
	args := append(append([]string{"-qp"}, query...), rpm)
	out, err := exec.Command("rpm", args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("rpm %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.Fields(string(out)), nil
}

// TarDir writes dir (its base name as the top directory) as a gzip'd tar
// to file.
func TarDir(dir, file string) error {
	cmd := exec.Command("tar", "-czf", file, "-C", filepath.Dir(dir), filepath.Base(dir))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("tar %s: %w\n%s", dir, err, out)
	}
	return nil
}
