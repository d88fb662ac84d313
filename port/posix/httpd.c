/*
 * The core's HTTP server on libmicrohttpd in external-select mode (port/posix/httpd.h): no thread
 * of MHD's own; MHD_get_fdset2 and MHD_get_timeout say what to poll, the host polls,
 * MHD_run_from_select does the work and calls us back, and only from there do we call the sink.
 *
 * One request is a request_t, made by MHD's URI callback (the raw request target, before MHD
 * decodes it) and freed by its completion callback. MHD's access handler is called once when the
 * headers are in (on_request), once per piece of body (on_body) and once more when the body is
 * complete (on_end); MHD takes a response only in the first and the last of these calls, and one
 * queued in the first call makes it drop the body and close. So a response the core gives before
 * the body has all arrived is built at once, kept, and queued in the last call; the pieces in
 * between are dropped. The port's own refusals (411, 414) are queued in the first call: the body
 * is not read and the connection closes, as esp_http_server does after a parse error.
 *
 * A stop() from inside a callback cannot destroy the daemon MHD is running: the listener closes at
 * once and the daemon is stopped when MHD_run_from_select returns; a generation number, changed at
 * every start and stop, keeps the old server's requests away from the sink meanwhile.
 */
#include "port/posix/httpd.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define LISTEN_BACKLOG 16
/* Bytes a chunked response hands MHD at a time. */
#define CHUNK_BLOCK (16u * 1024u)
/* When MHD cannot say what to poll (a descriptor beyond FD_SETSIZE), try again this soon. */
#define RETRY_MS 10
/* At the connection limit, how often to look whether a connection has gone. */
#define FULL_RECHECK_MS 100

typedef struct request request_t;

struct atota_httpd_posix {
    char host[ATOTA_HTTPD_POSIX_HOST_MAX];
    uint16_t host_port;
    unsigned idle_timeout_s;
    void (*on_listen)(void *ctx, uint16_t module_port, const char *url);
    void (*log)(void *ctx, const char *line);
    void *cb_ctx;
    /* the running server */
    struct MHD_Daemon *daemon;
    uint16_t module_port;
    atota_httpd_sink_t sink;
    void *sink_ctx;
    char url[ATOTA_HTTPD_POSIX_HOST_MAX + 32];
    unsigned generation;        /* changes at every start and stop */
    unsigned polled_generation; /* the server the last pollfds described */
    int listen_fd;
    /* a stop from inside MHD's callbacks: that daemon is stopped once MHD_run_from_select has
     * returned (running is the one it runs) */
    struct MHD_Daemon *running;
    struct MHD_Daemon *retired;
};

/* One request (MHD's per-request pointer). req comes first: the core's pointer is ours. */
struct request {
    atota_httpd_request_t req;
    atota_httpd_posix_t *server;
    unsigned generation;          /* the server it came to */
    bool orphan;                  /* it came to a server stopped from inside a callback */
    struct MHD_Connection *conn;  /* set when the headers are in */
    char *uri;                    /* the raw request target, split: path '\0' query */
    size_t uri_len;               /* as received */
    bool headers_in;              /* the access handler's first call happened */
    bool announced;               /* on_request was called: the core knows the request */
    bool answered;                /* respond() was called (or the port answered) */
    bool close_now;               /* status 0: no response, the connection closes */
    struct MHD_Response *pending; /* the answer, queued once the body is in */
    unsigned pending_status;
};

/* ---- logging -------------------------------------------------------------------------------- */

