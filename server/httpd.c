/*
 * The HTTP layer on libmicrohttpd (docs/server-http.md). One MHD daemon per listener (HTTP,
 * HTTPS), each with a pool of epoll workers, one per CPU (pool_size). Handlers block (SQLite
 * commits with synchronous=FULL, blob files, upload validation), and a blocked handler stalls the
 * other connections of its worker (a quarter of them with 4 workers) for the length of one handler,
 * a price worth paying: a thread per connection (the first design) made every request pay a
 * thread's creation, and more workers than cores only fought over the store's lock
 * (bench/server).
 *
 * Routes never see MHD: a request reaches its handler with its whole body in memory, and the
 * handler answers with an atota_httpd_response_t that this file turns into an MHD response.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "server/httpd.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_MAX_PER_IP      128
/* epoll workers per listener (see the file comment): one per CPU this process may run on, at
 * least 2 so that one slow handler does not hold every connection, at most 16. */
#define POOL_MIN          2u
#define POOL_MAX          16u
#define DEFAULT_TIMEOUT_S 30
/* Per connection: the request headers, the read buffer (uploads arrive in chunks of it) and the
 * response headers. MHD clears this pool for every request of a kept-alive connection, so it is
 * a per-request cost: 32 KiB (MHD's own default) x 1024 connections bounds it at 32 MiB. */
#define CONNECTION_MEMORY (32u * 1024u)
/* Request bodies of unknown length (chunked) grow by doubling from this. */
#define BODY_INITIAL_CAP (16u * 1024u)
/* Bodies read through a callback go out in blocks of this size (a TLS record holds 16 KiB). */
#define READ_BLOCK (16u * 1024u)

typedef struct {
    char *name;
    char *value;
} header_t;

struct atota_httpd_response {
    int status;
    bool failed; /* a header could not be stored: the layer answers 500 */
    char *content_type;
    header_t *headers;
    unsigned header_count;
    unsigned header_cap;
    bool is_file;
    uint8_t *data; /* bytes responses (owned) */
    size_t len;
    int fd; /* file responses (owned) */
    uint64_t offset;
    uint64_t file_len;
};

typedef struct {
    atota_httpd_t *httpd;
    struct MHD_Daemon *daemon;
    bool tls;
} listener_t;

/* GnuTLS's record corking, found at run time in the GnuTLS libmicrohttpd loaded (the server links
 * libmicrohttpd only; GnuTLS comes with it). */
typedef void (*tls_cork_fn)(gnutls_session_t session);
typedef int (*tls_uncork_fn)(gnutls_session_t session, unsigned flags);

struct atota_httpd {
    const atota_httpd_route_t *routes;
    unsigned route_count;
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    listener_t http;
    listener_t https;
    char *cert_pem; /* copies kept for the daemon's lifetime */
    char *key_pem;
    tls_cork_fn tls_cork;
    tls_uncork_fn tls_uncork;
};

/* One request in flight (MHD's per-request pointer). */
typedef struct {
    const atota_httpd_route_t *route; /* NULL: answered without a handler */
    int reject_status;                /* 404, 405, 413: answer once the body is consumed */
    bool too_big;
    uint8_t *body;
    size_t len;
    size_t cap;
} request_state_t;

/* ---- logging ----------------------------------------------------------------------------------
 */

static void httpd_log(const atota_httpd_t *h, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void httpd_log(const atota_httpd_t *h, const char *fmt, ...)
{
    if (!h->log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    h->log(h->log_ctx, line);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    const atota_httpd_t *h = cls;
    if (!h->log)
        return;
    char line[512] = "httpd: ";
    size_t n = strlen(line);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    h->log(h->log_ctx, line);
}

/* ---- requests ---------------------------------------------------------------------------------
 */

const char *atota_httpd_header(const atota_httpd_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->impl, MHD_HEADER_KIND, name);
}

const char *atota_httpd_arg(const atota_httpd_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->impl, MHD_GET_ARGUMENT_KIND, name);
}

const char *atota_httpd_cookie(const atota_httpd_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->impl, MHD_COOKIE_KIND, name);
}

