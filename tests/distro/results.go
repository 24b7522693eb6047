package distro

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Results is what a package's own test suite reported in a build log.
// Passed counts the tests the harness says passed (expected failures
// included); a suite that reports only a verdict counts as one test.
type Results struct {
	Passed  int
	Failed  int // failed, errored, timed out or unexpectedly passed
	Skipped int
	// Evidence holds the log lines the counts were read from.
	Evidence []string
}

func (r Results) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", r.Passed, r.Failed, r.Skipped)
}

// A Parser reads one harness's summaries from a whole build log.
type Parser func(log string) (Results, error)

// ErrNoSummary means the log holds no summary of the expected harness: the
// tests did not run (or printed nothing recognisable), which a rebuild must
// treat as a failure.
var ErrNoSummary = errors.New("no test summary in the build log")

// lines splits a log into lines without their trailing CR.
func lines(log string) []string {
	ls := strings.Split(log, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, "\r")
	}
	return ls
}

var automakeField = regexp.MustCompile(`^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR): +(\d+)\s*$`)

// ParseAutomake reads every summary block of automake's parallel test
// harness ("# TOTAL: 5", "# PASS:  4", ...) and adds them up: a package
// with tests in several directories prints one block each.
func ParseAutomake(log string) (Results, error) {
	var r Results
	blocks := 0
	for _, l := range lines(log) {
		m := automakeField.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return Results{}, fmt.Errorf("parse automake summary %q: %w", l, err)
		}
		switch m[1] {
		case "TOTAL":
			blocks++
		case "PASS", "XFAIL":
			r.Passed += n
		case "SKIP":
			r.Skipped += n
		case "FAIL", "XPASS", "ERROR":
			r.Failed += n
		}
		r.Evidence = append(r.Evidence, l)
	}
	if blocks == 0 {
		return Results{}, fmt.Errorf("automake: %w", ErrNoSummary)
	}
	return r, nil
}

var (
	ctestSummary = regexp.MustCompile(`^\d+% tests passed, (\d+) tests? failed out of (\d+)\s*$`)
	ctestSkipped = regexp.MustCompile(`^\s*\d+ - .* \((Skipped|Disabled)\)\s*$`)
)

// ParseCTest reads CTest's "100% tests passed, 0 tests failed out of 19"
// lines and the "(Skipped)" entries of its "did not run" list.
func ParseCTest(log string) (Results, error) {
	var r Results
	found := false
	total := 0
	for _, l := range lines(log) {
		if m := ctestSummary.FindStringSubmatch(l); m != nil {
			failed, err1 := strconv.Atoi(m[1])
			n, err2 := strconv.Atoi(m[2])
			if err := errors.Join(err1, err2); err != nil || failed > n {
				return Results{}, fmt.Errorf("parse ctest summary %q: counts do not add up", l)
			}
			found = true
			total += n
			r.Failed += failed
			r.Evidence = append(r.Evidence, l)
		} else if ctestSkipped.MatchString(l) {
			r.Skipped++
			r.Evidence = append(r.Evidence, l)
		}
	}
	if !found {
		return Results{}, fmt.Errorf("ctest: %w", ErrNoSummary)
	}
	r.Passed = max(total-r.Failed-r.Skipped, 0)
	return r, nil
}

var mesonField = regexp.MustCompile(`^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout):\s+(\d+)\s*$`)

// ParseMeson reads the summary `meson test` prints ("Ok: 23",
// "Expected Fail: 20", "Fail: 0", ...). A summary needs its "Ok:" line.
func ParseMeson(log string) (Results, error) {
	var r Results
	found := false
	for _, l := range lines(log) {
		m := mesonField.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return Results{}, fmt.Errorf("parse meson summary %q: %w", l, err)
		}
		switch m[1] {
		case "Ok":
			found = true
			r.Passed += n
		case "Expected Fail":
			r.Passed += n
		case "Fail", "Unexpected Pass", "Timeout":
			r.Failed += n
		case "Skipped":
			r.Skipped += n
		}
		r.Evidence = append(r.Evidence, strings.TrimSpace(l))
	}
	if !found {
		return Results{}, fmt.Errorf("meson: %w", ErrNoSummary)
	}
	return r, nil
}

// ParseEd reads ed's testsuite/check.sh: "tests completed successfully." or
// "tests failed.", with one "*** ... ***" line per failed script.
func ParseEd(log string) (Results, error) {
	var r Results
	verdict := false
	for _, l := range lines(log) {
		switch {
		case l == "tests completed successfully.":
			verdict = true
			r.Passed++
			r.Evidence = append(r.Evidence, l)
		case l == "tests failed.":
			verdict = true
			r.Evidence = append(r.Evidence, l)
		case strings.HasPrefix(l, "*** ") && strings.HasSuffix(l, " ***") &&
			(strings.Contains(l, " is incorrect") || strings.Contains(l, " exited abnormally")):
			r.Failed++
			r.Evidence = append(r.Evidence, l)
		}
	}
	if !verdict {
		return Results{}, fmt.Errorf("ed check.sh: %w", ErrNoSummary)
	}
	if r.Passed == 0 && r.Failed == 0 {
		r.Failed = 1 // "tests failed." without a named script
	}
	return r, nil
}

var (
	mawkOK   = regexp.MustCompile(`^(\S.*) OK$`)
	mawkFail = regexp.MustCompile(`^(\S.*) had (one|\d+) failures?$`)
)