static void hlog(const atota_httpd_posix_t *h, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void hlog(const atota_httpd_posix_t *h, const char *fmt, ...)
{
    if (!h->log)
        return;
    char line[320] = "httpd: ";
    size_t n = strlen(line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    h->log(h->cb_ctx, line);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    const atota_httpd_posix_t *h = cls;
    if (!h->log)
        return;
    char line[320] = "httpd: libmicrohttpd: ";
    size_t n = strlen(line);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    h->log(h->cb_ctx, line);
}

/* ---- responses ------------------------------------------------------------------------------ */

/* A chunked body: a copy of the core's bytes, read by MHD through body_read. */
typedef struct {
    size_t len;
    uint8_t data[];
} body_t;

static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    const body_t *b = cls;
    if (pos >= b->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = b->len - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, b->data + pos, n);
    return (ssize_t)n;
}

/* An MHD response for r (its body copied); NULL when out of memory. */
static struct MHD_Response *response_build(const atota_httpd_posix_t *h,
                                           const atota_httpd_response_t *r)
{
    struct MHD_Response *m;
    if (r->chunked) {
        /* MHD_SIZE_UNKNOWN: MHD frames it as Transfer-Encoding: chunked for an HTTP/1.1 client,
         * and sends it up to the close to an HTTP/1.0 one. */
        body_t *b = malloc(sizeof *b + r->len);
        if (!b)
            return NULL;
        b->len = r->len;
        if (r->len)
            memcpy(b->data, r->body, r->len);
        m = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, CHUNK_BLOCK, body_read, b, free);
        if (!m)
            free(b);
    } else if (r->len) {
        m = MHD_create_response_from_buffer(r->len, (void *)r->body, MHD_RESPMEM_MUST_COPY);
    } else {
        m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!m)
        return NULL;
    if (r->content_type &&
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type) != MHD_YES)
        hlog(h, "response header Content-Type: %s refused", r->content_type);
    for (unsigned i = 0; i < ATOTA_HTTPD_MAX_HEADERS && r->headers[i][0]; i++) {
        const char *value = r->headers[i][1] ? r->headers[i][1] : "";
        if (MHD_add_response_header(m, r->headers[i][0], value) != MHD_YES)
            hlog(h, "response header %s: %s refused", r->headers[i][0], value);
    }
    return m;
}

/* Queues q's kept answer (its body is all in); MHD_NO closes the connection. */
static enum MHD_Result queue_pending(request_t *q)
{
    if (q->close_now || !q->pending)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(q->conn, q->pending_status, q->pending);
    MHD_destroy_response(q->pending); /* MHD holds its own reference once queued */
    q->pending = NULL;
    if (ret != MHD_YES)
        hlog(q->server, "%s %s: cannot send the %u response", q->req.method, q->req.path,
             q->pending_status);
    return ret;
}

/* The port's own answer (411, 414), queued at once: MHD then drops the body and closes. */
static enum MHD_Result refuse(const atota_httpd_posix_t *h, struct MHD_Connection *conn,
                              unsigned status, const char *body)
{
    struct MHD_Response *m =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!m)
        return MHD_NO;
    MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html");
    enum MHD_Result ret = MHD_queue_response(conn, status, m);
    MHD_destroy_response(m);
    if (ret != MHD_YES)
        hlog(h, "cannot send the %u response", status);
    return ret;
}

/* ---- MHD callbacks -------------------------------------------------------------------------- */

/* The request line is in: the raw target, before MHD splits and decodes it. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    atota_httpd_posix_t *h = cls;
    request_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL; /* the access handler closes a connection without one */
    q->server = h;
    q->generation = h->generation;
    /* a kept-alive connection of a server stopped in this very run: not the current server's */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);
    q->orphan = !ci || ci->daemon != h->daemon;
    q->req.content_length = -1;
    q->uri_len = strlen(uri);
    if (q->uri_len > ATOTA_HTTPD_URI_MAX)
        return q; /* 414: no copy needed */
    if (!(q->uri = malloc(q->uri_len + 1))) {
        free(q);
        return NULL;
    }
    memcpy(q->uri, uri, q->uri_len + 1);
    char *mark = strchr(q->uri, '?');
    if (mark)
        *mark = '\0';
    q->req.path = q->uri;
    q->req.query = mark ? mark + 1 : "";
    return q;
}

/* Whether the request's body is chunked (Transfer-Encoding names chunked). */
static bool chunked_body(struct MHD_Connection *conn)
{
    const char *te =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (!te)
        return false;
    for (const char *p = te; *p; p++)
        if (!strncasecmp(p, "chunked", 7))
            return true;
    return false;
}

/* The Content-Length header as a number; -1 when absent (MHD refuses a malformed one itself). */
static int64_t content_length(struct MHD_Connection *conn)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return -1;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (errno || end == cl || n > (unsigned long long)INT64_MAX)
        return -1;
    return (int64_t)n;
}

