# Helpers for the end-to-end scripts. Each script sources this; CTest sets ATOTA, VECTORS, SRC, TMP.
: "${ATOTA:?}" "${VECTORS:?}" "${TMP:?}"
rm -rf "$TMP" && mkdir -p "$TMP"
checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_eq GOT EXPECTED WHAT
expect_eq() {
    checks=$((checks + 1))
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}
# expect_grep FILE REGEX: the file has a line matching the extended regex.
expect_grep() {
    checks=$((checks + 1))
    grep -Eq -- "$2" "$1" || { echo "--- $1:" >&2; cat "$1" >&2; fail "no line matches /$2/ in $1"; }
}
# expect_fail CMD...: the command exits 1 with exactly one line on stderr (kept in $TMP/stderr).
expect_fail() {
    checks=$((checks + 1))
    "$@" >"$TMP/stdout" 2>"$TMP/stderr"
    local rc=$?
    [ $rc -eq 1 ] || { cat "$TMP/stderr" >&2; fail "'$*' exited $rc, expected 1"; }
    [ "$(wc -l <"$TMP/stderr")" -eq 1 ] || { cat "$TMP/stderr" >&2; fail "'$*': expected one error line"; }
}
pass() { echo "$(basename "$0" .sh): $checks checks passed"; exit 0; }
