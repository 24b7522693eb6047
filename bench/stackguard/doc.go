// Package stackguard benchmarks what StackGuard's runtime costs: fork() with
// canary renewal against fork() without it, and a call-heavy program linked
// with the runtime against the same code built with plain
// -fstack-protector-strong. Each benchmark builds both programs, runs them
// alternately in the same run, and reports the ratio.
//
// Example:
//
//	go test -run '^$' -bench . -benchtime 5x ./bench/stackguard/
package stackguard
