package check

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/immunix/immunix/check/elfacts"
	"github.com/immunix/immunix/check/pkg"
	"github.com/immunix/immunix/cryptomark"
)

// FileReport is the verdict for one ELF file (on disk or inside a package),
// or the error that kept it from being read.
type FileReport struct {
	// Path names the file: its path, or "PACKAGE!MEMBER" inside a package.
	Path string `json:"path"`
	// Package and Member are set for files read from a package.
	Package string `json:"package,omitempty"`
	Member  string `json:"member,omitempty"`
	Kind    string `json:"kind,omitempty"`
	Arch    string `json:"arch,omitempty"`
	// Error is why the file could not be checked; Results is then empty.
	Error   string   `json:"error,omitempty"`
	Results []Result `json:"results,omitempty"`
	// Failed lists the properties the policy refuses.
	Failed []string `json:"failed,omitempty"`
}

// Result returns the file's result for prop.
func (f *FileReport) Result(prop string) (Result, bool) {
	for _, r := range f.Results {
		if r.Property == prop {
			return r, true
		}
	}
	return Result{}, false
}

// Summary counts the files of a report.
type Summary struct {
	Files   int `json:"files"`   // ELF files checked or attempted
	Passed  int `json:"passed"`  // checked, and the policy accepts them
	Failed  int `json:"failed"`  // checked, and the policy refuses them
	Errors  int `json:"errors"`  // could not be read
	Skipped int `json:"skipped"` // non-ELF files met in directories and packages
}

// Report is the result of one scan.
type Report struct {
	Level    string       `json:"level"`
	Policy   string       `json:"policy"`
	Required []string     `json:"required"`
	Files    []FileReport `json:"files"`
	Summary  Summary      `json:"summary"`

	want map[string]string // what the policy asks of each property
}

// ExitCode is the gate's exit status: 2 when any input could not be read, 1
// when the policy refused a file, else 0.
func (r *Report) ExitCode() int {
	switch {
	case r.Summary.Errors > 0:
		return 2
	case r.Summary.Failed > 0:
		return 1
	}
	return 0
}

// Scanner checks files against a policy. Fill the fields, then call Scan.
type Scanner struct {
	Policy Policy
	// Code turns on the per-function canary analysis.
	Code bool
	// Workers bounds the parallelism; 0 means one per CPU.
	Workers int
	// RuntimeArchives are the static libraries (libc.a, libgcc.a, ...)
	// whose functions, found in a static program, are the toolchain's and
	// not the program's; nil means DefaultRuntimeArchives().
	RuntimeArchives []string
	// Stdin supplies the list of paths for the argument "-".
	Stdin io.Reader
	// Progress, if set, is called after each input unit (a file or a
	// package) with the count done and the total.
	Progress func(done, total int)
	// Keys are the trusted CryptoMark keys the signature property
	// verifies against; nil trusts none.
	Keys *cryptomark.Keyring

	// MaxMemory bounds the memory the scan holds for file contents at
	// any one time, across all workers: package members read into memory
	// (each is charged twice its size, for its bytes and its code's copy)
	// and the code of files on disk. 0 means DefaultMaxMemory. A member
	// larger than half of it is reported as an error, not read.
	MaxMemory int64
	// FileBudget bounds the code analysis of one file in wall-clock time
	// (the work itself is linear in the code size); when it runs out, the
	// canary and call verdicts of that file are "unknown". 0: no bound.
	FileBudget time.Duration

	libcOnce sync.Once
	libc     *ToolchainIndex
}

// scanRun is one Scan: the Scanner's settings and what this scan shares
// among its workers. A Scanner is not changed by scanning, so two scans
// of one Scanner may run at once.
type scanRun struct {
	*Scanner
	parallel int        // workers: elfacts parallelises one large file as far
	mem      *memBudget // bytes of file contents held at once
}

// DefaultRuntimeArchives returns the static runtime libraries a static
// program links on this system: libc.a where Debian, Fedora and others keep
// it, and GCC's libgcc.a, libgcc_eh.a and libstdc++.a (Clang links the same
// ones on Debian).
func DefaultRuntimeArchives() []string {
	var out []string
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libc.a", "/usr/lib64/libc.a", "/usr/lib/libc.a"} {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
			break
		}
	}
	for _, pat := range []string{"/usr/lib/gcc/x86_64-linux-gnu/*", "/usr/lib/gcc/x86_64-redhat-linux/*"} {
		dirs, _ := filepath.Glob(pat)
		for _, d := range dirs {
			for _, n := range []string{"libgcc.a", "libgcc_eh.a", "libstdc++.a"} {
				if _, err := os.Stat(filepath.Join(d, n)); err == nil {
					out = append(out, filepath.Join(d, n))
				}
			}
		}
	}
	return out
}

