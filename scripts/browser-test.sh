#!/usr/bin/env bash
# The browser tests: tests/browser/<TEST>.spec.mjs drives Debian's headless Chromium
# (playwright-core, pinned in tests/browser/package-lock.json).
#
#   scripts/browser-test.sh [BUILD_DIR] [TEST]
#
# TEST is one of:
#   console    (default) the web console against atota-server. ATOTA_SERVER defaults to
#              BUILD_DIR/atota-server, VECTORS to ../shared/vectors, OUT (the server's data;
#              console.png, and console-failure.png on failure) to BUILD_DIR/browser-test.
#   webserver  the module's own page (AT+WEBSERVER) against atota-sim. ATOTA defaults to
#              BUILD_DIR/atota, ATOTA_SIM to BUILD_DIR/atota-sim, OUT (flashes, images,
#              webserver-*.png) to BUILD_DIR/browser-webserver.
# BUILD_DIR defaults to build. Installs chromium (and node/npm) with apt-get when missing, and
# runs `npm ci` when the lock file changed.
# Exits 77 (CTest's skip) when the program to test is not built.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$SRC/build}"
TEST="${2:-console}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
# The test runs in tests/browser: every path it is given must be absolute.
case "$TEST" in
console)
    export ATOTA_SERVER="$(realpath -m "${ATOTA_SERVER:-$BUILD/atota-server}")"
    export VECTORS="$(realpath -m "${VECTORS:-$SRC/../shared/vectors}")"
    export OUT="$(realpath -m "${OUT:-$BUILD/browser-test}")"
    needs=("$ATOTA_SERVER")
    ;;
webserver)
    export ATOTA="$(realpath -m "${ATOTA:-$BUILD/atota}")"
    export ATOTA_SIM="$(realpath -m "${ATOTA_SIM:-$BUILD/atota-sim}")"
    export OUT="$(realpath -m "${OUT:-$BUILD/browser-webserver}")"
    needs=("$ATOTA" "$ATOTA_SIM")
    ;;
*)
    echo "usage: scripts/browser-test.sh [BUILD_DIR] [console|webserver]" >&2
    exit 2
    ;;
esac
for program in "${needs[@]}"; do
    if [ ! -x "$program" ]; then
        echo "browser-test: no $program: $TEST skipped" >&2
        exit 77
    fi
done
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
exec node "$TEST.spec.mjs"
