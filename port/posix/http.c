/*
 * The core's HTTP client on libcurl's multi interface, driven by the host's poll() loop
 * (port/posix/http.h). libcurl tells us its sockets (CURLMOPT_SOCKETFUNCTION) and its next
 * timer (CURLMOPT_TIMERFUNCTION); the host polls them; perform hands the ready ones to
 * curl_multi_socket_action, whose write and header callbacks feed the core's sink. That plumbing
 * is shared with the streams: port/posix/curl_multi.h.
 */
#include "port/posix/http.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "port/posix/connect_to.h"
#include "port/posix/curl_multi.h"

_Static_assert(ATOTA_HTTP_POSIX_MAX_POLLFDS >= ATOTA_CURL_POLL_MAX_SOCKETS,
               "pollfds must have room for every socket libcurl may want polled");

struct atota_http_posix {
    CURLM *multi;
    struct curl_slist *connect_to; /* the virtual network's mappings (CURLOPT_CONNECT_TO) */
    /* the running GET, or NULL */
    CURL *easy;
    struct curl_slist *headers;
    atota_http_sink_t sink;
    void *sink_ctx;
    /* the response being read (redirects and 1xx start over) */
    atota_http_response_t response;
    bool has_length, chunked, has_location, delivered;
    bool final_delimited; /* the final response had Content-Length or chunked */
    atota_err_t sink_err; /* a callback's refusal: on_done reports it */
    bool cancel_pending;  /* cancel() from inside libcurl: finished by perform */
    unsigned in_curl;     /* depth of calls into libcurl that may call back */
    /* the stall timer: armed once a request is on a connection (CURLOPT_PREREQFUNCTION) */
    uint32_t stall_ms;
    bool connected;
    uint64_t last_byte_ms;
    char errbuf[CURL_ERROR_SIZE];
    char msg[CURL_ERROR_SIZE + 128];
    atota_curl_poll_t poll; /* what libcurl wants polled */
};

/* ---- the response --------------------------------------------------------------------------- */

static void response_reset(atota_http_posix_t *h)
{
    memset(&h->response, 0, sizeof h->response);
    h->response.content_length = -1;
    h->response.range_start = -1;
    h->response.total_length = -1;
    h->has_length = h->chunked = h->has_location = false;
}

/* "Name: value\r\n": whether the name is `name`; *value then points at the trimmed value
 * (*len bytes). */
static bool header_is(const char *line, size_t n, const char *name, const char **value, size_t *len)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
        return false;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *len = (size_t)(end - v);
    return true;
}

