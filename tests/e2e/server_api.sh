#!/usr/bin/env bash
# atota-server's management API as the console and scripts use it (docs/server-api.md): sign in
# with a cookie and a CSRF token, create a product, a device and a version, upload a real ESP-AT
# ota.bin and a partition file, make the version current; refusals (401, 403, 422, 404 for another
# product's version); the hosting URL serves the exact bytes; API keys; the admin CLI on the same
# data directory while the server runs; a restart keeps everything; `admin check` finds a damaged
# blob.
set -u
. "$(dirname "$0")/lib/common.sh"
: "${ATOTA_SERVER:?atota-server is not built}"
command -v curl >/dev/null || fail "curl is needed"
command -v jq >/dev/null || fail "jq is needed"

data="$TMP/data"
jar="$TMP/cookies"
server_pid=
stop_server() {
    [ -n "$server_pid" ] || return 0
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
}
trap stop_server EXIT

# start_server NAME: atota-server on a free port; sets BASE (http://127.0.0.1:PORT).
start_server() {
    "$ATOTA_SERVER" --data "$data" --http 127.0.0.1:0 --https 127.0.0.1:0 \
        >"$TMP/$1.out" 2>"$TMP/$1.err" &
    server_pid=$!
    local i
    for i in $(seq 100); do
        grep -q '^atota-server: http on ' "$TMP/$1.out" 2>/dev/null && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$TMP/$1.err" >&2; fail "atota-server exited"; }
        sleep 0.1
    done
    expect_grep "$TMP/$1.out" '^atota-server: http on 127\.0\.0\.1:[1-9][0-9]*$'
    expect_grep "$TMP/$1.out" '^atota-server: https on 127\.0\.0\.1:[1-9][0-9]*$'
    expect_grep "$TMP/$1.out" '^atota-server: console at http://127\.0\.0\.1:[1-9][0-9]*/$'
    BASE="http://127.0.0.1:$(sed -n 's/^atota-server: http on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/$1.out")"
}

# api METHOD PATH [curl args...]: the status code on stdout, the body in $TMP/body. Sends the
# session cookie, and the CSRF token when $csrf is set.
csrf=
api() {
    local method=$1 path=$2
    shift 2
    local hdr=()
    [ -n "$csrf" ] && hdr=(-H "X-CSRF-Token: $csrf")
    curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -b "$jar" -c "$jar" \
        -X "$method" "${hdr[@]}" "$@" "$BASE/api/v1$path"
}
json() { jq -r "$1" "$TMP/body"; }
# expect_status GOT WANT WHAT: and, for an error, one {"error": "..."} body.
expect_status() {
    [ "$1" = "$2" ] || { cat "$TMP/body" >&2; echo >&2; fail "$3: expected HTTP $2, got $1"; }
    checks=$((checks + 1))
    if [ "$2" -ge 400 ]; then
        [ -n "$(json '.error // empty')" ] || fail "$3: no error message in $(cat "$TMP/body")"
    fi
}

app="$VECTORS/app/esp32_idf5.4_esp-at-v4.1.0.0-dev_sbv2-signed.bin"
app_sha=$(sha256sum "$app" | cut -d' ' -f1)

start_server first
expect_grep "$TMP/first.out" '^atota-server: first start: account admin, password [0-9a-f]{24}$'
[ -f "$data/initial-admin-password" ] || fail "no initial-admin-password"
expect_eq "$(stat -c %a "$data/initial-admin-password")" 600 "initial-admin-password mode"
expect_eq "$(stat -c %a "$data/tls/key.pem")" 600 "TLS key mode"
admin_pw=$(cat "$data/initial-admin-password")
expect_eq "$admin_pw" "$(sed -n 's/.*password \([0-9a-f]*\)$/\1/p' "$TMP/first.out")" \
    "the printed password is the file's"

# --- no session ---
expect_status "$(api GET /products)" 401 "products without a session"
expect_status "$(api GET /session)" 401 "session without a cookie"
expect_status "$(api POST /session --data '{"name":"admin","password":"wrong-password"}')" 401 \
    "wrong password"
expect_eq "$(json .error)" "wrong name or password" "wrong password message"
expect_status "$(api POST /session --data '{"name":"nobody","password":"wrong-password"}')" 401 \
    "unknown account"
expect_eq "$(json .error)" "wrong name or password" "unknown account message"
expect_status "$(api POST /session --data 'not json')" 400 "sign in without JSON"

# --- sign in ---
expect_status "$(api POST /session --data "{\"name\":\"admin\",\"password\":\"$admin_pw\"}")" 200 \
    "sign in"
