/*
 * The embedded store (server/store.h) on SQLite: one database <dir>/atota.db in WAL mode with
 * synchronous=FULL (a commit is on disk when it returns), foreign keys on, the schema created and
 * migrated in one transaction at open (docs/server-store.md). One connection guarded by a mutex:
 * each operation is one statement or one BEGIN IMMEDIATE ... COMMIT, with statements prepared
 * once. Listings copy their rows out and call the callback after the lock is released, so a
 * callback may call the store again.
 */
#include "server/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 5000 /* another process (atota-server admin) holding the write lock */

/* Migrations: schema_version holds how many have been applied. Append, never edit. */
static const char *const migrations[] = {
    /* 1: the model of docs/server-api.md */
    "CREATE TABLE accounts ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " password_hash TEXT NOT NULL,"
    " is_admin INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE api_keys ("
    " id INTEGER PRIMARY KEY,"
    " account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    " label TEXT NOT NULL,"
    " key_hash TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE sessions ("
    " token_hash TEXT PRIMARY KEY,"
    " account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    " csrf TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL);"
    "CREATE INDEX sessions_expires ON sessions(expires_at);"
    "CREATE TABLE products ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL,"
    " recommended_version_id INTEGER REFERENCES versions(id) ON DELETE SET NULL);"
    "CREATE TABLE devices ("
    " id INTEGER PRIMARY KEY,"
    " product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " key TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL,"
    " last_seen_at INTEGER NOT NULL DEFAULT 0,"
    " last_query_at INTEGER NOT NULL DEFAULT 0,"
    " last_query_version TEXT NOT NULL DEFAULT '',"
    " last_download_at INTEGER NOT NULL DEFAULT 0,"
    " last_download_version TEXT NOT NULL DEFAULT '',"
    " last_download_file TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX devices_product ON devices(product_id);"
    "CREATE TABLE versions ("
    " id INTEGER PRIMARY KEY,"
    " product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,"
    " version TEXT NOT NULL,"
    " corename TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (product_id, version));"
    "CREATE TABLE files ("
    " id INTEGER PRIMARY KEY,"
    " version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " chip TEXT NOT NULL DEFAULT '',"
    " app_version TEXT NOT NULL DEFAULT '',"
    " project TEXT NOT NULL DEFAULT '',"
    " UNIQUE (version_id, name));"
    "CREATE INDEX files_sha256 ON files(sha256);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

#define ACCOUNT_COLS "id, name, password_hash, is_admin, created_at"
#define API_KEY_COLS "id, account_id, label, key_hash, created_at"
#define SESSION_COLS "token_hash, account_id, csrf, expires_at"
#define PRODUCT_COLS "id, name, created_at, COALESCE(recommended_version_id, 0)"
#define DEVICE_COLS                                                                                \
    "id, product_id, name, key, created_at, last_seen_at, last_query_at, last_query_version, "     \
    "last_download_at, last_download_version, last_download_file"
#define VERSION_COLS "id, product_id, version, corename, created_at"
#define FILE_COLS    "id, version_id, name, sha256, size, created_at, chip, app_version, project"

