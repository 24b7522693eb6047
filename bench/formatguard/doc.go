// Package formatguard benchmarks what FormatGuard costs: snprintf in a tight
// loop with a literal and with a non-literal format, GNU awk running a
// printf-heavy script, and compiling GNU awk, each against the same code
// built without the FormatGuard headers, alternating the two in the same
// run and reporting the ratio of their CPU times.
//
// Example:
//
//	go test -run '^$' -bench . -benchtime 7x ./bench/formatguard/
package formatguard
