// Package guardlib builds and locates immunix's guard runtime: the C code
// (from packages canary and formatguard, plus the shared alert writer in
// runtime/) that immunix-cc links into every protected executable and shared
// object, and the FormatGuard wrapper headers it puts on the include path.
package guardlib
