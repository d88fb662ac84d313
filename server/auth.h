/*
 * Credentials of atota-server (docs/server-api.md "Authentication"): password hashes
 * (PBKDF2-HMAC-SHA256), random tokens from the kernel's CSPRNG (device keys, session cookies,
 * CSRF tokens, API keys), comparisons in constant time, and who a management request comes from
 * (a session cookie, with its CSRF token on requests that change something, or an API key).
 * Only hashes of session tokens and API keys are stored; a stolen database opens nothing.
 *
 * No HTTP here: the caller passes the header values, so the rules can be tested on their own.
 */
#ifndef ATOTA_SERVER_AUTH_H
#define ATOTA_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "server/store.h"

#define ATOTA_AUTH_PBKDF2_ITERATIONS 120000u /* OWASP's floor for PBKDF2-SHA256 is 100k+ */
#define ATOTA_AUTH_SALT_LEN          16u
#define ATOTA_AUTH_HASH_LEN          32u
#define ATOTA_AUTH_TOKEN_HEX         64u   /* session tokens, CSRF tokens, API keys: 32 bytes */
#define ATOTA_AUTH_SESSION_SECONDS   43200 /* 12 h */
#define ATOTA_AUTH_COOKIE            "atota_session"
#define ATOTA_AUTH_PASSWORD_MIN      8u
#define ATOTA_AUTH_PASSWORD_MAX      1024u

/* Fills out with 2*nbytes lowercase hex characters and a NUL from getrandom(2) (out has at least
 * 2*nbytes+1 bytes). ATOTA_ERR_IO when the kernel gives no randomness. */
atota_err_t atota_auth_random_hex(char *out, size_t nbytes);

/* A device key: 40 lowercase hex (20 random bytes), into out[41]. */
atota_err_t atota_auth_device_key(char out[ATOTA_STORE_KEY_HEX + 1]);

/* A session token, CSRF token or API key: 64 lowercase hex, into out[65]. */
atota_err_t atota_auth_token(char out[ATOTA_AUTH_TOKEN_HEX + 1]);

/* SHA-256 of a token as lowercase hex (what the store keeps), into out[65]. */
void atota_auth_token_hash(const char *token, char out[65]);

/* True when the len bytes at a and b are equal; the time taken depends on len only. */
bool atota_auth_equal(const void *a, const void *b, size_t len);

/* True when the strings are equal; the time taken depends on the lengths only, never on where
 * they first differ. NULL equals nothing. */
bool atota_auth_str_equal(const char *a, const char *b);

/* Hashes a password: "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>" with a random 16-byte
 * salt, into out (ATOTA_STORE_HASH_MAX + 1 bytes). ATOTA_ERR_INVALID_ARG for a password longer
 * than ATOTA_AUTH_PASSWORD_MAX; ATOTA_ERR_IO when no randomness. */
atota_err_t atota_auth_hash_password(const char *password, char out[ATOTA_STORE_HASH_MAX + 1]);

/* Same, with the iteration count given (tests; at least 1). */
atota_err_t atota_auth_hash_password_iter(const char *password, uint32_t iterations,
                                          char out[ATOTA_STORE_HASH_MAX + 1]);

/* True when password matches a hash made by atota_auth_hash_password; false for a wrong password
 * and for a hash string that is not of that form. */
bool atota_auth_verify_password(const char *password, const char *hash);

/* Who a management request comes from. */
typedef struct {
    atota_store_account_t account;
    bool by_session;                           /* the session cookie (else an API key) */
    char session_hash[65];                     /* the session's token hash (sign out) */
    char csrf_token[ATOTA_AUTH_TOKEN_HEX + 1]; /* the session's CSRF token */
} atota_auth_identity_t;

typedef enum {
    ATOTA_AUTH_OK = 0,
    ATOTA_AUTH_NONE, /* no valid session or API key: 401 */
    ATOTA_AUTH_CSRF, /* a session, but a request that changes something without its token: 403 */
} atota_auth_result_t;

/* Identifies a request from its headers: authorization ("Bearer <key>", or NULL), the value of
 * the atota_session cookie (or NULL), and the X-CSRF-Token header (or NULL). mutating is true for
 * requests that change something (POST, PUT, DELETE): with a session they need the CSRF token.
 * An API key wins over a cookie. */
atota_auth_result_t atota_auth_identify(atota_store_t *store, const char *authorization,
                                        const char *cookie, const char *csrf_header, bool mutating,
                                        int64_t now, atota_auth_identity_t *out);

/* Starts a session for an account: the cookie value into token, its CSRF token into csrf;
 * the store gets the token's hash. Expires ATOTA_AUTH_SESSION_SECONDS after now. */
atota_err_t atota_auth_session_start(atota_store_t *store, int64_t account_id, int64_t now,
                                     char token[ATOTA_AUTH_TOKEN_HEX + 1],
                                     char csrf[ATOTA_AUTH_TOKEN_HEX + 1]);

/* The Set-Cookie value for a session token (token NULL: one that clears the cookie). secure
 * adds the Secure attribute (requests over HTTPS). Returns out. */
const char *atota_auth_session_cookie(const char *token, bool secure, char *out, size_t cap);

/* Creates an API key for an account: the key into key (shown once), the row (with its id) into
 * *row (may be NULL). label: 1..64 bytes. */
atota_err_t atota_auth_api_key_create(atota_store_t *store, int64_t account_id, const char *label,
                                      int64_t now, char key[ATOTA_AUTH_TOKEN_HEX + 1],
                                      atota_store_api_key_t *row);

#endif /* ATOTA_SERVER_AUTH_H */
