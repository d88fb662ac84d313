#!/usr/bin/env bash
# `make run`: the whole system. It starts atota-server (the self-hosted iot.espressif.cn) and, with
# its admin CLI, creates a demo product, a device (its key is the module's OTA token) and two
# versions; builds two demo ESP-AT-style firmwares (v1.0.0.0, v2.0.0.0) whose configuration points
# at that server with that key, uploads v2 (with an mqtt_ca.bin for a custom partition) and makes
# it the recommended version; lays out a complete flash image for a module with v1 (ESP-AT's
# partition table, an at_customize.bin with mqtt_ca, the app in ota_0); boots atota-sim on it
# with its AT port on a pty; talks to it with `atota at` as a host MCU would; and upgrades it with
# AT+CIUPDATE (`atota ciupdate`, the progress lines as they come), the app and then mqtt_ca; then
# starts the module's web server (AT+WEBSERVER) and reads its page's data with `atota web info`.
# From a terminal the server and the module then keep running until Ctrl-C (the page's URL is
# printed); otherwise they stop.
set -euo pipefail
bin=$1
module=${2:-esp32-wroom-32}
atota=$bin/atota
sim=$bin/atota-sim
server=$bin/atota-server
out=out
mkdir -p "$out"
chip=$("$atota" flash modules | awk -v m="$module" '$1 == m {print $2}')
[ -n "$chip" ] || { echo "unknown module '$module'; known:"; "$atota" flash modules; exit 2; }

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

echo "== atota-server: the OTA server (a self-hosted iot.espressif.cn)"
rm -rf "$out/server-data"
"$server" --data "$out/server-data" --http 127.0.0.1:0 --https 127.0.0.1:0 \
    >"$out/atota-server.out" 2>"$out/atota-server.log" &
server_pid=$!
pid=""
trap 'kill $server_pid $pid 2>/dev/null || true' EXIT
http=$(wait_for "$server_pid" "$out/atota-server.out" "atota-server: http on " "$out/atota-server.log")
https=$(wait_for "$server_pid" "$out/atota-server.out" "atota-server: https on " "$out/atota-server.log")
sed -n 's/^atota-server: //p' "$out/atota-server.out"
admin() { "$server" admin --data "$out/server-data" "$@"; }
admin product add demo >/dev/null
key=$(admin device add demo module-1 | grep -oE '[0-9a-f]{40}' | head -n 1)
echo "product 'demo', device 'module-1', key (the firmware's OTA token): $key"

echo
echo "== atota image create: demo firmwares v1.0.0.0 and v2.0.0.0 for $chip, configured with"
echo "   the server (ota_host, ota_port, ssl_port) and the device's key (ota_token, ssl_token)"
config=(--config ota_host=127.0.0.1 --config "ota_port=${http##*:}" --config "ota_token=$key"
        --config ssl_host=127.0.0.1 --config "ssl_port=${https##*:}" --config "ssl_token=$key")
for v in 1 2; do
    head -c 65536 /dev/urandom >"$out/payload.bin"
    "$atota" image create --chip "$chip" --version "v$v.0.0.0" --project atota-demo \
        --payload "$out/payload.bin" "${config[@]}" -o "$out/demo-v$v.bin"
    admin version add demo "v$v.0.0.0" >/dev/null
    admin file put demo "v$v.0.0.0" "$out/demo-v$v.bin" --name ota.bin >/dev/null
done
"$atota" image info "$out/demo-v1.bin" | sed -n '/Application Information/,$p'
{ printf '\xf1\xf1'; echo "-----BEGIN CERTIFICATE----- (demo mqtt_ca, v2.0.0.0)"; } >"$out/mqtt_ca.bin"
admin file put demo v2.0.0.0 "$out/mqtt_ca.bin" >/dev/null
admin current demo v2.0.0.0 >/dev/null
echo "uploaded: v1.0.0.0 ota.bin; v2.0.0.0 ota.bin and mqtt_ca.bin; recommended: v2.0.0.0"

echo
echo "== atota flash create: a $module flash image with v1 in ota_0 and an mqtt_ca partition"
cat >"$out/at_customize.csv" <<'CSV'
# Name, Type, SubType, Offset, Size
mfg_nvs, data, nvs, 0x21000, 112K
mqtt_ca, 0x40, 27, 0x3D000, 8K
fs_storage, data, 0xff, 0x70000, 576K
CSV
rm -f "$out/$module.flash"
"$atota" flash create --module "$module" --app "$out/demo-v1.bin" \
    --at-customize "$out/at_customize.csv" -o "$out/$module.flash"
"$atota" flash info "$out/$module.flash"

echo
echo "== atota-sim: the module boots from that flash"
# AT+CIPFWVER? goes to the SSL server at port 443 (ESP-AT ignores the port options there): the
# simulator's network routes it to the server's HTTPS port.
"$sim" --flash "$out/$module.flash" --module "$module" --log "$out/atota-sim.log" \
    --connect-to "127.0.0.1:443:127.0.0.1:${https##*:}" >"$out/atota-sim.out" &
pid=$!
port=$(wait_for "$pid" "$out/atota-sim.out" "atota-sim: AT port on " "$out/atota-sim.log")
echo "AT port: $port"

echo
echo "== atota at: what a host driver sends at start-up"
"$atota" at --port "$port" AT+GMR AT+CWMODE=1 'AT+CWJAP="atota","atota-pass"' AT+CIPSTA? \
    AT+SYSROLLBACK? AT+SYSFLASH?

echo
echo "== atota ciupdate --list: AT+CIPFWVER?, the versions on the server"
"$atota" ciupdate --port "$port" --list

echo
echo "== atota ciupdate: AT+CIUPDATE, the module asks the server and upgrades itself"
"$atota" ciupdate --port "$port"
"$atota" at --port "$port" AT+GMR AT+SYSROLLBACK?

# After the restart the station joins again by itself (it was saved by AT+CWJAP), as a host
# driver waits for "WIFI GOT IP" before it uses the network.
for _ in $(seq 50); do
    "$atota" at --port "$port" AT+CWJAP? 2>/dev/null | grep -q '^+CWJAP:' && break
    sleep 0.1
done

echo
echo "== atota ciupdate --name mqtt_ca: a custom partition, staged, verified, then replaced"
"$atota" ciupdate --port "$port" --version v2.0.0.0 --name mqtt_ca
"$atota" at --port "$port" 'AT+SYSFLASH=2,"mqtt_ca",2,53'

echo
echo "== AT+WEBSERVER: the module's own web page, for an upgrade from a browser"
"$atota" at --port "$port" AT+CWMODE=3 AT+WEBSERVER=1,80,25
web=$(wait_for "$pid" "$out/atota-sim.out" "atota-sim: web server for port 80 on " "$out/atota-sim.log")
echo "== atota web info: what the page shows (GET /getotainfo)"
"$atota" web info --url "$web"

echo
if [ -t 0 ]; then
    echo "The module keeps running with its AT port on $port (log: $out/atota-sim.log)."
    echo "Its web page: $web (upload $out/demo-v1.bin there, then AT+RST)."
    echo "Try: $atota at --port $port AT+CIUPDATE?"
    echo "The server's console: http://$http/ (account admin, password in"
    echo "$out/server-data/initial-admin-password). Ctrl-C stops both."
    wait "$pid" || true
else
    echo "Done. Run 'make run' from a terminal to keep the server and the module up."
fi
