package formatguard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
)

// RuntimeSources holds runtime/*.c and runtime/*.h, compiled by guardlib
// into the guard runtime archive.
//
//go:embed all:runtime
var RuntimeSources embed.FS

// Headers holds include/: the wrapper headers immunix-cc puts first on the
// system include path.
//
//go:embed all:include
var Headers embed.FS

// HeadersHash is hashHeaders(Headers), computed when the headers are
// generated (go test ./formatguard -run TestHeadersGenerated -update) and
// checked by the same test: it names the headers' cache entry and system
// copy without hashing them on every immunix-cc start.
const HeadersHash = "17ce5a64b35b715f"

// hashHeaders returns the first 16 hex digits of the SHA-256 over every
// file of fsys's include/ in name order (name, NUL, length, NUL, contents).
func hashHeaders(fsys fs.FS) (string, error) {
	var names []string
	err := fs.WalkDir(fsys, "include", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read formatguard headers: %w", err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", fmt.Errorf("read formatguard header %s: %w", n, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
