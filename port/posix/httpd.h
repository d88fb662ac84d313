/*
 * The POSIX port of the core's HTTP server (core/net/httpd.h) on libmicrohttpd, single-threaded:
 * MHD runs without a thread of its own ("external select" mode), the host's poll() loop polls its
 * sockets, and every sink callback runs from atota_httpd_posix_perform (never from start, stop,
 * respond or header).
 *
 * The module's web server (AT+WEBSERVER, esp-at-ota.md §4) listens on a host address instead of
 * the module's port: the address given in the options (port 0: any free port, chosen at each
 * start). on_listen tells the host where it went (atota-sim prints it).
 *
 * What a client meets, as with ESP-IDF's esp_http_server (esp-at-ota.md §4.1, §4.3):
 *  - HTTP/1.1 (or 1.0), keep-alive; at most ATOTA_HTTPD_POSIX_MAX_CONNECTIONS connections at once
 *    (max_open_sockets), later ones wait in the listen backlog;
 *  - responses carry the status line, Content-Type (when the core gives one), Content-Length or
 *    Transfer-Encoding: chunked, the core's extra headers, and Connection: close when the
 *    connection ends after the response; no Date, no Server;
 *  - a request target longer than ATOTA_HTTPD_URI_MAX bytes: 414, answered by the port; a chunked
 *    request body: 411, answered by the port and the connection closed; the core sees neither;
 *  - "Expect: 100-continue" is answered with 100 Continue, unless the port answers 411 or 414;
 *  - a connection idle for idle_timeout_s seconds (no byte either way) is closed: a request in it
 *    that the core has not answered ends in on_abort(ATOTA_ERR_NET_TIMEOUT), so an upload that
 *    stalls fails instead of waiting forever (esp-at-ota.md §8 item 6, esp-at#684);
 *  - a client that closes or resets the connection before the core answered: on_abort
 *    (ATOTA_ERR_NET_RESET).
 * A response the core gives before the body has all arrived is kept and sent once it has; the
 * rest of the body is read and dropped, without on_body (core/net/httpd.h). A status-0 response
 * closes the connection at once when given from a sink callback of that request, else at the
 * request's next event (a body piece, its end, or the idle timeout).
 *
 * Usage in a loop (as port/posix/stream.h):
 *   struct pollfd fds[N + ATOTA_HTTPD_POSIX_MAX_POLLFDS];
 *   n = <the host's own fds>; timeout = <the host's timeout>;
 *   k = atota_httpd_posix_pollfds(h, fds + n, ATOTA_HTTPD_POSIX_MAX_POLLFDS, &timeout);
 *   poll(fds, n + k, timeout);
 *   atota_httpd_posix_perform(h, fds + n, k);
 *
 * Not thread-safe: one thread uses the server (several servers in one thread are fine).
 */
#ifndef ATOTA_PORT_POSIX_HTTPD_H
#define ATOTA_PORT_POSIX_HTTPD_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/net/httpd.h"

#define ATOTA_HTTPD_POSIX_MAX_CONNECTIONS 7 /* esp-at-ota.md §4.1: max_open_sockets */
#define ATOTA_HTTPD_POSIX_MAX_POLLFDS     (ATOTA_HTTPD_POSIX_MAX_CONNECTIONS + 1) /* + listener */
#define ATOTA_HTTPD_POSIX_IDLE_TIMEOUT_S  30u /* idle_timeout_s 0 */
#define ATOTA_HTTPD_POSIX_HOST_MAX        256u

typedef struct {
    /* Where the host listens: a numeric address or a name (NULL or "": 127.0.0.1), and a port
     * (0: any free port). */
    const char *host;
    uint16_t port;
    /* Seconds a connection may stay idle; 0: ATOTA_HTTPD_POSIX_IDLE_TIMEOUT_S. */
    unsigned idle_timeout_s;
    /* Called by start once listening, with url "http://ADDR:PORT/" (valid during the call), and
     * by stop with url NULL; module_port is the port the core asked for. May be NULL. */
    void (*on_listen)(void *ctx, uint16_t module_port, const char *url);
    /* One line for the host's log (libmicrohttpd's errors, requests the port refused); may be
     * NULL. */
    void (*log)(void *ctx, const char *line);
    void *ctx; /* for on_listen and log */
} atota_httpd_posix_opts_t;

typedef struct atota_httpd_posix atota_httpd_posix_t;

/* A stopped server; opts is copied (host too). NULL when out of memory. Free with
 * atota_httpd_posix_free. */
atota_httpd_posix_t *atota_httpd_posix_new(const atota_httpd_posix_opts_t *opts);

/* Stops the server if it runs (no sink callback, no on_listen) and frees it. NULL is fine. */
void atota_httpd_posix_free(atota_httpd_posix_t *h);

/* The server as the core's interface (valid as long as h). */
atota_httpd_t atota_httpd_posix_iface(atota_httpd_posix_t *h);

/* Splits "HOST:PORT" or "[V6HOST]:PORT" (PORT 0-65535, HOST may be empty: 127.0.0.1) into host
 * (cap bytes) and *port, and checks that HOST resolves. ATOTA_ERR_INVALID_ARG (diag says why). */
atota_err_t atota_httpd_posix_parse_listen(const char *spec, char *host, size_t cap, uint16_t *port,
                                           atota_diag_t *diag);

/* Fills fds (room for max entries; ATOTA_HTTPD_POSIX_MAX_POLLFDS is always enough) with the
 * sockets to poll for now and returns how many; lowers *timeout_ms (-1: none yet) to when
 * libmicrohttpd next has work without a socket event (an idle timeout, bytes already read).
 * Stopped: returns 0, *timeout_ms untouched. */
int atota_httpd_posix_pollfds(atota_httpd_posix_t *h, struct pollfd *fds, int max, int *timeout_ms);

/* Runs the server after poll(): fds/nfds are the entries atota_httpd_posix_pollfds filled (their
 * revents read; NULL/0 to run timers only). Accepts, reads, writes, closes idle connections, and
 * calls the sink. */
void atota_httpd_posix_perform(atota_httpd_posix_t *h, const struct pollfd *fds, int nfds);

/* "http://ADDR:PORT/" while listening, else NULL (valid until the next start or stop). */
const char *atota_httpd_posix_url(const atota_httpd_posix_t *h);

/* Whether the server is listening. */
bool atota_httpd_posix_busy(const atota_httpd_posix_t *h);

#endif /* ATOTA_PORT_POSIX_HTTPD_H */
