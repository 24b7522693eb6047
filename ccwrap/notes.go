package ccwrap

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/immunix/immunix/internal/cachedir"
	"github.com/immunix/immunix/internal/stamp"
)

// StampHeaderName is the file name of the compile-note header.
const StampHeaderName = "immunix-stamp.h"

// stampHeader emits one NT_IMMUNIX_COMPILE note per translation unit
// (internal/stamp owns the note's layout).
var stampHeader = stamp.CompileHeader()

func shortHash(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])[:24]
}

// StampHeader returns the path of the stamp header in the cache, writing it
// on first use.
func StampHeader() (string, error) {
	dir, err := cachedir.Materialize("stamp-h/"+shortHash(stampHeader), func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, StampHeaderName), []byte(stampHeader), 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("stamp header: %w", err)
	}
	return filepath.Join(dir, StampHeaderName), nil
}

// LinkNoteObject returns an object file holding s as a note, assembled once
// per (compiler, ABI flags, note text) by the real compiler cmd and cached.
func LinkNoteObject(key string, cmd, abi []string, s stamp.Stamp) (string, error) {
	asm := s.Asm()
	dir, err := cachedir.Materialize("note/"+shortHash(key, strings.Join(abi, "\x01"), asm), func(tmp string) error {
		return assembleNote(cmd, abi, s, tmp, "note.o")
	})
	if err != nil {
		return "", fmt.Errorf("link note: %w", err)
	}
	return filepath.Join(dir, "note.o"), nil
}

// assembleNote writes dir/name, an object file holding s as a note,
// assembled by the real compiler cmd (dir/name.s is its source).
func assembleNote(cmd, abi []string, s stamp.Stamp, dir, name string) error {
	src := filepath.Join(dir, name+".s")
	if err := os.WriteFile(src, []byte(s.Asm()), 0o644); err != nil {
		return err
	}
	args := append(append(append([]string{}, cmd[1:]...), abi...), "-c", "-x", "assembler", src, "-o", filepath.Join(dir, name))
	c := exec.Command(cmd[0], args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return fmt.Errorf("assemble link note with %s: %w: %s", cmd[0], err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
