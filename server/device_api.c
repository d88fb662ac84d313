/*
 * The device API of iot.espressif.cn, as ESP-AT firmware calls it unchanged (esp-at-ota.md
 * §3.4-§3.6, docs/iot-protocol.md): GET /v1/device/rom/ and /v1/device/rom, with
 *   ?is_format_simple=true                            AT+CIUPDATE's query: the recommended version
 *   ?action=download_rom&version=<v>&filename=<name>  AT+CIUPDATE's download: the file
 *   (nothing)                                         AT+CIPFWVER: the product's versions
 * Every request carries "Authorization: token <device key>"; a device sees its own product only.
 * The reply bodies come from core/proto/iot, which builds them so that ESP-AT's substring scraping
 * reads them right; the download's headers and first bytes leave in one write (server/httpd.c).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/proto/iot.h"
#include "server/auth.h"
#include "server/server.h"

#define DEVICE_ROM_PATH   "/v1/device/rom"
#define FILES_PER_ROM_MAX 32u
#define ERROR_BODY_MAX    320u

/* A JSON reply of the device API. ESP-AT's query loop reads until it finds its markers or the
 * peer closes (esp-at-ota.md §3.4), and it sends "Connection: keep-alive" even over HTTP/1.0: a
 * reply without the markers (401, 404) must end with "Connection: close", or the device waits
 * for the idle timeout before it fails. A 200 carries the markers (or, for AT+CIPFWVER, is read
 * by its Content-Length), so the connection stays open for the next request. */
static atota_httpd_response_t *json_reply(int status, const char *body, size_t len)
{
    atota_httpd_response_t *r = atota_httpd_response_bytes(status, "application/json", body, len);
    if (status != 200)
        atota_httpd_response_header(r, "Connection", "close");
    return r;
}

