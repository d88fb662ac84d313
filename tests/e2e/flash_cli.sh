#!/usr/bin/env bash
# atota flash create / info / modules, through the CLI, on made and real flash images.
set -u
. "$(dirname "$0")/lib/common.sh"

"$ATOTA" flash modules >"$TMP/modules.txt" || fail "flash modules failed"
expect_grep "$TMP/modules.txt" '^esp32-wroom-32 +esp32 +ESP32 +4 MB +module name WROOM-32$'
expect_grep "$TMP/modules.txt" '^esp32-c3-mini-1 +esp32c3 +ESP32-C3 +4 MB +module name MINI-1$'

for m in esp32-wroom-32:esp32:0x100000:0x280000 esp32-c3-mini-1:esp32c3:0x60000:0x230000; do
    IFS=: read -r module chip ota0 ota1 <<<"$m"
    "$ATOTA" image create --chip "$chip" --version v1.0.0 --project demo -o "$TMP/v1-$chip.bin" \
        >/dev/null || fail "image create $chip"
    "$ATOTA" image create --chip "$chip" --version v2.0.0 --project demo -o "$TMP/v2-$chip.bin" \
        >/dev/null || fail "image create v2 $chip"
    flash="$TMP/$module.flash"
    "$ATOTA" flash create --module "$module" --app "$TMP/v1-$chip.bin" -o "$flash" >/dev/null \
        || fail "flash create $module"
    expect_eq "$(stat -c %s "$flash")" 4194304 "$module flash size"
    # The partition table at 0x8000 is ESP-AT's partitions_at.bin, byte for byte.
    case $module in
        esp32-wroom-32) ref=module_esp32_default ;;
        esp32-c3-mini-1) ref=module_esp32c3_default ;;
    esac
    cmp <(dd if="$flash" bs=1024 skip=32 count=3 status=none) \
        <(head -c 3072 "$VECTORS/at_customize/esp-at-master/$ref/partitions_at.generated.bin") \
        || fail "$module: partition table differs from ESP-AT's partitions_at.bin"
    at_off=$("$ATOTA" flash info "$flash" | awk '$1 == "at_customize" {print $4}')
    cmp <(dd if="$flash" bs=1 skip=$((at_off)) count=3072 status=none) \
        "$VECTORS/at_customize/esp-at-master/$ref/at_customize.generated.bin" \
        || fail "$module: at_customize.bin differs from ESP-AT's"

    "$ATOTA" flash info "$flash" >"$TMP/info.txt" || fail "flash info $module"
    expect_grep "$TMP/info.txt" "^  ota_0 +app +ota_0 +$(printf '0x%08x' $((ota0))) .*app \"v1.0.0\""
    expect_grep "$TMP/info.txt" "^  ota_1 +app +ota_1 +$(printf '0x%08x' $((ota1))) .* empty$"
    expect_grep "$TMP/info.txt" '^    copy 0: seq 0xffffffff .* -> blank$'
    expect_grep "$TMP/info.txt" "^Boots: ota_0 at $(printf '0x%x' $((ota0))), version \"v1.0.0\"$"
    expect_grep "$TMP/info.txt" 'mfg_nvs'

    # Both slots filled.
    "$ATOTA" flash create --module "$module" --app "$TMP/v1-$chip.bin" --ota1 "$TMP/v2-$chip.bin" \
        -o "$TMP/both.flash" >/dev/null || fail "flash create --ota1"
    "$ATOTA" flash info "$TMP/both.flash" >"$TMP/info2.txt" || fail "flash info both"
    expect_grep "$TMP/info2.txt" '^  ota_1 .*app "v2.0.0"'
done

