/*
 * The server's store (docs/server-api.md's model): accounts, API keys, sessions, products,
 * devices, ROM versions and their files, and what each device last asked for. An interface
 * (a struct of function pointers) so that PostgreSQL can replace the embedded SQLite store
 * (server/store_sqlite.c, WAL, in the data directory) when one machine is not enough. File
 * contents are not in the store: they live in the blob store (server/blobs.h) by SHA-256; a
 * file row names its blob, and a row is committed only after its blob is durably on disk.
 *
 * Every call is one transaction; the store is safe to call from several threads. Strings are
 * copied into the caller's structs (fixed sizes below). Errors: ATOTA_ERR_NOT_FOUND,
 * ATOTA_ERR_INVALID_ARG (a name out of bounds), ATOTA_ERR_STATE (a duplicate: the name taken),
 * ATOTA_ERR_IO (the database failed; diag says how).
 */
#ifndef ATOTA_SERVER_STORE_H
#define ATOTA_SERVER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ATOTA_STORE_NAME_MAX    64  /* product, device, account names, labels (bytes) */
#define ATOTA_STORE_VERSION_MAX 64  /* ROM version strings (AT+CIUPDATE's limit) */
#define ATOTA_STORE_KEY_HEX     40  /* device keys: 20 bytes as lowercase hex */
#define ATOTA_STORE_HASH_MAX    160 /* password hash strings ("pbkdf2-sha256$iter$salt$hash") */
#define ATOTA_STORE_FILE_MAX    21  /* "<label>.bin", label at most 16 */

typedef struct {
    int64_t id;
    char name[ATOTA_STORE_NAME_MAX + 1];
    char password_hash[ATOTA_STORE_HASH_MAX + 1];
    bool is_admin;
    int64_t created_at;
} atota_store_account_t;

typedef struct {
    int64_t id;
    int64_t account_id;
    char label[ATOTA_STORE_NAME_MAX + 1];
    char key_hash[65]; /* SHA-256 of the key, hex: the key itself is never stored */
    int64_t created_at;
} atota_store_api_key_t;

typedef struct {
    char token_hash[65]; /* SHA-256 of the session cookie, hex */
    int64_t account_id;
    char csrf[65];
    int64_t expires_at;
} atota_store_session_t;

typedef struct {
    int64_t id;
    char name[ATOTA_STORE_NAME_MAX + 1];
    int64_t created_at;
    int64_t recommended_version_id; /* 0: none */
} atota_store_product_t;

typedef struct {
    int64_t id;
    int64_t product_id;
    char name[ATOTA_STORE_NAME_MAX + 1];
    char key[ATOTA_STORE_KEY_HEX + 1];
    int64_t created_at;
    int64_t last_seen_at; /* 0: never */
    int64_t last_query_at;
    char last_query_version[ATOTA_STORE_VERSION_MAX + 1];
    int64_t last_download_at;
    char last_download_version[ATOTA_STORE_VERSION_MAX + 1];
    char last_download_file[ATOTA_STORE_FILE_MAX + 1];
} atota_store_device_t;

typedef struct {
    int64_t id;
    int64_t product_id;
    char version[ATOTA_STORE_VERSION_MAX + 1];
    char corename[ATOTA_STORE_NAME_MAX + 1];
    int64_t created_at;
} atota_store_version_t;

typedef struct {
    int64_t id;
    int64_t version_id;
    char name[ATOTA_STORE_FILE_MAX + 1]; /* "ota.bin", "<label>.bin" */
    char sha256[65];                     /* hex: the blob */
    uint64_t size;
    int64_t created_at;
    /* ota.bin: what the image says; empty otherwise */
    char chip[16];
    char app_version[33];
    char project[33];
} atota_store_file_t;

/* Calls fn for each row of a listing, in id order; a non-zero return stops the listing. A row
 * is the listing's struct (atota_store_product_t * for product_list, ...); for blob_list, the
 * 64-hex name (const char *). fn runs after the store's lock is released: it may call the store.
 * Listing the children of a missing product or version: NOT_FOUND. */
typedef int (*atota_store_each_fn)(void *ctx, const void *row);

typedef struct atota_store atota_store_t;