/* X(name, sql): every statement, prepared once at open. */
#define STATEMENTS(X)                                                                              \
    X(ST_BEGIN_READ, "BEGIN")                                                                      \
    X(ST_BEGIN_WRITE, "BEGIN IMMEDIATE")                                                           \
    X(ST_COMMIT, "COMMIT")                                                                         \
    X(ST_ROLLBACK, "ROLLBACK")                                                                     \
    X(ST_ACCOUNT_ADD,                                                                              \
      "INSERT INTO accounts (name, password_hash, is_admin, created_at) VALUES (?1, ?2, ?3, ?4)")  \
    X(ST_ACCOUNT_GET_ID, "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = ?1")                    \
    X(ST_ACCOUNT_GET_NAME, "SELECT " ACCOUNT_COLS " FROM accounts WHERE name = ?1")                \
    X(ST_ACCOUNT_SET_PASSWORD, "UPDATE accounts SET password_hash = ?2 WHERE id = ?1")             \
    X(ST_ACCOUNT_LIST, "SELECT " ACCOUNT_COLS " FROM accounts ORDER BY id")                        \
    X(ST_API_KEY_ADD,                                                                              \
      "INSERT INTO api_keys (account_id, label, key_hash, created_at) VALUES (?1, ?2, ?3, ?4)")    \
    X(ST_API_KEY_FIND, "SELECT " API_KEY_COLS " FROM api_keys WHERE key_hash = ?1")                \
    X(ST_SESSION_ADD,                                                                              \
      "INSERT INTO sessions (token_hash, account_id, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)")   \
    X(ST_SESSION_FIND, "SELECT " SESSION_COLS " FROM sessions WHERE token_hash = ?1")              \
    X(ST_SESSION_DELETE, "DELETE FROM sessions WHERE token_hash = ?1")                             \
    X(ST_SESSION_PURGE, "DELETE FROM sessions WHERE expires_at <= ?1")                             \
    X(ST_PRODUCT_ADD, "INSERT INTO products (name, created_at) VALUES (?1, ?2)")                   \
    X(ST_PRODUCT_GET, "SELECT " PRODUCT_COLS " FROM products WHERE id = ?1")                       \
    X(ST_PRODUCT_EXISTS, "SELECT 1 FROM products WHERE id = ?1")                                   \
    X(ST_PRODUCT_LIST, "SELECT " PRODUCT_COLS " FROM products ORDER BY id")                        \
    /* the version must belong to the product: one statement, nothing changes otherwise */         \
    X(ST_PRODUCT_SET_RECOMMENDED,                                                                  \
      "UPDATE products SET recommended_version_id = ?2 WHERE id = ?1 AND (?2 IS NULL OR EXISTS "   \
      "(SELECT 1 FROM versions WHERE id = ?2 AND product_id = ?1))")                               \
    X(ST_DEVICE_ADD,                                                                               \
      "INSERT INTO devices (product_id, name, key, created_at) VALUES (?1, ?2, ?3, ?4)")           \
    X(ST_DEVICE_FIND_KEY, "SELECT " DEVICE_COLS " FROM devices WHERE key = ?1")                    \
    X(ST_DEVICE_LIST, "SELECT " DEVICE_COLS " FROM devices WHERE product_id = ?1 ORDER BY id")     \
    X(ST_DEVICE_SEEN_QUERY,                                                                        \
      "UPDATE devices SET last_seen_at = MAX(last_seen_at, ?2), last_query_at = ?2, "              \
      "last_query_version = ?3 WHERE id = ?1")                                                     \
    X(ST_DEVICE_SEEN_DOWNLOAD,                                                                     \
      "UPDATE devices SET last_seen_at = MAX(last_seen_at, ?2), last_download_at = ?2, "           \
      "last_download_version = ?3, last_download_file = ?4 WHERE id = ?1")                         \
    X(ST_VERSION_ADD,                                                                              \
      "INSERT INTO versions (product_id, version, corename, created_at) VALUES (?1, ?2, ?3, ?4)")  \
    X(ST_VERSION_GET, "SELECT " VERSION_COLS " FROM versions WHERE id = ?1")                       \
    X(ST_VERSION_EXISTS, "SELECT 1 FROM versions WHERE id = ?1")                                   \
    X(ST_VERSION_FIND,                                                                             \
      "SELECT " VERSION_COLS " FROM versions WHERE product_id = ?1 AND version = ?2")              \
    X(ST_VERSION_LIST, "SELECT " VERSION_COLS " FROM versions WHERE product_id = ?1 ORDER BY id")  \
    /* a replaced file keeps its row id; RETURNING gives it in both cases */                       \
    X(ST_FILE_PUT,                                                                                 \
      "INSERT INTO files (version_id, name, sha256, size, created_at, chip, app_version, project)" \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (version_id, name) DO UPDATE SET"      \
      " sha256 = excluded.sha256, size = excluded.size, created_at = excluded.created_at,"         \
      " chip = excluded.chip, app_version = excluded.app_version, project = excluded.project"      \
      " RETURNING id")                                                                             \
    X(ST_FILE_GET, "SELECT " FILE_COLS " FROM files WHERE version_id = ?1 AND name = ?2")          \
    X(ST_FILE_DELETE, "DELETE FROM files WHERE version_id = ?1 AND name = ?2")                     \
    X(ST_FILE_LIST, "SELECT " FILE_COLS " FROM files WHERE version_id = ?1 ORDER BY id")           \
    X(ST_FILE_FIND_BLOB,                                                                           \
      "SELECT " FILE_COLS " FROM files WHERE sha256 = ?1 AND (?2 IS NULL OR name = ?2)"            \
      " ORDER BY id LIMIT 1")                                                                      \
    X(ST_BLOB_LIST, "SELECT DISTINCT sha256 FROM files ORDER BY sha256")

enum {
#define ST_ENUM(name, sql) name,
    STATEMENTS(ST_ENUM)
#undef ST_ENUM
        ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
#define ST_SQL(name, sql) sql,
    STATEMENTS(ST_SQL)
#undef ST_SQL
};

/* The last device_seen written per slot (device id % SEEN_SLOTS): a device that asks again in
 * the same second with the same answer would write the same row, so the write (a commit and its
 * fsync) is skipped. A query storm from one device costs a commit a second, not one a query. */
#define SEEN_SLOTS 256
typedef struct {
    int64_t device_id, at;
    char kind;
    char version[ATOTA_STORE_VERSION_MAX + 1];
    char file[ATOTA_STORE_FILE_MAX + 1];
} seen_t;

typedef struct {
    atota_store_t base; /* first: atota_store_t * is this */
    sqlite3 *db;
    pthread_mutex_t lock;
    sqlite3_stmt *st[ST_COUNT];
    seen_t seen[SEEN_SLOTS];
} sq_store_t;

static const atota_store_ops_t sq_ops;

/* ---- input bounds ---------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one (overlong, surrogate,
 * beyond U+10FFFF, truncated). */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
        (c == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

/* A name or label: min..max bytes of UTF-8 without control characters (docs/server-api.md). */
static atota_err_t check_text(const char *what, const char *v, size_t min, size_t max,
                              atota_diag_t *diag)
{
    if (!v)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "%s is missing", what);
    size_t len = strnlen(v, max + 1);
    if (len < min)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "%s is empty", what);
    if (len > max)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "%s is longer than %zu bytes", what,
                              max);
    const unsigned char *p = (const unsigned char *)v;
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                                  "%s contains a control character (0x%02x at byte %zu)", what,
                                  p[i], i);
        size_t n = utf8_seq(p + i);
        if (n == 0)
            return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                                  "%s is not valid UTF-8 (at byte %zu)", what, i);
        i += n;
    }
    return ATOTA_OK;
}