# Refusals: nothing is written when the input is invalid.
rm -f "$TMP/bad.flash"
expect_fail "$ATOTA" flash create --module esp32-wroom-32 --app "$TMP/v1-esp32c3.bin" -o "$TMP/bad.flash"
expect_grep "$TMP/stderr" 'v1-esp32c3.bin: not a valid app image for ESP32'
[ ! -e "$TMP/bad.flash" ] || fail "a flash file was written for a wrong-chip app"
expect_fail "$ATOTA" flash create --module nosuch --app "$TMP/v1-esp32.bin" -o "$TMP/bad.flash"
expect_grep "$TMP/stderr" "unknown module profile 'nosuch'"
head -c $(($(stat -c %s "$TMP/v1-esp32.bin") - 40)) "$TMP/v1-esp32.bin" >"$TMP/trunc.bin"
expect_fail "$ATOTA" flash create --module esp32-wroom-32 --app "$TMP/trunc.bin" -o "$TMP/bad.flash"
expect_grep "$TMP/stderr" 'trunc.bin: not a valid app image'
[ ! -e "$TMP/bad.flash" ] || fail "a flash file was written for a truncated app"
expect_fail "$ATOTA" flash info "$TMP/trunc.bin"
expect_grep "$TMP/stderr" 'trunc.bin: no partition table found'

# --at-customize: a table that replaces the profile's at_customize.bin (esp-at-ota.md §5.2), as
# CSV (gen_esp32part syntax) or binary, checked against the module's at_customize region
# (esp32-wroom-32: 0x20000-0xfffff, partitions from 0x21000). The legacy names AT+CIUPDATE knows.
cat >"$TMP/atc.csv" <<'EOF'
# Name, Type, SubType, Offset, Size
mfg_nvs, data, nvs, 0x21000, 112K
factory_param, 0x40, 8, 0x3D000, 4K
mqtt_ca, 0x40, 14, 0x3E000, 8K
fs_storage, data, 0xff, 0x70000, 576K
EOF
"$ATOTA" flash create --module esp32-wroom-32 --app "$TMP/v1-esp32.bin" --at-customize "$TMP/atc.csv" \
    -o "$TMP/atc.flash" >"$TMP/atc.create.txt" || fail "flash create --at-customize CSV"
expect_grep "$TMP/atc.create.txt" 'esp32-wroom-32 flash image for WROOM-32 .*, at_customize\.bin from .*atc\.csv$'
"$ATOTA" flash info "$TMP/atc.flash" >"$TMP/atc.info.txt" || fail "flash info --at-customize"
expect_grep "$TMP/atc.info.txt" '^    at_customize.bin: 4 partitions, MD5 row yes$'
expect_grep "$TMP/atc.info.txt" '^      factory_param +0x40 +0x08 +0x03d000 0x001000$'
expect_grep "$TMP/atc.info.txt" '^      mqtt_ca +0x40 +0x0e +0x03e000 0x002000$'
expect_grep "$TMP/atc.info.txt" '^Boots: ota_0 at 0x100000, version "v1.0.0"$'
# Byte for byte what gen_esp32part makes of the CSV at 0x20000 (`atota part gen`), MD5 row included.
dd if="$TMP/atc.flash" bs=1024 skip=128 count=3 status=none >"$TMP/atc.readback.bin"
"$ATOTA" part gen "$TMP/atc.csv" --offset 0x20000 -o "$TMP/atc.bin" || fail "part gen atc.csv"
cmp "$TMP/atc.readback.bin" "$TMP/atc.bin" || fail "at_customize.bin differs from part gen's"
"$ATOTA" part dump "$TMP/atc.readback.bin" --offset 0x20000 >"$TMP/atc.dump.csv" || fail "part dump"
expect_grep "$TMP/atc.dump.csv" '^factory_param,64,8,0x3d000,4K,$'
expect_grep "$TMP/atc.dump.csv" '^mqtt_ca,64,14,0x3e000,8K,$'
# The binary table gives the same flash; one without an MD5 row gets one, as the profile's has.
"$ATOTA" flash create --module esp32-wroom-32 --app "$TMP/v1-esp32.bin" --at-customize "$TMP/atc.bin" \
    -o "$TMP/atc-bin.flash" >/dev/null || fail "flash create --at-customize BIN"
cmp "$TMP/atc.flash" "$TMP/atc-bin.flash" || fail "the flash from the binary table differs"
"$ATOTA" part gen "$TMP/atc.csv" --offset 0x20000 --disable-md5sum -o "$TMP/atc-nomd5.bin" \
    || fail "part gen --disable-md5sum"
