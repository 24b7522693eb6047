// Package distro holds immunix's distribution-rebuild suite and the helpers
// it shares with bench/distro: the image's install steps
// (scripts/install-image.sh) run into a temporary root, real Debian source
// packages rebuilt with dpkg-buildpackage in masquerade mode, real rpmbuild
// with rpmbuild/macros.immunix, and ccache and distcc in front of or behind
// immunix-cc. Nothing is mocked: every build runs the real tools and every
// result goes through `immunix check`.
//
// The Debian rebuilds are slow and run only with IMMUNIX_REBUILD=1:
//
//	IMMUNIX_REBUILD=1 go test -count=1 -timeout 40m -run Rebuild ./tests/distro
//
// Example (what a rebuild test does, with the helpers of this package):
//
//	im := distro.InstallImage(t)                   // scripts/install-image.sh --root TMP
//	src := testenv.DebianSource(t, "ed")           // apt-get source, cached
//	b, err := distro.DpkgBuild(src, im.Env(distro.CleanEnv()), logFile)
//	res, err := distro.Packages[0].Results(b.Log)  // the package's own test suite
//	out, code := im.Check("immunix", b.Debs...)    // immunix check --policy immunix
//
// Test-result parsers read the summaries that upstream test harnesses print
// (automake, CTest, Meson, and the hand-written ones of ed, mawk, gawk and
// bzip2), because some Debian rules ignore test failures: a build's exit code
// alone proves nothing about its tests.
package distro
