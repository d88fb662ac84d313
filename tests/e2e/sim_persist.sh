#!/usr/bin/env bash
# What a module keeps in its flash: settings and the saved station survive AT+RST (in-process
# reboot) and kill -9 (a power cut) followed by a new process on the same flash file.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"

flash="$TMP/module.flash"
sim_start p1 --flash "$flash" --tcp 127.0.0.1:0 --ap atota:atota-pass --ap other:secret123
at "$TMP/a.txt" AT+UART_DEF=921600,8,1,0,0 AT+CWMODE=1 'AT+CWJAP="atota","atota-pass"' \
    AT+SYSMSG=4 AT+UART_DEF? AT+CWJAP?
expect_grep "$TMP/a.txt" '^\+UART_DEF:921600,8,1,0,0$'
expect_grep "$TMP/a.txt" '^\+CWJAP:"atota","[0-9a-f:]{17}",[0-9]+,-?[0-9]+'
expect_grep "$TMP/p1.log" 'UART set to 921600 baud'

# AT+RST: the settings stay, the station reconnects by itself after ready.
raw 'send:AT+RST\r\n' 'timeout:10000' 'expect:AT+RST\r\n\r\nOK\r\n\r\nready\r\n' \
    'expect:WIFI CONNECTED\r\nWIFI GOT IP\r\n' 'quiet:100'
at "$TMP/b.txt" AT+UART_DEF? AT+SYSMSG? AT+CWJAP?
expect_grep "$TMP/b.txt" '^\+UART_DEF:921600,8,1,0,0$'
expect_grep "$TMP/b.txt" '^\+SYSMSG:4$'
expect_grep "$TMP/b.txt" '^\+CWJAP:"atota",'

# With AT+SYSSTORE=0 a change lives until the next restart only.
at "$TMP/c.txt" AT+SYSSTORE=0 AT+CWMODE=3 AT+CWMODE? AT+RST AT+CWMODE? AT+SYSSTORE?
expect_eq "$(grep '^+CWMODE:' "$TMP/c.txt" | tr '\n' ' ')" "+CWMODE:3 +CWMODE:1 " "CWMODE with SYSSTORE=0"

# A power cut: kill -9, then a new process on the same file.
sim_stop 9
sim_start p2 --flash "$flash" --tcp 127.0.0.1:0 --ap atota:atota-pass
at "$TMP/d.txt" AT+UART_DEF? AT+CWMODE? AT+CWJAP? AT+SYSMSG?
expect_grep "$TMP/d.txt" '^\+UART_DEF:921600,8,1,0,0$'
expect_grep "$TMP/d.txt" '^\+CWMODE:1$'
expect_grep "$TMP/d.txt" '^\+SYSMSG:4$'
# The saved station joins again by itself (auto-connect) once the module is up.
for i in $(seq 50); do
    "$ATOTA" at --port "$SIM_PORT" AT+CWJAP? >"$TMP/j.txt" 2>&1 && grep -q '^+CWJAP:"atota"' "$TMP/j.txt" && break
    sleep 0.1
done
expect_grep "$TMP/j.txt" '^\+CWJAP:"atota","[0-9a-f:]{17}",'

# Kill -9 in the middle of a burst of settings writes, many times: the flash always boots and
# NVS holds one of the values written (old or new, never garbage).
for i in 1 2 3 4 5; do
    burst=""
    for j in $(seq 20); do burst+="AT+UART_DEF=$((115200 * (j % 2 + 1))),8,1,0,0\\r\\n"; done
    $AT_RAW "$SIM_PORT" "send:$burst" >/dev/null 2>&1 || true
    sleep 0.0$i
    sim_stop 9
    sim_start p3 --flash "$flash" --tcp 127.0.0.1:0
    at "$TMP/e.txt" AT+UART_DEF?
    expect_grep "$TMP/e.txt" '^\+UART_DEF:(115200|230400|921600),8,1,0,0$'
done

# AT+RESTORE: back to the factory settings.
at "$TMP/f.txt" AT+RESTORE AT+UART_DEF? AT+CWJAP?
expect_grep "$TMP/f.txt" '^\+UART_DEF:115200,8,1,0,[0-9]$'
grep -q '^+CWJAP:"atota"' "$TMP/f.txt" && fail "AT+RESTORE kept the saved station"
sim_stop
pass