"$ATOTA" flash create --module esp32-wroom-32 --app "$TMP/v1-esp32.bin" \
    --at-customize "$TMP/atc-nomd5.bin" -o "$TMP/atc-nomd5.flash" >/dev/null \
    || fail "flash create --at-customize BIN without MD5"
cmp "$TMP/atc.flash" "$TMP/atc-nomd5.flash" || fail "the MD5 row was not added"
# Refusals, with the reason in gen_esp32part's words and no flash file left behind.
# refuse_atc NAME REGEX: $TMP/NAME.csv (or NAME.bin) is refused with REGEX on stderr.
refuse_atc() {
    local in="$TMP/$1.csv"
    [ -e "$in" ] || in="$TMP/$1.bin"
    rm -f "$TMP/refused.flash"
    expect_fail "$ATOTA" flash create --module esp32-wroom-32 --app "$TMP/v1-esp32.bin" \
        --at-customize "$in" -o "$TMP/refused.flash"
    expect_grep "$TMP/stderr" "$2"
    checks=$((checks + 1))
    [ -z "$(find "$TMP" -maxdepth 1 -name 'refused.flash*')" ] || fail "$1: a flash file was left behind"
}
printf 'mfg_nvs, data, nvs, 0x21000, 112K\nmqtt_ca, 0x40, 14, 0x100000, 8K\n' >"$TMP/outside.csv"
refuse_atc outside "^atota: .*outside\.csv: partition 'mqtt_ca' invalid: 0x2000 bytes at 0x100000 are outside the at_customize region of esp32-wroom-32 \(0x20000-0xfffff"
printf 'mqtt_ca, 0x40, 14, 0xFF000, 8K\n' >"$TMP/straddle.csv"
refuse_atc straddle "straddle\.csv: partition 'mqtt_ca' invalid: 0x2000 bytes at 0xff000 are outside"
"$ATOTA" part gen "$TMP/outside.csv" --offset 0x20000 -o "$TMP/outside-table.bin" || fail "part gen outside"
refuse_atc outside-table "outside-table\.bin: partition 'mqtt_ca' invalid: .* outside the at_customize region"
printf 'mqtt_ca, 0x40, 14, 0x20000, 8K\n' >"$TMP/tablesector.csv"
refuse_atc tablesector "tablesector\.csv: line 1: partition 'mqtt_ca' at offset 0x20000 overlaps the partition table at 0x20000"
printf 'a, 0x40, 14, 0x30000, 8K\nb, 0x40, 15, 0x31000, 8K\n' >"$TMP/overlap.csv"
refuse_atc overlap "overlap\.csv: line 2: partition 'b' at offset 0x31000 overlaps"
printf 'mqtt_ca, 0x40, 14, 0x30000\n' >"$TMP/syntax.csv"
refuse_atc syntax "syntax\.csv: line 1: Size field can't be empty"

# Real merged images made by Espressif's tools (vectors/flash).
"$ATOTA" flash info "$VECTORS/flash/esp32c61_idf5.3.3_full_flash.bin" >"$TMP/c61.txt" \
    || fail "flash info on the C61 merged image"
expect_grep "$TMP/c61.txt" '^Bootloader at 0x0: ESP32-C61, 3 segments, .*valid$'
expect_grep "$TMP/c61.txt" '^  factory +app +factory +0x00010000 0x00100000 app "1" \(M5-STAMP-S3BAT-Test, ESP32-C61, IDF v5.3.3-dirty'
expect_grep "$TMP/c61.txt" '^Boots: factory at 0x10000, version "1"$'
"$ATOTA" flash info "$VECTORS/flash/esp32_idf5.1.6_sbv1_flash_dump_0x0-0x20000.bin" >"$TMP/sbv1.txt" \
    || fail "flash info on the SBv1 dump"
expect_grep "$TMP/sbv1.txt" '^Partition table at 0x10000: 3 partitions, MD5 row yes$'
expect_grep "$TMP/sbv1.txt" '^Bootloader at 0x1000: ESP32, 4 segments, .*valid$'
expect_grep "$TMP/sbv1.txt" '^  factory +app +factory +0x00020000 0x00100000 not contained in the file$'
pass
