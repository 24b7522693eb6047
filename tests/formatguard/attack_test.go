package formatguard

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/formatguard"
)

// program is the attack program for one wrapped function: it reads a format
// from argv, stdin, a file or the environment (argv[1] says which) and
// passes it, with one int argument, to the function.
const program = `#define _GNU_SOURCE
#include <argp.h>
#include <err.h>
#include <errno.h>
#include <error.h>
#include <obstack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <wchar.h>

#define obstack_chunk_alloc malloc
#define obstack_chunk_free free

static char f[512];
static wchar_t w[512];
static char b[4096];
static wchar_t wb[4096];

static void get_format(int argc, char **argv)
{
	const char *src = argc > 1 ? argv[1] : "";
	if (strcmp(src, "argv") == 0 && argc > 2) {
		snprintf(f, sizeof f, "%s", argv[2]);
	} else if (strcmp(src, "stdin") == 0) {
		if (!fgets(f, sizeof f, stdin))
			f[0] = 0;
	} else if (strcmp(src, "file") == 0 && argc > 2) {
		FILE *fp = fopen(argv[2], "r");
		size_t n;
		if (!fp)
			exit(9);
		n = fread(f, 1, sizeof f - 1, fp);
		f[n] = 0;
		fclose(fp);
	} else if (strcmp(src, "env") == 0) {
		const char *e = getenv("FMT");
		snprintf(f, sizeof f, "%s", e ? e : "");
	} else {
		exit(8);
	}
	f[strcspn(f, "\n")] = 0;
	mbstowcs(w, f, 512);
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	if (key == ARGP_KEY_INIT)
		argp_error(state, f, 42);
	return ARGP_ERR_UNKNOWN;
}

int main(int argc, char **argv)
{
	struct obstack ob;
	struct argp ap;
	char *av[2];
	char *p = 0;

	(void)ob; (void)ap; (void)av; (void)p; (void)b; (void)wb; (void)parse_opt;
	get_format(argc, argv);
	CALL
	return 0;
}
`

// calls is how each wrapped function is called in its attack program.
var calls = map[string]string{
	"printf":         `printf(f, 42); fflush(stdout);`,
	"fprintf":        `fprintf(stdout, f, 42);`,
	"dprintf":        `dprintf(1, f, 42);`,
	"sprintf":        `sprintf(b, f, 42); puts(b);`,
	"snprintf":       `snprintf(b, sizeof b, f, 42); puts(b);`,
	"asprintf":       `if (asprintf(&p, f, 42) >= 0) puts(p);`,
	"obstack_printf": `obstack_init(&ob); obstack_printf(&ob, f, 42); obstack_1grow(&ob, 0); puts((char *)obstack_finish(&ob));`,
	"syslog":         `openlog("fgtest", LOG_PERROR, LOG_USER); syslog(LOG_INFO, f, 42);`,
	"wprintf":        `wprintf(w, 42);`,
	"fwprintf":       `fwprintf(stdout, w, 42);`,
	"swprintf":       `swprintf(wb, 4096, w, 42); printf("%ls\n", wb);`,
	"err":            `errno = ENOENT; err(3, f, 42);`,
	"errx":           `errx(3, f, 42);`,
	"warn":           `errno = ENOENT; warn(f, 42);`,
	"warnx":          `warnx(f, 42);`,
	"error":          `error(0, ENOENT, f, 42);`,
	"error_at_line":  `error_at_line(0, 0, "file.c", 7, f, 42);`,
	"argp_error":     `memset(&ap, 0, sizeof ap); ap.parser = parse_opt; av[0] = argv[0]; av[1] = 0; argp_parse(&ap, 1, av, 0, 0, 0);`,
	"argp_failure":   `argp_failure(0, 0, 0, f, 42);`,
}

// source feeds a format to a program one way.
type source struct {
	name string
	feed func(t *testing.T, dir, format string) (args []string, stdin string, env []string)
}

var sources = []source{
	{"argv", func(t *testing.T, dir, format string) ([]string, string, []string) {
		return []string{"argv", format}, "", nil
	}},
	{"stdin", func(t *testing.T, dir, format string) ([]string, string, []string) {
		return []string{"stdin"}, format + "\n", nil
	}},
	{"file", func(t *testing.T, dir, format string) ([]string, string, []string) {
		p := filepath.Join(dir, "format.txt")
		if err := os.WriteFile(p, []byte(format), 0o644); err != nil {
			t.Fatal(err)
		}
		return []string{"file", p}, "", nil
	}},
	{"env", func(t *testing.T, dir, format string) ([]string, string, []string) {
		return []string{"env"}, "", []string{"FMT=" + format}
	}},
}

