package distro

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Package is one Debian 12 source package of the rebuild suite.
type Package struct {
	Name        string // source package name, for apt-get source
	BuildSystem string
	// Why it is in the suite: what real packages do that it exercises.
	Why string
	// Results reads the package's own test suite from the build log.
	Results Parser
	// MinPassed is the number of passing tests its suite reports on a
	// plain build (Debian 12, measured): fewer means tests went missing.
	MinPassed int
	// UserOff lists the protections the package's own build turns off on
	// purpose (immunix respects them and records them in the stamp).
	UserOff []string
	// StrictSymbols: the package ships a symbols file for its library, and
	// the rebuild runs dpkg-gensymbols at check level 4 (as
	// "dh_makeshlibs -- -c4"): a symbol the file does not list fails the
	// build, so the library's exports must be exactly its plain build's.
	StrictSymbols bool
	// UpstreamFlags are hardening flags the upstream build system adds by
	// itself, which therefore stay when Debian's are removed.
	UpstreamFlags []string
	// FormatGuardGaps are the printf-family calls, "CALLEE in FUNCTION",
	// that FormatGuard cannot wrap in this package and that immunix check
	// therefore reports as bare (docs/formatguard.md, "Known gaps in real
	// packages"): the gate may refuse formatguard for these calls and
	// for nothing else.
	FormatGuardGaps []string
	// ClockRaces are upstream tests that compare the program's clock
	// with another program's read at another instant, and so fail now and
	// then on any build (ClockRaceOnly).
	ClockRaces []string
}

// Packages is the rebuild suite: together autotools, CMake, Meson,
// hand-written configure scripts and Makefiles, compiler names hard-coded
// in debian/rules, shared libraries, and heavy printf use.
var Packages = []Package{
	{
		Name: "ed", BuildSystem: "hand-written configure (autoconf-compatible)",
		Why:     "configure resets CC to gcc, so only masquerade reaches it; rules pass dpkg-buildflags on the configure line",
		Results: ParseEd, MinPassed: 1,
	},
	{
		Name: "hello", BuildSystem: "autotools (autoconf, automake, gnulib)",
		Why:     "the GNU build system end to end: configure's compiler probes, gnulib, automake's test harness",
		Results: ParseAutomake, MinPassed: 4,
		// error(EXIT_FAILURE, errno, _("conversion to a multibyte string
		// failed")): gnulib's lib/error.h declares error() itself, so
		// FormatGuard's <error.h> is never included, and the gettext
		// format reaches glibc's error() unchecked.
		FormatGuardGaps: []string{"error in main"},
	},
	{
		Name: "cjson", BuildSystem: "CMake",
		Why:     "CMake stores the compiler's absolute path at configure time; a shared library; sprintf-based number printing; 19 CTest suites",
		Results: ParseCTest, MinPassed: 19, StrictSymbols: true,
		// CMakeLists.txt adds -fstack-protector-strong to its own warning
		// and safety flags when the compiler accepts it.
		UpstreamFlags: []string{"-fstack-protector-strong"},
	},
	{
		Name: "serd", BuildSystem: "Meson",
		Why:     "Meson and ninja; a shared library and a command-line tool whose errors go through fprintf/vfprintf wrappers",
		Results: ParseMeson, MinPassed: 40, StrictSymbols: true,
	},
	{
		Name: "mawk", BuildSystem: "autoconf (Thomas Dickey's) and a plain Makefile",
		Why:     "printf-heavy: awk's printf and sprintf hand user-supplied formats to the libc printf family",
		Results: ParseMawk, MinPassed: 8,
	},
	{
		Name: "bzip2", BuildSystem: "plain Makefile",
		Why:     "debian/rules hard-codes CC=gcc; a shared library built by hand with -fpic",
		Results: ParseBzip2, MinPassed: 6,
	},
	{
		Name: "zlib", BuildSystem: "zlib's own configure script and Makefile",
		Why:     "rules hard-code $(DEB_HOST_GNU_TYPE)-gcc, build a -m32 flavour (lib32z1) through the same name, and ignore test failures (-$(MAKE) test)",
		Results: ParseZlib, MinPassed: 3,
	},
	{
		Name: "gawk", BuildSystem: "autotools (autoconf, automake, libtool, gnulib)",
		Why:     "printf-heavy (format_tree and its own printf engine over sprintf), ~600 tests, loadable extensions; links gawk -no-pie on purpose (persistent memory)",
		Results: ParseGawk, MinPassed: 590,
		UserOff: []string{"pie"},
		// strftime.awk prints date(1)'s time beside strftime()'s, read
		// between two strftime() calls that agree: glibc's time() (the
		// vDSO's coarse clock) can still say second N when date's
		// clock_gettime says N+1 (seen in CI: "-Fri Dec 4 04:02:07",
		// "+Fri Dec 4 04:02:06").
		ClockRaces: []string{"strftime"},
	},
}

