/*
 * The server's HTTP layer (server/httpd.c) and firmware hosting (server/hosting.c), on real
 * sockets: the layer is started on port 0 (HTTP and HTTPS, with a certificate it made) with test
 * routes and the hosting routes over a temporary data directory (the SQLite store and the blob
 * store). Clients: libcurl, raw sockets (the exact bytes ESP-AT sends, HTTP/1.0, keep-alive,
 * chunked bodies, paths curl would normalise) and an mbedTLS client reading like a device.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "core/util/hash.h"
#include "server/server.h"
#include "support/tmpdir.h"

#define FW_SIZE      70000u /* more than one MHD buffer, not a multiple of anything */
#define BIG_BODY     (16u * 1024u * 1024u)
#define SMALL_MAX    1024u
#define BYTES_SIZE   100000u
#define SINGLE_TRIES 200

static char g_dir[256];
static char g_cert_path[300];
static char g_file_path[300]; /* a plain file for the /file route */
static uint8_t g_fw[FW_SIZE];
static char g_sha[65];
static char g_fw_path[128]; /* "/fw/<sha>/ota.bin" */
static uint8_t g_bytes[BYTES_SIZE];
static atota_server_t g_srv;
static atota_httpd_t *g_httpd;
static uint16_t g_port, g_tls_port;
static char g_cert[4096], g_key[2048];
static atota_httpd_route_t g_routes[16];

/* ---- test routes -------------------------------------------------------------------------------
 */

static atota_httpd_response_t *h_echo(void *ctx, const atota_httpd_request_t *req)
{
    (void)ctx;
    const char *a = atota_httpd_arg(req, "a");
    const char *x = atota_httpd_header(req, "x-test");
    const char *c = atota_httpd_cookie(req, "c");
    char text[1024];
    int n = snprintf(text, sizeof text, "%s %s %s client=%s tls=%d a=%s x=%s c=%s body=%zu",
                     req->method, req->path, req->version, req->client, req->tls, a ? a : "-",
                     x ? x : "-", c ? c : "-", req->body_len);
    return atota_httpd_response_bytes(200, "text/plain", text, (size_t)n);
}

/* The body's length and SHA-256. */
static atota_httpd_response_t *h_body(void *ctx, const atota_httpd_request_t *req)
{
    (void)ctx;
    uint8_t digest[ATOTA_SHA256_LEN];
    char hex[65], text[128];
    atota_sha256(req->body ? req->body : (const uint8_t *)"", req->body_len, digest);
    atota_hex(digest, sizeof digest, hex);
    int n = snprintf(text, sizeof text, "%zu %s", req->body_len, hex);
    atota_httpd_response_t *r = atota_httpd_response_bytes(201, "text/plain", text, (size_t)n);
    atota_httpd_response_header(r, "X-Route", "body");
    return r;
}

static atota_httpd_response_t *h_tag(void *ctx, const atota_httpd_request_t *req)
{
    (void)req;
    const char *tag = ctx;
    return atota_httpd_response_bytes(200, "text/plain", tag, strlen(tag));
}

static atota_httpd_response_t *h_bytes(void *ctx, const atota_httpd_request_t *req)
{
    (void)ctx;
    (void)req;
    return atota_httpd_response_bytes(200, "application/octet-stream", g_bytes, sizeof g_bytes);
}

static atota_httpd_response_t *h_file(void *ctx, const atota_httpd_request_t *req)
{
    (void)ctx;
    (void)req;
    int fd = open(g_file_path, O_RDONLY);
    if (fd < 0)
        return atota_httpd_response_error(500, "cannot open");
    return atota_httpd_response_file(200, fd, 0, sizeof g_bytes);
}

static atota_httpd_response_t *h_null(void *ctx, const atota_httpd_request_t *req)
{
    (void)ctx;
    (void)req;
    return NULL;
}

static atota_httpd_response_t *h_error(void *ctx, const atota_httpd_request_t *req)
{
    (void)ctx;
    (void)req;
    return atota_httpd_response_error(418, "a \"quoted\" \\ and\na newline");
}

