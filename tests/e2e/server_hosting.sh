#!/usr/bin/env bash
# Firmware hosting (/fw/<sha256>/<name>) of the real atota-server, checked with the curl CLI over
# HTTP and HTTPS (its self-signed certificate as the CA): the whole file, HEAD, ranges, 416,
# If-Range, If-None-Match, what the device API's first read needs, and paths that must not reach
# a file. Needs ATOTA_SERVER (the binary) and curl.
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"
: "${ATOTA_SERVER:?the atota-server binary}"
command -v curl >/dev/null || fail "curl is not installed"

data=$TMP/data
fw=$VECTORS/app/esp32_idf4.1-dev_hello-world.bin
size=$(stat -c %s "$fw")
sha=$(sha256sum "$fw" | cut -d' ' -f1)
cp "$fw" "$TMP/ota.bin"
"$ATOTA_SERVER" admin --data "$data" product add hosted >/dev/null || fail "product add"
"$ATOTA_SERVER" admin --data "$data" version add hosted v1.0.0.0 >/dev/null || fail "version add"
"$ATOTA_SERVER" admin --data "$data" file put hosted v1.0.0.0 "$TMP/ota.bin" >"$TMP/put.txt" ||
    fail "file put"
expect_grep "$TMP/put.txt" "/fw/$sha/ota.bin"

"$ATOTA_SERVER" --data "$data" --http 127.0.0.1:0 --https 127.0.0.1:0 >"$TMP/server.out" \
    2>"$TMP/server.err" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 100); do
    grep -q "https on" "$TMP/server.out" 2>/dev/null && break
    sleep 0.1
done
http_port=$(sed -n 's/^atota-server: http on .*:\([0-9]*\)$/\1/p' "$TMP/server.out")
https_port=$(sed -n 's/^atota-server: https on .*:\([0-9]*\)$/\1/p' "$TMP/server.out")
[ -n "$http_port" ] && [ -n "$https_port" ] || { cat "$TMP/server.out" "$TMP/server.err" >&2; fail "the server did not start"; }
base=http://127.0.0.1:$http_port
path=/fw/$sha/ota.bin
etag="\"$sha\""

# get NAME CURL-ARGS...: body into $TMP/NAME.body, headers into $TMP/NAME.hdr, status echoed
get() {
    local name=$1
    shift
    curl -s --path-as-is -D "$TMP/$name.hdr" -o "$TMP/$name.body" -w '%{http_code}' "$@"
}
header() { sed -n "s/^$2: \(.*\)\r$/\1/Ip" "$TMP/$1.hdr" | head -1; }

# the whole file
expect_eq "$(get full "$base$path")" 200 "GET status"
cmp -s "$TMP/full.body" "$fw" || fail "GET: the body differs from the uploaded file"
expect_eq "$(header full Content-Length)" "$size" "GET Content-Length"
expect_eq "$(header full ETag)" "$etag" "GET ETag"
expect_eq "$(header full Accept-Ranges)" bytes "GET Accept-Ranges"
expect_eq "$(header full Content-Type)" application/octet-stream "GET Content-Type"
expect_grep "$TMP/full.hdr" "^Content-Length: $size"$'\r'"$" # spelled as ESP-AT's substring match wants
last_modified=$(header full Last-Modified)
expect_eq "$(date -u -d "$last_modified" +%s >/dev/null 2>&1 && echo ok)" ok "Last-Modified is a date"

# HEAD
expect_eq "$(get head -I "$base$path")" 200 "HEAD status"
expect_eq "$(header head Content-Length)" "$size" "HEAD Content-Length"
expect_eq "$(curl -s -I -o /dev/null -w '%{size_download}' "$base$path")" 0 "HEAD has no body"

# ranges
expect_eq "$(get r1 -r 16-31 "$base$path")" 206 "Range a-b status"
expect_eq "$(header r1 Content-Range)" "bytes 16-31/$size" "Range a-b Content-Range"
cmp -s "$TMP/r1.body" <(tail -c +17 "$fw" | head -c 16) || fail "Range a-b: wrong bytes"
expect_eq "$(get r2 -r $((size - 10))- "$base$path")" 206 "Range a- status"
cmp -s "$TMP/r2.body" <(tail -c 10 "$fw") || fail "Range a-: wrong bytes"
expect_eq "$(get r3 -r -100 "$base$path")" 206 "Range -n status"
expect_eq "$(header r3 Content-Range)" "bytes $((size - 100))-$((size - 1))/$size" "Range -n"
cmp -s "$TMP/r3.body" <(tail -c 100 "$fw") || fail "Range -n: wrong bytes"
expect_eq "$(get r4 -r "$size"- "$base$path")" 416 "unsatisfiable Range status"
expect_eq "$(header r4 Content-Range)" "bytes */$size" "416 Content-Range"
expect_eq "$(get r5 -r 0-1,4-5 "$base$path")" 200 "several ranges: the whole file"
cmp -s "$TMP/r5.body" "$fw" || fail "several ranges: the body is not the whole file"

# If-Range, If-None-Match
expect_eq "$(get ir1 -r 0-9 -H "If-Range: $etag" "$base$path")" 206 "If-Range match"
expect_eq "$(get ir2 -r 0-9 -H "If-Range: $last_modified" "$base$path")" 206 "If-Range date"
expect_eq "$(get ir3 -r 0-9 -H 'If-Range: "stale"' "$base$path")" 200 "If-Range mismatch"
cmp -s "$TMP/ir3.body" "$fw" || fail "If-Range mismatch: the body is not the whole file"
expect_eq "$(get inm -H "If-None-Match: $etag" "$base$path")" 304 "If-None-Match"
expect_eq "$(curl -s -o /dev/null -w '%{size_download}' -H "If-None-Match: $etag" "$base$path")" 0 \
    "304 has no body"

# HTTP/1.0
expect_eq "$(get h10 --http1.0 "$base$path")" 200 "HTTP/1.0 GET"
cmp -s "$TMP/h10.body" "$fw" || fail "HTTP/1.0: wrong body"

# HTTPS, the server's own certificate as the CA, for both names it carries
cert=$data/tls/cert.pem
[ -f "$cert" ] || fail "no certificate at $cert"
expect_eq "$(get tls1 --cacert "$cert" "https://127.0.0.1:$https_port$path")" 200 "HTTPS 127.0.0.1"
cmp -s "$TMP/tls1.body" "$fw" || fail "HTTPS: wrong body"
expect_eq "$(get tls2 --cacert "$cert" -r 0-3 "https://localhost:$https_port$path")" 206 \
    "HTTPS localhost"

# paths that must not reach a file
for bad in "/fw/../atota.db" "/fw/%2e%2e/%2e%2e/etc/passwd" "/fw/$sha/../../atota.db" \
    "/fw/$sha/%2e%2e%2fota.bin" "/fw/${sha:0:63}/ota.bin" "/fw/${sha^^}/ota.bin" \
    "/fw/$sha/OTA.bin" "/fw/$sha/mqtt_ca.bin" "/fw/$(printf '0%.0s' $(seq 64))/ota.bin"; do
    expect_eq "$(get bad "$base$bad")" 404 "GET $bad"
done
expect_eq "$(get post -X POST "$base$path")" 405 "POST on a hosting URL"

kill $server
wait $server 2>/dev/null
trap - EXIT
pass