// PackageByName returns the suite's entry for name.
func PackageByName(name string) (Package, bool) {
	for _, p := range Packages {
		if p.Name == name {
			return p, true
		}
	}
	return Package{}, false
}

// hardeningFlags are the flags dpkg-buildflags adds for its "hardening"
// feature area on amd64 (Debian 12).
var hardeningFlags = map[string][]string{
	"CFLAGS":   {"-fstack-protector-strong", "-fstack-clash-protection", "-fcf-protection", "-Wformat", "-Werror=format-security"},
	"CXXFLAGS": {"-fstack-protector-strong", "-fstack-clash-protection", "-fcf-protection", "-Wformat", "-Werror=format-security"},
	"CPPFLAGS": {"-D_FORTIFY_SOURCE=2"},
	"LDFLAGS":  {"-Wl,-z,relro", "-Wl,-z,now"},
}

// HardeningOffEnv returns env for a build without Debian's own hardening:
// DEB_BUILD_MAINT_OPTIONS=hardening=-all,+pie, and, because many
// debian/rules set DEB_BUILD_MAINT_OPTIONS=hardening=+all themselves (ed,
// cjson, mawk, bzip2...), the user-level DEB_<FLAG>_STRIP variables, which
// dpkg-buildflags applies after the maintainer's choices. "+pie" because
// with "-pie" on a PIE-by-default gcc dpkg adds no-pie specs files: an
// explicit request for no PIE, which immunix respects; with "+pie" Debian
// adds nothing at all, which is the point of the comparison.
func HardeningOffEnv(env []string) []string {
	env = Setenv(env, "DEB_BUILD_MAINT_OPTIONS", "hardening=-all,+pie")
	keys := make([]string, 0, len(hardeningFlags))
	for k := range hardeningFlags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = Setenv(env, "DEB_"+k+"_STRIP", strings.Join(hardeningFlags[k], " "))
	}
	return env
}

// compileLine matches a compiler command's -c.
var compileLine = regexp.MustCompile(`(^|\s)-c(\s|$)`)

// HardeningInLog returns the log lines that pass one of dpkg-buildflags'
// hardening flags to a compiler or linker, and the number of compile
// commands the log shows. configure's "checking ..." lines do not count, nor
// do the flags in upstream (the package's own build system adds them).
func HardeningInLog(log string, upstream []string) (hits []string, compiles int) {
	seen := map[string]bool{}
	for _, f := range upstream {
		seen[f] = true
	}
	var flags []string
	for _, fs := range hardeningFlags {
		for _, f := range fs {
			if f != "-Wformat" && !seen[f] { // -Wformat is also a plain warning flag
				seen[f] = true
				flags = append(flags, f)
			}
		}
	}
	sort.Strings(flags)
	for _, l := range lines(log) {
		if strings.HasPrefix(l, "checking ") || strings.Contains(l, "DEB_") {
			continue
		}
		if strings.Contains(l, "-O2") && compileLine.MatchString(l) {
			compiles++
		}
		for _, f := range flags {
			if containsFlag(l, f) {
				hits = append(hits, l)
				break
			}
		}
	}
	return hits, compiles
}

// containsFlag reports whether f appears in l as a whole word (so
// -fcf-protection also matches -fcf-protection=full, but -Wformat does not
// match -Wformat-security).
func containsFlag(l, f string) bool {
	for i := 0; ; {
		j := strings.Index(l[i:], f)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(f)
		before := start == 0 || strings.ContainsRune(" \t'\"=", rune(l[start-1]))
		after := end == len(l) || strings.ContainsRune(" \t'\"=,", rune(l[end]))
		if before && after {
			return true
		}
		i = end
	}
}

