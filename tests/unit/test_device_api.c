/*
 * The device API (server/device_api.c) held to the real client: a device that reads exactly as
 * ESP-AT firmware does (esp-at-ota.md §3.4-§3.6, core/proto/iot.h) talks to the real routes
 * started with atota_httpd_start, over HTTP and over HTTPS (mbedTLS's ssl API without
 * verification, as esp_tls: one ssl_read gives at most one TLS record). It sends core/proto's
 * request bytes, makes ONE first read of at most 1024 bytes as soon as data arrives, scrapes it,
 * then streams the rest up to Content-Length. Checked: the recommended version, byte-exact files,
 * the first read holding headers and the magic (100 times over each transport), a wrong token and
 * another product's version getting no firmware, replies under ESP-AT's limits, AT+CIPFWVER, and
 * the download's Repr-Digest (RFC 9530) naming the SHA-256 of the bytes served.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "core/proto/iot.h"
#include "core/util/hash.h"
#include "server/auth.h"
#include "server/server.h"
#include "support/check.h"
#include "support/tmpdir.h"

#define V1      "v1.0.0.0"
#define V2      "v2.0.0.0"
#define V_OTHER "v9.0.0.0"

/* The download's header block, status line to blank line: "well under" the device's 1024-byte
 * first read (esp-at-ota.md §3.5), which must also hold the first body bytes. */
#define HEADER_BLOCK_MAX 512u

typedef struct {
    char dir[64];
    atota_store_t *store;
    atota_blobs_t *blobs;
    atota_server_t srv;
    atota_httpd_route_t routes[4];
    atota_httpd_t *httpd;
    uint16_t http_port, https_port;
    char cert[8192], key[8192];
    char key_a[ATOTA_STORE_KEY_HEX + 1]; /* product A: V1, V2 (recommended) */
    char key_b[ATOTA_STORE_KEY_HEX + 1]; /* product B: V_OTHER (recommended) */
    char key_c[ATOTA_STORE_KEY_HEX + 1]; /* product C: a version, none recommended */
    char key_d[ATOTA_STORE_KEY_HEX + 1]; /* product D: 60 versions of 64 bytes, each with files */
    uint8_t *ota_v1, *ota_v2, *ota_other, *mqtt_ca;
    size_t ota_v1_len, ota_v2_len, ota_other_len, mqtt_ca_len;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    pthread_mutex_t log_lock;
    char log[16384];
} rig_t;

static void rig_log(void *ctx, const char *line)
{
    rig_t *r = ctx;
    pthread_mutex_lock(&r->log_lock);
    size_t n = strlen(r->log);
    if (n + strlen(line) + 2 < sizeof r->log)
        snprintf(r->log + n, sizeof r->log - n, "%s\n", line);
    pthread_mutex_unlock(&r->log_lock);
}

static uint8_t *make_bytes(size_t len, uint32_t seed, uint8_t b0, uint8_t b1)
{
    uint8_t *p = malloc(len);
    assert_non_null(p);
    uint32_t x = seed;
    for (size_t i = 0; i < len; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (uint8_t)(x >> 24);
    }
    p[0] = b0;
    p[1] = b1;
    return p;
}

static void check_ok(const char *what, atota_err_t err, const atota_diag_t *d)
{
    if (err != ATOTA_OK) {
        print_error("%s: %s\n", what, atota_diag_text(d, err));
        fail();
    }
}

static int64_t add_product(rig_t *r, const char *name)
{
    atota_store_product_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "%s", name);
    atota_diag_t d;
    atota_diag_clear(&d);
    check_ok("product_add", r->store->ops->product_add(r->store, &p, &d), &d);
    return p.id;
}

static void add_device(rig_t *r, int64_t product, const char *name,
                       char key[ATOTA_STORE_KEY_HEX + 1])
{
    atota_store_device_t dev;
    memset(&dev, 0, sizeof dev);
    dev.product_id = product;
    snprintf(dev.name, sizeof dev.name, "%s", name);
    assert_int_equal(atota_auth_device_key(dev.key), ATOTA_OK);
    atota_diag_t d;
    atota_diag_clear(&d);
    check_ok("device_add", r->store->ops->device_add(r->store, &dev, &d), &d);
    memcpy(key, dev.key, ATOTA_STORE_KEY_HEX + 1);
}

