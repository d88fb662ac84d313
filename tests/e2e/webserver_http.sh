#!/usr/bin/env bash
# AT+WEBSERVER (esp-at-ota.md §4) over real HTTP with curl: atota-sim --tcp, AT+CWMODE=3 and
# AT+WEBSERVER=1,80,25, then every endpoint of §4.3 with its exact status line, Content-Type,
# framing (Content-Length or chunked) and body, ATOTA's extra /getotainfo keys included; the
# Wi-Fi flow of the page (/setstainfo, /getstainfo, /getresult, with +WEBSERVERRSP:1 and :2), and
# a wrong Wi-Fi password ("connect fail" at <connection_timeout>, 21 s); a
# firmware upload (v1 -> v2 after AT+RST) and a custom partition (mqtt_ca, read back with
# AT+SYSFLASH). The refusals: not an image, a wrong chip, a broken checksum, too large (app and
# mqtt_ca), no Object header (the connection closed, no answer), the client gone mid-upload, a
# Content-Digest that does not match: each {"state": 1} with 500 (or no answer), +WEBSERVERRSP:3
# then :5, the boot choice unchanged and v1 still booting after AT+RST. A firmware whose
# configuration sets web_password: 401 without it or with a wrong one. AT+WEBSERVER=0 closes
# the port. A firmware with web_captive_portal=on: an unknown path and a wrong method are the
# exact 302 to http://192.168.4.1/, a too-long target stays the port's 414.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"
. "$(dirname "$0")/lib/userota.sh"
. "$(dirname "$0")/lib/atport.sh"
command -v curl >/dev/null || fail "curl is not installed"

OTA_SIZE=$((0x180000))

# ---- the files ---------------------------------------------------------------------------------
head -c 120000 /dev/urandom >"$TMP/payload.bin"
mk_image "$TMP/v1.bin" v1.0.0.0
mk_image "$TMP/v2.bin" v2.0.0.0 --payload "$TMP/payload.bin"
mk_image "$TMP/pw.bin" v1.0.0.0 --config web_password=s3cret-pw
"$ATOTA" image create --chip esp32c3 --version v2.0.0.0 --project esp-at --idf-ver v5.4.1 \
    --payload "$TMP/payload.bin" -o "$TMP/c3.bin" >/dev/null || fail "image create (ESP32-C3)"
head -c 5000 /dev/urandom >"$TMP/notimage.bin"
printf '\xe9' | dd of="$TMP/notimage.bin" conv=notrunc status=none # the magic, then noise
# v2 with one byte of its first segment changed: the header is right, the checksum is not.
cp "$TMP/v2.bin" "$TMP/badsum.bin"
printf '\x5a' | dd of="$TMP/badsum.bin" bs=1 seek=1000 conv=notrunc status=none
cmp -s "$TMP/v2.bin" "$TMP/badsum.bin" && fail "badsum.bin is v2.bin"
# One byte larger than an OTA slot, v2's header first.
{ cat "$TMP/v2.bin"; head -c $((OTA_SIZE + 1 - $(stat -c %s "$TMP/v2.bin"))) /dev/zero; } >"$TMP/big.bin"
# mqtt_ca: the F1 F1 magic, then printable text (AT+SYSFLASH=2 reads it back as a line).
{ printf '\xf1\xf1'; head -c 1500 /dev/urandom | base64 -w0; } >"$TMP/mqtt_ca.bin"
{ printf '\xf1\xf1'; head -c 7000 /dev/urandom | base64 -w0; } >"$TMP/mqtt_big.bin"     # > 8 KB
mk_module "$TMP/m.flash" "$TMP/v1.bin"

# ---- helpers ------------------------------------------------------------------------------------
# web_start NAME: AT+WEBSERVER=1,80,25 answers OK and atota-sim prints where it listens: WEB.
web_start() {
    atport_cmd "$TMP/web_on.txt" 'AT+WEBSERVER=1,80,25'
    local i
    WEB=""
    for i in $(seq 100); do
        WEB=$(sed -n 's|^atota-sim: web server for port 80 on http://\(127\.0\.0\.1:[0-9]*\)/$|\1|p' \
            "$TMP/$1.out" | tail -n 1)
        [ -n "$WEB" ] && [ "$WEB" != "${WEB_OLD:-}" ] && break
        sleep 0.05
    done
    [ -n "$WEB" ] && [ "$WEB" != "${WEB_OLD:-}" ] || { cat "$TMP/$1.out" >&2; fail "no web server line"; }
    WEB_OLD=$WEB
}