/* ---- responses --------------------------------------------------------------------------------
 */

static atota_httpd_response_t *response_new(int status)
{
    atota_httpd_response_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->status = status;
    r->fd = -1;
    return r;
}

void atota_httpd_response_free(atota_httpd_response_t *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < r->header_count; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->content_type);
    free(r->data);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

atota_httpd_response_t *atota_httpd_response_bytes(int status, const char *content_type,
                                                   const void *data, size_t len)
{
    atota_httpd_response_t *r = response_new(status);
    if (!r)
        return NULL;
    if (content_type && !(r->content_type = strdup(content_type)))
        goto oom;
    if (len > 0) {
        if (!(r->data = malloc(len)))
            goto oom;
        memcpy(r->data, data, len);
        r->len = len;
    }
    return r;
oom:
    atota_httpd_response_free(r);
    return NULL;
}

/* JSON string contents: quotes, backslashes and control characters escaped. */
static size_t json_escape(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        char tmp[8];
        size_t k;
        if (*p == '"' || *p == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)*p;
            k = 2;
        } else if (*p < 0x20) {
            k = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", *p);
        } else {
            tmp[0] = (char)*p;
            k = 1;
        }
        if (n + k >= cap)
            break;
        memcpy(out + n, tmp, k);
        n += k;
    }
    out[n] = '\0';
    return n;
}