static int64_t add_version(rig_t *r, int64_t product, const char *version)
{
    atota_store_version_t v;
    memset(&v, 0, sizeof v);
    v.product_id = product;
    snprintf(v.version, sizeof v.version, "%s", version);
    atota_diag_t d;
    atota_diag_clear(&d);
    check_ok("version_add", r->store->ops->version_add(r->store, &v, &d), &d);
    return v.id;
}

static void add_file(rig_t *r, int64_t version_id, const char *name, const uint8_t *data,
                     size_t len)
{
    atota_store_file_t f;
    memset(&f, 0, sizeof f);
    f.version_id = version_id;
    snprintf(f.name, sizeof f.name, "%s", name);
    f.size = len;
    atota_diag_t d;
    atota_diag_clear(&d);
    check_ok("blobs_put", atota_blobs_put(r->blobs, data, len, f.sha256, &d), &d);
    check_ok("file_put", r->store->ops->file_put(r->store, &f, &d), &d);
}

static int rig_setup(void **state)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    pthread_mutex_init(&r->log_lock, NULL);
    snprintf(r->dir, sizeof r->dir, "/tmp/atota-devapi-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    atota_diag_t d;
    atota_diag_clear(&d);
    check_ok("store open", atota_store_sqlite_open(r->dir, &r->store, &d), &d);
    check_ok("blobs open", atota_blobs_open(r->dir, &r->blobs, &d), &d);

    r->ota_v1_len = 200 * 1024 + 17;
    r->ota_v2_len = 300 * 1024 + 123;
    r->ota_other_len = 100 * 1024 + 5;
    r->mqtt_ca_len = 2000;
    r->ota_v1 = make_bytes(r->ota_v1_len, 1, 0xE9, 0x05);
    r->ota_v2 = make_bytes(r->ota_v2_len, 2, 0xE9, 0x06);
    r->ota_other = make_bytes(r->ota_other_len, 3, 0xE9, 0x07);
    r->mqtt_ca = make_bytes(r->mqtt_ca_len, 4, 0xF1, 0xF1);

    int64_t a = add_product(r, "product-a");
    int64_t b = add_product(r, "product-b");
    int64_t c = add_product(r, "product-c");
    add_device(r, a, "dev-a", r->key_a);
    add_device(r, b, "dev-b", r->key_b);
    add_device(r, c, "dev-c", r->key_c);
    int64_t a1 = add_version(r, a, V1);
    int64_t a2 = add_version(r, a, V2);
    int64_t b9 = add_version(r, b, V_OTHER);
    int64_t c1 = add_version(r, c, "v0.1.0.0");
    add_file(r, a1, "ota.bin", r->ota_v1, r->ota_v1_len);
    add_file(r, a2, "ota.bin", r->ota_v2, r->ota_v2_len);
    add_file(r, a2, "mqtt_ca.bin", r->mqtt_ca, r->mqtt_ca_len);
    add_file(r, b9, "ota.bin", r->ota_other, r->ota_other_len);
    add_file(r, c1, "ota.bin", r->ota_v1, r->ota_v1_len);
    assert_int_equal(r->store->ops->product_set_recommended(r->store, a, a2), ATOTA_OK);
    assert_int_equal(r->store->ops->product_set_recommended(r->store, b, b9), ATOTA_OK);
    int64_t pd = add_product(r, "product-d");
    add_device(r, pd, "dev-d", r->key_d);
    int64_t first_d = 0;
    for (unsigned i = 0; i < 60; i++) {
        char v[2 * ATOTA_STORE_VERSION_MAX];
        snprintf(v, sizeof v, "v%02u.0.0.0-%s", i,
                 "long-version-name-that-fills-sixty-four-bytes-of-texts");
        assert_int_equal(strlen(v), ATOTA_STORE_VERSION_MAX);
        int64_t id = add_version(r, pd, v);
        add_file(r, id, "ota.bin", r->ota_other, r->ota_other_len);
        add_file(r, id, "mqtt_ca.bin", r->mqtt_ca, r->mqtt_ca_len);
        if (i == 0)
            first_d = id;
    }
    /* the oldest is recommended: it must still come first */
    assert_int_equal(r->store->ops->product_set_recommended(r->store, pd, first_d), ATOTA_OK);

    r->srv.store = r->store;
    r->srv.blobs = r->blobs;
    r->srv.data_dir = r->dir;
    snprintf(r->srv.base_url, sizeof r->srv.base_url, "http://127.0.0.1");
    r->srv.log = rig_log;
    r->srv.log_ctx = r;
    unsigned n = atota_device_api_routes(&r->srv, r->routes, 4);
    assert_int_equal(n, 2);

    const char *names[] = {"localhost", "127.0.0.1"};
    check_ok("make_cert",
             atota_httpd_make_cert(names, 2, r->cert, sizeof r->cert, r->key, sizeof r->key, &d),
             &d);
    atota_httpd_opts_t o;
    memset(&o, 0, sizeof o);
    o.http_addr = "127.0.0.1:0";
    o.https_addr = "127.0.0.1:0";
    o.cert_pem = r->cert;
    o.key_pem = r->key;
    o.connection_timeout_s = 30;
    o.log = rig_log;
    o.log_ctx = r;
    check_ok("httpd start",
             atota_httpd_start(&o, r->routes, n, &r->httpd, &r->http_port, &r->https_port, &d), &d);
    assert_true(r->http_port != 0 && r->https_port != 0);

    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    assert_int_equal(mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
                                           (const unsigned char *)"atota", 5),
                     0);
    *state = r;
    return 0;
}

