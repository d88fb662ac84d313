#!/usr/bin/env bash
# AT+USEROTA upgrades (esp-at-ota.md §2): v1 -> v2 over HTTP with the exact bytes of the whole
# exchange (echo on) up to "ready", the new version, both versions in AT+SYSROLLBACK?, v2 still
# booting after a power cut; then two redirects and a chunked body. The same over HTTPS: no CA
# (the server is not checked, as ESP-AT), the right CA (atota-sim --ca): accepted; a wrong CA:
# ERROR and v1 still runs. Real ESP-AT images (v2.0, then v4.1.0.0-dev) with `atota userota`.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"
. "$(dirname "$0")/lib/userota.sh"

www="$TMP/www"
mkdir -p "$www"
mk_image "$TMP/v1.bin" v1.0.0.0
head -c 200000 /dev/urandom >"$TMP/payload.bin"
mk_image "$www/v2.bin" v2.0.0.0 --config module_name=ACME-AT --payload "$TMP/payload.bin"
mk_image "$www/v3.bin" v3.0.0.0 --payload "$TMP/payload.bin"
mk_image "$www/v4.bin" v4.0.0.0 --payload "$TMP/payload.bin"
espat="$VECTORS/app/esp32_idf3.3_esp-at-v2.0_esp-at.bin"
espat4="$VECTORS/app/esp32_idf5.4_esp-at-v4.1.0.0-dev_sbv2-signed.bin"
cp "$espat" "$www/esp-at.bin"
cp "$espat4" "$www/esp-at-v4.bin"

# ---- HTTP, exact bytes ----------------------------------------------------------------------
http_start plain "$www"
mk_flash "$TMP/http.flash" "$TMP/v1.bin"
sim_start http --flash "$TMP/http.flash"
wifi_join
url="http://127.0.0.1:$HTTP_PORT/v2.bin"
userota_ok "$url"
at "$TMP/after.txt" AT+GMR AT+SYSROLLBACK?
expect_grep "$TMP/after.txt" '^Bin version:v2\.0\.0\.0\(ACME-AT\)$'
expect_grep "$TMP/after.txt" '^\+SYSROLLBACK:0x280000,"v2\.0\.0\.0",0x100000,"v1\.0\.0\.0"$'
# One plain GET of the whole file, as esp_http_client sends it (esp-at-ota.md §2.3).
expect_eq "$(http_log_count "$TMP/plain.http.log" 'r["path"] == "/v2.bin" and r["status"] == 200 and not r.get("range")')" 1 \
    "GETs of /v2.bin"
expect_eq "$(http_log_count "$TMP/plain.http.log" 'r["user_agent"] == "ESP32 HTTP Client/1.0"')" 1 \
    "User-Agent"
expect_eq "$(http_log_count "$TMP/plain.http.log" 'r["path"] == "/v2.bin" and r["sent"] == '"$(stat -c %s "$www/v2.bin")")" 1 \
    "whole bodies sent"
# A power cut now (kill -9) and a power-on: v2 still boots (otadata was written before the OK).
sim_stop 9
"$ATOTA" flash info "$TMP/http.flash" >"$TMP/info.txt" || fail "flash info after the upgrade"
expect_grep "$TMP/info.txt" '^Boots: ota_1 at 0x280000, version "v2\.0\.0\.0"$'
sim_start http2 --flash "$TMP/http.flash"
expect_version "$TMP/gmr2.txt" 'v2\.0\.0\.0\(ACME-AT\)$'
wait_station
# v2 -> v3 through two redirects (302, followed as esp_http_client does), into ota_0 this time.
userota_ok "http://127.0.0.1:$HTTP_PORT/v3.bin?redirect=2"
expect_version "$TMP/gmr3.txt" 'v3\.0\.0\.0\(WROOM-32\)$'
expect_eq "$(http_log_count "$TMP/plain.http.log" 'r["path"] == "/v3.bin" and r["status"] == 302')" 2 \
    "redirects followed"
# v3 -> v4 with a chunked body (no Content-Length), into ota_1.
userota_ok "http://127.0.0.1:$HTTP_PORT/v4.bin?chunked=1"
at "$TMP/gmr4.txt" AT+GMR AT+SYSROLLBACK?
expect_grep "$TMP/gmr4.txt" '^Bin version:v4\.0\.0\.0\(WROOM-32\)$'
expect_grep "$TMP/gmr4.txt" '^\+SYSROLLBACK:0x280000,"v4\.0\.0\.0",0x100000,"v3\.0\.0\.0"$'
sim_stop
http_stop

# ---- HTTPS ----------------------------------------------------------------------------------
bash "$UO_LIB/make_cert.sh" "$TMP/cert" >/dev/null 2>&1 || fail "make_cert.sh (the server's CA)"
bash "$UO_LIB/make_cert.sh" "$TMP/other" >/dev/null 2>&1 || fail "make_cert.sh (another CA)"
http_start tls "$www" --tls "$TMP/cert/server.pem" "$TMP/cert/server.key"
surl="https://localhost:$HTTP_PORT/v2.bin"

