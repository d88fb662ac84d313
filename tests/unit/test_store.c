/*
 * The server's SQLite store (server/store.h, server/store_sqlite.c, docs/server-store.md): every
 * operation, the UNIQUE constraints and the errors they give, input bounds, listings that call
 * back into the store, reopening, four threads at once, a schema newer than the code, and a
 * crash-safety loop: a child putting blobs and file rows is SIGKILLed at random moments, and
 * after each kill every file row's blob exists and hashes to its name.
 */

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "server/blobs.h"
#include "server/store.h"
#include "support/tmpdir.h"
#include "support/check.h"

/* The diag says what was wrong: it contains want. */
#define EXPECT_DIAG(d, want)                                                                       \
    do {                                                                                           \
        if (!strstr((d).msg, (want))) {                                                            \
            print_error("%s:%d: diag \"%s\", expected it to contain \"%s\"\n", __FILE__, __LINE__, \
                        (d).msg, (want));                                                          \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define KEY(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define SHA(c) KEY(c) c c c c c c c c c c c c c c c c c c c c c c c c

/* ---- fixtures -------------------------------------------------------------------------------- */

typedef struct {
    char dir[64];
    atota_store_t *s;
} fx_t;

static atota_store_t *open_store(const char *dir)
{
    atota_store_t *s = NULL;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_store_sqlite_open(dir, &s, &d);
    if (err || !s) {
        print_error("atota_store_sqlite_open(%s): %s\n", dir, atota_diag_text(&d, err));
        fail();
    }
    return s;
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/atota-store-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    fx->s = open_store(fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    if (fx->s)
        fx->s->ops->close(fx->s);
    fx_rm_tree(fx->dir);
    free(fx);
    return 0;
}

static int64_t add_product(atota_store_t *s, const char *name)
{
    atota_store_product_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "%s", name);
    atota_diag_t d;
    FX_CHECK(s->ops->product_add(s, &p, &d));
    assert_true(p.id > 0);
    return p.id;
}

static int64_t add_version(atota_store_t *s, int64_t product, const char *version)
{
    atota_store_version_t v;
    memset(&v, 0, sizeof v);
    v.product_id = product;
    snprintf(v.version, sizeof v.version, "%s", version);
    snprintf(v.corename, sizeof v.corename, "ESP32");
    FX_CHECK(s->ops->version_add(s, &v, NULL));
    assert_true(v.id > 0);
    return v.id;
}

static atota_store_file_t file_row(int64_t version, const char *name, char sha_char, uint64_t size)
{
    atota_store_file_t f;
    memset(&f, 0, sizeof f);
    f.version_id = version;
    snprintf(f.name, sizeof f.name, "%s", name);
    memset(f.sha256, sha_char, 64);
    f.size = size;
    return f;
}

static int64_t add_device(atota_store_t *s, int64_t product, const char *name, char key_char)
{
    atota_store_device_t d;
    memset(&d, 0, sizeof d);
    d.product_id = product;
    snprintf(d.name, sizeof d.name, "%s", name);
    memset(d.key, key_char, ATOTA_STORE_KEY_HEX);
    FX_CHECK(s->ops->device_add(s, &d, NULL));
    assert_true(d.id > 0);
    return d.id;
}

/* A listing collected into ids (and a count); stop_after > 0 stops the listing there. */
typedef struct {
    int64_t ids[64];
    char shas[64][65];
    unsigned n, stop_after;
    size_t offset; /* of the id in the row; SIZE_MAX: rows are blob names */
} collect_t;

static int collect_row(void *ctx, const void *row)
{
    collect_t *c = ctx;
    if (c->n < 64) {
        if (c->offset == SIZE_MAX)
            snprintf(c->shas[c->n], 65, "%s", (const char *)row);
        else
            memcpy(&c->ids[c->n], (const char *)row + c->offset, sizeof(int64_t));
    }
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static collect_t collector(size_t offset)
{
    collect_t c;
    memset(&c, 0, sizeof c);
    c.offset = offset;
    return c;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static char *query_text(const char *dir, const char *sql)
{
    static char out[256];
    char path[128];
    snprintf(path, sizeof path, "%s/atota.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static void test_open_creates_schema(void **state)
{
    fx_t *fx = *state;
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/atota.db", fx->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* it holds password hashes */
    assert_string_equal(query_text(fx->dir, "PRAGMA journal_mode"), "wal");
    assert_string_equal(query_text(fx->dir, "SELECT version FROM schema_version"), "1");
    assert_string_equal(query_text(fx->dir, "PRAGMA integrity_check"), "ok");
    /* a second open of the same database runs no migration again */
    atota_store_t *again = open_store(fx->dir);
    again->ops->close(again);
    assert_string_equal(query_text(fx->dir, "SELECT count(*) FROM schema_version"), "1");
}

static void test_open_refuses_newer_schema(void **state)
{
    fx_t *fx = *state;
    fx->s->ops->close(fx->s);
    fx->s = NULL;
    query_text(fx->dir, "UPDATE schema_version SET version = 99");
    atota_store_t *s = NULL;
    atota_diag_t d;
    FX_EXPECT_ERR(ATOTA_ERR_UNSUPPORTED, atota_store_sqlite_open(fx->dir, &s, &d));
    EXPECT_DIAG(d, "schema 99");
    assert_null(s);
    atota_diag_clear(&d);
    FX_EXPECT_ERR(ATOTA_ERR_IO, atota_store_sqlite_open("/nonexistent/dir", &s, &d));
    EXPECT_DIAG(d, "/nonexistent/dir/atota.db");
}

static void test_accounts(void **state)
{
    atota_store_t *s = ((fx_t *)*state)->s;
    atota_store_account_t a, b, got;
    atota_diag_t d;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "admin");
    snprintf(a.password_hash, sizeof a.password_hash, "pbkdf2-sha256$1000$salt$hash");
    a.is_admin = true;
    FX_CHECK(s->ops->account_add(s, &a, &d));
    assert_true(a.id > 0);
    assert_true(a.created_at > 0); /* 0: now */

    b = a;
    b.id = 0;
    FX_EXPECT_ERR(ATOTA_ERR_STATE, s->ops->account_add(s, &b, &d));
    EXPECT_DIAG(d, "an account named 'admin' exists");
    snprintf(b.name, sizeof b.name, "alice");
    b.is_admin = false;
    b.created_at = 1234;
    FX_CHECK(s->ops->account_add(s, &b, &d));
    assert_int_equal(b.created_at, 1234);

    FX_CHECK(s->ops->account_get(s, a.id, NULL, &got));
    assert_string_equal(got.name, "admin");
    assert_string_equal(got.password_hash, a.password_hash);
    assert_true(got.is_admin);
    assert_int_equal(got.created_at, a.created_at);
    FX_CHECK(s->ops->account_get(s, 0, "alice", &got));
    assert_int_equal(got.id, b.id);
    assert_false(got.is_admin);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->account_get(s, 0, "bob", &got));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->account_get(s, 999, NULL, &got));

    FX_CHECK(s->ops->account_set_password(s, b.id, "pbkdf2-sha256$1000$salt2$other"));
    FX_CHECK(s->ops->account_get(s, b.id, NULL, &got));
    assert_string_equal(got.password_hash, "pbkdf2-sha256$1000$salt2$other");
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->account_set_password(s, 999, "x"));
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->account_set_password(s, b.id, ""));

    collect_t c = collector(offsetof(atota_store_account_t, id));
    FX_CHECK(s->ops->account_list(s, collect_row, &c));
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], a.id);
    assert_int_equal(c.ids[1], b.id);

    /* names: 1..64 bytes of UTF-8, no control characters */
    memset(&b, 0, sizeof b);
    snprintf(b.password_hash, sizeof b.password_hash, "h");
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->account_add(s, &b, &d));
    EXPECT_DIAG(d, "account name is empty");
    snprintf(b.name, sizeof b.name, "tab\there");
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->account_add(s, &b, &d));
    EXPECT_DIAG(d, "control character (0x09 at byte 3)");
    snprintf(b.name, sizeof b.name, "bad\xc3");
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->account_add(s, &b, &d));
    EXPECT_DIAG(d, "not valid UTF-8");
    snprintf(b.name, sizeof b.name, "caf\xc3\xa9 \xe2\x82\xac"); /* "café €" */
    FX_CHECK(s->ops->account_add(s, &b, &d));
    FX_CHECK(s->ops->account_get(s, 0, "caf\xc3\xa9 \xe2\x82\xac", &got));
    b.password_hash[0] = '\0';
    snprintf(b.name, sizeof b.name, "nohash");
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->account_add(s, &b, &d));
}

