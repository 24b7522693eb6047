package distro

import (
	"slices"
	"strings"
	"testing"
)

func TestHardeningInLog(t *testing.T) {
	log := strings.Join([]string{
		"checking whether C compiler accepts -fstack-protector-strong... yes",
		"gcc -g -O2 -fstack-protector-strong -Wformat -Werror=format-security -c -o a.o a.c",
		"gcc -g -O2 -Wformat-security -Wformat -c -o b.o b.c",
		"cc -g -O2 -fcf-protection=full -c x.c",
		"gcc -o prog a.o b.o -Wl,-z,relro -Wl,-z,now",
		"gcc -o prog a.o -Wl,-z,relro,-z,now",
		"dh_auto_configure -- 'CFLAGS=-g -O2 -fstack-protector-strong' DEB_CFLAGS_STRIP=-fstack-protector-strong",
		"cc -g -O2 -fstack-protector-strong-ish -c y.c",
		"cc -g -O2 -D_FORTIFY_SOURCE=2 -c z.c",
	}, "\n")
	hits, compiles := HardeningInLog(log, nil)
	want := []string{
		"gcc -g -O2 -fstack-protector-strong -Wformat -Werror=format-security -c -o a.o a.c",
		"cc -g -O2 -fcf-protection=full -c x.c",
		"gcc -o prog a.o b.o -Wl,-z,relro -Wl,-z,now",
		"gcc -o prog a.o -Wl,-z,relro,-z,now",
		"cc -g -O2 -D_FORTIFY_SOURCE=2 -c z.c",
	}
	if !slices.Equal(hits, want) {
		t.Errorf("hits:\n%s\nwant:\n%s", strings.Join(hits, "\n"), strings.Join(want, "\n"))
	}
	if compiles != 5 {
		t.Errorf("compiles = %d, want 5", compiles)
	}
	hits, _ = HardeningInLog("gcc -O2 -fstack-protector-strong -c a.c\n", []string{"-fstack-protector-strong"})
	if len(hits) != 0 {
		t.Errorf("an upstream flag counted: %v", hits)
	}
}

func TestHardeningOffEnv(t *testing.T) {
	env := HardeningOffEnv([]string{"PATH=/usr/bin", "DEB_CFLAGS_STRIP=old"})
	if got := Getenv(env, "DEB_BUILD_MAINT_OPTIONS"); got != "hardening=-all,+pie" {
		t.Errorf("DEB_BUILD_MAINT_OPTIONS = %q", got)
	}
	if got := Getenv(env, "DEB_CPPFLAGS_STRIP"); got != "-D_FORTIFY_SOURCE=2" {
		t.Errorf("DEB_CPPFLAGS_STRIP = %q", got)
	}
	if got := Getenv(env, "DEB_CFLAGS_STRIP"); !strings.Contains(got, "-fstack-protector-strong") || strings.Contains(got, "old") {
		t.Errorf("DEB_CFLAGS_STRIP = %q", got)
	}
}

const ccacheStatsSample = "autoconf_test\t0\ncache_miss\t6\ndirect_cache_hit\t5\ndirect_cache_miss\t7\npreprocessed_cache_hit\t1\npreprocessed_cache_miss\t6\nstats_updated_timestamp\t1764190000\n"

func TestParseCCacheStats(t *testing.T) {
	got := CCacheHitsMisses(ParseCCacheStats(ccacheStatsSample))
	if got != (CCacheCounts{Hits: 6, Misses: 6}) {
		t.Errorf("got %+v", got)
	}
}

const distccdSample = `distccd[28772] (dcc_listen_by_addr) listening on 127.0.0.1:36321
distccd[28780] compile from main.c to main.o
distccd[28780] (dcc_job_summary) client: 127.0.0.1:55202 COMPILE_OK exit:0 sig:0 core:0 ret:0 time:378ms /usr/bin/gcc main.c
distccd[28781] (dcc_job_summary) client: 127.0.0.1:55206 COMPILE_ERROR exit:1 sig:0 core:0 ret:1 time:19ms gcc parse.c
distccd[28781] (dcc_job_summary) client: 127.0.0.1:47204 OTHER exit:0 sig:0 core:0 ret:107 time:0ms 
`