atota_httpd_response_t *atota_httpd_response_error(int status, const char *fmt, ...)
{
    char msg[512], escaped[1200], body[1300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_escape(msg, escaped, sizeof escaped);
    int n = snprintf(body, sizeof body, "{\"error\": \"%s\"}", escaped);
    return atota_httpd_response_bytes(status, "application/json", body, (size_t)n);
}

atota_httpd_response_t *atota_httpd_response_file(int status, int fd, uint64_t offset, uint64_t len)
{
    atota_httpd_response_t *r = response_new(status);
    if (!r) {
        close(fd);
        return NULL;
    }
    r->is_file = true;
    r->fd = fd;
    r->offset = offset;
    r->file_len = len;
    return r;
}

void atota_httpd_response_header(atota_httpd_response_t *r, const char *name, const char *value)
{
    if (!r)
        return;
    if (r->header_count == r->header_cap) {
        unsigned cap = r->header_cap ? r->header_cap * 2 : 8;
        header_t *grown = realloc(r->headers, cap * sizeof *grown);
        if (!grown) {
            r->failed = true;
            return;
        }
        r->headers = grown;
        r->header_cap = cap;
    }
    header_t *hd = &r->headers[r->header_count];
    hd->name = strdup(name);
    hd->value = strdup(value);
    if (!hd->name || !hd->value) {
        free(hd->name);
        free(hd->value);
        r->failed = true;
        return;
    }
    r->header_count++;
}

/* ---- from our responses to MHD's --------------------------------------------------------------
 */

/*
 * esp-at-ota.md §3.5: a device's first read must hold the headers and the body's first bytes.
 *
 * Plain HTTP: MHD 0.9.75 sends a buffer response as one sendmsg() of headers + body, but an fd
 * response as the headers alone, then sendfile() (two segments: a device's first read may hold the
 * headers only). So a file slice is mapped (blobs are immutable: a file is renamed into place and
 * never rewritten, and an unlink does not disturb a mapping) and handed to MHD as a buffer.
 *
 * HTTPS: MHD hands the headers and the body to gnutls_record_send() separately, so they travel in
 * two TLS records, and a TLS read (mbedTLS on the device) returns one record at most. So the
 * session is corked before MHD sends the headers, and the body is read through a callback that
 * gives MHD all but the last byte first: when MHD asks for more, headers and first bytes have
 * been handed to GnuTLS, and uncorking sends them as one record.
 */
typedef struct {
    uint8_t *data; /* owned memory, or */
    void *map;     /* a mapping of map_len bytes (the body at data), or */
    size_t map_len;
    int fd; /* a file read with pread() from offset */
    uint64_t offset;
    uint64_t len;
    gnutls_session_t session; /* corked until the second read */
    tls_uncork_fn uncork;
} body_t;

static void body_free(void *cls)
{
    body_t *b = cls;
    if (b->map)
        munmap(b->map, b->map_len);
    else
        free(b->data);
    if (b->fd >= 0)
        close(b->fd);
    free(b);
}

static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    body_t *b = cls;
    if (pos >= b->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (b->session && pos > 0) {
        gnutls_session_t session = b->session;
        b->session = NULL;
        if (b->uncork(session, GNUTLS_RECORD_WAIT) < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    uint64_t left = b->len - pos;
    size_t n = left < max ? (size_t)left : max;
    if (b->session && n == left)
        n--; /* keep a byte back: asking for it uncorks */
    if (b->data) {
        memcpy(buf, b->data + pos, n);
        return (ssize_t)n;
    }
    ssize_t got;
    do
        got = pread(b->fd, buf, n, (off_t)(b->offset + pos));
    while (got < 0 && errno == EINTR);
    return got > 0 ? got : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The response's body as a body_t, taking its memory or its file. */
static body_t *body_take(atota_httpd_response_t *r)
{
    body_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->fd = -1;
    if (!r->is_file) {
        b->data = r->data;
        b->len = r->len;
        r->data = NULL;
        return b;
    }
    b->len = r->file_len;
    long page = sysconf(_SC_PAGESIZE);
    uint64_t start = r->offset - r->offset % (uint64_t)(page > 0 ? page : 4096);
    uint64_t map_len = r->offset - start + r->file_len;
    void *map = r->file_len > 0 && map_len <= SIZE_MAX
                    ? mmap(NULL, (size_t)map_len, PROT_READ, MAP_PRIVATE, r->fd, (off_t)start)
                    : MAP_FAILED;
    if (map != MAP_FAILED) {
        b->map = map;
        b->map_len = (size_t)map_len;
        b->data = (uint8_t *)map + (r->offset - start);
        close(r->fd);
    } else { /* not mappable: read (the first bytes then follow the headers in a second send) */
        b->fd = r->fd;
        b->offset = r->offset;
    }
    r->fd = -1;
    return b;
}

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* An MHD response for r; *cork says the caller must cork the TLS session before queueing it. */
static struct MHD_Response *to_mhd(const atota_httpd_t *h, atota_httpd_response_t *r, bool head,
                                   gnutls_session_t session, bool *cork)
{
    *cork = false;
    struct MHD_Response *m = NULL;
    uint64_t len = r->is_file ? r->file_len : r->len;
    if (len == 0) {
        m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        body_t *b = body_take(r);
        if (!b)
            return NULL;
        if (!head && session && len >= 2 && status_has_body(r->status)) {
            b->session = session;
            b->uncork = h->tls_uncork;
            *cork = true;
        }
        /* HEAD: MHD sends Content-Length = len and never reads the body */
        if (!*cork && !head && b->data)
            m = MHD_create_response_from_buffer_with_free_callback_cls((size_t)len, b->data,
                                                                       body_free, b);
        else
            m = MHD_create_response_from_callback(len, READ_BLOCK, body_read, b, body_free);
        if (!m) {
            body_free(b);
            *cork = false;
            return NULL;
        }
    }
    if (!m)
        return NULL;
    bool ok = true;
    if (r->content_type)
        ok = MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type) == MHD_YES;
    for (unsigned i = 0; ok && i < r->header_count; i++)
        ok = MHD_add_response_header(m, r->headers[i].name, r->headers[i].value) == MHD_YES;
    if (!ok) {
        MHD_destroy_response(m);
        *cork = false;
        return NULL;
    }
    return m;
}

/* Queues r (always freed). NULL r or a failed conversion answers 500. */
static enum MHD_Result send_response(const listener_t *l, struct MHD_Connection *conn,
                                     const char *method, const char *url, atota_httpd_response_t *r)
{
    const atota_httpd_t *h = l->httpd;
    bool head = strcmp(method, "HEAD") == 0;
    gnutls_session_t session = NULL;
    if (l->tls) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        session = ci ? ci->tls_session : NULL;
    }
    struct MHD_Response *m = NULL;
    int status = 500;
    bool cork = false;
    if (r && !r->failed) {
        status = r->status;
        m = to_mhd(h, r, head, session, &cork);
    }
    atota_httpd_response_free(r);
    if (!m) {
        static const char oom[] = "{\"error\": \"out of memory\"}";
        status = 500;
        m = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
        if (!m)
            return MHD_NO;
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    }
    if (cork)
        h->tls_cork(session);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, m);
    if (cork && ret != MHD_YES)
        h->tls_uncork(session, GNUTLS_RECORD_WAIT);
    MHD_destroy_response(m);
    if (status >= 500)
        httpd_log(h, "httpd: %s %s -> %d", method, url, status);
    return ret;
}

/* ---- routing ----------------------------------------------------------------------------------
 */

/* A GET route answers HEAD too (RFC 9110 §9.3.2); MHD leaves the body out. */
static bool method_matches(const char *route_method, const char *method)
{
    if (!route_method || strcmp(route_method, method) == 0)
        return true;
    return strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

/* "/a/b*": any path starting with "/a/b"; "/a/b": that path only. */
static bool path_matches(const char *prefix, const char *path)
{
    size_t n = strlen(prefix);
    if (n > 0 && prefix[n - 1] == '*')
        return strncmp(path, prefix, n - 1) == 0;
    return strcmp(path, prefix) == 0;
}

/* The route for the request, or NULL with *status 404 (no path matches) or 405 (the path
 * matches under other methods: *allow lists them). */
static const atota_httpd_route_t *route_find(const atota_httpd_t *h, const char *method,
                                             const char *path, int *status, char *allow,
                                             size_t allow_cap)
{
    *status = 404;
    allow[0] = '\0';
    for (unsigned i = 0; i < h->route_count; i++) {
        const atota_httpd_route_t *rt = &h->routes[i];
        if (!path_matches(rt->prefix, path))
            continue;
        if (method_matches(rt->method, method))
            return rt;
        *status = 405;
        const char *names[2] = {rt->method, strcmp(rt->method, "GET") == 0 ? "HEAD" : NULL};
        for (unsigned k = 0; k < 2 && names[k]; k++) {
            size_t len = strlen(names[k]);
            bool seen = false;
            for (const char *p = allow; (p = strstr(p, names[k])) != NULL; p += len)
                if ((p == allow || p[-1] == ' ') && (p[len] == ',' || p[len] == '\0'))
                    seen = true;
            if (!seen && strlen(allow) + len + 3 < allow_cap) {
                if (allow[0])
                    strcat(allow, ", ");
                strcat(allow, names[k]);
            }
        }
    }
    return NULL;
}

/* ---- MHD callbacks ----------------------------------------------------------------------------
 */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    listener_t *l = cls;
    atota_httpd_t *h = l->httpd;
    request_state_t *st = *con_cls;

    if (!st) { /* the headers are in: route, and refuse an announced body that is too big */
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        *con_cls = st;
        char allow[64];
        int status;
        st->route = route_find(h, method, url, &status, allow, sizeof allow);
        if (!st->route) {
            atota_httpd_response_t *r =
                status == 405
                    ? atota_httpd_response_error(405, "%s is not allowed on %s", method, url)
                    : atota_httpd_response_error(404, "no such path: %s", url);
            if (status == 405)
                atota_httpd_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
            return send_response(l, conn, method, url, r);
        }
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno == 0 && end != cl && *end == '\0' && n <= st->route->max_body) {
                if (n > 0 && !(st->body = malloc((size_t)n)))
                    return MHD_NO;
                st->cap = (size_t)n;
            } else {
                /* MHD closes the connection after this answer: the body is never read */
                return send_response(l, conn, method, url,
                                     atota_httpd_response_error(413,
                                                                "the body is larger than %zu bytes",
                                                                st->route->max_body));
            }
        }
        return MHD_YES;
    }

    if (*upload_data_size > 0) { /* a part of the body */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_big)
            return MHD_YES; /* discarded: 413 once it is all in (MHD cannot answer mid-body) */
        if (n > st->route->max_body - st->len) {
            st->too_big = true;
            return MHD_YES;
        }
        if (st->len + n > st->cap) {
            size_t cap = st->cap ? st->cap : BODY_INITIAL_CAP;
            while (cap < st->len + n)
                cap = cap > st->route->max_body / 2 ? st->route->max_body : cap * 2;
            uint8_t *grown = realloc(st->body, cap);
            if (!grown)
                return MHD_NO;
            st->body = grown;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        return MHD_YES;
    }

    /* the whole request is in */
    if (st->too_big)
        return send_response(l, conn, method, url,
                             atota_httpd_response_error(413, "the body is larger than %zu bytes",
                                                        st->route->max_body));
    char client[INET6_ADDRSTRLEN] = "?";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, client,
                      sizeof client);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, client,
                      sizeof client);
    }
    atota_httpd_request_t req = {
        .method = method,
        .path = url,
        .version = version,
        .body = st->len ? st->body : NULL,
        .body_len = st->len,
        .client = client,
        .tls = l->tls,
        .impl = conn,
    };
    return send_response(l, conn, method, url, st->route->handler(st->route->ctx, &req));
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request_state_t *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

