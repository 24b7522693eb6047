// Package stackguard holds the end-to-end tests of StackGuard and the guard
// runtime: real programs built by gcc and clang (C and C++, dynamic and
// static) with the runtime linked in, real stack smashes, FORTIFY overflows,
// a forking server under a byte-by-byte canary brute force, and the
// cold-cache build of the runtime under 32 concurrent first uses.
//
// Example:
//
//	go test ./tests/stackguard/
//	go test -short ./tests/stackguard/   # skips the 20,000-try brute force
package stackguard
