# One AT connection held for a whole script, for atota-sim on TCP (--tcp): the module's output
# while no client is connected is dropped, and some lines (+WEBSERVERRSP:<n>) come while another
# program talks to the module. Everything received is appended to $TMP/atport.log. Source after
# common.sh and sim.sh; sim_start ... --tcp 127.0.0.1:0 first.
AT_LOG="$TMP/atport.log"
AT_READER=""
AT_MARK=0

# atport_open: connects to $SIM_PORT (tcp:HOST:PORT) and starts logging what arrives.
atport_open() {
    local hostport=${SIM_PORT#tcp:}
    exec {AT_FD}<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || fail "cannot connect to $SIM_PORT"
    : >"$AT_LOG"
    cat <&"$AT_FD" >>"$AT_LOG" &
    AT_READER=$!
    SIM_PIDS="$SIM_PIDS $AT_READER"
    AT_MARK=0
}

# atport_close: closes the connection (the next client is served).
atport_close() {
    exec {AT_FD}>&-
    kill "$AT_READER" 2>/dev/null
    wait "$AT_READER" 2>/dev/null
}

# atport_mark: what arrives from now on is what atport_since and atport_wait look at.
atport_mark() {
    AT_MARK=$(stat -c %s "$AT_LOG")
}

# atport_since: the lines received since the mark, without \r.
atport_since() {
    tail -c +$((AT_MARK + 1)) "$AT_LOG" | tr -d '\r'
}

# atport_wait REGEX [SECONDS] [WHAT]: waits until a line received since the mark matches the
# extended REGEX (default 10 s). A check.
atport_wait() {
    local i
    checks=$((checks + 1))
    for i in $(seq $((${2:-10} * 20))); do
        atport_since | grep -Eq -- "$1" && return 0
        sleep 0.05
    done
    echo "--- the AT port since the mark:" >&2
    atport_since >&2
    fail "${3:-the AT port}: no line matching /$1/ within ${2:-10} s"
}

# atport_quiet REGEX MS: no line matching REGEX arrives within MS milliseconds. A check.
atport_quiet() {
    checks=$((checks + 1))
    sleep "$(awk "BEGIN { print $2 / 1000 }")"
    if atport_since | grep -Eq -- "$1"; then
        atport_since >&2
        fail "the AT port printed /$1/"
    fi
}

# atport_cmd OUT CMD [SECONDS]: sends CMD, waits for its final OK or ERROR; OUT gets the lines
# since CMD was sent. Fails unless OK.
atport_cmd() {
    atport_mark
    printf '%s\r\n' "$2" >&"$AT_FD"
    atport_wait '^(OK|ERROR)$' "${3:-10}" "$2"
    atport_since >"$1"
    grep -qx OK "$1" || { cat "$1" >&2; fail "$2: ERROR"; }
}

# atport_rst: AT+RST and the restart's "ready".
atport_rst() {
    atport_cmd "$TMP/rst.txt" AT+RST
    atport_wait '^ready$' 10 "AT+RST"
}
