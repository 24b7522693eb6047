package guardlib

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/immunix/immunix/canary"
	"github.com/immunix/immunix/formatguard"
	"github.com/immunix/immunix/internal/cachedir"
	"github.com/immunix/immunix/internal/contract"
	"github.com/immunix/immunix/raceguard"
)

// ArchiveName is the file name of the guard runtime archive.
const ArchiveName = "libimmunix-guard.a"

// RaceGuardArchiveName is the archive of RaceGuard's wrappers, built beside
// ArchiveName from the raceguard sources. It is linked only into dynamically
// linked executables: its wrappers carry libc's names (open, stat, ...) and
// must be exported from the executable to reach the shared libraries' calls,
// which a shared library or a static executable must not do.
const RaceGuardArchiveName = "libimmunix-raceguard.a"

// RaceGuardListName is the linker's --dynamic-list file beside the
// archives: the names the executable exports (raceguard.DynamicList).
const RaceGuardListName = "raceguard.list"

// SharedArchiveName is the guard runtime for shared libraries: ArchiveName's
// objects without the FORTIFY entry points (ExeOnlySources). A library
// keeps importing __stack_chk_fail (its calls reach the runtime's hidden
// wrapper, WrappedFuncs) and the __*_chk functions, as its plain build
// does, and the rest of the runtime is linked with --exclude-libs, so the
// library exports exactly what its plain build exports (docs/stackguard.md,
// "Shared libraries").
const SharedArchiveName = "libimmunix-guard-shlib.a"

// ExportListName is the linker's --dynamic-list file beside the archives:
// the FORTIFY entry points a dynamically linked executable exports, so that a library's failed check inside it reaches the runtime.
// Build writes it from the global definitions of ExeOnlySources.
const ExportListName = "guard.list"

// ExeOnlySources are the runtime sources left out of SharedArchiveName (the
// entry points a library imports instead of defining), each with the symbol
// LinkArgs forces in (-u) for a dynamically linked executable: every such
// executable defines and exports all of them, whether or not its own code
// calls them, so that any library's failed check inside it raises the
// immunix alert. Build refuses a source that no longer defines its symbol.
//
// The canary's __stack_chk_fail is not among them: every file wraps it
// (WrappedFuncs), exports nothing for it and imports glibc's, so a
// library's smash raises the alert from the library's own hidden copy.
var ExeOnlySources = map[string]string{
	"canary/runtime/fortify_io.c":  "__read_chk",
	"canary/runtime/fortify_str.c": "__memcpy_chk",
}

// RaceGuardInitSymbol is RaceGuard's initialiser, forced in with -u.
const RaceGuardInitSymbol = contract.RaceGuardInitSymbol

// OutputFiles are the files Build leaves in its directory and a prebuilt
// copy holds.
var OutputFiles = []string{ArchiveName, SharedArchiveName, RaceGuardArchiveName, RaceGuardListName, ExportListName}

// CheckPrebuilt returns an error naming the first of OutputFiles that dir
// lacks (or holds as something other than a regular file, after symbolic
// links): LinkArgs names every one of them on a link line, so a directory
// missing one would fail the link with the linker's own message.
func CheckPrebuilt(dir string) error {
	for _, name := range OutputFiles {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("incomplete guard runtime in %s: %w", dir, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("incomplete guard runtime in %s: %s is not a regular file", dir, p)
		}
	}
	return nil
}

// InitSymbol is the runtime's initialiser; LinkArgs forces it in with -u so
// the archive's constructor, alert writer and fork renewal are linked even
// when nothing in the program calls them.
const InitSymbol = contract.InitSymbol

// SystemDir is where prebuilt runtimes live: SystemDir/KEY/ArchiveName.
// "immunix guardlib --prebuild" fills it; Archive prefers it to the cache.
var SystemDir = "/usr/lib/immunix"

// CFlags are the flags every runtime object is compiled with, after the
// compiler's own words and the target's ABI flags. No stack protector (the
// runtime is what handles a dead canary), no FORTIFY (it defines the
// checks), no LTO (the archive must be plain objects any linker reads).
var CFlags = []string{"-c", "-fno-stack-protector", "-fPIC", "-O2", "-Wall", "-Wextra", "-U_FORTIFY_SOURCE", "-fno-lto"}

