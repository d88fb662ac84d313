/*
 * The server's HTTP layer (libmicrohttpd): listeners for HTTP and HTTPS, limits on connections
 * and request sizes, and a small routing interface the rest of the server is written against, so
 * that routes never see libmicrohttpd. A request reaches its handler with the whole body read
 * (at most the route's max_body bytes; more is refused with 413 before the handler runs).
 */
#ifndef ATOTA_SERVER_HTTPD_H
#define ATOTA_SERVER_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct atota_httpd atota_httpd_t;
typedef struct atota_httpd_response atota_httpd_response_t;

typedef struct atota_httpd_request {
    const char *method;  /* "GET", "HEAD", "POST", "PUT", "DELETE" */
    const char *path;    /* decoded path, without the query: "/v1/device/rom/" */
    const char *version; /* "HTTP/1.0" or "HTTP/1.1" */
    const uint8_t *body; /* the whole body (NULL when empty) */
    size_t body_len;
    const char *client; /* the peer's address, "127.0.0.1" */
    bool tls;           /* arrived on the HTTPS listener */
    void *impl;         /* the layer's own */
} atota_httpd_request_t;

/* A request header (case-insensitive name), or NULL. */
const char *atota_httpd_header(const atota_httpd_request_t *req, const char *name);
/* A query-string argument, decoded, or NULL. */
const char *atota_httpd_arg(const atota_httpd_request_t *req, const char *name);
/* A cookie, or NULL. */
const char *atota_httpd_cookie(const atota_httpd_request_t *req, const char *name);

/* Responses. Each returns NULL only when out of memory (the layer then answers 500). */
atota_httpd_response_t *atota_httpd_response_bytes(int status, const char *content_type,
                                                   const void *data, size_t len);
/* {"error": msg} with status. */
atota_httpd_response_t *atota_httpd_response_error(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A slice [offset, offset+len) of an open file; the layer closes fd. For HEAD the layer sends
 * the headers only. The headers and the first body bytes go out in one write (esp-at-ota.md §3.5):
 * the layer guarantees it for every response it sends. */
atota_httpd_response_t *atota_httpd_response_file(int status, int fd, uint64_t offset,
                                                  uint64_t len);
/* Adds a header (copied); r may be NULL (then nothing happens, so calls can follow a builder
 * unchecked). A header that cannot be stored makes the layer answer 500. */
void atota_httpd_response_header(atota_httpd_response_t *r, const char *name, const char *value);
/* Frees a response that will not be returned to the layer (closing its file); NULL is ignored.
 * A response returned by a handler belongs to the layer, which frees it once queued. */
void atota_httpd_response_free(atota_httpd_response_t *r);

typedef atota_httpd_response_t *(*atota_httpd_handler_t)(void *ctx,
                                                         const atota_httpd_request_t *req);

typedef struct {
    const char *method; /* NULL: any; "GET" answers HEAD too (the layer drops the body) */
    const char *prefix; /* the path starts with it ("/api/v1/products"); exact when it has no
                           trailing '*'... routes are tried in order, the first match wins */
    size_t max_body;    /* bytes; 0: no body allowed */
    atota_httpd_handler_t handler;
    void *ctx;
} atota_httpd_route_t;

typedef struct {
    const char *http_addr;  /* "127.0.0.1:8070", or NULL for none */
    const char *https_addr; /* NULL for none */
    const char *cert_pem;   /* HTTPS certificate and key (PEM text) */
    const char *key_pem;
    unsigned max_connections;      /* total, default 1024 */
    unsigned max_per_ip;           /* default 128: devices behind one NAT address share it */
    unsigned connection_timeout_s; /* idle, default 30 */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
} atota_httpd_opts_t;

/* Starts the listeners (threads of libmicrohttpd). routes must outlive the server. The bound
 * ports (useful with port 0) are in *http_port / *https_port (may be NULL). */
atota_err_t atota_httpd_start(const atota_httpd_opts_t *opts, const atota_httpd_route_t *routes,
                              unsigned route_count, atota_httpd_t **out, uint16_t *http_port,
                              uint16_t *https_port, atota_diag_t *diag);
void atota_httpd_stop(atota_httpd_t *h);

/* A self-signed certificate and key for host names / addresses (mbedTLS), PEM text into the
 * caller's buffers; used on first start when no certificate is given. */
atota_err_t atota_httpd_make_cert(const char *const *names, unsigned count, char *cert_pem,
                                  size_t cert_cap, char *key_pem, size_t key_cap,
                                  atota_diag_t *diag);

#endif /* ATOTA_SERVER_HTTPD_H */
