#!/usr/bin/env bash
# A real ESP-AT module's flash, as Espressif ships it for flashing at 0x0 (ESP-AT v2.0 for
# ESP32-WROOM-32: bootloader, partitions_at.bin, ota_data_initial.bin, at_customize.bin, esp-at.bin
# merged at the offsets of its download.config), boots in atota-sim; and the refusals: a flash
# file that is not a flash, a flash without an app, an unknown module, a bad command line.
set -u
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/sim.sh"

# Offsets: vectors/MANIFEST.md and the .expected.txt of each file (partitions_at.bin at 0x8000
# puts at_customize at 0x20000 and ota_0 at 0x100000).
merged="$TMP/esp-at-v2.0.flash"
python3 - "$VECTORS" "$merged" <<'PY'
import sys
v, out = sys.argv[1], sys.argv[2]
parts = [(0x1000, "bootloader/esp32_idf3.3_esp-at-v2.0_bootloader.bin"),
         (0x8000, "parttable/esp32_esp-at-v2.0_partitions_at.bin"),
         (0x10000, "otadata/idf_ota_data_initial.bin"),
         (0x20000, "at_customize/esp32_esp-at-v2.0_at_customize.bin"),
         (0x100000, "app/esp32_idf3.3_esp-at-v2.0_esp-at.bin")]
img = bytearray()
for off, name in parts:
    data = open(v + "/" + name, "rb").read()
    img += b"\xff" * (off - len(img))
    img += data
open(out, "wb").write(img)
PY
size_before=$(stat -c %s "$merged")
"$ATOTA" flash info "$merged" >"$TMP/info.txt" || fail "flash info on the merged ESP-AT image"
expect_grep "$TMP/info.txt" '^Boots: ota_0 at 0x100000, version "ESP-AT"$'

sim_start espat --flash "$merged"
at "$TMP/gmr.txt" AT AT+GMR AT+SYSROLLBACK? AT+SYSFLASH?
expect_grep "$TMP/gmr.txt" '^SDK version:v3\.3$'
expect_grep "$TMP/gmr.txt" '^Bin version:ESP-AT\(WROOM-32\)$'
expect_grep "$TMP/gmr.txt" '^\+SYSROLLBACK:0x100000,"ESP-AT",0x280000,""$'
# The partitions of ESP-AT v2.0's own at_customize.bin (not the profile's).
expect_grep "$TMP/gmr.txt" '^\+SYSFLASH:"ble_data",64,1,0x21000,0x3000$'
expect_grep "$TMP/gmr.txt" '^\+SYSFLASH:"factory_param",64,8,0x30000,0x1000$'
# The merged image ends early: the file becomes the module's whole 4 MB flash.
expect_eq "$(stat -c %s "$merged")" 4194304 "merged image extended to the flash size"
[ "$size_before" -lt 4194304 ] || fail "the merged image was not shorter than the flash"
# The bootloader recorded ota_0 in otadata, as the real one does.
sim_stop
"$ATOTA" flash info "$merged" >"$TMP/info2.txt" || fail "flash info after the sim"
expect_grep "$TMP/info2.txt" 'copy 0: seq 0x00000001 state .* -> valid'

# Neither image in vectors/flash is an ESP-AT module (an SBv1 dump without its app, a C61
# hello-world): nothing to boot there.

# Refusals: exit 1 with one line on stderr, before any port line.
head -c 8192 /dev/urandom >"$TMP/noise.flash"
expect_fail timeout 20 "$ATOTA_SIM" --flash "$TMP/noise.flash"
expect_grep "$TMP/stderr" '^atota-sim: .*noise\.flash: cannot boot: '
head -c 1048576 "$merged" >"$TMP/noapp.flash"
expect_fail timeout 20 "$ATOTA_SIM" --flash "$TMP/noapp.flash"
expect_grep "$TMP/stderr" '^atota-sim: .*noapp\.flash: cannot boot: .*(bootable|app)'
expect_fail timeout 20 "$ATOTA_SIM" --flash "$TMP/new.flash" --module nosuch
expect_grep "$TMP/stderr" "unknown module profile 'nosuch'"
[ ! -e "$TMP/new.flash" ] || fail "a flash file was created for an unknown module"
mkdir -p "$TMP/dir.flash"
expect_fail timeout 20 "$ATOTA_SIM" --flash "$TMP/dir.flash"
expect_fail timeout 20 "$ATOTA_SIM" --flash "$TMP/x.flash" --tcp nonsense
timeout 20 "$ATOTA_SIM" --pty >/dev/null 2>&1
expect_eq $? 2 "atota-sim without --flash"
timeout 20 "$ATOTA_SIM" --flash "$TMP/x.flash" --pty --stdio >/dev/null 2>&1
expect_eq $? 2 "atota-sim with two transports"

# --stdio: commands on standard input, replies on standard output; the end of input ends it.
printf 'ATE0\r\nAT+GMR\r\nAT+RST\r\nAT\r\n' | timeout 20 "$ATOTA_SIM" --flash "$merged" --stdio \
    >"$TMP/stdio.out" 2>"$TMP/stdio.err"
expect_eq $? 0 "atota-sim --stdio exit status"
expect_eq "$(head -c 21 "$TMP/stdio.out" | od -An -c | tr -s ' ')" \
    "$(printf '\r\nready\r\nATE0\r\n\r\nOK\r\n' | od -An -c | tr -s ' ')" "stdio: ready, echo, OK"
expect_grep "$TMP/stdio.out" '^Bin version:ESP-AT\(WROOM-32\)'
expect_eq "$(grep -c '^ready' "$TMP/stdio.out")" 2 "stdio: ready after AT+RST"
pass
