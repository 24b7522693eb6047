package distro

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/testenv"
)

// needRebuild gates the slow Debian rebuilds: they run with IMMUNIX_REBUILD=1
// (make test-rebuild, and CI through .ci/run), and are skipped otherwise so
// that `go test ./...` stays fast.
func needRebuild(t *testing.T) {
	t.Helper()
	if os.Getenv("IMMUNIX_REBUILD") != "1" {
		t.Skip("Debian rebuilds run with IMMUNIX_REBUILD=1 (make test-rebuild)")
	}
	testenv.NeedsRoot(t)
	for _, tool := range []string{"dpkg-buildpackage", "dpkg-checkbuilddeps", "apt-get", "dpkg-deb", "fakeroot"} {
		testenv.NeedsTool(t, tool)
	}
}

// logDir is where build logs go: IMMUNIX_REBUILD_LOGS when set (CI keeps
// them), else a temporary directory.
func logDir(t *testing.T) string {
	if d := os.Getenv("IMMUNIX_REBUILD_LOGS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestRebuild rebuilds every package of the suite from its Debian 12 source
// with dpkg-buildpackage -b in masquerade mode (the image's PATH, nothing
// else changed), twice: with Debian's own build flags (stripped, as
// shipped), and with Debian's hardening flags removed and nostrip, which
// proves what immunix adds by itself, function by function; and a third
// time at immunix's opt-in level (IMMUNIX_LEVEL=max: BoundsGuard and the
// other candidates of issue 16), unstripped, whose gate also requires the
// bounds property. Each build must pass its own upstream test suite (read
// from the log: some rules ignore failures) with no raceguard or bounds
// alert, every executable and shared object in its .debs must carry
// immunix's compile and link notes, and `immunix check --policy immunix`
// must pass on the .debs.
//
// The packages of ZeroProcPackages are built a fourth time in the
// zero-process mode (docs/immunix-cc.md): no immunix process at all, plain
// gcc reading the default specs "immunix toolchain-config" wrote (through
// LIBRARY_PATH: testenv.ZeroProc), with Debian's hardening off and
// unstripped as in hardening-off, whose build it is held against: the same
// gates, every stamp saying mode=specs, and every verdict of immunix check
// on every file equal to the immunix-cc build's.
func TestRebuild(t *testing.T) {
	needRebuild(t)
	im := InstallImage(t)
	logs := logDir(t)
	for _, p := range Packages {
		t.Run(p.Name, func(t *testing.T) {
			modes := []string{"debian-flags", "hardening-off", "level-max"}
			if slices.Contains(ZeroProcPackages, p.Name) {
				modes = append(modes, "zero-process")
			}
			// The hardening-off build's verdicts, for the zero-process
			// build to be held against.
			var wrapper map[string]map[string]testenv.CheckResult
			for _, mode := range modes {
				t.Run(mode, func(t *testing.T) {
					var against map[string]map[string]testenv.CheckResult
					if mode == "zero-process" {
						against = wrapper
						if against == nil {
							// Its own log: a failed hardening-off build's
							// stays.
							t.Logf("no passing hardening-off build in this process: building one for the comparison (log %s-hardening-off-again.log)", p.Name)
							against = rebuildOne(t, im, p, "hardening-off", filepath.Join(logs, p.Name+"-hardening-off-again"), nil)
						}
					}
					v := rebuildOne(t, im, p, mode, filepath.Join(logs, p.Name+"-"+mode), against)
					if mode == "hardening-off" && !t.Failed() {
						wrapper = v
					}
				})
			}
		})
	}
}

// ZeroProcPackages are the packages TestRebuild also builds in the
// zero-process mode: all of them (zlib's -m32 flavour takes the -m32
// runtime and link notes toolchain-config builds with gcc-multilib).
var ZeroProcPackages = []string{"ed", "hello", "cjson", "serd", "mawk", "bzip2", "zlib", "gawk"}

// rebuildOne builds p in one of TestRebuild's modes and checks the result.
// For hardening-off and zero-process it returns immunix check's verdicts
// on the files of the .debs (by .deb and member); the zero-process build's
// must equal against's.
func rebuildOne(t *testing.T, im Image, p Package, mode string, logBase string, against map[string]map[string]testenv.CheckResult) map[string]map[string]testenv.CheckResult {
	zeroProc := mode == "zero-process"
	hardeningOff, levelMax := mode == "hardening-off" || zeroProc, mode == "level-max"
	src := testenv.DebianSource(t, p.Name)
	if err := EnsureBuildDeps(src); err != nil {
		t.Fatal(err)
	}
	env := DebianBuildEnv(im.Env(CleanEnv()))
	if zeroProc {
		// No masquerade farm, no immunix-cc: gcc by itself, reading
		// the default specs.
		env = append(DebianBuildEnv(CleanEnv()), im.ZeroProcess(t).DefaultSpecsEnv())
	}
	immLog := logBase + ".immunix-log"
	os.Remove(immLog)
	env = Setenv(env, "IMMUNIX_LOG", immLog)
	// Every alert the built programs raise while the package's own tests
	// run (RaceGuard's above all: not one is expected) lands here.
	sink := testenv.NewSyslog(t)
	os.Chmod(filepath.Dir(sink.Path), 0o777)
	os.Chmod(sink.Path, 0o777)
	env = Setenv(env, "IMMUNIX_SYSLOG_SOCKET", sink.Path)
	if p.StrictSymbols {
		// dh_makeshlibs -- -c4: a symbol the symbols file does not list
		// fails the build, as a new export of the guard runtime would.
		env = Setenv(env, "DPKG_GENSYMBOLS_CHECK_LEVEL", "4")
	}
	if hardeningOff {
		// Unstripped, so immunix check sees every function's symbol and
		// verifies canaries function by function (in stripped binaries that
		// property is "unknown", which the policy does not refuse).
		env = Setenv(HardeningOffEnv(env), "DEB_BUILD_OPTIONS", "parallel=2 nostrip")
	}
	if levelMax {
		// Unstripped too: the bounds handlers are hidden symbols, so the
		// bounds property of a stripped file is "unknown".
		env = Setenv(Setenv(env, "IMMUNIX_LEVEL", "max"), "DEB_BUILD_OPTIONS", "parallel=2 nostrip")
	}
	b, err := DpkgBuild(src, env, logBase+".log")
	if names, ok := p.ClockRaceOnly(b.Log); err != nil && ok {
		// Once, and said: a second failure fails the test.
		t.Logf("%s's own tests %v failed on a clock race between two programs (Package.ClockRaces), not on immunix: building once more", p.Name, names)
		b, err = DpkgBuild(src, env, logBase+".log")
	}
	if err != nil {
		t.Fatalf("%v\n(full log: %s.log)", err, logBase)
	}
	t.Logf("built %s in %v: %s", p.Name, b.Elapsed.Round(1e8), strings.Join(baseNames(b.Debs), " "))

	// The package's own tests, from the log.
	res, err := p.Results(b.Log)
	if err != nil {
		t.Fatalf("%s's test suite: %v (log: %s.log)", p.Name, err, logBase)
	}
	t.Logf("upstream tests: %s", res)
	if p.StrictSymbols {
		// dpkg-gensymbols is silent when the symbols match; what it wrote
		// into the library's .deb shows that it ran.
		if n := SymbolsFiles(b.Debs); n == 0 {
			t.Errorf("%s has a strict symbols file, but none of its .debs carries a symbols control file: dpkg-gensymbols did not run", p.Name)
		} else {
			t.Logf("dpkg-gensymbols at check level 4: symbols control file in %d .deb(s), no new or lost symbol", n)
		}
	}
	// Not one raceguard or bounds alert is expected: any is a false alarm to
	// fix or a real bug of the package, to be reported with the evidence.
	for _, kind := range []string{"raceguard", "bounds"} {
		var alerts []string
		for _, l := range append(sink.Lines(), strings.Split(b.Log, "\n")...) {
			if strings.Contains(l, "immunix alert: kind="+kind+" ") {
				alerts = append(alerts, l)
			}
		}
		t.Logf("%s alerts during the build and its tests: %d", kind, len(alerts))
		if len(alerts) > 0 {
			t.Errorf("%d %s alerts while %s built and ran its tests, e.g.:\n%s", len(alerts), kind, p.Name, alerts[0])
		}
	}
	if res.Failed > 0 || res.Passed < p.MinPassed {
		t.Errorf("%s's own tests: %s; want 0 failed and at least %d passed\n%s", p.Name, res, p.MinPassed, strings.Join(res.Evidence, "\n"))
	}

	// What went through immunix-cc: nothing in the zero-process mode.
	data, err := os.ReadFile(immLog)
	switch {
	case zeroProc && err == nil:
		t.Errorf("immunix-cc ran during the zero-process build (IMMUNIX_LOG %s.immunix-log has %d lines)", logBase, strings.Count(string(data), "\n"))
	case zeroProc:
	case err != nil:
		t.Fatalf("no IMMUNIX_LOG from the build (was immunix-cc called at all?): %v", err)
	default:
		sum := ParseImmunixLog(string(data))
		t.Logf("immunix-cc: %s", sum)
		if sum.Modes["compile"]+sum.Modes["link"] == 0 {
			t.Errorf("immunix-cc compiled and linked nothing: %s", sum)
		}
		if sum.FGHFailed > 0 {
			// FormatGuard 2 must never make a unit fall back (issue 15).
			t.Errorf("%d units compiled again as usual because their rewritten printf helper calls did not compile (fgh=failed): %s", sum.FGHFailed, sum)
		}
	}

	if hardeningOff {
		hits, compiles := HardeningInLog(b.Log, p.UpstreamFlags)
		if compiles == 0 {
			t.Errorf("the log shows no compile command (-O2 ... -c): cannot tell which flags the build passed")
		}
		if len(hits) > 0 {
			t.Errorf("Debian's hardening flags still reach the compiler in %d command lines, e.g.:\n%s", len(hits), hits[0])
		}
	}

	// Every linked ELF carries immunix's notes; only the package's own
	// opt-outs are recorded as user-off.
	tree, err := ExtractDebs(b.Debs, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var elfs []Stamped
	var elfPaths []string
	for _, d := range tree {
		fs, err := LinkedELFs(d)
		if err != nil {
			t.Fatal(err)
		}
		for i := range fs {
			elfPaths = append(elfPaths, filepath.Join(d, fs[i].Path))
			fs[i].Path = filepath.Join(filepath.Base(d), fs[i].Path)
		}
		elfs = append(elfs, fs...)
	}
	if len(elfs) == 0 {
		t.Fatalf("no executable or shared object in %s", strings.Join(baseNames(b.Debs), " "))
	}
	for _, bad := range Unstamped(elfs) {
		t.Errorf("not built through immunix-cc: %s", bad)
	}
	for _, f := range elfs {
		for _, s := range append(append([]stamp.Stamp{}, f.Compile...), f.Link...) {
			for _, off := range s.UserOff {
				if !slices.Contains(p.UserOff, off) {
					t.Errorf("%s: the build turned %s off (stamp %q); %s is not expected to", f.Path, off, s.String(), p.Name)
				}
			}
			if len(s.Off) > 0 {
				t.Errorf("%s: policy turned %v off (stamp %q)", f.Path, s.Off, s.String())
			}
			want := "" // immunix-cc writes no mode
			if zeroProc {
				want = "specs"
			}
			if s.Extra["mode"] != want {
				t.Errorf("%s: stamp %q: mode %q, want %q", f.Path, s.String(), s.Extra["mode"], want)
			}
		}
	}
	t.Logf("%d linked ELF files, protections applied: %s", len(elfs), strings.Join(Protections(elfs), ","))
	checkersAgree(t, im, elfPaths)

	// The gate. formatguard is judged from the calls the code makes
	// (issue 14, item 7): a package's formatguard failure is accepted
	// only where every bare call is one of its documented gaps
	// (Package.FormatGuardGaps: FormatGuard cannot wrap that call, and
	// docs/formatguard.md says why); everything else must pass.
	// At the opt-in level the gate also requires bounds: a file passes
	// when every function that indexes a stack array holds a check; n/a
	// (no stack-array index) and unknown are accepted: partial (checks
	// compiled in, but some function's stack index holds none: accesses
	// the compiler proved in range in a way check does not follow) and a
	// file whose only stack indexes are bounded by the code inside the
	// frame (hello's quotearg_char: check cannot see the array's size). A file that indexes a stack array with an
	// unbounded register and holds no check is refused;
	// docs/boundsguard.md.
	var require []string
	if levelMax {
		require = []string{"--require", "bounds"}
	}
	gate(t, im, p, require, b.Debs)
	if !hardeningOff {
		return nil
	}
	verdicts := checkVerdicts(t, im, b.Debs)
	if zeroProc {
		sameVerdicts(t, verdicts, against)
	}
	return verdicts
}

// gate is the rebuild's verdict on the .debs: immunix check --policy
// immunix passes, but for the package's own opt-outs and documented
// FormatGuard gaps.
func gate(t *testing.T, im Image, p Package, require, debs []string) {
	out, code, err := im.Check("immunix", append(require, debs...)...)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.UserOff) == 0 {
		if code != 0 {
			if bad := unexpectedRefusals(out, p, nil); len(bad) > 0 || code != 1 {
				t.Errorf("immunix check --policy immunix: exit %d; not the package's documented FormatGuard gaps %q: %q\n%s", code, p.FormatGuardGaps, bad, out)
			}
		}
		return
	}
	// A package that turns a protection off on purpose fails the immunix
	// level ("nothing off") visibly: every refusal is the stamp's record of
	// exactly that opt-out. Everything else the level checks must pass:
	// with the opt-out and the stamp allowed (the stamps were verified
	// above: present on every file, nothing else off), the check passes.
	if code != 1 {
		t.Errorf("immunix check --policy immunix on %s (which turns %v off): exit %d, want 1 (refused)\n%s", p.Name, p.UserOff, code, out)
	}
	optOut := func(name, detail string) bool {
		return name == "stamp" && strings.Contains(detail, "user-off="+strings.Join(p.UserOff, ",")+")") || slices.Contains(p.UserOff, name)
	}
	for _, bad := range unexpectedRefusals(out, p, optOut) {
		t.Errorf("refused for %q, which is neither the package's own %v opt-out nor one of its documented FormatGuard gaps %q", bad, p.UserOff, p.FormatGuardGaps)
	}
	allow := strings.Join(append(append([]string{}, p.UserOff...), "stamp"), ",")
	allowed, code2, err := im.Check("immunix", append(append([]string{"--allow", allow}, require...), debs...)...)
	if err != nil {
		t.Fatal(err)
	}
	if code2 != 0 {
		if bad := unexpectedRefusals(allowed, p, nil); len(bad) > 0 || code2 != 1 {
			t.Errorf("immunix check --policy immunix --allow %s: exit %d; not the documented FormatGuard gaps: %q\n%s", allow, code2, bad, allowed)
		}
	}
}

// checkVerdicts runs immunix check --policy immunix on the .debs and
// returns each file's results, by .deb and member ("ed_1.19-1_amd64.deb!./bin/ed").
func checkVerdicts(t *testing.T, im Image, debs []string) map[string]map[string]testenv.CheckResult {
	_, files, err := testenv.CheckJSON(im.Immunix(), im.ToolEnv(CleanEnv()), append([]string{"--policy", "immunix"}, debs...)...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]testenv.CheckResult{}
	for _, f := range files {
		deb, member, _ := strings.Cut(f.Path, "!")
		out[filepath.Base(deb)+"!"+member] = f.Results
	}
	return out
}

// sameVerdicts holds the zero-process build's verdicts against the
// immunix-cc build's: the same files, and on each the same status for
// every property (the stamp's value says which mode built it; its status
// must match too).
func sameVerdicts(t *testing.T, zp, wrapper map[string]map[string]testenv.CheckResult) {
	if wrapper == nil {
		t.Errorf("no verdicts of the immunix-cc build to compare with")
		return
	}
	var same int
	for file, w := range wrapper {
		z, ok := zp[file]
		if !ok {
			t.Errorf("%s: in the immunix-cc build's .debs, not in the zero-process build's", file)
			continue
		}
		for prop, wr := range w {
			if zr := z[prop]; zr.Status != wr.Status {
				t.Errorf("%s: %s: zero-process %s (%s), immunix-cc %s (%s)", file, prop, zr.Status, zr.Value, wr.Status, wr.Value)
			} else {
				same++
			}
		}
	}
	for file := range zp {
		if _, ok := wrapper[file]; !ok {
			t.Errorf("%s: in the zero-process build's .debs, not in the immunix-cc build's", file)
		}
	}
	t.Logf("zero-process against immunix-cc: %d files, %d verdicts the same", len(wrapper), same)
}

// unexpectedRefusals returns the refusals in immunix check's text output
// ("FILE: failed a (x), b (y)") that neither accept (when not nil) nor the
// package's documented FormatGuard gaps explain, as "FILE: reason".
func unexpectedRefusals(out string, p Package, accept func(name, detail string) bool) []string {
	var bad []string
	for _, l := range lines(out) {
		file, why, ok := strings.Cut(l, ": failed ")
		if !ok {
			continue
		}
		for _, reason := range splitReasons(why) {
			name, detail, _ := strings.Cut(reason, " (")
			switch {
			case accept != nil && accept(name, detail):
			case name == "formatguard" && onlyGaps(detail, p.FormatGuardGaps):
			default:
				bad = append(bad, file+": "+reason)
			}
		}
	}
	return bad
}

// onlyGaps reports whether the formatguard refusal's detail, "N checked,
// N literal, N bare calls: CALLEE at 0xADDR in FUNC ...)", lists bare
// calls only, every one "CALLEE in FUNC" of gaps, and all of them (the
// report abbreviates long lists with "+N more", which is never accepted).
func onlyGaps(detail string, gaps []string) bool {
	_, list, ok := strings.Cut(detail, " bare calls: ")
	if !ok || len(gaps) == 0 || strings.Contains(list, "+") || strings.Contains(list, "address of") {
		return false
	}
	list = strings.TrimSuffix(list, ")")
	for _, call := range bareCalls(list) {
		if !slices.Contains(gaps, call) {
			return false
		}
	}
	return true
}

// bareCalls turns "error at 0x1a2b in main printf at 0x1c in f" into
// "error in main", "printf in f"; a list of another shape is returned
// whole (and so matches no gap).
func bareCalls(list string) []string {
	f := strings.Fields(list)
	if len(f)%5 != 0 {
		return []string{list}
	}
	var out []string
	for i := 0; i < len(f); i += 5 {
		if f[i+1] != "at" || f[i+3] != "in" {
			return []string{list}
		}
		out = append(out, f[i]+" in "+f[i+4])
	}
	return out
}

// checkersAgree: hardening-check and checksec, which users already run,
// agree with immunix check on the canary of every ELF file of the packages
// (Disagreement).
func checkersAgree(t *testing.T, im Image, files []string) {
	for _, tool := range []string{"hardening-check", "checksec", "readelf"} {
		testenv.NeedsTool(t, tool)
	}
	views, err := CanaryViews(im, files)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, v := range views {
		count[v.Immunix]++
		if d := Disagreement(v); d != "" {
			t.Errorf("%s: %s", v.Path, d)
		}
		if v.Hardening == "yes" {
			count["hardening-yes"]++
		}
		if v.Checksec == "yes" {
			count["checksec-yes"]++
		}
	}
	t.Logf("canary of %d ELF files: immunix check pass %d, n/a %d, unknown %d, fail %d; checksec yes %d; hardening-check yes %d",
		len(views), count["pass"], count["n/a"], count["unknown"], count["fail"], count["checksec-yes"], count["hardening-yes"])
}

// splitReasons splits immunix check's "a (x, y), b (z)" list of refusals at
// the commas outside parentheses.
func splitReasons(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

// TestRebuildControl builds ed with Debian's hardening off and the plain
// toolchain (no immunix): immunix check must refuse it. Together with
// TestRebuild/ed/hardening-off passing, this shows that the protections
// come from immunix and that the gate can tell.
func TestRebuildControl(t *testing.T) {
	needRebuild(t)
	im := InstallImage(t)
	src := testenv.DebianSource(t, "ed")
	if err := EnsureBuildDeps(src); err != nil {
		t.Fatal(err)
	}
	env := HardeningOffEnv(DebianBuildEnv(CleanEnv()))
	b, err := DpkgBuild(src, env, filepath.Join(logDir(t), "ed-plain-hardening-off.log"))
	if err != nil {
		t.Fatal(err)
	}
	out, code, err := im.Check("strong", b.Debs...)
	if err != nil {
		t.Fatal(err)
	}
	if code != 1 {
		t.Errorf("immunix check --policy strong on ed built without hardening and without immunix: exit %d, want 1\n%s", code, out)
	}
	for _, prop := range []string{"canary", "fortify", "now"} {
		if !strings.Contains(out, prop) {
			t.Errorf("immunix check does not name %s among the failures:\n%s", prop, out)
		}
	}
}
