#!/usr/bin/env bash
# ESP-AT's own web-server example (espressif/esp-at docs/en/AT_Command_Examples/
# Web_server_AT_Examples.rst, "OTA Firmware Upgrade Using a Browser"), sent verbatim to atota-sim
# over one AT connection (--tcp): AT+RESTORE, AT+CWMODE=3, AT+CWSAP="pos_softap","",11,0,3,
# AT+CIPMUX=1, AT+WEBSERVER=1,80,25, each answered OK. Then the web server answers /getversion, a
# firmware sent as the page sends it gives the documented +WEBSERVERRSP:3 and :4 on the AT port,
# and AT+RST boots it with the softAP configuration still stored (AT+SYSSTORE=1, the default).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"
. "$(dirname "$0")/lib/userota.sh"
. "$(dirname "$0")/lib/atport.sh"
command -v curl >/dev/null || fail "curl is not installed"

mk_image "$TMP/v1.bin" v1.0.0.0
mk_image "$TMP/v2.bin" v2.0.0.0
mk_module "$TMP/m.flash" "$TMP/v1.bin"
sim_start m --flash "$TMP/m.flash" --tcp 127.0.0.1:0
atport_open

# ---- the example's commands, verbatim ----------------------------------------------------------
atport_cmd "$TMP/restore.txt" 'AT+RESTORE'
atport_wait '^ready$' 10 "the restart after AT+RESTORE"
atport_cmd "$TMP/mode.txt" 'AT+CWMODE=3'
# before the example's AT+CWSAP: ESP-IDF's default softAP, "ESP_" and the softAP MAC's last bytes
atport_cmd "$TMP/apmac.txt" 'AT+CIPAPMAC?'
mac=$(sed -n 's/^+CIPAPMAC:"\(.*\)"$/\1/p' "$TMP/apmac.txt")
expect_eq "$(printf '%s' "$mac" | grep -Ec '^24:0a:c4(:[0-9a-f]{2}){3}$')" 1 "the softAP MAC ($mac)"
suffix=$(printf '%s' "${mac:9}" | tr -d : | tr a-f A-F)
atport_cmd "$TMP/sap0.txt" 'AT+CWSAP?'
expect_grep "$TMP/sap0.txt" "^\\+CWSAP:\"ESP_$suffix\",\"\",1,0,10,0\$"
atport_cmd "$TMP/sap.txt" 'AT+CWSAP="pos_softap","",11,0,3'
atport_cmd "$TMP/mux.txt" 'AT+CIPMUX=1'
atport_cmd "$TMP/web.txt" 'AT+WEBSERVER=1,80,25'

atport_cmd "$TMP/sap1.txt" 'AT+CWSAP?'
expect_grep "$TMP/sap1.txt" '^\+CWSAP:"pos_softap","",11,0,3,0$'
atport_cmd "$TMP/lif.txt" 'AT+CWLIF'
expect_eq "$(grep -c '^+CWLIF:' "$TMP/lif.txt")" 0 "AT+CWLIF: no station joined"

# ---- the web server ------------------------------------------------------------------------------
WEB=""
for _ in $(seq 100); do
    WEB=$(sed -n 's|^atota-sim: web server for port 80 on http://\(127\.0\.0\.1:[0-9]*\)/$|\1|p' \
        "$TMP/m.out" | tail -n 1)
    [ -n "$WEB" ] && break
    sleep 0.05
done
[ -n "$WEB" ] || { cat "$TMP/m.out" >&2; fail "no web server line"; }
checks=$((checks + 1))

curl -sS --max-time 10 -o "$TMP/version.body" -w '%{http_code} %{content_type}' \
    "http://$WEB/getversion" >"$TMP/version.meta" 2>"$TMP/version.err" \
    || { cat "$TMP/version.err" >&2; fail "GET /getversion"; }
expect_eq "$(cat "$TMP/version.meta")" "200 application/json" "GET /getversion: status and type"
expect_eq "$(cat "$TMP/version.body")" '{"version":"1.0"}' "GET /getversion: body"

# ---- "Send the New Firmware": POST /setotadata as the page does ------------------------------------
atport_mark
curl -sS --max-time 20 -o "$TMP/ota.body" -w '%{http_code}' -X POST -H 'Object: ota' -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/v2.bin" \
    "http://$WEB/setotadata" >"$TMP/ota.code" 2>"$TMP/ota.err" \
    || { cat "$TMP/ota.err" >&2; fail "POST /setotadata"; }
expect_eq "$(cat "$TMP/ota.code")" 200 "POST /setotadata: status"
expect_eq "$(cat "$TMP/ota.body")" '{"state": 0}' "POST /setotadata: body"
atport_wait '^\+WEBSERVERRSP:4$' 10 "the upload"
# "+WEBSERVERRSP:3 // begin to receive OTA data", "+WEBSERVERRSP:4 // received all firmware data"
expect_eq "$(atport_since | grep '^+WEBSERVERRSP:' | tr '\n' ' ')" '+WEBSERVERRSP:3 +WEBSERVERRSP:4 ' \
    "the AT port's +WEBSERVERRSP lines"

# ---- "execute AT+RST to restart ... to apply the new firmware" -------------------------------------
atport_cmd "$TMP/gmr1.txt" AT+GMR
expect_grep "$TMP/gmr1.txt" '^Bin version:v1\.0\.0\.0\(WROOM-32\)$'
atport_rst
atport_cmd "$TMP/gmr2.txt" AT+GMR
expect_grep "$TMP/gmr2.txt" '^Bin version:v2\.0\.0\.0\(WROOM-32\)$'
atport_cmd "$TMP/mode2.txt" 'AT+CWMODE?'
expect_grep "$TMP/mode2.txt" '^\+CWMODE:3$'
atport_cmd "$TMP/sap2.txt" 'AT+CWSAP?'
expect_grep "$TMP/sap2.txt" '^\+CWSAP:"pos_softap","",11,0,3,0$'
atport_cmd "$TMP/mux2.txt" 'AT+CIPMUX?'
expect_grep "$TMP/mux2.txt" '^\+CIPMUX:0$' # not a stored setting
atport_close
sim_stop
expect_eq "$SIM_RC" 0 "atota-sim's exit status after SIGTERM"
pass