# http NAME ARGS...: curl ARGS (the URL relative to the web server); the response's headers in
# $TMP/NAME.hdr (without \r), its body in $TMP/NAME.body, curl's exit status in HTTP_RC.
http() {
    local name=$1 path=$2
    shift 2
    curl -sS --max-time 20 -D "$TMP/$name.hdr.raw" -o "$TMP/$name.body" "$@" "http://$WEB$path" \
        2>"$TMP/$name.err"
    HTTP_RC=$?
    tr -d '\r' <"$TMP/$name.hdr.raw" 2>/dev/null >"$TMP/$name.hdr"
}

# header NAME FIELD: the value of a response header (case-insensitive name), "" when absent.
header() {
    sed -n "s/^$2: *//Ip" "$TMP/$1.hdr" | head -n 1
}

# expect_response NAME STATUS-LINE CONTENT-TYPE BODY: the exact status line, Content-Type,
# Content-Length (the body's length) and body.
expect_response() {
    expect_eq "$HTTP_RC" 0 "$1: curl's exit status ($(cat "$TMP/$1.err"))"
    expect_eq "$(head -n 1 "$TMP/$1.hdr")" "$2" "$1: status line"
    expect_eq "$(header "$1" Content-Type)" "$3" "$1: Content-Type"
    expect_eq "$(header "$1" Content-Length)" "$(printf '%s' "$4" | wc -c)" "$1: Content-Length"
    expect_eq "$(header "$1" Transfer-Encoding)" "" "$1: Transfer-Encoding"
    expect_eq "$(cat "$TMP/$1.body")" "$4" "$1: body"
}

# upload NAME FILE OBJECT [CURL ARGS...]: POST /setotadata as the page sends it.
upload() {
    local name=$1 file=$2 object=$3
    shift 3
    http "$name" /setotadata -X POST -H "Object: $object" -H 'Expect:' \
        -H 'Content-Type: application/octet-stream' --data-binary "@$file" "$@"
}

# digest FILE: the RFC 9530 Content-Digest value of the file's bytes.
digest() {
    printf 'sha-256=:%s:' "$(openssl dgst -sha256 -binary "$1" | base64 -w0)"
}

# boots_v1 WHAT: the flash, as it is now, still boots v1 from ota_0.
boots_v1() {
    "$ATOTA" flash info "$TMP/m.flash" >"$TMP/info.txt" || fail "$1: flash info"
    expect_grep "$TMP/info.txt" '^Boots: ota_0 at 0x100000, version "v1\.0\.0\.0"$'
}

# refused NAME [STATUS]: the upload's answer is {"state": 1} with 500 (or STATUS), the AT port
# printed +WEBSERVERRSP:3 then :5 and never :4, and v1 still boots.
refused() {
    expect_response "$1" "HTTP/1.1 ${2:-500 Internal Server Error}" application/json '{"state": 1}'
    atport_wait '^\+WEBSERVERRSP:5$' 10 "$1"
    expect_eq "$(atport_since | grep '^+WEBSERVERRSP:' | tr '\n' ' ')" \
        '+WEBSERVERRSP:3 +WEBSERVERRSP:5 ' "$1: the AT port's +WEBSERVERRSP lines"
    boots_v1 "$1"
}

# sysflash_text OUT OFFSET LEN: AT+SYSFLASH=2 of mqtt_ca; OUT gets the data after "+SYSFLASH:LEN,".
sysflash_text() {
    atport_cmd "$1.at" "AT+SYSFLASH=2,\"mqtt_ca\",$2,$3"
    sed -n "s/^+SYSFLASH:$3,//p" "$1.at" >"$1"
}

