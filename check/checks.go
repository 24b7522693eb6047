package check

import (
	"debug/elf"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/immunix/immunix/check/elfacts"
	"github.com/immunix/immunix/formatguard"
	"github.com/immunix/immunix/internal/contract"
	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/raceguard"
)

// Status is a property's verdict for one file.
type Status string

// The statuses.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	NA      Status = "n/a"     // the property does not apply to this file
	Unknown Status = "unknown" // the file does not let us tell
)

// Property names: the protection vocabulary of docs/contracts.md where one
// exists, plus the file properties only the gate reports.
const (
	PCanary      = string(contract.Canary)
	PFortify     = string(contract.Fortify)
	PFormatGuard = string(contract.FormatGuard)
	PRaceGuard   = "raceguard"
	PStamp       = "stamp"
	PRelro       = string(contract.RELRO)
	PNow         = string(contract.Now)
	PPIE         = string(contract.PIE)
	PNoExecStack = string(contract.NoExecStack)
	PWX          = "wx"
	PCET         = string(contract.CET)
	PRPath       = "rpath"
	PStripped    = "stripped"
	PStatic      = "static"
)

// property is one row of the property table: everything the package
// knows of a property, in one place.
type property struct {
	name string
	// doc is the one-line meaning of the property and its pass rule.
	doc string
	// head is its column in the text table ("": not a column).
	head string
	// eval judges one file; nil for the signature, which needs the
	// trusted keys and is judged by the Scanner (signature.go).
	eval func(f *elfacts.Facts, env *Env) Result
}

// propertyTable lists every property in report order. Properties,
// PropertyDoc, Evaluate and the text table's columns come from it.
var propertyTable = []property{
	{PCanary, "every function that -fstack-protector-strong would protect reads the canary (%fs:0x28), judged from its code", "canary", canaryResult},
	{PFortify, "_FORTIFY_SOURCE: at least one fortified __*_chk libc call, or no fortifiable call at all", "fortify", facts(fortifyResult)},
	{PFormatGuard, "every printf-family function the file calls has its FormatGuard checker __immunix_fg_F", "fmtguard", facts(formatGuardResult)},
	{PRaceGuard, "RaceGuard linked into the executable and its wrappers (open, stat, access, fopen, mktemp, ...) exported from .dynsym, so they see the program's and its libraries' calls", "", facts(raceGuardResult)},
	{PStamp, "built by immunix-cc (build stamp present) with no protection turned off by policy or by the user", "stamp", facts(stampResult)},
	{PRelro, "full RELRO: PT_GNU_RELRO and immediate binding (partial: PT_GNU_RELRO only)", "relro", facts(relroResult)},
	{PNow, "immediate binding (BIND_NOW): the GOT can be made read-only", "now", facts(nowResult)},
	{PPIE, "position-independent executable (ET_DYN), so ASLR moves the program too", "pie", facts(pieResult)},
	{PNoExecStack, "PT_GNU_STACK present and not executable", "nx", facts(nxResult)},
	{PWX, "no loadable segment is both writable and executable", "w^x", facts(wxResult)},
	{PCET, "x86 CET: IBT and SHSTK in .note.gnu.property", "cet", facts(cetResult)},
	{PRPath, "no DT_RPATH or DT_RUNPATH", "rpath", facts(rpathResult)},
	{PStripped, "the symbol table was removed", "strip", facts(strippedResult)},
	{PStatic, "dynamically linked (a static program carries its own libc, unpatched by libc updates)", "link", facts(staticResult)},
	{PBounds, "array-bounds checks compiled in: every function that indexes a stack array holds a check that calls the bounds handler (BoundsGuard), judged from the code", "bounds", boundsResult},
	{PSignature, "CryptoMark: signed by a trusted key (--keys DIR) and unchanged since (docs/cryptomark.md)", "signed", nil},
}

// facts adapts a verdict that needs only the file's facts.
func facts(eval func(*elfacts.Facts) Result) func(*elfacts.Facts, *Env) Result {
	return func(f *elfacts.Facts, _ *Env) Result { return eval(f) }
}

