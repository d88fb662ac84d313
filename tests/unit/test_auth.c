/* Credentials of atota-server: password hashes, random tokens, constant-time comparisons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include "core/util/hash.h"
#include "server/auth.h"
#include "support/tmpdir.h"

static bool all_lower_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static void password_hash_has_the_documented_form(void **state)
{
    (void)state;
    char hash[ATOTA_STORE_HASH_MAX + 1];
    assert_int_equal(atota_auth_hash_password("correct horse", hash), ATOTA_OK);
    /* pbkdf2-sha256$<iter>$<salt hex>$<hash hex> */
    unsigned iter = 0;
    char salt[80], dk[80];
    if (sscanf(hash, "pbkdf2-sha256$%u$%79[^$]$%79s", &iter, salt, dk) != 3)
        fail_msg("hash '%s' is not pbkdf2-sha256$iter$salt$hash", hash);
    assert_true(iter >= 100000);
    assert_int_equal(strlen(salt), 32);
    assert_int_equal(strlen(dk), 64);
    assert_true(all_lower_hex(salt));
    assert_true(all_lower_hex(dk));
    assert_true(atota_auth_verify_password("correct horse", hash));
}

/* The stored hash is PBKDF2-HMAC-SHA256(password, salt text, iter, 32): recompute it with
 * mbedTLS directly, so the format is one any other implementation can check. */
static void password_hash_is_pbkdf2_sha256(void **state)
{
    (void)state;
    char hash[ATOTA_STORE_HASH_MAX + 1];
    assert_int_equal(atota_auth_hash_password_iter("pw-12345", 1000, hash), ATOTA_OK);
    char salt[80], want[80];
    unsigned iter;
    assert_int_equal(sscanf(hash, "pbkdf2-sha256$%u$%79[^$]$%79s", &iter, salt, want), 3);
    assert_int_equal(iter, 1000);
    uint8_t dk[32];
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    assert_int_equal(mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1), 0);
    assert_int_equal(mbedtls_pkcs5_pbkdf2_hmac(&md, (const unsigned char *)"pw-12345", 8,
                                               (const unsigned char *)salt, strlen(salt), 1000, 32,
                                               dk),
                     0);
    mbedtls_md_free(&md);
    char got[65];
    atota_hex(dk, 32, got);
    assert_string_equal(got, want);
}

static void wrong_passwords_and_bad_hashes_fail(void **state)
{
    (void)state;
    char hash[ATOTA_STORE_HASH_MAX + 1];
    assert_int_equal(atota_auth_hash_password_iter("secret-one", 2000, hash), ATOTA_OK);
    assert_true(atota_auth_verify_password("secret-one", hash));
    assert_false(atota_auth_verify_password("secret-onE", hash));
    assert_false(atota_auth_verify_password("secret-one ", hash));
    assert_false(atota_auth_verify_password("", hash));
    assert_false(atota_auth_verify_password(NULL, hash));

    /* tampered hash strings never verify */
    char bad[ATOTA_STORE_HASH_MAX + 1];
    snprintf(bad, sizeof bad, "%s", hash);
    char *last = bad + strlen(bad) - 1;
    *last = *last == '0' ? '1' : '0';
    assert_false(atota_auth_verify_password("secret-one", bad));
    assert_false(atota_auth_verify_password("secret-one", "plain"));
    assert_false(atota_auth_verify_password("secret-one", ""));
    assert_false(atota_auth_verify_password("secret-one", "pbkdf2-sha256$0$00$00"));
    assert_false(atota_auth_verify_password("secret-one", "pbkdf2-sha256$999999999$aa$" /* */
                                                          "0000000000000000000000000000000000000000"
                                                          "000000000000000000000000"));
    assert_false(atota_auth_verify_password("secret-one", "pbkdf2-sha1$2000$aa$bb"));

    /* two hashes of one password differ (random salt), and both verify */
    char again[ATOTA_STORE_HASH_MAX + 1];
    assert_int_equal(atota_auth_hash_password_iter("secret-one", 2000, again), ATOTA_OK);
    assert_string_not_equal(hash, again);
    assert_true(atota_auth_verify_password("secret-one", again));
}

