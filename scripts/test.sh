#!/usr/bin/env bash
# Runs the whole immunix test suite on Debian 12 as root: installs what the
# tests need, checks formatting and vet/staticcheck, then runs every Go test
# (unit, golden, fuzz seeds, and the end-to-end suites against real gcc,
# clang, strace, rpmbuild, distccd...). With IMMUNIX_SLOW=1 the slow suites
# run after it: Debian package rebuilds (make test-rebuild), immunix's own
# .deb built, installed, used and purged (make test-deb), and the Dockerfile's
# image built and used (make test-image); .ci/run sets it.
set -euo pipefail
# The slow suites are chosen here; the variable must not reach the tests
# (tests/ccwrap refuses to run with any IMMUNIX_ variable set).
slow=${IMMUNIX_SLOW:-}
unset IMMUNIX_SLOW
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
bash scripts/deps.sh
if [ -d /usr/local/go/bin ]; then export PATH=/usr/local/go/bin:$PATH; fi
export PATH=$(go env GOPATH)/bin:$PATH

echo "== gofmt" >&2
bad=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$bad" ]; then echo "gofmt wants to reformat: $bad" >&2; exit 1; fi
echo "== go mod tidy" >&2
if ! go mod tidy -diff >&2; then echo "go.mod/go.sum are not tidy: run go mod tidy" >&2; exit 1; fi
echo "== go vet" >&2
go vet ./...
echo "== staticcheck" >&2
command -v staticcheck >/dev/null || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
staticcheck ./...
echo "== go test" >&2
go test -count=1 -timeout 40m ./...
if [ "$slow" = 1 ]; then
	echo "== make test-rebuild" >&2
	make test-rebuild
	echo "== make test-deb" >&2
	make test-deb
	echo "== make test-image" >&2
	make test-image
fi