static void test_names_at_the_bounds(void **state)
{
    atota_store_t *s = ((fx_t *)*state)->s;
    atota_store_product_t p;
    atota_diag_t d;
    memset(&p, 0, sizeof p);
    memset(p.name, 'x', ATOTA_STORE_NAME_MAX); /* 64 bytes: allowed */
    FX_CHECK(s->ops->product_add(s, &p, &d));
    /* 65 bytes: the struct cannot hold it, but a caller's unterminated buffer must not be read
     * past the bound */
    char *big = calloc(1, sizeof(atota_store_product_t) + 8);
    atota_store_product_t *q = (atota_store_product_t *)big;
    memset(q->name, 'y', sizeof q->name);
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->product_add(s, q, &d));
    EXPECT_DIAG(d, "longer than 64 bytes");
    free(big);
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "del\x7f");
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->product_add(s, &p, &d));
    snprintf(p.name, sizeof p.name, "\xed\xa0\x80"); /* a UTF-16 surrogate */
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->product_add(s, &p, &d));
    snprintf(p.name, sizeof p.name, "\xc0\xaf"); /* overlong '/' */
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->product_add(s, &p, &d));
}

static void test_api_keys_and_sessions(void **state)
{
    atota_store_t *s = ((fx_t *)*state)->s;
    atota_store_account_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "admin");
    snprintf(a.password_hash, sizeof a.password_hash, "h");
    FX_CHECK(s->ops->account_add(s, &a, NULL));

    atota_store_api_key_t k, got;
    memset(&k, 0, sizeof k);
    k.account_id = a.id;
    snprintf(k.label, sizeof k.label, "ci");
    memcpy(k.key_hash, SHA("a"), 65);
    FX_CHECK(s->ops->api_key_add(s, &k));
    assert_true(k.id > 0);
    FX_CHECK(s->ops->api_key_find(s, SHA("a"), &got));
    assert_int_equal(got.id, k.id);
    assert_int_equal(got.account_id, a.id);
    assert_string_equal(got.label, "ci");
    FX_EXPECT_ERR(ATOTA_ERR_STATE, s->ops->api_key_add(s, &k)); /* the same key twice */
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->api_key_find(s, SHA("b"), &got));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->api_key_find(s, "../a", &got));
    k.account_id = 999;
    memcpy(k.key_hash, SHA("c"), 65);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->api_key_add(s, &k)); /* no such account */
    k.account_id = a.id;
    memcpy(k.key_hash, SHA("A"), 65); /* uppercase: not our hex */
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->api_key_add(s, &k));
    memcpy(k.key_hash, SHA("c"), 65);
    k.label[0] = '\0'; /* a label may be empty */
    FX_CHECK(s->ops->api_key_add(s, &k));

    atota_store_session_t sess, found;
    memset(&sess, 0, sizeof sess);
    memcpy(sess.token_hash, SHA("1"), 65);
    sess.account_id = a.id;
    snprintf(sess.csrf, sizeof sess.csrf, "csrf-token");
    sess.expires_at = 1000;
    FX_CHECK(s->ops->session_add(s, &sess));
    FX_EXPECT_ERR(ATOTA_ERR_STATE, s->ops->session_add(s, &sess));
    FX_CHECK(s->ops->session_find(s, SHA("1"), 999, &found));
    assert_int_equal(found.account_id, a.id);
    assert_string_equal(found.csrf, "csrf-token");
    assert_int_equal(found.expires_at, 1000);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->session_find(s, SHA("2"), 999, &found));

    memcpy(sess.token_hash, SHA("2"), 65);
    sess.expires_at = 5000;
    FX_CHECK(s->ops->session_add(s, &sess));
    FX_CHECK(s->ops->session_delete(s, SHA("2")));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->session_find(s, SHA("2"), 999, &found));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->session_delete(s, SHA("2")));

    /* expired: not found, and removed */
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->session_find(s, SHA("1"), 1000, &found));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->session_find(s, SHA("1"), 0, &found));

    sess.account_id = 999;
    memcpy(sess.token_hash, SHA("3"), 65);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->session_add(s, &sess));
}

