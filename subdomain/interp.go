package subdomain

import (
	"bytes"
	"debug/elf"
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

// Interpreters returns what the kernel opens to execute file: the #!
// interpreter of a script (and that interpreter's ELF interpreter), or
// an ELF file's PT_INTERP. Unreadable files give nil.
func Interpreters(file string) []string {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := f.Read(head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("#!")) {
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
			out = append(out, Interpreters(r)...)
		}
		return out
	}
	if !bytes.HasPrefix(head, []byte("\x7fELF")) {
		return nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil
	}
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_INTERP {
			data := make([]byte, prog.Filesz)
			if _, err := prog.ReadAt(data, 0); err == nil {
				return []string{string(bytes.TrimRight(data, "\x00"))}
			}
		}
	}
	return nil
}
