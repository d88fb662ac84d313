#!/usr/bin/env bash
# The web console in a real browser: tests/browser/console.spec.mjs drives Debian's headless
# Chromium (playwright-core, pinned in tests/browser/package-lock.json) against atota-server.
#
#   scripts/browser-test.sh [BUILD_DIR]
#
# ATOTA_SERVER defaults to BUILD_DIR/atota-server (BUILD_DIR: build), VECTORS to ../shared/vectors,
# OUT (the server's data; console.png, and console-failure.png on failure) to BUILD_DIR/browser-test.
# Installs chromium (and node/npm) with apt-get when missing, and runs `npm ci` when the lock file
# changed.
# Exits 77 (CTest's skip) when there is no atota-server to test.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$SRC/build}"
export ATOTA_SERVER="${ATOTA_SERVER:-$BUILD/atota-server}"
export VECTORS="${VECTORS:-$SRC/../shared/vectors}"
export OUT="${OUT:-$BUILD/browser-test}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
# The test runs in tests/browser: every path it is given must be absolute.
ATOTA_SERVER="$(realpath -m "$ATOTA_SERVER")"
VECTORS="$(realpath -m "$VECTORS")"
OUT="$(realpath -m "$OUT")"

if [ ! -x "$ATOTA_SERVER" ]; then
    echo "browser-test: no atota-server at $ATOTA_SERVER: skipped" >&2
    exit 77
fi
# Debian's packages for what is missing: chromium, and node/npm on a machine without them.
missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "browser-test: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when node_modules is not what the lock file pins: reruns need no network.
cd "$SRC/tests/browser"
stamp=node_modules/.atota-package-lock.json
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
fi

mkdir -p "$OUT"
exec node console.spec.mjs