/* Exactly n lowercase hex digits. */
static bool is_hex(const char *v, size_t n)
{
    if (!v)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
            return false;
    return v[n] == '\0';
}

/* "[a-z0-9_]{1,16}.bin" (docs/server-api.md): no path can be built from a file name. */
static bool is_file_name(const char *v)
{
    if (!v)
        return false;
    size_t len = strnlen(v, ATOTA_STORE_FILE_MAX + 1);
    if (len < 5 || len > 16 + 4 || strcmp(v + len - 4, ".bin") != 0)
        return false;
    for (size_t i = 0; i < len - 4; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_'))
            return false;
    return true;
}

static int64_t now_or(int64_t t)
{
    return t ? t : (int64_t)time(NULL);
}

/* ---- statements ------------------------------------------------------------------------------ */

static void lock(sq_store_t *s)
{
    pthread_mutex_lock(&s->lock);
}

static void unlock(sq_store_t *s)
{
    pthread_mutex_unlock(&s->lock);
}

static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void column_text(sqlite3_stmt *st, int i, char *out, size_t size)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    snprintf(out, size, "%s", v ? (const char *)v : "");
}

/* Runs a statement to completion. Returns the SQLite code; the statement is reset. */
static int run(sq_store_t *s, int which)
{
    sqlite3_stmt *st = s->st[which];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    done(st);
    return rc;
}

/* The error of a write that failed with rc (extended codes). dup / missing: what to say when a
 * UNIQUE / FOREIGN KEY constraint refused it (NULL: that cannot happen). */
static atota_err_t write_error(sq_store_t *s, int rc, atota_diag_t *diag, const char *dup,
                               const char *missing)
{
    if (dup && (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY))
        return atota_diag_set(diag, ATOTA_ERR_STATE, "%s", dup);
    if (missing && rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return atota_diag_set(diag, ATOTA_ERR_NOT_FOUND, "%s", missing);
    return atota_diag_set(diag, ATOTA_ERR_IO, "database: %s (%s)", sqlite3_errmsg(s->db),
                          sqlite3_errstr(rc));
}

/* Runs an INSERT (already bound) and returns its row id in *id. */
static atota_err_t insert(sq_store_t *s, int which, int64_t *id, atota_diag_t *diag,
                          const char *dup, const char *missing)
{
    sqlite3_stmt *st = s->st[which];
    int rc = sqlite3_step(st);
    atota_err_t err = ATOTA_OK;
    if (rc == SQLITE_DONE)
        *id = sqlite3_last_insert_rowid(s->db);
    else
        err = write_error(s, rc, diag, dup, missing);
    done(st);
    return err;
}

/* Runs an UPDATE or DELETE (already bound): NOT_FOUND when it changed no row. */
static atota_err_t change(sq_store_t *s, int which)
{
    int rc = run(s, which);
    if (rc != SQLITE_OK)
        return ATOTA_ERR_IO;
    return sqlite3_changes(s->db) > 0 ? ATOTA_OK : ATOTA_ERR_NOT_FOUND;
}

typedef void (*row_read_fn)(sqlite3_stmt *st, void *out);

/* Reads the one row of a bound SELECT into out. */
static atota_err_t get_one(sq_store_t *s, int which, row_read_fn read, void *out)
{
    sqlite3_stmt *st = s->st[which];
    int rc = sqlite3_step(st);
    atota_err_t err = ATOTA_OK;
    if (rc == SQLITE_ROW)
        read(st, out);
    else
        err = rc == SQLITE_DONE ? ATOTA_ERR_NOT_FOUND : ATOTA_ERR_IO;
    done(st);
    return err;
}

static atota_err_t exists(sq_store_t *s, int which, int64_t id)
{
    sqlite3_bind_int64(s->st[which], 1, id);
    int rc = sqlite3_step(s->st[which]);
    done(s->st[which]);
    return rc == SQLITE_ROW ? ATOTA_OK : rc == SQLITE_DONE ? ATOTA_ERR_NOT_FOUND : ATOTA_ERR_IO;
}

typedef struct {
    unsigned char *rows;
    size_t n, cap, size;
} row_buf_t;

/* Copies every row of a bound SELECT into buf. */
static atota_err_t collect(sq_store_t *s, int which, row_read_fn read, row_buf_t *buf)
{
    sqlite3_stmt *st = s->st[which];
    atota_err_t err = ATOTA_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (buf->n == buf->cap) {
            size_t cap = buf->cap ? buf->cap * 2 : 16;
            unsigned char *p = realloc(buf->rows, cap * buf->size);
            if (!p) {
                err = ATOTA_ERR_NO_MEM;
                break;
            }
            buf->rows = p;
            buf->cap = cap;
        }
        memset(buf->rows + buf->n * buf->size, 0, buf->size);
        read(st, buf->rows + buf->n * buf->size);
        buf->n++;
    }
    if (!err && rc != SQLITE_DONE)
        err = ATOTA_ERR_IO;
    done(st);
    return err;
}

/* A listing: under the lock, in one read transaction, checks that the parent exists (parent_st,
 * -1: none) and copies the rows; then, unlocked, hands them to fn. */