static int rig_teardown(void **state)
{
    rig_t *r = *state;
    atota_httpd_stop(r->httpd);
    atota_blobs_close(r->blobs);
    r->store->ops->close(r->store);
    mbedtls_ctr_drbg_free(&r->drbg);
    mbedtls_entropy_free(&r->entropy);
    if (r->log[0])
        fprintf(stderr, "server log:\n%s", r->log);
    if (fx_rm_tree(r->dir) != 0)
        fprintf(stderr, "could not remove %s\n", r->dir);
    free(r->ota_v1);
    free(r->ota_v2);
    free(r->ota_other);
    free(r->mqtt_ca);
    pthread_mutex_destroy(&r->log_lock);
    free(r);
    return 0;
}

/* ---- the device's connection: a socket, or esp_tls (mbedTLS, no verification) ------------- */

typedef struct {
    int fd;
    bool tls;
    mbedtls_net_context net;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
} conn_t;

static void conn_open(rig_t *r, bool tls, conn_t *c)
{
    memset(c, 0, sizeof *c);
    c->tls = tls;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {10, 0}; /* a hang fails the test instead of blocking it */
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(tls ? r->https_port : r->http_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    if (!tls)
        return;
    mbedtls_net_init(&c->net);
    c->net.fd = c->fd;
    mbedtls_ssl_init(&c->ssl);
    mbedtls_ssl_config_init(&c->conf);
    assert_int_equal(mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT),
                     0);
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE); /* esp_tls_cfg_t all zero */
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &r->drbg);
    assert_int_equal(mbedtls_ssl_setup(&c->ssl, &c->conf), 0);
    assert_int_equal(mbedtls_ssl_set_hostname(&c->ssl, "127.0.0.1"), 0);
    mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send, mbedtls_net_recv, NULL);
    int ret;
    while ((ret = mbedtls_ssl_handshake(&c->ssl)) != 0) {
        if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) {
            print_error("TLS handshake: -0x%04x\n", (unsigned)-ret);
            fail();
        }
    }
}

static void conn_write(conn_t *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t n;
        if (c->tls) {
            int ret = mbedtls_ssl_write(&c->ssl, p, len);
            if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ)
                continue;
            n = ret;
        } else {
            n = write(c->fd, p, len);
        }
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* One read as ESP-AT makes it: read() / esp_tls_conn_read() of at most max bytes, blocking until
 * something arrives. 0: the peer closed; -1: an error. */
static ssize_t conn_read(conn_t *c, void *buf, size_t max)
{
    if (!c->tls)
        return read(c->fd, buf, max);
    for (;;) {
        int ret = mbedtls_ssl_read(&c->ssl, buf, max);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
        if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_NET_CONN_RESET)
            return 0;
        return ret < 0 ? -1 : ret;
    }
}

static void conn_close(conn_t *c)
{
    if (c->tls) {
        mbedtls_ssl_free(&c->ssl);
        mbedtls_ssl_config_free(&c->conf);
    }
    close(c->fd);
}

static atota_iot_target_t target_of(const rig_t *r, bool tls, const char *token)
{
    atota_iot_target_t t = {"127.0.0.1", tls ? r->https_port : r->http_port, token};
    return t;
}

/* ---- the device: AT+CIUPDATE's two exchanges, as esp_at_upgrade_process ------------------- */

/* The query (§3.4): the request, then read until both markers or the close; the version is
 * copied to out. */
