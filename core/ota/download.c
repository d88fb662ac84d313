/*
 * An app image downloaded over HTTP(S) into the OTA writer (download.h; docs/userota.md): one GET
 * streamed into atota_ota_writer_write, finished by atota_ota_writer_finish. Where ESP-AT fails at
 * the first dropped connection (esp-at-ota.md §2.3: "No resume / Range support"), this resumes
 * with "Range: bytes=<written>-" and "If-Range: <validator>" (RFC 9110 §14.2, §13.1.5), the way
 * esp_https_ota's ota_resumption does (esp-idf-formats.md §11): a 416 restarts from zero, and so
 * does a 200 (the server ignored the Range or the image changed under the validator).
 *
 * Every request's sink callbacks arrive from the host's loop; state lives in the struct the
 * caller owns. done is called exactly once, by finish(); every path that ends the download goes
 * through it, and every failure aborts the writer, so otadata is never switched to a partial
 * image and the running firmware stays the one that boots.
 */
#include "core/ota/download.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PROGRESS_STEP_BYTES (64u * 1024u) /* a progress line per 64 KB without a known length */
#define PROGRESS_STEP_PCT   10u           /* ... or per 10 % with one */

static atota_err_t on_headers(void *ctx, const atota_http_response_t *response);
static atota_err_t on_body(void *ctx, const uint8_t *data, size_t len);
static void on_done(void *ctx, atota_err_t err, const char *msg);

static const atota_http_sink_t sink = {on_headers, on_body, on_done};

static uint64_t now(const atota_download_t *d)
{
    return d->now_ms ? d->now_ms(d->now_ctx) : 0;
}

