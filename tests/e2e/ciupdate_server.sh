#!/usr/bin/env bash
# AT+CIUPDATE and AT+CIPFWVER? against atota-server (esp-at-ota.md §3), through the same doors a
# user uses: the admin CLI creates a product, a device and its key; firmware v1 is built with the
# server's address and that key in its configuration; v2 (current) and v3 are uploaded. Then, with
# the exact AT-port bytes: AT+CIUPDATE (mode 0, the recommended version) -> v2 and a reboot;
# mode 1 with an explicit version -> v3; non-blocking, then AT+RST -> v2; a custom partition
# (mqtt_ca) updated by name and read back with AT+SYSFLASH; AT+CIPFWVER? lists the versions. Then
# the failures: a wrong key, an unknown version, a missing file (atota-server); a bad magic, a
# file larger than the partition and a server killed mid-download, for the app and for mqtt_ca
# (a stand-in server, as atota-server refuses such files). Each ends in ERROR or +CIPUPDATE:-1
# with the firmware and the partition unchanged.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"
. "$(dirname "$0")/lib/userota.sh"
. "$(dirname "$0")/lib/server.sh"
trap 'for p in $SIM_PIDS $HTTP_PIDS $SERVER_PID; do kill -9 "$p" 2>/dev/null; done' EXIT


# ---- the server, the device and its firmware ---------------------------------------------------
server_start server
admin product add acme >/dev/null
key=$(admin device add acme module-1 | grep -oE '[0-9a-f]{40}' | head -n 1)
expect_eq "${#key}" 40 "the device key's length"
cfg=(--config ota_host=127.0.0.1 --config "ota_port=$SERVER_HTTP_PORT" --config "ota_token=$key"
     --config ssl_host=127.0.0.1 --config "ssl_port=$SERVER_HTTPS_PORT" --config "ssl_token=$key")
head -c 150000 /dev/urandom >"$TMP/payload.bin"
for v in 1 2 3; do
    mk_image "$TMP/v$v.bin" "v$v.0.0.0" "${cfg[@]}" --payload "$TMP/payload.bin"
    admin version add acme "v$v.0.0.0" >/dev/null
    admin file put acme "v$v.0.0.0" "$TMP/v$v.bin" --name ota.bin >/dev/null
done
# mqtt_ca.bin: the F1 F1 magic, then printable text (so AT+SYSFLASH=2 reads it back as a line)
{ printf '\xf1\xf1'; head -c 1500 /dev/urandom | base64 -w0; } >"$TMP/mqtt_ca.bin"
mqtt_len=$(stat -c %s "$TMP/mqtt_ca.bin")
admin file put acme v2.0.0.0 "$TMP/mqtt_ca.bin" >/dev/null
admin current acme v2.0.0.0 >/dev/null


# sysflash_text OUT OFFSET LEN: AT+SYSFLASH=2 of mqtt_ca; OUT gets the data after "+SYSFLASH:LEN,".
sysflash_text() {
    at "$1.at" "AT+SYSFLASH=2,\"mqtt_ca\",$2,$3"
    sed -n "s/^+SYSFLASH:$3,//p" "$1.at" >"$1"
}

# mqtt_ca_is FILE WHAT: the partition's first bytes are FILE's (the magic checked in the flash
# file's copy is not needed: the text after it is read through the AT port) and the rest erased.
mqtt_ca_is() {
    local n
    n=$(($(stat -c %s "$1") - 2))
    sysflash_text "$TMP/ca.txt" 2 "$n"
    expect_eq "$(cat "$TMP/ca.txt")" "$(tail -c +3 "$1")" "$2: mqtt_ca read back with AT+SYSFLASH"
}

mk_module "$TMP/m.flash" "$TMP/v1.bin"
# The firmware lists versions over HTTPS at port 443 (AT+CIPFWVER ignores the *_PORT options,
# §3.6): the simulator's network routes 127.0.0.1:443 to the server's HTTPS port.
sim_start m --flash "$TMP/m.flash" --connect-to "127.0.0.1:443:127.0.0.1:$SERVER_HTTPS_PORT"
wifi_join

# ---- mode 0, the recommended version, blocking: exact bytes, echo on -----------------------
raw 'drain:100' 'send:AT+CIUPDATE?\r\n' 'expect:AT+CIUPDATE?\r\n+CIUPDATE:0\r\n\r\nOK\r\n'
raw 'send:AT+CIUPDATE\r\n' 'timeout:30000' \
    'expect:AT+CIUPDATE\r\n+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n+CIPUPDATE:3\r\n+CIPUPDATE:4\r\n\r\nOK\r\n' \
    'timeout:10000' 'expect:\r\nready\r\n' 'expect:WIFI CONNECTED\r\nWIFI GOT IP\r\n' 'quiet:100'
at "$TMP/gmr2.txt" AT+GMR AT+SYSROLLBACK?
expect_grep "$TMP/gmr2.txt" '^Bin version:v2\.0\.0\.0\(WROOM-32\)$'
expect_grep "$TMP/gmr2.txt" '^\+SYSROLLBACK:0x280000,"v2\.0\.0\.0",0x100000,"v1\.0\.0\.0"$'
expect_grep "$TMP/m.log" 'ciupdate: the server recommends v2\.0\.0\.0'

