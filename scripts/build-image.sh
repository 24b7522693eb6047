#!/usr/bin/env bash
# Builds the Dockerfile's image with podman, without any registry:
#
#   bash scripts/build-image.sh [--tag NAME] [--zeroproc-tag NAME] [--base-only]
#
# 1. The base image debian:12, when podman does not have it: made by
#    mmdebstrap from this machine's Debian mirror (bookworm, variant apt) and
#    imported as docker.io/library/debian:12, the name the Dockerfile uses.
# 2. podman build --pull=never --network=host --isolation=chroot (RUN steps in
#    a chroot: no OCI runtime, so no cgroup or rlimit setup, which crun
#    refuses on machines with hybrid cgroups) with the build contexts go (the
#    Go toolchain: `go env GOROOT`) and gomod (`go env GOMODCACHE`), used in
#    the build stage only, and the host's CA bundle as the build secret ca
#    (mounted for the apt steps, never in a layer).
# 3. With --zeroproc-tag NAME, the Dockerfile's zeroproc target too
#    (immunix-zeroproc instead of immunix-masquerade: the zero-process mode
#    as gcc's default), built right after the default image so that it reuses
#    its layers (the build stage, the shared tools stage) before the build
#    stage's image is pruned.
# Prints each image's size and build wall time. Needs root, podman,
# mmdebstrap and Go >= go.mod's on PATH or in /usr/local/go.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=immunix-rebuild
zptag=
base_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --tag) tag=${2:?--tag needs a name}; shift 2 ;;
    --zeroproc-tag) zptag=${2:?--zeroproc-tag needs a name}; shift 2 ;;
    --base-only) base_only=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
    *) echo "build-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
say() { echo "build-image.sh: $*" >&2; }
if [ -d /usr/local/go/bin ]; then export PATH=$PATH:/usr/local/go/bin; fi
for tool in podman mmdebstrap go; do
  command -v "$tool" >/dev/null 2>&1 || { say "$tool is not installed (scripts/deps.d/image.txt)"; exit 1; }
done
ca=${IMMUNIX_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -r "$ca" ] || { say "no CA bundle at $ca (set IMMUNIX_CA_BUNDLE)"; exit 1; }

if ! podman image exists docker.io/library/debian:12; then
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  sec=${uri%/debian}/debian-security
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  say "making the base image debian:12 with mmdebstrap from $uri"
  start=$(date +%s)
  mmdebstrap --quiet --variant=apt --components=main --include=ca-certificates bookworm "$tmp/debian12.tar" \
    "deb $uri bookworm main" "deb $uri bookworm-updates main" "deb $sec bookworm-security main"
  podman import --change 'CMD ["bash"]' "$tmp/debian12.tar" docker.io/library/debian:12 >/dev/null
  say "base image debian:12: $(podman image inspect --format '{{.Size}}' docker.io/library/debian:12) bytes, made in $(( $(date +%s) - start ))s"
fi
[ $base_only -eq 1 ] && exit 0

# build TAG [PODMAN-BUILD-OPTIONS...]: one podman build of the Dockerfile.
build() {
  local t=$1 start secs size
  shift
  start=$(date +%s)
  podman build --pull=never --network=host --isolation=chroot -t "$t" "$@" \
    --build-context go="$(go env GOROOT)" \
    --build-context gomod="$(go env GOMODCACHE)" \
    --secret id=ca,src="$ca" \
    "$here"
  secs=$(( $(date +%s) - start ))
  size=$(podman image inspect --format '{{.Size}}' "$t")
  say "image $t: $size bytes ($(( size / 1024 / 1024 )) MiB), built in ${secs}s"
}
build "$tag"
if [ -n "$zptag" ]; then build "$zptag" --target zeroproc; fi
# The build stage's image (with Go's build output): not kept.
podman image prune -f --filter label=org.immunix.stage=build >/dev/null
