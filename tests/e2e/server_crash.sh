#!/usr/bin/env bash
# atota-server survives SIGKILL at any moment (server/blobs.h: a blob exists whole or not at all;
# server/store.h: a file row is committed only after its blob is durably on disk, and a 201 only
# after the commit). Six ROM versions of one product each hold an ota.bin (the slots). Each round
# replaces the ota.bin of three slots with new images of 0.5-2 MB (curl PUT, one of them throttled
# so that it is still in flight when the kill comes) while the other slots are downloaded through
# the device API and /fw/<sha256>/ota.bin; the server is killed with SIGKILL after a random delay,
# sometimes killed again while it starts, and started again. After every kill:
#   - `atota-server admin --data DIR check` passes (the store and the blobs agree);
#   - every blob on disk hashes to its name;
#   - the server starts;
#   - a slot whose upload got a 201 lists the new file; any other uploaded slot lists the old or
#     the new file, whole (never a half-written one); a slot nobody uploaded is unchanged;
#   - every listed file downloads byte for byte (SHA-256) through /fw/ and the device API, and
#     every download that completed during the round got the bytes it should have.
# Random timing (SEED=N repeats one), assertions that hold for every timing. ROUNDS (default 24).
set -u
. "$(dirname "$0")/lib/common.sh"
: "${ATOTA_SERVER:?atota-server is not built}"

