package ccwrap

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/immunix/immunix/internal/cachedir"
	"github.com/immunix/immunix/internal/version"
)

// probeFormat changes whenever Caps or the probes change, so old cache
// entries are not read with new meaning.
const probeFormat = "3"

// CompilerKey identifies a compiler build and target for caching: the
// resolved path, size and modification time of cmd[0], the rest of cmd and
// the ABI flags. It costs a few system calls, no process.
func CompilerKey(cmd, abi []string) (string, error) {
	res, err := filepath.EvalSymlinks(cmd[0])
	if err != nil {
		return "", fmt.Errorf("resolve compiler %s: %w", cmd[0], err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(res, &st); err != nil {
		return "", fmt.Errorf("stat compiler %s: %w", res, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d.%d\x00%s\x00%s\x00%s", res, st.Size, st.Mtim.Sec, st.Mtim.Nsec,
		strings.Join(cmd[1:], "\x01"), strings.Join(abi, "\x01"), version.Version)
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// probeCompiler is Env.Probe's real provider: CompilerKey, then CachedCaps.
func probeCompiler(cmd, abi []string) (key string, caps Caps, note string, err error) {
	if key, err = CompilerKey(cmd, abi); err != nil {
		return "", Caps{}, "", err
	}
	caps, note, err = CachedCaps(key, cmd, abi)
	return key, caps, note, err
}

// CachedCaps returns the capabilities of the compiler cmd for the target
// chosen by abi, probing it once per compiler key and caching the result in
// the immunix cache. A failed probe is not cached. When the cache cannot be
// written, the compiler is probed anyway (every time) and warn says why.
func CachedCaps(key string, cmd, abi []string) (caps Caps, warn string, err error) {
	var probeErr error
	dir, err := cachedir.Materialize("probe/"+probeFormat+"-"+key, func(tmp string) error {
		c, err := Probe(cmd, abi)
		if err != nil {
			probeErr = err
			return err
		}
		return os.WriteFile(filepath.Join(tmp, "caps"), []byte(c.encode()), 0o644)
	})
	switch {
	case probeErr != nil:
		return Caps{}, "", probeErr
	case err != nil:
		c, perr := Probe(cmd, abi)
		if perr != nil {
			return Caps{}, "", perr
		}
		return c, fmt.Sprintf("compiler capabilities not cached: %v", err), nil
	}
	data, err := os.ReadFile(filepath.Join(dir, "caps"))
	if err != nil {
		return Caps{}, "", fmt.Errorf("read compiler capabilities: %w", err)
	}
	c, err := decodeCaps(data)
	return c, "", err
}

func (c Caps) encode() string {
	return fmt.Sprintf("kind=%s\nversion=%s\nx86=%t\ncanary=%t\nstackclash=%t\ncet=%t\nfortify3=%t\ndefaultpie=%t\n",
		c.Kind, c.Version, c.X86, c.Canary, c.StackClash, c.CET, c.Fortify3, c.DefaultPIE)
}

func decodeCaps(data []byte) (Caps, error) {
	var c Caps
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Caps{}, fmt.Errorf("compiler capabilities: bad line %q", line)
		}
		b, _ := strconv.ParseBool(v)
		switch k {
		case "kind":
			c.Kind = v
		case "version":
			c.Version = v
		case "x86":
			c.X86 = b
		case "canary":
			c.Canary = b
		case "stackclash":
			c.StackClash = b
		case "cet":
			c.CET = b
		case "fortify3":
			c.Fortify3 = b
		case "defaultpie":
			c.DefaultPIE = b
		}
	}
	return c, nil
}

// Probe runs the compiler cmd (with the ABI flags abi) a few times, in
// parallel, to learn what it accepts: its predefined macros, each hardening
// flag with -Werror, and the FORTIFY level glibc grants with
// -D_FORTIFY_SOURCE=3.
func Probe(cmd, abi []string) (Caps, error) {
	run := func(stdin string, args ...string) ([]byte, error) {
		argv := append(append(append([]string{}, cmd[1:]...), abi...), args...)
		c := exec.Command(cmd[0], argv...)
		c.Stdin = strings.NewReader(stdin)
		c.Env = append(os.Environ(), "LC_ALL=C")
		var out bytes.Buffer
		c.Stdout = &out
		err := c.Run()
		return out.Bytes(), err
	}
	var (
		wg                 sync.WaitGroup
		macros, fortify    []byte
		macroErr           error
		canary, clash, cet bool
		nullC              = []string{"-c", "-x", "c", "-", "-o", os.DevNull}
	)
	accepts := func(dst *bool, flag string) {
		defer wg.Done()
		_, err := run("int immunix_probe;\n", append([]string{"-Werror", flag}, nullC...)...)
		*dst = err == nil
	}
	wg.Add(5)
	go func() { defer wg.Done(); macros, macroErr = run("", "-dM", "-E", "-x", "c", "-") }()
	go func() {
		defer wg.Done()
		fortify, _ = run("#include <string.h>\n", "-O2", "-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=3", "-dM", "-E", "-x", "c", "-")
	}()
	go accepts(&canary, "-fstack-protector-strong")
	go accepts(&clash, "-fstack-clash-protection")
	go accepts(&cet, "-fcf-protection=full")
	wg.Wait()
	if macroErr != nil {
		return Caps{}, fmt.Errorf("probe compiler %s: preprocess an empty file: %w", strings.Join(append(cmd, abi...), " "), macroErr)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(macros), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) >= 2 && f[0] == "#define" {
			v := ""
			if len(f) == 3 {
				v = f[2]
			}
			m[f[1]] = v
		}
	}
	c := Caps{Kind: "unknown", Canary: canary, StackClash: clash}
	switch {
	case m["__clang__"] != "":
		c.Kind, c.Version = "clang", m["__clang_major__"]+"."+m["__clang_minor__"]+"."+m["__clang_patchlevel__"]
	case m["__GNUC__"] != "":
		c.Kind, c.Version = "gcc", m["__GNUC__"]+"."+m["__GNUC_MINOR__"]+"."+m["__GNUC_PATCHLEVEL__"]
	}
	_, x64 := m["__x86_64__"]
	_, x32 := m["__i386__"]
	c.X86 = x64 || x32
	c.CET = cet && c.X86
	_, c.DefaultPIE = m["__pie__"]
	c.Fortify3 = bytes.Contains(fortify, []byte("#define __USE_FORTIFY_LEVEL 3"))
	return c, nil
}
