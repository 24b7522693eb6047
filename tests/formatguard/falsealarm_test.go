package formatguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// The false alarms of issue 15 (item 3), each from the attacker's side:
// the unprotected program shows the hole, the protected one stops the
// attack, and valid code that FormatGuard 1 stopped, warned about or broke
// now runs as built without immunix.

// buildLang compiles src (C or C++ after ext) into dir/name, through
// immunix-cc/immunix-c++ with the real compiler cc when protected.
func buildLang(t *testing.T, cc string, protected bool, dir, name, ext, src string, env []string, flags ...string) (string, string, error) {
	t.Helper()
	testenv.NeedsTool(t, cc)
	p := filepath.Join(dir, name+ext)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, name)
	args := append(append([]string{}, flags...), "-o", exe, p)
	cxx := ext == ".cc"
	var cmd *exec.Cmd
	if protected {
		cmd = exec.Command(immunixCC(t, cxx), args...)
		v := "IMMUNIX_CC="
		if cxx {
			v = "IMMUNIX_CXX="
		}
		cmd.Env = append(append(os.Environ(), v+cc, "IMMUNIX_STRICT=1"), env...)
	} else {
		cmd = exec.Command(cc, args...)
	}
	out, err := cmd.CombinedOutput()
	return exe, string(out), err
}

// pair builds src protected and plain, in their own directories.
func pair(t *testing.T, cc, name, ext, src string, flags ...string) (prot, plain string) {
	t.Helper()
	dir := t.TempDir()
	pd, ud := filepath.Join(dir, "protected"), filepath.Join(dir, "plain")
	for _, d := range []string{pd, ud} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	prot, out, err := buildLang(t, cc, true, pd, name, ext, src, nil, flags...)
	if err != nil {
		t.Fatalf("immunix with %s: %v\n%s", cc, err, out)
	}
	if out != "" {
		t.Errorf("immunix with %s %v: diagnostics where the plain build has none:\n%s", cc, flags, out)
	}
	plain, out, err = buildLang(t, cc, false, ud, name, ext, src, nil, flags...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", cc, err, out)
	}
	return prot, plain
}

// sameAsPlain runs both builds with args and wants the same outcome, and
// no alert.
func sameAsPlain(t *testing.T, prot, plain string, args ...string) {
	t.Helper()
	got := run(t, prot, "fgtest", "", nil, args...)
	want := run(t, plain, "fgtest", "", nil, args...)
	if len(got.logs) != 0 {
		t.Errorf("%q: false alarm: %q", args, got.logs)
	}
	got.logs, want.logs = nil, nil
	if got.signal != want.signal || got.code != want.code || got.stdout != want.stdout || got.stderr != want.stderr {
		t.Errorf("%q: protected %+v, plain %+v", args, got, want)
	}
}

// stopped runs the protected build with args and wants the formatguard
// alert with the given passed= and demanded=, and nothing printed.
func stopped(t *testing.T, prot, passed, demanded string, args ...string) {
	t.Helper()
	r := run(t, prot, "fgtest", "", nil, args...)
	if r.signal != syscall.SIGABRT || len(r.logs) != 1 {
		t.Errorf("%q: not stopped: signal %v exit %d alerts %q stdout %q", args, r.signal, r.code, r.logs, r.stdout)
		return
	}
	want := " passed=" + passed + " demanded=" + demanded + " "
	if !strings.Contains(r.logs[0], "kind=formatguard") || !strings.Contains(r.logs[0], want) {
		t.Errorf("%q: alert %q, want kind=formatguard and%s", args, r.logs[0], want)
	}
	if r.stdout != "" {
		t.Errorf("%q: printed %q before the alert", args, r.stdout)
	}
}

// packProgram forwards a parameter pack to printf (issue 15: "passed=1
// demanded=3" under FormatGuard 1, and an empty pack counted as 1).
const packProgram = `#include <cstdio>
template <class... A> void log_line(const char *f, A... a) { std::printf(f, a...); std::fflush(stdout); }
template <class... A> int log_to(char *buf, const char *f, A... a) { return std::snprintf(buf, 64, f, a...); }
int main(int argc, char **argv)
{
	char buf[64];
	const char *f = argc > 1 ? argv[1] : "";
	const char *g = argc > 2 ? argv[2] : "";
	log_line(f, 3, 4, "ok");
	log_line(g);
	if (log_to(buf, f, 5, 6, "ok") >= 0)
		std::puts(buf);
	return 0;
}
`