# No CA: the certificate is not checked (CONFIG_ESP_TLS_SKIP_SERVER_CERT_VERIFY, §2.3).
mk_flash "$TMP/tls1.flash" "$TMP/v1.bin"
sim_start tls1 --flash "$TMP/tls1.flash"
wifi_join
userota_ok "$surl"
expect_version "$TMP/tls1.txt" 'v2\.0\.0\.0\(ACME-AT\)$'
sim_stop

# The right CA: accepted.
mk_flash "$TMP/tls2.flash" "$TMP/v1.bin"
sim_start tls2 --flash "$TMP/tls2.flash" --ca "$TMP/cert/ca.pem"
wifi_join
userota_ok "$surl"
expect_version "$TMP/tls2.txt" 'v2\.0\.0\.0\(ACME-AT\)$'
sim_stop

# A wrong CA: ERROR after the URL, no restart, v1 still runs and still boots.
mk_flash "$TMP/tls3.flash" "$TMP/v1.bin"
sim_start tls3 --flash "$TMP/tls3.flash" --ca "$TMP/other/ca.pem"
wifi_join
userota_error "$surl"
expect_grep "$TMP/tls3.log" 'userota: failed: .*\(ATOTA_ERR_NET_TLS\)$'
expect_version "$TMP/tls3.txt" 'v1\.0\.0\.0\(WROOM-32\)$'
expect_boots_after_rst "$TMP/tls3b.txt" 'v1\.0\.0\.0\(WROOM-32\)$'
sim_stop
http_stop

# ---- real ESP-AT images (v2.0, then v4.1.0.0-dev signed for Secure Boot v2), `atota userota` --
# They must fit the WROOM-32 profile's OTA slots (0x180000 bytes).
for f in "$espat" "$espat4"; do
    size=$(stat -c %s "$f")
    expect_eq "$([ "$size" -le $((0x180000)) ] && echo fits)" fits "$(basename "$f") ($size bytes) in a slot"
done
http_start espat "$www"
mk_flash "$TMP/espat.flash" "$TMP/v1.bin"
sim_start espat --flash "$TMP/espat.flash"
wifi_join
checks=$((checks + 1))
"$ATOTA" userota --port "$SIM_PORT" --timeout 60 "http://127.0.0.1:$HTTP_PORT/esp-at.bin" \
    >"$TMP/userota.out" 2>"$TMP/userota.err" \
    || { cat "$TMP/userota.out" "$TMP/userota.err" >&2; fail "atota userota with ESP-AT v2.0"; }
# Not a terminal: the result line only, nothing on stderr.
expect_eq "$(cat "$TMP/userota.out")" "upgraded: v1.0.0.0(WROOM-32) -> ESP-AT(WROOM-32)" \
    "atota userota's output"
expect_eq "$(cat "$TMP/userota.err")" "" "atota userota's stderr"
at "$TMP/espat.txt" AT+GMR AT+SYSROLLBACK?
expect_grep "$TMP/espat.txt" '^Bin version:ESP-AT\(WROOM-32\)$'
expect_grep "$TMP/espat.txt" '^SDK version:v3\.3$'
expect_grep "$TMP/espat.txt" '^\+SYSROLLBACK:0x280000,"ESP-AT",0x100000,"v1\.0\.0\.0"$'
# From ESP-AT v2.0 to ESP-AT v4.1.0.0-dev (into ota_0): its Secure Boot v2 signature block rides
# after the image (not checked: Secure Boot is off on the module). Echo off this time.
wait_station
at "$TMP/ate0.txt" ATE0
checks=$((checks + 1))
"$ATOTA" userota --port "$SIM_PORT" --timeout 60 "http://127.0.0.1:$HTTP_PORT/esp-at-v4.bin" \
    >"$TMP/userota4.out" 2>"$TMP/userota4.err" \
    || { cat "$TMP/userota4.out" "$TMP/userota4.err" >&2; fail "atota userota with ESP-AT v4.1.0.0-dev"; }
expect_eq "$(cat "$TMP/userota4.out")" "upgraded: ESP-AT(WROOM-32) -> v4.1.0.0-dev(WROOM-32)" \
    "atota userota's output"
at "$TMP/espat4.txt" AT+GMR AT+SYSROLLBACK?
expect_grep "$TMP/espat4.txt" '^\+SYSROLLBACK:0x100000,"v4\.1\.0\.0-dev",0x280000,"ESP-AT"$'
sim_stop

# `atota userota` on a command line it cannot use: exit 2.
checks=$((checks + 1))
"$ATOTA" userota --port "$SIM_PORT" >/dev/null 2>&1
[ $? -eq 2 ] || fail "atota userota without a URL: expected exit 2"
checks=$((checks + 1))
"$ATOTA" userota --port "$SIM_PORT" "http://x/$(head -c 8190 /dev/zero | tr '\0' a)" >/dev/null 2>&1
[ $? -eq 2 ] || fail "atota userota with a 8199-byte URL: expected exit 2"
checks=$((checks + 1))
"$ATOTA" userota "http://127.0.0.1/" >/dev/null 2>&1
[ $? -eq 2 ] || fail "atota userota without --port: expected exit 2"
http_stop
pass
