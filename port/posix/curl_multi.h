/*
 * The libcurl multi plumbing shared by the HTTP client (port/posix/http.c) and the streams
 * (port/posix/stream.c): both drive a CURLM from the host's poll() loop. libcurl tells us its
 * sockets (CURLMOPT_SOCKETFUNCTION) and its next timer (CURLMOPT_TIMERFUNCTION); an
 * atota_curl_poll_t records them, fills the host's pollfds from them and hands what poll found
 * back to curl_multi_socket_action.
 */
#ifndef ATOTA_PORT_POSIX_CURL_MULTI_H
#define ATOTA_PORT_POSIX_CURL_MULTI_H

#include <curl/curl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#define ATOTA_CURL_POLL_MAX_SOCKETS 8 /* more than one transfer ever needs */

typedef struct {
    curl_socket_t fd;
    int what; /* CURL_POLL_IN / OUT / INOUT */
} atota_curl_socket_t;

/* What libcurl wants polled: its sockets and its timer. Zeroed: none. */
typedef struct {
    atota_curl_socket_t sockets[ATOTA_CURL_POLL_MAX_SOCKETS];
    int nsockets;
    bool timer_set;
    uint64_t timer_at; /* atota_curl_mono_ms() */
} atota_curl_poll_t;

/* The monotonic clock, in milliseconds. */
uint64_t atota_curl_mono_ms(void);

/* curl_global_init, the first time (by reference count, shared by every user of libcurl here).
 * false: it failed (nothing to release). */
bool atota_curl_global_acquire(void);

/* Releases one atota_curl_global_acquire: curl_global_cleanup with the last. */
void atota_curl_global_release(void);

/* Points multi's socket and timer callbacks at p (which must outlive multi). */
void atota_curl_poll_install(atota_curl_poll_t *p, CURLM *multi);

/* Fills fds (room for max entries) with libcurl's sockets; returns how many. */
int atota_curl_poll_fds(const atota_curl_poll_t *p, struct pollfd *fds, int max);

/* Milliseconds until libcurl's timer is due (0: now; at most 60000), or -1: no timer. */
int atota_curl_poll_due(const atota_curl_poll_t *p);

/* Lowers *timeout_ms (-1: none) to due (-1: none). */
void atota_curl_lower_timeout(int *timeout_ms, int due);

/* Hands libcurl the events poll found on its sockets in fds (may be NULL; fds libcurl no longer
 * has are skipped), then runs its timer if due. */
void atota_curl_poll_perform(atota_curl_poll_t *p, CURLM *multi, const struct pollfd *fds,
                             int nfds);

/* Whether a libcurl result is a TLS failure (handshake, certificate, CA file, engine). */
bool atota_curl_is_tls_result(CURLcode rc);

#endif
