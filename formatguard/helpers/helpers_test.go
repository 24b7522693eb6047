package helpers

import (
	"strings"
	"testing"
)

// TestRewrite: which calls change, on preprocessed text as gcc and clang
// write it (line markers, system-header regions inside a user's line).
func TestRewrite(t *testing.T) {
	const sysStart = "# 1 \"/usr/include/stdio.h\" 1 3 4\n"
	const sysDecl = sysStart + "extern int vfprintf (FILE *s, const char *f, __gnuc_va_list a);\n" +
		"extern void lib_log (const char *f, ...) __attribute__ ((__format__ (__printf__, 1, 2)));\n" +
		"# 3 \"u.c\" 2\n"
	for _, tc := range []struct {
		name               string
		src                string
		helpers, forwarder string
		calls, vcalls      int
		has, hasNot        []string
	}{
		{"static helper, one level", sysDecl + `static void log_msg(const char *fmt, ...) { va_list ap; vfprintf(stdout, fmt, ap); }
int main(int c, char **v) { log_msg(v[1], 1, 2.0); log_msg("lit %d", 1); return 0; }
`, "log_msg", "", 1, 1, []string{"__immunix_fg_hset (2u", "__immunix_fg_vfprintf (", `log_msg("lit %d", 1)`}, nil},
		{"two levels", sysDecl + `static void vlog(const char *f, va_list ap) { vfprintf(stdout, f, ap); }
static void log_msg(int l, const char *fmt, ...) { va_list ap; vlog(fmt, ap); }
void g(char *s) { log_msg(1, s); }
`, "log_msg", "vlog", 1, 1, []string{"__immunix_fg_hset (0u,  s)"}, nil},
		{"attribute, declared only", `void say(const char *f, ...) __attribute__((format(printf, 1, 2)));
void g(char *s, int x) { say(s, x); }
`, "say", "", 1, 0, []string{"__immunix_fg_hset (1u"}, []string{"__immunix_fg_vfprintf"}},
		{"a helper declared in a system header is not instrumented", sysDecl + `void g(char *s) { lib_log(s, 1); vfprintf(stdout, s, 0); }
`, "", "", 0, 0, nil, []string{"__immunix_fg"}},
		{"no helper: v*printf calls stay bare, text unchanged", sysDecl + `void g(char *s, va_list ap) { char *fmt = s; vfprintf(stdout, fmt, ap); }
`, "", "", 0, 0, nil, []string{"__immunix_fg"}},
		{"struct field and pointer calls untouched", sysDecl + `struct o { void (*log_msg)(const char *, ...); };
static void log_msg(const char *fmt, ...) { va_list ap; vfprintf(stdout, fmt, ap); }
void g(struct o *p, struct o q, char *s) { p->log_msg(s); q.log_msg(s); (p->log_msg)(s); }
`, "log_msg", "", 0, 1, nil, []string{"__immunix_fg_hset"}},
		{"after a label, a case and a conditional's colon", sysDecl + `static void log_msg(const char *fmt, ...) { va_list ap; vfprintf(stdout, fmt, ap); }
void g(char *s, int c) { switch (c) { case 1: log_msg(s); default: log_msg(s, 1); } out: c ? log_msg(s) : log_msg(s, 2); }
`, "log_msg", "", 4, 1, []string{"__immunix_fg_hset (0u", "__immunix_fg_hset (1u"}, nil},
		// gawk: #define fatal (*(set_loc(__FILE__, __LINE__), r_fatal))
		{"a helper called through a parenthesised expression (gawk's fatal)", sysDecl + `extern void set_loc(const char *, int);
static void r_fatal(const char *fmt, ...) { va_list ap; vfprintf(stderr, fmt, ap); }
void g(char *s, int x) { if (x) (*(set_loc("u.c", 5), r_fatal))(s, x); else (r_fatal)(s); (*(set_loc("u.c", 6), r_fatal))("lit %d", x); }
int h(char *s) { return (*r_fatal)(s, 1, 2), 0; }
`, "r_fatal", "", 3, 1, []string{`({ extern void __immunix_fg_hsave`, `(*(set_loc("u.c", 5), r_fatal)) ((__typeof__ ((s) + 0)) __immunix_fg_hset (1u`, `(r_fatal) ((__typeof__ ((s) + 0)) __immunix_fg_hset (0u`,
			`(*r_fatal) ((__typeof__ ((s) + 0)) __immunix_fg_hset (2u`, `(*(set_loc("u.c", 6), r_fatal))("lit %d", x)`}, nil},
		{"a parenthesised helper that is an argument list or a choice is left alone", sysDecl + `typedef void (*fp)(const char *, ...);
static void log_msg(const char *fmt, ...) { va_list ap; vfprintf(stdout, fmt, ap); }
extern fp (*get(int))(fp);
void g(char *s, int c) { get(1)(log_msg)(s); (c ? log_msg : log_msg)(s); a[0] (log_msg)(s); }
`, "log_msg", "", 0, 1, nil, []string{"__immunix_fg_hset"}},
		{"nested helper calls and a compound literal", sysDecl + `struct pt { int x, y; };
static int log_msg(const char *fmt, ...) { va_list ap; return vfprintf(stdout, fmt, ap); }
void g(char *s) { log_msg(s, (struct pt){1, 2}.x, log_msg(s, 3)); }
`, "log_msg", "", 2, 1, []string{"__immunix_fg_hset (2u", "__immunix_fg_hset (1u"}, nil},
		{"wide helper", sysStart + "extern int vfwprintf (FILE *s, const wchar_t *f, __gnuc_va_list a);\n# 2 \"u.c\" 2\n" +
			`static void wl(const wchar_t *fmt, ...) { va_list ap; vfwprintf(stdout, fmt, ap); }
void g(wchar_t *s) { wl(s, 1); }
`, "wl", "", 1, 1, []string{"__immunix_fg_hwset (1u", "__immunix_fg_vfwprintf ("}, nil},
		{"pointer to a printf-like function (gawk's lintfunc) and a local one beside it", `extern void r_fatal(const char *mesg, ...) __attribute__((format(printf, 1, 2)));
extern void (*lintfunc)(const char *mesg, ...) __attribute__((format(printf, 1, 2)));
void g(char *s) { void (*messagefunc)(const char *mesg, ...) = r_fatal; messagefunc(s); lintfunc(s, 1); }
`, "r_fatal,lintfunc", "", 1, 0, []string{"__immunix_fg_hset (1u", "void (*messagefunc)(const char *mesg, ...) = r_fatal;"}, nil},
		{"a system macro's expansion inside the user's call", sysDecl + `static void log_msg(const char *fmt, ...) { va_list ap; vfprintf(
# 4 "u.c" 3 4
 stdout
# 4 "u.c"
 , fmt, ap); }
void g(char *s) { log_msg(s,
# 5 "u.c" 3 4
 stdout
# 5 "u.c"
 ); }
`, "log_msg", "", 1, 1, []string{"__immunix_fg_vfprintf (", "__immunix_fg_hset (1u"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, st, err := Rewrite([]byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(st.Helpers, ",") != tc.helpers || strings.Join(st.Forwarders, ",") != tc.forwarder || st.Calls != tc.calls || st.VCalls != tc.vcalls {
				t.Errorf("stats %+v", st)
			}
			for _, s := range tc.has {
				if !strings.Contains(string(out), s) {
					t.Errorf("no %q in\n%s", s, out)
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(string(out), s) {
					t.Errorf("%q in\n%s", s, out)
				}
			}
			if !st.Changed() && string(out) != tc.src {
				t.Errorf("unchanged unit rewritten:\n%s", out)
			}
			if got, want := strings.Count(string(out), "\n"), strings.Count(tc.src, "\n"); got != want {
				t.Errorf("%d lines, want %d: the user's line numbers moved", got, want)
			}
		})
	}
}

// TestRewriteBadInput: an unterminated literal is an error, not a panic.
func TestRewriteBadInput(t *testing.T) {
	if _, _, err := Rewrite([]byte("void f(void) { g(\"abc); }\n")); err == nil {
		t.Error("no error for an unterminated string")
	}
}

// FuzzRewrite: any text is read without a panic, and a rewrite keeps the
// number of lines.
func FuzzRewrite(f *testing.F) {
	f.Add([]byte("static void l(const char *f, ...) { vfprintf(0, f, 0); }\nvoid g(char *s) { l(s, 1); }\n"))
	f.Add([]byte("# 1 \"a.h\" 1 3 4\nvoid h(const char *, ...) __attribute__((format(printf,1,2)));\n# 2 \"u.c\" 2\nvoid g(char *s) { h(s, (struct p){1,2}); }\n"))
	f.Add([]byte("int x = '\\'' ; void f() { { ( [ } ] ) ... -> }"))
	f.Add([]byte("namespace a { static void l(const char *f, ...) { vfprintf(0, f, 0); } }\nvoid g(const char *s) { a::l(s, R\"x(\")x\", 1'000); }\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		// C, and C++ with the FormatGuard header's names declared
		cxx := append([]byte("__immunix_fg_hpass __immunix_fg_cnt ; "), src...)
		for _, in := range []struct {
			src     []byte
			rewrite func([]byte) ([]byte, Stats, error)
		}{{src, Rewrite}, {cxx, RewriteCXX}} {
			out, st, err := in.rewrite(in.src)
			if err != nil {
				continue
			}
			if st.Changed() && strings.Count(string(out), "\n") != strings.Count(string(in.src), "\n") {
				t.Errorf("lines changed: %q -> %q", in.src, out)
			}
		}
	})
}

func TestMayDefineHelper(t *testing.T) {
	for src, want := range map[string]bool{
		"static void log_msg(const char *f, ...) { va_list ap; va_start(ap, f); vfprintf(stderr, f, ap); }": true,
		"void vlog(const char *f, va_list ap);":                                           true,
		"void log_msg(const char *f, ...) __attribute__((format(printf, 1, 2)));":         true,
		"void log_msg(const char *f, ...) __attribute__((__format__(__printf__, 1, 2)));": true,
		"int main(void) { printf(\"%d\\n\", 1); return 0; }":                              false,
		"char *format = \"x\"; int f(void) { return printf(format); }":                    false,
		"": false,
	} {
		if got := MayDefineHelper([]byte(src)); got != want {
			t.Errorf("MayDefineHelper(%q) = %v, want %v", src, got, want)
		}
	}
}

// TestRewriteCXX: C++ units go through the header's overloads and count,
// and nothing inside a raw string is taken for a call.
func TestRewriteCXX(t *testing.T) {
	const header = "# 1 \"/usr/include/immunix-formatguard.h\" 1 3 4\n" +
		"extern \"C\" int vfprintf (FILE *s, const char *f, __gnuc_va_list a);\n" +
		"inline const char *__immunix_fg_hpass (unsigned int __n, const char *__f);\n" +
		"template <class... __T> char (&__immunix_fg_cnt (const __T &...))[1];\n" +
		"# 5 \"u.cc\" 2\n"
	const helper = "static void log_msg(const char *fmt, ...) { va_list ap; vfprintf(stdout, fmt, ap); }\n"
	for _, tc := range []struct {
		name          string
		src           string
		calls, vcalls int
		has, hasNot   []string
	}{
		{"count and classes from the header, the runtime's functions as it declares them", header + helper +
			"template <class... A> void g(const char *s, A... a) { log_msg(s, 1'000, a...); }\n", 1, 1,
			[]string{`::__immunix_fg_hpass (static_cast<unsigned int> (sizeof (::__immunix_fg_cnt ( 1'000,  a...)) - 1), s)`,
				`__immunix_fg_hsave (__immunix_fg_h1)`, `vfprintf (stdout, ::__immunix_fg_vfprintf ( fmt), ap)`}, []string{"extern void __immunix_fg_hsave", "extern const char *__immunix_fg_vfprintf"}},
		{"a raw string holding a call is text", header + helper +
			"void g(const char *s) { const char *r = R\"x(\" log_msg(s); \")x\"; log_msg(r); }\n", 1, 1,
			[]string{`R"x(" log_msg(s); ")x"`}, nil},
		{"C++98: the count alone", strings.Replace(header, "template <class... __T> char (&__immunix_fg_cnt (const __T &...))[1];\n", "\n", 1) + helper +
			"void g(const char *s) { log_msg(s, 1, 2.0); }\n", 1, 1,
			[]string{`::__immunix_fg_hpass (2u, s)`}, []string{"_Generic", "__immunix_fg_cnt ("}},
		{"namespaces and extern \"C\" blocks are read, class bodies are not", header +
			"namespace a { inline namespace v1 { namespace b::c { " + helper + " void g(const char *s) { log_msg(s, 1); } } } }\n" +
			"namespace { void h(const char *s) { a::log_msg(s); } }\nextern \"C\" { void k(const char *s) { log_msg(s, 2, 3); } }\n" +
			"struct S { void m(const char *s) { log_msg(s); } };\n" +
			"template <class T> struct Q { static void log_msg(const char *, ...); };\nvoid q(const char *s) { Q<int>::log_msg(s); ::a::log_msg(s, 4); }\n", 4, 1,
			[]string{"::__immunix_fg_hpass (static_cast<unsigned int> (sizeof (::__immunix_fg_cnt ( 1)) - 1), s)", "a::log_msg (::__immunix_fg_hpass", "sizeof (::__immunix_fg_cnt ( 2,  3))", "struct S { void m(const char *s) { log_msg(s); } };",
				"Q<int>::log_msg(s);", "::a::log_msg (::__immunix_fg_hpass (static_cast<unsigned int> (sizeof (::__immunix_fg_cnt ( 4))"}, nil},
		{"without the FormatGuard header nothing changes", helper + "void g(const char *s) { log_msg(s); }\n", 0, 0, nil, []string{"__immunix_fg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, st, err := RewriteCXX([]byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if st.Calls != tc.calls || st.VCalls != tc.vcalls {
				t.Errorf("stats %+v, want %d calls and %d v*printf calls", st, tc.calls, tc.vcalls)
			}
			for _, s := range tc.has {
				if !strings.Contains(string(out), s) {
					t.Errorf("no %q in\n%s", s, out)
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(string(out), s) {
					t.Errorf("%q in\n%s", s, out)
				}
			}
			if got, want := strings.Count(string(out), "\n"), strings.Count(tc.src, "\n"); got != want {
				t.Errorf("%d lines, want %d", got, want)
			}
		})
	}
	for _, bad := range []string{"void f() { R\"abc", "void f() { R\"(never closed", "void f() { R\"0123456789abcdefgh(x)0123456789abcdefgh\" }"} {
		if _, _, err := RewriteCXX([]byte(bad)); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}
