package formatguard

// Function describes one printf-family function FormatGuard knows about.
type Function struct {
	// Name is the C name, e.g. "snprintf" or "__printf_chk".
	Name string
	// FormatIndex is the 0-based index of the format argument.
	FormatIndex int
	// Wide is true when the format is a wchar_t string.
	Wide bool
	// Wrapped is true when FormatGuard's headers count the arguments of
	// calls to this function and route non-literal formats through the
	// run-time checker __immunix_fg_<Name>. False for the va_list forms
	// (nothing left to count) and for glibc's _FORTIFY_SOURCE entry points.
	Wrapped bool
	// Base is the wrapped function this one is a form of: "printf" for
	// "vprintf", "__printf_chk" and "__vprintf_chk"; Name itself for a
	// wrapped function.
	Base string
	// VaList is true for the forms taking a va_list instead of "...".
	VaList bool
	// Header is the header that declares it ("stdio.h"); for the _FORTIFY
	// forms, the header whose fortified inlines call it.
	Header string
}

// Checker returns the name of the run-time checker of a wrapped function,
// "__immunix_fg_" + Name (docs/contracts.md), or "" if f is not wrapped.
//
// The checker takes the count of variadic arguments and the format, checks
// the format and returns it; the call itself still goes to the real
// function. A protected call with a non-literal format therefore calls
// __immunix_fg_printf and then printf (or __printf_chk under
// _FORTIFY_SOURCE); a literal format calls only the real function (or what
// the compiler turned it into, e.g. puts). A call to one of these functions
// with no checker call before it is an unprotected call.
func (f Function) Checker() string {
	if !f.Wrapped {
		return ""
	}
	return CheckerPrefix + f.Name
}

// CheckerPrefix starts the name of every run-time checker.
const CheckerPrefix = "__immunix_fg_"

