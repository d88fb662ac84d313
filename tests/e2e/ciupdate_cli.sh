#!/usr/bin/env bash
# `atota ciupdate` (apps/atota/cmd_ciupdate.c) against a scripted fake module
# (tests/e2e/lib/fake_module.py, which logs what the tool sends and when): the exact command line
# of each option combination (esp-at-ota.md §3.1), the progress lines and the final result of
# blocking and non-blocking updates (§3.2), the wait for "ready" after the module's own restart
# and after --restart, --list (AT+CIPFWVER?, §3.6), --state (AT+CIUPDATE?, §3.1), echo off and
# "busy p...", timeouts, and the command-line errors.
set -u
. "$(dirname "$0")/lib/common.sh"
FAKE="$(dirname "$0")/lib/fake_module.py"
[ -f "$FAKE" ] || fail "$FAKE is missing"
FAKE_PID=""
trap '[ -n "$FAKE_PID" ] && kill -9 "$FAKE_PID" 2>/dev/null' EXIT

# The fake module's scripts (fake_module.py's format), one file per scenario.
mkdir -p "$TMP/scripts"
python3 - "$TMP/scripts" <<'PY' || fail "cannot write the fake module's scripts"
import json, os, sys

def gmr(version):
    return ["AT version:4.1.0.0(a1b2c3d - ESP32 - Jan  1 2025 00:00:00)\r\n",
            "SDK version:v5.4.1\r\n", "compile time(a1b2c3d4):Jan  1 2025 00:00:00\r\n",
            "Bin version:%s(WROOM-32)\r\n" % version, "\r\nOK\r\n"]

# Blocking, ota: progress, OK, the restart (esp-at-ota.md §3.2), "ready" after 600 ms.
OTA = ["+CIPUPDATE:1\r\n", 50, "+CIPUPDATE:2\r\n", 50, "+CIPUPDATE:3\r\n", 50,
       "+CIPUPDATE:4\r\n\r\nOK\r\n", 600, "\r\nready\r\n"]
OTA_VERSION = ["+CIPUPDATE:1\r\n", 50, "+CIPUPDATE:4\r\n\r\nOK\r\n", 600, "\r\nready\r\n"]
CUSTOM = ["+CIPUPDATE:1\r\n", 50, "+CIPUPDATE:4\r\n\r\nOK\r\n"]
NONBLOCKING = ["\r\nOK\r\n", 50, "+CIPUPDATE:1\r\n", 50, "+CIPUPDATE:4\r\n"]
RST = ["\r\nOK\r\n", 400, "\r\nready\r\n"]

