package distro

import (
	"debug/elf"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/testenv"
)

// projSources are the translation units of testdata/proj.
var projSources = []string{"main.c", "parse.c", "fmt.c", "table.c", "hash.c", "buf.c"}

// project copies testdata/proj into a new directory.
func project(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "proj")
	if err := CopyTree(filepath.Join("testdata", "proj"), dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// makeProj runs make clean, then make ARGS check, in dir under env.
func makeProj(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	if out, err := Run(dir, env, "make", "clean"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := Run(dir, env, "make", append(args, "check")...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// objStamp returns the compile note of an object file.
func objStamp(t *testing.T, obj string) stamp.Stamp {
	t.Helper()
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	notes, err := stamp.Read(f)
	if err != nil {
		t.Fatalf("read notes of %s: %v", obj, err)
	}
	for _, n := range notes {
		if n.Type == stamp.Compile {
			return n
		}
	}
	t.Fatalf("%s has no immunix compile note: not built through immunix-cc", filepath.Base(obj))
	return stamp.Stamp{}
}

// requireStamps checks every object of the project against want: the
// version, and whether formatguard is on or off.
func requireStamps(t *testing.T, dir, version string, formatguard bool) {
	t.Helper()
	for _, src := range projSources {
		s := objStamp(t, filepath.Join(dir, strings.TrimSuffix(src, ".c")+".o"))
		if s.Version != version {
			t.Errorf("%s: stamp version %q, want %q (a stale cached object?)", src, s.Version, version)
		}
		if s.Has("formatguard") != formatguard || (!formatguard && !slices.Contains(s.Off, "formatguard")) {
			t.Errorf("%s: stamp %q, want formatguard on=%v (a stale cached object?)", src, s, formatguard)
		}
		// buf.c calls its own printf helper: the helper pass rewrites the
		// call and the v*printf call in it, under any launcher.
		if want := map[bool]string{true: "2", false: ""}[formatguard && src == "buf.c"]; s.Extra["fgh"] != want {
			t.Errorf("%s: stamp %q, want fgh=%q (the printf helper pass)", src, s, want)
		}
	}
}

// step runs one build of the cache scenario and checks ccache's counters
// moved by exactly wantHits hits and wantMisses misses.
func ccacheStep(t *testing.T, name, dir string, env []string, wantHits, wantMisses int64, args ...string) {
	t.Helper()
	before, err := ReadCCacheStats(env)
	if err != nil {
		t.Fatal(err)
	}
	makeProj(t, dir, env, args...)
	after, err := ReadCCacheStats(env)
	if err != nil {
		t.Fatal(err)
	}
	hits, misses := after.Hits-before.Hits, after.Misses-before.Misses
	t.Logf("%s: ccache %d hits, %d misses", name, hits, misses)
	if hits != wantHits || misses != wantMisses {
		t.Errorf("%s: ccache %d hits and %d misses, want %d and %d", name, hits, misses, wantHits, wantMisses)
	}
}

// cacheScenario builds the project five times through one ccache
// arrangement and requires: a cold build misses every unit; a rebuild hits
// every unit; a policy change (IMMUNIX_DISABLE=formatguard) misses every
// unit and stamps the objects accordingly; the old policy hits again with
// correct stamps; an immunix upgrade (a new immunix-cc at the same path
// with another version) misses every unit and stamps the new version.
func cacheScenario(t *testing.T, env func(policyOff string) []string, ccPath string, args ...string) {
	im := InstallImage(t)
	dir := project(t)
	n := int64(len(projSources))
	ccacheStep(t, "cold", dir, env(""), 0, n, args...)
	requireStamps(t, dir, "0.1.0", true)
	ccacheStep(t, "rebuild", dir, env(""), n, 0, args...)
	requireStamps(t, dir, "0.1.0", true)
	ccacheStep(t, "policy IMMUNIX_DISABLE=formatguard", dir, env("formatguard"), 0, n, args...)
	requireStamps(t, dir, "0.1.0", false)
	ccacheStep(t, "policy back to default", dir, env(""), n, 0, args...)
	requireStamps(t, dir, "0.1.0", true)

	// The upgrade: ccPath is a private copy of immunix-cc; replace it.
	if err := BuildVersionedCC(testenv.ModuleRoot(t), "0.1.0-upgrade", ccPath+".new"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(ccPath+".new", ccPath); err != nil {
		t.Fatal(err)
	}
	ccacheStep(t, "immunix upgrade", dir, env(""), 0, n, args...)
	requireStamps(t, dir, "0.1.0-upgrade", true)
	if out, code, err := im.Check("immunix", filepath.Join(dir, "proj")); err != nil || code != 0 {
		t.Errorf("immunix check --policy immunix proj: exit %d %v\n%s", code, err, out)
	}
}

// privateCC copies the image's immunix-cc into a directory of its own
// (so the upgrade step can replace it) and returns the directory.
func privateCC(t *testing.T, im Image) string {
	t.Helper()
	bin := t.TempDir()
	data, err := os.ReadFile(im.CC())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "immunix-cc"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func ccacheEnv(t *testing.T, im Image) []string {
	return Setenv(im.ToolEnv(CleanEnv()), "CCACHE_DIR", filepath.Join(t.TempDir(), "ccache"))
}

// TestCCacheInFront: CC="ccache immunix-cc", with the compiler_check that
// docs/distro.md gives (CCacheCheck).
func TestCCacheInFront(t *testing.T) {
	testenv.NeedsTool(t, "ccache")
	im := InstallImage(t)
	bin := privateCC(t, im)
	base := Setenv(ccacheEnv(t, im), "CCACHE_COMPILERCHECK", CCacheCheck)
	env := func(off string) []string {
		e := base
		if off != "" {
			e = Setenv(e, "IMMUNIX_DISABLE", off)
		}
		return e
	}
	cacheScenario(t, env, filepath.Join(bin, "immunix-cc"), "CC=ccache "+filepath.Join(bin, "immunix-cc"))
}

// TestCCacheBehind: immunix-cc with IMMUNIX_CC="ccache gcc". ccache sees
// the final command line, build stamp included, so no configuration is
// needed.
func TestCCacheBehind(t *testing.T) {
	testenv.NeedsTool(t, "ccache")
	im := InstallImage(t)
	bin := privateCC(t, im)
	base := Setenv(ccacheEnv(t, im), "IMMUNIX_CC", "ccache gcc")
	env := func(off string) []string {
		e := base
		if off != "" {
			e = Setenv(e, "IMMUNIX_DISABLE", off)
		}
		return e
	}
	cacheScenario(t, env, filepath.Join(bin, "immunix-cc"), "CC="+filepath.Join(bin, "immunix-cc"))
}

// TestCCacheMasquerade puts ccache's masquerade directory (/usr/lib/ccache)
// and immunix's farm in one PATH, in both orders, and builds with plain
// "make" (CC=cc). No recursion: immunix-cc runs exactly once per compile
// and link (IMMUNIX_LOG), the second build hits ccache for every unit, and
// the program passes immunix check.
func TestCCacheMasquerade(t *testing.T) {
	testenv.NeedsTool(t, "ccache")
	if _, err := os.Stat("/usr/lib/ccache/cc"); err != nil {
		testenv.Missing(t, "ccache's masquerade directory /usr/lib/ccache (Debian package ccache)")
	}
	im := InstallImage(t)
	for _, order := range []string{"ccache-first", "immunix-first"} {
		t.Run(order, func(t *testing.T) {
			env := Setenv(CleanEnv(), "CCACHE_DIR", filepath.Join(t.TempDir(), "ccache"))
			if order == "ccache-first" {
				env = PrependPath(env, "/usr/lib/ccache", im.Farm(), im.Bin())
				env = Setenv(env, "CCACHE_COMPILERCHECK", CCacheCheck)
			} else {
				env = PrependPath(env, im.Farm(), "/usr/lib/ccache", im.Bin())
			}
			env = Setenv(env, "IMMUNIX_CACHE_DIR", im.Cache)
			immLog := filepath.Join(t.TempDir(), "immunix.log")
			env = Setenv(env, "IMMUNIX_LOG", immLog)
			dir := project(t)
			n := int64(len(projSources))
			ccacheStep(t, "cold", dir, env, 0, n)
			requireStamps(t, dir, "0.1.0", true)
			data, err := os.ReadFile(immLog)
			if err != nil {
				t.Fatal(err)
			}
			sum := ParseImmunixLog(string(data))
			if sum.Modes["compile"] != len(projSources) || sum.Modes["link"] != 1 {
				t.Errorf("immunix-cc ran %s; want exactly %d compiles and 1 link (recursion or a missed unit)", sum, len(projSources))
			}
			ccacheStep(t, "rebuild", dir, env, n, 0)
			requireStamps(t, dir, "0.1.0", true)
			if out, code, err := im.Check("immunix", filepath.Join(dir, "proj")); err != nil || code != 0 {
				t.Errorf("immunix check --policy immunix proj: exit %d %v\n%s", code, err, out)
			}
		})
	}
}

// TestDistcc starts a real distccd on 127.0.0.1, builds the project with
// CC=immunix-cc and IMMUNIX_CC="distcc gcc", and proves from distccd's own
// log that every unit was compiled by the daemon; the objects carry the
// stamp (it travels in the preprocessed source) and the program passes
// immunix check.
func TestDistcc(t *testing.T) {
	testenv.NeedsTool(t, "distcc")
	testenv.NeedsTool(t, "distccd")
	im := InstallImage(t)
	d, err := StartDistccd(2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	env := im.ToolEnv(CleanEnv())
	env = Setenv(env, "IMMUNIX_CC", "distcc gcc")
	env = Setenv(env, "DISTCC_HOSTS", d.Hosts())
	env = Setenv(env, "DISTCC_FALLBACK", "0") // a failed remote compile fails the build
	env = Setenv(env, "DISTCC_DIR", t.TempDir())
	dir := project(t)
	makeProj(t, dir, env, "-j4", "CC=immunix-cc")
	jobs := ParseDistccdLog(d.Log())
	var remote []string
	for _, j := range jobs {
		if j.Status != "COMPILE_OK" {
			t.Errorf("distccd job %+v did not succeed", j)
		}
		if strings.HasPrefix(j.Client, "127.0.0.1:") {
			// buf.c is sent as the helper pass's rewritten text, buf.i
			src := j.Source
			if strings.HasSuffix(src, ".i") {
				src = strings.TrimSuffix(filepath.Base(src), ".i") + ".c"
			}
			remote = append(remote, src)
		}
	}
	slices.Sort(remote)
	want := slices.Clone(projSources)
	slices.Sort(want)
	if !slices.Equal(remote, want) {
		t.Errorf("distccd compiled %v; want every unit %v\n%s", remote, want, tail(d.Log(), 60))
	}
	requireStamps(t, dir, "0.1.0", true)
	if out, code, err := im.Check("immunix", filepath.Join(dir, "proj")); err != nil || code != 0 {
		t.Errorf("immunix check --policy immunix proj: exit %d %v\n%s", code, err, out)
	}
}
