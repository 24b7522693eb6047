# Distro rebuilds (tests/distro, bench/distro): included by the Makefile.
.PHONY: test-rebuild bench-distro

# The slow suite: eight Debian 12 packages rebuilt through immunix (Debian's
# flags, hardening off, level max) and in the zero-process mode (gcc's
# default specs), and rpmbuild of immunix.spec. Needs root and the
# package archive.
test-rebuild:
	IMMUNIX_REBUILD=1 go test -count=1 -timeout 60m -run 'TestRebuild|TestRPMImmunixSpec' ./tests/distro

# Plain against immunix wall and CPU time, per package and for distcc.
bench-distro:
	go test -run XXX -bench . -benchtime 2x -timeout 150m ./bench/distro

# immunix's own Debian packages: build (scripts/install.sh), lintian,
# install, use, remove, purge; installs on this machine, needs root.
.PHONY: test-deb
test-deb:
	IMMUNIX_DEB=1 go test -count=1 -timeout 90m -v -run TestDebLifecycle ./tests/deb

# The Dockerfile built with podman from an mmdebstrap base image, and a
# Debian package rebuilt inside it (tests/image); needs root.
.PHONY: test-image
test-image:
	IMMUNIX_IMAGE=1 go test -count=1 -timeout 60m -v -run TestImage ./tests/image
