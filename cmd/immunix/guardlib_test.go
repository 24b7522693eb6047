package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