// cetFlags keeps the archive from switching off CET (IBT/SHSTK) in programs
// built with -fcf-protection: the linker keeps the property only when every
// object has it. Only for x86 hosts without an explicit other target.
var cetFlags = []string{"-fcf-protection=full"}

// source is one file of the runtime, under the directory it has in the
// repository, so relative #includes between the parts keep working.
type source struct {
	path string // e.g. "canary/runtime/renew.c"
	data []byte
}

var (
	srcOnce sync.Once
	srcs    []source
	srcHash string
	srcErr  error
)

// sources returns the embedded runtime sources of all parts, sorted, and a
// hash of their names and contents.
func sources() ([]source, string, error) {
	srcOnce.Do(func() {
		parts := []struct {
			dir string
			fs  fs.FS
		}{
			{"guardlib", runtimeSources},
			{"canary", canary.Sources},
			{"formatguard", formatguard.RuntimeSources},
			{"raceguard", raceguard.Sources},
		}
		h := sha256.New()
		for _, p := range parts {
			err := fs.WalkDir(p.fs, "runtime", func(name string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				if !strings.HasSuffix(name, ".c") && !strings.HasSuffix(name, ".h") {
					return nil
				}
				data, err := fs.ReadFile(p.fs, name)
				if err != nil {
					return err
				}
				srcs = append(srcs, source{path: path.Join(p.dir, name), data: data})
				return nil
			})
			if err != nil {
				srcErr = fmt.Errorf("read embedded runtime sources of %s: %w", p.dir, err)
				return
			}
		}
		sort.Slice(srcs, func(i, j int) bool { return srcs[i].path < srcs[j].path })
		for _, s := range srcs {
			fmt.Fprintf(h, "%s\x00%d\x00", s.path, len(s.data))
			h.Write(s.data)
		}
		fmt.Fprintf(h, "flags\x00%s\x00%s", strings.Join(CFlags, " "), strings.Join(cetFlags, " "))
		fmt.Fprintf(h, "\x00list\x00%s", raceguard.DynamicList())
		srcHash = hex.EncodeToString(h.Sum(nil))
	})
	return srcs, srcHash, srcErr
}

// SourceFiles lists the embedded runtime sources (repository-relative paths).
func SourceFiles() ([]string, error) {
	ss, _, err := sources()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.path
	}
	return out, nil
}

