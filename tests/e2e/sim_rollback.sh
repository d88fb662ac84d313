#!/usr/bin/env bash
# AT+SYSROLLBACK on a flash with two images: both versions reported, the slot switched by an
# in-process reboot, the choice kept in otadata across kill -9 and a new process.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"

# v2 carries its own firmware configuration (another module name): the image's configuration
# comes with it when it runs, as ESP-AT's compile-time options do on a real module.
"$ATOTA" image create --chip esp32 --version v1.0.0.0 --project esp-at --idf-ver v5.4.1 \
    -o "$TMP/v1.bin" >/dev/null || fail "image create v1"
"$ATOTA" image create --chip esp32 --version v2.0.0.0 --project esp-at --idf-ver v5.4.1 \
    --config module_name=ACME-AT --config ota_host=ota.example.com -o "$TMP/v2.bin" >/dev/null \
    || fail "image create v2"
flash="$TMP/two.flash"
"$ATOTA" flash create --module esp32-wroom-32 --app "$TMP/v1.bin" --ota1 "$TMP/v2.bin" -o "$flash" \
    >/dev/null || fail "flash create"

sim_start rb --flash "$flash"
at "$TMP/q1.txt" AT+SYSROLLBACK? AT+GMR
expect_grep "$TMP/q1.txt" '^\+SYSROLLBACK:0x100000,"v1\.0\.0\.0",0x280000,"v2\.0\.0\.0"$'
expect_grep "$TMP/q1.txt" '^Bin version:v1\.0\.0\.0\(WROOM-32\)$'

# Switch: OK, restart, ready, and the other image runs.
raw 'drain:100' 'send:AT+SYSROLLBACK\r\n' 'expect:AT+SYSROLLBACK\r\n\r\nOK\r\n\r\nready\r\n' 'quiet:100'
at "$TMP/q2.txt" AT+SYSROLLBACK? AT+GMR
expect_grep "$TMP/q2.txt" '^\+SYSROLLBACK:0x280000,"v2\.0\.0\.0",0x100000,"v1\.0\.0\.0"$'
expect_grep "$TMP/q2.txt" '^Bin version:v2\.0\.0\.0\(ACME-AT\)$'
expect_grep "$TMP/rb.log" 'booted ota_1 at 0x280000'

# A power cut (kill -9) and a new process: ota_1 still boots.
sim_stop 9
"$ATOTA" flash info "$flash" >"$TMP/info.txt" || fail "flash info after kill -9"
expect_grep "$TMP/info.txt" '^Boots: ota_1 at 0x280000, version "v2\.0\.0\.0"$'
sim_start rb2 --flash "$flash"
at "$TMP/q3.txt" AT+GMR AT+SYSROLLBACK
expect_grep "$TMP/q3.txt" '^Bin version:v2\.0\.0\.0\(ACME-AT\)$'
expect_grep "$TMP/q3.txt" '^ready$'
at "$TMP/q4.txt" AT+GMR
expect_grep "$TMP/q4.txt" '^Bin version:v1\.0\.0\.0\(WROOM-32\)$'
sim_stop

# With one image only, there is nothing to roll back to.
sim_start rb3 --flash "$TMP/one.flash"
at "$TMP/q5.txt" AT+SYSROLLBACK?
expect_grep "$TMP/q5.txt" '^\+SYSROLLBACK:0x100000,"v4\.1\.0\.0",0x280000,""$'
expect_fail "$ATOTA" at --port "$SIM_PORT" AT+SYSROLLBACK
expect_grep "$TMP/stdout" '^ERROR$'
at "$TMP/q6.txt" AT+GMR
expect_grep "$TMP/q6.txt" '^Bin version:v4\.1\.0\.0\(WROOM-32\)$'
sim_stop
pass
