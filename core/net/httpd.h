/*
 * The HTTP server interface from the core to a port: what ESP-AT's AT+WEBSERVER does with
 * ESP-IDF's esp_http_server (esp-at-ota.md §4): listen on the module's port, hand each request to
 * the firmware's handlers, send what they answer. The core (core/cmd/cmd_webserver.c) decides
 * every status, header and body byte; the port owns sockets, HTTP parsing and framing. The POSIX
 * port is port/posix/httpd.h (libmicrohttpd).
 *
 * Event-driven: the port calls the sink from the host's event loop, never from another thread
 * while the core runs, and never from inside start/stop/respond themselves. For one request:
 *   on_request        once the request line and headers arrived
 *   on_body           zero or more times, the body in order, in pieces of any size
 *   on_end            once the whole body arrived (Content-Length bytes; at once when none)
 *   on_abort          instead of what is left, when the connection ends or fails before the
 *                     response was handed to the port (a client that closed mid-upload)
 * The core answers with respond() at any time from on_request until the end of its on_end
 * handler (a request still unanswered when on_end returns gets a 500 with an empty body). A
 * response given before the body ended is sent once the body has arrived: the port reads the rest
 * and drops it, without calling on_body. After respond() the request belongs to the port again:
 * no further callback names it, and its pointer must not be used.
 *
 * Requests are HTTP/1.1 (or 1.0) with a Content-Length or no body. A chunked request body is not
 * taken (esp_http_server does not support it either): the port answers 411 itself and the core
 * never sees the request.
 */
#ifndef ATOTA_CORE_NET_HTTPD_H
#define ATOTA_CORE_NET_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ATOTA_HTTPD_URI_MAX 1024u /* CONFIG_HTTPD_MAX_URI_LEN; longer: the port answers 414 */

/* One request, owned by the port; valid from on_request until respond() or on_abort. */
typedef struct atota_httpd_request {
    const char *method;     /* "GET", "POST", ... as sent */
    const char *path;       /* the URI up to '?' (not decoded) */
    const char *query;      /* the URI after '?', "" when none */
    int64_t content_length; /* the Content-Length header, -1 when the request has none */
    void *user;             /* the core's, NULL at on_request; the port keeps it */
} atota_httpd_request_t;

typedef struct {
    void (*on_request)(void *ctx, atota_httpd_request_t *req);
    /* len >= 1; data valid during the call only */
    void (*on_body)(void *ctx, atota_httpd_request_t *req, const uint8_t *data, size_t len);
    void (*on_end)(void *ctx, atota_httpd_request_t *req);
    /* The connection went away; err ATOTA_ERR_NET_RESET (closed by the client) or
     * ATOTA_ERR_NET_TIMEOUT (the port's idle limit). req is gone when this returns. */
    void (*on_abort)(void *ctx, atota_httpd_request_t *req, atota_err_t err);
} atota_httpd_sink_t;

#define ATOTA_HTTPD_MAX_HEADERS 4

typedef struct {
    unsigned status;          /* 200, 400, 404, 500 ...; 0: no response at all, the port closes
                                 the connection (esp_http_server after a handler's ESP_FAIL) */
    const char *content_type; /* NULL: no Content-Type header */
    const void *body;         /* copied by the port */
    size_t len;
    bool chunked; /* Transfer-Encoding: chunked instead of Content-Length (as httpd_resp_send_chunk;
                     HTTP/1.1 clients only, a 1.0 client gets the body up to the close) */
    /* extra headers, "Name" and "value" pairs (Location, Cache-Control ...); NULL names end */
    const char *headers[ATOTA_HTTPD_MAX_HEADERS][2];
} atota_httpd_response_t;

typedef struct {
    /* Starts listening for the module's port (0-65535; where the host really listens, and how
     * it shows that, is the port's business: atota-sim maps it to a host address). sink and
     * sink_ctx stay in use until stop(). ATOTA_ERR_STATE when already started; ATOTA_ERR_IO
     * (diag says why) when it cannot listen. */
    atota_err_t (*start)(void *ctx, uint16_t port, const atota_httpd_sink_t *sink, void *sink_ctx,
                         atota_diag_t *diag);
    /* Stops: closes the listener and every connection. No callback follows: requests in flight
     * are dropped without on_abort, and the core releases what it held for them itself. No-op
     * when stopped. */
    void (*stop)(void *ctx);
    /* The value of a request header (case-insensitive name), NULL when absent; valid while req
     * is. */
    const char *(*header)(void *ctx, atota_httpd_request_t *req, const char *name);
    /* Answers req (see the top of this file). */
    void (*respond)(void *ctx, atota_httpd_request_t *req, const atota_httpd_response_t *r);
} atota_httpd_ops_t;

typedef struct {
    const atota_httpd_ops_t *ops;
    void *ctx;
} atota_httpd_t;

#endif /* ATOTA_CORE_NET_HTTPD_H */