scripts = {
    # every form of §3.1, each answered as a success
    "forms": {
        "AT+GMR": [gmr("v1.0.0.0")],
        "AT+CIUPDATE": [OTA],
        "AT+CIUPDATE=1": [OTA],
        'AT+CIUPDATE=0,"v1.2.0.0"': [OTA_VERSION],
        'AT+CIUPDATE=1,"v2.2.0.0","mqtt_ca"': [CUSTOM],
        'AT+CIUPDATE=1,"v2.2.0.0","ota",1': [NONBLOCKING],
        "AT+CIUPDATE=1,,,1": [NONBLOCKING],
        'AT+CIUPDATE=1,,"ota",1': [NONBLOCKING],
        'AT+CIUPDATE=1,"v2.2.0.0",,1': [NONBLOCKING],
        'AT+CIUPDATE=0,,"factory_param"': [CUSTOM],
        'AT+CIUPDATE=0,"v9","ota"': [OTA_VERSION],
        'AT+CIUPDATE=0,"a\\,b\\"c\\\\d"': [OTA_VERSION],
        'AT+CIUPDATE=0,""': [OTA_VERSION],
    },
    # a blocking update from v1 to v2: AT+GMR answers v1, then v2
    "upgrade": {"AT+GMR": [gmr("v1.0.0.0"), gmr("v2.0.0.0")], "AT+CIUPDATE": [OTA]},
    "blocking_error": {
        "AT+GMR": [gmr("v1.0.0.0")],
        "AT+CIUPDATE": [["+CIPUPDATE:1\r\n", "+CIPUPDATE:2\r\n", "\r\nERROR\r\n"]],
        "AT+CIUPDATE=1": [["\r\nERROR\r\n"]],
        'AT+CIUPDATE=0,"v3.0.0.0"': [["+CIPUPDATE:1\r\n", 50, "\r\nERROR\r\n"]],
    },
    "nonblocking": {
        # the first run asks once, the --restart run before and after
        "AT+GMR": [gmr("v1.0.0.0"), gmr("v1.0.0.0"), gmr("v2.0.0.0")],
        "AT+CIUPDATE=0,,,1": [NONBLOCKING],
        # +CIPUPDATE:1 before the OK: the task may print first (§3.2)
        "AT+CIUPDATE=1,,,1": [["+CIPUPDATE:1\r\n", "\r\nOK\r\n", 50, "+CIPUPDATE:2\r\n",
                               "+CIPUPDATE:3\r\n", 50, "+CIPUPDATE:4\r\n"]],
        'AT+CIUPDATE=0,"v2.0.0.0",,1': [["\r\nOK\r\n", 50, "+CIPUPDATE:1\r\n", 50,
                                         "+CIPUPDATE:-1\r\n"]],
        'AT+CIUPDATE=0,,"mqtt_ca",1': [NONBLOCKING],
        "AT+CIUPDATE=1,\"v2.0.0.0\",,1": [["\r\nERROR\r\n"]],
        "AT+RST": [RST],
    },
    "queries": {
        "AT+CIPFWVER?": [['+CIPFWVER:"v4.1.0.0"\r\n', '+CIPFWVER:"v4.0.0.0"\r\n',
                          '+CIPFWVER:"v3.2.0.0"\r\n', "\r\nOK\r\n"],
                         ["\r\nOK\r\n"], ["\r\nERROR\r\n"]],
        "AT+CIUPDATE?": [["+CIUPDATE:4\r\n\r\nOK\r\n"], ["+CIUPDATE:-1\r\n\r\nOK\r\n"],
                         ["+CIUPDATE:2\r\n\r\nOK\r\n"], ["+CIUPDATE:0\r\n\r\nOK\r\n"],
                         ["\r\nOK\r\n"]],
    },
    # no final result, no "ready"
    "silent": {
        "AT+GMR": [gmr("v1.0.0.0")],
        'AT+CIUPDATE=0,,"mqtt_ca"': [["+CIPUPDATE:1\r\n"]],
        "AT+CIUPDATE": [["+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n\r\nOK\r\n"]],
        "AT+CIUPDATE=0,,,1": [["\r\nOK\r\n+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n"]],
        "AT+CIUPDATE?": [[]],
    },
    # echo off (ATE0), and a busy module: the command is dropped once, then runs
    "busy": {
        "AT+GMR": [gmr("v1.0.0.0")],
        'AT+CIUPDATE=0,,"mqtt_ca"': [["\r\nbusy p...\r\n"], CUSTOM],
    },
}
for name, script in scripts.items():
    with open(os.path.join(sys.argv[1], name + ".json"), "w") as f:
        json.dump(script, f)
PY

# fake_start NAME [ARGS...]: the fake module with $TMP/scripts/NAME.json, its log in
# $TMP/NAME.log; sets PORT (for --port) and FAKE_LOG.
fake_start() {
    local name=$1 i p=""
    shift
    FAKE_LOG="$TMP/$name.log"
    : >"$FAKE_LOG"
    python3 "$FAKE" --script "$TMP/scripts/$name.json" --log "$FAKE_LOG" "$@" \
        >"$TMP/$name.fake.out" 2>"$TMP/$name.fake.err" &
    FAKE_PID=$!
    for i in $(seq 200); do
        p=$(sed -n 's/^fake_module: listening on \([0-9]*\)$/\1/p' "$TMP/$name.fake.out")
        [ -n "$p" ] && break
        kill -0 "$FAKE_PID" 2>/dev/null || { cat "$TMP/$name.fake.err" >&2; fail "fake_module.py exited"; }
        sleep 0.05
    done
    [ -n "$p" ] || fail "fake_module.py: no port line within 10 s"
    PORT="tcp:127.0.0.1:$p"
}

fake_stop() {
    kill "$FAKE_PID" 2>/dev/null
    wait "$FAKE_PID" 2>/dev/null
    FAKE_PID=""
}

# cli NAME ARGS...: atota ciupdate --port $PORT ARGS, output in $TMP/NAME.out and .err, exit
# status in RC and the time it took in MS; MARK is the log's length before it.
cli() {
    local name=$1 t0 t1
    shift
    MARK=$(wc -l <"$FAKE_LOG")
    t0=$(date +%s%N)
    "$ATOTA" ciupdate --port "$PORT" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    RC=$?
    t1=$(date +%s%N)
    MS=$(((t1 - t0) / 1000000))
}

