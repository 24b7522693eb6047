package guardlib

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/cachedir"
)

func TestFormatGuardArgs(t *testing.T) {
	t.Setenv(cachedir.EnvVar, t.TempDir())
	old := SystemDir
	SystemDir = t.TempDir()
	defer func() { SystemDir = old }()

	args, err := FormatGuardArgs()
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 2 || args[0] != "-isystem" {
		t.Fatalf("FormatGuardArgs() = %q, want [-isystem DIR]", args)
	}
	key, _ := FormatGuardKey()
	if !strings.HasPrefix(args[1], os.Getenv(cachedir.EnvVar)) || filepath.Base(args[1]) != key {
		t.Errorf("headers in %s, want the cache entry %s", args[1], key)
	}
	for _, f := range []string{"stdio.h", "sys/syslog.h", "immunix-formatguard.h", "cstdio"} {
		if _, err := os.Stat(filepath.Join(args[1], f)); err != nil {
			t.Errorf("materialised headers lack %s: %v", f, err)
		}
	}
	again, err := FormatGuardArgs()
	if err != nil || again[1] != args[1] {
		t.Errorf("second call = %q, %v; want the same directory", again, err)
	}

	// A system copy wins over the cache.
	sys := filepath.Join(SystemDir, key)
	if err := os.MkdirAll(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFormatGuardHeaders(sys); err != nil {
		t.Fatal(err)
	}
	got, err := FormatGuardArgs()
	if err != nil || got[1] != sys {
		t.Errorf("with a system copy: %q, %v; want %s", got, err, sys)
	}
}
