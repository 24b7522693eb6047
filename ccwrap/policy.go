package ccwrap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/google/shlex"
)

// DefaultConfigFile is the system configuration file; IMMUNIX_CONFIG
// overrides the path (tests use it).
const DefaultConfigFile = "/etc/immunix/immunix.conf"

// The keys of the configuration file, which are also the environment
// variables (the environment overrides the file).
// IMMUNIX_RACEGUARD is read by the guard runtime in every program at run
// time (docs/raceguard.md); immunix-cc only checks its value.
var configKeys = []string{"IMMUNIX_DISABLE", "IMMUNIX_FLAGS", "IMMUNIX_DEBUG", "IMMUNIX_LOG", "IMMUNIX_STRICT", "IMMUNIX_CC", "IMMUNIX_CXX", "IMMUNIX_RACEGUARD", "IMMUNIX_LEVEL"}

// Policy is the wrapper's configuration after defaults, the config file and
// the environment. It is a plain value.
type Policy struct {
	Disabled map[Protection]bool
	Flags    []string // IMMUNIX_FLAGS, split like a shell would
	Debug    bool     // print the final command on stderr
	Log      string   // append one line per invocation to this file
	Strict   bool     // refuse what would otherwise fail open
	CC, CXX  []string // IMMUNIX_CC / IMMUNIX_CXX, split
	Level    Level    // IMMUNIX_LEVEL: which level's protections are added (level.go)
}

// Enabled reports whether the policy leaves p on.
func (p Policy) Enabled(x Protection) bool { return !p.Disabled[x] }

// ErrUsage wraps every bad configuration value (exit 100).
var ErrUsage = codedError(ExitUsage, "usage")

// MaxConfigSize bounds the configuration file; MaxConfigLine one line of it.
const (
	MaxConfigSize = 1 << 20
	MaxConfigLine = 64 << 10
)

// ReadConfigFile reads a configuration file without trusting what the path
// names: it opens with O_NONBLOCK (a FIFO with no writer cannot block the
// open) and O_NOCTTY, refuses anything fstat does not report as a regular
// file (FIFO, device, socket, directory), and reads at most MaxConfigSize+1
// bytes, so /dev/zero-like files cannot grow memory. A larger file yields its
// first MaxConfigSize+1 bytes; parseConfig reports it with FILE:LINE.
func ReadConfigFile(path string) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, fileKind(st.Mode))
	}
	return io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
}

func fileKind(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFIFO:
		return "a FIFO"
	case syscall.S_IFCHR:
		return "a character device"
	case syscall.S_IFBLK:
		return "a block device"
	case syscall.S_IFSOCK:
		return "a socket"
	case syscall.S_IFDIR:
		return "a directory"
	}
	return fmt.Sprintf("file type %#o", mode&syscall.S_IFMT)
}

// LoadPolicy builds the policy from the config file at path (a missing file
// is no error) and getenv. readFile is ReadConfigFile outside tests.
func LoadPolicy(path string, readFile func(string) ([]byte, error), getenv func(string) string) (Policy, error) {
	vals := map[string]string{}
	where := map[string]string{}
	if data, err := readFile(path); err == nil {
		if err := parseConfig(path, data, vals, where); err != nil {
			return Policy{}, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Policy{}, fmt.Errorf("%w: config: %w", ErrUsage, err)
	}
	for _, k := range configKeys {
		if v := getenv(k); v != "" {
			vals[k], where[k] = v, "environment variable "+k
		}
	}
	var p Policy
	var err error
	if p.Disabled, err = ParseProtections(vals["IMMUNIX_DISABLE"]); err != nil {
		return Policy{}, fmt.Errorf("%w: %s: IMMUNIX_DISABLE: %w", ErrUsage, where["IMMUNIX_DISABLE"], err)
	}
	for _, k := range []string{"IMMUNIX_FLAGS", "IMMUNIX_CC", "IMMUNIX_CXX"} {
		words, err := shlex.Split(vals[k])
		if err != nil {
			return Policy{}, fmt.Errorf("%w: %s: %s: %w", ErrUsage, where[k], k, err)
		}
		switch k {
		case "IMMUNIX_FLAGS":
			p.Flags = words
		case "IMMUNIX_CC":
			p.CC = words
		case "IMMUNIX_CXX":
			p.CXX = words
		}
	}
	for _, k := range []string{"IMMUNIX_DEBUG", "IMMUNIX_STRICT"} {
		b, err := parseBool(vals[k])
		if err != nil {
			return Policy{}, fmt.Errorf("%w: %s: %s: %w", ErrUsage, where[k], k, err)
		}
		if k == "IMMUNIX_DEBUG" {
			p.Debug = b
		} else {
			p.Strict = b
		}
	}
	p.Log = vals["IMMUNIX_LOG"]
	switch v := vals["IMMUNIX_RACEGUARD"]; v {
	case "", "refuse", "kill", "off":
	default:
		return Policy{}, fmt.Errorf("%w: %s: IMMUNIX_RACEGUARD: %q is not refuse, kill or off", ErrUsage, where["IMMUNIX_RACEGUARD"], v)
	}
	if p.Level, err = ParseLevel(vals["IMMUNIX_LEVEL"]); err != nil {
		return Policy{}, fmt.Errorf("%w: %s: IMMUNIX_LEVEL: %w", ErrUsage, where["IMMUNIX_LEVEL"], err)
	}
	return p, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "0", "no", "false", "off":
		return false, nil
	case "1", "yes", "true", "on":
		return true, nil
	}
	return false, fmt.Errorf("%q is not a boolean (use 1 or 0)", s)
}

// parseConfig reads KEY=VALUE lines; '#' starts a comment line; a value may
// be quoted with double quotes. Errors name file:line. A line longer than
// MaxConfigLine, or a file longer than MaxConfigSize, is an error at the
// line where the limit is passed.
func parseConfig(path string, data []byte, vals, where map[string]string) error {
	tooBig := len(data) > MaxConfigSize
	if tooBig {
		data = data[:MaxConfigSize]
	}
	n := 0
	for len(data) > 0 {
		n++
		raw, rest, found := bytes.Cut(data, []byte("\n"))
		if len(raw) > MaxConfigLine {
			return fmt.Errorf("%w: %s:%d: line longer than %d bytes", ErrUsage, path, n, MaxConfigLine)
		}
		if !found && tooBig {
			break
		}
		data = rest
		line := strings.TrimSpace(string(raw))
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok {
			return fmt.Errorf("%w: %s:%d: want KEY=VALUE, got %q", ErrUsage, path, n, line)
		}
		known := false
		for _, c := range configKeys {
			known = known || c == k
		}
		if !known {
			return fmt.Errorf("%w: %s:%d: unknown key %q (known: %s)", ErrUsage, path, n, k, strings.Join(configKeys, ", "))
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		vals[k], where[k] = v, fmt.Sprintf("%s:%d", path, n)
	}
	if tooBig {
		return fmt.Errorf("%w: %s:%d: file larger than %d bytes", ErrUsage, path, n, MaxConfigSize)
	}
	return nil
}