static void quiet_log(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

/* ---- set-up -----------------------------------------------------------------------------------
 */

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(g_dir, sizeof g_dir, "/tmp/atota_test_httpd_XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    atota_diag_t diag = {{0}};
    /* the firmware: an app image's first byte, then a pattern */
    for (size_t i = 0; i < FW_SIZE; i++)
        g_fw[i] = (uint8_t)(i * 7 + i / 251);
    g_fw[0] = 0xE9;
    for (size_t i = 0; i < BYTES_SIZE; i++)
        g_bytes[i] = (uint8_t)(i ^ (i >> 8));
    g_bytes[0] = 0xE9;
    snprintf(g_file_path, sizeof g_file_path, "%s/plain.bin", g_dir);
    FILE *f = fopen(g_file_path, "wb");
    if (!f || fwrite(g_bytes, 1, sizeof g_bytes, f) != sizeof g_bytes || fclose(f))
        return -1;

    if (atota_store_sqlite_open(g_dir, &g_srv.store, &diag) ||
        atota_blobs_open(g_dir, &g_srv.blobs, &diag) ||
        atota_blobs_put(g_srv.blobs, g_fw, sizeof g_fw, g_sha, &diag)) {
        fprintf(stderr, "setup: %s\n", diag.msg);
        return -1;
    }
    atota_store_product_t p = {.name = "hosting"};
    atota_store_version_t v = {.version = "v1.0.0.0", .corename = "core"};
    atota_store_file_t file = {.name = "ota.bin", .size = FW_SIZE};
    memcpy(file.sha256, g_sha, 65);
    if (g_srv.store->ops->product_add(g_srv.store, &p, &diag) ||
        (v.product_id = p.id, g_srv.store->ops->version_add(g_srv.store, &v, &diag)) ||
        (file.version_id = v.id, g_srv.store->ops->file_put(g_srv.store, &file, &diag))) {
        fprintf(stderr, "setup: %s\n", diag.msg);
        return -1;
    }
    g_srv.data_dir = g_dir;
    snprintf(g_fw_path, sizeof g_fw_path, "/fw/%s/ota.bin", g_sha);

    const char *names[] = {"127.0.0.1", "localhost"};
    if (atota_httpd_make_cert(names, 2, g_cert, sizeof g_cert, g_key, sizeof g_key, &diag)) {
        fprintf(stderr, "make_cert: %s\n", diag.msg);
        return -1;
    }
    snprintf(g_cert_path, sizeof g_cert_path, "%s/cert.pem", g_dir);
    f = fopen(g_cert_path, "w");
    if (!f || fputs(g_cert, f) < 0 || fclose(f))
        return -1;

    unsigned n = 0;
    g_routes[n++] = (atota_httpd_route_t){"GET", "/echo", 0, h_echo, NULL};
    g_routes[n++] = (atota_httpd_route_t){"POST", "/echo", SMALL_MAX, h_echo, NULL};
    g_routes[n++] = (atota_httpd_route_t){"POST", "/upload", SMALL_MAX, h_body, NULL};
    g_routes[n++] = (atota_httpd_route_t){"PUT", "/big/*", BIG_BODY, h_body, NULL};
    g_routes[n++] = (atota_httpd_route_t){"GET", "/first/*", 0, h_tag, "first"};
    g_routes[n++] = (atota_httpd_route_t){"GET", "/first/x", 0, h_tag, "second"};
    g_routes[n++] = (atota_httpd_route_t){NULL, "/any/*", 0, h_tag, "any"};
    g_routes[n++] = (atota_httpd_route_t){"GET", "/bytes", 0, h_bytes, NULL};
    g_routes[n++] = (atota_httpd_route_t){"GET", "/file", 0, h_file, NULL};
    g_routes[n++] = (atota_httpd_route_t){"GET", "/null", 0, h_null, NULL};
    g_routes[n++] = (atota_httpd_route_t){"GET", "/error", 0, h_error, NULL};
    n += atota_hosting_routes(&g_srv, &g_routes[n],
                              (unsigned)(sizeof g_routes / sizeof g_routes[0]) - n);
    atota_httpd_opts_t opts = {
        .http_addr = "127.0.0.1:0",
        .https_addr = "127.0.0.1:0",
        .cert_pem = g_cert,
        .key_pem = g_key,
        .log = quiet_log,
    };
    if (atota_httpd_start(&opts, g_routes, n, &g_httpd, &g_port, &g_tls_port, &diag)) {
        fprintf(stderr, "httpd: %s\n", diag.msg);
        return -1;
    }
    return g_port && g_tls_port ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    atota_httpd_stop(g_httpd);
    if (g_srv.store)
        g_srv.store->ops->close(g_srv.store);
    atota_blobs_close(g_srv.blobs);
    if (fx_rm_tree(g_dir) != 0)
        fprintf(stderr, "cannot remove %s\n", g_dir);
    curl_global_cleanup();
    return 0;
}

/* ---- a libcurl client -------------------------------------------------------------------------
 */

typedef struct {
    char *data;
    size_t len;
} buf_t;

typedef struct {
    long status;
    buf_t body;
    buf_t headers;
    const char *http_version;
} reply_t;

static size_t buf_append(char *p, size_t size, size_t n, void *ctx)
{
    buf_t *b = ctx;
    size_t k = size * n;
    char *grown = realloc(b->data, b->len + k + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, p, k);
    b->data = grown;
    b->len += k;
    b->data[b->len] = '\0';
    return k;
}

static void reply_free(reply_t *r)
{
    free(r->body.data);
    free(r->headers.data);
    memset(r, 0, sizeof *r);
}

typedef struct {
    const char *method; /* NULL: GET */
    const char *const *headers;
    const void *body;
    size_t body_len;
    bool tls;
    const char *host; /* NULL: 127.0.0.1 */
    bool http10;
} fetch_t;

static void fetch(const char *path, const fetch_t *o, reply_t *r)
{
    memset(r, 0, sizeof *r);
    char url[512];
    snprintf(url, sizeof url, "%s://%s:%u%s", o->tls ? "https" : "http",
             o->host ? o->host : "127.0.0.1", o->tls ? g_tls_port : g_port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *hl = NULL;
    for (const char *const *h = o->headers; h && *h; h++)
        hl = curl_slist_append(hl, *h);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, buf_append);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_CAINFO, g_cert_path);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (o->http10)
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_0);
    const char *method = o->method ? o->method : "GET";
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (o->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body ? o->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        print_error("%s %s: %s\n", method, url, curl_easy_strerror(rc));
        fail();
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (!r->body.data)
        buf_append((char *)"", 1, 0, &r->body);
    if (!r->headers.data)
        buf_append((char *)"", 1, 0, &r->headers);
}

