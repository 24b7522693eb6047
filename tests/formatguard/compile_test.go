package formatguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// everyC calls every wrapped function with literal and non-literal formats
// and uses the names in the ways a function-like macro must survive. It is
// C89 on purpose; newer features are behind __STDC_VERSION__.
const everyC = `#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>
#include <syslog.h>
#include <err.h>
#include <error.h>
#include <argp.h>

#ifndef __IMMUNIX_FG_ON_printf
#error "the FormatGuard headers are not active"
#endif
#if (defined __USE_ISOC99 || defined __USE_UNIX98) != defined __IMMUNIX_FG_ON_snprintf
#error "snprintf wrapped where glibc does not declare it, or not wrapped where it does"
#endif
#if defined __USE_GNU != defined __IMMUNIX_FG_ON_asprintf
#error "asprintf wrapped where glibc does not declare it, or not wrapped where it does"
#endif

struct with_fields {
	int (*printf)(const char *, ...);
	int error;
	int warn;
};

static int (*pointer)(const char *, ...) = printf;

#if defined __STDC_VERSION__ && __STDC_VERSION__ >= 199901L
#define LOG(...) printf(__VA_ARGS__)
#else
#define LOG printf
#endif
#define TWO_ARGS 1, 2

int every(const char *f, const wchar_t *wf, char *buf, size_t n, int i);

int every(const char *f, const wchar_t *wf, char *buf, size_t n, int i)
{
	struct with_fields s;
	char *out = buf;
	int r = 0;

	s.printf = printf;
	s.error = 0;
	s.warn = 1;
	(void)wf;
	(void)n;
	(void)out;

	r += printf("literal %d\n", i);
	r += printf("no arguments\n");
	r += printf(f, i);
	r += printf(f, TWO_ARGS);
	r += LOG("%d %d\n", TWO_ARGS);
	r += LOG(f, i);
	r += (printf)(f, i);
	r += pointer(f, i);
#if !(defined __clang__ && __USE_FORTIFY_LEVEL > 0)
	/* glibc itself makes printf a macro for clang with FORTIFY, which
	   breaks this call with or without FormatGuard. */
	r += s.printf(f, i);
#endif
	r += s.error + s.warn;
	r += fprintf(stderr, "literal %s\n", "x");
	r += fprintf(stderr, f, i);
	r += sprintf(buf, "%d", i);
	r += sprintf(buf, f, i);
	r += printf(i ? f : "other %d\n", i);
	r += printf(f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
		21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
		41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60,
		61, 62, 63, 64, 65, 66, 67, 68, 69, 70);
	r += printf("%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d"
		"%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d\n",
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
		21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
		41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60,
		61, 62, 63, 64, 65, 66);
#if defined __USE_ISOC99 || defined __USE_UNIX98
	r += snprintf(buf, n, "%d", i);
	r += snprintf(buf, n, f, i);
#endif
#ifdef __USE_XOPEN2K8
	r += dprintf(2, "%d\n", i);
	r += dprintf(2, f, i);
#endif
#ifdef __USE_GNU
	r += asprintf(&out, "%d", i);
	r += asprintf(&out, f, i);
	r += obstack_printf((struct obstack *)0, f, i);
#endif
#if defined __USE_ISOC95 || defined __USE_UNIX98
	r += wprintf(L"%d\n", i);
	r += wprintf(wf, i);
	r += fwprintf(stderr, wf, i);
	r += swprintf((wchar_t *)0, 0, wf, i);
#endif
#if defined __STDC_VERSION__ && __STDC_VERSION__ >= 199901L && defined IMMUNIX_FG_NO_TYPES
	/* Only with the argument classes off: see TestCompoundLiteralArgument. */
	{
		struct pt { int x, y; };
		r += printf(f, (struct pt){1, 2}.x);
	}
#endif
	syslog(LOG_INFO, "literal %d", i);
	syslog(LOG_INFO, f, i);
	warn("literal %d", i);
	warn(f, i);
	warnx(f, i);
	warn(NULL);
	error(0, 0, "literal %d", i);
	error(0, 0, f, i);
	error_at_line(0, 0, "file", 1, f, i);
	argp_failure((const struct argp_state *)0, 0, 0, f, i);
	argp_error((const struct argp_state *)0, f, i);
	if (i > 100)
		errx(1, f, i);
	if (i > 200)
		err(1, "literal %d", i);
	return r;
}
`