expect_eq "$(json .account.name)" admin "signed-in account"
expect_eq "$(json .account.is_admin)" true "admin is admin"
token=$(json .csrf_token)
expect_grep "$TMP/headers" '^Set-Cookie: atota_session=[0-9a-f]{64}; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict'
expect_status "$(api GET /session)" 200 "session with the cookie"
expect_eq "$(json .csrf_token)" "$token" "GET /session gives the same CSRF token"

# --- CSRF: a cookie without the token changes nothing ---
expect_status "$(api POST /products --data '{"name":"esp-at-fleet"}')" 403 "POST without CSRF"
csrf=$token
expect_status "$(api POST /products --data '{"name":"esp-at-fleet"}')" 201 "create product"
pid=$(json .id)
expect_eq "$(json .name)" esp-at-fleet "product name"
expect_eq "$(json .recommended_version)" null "no version recommended yet"
expect_status "$(api POST /products --data '{"name":"esp-at-fleet"}')" 409 "duplicate product"
expect_status "$(api POST /products --data '{"name":""}')" 400 "empty product name"
csrf=wrong$token
expect_status "$(api POST /products --data '{"name":"x"}')" 403 "wrong CSRF token"
csrf=$token

expect_status "$(api POST /products/$pid/devices --data '{"name":"module-1"}')" 201 "create device"
key=$(json .key)
[[ "$key" =~ ^[0-9a-f]{40}$ ]] || fail "device key '$key' is not 40 hex"
expect_eq "$(json .last_query)" null "new device: no query yet"
expect_status "$(api POST /products/$pid/versions --data '{"version":"v4.1.0.0","corename":"esp-at"}')" \
    201 "create version"
vid=$(json .id)
expect_eq "$(json .recommended)" false "new version not recommended"
expect_status "$(api POST /products/$pid/versions --data '{"version":"v4 1"}')" 400 \
    "a version with a space"
expect_status "$(api POST /products/$pid/versions --data '{"version":"v4.1.0.0"}')" 409 \
    "duplicate version"

# --- uploads ---
expect_status "$(api PUT /products/$pid/versions/$vid/files/ota.bin --data-binary "@$app" \
    -H 'Content-Type: application/octet-stream')" 201 "upload ota.bin"
expect_eq "$(json .name)" ota.bin "uploaded name"
expect_eq "$(json .size)" "$(stat -c %s "$app")" "uploaded size"
expect_eq "$(json .sha256)" "$app_sha" "uploaded sha256"
expect_eq "$(json .chip)" esp32 "chip of the image"
expect_eq "$(json .app_version)" v4.1.0.0-dev "version of the image"
expect_eq "$(json .project)" esp-at "project of the image"
expect_eq "$(json .url)" "$BASE/fw/$app_sha/ota.bin" "hosting URL"

head -c 300000 "$app" >"$TMP/truncated.bin"
expect_status "$(api PUT /products/$pid/versions/$vid/files/ota.bin --data-binary "@$TMP/truncated.bin")" \
    422 "a truncated image"
json .error | grep -q 'not a valid app image' || fail "422 reason: $(json .error)"
cp "$app" "$TMP/damaged.bin"
printf '\x00' | dd of="$TMP/damaged.bin" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_status "$(api PUT /products/$pid/versions/$vid/files/ota.bin --data-binary "@$TMP/damaged.bin")" \
    422 "a damaged image"

{ printf '\xf1\xf1'; head -c 2000 /dev/urandom; } >"$TMP/mqtt_ca.bin"
mqtt_sha=$(sha256sum "$TMP/mqtt_ca.bin" | cut -d' ' -f1)
expect_status "$(api PUT /products/$pid/versions/$vid/files/mqtt_ca.bin --data-binary "@$TMP/mqtt_ca.bin")" \
    201 "upload mqtt_ca.bin"
expect_eq "$(json .sha256)" "$mqtt_sha" "mqtt_ca sha256"
expect_eq "$(json '.warning // "none"')" none "mqtt_ca: no warning"
expect_status "$(api PUT /products/$pid/versions/$vid/files/factory_param.bin --data-binary "@$TMP/mqtt_ca.bin")" \
    422 "factory_param without FC FC"
head -c 4096 /dev/zero >"$TMP/mfg.bin"
expect_status "$(api PUT /products/$pid/versions/$vid/files/mfg_nvs.bin --data-binary "@$TMP/mfg.bin")" \
    201 "upload mfg_nvs.bin"
json .warning | grep -q 'AT+CIUPDATE' || fail "mfg_nvs.bin: no warning in $(cat "$TMP/body")"
expect_status "$(api PUT /products/$pid/versions/$vid/files/OTA.bin --data-binary "@$app")" 422 \
    "an uppercase name"