// Build is one finished dpkg-buildpackage run.
type Build struct {
	Src     string
	Log     string
	Debs    []string // the binary packages, without the -dbgsym ones
	Dbgsym  []string // the -dbgsym packages: detached debug files, not programs
	Elapsed time.Duration
	// CPU is the user+system time of dpkg-buildpackage and every process it
	// waited for: the whole build's CPU, less sensitive than Elapsed to
	// other load on the machine.
	CPU time.Duration
}

// DebianBuildEnv returns env for dpkg-buildpackage: parallel=2 (the
// machine's cores), a fixed locale.
func DebianBuildEnv(env []string) []string {
	env = Setenv(env, "DEB_BUILD_OPTIONS", "parallel=2")
	return Setenv(env, "LC_ALL", "C.UTF-8")
}

// EnsureBuildDeps installs src's build dependencies when
// dpkg-checkbuilddeps says some are missing (needs root).
func EnsureBuildDeps(src string) error {
	cmd := exec.Command("dpkg-checkbuilddeps")
	cmd.Dir = src
	if err := cmd.Run(); err == nil {
		return nil
	}
	inst := exec.Command("apt-get", "build-dep", "-y", "-qq", "./")
	inst.Dir = src
	inst.Env = Setenv(os.Environ(), "DEBIAN_FRONTEND", "noninteractive")
	if out, err := inst.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get build-dep in %s: %w\n%s", src, err, tail(string(out), 30))
	}
	return nil
}

// DpkgBuild runs `dpkg-buildpackage -b -uc -us` in src under env, writes the
// whole log to logPath, and returns the log and the .deb files it left in
// src's parent directory. A failing build returns its log with the error.
func DpkgBuild(src string, env []string, logPath string) (Build, error) {
	b := Build{Src: src}
	cmd := exec.Command("dpkg-buildpackage", "-b", "-uc", "-us")
	cmd.Dir = src
	cmd.Env = env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	b.Elapsed = time.Since(start)
	if cmd.ProcessState != nil {
		b.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	b.Log = string(out)
	if logPath != "" {
		if werr := os.WriteFile(logPath, out, 0o644); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return b, fmt.Errorf("dpkg-buildpackage -b in %s: %w\n%s", src, err, tail(b.Log, 40))
	}
	debs, gerr := filepath.Glob(filepath.Join(filepath.Dir(src), "*.deb"))
	if gerr != nil || len(debs) == 0 {
		return b, fmt.Errorf("dpkg-buildpackage -b in %s left no .deb in %s", src, filepath.Dir(src))
	}
	for _, d := range debs {
		if strings.Contains(filepath.Base(d), "-dbgsym_") {
			b.Dbgsym = append(b.Dbgsym, d)
		} else {
			b.Debs = append(b.Debs, d)
		}
	}
	return b, nil
}

// ExtractDebs unpacks every .deb into its own directory under dir
// (dpkg-deb -x) and returns those directories.
func ExtractDebs(debs []string, dir string) ([]string, error) {
	var out []string
	for _, d := range debs {
		dst := filepath.Join(dir, strings.TrimSuffix(filepath.Base(d), ".deb"))
		if b, err := exec.Command("dpkg-deb", "-x", d, dst).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("dpkg-deb -x %s: %w\n%s", d, err, b)
		}
		out = append(out, dst)
	}
	return out, nil
}

// gawk's "make check" ends with "N TESTS FAILED" (N counts the _NAME files
// the failed tests left) and prints "============== _NAME ============="
// before each one's diff.
var (
	gawkFailedCount = regexp.MustCompile(`(?m)^\s*(\d+) TESTS FAILED\s*$`)
	gawkFailedTest  = regexp.MustCompile(`(?m)^\s*============== _(\S+) =============\s*$`)
)

// ClockRaceOnly reports whether a failed build's log shows failing
// upstream tests, exactly as many named as counted, and every one of them
// in p.ClockRaces: a build worth one more try, not a failure of
// immunix's. It returns the names.
func (p Package) ClockRaceOnly(log string) ([]string, bool) {
	counts := gawkFailedCount.FindAllStringSubmatch(log, -1)
	if len(p.ClockRaces) == 0 || len(counts) != 1 {
		return nil, false
	}
	var names []string
	for _, m := range gawkFailedTest.FindAllStringSubmatch(log, -1) {
		if !slices.Contains(p.ClockRaces, m[1]) {
			return nil, false
		}
		names = append(names, m[1])
	}
	return names, len(names) > 0 && strconv.Itoa(len(names)) == counts[0][1]
}
