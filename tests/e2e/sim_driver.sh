#!/usr/bin/env bash
# The start-up sequence of a typical ESP-AT host driver (AT+RST, ATE0, AT+GMR, AT+CMD?, ...,
# AT+CWJAP, AT+CIPSTA?), sent with `atota at` on both transports: OK everywhere, and the reply
# lines in the shapes drivers parse.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"

check_shapes() {
    local out=$1
    expect_grep "$out" '^ready$'
    # esp-at-ota.md §1.5: "AT version:%d.%d.%d.%d%s(%s%s - %s - %s %s)", __DATE__ "Mmm dd yyyy"
    expect_grep "$out" '^AT version:4\.1\.0\.0\([0-9a-f]{7} - ESP32 - [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\)$'
    expect_grep "$out" '^compile time\([0-9a-f]{8}\):[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}$'
    expect_grep "$out" '^SDK version:'
    expect_grep "$out" '^Bin version:v4\.1\.0\.0\(WROOM-32\)$'
    expect_grep "$out" '^\+CMD:[0-9]+,"AT\+GMR",0,0,0,1$'
    expect_grep "$out" '^\+CMD:[0-9]+,"AT\+CWJAP",[01],1,1,1$'
    expect_grep "$out" '^\+SYSMSG:4$'
    expect_grep "$out" '^\+RFPOWER:[0-9]+,[0-9]+,[0-9]+,[0-9]+$'
    expect_grep "$out" '^\+CWDHCP:3$' # station and softAP DHCP on: ESP-AT's default
    expect_grep "$out" '^STATUS:1$' # before the join (docs/wifi.md)
    expect_grep "$out" '^WIFI CONNECTED$'
    expect_grep "$out" '^WIFI GOT IP$'
    expect_grep "$out" '^\+CIPSTA:ip:"([0-9]{1,3}\.){3}[0-9]{1,3}"$'
    expect_grep "$out" '^\+CIPSTA:gateway:"([0-9]{1,3}\.){3}[0-9]{1,3}"$'
    expect_grep "$out" '^\+CIPSTA:netmask:"([0-9]{1,3}\.){3}[0-9]{1,3}"$'
    # +CWJAP:<ssid>,<bssid>,<channel>,<rssi>,<pci_en>,<reconn_interval>,<listen_interval>,
    #        <scan_mode>,<pmf>
    expect_grep "$out" '^\+CWJAP:"atota","([0-9a-f]{2}:){5}[0-9a-f]{2}",[0-9]{1,2},-[0-9]{1,3},[01],[0-9]+,[0-9]+,[01],[0-9]$'
    expect_grep "$out" '^\+CMD:0,"AT",0,0,0,1$'
    # Every command ended in OK: 20 commands, 20 OKs; no ERROR.
    expect_eq "$(grep -c '^OK$' "$out")" 20 "OK lines in $out"
    grep -q 'ERROR' "$out" && fail "an ERROR in $out"
}

driver=(AT+RST ATE0 AT+GMR 'AT+CMD?' AT+SYSMSG=4 'AT+SYSMSG?' AT+SYSLOG=1 AT+RFPOWER=80
    'AT+RFPOWER?' AT+CWMODE=1 'AT+CWDHCP?' AT+CIPMUX=1 AT+CIPRECVMODE=1 AT+CWLAPOPT=1,2047
    AT+CIPSTATUS 'AT+CIPSTATE?' AT+CIPDINFO=1 'AT+CWJAP="atota","atota-pass"' 'AT+CIPSTA?'
    'AT+CWJAP?')

sim_start drv-pty --flash "$TMP/pty.flash"
at "$TMP/pty.txt" --timeout 20000 "${driver[@]}"
check_shapes "$TMP/pty.txt"
sim_stop

sim_start drv-tcp --flash "$TMP/tcp.flash" --tcp localhost:0
expect_grep "$TMP/drv-tcp.out" '^atota-sim: AT port on tcp:localhost:[0-9]+$'
at "$TMP/tcp.txt" --timeout 20000 "${driver[@]}"
check_shapes "$TMP/tcp.txt"
# The same driver with echo on: atota at leaves the echo out either way.
at "$TMP/echo.txt" ATE1 AT+GMR AT+CIPSTATUS
grep -q '^AT+' "$TMP/echo.txt" && fail "echo in atota at's output"
expect_grep "$TMP/echo.txt" '^STATUS:2$'
sim_stop
pass