static void log_line(atota_download_t *d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void log_line(atota_download_t *d, const char *fmt, ...)
{
    if (!d->log)
        return;
    char line[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    d->log(d->cb_ctx, line);
}

/* Ends the download with err (d->diag holds the message when err is not OK): the request still
 * running is cancelled (its on_done is then ignored), a failed update is abandoned, and done is
 * called, once. */
static void finish(atota_download_t *d, atota_err_t err)
{
    if (d->finished)
        return;
    d->finished = true;
    d->running = false;
    d->retry_at_ms = 0;
    d->last_err = err;
    if (d->in_request && d->http.ops && d->http.ops->cancel)
        d->http.ops->cancel(d->http.ctx);
    if (err)
        atota_ota_writer_abort(&d->writer);
    const char *msg = err ? atota_diag_text(&d->diag, err) : "image verified, boot slot switched";
    if (d->done)
        d->done(d->cb_ctx, err, msg);
}

static void fail(atota_download_t *d, atota_err_t err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void fail(atota_download_t *d, atota_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->diag.msg, sizeof d->diag.msg, fmt, ap);
    va_end(ap);
    finish(d, err);
}

/* The writer forgets what it received and opens the slot again: the next body starts at byte
 * 0. The slot's partial contents are overwritten (the writer erases ahead of its data). */
static atota_err_t restart_writer(atota_download_t *d)
{
    atota_ota_writer_abort(&d->writer);
    d->stats.bytes = 0;
    atota_diag_t wd;
    atota_diag_clear(&wd);
    atota_err_t err = atota_ota_writer_begin(&d->writer, &d->writer_opts, &wd);
    if (err)
        atota_diag_set(&d->diag, err, "restarting the update: %s", atota_diag_text(&wd, err));
    return err;
}

/* Issues the next GET: from zero for the first one, else from the bytes written with If-Range;
 * without a validator a resume would risk splicing two different images, so it starts over. */
static atota_err_t issue_request(atota_download_t *d)
{
    if (d->stats.bytes > 0 && d->validator[0] == '\0') {
        log_line(d, "no validator (ETag or Last-Modified) to resume with: restarting from zero");
        d->stats.restarts++;
        atota_err_t err = restart_writer(d);
        if (err)
            return err;
    }
    atota_http_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.url = d->url;
    rq.range_from = d->stats.bytes;
    rq.if_range = d->stats.bytes > 0 ? d->validator : NULL;
    rq.ca_file = d->policy.ca_file;
    rq.connect_timeout_ms = d->policy.stall_timeout_ms;
    rq.stall_timeout_ms = d->policy.stall_timeout_ms;
    d->last_err = ATOTA_OK;
    d->in_request = true;
    d->stats.requests++;
    if (rq.range_from > 0)
        d->stats.range_requests++;
    atota_err_t err = d->http.ops->get(d->http.ctx, &rq, &sink, d);
    if (err) {
        d->in_request = false;
        return atota_diag_set(&d->diag, err, "%s: cannot start the request: %s", d->url,
                              atota_strerror(err));
    }
    return ATOTA_OK;
}

/* Whether the URL is one the download takes: http:// or https:// (any case, as URL schemes are,
 * RFC 3986 §3.1), a host, and no byte a request line cannot carry (controls, space, DEL). */
static bool url_ok(const char *url, size_t len, atota_diag_t *diag)
{
    size_t scheme = 0;
    if (len >= 7 && !strncmp(url, "http://", 7))
        scheme = 7;
    else if (len >= 8 && !strncmp(url, "https://", 8))
        scheme = 8;
    else {
        char lower[9];
        size_t n = len < 8 ? len : 8;
        for (size_t i = 0; i < n; i++)
            lower[i] = (char)(url[i] >= 'A' && url[i] <= 'Z' ? url[i] + 32 : url[i]);
        lower[n] = '\0';
        if (n >= 7 && !strncmp(lower, "http://", 7))
            scheme = 7;
        else if (n == 8 && !strncmp(lower, "https://", 8))
            scheme = 8;
    }
    if (!scheme) {
        atota_diag_set(diag, ATOTA_ERR_NET_URL, "URL must start with http:// or https://");
        return false;
    }
    if (scheme == len || url[scheme] == '/' || url[scheme] == '?' || url[scheme] == '#') {
        atota_diag_set(diag, ATOTA_ERR_NET_URL, "URL has no host");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch == 0x7F) {
            atota_diag_set(diag, ATOTA_ERR_NET_URL,
                           "URL byte %zu is 0x%02x: a URL has no spaces or control characters",
                           i + 1, ch);
            return false;
        }
    }
    return true;
}

atota_err_t atota_download_start(atota_download_t *d, const atota_http_t *http,
                                 const atota_download_policy_t *policy,
                                 const atota_ota_writer_opts_t *writer_opts, const char *url,
                                 uint64_t (*now_ms)(void *), void *now_ctx,
                                 atota_download_done_fn done, atota_download_log_fn log, void *ctx,
                                 atota_diag_t *diag)
{
    if (!d || !http || !http->ops || !http->ops->get || !policy || !writer_opts || !url || !done)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "download: missing argument");
    if (d->running || d->in_request)
        return atota_diag_set(diag, ATOTA_ERR_OTA_IN_PROGRESS,
                              "a download is already running (%llu bytes written)",
                              (unsigned long long)d->stats.bytes);
    size_t len = 0;
    while (len <= ATOTA_DOWNLOAD_URL_MAX && url[len])
        len++;
    if (len == 0 || len > ATOTA_DOWNLOAD_URL_MAX)
        return atota_diag_set(diag, ATOTA_ERR_NET_URL, "URL length must be 1 to %u bytes",
                              ATOTA_DOWNLOAD_URL_MAX);
    if (!url_ok(url, len, diag))
        return ATOTA_ERR_NET_URL;

    /* url may be d->url itself (AT+USEROTA receives it there): move it first, then the rest. */
    memmove(d->url, url, len);
    d->url[len] = '\0';
    d->http = *http;
    d->policy = *policy;
    d->writer_opts = *writer_opts;
    memset(&d->stats, 0, sizeof d->stats);
    d->stats.total = -1;
    d->validator[0] = '\0';
    d->now_ms = now_ms;
    d->now_ctx = now_ctx;
    d->done = done;
    d->log = log;
    d->cb_ctx = ctx;
    d->retries_used = 0;
    d->retry_at_ms = 0;
    d->finished = false;
    d->in_request = false;
    d->last_err = ATOTA_OK;
    atota_diag_clear(&d->diag);

    /* esp_https_ota_begin: the writer refuses first (PENDING_VERIFY, no slot), before any
     * network traffic. */
    atota_err_t err = atota_ota_writer_begin(&d->writer, &d->writer_opts, diag);
    if (err)
        return err;
    d->started_ms = now(d);
    d->running = true;
    err = issue_request(d);
    if (err) {
        d->running = false;
        atota_ota_writer_abort(&d->writer);
        if (diag)
            *diag = d->diag;
        return err;
    }
    log_line(d, "GET %s", d->url);
    return ATOTA_OK;
}

/* The next GET goes out from poll delay_ms from now (retry_at_ms 0 means none is due, so a
 * clock at 0 schedules at 1). */
static void schedule(atota_download_t *d, uint32_t delay_ms)
{
    uint64_t t = now(d) + delay_ms;
    d->retry_at_ms = t ? t : 1;
}