/* A response header's value (the first one, case-insensitive name) into out; false if absent. */
static bool header_value(const char *headers, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *line = headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end)
            end = line + strlen(line);
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(end - v), v);
            return true;
        }
        line = *end ? end + 2 : end;
    }
    return false;
}

static void expect_header(const reply_t *r, const char *name, const char *want)
{
    char got[256];
    if (!header_value(r->headers.data, name, got, sizeof got)) {
        print_error("no %s header in:\n%s\n", name, r->headers.data);
        fail();
    }
    if (strcmp(got, want) != 0) {
        print_error("%s: expected '%s', got '%s'\n", name, want, got);
        fail();
    }
}

static void expect_status(const reply_t *r, long want)
{
    if (r->status != want) {
        print_error("status: expected %ld, got %ld; headers:\n%s\nbody: %.300s\n", want, r->status,
                    r->headers.data, r->body.data);
        fail();
    }
}

/* ---- a raw socket client ----------------------------------------------------------------------
 */

static int raw_connect(uint16_t port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
}

static void raw_send(int s, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = send(s, p, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Reads one whole response (headers, then Content-Length bytes) into buf; returns the status
 * and the body's offset and length. */
static int raw_response(int s, char *buf, size_t cap, size_t *body_off, size_t *body_len)
{
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        assert_true(len < cap - 1);
        ssize_t n = recv(s, buf + len, cap - 1 - len, 0);
        if (n <= 0) {
            print_error("connection closed after %zu bytes of headers\n", len);
            fail();
        }
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t hdr = (size_t)(end + 4 - buf);
    char cl[32];
    buf[hdr - 2] = '\0';
    size_t want = header_value(strstr(buf, "\r\n") + 2, "Content-Length", cl, sizeof cl)
                      ? (size_t)strtoul(cl, NULL, 10)
                      : 0;
    buf[hdr - 2] = '\r';
    assert_true(hdr + want < cap);
    while (len < hdr + want) {
        ssize_t n = recv(s, buf + len, cap - 1 - len, 0);
        assert_true(n > 0);
        len += (size_t)n;
    }
    buf[len] = '\0';
    *body_off = hdr;
    *body_len = want;
    assert_int_equal(len, hdr + want); /* nothing more than announced */
    return atoi(buf + 9);
}

/* One request on a new connection; the status, and the body in buf + *body_off. */
static int raw_request(const char *request, char *buf, size_t cap, size_t *body_off,
                       size_t *body_len)
{
    int s = raw_connect(g_port);
    raw_send(s, request, strlen(request));
    int status = raw_response(s, buf, cap, body_off, body_len);
    close(s);
    return status;
}

/* ---- routing ----------------------------------------------------------------------------------
 */

static void test_route_echo(void **state)
{
    (void)state;
    reply_t r;
    const char *hdrs[] = {"X-Test: hello", "Cookie: c=choc; d=e", NULL};
    fetch("/echo?a=%41%20b", &(fetch_t){.headers = hdrs}, &r);
    expect_status(&r, 200);
    if (strcmp(r.body.data,
               "GET /echo HTTP/1.1 client=127.0.0.1 tls=0 a=A b x=hello c=choc body=0") != 0) {
        print_error("echo: got '%s'\n", r.body.data);
        fail();
    }
    expect_header(&r, "Content-Type", "text/plain");
    reply_free(&r);
}

static void test_route_first_match_and_any(void **state)
{
    (void)state;
    reply_t r;
    fetch("/first/x", &(fetch_t){0}, &r); /* the prefix route "/first/..." comes first and wins */
    expect_status(&r, 200);
    assert_string_equal(r.body.data, "first");
    reply_free(&r);
    const char *methods[] = {"GET", "POST", "PUT", "DELETE"};
    for (unsigned i = 0; i < 4; i++) {
        fetch("/any/thing", &(fetch_t){.method = methods[i]}, &r);
        expect_status(&r, 200);
        assert_string_equal(r.body.data, "any");
        reply_free(&r);
    }
    /* a route without '*' is exact */
    fetch("/echo/more", &(fetch_t){0}, &r);
    expect_status(&r, 404);
    reply_free(&r);
    fetch("/bytesx", &(fetch_t){0}, &r);
    expect_status(&r, 404);
    reply_free(&r);
}

static void test_route_404_405_500(void **state)
{
    (void)state;
    reply_t r;
    fetch("/nowhere", &(fetch_t){0}, &r);
    expect_status(&r, 404);
    expect_header(&r, "Content-Type", "application/json");
    assert_string_equal(r.body.data, "{\"error\": \"no such path: /nowhere\"}");
    reply_free(&r);

    fetch("/echo", &(fetch_t){.method = "DELETE"}, &r);
    expect_status(&r, 405);
    expect_header(&r, "Allow", "GET, HEAD, POST");
    assert_non_null(strstr(r.body.data, "\"error\": \"DELETE is not allowed on /echo\""));
    reply_free(&r);

    fetch("/bytes", &(fetch_t){.method = "POST", .body = "x", .body_len = 1}, &r);
    expect_status(&r, 405);
    expect_header(&r, "Allow", "GET, HEAD");
    reply_free(&r);

    fetch("/null", &(fetch_t){0}, &r);
    expect_status(&r, 500);
    assert_string_equal(r.body.data, "{\"error\": \"out of memory\"}");
    reply_free(&r);

    fetch("/error", &(fetch_t){0}, &r);
    expect_status(&r, 418);
    assert_string_equal(r.body.data, "{\"error\": \"a \\\"quoted\\\" \\\\ and\\u000aa newline\"}");
    reply_free(&r);
}

static void test_head_on_get_route(void **state)
{
    (void)state;
    reply_t r;
    fetch("/bytes", &(fetch_t){.method = "HEAD"}, &r);
    expect_status(&r, 200);
    char want[32];
    snprintf(want, sizeof want, "%u", BYTES_SIZE);
    expect_header(&r, "Content-Length", want);
    assert_int_equal(r.body.len, 0);
    reply_free(&r);
}

/* ---- bodies -----------------------------------------------------------------------------------
 */

static void expect_body_answer(const reply_t *r, const void *data, size_t len)
{
    uint8_t digest[ATOTA_SHA256_LEN];
    char hex[65], want[128];
    atota_sha256(data, len, digest);
    atota_hex(digest, sizeof digest, hex);
    snprintf(want, sizeof want, "%zu %s", len, hex);
    expect_status(r, 201);
    if (strcmp(r->body.data, want) != 0) {
        print_error("body answer: expected '%s', got '%s'\n", want, r->body.data);
        fail();
    }
}

static void test_body_limits(void **state)
{
    (void)state;
    static uint8_t body[SMALL_MAX + 1];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (uint8_t)(i * 13);
    reply_t r;
    fetch("/upload", &(fetch_t){.method = "POST", .body = body, .body_len = SMALL_MAX}, &r);
    expect_body_answer(&r, body, SMALL_MAX);
    expect_header(&r, "X-Route", "body");
    reply_free(&r);

    fetch("/upload", &(fetch_t){.method = "POST", .body = body, .body_len = SMALL_MAX + 1}, &r);
    expect_status(&r, 413);
    assert_string_equal(r.body.data, "{\"error\": \"the body is larger than 1024 bytes\"}");
    reply_free(&r);

    /* a GET route takes no body; ESP-AT's older clients send "Content-Length: 0" on GET */
    const char *zero[] = {"Content-Length: 0", NULL};
    fetch("/echo", &(fetch_t){.headers = zero}, &r);
    expect_status(&r, 200);
    reply_free(&r);
    fetch("/any/x", &(fetch_t){.method = "POST", .body = "abc", .body_len = 3}, &r);
    expect_status(&r, 413);
    reply_free(&r);

    /* chunked, no announced length: accumulated, then refused once past the limit */
    char buf[4096];
    size_t off, len;
    char req[SMALL_MAX * 2 + 256];
    int n = snprintf(req, sizeof req,
                     "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "200\r\n%0512d\r\n200\r\n%0512d\r\n0\r\n\r\n",
                     0, 0);
    assert_true(n > 0 && (size_t)n < sizeof req);
    assert_int_equal(raw_request(req, buf, sizeof buf, &off, &len), 201);
    assert_true(strncmp(buf + off, "1024 ", 5) == 0);
    n = snprintf(req, sizeof req,
                 "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "200\r\n%0512d\r\n201\r\n%0513d\r\n0\r\n\r\n",
                 0, 0);
    assert_int_equal(raw_request(req, buf, sizeof buf, &off, &len), 413);
}

static void test_body_16mib(void **state)
{
    (void)state;
    uint8_t *big = malloc(BIG_BODY + 1);
    assert_non_null(big);
    for (size_t i = 0; i < BIG_BODY + 1; i++)
        big[i] = (uint8_t)(i * 31 + (i >> 12));
    reply_t r;
    fetch("/big/ota.bin", &(fetch_t){.method = "PUT", .body = big, .body_len = BIG_BODY}, &r);
    expect_body_answer(&r, big, BIG_BODY);
    reply_free(&r);
    fetch("/big/ota.bin", &(fetch_t){.method = "PUT", .body = big, .body_len = BIG_BODY + 1}, &r);
    expect_status(&r, 413);
    reply_free(&r);
    free(big);
}

/* ---- HTTP/1.0, keep-alive, ESP-AT's request bytes ---------------------------------------------
 */

/* esp-at-ota.md §3.4, with the trailing space after "Safari/537.36". */
#define ESP_HEADERS                                                                                \
    "Host: 127.0.0.1:80\r\n"                                                                       \
    "Connection: keep-alive\r\n"                                                                   \
    "Cache-Control: no-cache\r\n"                                                                  \
    "User-Agent: Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) "             \
    "Chrome/30.0.1599.101 Safari/537.36 \r\n"                                                      \
    "Accept: */*\r\n"                                                                              \
    "Authorization: token 0123456789abcdef0123456789abcdef01234567\r\n"                            \
    "Accept-Encoding: gzip,deflate,sdch\r\n"                                                       \
    "Accept-Language: zh-CN,zh;q=0.8\r\n"                                                          \
    "\r\n"

static void test_http10_and_keepalive(void **state)
{
    (void)state;
    char buf[8192];
    size_t off, len;
    /* HTTP/1.0 with Connection: keep-alive (ESP-AT's query): two requests on one connection */
    int s = raw_connect(g_port);
    for (int i = 0; i < 2; i++) {
        const char *req = "GET /echo?a=1 HTTP/1.0\r\n" ESP_HEADERS;
        raw_send(s, req, strlen(req));
        assert_int_equal(raw_response(s, buf, sizeof buf, &off, &len), 200);
        assert_non_null(strstr(buf, "Content-Length: "));
        assert_true(strncmp(buf + off, "GET /echo HTTP/1.0 client=127.0.0.1 tls=0 a=1", 45) == 0);
    }
    close(s);
    /* HTTP/1.0 without keep-alive: the server closes after the answer */
    s = raw_connect(g_port);
    const char *req10 = "GET /echo HTTP/1.0\r\n\r\n";
    raw_send(s, req10, strlen(req10));
    assert_int_equal(raw_response(s, buf, sizeof buf, &off, &len), 200);
    assert_int_equal(recv(s, buf, sizeof buf, 0), 0);
    close(s);
    /* HTTP/1.1: persistent by default, three requests on one connection */
    s = raw_connect(g_port);
    for (int i = 0; i < 3; i++) {
        const char *req = "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n";
        raw_send(s, req, strlen(req));
        assert_int_equal(raw_response(s, buf, sizeof buf, &off, &len), 200);
        assert_true(strncmp(buf + off, "GET /echo HTTP/1.1", 18) == 0);
    }
    const char *last = "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    raw_send(s, last, strlen(last));
    assert_int_equal(raw_response(s, buf, sizeof buf, &off, &len), 200);
    assert_int_equal(recv(s, buf, sizeof buf, 0), 0);
    close(s);
    /* ESP-AT's download request shape (HTTP/1.1), on the hosting route */
    char req[1024];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\n" ESP_HEADERS, g_fw_path);
    static char big[FW_SIZE + 4096];
    assert_int_equal(raw_request(req, big, sizeof big, &off, &len), 200);
    assert_int_equal(len, FW_SIZE);
    assert_memory_equal(big + off, g_fw, FW_SIZE);
    assert_null(strstr(big, "Content-Encoding")); /* identity, whatever Accept-Encoding says */
}

/* ---- one write for the headers and the first body bytes (esp-at-ota.md §3.5) ------------------
 */

/* What ESP-AT does: connect, send, ONE read of up to 1024 bytes, which must hold the whole header
 * block and at least 4 body bytes (the magic check runs on the body part of that first read). */
static void single_read_check(const char *path, const uint8_t *body_start)
{
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\n" ESP_HEADERS, path);
    for (int i = 0; i < SINGLE_TRIES; i++) {
        int s = raw_connect(g_port);
        raw_send(s, req, strlen(req));
        char buf[1025];
        ssize_t n = recv(s, buf, 1024, 0);
        close(s);
        assert_true(n > 0);
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end || (size_t)(n - (end + 4 - buf)) < 4) {
            print_error("%s, try %d: the first read (%zd bytes) has %s:\n%.*s\n", path, i, n,
                        end ? "fewer than 4 body bytes" : "no end of headers", (int)n, buf);
            fail();
        }
        assert_non_null(strstr(buf, "Content-Length: "));
        assert_memory_equal(end + 4, body_start, 4);
    }
}

static void test_single_write_buffer(void **state)
{
    (void)state;
    single_read_check("/bytes", g_bytes);
}

static void test_single_write_file(void **state)
{
    (void)state;
    single_read_check("/file", g_bytes);
}

static void test_single_write_hosting(void **state)
{
    (void)state;
    single_read_check(g_fw_path, g_fw);
}

/* ---- HTTPS ------------------------------------------------------------------------------------
 */

static void test_https(void **state)
{
    (void)state;
    reply_t r;
    fetch("/echo", &(fetch_t){.tls = true}, &r);
    expect_status(&r, 200);
    assert_true(strncmp(r.body.data, "GET /echo HTTP/1.1 client=127.0.0.1 tls=1", 41) == 0);
    reply_free(&r);
    /* the certificate names localhost too */
    fetch(g_fw_path, &(fetch_t){.tls = true, .host = "localhost"}, &r);
    expect_status(&r, 200);
    assert_int_equal(r.body.len, FW_SIZE);
    assert_memory_equal(r.body.data, g_fw, FW_SIZE);
    reply_free(&r);
    /* the plain listener says tls=0 for the same route */
    fetch("/echo", &(fetch_t){0}, &r);
    assert_non_null(strstr(r.body.data, "tls=0"));
    reply_free(&r);
}

static void test_make_cert(void **state)
{
    (void)state;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    assert_int_equal(
        mbedtls_x509_crt_parse(&crt, (const unsigned char *)g_cert, strlen(g_cert) + 1), 0);
    uint32_t flags = 0;
    /* self-signed: it verifies against itself, for both names */
    assert_int_equal(mbedtls_x509_crt_verify(&crt, &crt, NULL, "localhost", &flags, NULL, NULL), 0);
    /* ten years */
    int years = crt.valid_to.year - crt.valid_from.year;
    assert_true(years == 10 || years == 9);
    assert_true(crt.valid_to.year >= 2034);
    mbedtls_x509_crt_free(&crt);
    /* a buffer too small is refused with a message */
    char small[64], key[2048];
    atota_diag_t diag = {{0}};
    const char *names[] = {"localhost"};
    assert_int_equal(atota_httpd_make_cert(names, 1, small, sizeof small, key, sizeof key, &diag),
                     ATOTA_ERR_TOO_BIG);
    assert_non_null(strstr(diag.msg, "certificate"));
}

/* A device's TLS client (mbedTLS, as ESP-AT): the first read must hold the headers and body
 * bytes, which needs them in one TLS record. */
static void test_single_write_tls(void **state)
{
    (void)state;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0), 0);
    char port[8], req[512];
    snprintf(port, sizeof port, "%u", g_tls_port);
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\n" ESP_HEADERS, g_fw_path);
    for (int i = 0; i < 20; i++) {
        mbedtls_net_context net;
        mbedtls_ssl_context ssl;
        mbedtls_ssl_config conf;
        mbedtls_net_init(&net);
        mbedtls_ssl_init(&ssl);
        mbedtls_ssl_config_init(&conf);
        assert_int_equal(mbedtls_net_connect(&net, "127.0.0.1", port, MBEDTLS_NET_PROTO_TCP), 0);
        assert_int_equal(mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
                                                     MBEDTLS_SSL_TRANSPORT_STREAM,
                                                     MBEDTLS_SSL_PRESET_DEFAULT),
                         0);
        mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE); /* as ESP-AT: not verified */
        mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
        assert_int_equal(mbedtls_ssl_setup(&ssl, &conf), 0);
        mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
        int ret;
        while ((ret = mbedtls_ssl_handshake(&ssl)) != 0)
            assert_true(ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
        assert_int_equal(mbedtls_ssl_write(&ssl, (const unsigned char *)req, strlen(req)),
                         (int)strlen(req));
        unsigned char buf[1025];
        do
            ret = mbedtls_ssl_read(&ssl, buf, 1024);
        while (ret == MBEDTLS_ERR_SSL_WANT_READ);
        assert_true(ret > 0);
        buf[ret] = '\0';
        char *end = strstr((char *)buf, "\r\n\r\n");
        if (!end || ret - (int)(end + 4 - (char *)buf) < 4) {
            print_error("TLS try %d: the first read (%d bytes) has %s\n", i, ret,
                        end ? "fewer than 4 body bytes" : "no end of headers");
            fail();
        }
        assert_memory_equal(end + 4, g_fw, 4);
        mbedtls_ssl_close_notify(&ssl);
        mbedtls_net_free(&net);
        mbedtls_ssl_free(&ssl);
        mbedtls_ssl_config_free(&conf);
    }
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
}

