#!/usr/bin/env bash
# Installs the Debian packages ATOTA needs to build and test, when they are missing.
# Idempotent and non-interactive; safe to run on every `make`.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
      libcmocka-dev libmbedtls-dev libcurl4-openssl-dev curl openssl python3
      libmicrohttpd-dev libsqlite3-dev libcjson-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
