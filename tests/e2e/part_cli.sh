#!/usr/bin/env bash
# atota part gen / dump against gen_esp32part v6.0.2's own outputs in the shared vectors, and the
# CLI contract on bad input: exit 1, one stderr line naming the file and line, nothing written.
set -u
. "$(dirname "$0")/lib/common.sh"
cd "$VECTORS" || fail "no vectors at $VECTORS"

# expect_same_file GOT WANT WHAT: byte comparison; prints the first difference.
expect_same_file() {
    checks=$((checks + 1))
    cmp "$1" "$2" >&2 || fail "$3: $1 differs from $2"
}

# gen: every "$ python3 gen_esp32part.py [flags] CSV OUT" run of every CSV's .expected.txt, with
# its flags; compared with OUT when OUT is a vector and with each "byte-identical to" file.
gens=0
for csv in parttable/*.csv at_customize/*.csv at_customize/esp-at-master/*/*.csv; do
    exp="$csv.expected.txt"
    while IFS= read -r cmdline; do
        read -r -a words <<<"${cmdline#\$ python3 gen_esp32part.py }"
        n=${#words[@]}
        out=${words[n - 1]}
        flags=("${words[@]:0:n-2}")
        "$ATOTA" part gen "${flags[@]}" "$csv" -o "$TMP/gen.bin" 2>"$TMP/gen.err" \
            || { cat "$TMP/gen.err" >&2; fail "part gen ${flags[*]} $csv"; }
        expect_eq "$(stat -c %s "$TMP/gen.bin")" 3072 "$csv: size"
        # the warnings gen_esp32part printed, and nothing else
        expect_eq "$(cat "$TMP/gen.err")" \
            "$(awk -v c="$cmdline" '$0 == c {s = 1; next} s && /^$/ {exit} s && /^WARNING/' "$exp")" \
            "$csv: stderr"
        if [ "$out" != out.bin ]; then
            expect_same_file "$TMP/gen.bin" "$out" "part gen ${flags[*]} $csv"
            gens=$((gens + 1))
        fi
        # the section of this run names the files it reproduces
        while IFS= read -r target; do
            expect_same_file "$TMP/gen.bin" <(head -c 3072 "$target") "part gen ${flags[*]} $csv"
            gens=$((gens + 1))
        done < <(awk -v c="$cmdline" '$0 == c {s = 1; next} s && /^====/ {exit}
                 s && /^byte-identical to .*: YES$/ {sub(/^byte-identical to (the first 3072 bytes of )?/, "");
                 sub(/: YES$/, ""); print}' "$exp")
    done < <(grep '^\$ python3 gen_esp32part.py .*\.csv ' "$exp")
done
expect_eq "$gens" 20 "binaries reproduced from CSV"

# dump: every binary, to stdout and with -o, against the dump in its .expected.txt (a generated
# binary's dump is in its CSV's .expected.txt)
dumps=0
for bin in parttable/*.bin at_customize/*.bin at_customize/esp-at-master/*/*.bin; do
    exp="$bin.expected.txt"
    case $bin in *.generated.bin) exp="${bin%.generated.bin}.csv.expected.txt" ;; esac
    awk '/^==== gen_esp32part.py \(binary -> CSV\)/ {s = 1} s && /^# ESP-IDF/ {p = 1}
         p && /^$/ {exit} p' "$exp" >"$TMP/want.csv"
    if grep -q '^Partition table is missing an end-of-table marker$' "$exp"; then
        expect_fail "$ATOTA" part dump "$bin"
        expect_grep "$TMP/stderr" "^atota: $bin: Partition table is missing an end-of-table marker"
        continue
    fi
    "$ATOTA" part dump "$bin" >"$TMP/got.csv" 2>"$TMP/dump.err" || fail "part dump $bin"
    checks=$((checks + 1))
    diff "$TMP/want.csv" "$TMP/got.csv" >&2 || fail "part dump $bin: expected (<) vs got (>)"
    expect_eq "$(cat "$TMP/dump.err")" "$(grep '^WARNING' "$exp" | head -n 1)" "$bin: stderr"
    "$ATOTA" part dump "$bin" -o "$TMP/got-o.csv" 2>/dev/null || fail "part dump -o $bin"
    expect_same_file "$TMP/got-o.csv" "$TMP/want.csv" "part dump -o $bin"
    dumps=$((dumps + 1))
done
expect_eq "$dumps" 20 "binaries dumped"

# an invalid CSV: exit 1, one line naming the file and the line, the output left alone
printf 'nvs, data, nvs, , 0x6000\nfactory, app, factory, , 1M\nota_0, app, ota_9x, , 1M\n' \
    >"$TMP/bad.csv"
expect_fail "$ATOTA" part gen "$TMP/bad.csv" -o "$TMP/new.bin"
expect_grep "$TMP/stderr" "^atota: $TMP/bad.csv: line 3: SubType value 'ota_9x' is not valid"
checks=$((checks + 1))
[ ! -e "$TMP/new.bin" ] || fail "a failed part gen created its output"
echo keep >"$TMP/old.bin"
expect_fail "$ATOTA" part gen "$TMP/bad.csv" -o "$TMP/old.bin"
expect_eq "$(cat "$TMP/old.bin")" keep "a failed part gen left the old output alone"
expect_eq "$(ls "$TMP" | grep -c tmp-)" 0 "no temporary files left"

printf 'factory, app, factory, 0x10000, 1M\nota_0, app, ota_0, 0x100000, 1M\n' >"$TMP/overlap.csv"
expect_fail "$ATOTA" part gen "$TMP/overlap.csv" -o "$TMP/new.bin"
expect_grep "$TMP/stderr" "^atota: $TMP/overlap.csv: line 2: partition 'ota_0' at offset 0x100000 overlaps"
expect_fail "$ATOTA" part gen --flash-size 2MB parttable/esp32s3_arduino_default_8MB.csv \
    -o "$TMP/new.bin"
expect_grep "$TMP/stderr" "occupies 8.0MB of flash \(8388608 bytes\) which does not fit in configured flash size 2MB"

# a damaged binary
head -c 3072 parttable/esp32_idf5.2.2_hello-world_partition-table.bin >"$TMP/bad.bin"
printf '\x00' | dd of="$TMP/bad.bin" bs=1 seek=$((0x75)) conv=notrunc status=none
expect_fail "$ATOTA" part dump "$TMP/bad.bin" -o "$TMP/bad.csv.out"
expect_grep "$TMP/stderr" "^atota: $TMP/bad.bin: MD5 checksums don't match!"
checks=$((checks + 1))
[ ! -e "$TMP/bad.csv.out" ] || fail "a failed part dump created its output"

# usage errors exit 2
"$ATOTA" part gen parttable/idf_partitions_singleapp.csv 2>/dev/null
expect_eq $? 2 "part gen without -o"
"$ATOTA" part dump 2>/dev/null
expect_eq $? 2 "part dump without a file"
"$ATOTA" part frobnicate 2>/dev/null
expect_eq $? 2 "unknown subcommand"
"$ATOTA" part gen --flash-size 3MB parttable/idf_partitions_singleapp.csv -o "$TMP/x" 2>/dev/null
expect_eq $? 2 "bad --flash-size"
pass