SEED=${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
RANDOM=$SEED
ROUNDS=${ROUNDS:-24}
SLOTS=6
DATA="$TMP/data"
SRV_PID=""
BG_PIDS=""
# The server and any curl still running die with the script, whatever happens.
trap 'for p in $SRV_PID $BG_PIDS; do kill -9 "$p" 2>/dev/null; done' EXIT
start_s=$(date +%s.%N)
ms_since() { python3 -c 'import sys, time; print(int((time.time() - float(sys.argv[1])) * 1000))' "$1"; }

# srv_spawn: starts the server in the background (stdout in $TMP/srv.out, stderr appended to
# $TMP/srv.err); SRV_PID.
srv_spawn() {
    : >"$TMP/srv.out"
    "$ATOTA_SERVER" --data "$DATA" --http 127.0.0.1:0 --https none >"$TMP/srv.out" 2>>"$TMP/srv.err" &
    SRV_PID=$!
}
# srv_start: starts the server and waits for its port line; sets BASE. A check.
srv_start() {
    local port
    checks=$((checks + 1))
    srv_spawn
    for _ in $(seq 400); do
        port=$(sed -n 's/^atota-server: http on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/srv.out")
        [ -n "$port" ] && { BASE="http://127.0.0.1:$port"; starts=$((starts + 1)); return 0; }
        kill -0 "$SRV_PID" 2>/dev/null || {
            wait "$SRV_PID"
            echo "exit status $?; stderr:" >&2
            tail -20 "$TMP/srv.err" >&2
            fail "atota-server did not start (start $((starts + 1)), round $round, seed $SEED)"
        }
        sleep 0.025
    done
    fail "atota-server: no port line within 10 s (round $round, seed $SEED)"
}
# srv_kill: SIGKILL, the power cut.
srv_kill() {
    kill -9 "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=""
    kills=$((kills + 1))
}

# api METHOD PATH [CURL ARGS...]: the management API with the API key (or the cookie and CSRF
# token before there is a key); body in $TMP/api.json, the status printed.
api() {
    local method=$1 path=$2
    shift 2
    if [ -n "${KEY:-}" ]; then
        set -- -H "Authorization: Bearer $KEY" "$@"
    else
        set -- -b "$TMP/cookies" -c "$TMP/cookies" -H "X-CSRF-Token: ${CSRF:-}" "$@"
    fi
    curl -sS --max-time 20 -o "$TMP/api.json" -w '%{http_code}' -X "$method" "$@" "$BASE/api/v1$path"
}
# api_ok STATUS METHOD PATH [JSON]: api with a JSON body; fails unless the status is STATUS.
api_ok() {
    local want=$1 method=$2 path=$3 code
    checks=$((checks + 1))
    if [ $# -ge 4 ]; then
        code=$(api "$method" "$path" -H 'Content-Type: application/json' --data-binary "$4")
    else
        code=$(api "$method" "$path")
    fi
    [ "$code" = "$want" ] || { cat "$TMP/api.json" >&2; fail "$method $path: status $code, expected $want"; }
}
# json EXPR: a Python expression over the last answer (d).
json() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/api.json" "$1"; }

# mk_upload SLOT N: a new valid image for the slot (random payload of 0.5-2 MB) in $TMP/up/N.bin;
# its SHA-256 and size in NEW_SHA[SLOT], NEW_SIZE[SLOT].
mk_upload() {
    local slot=$1 n=$2 size
    size=$((524288 + (RANDOM * 32768 + RANDOM) % 1572865))
    head -c "$size" /dev/urandom >"$TMP/payload.bin"
    "$ATOTA" image create --chip esp32 --version "${VER[$slot]}" --project esp-at \
        --payload "$TMP/payload.bin" -o "$TMP/up/$n.bin" >/dev/null || fail "image create"
    NEW_SHA[$slot]=$(sha256sum "$TMP/up/$n.bin" | cut -c1-64)
    NEW_SIZE[$slot]=$(stat -c %s "$TMP/up/$n.bin")
}
# upload SLOT N [CURL ARGS...]: PUT $TMP/up/N.bin as the slot's ota.bin, in the background; status
# in $TMP/up/N.code, answer in $TMP/up/N.json.
upload() {
    local slot=$1 n=$2
    shift 2
    curl -sS --max-time 30 -H 'Expect:' -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/octet-stream' -T "$TMP/up/$n.bin" "$@" \
        -o "$TMP/up/$n.json" -w '%{http_code}' \
        "$BASE/api/v1/products/$PRODUCT/versions/${VID[$slot]}/files/ota.bin" \
        >"$TMP/up/$n.code" 2>"$TMP/up/$n.err" &
    BG_PIDS="$BG_PIDS $!"
}
# download OUT URL [CURL ARGS...]: GET in the background; body in OUT, status in OUT.code, curl's
# exit status in OUT.rc.
download() {
    local out=$1 url=$2
    shift 2
    (
        curl -sS --max-time 30 -o "$out" -w '%{http_code}' "$@" "$url" >"$out.code" 2>"$out.err"
        echo $? >"$out.rc"
    ) &
    BG_PIDS="$BG_PIDS $!"
}
dev_url() { echo "$BASE/v1/device/rom/?action=download_rom&version=${VER[$1]}&filename=ota.bin"; }
fw_url() { echo "$BASE/fw/${CUR_SHA[$1]}/ota.bin"; }

# check_store: the consistency check passes on the data directory as the kill left it, and every
# blob on disk hashes to its name (temporary files aside). Two checks.
check_store() {
    local f name bad
    checks=$((checks + 1))
    "$ATOTA_SERVER" admin --data "$DATA" check >"$TMP/check.out" 2>&1 \
        || { cat "$TMP/check.out" >&2; fail "admin check after kill $kills (round $round, seed $SEED)"; }
    checks=$((checks + 1))
    bad=""
    for f in "$DATA"/blobs/*/*; do
        [ -f "$f" ] || continue
        name=$(basename "$f")
        [[ $name =~ ^[0-9a-f]{64}$ ]] || continue
        [ "$(sha256sum "$f" | cut -c1-64)" = "$name" ] || bad="$bad $f"
    done
    [ -z "$bad" ] || fail "blobs whose bytes do not match their name after kill $kills:$bad"
}

# list_files: the slots' listed ota.bin ("sha256 size", or "none") in LISTED[SLOT]. A check.
list_files() {
    local slot line
    api_ok 200 GET "/products/$PRODUCT"
    for slot in $(seq 0 $((SLOTS - 1))); do LISTED[$slot]=none; done
    while read -r slot line; do LISTED[$slot]=$line; done < <(python3 - "$TMP/api.json" "${VID[@]}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
vids = [int(v) for v in sys.argv[2:]]
for v in d["versions"]:
    for f in v.get("files") or []:
        if f["name"] == "ota.bin" and v["id"] in vids:
            print(vids.index(v["id"]), f["sha256"], f["size"])
PY
    )
}

# verify_downloads: every slot's file downloads whole through /fw/ and the device API. Checks.
verify_downloads() {
    local slot out how code
    for slot in $(seq 0 $((SLOTS - 1))); do
        [ "${CUR_SHA[$slot]}" = none ] && continue
        out="$TMP/dl/verify$slot"
        for how in fw dev; do
            checks=$((checks + 1))
            if [ $how = fw ]; then
                code=$(curl -sS --max-time 30 -o "$out" -w '%{http_code}' "$(fw_url "$slot")")
            else
                code=$(curl -sS --max-time 30 -o "$out" -w '%{http_code}' -H "Authorization: token $DKEY" "$(dev_url "$slot")")
            fi
            [ "$code" = 200 ] || fail "$how download of slot $slot (${VER[$slot]}): status $code (round $round, seed $SEED)"
            [ "$(sha256sum "$out" | cut -c1-64)" = "${CUR_SHA[$slot]}" ] \
                || fail "$how download of slot $slot (${VER[$slot]}): $(stat -c %s "$out") bytes that are not ${CUR_SHA[$slot]} (round $round, seed $SEED)"
        done
    done
}

starts=0
kills=0
round=0
confirmed=0
interrupted=0
interrupted_whole=0
done_downloads=0
mkdir -p "$DATA" "$TMP/up" "$TMP/dl"

# Setup: the admin's first password, a session, an API key, a product, a device, six versions.
srv_start
[ -s "$DATA/initial-admin-password" ] || fail "$DATA/initial-admin-password is missing"
password=$(head -n1 "$DATA/initial-admin-password" | tr -d '\r\n')
api_ok 200 POST /session "$(python3 -c 'import json, sys; print(json.dumps({"name": "admin", "password": sys.argv[1]}))' "$password")"
CSRF=$(json 'd["csrf_token"]')
api_ok 201 POST /api-keys '{"label": "server_crash"}'
KEY=$(json 'd["key"]')
api_ok 201 POST /products '{"name": "crash"}'
PRODUCT=$(json 'd["id"]')
api_ok 201 POST "/products/$PRODUCT/devices" '{"name": "dev1"}'
DKEY=$(json 'd["key"]')
for slot in $(seq 0 $((SLOTS - 1))); do
    VER[$slot]="v4.$slot.0.0"
    api_ok 201 POST "/products/$PRODUCT/versions" "{\"version\": \"${VER[$slot]}\", \"corename\": \"ESP32\"}"
    VID[$slot]=$(json 'd["id"]')
    CUR_SHA[$slot]=none
done
api_ok 200 POST "/products/$PRODUCT/versions/${VID[0]}/current"

# Every slot's first file, uploaded at once with no kill: each gets a 201. Their time sets the
# range of the kill delays.
for slot in $(seq 0 $((SLOTS - 1))); do
    mk_upload "$slot" "s$slot"
done
t0=$(date +%s.%N)
for slot in $(seq 0 $((SLOTS - 1))); do upload "$slot" "s$slot"; done
wait $BG_PIDS
BG_PIDS=""
upload_ms=$(ms_since "$t0")
for slot in $(seq 0 $((SLOTS - 1))); do
    expect_eq "$(cat "$TMP/up/s$slot.code")" 201 "first upload of slot $slot ($(cat "$TMP/up/s$slot.json" 2>/dev/null))"
    CUR_SHA[$slot]=${NEW_SHA[$slot]}
    CUR_SIZE[$slot]=${NEW_SIZE[$slot]}
done
list_files
for slot in $(seq 0 $((SLOTS - 1))); do
    expect_eq "${LISTED[$slot]}" "${CUR_SHA[$slot]} ${CUR_SIZE[$slot]}" "slot $slot listed after its upload"
done
verify_downloads
# Kills land from the moment the requests start to a bit past the time the six uploads took.
kill_max_ms=$((upload_ms < 40 ? 60 : upload_ms * 3 / 2))

for round in $(seq 1 "$ROUNDS"); do
    rm -f "$TMP/up/"* "$TMP/dl/"*
    # Three slots get a new file (the first of them throttled to last past the kill), the others
    # are downloaded meanwhile.
    mapfile -t order < <(for s in $(seq 0 $((SLOTS - 1))); do echo "$RANDOM $s"; done | sort -n | cut -d' ' -f2)
    up_slots=("${order[@]:0:3}")
    still=("${order[@]:3}")
    for slot in "${up_slots[@]}"; do mk_upload "$slot" "$round-$slot"; done
    delay_ms=$((RANDOM % (kill_max_ms + 1)))
    # 1 in 8 rounds kills before any request can be answered.
    [ $((RANDOM % 8)) -eq 0 ] && delay_ms=0
    throttle=$((NEW_SIZE[${up_slots[0]}] * 1000 / (kill_max_ms + 500)))
    upload "${up_slots[0]}" "$round-${up_slots[0]}" --limit-rate "$throttle"
    upload "${up_slots[1]}" "$round-${up_slots[1]}"
    upload "${up_slots[2]}" "$round-${up_slots[2]}"
    for slot in "${still[@]}"; do
        download "$TMP/dl/dev$slot" "$(dev_url "$slot")" -H "Authorization: token $DKEY"
        download "$TMP/dl/fw$slot" "$(fw_url "$slot")"
    done
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    srv_kill
    wait $BG_PIDS 2>/dev/null
    BG_PIDS=""
    check_store
    # Sometimes the next start is cut short too (the recovery itself killed).
    if [ $((RANDOM % 4)) -eq 0 ]; then
        srv_spawn
        sleep "0.0$((RANDOM % 10))"
        srv_kill
        check_store
    fi
    srv_start

    # Downloads that completed during the round got the slot's file as it was.
    for slot in "${still[@]}"; do
        for how in dev fw; do
            out="$TMP/dl/$how$slot"
            [ "$(cat "$out.rc" 2>/dev/null)" = 0 ] && [ "$(cat "$out.code")" = 200 ] || continue
            done_downloads=$((done_downloads + 1))
            expect_eq "$(sha256sum "$out" | cut -c1-64)" "${CUR_SHA[$slot]}" \
                "$how download of slot $slot completed during round $round (seed $SEED)"
        done
    done
    # What each slot lists now.
    list_files
    for slot in "${still[@]}"; do
        expect_eq "${LISTED[$slot]}" "${CUR_SHA[$slot]} ${CUR_SIZE[$slot]}" \
            "slot $slot, not uploaded in round $round (seed $SEED)"
    done
    for slot in "${up_slots[@]}"; do
        n="$round-$slot"
        code=$(cat "$TMP/up/$n.code" 2>/dev/null)
        new="${NEW_SHA[$slot]} ${NEW_SIZE[$slot]}"
        old="${CUR_SHA[$slot]} ${CUR_SIZE[$slot]}"
        if [ "$code" = 201 ]; then
            confirmed=$((confirmed + 1))
            expect_eq "${LISTED[$slot]}" "$new" "slot $slot after its upload got a 201 in round $round (seed $SEED)"
            expect_eq "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sha256"])' "$TMP/up/$n.json")" \
                "${NEW_SHA[$slot]}" "sha256 in the 201 of slot $slot, round $round"
        else
            interrupted=$((interrupted + 1))
            checks=$((checks + 1))
            [ "${LISTED[$slot]}" = "$old" ] || [ "${LISTED[$slot]}" = "$new" ] \
                || fail "slot $slot after an interrupted upload (status '$code') in round $round (seed $SEED): lists '${LISTED[$slot]}', expected the old '$old' or the new '$new'"
            [ "${LISTED[$slot]}" = "$new" ] && interrupted_whole=$((interrupted_whole + 1))
        fi
        if [ "${LISTED[$slot]}" = "$new" ]; then
            CUR_SHA[$slot]=${NEW_SHA[$slot]}
            CUR_SIZE[$slot]=${NEW_SIZE[$slot]}
        fi
    done
    verify_downloads
done

# The check is not a rubber stamp: a listed blob one byte short makes it fail.
kill -9 "$SRV_PID"
wait "$SRV_PID" 2>/dev/null
SRV_PID=""
victim=$(ls "$DATA"/blobs/*/"${CUR_SHA[0]}") || fail "the blob of slot 0 is not in $DATA/blobs"
truncate -s -1 "$victim"
checks=$((checks + 1))
"$ATOTA_SERVER" admin --data "$DATA" check >"$TMP/check.out" 2>&1
[ $? -eq 1 ] || { cat "$TMP/check.out" >&2; fail "admin check did not exit 1 on a truncated blob"; }

echo "server_crash: seed $SEED, $round rounds, $kills kills, $starts starts in $(($(ms_since "$start_s") / 1000)) s;" \
    "uploads: $confirmed confirmed (201), $interrupted interrupted ($interrupted_whole of them whole, the rest absent);" \
    "$done_downloads downloads completed during rounds"
pass