/* After a sink call for q: whether the server it belongs to was stopped meanwhile. */
static bool gone(const request_t *q)
{
    return q->orphan || q->generation != q->server->generation;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    atota_httpd_posix_t *h = cls;
    request_t *q = *con_cls;
    (void)url;
    (void)version;
    if (!q || gone(q))
        return MHD_NO; /* out of memory at on_uri, or the server was stopped */

    if (!q->headers_in) { /* the first call: the request line and headers are in */
        q->headers_in = true;
        q->conn = conn;
        q->req.method = method;
        if (chunked_body(conn)) { /* core/net/httpd.h: the core never sees it */
            q->answered = true;
            hlog(h, "%s: a chunked request body: 411", method);
            return refuse(h, conn, MHD_HTTP_LENGTH_REQUIRED, "Chunked encoding not supported");
        }
        if (!q->uri) {
            q->answered = true;
            hlog(h, "%s: a request target of %zu bytes (at most %u): 414", method, q->uri_len,
                 ATOTA_HTTPD_URI_MAX);
            return refuse(h, conn, MHD_HTTP_URI_TOO_LONG, "URI is too long");
        }
        q->req.content_length = content_length(conn);
        q->announced = true;
        h->sink.on_request(h->sink_ctx, &q->req);
        if (gone(q) || q->close_now)
            return MHD_NO;
        return MHD_YES; /* a response waits for the body (or for the last call) */
    }

    if (*upload_data_size > 0) { /* a piece of the body */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (q->close_now)
            return MHD_NO;
        if (q->answered)
            return MHD_YES; /* answered early: the rest of the body is dropped */
        h->sink.on_body(h->sink_ctx, &q->req, (const uint8_t *)upload_data, n);
        return gone(q) || q->close_now ? MHD_NO : MHD_YES;
    }

    /* the last call: the whole body is in */
    if (!q->answered) {
        h->sink.on_end(h->sink_ctx, &q->req);
        if (gone(q))
            return MHD_NO;
        if (!q->answered) { /* core/net/httpd.h: unanswered at the end of on_end: 500 */
            hlog(h, "%s %s: no answer from the firmware: 500", q->req.method, q->req.path);
            q->answered = true;
            q->pending_status = MHD_HTTP_INTERNAL_SERVER_ERROR;
            q->pending = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        }
    }
    return queue_pending(q);
}

/* The request ended: sent, failed, timed out, or the server stopped. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    atota_httpd_posix_t *h = cls;
    request_t *q = *con_cls;
    (void)conn;
    if (!q)
        return;
    *con_cls = NULL;
    /* core/net/httpd.h: on_abort only for a request the core knows and has not answered, and
     * never after stop() (DAEMON_SHUTDOWN, or a server already replaced) */
    if (q->announced && !q->answered && !gone(q) && toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN) {
        atota_err_t err = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? ATOTA_ERR_NET_TIMEOUT
                                                                        : ATOTA_ERR_NET_RESET;
        hlog(h, "%s %s: %s", q->req.method, q->req.path,
             err == ATOTA_ERR_NET_TIMEOUT ? "the connection was idle too long: closed"
                                          : "the client closed the connection before the answer");
        h->sink.on_abort(h->sink_ctx, &q->req, err);
    }
    if (q->pending)
        MHD_destroy_response(q->pending);
    free(q->uri);
    free(q);
}

/* ---- the core's interface ------------------------------------------------------------------- */

/* A listening socket on host:port; -1 with diag set. */
static int listen_socket(const atota_httpd_posix_t *h, uint16_t module_port, atota_diag_t *diag)
{
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)h->host_port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(h->host, port, &hints, &res);
    if (rc != 0) {
        atota_diag_set(diag, ATOTA_ERR_IO,
                       "cannot listen on %s:%u for the module's port %u: cannot resolve %s: %s",
                       h->host, (unsigned)h->host_port, (unsigned)module_port, h->host,
                       gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1; /* a restart on the same port while old connections are in TIME_WAIT */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        atota_diag_set(diag, ATOTA_ERR_IO, "cannot listen on %s:%u for the module's port %u: %s",
                       h->host, (unsigned)h->host_port, (unsigned)module_port,
                       saved == EADDRINUSE ? "the address is in use" : strerror(saved));
    return fd;
}

/* "http://ADDR:PORT/" for the socket fd listens on. */
static bool name_url(atota_httpd_posix_t *h, int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char addr[64], port[8]; /* numeric: an IPv6 address with its scope fits */
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, addr, sizeof addr, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return false;
    bool v6 = strchr(addr, ':') != NULL;
    snprintf(h->url, sizeof h->url, "http://%s%s%s:%s/", v6 ? "[" : "", addr, v6 ? "]" : "", port);
    return true;
}

static atota_err_t httpd_start(void *ctx, uint16_t port, const atota_httpd_sink_t *sink,
                               void *sink_ctx, atota_diag_t *diag)
{
    atota_httpd_posix_t *h = ctx;
    if (!sink || !sink->on_request || !sink->on_body || !sink->on_end || !sink->on_abort)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "the web server needs a whole sink");
    if (h->daemon)
        return atota_diag_set(diag, ATOTA_ERR_STATE,
                              "the web server already runs (for the module's port %u on %s)",
                              (unsigned)h->module_port, h->url);
    int fd = listen_socket(h, port, diag);
    if (fd < 0)
        return ATOTA_ERR_IO;
    if (!name_url(h, fd)) {
        int e = errno;
        close(fd);
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot name the web server's socket: %s",
                              strerror(e));
    }
    h->generation++; /* before MHD can call on_uri: its requests belong to this server */
    /* No MHD_USE_INTERNAL_POLLING_THREAD: MHD runs in the host's loop (external select). No Date
     * header: esp_http_server sends none (esp-at-ota.md §4.3). */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_ERROR_LOG | MHD_USE_SUPPRESS_DATE_NO_CLOCK, 0, NULL, NULL, on_access, h,
        /* the logger first: MHD reports what it finds in the options after it */
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)h->idle_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)ATOTA_HTTPD_POSIX_MAX_CONNECTIONS, MHD_OPTION_END);
    if (!d) {
        close(fd);
        h->url[0] = '\0';
        return atota_diag_set(diag, ATOTA_ERR_IO,
                              "cannot start the web server for the module's port %u "
                              "(libmicrohttpd refused)",
                              (unsigned)port);
    }
    h->daemon = d;
    h->listen_fd = fd;
    h->module_port = port;
    h->sink = *sink;
    h->sink_ctx = sink_ctx;
    if (h->on_listen)
        h->on_listen(h->cb_ctx, port, h->url);
    return ATOTA_OK;
}

