#!/usr/bin/env bash
# Build immunix-supervise, the SubDomain supervisor's stand-in
# (subdomain/enforce/supervise/immunix-supervise.c), into OUT:
#
#   bash scripts/build-supervise.sh OUT
#
# Static, so that its exec maps no dynamic loader (it starts beside every
# confined program); warnings are errors. CC defaults to cc. The install
# steps (scripts/install-image.sh) and the tests (internal/testenv) build
# it with this script.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: build-supervise.sh OUT}
case $out in -h|--help) sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p'; exit 0 ;; esac
${CC:-cc} -O2 -static -Wall -Wextra -Werror -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
  -o "$out" "$here/subdomain/enforce/supervise/immunix-supervise.c"
