package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// ZeroProc is the zero-process mode (docs/immunix-cc.md, "Zero-process
// mode") as the tests install it: the files "immunix toolchain-config"
// wrote into Dir, and what lets a build reach them by the compilers' own
// names without touching a system directory (tests run in parallel).
type ZeroProc struct {
	Dir string // toolchain-config --out
	// Bin holds links named immunix-NAME to each clang driver NAME of
	// MasqueradeNames, and immunix-clang.cfg and immunix-clang++.cfg
	// beside them: started with -no-canonical-prefixes, clang reads the
	// configuration file named after the link.
	Bin string
}

// The routes by which a build reaches the zero-process mode, and the
// stamp's mode each gives.
const (
	// RouteDefaultSpecs: plain gcc (any of its names) reads DIR/gcc/specs
	// as its default specs, found through LIBRARY_PATH (DefaultSpecsEnv)
	// instead of being installed in gcc's own directory.
	RouteDefaultSpecs = "default-specs"
	// RouteConfig: clang --config DIR/immunix-clang.cfg.
	RouteConfig = "config"
	// RoutePrefixed: Bin/immunix-NAME -no-canonical-prefixes, which reads
	// Bin/immunix-clang.cfg (or immunix-clang++.cfg) by itself.
	RoutePrefixed = "prefixed-name"
)

// IsClang reports whether the compiler name is one of clang's drivers.
func IsClang(name string) bool { return strings.Contains(name, "clang") }

// ZeroProcRoutes are the routes to the mode for compiler name: gcc's
// names through the default specs, clang's through --config and through
// a prefixed name.
func ZeroProcRoutes(name string) []string {
	if IsClang(name) {
		return []string{RouteConfig, RoutePrefixed}
	}
	return []string{RouteDefaultSpecs}
}

// RouteMode is the mode the build stamp records for a route (mode=specs
// for gcc, mode=config for clang).
func RouteMode(route string) string {
	if route == RouteDefaultSpecs {
		return "specs"
	}
	return "config"
}

// DefaultSpecsEnv is the environment entry that makes every gcc driver
// (gcc, cc, g++, gcc-12, x86_64-linux-gnu-gcc...) read Dir/gcc/specs as
// its default specs: gcc looks for a file named "specs" in its startfile
// directories, LIBRARY_PATH's last, and its own directory holds none.
func (z ZeroProc) DefaultSpecsEnv() string {
	return "LIBRARY_PATH=" + filepath.Join(z.Dir, "gcc") + string(filepath.Separator)
}

// ClangConfig is the clang configuration file.
func (z ZeroProc) ClangConfig() string { return filepath.Join(z.Dir, "immunix-clang.cfg") }

// Command returns the argv that runs compiler name in the mode by route,
// and the environment entries it needs. It is meant for CC= and CXX=
// (joined with spaces: the paths hold none) as much as for exec.
func (z ZeroProc) Command(route, name string) (argv, env []string) {
	switch route {
	case RouteDefaultSpecs:
		return []string{name}, []string{z.DefaultSpecsEnv()}
	case RouteConfig:
		return []string{name, "--config", z.ClangConfig()}, nil
	case RoutePrefixed:
		return []string{filepath.Join(z.Bin, "immunix-"+name), "-no-canonical-prefixes"}, nil
	}
	panic("testenv: no zero-process route " + route)
}

var (
	zpOnce sync.Once
	zp     ZeroProc
	zpErr  error
)

// ZeroProcess writes the zero-process mode once per test process with the
// immunix that Binaries builds, and returns it. The directory is left for
// the OS to clean, as Binaries' own.
func ZeroProcess(t testing.TB) ZeroProc {
	t.Helper()
	NeedsTool(t, "gcc")
	NeedsTool(t, "clang")
	bin := Binaries(t)
	zpOnce.Do(func() {
		dir, err := os.MkdirTemp("", "immunix-zp-")
		if err != nil {
			zpErr = err
			return
		}
		zp, zpErr = WriteZeroProcess(filepath.Join(bin, "immunix"), dir, os.Environ())
	})
	if zpErr != nil {
		t.Fatal(zpErr)
	}
	return zp
}

// WriteZeroProcess runs "immunix toolchain-config --out dir" with the given
// immunix and environment, then makes dir/bin (ZeroProc.Bin).
func WriteZeroProcess(immunix, dir string, env []string) (ZeroProc, error) {
	cmd := exec.Command(immunix, "toolchain-config", "--out", dir)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return ZeroProc{}, fmt.Errorf("immunix toolchain-config --out %s: %w\n%s", dir, err, out)
	}
	z := ZeroProc{Dir: dir, Bin: filepath.Join(dir, "bin")}
	if err := os.MkdirAll(z.Bin, 0o755); err != nil {
		return ZeroProc{}, err
	}
	// clang 14 takes the version off a prefixed name (immunix-clang-14
	// reads immunix-clang.cfg) but not the ++: the C++ driver's name
	// needs a file of its own, with the same text.
	for _, cfg := range []string{"immunix-clang.cfg", "immunix-clang++.cfg"} {
		if err := os.Symlink(z.ClangConfig(), filepath.Join(z.Bin, cfg)); err != nil {
			return ZeroProc{}, err
		}
	}
	for _, n := range MasqueradeNames {
		if !IsClang(n) {
			continue
		}
		real, err := exec.LookPath(n)
		if err != nil {
			continue // this machine has no such compiler
		}
		if err := os.Symlink(real, filepath.Join(z.Bin, "immunix-"+n)); err != nil {
			return ZeroProc{}, err
		}
	}
	return z, nil
}