static void constant_time_compare_is_correct(void **state)
{
    (void)state;
    assert_true(atota_auth_equal("abcdef", "abcdef", 6));
    assert_false(atota_auth_equal("abcdef", "abcdeF", 6));
    assert_false(atota_auth_equal("Xbcdef", "abcdef", 6));
    assert_true(atota_auth_equal("a", "b", 0));

    assert_true(atota_auth_str_equal("", ""));
    assert_true(atota_auth_str_equal("token", "token"));
    assert_false(atota_auth_str_equal("token", "tokens"));
    assert_false(atota_auth_str_equal("tokens", "token"));
    assert_false(atota_auth_str_equal("", "a"));
    assert_false(atota_auth_str_equal("a", ""));
    /* a cyclic repetition of the shorter string is still a length mismatch */
    assert_false(atota_auth_str_equal("abab", "ab"));
    assert_false(atota_auth_str_equal("token", NULL));
    assert_false(atota_auth_str_equal(NULL, NULL));

    /* every single-byte difference at every position is seen */
    char a[65], b[65];
    assert_int_equal(atota_auth_token(a), ATOTA_OK);
    for (size_t i = 0; i < 64; i++) {
        memcpy(b, a, sizeof a);
        b[i] = b[i] == 'f' ? 'e' : 'f';
        if (atota_auth_str_equal(a, b))
            fail_msg("strings differing at %zu compared equal", i);
        assert_false(atota_auth_equal(a, b, 64));
    }
    assert_true(atota_auth_str_equal(a, a));
}

static void tokens_have_their_formats_and_differ(void **state)
{
    (void)state;
    enum { N = 200 };
    static char keys[N][41], tokens[N][65];
    for (int i = 0; i < N; i++) {
        assert_int_equal(atota_auth_device_key(keys[i]), ATOTA_OK);
        assert_int_equal(atota_auth_token(tokens[i]), ATOTA_OK);
        assert_int_equal(strlen(keys[i]), 40);
        assert_int_equal(strlen(tokens[i]), 64);
        assert_true(all_lower_hex(keys[i]));
        assert_true(all_lower_hex(tokens[i]));
        for (int j = 0; j < i; j++) {
            if (strcmp(keys[i], keys[j]) == 0 || strcmp(tokens[i], tokens[j]) == 0)
                fail_msg("token %d repeats token %d", i, j);
        }
    }
    /* every hex digit shows up: the bytes are not stuck */
    int seen[16] = {0};
    for (int i = 0; i < N; i++)
        for (const char *p = tokens[i]; *p; p++)
            seen[*p <= '9' ? *p - '0' : *p - 'a' + 10]++;
    for (int d = 0; d < 16; d++)
        assert_true(seen[d] > 0);

    char hash[65], hash2[65];
    atota_auth_token_hash("abc", hash);
    /* SHA-256("abc") */
    assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    atota_auth_token_hash(tokens[0], hash);
    atota_auth_token_hash(tokens[1], hash2);
    assert_string_not_equal(hash, hash2);
}

