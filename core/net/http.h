/*
 * The HTTP client interface from the core to a port (ARCHITECTURE.md: "network streams" of
 * hal.h): one GET at a time, its body streamed to the core as it arrives. The port (libcurl in
 * port/posix/http.c) follows redirects, speaks HTTP/1.1 and TLS, and calls the sink from the
 * host's event loop (never from another thread while the core runs). The resume and retry
 * policy is the core's (core/ota/download.h), so it is the same on every port.
 */
#ifndef ATOTA_CORE_NET_HTTP_H
#define ATOTA_CORE_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ATOTA_HTTP_VALIDATOR_MAX 128

typedef struct {
    const char *url;      /* http:// or https:// */
    uint64_t range_from;  /* > 0: "Range: bytes=<range_from>-" */
    const char *if_range; /* with range_from: "If-Range: <validator>" (ETag or date), or NULL */
    const char *ca_file;  /* https: verify the server against this CA; NULL: no verification,
                             as ESP-AT (esp-at-ota.md §2.3) */
    uint32_t connect_timeout_ms;
    uint32_t stall_timeout_ms;  /* no byte for this long: ATOTA_ERR_NET_TIMEOUT */
    const char *const *headers; /* extra request headers "Name: value", NULL-terminated list;
                                   NULL: none. One replaces the port's own header of the same
                                   name (User-Agent...). */
} atota_http_request_t;

typedef struct {
    int status;             /* final status after redirects */
    int64_t content_length; /* -1: unknown (chunked) */
    int64_t range_start;    /* 206: first byte of Content-Range; else -1 */
    int64_t total_length;   /* 206: the complete length from Content-Range; else -1 */
    char validator[ATOTA_HTTP_VALIDATOR_MAX]; /* strong ETag, else Last-Modified, else "" */
} atota_http_response_t;

typedef struct {
    /* The status line and headers of the final response arrived. A non-OK return aborts the
     * transfer (on_done then reports that error). */
    atota_err_t (*on_headers)(void *ctx, const atota_http_response_t *response);
    /* Body bytes (decoded from chunked). A non-OK return aborts the transfer. */
    atota_err_t (*on_body)(void *ctx, const uint8_t *data, size_t len);
    /* The transfer ended: ATOTA_OK when the whole body arrived (Content-Length or the last chunk),
     * else ATOTA_ERR_NET_* (msg says more) or the error a callback returned. Called exactly once
     * per successful get(), also after cancel(). */
    void (*on_done)(void *ctx, atota_err_t err, const char *msg);
} atota_http_sink_t;

typedef struct {
    /* Starts a GET. The request strings are copied. ATOTA_ERR_STATE when one is running,
     * ATOTA_ERR_NET_URL for a URL the port cannot use, ATOTA_ERR_INVALID_ARG for a header that
     * is not "Name: value" on one line. */
    atota_err_t (*get)(void *ctx, const atota_http_request_t *request,
                       const atota_http_sink_t *sink, void *sink_ctx);
    /* Stops the running GET (on_done follows with ATOTA_ERR_STATE); no-op when idle. */
    void (*cancel)(void *ctx);
} atota_http_ops_t;

typedef struct {
    const atota_http_ops_t *ops;
    void *ctx;
} atota_http_t;

#endif /* ATOTA_CORE_NET_HTTP_H */
