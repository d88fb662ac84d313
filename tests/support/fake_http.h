/*
 * An in-process HTTP port for tests (core/net/http.h): serves one image from memory, one GET at a
 * time, its callbacks delivered only when the test pumps it (as a host's event loop would), and
 * injects what real networks and servers do: an error status, a connection reset or a stall
 * timeout at a byte offset of a given request, a server that ignores Range, 416, a response
 * without a validator, a short file, a corrupted byte, a 206 at the wrong offset, a connect
 * failure, silence (no callback at all). It records every request (Range start, If-Range).
 * Header-only (static inline) for test_download, test_cmd_userota and test_userota_powercut.
 */
#ifndef ATOTA_TESTS_SUPPORT_FAKE_HTTP_H
#define ATOTA_TESTS_SUPPORT_FAKE_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/net/http.h"

#define FAKE_HTTP_MAX_REQ   32
#define FAKE_HTTP_CHUNK_MAX 16384

typedef struct {
    /* the resource */
    const uint8_t *image;
    size_t len;
    char validator[ATOTA_HTTP_VALIDATOR_MAX]; /* ETag sent, checked against If-Range; "": none */
    /* injections, per request index (0 = the first GET) */
    int status_for[FAKE_HTTP_MAX_REQ];        /* answer with this status; -1: connect fails */
    uint64_t reset_at[FAKE_HTTP_MAX_REQ];     /* drop the connection when the body reaches this
                                                 image offset (0: never) */
    atota_err_t reset_err[FAKE_HTTP_MAX_REQ]; /* ... with this error (0: ATOTA_ERR_NET_RESET) */
    bool ignore_range;                        /* 200 and the whole image to every Range */
    int64_t range_skew;                       /* 206 claims (and serves) start + skew */
    size_t serve_len;                         /* the file on the server is this long (0: len) */
    bool no_content_length;                   /* chunked: content_length -1 */
    uint64_t stall_at;                        /* stop all callbacks at this image offset ... */
    bool stall;                               /* ... when set (the port then says nothing) */
    int64_t corrupt_at;                       /* flip this image byte when served (-1: none) */
    size_t chunk;                             /* bytes per pump (0: 4096) */
    /* the running request */
    bool active, headers_sent;
    unsigned req; /* its index */
    int status;
    uint64_t pos, end;
    const atota_http_sink_t *sink;
    void *sink_ctx;
    uint8_t buf[FAKE_HTTP_CHUNK_MAX];
    /* what the client asked */
    unsigned requests, cancels;
    uint64_t range_from[FAKE_HTTP_MAX_REQ];
    char if_range[FAKE_HTTP_MAX_REQ][ATOTA_HTTP_VALIDATOR_MAX]; /* "" when none was sent */
    uint32_t stall_timeout_ms;
    bool had_ca_file;
    char url[512];
    char headers[512]; /* the extra request headers of the last GET, one per line */
} fake_http_t;

static inline void fake_http_init(fake_http_t *f, const uint8_t *image, size_t len,
                                  const char *validator)
{
    memset(f, 0, sizeof *f);
    f->image = image;
    f->len = len;
    snprintf(f->validator, sizeof f->validator, "%s", validator ? validator : "");
    f->corrupt_at = -1;
}

static inline atota_err_t fake_http_get(void *ctx, const atota_http_request_t *rq,
                                        const atota_http_sink_t *sink, void *sink_ctx)
{
    fake_http_t *f = ctx;
    if (f->active)
        return ATOTA_ERR_STATE;
    if (!rq->url || (strncmp(rq->url, "http://", 7) && strncmp(rq->url, "https://", 8)))
        return ATOTA_ERR_NET_URL;
    if (f->requests >= FAKE_HTTP_MAX_REQ)
        return ATOTA_ERR_STATE;
    unsigned i = f->requests++;
    f->range_from[i] = rq->range_from;
    snprintf(f->if_range[i], sizeof f->if_range[i], "%s",
             rq->range_from > 0 && rq->if_range ? rq->if_range : "");
    snprintf(f->url, sizeof f->url, "%s", rq->url);
    f->stall_timeout_ms = rq->stall_timeout_ms;
    f->had_ca_file = rq->ca_file != NULL;
    f->headers[0] = '\0';
    for (const char *const *h = rq->headers; h && *h; h++) {
        size_t n = strlen(f->headers);
        snprintf(f->headers + n, sizeof f->headers - n, "%s\n", *h);
    }
    f->active = true;
    f->headers_sent = false;
    f->req = i;
    f->sink = sink;
    f->sink_ctx = sink_ctx;
    return ATOTA_OK;
}