// everyCXX is the C++ counterpart: <cstdio>, std::printf, member calls.
const everyCXX = `#include <cstdio>
#include <cwchar>
#include <string>
#include <iostream>
#include <vector>
#include <map>
#include <err.h>
#include <error.h>

#ifndef __IMMUNIX_FG_ON_printf
#error "the FormatGuard headers are not active"
#endif

namespace app {
struct Logger {
	int level;
	int calls;
};
int use(const char *f, int i)
{
	return std::printf(f, i) + ::printf(f, i) + printf("%d\n", i);
}
}

int every(const char *f, const wchar_t *wf, char *buf, std::size_t n, int i)
{
	std::map<int, int> m;
	std::string s(f);
	int r = app::use(f, i);
	r += std::printf("literal %d\n", i);
	r += std::printf(f, i);
	r += std::printf(s.c_str(), i);
	r += std::fprintf(stderr, f, i);
	r += std::snprintf(buf, n, f, i);
	r += std::snprintf(buf, n, f, std::map<int, int>().size());
	r += std::sprintf(buf, f, (int)m.size());
	r += std::wprintf(wf, i);
	r += std::swprintf(0, 0, wf, i);
	warn(f, i);
	error(0, 0, f, i);
	std::cout << s << std::endl;
	return r;
}
`

// stdC and stdCXX are the language modes of the compile matrix.
var stdC = []string{"c89", "gnu89", "c99", "gnu99", "c11", "gnu11", "c17", "gnu17", "c2x", "gnu2x"}
var stdCXX = []string{"c++98", "gnu++98", "c++11", "c++14", "c++17", "gnu++17", "c++20"}

// TestCompileEverything compiles every wrapped function in every C and C++
// mode, with gcc and clang, with and without _FORTIFY_SOURCE, as -Werror
// -pedantic-errors: the headers must add no diagnostic and break nothing.
func TestCompileEverything(t *testing.T) {
	inc := includeDir(t)
	dir := t.TempDir()
	cfile := filepath.Join(dir, "every.c")
	cxxfile := filepath.Join(dir, "every.cc")
	if err := os.WriteFile(cfile, []byte(everyC), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cxxfile, []byte(everyCXX), 0o644); err != nil {
		t.Fatal(err)
	}
	levels := [][]string{{"-O0"}, {"-O2", "-D_FORTIFY_SOURCE=2"}, {"-O2", "-D_FORTIFY_SOURCE=3"}}
	type job struct {
		cc, file string
		args     []string
	}
	var jobs []job
	for _, cc := range testenv.Compilers() {
		for _, std := range stdC {
			for _, lv := range levels {
				jobs = append(jobs, job{cc, cfile, append([]string{"-std=" + std}, lv...)})
			}
		}
	}
	for _, cxx := range testenv.CXXCompilers() {
		for _, std := range stdCXX {
			for _, lv := range levels {
				jobs = append(jobs, job{cxx, cxxfile, append([]string{"-std=" + std}, lv...)})
			}
		}
	}
	for _, j := range jobs {
		j := j
		t.Run(j.cc+"/"+strings.Join(j.args, ""), func(t *testing.T) {
			t.Parallel()
			testenv.NeedsTool(t, j.cc)
			args := append([]string{"-isystem", inc, "-c", "-o", os.DevNull, "-Wall", "-Wextra", "-Werror", "-pedantic-errors", "-Wno-format-security", "-Wno-format-nonliteral"}, j.args...)
			args = append(args, j.file)
			out, err := exec.Command(j.cc, args...).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("%s %s: %v\n%s", j.cc, strings.Join(args, " "), err, out)
			}
		})
	}
}

