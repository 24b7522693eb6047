# immunix distro-rebuild image: Debian 12 with immunix and immunix-masquerade
# installed from the .debs debian/ builds (the README's layout: every compiler
# name routed through immunix-cc, the guard runtime prebuilt for gcc and clang
# in every ABI, RPM macros), and the Debian build tools, clang, rpm, ccache,
# distcc and strace. Build it with scripts/build-image.sh, which runs:
#
#   podman build --pull=never --network=host --isolation=chroot -t immunix-rebuild \
#       --build-context go=/usr/local/go \
#       --build-context gomod="$(go env GOMODCACHE)" \
#       --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt .
#
# The target zeroproc (the same command with --target zeroproc -t NAME;
# scripts/build-image.sh --zeroproc-tag NAME) installs immunix-zeroproc
# instead of immunix-masquerade: the zero-process mode written for the image's
# gcc and clang and made gcc's default specs, so plain gcc, cc and g++ (and
# immunix-clang, immunix-clang++; plain clang is unchanged) build protected
# with no immunix process per compile, and PATH is Debian's. The default
# stays the masquerade: immunix-cc does what the mode cannot (the FormatGuard
# retry of a unit its headers break, the runtime for -m32/-mx32 links,
# IMMUNIX_* at build time, logs: docs/immunix-cc.md), which a rebuild of
# arbitrary packages needs more than the per-compile saving. Both share every
# layer up to the last step (the stage tools).
#
# - go: a Go toolchain >= go.mod's (Debian 12's is too old, and no download
#   is made); gomod: the module cache holding go.mod's modules. Both are
#   mounted in the build stage only: the final image has no Go.
# - ca: the host's CA bundle, for a mirror behind a TLS-intercepting proxy;
#   a secret, mounted for the apt steps only, never in a layer.
#
#   podman run --rm -v "$PWD/src:/src" -w /src/hello-2.10 immunix-rebuild \
#       dpkg-buildpackage -b -uc -us
#   podman run --rm -v "$PWD/src:/src" immunix-rebuild immunix check --policy immunix /src/hello_2.10-3_amd64.deb
#
# (Where crun cannot create containers, as on hybrid-cgroup machines:
#   ctr=$(buildah from --pull-never immunix-rebuild)
#   buildah run --isolation chroot --network host -v "$PWD/src:/src" "$ctr" -- bash -c '...'
# which is what tests/image does.)

FROM debian:12 AS build
# Marks the build stage's image, which scripts/build-image.sh removes.
LABEL org.immunix.stage=build
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
COPY . /usr/src/immunix
WORKDIR /usr/src/immunix
RUN --mount=type=secret,id=ca \
    apt-get -o Acquire::https::CAInfo=/run/secrets/ca update -qq \
 && apt-get -o Acquire::https::CAInfo=/run/secrets/ca install -y -qq --no-install-recommends dpkg-dev >/dev/null \
 && apt-get -o Acquire::https::CAInfo=/run/secrets/ca build-dep -y -qq ./ >/dev/null
RUN --mount=type=bind,from=go,target=/usr/local/go \
    --mount=type=bind,from=gomod,target=/gomod \
    GOMODCACHE=/gomod GOCACHE=/tmp/gocache bash scripts/install.sh --build-only --debs /debs

# The stages below share this one: immunix, clang and the Debian build tools;
# the two optional packages wait in /var/cache/immunix (a few KiB) for the
# stage that installs one of them. (buildah 1.28 cannot bind-mount from a
# stage it took from its cache, as a second build of another target does.)
FROM debian:12 AS tools
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN --mount=type=bind,from=build,source=/debs,target=/debs \
    --mount=type=secret,id=ca \
    apt-get -o Acquire::https::CAInfo=/run/secrets/ca update -qq \
 && apt-get -o Acquire::https::CAInfo=/run/secrets/ca install -y -qq --no-install-recommends \
      /debs/immunix_*.deb \
      build-essential clang dpkg-dev devscripts fakeroot debhelper equivs \
      gcc-multilib g++-multilib rpm ccache distcc strace file git ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && mkdir -p /var/cache/immunix \
 && cp /debs/immunix-masquerade_*.deb /debs/immunix-zeroproc_*.deb /var/cache/immunix/
WORKDIR /src
CMD ["bash"]

# The zero-process mode (--target zeroproc): immunix-zeroproc writes the mode
# for the image's gcc and clang at install and makes it gcc's default specs,
# so plain gcc, cc and g++ (and immunix-clang, immunix-clang++) build in the
# mode and no immunix process runs per compile; PATH is Debian's. Its
# dependencies are all in the stage tools: no apt lists needed.
FROM tools AS zeroproc
RUN apt-get install -y -qq --no-install-recommends /var/cache/immunix/immunix-zeroproc_*.deb >/dev/null \
 && rm -rf /var/cache/immunix

# The default image: masquerade mode for every process, not only login
# shells (/etc/profile.d/immunix.sh): dpkg-buildpackage, make, cmake, meson
# and configure scripts find immunix-cc under the compiler names they look for.
FROM tools
RUN apt-get install -y -qq --no-install-recommends /var/cache/immunix/immunix-masquerade_*.deb >/dev/null \
 && rm -rf /var/cache/immunix
ENV PATH=/usr/lib/immunix/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
