#!/usr/bin/env bash
# bench/server: atota-server against nginx on the same machine, in one run (README.md here).
#   (a) the version query of ESP-AT's AT+CIUPDATE (GET /v1/device/rom/?is_format_simple=true with
#       the device's token) against nginx serving a static JSON file of the same bytes;
#   (b) firmware download throughput, 100 connections, a 1.5 MB ota.bin through the device API's
#       download URL against nginx serving the same bytes as a static file with sendfile on.
# Both servers answer the very same requests (same path, query and headers): nginx maps the query
# to its file. wrk drives them over loopback. Each figure is a median of REPS interleaved runs of
# DURATION seconds; the ratio is atota-server / nginx.
#
#   bash bench/server/run.sh [BUILD_DIR]      # default: build (make build: the release build)
#   env: DURATION (5), REPS (3), CONNS_QUERY (100), CONNS_DOWNLOAD (100)
# Installs wrk and nginx with apt-get when they are missing (the bench only needs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
server="$build/atota-server"
atota="$build/atota"
DURATION=${DURATION:-5}
REPS=${REPS:-3}
CONNS_QUERY=${CONNS_QUERY:-100}
CONNS_DOWNLOAD=${CONNS_DOWNLOAD:-100}
say() { echo "bench/server: $*" >&2; }
[ -x "$server" ] && [ -x "$atota" ] || { say "$server or $atota is missing: make build first"; exit 1; }

