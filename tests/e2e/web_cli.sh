#!/usr/bin/env bash
# `atota web` against a simulated module's web server (AT+WEBSERVER): `web info` shows the
# running version and the partitions with their sizes; `web wifi` joins the module to the virtual
# AP (and is refused in Wi-Fi mode 1); `web upload` of v2 -> {"state": 0}, and
# AT+RST boots v2; mqtt_ca uploaded and found byte-exact in the flash file; the checks made before
# sending (not an image, a wrong chip, too large, a wrong magic, an unknown partition) refuse with
# nothing sent (no upload in the module's log, and the firmware unchanged); --force sends
# a broken image and the module refuses it (500, {"state": 1}); with a firmware that sets
# web_password: no --password is a usage error, a wrong one is 401, the right one uploads.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"
. "$(dirname "$0")/lib/userota.sh"

head -c 120000 /dev/urandom >"$TMP/payload.bin"
mk_image "$TMP/v1.bin" v1.0.0.0
mk_image "$TMP/v2.bin" v2.0.0.0 --payload "$TMP/payload.bin"
mk_image "$TMP/v1pw.bin" v1.0.0.0 --config web_password=s3cret-pass
mk_image "$TMP/v3pw.bin" v3.0.0.0 --config web_password=s3cret-pass
"$ATOTA" image create --chip esp32c3 --version v9.0.0.0 -o "$TMP/c3.bin" >/dev/null \
    || fail "image create esp32c3"
# A v2 with one byte of its payload flipped: the header and the first bytes are right, the
# checksum or hash is not.
cp "$TMP/v2.bin" "$TMP/broken.bin"
printf '\x00' | dd of="$TMP/broken.bin" bs=1 seek=5000 conv=notrunc status=none
{ printf '\xf1\xf1'; head -c 3000 /dev/urandom; } >"$TMP/mqtt_ca.bin"
{ printf '\xf1\xf1'; head -c 9000 /dev/urandom; } >"$TMP/big_ca.bin"
{ printf 'XX'; head -c 100 /dev/urandom; } >"$TMP/bad_ca.bin"


# web_start NAME: AT+CWMODE=3 and AT+WEBSERVER=1,80,25 on the running simulator; sets WEB_URL
# from the simulator's "web server for port 80 on URL" line.
web_start() {
    local i
    at "$TMP/web-on.txt" AT+CWMODE=3 AT+WEBSERVER=1,80,25
    for i in $(seq 100); do
        WEB_URL=$(sed -n 's/^atota-sim: web server for port 80 on \(http:[^ ]*\)$/\1/p' "$TMP/$1.out" | tail -n 1)
        [ -n "$WEB_URL" ] && return 0
        sleep 0.05
    done
    fail "atota-sim printed no web server line"
}

# uploads_seen NAME: how many uploads reached the module (its log's "webserver: receiving").
uploads_seen() {
    grep -c 'webserver: receiving' "$TMP/$1.log" || true
}

mk_module "$TMP/m.flash" "$TMP/v1.bin"
sim_start m --flash "$TMP/m.flash" --tcp 127.0.0.1:0
web_start m

# ---- info -----------------------------------------------------------------------------------
checks=$((checks + 1))
"$ATOTA" web info --url "$WEB_URL" >"$TMP/info.txt" 2>"$TMP/info.err" \
    || { cat "$TMP/info.err" >&2; fail "web info"; }
expect_grep "$TMP/info.txt" '^firmware version: v1\.0\.0\.0$'
expect_grep "$TMP/info.txt" '^chip: +ESP32$'
expect_grep "$TMP/info.txt" '^upload password: +none$'
expect_grep "$TMP/info.txt" '^  ota +1572864 bytes$'
expect_grep "$TMP/info.txt" '^  mqtt_ca +8192 bytes$'
expect_grep "$TMP/info.txt" '^  fs_storage +589824 bytes$'

# ---- wifi: the page's Wi-Fi setup (the module is in mode 3) -----------------------------------
checks=$((checks + 1))
"$ATOTA" web wifi --url "$WEB_URL" --ssid atota --wifi-password atota-pass >"$TMP/wifi.txt" \
    2>"$TMP/wifi.err" || { cat "$TMP/wifi.err" >&2; fail "web wifi"; }
expect_grep "$TMP/wifi.txt" "^the module joined 'atota' \(connect OK\)$"
at "$TMP/cwjap.txt" AT+CWJAP?
expect_grep "$TMP/cwjap.txt" '^\+CWJAP:"atota",'

# ---- refused here, nothing sent ---------------------------------------------------------------
before=$(uploads_seen m)
expect_fail "$ATOTA" web upload --url "$WEB_URL" "$TMP/payload.bin"
expect_grep "$TMP/stderr" 'not a valid app image for this module.*nothing was sent'
expect_fail "$ATOTA" web upload --url "$WEB_URL" "$TMP/c3.bin"
expect_grep "$TMP/stderr" 'not a valid app image for this module.*chip'
expect_fail "$ATOTA" web upload --url "$WEB_URL" --object mqtt_ca "$TMP/big_ca.bin"
expect_grep "$TMP/stderr" "do not fit in 'mqtt_ca' \(8192 bytes\)"
expect_fail "$ATOTA" web upload --url "$WEB_URL" --object mqtt_ca "$TMP/bad_ca.bin"
expect_grep "$TMP/stderr" "'mqtt_ca' content starts with other bytes"
expect_fail "$ATOTA" web upload --url "$WEB_URL" --object nvs_keys "$TMP/mqtt_ca.bin"
expect_grep "$TMP/stderr" "the module lists no partition 'nvs_keys'"
expect_eq "$(uploads_seen m)" "$before" "uploads started by refused files"

