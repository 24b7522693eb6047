package check

import (
	"debug/elf"
	"fmt"
	"sort"
	"strings"

	"github.com/immunix/immunix/check/elfacts"
	"github.com/immunix/immunix/formatguard"
	"github.com/immunix/immunix/internal/stamp"
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
	PCanary      = "canary"
	PFortify     = "fortify"
	PFormatGuard = "formatguard"
	PStamp       = "stamp"
	PRelro       = "relro"
	PNow         = "now"
	PPIE         = "pie"
	PNoExecStack = "noexecstack"
	PWX          = "wx"
	PCET         = "cet"
	PRPath       = "rpath"
	PStripped    = "stripped"
	PStatic      = "static"
)

// Properties lists every property in report order.
var Properties = []string{PCanary, PFortify, PFormatGuard, PStamp, PRelro, PNow, PPIE, PNoExecStack, PWX, PCET, PRPath, PStripped, PStatic, PSignature}

// PropertyDoc is the one-line meaning of each property and its pass rule.
var PropertyDoc = map[string]string{
	PCanary:      "every function that -fstack-protector-strong would protect reads the canary (%fs:0x28), judged from its code",
	PFortify:     "_FORTIFY_SOURCE: at least one fortified __*_chk libc call, or no fortifiable call at all",
	PFormatGuard: "every printf-family function the file calls has its FormatGuard checker __immunix_fg_F",
	PStamp:       "built by immunix-cc (build stamp present) with no protection turned off by policy or by the user",
	PRelro:       "full RELRO: PT_GNU_RELRO and immediate binding (partial: PT_GNU_RELRO only)",
	PNow:         "immediate binding (BIND_NOW): the GOT can be made read-only",
	PPIE:         "position-independent executable (ET_DYN), so ASLR moves the program too",
	PNoExecStack: "PT_GNU_STACK present and not executable",
	PWX:          "no loadable segment is both writable and executable",
	PCET:         "x86 CET: IBT and SHSTK in .note.gnu.property",
	PRPath:       "no DT_RPATH or DT_RUNPATH",
	PStripped:    "the symbol table was removed",
	PStatic:      "dynamically linked (a static program carries its own libc, unpatched by libc updates)",
	PSignature:   "CryptoMark: signed by a trusted key (--keys DIR) and unchanged since (docs/cryptomark.md)",
}

// Result is one property's verdict for one file.
type Result struct {
	Property string `json:"property"`
	Status   Status `json:"status"`
	// Value is the measured value in a few words ("full", "41/41 functions").
	Value string `json:"value"`
	// Lists hold the evidence, e.g. "fortified" and "unfortified" calls, or
	// "missing" functions.
	Lists map[string][]string `json:"lists,omitempty"`
}

// Env is what the verdicts need beyond the file itself.
type Env struct {
	// LibcFuncs names the functions of the toolchain's static libc
	// (libc.a); in a static program these are libc's, not the program's.
	// glibc builds its start-up and dynamic-loader code without a canary on
	// purpose, so they are reported apart and do not decide the verdict.
	LibcFuncs map[string]bool
}

// Evaluate turns one file's facts into a verdict for every property, in
// Properties order.
func Evaluate(f *elfacts.Facts, env *Env) []Result {
	return []Result{
		canaryResult(f, env),
		fortifyResult(f),
		formatGuardResult(f),
		stampResult(f),
		relroResult(f),
		nowResult(f),
		pieResult(f),
		nxResult(f),
		wxResult(f),
		cetResult(f),
		rpathResult(f),
		strippedResult(f),
		staticResult(f),
	}
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
	var prot, missing, libcMissing, rtMissing int
	var missingNames, libcNames, rtNames []string
	static := f.Static && env != nil && len(env.LibcFuncs) > 0
	runtime := hasGuardRuntime(f)
	for _, fn := range c.Funcs {
		libc := static && fn.Name != "" && env.LibcFuncs[fn.Name]
		rt := runtime && fn.Name != "" && isGuardRuntimeFunc(fn)
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
			default:
				missing++
				missingNames = append(missingNames, name)
			}
		}
	}
	need := prot + missing
	switch {
	case f.Static && f.Stripped:
		r.Status = Unknown
		r.Value = fmt.Sprintf("%d/%d functions that need one have one; stripped static program: libc's deliberately unprotected start-up code cannot be told from the program's", c.Protected, c.Protected+c.Missing)
		return r
	case runtime && f.Stripped && c.Missing > 0:
		r.Status = Unknown
		r.Value = fmt.Sprintf("%d/%d functions that need one have one; stripped, with the immunix guard runtime (built without a canary on purpose) linked in: its functions cannot be told from the program's", c.Protected, c.Protected+c.Missing)
		return r
	case need == 0:
		r.Status, r.Value = NA, fmt.Sprintf("no function needs one (%d functions)", len(c.Funcs))
	case missing == 0:
		r.Status, r.Value = Pass, fmt.Sprintf("%d/%d functions that need one have one", prot, need)
	default:
		r.Status, r.Value = Fail, fmt.Sprintf("%d/%d functions that need one have one, %d missing", prot, need, missing)
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
	if len(r.Lists) == 0 {
		r.Lists = nil
	}
	return r
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

// fortified is the reverse map: __X_chk -> X.
var fortified = func() map[string]string {
	m := map[string]string{}
	for k, v := range fortifiable {
		m[v] = k
	}
	return m
}()

// fortifyResult mirrors devscripts' hardening-check: fortified calls are
// references to glibc's __*_chk entry points (imported, or defined in the
// file itself: immunix's guard runtime provides them); unfortified ones are
// imports of the plain functions that have one. A program that references
// both is fortified (the compiler keeps the plain call where it can prove
// the size is safe or cannot know it). Static programs contain libc itself,
// so only the __*_chk functions they define tell. Where symbols cannot
// tell, immunix's build stamps can: every translation unit compiled with
// _FORTIFY_SOURCE >= 1.
func fortifyResult(f *elfacts.Facts) Result {
	r := Result{Property: PFortify}
	if f.Kind == elfacts.KindOther {
		r.Status, r.Value = NA, "not a program, library or object"
		return r
	}
	var fort, unfort []string
	seen := map[string]bool{}
	addFort := func(n string) {
		if _, ok := fortified[n]; ok && !seen[n] {
			seen[n] = true
			fort = append(fort, n)
		}
	}
	if f.Static {
		for _, n := range f.Defined {
			addFort(n)
		}
	} else {
		for _, n := range f.Imports {
			addFort(n)
			if _, ok := fortifiable[n]; ok {
				unfort = append(unfort, n)
			}
		}
		for _, n := range f.LocalDefined {
			addFort(n)
		}
	}
	sort.Strings(fort)
	stamped := stampsAll(f.Stamps, func(s stamp.Stamp) bool { return s.Fortify >= 1 || s.Lang == "asm" })
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
		r.Status, r.Value = Pass, fmt.Sprintf("%d fortified, %d unfortified", len(fort), len(unfort))
	case stamped:
		r.Status, r.Value = Pass, fmt.Sprintf("no __*_chk call visible, %d unfortified; every compile stamp records _FORTIFY_SOURCE >= 1", len(unfort))
	case f.Static && f.Stripped:
		r.Status, r.Value = Unknown, "stripped static program: no symbols to tell"
	case f.Static:
		r.Status, r.Value = Unknown, "static program: no __*_chk function linked in (unfortified, or nothing to fortify)"
	case len(unfort) > 0:
		r.Status, r.Value = Fail, fmt.Sprintf("0 fortified, %d unfortified", len(unfort))
	default:
		r.Status, r.Value = NA, "no fortifiable libc call"
	}
	return r
}

