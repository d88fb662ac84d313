#!/usr/bin/env bash
# atota-sim on a pty: a new flash file with the factory firmware, "ready" on boot, and the AT
# engine's exact bytes (echo, ERROR with ERR CODE, busy, omitted parameters, the data prompt),
# seen by a raw client that closes and reopens the port between exchanges.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"

flash="$TMP/module.flash"
sim_start pty --flash "$flash"
expect_grep "$TMP/pty.out" "^atota-sim: created .*module.flash: esp32-wroom-32 \(ESP32, 4 MB\) with the factory firmware v4.1.0.0$"
expect_grep "$TMP/pty.out" '^atota-sim: AT port on /dev/pts/[0-9]+$'
expect_eq "$(stat -c %s "$flash")" 4194304 "new flash file size"

# "ready" waits in the pty for the first client (esp-at-ota.md §1.2).
raw 'expect:\r\nready\r\n' 'quiet:100'
# Echo on by default: the line verbatim, then the result (§1.3).
raw 'send:AT\r\n' 'expect:AT\r\n\r\nOK\r\n' 'quiet:50'
raw 'send:ATE0\r\n' 'expect:ATE0\r\n\r\nOK\r\n' 'send:AT\r\n' 'expect:\r\nOK\r\n' 'quiet:50'
# Unknown command: ERROR; with AT+SYSLOG=1 the code line first (§1.2: AT+FAKE -> 0x01090000).
raw 'send:AT+FAKE\r\n' 'expect:\r\nERROR\r\n'
raw 'send:AT+SYSLOG=1\r\n' 'expect:\r\nOK\r\n' 'send:AT+FAKE\r\n' \
    'expect:ERR CODE:0x01090000\r\n\r\nERROR\r\n' 'quiet:50'
raw 'send:AT+SYSLOG?\r\n' 'expect:+SYSLOG:1\r\n\r\nOK\r\n'
# A command still running (a Wi-Fi join takes a while) answers the next line with busy.
raw 'timeout:10000' 'send:AT+CWJAP="atota","atota-pass"\r\nAT\r\n' \
    'expect:ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n' \
    'expect:WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n' 'quiet:100'
# Omitted parameters keep their commas (§1.1): bssid..scan_mode omitted, jap_timeout given.
raw 'timeout:10000' 'send:AT+CWJAP="atota","atota-pass",,,,,,15\r\n' \
    'expect:WIFI DISCONNECT\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n' 'quiet:100'
raw 'send:AT+CWJAP="atota","wrong-pass"\r\n' 'timeout:20000' \
    'expect:WIFI DISCONNECT\r\n+CWJAP:2\r\nERR CODE:0x010a0000\r\n\r\nERROR\r\n' 'quiet:100'
# atota at meets busy too: it waits until the port is quiet and sends its command again.
$AT_RAW "$SIM_PORT" 'send:AT+CWJAP="atota","atota-pass"\r\n' || fail "raw send"
at "$TMP/busy.txt" AT+CWMODE?
expect_eq "$(tr '\n' ' ' <"$TMP/busy.txt")" "+CWMODE:1 OK " "atota at after busy"
expect_grep "$TMP/at.err" '^atota: AT\+CWMODE\?: the module was busy; sending it again$'
raw 'send:ATE1\r\n' 'expect:\r\nOK\r\n'

# AT+GMR reports the running image's version (§1.5).
at "$TMP/gmr.txt" AT+GMR
expect_grep "$TMP/gmr.txt" '^AT version:[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+.*\(.* - ESP32 - .*\)$'
expect_grep "$TMP/gmr.txt" '^SDK version:v5\.4\.1$'
expect_grep "$TMP/gmr.txt" '^compile time\(.*\):Jan  1 2025 00:00:00$'
expect_grep "$TMP/gmr.txt" '^Bin version:v4\.1\.0\.0\(WROOM-32\)$'
expect_grep "$TMP/gmr.txt" '^OK$'
[ "$(grep -c 'AT+GMR' "$TMP/gmr.txt")" -eq 0 ] || fail "atota at printed the echo"

# AT+SYSFLASH round trip through the data prompt (§5.4): erase, write 16 bytes, read them back.
raw 'send:ATE0\r\n' 'expect:ATE0\r\n\r\nOK\r\n'
raw 'send:AT+SYSFLASH=0,"mfg_nvs",0,4096\r\n' 'expect:\r\nOK\r\n'
raw 'send:AT+SYSFLASH=1,"mfg_nvs",0,16\r\n' 'expect:\r\nOK\r\n\r\n>' 'quiet:100' \
    'send:0123456789abcdef' 'expect:\r\nOK\r\n' 'quiet:50'
raw 'send:AT+SYSFLASH=2,"mfg_nvs",0,16\r\n' 'expect:+SYSFLASH:16,0123456789abcdef\r\n\r\nOK\r\n'
expect_eq "$(dd if="$flash" bs=1 skip=$((0x21000)) count=16 status=none)" 0123456789abcdef \
    "bytes in the flash file"
# A write onto bytes that are not erased fails, as on NOR flash.
raw 'send:AT+SYSFLASH=1,"mfg_nvs",0,4\r\n' 'expect:\r\nOK\r\n\r\n>' 'send:zzzz' \
    'expect:ERR CODE:0x010a0000\r\n\r\nERROR\r\n'
# The same through atota at --data.
printf 'hello, flash' >"$TMP/data.bin"
at "$TMP/sysflash.txt" AT+SYSFLASH=0,\"mfg_nvs\",0x1000,0x1000 AT+SYSFLASH=1,\"mfg_nvs\",0x1000,12 \
    AT+SYSFLASH=2,\"mfg_nvs\",0x1000,12 --data "$TMP/data.bin"
expect_grep "$TMP/sysflash.txt" '^>$'
expect_grep "$TMP/sysflash.txt" '^\+SYSFLASH:12,hello, flash$'

# atota at: exit 1 with one line on ERROR, the reply still printed.
expect_fail "$ATOTA" at --port "$SIM_PORT" AT AT+FAKE AT
expect_grep "$TMP/stderr" '^atota: AT\+FAKE: ERROR$'
expect_grep "$TMP/stdout" '^ERR CODE:0x01090000$'
expect_eq "$(grep -c '^OK$' "$TMP/stdout")" 1 "commands run before the failing one"
# A prompt nobody asked data for is an error too.
expect_fail "$ATOTA" at --port "$SIM_PORT" --timeout 2000 AT+SYSFLASH=1,\"mfg_nvs\",0x2000,1
expect_grep "$TMP/stderr" 'waits for data'
raw 'send:x' 'expect:\r\nOK\r\n' 'drain:100'
# PATH@BAUD: the baud rate is set on the port (a pty ignores it).
at "$TMP/baud.txt" --port "$SIM_PORT@921600" AT
"$ATOTA" at --port "$SIM_PORT@12345" AT >/dev/null 2>&1
expect_eq $? 2 "atota at with an unsupported baud rate"
"$ATOTA" at --port "$SIM_PORT" >/dev/null 2>&1
expect_eq $? 2 "atota at without a command"
"$ATOTA" at --port tcp:nonsense AT >/dev/null 2>&1
expect_eq $? 2 "atota at with a bad port"

sim_stop
expect_eq "$SIM_RC" 0 "exit status after SIGTERM"
expect_grep "$TMP/pty.log" 'stopped'
pass