# ---- mode 1 (TLS), an explicit version: no :2 and :3 ----------------------------------------
raw 'drain:100' 'send:AT+CIUPDATE=1,"v3.0.0.0"\r\n' 'timeout:30000' \
    'expect:AT+CIUPDATE=1,"v3.0.0.0"\r\n+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n\r\nOK\r\n' \
    'timeout:10000' 'expect:\r\nready\r\n' 'expect:WIFI CONNECTED\r\nWIFI GOT IP\r\n' 'quiet:100'
expect_version "$TMP/gmr3.txt" 'v3\.0\.0\.0\(WROOM-32\)$'

# ---- non-blocking: OK at once, the lines after, no reboot; AT+RST boots the new app -------------
raw 'drain:100' 'send:AT+CIUPDATE=0,"v2.0.0.0","ota",1\r\n' 'timeout:30000' \
    'expect:AT+CIUPDATE=0,"v2.0.0.0","ota",1\r\n\r\nOK\r\n+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n' 'quiet:300'
at "$TMP/nb.txt" AT+CIUPDATE? AT+GMR
expect_grep "$TMP/nb.txt" '^\+CIUPDATE:4$'
expect_grep "$TMP/nb.txt" '^Bin version:v3\.0\.0\.0\(WROOM-32\)$'
expect_boots_after_rst "$TMP/nb2.txt" 'v2\.0\.0\.0\(WROOM-32\)$'

# ---- a custom partition by name, read back with AT+SYSFLASH ------------------------------------
printf '\xf1\xf1old' >"$TMP/old_ca.bin"
at "$TMP/erase.txt" 'AT+SYSFLASH=0,"mqtt_ca"'
raw 'drain:100' 'send:AT+SYSFLASH=1,"mqtt_ca",0,5\r\n' 'expect:AT+SYSFLASH=1,"mqtt_ca",0,5\r\n\r\nOK\r\n\r\n>' \
    'send:\xf1\xf1old' 'expect:\r\nOK\r\n'
mqtt_ca_is "$TMP/old_ca.bin" "before"
raw 'drain:100' 'send:AT+CIUPDATE=0,"v2.0.0.0","mqtt_ca"\r\n' 'timeout:30000' \
    'expect:AT+CIUPDATE=0,"v2.0.0.0","mqtt_ca"\r\n+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n\r\nOK\r\n' 'quiet:500'
mqtt_ca_is "$TMP/mqtt_ca.bin" "after the update"
sysflash_text "$TMP/tail.txt" "$((mqtt_len + 100))" 4
expect_eq "$(head -c 4 "$TMP/tail.txt" | od -An -tx1 | tr -d ' \n')" "ffffffff" \
    "the rest of mqtt_ca is erased"
expect_version "$TMP/gmr4.txt" 'v2\.0\.0\.0\(WROOM-32\)$'
cp "$TMP/mqtt_ca.bin" "$TMP/current_ca.bin"

# ---- AT+CIPFWVER?: the recommended version first, then the others newest first -------------------
at "$TMP/fwver.txt" AT+CIPFWVER?
expect_eq "$(grep '^+CIPFWVER:' "$TMP/fwver.txt" | tr '\n' ' ')" \
    '+CIPFWVER:"v2.0.0.0" +CIPFWVER:"v3.0.0.0" +CIPFWVER:"v1.0.0.0" ' "AT+CIPFWVER?"

# ---- failures against atota-server: ERROR, the state -1, nothing changed ---------------------------
# fail_ciupdate CMD LINES: CMD (blocking) prints LINES then ERROR; the state is -1, the firmware is
# still v2 and mqtt_ca still holds current_ca.bin.
fail_ciupdate() {
    raw 'drain:100' "send:$1\\r\\n" 'timeout:30000' "expect:$1\\r\\n$2\\r\\nERROR\\r\\n" 'quiet:300'
    at "$TMP/state.txt" AT+CIUPDATE?
    expect_grep "$TMP/state.txt" '^\+CIUPDATE:-1$'
    expect_version "$TMP/still.txt" "${3:-v2\\.0\\.0\\.0}"
    mqtt_ca_is "$TMP/current_ca.bin" "$1"
}
fail_ciupdate 'AT+CIUPDATE=0,"v9.9.9.9"' '+CIPUPDATE:1\r\n'                 # unknown version
fail_ciupdate 'AT+CIUPDATE=0,"v9.9.9.9","mqtt_ca"' '+CIPUPDATE:1\r\n'
fail_ciupdate 'AT+CIUPDATE=0,"v1.0.0.0","mqtt_ca"' '+CIPUPDATE:1\r\n'       # no such file in v1
fail_ciupdate 'AT+CIUPDATE=0,"v2.0.0.0","client_ca"' '+CIPUPDATE:1\r\n'     # no such partition
fail_ciupdate 'AT+CIUPDATE=0,"v2.0.0.0","mfg_nvs"' '+CIPUPDATE:1\r\n'       # no magic: refused
# non-blocking: OK, then the lines reached and +CIPUPDATE:-1
raw 'drain:100' 'send:AT+CIUPDATE=0,"v9.9.9.9","ota",1\r\n' 'timeout:30000' \
    'expect:AT+CIUPDATE=0,"v9.9.9.9","ota",1\r\n\r\nOK\r\n+CIPUPDATE:1\r\n+CIPUPDATE:-1\r\n' 'quiet:300'
