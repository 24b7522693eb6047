package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/cli"
	"github.com/immunix/immunix/internal/testenv"
)

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var so, se bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &so, Stderr: &se, Getenv: os.Getenv}
	code := registry.Main(env, args)
	return code, so.String(), se.String()
}

func TestGuardlibCommand(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	dest := t.TempDir()
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   string   // substring
		oneLines int      // number of stdout lines, when > 0
	}{
		{name: "help", args: []string{"guardlib", "--help"}, stdout: []string{"Usage: immunix guardlib", "--prebuild", "--print-archive", "--abi"}},
		{name: "help via immunix help", args: []string{"help", "guardlib"}, stdout: []string{"Usage: immunix guardlib"}},
		{name: "bad flag", args: []string{"guardlib", "--nope"}, code: 2, stderr: "immunix guardlib: unknown flag: --nope"},
		{name: "stray argument", args: []string{"guardlib", "gcc"}, code: 2, stderr: `unexpected argument "gcc"`},
		{name: "two modes", args: []string{"guardlib", "--prebuild", "--print-key"}, code: 2, stderr: "exclude each other"},
		{name: "list sources", args: []string{"guardlib", "--list-sources"}, stdout: []string{"canary/runtime/renew.c", "guardlib/runtime/alert.c", "guardlib/runtime/alert.h"}},
		{name: "print key", args: []string{"guardlib", "--print-key", "--cc", "gcc", "--abi", "", "--abi", "-m32"}, stdout: []string{"gcc-native-", "gcc-m32-"}, oneLines: 2},
		{name: "missing compiler", args: []string{"guardlib", "--print-archive", "--cc", "no-such-cc-xyz"}, code: 1, stderr: "immunix guardlib: no-such-cc-xyz:"},
		{name: "print archive", args: []string{"guardlib", "--print-archive", "--cc", "gcc"}, stdout: []string{"libimmunix-guard.a"}, oneLines: 1},
		{name: "prebuild", args: []string{"guardlib", "--prebuild", "--dest", dest, "--cc", "gcc"}, stdout: []string{dest + "/formatguard-include-", dest + "/gcc-native-", "/libimmunix-guard.a"}, oneLines: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, so, se := runMain(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, so, se)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(so, s) {
					t.Errorf("stdout lacks %q:\n%s", s, so)
				}
			}
			if tc.stderr != "" && !strings.Contains(se, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, se)
			}
			if tc.code != 0 && strings.Count(strings.TrimSpace(se), "\n") != 0 {
				t.Errorf("want one error line, got:\n%s", se)
			}
			if tc.oneLines > 0 {
				lines := strings.Split(strings.TrimSpace(so), "\n")
				if len(lines) != tc.oneLines {
					t.Errorf("want %d lines, got %q", tc.oneLines, so)
				}
				for _, l := range lines {
					if strings.HasSuffix(l, ".a") {
						if fi, err := os.Stat(l); err != nil || fi.Size() == 0 {
							t.Errorf("archive %s: %v", l, err)
						}
					}
				}
			}
		})
	}
	// A second prebuild replaces the first atomically and leaves no debris.
	if code, _, se := runMain(t, "guardlib", "--prebuild", "--dest", dest, "--cc", "gcc"); code != 0 {
		t.Fatalf("second prebuild: %s", se)
	}
	entries, _ := os.ReadDir(dest)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || !strings.HasPrefix(names[0], "formatguard-include-") || !strings.HasPrefix(names[1], "gcc-native-") {
		t.Fatalf("dest holds %v, want the headers and one archive directory", names)
	}
	if _, err := os.Stat(filepath.Join(dest, names[1], "src")); err == nil {
		t.Errorf("prebuild left its sources")
	}
	if _, err := os.Stat(filepath.Join(dest, names[0], "stdio.h")); err != nil {
		t.Errorf("prebuild wrote no FormatGuard stdio.h: %v", err)
	}
}