/* Whether callbacks belong to a live request of a live download. */
static bool live(const atota_download_t *d)
{
    return d->running && !d->finished && d->in_request;
}

/* Stops the transfer from inside a sink callback: the error is remembered for on_done, which
 * the port calls next with it. */
static atota_err_t refuse(atota_download_t *d, atota_err_t err)
{
    d->last_err = err;
    return err;
}

static atota_err_t on_headers(void *ctx, const atota_http_response_t *r)
{
    atota_download_t *d = ctx;
    if (!live(d))
        return ATOTA_ERR_STATE;
    uint64_t asked = d->stats.bytes; /* nothing is written between the GET and its headers */
    int status = r->status;

    if (status == 416 && asked > 0) {
        /* RFC 9110 §15.5.17: the range is not satisfiable (the image on the server is shorter
         * than what we hold: it changed). esp_https_ota restarts from 0 too (§11). The new GET
         * goes out from poll once this one has ended. */
        log_line(d, "HTTP 416 to Range from byte %llu: restarting from zero",
                 (unsigned long long)asked);
        d->stats.restarts++;
        d->validator[0] = '\0';
        atota_err_t err = restart_writer(d);
        if (err)
            return refuse(d, err);
        schedule(d, 0);
        return ATOTA_ERR_HTTP_STATUS;
    }
    if (status >= 400) {
        /* esp-at-ota.md §2.3: 403/404 and other 4xx/5xx fail */
        atota_diag_set(&d->diag, ATOTA_ERR_HTTP_STATUS, "HTTP %d", status);
        return refuse(d, ATOTA_ERR_HTTP_STATUS);
    }
    if (status == 200) {
        if (asked > 0) {
            /* RFC 9110 §13.1.5: a 200 to If-Range is the whole, current representation */
            log_line(d, "HTTP 200 to Range from byte %llu: the whole image again, from zero",
                     (unsigned long long)asked);
            d->stats.restarts++;
            atota_err_t err = restart_writer(d);
            if (err)
                return refuse(d, err);
        }
        d->stats.total = r->content_length;
    } else if (status == 206) {
        if (r->range_start < 0 || (uint64_t)r->range_start != asked) {
            atota_diag_set(&d->diag, ATOTA_ERR_NET_PROTOCOL,
                           "HTTP 206 starts at byte %lld, byte %llu was asked for",
                           (long long)r->range_start, (unsigned long long)asked);
            return refuse(d, ATOTA_ERR_NET_PROTOCOL);
        }
        if (r->total_length >= 0)
            d->stats.total = r->total_length;
        else if (r->content_length >= 0)
            d->stats.total = (int64_t)asked + r->content_length;
    } else {
        atota_diag_set(&d->diag, ATOTA_ERR_NET_PROTOCOL, "unexpected HTTP status %d", status);
        return refuse(d, ATOTA_ERR_NET_PROTOCOL);
    }
    if (r->validator[0] != '\0' || status == 200) {
        memcpy(d->validator, r->validator, sizeof d->validator);
        d->validator[sizeof d->validator - 1] = '\0';
    }
    uint32_t room = d->writer.slot.size;
    if (d->stats.total > (int64_t)room) {
        atota_diag_set(&d->diag, ATOTA_ERR_IMAGE_TOO_BIG,
                       "the image is %lld bytes, slot %s holds %u", (long long)d->stats.total,
                       d->writer.slot.name, (unsigned)room);
        return refuse(d, ATOTA_ERR_IMAGE_TOO_BIG);
    }
    return ATOTA_OK;
}

static void progress(atota_download_t *d, uint64_t before, uint64_t after)
{
    if (d->stats.total > 0) {
        uint64_t total = (uint64_t)d->stats.total;
        uint64_t a = before * 100 / total / PROGRESS_STEP_PCT;
        uint64_t b = after * 100 / total / PROGRESS_STEP_PCT;
        if (a != b)
            log_line(d, "%llu/%llu bytes (%llu%%)", (unsigned long long)after,
                     (unsigned long long)total, (unsigned long long)(after * 100 / total));
    } else if (before / PROGRESS_STEP_BYTES != after / PROGRESS_STEP_BYTES) {
        log_line(d, "%llu bytes", (unsigned long long)after);
    }
}

