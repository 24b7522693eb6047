#!/usr/bin/env bash
# Installs immunix. One layout everywhere (docs/distro.md): the Debian
# packages, the rpm spec and the Dockerfile install the same files, made by
# scripts/install-image.sh.
#
#   bash scripts/install.sh                      # Debian, as root
#   bash scripts/install.sh --no-masquerade      # without immunix-masquerade
#   bash scripts/install.sh --zeroproc           # immunix-zeroproc instead of immunix-masquerade
#   bash scripts/install.sh --debs DIR           # keep the .debs in DIR
#   bash scripts/install.sh --build-only --debs DIR  # only build them (the Dockerfile)
#   PREFIX=/opt/immunix bash scripts/install.sh  # any Linux: the tree under PREFIX
#
# On Debian (dpkg present, no PREFIX): installs the build dependencies that
# are missing (apt-get build-dep), builds immunix_*.deb and
# immunix-masquerade_*.deb with dpkg-buildpackage from a copy of this tree,
# and installs them with apt-get. immunix-masquerade puts the masquerade
# directory /usr/lib/immunix/bin first in PATH for login shells; leave it out
# with --no-masquerade and use `PATH=/usr/lib/immunix/bin:$PATH` per build.
# --zeroproc installs immunix-zeroproc instead (the two conflict): the
# zero-process mode as gcc's default specs and clang's configuration for the
# names immunix-clang and immunix-clang++, written at install for this
# machine's compilers (docs/immunix-cc.md, "Zero-process mode").
# Remove with `apt-get purge immunix immunix-masquerade immunix-zeroproc`.
#
# With PREFIX (or without dpkg and apt; default PREFIX /usr/local/immunix): scripts/install-image.sh --root PREFIX, the
# same tree under PREFIX (PREFIX/usr/bin/immunix-cc, the farm
# PREFIX/usr/lib/immunix/bin, PREFIX/usr/lib/rpm/macros.d/macros.immunix and
# PREFIX/etc/profile.d/immunix.sh naming PREFIX). Go >= go.mod's version is
# needed on PATH or in /usr/local/go.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
masq=1
zeroproc=0
debs=
build_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --no-masquerade) masq=0; shift ;;
    --zeroproc) zeroproc=1; shift ;;
    --debs) debs=${2:?--debs needs a directory}; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
say() { echo "install.sh: $*" >&2; }
if [ -d /usr/local/go/bin ]; then export PATH=$PATH:/usr/local/go/bin; fi

if [ -n "${PREFIX:-}" ] || ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  prefix=${PREFIX:-/usr/local/immunix}
  exec bash "$here/scripts/install-image.sh" --root "$prefix" --no-apt
fi

if [ $build_only -eq 1 ] && [ -z "$debs" ]; then
  say "--build-only needs --debs DIR, where the packages go"
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  say "run as root to install the Debian packages (or set PREFIX to install into a directory of your own)"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! command -v dpkg-buildpackage >/dev/null 2>&1 || ! (cd "$here" && dpkg-checkbuilddeps >/dev/null 2>&1); then
  say "installing the build dependencies (debian/control)"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
  (cd "$here" && apt-get build-dep -y -qq ./ >/dev/null)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# dpkg-buildpackage writes the packages next to the tree: build a copy.
mkdir "$work/immunix"
(cd "$here" && tar -cf - --exclude=./.git --exclude=./debian/.gocache --exclude=./bin .) | tar -xf - -C "$work/immunix"
say "building the packages (dpkg-buildpackage -b -uc -us)"
if ! (cd "$work/immunix" && GOCACHE=${GOCACHE:-$(go env GOCACHE 2>/dev/null || true)} dpkg-buildpackage -b -uc -us >"$work/build.log" 2>&1); then
  tail -40 "$work/build.log" >&2
  say "dpkg-buildpackage failed (the log's end is above)"
  exit 1
fi
if [ -n "$debs" ]; then
  mkdir -p "$debs"
  cp "$work"/*.deb "$debs/"
  cp "$work/build.log" "$debs/build.log"
fi
if [ $build_only -eq 1 ]; then
  say "built $(cd "$debs" && ls ./*.deb | paste -sd' ') in $debs"
  exit 0
fi
pkgs=("$work"/immunix_*.deb)
if [ $zeroproc -eq 1 ]; then
  pkgs+=("$work"/immunix-zeroproc_*.deb)
elif [ $masq -eq 1 ]; then
  pkgs+=("$work"/immunix-masquerade_*.deb)
fi
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
say "installed: $(for p in "${pkgs[@]}"; do basename "$p"; done | paste -sd' ')"
if [ $zeroproc -eq 1 ]; then
  say "gcc, cc and g++ build in the zero-process mode (gcc's default specs), clang as immunix-clang and immunix-clang++"
elif [ $masq -eq 1 ]; then
  say "login shells now find the masquerade directory /usr/lib/immunix/bin first in PATH (/etc/profile.d/immunix.sh)"
fi
