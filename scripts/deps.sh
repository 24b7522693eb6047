#!/usr/bin/env bash
# Installs what immunix and its tests need on a Debian 12 machine, as root:
# the Debian packages listed in scripts/deps.d/*.txt, and the Go go.mod names
# (as /usr/local/go) when no such go is on PATH. Idempotent and quiet when
# all is there.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

mapfile -t pkgs < <(cat "$here"/deps.d/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# shellcheck source=scripts/go.sh
. "$here/go.sh"
want=$(go_wanted "$here/..")
if [ -d /usr/local/go/bin ]; then export PATH=/usr/local/go/bin:$PATH; fi
need_go=1
go_at_least "$want" && need_go=0

if [ ${#missing[@]} -gt 0 ] || [ $need_go -eq 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    what=${missing[*]}
    if [ $need_go -eq 1 ]; then what="${what:+$what }go $want"; fi
    echo "deps.sh: missing: $what; run as root to install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    echo "deps.sh: installing ${missing[*]}" >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [ $need_go -eq 1 ]; then
    go_install "$want" || { echo "deps.sh: could not install go $want" >&2; exit 1; }
  fi
fi