sim_stop

# A wrong key: the query is refused (401), the firmware scrapes no version.
mk_image "$TMP/badkey.bin" v1.0.0.0 --config ota_host=127.0.0.1 --config "ota_port=$SERVER_HTTP_PORT" \
    --config ota_token=0000000000000000000000000000000000000000
mk_module "$TMP/bad.flash" "$TMP/badkey.bin"
sim_start bad --flash "$TMP/bad.flash"
wifi_join
raw 'drain:100' 'send:AT+CIUPDATE\r\n' 'timeout:30000' \
    'expect:AT+CIUPDATE\r\n+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n\r\nERROR\r\n' 'quiet:300'
expect_version "$TMP/bad.txt" 'v1\.0\.0\.0'
sim_stop

# ---- failures atota-server never serves: a stand-in server (http_server.py --iot) ---------------
www="$TMP/iot"
mkdir -p "$www/v5" "$www/v6" "$www/v7"
{ printf '\x00\xf1'; head -c 1500 /dev/urandom | base64 -w0; } >"$www/v5/mqtt_ca.bin"   # bad magic
{ printf '\xe8'; tail -c +2 "$TMP/v2.bin"; } >"$www/v5/ota.bin"                          # bad magic
{ printf '\xf1\xf1'; head -c 7000 /dev/urandom | base64 -w0; } >"$www/v6/mqtt_ca.bin"    # > 8 KB
cp "$TMP/v2.bin" "$www/v7/ota.bin"
cp "$TMP/mqtt_ca.bin" "$www/v7/mqtt_ca.bin"
echo 'stall=60000' >"$www/v7/ota.bin.faults"
echo 'stall=1000' >"$www/v7/mqtt_ca.bin.faults"
http_start iot "$www" --iot
mk_image "$TMP/iot1.bin" v1.0.0.0 --config ota_host=127.0.0.1 --config "ota_port=$HTTP_PORT" \
    --config "ota_token=$key"
mk_module "$TMP/iot.flash" "$TMP/iot1.bin"
sim_start iot --flash "$TMP/iot.flash"
wifi_join
cp "$TMP/old_ca.bin" "$TMP/current_ca.bin"
at "$TMP/erase2.txt" 'AT+SYSFLASH=0,"mqtt_ca"'
raw 'drain:100' 'send:AT+SYSFLASH=1,"mqtt_ca",0,5\r\n' 'expect:AT+SYSFLASH=1,"mqtt_ca",0,5\r\n\r\nOK\r\n\r\n>' \
    'send:\xf1\xf1old' 'expect:\r\nOK\r\n'
fail_ciupdate 'AT+CIUPDATE=0,"v5","mqtt_ca"' '+CIPUPDATE:1\r\n' 'v1\.0\.0\.0'   # bad magic
fail_ciupdate 'AT+CIUPDATE=0,"v5"' '+CIPUPDATE:1\r\n' 'v1\.0\.0\.0'
fail_ciupdate 'AT+CIUPDATE=0,"v6","mqtt_ca"' '+CIPUPDATE:1\r\n' 'v1\.0\.0\.0'   # larger than mqtt_ca
expect_grep "$TMP/iot.log" 'ota bin oversize'
# The server killed mid-download (kill -9 while it stalls): the app, then mqtt_ca.
for target in ota mqtt_ca; do
    cmd="AT+CIUPDATE=0,\"v7\",\"$target\""
    $AT_RAW "$SIM_PORT" 'drain:100' "send:$cmd\\r\\n" 'timeout:30000' \
        "expect:$cmd\\r\\n+CIPUPDATE:1\\r\\n\\r\\nERROR\\r\\n" 'quiet:300' 2>"$TMP/kill.err" &
    raw_pid=$!
    for _ in $(seq 100); do
        grep -q "filename=$target.bin" "$TMP/iot.http.log" 2>/dev/null && break
        sleep 0.05
    done
    sleep 0.3
    kill -9 "$HTTP_PID"
    wait "$HTTP_PID" 2>/dev/null
    checks=$((checks + 1))
    wait "$raw_pid" || { cat "$TMP/kill.err" >&2; fail "$cmd with the server killed"; }
    at "$TMP/state.txt" AT+CIUPDATE?
    expect_grep "$TMP/state.txt" '^\+CIUPDATE:-1$'
    expect_version "$TMP/still.txt" 'v1\.0\.0\.0'
    mqtt_ca_is "$TMP/current_ca.bin" "$cmd, server killed"
    : >"$TMP/iot.http.log"
    http_start iot "$www" --iot --port "$HTTP_PORT"
done
sim_stop
pass
