#!/usr/bin/env bash
# atota image info against esptool v5.3.1 image-info on every app and bootloader vector; damaged
# files exit 1 with one line; image create -> info round trip; the §3 worked example via the CLI.
set -u
. "$(dirname "$0")/lib/common.sh"

# The esptool v5.3.1 report from "Image size:" on, without trailing blank lines.
esptool_report() {
    awk '/^==== esptool v5.3.1/{p=1;next} /^==== /{p=0} p' "$1" | sed -n '/^Image size/,$p' |
        sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}
# Our report, without our own Secure Boot section (esptool has none).
atota_report() {
    awk '/^Secure Boot$/{exit} {print}' "$1" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

n=0
for f in "$VECTORS"/app/*.bin "$VECTORS"/bootloader/*.bin; do
    name=${f#"$VECTORS"/}
    "$ATOTA" image info "$f" >"$TMP/out.txt" 2>"$TMP/err.txt"
    rc=$?
    [ $rc -eq 0 ] || { cat "$TMP/err.txt" >&2; fail "$name: exit $rc, expected 0"; }
    esptool_report "$f.expected.txt" >"$TMP/want.txt"
    atota_report "$TMP/out.txt" >"$TMP/got.txt"
    # The lines the task names must match exactly; the whole report is compared too.
    for re in '^ +[0-9]+  0x' '^Checksum:' '^Validation hash:' '^(Project name|App version|Compile time|ELF file SHA256|ESP-IDF|Minimal eFuse|Maximal eFuse|MMU page size|Secure version|Bootloader version):'; do
        expect_eq "$(grep -E "$re" "$TMP/got.txt")" "$(grep -E "$re" "$TMP/want.txt")" "$name: lines /$re/"
    done
    if ! diff -u "$TMP/want.txt" "$TMP/got.txt" >"$TMP/diff.txt"; then
        cat "$TMP/diff.txt" >&2
        fail "$name: report differs from esptool v5.3.1 (expected -, got +)"
    fi
    checks=$((checks + 1))
    n=$((n + 1))
done
expect_eq "$n" 20 "vectors compared"

# The signed vectors show their signature in our own section.
"$ATOTA" image info "$VECTORS/app/esp32_idf5.4_esp-at-v4.1.0.0-dev_sbv2-signed.bin" >"$TMP/sb.txt"
expect_grep "$TMP/sb.txt" '^Signature: Secure Boot V2 sector at 0x120000, 4096 bytes$'
expect_grep "$TMP/sb.txt" '^Signature block 0: valid CRC \(RSA\)$'
"$ATOTA" image info "$VECTORS/app/esp32_idf5.1.6_sbv1-signed_YOLO_BIT.bin" >"$TMP/sb.txt"
expect_grep "$TMP/sb.txt" '^Signature: Secure Boot V1 ECDSA block at 0xdffb0, 68 bytes'

# One flipped data byte: the report says why, and one line on stderr names the file.
cp "$VECTORS/app/esp32_idf5.2.2_main.bin" "$TMP/flipped.bin"
printf '\x00' | dd of="$TMP/flipped.bin" bs=1 seek=$((0x1000)) conv=notrunc status=none
expect_fail "$ATOTA" image info "$TMP/flipped.bin"
expect_grep "$TMP/stderr" "^atota: $TMP/flipped.bin: checksum 0xae is invalid"
expect_grep "$TMP/stdout" '^Checksum: 0xae \(invalid - calculated 0x[0-9a-f]{2}\)$'
expect_grep "$TMP/stdout" '^Validation hash: [0-9a-f]{64} \(invalid\)$'
# Truncated and not-an-image files.
head -c 5000 "$VECTORS/app/esp32_idf5.2.2_main.bin" >"$TMP/short.bin"
expect_fail "$ATOTA" image info "$TMP/short.bin"
expect_grep "$TMP/stderr" "^atota: $TMP/short.bin: image is truncated at 5000 bytes"
expect_fail "$ATOTA" image info "$VECTORS/parttable/esp32_esp-at-v2.0_partitions_at.bin"
expect_grep "$TMP/stderr" 'bad magic byte 0xaa'
expect_fail "$ATOTA" image info "$VECTORS/app/esp32_idf5.2.2_main.bin" --chip esp32c3
expect_grep "$TMP/stderr" 'chip id 0 \(ESP32\), expected 5 \(ESP32-C3\)'
# Usage errors exit 2.
"$ATOTA" image info >/dev/null 2>&1; expect_eq $? 2 "image info without FILE"
"$ATOTA" image info "$TMP/short.bin" --bogus >/dev/null 2>&1; expect_eq $? 2 "unknown option"

# The §3 worked example through the CLI, byte for byte: the reference bytes are the hex dump in
# the spec.
spec="$VECTORS/../spec/esp-idf-formats.md"
sed -n '/^00000000: e9 01/,/^00000140: /p' "$spec" | cut -c11-57 | xxd -r -p >"$TMP/tiny.ref"
expect_eq "$(stat -c %s "$TMP/tiny.ref")" 336 "worked example bytes from the spec"
"$ATOTA" image create --chip esp32 --version 1.0.0 --project tiny --time 12:00:00 \
    --date "Jan  1 2025" --idf-ver v5.5 -o "$TMP/tiny.bin" >/dev/null || fail "image create tiny"
cmp "$TMP/tiny.bin" "$TMP/tiny.ref" || fail "image create differs from the worked example of §3"
checks=$((checks + 1))
"$ATOTA" image info "$TMP/tiny.bin" >"$TMP/tiny.txt" || fail "image info tiny"
expect_grep "$TMP/tiny.txt" '^      0  0x00100  0x3f400020  0x00000018  DROM$'
expect_grep "$TMP/tiny.txt" '^Checksum: 0xcc \(valid\)$'
expect_grep "$TMP/tiny.txt" '^Validation hash: 7a6f52eb21dbb31067f5a7b482692d6cb78e4c7f79e36154a8ae76e7482fea1c \(valid\)$'

# create -> info round trip on every chip, with a payload.
head -c 70001 /dev/urandom >"$TMP/payload.bin"
for chip in esp32 esp32s2 esp32s3 esp32c2 esp32c3 esp32c5 esp32c6 esp32c61 esp32h2 esp32p4; do
    SOURCE_DATE_EPOCH=1735732800 "$ATOTA" image create -o "$TMP/$chip.bin" --chip $chip \
        --version "v9.8.7" --project roundtrip --secure-version 3 --payload "$TMP/payload.bin" \
        --flash-mode qio --flash-size 8MB --min-rev 1 --max-rev 199 >/dev/null \
        || fail "image create $chip"
    "$ATOTA" image info "$TMP/$chip.bin" --chip $chip >"$TMP/rt.txt" 2>"$TMP/err.txt" \
        || { cat "$TMP/err.txt" >&2; fail "image info $chip"; }
    expect_grep "$TMP/rt.txt" '^Segments: 2$'
    expect_grep "$TMP/rt.txt" '^Flash mode: QIO$'
    expect_grep "$TMP/rt.txt" '^Flash size: 8MB$'
    expect_grep "$TMP/rt.txt" '^Minimal chip revision: v0.1, \(legacy min_rev = 0\)$'
    expect_grep "$TMP/rt.txt" '^Maximal chip revision: v1.99$'
    expect_grep "$TMP/rt.txt" '^      1  0x11174  0x[0-9a-f]{8}  0x00000120  DROM'
    expect_grep "$TMP/rt.txt" '^Checksum: 0x[0-9a-f]{2} \(valid\)$'
    expect_grep "$TMP/rt.txt" '^App version: v9.8.7$'
    expect_grep "$TMP/rt.txt" '^Project name: roundtrip$'
    expect_grep "$TMP/rt.txt" '^Compile time: Jan  1 2025 12:00:00$'
    expect_grep "$TMP/rt.txt" '^Secure version: 3$'
done

# An invalid option writes nothing.
for bad in "--chip esp8266" "--flash-mode fast" "--flash-size 3MB" "--secure-version x" \
    "--min-rev 300 --max-rev 199" "--bogus 1"; do
    rm -f "$TMP/none.bin"
    # shellcheck disable=SC2086
    "$ATOTA" image create -o "$TMP/none.bin" $bad >/dev/null 2>&1
    expect_eq $? 2 "image create $bad"
    [ ! -e "$TMP/none.bin" ] || fail "image create $bad wrote $TMP/none.bin"
done
"$ATOTA" image create -o "$TMP/none.bin" --payload "$TMP/does-not-exist" >/dev/null 2>&1
expect_eq $? 1 "image create with a missing payload"
[ ! -e "$TMP/none.bin" ] || fail "image create with a missing payload wrote a file"

pass
