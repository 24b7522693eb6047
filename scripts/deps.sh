#!/usr/bin/env bash
# Installs what immunix and its tests need on a Debian 12 machine, as root:
# the Debian packages listed in scripts/deps.d/*.txt, and Go (Debian's own
# when no go >= 1.24 is on PATH). Idempotent and quiet when all is there.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

mapfile -t pkgs < <(cat "$here"/deps.d/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ -d /usr/local/go/bin ]; then export PATH=/usr/local/go/bin:$PATH; fi
need_go=1
if command -v go >/dev/null 2>&1; then
  v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  major=${v%%.*}; rest=${v#*.}; minor=${rest%%.*}
  if [ "${major:-0}" -gt 1 ] || { [ "${major:-0}" -eq 1 ] && [ "${minor:-0}" -ge 24 ]; }; then need_go=0; fi
fi

if [ ${#missing[@]} -gt 0 ] || [ $need_go -eq 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    echo "deps.sh: installing ${missing[*]}" >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [ $need_go -eq 1 ]; then
    # Debian 12's own Go is too old for this module; bookworm-backports has a
    # newer one, from the same mirror the machine already uses.
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    echo "deb $uri bookworm-backports main" > /etc/apt/sources.list.d/immunix-backports.list
    apt-get update -qq
    apt-get install -y -qq -t bookworm-backports golang-go >/dev/null
  fi
fi
