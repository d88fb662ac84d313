#!/usr/bin/env bash
# AT+USEROTA resumes a download the server cut (core/ota/download.h; ota_retries, default 5): the
# connection reset several times mid-body, the download goes on with "Range: bytes=N-" and
# "If-Range: <validator>", the right image boots. Also: Last-Modified as the validator when there
# is no ETag, a server that ignores Range (the download restarts from zero), and more cuts than
# retries (ERROR, the old firmware untouched). Upgrades chain: v1 (ota_0) -> v2 (ota_1) ->
# v3 (ota_0) -> v4 (ota_1).
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"
. "$(dirname "$0")/lib/userota.sh"

www="$TMP/www"
mkdir -p "$www"
mk_image "$TMP/v1.bin" v1.0.0.0
for v in 2 3 4; do
    head -c 600000 /dev/urandom >"$TMP/payload$v.bin"
    mk_image "$www/v$v.bin" "v$v.0.0.0" --payload "$TMP/payload$v.bin"
done
size=$(stat -c %s "$www/v2.bin")
log="$TMP/srv.http.log"
http_start srv "$www"
base="http://127.0.0.1:$HTTP_PORT"
mk_flash "$TMP/m.flash" "$TMP/v1.bin"
sim_start m --flash "$TMP/m.flash"
wifi_join

# check_ranges QUERY-SUBSTRING CUTS: the first request of that URL had no Range and got 200;
# each of the CUTS after it asked for "bytes=N-" (N not going back, within the file) with an
# If-Range, and got 206. A check.
check_ranges() {
    checks=$((checks + 1))
    python3 - "$log" "$1" "$2" "$size" <<'PY' || fail "Range requests for $1 (log: $log)"
import json, re, sys
log, q, cuts, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
reqs = [r for r in map(json.loads, filter(str.strip, open(log))) if q in (r.get("query") or "")]
assert len(reqs) == cuts + 1, ("requests", len(reqs), reqs)
assert not reqs[0].get("range") and reqs[0]["status"] == 200, reqs[0]
prev = 0
for r in reqs[1:]:
    m = re.fullmatch(r"bytes=(\d+)-", r.get("range") or "")
    assert m, ("no open Range", r)
    start = int(m.group(1))
    assert prev <= start < size, ("Range goes back", prev, r)
    assert r.get("if_range"), ("no If-Range", r)
    assert r["status"] == 206, r
    prev = start
# The body bytes sent add up to the file at least (resumed where the module's data ended).
assert sum(r["sent"] for r in reqs) >= size, [r["sent"] for r in reqs]
PY
}

# More cuts than retries (5): ERROR after the first request and 5 resumes, v1 untouched.
userota_error "$base/v2.bin?reset=50000:10"
expect_eq "$(http_log_count "$log" '"reset=50000:10" in r["query"]')" 6 "requests before giving up"
expect_version "$TMP/giveup.gmr" 'v1\.0\.0\.0\(WROOM-32\)$'

# Four cuts: a reset (RST) at file offset 100000, then three closes (FIN) 150000 bytes into each
# resumed body (http_server.py: reset= cuts at a file offset, truncate= after N body bytes).
q2='reset=100000&truncate=150000:3'
userota_ok "$base/v2.bin?$q2"
expect_version "$TMP/v2.gmr" 'v2\.0\.0\.0\(WROOM-32\)$'
check_ranges "$q2" 4
# Each resume went further: four different Range starts.
expect_eq "$(python3 -c 'import json,sys; print(len({r["range"] for r in map(json.loads, open(sys.argv[1])) if sys.argv[2] in r["query"] and r["range"]}))' "$log" "$q2")" 4 \
    "distinct Range starts"
# The If-Range was the ETag of the first answer (a quoted string).
expect_eq "$(http_log_count "$log" '"'"$q2"'" in r["query"] and r.get("range") and r["if_range"].startswith("\"")')" 4 \
    "If-Range with the ETag"

# The same offset cut three times (the resumed requests get no byte before their RST): the
# download makes no progress twice and still completes within its 5 retries.
userota_ok "$base/v3.bin?reset=200000:3&noetag=1"
expect_version "$TMP/v3.gmr" 'v3\.0\.0\.0\(WROOM-32\)$'
check_ranges "reset=200000:3&noetag=1" 3
# No ETag: If-Range carries the Last-Modified date instead.
expect_eq "$(http_log_count "$log" '"noetag=1" in r["query"] and r.get("range") and r["if_range"].endswith("GMT")')" 3 \
    "If-Range with Last-Modified"

# A server that ignores Range answers 200 with the whole body: the download starts again from zero.
userota_ok "$base/v4.bin?reset=250000:2&ignore_range=1"
expect_version "$TMP/v4.gmr" 'v4\.0\.0\.0\(WROOM-32\)$'
expect_eq "$(http_log_count "$log" '"ignore_range=1" in r["query"]')" 3 "requests to a server without Range"
expect_eq "$(http_log_count "$log" '"ignore_range=1" in r["query"] and r["status"] == 200')" 3 "200 answers"
at "$TMP/rb.txt" AT+SYSROLLBACK?
expect_grep "$TMP/rb.txt" '^\+SYSROLLBACK:0x280000,"v4\.0\.0\.0",0x100000,"v3\.0\.0\.0"$'
sim_stop
http_stop
pass