# sent: the lines the tool sent since MARK, CR and LF shown as \r and \n, one per line.
sent() {
    python3 - "$FAKE_LOG" "$MARK" <<'PY'
import json, sys
for line in open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]:
    d = json.loads(line)
    if "in" in d:
        print(d["in"].replace("\r", "\\r").replace("\n", "\\n"))
PY
}

# expect_sent WHAT LINE...: exactly these lines were sent since MARK (LINE as `sent` shows it).
expect_sent() {
    local what=$1
    shift
    expect_eq "$(sent)" "$(printf '%s\n' "$@")" "$what: the lines sent"
}

# expect_rc WHAT WANT: the exit status, with the output shown when it is not the expected one.
expect_rc() {
    checks=$((checks + 1))
    [ "$RC" = "$2" ] && return 0
    cat "$TMP/$1.out" "$TMP/$1.err" >&2
    fail "$1: exit status $RC, expected $2"
}

# expect_in_after WHAT NTH_IN LINE NTH_OUT STEP: since MARK, the NTH_IN line LINE arrived after
# the NTH_OUT reply step STEP was sent (both as `sent` shows them).
expect_in_after() {
    checks=$((checks + 1))
    python3 - "$FAKE_LOG" "$MARK" "$2" "$3" "$4" "$5" <<'PY' || fail "$1"
import json, sys
log, mark, n_in, line, n_out, step = sys.argv[1:]
show = lambda s: s.replace("\r", "\\r").replace("\n", "\\n")
ins, outs = [], []
for entry in open(log).read().splitlines()[int(mark):]:
    d = json.loads(entry)
    if show(d.get("in", "")) == line:
        ins.append(d["t"])
    if show(d.get("out", "")) == step:
        outs.append(d["t"])
if len(ins) < int(n_in) or len(outs) < int(n_out):
    sys.exit("%d x %s sent, %d x %s received" % (len(ins), line, len(outs), step))
t_in, t_out = ins[int(n_in) - 1], outs[int(n_out) - 1]
if t_in < t_out:
    sys.exit("%s came %.3f s before %s" % (line, t_out - t_in, step))
PY
}

# ---- the command line of each option combination (§3.1) ---------------------------------------
fake_start forms
# form WHAT EXPECTED-LINE ARGS...: exit 0 and, with AT+GMR before and after for the app, exactly
# the expected command line.
form() {
    local what=$1 line=$2
    shift 2
    cli form "$@"
    expect_rc form 0
    case "$line" in
        *mqtt_ca*|*factory_param*) expect_sent "$what" "$line\\r\\n" ;;
        *,1) expect_sent "$what" 'AT+GMR\r\n' "$line\\r\\n" ;;
        *) expect_sent "$what" 'AT+GMR\r\n' "$line\\r\\n" 'AT+GMR\r\n' ;;
    esac
}
form "no options" 'AT+CIUPDATE'
form "--mode 1" 'AT+CIUPDATE=1' --mode 1
form "a version" 'AT+CIUPDATE=0,"v1.2.0.0"' --mode 0 --version v1.2.0.0
form "a version and a name" 'AT+CIUPDATE=1,"v2.2.0.0","mqtt_ca"' --mode 1 --version v2.2.0.0 --name mqtt_ca
form "everything" 'AT+CIUPDATE=1,"v2.2.0.0","ota",1' --mode 1 --version v2.2.0.0 --name ota --nonblocking
form "--nonblocking" 'AT+CIUPDATE=1,,,1' --mode 1 --nonblocking
form "a name, non-blocking" 'AT+CIUPDATE=1,,"ota",1' --mode 1 --name ota --nonblocking
form "a version, non-blocking" 'AT+CIUPDATE=1,"v2.2.0.0",,1' --nonblocking --version v2.2.0.0 --mode 1
form "a name, mode 0 by default" 'AT+CIUPDATE=0,,"factory_param"' --name factory_param
form "ota by name" 'AT+CIUPDATE=0,"v9","ota"' --version v9 --name ota
form "escapes" 'AT+CIUPDATE=0,"a\,b\"c\\d"' --version 'a,b"c\d'
form "an empty version" 'AT+CIUPDATE=0,""' --version ''
fake_stop