/* ---- listeners --------------------------------------------------------------------------------
 */

/* "host:port", "[v6]:port" or ":port" (every address) into a socket address. */
static atota_err_t parse_addr(const char *text, struct sockaddr_storage *ss, atota_diag_t *diag)
{
    char host[256];
    const char *port;
    if (text[0] == '[') {
        const char *close_br = strchr(text, ']');
        if (!close_br || close_br[1] != ':' || (size_t)(close_br - text - 1) >= sizeof host)
            return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "bad listen address '%s'", text);
        memcpy(host, text + 1, (size_t)(close_br - text - 1));
        host[close_br - text - 1] = '\0';
        port = close_br + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= sizeof host)
            return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                                  "bad listen address '%s' (want host:port)", text);
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port = colon + 1;
    }
    char *end;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || p > 65535)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "bad port in listen address '%s'", text);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0 || !res)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "cannot resolve listen address '%s': %s",
                              text, gai_strerror(rc));
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return ATOTA_OK;
}

static unsigned pool_size(void)
{
    cpu_set_t set;
    unsigned cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? (unsigned)CPU_COUNT(&set) : 0;
    return cpus < POOL_MIN ? POOL_MIN : cpus > POOL_MAX ? POOL_MAX : cpus;
}

static atota_err_t listener_start(atota_httpd_t *h, listener_t *l, const char *addr, bool tls,
                                  const atota_httpd_opts_t *opts, uint16_t *port,
                                  atota_diag_t *diag)
{
    struct sockaddr_storage ss;
    atota_err_t err = parse_addr(addr, &ss, diag);
    if (err)
        return err;
    l->httpd = h;
    l->tls = tls;
    /* poll(), not select(): no FD_SETSIZE ceiling on descriptors */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    unsigned max_conn = opts->max_connections ? opts->max_connections : DEFAULT_MAX_CONNECTIONS;
    unsigned per_ip = opts->max_per_ip ? opts->max_per_ip : DEFAULT_MAX_PER_IP;
    unsigned timeout = opts->connection_timeout_s ? opts->connection_timeout_s : DEFAULT_TIMEOUT_S;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    l->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h,
        MHD_OPTION_THREAD_POOL_SIZE, pool_size(), MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_ARRAY, tls ? tls_opts : &tls_opts[2], MHD_OPTION_END);
    if (!l->daemon)
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot listen on %s%s (%s)", addr,
                              tls ? " (HTTPS)" : "",
                              tls ? "address in use, or a bad certificate or key"
                                  : "address in use or not available");
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (port)
        *port = di ? di->port : 0;
    httpd_log(h, "httpd: listening on %s (%s, port %u)", addr, tls ? "HTTPS" : "HTTP",
              di ? di->port : 0);
    return ATOTA_OK;
}