static void test_products_and_devices(void **state)
{
    atota_store_t *s = ((fx_t *)*state)->s;
    atota_diag_t d;
    int64_t p1 = add_product(s, "AT-ESP32");
    int64_t p2 = add_product(s, "AT-C3");
    atota_store_product_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "AT-ESP32");
    FX_EXPECT_ERR(ATOTA_ERR_STATE, s->ops->product_add(s, &p, &d));
    EXPECT_DIAG(d, "a product named 'AT-ESP32' exists");

    FX_CHECK(s->ops->product_get(s, p1, &p));
    assert_string_equal(p.name, "AT-ESP32");
    assert_int_equal(p.recommended_version_id, 0);
    assert_true(p.created_at > 0);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->product_get(s, 999, &p));
    collect_t c = collector(offsetof(atota_store_product_t, id));
    FX_CHECK(s->ops->product_list(s, collect_row, &c));
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], p1);
    assert_int_equal(c.ids[1], p2);

    int64_t d1 = add_device(s, p1, "kitchen", 'a');
    int64_t d2 = add_device(s, p1, "kitchen", 'b'); /* names need not be unique; keys must */
    add_device(s, p2, "porch", 'c');
    atota_store_device_t dev;
    memset(&dev, 0, sizeof dev);
    dev.product_id = p2;
    snprintf(dev.name, sizeof dev.name, "again");
    memset(dev.key, 'a', ATOTA_STORE_KEY_HEX);
    FX_EXPECT_ERR(ATOTA_ERR_STATE, s->ops->device_add(s, &dev, &d));
    EXPECT_DIAG(d, "key exists");
    memset(dev.key, 'd', ATOTA_STORE_KEY_HEX);
    dev.product_id = 999;
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->device_add(s, &dev, &d));
    EXPECT_DIAG(d, "no product 999");
    dev.product_id = p2;
    dev.key[5] = 'G';
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->device_add(s, &dev, &d));
    dev.key[5] = 'd';
    dev.name[0] = '\0';
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->device_add(s, &dev, &d));
    EXPECT_DIAG(d, "device name is empty");

    FX_CHECK(s->ops->device_find_by_key(s, KEY("b"), &dev));
    assert_int_equal(dev.id, d2);
    assert_int_equal(dev.product_id, p1);
    assert_string_equal(dev.name, "kitchen");
    assert_string_equal(dev.key, KEY("b"));
    assert_int_equal(dev.last_seen_at, 0);
    assert_string_equal(dev.last_query_version, "");
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->device_find_by_key(s, KEY("e"), &dev));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->device_find_by_key(s, "short", &dev));

    c = collector(offsetof(atota_store_device_t, id));
    FX_CHECK(s->ops->device_list(s, p1, collect_row, &c));
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], d1);
    assert_int_equal(c.ids[1], d2);
    c = collector(0);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->device_list(s, 999, collect_row, &c));
    assert_int_equal(c.n, 0);
    c = collector(0);
    c.stop_after = 1; /* a non-zero return stops the listing */
    FX_CHECK(s->ops->device_list(s, p1, collect_row, &c));
    assert_int_equal(c.n, 1);

    /* what a device asked */
    FX_CHECK(s->ops->device_seen(s, d1, 'q', "v2.0", NULL, 100));
    FX_CHECK(s->ops->device_find_by_key(s, KEY("a"), &dev));
    assert_int_equal(dev.last_seen_at, 100);
    assert_int_equal(dev.last_query_at, 100);
    assert_string_equal(dev.last_query_version, "v2.0");
    assert_int_equal(dev.last_download_at, 0);
    FX_CHECK(s->ops->device_seen(s, d1, 'd', "v2.0", "ota.bin", 200));
    FX_CHECK(
        s->ops->device_seen(s, d1, 'q', NULL, NULL, 150)); /* an older request, finished late */
    FX_CHECK(s->ops->device_find_by_key(s, KEY("a"), &dev));
    assert_int_equal(dev.last_seen_at, 200);
    assert_int_equal(dev.last_query_at, 150);
    assert_string_equal(dev.last_query_version, "");
    assert_int_equal(dev.last_download_at, 200);
    assert_string_equal(dev.last_download_version, "v2.0");
    assert_string_equal(dev.last_download_file, "ota.bin");
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->device_seen(s, 999, 'q', "v", NULL, 1));
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->device_seen(s, d1, 'x', "v", NULL, 1));
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->device_seen(s, d1, 'd', "v", "../x", 1));
    FX_CHECK(s->ops->device_find_by_key(s, KEY("b"), &dev)); /* the other device is untouched */
    assert_int_equal(dev.last_seen_at, 0);
}