static atota_err_t list(sq_store_t *s, int parent_st, int which, int64_t parent_id, size_t size,
                        row_read_fn read, atota_store_each_fn fn, void *ctx)
{
    row_buf_t buf = {NULL, 0, 0, size};
    atota_err_t err = ATOTA_OK;
    lock(s);
    if (run(s, ST_BEGIN_READ) != SQLITE_OK) {
        unlock(s);
        return ATOTA_ERR_IO;
    }
    if (parent_st >= 0)
        err = exists(s, parent_st, parent_id);
    if (!err) {
        if (parent_st >= 0)
            sqlite3_bind_int64(s->st[which], 1, parent_id);
        err = collect(s, which, read, &buf);
    }
    if (run(s, ST_COMMIT) != SQLITE_OK) {
        run(s, ST_ROLLBACK);
        if (!err)
            err = ATOTA_ERR_IO;
    }
    unlock(s);
    for (size_t i = 0; !err && i < buf.n; i++)
        if (fn(ctx, buf.rows + i * size) != 0)
            break;
    free(buf.rows);
    return err;
}

/* ---- rows ------------------------------------------------------------------------------------ */

static void read_account(sqlite3_stmt *st, void *out)
{
    atota_store_account_t *a = out;
    a->id = sqlite3_column_int64(st, 0);
    column_text(st, 1, a->name, sizeof a->name);
    column_text(st, 2, a->password_hash, sizeof a->password_hash);
    a->is_admin = sqlite3_column_int(st, 3) != 0;
    a->created_at = sqlite3_column_int64(st, 4);
}

static void read_api_key(sqlite3_stmt *st, void *out)
{
    atota_store_api_key_t *k = out;
    k->id = sqlite3_column_int64(st, 0);
    k->account_id = sqlite3_column_int64(st, 1);
    column_text(st, 2, k->label, sizeof k->label);
    column_text(st, 3, k->key_hash, sizeof k->key_hash);
    k->created_at = sqlite3_column_int64(st, 4);
}

static void read_session(sqlite3_stmt *st, void *out)
{
    atota_store_session_t *x = out;
    column_text(st, 0, x->token_hash, sizeof x->token_hash);
    x->account_id = sqlite3_column_int64(st, 1);
    column_text(st, 2, x->csrf, sizeof x->csrf);
    x->expires_at = sqlite3_column_int64(st, 3);
}

static void read_product(sqlite3_stmt *st, void *out)
{
    atota_store_product_t *p = out;
    p->id = sqlite3_column_int64(st, 0);
    column_text(st, 1, p->name, sizeof p->name);
    p->created_at = sqlite3_column_int64(st, 2);
    p->recommended_version_id = sqlite3_column_int64(st, 3);
}

static void read_device(sqlite3_stmt *st, void *out)
{
    atota_store_device_t *d = out;
    d->id = sqlite3_column_int64(st, 0);
    d->product_id = sqlite3_column_int64(st, 1);
    column_text(st, 2, d->name, sizeof d->name);
    column_text(st, 3, d->key, sizeof d->key);
    d->created_at = sqlite3_column_int64(st, 4);
    d->last_seen_at = sqlite3_column_int64(st, 5);
    d->last_query_at = sqlite3_column_int64(st, 6);
    column_text(st, 7, d->last_query_version, sizeof d->last_query_version);
    d->last_download_at = sqlite3_column_int64(st, 8);
    column_text(st, 9, d->last_download_version, sizeof d->last_download_version);
    column_text(st, 10, d->last_download_file, sizeof d->last_download_file);
}

static void read_version(sqlite3_stmt *st, void *out)
{
    atota_store_version_t *v = out;
    v->id = sqlite3_column_int64(st, 0);
    v->product_id = sqlite3_column_int64(st, 1);
    column_text(st, 2, v->version, sizeof v->version);
    column_text(st, 3, v->corename, sizeof v->corename);
    v->created_at = sqlite3_column_int64(st, 4);
}

static void read_file(sqlite3_stmt *st, void *out)
{
    atota_store_file_t *f = out;
    f->id = sqlite3_column_int64(st, 0);
    f->version_id = sqlite3_column_int64(st, 1);
    column_text(st, 2, f->name, sizeof f->name);
    column_text(st, 3, f->sha256, sizeof f->sha256);
    f->size = (uint64_t)sqlite3_column_int64(st, 4);
    f->created_at = sqlite3_column_int64(st, 5);
    column_text(st, 6, f->chip, sizeof f->chip);
    column_text(st, 7, f->app_version, sizeof f->app_version);
    column_text(st, 8, f->project, sizeof f->project);
}

static void read_sha(sqlite3_stmt *st, void *out)
{
    column_text(st, 0, out, 65);
}

/* ---- accounts and credentials ---------------------------------------------------------------- */

static atota_err_t sq_account_add(atota_store_t *base, atota_store_account_t *a, atota_diag_t *diag)
{
    sq_store_t *s = (sq_store_t *)base;
    atota_err_t err = check_text("account name", a->name, 1, ATOTA_STORE_NAME_MAX, diag);
    if (!err)
        err = check_text("password hash", a->password_hash, 1, ATOTA_STORE_HASH_MAX, diag);
    if (err)
        return err;
    char dup[128];
    snprintf(dup, sizeof dup, "an account named '%s' exists", a->name);
    a->created_at = now_or(a->created_at);
    lock(s);
    sqlite3_stmt *st = s->st[ST_ACCOUNT_ADD];
    bind_text(st, 1, a->name);
    bind_text(st, 2, a->password_hash);
    sqlite3_bind_int(st, 3, a->is_admin ? 1 : 0);
    sqlite3_bind_int64(st, 4, a->created_at);
    err = insert(s, ST_ACCOUNT_ADD, &a->id, diag, dup, NULL);
    unlock(s);
    return err;
}