/* {"status": <status>, "message": "..."}: never holds `rom_version": ` (core/proto/iot.h). */
static atota_httpd_response_t *error_reply(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static atota_httpd_response_t *error_reply(int status, const char *fmt, ...)
{
    char msg[256], body[ERROR_BODY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = atota_iot_reply_error(body, sizeof body, status, msg);
    return json_reply(status, body, n);
}

/* ---- authentication ------------------------------------------------------------------------ */

/*
 * "Authorization: token <40 hex>" (ESP-AT: "token %s"; the scheme is matched without regard to
 * case, the key is lowercased: keys are issued in lowercase hex). The device is looked up by its
 * key through the store's index, then the stored key is compared with the presented one in
 * constant time, so a store whose lookup were not exact (a prefix or case-folding match) could
 * never let a wrong key in. The index lookup itself can only leak timing about where a key sorts
 * among 160-bit random keys, which does not help guess one.
 */
static bool parse_token(const char *header, char key[ATOTA_STORE_KEY_HEX + 1])
{
    if (!header)
        return false;
    while (*header == ' ' || *header == '\t')
        header++;
    if (strncasecmp(header, "token", 5) != 0 || (header[5] != ' ' && header[5] != '\t'))
        return false;
    const char *p = header + 5;
    while (*p == ' ' || *p == '\t')
        p++;
    for (unsigned i = 0; i < ATOTA_STORE_KEY_HEX; i++) {
        if (!isxdigit((unsigned char)p[i]))
            return false;
        key[i] = (char)tolower((unsigned char)p[i]);
    }
    key[ATOTA_STORE_KEY_HEX] = '\0';
    p += ATOTA_STORE_KEY_HEX;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0';
}

typedef enum { AUTH_OK, AUTH_DENIED, AUTH_STORE_FAILED } auth_t;

static auth_t authenticate(atota_server_t *srv, const atota_httpd_request_t *req,
                           atota_store_device_t *dev)
{
    char key[ATOTA_STORE_KEY_HEX + 1];
    if (!parse_token(atota_httpd_header(req, "Authorization"), key))
        return AUTH_DENIED;
    memset(dev, 0, sizeof *dev);
    atota_err_t err = srv->store->ops->device_find_by_key(srv->store, key, dev);
    if (err == ATOTA_ERR_NOT_FOUND)
        return AUTH_DENIED;
    if (err != ATOTA_OK) {
        atota_server_log(srv, "device api: device lookup failed: %s", atota_strerror(err));
        return AUTH_STORE_FAILED;
    }
    if (strlen(dev->key) != ATOTA_STORE_KEY_HEX ||
        !atota_auth_equal(dev->key, key, ATOTA_STORE_KEY_HEX))
        return AUTH_DENIED;
    return AUTH_OK;
}

static void record_seen(atota_server_t *srv, const atota_store_device_t *dev, char kind,
                        const char *version, const char *file)
{
    atota_err_t err =
        srv->store->ops->device_seen(srv->store, dev->id, kind, version, file, (int64_t)time(NULL));
    if (err != ATOTA_OK)
        atota_server_log(srv, "device api: recording what device %lld asked failed: %s",
                         (long long)dev->id, atota_strerror(err));
}

/* ---- the product's versions ---------------------------------------------------------------- */

typedef struct {
    atota_store_file_t rows[FILES_PER_ROM_MAX];
    unsigned count;
} files_t;

static int collect_file(void *ctx, const void *row)
{
    files_t *f = ctx;
    const atota_store_file_t *file = row;
    if (!atota_iot_file_name_is_safe(file->name))
        return 0;
    f->rows[f->count++] = *file;
    return f->count == FILES_PER_ROM_MAX;
}

/*
 * The reply of a query (kind QUERY) or of AT+CIPFWVER (kind LIST). ROMs go in this order: the
 * recommended one first, then the others newest first (highest id first); when the reply would
 * pass its limit (core/proto/iot.h), the oldest ROMs are the ones left out. Versions ESP-AT could
 * not use (atota_iot_version_is_safe) are never listed.
 */
static atota_httpd_response_t *rom_reply(atota_server_t *srv, const atota_store_device_t *dev,
                                         atota_iot_reply_kind_t kind)
{
    atota_store_t *st = srv->store;
    atota_store_product_t product;
    atota_err_t err = st->ops->product_get(st, dev->product_id, &product);
    if (err != ATOTA_OK) {
        atota_server_log(srv, "device api: product %lld of device %lld: %s",
                         (long long)dev->product_id, (long long)dev->id, atota_strerror(err));
        return error_reply(500, "the server cannot read this device's product");
    }
    /* The product's versions, the recommended one among them: one store call fewer a query than
     * reading the recommended version on its own (bench/server). */
    atota_store_rows_t versions = ATOTA_STORE_ROWS(atota_store_version_t);
    err = st->ops->version_list(st, dev->product_id, atota_store_collect, &versions);
    if (err != ATOTA_OK || versions.oom) {
        free(versions.rows);
        return error_reply(500, "the server cannot list this product's versions");
    }
    atota_store_version_t rec;
    bool has_rec = false;
    for (size_t i = 0; i < versions.count && product.recommended_version_id != 0; i++) {
        const atota_store_version_t *v = ATOTA_STORE_ROW(versions, atota_store_version_t, i);
        if (v->id != product.recommended_version_id)
            continue;
        rec = *v;
        has_rec = atota_iot_version_is_safe(rec.version);
        if (!has_rec)
            atota_server_log(srv,
                             "device api: product %lld: the recommended version cannot be sent to "
                             "ESP-AT (empty, too long, or a character it cannot carry)",
                             (long long)product.id);
        break;
    }
    if (kind == ATOTA_IOT_REPLY_QUERY && !has_rec) {
        free(versions.rows);
        return error_reply(404, "no recommended version for this product");
    }

    size_t cap =
        kind == ATOTA_IOT_REPLY_QUERY ? ATOTA_IOT_QUERY_BODY_MAX + 1 : ATOTA_IOT_LIST_BODY_MAX + 1;
    char *body = malloc(cap);
    if (!body) {
        free(versions.rows);
        return NULL;
    }
    atota_iot_reply_t reply;
    err = atota_iot_reply_begin(&reply, kind, body, cap, has_rec ? rec.version : NULL);
    if (err != ATOTA_OK) { /* cannot happen with a safe version and these limits */
        free(body);
        free(versions.rows);
        return error_reply(500, "the reply cannot be built");
    }
    /* index count: the recommended one; then count-1 .. 0 */
    for (size_t k = 0; k <= versions.count; k++) {
        const atota_store_version_t *v;
        if (k == 0) {
            if (!has_rec)
                continue;
            v = &rec;
        } else {
            v = ATOTA_STORE_ROW(versions, atota_store_version_t, versions.count - k);
            if (has_rec && v->id == rec.id)
                continue;
        }
        atota_iot_file_t files[FILES_PER_ROM_MAX];
        files_t rows;
        rows.count = 0;
        if (kind == ATOTA_IOT_REPLY_LIST) {
            if (st->ops->file_list(st, v->id, collect_file, &rows) != ATOTA_OK)
                rows.count = 0;
            for (unsigned i = 0; i < rows.count; i++) {
                files[i].name = rows.rows[i].name;
                files[i].size = rows.rows[i].size;
            }
        }
        atota_iot_reply_add_rom(&reply, v->version, has_rec && v->id == rec.id, files, rows.count);
    }
    size_t len = atota_iot_reply_end(&reply);
    free(versions.rows);
    if (reply.dropped)
        atota_server_log(srv, "device api: product %lld: %u version(s) left out of a %s reply",
                         (long long)product.id, reply.dropped,
                         kind == ATOTA_IOT_REPLY_QUERY ? "query" : "listing");
    if (kind == ATOTA_IOT_REPLY_QUERY)
        record_seen(srv, dev, 'q', rec.version, NULL);
    atota_httpd_response_t *r = json_reply(200, body, len);
    free(body);
    return r;
}

/* ---- the download -------------------------------------------------------------------------- */

/* RFC 9530's "Repr-Digest: sha-256=:<base64 of the 32-byte SHA-256>:" for a file row whose
 * sha256 is 64 hex digits (the blob's name: the content's hash). ESP-AT ignores headers it does
 * not scrape (esp-at-ota.md §3.5); a host fetching the same URL can check the bytes with it. The
 * header adds 69 bytes to a block that must stay well under the device's 1024-byte first read
 * (tests/unit/test_device_api.c checks the block's size). Returns false for a malformed hex. */
static bool repr_digest(const char *sha256_hex, char out[ATOTA_IOT_DIGEST_VALUE_MAX])
{
    uint8_t digest[32];
    if (strlen(sha256_hex) != 2 * sizeof digest)
        return false;
    for (size_t i = 0; i < sizeof digest; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)sha256_hex[2 * i]) ||
            !isxdigit((unsigned char)sha256_hex[2 * i + 1]) ||
            sscanf(sha256_hex + 2 * i, "%2x", &v) != 1)
            return false;
        digest[i] = (uint8_t)v;
    }
    atota_iot_digest_value(digest, out);
    return true;
}