# ---- --force: the module checks again and refuses -------------------------------------------
checks=$((checks + 1))
"$ATOTA" web upload --url "$WEB_URL" --force "$TMP/broken.bin" >/dev/null 2>"$TMP/stderr"
expect_eq "$?" 1 "exit status of a forced broken image"
expect_grep "$TMP/stderr" 'checksum .* invalid.*sending it anyway \(--force\)$'
expect_grep "$TMP/stderr" 'HTTP 500 \{"state": 1\}: the module refused the file'
expect_eq "$(uploads_seen m)" "$((before + 1))" "uploads that reached the module"
expect_grep "$TMP/m.log" 'webserver: upload of ota failed: checksum'

# ---- uploads --------------------------------------------------------------------------------
checks=$((checks + 1))
"$ATOTA" web upload --url "$WEB_URL" --object mqtt_ca "$TMP/mqtt_ca.bin" >"$TMP/up-ca.txt" \
    2>"$TMP/up.err" || { cat "$TMP/up.err" >&2; fail "web upload mqtt_ca"; }
expect_grep "$TMP/up-ca.txt" "^uploaded 3002 bytes to 'mqtt_ca' in [0-9.]+ s: \{\"state\": 0\}$"
checks=$((checks + 1))
"$ATOTA" web upload --url "$WEB_URL" "$TMP/v2.bin" >"$TMP/up.txt" 2>"$TMP/up.err" \
    || { cat "$TMP/up.err" >&2; fail "web upload v2"; }
expect_grep "$TMP/up.txt" "^uploaded $(stat -c %s "$TMP/v2.bin") bytes to 'ota' in [0-9.]+ s: \{\"state\": 0\}$"
expect_grep "$TMP/up.txt" '^the new firmware runs after a restart: send AT\+RST$'
# No reboot until AT+RST (esp-at-ota.md §4.4): still v1, then v2.
at "$TMP/gmr1.txt" AT+GMR
expect_grep "$TMP/gmr1.txt" '^Bin version:v1\.0\.0\.0'
at "$TMP/rst.txt" AT+RST
at "$TMP/gmr2.txt" AT+GMR
expect_grep "$TMP/gmr2.txt" '^Bin version:v2\.0\.0\.0'
sim_stop
# mqtt_ca holds the file, and the rest of the partition is erased.
dd if="$TMP/m.flash" bs=4096 skip=$((MQTT_CA_OFFSET / 4096)) count=2 status=none >"$TMP/ca.read"
expect_eq "$(head -c 3002 "$TMP/ca.read" | sha256sum)" "$(sha256sum <"$TMP/mqtt_ca.bin")" \
    "mqtt_ca's content"
expect_eq "$(tail -c +3003 "$TMP/ca.read" | tr -d '\377' | wc -c)" 0 "mqtt_ca's erased rest"

# ---- the upload password ---------------------------------------------------------------------
mk_module "$TMP/pw.flash" "$TMP/v1pw.bin"
sim_start pw --flash "$TMP/pw.flash" --tcp 127.0.0.1:0
web_start pw
# the Wi-Fi setup needs mode 3 (ESP-AT's /setstainfo answers {"state": 1} otherwise)
at "$TMP/mode1.txt" AT+CWMODE=1
expect_fail "$ATOTA" web wifi --url "$WEB_URL" --ssid atota --wifi-password atota-pass
expect_grep "$TMP/stderr" 'the module refused the setup \(is its Wi-Fi mode 3, AT\+CWMODE=3\?\)$'
at "$TMP/mode3.txt" AT+CWMODE=3
"$ATOTA" web info --url "$WEB_URL" >"$TMP/info-pw.txt" 2>&1 || fail "web info (password)"
expect_grep "$TMP/info-pw.txt" '^upload password: +required$'
checks=$((checks + 1))
"$ATOTA" web upload --url "$WEB_URL" "$TMP/v3pw.bin" >/dev/null 2>"$TMP/stderr"
expect_eq "$?" 2 "exit status without --password"
expect_grep "$TMP/stderr" 'asks for an upload password'
expect_fail "$ATOTA" web upload --url "$WEB_URL" --password wrong-pass "$TMP/v3pw.bin"
expect_grep "$TMP/stderr" 'HTTP 401 \{"state": 1\}: wrong or missing upload password'
checks=$((checks + 1))
"$ATOTA" web upload --url "$WEB_URL" --password s3cret-pass "$TMP/v3pw.bin" >"$TMP/up-pw.txt" \
    2>"$TMP/up.err" || { cat "$TMP/up.err" >&2; fail "web upload with the password"; }
at "$TMP/rst.txt" AT+RST
at "$TMP/gmr3.txt" AT+GMR
expect_grep "$TMP/gmr3.txt" '^Bin version:v3\.0\.0\.0'
sim_stop
pass