static atota_err_t sq_account_get(atota_store_t *base, int64_t id, const char *name,
                                  atota_store_account_t *out)
{
    sq_store_t *s = (sq_store_t *)base;
    if (id == 0 && !name)
        return ATOTA_ERR_INVALID_ARG;
    lock(s);
    int which = id ? ST_ACCOUNT_GET_ID : ST_ACCOUNT_GET_NAME;
    if (id)
        sqlite3_bind_int64(s->st[which], 1, id);
    else
        bind_text(s->st[which], 1, name);
    atota_err_t err = get_one(s, which, read_account, out);
    unlock(s);
    return err;
}

static atota_err_t sq_account_set_password(atota_store_t *base, int64_t id, const char *hash)
{
    sq_store_t *s = (sq_store_t *)base;
    if (check_text("password hash", hash, 1, ATOTA_STORE_HASH_MAX, NULL))
        return ATOTA_ERR_INVALID_ARG;
    lock(s);
    sqlite3_bind_int64(s->st[ST_ACCOUNT_SET_PASSWORD], 1, id);
    bind_text(s->st[ST_ACCOUNT_SET_PASSWORD], 2, hash);
    atota_err_t err = change(s, ST_ACCOUNT_SET_PASSWORD);
    unlock(s);
    return err;
}

static atota_err_t sq_account_list(atota_store_t *base, atota_store_each_fn fn, void *ctx)
{
    return list((sq_store_t *)base, -1, ST_ACCOUNT_LIST, 0, sizeof(atota_store_account_t),
                read_account, fn, ctx);
}

static atota_err_t sq_api_key_add(atota_store_t *base, atota_store_api_key_t *k)
{
    sq_store_t *s = (sq_store_t *)base;
    if (check_text("label", k->label, 0, ATOTA_STORE_NAME_MAX, NULL) || !is_hex(k->key_hash, 64))
        return ATOTA_ERR_INVALID_ARG;
    k->created_at = now_or(k->created_at);
    lock(s);
    sqlite3_stmt *st = s->st[ST_API_KEY_ADD];
    sqlite3_bind_int64(st, 1, k->account_id);
    bind_text(st, 2, k->label);
    bind_text(st, 3, k->key_hash);
    sqlite3_bind_int64(st, 4, k->created_at);
    atota_err_t err = insert(s, ST_API_KEY_ADD, &k->id, NULL, "", "");
    unlock(s);
    return err;
}

static atota_err_t sq_api_key_find(atota_store_t *base, const char *key_hash,
                                   atota_store_api_key_t *out)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!is_hex(key_hash, 64)) /* nothing malformed was ever stored */
        return ATOTA_ERR_NOT_FOUND;
    lock(s);
    bind_text(s->st[ST_API_KEY_FIND], 1, key_hash);
    atota_err_t err = get_one(s, ST_API_KEY_FIND, read_api_key, out);
    unlock(s);
    return err;
}

static atota_err_t sq_session_add(atota_store_t *base, const atota_store_session_t *sess)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!is_hex(sess->token_hash, 64) || check_text("csrf", sess->csrf, 1, 64, NULL))
        return ATOTA_ERR_INVALID_ARG;
    lock(s);
    sqlite3_stmt *st = s->st[ST_SESSION_ADD];
    bind_text(st, 1, sess->token_hash);
    sqlite3_bind_int64(st, 2, sess->account_id);
    bind_text(st, 3, sess->csrf);
    sqlite3_bind_int64(st, 4, sess->expires_at);
    int64_t id;
    atota_err_t err = insert(s, ST_SESSION_ADD, &id, NULL, "", "");
    unlock(s);
    return err;
}

static atota_err_t sq_session_find(atota_store_t *base, const char *token_hash, int64_t now,
                                   atota_store_session_t *out)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!is_hex(token_hash, 64))
        return ATOTA_ERR_NOT_FOUND;
    atota_store_session_t found;
    lock(s);
    bind_text(s->st[ST_SESSION_FIND], 1, token_hash);
    atota_err_t err = get_one(s, ST_SESSION_FIND, read_session, &found);
    if (!err && found.expires_at <= now) {
        /* expired: it and every other expired session are gone */
        sqlite3_bind_int64(s->st[ST_SESSION_PURGE], 1, now);
        run(s, ST_SESSION_PURGE);
        err = ATOTA_ERR_NOT_FOUND;
    }
    unlock(s);
    if (!err)
        *out = found;
    return err;
}

static atota_err_t sq_session_delete(atota_store_t *base, const char *token_hash)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!is_hex(token_hash, 64))
        return ATOTA_ERR_NOT_FOUND;
    lock(s);
    bind_text(s->st[ST_SESSION_DELETE], 1, token_hash);
    atota_err_t err = change(s, ST_SESSION_DELETE);
    unlock(s);
    return err;
}

/* ---- products and devices -------------------------------------------------------------------- */

static atota_err_t sq_product_add(atota_store_t *base, atota_store_product_t *p, atota_diag_t *diag)
{
    sq_store_t *s = (sq_store_t *)base;
    atota_err_t err = check_text("product name", p->name, 1, ATOTA_STORE_NAME_MAX, diag);
    if (err)
        return err;
    char dup[128];
    snprintf(dup, sizeof dup, "a product named '%s' exists", p->name);
    p->created_at = now_or(p->created_at);
    p->recommended_version_id = 0;
    lock(s);
    bind_text(s->st[ST_PRODUCT_ADD], 1, p->name);
    sqlite3_bind_int64(s->st[ST_PRODUCT_ADD], 2, p->created_at);
    err = insert(s, ST_PRODUCT_ADD, &p->id, diag, dup, NULL);
    unlock(s);
    return err;
}

