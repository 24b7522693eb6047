package distro

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/immunix/immunix/internal/stamp"
)

// Stamped is one linked ELF file (executable or shared object) and the
// immunix notes it carries.
type Stamped struct {
	Path    string // relative to the tree it was found in
	Type    elf.Type
	Compile []stamp.Stamp // one per immunix-built translation unit
	Link    []stamp.Stamp // the link step's note
}

// LinkedELFs walks dir and returns every executable and shared object in it
// (not objects, not detached debug files under usr/lib/debug), with their
// immunix notes, sorted by path.
func LinkedELFs(dir string) ([]Stamped, error) {
	var out []Stamped
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if rel == filepath.Join("usr", "lib", "debug") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		head := make([]byte, 4)
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		_, rerr := f.Read(head)
		f.Close()
		if rerr != nil || !bytes.Equal(head, []byte(elf.ELFMAG)) {
			return nil
		}
		ef, err := elf.Open(path)
		if err != nil {
			return fmt.Errorf("read ELF %s: %w", rel, err)
		}
		defer ef.Close()
		if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
			return nil
		}
		notes, err := stamp.Read(ef)
		if err != nil {
			return fmt.Errorf("read immunix notes of %s: %w", rel, err)
		}
		s := Stamped{Path: rel, Type: ef.Type}
		for _, n := range notes {
			if n.Type == stamp.Link {
				s.Link = append(s.Link, n)
			} else {
				s.Compile = append(s.Compile, n)
			}
		}
		out = append(out, s)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// Unstamped returns a line for every file in files that lacks a compile or a
// link note: a file the build produced without going through immunix-cc.
func Unstamped(files []Stamped) []string {
	var bad []string
	for _, f := range files {
		var miss []string
		if len(f.Compile) == 0 {
			miss = append(miss, "compile")
		}
		if len(f.Link) == 0 {
			miss = append(miss, "link")
		}
		if len(miss) > 0 {
			bad = append(bad, fmt.Sprintf("%s: no immunix %s note", f.Path, strings.Join(miss, " or ")))
		}
	}
	return bad
}

// Protections returns the union of the "on" lists of every compile note in
// files, sorted.
func Protections(files []Stamped) []string {
	set := map[string]bool{}
	for _, f := range files {
		for _, c := range f.Compile {
			for _, p := range c.On {
				set[p] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
