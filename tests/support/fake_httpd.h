/*
 * An in-process HTTP-server port for tests (core/net/httpd.h): the test plays the clients. It
 * opens a request (method, URI, headers, Content-Length), hands its body over in pieces of any
 * size, ends it or drops the connection (on_abort with NET_RESET or NET_TIMEOUT), and reads back
 * what the core answered: status, Content-Type, extra headers, framing, body. It holds the core
 * to the port's contract: a request is answered at most once and only while it is open; a body
 * given after the answer is read and dropped by the port, as httpd.h says, without callbacks; a
 * request still unanswered after on_end gets the port's own empty 500; stop drops every request
 * without callbacks, as httpd.h says; callbacks run only from the test's calls, never inside
 * start, stop or respond. Header-only (static inline) for test_cmd_webserver and
 * test_webserver_powercut, and for tests/fuzz/fuzz_webserver.c, which has no cmocka: it defines
 * FAKE_HTTPD_ABORT_ON_FAILURE first, and a broken contract then prints why and abort()s (what
 * libFuzzer reports) where a cmocka test fails.
 */
#ifndef ATOTA_TESTS_SUPPORT_FAKE_HTTPD_H
#define ATOTA_TESTS_SUPPORT_FAKE_HTTPD_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef FAKE_HTTPD_ABORT_ON_FAILURE
#define FAKE_HTTPD_PRINT(...) fprintf(stderr, __VA_ARGS__)
#define FAKE_HTTPD_FAIL()     abort()
#define FAKE_HTTPD_TRUE(c)                                                                         \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fake_httpd: %s:%d: %s is not true\n", __FILE__, __LINE__, #c);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#define FAKE_HTTPD_FALSE(c)    FAKE_HTTPD_TRUE(!(c))
#define FAKE_HTTPD_NON_NULL(p) FAKE_HTTPD_TRUE((p) != NULL)
#else
#include <cmocka.h>
#define FAKE_HTTPD_PRINT    print_error
#define FAKE_HTTPD_FAIL     fail
#define FAKE_HTTPD_TRUE     assert_true
#define FAKE_HTTPD_FALSE    assert_false
#define FAKE_HTTPD_NON_NULL assert_non_null
#endif

#include "core/net/httpd.h"

#define FAKE_HTTPD_MAX_REQ     64
#define FAKE_HTTPD_MAX_HEADERS 8

typedef enum {
    FAKE_HTTPD_OPEN = 0, /* the core may still answer */
    FAKE_HTTPD_ANSWERED, /* respond() was called */
    FAKE_HTTPD_ABORTED,  /* the client went away before an answer (on_abort) */
    FAKE_HTTPD_DROPPED,  /* stop() closed it unanswered */
} fake_httpd_req_state_t;

typedef struct {
    atota_httpd_request_t req; /* what the core sees */
    char method[16];
    char path[ATOTA_HTTPD_URI_MAX + 1];
    char query[ATOTA_HTTPD_URI_MAX + 1];
    char hname[FAKE_HTTPD_MAX_HEADERS][64];
    char hvalue[FAKE_HTTPD_MAX_HEADERS][512];
    unsigned nheaders;
    fake_httpd_req_state_t state;
    bool ended; /* the whole body was given (on_end called, or dropped after the answer) */
    uint64_t body_given;
    /* the answer */
    unsigned status; /* 0 with answered: "close without a response" */
    bool port_500;   /* unanswered after on_end: the port's own 500 */
    char content_type[64];
    bool has_content_type;
    bool chunked;
    char rhname[ATOTA_HTTPD_MAX_HEADERS][64];
    char rhvalue[ATOTA_HTTPD_MAX_HEADERS][256];
    unsigned nrheaders;
    uint8_t *body; /* malloc'd copy, NUL-terminated */
    size_t len;
} fake_httpd_req_t;

typedef struct {
    /* the script */
    atota_err_t start_err; /* start() fails with this (ATOTA_OK: it listens) */
    /* the server */
    bool started;
    uint16_t port; /* the module's port it was started for */
    const atota_httpd_sink_t *sink;
    void *sink_ctx;
    unsigned starts, stops;
    /* the requests, in the order the test opened them */
    fake_httpd_req_t reqs[FAKE_HTTPD_MAX_REQ];
    unsigned count;
} fake_httpd_t;

static inline atota_err_t fake_httpd_start(void *ctx, uint16_t port, const atota_httpd_sink_t *sink,
                                           void *sink_ctx, atota_diag_t *diag)
{
    fake_httpd_t *f = ctx;
    if (f->started)
        return atota_diag_set(diag, ATOTA_ERR_STATE, "already started");
    if (f->start_err)
        return atota_diag_set(diag, f->start_err, "scripted: cannot listen on %u", port);
    f->started = true;
    f->port = port;
    f->sink = sink;
    f->sink_ctx = sink_ctx;
    f->starts++;
    return ATOTA_OK;
}