static atota_err_t device_query(rig_t *r, bool tls, const char *token, char *out, size_t cap,
                                atota_diag_t *d)
{
    char req[ATOTA_IOT_BUF_SIZE];
    atota_iot_target_t t = target_of(r, tls, token);
    size_t n = atota_iot_request_query(&t, req);
    conn_t c;
    conn_open(r, tls, &c);
    conn_write(&c, req, n);
    static atota_iot_query_reader_t reader; /* 1 KiB: not on the stack of a cmocka test */
    atota_iot_query_reader_init(&reader);
    ssize_t got;
    do {
        size_t max;
        char *space = atota_iot_query_reader_space(&reader, &max);
        got = conn_read(&c, space, max);
        if (got > 0 && atota_iot_query_reader_feed(&reader, (size_t)got))
            break;
    } while (got > 0);
    conn_close(&c);
    if (got < 0)
        return atota_diag_set(d, ATOTA_ERR_NET_RESET, "recv data from server failed");
    const char *v;
    atota_err_t err = atota_iot_query_reader_version(&reader, &v, d);
    if (err == ATOTA_OK)
        snprintf(out, cap, "%s", v);
    return err;
}

typedef struct {
    uint8_t *body;
    size_t len;
    size_t first_read;      /* bytes in the first read */
    size_t first_body;      /* body bytes in the first read */
    char first_text[1025];  /* the first read (NUL-terminated at its end) */
    bool no_content_length; /* ESP-AT's loop ended without data */
} download_t;

/* The download (§3.5): one first read of at most 1024 bytes as soon as data arrives, then the
 * rest until Content-Length. http10 sends the request line as HTTP/1.0. */
static atota_err_t device_download(rig_t *r, bool tls, const char *token, const char *version,
                                   const char *name, bool http10, download_t *out, atota_diag_t *d)
{
    char req[ATOTA_IOT_BUF_SIZE];
    atota_iot_target_t t = target_of(r, tls, token);
    size_t n = atota_iot_request_download(&t, version, name, req);
    if (http10) {
        char *v = strstr(req, " HTTP/1.1\r\n");
        assert_non_null(v);
        memcpy(v, " HTTP/1.0", 9);
    }
    memset(out, 0, sizeof *out);
    atota_iot_download_reader_t dl;
    assert_int_equal(atota_iot_download_reader_init(&dl, name, 0, 0), ATOTA_OK);
    conn_t c;
    conn_open(r, tls, &c);
    conn_write(&c, req, n);
    size_t cap = 0;
    atota_err_t err = ATOTA_OK;
    uint8_t buf[ATOTA_IOT_BUF_SIZE];
    bool first = true;
    while (!dl.done) {
        memset(buf, 0, sizeof buf); /* ESP-AT clears its buffer before each read */
        ssize_t got = conn_read(&c, buf, sizeof buf);
        if (got < 0) {
            err = atota_diag_set(d, ATOTA_ERR_NET_RESET, "receive data error");
            break;
        }
        if (got == 0) {
            err = atota_iot_download_reader_closed(&dl, d);
            break;
        }
        if (first) {
            out->first_read = (size_t)got;
            memcpy(out->first_text, buf, (size_t)got);
        }
        const uint8_t *body;
        size_t blen;
        err = atota_iot_download_reader_feed(&dl, buf, (size_t)got, &body, &blen, d);
        if (err != ATOTA_OK)
            break;
        if (first)
            out->first_body = blen;
        first = false;
        if (out->len + blen > cap) {
            cap = (out->len + blen) * 2;
            out->body = realloc(out->body, cap);
            assert_non_null(out->body);
        }
        if (blen)
            memcpy(out->body + out->len, body, blen);
        out->len += blen;
    }
    conn_close(&c);
    out->no_content_length = dl.no_content_length;
    return err;
}

/* The first read's header block is at most HEADER_BLOCK_MAX bytes, and its Repr-Digest is
 * "sha-256=:<base64 of the SHA-256 of the body received>:" (RFC 9530). */