// Functions lists every printf-family function FormatGuard knows: the
// wrapped ones first, then the va_list forms, then glibc's _FORTIFY_SOURCE
// entry points. Order is stable; names are unique.
var Functions = []Function{
	// Wrapped: variadic, counted at compile time.
	{Name: "printf", FormatIndex: 0, Wrapped: true, Base: "printf", Header: "stdio.h"},
	{Name: "fprintf", FormatIndex: 1, Wrapped: true, Base: "fprintf", Header: "stdio.h"},
	{Name: "dprintf", FormatIndex: 1, Wrapped: true, Base: "dprintf", Header: "stdio.h"},
	{Name: "sprintf", FormatIndex: 1, Wrapped: true, Base: "sprintf", Header: "stdio.h"},
	{Name: "snprintf", FormatIndex: 2, Wrapped: true, Base: "snprintf", Header: "stdio.h"},
	{Name: "asprintf", FormatIndex: 1, Wrapped: true, Base: "asprintf", Header: "stdio.h"},
	{Name: "obstack_printf", FormatIndex: 1, Wrapped: true, Base: "obstack_printf", Header: "stdio.h"},
	{Name: "syslog", FormatIndex: 1, Wrapped: true, Base: "syslog", Header: "syslog.h"},
	{Name: "wprintf", FormatIndex: 0, Wide: true, Wrapped: true, Base: "wprintf", Header: "wchar.h"},
	{Name: "fwprintf", FormatIndex: 1, Wide: true, Wrapped: true, Base: "fwprintf", Header: "wchar.h"},
	{Name: "swprintf", FormatIndex: 2, Wide: true, Wrapped: true, Base: "swprintf", Header: "wchar.h"},
	{Name: "err", FormatIndex: 1, Wrapped: true, Base: "err", Header: "err.h"},
	{Name: "errx", FormatIndex: 1, Wrapped: true, Base: "errx", Header: "err.h"},
	{Name: "warn", FormatIndex: 0, Wrapped: true, Base: "warn", Header: "err.h"},
	{Name: "warnx", FormatIndex: 0, Wrapped: true, Base: "warnx", Header: "err.h"},
	{Name: "error", FormatIndex: 2, Wrapped: true, Base: "error", Header: "error.h"},
	{Name: "error_at_line", FormatIndex: 4, Wrapped: true, Base: "error_at_line", Header: "error.h"},
	{Name: "argp_error", FormatIndex: 1, Wrapped: true, Base: "argp_error", Header: "argp.h"},
	{Name: "argp_failure", FormatIndex: 3, Wrapped: true, Base: "argp_failure", Header: "argp.h"},

	// va_list forms: the count is not known at the call.
	{Name: "vprintf", FormatIndex: 0, Base: "printf", VaList: true, Header: "stdio.h"},
	{Name: "vfprintf", FormatIndex: 1, Base: "fprintf", VaList: true, Header: "stdio.h"},
	{Name: "vdprintf", FormatIndex: 1, Base: "dprintf", VaList: true, Header: "stdio.h"},
	{Name: "vsprintf", FormatIndex: 1, Base: "sprintf", VaList: true, Header: "stdio.h"},
	{Name: "vsnprintf", FormatIndex: 2, Base: "snprintf", VaList: true, Header: "stdio.h"},
	{Name: "vasprintf", FormatIndex: 1, Base: "asprintf", VaList: true, Header: "stdio.h"},
	{Name: "obstack_vprintf", FormatIndex: 1, Base: "obstack_printf", VaList: true, Header: "stdio.h"},
	{Name: "vsyslog", FormatIndex: 1, Base: "syslog", VaList: true, Header: "syslog.h"},
	{Name: "vwprintf", FormatIndex: 0, Wide: true, Base: "wprintf", VaList: true, Header: "wchar.h"},
	{Name: "vfwprintf", FormatIndex: 1, Wide: true, Base: "fwprintf", VaList: true, Header: "wchar.h"},
	{Name: "vswprintf", FormatIndex: 2, Wide: true, Base: "swprintf", VaList: true, Header: "wchar.h"},
	{Name: "verr", FormatIndex: 1, Base: "err", VaList: true, Header: "err.h"},
	{Name: "verrx", FormatIndex: 1, Base: "errx", VaList: true, Header: "err.h"},
	{Name: "vwarn", FormatIndex: 0, Base: "warn", VaList: true, Header: "err.h"},
	{Name: "vwarnx", FormatIndex: 0, Base: "warnx", VaList: true, Header: "err.h"},

	// glibc _FORTIFY_SOURCE entry points (an extra flag argument, and for
	// the buffer forms a size, come before the format).
	{Name: "__printf_chk", FormatIndex: 1, Base: "printf", Header: "stdio.h"},
	{Name: "__fprintf_chk", FormatIndex: 2, Base: "fprintf", Header: "stdio.h"},
	{Name: "__dprintf_chk", FormatIndex: 2, Base: "dprintf", Header: "stdio.h"},
	{Name: "__sprintf_chk", FormatIndex: 3, Base: "sprintf", Header: "stdio.h"},
	{Name: "__snprintf_chk", FormatIndex: 4, Base: "snprintf", Header: "stdio.h"},
	{Name: "__asprintf_chk", FormatIndex: 2, Base: "asprintf", Header: "stdio.h"},
	{Name: "__obstack_printf_chk", FormatIndex: 2, Base: "obstack_printf", Header: "stdio.h"},
	{Name: "__syslog_chk", FormatIndex: 2, Base: "syslog", Header: "syslog.h"},
	{Name: "__wprintf_chk", FormatIndex: 1, Wide: true, Base: "wprintf", Header: "wchar.h"},
	{Name: "__fwprintf_chk", FormatIndex: 2, Wide: true, Base: "fwprintf", Header: "wchar.h"},
	{Name: "__swprintf_chk", FormatIndex: 4, Wide: true, Base: "swprintf", Header: "wchar.h"},
	{Name: "__vprintf_chk", FormatIndex: 1, Base: "printf", VaList: true, Header: "stdio.h"},
	{Name: "__vfprintf_chk", FormatIndex: 2, Base: "fprintf", VaList: true, Header: "stdio.h"},
	{Name: "__vdprintf_chk", FormatIndex: 2, Base: "dprintf", VaList: true, Header: "stdio.h"},
	{Name: "__vsprintf_chk", FormatIndex: 3, Base: "sprintf", VaList: true, Header: "stdio.h"},
	{Name: "__vsnprintf_chk", FormatIndex: 4, Base: "snprintf", VaList: true, Header: "stdio.h"},
	{Name: "__vasprintf_chk", FormatIndex: 2, Base: "asprintf", VaList: true, Header: "stdio.h"},
	{Name: "__obstack_vprintf_chk", FormatIndex: 2, Base: "obstack_printf", VaList: true, Header: "stdio.h"},
	{Name: "__vsyslog_chk", FormatIndex: 2, Base: "syslog", VaList: true, Header: "syslog.h"},
	{Name: "__vwprintf_chk", FormatIndex: 1, Wide: true, Base: "wprintf", VaList: true, Header: "wchar.h"},
	{Name: "__vfwprintf_chk", FormatIndex: 2, Wide: true, Base: "fwprintf", VaList: true, Header: "wchar.h"},
	{Name: "__vswprintf_chk", FormatIndex: 4, Wide: true, Base: "swprintf", VaList: true, Header: "wchar.h"},
}

// Lookup returns the Function named name, and whether there is one.
func Lookup(name string) (Function, bool) {
	for _, f := range Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// Wrapped returns the wrapped functions, in the order of Functions.
func Wrapped() []Function {
	var out []Function
	for _, f := range Functions {
		if f.Wrapped {
			out = append(out, f)
		}
	}
	return out
}

// MaxCountedArgs is how many arguments after the format a wrapped call may
// have and still be counted; a call with more does not compile with the
// FormatGuard headers (never a wrong count), and immunix-cc compiles the
// unit again without them.
const MaxCountedArgs = 127