atota_err_t atota_httpd_start(const atota_httpd_opts_t *opts, const atota_httpd_route_t *routes,
                              unsigned route_count, atota_httpd_t **out, uint16_t *http_port,
                              uint16_t *https_port, atota_diag_t *diag)
{
    *out = NULL;
    if (!opts->http_addr && !opts->https_addr)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no listen address given");
    if (opts->https_addr && (!opts->cert_pem || !opts->key_pem))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "HTTPS needs a certificate and a key");
    atota_httpd_t *h = calloc(1, sizeof *h);
    if (!h)
        return atota_diag_set(diag, ATOTA_ERR_NO_MEM, "out of memory");
    h->routes = routes;
    h->route_count = route_count;
    h->log = opts->log;
    h->log_ctx = opts->log_ctx;
    atota_err_t err = ATOTA_OK;
    if (opts->https_addr) {
        /* dlsym, not a link: libmicrohttpd brings GnuTLS; void* to function pointer is POSIX */
        *(void **)&h->tls_cork = dlsym(RTLD_DEFAULT, "gnutls_record_cork");
        *(void **)&h->tls_uncork = dlsym(RTLD_DEFAULT, "gnutls_record_uncork");
        if (!h->tls_cork || !h->tls_uncork)
            err = atota_diag_set(diag, ATOTA_ERR_UNSUPPORTED,
                                 "GnuTLS (with libmicrohttpd) has no record corking");
    }
    if (!err && opts->https_addr &&
        (!(h->cert_pem = strdup(opts->cert_pem)) || !(h->key_pem = strdup(opts->key_pem))))
        err = atota_diag_set(diag, ATOTA_ERR_NO_MEM, "out of memory");
    if (!err && opts->http_addr)
        err = listener_start(h, &h->http, opts->http_addr, false, opts, http_port, diag);
    if (!err && opts->https_addr)
        err = listener_start(h, &h->https, opts->https_addr, true, opts, https_port, diag);
    if (err) {
        atota_httpd_stop(h);
        return err;
    }
    *out = h;
    return ATOTA_OK;
}

