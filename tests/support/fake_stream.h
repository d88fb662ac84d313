/*
 * An in-process stream port for tests (core/net/stream.h): a scripted server per connection. Each
 * connection (0 = the first connect) can fail to connect with a given error, say nothing at all,
 * or answer, once the client's request has arrived, with a reply delivered `chunk` bytes per pump
 * (never more than the client's read_max), then close, stay open, or drop at a byte offset. It
 * records what the client asked: host, port, TLS, and every byte it sent per connection.
 * Callbacks run only from fake_stream_pump, as a host's loop would run them. Header-only.
 */
#ifndef ATOTA_TESTS_SUPPORT_FAKE_STREAM_H
#define ATOTA_TESTS_SUPPORT_FAKE_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/net/stream.h"

#define FAKE_STREAM_MAX_CONN 8
#define FAKE_STREAM_SENT_CAP 2048

typedef struct {
    /* the script, per connection */
    atota_err_t connect_err[FAKE_STREAM_MAX_CONN]; /* ATOTA_OK: the connection comes up */
    bool silent[FAKE_STREAM_MAX_CONN];             /* never answer the connect */
    const uint8_t *reply[FAKE_STREAM_MAX_CONN];    /* sent once the request arrived */
    size_t reply_len[FAKE_STREAM_MAX_CONN];
    size_t drop_at[FAKE_STREAM_MAX_CONN]; /* > 0: close with NET_RESET at this offset */
    bool keep_open[FAKE_STREAM_MAX_CONN]; /* after the reply, say nothing more */
    size_t chunk;                         /* bytes per pump (0: read_max) */
    /* the connection running */
    bool open, up;
    unsigned conn; /* its index */
    size_t pos;
    const atota_stream_sink_t *sink;
    void *sink_ctx;
    uint32_t read_max;
    /* what the client did */
    unsigned connects, closes;
    char host[FAKE_STREAM_MAX_CONN][128];
    uint16_t port[FAKE_STREAM_MAX_CONN];
    bool tls[FAKE_STREAM_MAX_CONN];
    char sent[FAKE_STREAM_MAX_CONN][FAKE_STREAM_SENT_CAP];
    size_t sent_len[FAKE_STREAM_MAX_CONN];
} fake_stream_t;

static inline atota_err_t fake_stream_connect(void *ctx, const atota_stream_connect_t *c,
                                              const atota_stream_sink_t *sink, void *sink_ctx)
{
    fake_stream_t *f = ctx;
    if (f->open)
        return ATOTA_ERR_STATE;
    if (!c->host || c->port == 0 || c->read_max == 0 || c->read_max > ATOTA_STREAM_READ_MAX ||
        f->connects >= FAKE_STREAM_MAX_CONN)
        return ATOTA_ERR_INVALID_ARG;
    unsigned i = f->connects++;
    snprintf(f->host[i], sizeof f->host[i], "%s", c->host);
    f->port[i] = c->port;
    f->tls[i] = c->tls;
    f->open = true;
    f->up = false;
    f->conn = i;
    f->pos = 0;
    f->sink = sink;
    f->sink_ctx = sink_ctx;
    f->read_max = c->read_max;
    return ATOTA_OK;
}

static inline atota_err_t fake_stream_send(void *ctx, const void *data, size_t len)
{
    fake_stream_t *f = ctx;
    if (!f->open || !f->up)
        return ATOTA_ERR_STATE;
    size_t *n = &f->sent_len[f->conn];
    if (*n + len > FAKE_STREAM_SENT_CAP)
        return ATOTA_ERR_NO_MEM;
    memcpy(f->sent[f->conn] + *n, data, len);
    *n += len;
    return ATOTA_OK;
}

static inline void fake_stream_close(void *ctx)
{
    fake_stream_t *f = ctx;
    if (!f->open)
        return;
    f->open = false;
    f->closes++;
}

static const atota_stream_ops_t fake_stream_ops = {fake_stream_connect, fake_stream_send,
                                                   fake_stream_close};

static inline atota_stream_t fake_stream_port(fake_stream_t *f)
{
    atota_stream_t s = {&fake_stream_ops, f};
    return s;
}

/* One step of the running connection: the connect's outcome, or one piece of the reply, or its
 * end. Returns whether a callback was made. */
static inline bool fake_stream_pump(fake_stream_t *f)
{
    if (!f->open)
        return false;
    unsigned i = f->conn;
    if (!f->up) {
        if (f->silent[i])
            return false;
        if (f->connect_err[i]) {
            f->open = false;
            f->sink->on_connected(f->sink_ctx, f->connect_err[i], "scripted connect failure");
            return true;
        }
        f->up = true;
        f->sink->on_connected(f->sink_ctx, ATOTA_OK, "");
        return true;
    }
    if (f->sent_len[i] == 0)
        return false; /* the server waits for the request */
    size_t end = f->reply_len[i];
    if (f->drop_at[i] && f->drop_at[i] < end)
        end = f->drop_at[i];
    if (f->pos >= end) {
        if (f->keep_open[i] && !f->drop_at[i])
            return false;
        f->open = false;
        f->sink->on_closed(f->sink_ctx, f->drop_at[i] ? ATOTA_ERR_NET_RESET : ATOTA_OK,
                           f->drop_at[i] ? "scripted reset" : "");
        return true;
    }
    size_t n = f->chunk ? f->chunk : f->read_max;
    if (n > f->read_max)
        n = f->read_max;
    if (n > end - f->pos)
        n = end - f->pos;
    const uint8_t *p = f->reply[i] + f->pos;
    f->pos += n;
    f->sink->on_data(f->sink_ctx, p, n);
    return true;
}

#endif /* ATOTA_TESTS_SUPPORT_FAKE_STREAM_H */