static atota_httpd_response_t *download(atota_server_t *srv, const atota_httpd_request_t *req,
                                        const atota_store_device_t *dev)
{
    atota_store_t *st = srv->store;
    const char *version = atota_httpd_arg(req, "version");
    const char *filename = atota_httpd_arg(req, "filename");
    if (!version || !filename)
        return error_reply(404, "a download needs version and filename");
    atota_store_version_t v;
    atota_err_t err = st->ops->version_find(st, dev->product_id, version, &v);
    if (err == ATOTA_ERR_NOT_FOUND || err == ATOTA_ERR_INVALID_ARG)
        return error_reply(404, "this product has no version '%.64s'", version);
    if (err != ATOTA_OK)
        return error_reply(500, "the server cannot read this product's versions");
    if (v.product_id != dev->product_id) /* the store's contract, checked again */
        return error_reply(404, "this product has no version '%.64s'", version);
    atota_store_file_t file;
    err = st->ops->file_get(st, v.id, filename, &file);
    if (err == ATOTA_ERR_NOT_FOUND || err == ATOTA_ERR_INVALID_ARG)
        return error_reply(404, "version '%.64s' has no file '%.32s'", v.version, filename);
    if (err != ATOTA_OK)
        return error_reply(500, "the server cannot read this version's files");

    int fd = -1;
    uint64_t size = 0;
    int64_t mtime = 0;
    err = atota_blobs_open_read(srv->blobs, file.sha256, &fd, &size, &mtime);
    if (err != ATOTA_OK) {
        atota_server_log(srv, "device api: blob %s of %s %s: %s", file.sha256, v.version, file.name,
                         atota_strerror(err));
        return error_reply(500, "the file's contents are missing on the server");
    }
    if (size != file.size)
        atota_server_log(srv, "device api: blob %s is %llu bytes, its file row says %llu",
                         file.sha256, (unsigned long long)size, (unsigned long long)file.size);
    /* esp-at-ota.md §3.5: Content-Length (MHD writes "Content-Length: <n>" exactly), identity
     * encoding whatever Accept-Encoding says (nothing here compresses), and the headers with the
     * first body bytes in one write (the httpd layer's guarantee for file responses). */
    atota_httpd_response_t *r = atota_httpd_response_file(200, fd, 0, size);
    if (!r) {
        close(fd);
        return NULL;
    }
    atota_httpd_response_header(r, "Content-Type", "application/octet-stream");
    char digest[ATOTA_IOT_DIGEST_VALUE_MAX];
    if (repr_digest(file.sha256, digest))
        atota_httpd_response_header(r, "Repr-Digest", digest);
    else
        atota_server_log(srv, "device api: file %s of %s has no valid sha256 ('%s')", file.name,
                         v.version, file.sha256);
    if (strcmp(req->method, "HEAD") != 0)
        record_seen(srv, dev, 'd', v.version, file.name);
    return r;
}