// Properties lists every property in report order.
var Properties = func() []string {
	out := make([]string, len(propertyTable))
	for i, p := range propertyTable {
		out[i] = p.name
	}
	return out
}()

// PropertyDoc is the one-line meaning of each property and its pass rule.
var PropertyDoc = func() map[string]string {
	out := make(map[string]string, len(propertyTable))
	for _, p := range propertyTable {
		out[p.name] = p.doc
	}
	return out
}()

// Result is one property's verdict for one file.
type Result struct {
	Property string `json:"property"`
	Status   Status `json:"status"`
	// Value is the measured value in a few words ("full", "41/41 functions").
	Value string `json:"value"`
	// Measure is Value's short form the text table shows ("41/41",
	// "partial", "bounds+objsize"); "" shows yes or no.
	Measure string `json:"-"`
	// Lists hold the evidence, e.g. "fortified" and "unfortified" calls, or
	// "missing" functions.
	Lists map[string][]string `json:"lists,omitempty"`
}

// Env is what the verdicts need beyond the file itself. It is empty: the
// toolchain's functions in a static program are recognised while reading
// (elfacts.Options.Toolchain, by content) and marked in the facts.
type Env struct{}

// Evaluate turns one file's facts into a verdict for every property, in
// Properties order, but the signature (the Scanner judges it with the
// trusted keys).
func Evaluate(f *elfacts.Facts, env *Env) []Result {
	out := make([]Result, 0, len(propertyTable))
	for _, p := range propertyTable {
		if p.eval != nil {
			out = append(out, p.eval(f, env))
		}
	}
	return out
}

func linked(f *elfacts.Facts) bool {
	return f.Kind == elfacts.KindExec || f.Kind == elfacts.KindPIE || f.Kind == elfacts.KindShared
}

func canaryResult(f *elfacts.Facts, env *Env) Result {
	c := f.Canary
	r := Result{Property: PCanary}
	if !c.Analyzed {
		r.Status, r.Value = Unknown, c.Why
		return r
	}
	if c.Source == "none" {
		r.Status, r.Value = NA, c.Why
		return r
	}
	var prot, missing, libcMissing, rtMissing, guessMissing int
	var missingNames, libcNames, rtNames, guessNames []string
	runtime := hasGuardRuntime(f)
	rg := raceGuardLinked(f)
	for _, fn := range c.Funcs {
		libc := f.Static && fn.Toolchain
		rt := runtime && (isGuardRuntimeFunc(fn) || rg && raceGuardWrapper[fn.Name])
		switch fn.Class {
		case elfacts.Protected:
			if !libc && !rt {
				prot++
			}
		case elfacts.Missing:
			name := funcLabel(fn)
			switch {
			case rt:
				rtMissing++
				rtNames = append(rtNames, name)
			case libc:
				libcMissing++
				libcNames = append(libcNames, name)
			case fn.Guessed:
				guessMissing++
				guessNames = append(guessNames, name)
			default:
				missing++
				missingNames = append(missingNames, name)
			}
		}
	}
	need := prot + missing
	guessed := guessMissing > 0 || c.GuessedBytes > elfacts.StubAllowance
	r.Lists = map[string][]string{}
	if len(missingNames) > 0 {
		r.Lists["missing"] = missingNames
	}
	if len(libcNames) > 0 {
		r.Lists["libc-unprotected"] = libcNames
	}
	if len(rtNames) > 0 {
		r.Lists["runtime-unprotected"] = rtNames
	}
	if len(guessNames) > 0 {
		r.Lists["unattributed-missing"] = guessNames
	}
	if len(r.Lists) == 0 {
		r.Lists = nil
	}
	switch {
	case f.Static && f.Stripped:
		r.Status = Unknown
		r.Value = fmt.Sprintf("%d/%d functions that need one have one; stripped static program: libc's deliberately unprotected start-up code cannot be told from the program's", c.Protected, c.Protected+c.Missing)
		return r
	case runtime && f.Stripped && c.Missing > 0:
		r.Status = Unknown
		r.Value = fmt.Sprintf("%d/%d functions that need one have one; stripped, with the immunix guard runtime (built without a canary on purpose) linked in: its functions cannot be told from the program's", c.Protected, c.Protected+c.Missing)
		return r
	case missing > 0:
		r.Status, r.Value = Fail, fmt.Sprintf("%d/%d functions that need one have one, %d missing", prot, need, missing)
		r.Measure = fmt.Sprintf("%d/%d", prot, need)
	case guessed && c.GuessedOver:
		r.Status = Unknown
		r.Value = fmt.Sprintf("%d/%d functions that need one have one; more than 64 KiB of the executable segments are covered by no symbol and no unwind entry (code built without unwind tables, or read-only data in an executable segment): not analysed", prot, need)
		return r
	case guessed:
		r.Status = Unknown
		r.Value = fmt.Sprintf("%d/%d functions that need one have one; %d bytes of code in %d places that no symbol or unwind entry covers", prot, need, c.GuessedBytes, countGuessed(c.Funcs))
		if guessMissing > 0 {
			r.Value += fmt.Sprintf(", %d of them take a frame address without a canary", guessMissing)
		}
		return r
	case need == 0:
		r.Status, r.Value = NA, fmt.Sprintf("no function needs one (%d functions)", len(c.Funcs))
	default:
		r.Status, r.Value = Pass, fmt.Sprintf("%d/%d functions that need one have one", prot, need)
		r.Measure = fmt.Sprintf("%d/%d", prot, need)
	}
	if c.Undecodable > 0 {
		r.Value += fmt.Sprintf(", %d undecodable", c.Undecodable)
	}
	if libcMissing > 0 {
		r.Value += fmt.Sprintf(" (libc: %d unprotected by design)", libcMissing)
	}
	if rtMissing > 0 {
		r.Value += fmt.Sprintf(" (guard runtime: %d unprotected by design)", rtMissing)
	}
	if guessMissing > 0 {
		r.Value += fmt.Sprintf(" (%d more in code no symbol or unwind entry covers)", guessMissing)
	}
	return r
}