# wrk and nginx for this bench only.
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d /tmp/atota-bench-server.XXXXXX)
chmod 755 "$work" # nginx's workers (user nobody when started as root) read www/
SRV_PID=""
NGX_PID=""
cleanup() {
    set +e
    for p in $SRV_PID $NGX_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

# CPUs: with 2 or more, the servers get the first half and wrk the other half (taskset), so
# that each server's CPU time is what is compared and wrk never steals from it.
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
    half=$((ncpu / 2))
    srv_cpus="0-$((half - 1))"
    wrk_cpus="$half-$((ncpu - 1))"
    SRV_RUN=(taskset -c "$srv_cpus")
    WRK_RUN=(taskset -c "$wrk_cpus")
    wrk_threads=$((ncpu - half))
    srv_ncpu=$half
else
    SRV_RUN=()
    WRK_RUN=()
    wrk_threads=1
    srv_ncpu=$ncpu
    srv_cpus="all"
    wrk_cpus="all"
fi

# atota-server on a new data directory.
mkdir -p "$work/data" "$work/www"
"${SRV_RUN[@]}" "$server" --data "$work/data" --http 127.0.0.1:0 --https none >"$work/srv.out" 2>"$work/srv.err" &
SRV_PID=$!
port=""
for _ in $(seq 400); do
    port=$(sed -n 's/^atota-server: http on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/srv.out")
    [ -n "$port" ] && break
    kill -0 "$SRV_PID" 2>/dev/null || { cat "$work/srv.err" >&2; say "atota-server exited"; exit 1; }
    sleep 0.025
done
[ -n "$port" ] || { say "atota-server: no port line within 10 s"; exit 1; }
base="http://127.0.0.1:$port"

# api METHOD PATH [JSON]: the management API; the answer on stdout, any non-2xx fatal.
api() {
    local auth=(-H "Authorization: Bearer ${KEY:-}")
    [ -z "${KEY:-}" ] && auth=(-b "$work/cookies" -c "$work/cookies" -H "X-CSRF-Token: ${CSRF:-}")
    if [ $# -ge 3 ]; then
        curl -sS -f --max-time 60 -X "$1" "${auth[@]}" -H 'Content-Type: application/json' \
            --data-binary "$3" "$base/api/v1$2"
    else
        curl -sS -f --max-time 60 -X "$1" "${auth[@]}" "$base/api/v1$2"
    fi
}
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

password=$(head -n1 "$work/data/initial-admin-password" | tr -d '\r\n')
CSRF=$(api POST /session "$(python3 -c 'import json, sys; print(json.dumps({"name": "admin", "password": sys.argv[1]}))' "$password")" | field csrf_token)
KEY=$(api POST /api-keys '{"label": "bench"}' | field key)
product=$(api POST /products '{"name": "bench"}' | field id)
dkey=$(api POST "/products/$product/devices" '{"name": "bench-device"}' | field key)
# Two versions, the newer recommended: the query's answer lists both, as a real product's does.
for v in v1.0.0.0 v2.0.0.0; do
    vid=$(api POST "/products/$product/versions" "{\"version\": \"$v\", \"corename\": \"ESP32\"}" | field id)
    # A 1.5 MB firmware (an app image with a 1,500,000-byte segment of noise), as bench/userota.
    head -c 1500000 /dev/urandom >"$work/payload.bin"
    "$atota" image create --chip esp32 --version "$v" --project esp-at --idf-ver v5.4.1 \
        --payload "$work/payload.bin" -o "$work/$v.bin" >/dev/null
    curl -sS -f --max-time 60 -X PUT -H 'Expect:' -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/octet-stream' -T "$work/$v.bin" \
        "$base/api/v1/products/$product/versions/$vid/files/ota.bin" >/dev/null
done
api POST "/products/$product/versions/$vid/current" >/dev/null

query_path="/v1/device/rom/?is_format_simple=true"
download_path="/v1/device/rom/?action=download_rom&version=v2.0.0.0&filename=ota.bin"
# nginx serves exactly the bytes atota-server answers.
curl -sS -f -H "Authorization: token $dkey" -o "$work/www/rom.json" "$base$query_path"
curl -sS -f -H "Authorization: token $dkey" -o "$work/www/ota.bin" "$base$download_path"
cmp -s "$work/www/ota.bin" "$work/v2.0.0.0.bin" || { say "the device API download is not the uploaded file"; exit 1; }
fw_size=$(stat -c %s "$work/www/ota.bin")
json_size=$(stat -c %s "$work/www/rom.json")
chmod 644 "$work/www/"*
chmod 755 "$work/www"

ngx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $srv_ncpu;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    types { application/json json; application/octet-stream bin; }
    # The device API's one path: the download when action=download_rom, else the version query.
    map \$arg_action \$rom_file { download_rom /ota.bin; default /rom.json; }
    server {
        listen 127.0.0.1:$ngx_port;
        root $work/www;
        location = /v1/device/rom/ { try_files \$rom_file =404; }
    }
}
EOF
"${SRV_RUN[@]}" "$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' \
    2>"$work/nginx/stderr" &
NGX_PID=$!
ngx="http://127.0.0.1:$ngx_port"
for _ in $(seq 200); do
    curl -s -o /dev/null "$ngx$query_path" && break
    kill -0 "$NGX_PID" 2>/dev/null || { cat "$work/nginx/stderr" >&2; say "nginx exited"; exit 1; }
    sleep 0.05
done
curl -sS -f -H "Authorization: token $dkey" "$ngx$query_path" | cmp -s - "$work/www/rom.json" \
    || { say "nginx does not answer the query with rom.json"; exit 1; }
curl -sS -f -H "Authorization: token $dkey" "$ngx$download_path" | cmp -s - "$work/www/ota.bin" \
    || { say "nginx does not answer the download with ota.bin"; exit 1; }

# run_wrk URL CONNS [WRK ARGS...]: one wrk run; prints report.lua's line (requests bytes seconds errors...).
run_wrk() {
    "${WRK_RUN[@]}" wrk -t "$wrk_threads" -c "$2" -d "${DURATION}s" --latency "${@:3}" \
        -H "Authorization: token $dkey" -s "$here/report.lua" "$1" >"$work/wrk.out" 2>&1 \
        || { cat "$work/wrk.out" >&2; say "wrk $1 failed"; exit 1; }
    sed -n 's/^ATOTA-BENCH //p' "$work/wrk.out"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure NAME PATH CONNS [WRK ARGS...]: REPS interleaved runs against each server (after a
# one-second warm-up of each); sets <NAME>_srv_rps, <NAME>_ngx_rps, <NAME>_srv_bps,
# <NAME>_ngx_bps (medians).
measure() {
    local name=$1 path=$2 conns=$3 who url out r
    shift 3
    for who in srv ngx; do
        [ $who = srv ] && url="$base$path" || url="$ngx$path"
        "${WRK_RUN[@]}" wrk -t "$wrk_threads" -c "$conns" -d 1s "$@" \
            -H "Authorization: token $dkey" "$url" >/dev/null 2>&1 || true
        : >"$work/$name.$who"
    done
    for r in $(seq "$REPS"); do
        for who in srv ngx; do
            [ $who = srv ] && url="$base$path" || url="$ngx$path"
            out=$(run_wrk "$url" "$conns" "$@")
            read -r req bytes secs errors e_connect e_read e_write e_timeout e_status <<<"$out"
            [ "$errors" = 0 ] || say "$name, $who, run $r: $errors errors in $req requests" \
                "(connect $e_connect, read $e_read, write $e_write, timeout $e_timeout, status >= 400 $e_status)"
            awk -v q="$req" -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f %.1f\n", q / s, b / s }' \
                >>"$work/$name.$who"
        done
    done
    for who in srv ngx; do
        printf -v "${name}_${who}_rps" '%s' "$(cut -d' ' -f1 "$work/$name.$who" | median)"
        printf -v "${name}_${who}_bps" '%s' "$(cut -d' ' -f2 "$work/$name.$who" | median)"
    done
}

say "atota-server $base, nginx $ngx; servers on CPUs $srv_cpus, wrk on $wrk_cpus ($wrk_threads threads)"
measure query "$query_path" "$CONNS_QUERY"
# atota-server closes the connection after each device API JSON reply (server/device_api.c: ESP-AT
# reads the query's answer until the close), while nginx keeps it open for the next request. A
# device asks once per connection anyway; the same query with "Connection: close", so that nginx
# closes too, compares the two on what devices do.
measure query_close "$query_path" "$CONNS_QUERY" -H 'Connection: close'
measure download "$download_path" "$CONNS_DOWNLOAD"

ngx_version=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')
awk -v qs="$query_srv_rps" -v qn="$query_ngx_rps" -v ds="$download_srv_bps" -v dn="$download_ngx_bps" \
    -v drs="$download_srv_rps" -v drn="$download_ngx_rps" -v js="$json_size" -v fs="$fw_size" \
    -v reps="$REPS" -v dur="$DURATION" -v cq="$CONNS_QUERY" -v cd="$CONNS_DOWNLOAD" \
    -v qcs="$query_close_srv_rps" -v qcn="$query_close_ngx_rps" \
    -v ngv="$ngx_version" -v cpus="$ncpu" 'BEGIN {
    printf "atota-server vs %s over loopback, %d CPUs; wrk, median of %d interleaved %d s runs each\n", ngv, cpus, reps, dur
    printf "(a) version query, GET /v1/device/rom/?is_format_simple=true (%d-byte answer), %d connections:\n", js, cq
    printf "  atota-server                   %10.0f req/s\n", qs
    printf "  nginx, static file             %10.0f req/s\n", qn
    printf "  atota-server / nginx = %.3f (goal >= 0.5)\n", qs / qn
    printf "    the same, one request per connection (\"Connection: close\", as a device asks):\n"
    printf "  atota-server                   %10.0f req/s\n", qcs
    printf "  nginx, static file             %10.0f req/s\n", qcn
    printf "  atota-server / nginx = %.3f\n", qcs / qcn
    printf "(b) firmware download, device API, %d-byte ota.bin, %d connections:\n", fs, cd
    printf "  atota-server                   %10.1f MB/s (%.0f downloads/s)\n", ds / 1e6, drs
    printf "  nginx, static file, sendfile   %10.1f MB/s (%.0f downloads/s)\n", dn / 1e6, drn
    printf "  atota-server / nginx = %.3f (goal >= 0.9)\n", ds / dn
}'
