#!/usr/bin/env bash
# `make run`: the system as far as it goes. It builds a demo ESP-AT-style firmware, lays out a
# complete flash image for a module (ESP-AT's partition table, at_customize.bin, the app in
# ota_0), shows what a bootloader finds in it, boots atota-sim on that flash with its AT port on a
# pty, and talks to it with `atota at` as a host MCU would. From a terminal the module then keeps
# running until Ctrl-C; otherwise it stops after the demo.
set -euo pipefail
bin=$1
module=${2:-esp32-wroom-32}
atota=$bin/atota
sim=$bin/atota-sim
out=out
mkdir -p "$out"
chip=$("$atota" flash modules | awk -v m="$module" '$1 == m {print $2}')
[ -n "$chip" ] || { echo "unknown module '$module'; known:"; "$atota" flash modules; exit 2; }

echo "== atota image create: a demo firmware v1.0.0 for $chip"
head -c 65536 /dev/urandom >"$out/payload.bin"
"$atota" image create --chip "$chip" --version v1.0.0 --project atota-demo \
    --payload "$out/payload.bin" -o "$out/demo-v1.bin"
"$atota" image info "$out/demo-v1.bin" | sed -n '/Application Information/,$p'

echo
echo "== atota flash create: a $module flash image with that firmware in ota_0"
rm -f "$out/$module.flash"
"$atota" flash create --module "$module" --app "$out/demo-v1.bin" -o "$out/$module.flash"

echo
echo "== atota flash info"
"$atota" flash info "$out/$module.flash"

echo
echo "== atota-sim: the module boots from that flash"
"$sim" --flash "$out/$module.flash" --module "$module" --log "$out/atota-sim.log" >"$out/atota-sim.out" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
port=""
for _ in $(seq 200); do
    port=$(sed -n 's/^atota-sim: AT port on //p' "$out/atota-sim.out")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "atota-sim exited; see $out/atota-sim.log"; exit 1; }
    sleep 0.05
done
[ -n "$port" ] || { echo "atota-sim did not open its AT port"; exit 1; }
echo "AT port: $port"

echo
echo "== atota at: what a host driver sends at start-up"
"$atota" at --port "$port" AT+GMR AT+CWMODE=1 'AT+CWJAP="atota","atota-pass"' AT+CIPSTA? \
    AT+SYSROLLBACK? AT+SYSFLASH?

echo
if [ -t 0 ]; then
    echo "The module keeps running with its AT port on $port (log: $out/atota-sim.log)."
    echo "Try: $atota at --port $port AT+GMR     Ctrl-C stops it."
    wait "$pid" || true
else
    echo "Done. The flash is $out/$module.flash; run 'make run' from a terminal to keep the module up."
fi