/* ---- hosting ----------------------------------------------------------------------------------
 */

static void expect_range(const char *range, const char *if_range, long status, uint64_t first,
                         uint64_t last)
{
    char h1[128], h2[160];
    const char *hdrs[3] = {NULL, NULL, NULL};
    unsigned n = 0;
    if (range) {
        snprintf(h1, sizeof h1, "Range: %s", range);
        hdrs[n++] = h1;
    }
    if (if_range) {
        snprintf(h2, sizeof h2, "If-Range: %s", if_range);
        hdrs[n++] = h2;
    }
    reply_t r;
    fetch(g_fw_path, &(fetch_t){.headers = hdrs}, &r);
    expect_status(&r, status);
    char want[80];
    if (status == 206) {
        snprintf(want, sizeof want, "bytes %" PRIu64 "-%" PRIu64 "/%u", first, last, FW_SIZE);
        expect_header(&r, "Content-Range", want);
    }
    if (status == 416) {
        snprintf(want, sizeof want, "bytes */%u", FW_SIZE);
        expect_header(&r, "Content-Range", want);
    } else {
        assert_int_equal(r.body.len, last - first + 1);
        assert_memory_equal(r.body.data, g_fw + first, last - first + 1);
        snprintf(want, sizeof want, "%" PRIu64, last - first + 1);
        expect_header(&r, "Content-Length", want);
        expect_header(&r, "Content-Type", "application/octet-stream");
    }
    reply_free(&r);
}