expect_status "$(api PUT /products/$pid/versions/$vid/files/a%20b.bin --data-binary "@$app")" 422 \
    "a name with a space"
code=$(api PUT /products/$pid/versions/$vid/files/..%2Fota.bin --data-binary "@$app")
[ "$code" = 404 ] || [ "$code" = 422 ] || fail "a name with a path: HTTP $code"
checks=$((checks + 1))

# a version is reached only through its own product
expect_status "$(api POST /products --data '{"name":"other"}')" 201 "second product"
other=$(json .id)
expect_status "$(api PUT /products/$other/versions/$vid/files/ota.bin --data-binary "@$app")" 404 \
    "upload through another product"
expect_status "$(api POST /products/$other/versions/$vid/current)" 404 \
    "current through another product"
expect_status "$(api GET /products/999999)" 404 "unknown product"

expect_status "$(api POST /products/$pid/versions/$vid/current)" 200 "make current"
expect_eq "$(json .recommended_version)" v4.1.0.0 "recommended version"

expect_status "$(api GET /products/$pid)" 200 "product details"
expect_eq "$(json '.devices[0].key')" "$key" "device in the product"
expect_eq "$(json '.versions[0].recommended')" true "version recommended"
expect_eq "$(json '[.versions[0].files[].name] | sort | join(",")')" "mfg_nvs.bin,mqtt_ca.bin,ota.bin" \
    "files of the version"
expect_status "$(api GET /products)" 200 "product list"
expect_eq "$(json '[.products[].name] | join(",")')" "esp-at-fleet,other" "products"
expect_status "$(api GET /products/$pid/devices)" 200 "device list"
expect_eq "$(json '.devices | length')" 1 "one device"

# --- the hosting URL serves the exact bytes ---
curl -sf -o "$TMP/served.bin" "$BASE/fw/$app_sha/ota.bin" || fail "GET the hosting URL"
cmp -s "$TMP/served.bin" "$app" || fail "hosting URL served other bytes"
checks=$((checks + 1))

expect_status "$(api DELETE /products/$pid/versions/$vid/files/mfg_nvs.bin)" 204 "delete a file"
expect_status "$(api DELETE /products/$pid/versions/$vid/files/mfg_nvs.bin)" 404 \
    "delete it again"

# --- API keys: Bearer, no cookie, no CSRF token ---
expect_status "$(api POST /api-keys --data '{"label":"ci"}')" 201 "create API key"
api_key=$(json .key)
[[ "$api_key" =~ ^[0-9a-f]{64}$ ]] || fail "API key '$api_key'"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $api_key" \
    -X POST --data '{"name":"from-script"}' "$BASE/api/v1/products")
expect_status "$code" 201 "POST with an API key"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer ${api_key%?}0" \
    "$BASE/api/v1/products")
[ "${api_key: -1}" = 0 ] || expect_status "$code" 401 "a wrong API key"

# --- accounts: admin only; a password change removes initial-admin-password ---
expect_status "$(api POST /accounts --data '{"name":"bob","password":"bob-password","is_admin":false}')" \
    201 "create account"
expect_eq "$(json .is_admin)" false "bob is not admin"
expect_status "$(api POST /accounts --data '{"name":"eve","password":"short"}')" 400 \
    "a short password"
expect_status "$(api GET /accounts)" 200 "list accounts"
expect_eq "$(json '[.accounts[].name] | join(",")')" "admin,bob" "accounts"
json '.accounts[0] | has("password_hash") or has("password")' | grep -qx false ||
    fail "an account answer holds its password"
checks=$((checks + 1))
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -c "$TMP/bob" -X POST \
    --data '{"name":"bob","password":"bob-password"}' "$BASE/api/v1/session")
expect_status "$code" 200 "bob signs in"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -b "$TMP/bob" "$BASE/api/v1/accounts")
expect_status "$code" 403 "accounts for a non-admin"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -b "$TMP/bob" "$BASE/api/v1/products")
expect_status "$code" 200 "products for a non-admin"

expect_status "$(api PUT /accounts/me/password --data '{"old_password":"nope-nope","new_password":"new-admin-pw"}')" \
    403 "password change with a wrong old password"
expect_status "$(api PUT /accounts/me/password --data "{\"old_password\":\"$admin_pw\",\"new_password\":\"new-admin-pw\"}")" \
    204 "password change"
[ ! -e "$data/initial-admin-password" ] || fail "initial-admin-password kept after the change"
checks=$((checks + 1))