// ParseMawk reads mawk's test/mawktest and test/fpe_test: one "NAME OK" or
// "NAME had N failures" line per test group, "mawk_test failed" when the
// script stops early, and fpe_test's "results consistent" verdict.
func ParseMawk(log string) (Results, error) {
	var r Results
	in := false
	for _, l := range lines(log) {
		switch {
		case l == "** mawk_test" || l == "** fpe_test":
			in = true
		case !in:
		case strings.HasPrefix(l, "make") && strings.Contains(l, "Leaving directory"):
			in = false
		case mawkFail.MatchString(l):
			m := mawkFail.FindStringSubmatch(l)
			n := 1
			if m[2] != "one" {
				n, _ = strconv.Atoi(m[2])
			}
			r.Failed += max(n, 1)
			r.Evidence = append(r.Evidence, l)
		case l == "mawk_test failed":
			r.Failed++
			r.Evidence = append(r.Evidence, l)
		case strings.HasPrefix(l, "results consistent"):
			r.Passed++
			r.Evidence = append(r.Evidence, l)
		case strings.HasPrefix(l, "results inconsistent"):
			r.Failed++
			r.Evidence = append(r.Evidence, l)
		case mawkOK.MatchString(l):
			r.Passed++
			r.Evidence = append(r.Evidence, l)
		}
	}
	if r.Passed == 0 && r.Failed == 0 {
		return Results{}, fmt.Errorf("mawk tests: %w", ErrNoSummary)
	}
	return r, nil
}

var (
	gawkStart  = regexp.MustCompile(`^======== Starting (.+) ========$`)
	gawkDone   = regexp.MustCompile(`^======== Done with (.+) ========$`)
	gawkName   = regexp.MustCompile(`^[A-Za-z0-9_.+-]+$`)
	gawkFailed = regexp.MustCompile(`^(\d+) TESTS? FAILED$`)
)

// ParseGawk reads gawk's test/Makefile: the test names printed between
// "======== Starting X tests ========" and "======== Done with X tests
// ========", then "ALL TESTS PASSED" or "N TESTS FAILED".
func ParseGawk(log string) (Results, error) {
	var r Results
	in, verdict := false, false
	ran := 0
	for _, l := range lines(log) {
		switch {
		case gawkStart.MatchString(l):
			in = true
			r.Evidence = append(r.Evidence, l)
		case gawkDone.MatchString(l):
			in = false
		case in && gawkName.MatchString(l):
			ran++
		case l == "ALL TESTS PASSED":
			verdict = true
			r.Evidence = append(r.Evidence, l)
		case gawkFailed.MatchString(l):
			verdict = true
			n, _ := strconv.Atoi(gawkFailed.FindStringSubmatch(l)[1])
			r.Failed += max(n, 1)
			r.Evidence = append(r.Evidence, l)
		}
	}
	if !verdict {
		return Results{}, fmt.Errorf("gawk tests: %w", ErrNoSummary)
	}
	r.Passed = max(ran-r.Failed, 0)
	if r.Passed == 0 && r.Failed == 0 {
		r.Passed = 1 // a verdict without the names
	}
	return r, nil
}

var (
	bzipCmp    = regexp.MustCompile(`^cmp (sample\d\.\w+) (sample\d\.\w+)\s*$`)
	bzipDiffer = regexp.MustCompile(`^sample\d\.\w+ sample\d\.\w+ differ: `)
)

// ParseBzip2 reads bzip2's "make test": one "cmp sampleN.x sampleN.y" per
// test (cmp prints "... differ: ..." when the output is wrong), and the
// closing "looks like you're in business" once all of them passed.
func ParseBzip2(log string) (Results, error) {
	var r Results
	cmps := 0
	business := false
	for _, l := range lines(log) {
		switch {
		case bzipCmp.MatchString(l):
			cmps++
			r.Evidence = append(r.Evidence, l)
		case bzipDiffer.MatchString(l):
			r.Failed++
			r.Evidence = append(r.Evidence, l)
		case strings.Contains(l, "like you're in business"):
			business = true
			r.Evidence = append(r.Evidence, strings.TrimSpace(l))
		}
	}
	if cmps == 0 {
		return Results{}, fmt.Errorf("bzip2 make test: %w", ErrNoSummary)
	}
	r.Passed = max(cmps-r.Failed, 0)
	if !business && r.Failed == 0 {
		r.Failed = 1 // the tests stopped before the end
	}
	return r, nil
}

var zlibVerdict = regexp.MustCompile(`^\s*\*\*\* zlib (.*)test (OK|FAILED) \*\*\*\s*$`)

// ParseZlib reads zlib's "make test": one "*** zlib test OK ***" (static),
// "*** zlib shared test OK ***" and "*** zlib 64-bit test OK ***" line each,
// or "... FAILED ***". Debian's rules run it as "-$(MAKE) test", ignoring
// its exit code, so the log is the only witness.
func ParseZlib(log string) (Results, error) {
	var r Results
	for _, l := range lines(log) {
		m := zlibVerdict.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if m[2] == "OK" {
			r.Passed++
		} else {
			r.Failed++
		}
		r.Evidence = append(r.Evidence, strings.TrimSpace(l))
	}
	if r.Passed == 0 && r.Failed == 0 {
		return Results{}, fmt.Errorf("zlib make test: %w", ErrNoSummary)
	}
	return r, nil
}
