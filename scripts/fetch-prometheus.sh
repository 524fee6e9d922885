#!/usr/bin/env bash
# Install the Prometheus 2.42 server and promtool binaries into .tools/prometheus/bin/ of this repo,
# taken from Debian bookworm's `prometheus` package.
#
# The package is downloaded and unpacked (`apt-get download` + `dpkg -x`), never installed:
# `apt-get install prometheus` would run its postinst, which starts a daemon listening on :9090 on
# every interface. Nothing here starts a service. Idempotent: when the binaries already run, it only
# prints their version.
#
# Usage: bash scripts/fetch-prometheus.sh      (run by `make tools`, hence by `make test` and CI)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
DEST=".tools/prometheus"
BIN="$DEST/bin"
WANT_SERIES="2.42."

installed() {
    "$BIN/promtool" --version >/dev/null 2>&1 && "$BIN/prometheus" --version >/dev/null 2>&1
}

show_version() {
    "$BIN/promtool" --version 2>&1 | head -n 1
    "$BIN/prometheus" --version 2>&1 | head -n 1
}

if installed; then
    echo "fetch-prometheus: already installed in $BIN"
    show_version
    exit 0
fi

for tool in apt-get dpkg dpkg-deb; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "fetch-prometheus: '$tool' not found; this script needs a Debian (bookworm) system." >&2
        exit 1
    fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/fetch-prometheus.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# apt drops privileges to the _apt user for downloads; let it write into the download directory
# (otherwise apt warns and downloads unsandboxed as root).
chmod 0777 "$WORK"

download() {
    (cd "$WORK" && apt-get download -q prometheus)
}

if ! download; then
    # A fresh machine or container often has no package lists yet ("Unable to locate package").
    if [ "$(id -u)" -ne 0 ]; then
        echo "fetch-prometheus: 'apt-get download prometheus' failed and refreshing the package" \
            "lists needs root: run 'sudo apt-get update', then retry." >&2
        exit 1
    fi
    echo "fetch-prometheus: download failed; refreshing package lists (apt-get update) and retrying"
    apt-get update -q
    download
fi

DEB="$(find "$WORK" -maxdepth 1 -name 'prometheus_*.deb' -print -quit)"
if [ -z "$DEB" ]; then
    echo "fetch-prometheus: apt-get download produced no prometheus_*.deb" >&2
    exit 1
fi
VERSION="$(dpkg-deb -f "$DEB" Version)"
case "$VERSION" in
    "$WANT_SERIES"*) ;;
    *) echo "fetch-prometheus: warning: got prometheus $VERSION, expected ${WANT_SERIES}x (Debian bookworm)" >&2 ;;
esac

dpkg -x "$DEB" "$WORK/root"
for tool in prometheus promtool; do
    if [ ! -x "$WORK/root/usr/bin/$tool" ]; then
        echo "fetch-prometheus: $DEB has no usr/bin/$tool" >&2
        exit 1
    fi
done

mkdir -p "$BIN"
# Copy under a temporary name, then rename: an interrupted run never leaves a half-written binary
# that looks installed.
for tool in prometheus promtool; do
    install -m 0755 "$WORK/root/usr/bin/$tool" "$BIN/.$tool.partial"
    mv -f "$BIN/.$tool.partial" "$BIN/$tool"
done
echo "$VERSION" >"$DEST/VERSION"

if ! installed; then
    echo "fetch-prometheus: the extracted binaries do not run" >&2
    exit 1
fi
echo "fetch-prometheus: installed prometheus $VERSION into $BIN"
show_version