func countGuessed(fs []elfacts.Func) int {
	n := 0
	for _, f := range fs {
		if f.Guessed {
			n++
		}
	}
	return n
}

func funcLabel(fn elfacts.Func) string {
	if fn.Name != "" {
		return fn.Name
	}
	return fmt.Sprintf("0x%x", fn.Addr)
}

// fortifiable maps each glibc function that has a _FORTIFY_SOURCE variant
// to it (glibc 2.36's exported __*_chk symbols, debug/Versions).
// __fdelt_chk (FD_SET) and __stack_chk_fail are not calls a program makes
// by name and are left out.
var fortifiable = func() map[string]string {
	names := strings.Fields(`asprintf confstr dprintf explicit_bzero fgets fgets_unlocked
fgetws fgetws_unlocked fprintf fread fread_unlocked fwprintf getcwd getdomainname
getgroups gethostname getlogin_r gets getwd longjmp mbsnrtowcs mbsrtowcs mbstowcs
memcpy memmove mempcpy memset obstack_printf obstack_vprintf poll ppoll pread64
pread printf ptsname_r read readlink readlinkat realpath recv recvfrom snprintf
sprintf stpcpy stpncpy strcat strcpy strncat strncpy swprintf syslog ttyname_r
vasprintf vdprintf vfprintf vfwprintf vprintf vsnprintf vsprintf vswprintf vsyslog
vwprintf wcpcpy wcpncpy wcrtomb wcscat wcscpy wcsncat wcsncpy wcsnrtombs wcsrtombs
wcstombs wctomb wmemcpy wmemmove wmempcpy wmemset wprintf`)
	m := map[string]string{}
	for _, n := range names {
		m[n] = "__" + n + "_chk"
	}
	return m
}()

// fortifyNames are the functions whose call sites fortifyResult judges.
var fortifyNames = func() map[string]bool {
	m := map[string]bool{}
	for k, v := range fortifiable {
		m[k], m[v] = true, true
	}
	return m
}()

// fortified is the reverse map: __X_chk -> X.
var fortified = func() map[string]string {
	m := map[string]string{}
	for k, v := range fortifiable {
		m[v] = k
	}
	return m
}()

