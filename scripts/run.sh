#!/usr/bin/env bash
# `make run`: the whole system. It builds two demo ESP-AT-style firmwares (v1.0.0, v2.0.0), lays
# out a complete flash image for a module with v1 (ESP-AT's partition table, at_customize.bin, the
# app in ota_0), starts atota-server (the self-hosted iot.espressif.cn) and puts v2 on it, boots
# atota-sim on the flash with its AT port on a pty, talks to it with `atota at` as a host MCU
# would, and upgrades it to v2 with AT+USEROTA from the server's firmware URL. From a terminal the
# server and the module then keep running until Ctrl-C; otherwise they stop after the demo.
set -euo pipefail
bin=$1
module=${2:-esp32-wroom-32}
atota=$bin/atota
sim=$bin/atota-sim
out=out
mkdir -p "$out"
chip=$("$atota" flash modules | awk -v m="$module" '$1 == m {print $2}')
[ -n "$chip" ] || { echo "unknown module '$module'; known:"; "$atota" flash modules; exit 2; }

echo "== atota image create: demo firmwares v1.0.0 and v2.0.0 for $chip"
for v in 1 2; do
    head -c 65536 /dev/urandom >"$out/payload.bin"
    "$atota" image create --chip "$chip" --version "v$v.0.0" --project atota-demo \
        --payload "$out/payload.bin" -o "$out/demo-v$v.bin"
done
"$atota" image info "$out/demo-v1.bin" | sed -n '/Application Information/,$p'

echo
echo "== atota flash create: a $module flash image with that firmware in ota_0"
rm -f "$out/$module.flash"
"$atota" flash create --module "$module" --app "$out/demo-v1.bin" -o "$out/$module.flash"

echo
echo "== atota flash info"
"$atota" flash info "$out/$module.flash"

echo
echo "== atota-server: the OTA server, with v2.0.0 uploaded for the product 'demo'"
server=$bin/atota-server
rm -rf "$out/server-data"
"$server" --data "$out/server-data" --http 127.0.0.1:0 --https 127.0.0.1:0 \
    >"$out/atota-server.out" 2>"$out/atota-server.log" &
server_pid=$!
pid=""
trap 'kill $server_pid $pid 2>/dev/null || true' EXIT
# wait_for PID FILE PREFIX LOG: prints what follows PREFIX on a line of FILE once the program
# writes it (within 10 s); fails with the program's log if it exits first.
wait_for() {
    local value
    for _ in $(seq 200); do
        value=$(sed -n "s/^$3//p" "$2")
        [ -n "$value" ] && { echo "$value"; return 0; }
        kill -0 "$1" 2>/dev/null || { cat "$4" >&2; return 1; }
        sleep 0.05
    done
    echo "no '$3' line in $2 within 10 s" >&2
    return 1
}
http=$(wait_for "$server_pid" "$out/atota-server.out" "atota-server: http on " "$out/atota-server.log")
admin() { "$server" admin --data "$out/server-data" "$@"; }
admin product add demo >/dev/null
key=$(admin device add demo module-1 | grep -oE '[0-9a-f]{40}' | head -n 1)
admin version add demo v2.0.0 >/dev/null
admin file put demo v2.0.0 "$out/demo-v2.bin" --name ota.bin >/dev/null
admin current demo v2.0.0 >/dev/null
url="http://$http/fw/$(sha256sum "$out/demo-v2.bin" | cut -d' ' -f1)/ota.bin"
sed -n 's/^atota-server: //p' "$out/atota-server.out"
echo "device key of module-1 (the AT+CIUPDATE token): $key"
echo "v2.0.0 for AT+USEROTA: $url"

echo
echo "== atota-sim: the module boots from that flash"
"$sim" --flash "$out/$module.flash" --module "$module" --log "$out/atota-sim.log" >"$out/atota-sim.out" &
pid=$!
port=$(wait_for "$pid" "$out/atota-sim.out" "atota-sim: AT port on " "$out/atota-sim.log")
echo "AT port: $port"

echo
echo "== atota at: what a host driver sends at start-up"
"$atota" at --port "$port" AT+GMR AT+CWMODE=1 'AT+CWJAP="atota","atota-pass"' AT+CIPSTA? \
    AT+SYSROLLBACK? AT+SYSFLASH?

echo
echo "== atota userota: the module upgrades itself from the server"
"$atota" userota --port "$port" "$url"
"$atota" at --port "$port" AT+GMR AT+SYSROLLBACK?

echo
if [ -t 0 ]; then
    echo "The module keeps running with its AT port on $port (log: $out/atota-sim.log)."
    echo "The server's console: http://$http/ (account admin, password in"
    echo "$out/server-data/initial-admin-password). Ctrl-C stops both."
    wait "$pid" || true
else
    echo "Done. Run 'make run' from a terminal to keep the server and the module up."
fi
