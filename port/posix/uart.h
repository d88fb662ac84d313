/*
 * UART transports on Linux: how bytes reach a simulated module's AT port, and how a host program
 * (atota at) reaches a module, simulated or real.
 *
 * Server side (atota-sim), docs/atota-sim.md:
 *  - pty: a pseudo-terminal in raw mode; its slave path (/dev/pts/N) is the port. The server
 *    keeps the slave open itself, so clients may close and reopen it at will. Bytes written while
 *    no client has it open wait in the pty's buffer, as in a USB-serial adapter's FIFO.
 *  - TCP: listens on HOST:PORT (port 0 picks a free one). One client at a time, like a UART: a
 *    second client waits in the listen backlog until the first disconnects. Output while no
 *    client is connected is dropped, as on a UART with nothing attached.
 *  - stdio: standard input and output.
 * Output is queued (up to 1 MB) and written without blocking; output that cannot be written for
 * a second (nobody reads the port) is dropped, as a UART transmits whether or not anyone listens.
 *
 * Client side (atota at): "PATH[@BAUD]" (a serial device or a pty, raw 8N1, default 115200) or
 * "tcp:HOST:PORT".
 */
#ifndef ATOTA_PORT_POSIX_UART_H
#define ATOTA_PORT_POSIX_UART_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* ---- server ------------------------------------------------------------------------------- */

typedef enum {
    ATOTA_UART_PTY = 0,
    ATOTA_UART_TCP,
    ATOTA_UART_STDIO,
} atota_uart_kind_t;

#define ATOTA_UART_MAX_POLLFDS 2
#define ATOTA_UART_OUT_MAX     (1u << 20) /* queued output beyond this is dropped */
#define ATOTA_UART_STALL_MS    1000u      /* queued output nobody takes is dropped after this */

typedef struct atota_uart_server atota_uart_server_t;

/* A line for the program's log (a client connected, output dropped); may be NULL. */
typedef void (*atota_uart_log_fn)(void *ctx, const char *line);

/* Opens the server side of a transport. tcp_addr ("HOST:PORT", "[::1]:PORT"; PORT may be 0) is
 * for ATOTA_UART_TCP only. Errors: ATOTA_ERR_INVALID_ARG for a bad address, ATOTA_ERR_IO for what
 * the OS refused, with the reason in diag. *out is freed with atota_uart_server_close. */
atota_err_t atota_uart_server_open(atota_uart_kind_t kind, const char *tcp_addr,
                                   atota_uart_log_fn log, void *log_ctx, atota_uart_server_t **out,
                                   atota_diag_t *diag);

/* Closes the transport and frees it. NULL is fine. */
void atota_uart_server_close(atota_uart_server_t *s);

/* Where a client connects, in the syntax `atota at --port` takes: "/dev/pts/3",
 * "tcp:127.0.0.1:40123" (the chosen port when 0 was asked for), or "stdio". */
const char *atota_uart_server_port(const atota_uart_server_t *s);

/* Fills fds (room for ATOTA_UART_MAX_POLLFDS) with what to poll for now; returns how many. */
unsigned atota_uart_server_pollfds(atota_uart_server_t *s, struct pollfd *fds);

/* After poll() on those fds: accepts a waiting client, writes queued output, and reads received
 * bytes into buf (*got of them, 0 when none). *eof becomes true when the input has ended for
 * good (standard input closed). Returns ATOTA_ERR_IO only for a transport that cannot go on. */
atota_err_t atota_uart_server_service(atota_uart_server_t *s, const struct pollfd *fds,
                                      unsigned nfds, void *buf, size_t cap, size_t *got, bool *eof,
                                      atota_diag_t *diag);

/* Queues bytes for the port and writes what it can at once. Dropped when no client is connected
 * (TCP) or the queue is full. */
void atota_uart_server_write(atota_uart_server_t *s, const void *data, size_t len);

/* Writes queued output that has become writable, and drops output stalled for
 * ATOTA_UART_STALL_MS. Call it now and then even without poll events. */
void atota_uart_server_flush(atota_uart_server_t *s);

/* Whether everything queued has been written (or dropped). */
bool atota_uart_server_drained(const atota_uart_server_t *s);

/* Whether a client is connected (TCP); always true for pty and stdio. */
bool atota_uart_server_connected(const atota_uart_server_t *s);

/* ---- client ------------------------------------------------------------------------------- */

typedef struct atota_uart_client atota_uart_client_t;

#define ATOTA_UART_DEFAULT_BAUD 115200u

/* Opens "PATH[@BAUD]" (raw 8N1, no flow control, stale input discarded) or "tcp:HOST:PORT".
 * Errors: ATOTA_ERR_INVALID_ARG for a bad port string or an unsupported baud rate, ATOTA_ERR_IO
 * when the device cannot be opened or the connection is refused. */
atota_err_t atota_uart_client_open(const char *port, atota_uart_client_t **out, atota_diag_t *diag);

/* Closes and frees. NULL is fine. */
void atota_uart_client_close(atota_uart_client_t *c);

/* Writes all of data, waiting up to timeout_ms for the port to take it. ATOTA_ERR_IO on failure
 * or timeout. */
atota_err_t atota_uart_client_write(atota_uart_client_t *c, const void *data, size_t len,
                                    unsigned timeout_ms, atota_diag_t *diag);

/* Waits up to timeout_ms for bytes and reads what is there (*got, 0 on timeout). ATOTA_ERR_IO
 * when the port failed or the other side closed it. */
atota_err_t atota_uart_client_read(atota_uart_client_t *c, void *buf, size_t cap,
                                   unsigned timeout_ms, size_t *got, atota_diag_t *diag);

#endif /* ATOTA_PORT_POSIX_UART_H */