// TestAllStandardHeadersCXX includes every libstdc++ header after every
// wrapped header: no libstdc++ code may trip over the macros.
func TestAllStandardHeadersCXX(t *testing.T) {
	inc := includeDir(t)
	src := "#define _GNU_SOURCE 1\n#include <stdio.h>\n#include <wchar.h>\n#include <syslog.h>\n#include <err.h>\n#include <error.h>\n#include <argp.h>\n#include <bits/stdc++.h>\nint main() { std::printf(\"%d\\n\", 1); }\n"
	p := filepath.Join(t.TempDir(), "all.cc")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cxx := range testenv.CXXCompilers() {
		for _, std := range []string{"c++11", "c++17", "c++20"} {
			testenv.NeedsTool(t, cxx)
			out, err := exec.Command(cxx, "-isystem", inc, "-std="+std, "-fsyntax-only", "-Wall", "-Werror", p).CombinedOutput()
			if err != nil {
				t.Errorf("%s -std=%s with every libstdc++ header: %v\n%s", cxx, std, err, out)
			}
		}
	}
}

// macros returns the macros defined after preprocessing src, minus
// FormatGuard's own and the names it wraps.
func macros(t *testing.T, cc string, src string, flags ...string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.c")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(cc, append(append([]string{"-E", "-dM"}, flags...), p)...).Output()
	if err != nil {
		t.Fatalf("%s -E -dM: %v", cc, err)
	}
	wrapped := map[string]bool{}
	for _, w := range []string{"printf", "fprintf", "dprintf", "sprintf", "snprintf", "asprintf", "obstack_printf", "syslog", "wprintf", "fwprintf", "swprintf", "err", "errx", "warn", "warnx", "error", "error_at_line", "argp_error", "argp_failure"} {
		wrapped[w] = true
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := f[1]
		if i := strings.IndexByte(name, '('); i >= 0 {
			name = name[:i]
		}
		if strings.HasPrefix(name, "__IMMUNIX_FG") || name == "__IMMUNIX_FORMATGUARD_H" || wrapped[name] {
			continue
		}
		keep = append(keep, line)
	}
	sort.Strings(keep)
	return keep
}

// TestFeatureMacrosUnchanged: with the headers, the include order and the
// feature-test macros give exactly the same macro set as without them
// (_GNU_SOURCE defined after a first include, strict modes, FORTIFY).
func TestFeatureMacrosUnchanged(t *testing.T) {
	inc := includeDir(t)
	srcs := map[string]string{
		"gnu-source-late":  "#include <stdio.h>\n#define _GNU_SOURCE 1\n#include <stdio.h>\n#include <wchar.h>\n#include <err.h>\n",
		"gnu-source-first": "#define _GNU_SOURCE 1\n#include <wchar.h>\n#include <stdio.h>\n#include <syslog.h>\n#include <argp.h>\n#include <error.h>\n",
		"posix-2001":       "#define _POSIX_C_SOURCE 200112L\n#include <sys/syslog.h>\n#include <stdio.h>\n",
		"xopen":            "#define _XOPEN_SOURCE 500\n#include <stdio.h>\n#include <wchar.h>\n",
	}
	var names []string
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		for _, name := range names {
			for _, flags := range [][]string{{"-std=c89"}, {"-std=gnu11"}, {"-std=c17", "-O2", "-D_FORTIFY_SOURCE=3"}} {
				without := macros(t, cc, srcs[name], flags...)
				with := macros(t, cc, srcs[name], append([]string{"-isystem", inc}, flags...)...)
				if d := diff(without, with); d != "" {
					t.Errorf("%s %s %v: macros differ with the FormatGuard headers:\n%s", cc, name, flags, d)
				}
			}
		}
	}
}

func diff(a, b []string) string {
	in := func(xs []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range xs {
			m[x] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, x := range a {
		if !mb[x] {
			out = append(out, "- "+x)
		}
	}
	for _, x := range b {
		if !ma[x] {
			out = append(out, "+ "+x)
		}
	}
	return strings.Join(out, "\n")
}
