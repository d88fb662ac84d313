#include "server/auth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/version.h>

#include "core/util/hash.h"

#define HASH_PREFIX "pbkdf2-sha256$"

atota_err_t atota_auth_random_hex(char *out, size_t nbytes)
{
    uint8_t buf[64];
    if (nbytes > sizeof buf)
        return ATOTA_ERR_INVALID_ARG;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(buf + got, nbytes - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ATOTA_ERR_IO;
        }
        got += (size_t)n;
    }
    atota_hex(buf, nbytes, out);
    memset(buf, 0, sizeof buf);
    return ATOTA_OK;
}

atota_err_t atota_auth_device_key(char out[ATOTA_STORE_KEY_HEX + 1])
{
    return atota_auth_random_hex(out, ATOTA_STORE_KEY_HEX / 2);
}

atota_err_t atota_auth_token(char out[ATOTA_AUTH_TOKEN_HEX + 1])
{
    return atota_auth_random_hex(out, ATOTA_AUTH_TOKEN_HEX / 2);
}

void atota_auth_token_hash(const char *token, char out[65])
{
    uint8_t digest[ATOTA_SHA256_LEN];
    atota_sha256(token, strlen(token), digest);
    atota_hex(digest, sizeof digest, out);
}

bool atota_auth_equal(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    return diff == 0;
}

bool atota_auth_str_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    /* Walk the longer string whole, comparing against the other cyclically, so the time depends
     * on the lengths only; a length mismatch is folded in at the end. */
    size_t n = la > lb ? la : lb;
    uint8_t diff = (uint8_t)(la != lb);
    for (size_t i = 0; i < n; i++) {
        uint8_t x = la ? (uint8_t)a[i % la] : 0;
        uint8_t y = lb ? (uint8_t)b[i % lb] : 0;
        diff |= (uint8_t)(x ^ y);
    }
    return diff == 0;
}

static int pbkdf2(const char *password, const uint8_t *salt, size_t salt_len, uint32_t iterations,
                  uint8_t *out, size_t out_len)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03030000
    return mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256, (const unsigned char *)password,
                                         strlen(password), salt, salt_len, iterations,
                                         (uint32_t)out_len, out);
#else
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    int rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
    if (rc == 0)
        rc = mbedtls_pkcs5_pbkdf2_hmac(&md, (const unsigned char *)password, strlen(password), salt,
                                       salt_len, iterations, (uint32_t)out_len, out);
    mbedtls_md_free(&md);
    return rc;
#endif
}

atota_err_t atota_auth_hash_password_iter(const char *password, uint32_t iterations,
                                          char out[ATOTA_STORE_HASH_MAX + 1])
{
    if (!password || strlen(password) > ATOTA_AUTH_PASSWORD_MAX || iterations == 0)
        return ATOTA_ERR_INVALID_ARG;
    char salt_hex[ATOTA_AUTH_SALT_LEN * 2 + 1];
    atota_err_t err = atota_auth_random_hex(salt_hex, ATOTA_AUTH_SALT_LEN);
    if (err)
        return err;
    /* The salt is used as its hex text: the stored string is then all that verification needs,
     * and the salt keeps its 128 bits of entropy. */
    uint8_t dk[ATOTA_AUTH_HASH_LEN];
    if (pbkdf2(password, (const uint8_t *)salt_hex, strlen(salt_hex), iterations, dk, sizeof dk))
        return ATOTA_ERR_IO;
    char dk_hex[ATOTA_AUTH_HASH_LEN * 2 + 1];
    atota_hex(dk, sizeof dk, dk_hex);
    snprintf(out, ATOTA_STORE_HASH_MAX + 1, HASH_PREFIX "%" PRIu32 "$%s$%s", iterations, salt_hex,
             dk_hex);
    memset(dk, 0, sizeof dk);
    return ATOTA_OK;
}

atota_err_t atota_auth_hash_password(const char *password, char out[ATOTA_STORE_HASH_MAX + 1])
{
    return atota_auth_hash_password_iter(password, ATOTA_AUTH_PBKDF2_ITERATIONS, out);
}