/* A decimal int64 of exactly len bytes; -1 when it is not one. */
static int64_t parse_i64(const char *s, size_t len)
{
    int64_t v = 0;
    if (len == 0 || len > 18)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static void set_validator(atota_http_posix_t *h, const char *v, size_t len)
{
    /* A validator too long to keep whole is no validator (a cut one would never match). */
    if (len >= sizeof h->response.validator)
        return;
    memcpy(h->response.validator, v, len);
    h->response.validator[len] = '\0';
}

/* One header line of a response. */
static void parse_header(atota_http_posix_t *h, const char *line, size_t n)
{
    const char *v;
    size_t len;
    if (header_is(line, n, "Content-Length", &v, &len)) {
        int64_t cl = parse_i64(v, len);
        h->has_length = cl >= 0;
        h->response.content_length = cl;
    } else if (header_is(line, n, "Transfer-Encoding", &v, &len)) {
        for (size_t i = 0; i + 7 <= len; i++)
            if (!strncasecmp(v + i, "chunked", 7))
                h->chunked = true;
    } else if (header_is(line, n, "Content-Range", &v, &len)) {
        /* "bytes FIRST-LAST/TOTAL", TOTAL may be "*" (RFC 9110 §14.4) */
        if (len > 6 && !strncasecmp(v, "bytes ", 6)) {
            const char *p = v + 6, *end = v + len;
            const char *dash = memchr(p, '-', (size_t)(end - p));
            const char *slash = memchr(p, '/', (size_t)(end - p));
            if (dash && slash && dash < slash) {
                h->response.range_start = parse_i64(p, (size_t)(dash - p));
                h->response.total_length = parse_i64(slash + 1, (size_t)(end - slash - 1));
            }
        }
    } else if (header_is(line, n, "ETag", &v, &len)) {
        /* a weak ETag (W/"...") cannot be used with If-Range (RFC 9110 §13.1.5) */
        if (len >= 2 && v[0] == '"')
            set_validator(h, v, len);
    } else if (header_is(line, n, "Last-Modified", &v, &len)) {
        if (h->response.validator[0] != '"')
            set_validator(h, v, len);
    } else if (header_is(line, n, "Location", &v, &len)) {
        h->has_location = len > 0;
    }
}

static bool is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* The headers of the final response are complete: the sink gets them, once. */
static bool deliver_headers(atota_http_posix_t *h)
{
    if (h->delivered)
        return true;
    h->delivered = true;
    long status = 0;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
    h->response.status = (int)status;
    if (h->chunked)
        h->response.content_length = -1;
    if (status != 206) {
        h->response.range_start = -1;
        h->response.total_length = -1;
    }
    h->final_delimited = h->chunked || h->has_length;
    atota_err_t err = h->sink.on_headers(h->sink_ctx, &h->response);
    if (err) {
        h->sink_err = err;
        return false;
    }
    return true;
}

/* A connection is ready (new or reused) and the request goes out: the stall timer starts. */
static int on_prereq(void *userp, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    atota_http_posix_t *h = userp;
    h->connected = true;
    h->last_byte_ms = atota_curl_mono_ms();
    return CURL_PREREQFUNC_OK;
}

static size_t on_header_line(char *data, size_t size, size_t nitems, void *userp)
{
    atota_http_posix_t *h = userp;
    size_t n = size * nitems;
    h->last_byte_ms = atota_curl_mono_ms();
    if (h->sink_err || h->cancel_pending)
        return 0;
    if (n >= 5 && !memcmp(data, "HTTP/", 5)) {
        response_reset(h); /* a new response: after a redirect or a 1xx */
        return n;
    }
    if (n <= 2 && (n == 0 || data[0] == '\r' || data[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200)
            return n; /* 1xx: the real answer follows */
        if (is_redirect((int)status) && h->has_location)
            return n; /* libcurl follows it (or fails: too many redirects) */
        if (!deliver_headers(h) || h->cancel_pending)
            return 0;
        return n;
    }
    parse_header(h, data, n);
    return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    atota_http_posix_t *h = userp;
    size_t n = size * nmemb;
    h->last_byte_ms = atota_curl_mono_ms();
    if (h->sink_err || h->cancel_pending)
        return 0;
    if (!h->delivered && !deliver_headers(h))
        return 0;
    if (n == 0)
        return 0;
    atota_err_t err = h->sink.on_body(h->sink_ctx, (const uint8_t *)data, n);
    if (err) {
        h->sink_err = err;
        return 0;
    }
    return h->cancel_pending ? 0 : n;
}

/* ---- starting and ending a transfer --------------------------------------------------------- */

/* Detaches the running GET, then calls on_done (which may start the next GET). */
static void end_transfer(atota_http_posix_t *h, atota_err_t err, const char *msg)
{
    atota_http_sink_t sink = h->sink;
    void *ctx = h->sink_ctx;
    if (msg != h->msg)
        snprintf(h->msg, sizeof h->msg, "%s", msg);
    curl_multi_remove_handle(h->multi, h->easy);
    curl_easy_cleanup(h->easy);
    curl_slist_free_all(h->headers);
    h->easy = NULL;
    h->headers = NULL;
    h->cancel_pending = false;
    h->sink_err = ATOTA_OK;
    if (sink.on_done)
        sink.on_done(ctx, err, h->msg);
}

/* What libcurl's result means for the core (core/net/http.h). */
static atota_err_t map_result(CURLcode rc)
{
    if (atota_curl_is_tls_result(rc))
        return ATOTA_ERR_NET_TLS;
    switch (rc) {
    case CURLE_OK:
        return ATOTA_OK;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        return ATOTA_ERR_NET_RESET;
    case CURLE_OPERATION_TIMEDOUT:
        return ATOTA_ERR_NET_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return ATOTA_ERR_NET_CONNECT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return ATOTA_ERR_NET_URL;
    default:
        return ATOTA_ERR_NET_PROTOCOL;
    }
}

/* The running GET finished inside libcurl with rc. */
static void finish_transfer(atota_http_posix_t *h, CURLcode rc)
{
    const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);
    if (h->sink_err) {
        snprintf(h->msg, sizeof h->msg, "%s", atota_strerror(h->sink_err));
        end_transfer(h, h->sink_err, h->msg);
        return;
    }
    if (rc == CURLE_OK) {
        if (!h->delivered && !deliver_headers(h)) {
            end_transfer(h, h->sink_err, atota_strerror(h->sink_err));
            return;
        }
        long status = h->response.status;
        if (status >= 200 && status < 300 && !h->final_delimited) {
            /* esp-at-ota.md §2.3: the body must be delimited, else its end is unknown */
            end_transfer(h, ATOTA_ERR_NET_PROTOCOL,
                         "HTTP response body delimited by neither Content-Length nor chunked "
                         "encoding");
            return;
        }
        end_transfer(h, ATOTA_OK, "complete");
        return;
    }
    atota_err_t err = map_result(rc);
    snprintf(h->msg, sizeof h->msg, "%s (curl: %s)", atota_strerror(err), why);
    end_transfer(h, err, h->msg);
}

/* Collects finished transfers (and a cancel asked for from inside libcurl). */
static void collect(atota_http_posix_t *h)
{
    if (h->easy && h->cancel_pending) {
        end_transfer(h, ATOTA_ERR_STATE, "transfer cancelled");
        return;
    }
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg == CURLMSG_DONE && h->easy && m->easy_handle == h->easy) {
            finish_transfer(h, m->data.result);
            return; /* on_done may have started the next GET: its messages come later */
        }
    }
}

