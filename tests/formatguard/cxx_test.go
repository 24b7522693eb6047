package formatguard

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// memberBefore declares a member printf before <cstdio>: calls of it are
// rewritten, and compile, whatever its first parameter.
const memberBefore = `struct Logger {
	int printf(int level, const char *fmt, ...) { return level + (fmt != 0); }
	int (*sprintf)(char *, const char *, ...);
};
#include <cstdio>
int use(Logger &l, const char *fmt, char *buf)
{
	l.sprintf = std::sprintf;
	return l.printf(1, "x %d", 2) + l.printf(1, fmt, 2) + l.sprintf(buf, fmt, 3) + std::printf(fmt, 4);
}
int main() { Logger l; char buf[64]; return use(l, "%d\n", buf) < 0; }
`

// memberAfter declares a member printf after <cstdio>: the declaration
// cannot compile with the macros (docs/formatguard.md), so immunix-c++
// compiles the unit again without them.
const memberAfter = `#include <cstdio>
struct Logger {
	int printf(const char *fmt, ...) { return fmt != 0; }
};
int main() { Logger l; return l.printf("x") != 1; }
`

func TestCXXMemberFunctions(t *testing.T) {
	inc := includeDir(t)
	dir := t.TempDir()
	before, after := filepath.Join(dir, "before.cc"), filepath.Join(dir, "after.cc")
	for p, src := range map[string]string{before: memberBefore, after: memberAfter} {
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, cxx := range testenv.CXXCompilers() {
		testenv.NeedsTool(t, cxx)
		out, err := exec.Command(cxx, "-isystem", inc, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-Wno-format-security", "-Wno-format-nonliteral", "-c", "-o", os.DevNull, before).CombinedOutput()
		if err != nil {
			t.Errorf("%s: member printf declared before <cstdio>: %v\n%s", cxx, err, out)
		}
		if exec.Command(cxx, "-isystem", inc, "-c", "-o", os.DevNull, after).Run() == nil {
			t.Errorf("%s: a member printf declared after <cstdio> compiled with the macros; docs/formatguard.md says it cannot (update the docs)", cxx)
		}
		logf := filepath.Join(dir, cxx+".log")
		cmd := exec.Command(immunixCC(t, true), "-O2", "-o", filepath.Join(dir, "after-"+cxx), after)
		cmd.Env = append(os.Environ(), "IMMUNIX_CXX="+cxx, "IMMUNIX_LOG="+logf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("immunix-c++ with %s did not fall back: %v\n%s", cxx, err, out)
			continue
		}
		log, _ := os.ReadFile(logf)
		if !strings.Contains(string(log), "fg=retried") {
			t.Errorf("immunix-c++ with %s: log does not say fg=retried:\n%s", cxx, log)
		}
	}
}
