package ccwrap

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MarkerEnv is set in the environment of every program immunix-cc runs. Its
// value lists (colon-separated) the programs immunix-cc already handed a
// command to. Finding it on entry means immunix-cc was called back (ccache or
// distcc in masquerade mode, a wrapper script): the arguments are already
// rewritten, and the programs it lists must not be run again.
const MarkerEnv = "IMMUNIX_CC_ACTIVE"

// maxVisited bounds the marker: more hand-offs than this is a loop.
const maxVisited = 8

// ErrNotFound means no real compiler was found (exit 101).
var ErrNotFound = codedError(ExitNotFound, "compiler not found")

// ErrRecursion means every candidate leads back to immunix-cc (exit 102).
var ErrRecursion = codedError(ExitRecursion, "recursion")

// launchers are programs that run a compiler given as their argument or
// found by their own masquerade name.
var launchers = map[string]bool{"ccache": true, "distcc": true, "sccache": true, "icecc": true, "buildcache": true}

// FileID identifies a file after symlinks.
type FileID struct{ Dev, Ino uint64 }

// Lookup is the file-system view compiler discovery needs; OSLookup is the
// real one, tests use tables.
type Lookup struct {
	PATH string
	// Stat follows symlinks and reports the file's identity and whether it
	// is an executable regular file.
	Stat func(path string) (id FileID, exec bool, err error)
	// Resolve returns the path with every symlink resolved.
	Resolve func(path string) (string, error)
}

// OSLookup returns the Lookup of the running system with the given PATH.
func OSLookup(path string) Lookup {
	return Lookup{PATH: path, Stat: osStat, Resolve: filepath.EvalSymlinks}
}

func osStat(path string) (FileID, bool, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return FileID{}, false, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	exec := st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Mode&0o111 != 0
	return FileID{Dev: uint64(st.Dev), Ino: st.Ino}, exec, nil
}

// Compiler is the program immunix-cc hands the command to.
type Compiler struct {
	// Launcher runs the compiler: ["/usr/bin/ccache"] for IMMUNIX_CC="ccache
	// gcc" (the compiler path follows as its first argument), or a
	// masquerade link such as ["/usr/lib/ccache/gcc"], which finds the
	// compiler itself (LauncherFinds).
	Launcher      []string
	LauncherFinds bool
	// Cmd is the real compiler: its path and any words IMMUNIX_CC gave
	// after it. Probing and the guard runtime use it directly.
	Cmd []string
	// Via says how it was found, for explain and errors.
	Via string
}

// Argv returns the command to run for args.
func (c Compiler) Argv(args []string) []string {
	var out []string
	out = append(out, c.Launcher...)
	if len(c.Launcher) == 0 || !c.LauncherFinds {
		out = append(out, c.Cmd...)
	}
	return append(out, args...)
}

// Exec returns the program to exec (argv[0] of Argv).
func (c Compiler) Exec() string {
	if len(c.Launcher) > 0 {
		return c.Launcher[0]
	}
	return c.Cmd[0]
}

// IsOurName reports whether an argv[0] base name is immunix-cc's own (not a
// masquerade name): immunix-cc and immunix-c++, also with a suffix
// (immunix-cc-0.1, immunix-c++.real).
func IsOurName(base string) bool {
	return strings.HasPrefix(base, "immunix-cc") || strings.HasPrefix(base, "immunix-c++")
}

// isOurCXXName reports whether base is immunix-c++'s own name.
func isOurCXXName(base string) bool { return strings.HasPrefix(base, "immunix-c++") }

// IsCXXName reports whether an argv[0] base name asks for the C++ driver.
func IsCXXName(base string) bool { return strings.Contains(base, "++") }

// Finder finds the real compiler.
type Finder struct {
	Lookup  Lookup
	Self    FileID   // immunix-cc's own file
	Visited []string // from MarkerEnv: programs already run for this command
	Reentry bool     // MarkerEnv was set
}

type candidate struct {
	path string
	id   FileID
}

