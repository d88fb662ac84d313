#!/usr/bin/env bash
# atota-sim on TCP: port 0 picks a free port, one client at a time (a second one waits until the
# first leaves), output without a client is dropped, AT+RST reboots in-process and says ready.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"

flash="$TMP/module.flash"
sim_start tcp --flash "$flash" --tcp 127.0.0.1:0
expect_grep "$TMP/tcp.out" '^atota-sim: AT port on tcp:127\.0\.0\.1:[1-9][0-9]*$'

# "ready" went out before anyone connected: dropped, as on a UART with nothing attached.
raw 'quiet:200' 'send:AT\r\n' 'expect:AT\r\n\r\nOK\r\n'
raw 'send:AT+RST\r\n' 'expect:AT+RST\r\n\r\nOK\r\n\r\nready\r\n' 'quiet:100'
raw 'send:ATE0\r\nAT+SYSLOG=1\r\n' 'expect:ATE0\r\n\r\nOK\r\n\r\nOK\r\n' \
    'send:AT+GMR=?\r\n' 'expect:ERR CODE:0x010c0000\r\n\r\nERROR\r\n'
# Echo and syslog are not kept across a restart (ESP-AT's defaults come back).
raw 'send:AT+RST\r\n' 'expect:\r\nOK\r\n\r\nready\r\n' 'send:AT\r\n' 'expect:AT\r\n\r\nOK\r\n'
at "$TMP/gmr.txt" AT AT+GMR
expect_grep "$TMP/gmr.txt" '^Bin version:v4\.1\.0\.0\(WROOM-32\)$'
at "$TMP/rst.txt" AT+RST AT
expect_eq "$(tr '\n' ' ' <"$TMP/rst.txt")" "OK ready OK " "atota at waits for ready after AT+RST"

# One client at a time: the second waits in the backlog and is served once the first leaves.
exec 3<>"/dev/tcp/127.0.0.1/${SIM_PORT##*:}"
printf 'AT\r\n' >&3
$AT_RAW "$SIM_PORT" 'send:AT+CWMODE?\r\n' 'expect:AT+CWMODE?\r\n+CWMODE:1\r\n\r\nOK\r\n' \
    >"$TMP/second.out" 2>&1 3>&- &
second=$!
sleep 0.5
kill -0 $second 2>/dev/null || { cat "$TMP/second.out" >&2; fail "the second client was served while the first was connected"; }
read -r -t 5 line <&3
expect_eq "$line" $'AT\r' "first client's echo"
exec 3>&-
wait $second || { cat "$TMP/second.out" >&2; fail "the second client was not served after the first left"; }
checks=$((checks + 1))
expect_grep "$TMP/tcp.log" 'client connected from 127\.0\.0\.1'

# atota at on a port that never answers: exit 1 after --timeout, one line.
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); c, _ = s.accept(); time.sleep(10)' >"$TMP/silent.port" &
silent=$!
SIM_PIDS="$SIM_PIDS $silent"
for i in $(seq 100); do [ -s "$TMP/silent.port" ] && break; sleep 0.05; done
expect_fail "$ATOTA" at --port "tcp:127.0.0.1:$(cat "$TMP/silent.port")" --timeout 300 AT
expect_grep "$TMP/stderr" '^atota: AT: no final result \(OK or ERROR\) within 300 ms$'
kill $silent 2>/dev/null
expect_fail "$ATOTA" at --port tcp:127.0.0.1:1 AT
expect_grep "$TMP/stderr" 'cannot connect to tcp:127\.0\.0\.1:1'

# Two simulators at once, each on its own port and flash.
sim1_port=$SIM_PORT
sim_start tcp2 --flash "$TMP/other.flash" --tcp 127.0.0.1:0 --module esp32-c3-mini-1
[ "$SIM_PORT" != "$sim1_port" ] || fail "two simulators on one port"
at "$TMP/gmr2.txt" AT+GMR
expect_grep "$TMP/gmr2.txt" '^Bin version:v4\.1\.0\.0\(MINI-1\)$'
expect_grep "$TMP/gmr2.txt" '^AT version:.* - ESP32C3 - '
sim_stop INT
expect_eq "$SIM_RC" 0 "exit status after SIGINT"
pass