static void test_versions_and_files(void **state)
{
    atota_store_t *s = ((fx_t *)*state)->s;
    atota_diag_t d;
    int64_t p1 = add_product(s, "one"), p2 = add_product(s, "two");
    int64_t v1 = add_version(s, p1, "v4.1.0.0");
    int64_t v2 = add_version(s, p1, "v4.2.0.0");
    int64_t w1 = add_version(s, p2, "v4.1.0.0"); /* the same string in another product */
    atota_store_version_t v;
    memset(&v, 0, sizeof v);
    v.product_id = p1;
    snprintf(v.version, sizeof v.version, "v4.1.0.0");
    FX_EXPECT_ERR(ATOTA_ERR_STATE, s->ops->version_add(s, &v, &d));
    EXPECT_DIAG(d, "the product has a version 'v4.1.0.0'");
    v.product_id = 999;
    snprintf(v.version, sizeof v.version, "v9");
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->version_add(s, &v, &d));
    EXPECT_DIAG(d, "no product 999");
    v.version[0] = '\0';
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->version_add(s, &v, &d));
    EXPECT_DIAG(d, "version is empty");

    FX_CHECK(s->ops->version_get(s, v2, &v));
    assert_int_equal(v.product_id, p1);
    assert_string_equal(v.version, "v4.2.0.0");
    assert_string_equal(v.corename, "ESP32");
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->version_get(s, 999, &v));
    FX_CHECK(s->ops->version_find(s, p2, "v4.1.0.0", &v));
    assert_int_equal(v.id, w1);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->version_find(s, p2, "v4.2.0.0", &v));
    collect_t c = collector(offsetof(atota_store_version_t, id));
    FX_CHECK(s->ops->version_list(s, p1, collect_row, &c));
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], v1);
    assert_int_equal(c.ids[1], v2);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->version_list(s, 999, collect_row, &c));

    /* files: add, replace (the row keeps its id), get, list, delete */
    atota_store_file_t f = file_row(v1, "ota.bin", '1', 1000), g;
    snprintf(f.chip, sizeof f.chip, "ESP32");
    snprintf(f.app_version, sizeof f.app_version, "v4.1.0.0");
    snprintf(f.project, sizeof f.project, "esp-at");
    FX_CHECK(s->ops->file_put(s, &f, &d));
    int64_t ota_id = f.id;
    atota_store_file_t cert = file_row(v1, "client_cert.bin", '2', 50);
    FX_CHECK(s->ops->file_put(s, &cert, &d));
    atota_store_file_t other = file_row(w1, "ota.bin", '1', 1000); /* the same blob */
    FX_CHECK(s->ops->file_put(s, &other, &d));

    FX_CHECK(s->ops->file_get(s, v1, "ota.bin", &g));
    assert_int_equal(g.id, ota_id);
    assert_string_equal(g.sha256, SHA("1"));
    assert_int_equal(g.size, 1000);
    assert_string_equal(g.chip, "ESP32");
    assert_string_equal(g.app_version, "v4.1.0.0");
    assert_string_equal(g.project, "esp-at");

    f = file_row(v1, "ota.bin", '3', 2000);
    f.created_at = 77;
    FX_CHECK(s->ops->file_put(s, &f, &d));
    assert_int_equal(f.id, ota_id);
    FX_CHECK(s->ops->file_get(s, v1, "ota.bin", &g));
    assert_string_equal(g.sha256, SHA("3"));
    assert_int_equal(g.size, 2000);
    assert_int_equal(g.created_at, 77);
    assert_string_equal(g.chip, ""); /* replaced whole */

    c = collector(offsetof(atota_store_file_t, id));
    FX_CHECK(s->ops->file_list(s, v1, collect_row, &c));
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], ota_id);
    assert_int_equal(c.ids[1], cert.id);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->file_list(s, 999, collect_row, &c));
    c = collector(0);
    FX_CHECK(s->ops->file_list(s, v2, collect_row, &c));
    assert_int_equal(c.n, 0);

    /* hosting: by blob (and name) */
    FX_CHECK(s->ops->file_find_blob(s, SHA("1"), "ota.bin", &g));
    assert_int_equal(g.version_id, w1);
    FX_CHECK(s->ops->file_find_blob(s, SHA("2"), NULL, &g));
    assert_string_equal(g.name, "client_cert.bin");
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->file_find_blob(s, SHA("2"), "ota.bin", &g));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->file_find_blob(s, SHA("4"), NULL, &g));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->file_find_blob(s, "../../etc", NULL, &g));

    c = collector(SIZE_MAX);
    FX_CHECK(s->ops->blob_list(s, collect_row, &c));
    assert_int_equal(c.n, 3); /* distinct */
    assert_string_equal(c.shas[0], SHA("1"));
    assert_string_equal(c.shas[1], SHA("2"));
    assert_string_equal(c.shas[2], SHA("3"));

    FX_CHECK(s->ops->file_delete(s, v1, "client_cert.bin"));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->file_delete(s, v1, "client_cert.bin"));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->file_get(s, v1, "client_cert.bin", &g));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->file_get(s, v1, "../ota.bin", &g));

    /* refused rows */
    f = file_row(999, "ota.bin", '1', 1);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->file_put(s, &f, &d));
    EXPECT_DIAG(d, "no version 999");
    static const char *const bad_names[] = {
        "OTA.bin", "ota.BIN", ".bin", "a/b.bin", "ota", "seventeen_chars_x.bin", "ota.bin.bin"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        f = file_row(v1, bad_names[i], '1', 1);
        FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->file_put(s, &f, &d));
    }
    f = file_row(v1, "ota.bin", 'g', 1);
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, s->ops->file_put(s, &f, &d));
    EXPECT_DIAG(d, "sha256");
}

