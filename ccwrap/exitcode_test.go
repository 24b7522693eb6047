package ccwrap

import (
	"errors"
	"fmt"
	"testing"

	"github.com/immunix/immunix/guardlib"
)

// TestExitCode: each failure site's error has its documented code; an
// error of immunix-cc's own work is 108, not "exec failed".
func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("%w: IMMUNIX_LEVEL=huge", ErrUsage), ExitUsage},
		{fmt.Errorf("%w: gcc", ErrNotFound), ExitNotFound},
		{fmt.Errorf("%w", ErrRecursion), ExitRecursion},
		{fmt.Errorf("%w: @x", ErrResponseFile), ExitRespFile},
		{fmt.Errorf("%w: runtime", ErrStrict), ExitStrict},
		{fmt.Errorf("strict: %w: %w", ErrStrict, guardlib.ErrNotBuilt), ExitStrict},
		// No failure site returns a missing runtime bare (it fails open or
		// IMMUNIX_STRICT=1 refuses it): it carries no code of its own.
		{fmt.Errorf("%w", guardlib.ErrNotBuilt), ExitInternal},
		{fmt.Errorf("%w: key", ErrSign), ExitSign},
		{fmt.Errorf("%w /usr/bin/gcc: permission denied", errExec), ExitExec},
		{errors.New("helper pass: no space left on device"), ExitInternal},
	} {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