static void test_hosting_get_head(void **state)
{
    (void)state;
    char etag[80], size[16], lm[64];
    snprintf(etag, sizeof etag, "\"%s\"", g_sha);
    snprintf(size, sizeof size, "%u", FW_SIZE);
    reply_t r;
    fetch(g_fw_path, &(fetch_t){0}, &r);
    expect_status(&r, 200);
    assert_int_equal(r.body.len, FW_SIZE);
    assert_memory_equal(r.body.data, g_fw, FW_SIZE);
    expect_header(&r, "ETag", etag);
    expect_header(&r, "Accept-Ranges", "bytes");
    expect_header(&r, "Content-Type", "application/octet-stream");
    expect_header(&r, "Content-Length", size);
    assert_true(header_value(r.headers.data, "Last-Modified", lm, sizeof lm));
    /* the blob's mtime, as an IMF-fixdate */
    char blob[512];
    snprintf(blob, sizeof blob, "%s/blobs/%.2s/%s", g_dir, g_sha, g_sha);
    struct stat st;
    if (stat(blob, &st) == 0) {
        char want[64];
        struct tm tm;
        gmtime_r(&st.st_mtime, &tm);
        strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        assert_string_equal(lm, want);
    }
    reply_free(&r);

    fetch(g_fw_path, &(fetch_t){.method = "HEAD"}, &r);
    expect_status(&r, 200);
    assert_int_equal(r.body.len, 0);
    expect_header(&r, "Content-Length", size);
    expect_header(&r, "ETag", etag);
    reply_free(&r);

    /* HTTP/1.0 client */
    fetch(g_fw_path, &(fetch_t){.http10 = true}, &r);
    expect_status(&r, 200);
    assert_int_equal(r.body.len, FW_SIZE);
    reply_free(&r);
}