static atota_err_t sq_product_get(atota_store_t *base, int64_t id, atota_store_product_t *out)
{
    sq_store_t *s = (sq_store_t *)base;
    lock(s);
    sqlite3_bind_int64(s->st[ST_PRODUCT_GET], 1, id);
    atota_err_t err = get_one(s, ST_PRODUCT_GET, read_product, out);
    unlock(s);
    return err;
}

static atota_err_t sq_product_list(atota_store_t *base, atota_store_each_fn fn, void *ctx)
{
    return list((sq_store_t *)base, -1, ST_PRODUCT_LIST, 0, sizeof(atota_store_product_t),
                read_product, fn, ctx);
}

static atota_err_t sq_product_set_recommended(atota_store_t *base, int64_t product_id,
                                              int64_t version_id)
{
    sq_store_t *s = (sq_store_t *)base;
    sqlite3_stmt *st = s->st[ST_PRODUCT_SET_RECOMMENDED];
    lock(s);
    sqlite3_bind_int64(st, 1, product_id);
    if (version_id) /* 0: no recommended version */
        sqlite3_bind_int64(st, 2, version_id);
    else
        sqlite3_bind_null(st, 2);
    atota_err_t err = change(s, ST_PRODUCT_SET_RECOMMENDED);
    unlock(s);
    return err;
}

static atota_err_t sq_device_add(atota_store_t *base, atota_store_device_t *d, atota_diag_t *diag)
{
    sq_store_t *s = (sq_store_t *)base;
    atota_err_t err = check_text("device name", d->name, 1, ATOTA_STORE_NAME_MAX, diag);
    if (err)
        return err;
    if (!is_hex(d->key, ATOTA_STORE_KEY_HEX))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "a device key is %d lowercase hex digits", ATOTA_STORE_KEY_HEX);
    char missing[64];
    snprintf(missing, sizeof missing, "no product %lld", (long long)d->product_id);
    d->created_at = now_or(d->created_at);
    lock(s);
    sqlite3_stmt *st = s->st[ST_DEVICE_ADD];
    sqlite3_bind_int64(st, 1, d->product_id);
    bind_text(st, 2, d->name);
    bind_text(st, 3, d->key);
    sqlite3_bind_int64(st, 4, d->created_at);
    err = insert(s, ST_DEVICE_ADD, &d->id, diag, "a device with this key exists", missing);
    unlock(s);
    if (!err) {
        d->last_seen_at = d->last_query_at = d->last_download_at = 0;
        d->last_query_version[0] = d->last_download_version[0] = d->last_download_file[0] = '\0';
    }
    return err;
}

static atota_err_t sq_device_find_by_key(atota_store_t *base, const char *key,
                                         atota_store_device_t *out)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!is_hex(key, ATOTA_STORE_KEY_HEX))
        return ATOTA_ERR_NOT_FOUND;
    lock(s);
    bind_text(s->st[ST_DEVICE_FIND_KEY], 1, key);
    atota_err_t err = get_one(s, ST_DEVICE_FIND_KEY, read_device, out);
    unlock(s);
    return err;
}

static atota_err_t sq_device_list(atota_store_t *base, int64_t product_id, atota_store_each_fn fn,
                                  void *ctx)
{
    return list((sq_store_t *)base, ST_PRODUCT_EXISTS, ST_DEVICE_LIST, product_id,
                sizeof(atota_store_device_t), read_device, fn, ctx);
}

static atota_err_t sq_device_seen(atota_store_t *base, int64_t device_id, char kind,
                                  const char *version, const char *file, int64_t at)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!version) /* a query answered without a recommended version */
        version = "";
    if (kind != 'q' && kind != 'd')
        return ATOTA_ERR_INVALID_ARG;
    if (check_text("version", version, 0, ATOTA_STORE_VERSION_MAX, NULL) ||
        (kind == 'd' && !is_file_name(file)))
        return ATOTA_ERR_INVALID_ARG;
    int which = kind == 'q' ? ST_DEVICE_SEEN_QUERY : ST_DEVICE_SEEN_DOWNLOAD;
    sqlite3_stmt *st = s->st[which];
    at = now_or(at);
    if (kind != 'd')
        file = "";
    lock(s);
    seen_t *last = &s->seen[(uint64_t)device_id % SEEN_SLOTS];
    if (last->device_id == device_id && last->at == at && last->kind == kind &&
        strcmp(last->version, version) == 0 && strcmp(last->file, file) == 0) {
        unlock(s); /* the row already says exactly this */
        return ATOTA_OK;
    }
    sqlite3_bind_int64(st, 1, device_id);
    sqlite3_bind_int64(st, 2, at);
    bind_text(st, 3, version);
    if (kind == 'd')
        bind_text(st, 4, file);
    atota_err_t err = change(s, which);
    if (err == ATOTA_OK) {
        last->device_id = device_id;
        last->at = at;
        last->kind = kind;
        snprintf(last->version, sizeof last->version, "%s", version);
        snprintf(last->file, sizeof last->file, "%s", file);
    }
    unlock(s);
    return err;
}

/* ---- versions and files ---------------------------------------------------------------------- */

