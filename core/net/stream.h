/*
 * The TCP (or TLS) stream interface from the core to a port: what ESP-AT's AT+CIUPDATE does with
 * plain lwIP sockets and esp_tls (esp-at-ota.md §3.2-§3.5): resolve, connect, write the request
 * bytes the core built (core/proto/iot.h), read the answer in pieces, close. The core writes every
 * byte itself, so what goes on the wire is exactly what the core formatted.
 *
 * Event-driven, one connection at a time per stream object: connect() starts; the port calls the
 * sink from the host's event loop (never from another thread while the core runs, and never from
 * inside connect/send/close themselves). The POSIX port is port/posix/stream.h.
 */
#ifndef ATOTA_CORE_NET_STREAM_H
#define ATOTA_CORE_NET_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ATOTA_STREAM_READ_MAX 16384u /* the largest read_max a port must honour */

typedef struct {
    const char *host; /* a host name or an IPv4 literal, as configured in the firmware */
    uint16_t port;
    bool tls;            /* TLS on the connection (SNI = host) */
    const char *ca_file; /* with tls: verify the server against this CA; NULL: no verification,
                            as ESP-AT's esp_tls with a zeroed config (§3.3) */
    uint32_t connect_timeout_ms; /* resolve + connect + TLS handshake; 0: the port's default */
    uint32_t read_max; /* at most this many bytes per on_data call (1..ATOTA_STREAM_READ_MAX):
                          a device's read() buffer (ESP-AT: 1024) */
} atota_stream_connect_t;

typedef struct {
    /* The connection is up (ATOTA_OK) or could not be made: ATOTA_ERR_NET_DNS (the name did not
     * resolve), ATOTA_ERR_NET_CONNECT (refused, unreachable), ATOTA_ERR_NET_TIMEOUT,
     * ATOTA_ERR_NET_TLS (handshake or certificate). msg says more. After an error nothing else is
     * called for this connection. */
    void (*on_connected)(void *ctx, atota_err_t err, const char *msg);
    /* One read: 1..read_max bytes that arrived (valid during the call only). */
    void (*on_data)(void *ctx, const uint8_t *data, size_t len);
    /* The peer closed (ATOTA_OK: a clean end of stream) or the connection failed
     * (ATOTA_ERR_NET_RESET, ATOTA_ERR_NET_TLS). Called once; the stream is then idle. Not called
     * after the core's own close(). */
    void (*on_closed)(void *ctx, atota_err_t err, const char *msg);
} atota_stream_sink_t;

typedef struct {
    /* Starts a connection. Strings are copied. ATOTA_ERR_STATE when one is open or opening;
     * ATOTA_ERR_INVALID_ARG for a missing host, port 0 or a bad read_max. */
    atota_err_t (*connect)(void *ctx, const atota_stream_connect_t *c,
                           const atota_stream_sink_t *sink, void *sink_ctx);
    /* Queues bytes to send once connected (copied; sent in order, as soon as the socket takes
     * them). ATOTA_ERR_STATE when not connected, ATOTA_ERR_NO_MEM when the queue is full (a port
     * must take at least 4096 bytes queued). */
    atota_err_t (*send)(void *ctx, const void *data, size_t len);
    /* Closes the connection now (or stops the connecting); no callback follows. No-op when idle. */
    void (*close)(void *ctx);
} atota_stream_ops_t;

typedef struct {
    const atota_stream_ops_t *ops;
    void *ctx;
} atota_stream_t;

#endif /* ATOTA_CORE_NET_STREAM_H */