static void test_hosting_ranges(void **state)
{
    (void)state;
    expect_range("bytes=10-19", NULL, 206, 10, 19);
    expect_range("bytes=0-0", NULL, 206, 0, 0);
    expect_range("bytes=69000-", NULL, 206, 69000, FW_SIZE - 1);
    expect_range("bytes=-100", NULL, 206, FW_SIZE - 100, FW_SIZE - 1);
    expect_range("bytes=-100000", NULL, 206, 0, FW_SIZE - 1);            /* longer than the file */
    expect_range("bytes=60000-99999999", NULL, 206, 60000, FW_SIZE - 1); /* end clipped */
    expect_range("bytes=69999-69999", NULL, 206, FW_SIZE - 1, FW_SIZE - 1);
    expect_range("bytes=70000-", NULL, 416, 0, 0);
    expect_range("bytes=70000-70010", NULL, 416, 0, 0);
    expect_range("bytes=-0", NULL, 416, 0, 0);
    /* ignored: several ranges, a bad range, another unit, junk */
    expect_range("bytes=0-1,5-6", NULL, 200, 0, FW_SIZE - 1);
    expect_range("bytes=20-10", NULL, 200, 0, FW_SIZE - 1);
    expect_range("items=0-1", NULL, 200, 0, FW_SIZE - 1);
    expect_range("bytes=abc", NULL, 200, 0, FW_SIZE - 1);
    /* HEAD with a range: the headers GET would have */
    const char *hdrs[] = {"Range: bytes=5-9", NULL};
    reply_t r;
    fetch(g_fw_path, &(fetch_t){.method = "HEAD", .headers = hdrs}, &r);
    expect_status(&r, 206);
    expect_header(&r, "Content-Length", "5");
    reply_free(&r);
}

