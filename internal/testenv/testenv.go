// Package testenv lets tests say what they need from the machine. Locally a
// missing tool skips the test with a reason; in CI (CI=true) the environment
// must be complete, so a missing tool fails the test instead of hiding it.
//
// Example:
//
//	func TestWithClang(t *testing.T) {
//		testenv.NeedsTool(t, "clang")
//		...
//	}
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// InCI reports whether the tests run under CI, where nothing may be skipped
// for want of a tool.
func InCI() bool { return os.Getenv("CI") == "true" }

// NeedsTool skips (locally) or fails (in CI) unless name is on PATH.
func NeedsTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" is not installed (scripts/deps.sh installs it)")
	}
	return p
}

// Missing skips locally or fails in CI, with the reason.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI environment is incomplete: %s", reason)
	}
	t.Skip(reason)
}

// NeedsRoot skips (or fails in CI) unless the test runs as root.
func NeedsRoot(t testing.TB) {
	t.Helper()
	if os.Getuid() != 0 {
		Missing(t, "needs root")
	}
}

// Compilers returns the C compilers every integration test runs against.
func Compilers() []string { return []string{"gcc", "clang"} }

// CXXCompilers returns the C++ compilers every integration test runs against.
func CXXCompilers() []string { return []string{"g++", "clang++"} }

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Binaries builds immunix-cc, immunix-c++ (a copy, as installed), immunix
// and immunix-tools (which immunix execs for check and learn, found next
// to it) once per test process into a temporary directory and returns it. The
// directory is left for the OS to clean: it is shared by every test.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "immunix-bin-")
		if err != nil {
			buildErr = err
			return
		}
		root := ModuleRoot(t)
		cmd := exec.Command("go", "build", "-o", dir, "./cmd/immunix-cc", "./cmd/immunix", "./cmd/immunix-tools")
		cmd.Dir = root
		// As installed (scripts/install.sh): static, without cgo.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{out: string(out), err: err}
			return
		}
		if err := os.Link(filepath.Join(dir, "immunix-cc"), filepath.Join(dir, "immunix-c++")); err != nil {
			buildErr = err
			return
		}
		if buildErr = BuildSupervisorStub(root, dir); buildErr != nil {
			return
		}
		buildDir = dir
	})
	if buildErr != nil {
		t.Fatalf("build immunix binaries: %v", buildErr)
	}
	return buildDir
}

// BuildSupervisorStub compiles the supervisor's stand-in into
// dir/immunix-supervise as scripts/install-image.sh does.
func BuildSupervisorStub(root, dir string) error {
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "build-supervise.sh"), filepath.Join(dir, "immunix-supervise"))
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return &buildError{out: string(out), err: err}
	}
	return nil
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
