// Package guardlib builds and locates immunix's guard runtime: the C code
// (from packages canary and formatguard, plus the shared alert writer in
// runtime/) that immunix-cc links into every protected executable and shared
// object, and the FormatGuard wrapper headers it puts on the include path.
//
// The runtime ships inside the immunix binaries as embedded sources and is
// compiled on first use, once per compiler build and ABI, into the cache
// (internal/cachedir), unless a prebuilt copy exists under SystemDir.
//
// Example (what immunix-cc does at link time):
//
//	args, err := guardlib.LinkArgs(guardlib.Target{Compiler: []string{"gcc"}, ABIFlags: []string{"-m32"}})
//	if err != nil {
//		// link without the runtime, and say so
//	}
//	// args: ["-Wl,-u,__immunix_guard_init", "-Wl,--wrap=_Fork", "-Wl,--wrap=syscall", "-Wl,--wrap=clone", "/home/u/.cache/immunix/runtime/gcc-m32-.../libimmunix-guard.a"]
package guardlib