/* "Name: value" on one line: a token, a colon, no CR or LF anywhere (RFC 9110 §5.1). */
static bool header_usable(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line || strpbrk(line, "\r\n"))
        return false;
    for (const char *p = line; p < colon; p++)
        if (*p <= ' ' || *p >= 127 || strchr("\"(),/;<=>?@[\\]{}", *p))
            return false;
    return true;
}

/* The request's headers for libcurl: If-Range, then the caller's (each replaces libcurl's own
 * header of that name, CURLOPT_HTTPHEADER). NULL with *err set when one is refused. */
static struct curl_slist *request_headers(const atota_http_request_t *rq, atota_err_t *err)
{
    struct curl_slist *headers = NULL, *l;
    *err = ATOTA_OK;
    if (rq->range_from > 0 && rq->if_range && rq->if_range[0]) {
        char line[sizeof "If-Range: " + ATOTA_HTTP_VALIDATOR_MAX];
        snprintf(line, sizeof line, "If-Range: %s", rq->if_range);
        if (!(headers = curl_slist_append(NULL, line))) {
            *err = ATOTA_ERR_NO_MEM;
            return NULL;
        }
    }
    for (size_t i = 0; rq->headers && rq->headers[i]; i++) {
        if (!header_usable(rq->headers[i])) {
            *err = ATOTA_ERR_INVALID_ARG;
            break;
        }
        if (!(l = curl_slist_append(headers, rq->headers[i]))) {
            *err = ATOTA_ERR_NO_MEM;
            break;
        }
        headers = l;
    }
    if (*err) {
        curl_slist_free_all(headers);
        return NULL;
    }
    return headers;
}

/* A URL libcurl can use, over http or https only. */
static bool url_usable(const char *url)
{
    if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
        return false;
    CURLU *u = curl_url();
    if (!u)
        return false;
    char *host = NULL;
    bool ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && host[0];
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static atota_err_t http_get(void *ctx, const atota_http_request_t *rq,
                            const atota_http_sink_t *sink, void *sink_ctx)
{
    atota_http_posix_t *h = ctx;
    if (!rq || !rq->url || !sink || !sink->on_headers || !sink->on_body || !sink->on_done)
        return ATOTA_ERR_INVALID_ARG;
    if (h->easy)
        return ATOTA_ERR_STATE;
    if (!url_usable(rq->url))
        return ATOTA_ERR_NET_URL;
    atota_err_t herr;
    struct curl_slist *headers = request_headers(rq, &herr);
    if (herr)
        return herr;
    CURL *e = curl_easy_init();
    if (!e) {
        curl_slist_free_all(headers);
        return ATOTA_ERR_NO_MEM;
    }
    h->errbuf[0] = '\0';
    bool ok = true;
#define SET(opt, val) ok = ok && curl_easy_setopt(e, opt, val) == CURLE_OK
    SET(CURLOPT_URL, rq->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, (long)ATOTA_HTTP_POSIX_MAX_REDIRS);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_USERAGENT, ATOTA_HTTP_POSIX_USER_AGENT);
    SET(CURLOPT_PROXY, ""); /* a module has no proxy, whatever the environment says */
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L); /* esp-at-ota.md §2.3: keep_alive_enable */
    SET(CURLOPT_ERRORBUFFER, h->errbuf);
    SET(CURLOPT_HEADERFUNCTION, on_header_line);
    SET(CURLOPT_HEADERDATA, h);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, h);
    if (rq->connect_timeout_ms)
        SET(CURLOPT_CONNECTTIMEOUT_MS, (long)rq->connect_timeout_ms);
    /* The stall timer is ours (perform): curl's low-speed check averages over seconds. */
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_PREREQDATA, h);
    if (rq->ca_file) {
        SET(CURLOPT_CAINFO, rq->ca_file);
        SET(CURLOPT_CAPATH, (char *)NULL); /* this CA only, not the system's */
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
    } else {
        /* esp-at-ota.md §2.3: CONFIG_ESP_TLS_SKIP_SERVER_CERT_VERIFY */
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (rq->range_from > 0) {
        char range[32];
        snprintf(range, sizeof range, "%" PRIu64 "-", rq->range_from);
        SET(CURLOPT_RANGE, range); /* "Range: bytes=N-" */
    }
    if (headers)
        SET(CURLOPT_HTTPHEADER, headers);
    if (h->connect_to)
        SET(CURLOPT_CONNECT_TO, h->connect_to);
#undef SET
    if (!ok) {
        curl_slist_free_all(headers);
        curl_easy_cleanup(e);
        return ATOTA_ERR_NET_URL; /* a setting this libcurl refuses: the URL cannot be fetched */
    }
    h->easy = e;
    h->headers = headers;
    h->sink = *sink;
    h->sink_ctx = sink_ctx;
    h->sink_err = ATOTA_OK;
    h->cancel_pending = false;
    h->delivered = false;
    h->final_delimited = false;
    h->stall_ms = rq->stall_timeout_ms;
    h->connected = false;
    response_reset(h);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        h->easy = NULL;
        h->headers = NULL;
        curl_slist_free_all(headers);
        curl_easy_cleanup(e);
        return ATOTA_ERR_NO_MEM;
    }
    return ATOTA_OK;
}