void atota_httpd_stop(atota_httpd_t *h)
{
    if (!h)
        return;
    if (h->http.daemon)
        MHD_stop_daemon(h->http.daemon);
    if (h->https.daemon)
        MHD_stop_daemon(h->https.daemon);
    free(h->cert_pem);
    free(h->key_pem);
    free(h);
}

/* ---- a self-signed certificate ----------------------------------------------------------------
 */

/* The subjectAltName extension's value (RFC 5280 §4.2.1.6): a SEQUENCE of dNSName [2] and
 * iPAddress [7], written backwards as mbedTLS's ASN.1 writer does. Returns the length at the end
 * of buf (*start points at it), or a negative mbedTLS error. */
static int san_der(const char *const *names, unsigned count, unsigned char *buf, size_t cap,
                   unsigned char **start)
{
    unsigned char *p = buf + cap;
    size_t len = 0;
    int ret;
    for (unsigned i = count; i-- > 0;) {
        unsigned char ip[16];
        const unsigned char *value = (const unsigned char *)names[i];
        size_t value_len = strlen(names[i]);
        unsigned char tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2; /* dNSName */
        if (inet_pton(AF_INET, names[i], ip) == 1) {
            value = ip;
            value_len = 4;
            tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7; /* iPAddress */
        } else if (inet_pton(AF_INET6, names[i], ip) == 1) {
            value = ip;
            value_len = 16;
            tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7;
        }
        size_t one = 0;
        if ((ret = mbedtls_asn1_write_raw_buffer(&p, buf, value, value_len)) < 0)
            return ret;
        one += (size_t)ret;
        if ((ret = mbedtls_asn1_write_len(&p, buf, one)) < 0)
            return ret;
        one += (size_t)ret;
        if ((ret = mbedtls_asn1_write_tag(&p, buf, tag)) < 0)
            return ret;
        one += (size_t)ret;
        len += one;
    }
    if ((ret = mbedtls_asn1_write_len(&p, buf, len)) < 0)
        return ret;
    len += (size_t)ret;
    if ((ret = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) <
        0)
        return ret;
    len += (size_t)ret;
    *start = p;
    return (int)len;
}