static void expect_download_headers(const char *what, const download_t *dl)
{
    const char *end = strstr(dl->first_text, "\r\n\r\n");
    if (!end) {
        print_error("%s: no end of headers in the first read (%zu bytes)\n", what, dl->first_read);
        fail();
    }
    size_t block = (size_t)(end + 4 - dl->first_text);
    if (block > HEADER_BLOCK_MAX) {
        print_error("%s: the header block is %zu bytes, expected at most %u:\n%.*s\n", what, block,
                    HEADER_BLOCK_MAX, (int)block, dl->first_text);
        fail();
    }
    uint8_t digest[ATOTA_SHA256_LEN];
    atota_sha256(dl->body, dl->len, digest);
    char want[128] = "Repr-Digest: sha-256=:";
    size_t used = strlen(want), b64 = 0;
    assert_int_equal(mbedtls_base64_encode((unsigned char *)want + used, sizeof want - used, &b64,
                                           digest, sizeof digest),
                     0);
    snprintf(want + used + b64, sizeof want - used - b64, ":\r\n");
    const char *got = strstr(dl->first_text, "\r\nRepr-Digest: ");
    if (!got || got > end) {
        print_error("%s: no Repr-Digest header; expected '%.*s' in:\n%.*s\n", what,
                    (int)strlen(want) - 2, want, (int)block, dl->first_text);
        fail();
    }
    got += 2;
    if (strncmp(got, want, strlen(want)) != 0) {
        const char *eol = strstr(got, "\r\n");
        print_error("%s: expected '%.*s', got '%.*s'\n", what, (int)strlen(want) - 2, want,
                    (int)(eol - got), got);
        fail();
    }
}

/* Sends request bytes and reads the whole response (to Content-Length or the close). */
static size_t raw_exchange(rig_t *r, bool tls, const char *req, char *out, size_t cap)
{
    conn_t c;
    conn_open(r, tls, &c);
    conn_write(&c, req, strlen(req));
    size_t len = 0;
    for (;;) {
        assert_true(len < cap - 1);
        ssize_t got = conn_read(&c, out + len, cap - 1 - len);
        if (got <= 0)
            break;
        len += (size_t)got;
        out[len] = '\0';
        const char *end = strstr(out, "\r\n\r\n");
        const char *cl = strstr(out, "Content-Length: ");
        if (end && cl && cl < end &&
            len >= (size_t)(end + 4 - out) + (size_t)strtoul(cl + 16, NULL, 10))
            break;
    }
    out[len] = '\0';
    conn_close(&c);
    return len;
}