static bool is_lower_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool atota_auth_verify_password(const char *password, const char *hash)
{
    if (!password || !hash || strlen(password) > ATOTA_AUTH_PASSWORD_MAX)
        return false;
    if (strncmp(hash, HASH_PREFIX, strlen(HASH_PREFIX)) != 0)
        return false;
    const char *p = hash + strlen(HASH_PREFIX);
    char *end;
    errno = 0;
    unsigned long iterations = strtoul(p, &end, 10);
    /* A bound on the work a stored string can ask for (10x the default). */
    if (errno || end == p || *end != '$' || iterations == 0 ||
        iterations > 10ul * ATOTA_AUTH_PBKDF2_ITERATIONS)
        return false;
    const char *salt = end + 1;
    const char *dollar = strchr(salt, '$');
    if (!dollar || dollar == salt || (size_t)(dollar - salt) > 128 ||
        !is_lower_hex(salt, (size_t)(dollar - salt)))
        return false;
    const char *want = dollar + 1;
    if (strlen(want) != ATOTA_AUTH_HASH_LEN * 2 || !is_lower_hex(want, ATOTA_AUTH_HASH_LEN * 2))
        return false;
    uint8_t dk[ATOTA_AUTH_HASH_LEN];
    if (pbkdf2(password, (const uint8_t *)salt, (size_t)(dollar - salt), (uint32_t)iterations, dk,
               sizeof dk))
        return false;
    char dk_hex[ATOTA_AUTH_HASH_LEN * 2 + 1];
    atota_hex(dk, sizeof dk, dk_hex);
    bool ok = atota_auth_equal(dk_hex, want, ATOTA_AUTH_HASH_LEN * 2);
    memset(dk, 0, sizeof dk);
    memset(dk_hex, 0, sizeof dk_hex);
    return ok;
}

static bool token_shaped(const char *s)
{
    return s && strlen(s) == ATOTA_AUTH_TOKEN_HEX && is_lower_hex(s, ATOTA_AUTH_TOKEN_HEX);
}

atota_auth_result_t atota_auth_identify(atota_store_t *store, const char *authorization,
                                        const char *cookie, const char *csrf_header, bool mutating,
                                        int64_t now, atota_auth_identity_t *out)
{
    memset(out, 0, sizeof *out);
    if (authorization) {
        /* RFC 6750: "Bearer" is case-insensitive; one space before the key. */
        if (strncasecmp(authorization, "Bearer ", 7) != 0)
            return ATOTA_AUTH_NONE;
        const char *key = authorization + 7;
        if (!token_shaped(key))
            return ATOTA_AUTH_NONE;
        char key_hash[65];
        atota_auth_token_hash(key, key_hash);
        atota_store_api_key_t row;
        /* The lookup is by a hash of the key: its time tells nothing about the key itself. */
        if (store->ops->api_key_find(store, key_hash, &row) != ATOTA_OK)
            return ATOTA_AUTH_NONE;
        if (store->ops->account_get(store, row.account_id, NULL, &out->account) != ATOTA_OK)
            return ATOTA_AUTH_NONE;
        return ATOTA_AUTH_OK;
    }
    if (!token_shaped(cookie))
        return ATOTA_AUTH_NONE;
    atota_store_session_t sess;
    atota_auth_token_hash(cookie, out->session_hash);
    if (store->ops->session_find(store, out->session_hash, now, &sess) != ATOTA_OK)
        return ATOTA_AUTH_NONE;
    if (store->ops->account_get(store, sess.account_id, NULL, &out->account) != ATOTA_OK)
        return ATOTA_AUTH_NONE;
    out->by_session = true;
    snprintf(out->csrf_token, sizeof out->csrf_token, "%s", sess.csrf);
    if (mutating && !atota_auth_str_equal(csrf_header, sess.csrf))
        return ATOTA_AUTH_CSRF;
    return ATOTA_AUTH_OK;
}

atota_err_t atota_auth_session_start(atota_store_t *store, int64_t account_id, int64_t now,
                                     char token[ATOTA_AUTH_TOKEN_HEX + 1],
                                     char csrf[ATOTA_AUTH_TOKEN_HEX + 1])
{
    atota_err_t err = atota_auth_token(token);
    if (!err)
        err = atota_auth_token(csrf);
    if (err)
        return err;
    atota_store_session_t sess;
    memset(&sess, 0, sizeof sess);
    atota_auth_token_hash(token, sess.token_hash);
    sess.account_id = account_id;
    snprintf(sess.csrf, sizeof sess.csrf, "%s", csrf);
    sess.expires_at = now + ATOTA_AUTH_SESSION_SECONDS;
    return store->ops->session_add(store, &sess);
}

const char *atota_auth_session_cookie(const char *token, bool secure, char *out, size_t cap)
{
    snprintf(out, cap, ATOTA_AUTH_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s",
             token ? token : "", token ? ATOTA_AUTH_SESSION_SECONDS : 0, secure ? "; Secure" : "");
    return out;
}

atota_err_t atota_auth_api_key_create(atota_store_t *store, int64_t account_id, const char *label,
                                      int64_t now, char key[ATOTA_AUTH_TOKEN_HEX + 1],
                                      atota_store_api_key_t *row)
{
    if (!label || !*label || strlen(label) > ATOTA_STORE_NAME_MAX)
        return ATOTA_ERR_INVALID_ARG;
    atota_err_t err = atota_auth_token(key);
    if (err)
        return err;
    atota_store_api_key_t k;
    memset(&k, 0, sizeof k);
    k.account_id = account_id;
    snprintf(k.label, sizeof k.label, "%s", label);
    atota_auth_token_hash(key, k.key_hash);
    k.created_at = now;
    err = store->ops->api_key_add(store, &k);
    if (!err && row)
        *row = k;
    return err;
}