// TestGuardlibPrebuildSameAs: a compiler reached under a second name gets
// the runtime prebuilt for the first through --same-as, and every file a
// link line names (archives, export lists) exists under the second name's
// key, for executables, shared libraries and static links. Linking only the
// archive, as install-image.sh did, left guard.list out and failed every
// dynamic link of the installed .deb.
func TestGuardlibPrebuildSameAs(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(gcc)
	if err != nil {
		t.Fatal(err)
	}
	// A second name for the same binary, as cc is for gcc.
	alias := filepath.Join(t.TempDir(), "cc")
	if err := os.Symlink(real, alias); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	code, _, se := runMain(t, "guardlib", "--prebuild", "--dest", dest, "--cc", gcc)
	if code != 0 {
		t.Fatalf("prebuild: %s", se)
	}
	_, so, _ := runMain(t, "guardlib", "--print-key", "--cc", gcc)
	key := strings.TrimSpace(so)

	// Refusals, one line each, before anything is written.
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--cc", alias, "--same-as", key}, 2, "--same-as needs --prebuild"},
		{[]string{"--prebuild", "--dest", dest, "--cc", alias, "--same-as", "../" + key}, 2, "not a key"},
		{[]string{"--prebuild", "--dest", dest, "--cc", alias, "--same-as", "gcc-native-0000000000000000"}, 1, "incomplete guard runtime"},
		{[]string{"--prebuild", "--dest", dest, "--cc", gcc, "--same-as", key}, 1, "this compiler's own key"},
	} {
		code, _, se := runMain(t, append([]string{"guardlib"}, tc.args...)...)
		if code != tc.code || !strings.Contains(se, tc.stderr) || strings.Count(strings.TrimSpace(se), "\n") != 0 {
			t.Errorf("guardlib %q: exit %d, stderr %q; want exit %d and one line with %q", tc.args, code, se, tc.code, tc.stderr)
		}
	}

	code, so, se = runMain(t, "guardlib", "--prebuild", "--dest", dest, "--cc", alias, "--same-as", key)
	if code != 0 {
		t.Fatalf("prebuild --same-as: %s", se)
	}
	if strings.Contains(so, "formatguard-include-") || !strings.HasSuffix(strings.TrimSpace(so), guardlib.ArchiveName) {
		t.Errorf("prebuild --same-as printed %q, want only the archive's path", so)
	}
	_, so, _ = runMain(t, "guardlib", "--print-key", "--cc", alias)
	aliasKey := strings.TrimSpace(so)
	if aliasKey == key {
		t.Fatalf("the alias has gcc's key %s: the test proves nothing", key)
	}
	for _, name := range guardlib.OutputFiles {
		p := filepath.Join(dest, aliasKey, name)
		target, err := os.Readlink(p)
		if err != nil || target != filepath.Join("..", key, name) {
			t.Errorf("%s links to %q (%v), want ../%s/%s", p, target, err, key, name)
		}
	}

	old := guardlib.SystemDir
	guardlib.SystemDir = dest
	defer func() { guardlib.SystemDir = old }()
	for _, tgt := range []guardlib.Target{
		{Compiler: []string{alias}, Exe: true},
		{Compiler: []string{alias}, Shared: true},
		{Compiler: []string{alias}, Static: true},
		{Compiler: []string{alias}},
	} {
		args, err := guardlib.LinkArgs(tgt)
		if err != nil {
			t.Fatalf("LinkArgs(%+v): %v", tgt, err)
		}
		named := 0
		for _, a := range args {
			p := strings.TrimPrefix(a, "-Wl,--dynamic-list=")
			if !filepath.IsAbs(p) {
				continue
			}
			named++
			if !strings.HasPrefix(p, filepath.Join(dest, aliasKey)+"/") {
				t.Errorf("LinkArgs(%+v) names %s, not the prebuilt copy under %s", tgt, p, aliasKey)
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("LinkArgs(%+v) names a file that is not there: %v", tgt, err)
			}
		}
		if named == 0 {
			t.Errorf("LinkArgs(%+v) = %q names no file", tgt, args)
		}
	}

	// A prebuilt copy that lacks a file the link line names is refused with
	// one line naming it, not handed to the linker.
	if err := os.Remove(filepath.Join(dest, key, guardlib.ExportListName)); err != nil {
		t.Fatal(err)
	}
	if _, err := guardlib.LinkArgs(guardlib.Target{Compiler: []string{alias}, Exe: true}); err == nil || !strings.Contains(err.Error(), guardlib.ExportListName) {
		t.Errorf("LinkArgs with %s missing: err %v, want one naming it", guardlib.ExportListName, err)
	}
}