static void test_recommended_version(void **state)
{
    atota_store_t *s = ((fx_t *)*state)->s;
    int64_t p1 = add_product(s, "one"), p2 = add_product(s, "two");
    int64_t v1 = add_version(s, p1, "v1");
    int64_t w1 = add_version(s, p2, "v1");
    atota_store_product_t p;
    FX_CHECK(s->ops->product_set_recommended(s, p1, v1));
    FX_CHECK(s->ops->product_get(s, p1, &p));
    assert_int_equal(p.recommended_version_id, v1);
    /* another product's version: refused, nothing changes */
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->product_set_recommended(s, p1, w1));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->product_set_recommended(s, p1, 999));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, s->ops->product_set_recommended(s, 999, v1));
    FX_CHECK(s->ops->product_get(s, p1, &p));
    assert_int_equal(p.recommended_version_id, v1);
    FX_CHECK(s->ops->product_get(s, p2, &p));
    assert_int_equal(p.recommended_version_id, 0);
    FX_CHECK(s->ops->product_set_recommended(s, p1, 0)); /* none */
    FX_CHECK(s->ops->product_get(s, p1, &p));
    assert_int_equal(p.recommended_version_id, 0);
}

/* A listing's callback may call the store (the console lists versions, then each one's files). */
typedef struct {
    atota_store_t *s;
    unsigned files;
} nested_t;

