# Helpers for the atota-sim end-to-end scripts (tests/e2e/sim_*.sh). Source after common.sh.
: "${ATOTA_SIM:?atota-sim is not built}"
SIM_PIDS=""
# Every simulator a script started dies with it, whatever happens.
trap 'for p in $SIM_PIDS; do kill -9 "$p" 2>/dev/null; done' EXIT
AT_RAW="python3 $(dirname "${BASH_SOURCE[0]}")/at_raw.py"

# sim_start NAME ARGS...: starts atota-sim ARGS in the background (log in $TMP/NAME.log), waits
# for its "AT port on" line and sets SIM_PID and SIM_PORT. Fails if it exits first.
sim_start() {
    local name=$1 i
    shift
    "$ATOTA_SIM" --log "$TMP/$name.log" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SIM_PID=$!
    SIM_PIDS="$SIM_PIDS $SIM_PID"
    for i in $(seq 200); do
        SIM_PORT=$(sed -n 's/^atota-sim: AT port on //p' "$TMP/$name.out")
        [ -n "$SIM_PORT" ] && return 0
        kill -0 "$SIM_PID" 2>/dev/null || { cat "$TMP/$name.err" >&2; fail "atota-sim $* exited before its port line"; }
        sleep 0.05
    done
    fail "atota-sim $*: no port line within 10 s"
}

# sim_stop [SIGNAL]: stops the last simulator (TERM by default) and waits for it; the exit status
# is in SIM_RC.
sim_stop() {
    kill -"${1:-TERM}" "$SIM_PID" 2>/dev/null
    wait "$SIM_PID" 2>/dev/null
    SIM_RC=$?
}

# raw STEP...: an exact-byte exchange on the simulator's port (lib/at_raw.py); a check.
raw() {
    checks=$((checks + 1))
    $AT_RAW "$SIM_PORT" "$@" 2>"$TMP/raw.err" || { cat "$TMP/raw.err" >&2; fail "raw exchange: $*"; }
}

# at OUT CMD...: `atota at` on the simulator's port, output in OUT; fails unless it exits 0.
at() {
    local out=$1
    shift
    checks=$((checks + 1))
    "$ATOTA" at --port "$SIM_PORT" "$@" >"$out" 2>"$TMP/at.err" \
        || { cat "$out" "$TMP/at.err" >&2; fail "atota at $*"; }
}