// DefaultMaxMemory is the default Scanner.MaxMemory: 1 GiB for the whole
// scan, so package members of up to 512 MiB are checked.
const DefaultMaxMemory = 1 << 30

// memBudget is a counting semaphore of bytes shared by the workers.
type memBudget struct {
	mu   sync.Mutex
	cond *sync.Cond
	free int64
	max  int64
}

func newMemBudget(n int64) *memBudget {
	b := &memBudget{free: n, max: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// acquire waits until n bytes (at most the whole budget) are free and
// takes them; it returns what it took, for release.
func (b *memBudget) acquire(n int64) int64 {
	n = min(max(n, 0), b.max)
	b.mu.Lock()
	for b.free < n {
		b.cond.Wait()
	}
	b.free -= n
	b.mu.Unlock()
	return n
}

func (b *memBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// unit is one input: a file on disk or a package.
type unit struct {
	path     string
	size     int64  // for scheduling: the largest inputs start first
	explicit bool   // named on the command line (not found in a directory)
	err      string // an error found while listing inputs
}

// Scan checks every input. Paths may be ELF files, directories (walked
// recursively; symbolic links inside them are not followed), .deb and .rpm
// packages, or "-" for a newline-separated list of paths on Stdin.
func (s *Scanner) Scan(paths []string) *Report {
	units := s.expand(paths)
	out := make([][]FileReport, len(units))
	skipped := make([]int, len(units))
	workers := s.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	// Start the largest inputs first, so that no huge file is left running
	// alone at the end; the report keeps the input order.
	order := make([]int, len(units))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return units[order[a]].size > units[order[b]].size })
	limit := s.MaxMemory
	if limit <= 0 {
		limit = DefaultMaxMemory
	}
	run := &scanRun{Scanner: s, parallel: workers, mem: newMemBudget(limit)}
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(workers, max(len(units), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(units) {
					return
				}
				i := order[k]
				out[i], skipped[i] = run.checkUnit(units[i])
				if s.Progress != nil {
					s.Progress(int(done.Add(1)), len(units))
				}
			}
		}()
	}
	wg.Wait()
	rep := &Report{Level: string(s.Policy.Level()), Policy: s.Policy.String(), Required: s.Policy.Required(), Files: []FileReport{}, want: map[string]string{}}
	for _, p := range rep.Required {
		rep.want[p] = s.Policy.Want(p)
	}
	if rep.Required == nil {
		rep.Required = []string{}
	}
	for i, fr := range out {
		rep.Summary.Skipped += skipped[i]
		for _, f := range fr {
			rep.Files = append(rep.Files, f)
			rep.Summary.Files++
			switch {
			case f.Error != "":
				rep.Summary.Errors++
			case len(f.Failed) > 0:
				rep.Summary.Failed++
			default:
				rep.Summary.Passed++
			}
		}
	}
	return rep
}

func (s *Scanner) expand(paths []string) []unit {
	var units []unit
	var add func(p string, explicit bool)
	add = func(p string, explicit bool) {
		if p == "-" && explicit {
			if s.Stdin == nil {
				units = append(units, unit{path: "-", explicit: true, err: "no standard input to read paths from"})
				return
			}
			sc := bufio.NewScanner(s.Stdin)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				if line := strings.TrimSpace(sc.Text()); line != "" {
					add(line, true)
				}
			}
			if err := sc.Err(); err != nil {
				units = append(units, unit{path: "-", explicit: true, err: fmt.Sprintf("read path list: %v", err)})
			}
			return
		}
		st, err := os.Stat(p)
		if err != nil {
			units = append(units, unit{path: p, explicit: true, err: errText(err)})
			return
		}
		if !st.IsDir() {
			units = append(units, unit{path: p, explicit: explicit, size: st.Size()})
			return
		}
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				units = append(units, unit{path: q, explicit: true, err: errText(err)})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				var size int64
				if info, err := d.Info(); err == nil {
					size = info.Size()
				}
				units = append(units, unit{path: q, size: size})
			}
			return nil // directories are descended, symlinks and devices skipped
		})
		if err != nil {
			units = append(units, unit{path: p, explicit: true, err: errText(err)})
		}
	}
	for _, p := range paths {
		add(p, true)
	}
	return units
}

