package distro

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// Image is a tree installed by scripts/install-image.sh under Root: what the
// Dockerfile installs at /, in a directory of its own.
type Image struct {
	Root string
	// Cache is the IMMUNIX_CACHE_DIR every build through this image uses.
	Cache string
}

// Bin is ROOT/usr/bin, which holds immunix, immunix-cc and immunix-c++.
func (im Image) Bin() string { return filepath.Join(im.Root, "usr", "bin") }

// Farm is the masquerade directory, ROOT/usr/lib/immunix/bin.
func (im Image) Farm() string { return filepath.Join(im.Root, "usr", "lib", "immunix", "bin") }

// Immunix is the path of the installed immunix tool.
func (im Image) Immunix() string { return filepath.Join(im.Bin(), "immunix") }

// CC is the path of the installed immunix-cc.
func (im Image) CC() string { return filepath.Join(im.Bin(), "immunix-cc") }

// MacroFile is the installed RPM macros file.
func (im Image) MacroFile(name string) string {
	return filepath.Join(im.Root, "usr", "lib", "rpm", "macros.d", name)
}

// Env returns env with the image's environment: the masquerade farm first in
// PATH, then ROOT/usr/bin (as /etc/profile.d/immunix.sh and the Dockerfile
// do at /), and IMMUNIX_CACHE_DIR.
func (im Image) Env(env []string) []string {
	return Setenv(PrependPath(env, im.Farm(), im.Bin()), "IMMUNIX_CACHE_DIR", im.Cache)
}

// ToolEnv is env with only ROOT/usr/bin added to PATH: immunix-cc is reached
// by name (CC=immunix-cc), no masquerade.
func (im Image) ToolEnv(env []string) []string {
	return Setenv(PrependPath(env, im.Bin()), "IMMUNIX_CACHE_DIR", im.Cache)
}

// Check runs `immunix check --policy POLICY PATHS...` and returns its
// combined output and exit code (0 pass, 1 refused, 2 unreadable).
func (im Image) Check(policy string, paths ...string) (string, int, error) {
	args := append([]string{"check", "--policy", policy, "--progress", "never", "--color", "never"}, paths...)
	cmd := exec.Command(im.Immunix(), args...)
	cmd.Env = im.ToolEnv(CleanEnv())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode(), nil
	}
	if err != nil {
		return string(out), -1, fmt.Errorf("run immunix check: %w", err)
	}
	return string(out), 0, nil
}

// InstallImageAt runs scripts/install-image.sh --root root with the given
// extra arguments and returns the installed image and the script's output.
func InstallImageAt(moduleRoot, root string, extra ...string) (Image, string, error) {
	args := append([]string{filepath.Join(moduleRoot, "scripts", "install-image.sh"), "--root", root}, extra...)
	cmd := exec.Command("bash", args...)
	cmd.Dir = moduleRoot
	cmd.Env = CleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Image{}, string(out), fmt.Errorf("install-image.sh --root %s: %w", root, err)
	}
	cache := filepath.Join(root, "var", "cache", "immunix")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return Image{}, string(out), err
	}
	return Image{Root: root, Cache: cache}, string(out), nil
}

var (
	imageOnce sync.Once
	image     Image
	imageLog  string
	imageErr  error
)

// InstallImage runs scripts/install-image.sh once per test process into a
// temporary root (apt step included: as root it installs what is missing on
// this machine, which the image would have) and returns the image. The
// directory is removed by RemoveImage, which TestMain calls.
func InstallImage(t testing.TB) Image {
	t.Helper()
	testenv.NeedsTool(t, "gcc")
	testenv.NeedsTool(t, "clang")
	imageOnce.Do(func() {
		root, err := os.MkdirTemp("", "immunix-image-")
		if err != nil {
			imageErr = err
			return
		}
		image, imageLog, imageErr = InstallImageAt(testenv.ModuleRoot(t), root)
		if imageErr != nil {
			image.Root = root
		}
	})
	if imageErr != nil {
		t.Fatalf("%v\n%s", imageErr, imageLog)
	}
	return image
}

var (
	zpOnce sync.Once
	zp     testenv.ZeroProc
	zpErr  error
)

// ZeroProcess writes the zero-process mode with the image's immunix
// (toolchain-config) into ROOT/usr/lib/immunix/zero, once per test
// process, and returns it.
func (im Image) ZeroProcess(t testing.TB) testenv.ZeroProc {
	t.Helper()
	zpOnce.Do(func() {
		zp, zpErr = testenv.WriteZeroProcess(im.Immunix(), filepath.Join(im.Root, "usr", "lib", "immunix", "zero"), im.ToolEnv(CleanEnv()))
	})
	if zpErr != nil {
		t.Fatal(zpErr)
	}
	return zp
}

// InstallLog is the output of the InstallImage run.
func InstallLog() string { return imageLog }

// RemoveImage deletes the tree InstallImage made, if any.
func RemoveImage() {
	if image.Root != "" && strings.HasPrefix(filepath.Base(image.Root), "immunix-image-") {
		os.RemoveAll(image.Root)
	}
}

// CleanEnv is the process environment without anything that changes how
// compilers, immunix, ccache, distcc or Debian's build tools behave, so a
// build sees only what the test sets.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "IMMUNIX_"), strings.HasPrefix(k, "CCACHE_"), strings.HasPrefix(k, "DISTCC_"),
			strings.HasPrefix(k, "DEB_"), strings.HasPrefix(k, "DH_"),
			k == "CC", k == "CXX", k == "CPP", k == "CFLAGS", k == "CXXFLAGS", k == "CPPFLAGS", k == "LDFLAGS",
			k == "MAKEFLAGS", k == "MFLAGS", k == "GOFLAGS",
			k == "LIBRARY_PATH", k == "GCC_EXEC_PREFIX", k == "COMPILER_PATH":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Setenv returns env with key set to value (replacing any earlier value).
func Setenv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// Getenv returns key's value in env.
func Getenv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// PrependPath returns env with dirs put first in PATH.
func PrependPath(env []string, dirs ...string) []string {
	p := Getenv(env, "PATH")
	if p == "" {
		p = "/usr/local/bin:/usr/bin:/bin"
	}
	return Setenv(env, "PATH", strings.Join(append(append([]string{}, dirs...), p), string(os.PathListSeparator)))
}

// LookPath finds name in env's PATH (exec.Command would search the test
// process's own PATH, not the one the command is given).
func LookPath(env []string, name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, d := range filepath.SplitList(Getenv(env, "PATH")) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH=%s", name, Getenv(env, "PATH"))
}

// Run runs name (looked up in env's PATH) with args in dir under env and
// returns the combined output, with an error that carries the output when
// the command fails.
func Run(dir string, env []string, name string, args ...string) (string, error) {
	path, err := LookPath(env, name)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(path, args...)
	cmd.Args[0] = name
	cmd.Dir = dir
	cmd.Env = env
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		return buf.String(), fmt.Errorf("%s %s (in %s): %w\n%s", name, strings.Join(args, " "), dir, err, tail(buf.String(), 60))
	}
	return buf.String(), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = append([]string{fmt.Sprintf("[... %d lines ...]", len(ls)-n)}, ls[len(ls)-n:]...)
	}
	return strings.Join(ls, "\n")
}