static int count_files(void *ctx, const void *row)
{
    (void)row;
    ((nested_t *)ctx)->files++;
    return 0;
}

static int list_files_of(void *ctx, const void *row)
{
    nested_t *n = ctx;
    const atota_store_version_t *v = row;
    atota_store_version_t again;
    FX_CHECK(n->s->ops->version_get(n->s, v->id, &again));
    FX_CHECK(n->s->ops->file_list(n->s, v->id, count_files, n));
    return 0;
}

static void test_listing_callbacks_may_call_the_store(void **state)
{
    atota_store_t *s = ((fx_t *)*state)->s;
    int64_t p1 = add_product(s, "one");
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        int64_t v = add_version(s, p1, name);
        atota_store_file_t f = file_row(v, "ota.bin", 'a', 10);
        FX_CHECK(s->ops->file_put(s, &f, NULL));
        f = file_row(v, "ble_data.bin", 'b', 10);
        FX_CHECK(s->ops->file_put(s, &f, NULL));
    }
    nested_t n = {s, 0};
    FX_CHECK(s->ops->version_list(s, p1, list_files_of, &n));
    assert_int_equal(n.files, 6);
}

static void test_reopen_keeps_everything(void **state)
{
    fx_t *fx = *state;
    atota_store_t *s = fx->s;
    atota_store_account_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "admin");
    snprintf(a.password_hash, sizeof a.password_hash, "hash");
    a.is_admin = true;
    FX_CHECK(s->ops->account_add(s, &a, NULL));
    atota_store_api_key_t k;
    memset(&k, 0, sizeof k);
    k.account_id = a.id;
    memcpy(k.key_hash, SHA("5"), 65);
    FX_CHECK(s->ops->api_key_add(s, &k));
    atota_store_session_t sess;
    memset(&sess, 0, sizeof sess);
    memcpy(sess.token_hash, SHA("6"), 65);
    sess.account_id = a.id;
    snprintf(sess.csrf, sizeof sess.csrf, "c");
    sess.expires_at = INT64_MAX;
    FX_CHECK(s->ops->session_add(s, &sess));
    int64_t p = add_product(s, "AT");
    int64_t v = add_version(s, p, "v4.1.0.0");
    FX_CHECK(s->ops->product_set_recommended(s, p, v));
    int64_t dev = add_device(s, p, "dev", 'f');
    FX_CHECK(s->ops->device_seen(s, dev, 'd', "v4.1.0.0", "ota.bin", 42));
    atota_store_file_t f = file_row(v, "ota.bin", '9', 123);
    snprintf(f.chip, sizeof f.chip, "ESP32-C3");
    FX_CHECK(s->ops->file_put(s, &f, NULL));

    s->ops->close(s);
    fx->s = s = open_store(fx->dir);

    atota_store_account_t ga;
    FX_CHECK(s->ops->account_get(s, 0, "admin", &ga));
    assert_int_equal(ga.id, a.id);
    assert_true(ga.is_admin);
    atota_store_api_key_t gk;
    FX_CHECK(s->ops->api_key_find(s, SHA("5"), &gk));
    assert_int_equal(gk.account_id, a.id);
    atota_store_session_t gs;
    FX_CHECK(s->ops->session_find(s, SHA("6"), 1, &gs));
    atota_store_product_t gp;
    FX_CHECK(s->ops->product_get(s, p, &gp));
    assert_string_equal(gp.name, "AT");
    assert_int_equal(gp.recommended_version_id, v);
    atota_store_device_t gd;
    FX_CHECK(s->ops->device_find_by_key(s, KEY("f"), &gd));
    assert_int_equal(gd.last_download_at, 42);
    assert_string_equal(gd.last_download_file, "ota.bin");
    atota_store_file_t gf;
    FX_CHECK(s->ops->file_get(s, v, "ota.bin", &gf));
    assert_int_equal(gf.size, 123);
    assert_string_equal(gf.chip, "ESP32-C3");
    /* and the constraints still hold */
    atota_store_product_t dup;
    memset(&dup, 0, sizeof dup);
    snprintf(dup.name, sizeof dup.name, "AT");
    FX_EXPECT_ERR(ATOTA_ERR_STATE, s->ops->product_add(s, &dup, NULL));
}

