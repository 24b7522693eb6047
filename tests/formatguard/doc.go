// Package formatguard holds FormatGuard's end-to-end tests: attack programs
// for every wrapped printf-family function built through immunix-cc with gcc
// and clang (leaks and %n writes stopped with an alert on a test syslog
// socket, benign input unchanged), the compile-everything matrix over C and
// C++ standards, the generated code of literal formats, the retry of a unit
// that does not compile with the FormatGuard headers, and the gawk Debian
// package built with FormatGuard passing its own test suite.
//
// Run them with:
//
//	go test ./tests/formatguard/
package formatguard