# ---- the module and its web server ---------------------------------------------------------------
sim_start m --flash "$TMP/m.flash" --tcp 127.0.0.1:0
atport_open
atport_cmd "$TMP/mode.txt" 'AT+CWMODE=3'
atport_cmd "$TMP/gmr1.txt" AT+GMR
expect_grep "$TMP/gmr1.txt" '^Bin version:v1\.0\.0\.0\(WROOM-32\)$'
core_version=$(sed -n 's/^AT version:\([0-9]*\.[0-9]*\.[0-9]*\.[0-9]*\).*/\1/p' "$TMP/gmr1.txt")
expect_eq "$core_version" 1.0.0.0 "AT+GMR's AT version"
web_start m

# ---- the endpoints of §4.3 -----------------------------------------------------------------------
# GET /: the page, chunked, byte for byte core/cmd/web/index.html.
http page /
expect_eq "$HTTP_RC" 0 "GET /: curl's exit status"
expect_eq "$(head -n 1 "$TMP/page.hdr")" "HTTP/1.1 200 OK" "GET /: status line"
expect_eq "$(header page Content-Type)" text/html "GET /: Content-Type"
expect_eq "$(header page Transfer-Encoding)" chunked "GET /: Transfer-Encoding"
expect_eq "$(header page Content-Length)" "" "GET /: Content-Length"
checks=$((checks + 1))
cmp -s "$TMP/page.body" "$SRC/core/cmd/web/index.html" || fail "GET /: not core/cmd/web/index.html"
# The chunks themselves, as they are on the wire: the sizes add up to the page.
curl -sS --raw --max-time 10 -o "$TMP/page.raw" "http://$WEB/" || fail "GET / --raw"
expect_eq "$(python3 -c '
import sys
d = open(sys.argv[1], "rb").read(); n = 0
while True:
    line, d = d.split(b"\r\n", 1); size = int(line, 16)
    if size == 0: break
    n += size; d = d[size + 2:]
print(n)' "$TMP/page.raw")" "$(stat -c %s "$SRC/core/cmd/web/index.html")" "GET /: the chunks' sizes"

http version /getversion
expect_response version "HTTP/1.1 200 OK" application/json '{"version":"1.0"}'

http stainfo0 /getstainfo
expect_response stainfo0 "HTTP/1.1 200 OK" application/json \
    '{"state":0,"sta_ssid":"","sta_password":"","message":"waiting config"}'

http aps /getaprecord
expect_response aps "HTTP/1.1 200 OK" application/json \
    '{"state":0,"message":"scan done","aplist":[{"ssid":"atota","auth_mode":3}]}'

# ESP-AT's keys, then ATOTA's: the chip, no password, digests checked, each partition's size and
# the magic its file starts with (AT+CIUPDATE's table, §3.5: none for mfg_nvs and fs_storage), for
# the page to check.
otainfo='{"state":0,"fw_version":"v1.0.0.0","at_core_version":"1.0.0.0","partitions":["ota","mfg_nvs","mqtt_ca","factory_param","fs_storage"]'
otainfo+=',"chip_id":0,"password":false,"sha256":true,"partition_info":['
otainfo+='{"name":"ota","size":1572864,"magic":"e9"},{"name":"mfg_nvs","size":114688,"magic":""},'
otainfo+='{"name":"mqtt_ca","size":8192,"magic":"f1f1"},{"name":"factory_param","size":4096,"magic":"fcfc"},'
otainfo+='{"name":"fs_storage","size":589824,"magic":""}]}'
http otainfo /getotainfo -H 'Object: none'
expect_response otainfo "HTTP/1.1 200 OK" application/json "$otainfo"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$TMP/otainfo.body" \
    || fail "/getotainfo: not JSON"

# Anything else: esp_http_server's own 404 (httpd_resp_send_err).
http nothing /nothing-here
expect_response nothing "HTTP/1.1 404 Not Found" text/html 'Nothing matches the given URI'

# ---- Wi-Fi, as the page does it (§4.5 step 2) -------------------------------------------------------
atport_mark
http setsta /setstainfo -X POST -H 'Content-Type: application/json' \
    --data-binary '{"ssid_len":5,"ssid":"atota","password_len":10,"password":"atota-pass"}'
