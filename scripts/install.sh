#!/usr/bin/env bash
# Builds and installs immunix: immunix, immunix-cc and immunix-c++ into
# $PREFIX/bin (default /usr/local), and immunix-tools, which immunix execs
# for check and learn, into $PREFIX/lib/immunix. Run as root for the
# default prefix.
#   PREFIX=/opt/immunix bash scripts/install.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${PREFIX:-/usr/local}
if [ -d /usr/local/go/bin ]; then export PATH=/usr/local/go/bin:$PATH; fi
cd "$here"
mkdir -p "$prefix/bin" "$prefix/lib/immunix"
CGO_ENABLED=0 go build -trimpath -o "$prefix/bin/" ./cmd/immunix ./cmd/immunix-cc
CGO_ENABLED=0 go build -trimpath -o "$prefix/lib/immunix/immunix-tools" ./cmd/immunix-tools
ln -f "$prefix/bin/immunix-cc" "$prefix/bin/immunix-c++"
echo "installed immunix, immunix-cc and immunix-c++ in $prefix/bin, immunix-tools in $prefix/lib/immunix" >&2