typedef struct {
    void (*close)(atota_store_t *s);
    /* accounts and credentials */
    atota_err_t (*account_add)(atota_store_t *s, atota_store_account_t *a, atota_diag_t *diag);
    atota_err_t (*account_get)(atota_store_t *s, int64_t id, const char *name,
                               atota_store_account_t *out); /* by id, or by name when id is 0 */
    atota_err_t (*account_set_password)(atota_store_t *s, int64_t id, const char *hash);
    atota_err_t (*account_list)(atota_store_t *s, atota_store_each_fn fn, void *ctx);
    atota_err_t (*api_key_add)(atota_store_t *s, atota_store_api_key_t *k);
    atota_err_t (*api_key_find)(atota_store_t *s, const char *key_hash, atota_store_api_key_t *out);
    atota_err_t (*session_add)(atota_store_t *s, const atota_store_session_t *sess);
    atota_err_t (*session_find)(atota_store_t *s, const char *token_hash, int64_t now,
                                atota_store_session_t *out); /* expired: NOT_FOUND */
    atota_err_t (*session_delete)(atota_store_t *s, const char *token_hash);
    /* products, devices */
    atota_err_t (*product_add)(atota_store_t *s, atota_store_product_t *p, atota_diag_t *diag);
    atota_err_t (*product_get)(atota_store_t *s, int64_t id, atota_store_product_t *out);
    atota_err_t (*product_list)(atota_store_t *s, atota_store_each_fn fn, void *ctx);
    atota_err_t (*product_set_recommended)(atota_store_t *s, int64_t product_id,
                                           int64_t version_id); /* the version must be its own
                                                                   (else NOT_FOUND); 0: none */
    atota_err_t (*device_add)(atota_store_t *s, atota_store_device_t *d, atota_diag_t *diag);
    atota_err_t (*device_find_by_key)(atota_store_t *s, const char *key, atota_store_device_t *out);
    atota_err_t (*device_list)(atota_store_t *s, int64_t product_id, atota_store_each_fn fn,
                               void *ctx);
    /* what a device asked: kind 'q' (a query, version = the answer) or 'd' (a download) */
    atota_err_t (*device_seen)(atota_store_t *s, int64_t device_id, char kind, const char *version,
                               const char *file, int64_t at);
    /* versions and files */
    atota_err_t (*version_add)(atota_store_t *s, atota_store_version_t *v, atota_diag_t *diag);
    atota_err_t (*version_get)(atota_store_t *s, int64_t id, atota_store_version_t *out);
    atota_err_t (*version_find)(atota_store_t *s, int64_t product_id, const char *version,
                                atota_store_version_t *out);
    atota_err_t (*version_list)(atota_store_t *s, int64_t product_id, atota_store_each_fn fn,
                                void *ctx);
    /* adds or replaces the file of that name in the version */
    atota_err_t (*file_put)(atota_store_t *s, atota_store_file_t *f, atota_diag_t *diag);
    atota_err_t (*file_get)(atota_store_t *s, int64_t version_id, const char *name,
                            atota_store_file_t *out);
    atota_err_t (*file_delete)(atota_store_t *s, int64_t version_id, const char *name);
    atota_err_t (*file_list)(atota_store_t *s, int64_t version_id, atota_store_each_fn fn,
                             void *ctx);
    /* any file row with this blob (hosting: /fw/<sha256>/<name>) */
    atota_err_t (*file_find_blob)(atota_store_t *s, const char *sha256, const char *name,
                                  atota_store_file_t *out);
    /* every blob a file row names (for the start-up consistency check) */
    atota_err_t (*blob_list)(atota_store_t *s, atota_store_each_fn fn, void *ctx);
} atota_store_ops_t;

struct atota_store {
    const atota_store_ops_t *ops;
};

/* A listing copied into memory: pass atota_store_collect as the callback and the rows as its
 * ctx (rows = ATOTA_STORE_ROWS(type)); then ATOTA_STORE_ROW(rows, type, i). oom is set (and the
 * listing stopped) when memory runs out. Free with atota_store_rows_free. */
typedef struct {
    uint8_t *rows;
    size_t size, count, cap;
    bool oom;
} atota_store_rows_t;
#define ATOTA_STORE_ROWS(type)                                                                     \
    {                                                                                              \
        NULL, sizeof(type), 0, 0, false                                                            \
    }
#define ATOTA_STORE_ROW(r, type, i) ((type *)(void *)((r).rows + (size_t)(i) * (r).size))
int atota_store_collect(void *ctx, const void *row);
void atota_store_rows_free(atota_store_rows_t *r);

/* Opens (creating it when new) <dir>/atota.db: SQLite in WAL mode with synchronous=FULL, so
 * that a committed transaction survives a kill or a power cut. */
atota_err_t atota_store_sqlite_open(const char *dir, atota_store_t **out, atota_diag_t *diag);

#endif /* ATOTA_SERVER_STORE_H */
