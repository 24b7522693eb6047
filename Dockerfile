# immunix distro-rebuild image: Debian 12 with every compiler name routed
# through immunix-cc (masquerade mode), the guard runtime prebuilt for gcc and
# clang (native, -m32, -mx32), RPM macros, ccache, distcc, strace and the
# Debian build tools. The install steps are scripts/install-image.sh, which
# tests/distro runs too.
#
#   docker build -t immunix-rebuild .
#   docker run --rm -v "$PWD/src:/src" -w /src/hello-2.10 immunix-rebuild \
#       dpkg-buildpackage -b -uc -us
#   docker run --rm -v "$PWD/src:/src" immunix-rebuild immunix check --policy immunix /src/*.deb
FROM debian:12

ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8

COPY . /usr/src/immunix
RUN apt-get update -qq \
 && bash /usr/src/immunix/scripts/install-image.sh --root / \
 && rm -rf /var/lib/apt/lists/* /root/.cache/go-build

# Masquerade mode for every process: dpkg-buildpackage, make, cmake, meson and
# configure scripts find immunix-cc under the compiler names they look for.
# (/etc/profile.d/immunix.sh does the same for login shells.)
ENV PATH=/usr/lib/immunix/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

WORKDIR /src
CMD ["bash"]