static void http_cancel(void *ctx)
{
    atota_http_posix_t *h = ctx;
    if (!h->easy)
        return;
    if (h->in_curl) {
        /* libcurl is calling us: its callbacks refuse from now on, perform ends the GET */
        h->cancel_pending = true;
        return;
    }
    end_transfer(h, ATOTA_ERR_STATE, "transfer cancelled");
}

static const atota_http_ops_t http_ops = {http_get, http_cancel};

/* ---- public --------------------------------------------------------------------------------- */

atota_http_posix_t *atota_http_posix_new(void)
{
    if (!atota_curl_global_acquire())
        return NULL;
    atota_http_posix_t *h = calloc(1, sizeof *h);
    if (h && (h->multi = curl_multi_init()) != NULL) {
        atota_curl_poll_install(&h->poll, h->multi);
        return h;
    }
    free(h);
    atota_curl_global_release();
    return NULL;
}

void atota_http_posix_free(atota_http_posix_t *h)
{
    if (!h)
        return;
    if (h->easy) {
        curl_multi_remove_handle(h->multi, h->easy);
        curl_easy_cleanup(h->easy);
        curl_slist_free_all(h->headers);
    }
    curl_multi_cleanup(h->multi);
    curl_slist_free_all(h->connect_to);
    free(h);
    atota_curl_global_release();
}

atota_http_t atota_http_posix_iface(atota_http_posix_t *h)
{
    atota_http_t t = {&http_ops, h};
    return t;
}

atota_err_t atota_http_posix_connect_to(atota_http_posix_t *h, const char *spec, atota_diag_t *diag)
{
    return atota_connect_to_append(&h->connect_to, spec, diag);
}

int atota_http_posix_pollfds(atota_http_posix_t *h, struct pollfd *fds, int max, int *timeout_ms)
{
    int n = atota_curl_poll_fds(&h->poll, fds, max);
    int due = h->easy && h->cancel_pending ? 0 : atota_curl_poll_due(&h->poll);
    if (h->easy && h->connected && h->stall_ms) {
        uint64_t now = atota_curl_mono_ms(), at = h->last_byte_ms + h->stall_ms;
        int wait = at > now ? (int)(at - now) : 0;
        if (due < 0 || wait < due)
            due = wait;
    }
    atota_curl_lower_timeout(timeout_ms, due);
    return n;
}

void atota_http_posix_perform(atota_http_posix_t *h, const struct pollfd *fds, int nfds)
{
    h->in_curl++; /* libcurl may call back: cancel() then only marks the GET */
    atota_curl_poll_perform(&h->poll, h->multi, fds, nfds);
    h->in_curl--;
    collect(h);
    if (h->easy && h->connected && h->stall_ms && !h->cancel_pending &&
        atota_curl_mono_ms() - h->last_byte_ms >= h->stall_ms) {
        snprintf(h->msg, sizeof h->msg, "%s (no byte from the server for %u ms)",
                 atota_strerror(ATOTA_ERR_NET_TIMEOUT), (unsigned)h->stall_ms);
        end_transfer(h, ATOTA_ERR_NET_TIMEOUT, h->msg);
    }
}

bool atota_http_posix_busy(const atota_http_posix_t *h)
{
    return h && h->easy;
}