static void session_cookie_has_its_attributes(void **state)
{
    (void)state;
    char c[256];
    atota_auth_session_cookie("00ff", false, c, sizeof c);
    assert_string_equal(c, "atota_session=00ff; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict");
    atota_auth_session_cookie("00ff", true, c, sizeof c);
    assert_non_null(strstr(c, "; Secure"));
    atota_auth_session_cookie(NULL, false, c, sizeof c);
    assert_string_equal(c, "atota_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
}

/* Who a request comes from, against a real store: sessions (with CSRF on changes, expiry, sign
 * out), API keys (Bearer), and everything else refused. */
static void requests_are_identified(void **state)
{
    (void)state;
    char dir[] = "/tmp/atota-test-auth-XXXXXX";
    assert_non_null(mkdtemp(dir));
    atota_store_t *store = NULL;
    atota_diag_t d = {{0}};
    atota_err_t err = atota_store_sqlite_open(dir, &store, &d);
    if (err)
        fail_msg("store: %s", atota_diag_text(&d, err));
    atota_store_account_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "alice");
    assert_int_equal(atota_auth_hash_password_iter("alice-password", 1000, a.password_hash),
                     ATOTA_OK);
    assert_int_equal(store->ops->account_add(store, &a, &d), ATOTA_OK);

    const int64_t now = 1700000000;
    char token[65], csrf[65];
    assert_int_equal(atota_auth_session_start(store, a.id, now, token, csrf), ATOTA_OK);
    atota_auth_identity_t id;
    assert_int_equal(atota_auth_identify(store, NULL, token, NULL, false, now, &id), ATOTA_OK);
    assert_string_equal(id.account.name, "alice");
    assert_true(id.by_session);
    assert_string_equal(id.csrf_token, csrf);
    /* changes need the CSRF token */
    assert_int_equal(atota_auth_identify(store, NULL, token, NULL, true, now, &id),
                     ATOTA_AUTH_CSRF);
    assert_int_equal(atota_auth_identify(store, NULL, token, token, true, now, &id),
                     ATOTA_AUTH_CSRF);
    assert_int_equal(atota_auth_identify(store, NULL, token, csrf, true, now, &id), ATOTA_AUTH_OK);
    /* a cookie that is not a session, and one that expired */
    char other[65];
    assert_int_equal(atota_auth_token(other), ATOTA_OK);
    assert_int_equal(atota_auth_identify(store, NULL, other, NULL, false, now, &id),
                     ATOTA_AUTH_NONE);
    assert_int_equal(atota_auth_identify(store, NULL, "short", NULL, false, now, &id),
                     ATOTA_AUTH_NONE);
    assert_int_equal(atota_auth_identify(store, NULL, NULL, NULL, false, now, &id),
                     ATOTA_AUTH_NONE);
    /* sign out */
    char hash[65];
    atota_auth_token_hash(token, hash);
    assert_int_equal(store->ops->session_delete(store, hash), ATOTA_OK);
    assert_int_equal(atota_auth_identify(store, NULL, token, NULL, false, now, &id),
                     ATOTA_AUTH_NONE);
    /* sessions last 12 h */
    assert_int_equal(atota_auth_session_start(store, a.id, now, token, csrf), ATOTA_OK);
    assert_int_equal(atota_auth_identify(store, NULL, token, NULL, false,
                                         now + ATOTA_AUTH_SESSION_SECONDS - 1, &id),
                     ATOTA_AUTH_OK);
    assert_int_equal(atota_auth_identify(store, NULL, token, NULL, false,
                                         now + ATOTA_AUTH_SESSION_SECONDS + 1, &id),
                     ATOTA_AUTH_NONE);

    /* API keys: Bearer, no CSRF token; only the key's hash is stored */
    char key[65];
    atota_store_api_key_t row;
    assert_int_equal(atota_auth_api_key_create(store, a.id, "ci", now, key, &row), ATOTA_OK);
    assert_string_not_equal(row.key_hash, key);
    char bearer[80];
    snprintf(bearer, sizeof bearer, "Bearer %s", key);
    assert_int_equal(atota_auth_identify(store, bearer, NULL, NULL, true, now, &id), ATOTA_OK);
    assert_string_equal(id.account.name, "alice");
    assert_false(id.by_session);
    snprintf(bearer, sizeof bearer, "Bearer %s", other);
    assert_int_equal(atota_auth_identify(store, bearer, NULL, NULL, false, now, &id),
                     ATOTA_AUTH_NONE);
    snprintf(bearer, sizeof bearer, "token %s", key);
    assert_int_equal(atota_auth_identify(store, bearer, NULL, NULL, false, now, &id),
                     ATOTA_AUTH_NONE);
    store->ops->close(store);
    assert_int_equal(fx_rm_tree(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(password_hash_has_the_documented_form),
        cmocka_unit_test(password_hash_is_pbkdf2_sha256),
        cmocka_unit_test(wrong_passwords_and_bad_hashes_fail),
        cmocka_unit_test(constant_time_compare_is_correct),
        cmocka_unit_test(tokens_have_their_formats_and_differ),
        cmocka_unit_test(session_cookie_has_its_attributes),
        cmocka_unit_test(requests_are_identified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