func TestVariadicTemplatePacks(t *testing.T) {
	for _, cxx := range testenv.CXXCompilers() {
		for _, std := range []string{"-std=c++11", "-std=c++20"} {
			t.Run(cxx+std, func(t *testing.T) {
				prot, plain := pair(t, cxx, "fgtest", ".cc", packProgram, "-O2", std, "-Wno-format-security")
				// The unprotected program leaks: two stack words for the
				// pack of three, three for the empty pack.
				r := run(t, plain, "fgtest", "", nil, "%d %d %s|%x.%x", "[%x.%x.%x]")
				if !strings.Contains(r.stdout, "3 4 ok|") || !strings.Contains(r.stdout, "[") {
					t.Fatalf("plain program did not run as expected: %+v", r)
				}
				sameAsPlain(t, prot, plain, "%d files, %d dirs, %s\n", "empty pack\n")
				sameAsPlain(t, prot, plain, "%2$d %1$d %3$s\n", "100%%\n")
				stopped(t, prot, "3", "5", "%d %d %s|%x.%x", "x")
				stopped(t, prot, "0", "3", "", "[%x.%x.%x]")
			})
		}
	}
}

// fieldProgram has struct fields named like wrapped functions whose first
// argument is no format. ptr points at "%x%x%x%n": FormatGuard 1 checked it
// as a format (a false alarm at run time), and gcc warned at every call.
const fieldProgram = `#include <stdio.h>
#include <syslog.h>
#include <err.h>
struct ops {
	int (*printf)(void *, int);
	int (*fprintf)(void *, int);
	int (*syslog)(long, int);
	int (*warnx)(double);
};
static int one(void *p, int x) { return p != 0 ? x : -x; }
static int two(long l, int x) { return (int)l + x; }
static int three(double d) { return (int)d; }
int main(int argc, char **argv)
{
	static char data[] = "%x%x%x%n";
	struct ops o, *s = &o;
	void *ptr = data;
	int r;
	o.printf = one;
	o.fprintf = one;
	o.syslog = two;
	o.warnx = three;
	r = o.printf(ptr, 3) + s->fprintf(ptr, 4) + s->syslog(5L, 6) + o.warnx(2.0);
	printf(argc > 1 ? argv[1] : "%d\n", r);
	return 0;
}
`

