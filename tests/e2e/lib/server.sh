# atota-server for the end-to-end scripts. Source after common.sh. The server dies with the script
# (add "$SERVER_PID" to your own EXIT trap when you set one after sourcing this).
: "${ATOTA_SERVER:?atota-server is not built}"
SERVER_PID=""
SERVER_DATA="$TMP/server-data"

# server_start NAME [ARGS...]: atota-server on free ports with its data in $SERVER_DATA; waits for
# its listener lines and sets SERVER_PID, SERVER_HTTP_PORT and SERVER_HTTPS_PORT.
server_start() {
    local name=$1 i
    shift
    "$ATOTA_SERVER" --data "$SERVER_DATA" --http 127.0.0.1:0 --https 127.0.0.1:0 "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SERVER_PID=$!
    for i in $(seq 200); do
        SERVER_HTTPS_PORT=$(sed -n 's/^atota-server: https on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/$name.out")
        [ -n "$SERVER_HTTPS_PORT" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/$name.err" >&2; fail "atota-server exited"; }
        sleep 0.05
    done
    [ -n "$SERVER_HTTPS_PORT" ] || fail "atota-server: no https line within 10 s"
    SERVER_HTTP_PORT=$(sed -n 's/^atota-server: http on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/$name.out")
    [ -n "$SERVER_HTTP_PORT" ] || fail "atota-server: no http line"
}

# server_stop [SIGNAL]: stops the server (TERM by default) and waits for it.
server_stop() {
    [ -n "$SERVER_PID" ] || return 0
    kill -"${1:-TERM}" "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}

# admin ARGS...: `atota-server admin` on the same data directory; fails unless it exits 0.
admin() {
    "$ATOTA_SERVER" admin --data "$SERVER_DATA" "$@" 2>"$TMP/admin.err" \
        || { cat "$TMP/admin.err" >&2; fail "atota-server admin $*"; }
}