static void test_hosting_conditionals(void **state)
{
    (void)state;
    char etag[80], lm[64];
    snprintf(etag, sizeof etag, "\"%s\"", g_sha);
    reply_t r;
    fetch(g_fw_path, &(fetch_t){.method = "HEAD"}, &r);
    assert_true(header_value(r.headers.data, "Last-Modified", lm, sizeof lm));
    reply_free(&r);

    /* If-Range: the strong ETag or the exact Last-Modified → the range; anything else → 200 */
    expect_range("bytes=100-199", etag, 206, 100, 199);
    expect_range("bytes=100-199", lm, 206, 100, 199);
    expect_range("bytes=100-199", "\"0000\"", 200, 0, FW_SIZE - 1);
    char weak[90];
    snprintf(weak, sizeof weak, "W/%s", etag);
    expect_range("bytes=100-199", weak, 200, 0, FW_SIZE - 1);
    expect_range("bytes=100-199", "Thu, 01 Jan 1970 00:00:01 GMT", 200, 0, FW_SIZE - 1);

    /* If-None-Match → 304 (weak comparison, lists, "*") */
    char h[200];
    const char *inm_values[] = {etag, weak, "*", NULL};
    char list[200];
    snprintf(list, sizeof list, "\"abc\", %s", etag);
    inm_values[3] = list;
    for (unsigned i = 0; i < 4; i++) {
        snprintf(h, sizeof h, "If-None-Match: %s", inm_values[i]);
        const char *hdrs[] = {h, NULL};
        fetch(g_fw_path, &(fetch_t){.headers = hdrs}, &r);
        expect_status(&r, 304);
        assert_int_equal(r.body.len, 0);
        expect_header(&r, "ETag", etag);
        reply_free(&r);
    }
    const char *other[] = {"If-None-Match: \"abc\"", NULL};
    fetch(g_fw_path, &(fetch_t){.headers = other}, &r);
    expect_status(&r, 200);
    assert_int_equal(r.body.len, FW_SIZE);
    reply_free(&r);
    /* If-Modified-Since, without If-None-Match */
    snprintf(h, sizeof h, "If-Modified-Since: %s", lm);
    const char *ims[] = {h, NULL};
    fetch(g_fw_path, &(fetch_t){.headers = ims}, &r);
    expect_status(&r, 304);
    reply_free(&r);
    const char *ims_old[] = {"If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT", NULL};
    fetch(g_fw_path, &(fetch_t){.headers = ims_old}, &r);
    expect_status(&r, 200);
    reply_free(&r);
}

