#!/usr/bin/env bash
# atota image create --config: the firmware-configuration block in an app image, shown by
# atota image info; images without it show nothing more; a refused --config exits 1 with one line
# and writes nothing; a --config without a value is a usage error (exit 2).
set -u
. "$(dirname "$0")/lib/common.sh"

token=0123456789abcdef0123456789abcdef01234567
SOURCE_DATE_EPOCH=1735732800 "$ATOTA" image create -o "$TMP/cfg.bin" --chip esp32c3 \
    --version v3.0.0 --project cfg --config module_name=ESP32-C3-MINI-1 \
    --config ota_host=ota.example.com --config ota_port=8080 --config "ota_token=$token" \
    --config ssl_host=192.168.1.20 --config ssl_port=8443 --config ssl_token=abc== \
    --config webserver=off --config ota_port=8081 >"$TMP/create.txt" 2>"$TMP/err.txt" \
    || { cat "$TMP/err.txt" >&2; fail "image create --config"; }
expect_grep "$TMP/create.txt" 'with a firmware-configuration block$'
"$ATOTA" image info "$TMP/cfg.bin" >"$TMP/info.txt" 2>"$TMP/err.txt"
rc=$?
[ $rc -eq 0 ] || { cat "$TMP/err.txt" >&2; fail "image info of an image with a block: exit $rc"; }
# Still an ordinary image for esptool: the block is a DROM segment under checksum and hash.
expect_grep "$TMP/info.txt" '^Segments: 2$'
expect_grep "$TMP/info.txt" '^      1  0x[0-9a-f]{5}  0x3c[0-9a-f]{6}  0x00000120  DROM$'
expect_grep "$TMP/info.txt" '^Checksum: 0x[0-9a-f]{2} \(valid\)$'
expect_grep "$TMP/info.txt" '^Validation hash: [0-9a-f]{64} \(valid\)$'
# The block, after what esptool prints: every key, the last --config of a key winning.
want="Firmware configuration
======================
module_name=ESP32-C3-MINI-1
ota_host=ota.example.com
ota_port=8081
ota_token=$token
ssl_host=192.168.1.20
ssl_port=8443
ssl_token=abc==
ota=on
ota_ssl=on
userota=on
webserver=off
ota_retries=5
ota_time_limit=300"
got=$(sed -n '/^Firmware configuration$/,$p' "$TMP/info.txt" | grep -v '^Block: ')
expect_eq "$got" "$want" "firmware configuration section"
expect_grep "$TMP/info.txt" '^Block: segment 1, file offset 0x128, [0-9]+ bytes, version 1$'
expect_eq "$(tail -n 16 "$TMP/info.txt" | head -n 1)" "Firmware configuration" "section is last"

# With a payload too: the block comes first, the payload after it.
head -c 5000 /dev/urandom >"$TMP/payload.bin"
"$ATOTA" image create -o "$TMP/both.bin" --payload "$TMP/payload.bin" --config userota=off \
    >/dev/null || fail "image create --payload --config"
"$ATOTA" image info "$TMP/both.bin" >"$TMP/both.txt" || fail "image info both"
expect_grep "$TMP/both.txt" '^Segments: 3$'
expect_grep "$TMP/both.txt" '^      2  0x01388  0x3f[0-9a-f]{6}  0x[0-9a-f]{8}  DROM$'
expect_grep "$TMP/both.txt" '^userota=off$'
expect_grep "$TMP/both.txt" '^ota_host=iot.espressif.cn$'
expect_grep "$TMP/both.txt" '^ota_port=80$'
expect_grep "$TMP/both.txt" '^ssl_port=443$'
expect_grep "$TMP/both.txt" '^ota_token=dd93253c287f725de50d4071a05dd28b72056ca7$'