static void expect_device_seen(rig_t *r, const char *key, const char *query_version,
                               const char *download_version, const char *download_file)
{
    atota_store_device_t dev;
    assert_int_equal(r->store->ops->device_find_by_key(r->store, key, &dev), ATOTA_OK);
    if (query_version) {
        assert_true(dev.last_query_at > 0);
        assert_string_equal(dev.last_query_version, query_version);
    }
    if (download_version) {
        assert_true(dev.last_download_at > 0);
        assert_string_equal(dev.last_download_version, download_version);
        assert_string_equal(dev.last_download_file, download_file);
    }
    assert_true(dev.last_seen_at > 0);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void check_update(rig_t *r, bool tls)
{
    char v[128];
    atota_diag_t d;
    atota_diag_clear(&d);
    check_ok("query", device_query(r, tls, r->key_a, v, sizeof v, &d), &d);
    assert_string_equal(v, V2);
    expect_device_seen(r, r->key_a, V2, NULL, NULL);

    download_t dl;
    check_ok("download ota", device_download(r, tls, r->key_a, v, "ota", false, &dl, &d), &d);
    assert_false(dl.no_content_length);
    assert_int_equal(dl.len, r->ota_v2_len);
    fx_expect_bytes("ota.bin", dl.body, r->ota_v2, r->ota_v2_len);
    assert_true(dl.first_body >= 4);
    /* identity encoding although the device offers gzip */
    assert_null(strstr(dl.first_text, "Content-Encoding"));
    assert_null(strstr(dl.first_text, "Transfer-Encoding"));
    expect_download_headers("ota.bin", &dl);
    free(dl.body);
    expect_device_seen(r, r->key_a, V2, V2, "ota.bin");

    /* a custom partition, with its F1 F1 magic */
    check_ok("download mqtt_ca", device_download(r, tls, r->key_a, V2, "mqtt_ca", false, &dl, &d),
             &d);
    assert_int_equal(dl.len, r->mqtt_ca_len);
    fx_expect_bytes("mqtt_ca.bin", dl.body, r->mqtt_ca, r->mqtt_ca_len);
    expect_download_headers("mqtt_ca.bin", &dl);
    free(dl.body);
    expect_device_seen(r, r->key_a, V2, V2, "mqtt_ca.bin");

    /* an explicit older version (AT+CIUPDATE=<mode>,"v1.0.0.0"), over HTTP/1.0 too */
    check_ok("download v1", device_download(r, tls, r->key_a, V1, "ota", true, &dl, &d), &d);
    assert_int_equal(dl.len, r->ota_v1_len);
    fx_expect_bytes("v1 ota.bin", dl.body, r->ota_v1, r->ota_v1_len);
    expect_download_headers("v1 ota.bin (HTTP/1.0)", &dl);
    free(dl.body);
}

static void update_over_http(void **state)
{
    check_update(*state, false);
}

static void update_over_https(void **state)
{
    check_update(*state, true);
}

/* The first read holds the headers, Content-Length and the first body bytes, every time. */
static void check_first_read_repeated(rig_t *r, bool tls)
{
    for (unsigned i = 0; i < 100; i++) {
        download_t dl;
        atota_diag_t d;
        atota_diag_clear(&d);
        atota_err_t err = device_download(r, tls, r->key_a, V2, "ota", false, &dl, &d);
        if (err != ATOTA_OK || dl.first_body < 4) {
            print_error("attempt %u over %s: %s; first read %zu bytes with %zu body bytes\n", i,
                        tls ? "HTTPS" : "HTTP", atota_diag_text(&d, err), dl.first_read,
                        dl.first_body);
            fail();
        }
        assert_non_null(strstr(dl.first_text, "Content-Length: "));
        assert_int_equal(dl.len, r->ota_v2_len);
        assert_memory_equal(dl.body, r->ota_v2, r->ota_v2_len);
        expect_download_headers("ota.bin", &dl);
        free(dl.body);
    }
}

static void first_read_100_times_http(void **state)
{
    check_first_read_repeated(*state, false);
}

static void first_read_100_times_https(void **state)
{
    check_first_read_repeated(*state, true);
}

/* A wrong or missing token: no version, no firmware, and a 401 the device fails on cleanly. */
static void wrong_token_gets_nothing(void **state)
{
    rig_t *r = *state;
    char wrong[ATOTA_STORE_KEY_HEX + 1];
    memcpy(wrong, r->key_a, sizeof wrong);
    wrong[39] = wrong[39] == '0' ? '1' : '0';
    const char *tokens[] = {wrong, "not-a-token", "", NULL};
    for (unsigned i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        char v[128];
        atota_diag_t d;
        atota_diag_clear(&d);
        for (int tls = 0; tls < 2; tls++) {
            assert_int_equal(device_query(r, tls, tokens[i], v, sizeof v, &d),
                             ATOTA_ERR_NET_PROTOCOL);
            download_t dl;
            atota_err_t err = device_download(r, tls, tokens[i], V2, "ota", false, &dl, &d);
            assert_int_equal(err, ATOTA_ERR_IMAGE_MAGIC);
            assert_int_equal(dl.len, 0);
            assert_non_null(strstr(dl.first_text, " 401 "));
            assert_non_null(strstr(dl.first_text, "{\"status\": 401, \"message\": "));
            free(dl.body);
        }
    }
    /* the header missing, and another scheme */
    char resp[4096];
    raw_exchange(r, false, "GET /v1/device/rom/?is_format_simple=true HTTP/1.0\r\n\r\n", resp,
                 sizeof resp);
    assert_non_null(strstr(resp, " 401 "));
    char req[256];
    snprintf(req, sizeof req,
             "GET /v1/device/rom/?is_format_simple=true HTTP/1.0\r\n"
             "Authorization: Bearer %s\r\n\r\n",
             r->key_a);
    raw_exchange(r, false, req, resp, sizeof resp);
    assert_non_null(strstr(resp, " 401 "));
    /* an upper-case key is the same key */
    char upper[ATOTA_STORE_KEY_HEX + 1];
    for (unsigned i = 0; i <= ATOTA_STORE_KEY_HEX; i++)
        upper[i] = (char)toupper((unsigned char)r->key_a[i]);
    char v[128];
    atota_diag_t d;
    check_ok("upper-case key", device_query(r, false, upper, v, sizeof v, &d), &d);
    assert_string_equal(v, V2);
}

/* A device sees its own product only. */
static void other_products_stay_hidden(void **state)
{
    rig_t *r = *state;
    char v[128];
    atota_diag_t d;
    atota_diag_clear(&d);
    check_ok("query b", device_query(r, false, r->key_b, v, sizeof v, &d), &d);
    assert_string_equal(v, V_OTHER);

    download_t dl;
    /* A asks for B's version, B for A's */
    assert_int_equal(device_download(r, false, r->key_a, V_OTHER, "ota", false, &dl, &d),
                     ATOTA_ERR_IMAGE_MAGIC);
    assert_non_null(strstr(dl.first_text, " 404 "));
    free(dl.body);
    assert_int_equal(device_download(r, true, r->key_b, V2, "ota", false, &dl, &d),
                     ATOTA_ERR_IMAGE_MAGIC);
    assert_non_null(strstr(dl.first_text, " 404 "));
    free(dl.body);
    /* an unknown version, an unknown file, a name outside the store's rules */
    assert_int_equal(device_download(r, false, r->key_a, "v7.7.7.7", "ota", false, &dl, &d),
                     ATOTA_ERR_IMAGE_MAGIC);
    assert_non_null(strstr(dl.first_text, "{\"status\": 404, "));
    free(dl.body);
    assert_int_equal(device_download(r, false, r->key_a, V1, "mqtt_ca", false, &dl, &d),
                     ATOTA_ERR_IMAGE_MAGIC);
    assert_non_null(strstr(dl.first_text, " 404 "));
    free(dl.body);
    assert_int_equal(device_download(r, false, r->key_a, V2, "../ota", false, &dl, &d),
                     ATOTA_ERR_UNSUPPORTED);
    free(dl.body);
    check_ok("download b", device_download(r, false, r->key_b, V_OTHER, "ota", false, &dl, &d), &d);
    assert_int_equal(dl.len, r->ota_other_len);
    fx_expect_bytes("B's ota.bin", dl.body, r->ota_other, r->ota_other_len);
    free(dl.body);
}

/* No recommended version: the device reads to the server's close and fails at once, not after
 * the 30 s idle timeout. */
static void no_recommended_version_fails_fast(void **state)
{
    rig_t *r = *state;
    char v[128];
    atota_diag_t d;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int tls = 0; tls < 2; tls++) {
        assert_int_equal(device_query(r, tls, r->key_c, v, sizeof v, &d), ATOTA_ERR_NET_PROTOCOL);
        assert_non_null(strstr(d.msg, "rom_version error"));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (s > 5.0) {
        print_error("the failing queries took %.1f s\n", s);
        fail();
    }
    char resp[4096];
    char req[ATOTA_IOT_BUF_SIZE];
    atota_iot_target_t t = target_of(r, false, r->key_c);
    atota_iot_request_query(&t, req);
    raw_exchange(r, false, req, resp, sizeof resp);
    assert_non_null(strstr(resp, " 404 "));
    assert_non_null(strstr(resp, "\r\n\r\n{\"status\": 404, \"message\": \""));
}

/* The whole query reply, headers included, fits ESP-AT's 1024-byte buffer. */
static void query_reply_fits(void **state)
{
    rig_t *r = *state;
    char req[ATOTA_IOT_BUF_SIZE];
    for (int tls = 0; tls < 2; tls++) {
        atota_iot_target_t t = target_of(r, tls, r->key_a);
        atota_iot_request_query(&t, req);
        char resp[8192];
        size_t n = raw_exchange(r, tls, req, resp, sizeof resp);
        if (n >= ATOTA_IOT_BUF_SIZE) {
            print_error("query reply of %zu bytes:\n%s\n", n, resp);
            fail();
        }
        const char *body = strstr(resp, "\r\n\r\n");
        assert_non_null(body);
        fx_expect_text("query body", body + 4,
                       "{\"status\": 200, \"recommended_rom_version\": \"" V2
                       "\", \"productRoms\": [{\"version\": \"" V2
                       "\", \"recommended\": 1}, {\"version\": \"" V1 "\", \"recommended\": 0}]}");
        assert_non_null(strstr(resp, "Content-Type: application/json\r\n"));
    }
}

typedef struct {
    char text[8192];
} fwver_out_t;

static void fwver_line(void *ctx, const char *text, size_t len)
{
    fwver_out_t *o = ctx;
    size_t n = strlen(o->text);
    assert_true(n + len < sizeof o->text);
    memcpy(o->text + n, text, len);
    o->text[n + len] = '\0';
}

/* AT+CIPFWVER: esp_http_client's GET /v1/device/rom (no slash), the status checked, the body
 * scraped for each `"version": "<v>", `. */
static void fwver_lists_versions(void **state)
{
    rig_t *r = *state;
    for (int tls = 0; tls < 2; tls++) {
        char req[ATOTA_IOT_BUF_SIZE];
        atota_iot_target_t t = target_of(r, tls, r->key_a);
        atota_iot_request_fwver(&t, req);
        char resp[16384];
        size_t n = raw_exchange(r, tls, req, resp, sizeof resp);
        assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
        const char *body = strstr(resp, "\r\n\r\n");
        assert_non_null(body);
        body += 4;
        size_t blen = n - (size_t)(body - resp);
        assert_true(blen < ATOTA_IOT_LIST_BODY_MAX);
        fwver_out_t out = {{0}};
        unsigned count;
        atota_diag_t d;
        check_ok("CIPFWVER scraping",
                 atota_iot_fwver_lines(body, blen, fwver_line, &out, &count, &d), &d);
        fx_expect_text("CIPFWVER", out.text, "+CIPFWVER:\"" V2 "\"\r\n+CIPFWVER:\"" V1 "\"\r\n");
        assert_non_null(strstr(body, "{\"name\": \"mqtt_ca.bin\", \"size\": 2000}"));
    }
    /* another product's device lists its own */
    char req[ATOTA_IOT_BUF_SIZE];
    atota_iot_target_t t = target_of(r, false, r->key_b);
    atota_iot_request_fwver(&t, req);
    char resp[16384];
    raw_exchange(r, false, req, resp, sizeof resp);
    assert_null(strstr(resp, V2));
    assert_non_null(strstr(resp, "\"version\": \"" V_OTHER "\", "));
    /* and a wrong token is an error status (ESP-AT: >= 400 -> ERROR) */
    t = target_of(r, false, "0000000000000000000000000000000000000000");
    atota_iot_request_fwver(&t, req);
    raw_exchange(r, false, req, resp, sizeof resp);
    assert_true(strncmp(resp, "HTTP/1.1 401 ", 13) == 0);
}

/* Many long versions: the replies stay under ESP-AT's limits, the recommended version first, the
 * oldest of the others left out. */
static void many_versions_stay_under_limits(void **state)
{
    rig_t *r = *state;
    char req[ATOTA_IOT_BUF_SIZE];
    char resp[16384];
    atota_iot_target_t t = target_of(r, false, r->key_d);
    atota_iot_request_query(&t, req);
    size_t n = raw_exchange(r, false, req, resp, sizeof resp);
    if (n >= ATOTA_IOT_BUF_SIZE) {
        print_error("query reply of %zu bytes\n", n);
        fail();
    }
    char v[128];
    atota_diag_t d;
    check_ok("query d", device_query(r, false, r->key_d, v, sizeof v, &d), &d);
    assert_string_equal(v, "v00.0.0.0-long-version-name-that-fills-sixty-four-bytes-of-texts");
    assert_non_null(strstr(resp, "[{\"version\": \"v00.0.0.0-"));
    assert_non_null(strstr(resp, "{\"version\": \"v59.0.0.0-")); /* the newest */
    assert_null(strstr(resp, "{\"version\": \"v01.0.0.0-"));     /* an old one, dropped */

    atota_iot_request_fwver(&t, req);
    n = raw_exchange(r, false, req, resp, sizeof resp);
    const char *body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    size_t blen = n - (size_t)(body - resp);
    assert_true(blen <= ATOTA_IOT_LIST_BODY_MAX);
    fwver_out_t out = {{0}};
    unsigned count;
    check_ok("CIPFWVER d", atota_iot_fwver_lines(body, blen, fwver_line, &out, &count, &d), &d);
    assert_true(count > 5 && count < 60);
    assert_true(strncmp(out.text, "+CIPFWVER:\"v00.0.0.0-", 21) == 0);
    assert_non_null(strstr(out.text, "+CIPFWVER:\"v59.0.0.0-"));
    assert_non_null(strstr(r->log, "left out of a query reply"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(update_over_http),
        cmocka_unit_test(update_over_https),
        cmocka_unit_test(first_read_100_times_http),
        cmocka_unit_test(first_read_100_times_https),
        cmocka_unit_test(wrong_token_gets_nothing),
        cmocka_unit_test(other_products_stay_hidden),
        cmocka_unit_test(no_recommended_version_fails_fast),
        cmocka_unit_test(query_reply_fits),
        cmocka_unit_test(fwver_lists_versions),
        cmocka_unit_test(many_versions_stay_under_limits),
    };
    return cmocka_run_group_tests(tests, rig_setup, rig_teardown);
}
