/*
 * The core's TCP/TLS streams on libcurl (port/posix/stream.h). Connecting is a libcurl transfer
 * with CURLOPT_CONNECT_ONLY on the multi interface, driven like the HTTP client's
 * (port/posix/http.c, port/posix/curl_multi.h): libcurl tells us its sockets and its next timer,
 * the host polls them, perform hands the ready ones to curl_multi_socket_action. Once that transfer
 * is done the connection is up, and it stays in the multi handle: libcurl finds it there for
 * curl_easy_send and curl_easy_recv (removing the handle closes it). From then on we poll its
 * socket (CURLINFO_ACTIVESOCKET) ourselves.
 *
 * Every sink call happens in perform, outside libcurl, so a callback may close the stream or
 * start the next connection: a generation number, changed whenever a connection starts or ends,
 * tells the code that made the call whether the connection it was serving is still the one open.
 */
#include "port/posix/stream.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "port/posix/connect_to.h"
#include "port/posix/curl_multi.h"

/* Reads per perform before the host's loop gets its turn back (the rest comes on the next). */
#define READS_PER_PERFORM 64u
#define HOST_MAX          253u

typedef enum {
    STREAM_IDLE = 0,
    STREAM_CONNECTING, /* libcurl resolves, connects, shakes hands */
    STREAM_OPEN,       /* the bytes are ours */
} stream_state_t;

_Static_assert(ATOTA_STREAM_POSIX_MAX_POLLFDS >= ATOTA_CURL_POLL_MAX_SOCKETS,
               "pollfds must have room for every socket libcurl may want polled");

struct atota_stream_posix {
    CURLM *multi;
    struct curl_slist *connect_to; /* the virtual network's mappings (CURLOPT_CONNECT_TO) */
    /* the connection */
    stream_state_t state;
    unsigned generation; /* changes when a connection starts or ends */
    CURL *easy;
    curl_socket_t fd; /* open: the connection's socket */
    atota_stream_sink_t sink;
    void *sink_ctx;
    uint32_t read_max;
    bool io_pending;        /* open: read and write without waiting for poll (just connected, or a
                               burst of reads cut short) */
    atota_curl_poll_t poll; /* what libcurl wants polled while connecting */
    unsigned polled_generation; /* the connection the last pollfds described */
    /* The send queue: a ring, so bytes never move once handed to libcurl. A TLS write refused
     * with CURLE_AGAIN (OpenSSL's WANT_WRITE) must be retried from the same buffer, with at
     * least as many bytes; the ring's first contiguous piece only grows while it waits. */
    uint8_t *queue;
    size_t queue_head, queue_used;
    uint8_t *read_buf; /* one read: ATOTA_STREAM_READ_MAX bytes */
    char errbuf[CURL_ERROR_SIZE];
    char msg[CURL_ERROR_SIZE + 160];
};

/* ---- errors --------------------------------------------------------------------------------- */

/* Why a connect failed, for the core (core/net/stream.h: on_connected). */
static atota_err_t map_connect_result(CURLcode rc)
{
    if (atota_curl_is_tls_result(rc))
        return ATOTA_ERR_NET_TLS;
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return ATOTA_ERR_NET_DNS;
    case CURLE_OPERATION_TIMEDOUT:
        return ATOTA_ERR_NET_TIMEOUT;
    default:
        return ATOTA_ERR_NET_CONNECT; /* refused, unreachable, or anything else on the way */
    }
}

/* ---- ending a connection -------------------------------------------------------------------- */

/* Closes the connection, if any, without a callback. */
static void drop_connection(atota_stream_posix_t *s)
{
    if (s->easy) {
        /* For a CONNECT_ONLY handle, removing it from the multi closes its connection. */
        curl_multi_remove_handle(s->multi, s->easy);
        curl_easy_cleanup(s->easy);
        s->easy = NULL;
    }
    s->state = STREAM_IDLE;
    s->fd = CURL_SOCKET_BAD;
    s->queue_head = s->queue_used = 0;
    s->io_pending = false;
    s->generation++;
}