static void httpd_stop(void *ctx)
{
    atota_httpd_posix_t *h = ctx;
    if (!h->daemon)
        return;
    struct MHD_Daemon *d = h->daemon;
    uint16_t port = h->module_port;
    h->daemon = NULL;
    h->url[0] = '\0';
    h->generation++; /* its requests are gone: no callback names them again */
    if (d == h->running) {
        /* From inside MHD's callbacks: the listener closes now (the port is free for the next
         * start), the daemon once MHD_run_from_select has returned. */
        MHD_socket fd = MHD_quiesce_daemon(d);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
        h->retired = d;
    } else {
        MHD_stop_daemon(d); /* closes every connection: on_completed sees DAEMON_SHUTDOWN */
    }
    if (h->on_listen)
        h->on_listen(h->cb_ctx, port, NULL);
}

static const char *httpd_header(void *ctx, atota_httpd_request_t *req, const char *name)
{
    (void)ctx;
    request_t *q = (request_t *)req;
    if (!q || !q->conn || !name)
        return NULL;
    return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name); /* case-insensitive */
}

static void httpd_respond(void *ctx, atota_httpd_request_t *req, const atota_httpd_response_t *r)
{
    atota_httpd_posix_t *h = ctx;
    request_t *q = (request_t *)req;
    if (!q || !r || q->answered || gone(q))
        return;
    q->answered = true;
    if (r->status == 0) { /* esp_http_server after a handler's ESP_FAIL: closed, no answer */
        q->close_now = true;
        return;
    }
    q->pending_status = r->status;
    q->pending = r->len && !r->body ? NULL : response_build(h, r);
    if (!q->pending) {
        hlog(h, "%s %s: cannot make the %u response (%s): closing", q->req.method, q->req.path,
             r->status, r->body || !r->len ? "out of memory" : "a body of NULL");
        q->close_now = true;
    }
}

static const atota_httpd_ops_t httpd_ops = {httpd_start, httpd_stop, httpd_header, httpd_respond};

/* ---- public --------------------------------------------------------------------------------- */

atota_httpd_posix_t *atota_httpd_posix_new(const atota_httpd_posix_opts_t *opts)
{
    atota_httpd_posix_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    const char *host = opts && opts->host && opts->host[0] ? opts->host : "127.0.0.1";
    snprintf(h->host, sizeof h->host, "%s", host);
    if (opts) {
        h->host_port = opts->port;
        h->idle_timeout_s = opts->idle_timeout_s;
        h->on_listen = opts->on_listen;
        h->log = opts->log;
        h->cb_ctx = opts->ctx;
    }
    if (!h->idle_timeout_s)
        h->idle_timeout_s = ATOTA_HTTPD_POSIX_IDLE_TIMEOUT_S;
    return h;
}

void atota_httpd_posix_free(atota_httpd_posix_t *h)
{
    if (!h)
        return;
    h->on_listen = NULL; /* tearing down: no announcement */
    httpd_stop(h);
    if (h->retired) {
        MHD_stop_daemon(h->retired);
        h->retired = NULL;
    }
    free(h);
}

atota_httpd_t atota_httpd_posix_iface(atota_httpd_posix_t *h)
{
    atota_httpd_t t = {&httpd_ops, h};
    return t;
}

