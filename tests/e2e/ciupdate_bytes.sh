#!/usr/bin/env bash
# The simulator's AT+CIUPDATE requests, captured on the wire, are byte for byte those of
# esp-at-ota.md §3.4 (the query, HTTP/1.0) and §3.5 (the download, HTTP/1.1): the configured host
# verbatim with its port, the fixed header block (the space after "Safari/537.36" included), the
# token; the version and the name inserted raw (no URL encoding).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"
. "$(dirname "$0")/lib/userota.sh"
CAPTURE_PID=""
trap 'for p in $SIM_PIDS $HTTP_PIDS $CAPTURE_PID; do kill -9 "$p" 2>/dev/null; done' EXIT

token=0123456789abcdef0123456789abcdef01234567
printf 'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"status": 200, "recommended_rom_version": "v9.0.0.0", "productRoms": [{"version": "v9.0.0.0", "recommended": 1}]}' \
    >"$TMP/query.reply"
printf 'HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}' >"$TMP/download.reply"
mkdir -p "$TMP/cap"
python3 "$(dirname "$0")/lib/capture_server.py" --out "$TMP/cap" --reply "$TMP/query.reply" \
    --reply "$TMP/download.reply" >"$TMP/cap.out" 2>"$TMP/cap.err" &
CAPTURE_PID=$!
for _ in $(seq 100); do
    port=$(sed -n 's/^capture_server: listening on //p' "$TMP/cap.out")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || fail "capture_server.py did not start"

mk_image "$TMP/v1.bin" v1.0.0.0 --config ota_host=127.0.0.1 --config "ota_port=$port" \
    --config "ota_token=$token"
mk_flash "$TMP/m.flash" "$TMP/v1.bin"
sim_start m --flash "$TMP/m.flash"
wifi_join
# the query, then the download of the recommended version (refused: "{" is not a magic)
raw 'drain:100' 'send:AT+CIUPDATE\r\n' 'timeout:20000' \
    'expect:AT+CIUPDATE\r\n+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n+CIPUPDATE:3\r\n\r\nERROR\r\n' 'quiet:200'
# a version with a space and an ampersand goes into the request line as it is
raw 'send:AT+CIUPDATE=0,"v1 x&y"\r\n' 'timeout:20000' \
    'expect:AT+CIUPDATE=0,"v1 x&y"\r\n+CIPUPDATE:1\r\n\r\nERROR\r\n' 'quiet:200'
sim_stop

block() {
    printf 'Host: 127.0.0.1:%s\r\nConnection: keep-alive\r\nCache-Control: no-cache\r\n' "$port"
    printf 'User-Agent: Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/30.0.1599.101 Safari/537.36 \r\n'
    printf 'Accept: */*\r\nAuthorization: token %s\r\nAccept-Encoding: gzip,deflate,sdch\r\n' "$token"
    printf 'Accept-Language: zh-CN,zh;q=0.8\r\n\r\n'
}
{ printf 'GET /v1/device/rom/?is_format_simple=true HTTP/1.0\r\n'; block; } >"$TMP/want-0.bin"
{ printf 'GET /v1/device/rom/?action=download_rom&version=v9.0.0.0&filename=ota.bin HTTP/1.1\r\n'; block; } >"$TMP/want-1.bin"
{ printf 'GET /v1/device/rom/?action=download_rom&version=v1 x&y&filename=ota.bin HTTP/1.1\r\n'; block; } >"$TMP/want-2.bin"
for i in 0 1 2; do
    checks=$((checks + 1))
    cmp "$TMP/cap/req-$i.bin" "$TMP/want-$i.bin" >/dev/null || {
        echo "--- got:" >&2; cat -A "$TMP/cap/req-$i.bin" >&2
        echo "--- want:" >&2; cat -A "$TMP/want-$i.bin" >&2
        fail "request $i differs from esp-at-ota.md"
    }
done
pass