// Find returns the compiler for an immunix-cc called as argv0 with policy
// pol's IMMUNIX_CC / IMMUNIX_CXX.
func (f *Finder) Find(argv0 string, pol Policy) (Compiler, error) {
	if len(f.Visited) > maxVisited {
		return Compiler{}, fmt.Errorf("%w: immunix-cc was called back %d times through %s", ErrRecursion, len(f.Visited), strings.Join(f.Visited, " -> "))
	}
	base := filepath.Base(argv0)
	words, envName := pol.CC, "IMMUNIX_CC"
	if isOurCXXName(base) || (!IsOurName(base) && IsCXXName(base)) {
		words, envName = pol.CXX, "IMMUNIX_CXX"
	}
	skip := f.skipSet()
	if len(words) > 0 {
		var launcher []string
		if launchers[filepath.Base(words[0])] {
			if len(words) < 2 {
				return Compiler{}, fmt.Errorf("%w: %s=%q names a launcher but no compiler", ErrUsage, envName, strings.Join(words, " "))
			}
			if !f.Reentry {
				lp, err := f.find(words[0], skip, false)
				if err != nil {
					return Compiler{}, fmt.Errorf("%s %s: %w", envName, words[0], err)
				}
				launcher = []string{lp.path}
			}
			words = words[1:]
		}
		c, err := f.find(words[0], skip, false)
		for err == nil && !strings.Contains(words[0], "/") && f.isLauncher(c.path) {
			// A launcher's masquerade link is not the compiler.
			skip[c.id] = true
			c, err = f.find(words[0], skip, false)
		}
		if err != nil {
			return Compiler{}, fmt.Errorf("%s %s: %w", envName, words[0], err)
		}
		cmd := append([]string{c.path}, words[1:]...)
		return Compiler{Launcher: launcher, Cmd: cmd, Via: envName}, nil
	}
	name := base
	via := "masquerade as " + base
	if IsOurName(base) {
		name, via = "cc", "default cc"
		if isOurCXXName(base) {
			name, via = "c++", "default c++"
		}
	}
	c, err := f.find(name, skip, true)
	if err != nil {
		return Compiler{}, err
	}
	// A masquerade link of a launcher (/usr/lib/ccache/gcc): run it, and
	// find the real compiler behind it for probing.
	if f.isLauncher(c.path) {
		skip[c.id] = true
		real, err := f.find(name, skip, true)
		for err == nil && f.isLauncher(real.path) {
			skip[real.id] = true
			real, err = f.find(name, skip, true)
		}
		if err != nil {
			return Compiler{}, fmt.Errorf("behind %s: %w", c.path, err)
		}
		return Compiler{Launcher: []string{c.path}, LauncherFinds: true, Cmd: []string{real.path}, Via: via + " through " + c.path}, nil
	}
	return Compiler{Cmd: []string{c.path}, Via: via}, nil
}

func (f *Finder) isLauncher(path string) bool {
	res, err := f.Lookup.Resolve(path)
	return err == nil && launchers[filepath.Base(res)]
}

func (f *Finder) skipSet() map[FileID]bool {
	skip := map[FileID]bool{f.Self: true}
	for _, v := range f.Visited {
		if id, _, err := f.Lookup.Stat(v); err == nil {
			skip[id] = true
		}
	}
	return skip
}

// find resolves name: a path is taken as is (unless it is immunix-cc or
// already visited); a bare name is looked up in PATH, skipping immunix-cc
// and visited programs. With preferAfterSelf, candidates after the PATH
// directory that holds immunix-cc under this name come first (a launcher
// earlier in PATH has already run).
func (f *Finder) find(name string, skip map[FileID]bool, preferAfterSelf bool) (candidate, error) {
	if strings.Contains(name, "/") {
		id, exec, err := f.Lookup.Stat(name)
		if err != nil {
			return candidate{}, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		if !exec {
			return candidate{}, fmt.Errorf("%w: %s is not an executable file", ErrNotFound, name)
		}
		if skip[id] {
			return candidate{}, fmt.Errorf("%w: %s leads back to immunix-cc", ErrRecursion, name)
		}
		return candidate{name, id}, nil
	}
	var before, after []candidate
	seenSelf := false
	var skippedVisited []string
	for _, dir := range filepath.SplitList(f.Lookup.PATH) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		id, exec, err := f.Lookup.Stat(p)
		if err != nil || !exec {
			continue
		}
		if id == f.Self {
			seenSelf = true
			continue
		}
		if skip[id] {
			skippedVisited = append(skippedVisited, p)
			continue
		}
		if seenSelf || !preferAfterSelf {
			after = append(after, candidate{p, id})
		} else {
			before = append(before, candidate{p, id})
		}
	}
	if len(after) > 0 {
		return after[0], nil
	}
	if len(before) > 0 {
		return before[0], nil
	}
	if len(skippedVisited) > 0 {
		return candidate{}, fmt.Errorf("%w: every %q in PATH is immunix-cc or a program that already called it back (%s)", ErrRecursion, name, strings.Join(skippedVisited, ", "))
	}
	if seenSelf {
		return candidate{}, fmt.Errorf("%w: no %q in PATH other than immunix-cc itself", ErrNotFound, name)
	}
	return candidate{}, fmt.Errorf("%w: no %q in PATH", ErrNotFound, name)
}
