/*
 * The POSIX port of the core's HTTP client (core/net/http.h) on libcurl's multi interface:
 * single-threaded and non-blocking, so the host's poll() loop drives the transfer and the sink's
 * callbacks run from that loop (from atota_http_posix_perform, or on_done from cancel).
 *
 * What a GET does, as ESP-AT's esp_http_client (esp-at-ota.md §2.3): HTTP/1.1,
 * "User-Agent: ESP32 HTTP Client/1.0", redirects followed (at most 10), no proxy, https verified
 * only when the request names a CA file (else, like CONFIG_ESP_TLS_SKIP_SERVER_CERT_VERIFY, not
 * at all). With range_from: "Range: bytes=N-" and "If-Range: <validator>". The request's own
 * headers follow: one with the name of a header libcurl sends (User-Agent, Host, Accept)
 * replaces it, and one with no value ("Accept:") removes it (CURLOPT_HTTPHEADER).
 * Timeouts: connect (connect_timeout_ms, the TLS handshake included; libcurl's), and stall (no
 * byte from the server for stall_timeout_ms once the request is on a connection; this client's
 * own timer, run by perform); no overall limit (the core has one). 0: none (libcurl's connect
 * default).
 *
 * How a transfer ends (on_done, once):
 *   ATOTA_OK                the whole body: Content-Length reached or the last chunk read
 *   ATOTA_ERR_NET_RESET     the connection closed or failed before that
 *   ATOTA_ERR_NET_TIMEOUT   connect or stall timeout
 *   ATOTA_ERR_NET_TLS       handshake failed, certificate refused, CA file unreadable
 *   ATOTA_ERR_NET_CONNECT   cannot resolve or connect
 *   ATOTA_ERR_NET_URL       a redirect to a URL that cannot be used
 *   ATOTA_ERR_NET_PROTOCOL  too many redirects, a malformed response, a 2xx body delimited by
 *                           neither Content-Length nor chunked (esp-at-ota.md §2.3)
 *   ATOTA_ERR_STATE         cancelled
 *   the sink's error        when a callback refused (the transfer is aborted)
 *
 * Usage in a loop:
 *   struct pollfd fds[N + ATOTA_HTTP_POSIX_MAX_POLLFDS];
 *   n = <the host's own fds>; timeout = <the host's timeout>;
 *   k = atota_http_posix_pollfds(h, fds + n, ATOTA_HTTP_POSIX_MAX_POLLFDS, &timeout);
 *   poll(fds, n + k, timeout);
 *   atota_http_posix_perform(h, fds + n, k);
 *
 * Not thread-safe: one thread uses the client (several clients in one thread are fine).
 */
#ifndef ATOTA_PORT_POSIX_HTTP_H
#define ATOTA_PORT_POSIX_HTTP_H

#include <poll.h>

#include "core/net/http.h"

#define ATOTA_HTTP_POSIX_MAX_POLLFDS 8
#define ATOTA_HTTP_POSIX_USER_AGENT  "ESP32 HTTP Client/1.0" /* esp-at-ota.md §2.3 */
#define ATOTA_HTTP_POSIX_MAX_REDIRS  10                      /* esp_http_client's default */

typedef struct atota_http_posix atota_http_posix_t;

/* A client with no transfer running; NULL when out of memory or when libcurl cannot start.
 * Initialises libcurl (curl_global_init) for the first client; free with atota_http_posix_free. */
atota_http_posix_t *atota_http_posix_new(void);

/* Frees the client. A transfer still running is dropped without calling its sink (the host is
 * tearing down; cancel it first to have on_done called). The last client frees libcurl's global
 * state. NULL is fine. */
void atota_http_posix_free(atota_http_posix_t *h);

/* The client as the core's interface (valid as long as h). */
atota_http_t atota_http_posix_iface(atota_http_posix_t *h);

/* Adds a "HOST:PORT:HOST2:PORT2" mapping (curl's --connect-to, port/posix/connect_to.h;
 * repeatable, the first that matches wins) for the GETs started after this call, redirects
 * included. ATOTA_ERR_INVALID_ARG for a spec that is not one (diag, may be NULL, says what is
 * wrong), ATOTA_ERR_NO_MEM. */
atota_err_t atota_http_posix_connect_to(atota_http_posix_t *h, const char *spec,
                                        atota_diag_t *diag);

/* Fills fds (room for max entries; ATOTA_HTTP_POSIX_MAX_POLLFDS is always enough) with the
 * sockets to poll for now and returns how many; lowers *timeout_ms (-1: none yet) to when
 * libcurl's next timer is due. Nothing to do when idle: returns 0, *timeout_ms untouched. */
int atota_http_posix_pollfds(atota_http_posix_t *h, struct pollfd *fds, int max, int *timeout_ms);

/* Drives the transfer after poll(): fds/nfds are the entries atota_http_posix_pollfds filled
 * (their revents read; NULL/0 to run timers only). Calls the sink. */
void atota_http_posix_perform(atota_http_posix_t *h, const struct pollfd *fds, int nfds);

/* Whether a GET is running. */
bool atota_http_posix_busy(const atota_http_posix_t *h);

#endif /* ATOTA_PORT_POSIX_HTTP_H */