func TestParseDistccdLog(t *testing.T) {
	got := ParseDistccdLog(distccdSample)
	want := []DistccJob{
		{"127.0.0.1:55202", "COMPILE_OK", "main.c"},
		{"127.0.0.1:55206", "COMPILE_ERROR", "parse.c"},
		{"127.0.0.1:47204", "OTHER", ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

const immunixLogSample = `time=2026-11-26T20:55:10Z pid=1 v=0.1.0 mode=query cc=/usr/bin/gcc dir=/b out=- pass=query
time=2026-11-26T20:55:11Z pid=2 v=0.1.0 mode=link link=exe cc=/usr/bin/cc dir=/b out=- compile-on=canary
time=2026-11-26T20:55:11Z pid=3 v=0.1.0 mode=compile cc=/usr/bin/cc dir=/b out=a.o compile-on=canary fg=retried
time=2026-11-26T20:55:12Z pid=4 v=0.1.0 mode=compile cc=/usr/bin/cc dir=/b out=b.o compile-on=canary,formatguard fg=counts
time=2026-11-26T20:55:13Z pid=5 v=0.1.0 mode=compile cc=/usr/bin/cc dir=/b out=c.o compile-on=canary,formatguard fgh=12
time=2026-11-26T20:55:13Z pid=6 v=0.1.0 mode=compile cc=/usr/bin/cc dir=/b out=d.o compile-on=canary,formatguard fgh=3
time=2026-11-26T20:55:13Z pid=7 v=0.1.0 mode=compile cc=/usr/bin/cc dir=/b out=e.o compile-on=canary,formatguard fgh=failed
not an immunix line
`

func TestParseImmunixLog(t *testing.T) {
	s := ParseImmunixLog(immunixLogSample)
	if s.Lines != 7 || s.Modes["link"] != 1 || s.Modes["compile"] != 5 || s.Passed["query"] != 1 || s.FGRetried != 1 || s.FGCounts != 1 ||
		s.FGHUnits != 2 || s.FGHCalls != 15 || s.FGHFailed != 1 {
		t.Errorf("got %s", s)
	}
	if got, want := s.String(), "7 invocations: modes compile=5,link=1,query=1; passed through query=1; formatguard retried 1, counts only 1; printf helpers: 15 calls rewritten in 2 units, 1 units failed"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// FuzzToolLogs: the readers of ccache, distccd and IMMUNIX_LOG output never
// panic and never count what is not there.
func FuzzToolLogs(f *testing.F) {
	for _, s := range []string{ccacheStatsSample, distccdSample, immunixLogSample} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := CCacheHitsMisses(ParseCCacheStats(s))
		_ = c
		jobs := ParseDistccdLog(s)
		if len(jobs) > strings.Count(s, "dcc_job_summary") {
			t.Fatalf("%d jobs from %d summary lines", len(jobs), strings.Count(s, "dcc_job_summary"))
		}
		l := ParseImmunixLog(s)
		if l.Lines > strings.Count(s, "mode=") {
			t.Fatalf("%d invocations from %d mode= fields", l.Lines, strings.Count(s, "mode="))
		}
	})
}

func TestSplitReasons(t *testing.T) {
	got := splitReasons("stamp (32 compile + 1 link notes; user-off=pie), pie (no (ET_EXEC)), canary (2/9 functions, 7 missing: a b +2 more)")
	want := []string{"stamp (32 compile + 1 link notes; user-off=pie)", "pie (no (ET_EXEC))", "canary (2/9 functions, 7 missing: a b +2 more)"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// TestOnlyGaps: the rebuild gate accepts a formatguard refusal only when
// every bare call is one of the package's documented gaps.
func TestOnlyGaps(t *testing.T) {
	gaps := []string{"error in main"}
	for _, tc := range []struct {
		detail string
		want   bool
	}{
		{"0 checked, 5 literal, 1 bare calls: error at 0x2a1b in main)", true},
		{"0 checked, 5 literal, 2 bare calls: error at 0x2a1b in main error at 0x2a40 in main)", true},
		{"0 checked, 5 literal, 2 bare calls: error at 0x2a1b in main printf at 0x2a40 in main)", false},
		{"0 checked, 5 literal, 1 bare calls: error at 0x2a1b in usage)", false},
		{"0 checked, 5 literal, 6 bare calls: error at 0x1 in main error at 0x2 in main error at 0x3 in main error at 0x4 in main error at 0x5 in main +1 more)", false},
		{"0 checked, 5 literal, 1 bare calls; address of a printf-family function taken in 1 places: error at 0x2a1b in main address of fprintf at 0x10 in main)", false},
		{"stripped static program: its printf family is not named)", false},
	} {
		if got := onlyGaps(tc.detail, gaps); got != tc.want {
			t.Errorf("onlyGaps(%q) = %v, want %v", tc.detail, got, tc.want)
		}
	}
	if onlyGaps("0 checked, 5 literal, 1 bare calls: error at 0x2a1b in main)", nil) {
		t.Error("a package without documented gaps accepted a bare call")
	}
}

func TestClockRaceOnly(t *testing.T) {
	gawk, _ := PackageByName("gawk")
	bzip2, _ := PackageByName("bzip2")
	const strftimeOnly = "1 TESTS FAILED\n============== _strftime =============\n--- strftime.ok\n+++ _strftime\n-Fri Dec  4 04:02:07 GMT 2026\n+Fri Dec  4 04:02:06 GMT 2026\n"
	tests := []struct {
		name string
		p    Package
		log  string
		want bool
	}{
		{"strftime alone", gawk, strftimeOnly, true},
		{"strftime and another", gawk, strftimeOnly + "============== _printf1 =============\n-a\n+b\n", false},
		{"another alone", gawk, "1 TESTS FAILED\n============== _fmttest =============\n", false},
		{"no failed tests named", gawk, "1 TESTS FAILED\n", false},
		{"more failed than named", gawk, strings.Replace(strftimeOnly, "1 TESTS", "2 TESTS", 1), false},
		{"two test runs failed", gawk, strftimeOnly + strftimeOnly, false},
		{"build failed elsewhere", gawk, "collect2: error: ld returned 1 exit status\n", false},
		{"a package with no clock races", bzip2, strftimeOnly, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := tt.p.ClockRaceOnly(tt.log); got != tt.want {
				t.Errorf("ClockRaceOnly = %v, want %v", got, tt.want)
			}
		})
	}
}