func TestStructFieldsNamedLikeWrappedFunctions(t *testing.T) {
	for _, cc := range testenv.Compilers() {
		for _, opt := range []string{"-O0", "-O2"} {
			t.Run(cc+opt, func(t *testing.T) {
				env := []string{}
				if strings.Contains(cc, "clang") && opt != "-O0" {
					// glibc 2.36 makes printf & co. macros calling
					// __printf_chk for clang under _FORTIFY_SOURCE, which
					// breaks o.printf(...) with or without immunix (see
					// docs/formatguard.md); FormatGuard alone is tested.
					env = append(env, "IMMUNIX_DISABLE=fortify")
					plain := exec.Command(cc, opt, "-D_FORTIFY_SOURCE=2", "-x", "c", "-c", "-o", os.DevNull, "-")
					plain.Stdin = strings.NewReader(fieldProgram)
					if plain.Run() == nil {
						t.Errorf("%s %s -D_FORTIFY_SOURCE=2 compiles o.printf(...) now: drop IMMUNIX_DISABLE=fortify here", cc, opt)
					}
				}
				dir := t.TempDir()
				pd, ud := filepath.Join(dir, "protected"), filepath.Join(dir, "plain")
				for _, d := range []string{pd, ud} {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				flags := []string{opt, "-Wall", "-Wextra", "-Werror", "-Wno-format-security"}
				prot, out, err := buildLang(t, cc, true, pd, "fgtest", ".c", fieldProgram, env, flags...)
				if err != nil || out != "" {
					t.Fatalf("immunix-cc with %s %v: %v\n%s", cc, flags, err, out)
				}
				plain, out, err := buildLang(t, cc, false, ud, "fgtest", ".c", fieldProgram, nil, flags...)
				if err != nil {
					t.Fatalf("%s: %v\n%s", cc, err, out)
				}
				sameAsPlain(t, prot, plain)
				sameAsPlain(t, prot, plain, "r=%d\n")
				// The real printf next to the fields is still protected.
				stopped(t, prot, "1", "3", "%x%x%x")
			})
		}
	}
}

// registerProgram registers %W, which takes one int (glibc's arginfo). The
// runtime's parser alone counts %W as taking nothing: "%W%W%W" with one
// argument leaked two stack words under FormatGuard 1.
const registerProgram = `#include <printf.h>
#include <stdio.h>
#include <string.h>

static int print_w(FILE *s, const struct printf_info *info, const void *const *args)
{
	(void)info;
	return fprintf(s, "<W:%x>", *(const unsigned *)args[0]);
}

static int arginfo_w(const struct printf_info *info, size_t n, int *types, int *size)
{
	(void)info;
	if (n > 0) {
		types[0] = PA_INT;
		size[0] = sizeof(int);
	}
	return 1;
}

static int arginfo_old(const struct printf_info *info, size_t n, int *types)
{
	(void)info;
	if (n > 0)
		types[0] = PA_INT;
	return 1;
}

int main(int argc, char **argv)
{
	char buf[128];
	if (argc < 3)
		return 2;
	if (strcmp(argv[1], "old") == 0)
		register_printf_function('W', print_w, arginfo_old);
	else
		register_printf_specifier('W', print_w, arginfo_w);
	snprintf(buf, sizeof buf, argv[2], 0x42);
	puts(buf);
	return 0;
}
`

func TestRegisteredConversions(t *testing.T) {
	for _, cc := range testenv.Compilers() {
		t.Run(cc, func(t *testing.T) {
			prot, plain := pair(t, cc, "fgtest", ".c", registerProgram, "-O2", "-Wno-format", "-Wno-format-security", "-Wno-deprecated-declarations")
			for _, api := range []string{"specifier", "old"} {
				r := run(t, plain, "fgtest", "", nil, api, "%W%W%W")
				if strings.Count(r.stdout, "<W:") != 3 || !strings.HasPrefix(r.stdout, "<W:42>") {
					t.Fatalf("plain program did not read three words for %%W%%W%%W: %+v", r)
				}
				sameAsPlain(t, prot, plain, api, "%W")
				sameAsPlain(t, prot, plain, api, "v=%W 100%%")
				sameAsPlain(t, prot, plain, api, "%1$W %1$W")
				stopped(t, prot, "1", "3", api, "%W%W%W")
				stopped(t, prot, "1", "2", api, "%W|%d")
			}
		})
	}
}

// convProgram keeps its format in a class that converts to const char *:
// FormatGuard 1 handed such objects through unchecked.
const convProgram = `#include <cstdio>
#include <cwchar>
class Format {
public:
	explicit Format(const char *p) : p_(p) {}
	operator const char *() const { return p_; }
private:
	const char *p_;
};
int main(int argc, char **argv)
{
	Format f(argc > 1 ? argv[1] : "%d\n");
	char buf[64];
	std::printf(f, 7);
	std::fflush(stdout);
	if (std::snprintf(buf, sizeof buf, f, 8) >= 0)
		std::puts(buf);
	return 0;
}
`

func TestConversionOperatorFormat(t *testing.T) {
	for _, cxx := range testenv.CXXCompilers() {
		for _, std := range []string{"-std=c++98", "-std=c++17"} {
			t.Run(cxx+std, func(t *testing.T) {
				prot, plain := pair(t, cxx, "fgtest", ".cc", convProgram, "-O2", std, "-Wno-format-security")
				r := run(t, plain, "fgtest", "", nil, "7=%x.%x.%x")
				if !strings.HasPrefix(r.stdout, "7=7.") {
					t.Fatalf("plain program did not run as expected: %+v", r)
				}
				sameAsPlain(t, prot, plain, "v=%d\n")
				sameAsPlain(t, prot, plain, "100%%")
				stopped(t, prot, "1", "3", "7=%x.%x.%x")
				stopped(t, prot, "1", "1", "%n")
			})
		}
	}
}