// CompilerID identifies a compiler's build without running it: the resolved
// path of its executable (symlinks followed), its size and modification
// time, and any further words of the command. Upgrading the compiler changes
// the ID, so a runtime built by the old one is not reused.
func CompilerID(compiler []string) (string, error) {
	if len(compiler) == 0 {
		return "", errors.New("compiler id: empty compiler command")
	}
	p, err := exec.LookPath(compiler[0])
	if err != nil {
		return "", fmt.Errorf("compiler id: find %s: %w", compiler[0], err)
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	if a, err := filepath.Abs(p); err == nil {
		p = a
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("compiler id: %w", err)
	}
	return fmt.Sprintf("%s size=%d mtime=%d args=%q", p, fi.Size(), fi.ModTime().UnixNano(), compiler[1:]), nil
}

// Key names the runtime built for t: "<compiler>-<abi>-<hash>", where the
// hash covers the compiler's identity (CompilerID, or t.ID when the compiler
// cannot be found on PATH), the ABI flags, the build flags and the embedded
// sources. The same key names the cache entry and the system copy.
func Key(t Target) (string, error) {
	if len(t.Compiler) == 0 {
		return "", errors.New("guard runtime key: target has no compiler")
	}
	sh := sourcesHash
	id, err := CompilerID(t.Compiler)
	if err != nil {
		if t.ID == "" {
			return "", err
		}
		id = t.ID
	}
	h := sha256.New()
	fmt.Fprintf(h, "recipe\x00%d\x00id\x00%s\x00abi\x00%q\x00src\x00%s", recipeVersion, id, t.ABIFlags, sh)
	base := sanitize(filepath.Base(t.Compiler[0]))
	abi := "native"
	if len(t.ABIFlags) > 0 {
		abi = sanitize(strings.Join(t.ABIFlags, "_"))
	}
	return fmt.Sprintf("%s-%s-%s", base, abi, hex.EncodeToString(h.Sum(nil))[:16]), nil
}

// sanitize keeps a key component to [A-Za-z0-9._+=] so it is one safe path
// element.
func sanitize(s string) string {
	b := []byte(strings.TrimLeft(s, "-"))
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '+' || c == '='
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	if len(b) == 0 {
		return "x"
	}
	return string(b)
}

// Archive returns the path of the runtime archive for t: the system copy
// SystemDir/KEY/libimmunix-guard.a when present (an error when that
// directory lacks one of OutputFiles: CheckPrebuilt), else the cache entry,
// built on first use. Concurrent first uses build it once (see cachedir).
func Archive(t Target) (string, error) {
	key, err := Key(t)
	if err != nil {
		return "", err
	}
	sys := filepath.Join(SystemDir, key, ArchiveName)
	if fi, err := os.Stat(sys); err == nil && fi.Mode().IsRegular() {
		// Only a copy nobody but root (or this user) can have written.
		if err := cachedir.Trusted(sys); err != nil {
			return "", fmt.Errorf("guard runtime: system copy: %w", err)
		}
		if err := CheckPrebuilt(filepath.Dir(sys)); err != nil {
			return "", fmt.Errorf("guard runtime: system copy: %w (reinstall immunix, or rerun immunix guardlib --prebuild)", err)
		}
		return sys, nil
	}
	dir, err := cachedir.Materialize(filepath.Join("runtime", key), func(tmp string) error {
		if err := Build(t, tmp, BuildOptions{}); err != nil {
			return err
		}
		// Keep only the archive in the cache; sources and objects were
		// scratch.
		if err := os.RemoveAll(filepath.Join(tmp, "src")); err != nil {
			return err
		}
		return os.RemoveAll(filepath.Join(tmp, "obj"))
	})
	if err != nil {
		return "", fmt.Errorf("guard runtime for %s: %w", strings.Join(append(append([]string{}, t.Compiler...), t.ABIFlags...), " "), err)
	}
	return filepath.Join(dir, ArchiveName), nil
}

// WrappedFuncs are the libc functions whose calls the runtime wraps (the
// linker's --wrap): the ways to fork that run no pthread_atfork handler, so
// that their children get a fresh canary too (canary/runtime/wrap_*.c), and
// the canary's failure paths, __stack_chk_fail and the 32-bit PIC
// __stack_chk_fail_local (canary/runtime/stack_chk.c: the runtime's copy is
// hidden and glibc's stays imported, the file's symbols are the plain
// build's; wrapping the second also keeps libc_nonshared.a's copy out of a
// link that names -lc before the runtime archive).
var WrappedFuncs = []string{"_Fork", "syscall", "clone", "__stack_chk_fail", "__stack_chk_fail_local"}

// LinkArgs returns the arguments immunix-cc appends to a link command so the
// guard runtime is linked in: "-Wl,-u,__immunix_guard_init", a
// "-Wl,--wrap=F" for each of WrappedFuncs, "-Wl,-u,__wrap__Fork" for a
// static link, and the archive path, building the runtime for t on first
// use. For a dynamically linked executable (t.Exe) the canary and FORTIFY
// entry points are exported (--dynamic-list=guard.list) and RaceGuard comes
// before the archive: its initialiser forced in, its wrappers exported with
// --dynamic-list, its archive before the guard archive it calls into. For
// a shared library (t.Shared) the archive is SharedArchiveName, every
// symbol of it kept out of the library's exports (--exclude-libs).
func LinkArgs(t Target) ([]string, error) {
	a, err := Archive(t)
	if err != nil {
		return nil, err
	}
	return LinkArgsIn(filepath.Dir(a), t), nil
}

// LinkArgsIn returns LinkArgs's arguments for the runtime files in dir (a
// directory holding OutputFiles, such as one "immunix guardlib --prebuild"
// or "immunix toolchain-config" wrote), without building anything.
func LinkArgsIn(dir string, t Target) []string {
	a := filepath.Join(dir, ArchiveName)
	args := []string{"-Wl,-u," + InitSymbol}
	for _, f := range WrappedFuncs {
		args = append(args, "-Wl,--wrap="+f)
	}
	if t.Static {
		// The static libc, read after the runtime archive, calls _Fork
		// from its own fork and __stack_chk_fail from its own protected
		// functions: their wrappers must already be linked, also when
		// the program's own code calls neither.
		args = append(args, "-Wl,-u,__wrap__Fork", "-Wl,-u,__wrap___stack_chk_fail")
	}
	if t.Shared {
		return append(args, "-Wl,--exclude-libs,"+SharedArchiveName, filepath.Join(dir, SharedArchiveName))
	}
	if !t.Exe {
		return append(args, a)
	}
	for _, sym := range slices.Sorted(maps.Values(ExeOnlySources)) {
		args = append(args, "-Wl,-u,"+sym)
	}
	return append(args,
		"-Wl,--dynamic-list="+filepath.Join(dir, ExportListName),
		"-Wl,-u,"+RaceGuardInitSymbol,
		"-Wl,--dynamic-list="+filepath.Join(dir, RaceGuardListName),
		filepath.Join(dir, RaceGuardArchiveName), a,
	)
}

// BuildOptions tunes Build.
type BuildOptions struct {
	// Werror adds -Werror (the project's tests build with it; users do not,
	// so a newer compiler's new warning cannot break their builds).
	Werror bool
	// Log, when set, receives each command before it runs.
	Log func(argv []string)
}

// Build compiles every embedded .c source for t and writes
// dir/libimmunix-guard.a (dir must exist; its src/ and obj/ are scratch).
func Build(t Target, dir string, o BuildOptions) error {
	ss, _, err := sources()
	if err != nil {
		return err
	}
	srcDir := filepath.Join(dir, "src")
	objDir := filepath.Join(dir, "obj")
	for _, s := range ss {
		p := filepath.Join(srcDir, filepath.FromSlash(s.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write runtime source: %w", err)
		}
		if err := os.WriteFile(p, s.data, 0o644); err != nil {
			return fmt.Errorf("write runtime source: %w", err)
		}
	}
	if err := os.MkdirAll(objDir, 0o755); err != nil {
		return fmt.Errorf("create object directory: %w", err)
	}
	flags := append([]string{}, CFlags...)
	if useCET(t) {
		flags = append(flags, cetFlags...)
	}
	if o.Werror {
		flags = append(flags, "-Werror")
	}
	flags = append(flags, "-I", filepath.Join(srcDir, "guardlib", "runtime"))

	var objs, rgObjs, shObjs, exeObjs []string
	type job struct{ argv []string }
	var jobs []job
	for _, s := range ss {
		if !strings.HasSuffix(s.path, ".c") {
			continue
		}
		obj := filepath.Join(objDir, strings.ReplaceAll(strings.TrimSuffix(s.path, ".c"), "/", "_")+".o")
		argv := append(append(append([]string{}, t.Compiler...), t.ABIFlags...), flags...)
		// "-x c": the sources are C even under a C++ driver (g++, clang++),
		// which would otherwise compile a .c file as C++.
		argv = append(argv, "-o", obj, "-x", "c", filepath.Join(srcDir, filepath.FromSlash(s.path)))
		jobs = append(jobs, job{argv})
		switch {
		case strings.HasPrefix(s.path, "raceguard/"):
			rgObjs = append(rgObjs, obj)
		case ExeOnlySources[s.path] != "":
			objs = append(objs, obj)
			exeObjs = append(exeObjs, obj)
		default:
			objs = append(objs, obj)
			shObjs = append(shObjs, obj)
		}
	}
	if len(jobs) == 0 {
		return errors.New("build guard runtime: no C sources embedded")
	}
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, max(1, runtime.NumCPU()))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = run(j.argv, o.Log)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, obj := range append(append([]string{}, objs...), rgObjs...) {
		if err := prefixLocalFuncs(obj, o.Log); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, RaceGuardListName), []byte(raceguard.DynamicList()), 0o644); err != nil {
		return fmt.Errorf("build guard runtime: %w", err)
	}
	exports, err := exportList(exeObjs)
	if err != nil {
		return err
	}
	for _, sym := range ExeOnlySources {
		if !strings.Contains(exports, "  "+sym+";\n") {
			return fmt.Errorf("build guard runtime: no object of %v defines %s", slices.Sorted(maps.Keys(ExeOnlySources)), sym)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ExportListName), []byte(exports), 0o644); err != nil {
		return fmt.Errorf("build guard runtime: %w", err)
	}
	for _, a := range []struct {
		name string
		objs []string
	}{{RaceGuardArchiveName, rgObjs}, {SharedArchiveName, shObjs}, {ArchiveName, objs}} {
		tmpA := filepath.Join(dir, a.name+".tmp")
		if err := run(append([]string{archiver(), "rcsD", tmpA}, a.objs...), o.Log); err != nil {
			return err
		}
		if err := os.Rename(tmpA, filepath.Join(dir, a.name)); err != nil {
			return err
		}
	}
	return nil
}