expect_response setsta "HTTP/1.1 200 OK" application/json '{"state": 0}'
atport_wait '^\+WEBSERVERRSP:1$' 5 "/setstainfo"
state=""
for _ in $(seq 40); do
    http stainfo /getstainfo
    state=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["state"])' "$TMP/stainfo.body")
    [ "$state" = 0 ] || break
    sleep 0.25
done
expect_response stainfo "HTTP/1.1 200 OK" application/json \
    '{"state":1,"sta_ssid":"atota","sta_password":"atota-pass","message":"connect OK"}'
atport_wait '^WIFI GOT IP$' 5 "the station"
http result /getresult -X POST -H 'Content-Type: application/x-www-form-urlencoded;charset=UTF-8' \
    --data-binary 'received=1'
expect_response result "HTTP/1.1 200 OK" application/json '{"state": 0}'
atport_wait '^\+WEBSERVERRSP:2$' 5 "/getresult"
atport_cmd "$TMP/cwjap.txt" 'AT+CWJAP?'
expect_grep "$TMP/cwjap.txt" '^\+CWJAP:"atota",'

# A wrong password fails at <connection_timeout> (AT+WEBSERVER=1 on a running server only sets
# it: 21 s, the least): it runs while the refusals below go on, and is checked before AT+RST.
atport_cmd "$TMP/web_21.txt" 'AT+WEBSERVER=1,80,21'
atport_mark
http setsta2 /setstainfo -X POST -H 'Content-Type: application/json' \
    --data-binary '{"ssid_len":5,"ssid":"atota","password_len":10,"password":"wrong-pass"}'
wrong_since=$SECONDS
expect_response setsta2 "HTTP/1.1 200 OK" application/json '{"state": 0}'
atport_wait '^\+WEBSERVERRSP:1$' 5 "/setstainfo with a wrong password"
# Meanwhile a second /setstainfo is refused: a connection is being made.
http setsta3 /setstainfo -X POST -H 'Content-Type: application/json' \
    --data-binary '{"ssid_len":5,"ssid":"atota","password_len":10,"password":"atota-pass"}'
expect_response setsta3 "HTTP/1.1 400 Bad Request" application/json '{"state": 1}'

# ---- refusals: {"state": 1}, +WEBSERVERRSP:3 then :5, v1 still boots ------------------------------
atport_mark
upload notimage "$TMP/notimage.bin" ota
refused notimage
atport_mark
upload wrongchip "$TMP/c3.bin" ota
refused wrongchip
atport_mark
upload badsum "$TMP/badsum.bin" ota
refused badsum
atport_mark
upload big "$TMP/big.bin" ota
refused big
atport_mark
upload mqttbig "$TMP/mqtt_big.bin" mqtt_ca
refused mqttbig
atport_mark
upload baddigest "$TMP/v2.bin" ota -H "Content-Digest: $(digest "$TMP/v1.bin")"
refused baddigest

# No Object header: the connection is closed without an answer, nothing on the AT port (§4.4.1).
atport_mark
http noobject /setotadata -X POST -H 'Content-Type: application/octet-stream' \
    --data-binary "@$TMP/v2.bin"
# curl: 52 an empty reply, or 55/56 when the close came while it was still sending the body.
expect_eq "$(case $HTTP_RC in 52 | 55 | 56) echo closed ;; *) echo "exit $HTTP_RC" ;; esac)" closed \
    "no Object header: curl's exit status"
expect_eq "$(cat "$TMP/noobject.hdr")" "" "no Object header: the response"
atport_quiet '^\+WEBSERVERRSP:' 300
boots_v1 "no Object header"

# The client gone mid-upload: 100000 bytes announced, 5000 sent, the connection closed.
atport_mark
python3 - "${WEB##*:}" "$TMP/v2.bin" <<'PY' || fail "the mid-upload client"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
body = open(sys.argv[2], "rb").read()[:5000]
s.sendall(b"POST /setotadata HTTP/1.1\r\nHost: module\r\nObject: ota\r\n"
          b"Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n" + body)