// judgedSites returns the call sites made by the program's own code: not
// by its static libc (recognised by content) nor by immunix's guard
// runtime (which calls the va_list and FORTIFY entry points itself).
func judgedSites(f *elfacts.Facts) []elfacts.CallSite {
	runtime := hasGuardRuntime(f)
	var out []elfacts.CallSite
	for _, s := range f.Calls.Sites {
		if s.Func >= 0 && s.Func < len(f.Canary.Funcs) {
			fn := f.Canary.Funcs[s.Func]
			if (f.Static && fn.Toolchain) || (runtime && isGuardRuntimeFunc(fn)) {
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// ownPrintfDefinitions are the addresses of the file's own functions
// that the call analysis found under a libc printf-family name but that
// are not the printf family: neither the guard runtime's entry points
// (its __*printf_chk), nor, in a static program, libc's code recognised
// by content (ToolchainIndex). gawk's static err is one: a program's
// function is never taken for libc's by its name. Where no libc code of a
// static program was recognised at all (no libc.a to compare with), the
// name is all there is and it is believed: calls to such a function are
// then judged as printf's, which can only make the verdict stricter.
func ownPrintfDefinitions(f *elfacts.Facts) map[uint64]bool {
	var defs map[uint64]bool
	for _, s := range f.Calls.Sites {
		if s.Def != 0 {
			if defs == nil {
				defs = map[uint64]bool{}
			}
			defs[s.Def] = true
		}
	}
	if defs == nil {
		return nil
	}
	libcKnown := false
	for _, fn := range f.Canary.Funcs {
		libcKnown = libcKnown || fn.Toolchain
	}
	runtime := hasGuardRuntime(f)
	own := map[uint64]bool{}
	for _, fn := range f.Canary.Funcs {
		switch {
		case !defs[fn.Addr]:
		case runtime && isGuardRuntimeFunc(fn):
		case f.Static && (fn.Toolchain || !libcKnown):
		default:
			own[fn.Addr] = true
		}
	}
	return own
}

// siteLabel names a call site: "printf at 0x1139 in main".
func siteLabel(f *elfacts.Facts, s elfacts.CallSite) string {
	l := fmt.Sprintf("%s at 0x%x", s.Callee, s.Addr)
	if s.Func >= 0 && s.Func < len(f.Canary.Funcs) {
		l += " in " + funcLabel(f.Canary.Funcs[s.Func])
	}
	return l
}

// fortifyResult judges _FORTIFY_SOURCE from the calls the code makes:
// fortified calls go to glibc's __*_chk entry points (imported, or defined
// in the file itself: immunix's guard runtime provides some), unfortified
// ones to the plain functions that have one. A program that calls both is
// fortified (the compiler keeps the plain call where it can prove the size
// is safe or cannot know it), as devscripts' hardening-check decides.
// Build stamps are never evidence: a forger writes them. Without the code
// analysis (--no-code) the imports are used instead.
func fortifyResult(f *elfacts.Facts) Result {
	r := Result{Property: PFortify}
	if f.Kind == elfacts.KindOther {
		r.Status, r.Value = NA, "not a program, library or object"
		return r
	}
	fortSet, unfortSet := map[string]bool{}, map[string]bool{}
	what := "call"
	if f.Calls.Analyzed && f.Kind != elfacts.KindObject {
		imported := map[string]bool{}
		for _, n := range f.Imports {
			imported[n] = true
		}
		for _, s := range judgedSites(f) {
			if _, ok := fortified[s.Callee]; ok {
				fortSet[s.Callee] = true
			}
			// A call to the file's own definition (libc.so.6 calling its
			// memcpy through its PLT) is not a libc call left unfortified.
			if _, ok := fortifiable[s.Callee]; ok && !f.Static && imported[s.Callee] {
				unfortSet[s.Callee] = true
			}
		}
	} else {
		what = "import"
		if f.Static {
			for _, n := range f.Defined {
				if _, ok := fortified[n]; ok {
					fortSet[n] = true
				}
			}
		} else {
			for _, n := range append(append([]string{}, f.Imports...), f.LocalDefined...) {
				if _, ok := fortified[n]; ok {
					fortSet[n] = true
				}
			}
			for _, n := range f.Imports {
				if _, ok := fortifiable[n]; ok {
					unfortSet[n] = true
				}
			}
		}
	}
	fort, unfort := sortedKeys(fortSet), sortedKeys(unfortSet)
	r.Lists = map[string][]string{}
	if len(fort) > 0 {
		r.Lists["fortified"] = fort
	}
	if len(unfort) > 0 {
		r.Lists["unfortified"] = unfort
	}
	if len(r.Lists) == 0 {
		r.Lists = nil
	}
	switch {
	case len(fort) > 0:
		r.Status, r.Value = Pass, fmt.Sprintf("%d fortified, %d unfortified (%ss)", len(fort), len(unfort), what)
	case f.Static && f.Stripped:
		r.Status, r.Value = Unknown, "stripped static program: no symbols to tell"
	case f.Static:
		r.Status, r.Value = Unknown, "static program: no __*_chk call (its plain string calls go through IFUNC slots, which do not name the function)"
	case len(unfort) > 0:
		r.Status, r.Value = Fail, fmt.Sprintf("0 fortified, %d unfortified (%ss)", len(unfort), what)
	default:
		r.Status, r.Value = NA, "no fortifiable libc "+what
	}
	return r
}

// raceGuardResult decides from the dynamic symbol table alone: a
// dynamically linked executable carries RaceGuard when it exports the
// runtime's marker and every required wrapper, which is what makes the
// dynamic linker send the program's and its libraries' calls to them
// (docs/raceguard.md). Whether IMMUNIX_RACEGUARD turns it off at run time
// is not in the file. Shared libraries are covered by the executable that
// loads them; a static program cannot export anything and fails.
func raceGuardResult(f *elfacts.Facts) Result {
	r := Result{Property: PRaceGuard}
	switch {
	case f.Kind != elfacts.KindExec && f.Kind != elfacts.KindPIE:
		r.Status, r.Value = NA, "not an executable (a library's calls are guarded by the executable that loads it)"
		return r
	case f.Static:
		r.Status, r.Value = Fail, "static program: no dynamic symbol table to export RaceGuard's wrappers from"
		return r
	}
	exp := map[string]bool{}
	for _, n := range f.Exported {
		exp[n] = true
	}
	if !exp[raceguard.Marker] {
		r.Status, r.Value = Fail, "not linked: "+raceguard.Marker+" not exported"
		return r
	}
	var have, missing []string
	for _, w := range raceguard.Wrappers {
		if exp[w] {
			have = append(have, w)
		}
	}
	for _, w := range raceguard.Required {
		if !exp[w] {
			missing = append(missing, w)
		}
	}
	r.Lists = map[string][]string{"exported": have}
	if len(missing) > 0 {
		r.Lists["missing"] = missing
		r.Status, r.Value = Fail, fmt.Sprintf("linked, but %d required wrappers not exported", len(missing))
		return r
	}
	r.Status, r.Value = Pass, fmt.Sprintf("%d/%d wrappers exported", len(have), len(raceguard.Wrappers))
	return r
}

// formatGuardResult judges FormatGuard from the printf-family calls the
// code makes (docs/contracts.md): a call whose format is a string literal
// needs no check; any other format must be the value the checker
// __immunix_fg_F returned. A call with any other format, or a printf
// whose address is taken (calls through the pointer cannot be checked), is
// bare. The va_list forms cannot be wrapped and are listed apart without
// failing. Build stamps are never evidence.
func formatGuardResult(f *elfacts.Facts) Result {
	r := Result{Property: PFormatGuard}
	if f.Kind == elfacts.KindOther {
		r.Status, r.Value = NA, "not a program, library or object"
		return r
	}
	if !f.Calls.Analyzed {
		refs := 0
		for _, n := range f.Imports {
			if _, ok := formatguard.Lookup(n); ok {
				refs++
			}
		}
		if refs == 0 && f.Kind == elfacts.KindObject {
			r.Status, r.Value = NA, "no printf-family reference"
			return r
		}
		why := f.Calls.Why
		if why == "" {
			why = f.Canary.Why
		}
		r.Status, r.Value = Unknown, why
		return r
	}
	var checked, literal, bare, addrTaken, valist, own []string
	ownDefs := ownPrintfDefinitions(f)
	for _, s := range judgedSites(f) {
		fn, ok := formatguard.Lookup(s.Callee)
		if !ok {
			continue
		}
		switch {
		case s.Def != 0 && ownDefs[s.Def]:
			// The program's own function with a libc name (gawk's err):
			// not the printf family. What it does with the format is
			// judged inside it, like any function's calls.
			own = append(own, siteLabel(f, s))
		case fn.VaList:
			valist = append(valist, siteLabel(f, s))
		case s.Format == elfacts.FormatChecked:
			checked = append(checked, siteLabel(f, s))
		case s.Format == elfacts.FormatLiteral:
			literal = append(literal, siteLabel(f, s))
		case s.Format == elfacts.FormatAddressTaken:
			addrTaken = append(addrTaken, "address of "+siteLabel(f, s))
		default:
			bare = append(bare, siteLabel(f, s))
		}
	}
	r.Lists = map[string][]string{}
	for k, v := range map[string][]string{"checked": checked, "bare": bare, "address-taken": addrTaken, "va_list": valist, "own-function": own} {
		if len(v) > 0 {
			r.Lists[k] = v
		}
	}
	if len(r.Lists) == 0 {
		r.Lists = nil
	}
	switch {
	case hasGuardRuntime(f) && f.Stripped:
		// The runtime's checkers and __*printf_chk entry points are local
		// functions: stripped, a checked format cannot be told from an
		// unchecked one.
		r.Status, r.Value = Unknown, fmt.Sprintf("%d checked, %d literal, %d unresolved calls; stripped, with the guard runtime linked in: its FormatGuard checkers and __*printf_chk entry points are not named", len(checked), len(literal), len(bare)+len(addrTaken))
	case len(bare) > 0:
		r.Status, r.Value = Fail, fmt.Sprintf("%d checked, %d literal, %d bare calls", len(checked), len(literal), len(bare))
		if len(addrTaken) > 0 {
			r.Value += fmt.Sprintf("; address of a printf-family function taken in %d places", len(addrTaken))
		}
	case len(addrTaken) > 0:
		// Calls through a pointer to printf cannot be counted, so
		// FormatGuard does not check them; whether their formats are
		// literals the code does not show (mawk passes fprintf or sprintf
		// to its own format interpreter, one parsed conversion at a
		// time). Neither a pass nor a failure: partial, unknown to the
		// gate (--strict refuses it).
		r.Status, r.Value = Unknown, fmt.Sprintf("partial: %d checked, %d literal, 0 bare calls; the address of a printf-family function is taken in %d places, and calls through a pointer are not checked by FormatGuard", len(checked), len(literal), len(addrTaken))
	case f.Static && f.Stripped:
		r.Status, r.Value = Unknown, "stripped static program: its printf family is not named"
	case len(checked)+len(literal) > 0:
		r.Status, r.Value = Pass, fmt.Sprintf("%d checked, %d literal, 0 bare calls", len(checked), len(literal))
	default:
		r.Status, r.Value = NA, "no printf-family call"
	}
	// A stamp is never evidence of protection, but it may confess less:
	// immunix-cc compiled a unit with counts only (fg=counts), whose
	// checked calls pass no argument classes (docs/formatguard.md).
	if n := countsOnlyUnits(f); n > 0 && r.Status != NA {
		r.Value += fmt.Sprintf("; %d units checked by count only, without argument classes (their build stamps say fg=counts)", n)
	}
	return r
}

// countsOnlyUnits counts the compile stamps that say fg=counts.
func countsOnlyUnits(f *elfacts.Facts) int {
	n := 0
	for _, s := range f.Stamps {
		if s.Type == stamp.Compile && s.Extra["fg"] == "counts" {
			n++
		}
	}
	return n
}

func stampResult(f *elfacts.Facts) Result {
	r := Result{Property: PStamp}
	if f.StampErr != "" {
		r.Status, r.Value = Fail, "unreadable build stamp: "+f.StampErr
		return r
	}
	if len(f.Stamps) == 0 {
		r.Status, r.Value = Fail, "no build stamp: not built by immunix-cc"
		return r
	}
	var compile, link int
	on := map[string]int{}
	off, userOff, failed, versions, modes := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range f.Stamps {
		// mode=: the zero-process mode (the compiler's own specs or
		// configuration file) wrote the note; none: immunix-cc.
		if m := s.Extra["mode"]; m != "" {
			modes[m] = true
		} else {
			modes[stamp.ModeWrapper] = true
		}
		if s.Type == stamp.Link {
			link++
		} else {
			compile++
		}
		versions[s.Version] = true
		for _, p := range s.On {
			on[p]++
		}
		for _, p := range s.Off {
			off[p] = true
		}
		for _, p := range s.UserOff {
			userOff[p] = true
		}
		// failed=: immunix-cc asked for a protection and could not add it
		// (the runtime could not be built, FormatGuard dropped by the
		// retry). A stamp is never evidence of protection, but it may
		// confess its absence: nothing is gained by forging that.
		for _, p := range s.Failed {
			failed[p] = true
		}
	}
	// "on" lists what every stamp of its kind agrees on: a compile-side
	// protection every compile note has, a link-side one every link
	// note has, one of both sides (or unknown) every note has.
	var always []string
	for p, n := range on {
		side := contractSide(p)
		if n == len(f.Stamps) || (side == contract.Compile && n == compile) || (side == contract.Link && n == link) {
			always = append(always, p)
		}
	}
	sort.Strings(always)
	r.Lists = map[string][]string{"on": always}
	if len(off) > 0 {
		r.Lists["off"] = sortedKeys(off)
	}
	if len(userOff) > 0 {
		r.Lists["user-off"] = sortedKeys(userOff)
	}
	r.Lists["version"] = sortedKeys(versions)
	r.Lists["mode"] = sortedKeys(modes)
	r.Value = fmt.Sprintf("%d compile + %d link notes", compile, link)
	if zp := sortedKeys(modes); !modes[stamp.ModeWrapper] {
		r.Value += "; built in the zero-process mode (" + strings.Join(zp, ", ") + ")"
	} else if len(zp) > 1 {
		r.Value += "; built partly by immunix-cc, partly in the zero-process mode (" + strings.Join(slices.DeleteFunc(zp, func(m string) bool { return m == stamp.ModeWrapper }), ", ") + ")"
	}
	if len(failed) > 0 {
		r.Lists["failed"] = sortedKeys(failed)
	}
	if len(off)+len(userOff)+len(failed) > 0 {
		r.Status = Fail
		var parts []string
		if len(failed) > 0 {
			parts = append(parts, "failed="+strings.Join(sortedKeys(failed), ","))
		}
		if len(off) > 0 {
			parts = append(parts, "off="+strings.Join(sortedKeys(off), ","))
		}
		if len(userOff) > 0 {
			parts = append(parts, "user-off="+strings.Join(sortedKeys(userOff), ","))
		}
		r.Value += "; " + strings.Join(parts, " ")
		return r
	}
	r.Status = Pass
	return r
}

// contractSide is the side of the build that records p (0: not a
// protection of the contract).
func contractSide(p string) contract.Side {
	r, _ := contract.Lookup(contract.Protection(p))
	return r.Side
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// RELROLevel is "none", "partial" or "full".
func RELROLevel(f *elfacts.Facts) string {
	switch {
	case !f.GNURelro:
		return "none"
	case f.Dynamic && f.BindNow, !f.Dynamic && f.GotPltInRelro:
		return "full"
	}
	return "partial"
}

func relroResult(f *elfacts.Facts) Result {
	r := Result{Property: PRelro}
	if !linked(f) {
		r.Status, r.Value = NA, "not a linked file"
		return r
	}
	r.Value = RELROLevel(f)
	r.Measure = r.Value
	if r.Value == "full" {
		r.Status = Pass
	} else {
		r.Status = Fail
	}
	return r
}

func nowResult(f *elfacts.Facts) Result {
	r := Result{Property: PNow}
	switch {
	case !linked(f):
		r.Status, r.Value = NA, "not a linked file"
	case !f.Dynamic:
		r.Status, r.Value = NA, "no dynamic section: nothing is bound lazily"
	case f.BindNow:
		r.Status, r.Value = Pass, "yes"
	default:
		r.Status, r.Value = Fail, "no (lazy binding)"
	}
	return r
}

func pieResult(f *elfacts.Facts) Result {
	r := Result{Property: PPIE}
	switch f.Kind {
	case elfacts.KindPIE:
		r.Status, r.Value = Pass, "yes"
	case elfacts.KindExec:
		r.Status, r.Value = Fail, "no (ET_EXEC)"
	default:
		r.Status, r.Value = NA, string(f.Kind)
	}
	return r
}

func nxResult(f *elfacts.Facts) Result {
	r := Result{Property: PNoExecStack}
	switch {
	case !linked(f):
		r.Status, r.Value = NA, "not a linked file"
	case !f.GNUStack:
		r.Status, r.Value = Fail, "no PT_GNU_STACK"
	case f.ExecStack:
		r.Status, r.Value = Fail, "executable stack (PT_GNU_STACK has PF_X)"
	default:
		r.Status, r.Value = Pass, "yes"
	}
	return r
}

func wxResult(f *elfacts.Facts) Result {
	r := Result{Property: PWX}
	if !linked(f) {
		r.Status, r.Value = NA, "not a linked file"
		return r
	}
	if len(f.WXSegments) == 0 {
		r.Status, r.Value = Pass, "none"
		return r
	}
	var segs []string
	for _, s := range f.WXSegments {
		segs = append(segs, fmt.Sprintf("LOAD[%d] %s 0x%x", s.Index, s.Flags, s.Vaddr))
	}
	r.Status, r.Value = Fail, fmt.Sprintf("%d W+X segment(s)", len(segs))
	r.Lists = map[string][]string{"segments": segs}
	return r
}

func cetResult(f *elfacts.Facts) Result {
	r := Result{Property: PCET}
	if f.Machine != elf.EM_X86_64 && f.Machine != elf.EM_386 {
		r.Status, r.Value = NA, "not x86"
		return r
	}
	var on []string
	if f.IBT {
		on = append(on, "ibt")
	}
	if f.SHSTK {
		on = append(on, "shstk")
	}
	switch {
	case f.IBT && f.SHSTK:
		r.Status, r.Value = Pass, "ibt,shstk"
		r.Measure = r.Value
	case len(on) > 0:
		r.Status, r.Value = Fail, strings.Join(on, ",")+" only"
		r.Measure = strings.Join(on, ",")
	case f.GNUProperty:
		r.Status, r.Value, r.Measure = Fail, "none (property note without IBT/SHSTK)", "none"
	default:
		r.Status, r.Value, r.Measure = Fail, "none (no .note.gnu.property)", "none"
	}
	return r
}

func rpathResult(f *elfacts.Facts) Result {
	r := Result{Property: PRPath}
	if !linked(f) {
		r.Status, r.Value = NA, "not a linked file"
		return r
	}
	if len(f.RPath)+len(f.RunPath) == 0 {
		r.Status, r.Value = Pass, "none"
		return r
	}
	r.Lists = map[string][]string{}
	var parts []string
	if len(f.RPath) > 0 {
		r.Lists["rpath"] = f.RPath
		parts = append(parts, "RPATH="+strings.Join(f.RPath, ":"))
	}
	if len(f.RunPath) > 0 {
		r.Lists["runpath"] = f.RunPath
		parts = append(parts, "RUNPATH="+strings.Join(f.RunPath, ":"))
	}
	r.Status, r.Value = Fail, strings.Join(parts, " ")
	return r
}

func strippedResult(f *elfacts.Facts) Result {
	r := Result{Property: PStripped}
	if f.Stripped {
		r.Status, r.Value = Pass, "yes"
	} else {
		r.Status, r.Value = Fail, "no (.symtab present)"
	}
	return r
}

func staticResult(f *elfacts.Facts) Result {
	r := Result{Property: PStatic}
	switch {
	case f.Kind == elfacts.KindObject || f.Kind == elfacts.KindOther:
		r.Status, r.Value = NA, string(f.Kind)
	case f.Static:
		r.Status, r.Value = Fail, "static"
	default:
		r.Status, r.Value = Pass, "dynamic"
	}
	return r
}