// errText renders an os error without Go's "op path:" prefix duplication.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// checkUnit checks one input and returns its reports and how many files
// were skipped as not ELF.
func (s *scanRun) checkUnit(u unit) ([]FileReport, int) {
	if u.err != "" {
		return []FileReport{{Path: u.path, Error: u.err}}, 0
	}
	f, err := os.Open(u.path)
	if err != nil {
		return []FileReport{{Path: u.path, Error: errText(err)}}, 0
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return []FileReport{{Path: u.path, Error: errText(err)}}, 0
	}
	head := make([]byte, 32)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte(elf.ELFMAG)):
		// What Read holds is the file's code at most: charge its size.
		held := s.mem.acquire(st.Size())
		defer s.mem.release(held)
		return []FileReport{s.checkELF(u.path, f, st.Size())}, 0
	case pkg.Sniff(head) != "":
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return []FileReport{{Path: u.path, Error: errText(err)}}, 0
		}
		return s.checkPackage(u.path, f)
	case u.explicit:
		return []FileReport{{Path: u.path, Error: "not an ELF file, .deb or .rpm package"}}, 0
	}
	return nil, 1
}

func (s *scanRun) checkELF(path string, r io.ReaderAt, size int64) FileReport {
	fr := FileReport{Path: path}
	opt := elfacts.Options{Functions: s.Code, Parallel: s.parallel, Callees: fortifyNames, Budget: s.FileBudget}
	opt.Toolchain = func(name string, code []byte) bool { return s.toolchain().Match(name, code) }
	facts, err := elfacts.Read(r, size, opt)
	if err != nil {
		fr.Error = err.Error()
		return fr
	}
	fr.Kind = string(facts.Kind)
	fr.Arch = arch(facts)
	fr.Results = append(Evaluate(facts, nil), signatureResult(r, size, s.Keys))
	fr.Failed = s.Policy.Failures(fr.Results)
	return fr
}

func arch(f *elfacts.Facts) string {
	m := strings.ToLower(strings.TrimPrefix(f.Machine.String(), "EM_"))
	bits := "64"
	if f.Class == elf.ELFCLASS32 {
		bits = "32"
	}
	end := "le"
	if f.Data == elf.ELFDATA2MSB {
		end = "be"
	}
	return m + "/" + bits + end
}

func (s *Scanner) toolchain() *ToolchainIndex {
	s.libcOnce.Do(func() {
		paths := s.RuntimeArchives
		if paths == nil {
			paths = DefaultRuntimeArchives()
		}
		s.libc, _ = ReadToolchainIndex(paths) // none: toolchain code counts as the program's
	})
	return s.libc
}

func (s *scanRun) checkPackage(path string, r io.Reader) ([]FileReport, int) {
	var out []FileReport
	skipped := 0
	err := pkg.Walk(r, func(m pkg.Member, mr io.Reader) error {
		name := path + "!" + m.Name
		var head [4]byte
		n, err := io.ReadFull(mr, head[:])
		if err != nil && n < 4 {
			if m.Size >= 4 {
				return fmt.Errorf("read %s: %w", m.Name, err)
			}
			skipped++
			return nil
		}
		if string(head[:]) != elf.ELFMAG {
			skipped++
			return nil
		}
		// The member's bytes and the copy of its code: twice its size,
		// charged to the scan's budget before anything is allocated.
		if m.Size > s.mem.max/2 {
			out = append(out, FileReport{Path: name, Package: path, Member: m.Name, Error: fmt.Sprintf("member of %d bytes is larger than the %d-byte limit (half the scan's memory budget, --max-memory)", m.Size, s.mem.max/2)})
			return nil
		}
		held := s.mem.acquire(2 * m.Size)
		defer s.mem.release(held)
		data := make([]byte, m.Size)
		copy(data, head[:])
		if _, err := io.ReadFull(mr, data[4:]); err != nil {
			return fmt.Errorf("read %s: %w", m.Name, err)
		}
		fr := s.checkELF(name, bytes.NewReader(data), m.Size)
		fr.Package, fr.Member = path, m.Name
		out = append(out, fr)
		return nil
	})
	if err != nil {
		out = append(out, FileReport{Path: path, Package: path, Error: err.Error()})
	}
	return out, skipped
}
