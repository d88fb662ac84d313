#!/usr/bin/env bash
# `make run`: the most useful thing ATOTA does so far. It builds a demo ESP-AT-style firmware,
# lays out a complete flash image for a module (ESP-AT's partition table, at_customize.bin,
# the app in ota_0), and shows what a bootloader would find in it.
set -euo pipefail
atota=$1
module=${2:-esp32-wroom-32}
out=out
mkdir -p "$out"
chip=$("$atota" flash modules | awk -v m="$module" '$1 == m {print $2}')
[ -n "$chip" ] || { echo "unknown module '$module'; known:"; "$atota" flash modules; exit 2; }

echo "== atota image create: a demo firmware v1.0.0 for $chip"
head -c 65536 /dev/urandom >"$out/payload.bin"
"$atota" image create --chip "$chip" --version v1.0.0 --project atota-demo \
    --payload "$out/payload.bin" -o "$out/demo-v1.bin"
"$atota" image info "$out/demo-v1.bin" | sed -n '/Segments Information/,$p'

echo
echo "== atota flash create: a $module flash image with that firmware in ota_0"
"$atota" flash create --module "$module" --app "$out/demo-v1.bin" -o "$out/$module.flash"

echo
echo "== atota flash info"
"$atota" flash info "$out/$module.flash"
echo
echo "The flash image is $out/$module.flash; the firmware is $out/demo-v1.bin."
echo "See README.md for the other commands."
