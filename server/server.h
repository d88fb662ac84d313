/*
 * What every part of atota-server shares: the store, the blob store, the data directory, the
 * base URLs it tells clients, and a log. apps/atota-server/main.c builds one and hands it to
 * each group of routes:
 *   server/device_api.c   the device API of iot.espressif.cn (ESP-AT's AT+CIUPDATE, AT+CIPFWVER)
 *   server/hosting.c      /fw/<sha256>/<name>: firmware files with Range, If-Range, HEAD, ETag
 *   server/mgmt_api.c     /api/v1: the REST management API (docs/server-api.md)
 *   server/console.c      /: the web console (the files of server/console, embedded at build time)
 */
#ifndef ATOTA_SERVER_SERVER_H
#define ATOTA_SERVER_SERVER_H

#include "server/blobs.h"
#include "server/httpd.h"
#include "server/store.h"

typedef struct {
    atota_store_t *store;
    atota_blobs_t *blobs;
    const char *data_dir;
    char base_url[256]; /* "http://127.0.0.1:8070": hosting URLs start with it */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
} atota_server_t;

/* One line for the server's log; control characters (from clients' names) become '?'. */
void atota_server_log(const atota_server_t *srv, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Each fills at most max routes into out and returns how many. */
unsigned atota_device_api_routes(atota_server_t *srv, atota_httpd_route_t *out, unsigned max);
unsigned atota_hosting_routes(atota_server_t *srv, atota_httpd_route_t *out, unsigned max);
unsigned atota_mgmt_api_routes(atota_server_t *srv, atota_httpd_route_t *out, unsigned max);
unsigned atota_console_routes(atota_server_t *srv, atota_httpd_route_t *out, unsigned max);

#endif /* ATOTA_SERVER_SERVER_H */