# Command-line errors: exit 2, nothing sent.
for args in "--mode 2" "--mode x" "--version $(printf 'v%.0s' $(seq 65))" "--list --state" \
    "--list --mode 1" "--state --nonblocking" "--timeout 0" "--restart --list" "extra"; do
    # shellcheck disable=SC2086
    "$ATOTA" ciupdate --port tcp:127.0.0.1:1 $args >/dev/null 2>"$TMP/usage.err"
    expect_eq "$?" 2 "ciupdate $args: exit status"
    expect_grep "$TMP/usage.err" '^usage: atota ciupdate --port PORT'
done
"$ATOTA" ciupdate --mode 1 >/dev/null 2>"$TMP/usage.err"
expect_eq "$?" 2 "ciupdate without --port: exit status"
expect_grep "$TMP/usage.err" 'ciupdate needs --port PORT'
"$ATOTA" ciupdate --help >"$TMP/help.out" || fail "ciupdate --help"
expect_grep "$TMP/help.out" 'default 200'
"$ATOTA" --help >"$TMP/main-help.out" || fail "atota --help"
expect_grep "$TMP/main-help.out" '^  ciupdate --port PORT'

# ---- a blocking update of the app: progress, OK, the restart, the new version ------------------
fake_start upgrade
cli upgrade
expect_rc upgrade 0
expect_eq "$(cat "$TMP/upgrade.out")" "$(
    cat <<'EOF'
+CIPUPDATE:1   found the server
+CIPUPDATE:2   connected to the server
+CIPUPDATE:3   got the version to download
+CIPUPDATE:4   done: written and verified
OK
AT version:4.1.0.0(a1b2c3d - ESP32 - Jan  1 2025 00:00:00)
Bin version:v2.0.0.0(WROOM-32)
upgraded: v1.0.0.0(WROOM-32) -> v2.0.0.0(WROOM-32)
EOF
)" "blocking update: the output"
expect_eq "$(cat "$TMP/upgrade.err")" "" "blocking update: stderr"
expect_sent "blocking update" 'AT+GMR\r\n' 'AT+CIUPDATE\r\n' 'AT+GMR\r\n'
# The version after is asked only once the module said "ready" (600 ms after OK).
expect_in_after "blocking update: AT+GMR before \"ready\"" 2 'AT+GMR\r\n' 1 '\r\nready\r\n'
fake_stop

# ---- blocking failures: ERROR, exit 1, one line on stderr, no restart wait ----------------------
fake_start blocking_error
cli berr
expect_rc berr 1
expect_grep "$TMP/berr.out" '^\+CIPUPDATE:1 +found the server$'
expect_grep "$TMP/berr.out" '^\+CIPUPDATE:2 +connected to the server$'
expect_grep "$TMP/berr.out" '^ERROR$'
expect_eq "$(wc -l <"$TMP/berr.err")" 1 "blocking ERROR: stderr lines"
expect_grep "$TMP/berr.err" '^atota: AT\+CIUPDATE: ERROR: the server gave no version'
expect_sent "blocking ERROR" 'AT+GMR\r\n' 'AT+CIUPDATE\r\n'
cli berr1 --mode 1
expect_rc berr1 1
expect_grep "$TMP/berr1.err" '^atota: AT\+CIUPDATE=1: ERROR: the module refused the command'
cli berr3 --version v3.0.0.0
expect_rc berr3 1
expect_grep "$TMP/berr3.err" '^atota: AT\+CIUPDATE=0,"v3.0.0.0": ERROR: the download failed'
fake_stop

# ---- non-blocking: OK first, then the progress, to +CIPUPDATE:4 or -1 ---------------------------
fake_start nonblocking
cli nb --nonblocking
expect_rc nb 0
expect_eq "$(head -n 3 "$TMP/nb.out")" "$(printf '%s\n' OK \
    '+CIPUPDATE:1   found the server' '+CIPUPDATE:4   done: written and verified')" \
    "non-blocking: the output"