// attacks are formats that read more than the one argument passed, or
// write through %n.
var attacks = []struct{ format, why string }{
	{"%x.%x.%x.%x.%x.%x.%x.%x", "leak"},
	{"%s%s%s%s%s%s%s%s%s%s", "leak"},
	{"%7$p", "leak"},
	{"%*d", "leak"},
	{"AAAA%n", "%n"},
	{"%1$hhn", "%n"},
}

// benign formats read at most the one argument passed.
var benign = []string{"v=%d", "plain text", "100%% %d", "%1$d=%1$x", "[%5.3d] %m"}

func TestAttackPrograms(t *testing.T) {
	for _, cc := range []string{"gcc", "clang"} {
		cc := cc
		for _, fn := range formatguard.Wrapped() {
			fn := fn
			t.Run(cc+"/"+fn.Name, func(t *testing.T) {
				t.Parallel()
				call, ok := calls[fn.Name]
				if !ok {
					t.Fatalf("no attack program for wrapped function %s", fn.Name)
				}
				src := strings.Replace(program, "CALL", call, 1)
				dir := t.TempDir()
				pdir, udir := filepath.Join(dir, "protected"), filepath.Join(dir, "plain")
				for _, d := range []string{pdir, udir} {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				prot, out, err := build(t, cc, true, pdir, "fgtest", src, nil, "-O2", "-Wno-format-security")
				if err != nil {
					t.Fatalf("immunix-cc: %v\n%s", err, out)
				}
				plain, out, err := build(t, cc, false, udir, "fgtest", src, nil, "-O2", "-Wno-format-security")
				if err != nil {
					t.Fatalf("%s: %v\n%s", cc, err, out)
				}
				testBenign(t, fn.Name, prot, plain, dir)
				testAttacks(t, fn.Name, prot, dir)
			})
		}
	}
}

func testBenign(t *testing.T, fn, prot, plain, dir string) {
	check := func(s source, format string) {
		args, stdin, env := s.feed(t, dir, format)
		got := run(t, prot, "fgtest", stdin, env, args...)
		want := run(t, plain, "fgtest", stdin, env, args...)
		got.logs, want.logs = nil, nil
		if got.signal != want.signal || got.code != want.code || got.stdout != want.stdout || got.stderr != want.stderr {
			t.Errorf("%s from %s, benign %q: protected %+v, plain %+v", fn, s.name, format, got, want)
		}
		if want.stdout == "" && want.stderr == "" {
			t.Errorf("%s from %s, benign %q printed nothing: the program does not exercise %s", fn, s.name, format, fn)
		}
	}
	for _, s := range sources {
		check(s, benign[0])
	}
	for _, f := range benign[1:] {
		check(sources[0], f)
	}
}

func testAttacks(t *testing.T, fn, prot, dir string) {
	for _, s := range sources {
		for i, a := range attacks {
			if s.name != "argv" && i > 0 && i != 4 {
				continue // every source with one leak and one %n; argv with all
			}
			args, stdin, env := s.feed(t, dir, a.format)
			r := run(t, prot, "fgtest", stdin, env, args...)
			if r.signal != syscall.SIGABRT {
				t.Errorf("%s from %s, attack %q: not stopped (signal %v, exit %d)\nstdout %q\nstderr %q", fn, s.name, a.format, r.signal, r.code, r.stdout, r.stderr)
				continue
			}
			if r.stdout != "" {
				t.Errorf("%s from %s, attack %q: printed %q before the alert", fn, s.name, a.format, r.stdout)
			}
			if len(r.logs) != 1 {
				t.Errorf("%s from %s, attack %q: %d alerts on the syslog socket, want 1: %q", fn, s.name, a.format, len(r.logs), r.logs)
				continue
			}
			var p alert.Parser
			al, err := p.ParseLine(r.logs[0])
			if err != nil {
				t.Errorf("%s: alert %q: %v", fn, r.logs[0], err)
				continue
			}
			call, _ := al.Get("call")
			if al.Kind != "formatguard" || call != fn || !strings.HasSuffix(al.Exe, "/protected/fgtest") {
				t.Errorf("%s from %s, attack %q: alert kind=%s call=%s exe=%s, want formatguard, %s, .../protected/fgtest", fn, s.name, a.format, al.Kind, call, al.Exe, fn)
			}
			if a.why == "%n" && !strings.Contains(al.Msg, "%n") || a.why == "leak" && !strings.Contains(al.Msg, "more arguments") {
				t.Errorf("%s, attack %q: msg %q does not say why", fn, a.format, al.Msg)
			}
			if strings.TrimSpace(r.stderr) != strings.TrimSpace(al.Body()) {
				t.Errorf("%s, attack %q: stderr %q, want only the alert %q", fn, a.format, r.stderr, al.Body())
			}
		}
	}
}