static atota_err_t on_body(void *ctx, const uint8_t *data, size_t len)
{
    atota_download_t *d = ctx;
    if (!live(d))
        return ATOTA_ERR_STATE;
    if (d->retry_at_ms)
        return ATOTA_ERR_STATE; /* the body of a 416: not image bytes */
    atota_diag_t wd;
    atota_diag_clear(&wd);
    atota_err_t err = atota_ota_writer_write(&d->writer, data, len, &wd);
    if (err) {
        atota_diag_set(&d->diag, err, "at byte %llu: %s", (unsigned long long)d->stats.bytes,
                       atota_diag_text(&wd, err));
        return refuse(d, err);
    }
    uint64_t before = d->stats.bytes;
    d->stats.bytes += len;
    progress(d, before, d->stats.bytes);
    return ATOTA_OK;
}

static bool retryable(const atota_download_t *d, atota_err_t err)
{
    /* A dropped connection or a silent server mid-transfer; once resuming, a failed reconnect
     * too (the network that dropped the connection may take a moment to come back). */
    return err == ATOTA_ERR_NET_RESET || err == ATOTA_ERR_NET_TIMEOUT ||
           (err == ATOTA_ERR_NET_CONNECT && d->retries_used > 0);
}

static void on_done(void *ctx, atota_err_t err, const char *msg)
{
    atota_download_t *d = ctx;
    if (!d->in_request)
        return;
    d->in_request = false;
    if (!d->running || d->finished)
        return; /* cancelled: finish() already reported */
    if (d->last_err) {
        finish(d, d->last_err); /* our own refusal; d->diag says what */
        return;
    }
    if (d->retry_at_ms)
        return; /* a restart is scheduled (416): poll issues it */
    if (err == ATOTA_OK) {
        /* esp-at-ota.md §2.3: esp_https_ota reads the first 1024 bytes before anything else and
         * fails a shorter body ("Complete headers were not received"), valid image or not. */
        if (d->stats.bytes < ATOTA_DOWNLOAD_MIN_IMAGE) {
            fail(d, ATOTA_ERR_IMAGE_TRUNCATED,
                 "the image is %llu bytes: ESP-AT's HTTPS OTA needs at least %u (Complete "
                 "headers were not received)",
                 (unsigned long long)d->stats.bytes, ATOTA_DOWNLOAD_MIN_IMAGE);
            return;
        }
        atota_diag_t wd;
        atota_diag_clear(&wd);
        atota_err_t ferr = atota_ota_writer_finish(&d->writer, NULL, &wd);
        if (ferr) {
            fail(d, ferr, "%s", atota_diag_text(&wd, ferr));
            return;
        }
        log_line(d, "%llu bytes in %u request(s), %u resumed, %u restart(s) from zero",
                 (unsigned long long)d->stats.bytes, d->stats.requests, d->stats.range_requests,
                 d->stats.restarts);
        finish(d, ATOTA_OK);
        return;
    }
    const char *why = msg && *msg ? msg : atota_strerror(err);
    if (retryable(d, err) && d->retries_used < d->policy.max_retries) {
        d->retries_used++;
        log_line(d, "%s at byte %llu: retry %u of %u in %u ms", why,
                 (unsigned long long)d->stats.bytes, d->retries_used, d->policy.max_retries,
                 d->policy.retry_delay_ms);
        schedule(d, d->policy.retry_delay_ms);
        return;
    }
    if (retryable(d, err) && d->policy.max_retries > 0)
        fail(d, err, "%s at byte %llu, after %u retries", why, (unsigned long long)d->stats.bytes,
             d->retries_used);
    else
        fail(d, err, "%s at byte %llu", why, (unsigned long long)d->stats.bytes);
}

void atota_download_poll(atota_download_t *d)
{
    if (!d || !d->running || d->finished)
        return;
    uint64_t t = now(d);
    if (d->policy.time_limit_ms && t - d->started_ms >= d->policy.time_limit_ms) {
        fail(d, ATOTA_ERR_NET_TIMEOUT, "no complete image within %u s (%llu bytes received)",
             (unsigned)(d->policy.time_limit_ms / 1000), (unsigned long long)d->stats.bytes);
        return;
    }
    if (!d->in_request && d->retry_at_ms && t >= d->retry_at_ms) {
        d->retry_at_ms = 0;
        if (d->stats.bytes > 0 && d->validator[0])
            log_line(d, "resuming at byte %llu (If-Range: %s)", (unsigned long long)d->stats.bytes,
                     d->validator);
        atota_err_t err = issue_request(d);
        if (err)
            finish(d, err);
    }
}

void atota_download_cancel(atota_download_t *d)
{
    if (!d || !d->running || d->finished)
        return;
    fail(d, ATOTA_ERR_STATE, "download cancelled at byte %llu", (unsigned long long)d->stats.bytes);
}

bool atota_download_running(const atota_download_t *d)
{
    return d && d->running && !d->finished;
}