expect_grep "$TMP/nb.out" '^the new firmware runs after a restart: send AT\+RST'
expect_sent "non-blocking, no restart" 'AT+GMR\r\n' 'AT+CIUPDATE=0,,,1\r\n'
# --restart: AT+RST once +CIPUPDATE:4 came, "ready", then AT+GMR
cli nbr --mode 1 --nonblocking --restart
expect_rc nbr 0
expect_grep "$TMP/nbr.out" '^\+CIPUPDATE:1 +found the server$'
expect_grep "$TMP/nbr.out" '^\+CIPUPDATE:3 +got the version to download$'
expect_grep "$TMP/nbr.out" '^upgraded: v1\.0\.0\.0\(WROOM-32\) -> v2\.0\.0\.0\(WROOM-32\)$'
expect_sent "non-blocking with --restart" 'AT+GMR\r\n' 'AT+CIUPDATE=1,,,1\r\n' 'AT+RST\r\n' 'AT+GMR\r\n'
expect_in_after "--restart: AT+RST before +CIPUPDATE:4" 1 'AT+RST\r\n' 1 '+CIPUPDATE:4\r\n'
expect_in_after "--restart: AT+GMR before \"ready\"" 2 'AT+GMR\r\n' 1 '\r\nready\r\n'
# +CIPUPDATE:-1: exit 1
cli nbf --nonblocking --version v2.0.0.0
expect_rc nbf 1
expect_grep "$TMP/nbf.out" '^\+CIPUPDATE:-1 +failed$'
expect_eq "$(wc -l <"$TMP/nbf.err")" 1 "+CIPUPDATE:-1: stderr lines"
expect_grep "$TMP/nbf.err" '^atota: AT\+CIUPDATE=0,"v2\.0\.0\.0",,1: \+CIPUPDATE:-1: the download failed'
# refused at once (e.g. an update already running)
cli nbe --mode 1 --nonblocking --version v2.0.0.0
expect_rc nbe 1
expect_grep "$TMP/nbe.err" 'ERROR: the module refused the command'
# a custom partition: no AT+GMR, no restart needed
cli nbc --nonblocking --name mqtt_ca
expect_rc nbc 0
expect_grep "$TMP/nbc.out" "^updated partition 'mqtt_ca'$"
expect_sent "non-blocking mqtt_ca" 'AT+CIUPDATE=0,,"mqtt_ca",1\r\n'
fake_stop

# ---- --list and --state -------------------------------------------------------------------------
fake_start queries
cli list --list
expect_rc list 0
expect_eq "$(cat "$TMP/list.out")" "$(printf '%s\n' v4.1.0.0 v4.0.0.0 v3.2.0.0)" "--list: the versions"
expect_sent "--list" 'AT+CIPFWVER?\r\n'
cli list0 --list
expect_rc list0 0
expect_eq "$(cat "$TMP/list0.out")" "" "--list, no versions: the output"
expect_grep "$TMP/list0.err" 'the server lists no versions'
cli liste --list
expect_rc liste 1
expect_grep "$TMP/liste.err" "^atota: AT\\+CIPFWVER\\?: ERROR: the module could not list the server's versions"
for want in '4: done: written and verified' '-1: failed' \
    '2: connected to the server (an update is running)' '0: idle: no update since the module started'; do
    cli state --state
    expect_rc state 0
    expect_eq "$(cat "$TMP/state.out")" "state $want" "--state"
    expect_sent "--state" 'AT+CIUPDATE?\r\n'
done
cli state --state
expect_rc state 1
expect_grep "$TMP/state.err" 'OK without a \+CIUPDATE:<state> line'
fake_stop

# ---- timeouts ----------------------------------------------------------------------------------
fake_start silent
cli t1 --name mqtt_ca --timeout 2
expect_rc t1 1
expect_grep "$TMP/t1.err" '^atota: AT\+CIUPDATE=0,,"mqtt_ca": no OK or ERROR within 2 s \(the last progress: found the server\)$'
checks=$((checks + 1))
[ "$MS" -ge 2000 ] && [ "$MS" -le 6000 ] || fail "timeout 2 s: exit after $MS ms"
cli t2 --timeout 2
expect_rc t2 1
expect_grep "$TMP/t2.err" 'OK, but no "ready" within 2000 ms'
cli t3 --nonblocking --timeout 2
expect_rc t3 1
expect_grep "$TMP/t3.err" 'no \+CIPUPDATE:4 or -1 within 2 s \(the last progress: connected to the server\)$'
cli t4 --state --timeout 1
expect_rc t4 1
expect_grep "$TMP/t4.err" '^atota: AT\+CIUPDATE\?: no final result \(OK or ERROR\) within 1000 ms$'
fake_stop

# ---- echo off, busy p... ------------------------------------------------------------------------
fake_start busy --echo 0
cli busy --name mqtt_ca
expect_rc busy 0
expect_grep "$TMP/busy.out" "^updated partition 'mqtt_ca'$"
expect_sent "busy p..." 'AT+CIUPDATE=0,,"mqtt_ca"\r\n' 'AT+CIUPDATE=0,,"mqtt_ca"\r\n'
fake_stop

# A port nobody listens on: exit 1, one line.
expect_fail "$ATOTA" ciupdate --port tcp:127.0.0.1:1 --state
pass