static inline void fake_httpd_stop(void *ctx)
{
    fake_httpd_t *f = ctx;
    if (!f->started)
        return;
    f->started = false;
    f->stops++;
    for (unsigned i = 0; i < f->count; i++)
        if (f->reqs[i].state == FAKE_HTTPD_OPEN)
            f->reqs[i].state = FAKE_HTTPD_DROPPED;
}

static inline fake_httpd_req_t *fake_httpd_find(fake_httpd_t *f, const atota_httpd_request_t *req)
{
    for (unsigned i = 0; i < f->count; i++)
        if (&f->reqs[i].req == req)
            return &f->reqs[i];
    return NULL;
}

static inline const char *fake_httpd_header(void *ctx, atota_httpd_request_t *req, const char *name)
{
    fake_httpd_req_t *r = fake_httpd_find(ctx, req);
    if (!r || r->state != FAKE_HTTPD_OPEN) {
        FAKE_HTTPD_PRINT("fake_httpd: header(\"%s\") on a request that is not open\n", name);
        FAKE_HTTPD_FAIL();
    }
    for (unsigned i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->hname[i], name) == 0)
            return r->hvalue[i];
    return NULL;
}

static inline void fake_httpd_respond(void *ctx, atota_httpd_request_t *req,
                                      const atota_httpd_response_t *resp)
{
    fake_httpd_t *f = ctx;
    fake_httpd_req_t *r = fake_httpd_find(f, req);
    if (!r || r->state != FAKE_HTTPD_OPEN) {
        FAKE_HTTPD_PRINT("fake_httpd: respond(%u) to a request that is not open (state %d)\n",
                         resp->status, r ? (int)r->state : -1);
        FAKE_HTTPD_FAIL();
    }
    r->state = FAKE_HTTPD_ANSWERED;
    r->status = resp->status;
    r->has_content_type = resp->content_type != NULL;
    snprintf(r->content_type, sizeof r->content_type, "%s",
             resp->content_type ? resp->content_type : "");
    r->chunked = resp->chunked;
    r->nrheaders = 0;
    for (unsigned i = 0; i < ATOTA_HTTPD_MAX_HEADERS && resp->headers[i][0]; i++) {
        snprintf(r->rhname[i], sizeof r->rhname[i], "%s", resp->headers[i][0]);
        snprintf(r->rhvalue[i], sizeof r->rhvalue[i], "%s", resp->headers[i][1]);
        r->nrheaders++;
    }
    free(r->body);
    r->body = malloc(resp->len + 1);
    FAKE_HTTPD_NON_NULL(r->body);
    if (resp->len)
        memcpy(r->body, resp->body, resp->len);
    r->body[resp->len] = '\0';
    r->len = resp->len;
}

static const atota_httpd_ops_t fake_httpd_ops = {fake_httpd_start, fake_httpd_stop,
                                                 fake_httpd_header, fake_httpd_respond};

static inline atota_httpd_t fake_httpd_port(fake_httpd_t *f)
{
    atota_httpd_t h = {&fake_httpd_ops, f};
    return h;
}

/* Frees the answers' bodies and forgets every request (the server stays as it is); none may be
 * open (the core holds those). */
static inline void fake_httpd_clear(fake_httpd_t *f)
{
    for (unsigned i = 0; i < f->count; i++) {
        FAKE_HTTPD_TRUE(f->reqs[i].state != FAKE_HTTPD_OPEN);
        free(f->reqs[i].body);
    }
    memset(f->reqs, 0, sizeof f->reqs);
    f->count = 0;
}

/* A client's request: method, URI ("/path?query"), headers as "Name: value" strings (a NULL ends
 * the list; headers may be NULL), Content-Length (-1: none). on_request runs; returns the
 * request's index. */
static inline unsigned fake_httpd_open(fake_httpd_t *f, const char *method, const char *uri,
                                       const char *const *headers, int64_t content_length)
{
    FAKE_HTTPD_TRUE(f->started);
    FAKE_HTTPD_TRUE(f->count < FAKE_HTTPD_MAX_REQ); /* a long test calls fake_httpd_clear */
    unsigned i = f->count++;
    fake_httpd_req_t *r = &f->reqs[i];
    memset(r, 0, sizeof *r);
    snprintf(r->method, sizeof r->method, "%s", method);
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    FAKE_HTTPD_TRUE(plen < sizeof r->path);
    memcpy(r->path, uri, plen);
    r->path[plen] = '\0';
    snprintf(r->query, sizeof r->query, "%s", q ? q + 1 : "");
    for (unsigned k = 0; headers && headers[k]; k++) {
        FAKE_HTTPD_TRUE(r->nheaders < FAKE_HTTPD_MAX_HEADERS);
        const char *colon = strchr(headers[k], ':');
        FAKE_HTTPD_NON_NULL(colon);
        size_t nlen = (size_t)(colon - headers[k]);
        FAKE_HTTPD_TRUE(nlen < sizeof r->hname[0]);
        memcpy(r->hname[r->nheaders], headers[k], nlen);
        r->hname[r->nheaders][nlen] = '\0';
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t') /* optional whitespace, as an HTTP parser drops it */
            v++;
        snprintf(r->hvalue[r->nheaders], sizeof r->hvalue[0], "%s", v);
        r->nheaders++;
    }
    r->req.method = r->method;
    r->req.path = r->path;
    r->req.query = r->query;
    r->req.content_length = content_length;
    r->req.user = NULL;
    f->sink->on_request(f->sink_ctx, &r->req);
    return i;
}