// recipeVersion changes whenever Build makes a different archive from the
// same sources and compiler, so that cached archives are rebuilt.
// 2: local functions carry the RuntimeLocalPrefix.
// 3: RaceGuard archive and export list beside the guard archive.
// 4: the shared-library archive and the executable's export list.
// 5: __stack_chk_fail wrapped and hidden, in both archives.
const recipeVersion = 5

// exportList is the --dynamic-list file naming every global function of
// the given objects that has default visibility: the runtime's
// __stack_chk_fail and __*_chk entry points, not its hidden helpers.
func exportList(objs []string) (string, error) {
	var names []string
	for _, obj := range objs {
		f, err := elf.Open(obj)
		if err != nil {
			return "", fmt.Errorf("build guard runtime: read %s: %w", obj, err)
		}
		syms, err := f.Symbols()
		f.Close()
		if err != nil {
			return "", fmt.Errorf("build guard runtime: symbols of %s: %w", obj, err)
		}
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC && elf.ST_BIND(s.Info) == elf.STB_GLOBAL &&
				elf.ST_VISIBILITY(s.Other) == elf.STV_DEFAULT && s.Section != elf.SHN_UNDEF {
				names = append(names, s.Name)
			}
		}
	}
	if len(names) == 0 {
		return "", errors.New("build guard runtime: no canary or FORTIFY entry point to export")
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("{\n")
	for _, n := range names {
		b.WriteString("  " + n + ";\n")
	}
	b.WriteString("};\n")
	return b.String(), nil
}

