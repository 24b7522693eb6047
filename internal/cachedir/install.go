package cachedir

import (
	"fmt"
	"os"
	"path/filepath"
)

// Install fills dest/name atomically and returns its path: fill writes
// into a fresh stage directory (and may use scratch, which is removed),
// which is then renamed into place, replacing an older copy. No reader
// ever sees a partial directory, and a failed fill leaves the old copy.
//
// Unlike Materialize, which builds a private cache entry once, Install is
// for directories others read (the prebuilt runtimes under
// /usr/lib/immunix): the stage is made mode 0755, no manifest is written,
// and an existing copy is replaced, not reused.
func Install(dest, name string, fill func(stage, scratch string) error) (string, error) {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	tmp, err := os.MkdirTemp(dest, "."+name+".tmp-")
	if err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	defer os.RemoveAll(tmp)
	stage := filepath.Join(tmp, "out")
	scratch := filepath.Join(tmp, "scratch")
	for _, d := range []string{stage, scratch} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", fmt.Errorf("install %s: %w", name, err)
		}
	}
	if err := fill(stage, scratch); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	if err := os.Chmod(stage, 0o755); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	final := filepath.Join(dest, name)
	old := final + ".old"
	os.RemoveAll(old)
	if _, err := os.Stat(final); err == nil {
		if err := os.Rename(final, old); err != nil {
			return "", fmt.Errorf("install %s: replace %s: %w", name, final, err)
		}
	}
	if err := os.Rename(stage, final); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	os.RemoveAll(old)
	return final, nil
}