/* Ends the connection, then tells the sink (which may start the next one). */
static void end_connection(atota_stream_posix_t *s, bool connecting, atota_err_t err,
                           const char *msg)
{
    atota_stream_sink_t sink = s->sink;
    void *ctx = s->sink_ctx;
    if (msg != s->msg)
        snprintf(s->msg, sizeof s->msg, "%s", msg);
    drop_connection(s);
    if (connecting)
        sink.on_connected(ctx, err, s->msg);
    else
        sink.on_closed(ctx, err, s->msg);
}

/* A send or a receive failed with rc: the connection ends with NET_RESET or NET_TLS. */
static void io_failed(atota_stream_posix_t *s, CURLcode rc, const char *what)
{
    atota_err_t err = atota_curl_is_tls_result(rc) ? ATOTA_ERR_NET_TLS : ATOTA_ERR_NET_RESET;
    snprintf(s->msg, sizeof s->msg, "%s (%s: %s)",
             err == ATOTA_ERR_NET_TLS ? atota_strerror(err) : "the connection failed", what,
             s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
    end_connection(s, false, err, s->msg);
}

/* ---- connecting ----------------------------------------------------------------------------- */

/* The connect transfer finished: the connection is up, or failed. */
static void collect(atota_stream_posix_t *s)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE || s->state != STREAM_CONNECTING || m->easy_handle != s->easy)
            continue;
        CURLcode rc = m->data.result;
        if (rc != CURLE_OK) {
            atota_err_t err = map_connect_result(rc);
            snprintf(s->msg, sizeof s->msg, "%s (curl: %s)", atota_strerror(err),
                     s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
            end_connection(s, true, err, s->msg);
            return;
        }
        curl_socket_t fd = CURL_SOCKET_BAD;
        if (curl_easy_getinfo(s->easy, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
            fd == CURL_SOCKET_BAD) {
            end_connection(s, true, ATOTA_ERR_NET_CONNECT,
                           "cannot connect to the server (libcurl connected but gave no socket)");
            return;
        }
        s->state = STREAM_OPEN;
        s->fd = fd;
        s->io_pending = true; /* what on_connected queues goes out in this perform */
        s->sink.on_connected(s->sink_ctx, ATOTA_OK, "connected");
        return;
    }
}

/* ---- the open connection -------------------------------------------------------------------- */

/* Writes what is queued until the socket refuses more. false: the connection ended. */
static bool flush_queue(atota_stream_posix_t *s)
{
    while (s->queue_used) {
        size_t piece = ATOTA_STREAM_POSIX_QUEUE_MAX - s->queue_head;
        if (piece > s->queue_used)
            piece = s->queue_used;
        size_t n = 0;
        s->errbuf[0] = '\0';
        CURLcode rc = curl_easy_send(s->easy, s->queue + s->queue_head, piece, &n);
        if (rc == CURLE_AGAIN)
            return true;
        if (rc != CURLE_OK) {
            io_failed(s, rc, "send");
            return false;
        }
        if (n == 0)
            return true;
        s->queue_head = (s->queue_head + n) % ATOTA_STREAM_POSIX_QUEUE_MAX;
        s->queue_used -= n;
    }
    s->queue_head = 0; /* empty: nothing waits for a retry, the next bytes start the buffer */
    return true;
}

/* Sends what is queued, then reads: one on_data per read of at most read_max bytes. */
static void exchange(atota_stream_posix_t *s)
{
    unsigned gen = s->generation;
    s->io_pending = false;
    if (!flush_queue(s))
        return;
    for (unsigned i = 0;; i++) {
        if (i == READS_PER_PERFORM) {
            s->io_pending = true; /* more may be buffered (TLS): no poll event would say so */
            break;
        }
        size_t n = 0;
        s->errbuf[0] = '\0';
        CURLcode rc = curl_easy_recv(s->easy, s->read_buf, s->read_max, &n);
        if (rc == CURLE_AGAIN)
            break;
        if (rc != CURLE_OK) {
            io_failed(s, rc, "receive");
            return;
        }
        if (n == 0) {
            end_connection(s, false, ATOTA_OK, "the server closed the connection");
            return;
        }
        s->sink.on_data(s->sink_ctx, s->read_buf, n);
        if (s->generation != gen)
            return; /* the sink closed this connection (and may have started another) */
    }
    if (s->queue_used)
        flush_queue(s); /* what the sink answered */
}

