#!/usr/bin/env bash
# The install steps of immunix's distro-rebuild image (Dockerfile), kept in
# one script so that the tests (tests/distro) run exactly what the image does.
#
#   bash scripts/install-image.sh [--root DIR | --stage DIR] [--no-apt] [--no-go-build BINDIR]
#
# Steps, in order:
#   1. apt: install the Debian packages a distro rebuild needs (list below),
#      only those that are missing; needs root. --no-apt skips the step
#      (rpmbuild's %install, a machine without apt).
#   2. Go: make sure a Go >= the module's version is on PATH (scripts/go.sh:
#      installed as /usr/local/go when missing).
#   3. build immunix, immunix-cc and immunix-c++ (a hard link) into
#      ROOT/usr/bin, and immunix-tools (which immunix execs for check and
#      learn) into ROOT/usr/lib/immunix. --no-go-build BINDIR copies them
#      from BINDIR instead. Then immunix-supervise, the SubDomain
#      supervisor's stand-in (a small C program, scripts/build-supervise.sh),
#      into ROOT/usr/lib/immunix.
#   4. masquerade farm ROOT/usr/lib/immunix/bin: one relative symlink to
#      ../../../bin/immunix-cc for every compiler driver name found in /usr/bin
#      (cc, c++, gcc, g++, clang, clang++, their versioned names and the
#      <triplet>- names).
#   5. prebuild the guard runtime into ROOT/usr/lib/immunix for every name in
#      the farm and every ABI of native, -m32 and -mx32 that compiler links a
#      program for here (`immunix guardlib --prebuild`).
#   6. RPM macros (ROOT/usr/lib/rpm/macros.d/macros.immunix, macros.subdomain),
#      the site policy ROOT/etc/immunix/immunix.conf (kept when it exists,
#      except with --stage), the profile directory ROOT/etc/subdomain.d, the
#      man pages (ROOT/usr/share/man/man1) and the environment file
#      ROOT/etc/profile.d/immunix.sh, which puts the farm first in PATH.
#   7. CryptoMark: macros.cryptomark, the debhelper addon immunix-sign and
#      dh_immunix_sign, /etc/immunix/cryptomark.conf (kept if present), the
#      trusted-key directory /etc/immunix/keys and immunix-markd.service.
#
# ROOT defaults to / (the image). Every path the script writes is under ROOT,
# and the farm's links are relative, so a tree installed under a temporary
# ROOT works in place: PATH=ROOT/usr/lib/immunix/bin:$PATH (the RPM macros
# installed there name ROOT too). --stage DIR installs under DIR for a
# package (DESTDIR): the files it writes name / (rpmbuild/immunix.spec).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=/
apt=1
stage=0
prebuilt=
while [ $# -gt 0 ]; do
  case $1 in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --root=*) root=${1#--root=}; shift ;;
    --stage) root=${2:?--stage needs a directory}; stage=1; shift 2 ;;
    --no-apt) apt=0; shift ;;
    --no-go-build) prebuilt=${2:?--no-go-build needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
    *) echo "install-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$root"
root=$(cd "$root" && pwd)
say() { echo "install-image.sh: $*" >&2; }

# 1. Debian packages. The compilers the image protects, what the gate and
# SubDomain need, and the distro build tools.
packages=(
  gcc g++ clang make binutils file
  gcc-multilib
  strace
  build-essential dpkg-dev devscripts fakeroot debhelper equivs
  rpm
  ccache distcc
  git ca-certificates
)
missing=()
if [ $apt -eq 1 ]; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]} (run as root to install them)"
    exit 1
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Go, only needed to build immunix itself.
if [ -z "$prebuilt" ]; then
  # shellcheck source=scripts/go.sh
  . "$here/scripts/go.sh"
  if [ -d /usr/local/go/bin ]; then export PATH=/usr/local/go/bin:$PATH; fi
  want=$(go_wanted "$here")
  if ! go_at_least "$want"; then
    if [ $apt -eq 0 ] || [ "$(id -u)" -ne 0 ]; then
      say "Go >= $want is needed to build immunix (run as root without --no-apt to install it)"
      exit 1
    fi
    go_install "$want" || { say "could not install go $want"; exit 1; }
  fi
fi

# 3. The binaries.
bindir=$root/usr/bin
toolsdir=$root/usr/lib/immunix
mkdir -p "$bindir" "$toolsdir"
if [ -n "$prebuilt" ]; then
  install -m 0755 "$prebuilt/immunix" "$prebuilt/immunix-cc" "$bindir/"
  install -m 0755 "$prebuilt/immunix-tools" "$toolsdir/"
else
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$bindir/" ./cmd/immunix ./cmd/immunix-cc)
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$toolsdir/immunix-tools" ./cmd/immunix-tools)
fi
ln -f "$bindir/immunix-cc" "$bindir/immunix-c++"
bash "$here/scripts/build-supervise.sh" "$toolsdir/immunix-supervise"
chmod 0755 "$toolsdir/immunix-supervise"

# 4. The masquerade farm: every compiler driver name a package build may call.
libdir=$root/usr/lib/immunix
farm=$libdir/bin
mkdir -p "$farm"
triplet=$(gcc -dumpmachine)
shopt -s nullglob
names=()
for f in /usr/bin/cc /usr/bin/c++ \
         /usr/bin/gcc /usr/bin/gcc-[0-9]* /usr/bin/g++ /usr/bin/g++-[0-9]* \
         /usr/bin/clang /usr/bin/clang-[0-9]* /usr/bin/clang++ /usr/bin/clang++-[0-9]* \
         "/usr/bin/$triplet-gcc" "/usr/bin/$triplet-gcc-"[0-9]* \
         "/usr/bin/$triplet-g++" "/usr/bin/$triplet-g++-"[0-9]* \
         "/usr/bin/$triplet-clang" "/usr/bin/$triplet-clang-"[0-9]* \
         "/usr/bin/$triplet-clang++" "/usr/bin/$triplet-clang++-"[0-9]*; do
  [ -x "$f" ] && names+=("$(basename "$f")")
