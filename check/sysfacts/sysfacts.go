// Package sysfacts reads the kernel settings immunix's protections work
// beside, as the kernel reports them under /proc/sys, and says what each
// value means: the fs.protected_* sysctls that guard some of RaceGuard's
// ground (docs/raceguard.md), address-space randomisation (which the
// canary and PIE rely on) and Yama's ptrace scope (which decides who may
// read a guarded process's canary and memory). immunix check --system
// prints them.
//
// Example:
//
//	rep := sysfacts.Read("/proc/sys")
//	for _, f := range rep.Facts {
//		fmt.Println(f.Name, f.Value, f.Meaning)
//	}
package sysfacts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultRoot is where the kernel reports its sysctls.
const DefaultRoot = "/proc/sys"

// Fact statuses.
const (
	StatusOK      = "ok"      // read; Value holds it
	StatusAbsent  = "absent"  // this kernel has no such setting
	StatusUnknown = "unknown" // read, but not a value this package knows
	StatusError   = "error"   // could not be read; Error says why
)

// Fact is one kernel setting.
type Fact struct {
	Name    string `json:"name"`            // the sysctl name, e.g. fs.protected_symlinks
	Status  string `json:"status"`          // StatusOK, StatusAbsent, StatusUnknown or StatusError
	Value   string `json:"value,omitempty"` // as the kernel reports it, surrounding blanks trimmed
	Meaning string `json:"meaning,omitempty"`
	// Beside says what immunix adds to (or relies on in) this setting.
	Beside string `json:"beside,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Report is every fact, in the order of Names.
type Report struct {
	Root  string `json:"root"`
	Facts []Fact `json:"facts"`
}

type setting struct {
	name    string
	meaning map[string]string // by value
	beside  string
}

const rgSticky = "RaceGuard refuses the raced create in programs built by immunix-cc, in any directory and whoever planted the name"

var settings = []setting{
	{
		name: "fs.protected_symlinks",
		meaning: map[string]string{
			"0": "symlinks are followed wherever they are and whoever owns them",
			"1": "a symlink in a sticky world-writable directory is followed only by its owner or when it is owned by the directory's owner (last path component only)",
		},
		beside: rgSticky + "; the kernel's guard covers every program, but only sticky world-writable directories, only the last path component, and not a symlink planted by the victim's own user",
	},
	{
		name: "fs.protected_hardlinks",
		meaning: map[string]string{
			"0": "any user may hard-link any file they can see",
			"1": "a user may hard-link only a file they own or may read and write (or with CAP_FOWNER)",
		},
		beside: rgSticky + "; the kernel's guard stops a link to a file the attacker cannot write, not a link to the victim's own file planted where the victim will create",
	},
	{
		name: "fs.protected_regular",
		meaning: map[string]string{
			"0": "an O_CREAT open of an existing regular file is never refused for where the file is",
			"1": "an O_CREAT open of an existing regular file in a sticky world-writable directory is refused unless the opener or the directory's owner owns it",
			"2": "as 1, and in sticky group-writable directories too",
		},
		beside: rgSticky + "; the kernel's guard covers every program, but only sticky world- (or group-) writable directories and only files of other users",
	},
	{
		name: "fs.protected_fifos",
		meaning: map[string]string{
			"0": "an O_CREAT open of an existing FIFO is never refused for where it is",
			"1": "an O_CREAT open of an existing FIFO in a sticky world-writable directory is refused unless the opener or the directory's owner owns it",
			"2": "as 1, and in sticky group-writable directories too",
		},
		beside: rgSticky + " (a planted FIFO included); the kernel's guard covers every program, but only sticky directories and only other users' FIFOs",
	},
	{
		name: "kernel.randomize_va_space",
		meaning: map[string]string{
			"0": "no address-space randomisation: PIE and the stack are at fixed addresses",
			"1": "stack, mmap base, vDSO and PIE load address randomised; the heap (brk) is not",
			"2": "as 1, and the heap (brk) randomised too (full randomisation)",
		},
		beside: "immunix check's pie property and StackGuard's canary assume 2: with 0 an attacker knows every address in advance",
	},
	{
		name: "kernel.yama.ptrace_scope",
		meaning: map[string]string{
			"0": "a process may ptrace any other process of its user (classic)",
			"1": "a process may ptrace only its descendants (or a process that allowed it with PR_SET_PTRACER)",
			"2": "only a process with CAP_SYS_PTRACE may ptrace",
			"3": "no process may ptrace, and the setting cannot be lowered until reboot",
		},
		beside: "with 0 any process of the same user can read a guarded program's canary and memory, or stop it between two calls; a program under immunix run (SubDomain) may not ptrace unless its profile grants it, whatever this says",
	},
}

// Names are the sysctls Read reports, in order.
func Names() []string {
	n := make([]string, len(settings))
	for i, s := range settings {
		n[i] = s.name
	}
	return n
}

// Read reads every setting under root (a /proc/sys directory; DefaultRoot
// for the running kernel). A setting the kernel lacks is StatusAbsent; one
// that cannot be read is StatusError: Read itself never fails, so a report
// is always complete.
func Read(root string) *Report {
	rep := &Report{Root: root}
	for _, s := range settings {
		rep.Facts = append(rep.Facts, readOne(root, s))
	}
	return rep
}

func readOne(root string, s setting) Fact {
	f := Fact{Name: s.name, Beside: s.beside}
	p := filepath.Join(root, filepath.FromSlash(strings.ReplaceAll(s.name, ".", "/")))
	data, err := readSmall(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.Status = StatusAbsent
		f.Meaning = "this kernel has no such setting"
		return f
	case err != nil:
		f.Status = StatusError
		f.Error = err.Error()
		return f
	}
	f.Value = strings.TrimSpace(string(data))
	if m, ok := s.meaning[f.Value]; ok {
		f.Status, f.Meaning = StatusOK, m
	} else {
		f.Status, f.Meaning = StatusUnknown, fmt.Sprintf("not a value immunix knows (it knows %s)", known(s))
	}
	return f
}

// readSmall reads at most 4 KiB: a sysctl is one short line, and a fake
// root must not make Read load a huge file.
func readSmall(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a setting", path)
	}
	data, err := io.ReadAll(io.LimitReader(fh, 4097))
	if err != nil {
		return nil, err
	}
	if len(data) > 4096 {
		return nil, fmt.Errorf("%s is longer than 4 KiB: not a setting", path)
	}
	return data, nil
}

func known(s setting) string {
	var vs []string
	for v := range s.meaning {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return strings.Join(vs, ", ")
}

// WriteText writes one block per fact: the name and value, what the value
// means, and what immunix adds beside it.
func WriteText(w io.Writer, rep *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Kernel settings (from %s)\n", rep.Root)
	for _, f := range rep.Facts {
		v := f.Value
		switch f.Status {
		case StatusAbsent:
			v = "absent"
		case StatusError:
			v = "unreadable"
		}
		fmt.Fprintf(&b, "\n%s = %s\n", f.Name, v)
		if f.Error != "" {
			fmt.Fprintf(&b, "  error:  %s\n", f.Error)
		}
		if f.Meaning != "" {
			fmt.Fprintf(&b, "  means:  %s\n", f.Meaning)
		}
		if f.Beside != "" {
			fmt.Fprintf(&b, "  immunix: %s\n", f.Beside)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one JSON object.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
