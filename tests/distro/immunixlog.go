package distro

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/immunix/immunix/internal/logline"
)

// LogSummary counts the lines of an IMMUNIX_LOG file by mode and by the
// reason immunix-cc passed an invocation through unchanged.
type LogSummary struct {
	Lines  int
	Modes  map[string]int // mode=... (compile, link, query, preprocess...)
	Passed map[string]int // pass=REASON: invocations run unchanged, and why
	// FGRetried counts compiles FormatGuard made fail and that were
	// compiled again without it (fg=retried).
	FGRetried int
	// FGCounts counts C compiles FormatGuard's argument classes made fail
	// and that were compiled again with counts only (fg=counts).
	FGCounts int
	// FGHUnits counts compiles whose printf helper calls were rewritten
	// (fgh=N, N > 0), FGHCalls the sum of N, FGHFailed the compiles whose
	// rewritten text did not compile (fgh=failed, compiled again as usual).
	FGHUnits, FGHCalls, FGHFailed int
}

// ParseImmunixLog reads IMMUNIX_LOG lines ("time=... pid=... v=... mode=...
// pass=... fg=...") with internal/logline, the format's one reader. Lines
// without a mode are not immunix-cc's and are skipped; unknown keys are
// ignored.
func ParseImmunixLog(data string) LogSummary {
	s := LogSummary{Modes: map[string]int{}, Passed: map[string]int{}}
	for _, l := range lines(data) {
		fields, err := logline.Parse(l)
		if err != nil {
			continue // not in the IMMUNIX_LOG format: not immunix-cc's
		}
		mode, pass, fg, fgh := "", "", "", ""
		for _, f := range fields {
			k, v := f.Key, f.Value
			switch k {
			case "mode":
				mode = v
			case "pass":
				pass = v
			case "fg":
				fg = v
			case "fgh":
				fgh = v
			}
		}
		if mode == "" {
			continue
		}
		s.Lines++
		s.Modes[mode]++
		if pass != "" {
			s.Passed[pass]++
		}
		switch fg {
		case "retried":
			s.FGRetried++
		case "counts":
			s.FGCounts++
		}
		if fgh == "failed" {
			s.FGHFailed++
		} else if n, err := strconv.Atoi(fgh); err == nil && n > 0 {
			s.FGHUnits++
			s.FGHCalls += n
		}
	}
	return s
}

func (s LogSummary) String() string {
	return fmt.Sprintf("%d invocations: modes %s; passed through %s; formatguard retried %d, counts only %d; printf helpers: %d calls rewritten in %d units, %d units failed",
		s.Lines, counts(s.Modes), counts(s.Passed), s.FGRetried, s.FGCounts, s.FGHCalls, s.FGHUnits, s.FGHFailed)
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ",")
}