# No block: nothing about one, for our images and for a real ESP-AT build.
"$ATOTA" image create -o "$TMP/plain.bin" >/dev/null || fail "image create without --config"
for f in "$TMP/plain.bin" "$VECTORS/app/esp32_idf3.3_esp-at-v2.0_esp-at.bin"; do
    "$ATOTA" image info "$f" >"$TMP/plain.txt" || fail "image info $f"
    if grep -q -e 'Firmware configuration' -e '^ota_host=' "$TMP/plain.txt"; then
        fail "$f: image info shows a firmware configuration, the image has none"
    fi
    checks=$((checks + 1))
done

# A refused --config: exit 1, one line naming the option and the problem, no file.
check_refused() { # REGEX ARG...
    local re=$1
    shift
    rm -f "$TMP/none.bin"
    expect_fail "$ATOTA" image create -o "$TMP/none.bin" "$@"
    expect_grep "$TMP/stderr" "$re"
    [ ! -e "$TMP/none.bin" ] || fail "image create $* wrote $TMP/none.bin"
}
check_refused "^atota: --config 'color=blue': unknown key 'color' \(keys: module_name, " \
    --config color=blue
check_refused "^atota: --config 'ota_port=70000': ota_port: '70000' is not a port number" \
    --config ota_host=a.b --config ota_port=70000
check_refused "^atota: --config 'ota_host': 'ota_host' is not KEY=VALUE$" --config ota_host
check_refused "^atota: --config 'ota_host=a b': ota_host: 'a b' has ' '" --config "ota_host=a b"
check_refused "^atota: --config 'ssl_token=': ssl_token: empty, a token is needed$" \
    --config ssl_token=
check_refused "^atota: --config 'webserver=1': webserver: '1' is not on or off$" \
    --config webserver=1
check_refused "^atota: --config 'module_name=[x]{32}': module_name: '[x]{32}' is 32 bytes, at most 31 fit$" \
    --config module_name=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx

# A --config without its value is a malformed command line.
rm -f "$TMP/none.bin"
"$ATOTA" image create -o "$TMP/none.bin" --config >/dev/null 2>&1
expect_eq $? 2 "image create --config without a value"
[ ! -e "$TMP/none.bin" ] || fail "image create --config without a value wrote a file"

# A damaged block: info shows why in the section and exits 1.
off=$((0x128 + 16)) # the first payload byte of the block in cfg.bin
cp "$TMP/cfg.bin" "$TMP/damaged.bin"
printf 'M' | dd of="$TMP/damaged.bin" bs=1 seek=$off conv=notrunc status=none
expect_fail "$ATOTA" image info "$TMP/damaged.bin"
expect_grep "$TMP/stderr" "^atota: $TMP/damaged.bin: "
expect_grep "$TMP/stdout" '^Invalid: segment 1 at 0x128: firmware-configuration block CRC 0x[0-9a-f]{8}, calculated'

# The same damage with the image's checksum and SHA-256 redone: an image esptool accepts, whose
# block is refused by its own CRC.
n=$(stat -c %s "$TMP/damaged.bin")
ck=$((0x$(xxd -s $((n - 33)) -l 1 -p "$TMP/damaged.bin") ^ 0x20)) # 'm' -> 'M' flips bit 5
printf %b "\\x$(printf %02x "$ck")" | dd of="$TMP/damaged.bin" bs=1 seek=$((n - 33)) conv=notrunc status=none
head -c $((n - 32)) "$TMP/damaged.bin" | sha256sum | cut -c1-64 | xxd -r -p |
    dd of="$TMP/damaged.bin" bs=1 seek=$((n - 32)) conv=notrunc status=none
expect_fail "$ATOTA" image info "$TMP/damaged.bin"
expect_grep "$TMP/stdout" '^Checksum: 0x[0-9a-f]{2} \(valid\)$'
expect_grep "$TMP/stdout" '^Validation hash: [0-9a-f]{64} \(valid\)$'
expect_grep "$TMP/stderr" "^atota: $TMP/damaged.bin: segment 1 at 0x128: firmware-configuration block CRC 0x[0-9a-f]{8}, calculated 0x[0-9a-f]{8}$"

pass