/* More body: on_body while the request is open, else read and dropped. */
static inline void fake_httpd_body(fake_httpd_t *f, unsigned i, const void *data, size_t len)
{
    fake_httpd_req_t *r = &f->reqs[i];
    FAKE_HTTPD_TRUE(len > 0);
    FAKE_HTTPD_FALSE(r->ended);
    r->body_given += len;
    if (r->req.content_length >= 0)
        FAKE_HTTPD_TRUE(r->body_given <= (uint64_t)r->req.content_length);
    if (r->state == FAKE_HTTPD_OPEN)
        f->sink->on_body(f->sink_ctx, &r->req, (const uint8_t *)data, len);
}

/* The body is complete: on_end while open; an answer is then due, else the port's own 500. */
static inline void fake_httpd_end(fake_httpd_t *f, unsigned i)
{
    fake_httpd_req_t *r = &f->reqs[i];
    FAKE_HTTPD_FALSE(r->ended);
    r->ended = true;
    if (r->state != FAKE_HTTPD_OPEN)
        return;
    f->sink->on_end(f->sink_ctx, &r->req);
    if (r->state == FAKE_HTTPD_OPEN) {
        r->state = FAKE_HTTPD_ANSWERED;
        r->port_500 = true;
        r->status = 500;
    }
}

/* The client went away (NET_RESET) or stalled past the port's idle limit (NET_TIMEOUT) before
 * an answer: on_abort. After an answer the port just closes. */
static inline void fake_httpd_abort(fake_httpd_t *f, unsigned i, atota_err_t err)
{
    fake_httpd_req_t *r = &f->reqs[i];
    r->ended = true;
    if (r->state != FAKE_HTTPD_OPEN)
        return;
    r->state = FAKE_HTTPD_ABORTED;
    f->sink->on_abort(f->sink_ctx, &r->req, err);
}

/* A whole request: open, the body in pieces of `piece` bytes (0: one piece), end. The body's
 * length is the Content-Length unless content_length says otherwise (-1: none; a larger value
 * and the request stays open for more). Returns the index. */
static inline unsigned fake_httpd_send(fake_httpd_t *f, const char *method, const char *uri,
                                       const char *const *headers, const void *body, size_t len,
                                       size_t piece, int64_t content_length)
{
    unsigned i = fake_httpd_open(f, method, uri, headers, content_length);
    const uint8_t *p = body;
    size_t step = piece ? piece : len;
    for (size_t off = 0; off < len; off += step)
        fake_httpd_body(f, i, p + off, len - off < step ? len - off : step);
    if (content_length < 0 || (uint64_t)content_length == len)
        fake_httpd_end(f, i);
    return i;
}

/* The request's answer has this status, Content-Type (NULL: none) and body (NUL-terminated
 * text); else both, readable. */
static inline void fake_httpd_expect(const fake_httpd_t *f, unsigned i, const char *what,
                                     unsigned status, const char *content_type, const char *body)
{
    const fake_httpd_req_t *r = &f->reqs[i];
    bool ok = r->state == FAKE_HTTPD_ANSWERED && !r->port_500 && r->status == status &&
              r->has_content_type == (content_type != NULL) &&
              (!content_type || strcmp(r->content_type, content_type) == 0) &&
              r->len == strlen(body) && (r->len == 0 || memcmp(r->body, body, r->len) == 0);
    if (ok)
        return;
    FAKE_HTTPD_PRINT("%s: expected %u, %s, \"%s\"; got state %d%s, %u, %s, \"%.*s\" (%zu bytes)\n",
                     what, status, content_type ? content_type : "(no type)", body, (int)r->state,
                     r->port_500 ? " (the port's 500)" : "", r->status,
                     r->has_content_type ? r->content_type : "(no type)",
                     (int)(r->len < 400 ? r->len : 400), r->body ? (const char *)r->body : "",
                     r->len);
    FAKE_HTTPD_FAIL();
}

/* The value of an extra response header, NULL when absent. */
static inline const char *fake_httpd_response_header(const fake_httpd_t *f, unsigned i,
                                                     const char *name)
{
    const fake_httpd_req_t *r = &f->reqs[i];
    for (unsigned k = 0; k < r->nrheaders; k++)
        if (strcasecmp(r->rhname[k], name) == 0)
            return r->rhvalue[k];
    return NULL;
}

#endif /* ATOTA_TESTS_SUPPORT_FAKE_HTTPD_H */