time.sleep(0.3)
s.close()
PY
atport_wait '^\+WEBSERVERRSP:5$' 10 "the client gone mid-upload"
expect_eq "$(atport_since | grep '^+WEBSERVERRSP:' | tr '\n' ' ')" '+WEBSERVERRSP:3 +WEBSERVERRSP:5 ' \
    "the client gone mid-upload: the AT port's +WEBSERVERRSP lines"
boots_v1 "the client gone mid-upload"

# The wrong Wi-Fi password: state 2 once the 21 s have passed.
for _ in $(seq 60); do
    http stainfo2 /getstainfo
    grep -q '"state":0' "$TMP/stainfo2.body" || break
    sleep 0.5
done
expect_response stainfo2 "HTTP/1.1 200 OK" application/json \
    '{"state":2,"sta_ssid":"atota","sta_password":"wrong-pass","message":"connect fail"}'
expect_eq "$([ $((SECONDS - wrong_since)) -ge 20 ] && echo yes)" yes \
    "a wrong Wi-Fi password fails at <connection_timeout>, not before ($((SECONDS - wrong_since)) s)"

# After every refusal a restart still boots v1 (the web server stops with it).
atport_rst
atport_cmd "$TMP/gmr_after.txt" AT+GMR
expect_grep "$TMP/gmr_after.txt" '^Bin version:v1\.0\.0\.0\(WROOM-32\)$'
checks=$((checks + 1))
curl -s --max-time 5 -o /dev/null "http://$WEB/getversion"
[ $? -eq 7 ] || fail "the web server still answers after AT+RST"
web_start m

# ---- mqtt_ca: written as it is, read back with AT+SYSFLASH -------------------------------------------
atport_mark
upload mqtt "$TMP/mqtt_ca.bin" mqtt_ca -H "Content-Digest: $(digest "$TMP/mqtt_ca.bin")"
expect_response mqtt "HTTP/1.1 200 OK" application/json '{"state": 0}'
atport_wait '^\+WEBSERVERRSP:4$' 5 "mqtt_ca"
expect_eq "$(atport_since | grep '^+WEBSERVERRSP:' | tr '\n' ' ')" '+WEBSERVERRSP:3 +WEBSERVERRSP:4 ' \
    "mqtt_ca: the AT port's +WEBSERVERRSP lines"
n=$(($(stat -c %s "$TMP/mqtt_ca.bin") - 2))
sysflash_text "$TMP/ca.txt" 2 "$n"
expect_eq "$(cat "$TMP/ca.txt")" "$(tail -c +3 "$TMP/mqtt_ca.bin")" "mqtt_ca read back with AT+SYSFLASH"
atport_cmd "$TMP/ca_magic.at" 'AT+SYSFLASH=2,"mqtt_ca",0,2'
expect_eq "$(grep -a '^+SYSFLASH:2,' "$TMP/ca_magic.at" | head -c 14 | tail -c 2 | od -An -tx1 | tr -d ' \n')" \
    f1f1 "mqtt_ca's first two bytes"
boots_v1 "mqtt_ca written"

# ---- the app: v2 stored and validated, booted by AT+RST (no restart before it, §4.4.3) -------------
atport_mark
upload v2 "$TMP/v2.bin" ota -H "Content-Digest: $(digest "$TMP/v2.bin")"
expect_response v2 "HTTP/1.1 200 OK" application/json '{"state": 0}'
atport_wait '^\+WEBSERVERRSP:4$' 5 "v2"
expect_eq "$(atport_since | grep '^+WEBSERVERRSP:' | tr '\n' ' ')" '+WEBSERVERRSP:3 +WEBSERVERRSP:4 ' \
    "v2: the AT port's +WEBSERVERRSP lines"
atport_quiet '^ready$' 300
atport_cmd "$TMP/gmr_still.txt" AT+GMR
expect_grep "$TMP/gmr_still.txt" '^Bin version:v1\.0\.0\.0\(WROOM-32\)$'
atport_rst
atport_cmd "$TMP/gmr2.txt" AT+GMR
expect_grep "$TMP/gmr2.txt" '^Bin version:v2\.0\.0\.0\(WROOM-32\)$'

