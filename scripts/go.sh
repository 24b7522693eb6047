# Sourced by scripts/deps.sh and scripts/install-image.sh: the one place that
# finds and installs the Go that go.mod names (its "go" line).
#
# Debian 12's golang-go (1.19) and bookworm-backports' (1.23) are older than
# go.mod's. A Go >= 1.21 from backports fetches that toolchain from the module
# proxy (checked against sum.golang.org, as any toolchain switch is), and it
# is installed as /usr/local/go, where scripts/test.sh, debian/rules and
# scripts/build-image.sh look first.

# go_wanted MODROOT: the Go version go.mod names.
go_wanted() {
  awk '$1 == "go" { print $2; exit }' "$1/go.mod"
}

# go_at_least V: the go on PATH itself (no toolchain switch) is >= V.
go_at_least() {
  command -v go >/dev/null 2>&1 || return 1
  local v
  v=$(cd / && GOTOOLCHAIN=local go env GOVERSION 2>/dev/null | sed 's/^go//') || return 1
  [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$1" "$v" | sort -V | head -1)" = "$1" ]
}

# go_install V: installs Go V as /usr/local/go and puts it first on PATH;
# needs root and apt. Refuses to replace an existing /usr/local/go.
go_install() {
  local want=$1 uri root
  if [ -e /usr/local/go ]; then
    echo "/usr/local/go is older than go $want (go.mod): remove it or put go $want first on PATH" >&2
    return 1
  fi
  if ! go_at_least 1.21; then
    # Toolchain switching needs Go 1.21: bookworm-backports has one, from
    # the same mirror the machine already uses.
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    echo "deb $uri bookworm-backports main" > /etc/apt/sources.list.d/immunix-backports.list
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports golang-go >/dev/null
  fi
  echo "installing go $want as /usr/local/go" >&2
  root=$(cd / && GOTOOLCHAIN=go$want go env GOROOT) || return 1
  rm -rf /usr/local/go.tmp
  cp -a "$root" /usr/local/go.tmp
  chmod -R u+w /usr/local/go.tmp
  mv /usr/local/go.tmp /usr/local/go
  export PATH=/usr/local/go/bin:$PATH
  go_at_least "$want" || { echo "/usr/local/go is not go $want" >&2; return 1; }
}
