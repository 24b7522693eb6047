// Package raceguard measures RaceGuard's cost: the CPU time (user+system)
// of a file-heavy loop and of a real workload (bzip2, built from its Debian
// source through immunix-cc, compressing and decompressing a tree of small
// files) with RaceGuard on, against the same binary with
// IMMUNIX_RACEGUARD=off and against a build without the guard runtime
// (IMMUNIX_DISABLE=runtime), alternating in one run. Figures go to
// BENCHMARKS.md, RaceGuard section.
//
// Example:
//
//	go test -run '^$' -bench . -benchtime 20x ./bench/raceguard/
package raceguard