/* ---- the core's interface ------------------------------------------------------------------- */

/* A host the URL can carry as it is: a name, an IPv4 address, or an IPv6 address (bracketed in
 * the URL). */
static bool host_usable(const char *host)
{
    size_t n = strlen(host);
    if (n == 0 || n > HOST_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && c != '-' && c != '.' && c != '_' && c != ':')
            return false;
    }
    return true;
}

static atota_err_t stream_connect(void *ctx, const atota_stream_connect_t *c,
                                  const atota_stream_sink_t *sink, void *sink_ctx)
{
    atota_stream_posix_t *s = ctx;
    if (!c || !sink || !sink->on_connected || !sink->on_data || !sink->on_closed)
        return ATOTA_ERR_INVALID_ARG;
    if (s->state != STREAM_IDLE)
        return ATOTA_ERR_STATE;
    if (!c->host || !host_usable(c->host) || c->port == 0 || c->read_max == 0 ||
        c->read_max > ATOTA_STREAM_READ_MAX)
        return ATOTA_ERR_INVALID_ARG;
    /* The scheme only picks TLS or not: with CONNECT_ONLY libcurl sends nothing of its own. */
    char url[HOST_MAX + 32];
    bool v6 = strchr(c->host, ':') != NULL;
    snprintf(url, sizeof url, "%s://%s%s%s:%u/", c->tls ? "https" : "http", v6 ? "[" : "", c->host,
             v6 ? "]" : "", (unsigned)c->port);
    CURLU *u = curl_url();
    if (!u)
        return ATOTA_ERR_NO_MEM;
    bool parsed = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK;
    curl_url_cleanup(u);
    if (!parsed)
        return ATOTA_ERR_INVALID_ARG;
    CURL *e = curl_easy_init();
    if (!e)
        return ATOTA_ERR_NO_MEM;
    s->errbuf[0] = '\0';
    uint32_t timeout =
        c->connect_timeout_ms ? c->connect_timeout_ms : ATOTA_STREAM_POSIX_CONNECT_TIMEOUT_MS;
    bool ok = true;
#define SET(opt, val) ok = ok && curl_easy_setopt(e, opt, val) == CURLE_OK
    SET(CURLOPT_URL, url);
    SET(CURLOPT_CONNECT_ONLY, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_PROXY, ""); /* a module has no proxy, whatever the environment says */
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, s->errbuf);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
    /* close() during a name lookup: libcurl's threaded resolver would otherwise join its thread
     * (block until getaddrinfo returns); with QUICK_EXIT it detaches it and the thread frees its
     * own data when the lookup ends. */
    SET(CURLOPT_QUICK_EXIT, 1L);
    if (s->connect_to)
        SET(CURLOPT_CONNECT_TO, s->connect_to);
    if (c->tls) {
        /* esp-at-ota.md §3.3: esp_tls with a zeroed config offers no ALPN; offering h2 would let
         * a server switch away from the HTTP/1.1 bytes the core writes. */
        SET(CURLOPT_SSL_ENABLE_ALPN, 0L);
        if (c->ca_file) {
            SET(CURLOPT_CAINFO, c->ca_file);
            SET(CURLOPT_CAPATH, (char *)NULL); /* this CA only, not the system's */
            SET(CURLOPT_SSL_VERIFYPEER, 1L);
            SET(CURLOPT_SSL_VERIFYHOST, 2L);
        } else {
            SET(CURLOPT_SSL_VERIFYPEER, 0L);
            SET(CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
#undef SET
    if (!ok || curl_multi_add_handle(s->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return ok ? ATOTA_ERR_NO_MEM : ATOTA_ERR_INVALID_ARG;
    }
    s->easy = e;
    s->state = STREAM_CONNECTING;
    s->generation++;
    s->fd = CURL_SOCKET_BAD;
    s->sink = *sink;
    s->sink_ctx = sink_ctx;
    s->read_max = c->read_max;
    s->queue_head = s->queue_used = 0;
    s->io_pending = false;
    return ATOTA_OK;
}

static atota_err_t stream_send(void *ctx, const void *data, size_t len)
{
    atota_stream_posix_t *s = ctx;
    if (s->state != STREAM_OPEN)
        return ATOTA_ERR_STATE;
    if (len == 0)
        return ATOTA_OK;
    if (!data)
        return ATOTA_ERR_INVALID_ARG;
    if (len > ATOTA_STREAM_POSIX_QUEUE_MAX - s->queue_used)
        return ATOTA_ERR_NO_MEM;
    size_t tail = (s->queue_head + s->queue_used) % ATOTA_STREAM_POSIX_QUEUE_MAX;
    size_t first = ATOTA_STREAM_POSIX_QUEUE_MAX - tail;
    if (first > len)
        first = len;
    memcpy(s->queue + tail, data, first);
    memcpy(s->queue, (const uint8_t *)data + first, len - first);
    s->queue_used += len;
    return ATOTA_OK;
}

static void stream_close(void *ctx)
{
    atota_stream_posix_t *s = ctx;
    if (s->state != STREAM_IDLE)
        drop_connection(s);
}

static const atota_stream_ops_t stream_ops = {stream_connect, stream_send, stream_close};

/* ---- public --------------------------------------------------------------------------------- */

atota_stream_posix_t *atota_stream_posix_new(void)
{
    if (!atota_curl_global_acquire())
        return NULL;
    atota_stream_posix_t *s = calloc(1, sizeof *s);
    if (s && (s->queue = malloc(ATOTA_STREAM_POSIX_QUEUE_MAX)) != NULL &&
        (s->read_buf = malloc(ATOTA_STREAM_READ_MAX)) != NULL &&
        (s->multi = curl_multi_init()) != NULL) {
        atota_curl_poll_install(&s->poll, s->multi);
        s->fd = CURL_SOCKET_BAD;
        return s;
    }
    if (s) {
        free(s->queue);
        free(s->read_buf);
        free(s);
    }
    atota_curl_global_release();
    return NULL;
}

void atota_stream_posix_free(atota_stream_posix_t *s)
{
    if (!s)
        return;
    drop_connection(s);
    curl_multi_cleanup(s->multi);
    curl_slist_free_all(s->connect_to);
    free(s->queue);
    free(s->read_buf);
    free(s);
    atota_curl_global_release();
}

atota_stream_t atota_stream_posix_iface(atota_stream_posix_t *s)
{
    atota_stream_t t = {&stream_ops, s};
    return t;
}

atota_err_t atota_stream_posix_connect_to(atota_stream_posix_t *s, const char *spec,
                                          atota_diag_t *diag)
{
    return atota_connect_to_append(&s->connect_to, spec, diag);
}

int atota_stream_posix_pollfds(atota_stream_posix_t *s, struct pollfd *fds, int max,
                               int *timeout_ms)
{
    int n = 0;
    s->polled_generation = s->generation;
    if (s->state == STREAM_CONNECTING)
        n = atota_curl_poll_fds(&s->poll, fds, max);
    else if (s->state == STREAM_OPEN && max > 0) {
        fds[0].fd = s->fd;
        fds[0].events = (short)(POLLIN | (s->queue_used ? POLLOUT : 0));
        fds[0].revents = 0;
        n = 1;
    }
    int due = s->state == STREAM_OPEN && s->io_pending ? 0 : atota_curl_poll_due(&s->poll);
    atota_curl_lower_timeout(timeout_ms, due);
    return n;
}

void atota_stream_posix_perform(atota_stream_posix_t *s, const struct pollfd *fds, int nfds)
{
    /* fds describe the connection pollfds saw; a callback or the host may have closed it (and
     * opened another, perhaps on the same descriptor number) since: its events are stale. */
    if (s->polled_generation != s->generation)
        fds = NULL;
    /* libcurl's sockets only while connecting; its timer always */
    atota_curl_poll_perform(&s->poll, s->multi, s->state == STREAM_CONNECTING ? fds : NULL, nfds);
    if (s->state == STREAM_CONNECTING)
        collect(s);
    if (s->state != STREAM_OPEN)
        return;
    bool ready = s->io_pending;
    for (int i = 0; fds && i < nfds && !ready; i++)
        ready = fds[i].fd == s->fd && fds[i].revents != 0;
    if (ready)
        exchange(s);
}

bool atota_stream_posix_busy(const atota_stream_posix_t *s)
{
    return s && s->state != STREAM_IDLE;
}
