package subdomain

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestInterpreters(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s")
	os.WriteFile(script, []byte("#!/bin/sh -e\necho hi\n"), 0o755)
	got := Interpreters(script)
	if len(got) < 1 || got[0] != "/bin/sh" {
		t.Fatalf("Interpreters(script) = %v, want /bin/sh first", got)
	}
	if len(got) < 2 || !strings.Contains(got[1], "ld-linux") {
		t.Errorf("the shell's own ELF interpreter is missing: %v", got)
	}
	if got := Interpreters("/usr/bin/true"); len(got) != 1 || !strings.Contains(got[0], "ld-linux") {
		t.Errorf("Interpreters(/usr/bin/true) = %v", got)
	}
	if !IsELF("/usr/bin/true") || IsELF(script) {
		t.Error("IsELF wrong")
	}
	text := filepath.Join(dir, "t")
	os.WriteFile(text, []byte("plain"), 0o644)
	if got := Interpreters(text); got != nil {
		t.Errorf("Interpreters(text) = %v", got)
	}
	if got := Interpreters(filepath.Join(dir, "missing")); got != nil {
		t.Errorf("Interpreters(missing) = %v", got)
	}
}

// TestInterpretersFollowsTheKernel: a chain of #! scripts is followed as
// far as the running kernel executes it, and a script naming itself as its
// interpreter gives a bounded list (it gave one entry per file descriptor,
// 4,087, before).
func TestInterpretersFollowsTheKernel(t *testing.T) {
	dir := t.TempDir()
	prev := "/bin/sh"
	for i := 0; i <= MaxScriptInterpreters+2; i++ {
		s := filepath.Join(dir, fmt.Sprintf("s%d", i))
		if err := os.WriteFile(s, []byte("#!"+prev+"\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		prev = s
		// i+1 scripts: s_i and the i below it, then /bin/sh.
		err := exec.Command(s).Run()
		runs := err == nil
		var exitErr *exec.ExitError
		if err != nil && errors.As(err, &exitErr) {
			t.Fatalf("%s: exit %v, want it to run or fail to exec", s, err)
		}
		got := Interpreters(s)
		hasShell := slices.Contains(got, "/bin/sh")
		if runs != hasShell {
			t.Errorf("chain of %d scripts: the kernel runs it: %v (%v), Interpreters reaches /bin/sh: %v (%v)", i+1, runs, err, hasShell, got)
		}
		if len(got) > MaxScriptInterpreters+1 {
			t.Errorf("chain of %d scripts: %d interpreters, more than the kernel opens: %v", i+1, len(got), got)
		}
	}
	self := filepath.Join(dir, "self")
	if err := os.WriteFile(self, []byte("#!"+self+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := Interpreters(self); len(got) != MaxScriptInterpreters {
		t.Errorf("a script naming itself: %d interpreters, want %d (as far as the kernel goes)", len(got), MaxScriptInterpreters)
	}
}

// elfHeader builds a minimal ELF file (class 1 or 2, little-endian) with
// one PT_INTERP program header naming interp.
func elfHeader(class byte, interp string) []byte {
	b := make([]byte, 256)
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = class, 1, 1
	le := binary.LittleEndian
	if class == 2 {
		le.PutUint16(b[0x10:], 2)    // ET_EXEC
		le.PutUint16(b[0x12:], 0x3e) // x86-64
		le.PutUint32(b[0x14:], 1)
		le.PutUint64(b[0x20:], 64) // phoff
		le.PutUint16(b[0x34:], 64) // ehsize
		le.PutUint16(b[0x36:], 56) // phentsize
		le.PutUint16(b[0x38:], 1)  // phnum
		le.PutUint32(b[64:], 3)    // PT_INTERP
		le.PutUint64(b[64+8:], 200)
		le.PutUint64(b[64+32:], uint64(len(interp)+1))
	} else {
		le.PutUint16(b[0x10:], 2)
		le.PutUint16(b[0x12:], 3) // i386
		le.PutUint32(b[0x14:], 1)
		le.PutUint32(b[0x1c:], 52) // phoff
		le.PutUint16(b[0x28:], 52) // ehsize
		le.PutUint16(b[0x2a:], 32) // phentsize
		le.PutUint16(b[0x2c:], 1)  // phnum
		le.PutUint32(b[52:], 3)
		le.PutUint32(b[52+4:], 200)
		le.PutUint32(b[52+16:], uint32(len(interp)+1))
	}
	copy(b[200:], interp)
	return b
}

func TestELFInterp(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
		ok   bool
	}{
		{"elf64", elfHeader(2, "/lib64/ld-linux-x86-64.so.2"), "/lib64/ld-linux-x86-64.so.2", true},
		{"elf32", elfHeader(1, "/lib/ld-linux.so.2"), "/lib/ld-linux.so.2", true},
		{"bad class", func() []byte { b := elfHeader(2, "/x"); b[4] = 9; return b }(), "", false},
		{"truncated", elfHeader(2, "/x")[:100], "", false},
		{"not elf", []byte("#!/bin/sh\n"), "", false},
	} {
		head := tc.data[:min(256, len(tc.data))]
		got, ok := elfInterp(bytes.NewReader(tc.data), head)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: elfInterp = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzELFInterp: wherever debug/elf reads a PT_INTERP of a sane size,
// elfInterp reads the same.
func FuzzELFInterp(f *testing.F) {
	f.Add(elfHeader(2, "/lib64/ld-linux-x86-64.so.2"))
	f.Add(elfHeader(1, "/lib/ld-linux.so.2"))
	if data, err := os.ReadFile("/usr/bin/true"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		head := data[:min(256, len(data))]
		got, ok := elfInterp(bytes.NewReader(data), head)
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil || len(head) < 64 {
			return
		}
		for _, p := range ef.Progs {
			if p.Type != elf.PT_INTERP {
				continue
			}
			if len(ef.Progs) > 1024 || p.Filesz == 0 || p.Filesz > 4096 || p.Off > 1<<40 {
				return
			}
			want := make([]byte, p.Filesz)
			if _, err := p.ReadAt(want, 0); err != nil {
				return
			}
			if w := string(bytes.TrimRight(want, "\x00")); !ok || got != w {
				t.Fatalf("elfInterp = %q, %v; debug/elf reads %q", got, ok, w)
			}
			return
		}
	})
}