// RuntimeLocalPrefix starts the name of every local (static) function in the
// runtime archive. The runtime is built without stack protector on purpose;
// the prefix lets immunix check tell its functions from the program's in a
// linked file, even after strip -g (which removes the STT_FILE symbols that
// would otherwise say which object a local function came from).
const RuntimeLocalPrefix = contract.RuntimeLocalPrefix

// prefixLocalFuncs renames the local function symbols of one runtime object
// to carry RuntimeLocalPrefix, with objcopy --redefine-syms.
func prefixLocalFuncs(obj string, log func([]string)) error {
	f, err := elf.Open(obj)
	if err != nil {
		return fmt.Errorf("build guard runtime: read %s: %w", obj, err)
	}
	syms, err := f.Symbols()
	f.Close()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return fmt.Errorf("build guard runtime: symbols of %s: %w", obj, err)
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || elf.ST_BIND(s.Info) != elf.STB_LOCAL {
			continue
		}
		if s.Name == "" || strings.HasPrefix(s.Name, "__immunix_") || seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		fmt.Fprintf(&b, "%s %s%s\n", s.Name, RuntimeLocalPrefix, s.Name)
	}
	if b.Len() == 0 {
		return nil
	}
	list := obj + ".redefine"
	if err := os.WriteFile(list, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("build guard runtime: %w", err)
	}
	return run([]string{objcopyTool(), "--redefine-syms=" + list, obj}, log)
}

// objcopyTool is the objcopy program: $IMMUNIX_OBJCOPY, else objcopy.
func objcopyTool() string {
	if a := os.Getenv("IMMUNIX_OBJCOPY"); a != "" {
		return a
	}
	return "objcopy"
}

// archiver is the ar program: $IMMUNIX_AR, else ar.
func archiver() string {
	if a := os.Getenv("IMMUNIX_AR"); a != "" {
		return a
	}
	return "ar"
}

func useCET(t Target) bool {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "386" {
		return false
	}
	for _, f := range t.ABIFlags {
		if strings.HasPrefix(f, "--target") || f == "-target" {
			return false
		}
	}
	return true
}

func run(argv []string, log func([]string)) error {
	if log != nil {
		log(argv)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		return fmt.Errorf("build guard runtime: %s: %w\n%s", quote(argv), err, msg)
	}
	return nil
}

func quote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$") {
			a = strconv.Quote(a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
