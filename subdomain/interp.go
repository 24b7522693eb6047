package subdomain

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// IsELF reports whether file starts with the ELF magic.
func IsELF(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = f.Read(magic[:])
	return err == nil && string(magic[:]) == "\x7fELF"
}

// MaxScriptInterpreters is how many #! lines the kernel follows for one
// execve: fs/exec.c exec_binprm allows "4 levels of binfmt rewrites"
// (depth 0..5) and fails with ELOOP past them, so a script whose chain of
// #! interpreters is longer, or names itself, does not run.
const MaxScriptInterpreters = 5

// Interpreters returns what the kernel opens to execute file: the #!
// interpreter of a script (and that interpreter's ELF interpreter), or
// an ELF file's PT_INTERP. Unreadable files give nil. Chains of #!
// interpreters are followed as far as the kernel follows them
// (MaxScriptInterpreters).
func Interpreters(file string) []string {
	return interpreters(file, 0)
}

func interpreters(file string, scripts int) []string {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := f.Read(head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("#!")) {
		if scripts == MaxScriptInterpreters {
			return nil // the kernel refuses with ELOOP here
		}
		line := head[2:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			return nil
		}
		out := []string{fields[0]}
		if r, err := filepath.EvalSymlinks(fields[0]); err == nil {
			out = append(out, interpreters(r, scripts+1)...)
		}
		return out
	}
	if !bytes.HasPrefix(head, []byte("\x7fELF")) {
		return nil
	}
	if interp, ok := elfInterp(f, head); ok {
		return []string{interp}
	}
	return nil
}

// elfInterp reads the PT_INTERP of the ELF file r, whose first bytes are
// head, as the kernel does: only the ELF header and the program headers
// (debug/elf would read and check every section header too, which
// costs immunix run's start-up 30 us for nothing).
func elfInterp(r io.ReaderAt, head []byte) (string, bool) {
	if len(head) < 64 || string(head[:4]) != "\x7fELF" {
		return "", false
	}
	var bo binary.ByteOrder
	switch head[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return "", false
	}
	var phoff uint64
	var phentsize, phnum int
	switch head[4] {
	case 1: // ELFCLASS32
		phoff = uint64(bo.Uint32(head[0x1c:]))
		phentsize, phnum = int(bo.Uint16(head[0x2a:])), int(bo.Uint16(head[0x2c:]))
		if phentsize < 32 {
			return "", false
		}
	case 2: // ELFCLASS64
		phoff = bo.Uint64(head[0x20:])
		phentsize, phnum = int(bo.Uint16(head[0x36:])), int(bo.Uint16(head[0x38:]))
		if phentsize < 56 {
			return "", false
		}
	default:
		return "", false
	}
	if phnum == 0 || phnum > 1024 || phoff > 1<<40 {
		return "", false
	}
	ph := make([]byte, phentsize*phnum)
	if _, err := r.ReadAt(ph, int64(phoff)); err != nil {
		return "", false
	}
	for i := 0; i < phnum; i++ {
		e := ph[i*phentsize:]
		if bo.Uint32(e) != 3 { // PT_INTERP
			continue
		}
		var off, size uint64
		if head[4] == 1 {
			off, size = uint64(bo.Uint32(e[4:])), uint64(bo.Uint32(e[16:]))
		} else {
			off, size = bo.Uint64(e[8:]), bo.Uint64(e[32:])
		}
		if size == 0 || size > 4096 || off > 1<<40 {
			return "", false
		}
		data := make([]byte, size)
		if _, err := r.ReadAt(data, int64(off)); err != nil {
			return "", false
		}
		return string(bytes.TrimRight(data, "\x00")), true
	}
	return "", false
}