static void test_hosting_not_found_and_traversal(void **state)
{
    (void)state;
    char paths[16][200];
    unsigned n = 0;
    snprintf(paths[n++], 200, "/fw/../etc/passwd");
    snprintf(paths[n++], 200, "/fw/%%2e%%2e/%%2e%%2e/etc/passwd");
    snprintf(paths[n++], 200, "/fw/%s/../../atota.db", g_sha);
    snprintf(paths[n++], 200, "/fw/%s/%%2e%%2e%%2fota.bin", g_sha);
    snprintf(paths[n++], 200, "/fw/%s/..%%2fota.bin", g_sha);
    snprintf(paths[n++], 200, "/fw/%.63s/ota.bin", g_sha);            /* 63 hex */
    snprintf(paths[n++], 200, "/fw/%sa/ota.bin", g_sha);              /* 65 hex */
    snprintf(paths[n++], 200, "/fw/%.63sg/ota.bin", g_sha);           /* not hex */
    snprintf(paths[n++], 200, "/fw/%s/OTA.bin", g_sha);               /* upper case */
    snprintf(paths[n++], 200, "/fw/%s/ota.bin/", g_sha);              /* trailing slash */
    snprintf(paths[n++], 200, "/fw/%s/abcdefghijklmnopq.bin", g_sha); /* 17 characters */
    snprintf(paths[n++], 200, "/fw/%s/ota.bi", g_sha);
    snprintf(paths[n++], 200, "/fw/%s/mqtt_ca.bin", g_sha); /* another name: no such file row */
    snprintf(paths[n++], 200, "/fw/%064d/ota.bin", 0);      /* no such blob */
    snprintf(paths[n++], 200, "/fw/%s", g_sha);
    snprintf(paths[n++], 200, "/fw//ota.bin");
    /* upper-case hex of the right sha */
    char upper[200];
    snprintf(upper, sizeof upper, "/fw/%s/ota.bin", g_sha);
    for (char *p = upper + 4; *p != '/'; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    bool has_letter = strpbrk(g_sha, "abcdef") != NULL;
    for (unsigned i = 0; i < n + (has_letter ? 1 : 0); i++) {
        const char *path = i < n ? paths[i] : upper;
        char req[512], buf[4096];
        size_t off, len;
        snprintf(req, sizeof req, "GET %.200s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                 path);
        int status = raw_request(req, buf, sizeof buf, &off, &len);
        if (status != 404) {
            print_error("GET %s: expected 404, got %d:\n%s\n", path, status, buf);
            fail();
        }
        assert_non_null(strstr(buf + off, "\"error\""));
    }
    /* the query string is not part of the path */
    char req[400], buf[FW_SIZE + 4096];
    size_t off, len;
    snprintf(req, sizeof req, "GET %s?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
             g_fw_path);
    assert_int_equal(raw_request(req, buf, sizeof buf, &off, &len), 200);
    assert_int_equal(len, FW_SIZE);
}

/* ---- limits -----------------------------------------------------------------------------------
 */

/* A second server with small limits: a third connection from one address is closed at once, and
 * an idle connection is closed after the timeout. */
static void test_limits(void **state)
{
    (void)state;
    atota_httpd_opts_t opts = {
        .http_addr = "127.0.0.1:0", .max_per_ip = 2, .connection_timeout_s = 1, .log = quiet_log};
    atota_httpd_t *h = NULL;
    uint16_t port = 0, saved = g_port;
    atota_diag_t diag = {{0}};
    assert_int_equal(atota_httpd_start(&opts, g_routes, 1, &h, &port, NULL, &diag), ATOTA_OK);
    g_port = port;
    int a = raw_connect(port), b = raw_connect(port), c = raw_connect(port);
    char buf[4096];
    size_t off, len;
    const char *req = "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n";
    send(c, req, strlen(req), MSG_NOSIGNAL);
    ssize_t n = recv(c, buf, sizeof buf, 0);
    if (n > 0) {
        print_error("a third connection from one address was answered:\n%.*s\n", (int)n, buf);
        fail();
    }
    close(c);
    raw_send(a, req, strlen(req));
    assert_int_equal(raw_response(a, buf, sizeof buf, &off, &len), 200);
    /* idle for longer than the timeout: closed by the server */
    time_t t0 = time(NULL);
    assert_int_equal(recv(b, buf, sizeof buf, 0), 0);
    assert_true(time(NULL) - t0 <= 5);
    close(a);
    close(b);
    atota_httpd_stop(h);
    g_port = saved;
    /* bad listen addresses say so */
    opts.http_addr = "127.0.0.1";
    assert_int_equal(atota_httpd_start(&opts, g_routes, 1, &h, NULL, NULL, &diag),
                     ATOTA_ERR_INVALID_ARG);
    assert_non_null(strstr(diag.msg, "127.0.0.1"));
    opts.http_addr = NULL;
    opts.https_addr = "127.0.0.1:0"; /* HTTPS without a certificate */
    assert_int_equal(atota_httpd_start(&opts, g_routes, 1, &h, NULL, NULL, &diag),
                     ATOTA_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_echo),
        cmocka_unit_test(test_route_first_match_and_any),
        cmocka_unit_test(test_route_404_405_500),
        cmocka_unit_test(test_head_on_get_route),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_body_16mib),
        cmocka_unit_test(test_http10_and_keepalive),
        cmocka_unit_test(test_single_write_buffer),
        cmocka_unit_test(test_single_write_file),
        cmocka_unit_test(test_single_write_hosting),
        cmocka_unit_test(test_https),
        cmocka_unit_test(test_make_cert),
        cmocka_unit_test(test_single_write_tls),
        cmocka_unit_test(test_hosting_get_head),
        cmocka_unit_test(test_hosting_ranges),
        cmocka_unit_test(test_hosting_conditionals),
        cmocka_unit_test(test_hosting_not_found_and_traversal),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