static atota_err_t sq_version_add(atota_store_t *base, atota_store_version_t *v, atota_diag_t *diag)
{
    sq_store_t *s = (sq_store_t *)base;
    atota_err_t err = check_text("version", v->version, 1, ATOTA_STORE_VERSION_MAX, diag);
    if (!err)
        err = check_text("corename", v->corename, 0, ATOTA_STORE_NAME_MAX, diag);
    if (err)
        return err;
    char dup[128], missing[64];
    snprintf(dup, sizeof dup, "the product has a version '%s'", v->version);
    snprintf(missing, sizeof missing, "no product %lld", (long long)v->product_id);
    v->created_at = now_or(v->created_at);
    lock(s);
    sqlite3_stmt *st = s->st[ST_VERSION_ADD];
    sqlite3_bind_int64(st, 1, v->product_id);
    bind_text(st, 2, v->version);
    bind_text(st, 3, v->corename);
    sqlite3_bind_int64(st, 4, v->created_at);
    err = insert(s, ST_VERSION_ADD, &v->id, diag, dup, missing);
    unlock(s);
    return err;
}

static atota_err_t sq_version_get(atota_store_t *base, int64_t id, atota_store_version_t *out)
{
    sq_store_t *s = (sq_store_t *)base;
    lock(s);
    sqlite3_bind_int64(s->st[ST_VERSION_GET], 1, id);
    atota_err_t err = get_one(s, ST_VERSION_GET, read_version, out);
    unlock(s);
    return err;
}

static atota_err_t sq_version_find(atota_store_t *base, int64_t product_id, const char *version,
                                   atota_store_version_t *out)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!version)
        return ATOTA_ERR_NOT_FOUND;
    lock(s);
    sqlite3_bind_int64(s->st[ST_VERSION_FIND], 1, product_id);
    bind_text(s->st[ST_VERSION_FIND], 2, version);
    atota_err_t err = get_one(s, ST_VERSION_FIND, read_version, out);
    unlock(s);
    return err;
}

static atota_err_t sq_version_list(atota_store_t *base, int64_t product_id, atota_store_each_fn fn,
                                   void *ctx)
{
    return list((sq_store_t *)base, ST_PRODUCT_EXISTS, ST_VERSION_LIST, product_id,
                sizeof(atota_store_version_t), read_version, fn, ctx);
}

static atota_err_t sq_file_put(atota_store_t *base, atota_store_file_t *f, atota_diag_t *diag)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!is_file_name(f->name))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "a file name is [a-z0-9_]{1,16}.bin, not '%.32s'", f->name);
    if (!is_hex(f->sha256, 64))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "a file's sha256 is 64 lowercase hex digits");
    if (f->size > (uint64_t)INT64_MAX)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "file size out of range");
    atota_err_t err = check_text("chip", f->chip, 0, sizeof f->chip - 1, diag);
    if (!err)
        err = check_text("app version", f->app_version, 0, sizeof f->app_version - 1, diag);
    if (!err)
        err = check_text("project", f->project, 0, sizeof f->project - 1, diag);
    if (err)
        return err;
    char missing[64];
    snprintf(missing, sizeof missing, "no version %lld", (long long)f->version_id);
    f->created_at = now_or(f->created_at);
    lock(s);
    sqlite3_stmt *st = s->st[ST_FILE_PUT];
    sqlite3_bind_int64(st, 1, f->version_id);
    bind_text(st, 2, f->name);
    bind_text(st, 3, f->sha256);
    sqlite3_bind_int64(st, 4, (int64_t)f->size);
    sqlite3_bind_int64(st, 5, f->created_at);
    bind_text(st, 6, f->chip);
    bind_text(st, 7, f->app_version);
    bind_text(st, 8, f->project);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        f->id = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
    }
    err = rc == SQLITE_DONE ? ATOTA_OK : write_error(s, rc, diag, NULL, missing);
    done(st);
    unlock(s);
    return err;
}

static atota_err_t sq_file_get(atota_store_t *base, int64_t version_id, const char *name,
                               atota_store_file_t *out)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!is_file_name(name))
        return ATOTA_ERR_NOT_FOUND;
    lock(s);
    sqlite3_bind_int64(s->st[ST_FILE_GET], 1, version_id);
    bind_text(s->st[ST_FILE_GET], 2, name);
    atota_err_t err = get_one(s, ST_FILE_GET, read_file, out);
    unlock(s);
    return err;
}

static atota_err_t sq_file_delete(atota_store_t *base, int64_t version_id, const char *name)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!is_file_name(name))
        return ATOTA_ERR_NOT_FOUND;
    lock(s);
    sqlite3_bind_int64(s->st[ST_FILE_DELETE], 1, version_id);
    bind_text(s->st[ST_FILE_DELETE], 2, name);
    atota_err_t err = change(s, ST_FILE_DELETE);
    unlock(s);
    return err;
}

static atota_err_t sq_file_list(atota_store_t *base, int64_t version_id, atota_store_each_fn fn,
                                void *ctx)
{
    return list((sq_store_t *)base, ST_VERSION_EXISTS, ST_FILE_LIST, version_id,
                sizeof(atota_store_file_t), read_file, fn, ctx);
}

static atota_err_t sq_file_find_blob(atota_store_t *base, const char *sha256, const char *name,
                                     atota_store_file_t *out)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!is_hex(sha256, 64) || (name && !is_file_name(name)))
        return ATOTA_ERR_NOT_FOUND;
    lock(s);
    bind_text(s->st[ST_FILE_FIND_BLOB], 1, sha256);
    bind_text(s->st[ST_FILE_FIND_BLOB], 2, name);
    atota_err_t err = get_one(s, ST_FILE_FIND_BLOB, read_file, out);
    unlock(s);
    return err;
}

