/*
 * The POSIX port of the core's TCP/TLS streams (core/net/stream.h) on libcurl: single-threaded
 * and non-blocking, so the host's poll() loop drives the connection and the sink's callbacks run
 * from that loop (from atota_stream_posix_perform only; never from connect, send or close).
 *
 * What a connection does, as ESP-AT's AT+CIUPDATE with lwIP sockets and esp_tls
 * (esp-at-ota.md §3.3): resolve the name, connect, and with tls a TLS handshake (SNI = host, no
 * ALPN, the certificate verified only when ca_file names a CA, then against that CA alone and the
 * host name). libcurl's multi interface does these steps (CURLOPT_CONNECT_ONLY); then the bytes
 * go through curl_easy_send / curl_easy_recv on the connection's socket, exactly as the core
 * wrote them. No proxy, whatever the environment says. Connect timeout: connect_timeout_ms, or
 * ATOTA_STREAM_POSIX_CONNECT_TIMEOUT_MS for 0; once connected there is no timeout (the core has
 * its own deadlines).
 *
 * Bytes to send are copied into a queue of ATOTA_STREAM_POSIX_QUEUE_MAX bytes and written as the
 * socket takes them. Received bytes go to on_data in reads of at most read_max bytes, one read
 * per call, as a device's read() into its buffer.
 *
 * How a connection ends:
 *   on_connected(err)  ATOTA_ERR_NET_DNS      the name did not resolve
 *                      ATOTA_ERR_NET_CONNECT  refused or unreachable
 *                      ATOTA_ERR_NET_TIMEOUT  resolve + connect + handshake took too long
 *                      ATOTA_ERR_NET_TLS      handshake failed, certificate refused, CA unreadable
 *   on_closed(err)     ATOTA_OK               the peer closed (a read returned end of stream)
 *                      ATOTA_ERR_NET_RESET    the connection failed (reset, a write refused)
 *                      ATOTA_ERR_NET_TLS      the TLS layer failed
 * After close() nothing more is called for that connection. A callback may call close(), and
 * connect() again (the next connection), from inside itself: the rest of the old connection's
 * events are dropped.
 *
 * The virtual network: atota_stream_posix_connect_to routes a host:port the firmware names to
 * another one (port/posix/connect_to.h).
 *
 * Usage in a loop (as port/posix/http.h):
 *   struct pollfd fds[N + ATOTA_STREAM_POSIX_MAX_POLLFDS];
 *   n = <the host's own fds>; timeout = <the host's timeout>;
 *   k = atota_stream_posix_pollfds(s, fds + n, ATOTA_STREAM_POSIX_MAX_POLLFDS, &timeout);
 *   poll(fds, n + k, timeout);
 *   atota_stream_posix_perform(s, fds + n, k);
 *
 * Not thread-safe: one thread uses the stream (several streams in one thread are fine).
 */
#ifndef ATOTA_PORT_POSIX_STREAM_H
#define ATOTA_PORT_POSIX_STREAM_H

#include <poll.h>
#include <stdbool.h>

#include "core/err.h"
#include "core/net/stream.h"

#define ATOTA_STREAM_POSIX_MAX_POLLFDS        8
#define ATOTA_STREAM_POSIX_QUEUE_MAX          65536u /* bytes queued by send() and not yet sent */
#define ATOTA_STREAM_POSIX_CONNECT_TIMEOUT_MS 10000u /* connect_timeout_ms 0 */

typedef struct atota_stream_posix atota_stream_posix_t;

/* A stream with no connection; NULL when out of memory or when libcurl cannot start. Initialises
 * libcurl (curl_global_init, reference-counted by libcurl); free with atota_stream_posix_free. */
atota_stream_posix_t *atota_stream_posix_new(void);

/* Frees the stream. A connection still open (or opening) is closed without calling its sink.
 * NULL is fine. */
void atota_stream_posix_free(atota_stream_posix_t *s);

/* The stream as the core's interface (valid as long as s). */
atota_stream_t atota_stream_posix_iface(atota_stream_posix_t *s);

/* Adds a "HOST:PORT:HOST2:PORT2" mapping (curl's --connect-to; repeatable, the first that
 * matches wins) for the connections started after this call. ATOTA_ERR_INVALID_ARG for a spec
 * that is not one (diag, may be NULL, says what is wrong), ATOTA_ERR_NO_MEM. */
atota_err_t atota_stream_posix_connect_to(atota_stream_posix_t *s, const char *spec,
                                          atota_diag_t *diag);

/* Fills fds (room for max entries; ATOTA_STREAM_POSIX_MAX_POLLFDS is always enough) with the
 * sockets to poll for now and returns how many; lowers *timeout_ms (-1: none yet) to when the
 * stream next has work without a socket event (a libcurl timer, data already read). Nothing to
 * do when idle: returns 0, *timeout_ms untouched. */
int atota_stream_posix_pollfds(atota_stream_posix_t *s, struct pollfd *fds, int max,
                               int *timeout_ms);

/* Drives the connection after poll(): fds/nfds are the entries atota_stream_posix_pollfds filled
 * (their revents read; NULL/0 to run timers only). Connects, sends what is queued, reads, and
 * calls the sink. */
void atota_stream_posix_perform(atota_stream_posix_t *s, const struct pollfd *fds, int nfds);

/* Whether a connection is open or opening. */
bool atota_stream_posix_busy(const atota_stream_posix_t *s);

#endif /* ATOTA_PORT_POSIX_STREAM_H */