atota_err_t atota_httpd_posix_parse_listen(const char *spec, char *host, size_t cap, uint16_t *port,
                                           atota_diag_t *diag)
{
    const char *colon;
    if (!spec)
        spec = "";
    if (spec[0] == '[') {
        const char *close_br = strchr(spec, ']');
        if (!close_br || close_br[1] != ':' || (size_t)(close_br - spec - 1) >= cap)
            goto bad;
        memcpy(host, spec + 1, (size_t)(close_br - spec - 1));
        host[close_br - spec - 1] = '\0';
        colon = close_br + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= cap)
            goto bad;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || p < 0 || p > 65535)
        goto bad;
    *port = (uint16_t)p;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host[0] ? host : "127.0.0.1", NULL, &hints, &res);
    if (rc != 0)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "cannot resolve '%s': %s", host,
                              gai_strerror(rc));
    freeaddrinfo(res);
    return ATOTA_OK;
bad:
    return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                          "'%s' is not HOST:PORT (a port from 0 to 65535)", spec);
}

int atota_httpd_posix_pollfds(atota_httpd_posix_t *h, struct pollfd *fds, int max, int *timeout_ms)
{
    h->polled_generation = h->generation;
    if (!h->daemon)
        return 0;
    fd_set rs, ws, es;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_ZERO(&es);
    MHD_socket top = MHD_INVALID_SOCKET;
    if (MHD_get_fdset2(h->daemon, &rs, &ws, &es, &top, FD_SETSIZE) != MHD_YES) {
        /* a descriptor beyond FD_SETSIZE: MHD cannot be polled this turn; come back soon */
        if (*timeout_ms < 0 || *timeout_ms > RETRY_MS)
            *timeout_ms = RETRY_MS;
        return 0;
    }
    /* At the connection limit the listener is left out: a new client waits in the backlog until
     * a connection closes, as with esp_http_server (it polls its listener only while a session
     * is free); MHD itself would accept and close it at once. */
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    bool full = di && di->num_connections >= ATOTA_HTTPD_POSIX_MAX_CONNECTIONS;
    if (full && (*timeout_ms < 0 || *timeout_ms > FULL_RECHECK_MS))
        *timeout_ms = FULL_RECHECK_MS; /* the count drops when MHD cleans up, not on an event */
    int n = 0;
    for (int fd = 0; fd <= (int)top && n < max; fd++) {
        short ev = (short)((FD_ISSET(fd, &rs) ? POLLIN : 0) | (FD_ISSET(fd, &ws) ? POLLOUT : 0));
        if (!ev || (full && fd == h->listen_fd))
            continue;
        fds[n].fd = fd;
        fds[n].events = ev;
        fds[n].revents = 0;
        n++;
    }
    MHD_UNSIGNED_LONG_LONG due;
    if (MHD_get_timeout(h->daemon, &due) == MHD_YES) {
        int ms = due > 60000u ? 60000 : (int)due;
        if (*timeout_ms < 0 || ms < *timeout_ms)
            *timeout_ms = ms;
    }
    return n;
}

void atota_httpd_posix_perform(atota_httpd_posix_t *h, const struct pollfd *fds, int nfds)
{
    if (!h->daemon)
        return;
    /* fds describe the server pollfds saw; a stop (and start) since makes them stale */
    if (h->polled_generation != h->generation)
        fds = NULL;
    fd_set rs, ws, es;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_ZERO(&es);
    for (int i = 0; fds && i < nfds; i++) {
        short re = fds[i].revents;
        if (!re || fds[i].fd < 0 || fds[i].fd >= FD_SETSIZE)
            continue;
        /* an error or a hang-up shows as readable (and writable when MHD was writing): MHD's
         * next recv or send finds out what happened */
        if (re & (POLLIN | POLLHUP | POLLERR))
            FD_SET(fds[i].fd, &rs);
        if ((re & POLLOUT) || ((re & (POLLHUP | POLLERR)) && (fds[i].events & POLLOUT)))
            FD_SET(fds[i].fd, &ws);
    }
    h->running = h->daemon;
    MHD_run_from_select(h->daemon, &rs, &ws, &es);
    h->running = NULL;
    if (h->retired) { /* stopped from inside a callback */
        MHD_stop_daemon(h->retired);
        h->retired = NULL;
    }
}

const char *atota_httpd_posix_url(const atota_httpd_posix_t *h)
{
    return h && h->daemon ? h->url : NULL;
}

bool atota_httpd_posix_busy(const atota_httpd_posix_t *h)
{
    return h && h->daemon;
}