/* ---- four threads ---------------------------------------------------------------------------- */

#define THREADS    4
#define THREAD_OPS 60

typedef struct {
    atota_store_t *s;
    int index;
    int64_t shared_product;
    unsigned failures;
} worker_t;

static int count_row(void *ctx, const void *row)
{
    (void)row;
    (*(unsigned *)ctx)++;
    return 0;
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    atota_store_t *s = w->s;
    for (int i = 0; i < THREAD_OPS; i++) {
        atota_store_product_t p;
        memset(&p, 0, sizeof p);
        snprintf(p.name, sizeof p.name, "t%d-p%d", w->index, i);
        atota_store_version_t v;
        memset(&v, 0, sizeof v);
        snprintf(v.version, sizeof v.version, "t%d-v%d", w->index, i);
        v.product_id = w->shared_product;
        atota_store_device_t d;
        memset(&d, 0, sizeof d);
        d.product_id = w->shared_product;
        snprintf(d.name, sizeof d.name, "dev");
        snprintf(d.key, sizeof d.key, "%02x%038x", w->index, i);
        atota_store_file_t f;
        unsigned n = 0;
        atota_store_product_t dup = p;
        if (s->ops->product_add(s, &p, NULL) || s->ops->version_add(s, &v, NULL) ||
            s->ops->device_add(s, &d, NULL) ||
            s->ops->device_seen(s, d.id, 'q', v.version, NULL, i + 1) ||
            (f = file_row(v.id, "ota.bin", "0123"[w->index], (uint64_t)i),
             s->ops->file_put(s, &f, NULL)) ||
            s->ops->file_get(s, v.id, "ota.bin", &f) ||
            s->ops->version_list(s, w->shared_product, count_row, &n) ||
            s->ops->product_set_recommended(s, w->shared_product, v.id) ||
            s->ops->product_add(s, &dup, NULL) != ATOTA_ERR_STATE)
            w->failures++;
    }
    return NULL;
}

static void test_four_threads(void **state)
{
    atota_store_t *s = ((fx_t *)*state)->s;
    int64_t shared = add_product(s, "shared");
    pthread_t t[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){s, i, shared, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    unsigned products = 0, versions = 0, devices = 0;
    FX_CHECK(s->ops->product_list(s, count_row, &products));
    FX_CHECK(s->ops->version_list(s, shared, count_row, &versions));
    FX_CHECK(s->ops->device_list(s, shared, count_row, &devices));
    assert_int_equal(products, 1 + THREADS * THREAD_OPS);
    assert_int_equal(versions, THREADS * THREAD_OPS);
    assert_int_equal(devices, THREADS * THREAD_OPS);
    assert_string_equal(query_text(((fx_t *)*state)->dir, "PRAGMA integrity_check"), "ok");
}

/* ---- crash safety ---------------------------------------------------------------------------- */

#define CRASH_ROUNDS 12

/* The child: blob first, then its file row, forever, until it is killed. */
static void crash_child(const char *dir, unsigned seed)
{
    atota_store_t *s = NULL;
    atota_blobs_t *b = NULL;
    if (atota_store_sqlite_open(dir, &s, NULL) || atota_blobs_open(dir, &b, NULL))
        _exit(2);
    atota_store_product_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "crash-%u", seed);
    if (s->ops->product_add(s, &p, NULL))
        _exit(3);
    static uint8_t data[200000];
    uint32_t x = seed * 2654435761u + 1;
    for (unsigned i = 0;; i++) {
        size_t len = 1000 + (x % (sizeof data - 1000));
        for (size_t j = 0; j < len; j += 4) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            memcpy(data + j, &x, len - j < 4 ? len - j : 4);
        }
        atota_store_version_t v;
        memset(&v, 0, sizeof v);
        v.product_id = p.id;
        snprintf(v.version, sizeof v.version, "v%u", i);
        char sha[65];
        if (atota_blobs_put(b, data, len, sha, NULL) || s->ops->version_add(s, &v, NULL))
            _exit(4);
        atota_store_file_t f = file_row(v.id, "ota.bin", '0', len);
        memcpy(f.sha256, sha, 65);
        if (s->ops->file_put(s, &f, NULL))
            _exit(5);
        if (i % 3 == 0 && s->ops->file_put(s, &f, NULL)) /* a replacement now and then */
            _exit(6);
    }
}