// formatGuardResult follows docs/contracts.md: the run-time checkers
// __immunix_fg_F (defined in the program by the guard runtime, or imported)
// count as wrapped calls, references to printf-family functions whose
// checker is absent as bare ones. The va_list forms cannot be wrapped and
// are listed apart without failing.
func formatGuardResult(f *elfacts.Facts) Result {
	r := Result{Property: PFormatGuard}
	if f.Kind == elfacts.KindOther {
		r.Status, r.Value = NA, "not a program, library or object"
		return r
	}
	present := map[string]bool{}
	for _, n := range append(append([]string{}, f.Imports...), f.Defined...) {
		if strings.HasPrefix(n, formatguard.CheckerPrefix) {
			present[strings.TrimPrefix(n, formatguard.CheckerPrefix)] = true
		}
	}
	refs := f.Imports
	if f.Static {
		refs = nil // libc defines them all; only the checkers tell
	}
	var wrapped, bare, valist []string
	for b := range present {
		wrapped = append(wrapped, b)
	}
	sort.Strings(wrapped)
	for _, n := range refs {
		fn, ok := formatguard.Lookup(n)
		if !ok {
			continue
		}
		switch {
		case fn.VaList:
			valist = append(valist, n)
		case !present[fn.Base]:
			bare = append(bare, n)
		}
	}
	r.Lists = map[string][]string{}
	for k, v := range map[string][]string{"wrapped": wrapped, "bare": bare, "va_list": valist} {
		if len(v) > 0 {
			r.Lists[k] = v
		}
	}
	stamped := stampsAgree(f.Stamps, "formatguard")
	switch {
	case len(bare) > 0 && stamped:
		r.Status, r.Value = Pass, fmt.Sprintf("%d wrapped, %d called without a visible checker; every compile stamp records formatguard (literal formats need none)", len(wrapped), len(bare))
	case len(bare) > 0:
		r.Status, r.Value = Fail, fmt.Sprintf("%d wrapped, %d bare", len(wrapped), len(bare))
	case len(wrapped) > 0:
		r.Status, r.Value = Pass, fmt.Sprintf("%d wrapped, 0 bare", len(wrapped))
	case f.Static && stamped:
		r.Status, r.Value = Pass, "no checker symbols visible; every compile stamp records formatguard"
	case f.Static:
		r.Status, r.Value = Unknown, "static program: no FormatGuard checker linked in"
	default:
		r.Status, r.Value = NA, "no printf-family call"
	}
	if len(r.Lists) == 0 {
		r.Lists = nil
	}
	return r
}

// stampsAgree reports whether there are compile stamps and every one has
// protection name on.
func stampsAgree(st []stamp.Stamp, name string) bool {
	n := 0
	for _, s := range st {
		if s.Type != stamp.Compile {
			continue
		}
		n++
		if !s.Has(name) {
			return false
		}
	}
	return n > 0
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
	off, userOff, versions := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range f.Stamps {
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
	}
	// "on" lists what every stamp of its kind agrees on.
	var always []string
	for p, n := range on {
		if n == len(f.Stamps) || (n == compile && compileOnly(p)) {
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
	r.Value = fmt.Sprintf("%d compile + %d link notes", compile, link)
	if len(off)+len(userOff) > 0 {
		r.Status = Fail
		var parts []string
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

// compileOnly protections appear in compile stamps only.
func compileOnly(p string) bool {
	switch p {
	case "canary", "stackclash", "cet", "fortify", "formatsec", "formatguard":
		return true
	}
	return false
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
	case len(on) > 0:
		r.Status, r.Value = Fail, strings.Join(on, ",")+" only"
	case f.GNUProperty:
		r.Status, r.Value = Fail, "none (property note without IBT/SHSTK)"
	default:
		r.Status, r.Value = Fail, "none (no .note.gnu.property)"
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