/* ---- the route ----------------------------------------------------------------------------- */

static atota_httpd_response_t *device_rom(void *ctx, const atota_httpd_request_t *req)
{
    atota_server_t *srv = ctx;
    atota_store_device_t dev;
    switch (authenticate(srv, req, &dev)) {
    case AUTH_OK:
        break;
    case AUTH_DENIED:
        return error_reply(401, "wrong or missing device token (Authorization: token <key>)");
    default:
        return error_reply(500, "the server cannot check the device token");
    }
    const char *action = atota_httpd_arg(req, "action");
    if (action) {
        if (strcmp(action, "download_rom") == 0)
            return download(srv, req, &dev);
        return error_reply(400, "unknown action '%.32s'", action);
    }
    const char *simple = atota_httpd_arg(req, "is_format_simple");
    if (simple && strcmp(simple, "true") == 0)
        return rom_reply(srv, &dev, ATOTA_IOT_REPLY_QUERY);
    return rom_reply(srv, &dev, ATOTA_IOT_REPLY_LIST);
}

unsigned atota_device_api_routes(atota_server_t *srv, atota_httpd_route_t *out, unsigned max)
{
    /* AT+CIUPDATE asks for "/v1/device/rom/", AT+CIPFWVER for "/v1/device/rom": the same answers
     * on both. A GET route answers HEAD too. */
    const atota_httpd_route_t routes[] = {
        {"GET", DEVICE_ROM_PATH "/", 0, device_rom, srv},
        {"GET", DEVICE_ROM_PATH, 0, device_rom, srv},
    };
    unsigned n = 0;
    for (; n < sizeof routes / sizeof routes[0] && n < max; n++)
        out[n] = routes[n];
    return n;
}
