#!/usr/bin/env bash
# AT+USEROTA's failure matrix (esp-at-ota.md §2): every failure after the URL ends in exactly
# "\r\nERROR\r\n" with no restart, and the old firmware still runs and still boots (AT+GMR after
# AT+RST). The running firmware is built with ota_retries=0 (ESP-AT: no resume) and
# ota_time_limit=3 (a stalled server fails in seconds instead of minutes).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"
. "$(dirname "$0")/lib/userota.sh"

www="$TMP/www"
mkdir -p "$www"
V1='v1\.0\.0\.0\(WROOM-32\)$'
mk_image "$TMP/v1.bin" v1.0.0.0 --config ota_retries=0 --config ota_time_limit=3
# v2 with a payload, so that resets, truncation and corruption land in the middle of the body.
head -c 400000 /dev/urandom >"$TMP/payload.bin"
mk_image "$www/v2.bin" v2.0.0.0 --payload "$TMP/payload.bin"
"$ATOTA" image create --chip esp32c3 --version v2.0.0.0 --project esp-at --idf-ver v5.4.1 \
    --payload "$TMP/payload.bin" -o "$www/c3.bin" >/dev/null || fail "image create esp32c3"
head -c $((0x180000 + 4096)) /dev/urandom >"$TMP/big.payload"
mk_image "$www/big.bin" v2.0.0.0 --payload "$TMP/big.payload"
expect_eq "$([ "$(stat -c %s "$www/big.bin")" -gt $((0x180000)) ] && echo bigger)" bigger \
    "big.bin is bigger than ota_1"
{ printf 'X'; head -c 8191 /dev/urandom; } >"$www/noise.bin"
printf 'this is not a firmware image\n%.0s' $(seq 200) >"$www/text.bin"
size=$(stat -c %s "$www/v2.bin")

http_start srv "$www"
base="http://127.0.0.1:$HTTP_PORT"
mk_flash "$TMP/m.flash" "$TMP/v1.bin"
sim_start m --flash "$TMP/m.flash"
wifi_join

# expect_reason REGEX: the simulator's log gives the reason of the last failure (its
# "userota: failed: ..." line, docs/userota.md), so each ERROR is checked to be the right one.
expect_reason() {
    checks=$((checks + 1))
    local last
    last=$(grep 'userota: failed: ' "$TMP/m.log" | tail -n 1)
    echo "$last" | grep -Eq -- "$1" || fail "the last failure's reason: expected /$1/, got '$last'"
    echo "$last" >>"$TMP/reasons.txt"
}

# fail_case NAME URL REASON: ERROR after the URL for REASON (a regex on the log line), v1 still
# runs, and boots after AT+RST.
fail_case() {
    userota_error "$2"
    expect_reason "$3"
    expect_version "$TMP/$1.gmr" "$V1"
    expect_boots_after_rst "$TMP/$1.rst" "$V1"
}

fail_case missing "$base/missing.bin" "HTTP 404 \(ATOTA_ERR_HTTP_STATUS\)$"
fail_case s404 "$base/v2.bin?status=404" "HTTP 404 \(ATOTA_ERR_HTTP_STATUS\)$"
fail_case s500 "$base/v2.bin?status=500" "HTTP 500 \(ATOTA_ERR_HTTP_STATUS\)$"
fail_case reset "$base/v2.bin?reset=100000" "\(ATOTA_ERR_NET_RESET\)$"
fail_case truncate "$base/v2.bin?truncate=$((size / 2))" "\(ATOTA_ERR_NET_RESET\)$"
fail_case corrupt "$base/v2.bin?corrupt=$((size / 2))" "\(ATOTA_ERR_IMAGE_(CHECKSUM|HASH|SEGMENT)\)$"
# Another chip and a bad magic are refused at byte 0, before anything is erased.
fail_case chip "$base/c3.bin" "at byte 0: .*\(ATOTA_ERR_IMAGE_CHIP\)$"
fail_case big "$base/big.bin" "slot ota_1 holds 1572864 \(ATOTA_ERR_IMAGE_TOO_BIG\)$"
fail_case noise "$base/noise.bin" "at byte 0: .*\(ATOTA_ERR_IMAGE_MAGIC\)$"
fail_case text "$base/text.bin" "at byte 0: .*\(ATOTA_ERR_IMAGE_MAGIC\)$"
# The reset and the truncation were not resumed (ota_retries=0): one request each.
expect_eq "$(http_log_count "$TMP/srv.http.log" '"reset" in r["query"]')" 1 "requests with reset="
expect_eq "$(http_log_count "$TMP/srv.http.log" '"truncate" in r["query"]')" 1 "requests with truncate="
expect_eq "$(http_log_count "$TMP/srv.http.log" 'r.get("range")')" 0 "Range requests"
# A stalled server: ota_time_limit=3 ends it with ERROR after about 3 s (ESP-AT would wait on).
t0=$(date +%s%N)
userota_error "$base/v2.bin?stall=$((size / 2))" 15000
t1=$(date +%s%N)
expect_reason "\(ATOTA_ERR_NET_TIMEOUT\)$"
ms=$(((t1 - t0) / 1000000))
# drain:100 + quiet:300 are part of the exchange: 3 s + 0.4 s at the least.
checks=$((checks + 1))
[ "$ms" -ge 3000 ] && [ "$ms" -le 8000 ] || fail "stalled server: ERROR after $ms ms, expected 3-8 s"
echo "stalled server: ERROR after $ms ms (ota_time_limit=3, plus 0.4 s of the exchange's drain and quiet)"
expect_version "$TMP/stall.gmr" "$V1"
expect_boots_after_rst "$TMP/stall.rst" "$V1"

# A bad URL length: ERROR at once, no prompt (§2.1).
raw 'drain:100' 'send:AT+USEROTA=0\r\n' 'expect:AT+USEROTA=0\r\n\r\nERROR\r\n' 'quiet:300'
raw 'send:AT+USEROTA=8193\r\n' 'expect:AT+USEROTA=8193\r\n\r\nERROR\r\n' 'quiet:300'
raw 'send:AT+USEROTA\r\n' 'expect:AT+USEROTA\r\n\r\nERROR\r\n' 'quiet:300'
raw 'send:AT+USEROTA?\r\n' 'expect:AT+USEROTA?\r\n\r\nERROR\r\n' 'quiet:300'
raw 'send:AT+USEROTA=1,2\r\n' 'expect:AT+USEROTA=1,2\r\n\r\nERROR\r\n' 'quiet:300'

# `atota userota` on a failure: exit 1, the module's reply on stdout, one line on stderr.
expect_fail "$ATOTA" userota --port "$SIM_PORT" --timeout 30 "$base/v2.bin?status=404"
expect_grep "$TMP/stdout" '^ERROR$'
expect_grep "$TMP/stderr" '^atota: AT\+USEROTA: ERROR'
expect_version "$TMP/cli.gmr" "$V1"

# The station not connected: ERROR (no network), and nothing was asked of the server.
at "$TMP/cwqap.txt" AT+CWQAP
before=$(http_log_count "$TMP/srv.http.log" 'True')
userota_error "$base/v2.bin"
expect_reason "no network: the station is not connected"
expect_eq "$(http_log_count "$TMP/srv.http.log" 'True')" "$before" "requests without a station"
expect_version "$TMP/nostation.gmr" "$V1"
at "$TMP/nostation.rst" AT+RST
expect_version "$TMP/nostation2.gmr" "$V1"
sim_stop
http_stop
pass
