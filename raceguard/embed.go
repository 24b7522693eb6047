// Package raceguard holds the C sources of RaceGuard, the guard runtime's
// temporary-file race detector (docs/raceguard.md), and the list of the
// libc names its wrappers carry. guardlib compiles the sources into
// libimmunix-raceguard.a and exports the wrappers from every dynamically
// linked executable immunix-cc links; immunix check reads the same list to
// prove they are there. Nothing here runs in Go.
//
// Example (what guardlib writes for the linker):
//
//	fmt.Fprint(w, raceguard.DynamicList()) // {\n  open;\n  open64;\n ... };
package raceguard

import (
	"embed"
	"strings"
)

// Sources holds runtime/*.c.
//
//go:embed all:runtime
var Sources embed.FS

// Marker is the data symbol every copy of the RaceGuard runtime exports; a
// dynamic symbol table that defines it and Wrappers carries RaceGuard.
const Marker = "__immunix_raceguard"

// Wrappers are the libc functions RaceGuard defines in the executable and
// exports, so the program's calls and those of its shared libraries reach
// them. TestWrappersMatchSource keeps the list equal to the C definitions.
var Wrappers = []string{
	// creates
	"open", "open64", "openat", "openat64", "creat", "creat64",
	"fopen", "fopen64", "freopen", "freopen64",
	"mkdir", "mkdirat", "mkfifo", "mkfifoat", "mknod", "mknodat",
	"link", "linkat", "symlink", "symlinkat",
	"rename", "renameat", "renameat2",
	// probes
	"stat", "stat64", "lstat", "lstat64", "fstatat", "fstatat64", "statx",
	"__xstat", "__xstat64", "__lxstat", "__lxstat64", "__fxstatat", "__fxstatat64",
	"access", "faccessat", "euidaccess", "eaccess",
	// names that will be created
	"mktemp", "tmpnam", "tmpnam_r", "tempnam",
	// removals, and the working directory
	"unlink", "unlinkat", "rmdir", "remove", "chdir", "fchdir",
}

// Required are the wrappers immunix check insists on: the ones every
// pattern of the race goes through on x86-64 glibc.
var Required = []string{"open", "openat", "creat", "fopen", "stat", "lstat", "fstatat", "access", "faccessat", "mktemp", "tmpnam", "rename", "mkdir"}

// DynamicList is the linker's --dynamic-list file: Marker and Wrappers.
func DynamicList() string {
	var b strings.Builder
	b.WriteString("{\n")
	for _, s := range append([]string{Marker}, Wrappers...) {
		b.WriteString("  " + s + ";\n")
	}
	b.WriteString("};\n")
	return b.String()
}
