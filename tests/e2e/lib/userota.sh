# Helpers for the AT+USEROTA end-to-end scripts (tests/e2e/userota_*.sh). Source after common.sh
# and sim.sh. The test HTTP server is tests/e2e/lib/http_server.py.
: "${ATOTA_SIM:?atota-sim is not built}"
UO_LIB=$(dirname "${BASH_SOURCE[0]}")
HTTP_SERVER="$UO_LIB/http_server.py"
HTTP_PIDS=""
# Simulators and HTTP servers die with the script, whatever happens.
trap 'for p in $SIM_PIDS $HTTP_PIDS; do kill -9 "$p" 2>/dev/null; done' EXIT
[ -f "$HTTP_SERVER" ] || fail "$HTTP_SERVER is missing"

# http_start NAME ROOT [ARGS...]: serves ROOT with http_server.py (request log in
# $TMP/NAME.http.log), waits for its "listening on" line and sets HTTP_PORT and HTTP_PID.
http_start() {
    local name=$1 root=$2 i
    shift 2
    : >"$TMP/$name.http.log"
    python3 "$HTTP_SERVER" --root "$root" --port 0 --bind 127.0.0.1 --log "$TMP/$name.http.log" \
        "$@" >"$TMP/$name.http.out" 2>"$TMP/$name.http.err" &
    HTTP_PID=$!
    HTTP_PIDS="$HTTP_PIDS $HTTP_PID"
    for i in $(seq 200); do
        HTTP_PORT=$(sed -n 's/^http_server: listening on \([0-9]*\).*/\1/p' "$TMP/$name.http.out")
        [ -n "$HTTP_PORT" ] && return 0
        kill -0 "$HTTP_PID" 2>/dev/null || { cat "$TMP/$name.http.err" >&2; fail "http_server.py $* exited before its port line"; }
        sleep 0.05
    done
    fail "http_server.py: no port line within 10 s"
}

# http_stop: stops the last HTTP server.
http_stop() {
    kill "$HTTP_PID" 2>/dev/null
    wait "$HTTP_PID" 2>/dev/null
}

# mk_image OUT VERSION [ARGS...]: an ESP32 app image (atota image create), ARGS appended.
mk_image() {
    local out=$1 version=$2
    shift 2
    "$ATOTA" image create --chip esp32 --version "$version" --project esp-at --idf-ver v5.4.1 \
        -o "$out" "$@" >/dev/null || fail "image create $out $version $*"
}

# mk_flash OUT APP: an ESP32-WROOM-32 flash with APP in ota_0.
mk_flash() {
    "$ATOTA" flash create --module esp32-wroom-32 --app "$2" -o "$1" >/dev/null \
        || fail "flash create $1"
}

# mk_module OUT APP: an ESP32-WROOM-32 flash with APP in ota_0 and lib/at_customize_mqtt.csv's
# custom partitions (mqtt_ca at MQTT_CA_OFFSET).
MQTT_CA_OFFSET=$((0x3D000))
mk_module() {
    "$ATOTA" flash create --module esp32-wroom-32 --app "$2" \
        --at-customize "$UO_LIB/at_customize_mqtt.csv" -o "$1" >/dev/null || fail "flash create $1"
}

# wifi_join: the station joins the simulator's access point (network access needs it).
wifi_join() {
    at "$TMP/cwjap.txt" 'AT+CWJAP="atota","atota-pass"'
    expect_grep "$TMP/cwjap.txt" '^WIFI GOT IP$'
}

# userota_ok URL [TIMEOUT_MS]: the exact bytes of a successful AT+USEROTA with echo on, up to the
# "ready" of the restart (esp-at-ota.md §2.2) and the station's auto-connect after it (the
# station was saved by AT+CWJAP). Checks.
userota_ok() {
    local url=$1 len=${#1}
    raw 'drain:100' "send:AT+USEROTA=$len\\r\\n" "expect:AT+USEROTA=$len\\r\\n\\r\\nOK\\r\\n\\r\\n>" \
        "send:$url" "expect:\\r\\nRecv $len bytes\\r\\n" "timeout:${2:-30000}" 'expect:\r\nOK\r\n' \
        'timeout:10000' 'expect:\r\nready\r\n' 'expect:WIFI CONNECTED\r\nWIFI GOT IP\r\n' 'quiet:100'
}

# wait_autoconnect: after a restart seen by `at` (AT+RST), the saved station joins again:
# "WIFI CONNECTED\r\nWIFI GOT IP\r\n" unsolicited (docs/wifi.md). Checks.
wait_autoconnect() {
    raw 'timeout:5000' 'expect:WIFI CONNECTED\r\nWIFI GOT IP\r\n'
}

# wait_station: polls AT+CWJAP? until the station is connected (at most 5 s), for when the
# auto-connect's unsolicited lines may have gone to another command's reply. A check.
wait_station() {
    local i
    checks=$((checks + 1))
    for i in $(seq 50); do
        "$ATOTA" at --port "$SIM_PORT" 'AT+CWJAP?' >"$TMP/cwjapq.txt" 2>/dev/null \
            && grep -q '^+CWJAP:"atota"' "$TMP/cwjapq.txt" && return 0
        sleep 0.1
    done
    cat "$TMP/cwjapq.txt" >&2
    fail "the station did not connect again"
}

# userota_error URL [TIMEOUT_MS]: the exact bytes of an AT+USEROTA that fails after the URL:
# "\r\nERROR\r\n" and nothing after it (no restart). Checks.
userota_error() {
    local url=$1 len=${#1}
    raw 'drain:100' "send:AT+USEROTA=$len\\r\\n" "expect:AT+USEROTA=$len\\r\\n\\r\\nOK\\r\\n\\r\\n>" \
        "send:$url" "expect:\\r\\nRecv $len bytes\\r\\n" "timeout:${2:-30000}" 'expect:\r\nERROR\r\n' \
        'quiet:300'
}

# expect_version OUT REGEX: AT+GMR's "Bin version:" matches REGEX (the version part). Checks.
expect_version() {
    at "$1" AT+GMR
    expect_grep "$1" "^Bin version:$2"
}

# expect_boots_after_rst OUT REGEX: AT+RST, the station joins again, then AT+GMR's version
# matches REGEX.
expect_boots_after_rst() {
    at "$1.rst" AT+RST
    wait_autoconnect
    expect_version "$1" "$2"
}

# http_log_count LOG JQ-LIKE-PYTHON-EXPR: how many request lines of the server's JSON log make the
# Python expression (over r, the request's dict) true.
http_log_count() {
    python3 - "$1" "$2" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    if eval(sys.argv[2], {}, {"r": r}):
        n += 1
print(n)
PY
}