# --- the admin CLI, on the data directory of the running server ---
admin() { "$ATOTA_SERVER" admin --data "$data" "$@"; }
admin product add cli-product >"$TMP/cli.out" || fail "admin product add"
expect_grep "$TMP/cli.out" '^product cli-product \(id [0-9]+\)$'
cli_key=$(admin device add cli-product dev-a) || fail "admin device add"
[[ "$cli_key" =~ ^[0-9a-f]{40}$ ]] || fail "admin device add printed '$cli_key'"
admin version add cli-product v2.0.0 --corename esp-at >/dev/null || fail "admin version add"
admin file put cli-product v2.0.0 "$app" --name ota.bin >"$TMP/cli.out" || fail "admin file put"
expect_grep "$TMP/cli.out" "^ota.bin of cli-product v2.0.0: [0-9]+ bytes, sha256 $app_sha"
admin current cli-product v2.0.0 >/dev/null || fail "admin current"
expect_fail admin file put cli-product v2.0.0 "$TMP/truncated.bin" --name ota.bin
expect_grep "$TMP/stderr" 'not a valid app image'
expect_fail admin device add no-such-product dev-b
echo 'cli-password-1' | admin account add carol >"$TMP/cli.out" || fail "admin account add"
admin list >"$TMP/list.out" || fail "admin list"
expect_grep "$TMP/list.out" '^product cli-product '
expect_grep "$TMP/list.out" "^  device dev-a \\(id [0-9]+\\) key $cli_key"
expect_grep "$TMP/list.out" '^  version v2\.0\.0 \(id [0-9]+\) corename esp-at current$'
expect_grep "$TMP/list.out" "^    file ota\\.bin [0-9]+ bytes sha256 $app_sha \\(esp32 v4\\.1\\.0\\.0-dev, esp-at\\)$"
expect_grep "$TMP/list.out" '^account carol '
admin check >"$TMP/check.out" || { cat "$TMP/check.out" >&2; fail "admin check"; }
expect_grep "$TMP/check.out" '^ok: 3 file\(s\)'

# the server sees what the CLI did
expect_status "$(api GET /products)" 200 "products after the CLI"
cli_pid=$(json '.products[] | select(.name == "cli-product") | .id')
expect_eq "$(json '.products[] | select(.name == "cli-product") | .recommended_version')" v2.0.0 \
    "CLI's current version through the API"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST \
    --data '{"name":"carol","password":"cli-password-1"}' "$BASE/api/v1/session")
expect_status "$code" 200 "carol (made by the CLI) signs in"

# --- sign out ---
expect_status "$(api DELETE /session)" 204 "sign out"
expect_status "$(api GET /session)" 401 "signed out"

# --- restart: everything is kept ---
stop_server
start_server second
grep -q 'first start' "$TMP/second.out" && fail "a restart made the first account again"
checks=$((checks + 1))
csrf=
expect_status "$(api POST /session --data '{"name":"admin","password":"new-admin-pw"}')" 200 \
    "sign in after the restart"
csrf=$(json .csrf_token)
expect_status "$(api GET /products/$pid)" 200 "product after the restart"
expect_eq "$(json .recommended_version)" v4.1.0.0 "recommended version after the restart"
expect_eq "$(json '[.versions[0].files[].name] | sort | join(",")')" "mqtt_ca.bin,ota.bin" \
    "files after the restart"
expect_eq "$(json '.devices[0].key')" "$key" "device key after the restart"
expect_status "$(api GET /products/$cli_pid)" 200 "the CLI's product after the restart"
curl -sf -o "$TMP/served.bin" "$BASE/fw/$mqtt_sha/mqtt_ca.bin" || fail "GET mqtt_ca after restart"
cmp -s "$TMP/served.bin" "$TMP/mqtt_ca.bin" || fail "mqtt_ca.bin served other bytes"
checks=$((checks + 1))
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $api_key" \
    "$BASE/api/v1/products")
expect_status "$code" 200 "the API key after the restart"
stop_server

# --- check finds a damaged blob ---
blob="$data/blobs/${mqtt_sha:0:2}/$mqtt_sha"
[ -f "$blob" ] || fail "no blob at $blob"
printf 'X' | dd of="$blob" bs=1 seek=10 conv=notrunc 2>/dev/null
admin check >"$TMP/check.out" 2>"$TMP/check.err"
expect_eq "$?" 1 "check of a damaged blob exits 1"
expect_grep "$TMP/check.out" "^BAD esp-at-fleet v4\\.1\\.0\\.0 mqtt_ca\\.bin: blob $mqtt_sha"
rm -f "$blob"
admin check >"$TMP/check.out" 2>"$TMP/check.err"
expect_eq "$?" 1 "check of a missing blob exits 1"
expect_grep "$TMP/check.out" 'missing'

pass