typedef struct {
    atota_blobs_t *b;
    unsigned rows, bad;
    atota_store_t *s;
} verify_t;

static int verify_blob(void *ctx, const void *row)
{
    verify_t *v = ctx;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_blobs_verify(v->b, row, &d);
    if (err) {
        print_error("file row names blob %s: %s\n", (const char *)row, atota_diag_text(&d, err));
        v->bad++;
    }
    v->rows++;
    return 0;
}

static int keep_in_store(void *ctx, const char *sha)
{
    verify_t *v = ctx;
    atota_store_file_t f;
    return v->s->ops->file_find_blob(v->s, sha, NULL, &f) == ATOTA_OK;
}

/* Verifies every file under <dir>/blobs; returns how many files tmp still holds. */
static unsigned check_blob_dirs(const char *dir, atota_blobs_t *b)
{
    char path[256];
    unsigned tmp = 0;
    snprintf(path, sizeof path, "%s/blobs", dir);
    DIR *top = opendir(path);
    assert_non_null(top);
    struct dirent *e;
    while ((e = readdir(top)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/blobs/%.8s", dir, e->d_name);
        DIR *d = opendir(path);
        assert_non_null(d);
        struct dirent *f;
        while ((f = readdir(d)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            if (strcmp(e->d_name, "tmp") == 0) {
                print_error("left in tmp: %s\n", f->d_name);
                tmp++;
                continue;
            }
            atota_diag_t diag;
            atota_diag_clear(&diag);
            atota_err_t err = atota_blobs_verify(b, f->d_name, &diag);
            if (err) {
                print_error("%s/%s: %s\n", path, f->d_name, atota_diag_text(&diag, err));
                fail();
            }
        }
        closedir(d);
    }
    closedir(top);
    return tmp;
}

static void test_crash_safety(void **state)
{
    fx_t *fx = *state;
    fx->s->ops->close(fx->s);
    fx->s = NULL;
    srand((unsigned)time(NULL));
    unsigned total_rows = 0;
    for (unsigned round = 0; round < CRASH_ROUNDS; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            crash_child(fx->dir, round + 1);
        struct timespec ts = {0, (long)(20 + rand() % 150) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status)) {
            print_error("round %u: the child exited with %d before it was killed\n", round,
                        WEXITSTATUS(status));
            fail();
        }

        atota_store_t *s = open_store(fx->dir);
        atota_blobs_t *b = NULL;
        FX_CHECK(atota_blobs_open(fx->dir, &b, NULL));
        verify_t v = {b, 0, 0, s};
        FX_CHECK(s->ops->blob_list(s, verify_blob, &v));
        assert_int_equal(v.bad, 0);
        assert_string_equal(query_text(fx->dir, "PRAGMA integrity_check"), "ok");
        assert_string_equal(query_text(fx->dir, "PRAGMA foreign_key_check"), "");
        unsigned removed = 0;
        FX_CHECK(atota_blobs_gc(b, keep_in_store, &v, &removed));
        v.rows = 0;
        FX_CHECK(s->ops->blob_list(s, verify_blob, &v)); /* gc kept every named blob */
        assert_int_equal(v.bad, 0);
        assert_true(v.rows >= total_rows);
        /* what the killed child had half-written is gone, and every blob left is whole */
        assert_int_equal(check_blob_dirs(fx->dir, b), 0);
        total_rows = v.rows;
        atota_blobs_close(b);
        s->ops->close(s);
    }
    print_message("%u rounds, %u file rows committed before the kills\n", CRASH_ROUNDS, total_rows);
    if (total_rows == 0) {
        print_error("no child committed a single file row\n");
        fail();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_at_the_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_keys_and_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_products_and_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions_and_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recommended_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing_callbacks_may_call_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_four_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