done
shopt -u nullglob
for n in "${names[@]}"; do
  ln -sfn ../../../bin/immunix-cc "$farm/$n"
done
say "masquerade farm $farm: ${names[*]}"

# 5. The guard runtime, prebuilt for every name in the farm (the runtime's key
# includes the compiler's name) and for the native, -m32 and -mx32 ABIs
# (Debian's zlib, for one, builds all three through the same name).
# Names that resolve to the same compiler binary get the same runtime: it is
# built once per binary and ABI, and every file of it (the archives and the
# linker's export lists) is symlinked under the other names' keys by
# `immunix guardlib --prebuild --same-as` (`--print-key` names the keys
# without building).
declare -A built=() links=()
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int main(void) { return 0; }\n' > "$probe/p.c"
for n in "${names[@]}"; do
  real=$(readlink -f "/usr/bin/$n")
  for abi in "" -m32 -mx32; do
    if [ -z "${links[$real$abi]:-}" ]; then
      links[$real$abi]=no
      # shellcheck disable=SC2086 # $abi is empty or one flag
      "/usr/bin/$n" $abi -x c -o "$probe/p" "$probe/p.c" >/dev/null 2>&1 && links[$real$abi]=yes
    fi
    if [ "${links[$real$abi]}" != yes ]; then
      continue
    fi
    if [ -n "${built[$real$abi]:-}" ]; then
      "$bindir/immunix" guardlib --prebuild --dest "$libdir" --cc "/usr/bin/$n" --abi "$abi" --same-as "${built[$real$abi]}" >/dev/null
    else
      "$bindir/immunix" guardlib --prebuild --dest "$libdir" --cc "/usr/bin/$n" --abi "$abi" >/dev/null
      built[$real$abi]=$("$bindir/immunix" guardlib --print-key --cc "/usr/bin/$n" --abi "$abi")
    fi
  done
done
say "guard runtime prebuilt in $libdir for ${#built[@]} compiler binaries and ABIs (${!built[*]})"

# 6. RPM macros, the site policy, the profile directory, the man pages, the
# environment.
macrodir=$root/usr/lib/rpm/macros.d
mkdir -p "$macrodir" "$root/etc/subdomain.d" "$root/etc/profile.d" "$root/etc/immunix" "$root/usr/share/man/man1"
if [ $stage -eq 1 ] || [ ! -e "$root/etc/immunix/immunix.conf" ]; then
  install -m 0644 "$here/etc/immunix.conf" "$root/etc/immunix/immunix.conf"
fi
install -m 0644 "$here/docs/man/immunix.1" "$here/docs/man/immunix-cc.1" "$root/usr/share/man/man1/"
ln -sfn immunix-cc.1 "$root/usr/share/man/man1/immunix-c++.1"
install -m 0644 "$here/rpmbuild/macros.immunix" "$macrodir/macros.immunix"
install -m 0644 "$here/rpmbuild/macros.subdomain" "$macrodir/macros.subdomain"
if [ "$root" != / ] && [ $stage -eq 0 ]; then
  # A tree under another root: the macros build from that tree.
  sed -i "s|^%_immunix_root .*|%_immunix_root $root|" "$macrodir/macros.immunix"
fi
farmpath=/usr/lib/immunix/bin
if [ "$root" != / ] && [ $stage -eq 0 ]; then
  # A tree under another root (PREFIX): its programs and its site policy too.
  farmpath=$root/usr/lib/immunix/bin
  cat > "$root/etc/profile.d/immunix.sh" <<EOF
# immunix under $root: its programs on PATH, its site policy, and every
# compiler name resolving to immunix-cc first (masquerade mode).
case ":\$PATH:" in *":$root/usr/bin:"*) ;; *) PATH=$root/usr/bin:\$PATH ;; esac
case ":\$PATH:" in *":$farmpath:"*) ;; *) PATH=$farmpath:\$PATH ;; esac
IMMUNIX_CONFIG=\${IMMUNIX_CONFIG:-$root/etc/immunix/immunix.conf}
export PATH IMMUNIX_CONFIG
EOF
else
  cat > "$root/etc/profile.d/immunix.sh" <<EOF
# immunix: every compiler name resolves to immunix-cc first (masquerade mode).
case ":\$PATH:" in *":$farmpath:"*) ;; *) PATH=$farmpath:\$PATH ;; esac
export PATH
EOF
fi
# 7. CryptoMark (docs/cryptomark.md): the rpm signing hook, the debhelper
# addon, the gate's default policy, its trusted-key directory and unit.
install -m 0644 "$here/rpmbuild/macros.cryptomark" "$macrodir/macros.cryptomark"
mkdir -p "$root/usr/share/perl5/Debian/Debhelper/Sequence" "$root/etc/immunix/keys" "$root/usr/lib/systemd/system"
install -m 0644 "$here/debhelper/Debian/Debhelper/Sequence/immunix_sign.pm" "$root/usr/share/perl5/Debian/Debhelper/Sequence/"
install -m 0755 "$here/debhelper/dh_immunix_sign" "$root/usr/bin/"
[ -e "$root/etc/immunix/cryptomark.conf" ] || install -m 0644 "$here/cryptomark/dist/cryptomark.conf" "$root/etc/immunix/"
install -m 0644 "$here/cryptomark/dist/immunix-markd.service" "$root/usr/lib/systemd/system/"
say "installed under $root"