/* "YYYYMMDDhhmmss", as mbedtls_x509write_crt_set_validity wants it */
static void x509_time(time_t t, char out[16])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

atota_err_t atota_httpd_make_cert(const char *const *names, unsigned count, char *cert_pem,
                                  size_t cert_cap, char *key_pem, size_t key_cap,
                                  atota_diag_t *diag)
{
    static const char pers[] = "atota_httpd_make_cert";
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
    mbedtls_x509write_cert crt;
    mbedtls_mpi serial;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
    atota_err_t err = ATOTA_OK;
    const char *step = "";
    int ret;
    unsigned char san[1024], *san_start = NULL, serial_bytes[16];
    char not_before[16], not_after[16];

    if (count == 0 || !names) {
        err = atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "a certificate needs at least one name");
        goto done;
    }
    int san_len = san_der(names, count, san, sizeof san, &san_start);
    if (san_len < 0) {
        err = atota_diag_set(diag, ATOTA_ERR_TOO_BIG, "too many certificate names");
        goto done;
    }
    time_t now = time(NULL);
    x509_time(now - 24 * 3600, not_before); /* a day of slack for clocks behind ours */
    x509_time(now + (time_t)3650 * 24 * 3600, not_after);

#define STEP(name, call)                                                                           \
    do {                                                                                           \
        step = name;                                                                               \
        if ((ret = (call)) != 0)                                                                   \
            goto mbed_fail;                                                                        \
    } while (0)
    STEP("seeding the random generator",
         mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, (const unsigned char *)pers,
                               sizeof pers - 1));
    /* EC P-256: quick to make, and in ESP-IDF's default mbedTLS cipher suites */
    STEP("setting up the key", mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)));
    STEP("making the key", mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                               mbedtls_ctr_drbg_random, &drbg));
    STEP("making a serial number",
         mbedtls_ctr_drbg_random(&drbg, serial_bytes, sizeof serial_bytes));
    serial_bytes[0] &= 0x7f; /* positive */
    serial_bytes[0] |= 0x40; /* and 16 bytes long */
    STEP("setting the serial number",
         mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof serial_bytes));
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key);
    STEP("setting the subject", mbedtls_x509write_crt_set_subject_name(&crt, "CN=atota-server"));
    STEP("setting the issuer", mbedtls_x509write_crt_set_issuer_name(&crt, "CN=atota-server"));
    STEP("setting the serial number", mbedtls_x509write_crt_set_serial(&crt, &serial));
    STEP("setting the validity", mbedtls_x509write_crt_set_validity(&crt, not_before, not_after));
    STEP("setting the basic constraints", mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1));
    STEP("setting the key identifier", mbedtls_x509write_crt_set_subject_key_identifier(&crt));
    STEP("setting the authority key identifier",
         mbedtls_x509write_crt_set_authority_key_identifier(&crt));
    STEP("setting the names",
         mbedtls_x509write_crt_set_extension(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                             MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                             san_start, (size_t)san_len));
    step = "writing the certificate";
    if ((ret = mbedtls_x509write_crt_pem(&crt, (unsigned char *)cert_pem, cert_cap,
                                         mbedtls_ctr_drbg_random, &drbg)) != 0)
        goto mbed_fail;
    step = "writing the key";
    if ((ret = mbedtls_pk_write_key_pem(&key, (unsigned char *)key_pem, key_cap)) != 0)
        goto mbed_fail;
#undef STEP
    goto done;
mbed_fail : {
    char text[128];
    mbedtls_strerror(ret, text, sizeof text);
    err = atota_diag_set(diag,
                         ret == MBEDTLS_ERR_X509_BUFFER_TOO_SMALL ||
                                 ret == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL ||
                                 ret == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL
                             ? ATOTA_ERR_TOO_BIG
                             : ATOTA_ERR_IO,
                         "certificate: %s: %s (-0x%04x)", step, text, (unsigned)-ret);
}
done:
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return err;
}