static atota_err_t sq_blob_list(atota_store_t *base, atota_store_each_fn fn, void *ctx)
{
    return list((sq_store_t *)base, -1, ST_BLOB_LIST, 0, 65, read_sha, fn, ctx);
}

/* ---- open and close -------------------------------------------------------------------------- */

static void sq_close(atota_store_t *base)
{
    sq_store_t *s = (sq_store_t *)base;
    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static atota_err_t exec(sq_store_t *s, const char *sql, atota_diag_t *diag, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        return ATOTA_OK;
    atota_err_t err =
        atota_diag_set(diag, ATOTA_ERR_IO, "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return err;
}

/* Creates or upgrades the schema, all in one transaction: a kill mid-way leaves the old one. */
static atota_err_t migrate(sq_store_t *s, atota_diag_t *diag)
{
    atota_err_t err = exec(s,
                           "BEGIN IMMEDIATE;"
                           "CREATE TABLE IF NOT EXISTS schema_version ("
                           " id INTEGER PRIMARY KEY CHECK (id = 1),"
                           " version INTEGER NOT NULL);"
                           "INSERT OR IGNORE INTO schema_version (id, version) VALUES (1, 0);",
                           diag, "cannot create the schema");
    if (err)
        return err;
    sqlite3_stmt *st = NULL;
    int have = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version WHERE id = 1", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        have = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (have < 0)
        err = atota_diag_set(diag, ATOTA_ERR_IO, "cannot read the schema version: %s",
                             sqlite3_errmsg(s->db));
    else if (have > SCHEMA_VERSION)
        err = atota_diag_set(diag, ATOTA_ERR_UNSUPPORTED,
                             "the database has schema %d, newer than this server's (%d)", have,
                             SCHEMA_VERSION);
    for (int i = have; !err && i < SCHEMA_VERSION; i++) {
        char what[64];
        snprintf(what, sizeof what, "schema migration %d", i + 1);
        err = exec(s, migrations[i], diag, what);
    }
    if (!err && have < SCHEMA_VERSION) {
        char sql[96];
        snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d WHERE id = 1",
                 SCHEMA_VERSION);
        err = exec(s, sql, diag, "cannot record the schema version");
    }
    if (!err)
        err = exec(s, "COMMIT", diag, "cannot commit the schema");
    if (err)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

atota_err_t atota_store_sqlite_open(const char *dir, atota_store_t **out, atota_diag_t *diag)
{
    *out = NULL;
    char path[4096];
    if (!dir || snprintf(path, sizeof path, "%s/atota.db", dir) >= (int)sizeof path)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "data directory path too long");
    /* Created 0600 before SQLite sees it (it holds password hashes); SQLite gives its -wal and
     * -shm files the database's permissions. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    close(fd);

    sq_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return ATOTA_ERR_NO_MEM;
    s->base.ops = &sq_ops;
    /* Adaptive: a store call holds the lock for microseconds, so a waiter spins a little before
     * it sleeps; the device API makes several calls a query from several workers, and sleeping
     * and waking on each was most of its time (bench/server). */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&s->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    atota_err_t err = ATOTA_OK;
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL); /* s->lock serialises */
    if (rc != SQLITE_OK) {
        err = atota_diag_set(diag, ATOTA_ERR_IO, "cannot open %s: %s", path,
                             s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* WAL + synchronous=FULL: every commit is fsynced to the WAL before it returns, so a row is
     * durable once the call returns (docs/server-store.md). */
    sqlite3_stmt *st = NULL;
    const char *mode = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        mode = (const char *)sqlite3_column_text(st, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        err = atota_diag_set(diag, ATOTA_ERR_IO, "%s: cannot switch to WAL mode: %s", path,
                             sqlite3_errmsg(s->db));
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);
    err = exec(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", diag, path);
    if (!err)
        err = migrate(s, diag);
    if (err)
        goto fail;
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                                NULL);
        if (rc != SQLITE_OK) {
            err = atota_diag_set(diag, ATOTA_ERR_IO, "cannot prepare statement %d: %s", i,
                                 sqlite3_errmsg(s->db));
            goto fail;
        }
    }
    *out = &s->base;
    return ATOTA_OK;
fail:
    sq_close(&s->base);
    return err;
}

static const atota_store_ops_t sq_ops = {
    .close = sq_close,
    .account_add = sq_account_add,
    .account_get = sq_account_get,
    .account_set_password = sq_account_set_password,
    .account_list = sq_account_list,
    .api_key_add = sq_api_key_add,
    .api_key_find = sq_api_key_find,
    .session_add = sq_session_add,
    .session_find = sq_session_find,
    .session_delete = sq_session_delete,
    .product_add = sq_product_add,
    .product_get = sq_product_get,
    .product_list = sq_product_list,
    .product_set_recommended = sq_product_set_recommended,
    .device_add = sq_device_add,
    .device_find_by_key = sq_device_find_by_key,
    .device_list = sq_device_list,
    .device_seen = sq_device_seen,
    .version_add = sq_version_add,
    .version_get = sq_version_get,
    .version_find = sq_version_find,
    .version_list = sq_version_list,
    .file_put = sq_file_put,
    .file_get = sq_file_get,
    .file_delete = sq_file_delete,
    .file_list = sq_file_list,
    .file_find_blob = sq_file_find_blob,
    .blob_list = sq_blob_list,
};