static inline void fake_http_end(fake_http_t *f, atota_err_t err, const char *msg)
{
    f->active = false;
    f->sink->on_done(f->sink_ctx, err, msg);
}

static inline void fake_http_cancel(void *ctx)
{
    fake_http_t *f = ctx;
    if (!f->active)
        return;
    f->cancels++;
    fake_http_end(f, ATOTA_ERR_STATE, "cancelled");
}

static const atota_http_ops_t fake_http_ops = {fake_http_get, fake_http_cancel};

static inline atota_http_t fake_http_port(fake_http_t *f)
{
    atota_http_t h = {&fake_http_ops, f};
    return h;
}

/* The status line and headers of the running request. */
static inline void fake_http_headers(fake_http_t *f)
{
    unsigned i = f->req;
    uint64_t file_len = f->serve_len ? f->serve_len : f->len;
    uint64_t from = f->range_from[i];
    atota_http_response_t r;
    memset(&r, 0, sizeof r);
    r.range_start = -1;
    r.total_length = -1;
    snprintf(r.validator, sizeof r.validator, "%s", f->validator);
    int status = f->status_for[i];
    f->pos = 0;
    f->end = 0;
    if (status == 0) {
        /* RFC 9110 §13.1.5: If-Range that matches gives 206, one that does not gives 200 */
        bool range = from > 0 && !f->ignore_range && f->validator[0] != '\0' &&
                     strcmp(f->if_range[i], f->validator) == 0;
        if (from > 0 && !f->ignore_range && f->if_range[i][0] == '\0')
            range = true; /* a plain Range without If-Range */
        if (range && from >= file_len) {
            status = 416;
        } else if (range) {
            status = 206;
            f->pos = (uint64_t)((int64_t)from + f->range_skew);
            f->end = file_len;
            r.range_start = (int64_t)f->pos;
            r.total_length = (int64_t)file_len;
        } else {
            status = 200;
            f->pos = 0;
            f->end = file_len;
        }
    }
    r.status = status;
    r.content_length = f->no_content_length ? -1 : (int64_t)(f->end - f->pos);
    f->status = status;
    f->headers_sent = true;
    atota_err_t err = f->sink->on_headers(f->sink_ctx, &r);
    if (err) {
        fake_http_end(f, err, "aborted by the client");
        return;
    }
    if (status != 200 && status != 206) {
        fake_http_end(f, ATOTA_OK, ""); /* an error page nobody reads */
        return;
    }
}

/* One step of the running request: headers, or one chunk of body, or its end. Returns whether
 * a callback was made. */
static inline bool fake_http_pump(fake_http_t *f)
{
    if (!f->active)
        return false;
    unsigned i = f->req;
    if (!f->headers_sent) {
        if (f->status_for[i] == -1) {
            fake_http_end(f, ATOTA_ERR_NET_CONNECT, "connection refused");
            return true;
        }
        if (f->stall && f->stall_at == 0)
            return false;
        fake_http_headers(f);
        return true;
    }
    if (f->stall && f->pos >= f->stall_at)
        return false;
    size_t chunk = f->chunk ? f->chunk : 4096;
    uint64_t n = f->end - f->pos < chunk ? f->end - f->pos : chunk;
    uint64_t reset = f->reset_at[i];
    bool resets = reset > f->pos && reset <= f->pos + n;
    if (resets)
        n = reset - f->pos;
    if (f->stall && f->stall_at > f->pos && f->stall_at < f->pos + n)
        n = f->stall_at - f->pos;
    if (n > 0) {
        memcpy(f->buf, f->image + f->pos, (size_t)n);
        if (f->corrupt_at >= 0 && (uint64_t)f->corrupt_at >= f->pos &&
            (uint64_t)f->corrupt_at < f->pos + n)
            f->buf[(uint64_t)f->corrupt_at - f->pos] ^= 0x40;
        f->pos += n;
        atota_err_t err = f->sink->on_body(f->sink_ctx, f->buf, (size_t)n);
        if (err) {
            fake_http_end(f, err, "aborted by the client");
            return true;
        }
    }
    if (resets && f->pos == reset) {
        atota_err_t e = f->reset_err[i] ? f->reset_err[i] : ATOTA_ERR_NET_RESET;
        fake_http_end(f, e,
                      e == ATOTA_ERR_NET_TIMEOUT ? "no data for 10 s" : "connection reset by peer");
    } else if (f->pos >= f->end) {
        fake_http_end(f, ATOTA_OK, "");
    }
    return true;
}

#endif /* ATOTA_TESTS_SUPPORT_FAKE_HTTP_H */