# ---- AT+WEBSERVER=0: the port is closed -------------------------------------------------------------
web_start m
http up /getversion
expect_response up "HTTP/1.1 200 OK" application/json '{"version":"1.0"}'
atport_cmd "$TMP/web_off.txt" 'AT+WEBSERVER=0'
http down /getversion
expect_eq "$HTTP_RC" 7 "after AT+WEBSERVER=0: curl's exit status (7: connection refused)"
atport_close
sim_stop
expect_eq "$SIM_RC" 0 "atota-sim's exit status after SIGTERM"

# ---- a firmware with web_password ----------------------------------------------------------------
mk_module "$TMP/m.flash" "$TMP/pw.bin"
sim_start pw --flash "$TMP/m.flash" --tcp 127.0.0.1:0
atport_open
atport_cmd "$TMP/mode.txt" 'AT+CWMODE=3'
WEB_OLD=""
web_start pw
http pwinfo /getotainfo
expect_eq "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["password"])' "$TMP/pwinfo.body")" \
    True "/getotainfo's password with web_password set"
upload nopw "$TMP/v2.bin" ota
expect_response nopw "HTTP/1.1 401 Unauthorized" application/json '{"state": 1}'
upload wrongpw "$TMP/v2.bin" ota -H 'X-Upload-Password: s3cret-pX'
expect_response wrongpw "HTTP/1.1 401 Unauthorized" application/json '{"state": 1}'
boots_v1 "wrong passwords"
atport_mark
upload rightpw "$TMP/v2.bin" ota -H 'X-Upload-Password: s3cret-pw'
expect_response rightpw "HTTP/1.1 200 OK" application/json '{"state": 0}'
atport_wait '^\+WEBSERVERRSP:4$' 5 "the right password"
atport_rst
atport_cmd "$TMP/gmr_pw.txt" AT+GMR
expect_grep "$TMP/gmr_pw.txt" '^Bin version:v2\.0\.0\.0\(WROOM-32\)$'
atport_close
sim_stop
expect_eq "$SIM_RC" 0 "atota-sim's exit status after SIGTERM"

# ---- a firmware with web_captive_portal=on ---------------------------------------------------------
# ESP-AT's http_common_error_handler: what would be 404 or 405 is a 302 to the softAP's root page;
# the whole response, byte for byte (the port writes libmicrohttpd's reason phrase, "Found", where
# esp_http_server writes "Temporary Redirect": docs/webserver.md). 414 stays the port's own.
raw_get() { # raw_get METHOD PATH: the whole response to one request on its own connection
    python3 - "${WEB%:*}" "${WEB##*:}" "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (sys.argv[3], sys.argv[4])).encode())
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
sys.stdout.write(repr(out))
PY
}
mk_image "$TMP/portal.bin" v1.0.0.0 --config web_captive_portal=on
mk_module "$TMP/m.flash" "$TMP/portal.bin"
sim_start portal --flash "$TMP/m.flash" --tcp 127.0.0.1:0
atport_open
WEB_OLD=""
web_start portal
# (Connection: close answers the request's own; libmicrohttpd puts Content-Length last)
PORTAL="b'HTTP/1.1 302 Found\\r\\nConnection: close\\r\\nContent-Type: text/html\\r\\nLocation: http://192.168.4.1/\\r\\nContent-Length: 26\\r\\n\\r\\nRedirect to captive portal'"
expect_eq "$(raw_get GET /generate_204)" "$PORTAL" "captive portal: GET /generate_204, every byte"
expect_eq "$(raw_get POST /)" "$PORTAL" "captive portal: POST / (405), every byte"
http portal_page /
expect_eq "$(head -n 1 "$TMP/portal_page.hdr")" "HTTP/1.1 200 OK" "captive portal: GET / still the page"
http portal_long "/$(head -c 1100 /dev/zero | tr '\0' a)"
expect_eq "$(head -n 1 "$TMP/portal_long.hdr")" "HTTP/1.1 414 URI Too Long" "captive portal: a 1101-byte target"
atport_close
sim_stop
expect_eq "$SIM_RC" 0 "atota-sim's exit status after SIGTERM"
pass
