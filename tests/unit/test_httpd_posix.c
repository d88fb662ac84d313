/*
 * The POSIX HTTP server port (port/posix/httpd.c) against real clients on loopback: the server
 * runs in this thread, driven by a poll() loop like atota-sim's, with a recording sink that
 * answers as each test scripts it; clients run in threads: raw sockets for byte-exact checks,
 * libcurl for what a real client does (Expect: 100-continue, chunked decoding). What the sink
 * sees for each outcome (a request, its body in pieces, its end, a client that leaves, an idle
 * connection), what goes on the wire for each answer (exact bytes, chunked, 500, status 0, an
 * answer given before the body ended), what the port refuses by itself (411, 414), header
 * lookups, and the life cycle (start, stop with requests in flight, stop from a callback, a port
 * in use).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "port/posix/httpd.h"
#include "support/loopback.h"

#define MAX_MARKS 16
#define WAIT_MS   10000u /* the longest any step may take */

/* How many descriptors this process has open. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* opendir's own */
}

/* ---- the recording sink --------------------------------------------------------------------- */

typedef enum { AT_NEVER, AT_REQUEST, AT_BODY, AT_END } when_t;

typedef struct fixture fixture_t;

typedef struct {
    bool answered;
} mark_t;

typedef struct {
    fixture_t *f;
    /* the script */
    when_t when;              /* when to answer */
    size_t after;             /* AT_BODY: once this many body bytes arrived */
    atota_httpd_response_t r; /* the answer */
    const char *lookup[4];    /* header names looked up in on_request */
    bool stop_in_request;     /* stop() from on_request, */
    bool start_in_request;    /* then start() again */
    atota_err_t start_err;
    /* what happened */
    unsigned requests, bodies, ends, aborts;
    unsigned late; /* callbacks for a request already answered, or with a foreign user */
    bool user_not_null;
    atota_err_t abort_err;
    uint64_t abort_at;
    char method[16], path[1100], query[256];
    int64_t content_length;
    char found[4][64];
    bool present[4];
    uint8_t *body;
    size_t body_len, body_cap;
    mark_t marks[MAX_MARKS];
    unsigned nmarks;
    atota_httpd_request_t *last; /* the last request announced */
} rec_t;

struct fixture {
    atota_httpd_posix_t *h;
    atota_httpd_t it;
    rec_t rec;
    unsigned listens, unlistens;
    uint16_t listen_module_port;
    char listen_url[300];
    uint16_t port; /* the host port of the running server */
    char log[8192];
};

static const atota_httpd_sink_t sink;

static void rec_answer(rec_t *r, atota_httpd_request_t *req)
{
    mark_t *m = req->user;
    m->answered = true;
    r->f->it.ops->respond(r->f->it.ctx, req, &r->r);
}

/* A callback for req: it must be alive and unanswered. */
static void rec_check(rec_t *r, atota_httpd_request_t *req)
{
    mark_t *m = req->user;
    if (!m || m < r->marks || m >= r->marks + MAX_MARKS || m->answered)
        r->late++;
}

static void rec_request(void *ctx, atota_httpd_request_t *req)
{
    rec_t *r = ctx;
    r->requests++;
    if (req->user)
        r->user_not_null = true;
    assert_true(r->nmarks < MAX_MARKS);
    req->user = &r->marks[r->nmarks++];
    r->last = req;
    snprintf(r->method, sizeof r->method, "%s", req->method);
    snprintf(r->path, sizeof r->path, "%s", req->path);
    snprintf(r->query, sizeof r->query, "%s", req->query);
    r->content_length = req->content_length;
    for (unsigned i = 0; i < 4 && r->lookup[i]; i++) {
        const char *v = r->f->it.ops->header(r->f->it.ctx, req, r->lookup[i]);
        r->present[i] = v != NULL;
        snprintf(r->found[i], sizeof r->found[i], "%s", v ? v : "");
    }
    if (r->stop_in_request) {
        r->f->it.ops->stop(r->f->it.ctx);
        if (r->start_in_request)
            r->start_err = r->f->it.ops->start(r->f->it.ctx, 80, &sink, r, NULL);
        return; /* req is gone */
    }
    if (r->when == AT_REQUEST)
        rec_answer(r, req);
}

static void rec_body(void *ctx, atota_httpd_request_t *req, const uint8_t *data, size_t len)
{
    rec_t *r = ctx;
    rec_check(r, req);
    r->bodies++;
    assert_true(len >= 1);
    assert_true(fx_buffer_append(&r->body, &r->body_len, &r->body_cap, data, len));
    if (r->when == AT_BODY && r->body_len >= r->after)
        rec_answer(r, req);
}

static void rec_end(void *ctx, atota_httpd_request_t *req)
{
    rec_t *r = ctx;
    rec_check(r, req);
    r->ends++;
    if (r->when == AT_END)
        rec_answer(r, req);
}

static void rec_abort(void *ctx, atota_httpd_request_t *req, atota_err_t err)
{
    rec_t *r = ctx;
    rec_check(r, req);
    r->aborts++;
    r->abort_err = err;
    r->abort_at = fx_mono_ms();
}

static const atota_httpd_sink_t sink = {rec_request, rec_body, rec_end, rec_abort};

/* ---- the server and its loop ---------------------------------------------------------------- */

static void on_listen(void *ctx, uint16_t module_port, const char *url)
{
    fixture_t *f = ctx;
    f->listen_module_port = module_port;
    if (url) {
        f->listens++;
        snprintf(f->listen_url, sizeof f->listen_url, "%s", url);
    } else {
        f->unlistens++;
    }
}

static void on_log(void *ctx, const char *line)
{
    fixture_t *f = ctx;
    size_t n = strlen(f->log);
    snprintf(f->log + n, sizeof f->log - n, "%s\n", line);
}

static fixture_t *fixture_new(uint16_t host_port, unsigned idle_s)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    atota_httpd_posix_opts_t o = {.host = "127.0.0.1",
                                  .port = host_port,
                                  .idle_timeout_s = idle_s,
                                  .on_listen = on_listen,
                                  .log = on_log,
                                  .ctx = f};
    f->h = atota_httpd_posix_new(&o);
    assert_non_null(f->h);
    f->it = atota_httpd_posix_iface(f->h);
    f->rec.f = f;
    f->rec.when = AT_END;
    return f;
}

/* The port of the running server, from its URL. */
static uint16_t url_port(const char *url)
{
    unsigned p = 0;
    assert_non_null(url);
    assert_int_equal(sscanf(url, "http://127.0.0.1:%u/", &p), 1);
    return (uint16_t)p;
}

static void fixture_start(fixture_t *f)
{
    atota_diag_t d = {{0}};
    atota_err_t err = f->it.ops->start(f->it.ctx, 80, &sink, &f->rec, &d);
    if (err)
        fprintf(stderr, "start: %s\n", atota_diag_text(&d, err));
    assert_int_equal(err, ATOTA_OK);
    f->port = url_port(atota_httpd_posix_url(f->h));
}

/* A fixture whose server already runs. */
static fixture_t *fixture_started(uint16_t host_port, unsigned idle_s)
{
    fixture_t *f = fixture_new(host_port, idle_s);
    fixture_start(f);
    return f;
}

static void fixture_free(fixture_t *f)
{
    atota_httpd_posix_free(f->h);
    free(f->rec.body);
    free(f);
}

/* One turn of the loop: poll the server's sockets (at most max_ms), then run it. */
static void turn(fixture_t *f, int max_ms)
{
    struct pollfd fds[ATOTA_HTTPD_POSIX_MAX_POLLFDS];
    int timeout = max_ms;
    int n = atota_httpd_posix_pollfds(f->h, fds, ATOTA_HTTPD_POSIX_MAX_POLLFDS, &timeout);
    assert_true(n >= 0 && n <= ATOTA_HTTPD_POSIX_MAX_POLLFDS);
    assert_true(timeout >= 0 && timeout <= max_ms);
    if (poll(fds, (nfds_t)n, timeout) < 0)
        assert_int_equal(errno, EINTR);
    atota_httpd_posix_perform(f->h, fds, n);
}

/* Runs the loop until *flag is set (false after WAIT_MS). */
static bool run_until(fixture_t *f, const atomic_bool *flag)
{
    for (uint64_t t0 = fx_mono_ms(); fx_mono_ms() - t0 < WAIT_MS;) {
        if (atomic_load(flag))
            return true;
        turn(f, 20);
    }
    return atomic_load(flag);
}

/* Runs the loop while cond holds, WAIT_MS at the most. */
#define RUN_WHILE(f, cond)                                                                         \
    for (uint64_t t0_ = fx_mono_ms(); (cond) && fx_mono_ms() - t0_ < WAIT_MS;)                     \
    turn(f, 20)

/* Runs the loop for ms milliseconds. */
static void run_for(fixture_t *f, unsigned ms)
{
    for (uint64_t t0 = fx_mono_ms(); fx_mono_ms() - t0 < ms;)
        turn(f, 10);
}

/* ---- a raw client (a thread) ---------------------------------------------------------------- */

typedef enum {
    END_READ,  /* read until the server closes */
    END_CLOSE, /* close (FIN) right after sending */
    END_RESET, /* reset (RST) right after sending */
} end_t;

typedef struct {
    uint16_t port;
    const void *a; /* sent first */
    size_t a_len;
    bool want_continue; /* then read "HTTP/1.1 100 Continue\r\n\r\n" */
    unsigned pause_ms;  /* then wait, and note whether bytes arrived meanwhile */
    const void *b;      /* then send this */
    size_t b_len;
    end_t end;
    /* what happened */
    bool connected, got_continue, early, send_failed, reset;
    uint8_t got[300000];
    size_t got_len;
    atomic_bool done;
    pthread_t thread;
} raw_t;

static bool send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        b += k;
        n -= (size_t)k;
    }
    return true;
}

/* Reads what arrives within ms into c->got; false at the end of the stream (or a reset). */
static bool raw_read(raw_t *c, int fd, unsigned ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, (int)ms) <= 0)
        return true;
    ssize_t n = recv(fd, c->got + c->got_len, sizeof c->got - c->got_len, 0);
    if (n < 0 && errno == ECONNRESET)
        c->reset = true;
    if (n <= 0)
        return false;
    c->got_len += (size_t)n;
    return c->got_len < sizeof c->got;
}

static void *raw_main(void *arg)
{
    raw_t *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = fx_loopback_addr(c->port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        goto out;
    c->connected = true;
    if (c->a_len && !send_all(fd, c->a, c->a_len))
        c->send_failed = true;
    if (c->want_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        for (uint64_t t0 = fx_mono_ms();
             c->got_len < sizeof cont - 1 && fx_mono_ms() - t0 < WAIT_MS && raw_read(c, fd, 100);)
            ;
        c->got_continue = c->got_len >= sizeof cont - 1 && !memcmp(c->got, cont, sizeof cont - 1);
        c->got_len = 0;
    }
    if (c->pause_ms) {
        fx_sleep_ms(c->pause_ms);
        ssize_t n = recv(fd, c->got, sizeof c->got, MSG_DONTWAIT);
        c->early = n != -1 || (errno != EAGAIN && errno != EWOULDBLOCK);
        if (n > 0)
            c->got_len = (size_t)n;
    }
    if (c->b_len && !send_all(fd, c->b, c->b_len))
        c->send_failed = true;
    if (c->end == END_RESET) {
        struct linger lg = {1, 0}; /* close() sends a RST */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    if (c->end == END_READ)
        for (uint64_t t0 = fx_mono_ms(); fx_mono_ms() - t0 < WAIT_MS && raw_read(c, fd, 100);)
            ;
out:
    close(fd);
    atomic_store(&c->done, true);
    return NULL;
}

static raw_t *raw_start(raw_t *c)
{
    assert_int_equal(pthread_create(&c->thread, NULL, raw_main, c), 0);
    return c;
}

/* Runs the server until the client is done, and joins it. */
static void raw_finish(fixture_t *f, raw_t *c)
{
    bool done = run_until(f, &c->done);
    pthread_join(c->thread, NULL);
    assert_true(done);
    assert_true(c->connected);
}

/* A client (not started yet) that sends a_len bytes at a, then reads the answer. */
static raw_t *raw_new_bytes(fixture_t *f, const void *a, size_t a_len)
{
    raw_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->port = f->port;
    c->a = a;
    c->a_len = a_len;
    return c;
}

static raw_t *raw_new(fixture_t *f, const char *request)
{
    return raw_new_bytes(f, request, strlen(request));
}

/* After its first bytes the client waits pause_ms (noting whether an answer came meanwhile), then
 * sends b_len bytes at b. */
static raw_t *raw_then(raw_t *c, unsigned pause_ms, const void *b, size_t b_len)
{
    c->pause_ms = pause_ms;
    c->b = b;
    c->b_len = b_len;
    return c;
}

/* The response as text (it holds no NUL in these tests). */
static const char *got_text(raw_t *c)
{
    if (c->got_len == sizeof c->got)
        c->got_len--;
    c->got[c->got_len] = '\0';
    return (const char *)c->got;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void assert_bytes(const char *what, const char *expected, raw_t *c)
{
    const char *got = got_text(c);
    if (strcmp(got, expected) != 0) {
        fprintf(stderr, "%s:\n--- expected (%zu bytes)\n%s\n--- got (%zu bytes)\n%s\n---\n", what,
                strlen(expected), expected, c->got_len, got);
        fail();
    }
}

/* ---- a libcurl client (a thread) ------------------------------------------------------------ */

typedef struct {
    char url[300];
    const uint8_t *post; /* NULL: GET */
    size_t post_len;
    bool http10;
    /* what happened */
    CURLcode rc;
    long status;
    char headers[4096];
    uint8_t *body;
    size_t body_len;
    atomic_bool done;
    pthread_t thread;
} curl_client_t;

static size_t curl_body(char *p, size_t size, size_t n, void *ud)
{
    curl_client_t *c = ud;
    uint8_t *b = realloc(c->body, c->body_len + size * n + 1);
    if (!b)
        return 0;
    c->body = b;
    memcpy(c->body + c->body_len, p, size * n);
    c->body_len += size * n;
    return size * n;
}

static size_t curl_header(char *p, size_t size, size_t n, void *ud)
{
    curl_client_t *c = ud;
    size_t have = strlen(c->headers);
    snprintf(c->headers + have, sizeof c->headers - have, "%.*s", (int)(size * n), p);
    return size * n;
}

static void *curl_main(void *arg)
{
    curl_client_t *c = arg;
    CURL *e = curl_easy_init();
    struct curl_slist *hs = NULL;
    if (e) {
        curl_easy_setopt(e, CURLOPT_URL, c->url);
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)WAIT_MS);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, curl_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
        if (c->http10)
            curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_0);
        if (c->post) {
            /* as curl does by itself for big bodies: wait for 100 Continue */
            hs = curl_slist_append(hs, "Expect: 100-continue");
            hs = curl_slist_append(hs, "Content-Type: application/octet-stream");
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, hs);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->post);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->post_len);
        }
        c->rc = curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->status);
        curl_easy_cleanup(e);
        curl_slist_free_all(hs);
    } else {
        c->rc = CURLE_FAILED_INIT;
    }
    atomic_store(&c->done, true);
    return NULL;
}

static void curl_run(fixture_t *f, curl_client_t *c, const char *path)
{
    snprintf(c->url, sizeof c->url, "http://127.0.0.1:%u%s", (unsigned)f->port, path);
    assert_int_equal(pthread_create(&c->thread, NULL, curl_main, c), 0);
    bool done = run_until(f, &c->done);
    pthread_join(c->thread, NULL);
    assert_true(done);
}

/* ---- tests: answers on the wire ------------------------------------------------------------- */

static const char getversion[] = "{\"version\":\"1.0\"}";

static void answer_json(rec_t *r, unsigned status, const char *body)
{
    r->r = (atota_httpd_response_t){
        .status = status, .content_type = "application/json", .body = body, .len = strlen(body)};
}

static void test_get_exact_bytes(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    answer_json(&f->rec, 200, getversion);
    raw_t *c = raw_start(raw_new(f, "GET /getversion HTTP/1.1\r\nHost: 192.168.4.1\r\n"
                                    "Connection: close\r\n\r\n"));
    raw_finish(f, c);
    assert_bytes("GET /getversion",
                 "HTTP/1.1 200 OK\r\n"
                 "Connection: close\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: 17\r\n"
                 "\r\n"
                 "{\"version\":\"1.0\"}",
                 c);
    rec_t *r = &f->rec;
    assert_int_equal(r->requests, 1);
    assert_int_equal(r->bodies, 0);
    assert_int_equal(r->ends, 1);
    assert_int_equal(r->aborts, 0);
    assert_int_equal(r->late, 0);
    assert_false(r->user_not_null);
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->path, "/getversion");
    assert_string_equal(r->query, "");
    assert_int_equal(r->content_length, -1);
    free(c);
    fixture_free(f);
}

/* The path and the query as sent: split at '?', nothing decoded. */
static void test_path_and_query_raw(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    answer_json(&f->rec, 404, "{}");
    raw_t *c = raw_start(raw_new(f, "GET /a%20b/c?x=1&y=%41+b HTTP/1.1\r\nHost: h\r\n"
                                    "Connection: close\r\n\r\n"));
    raw_finish(f, c);
    assert_string_equal(f->rec.path, "/a%20b/c");
    assert_string_equal(f->rec.query, "x=1&y=%41+b");
    assert_non_null(strstr(got_text(c), "HTTP/1.1 404 Not Found\r\n"));
    free(c);
    fixture_free(f);
}

/* Two requests on one connection (keep-alive), each answered. */
static void test_keep_alive(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    answer_json(&f->rec, 200, getversion);
    raw_t *c = raw_start(raw_new(f, "GET /getversion HTTP/1.1\r\nHost: h\r\n\r\n"
                                    "GET /getversion?again HTTP/1.1\r\nHost: h\r\n"
                                    "Connection: close\r\n\r\n"));
    raw_finish(f, c);
    const char *got = got_text(c);
    const char *second = strstr(got + 1, "HTTP/1.1 200 OK\r\n");
    assert_true(starts_with(got, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(second);
    const char *closing = strstr(got, "Connection: close\r\n"); /* the second's only */
    assert_true(closing && closing > second);
    assert_int_equal(f->rec.requests, 2);
    assert_int_equal(f->rec.ends, 2);
    assert_string_equal(f->rec.query, "again");
    free(c);
    fixture_free(f);
}

/* chunked = true: Transfer-Encoding: chunked, no Content-Length, the body framed in chunks. */
static void test_chunked_response(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    f->rec.r = (atota_httpd_response_t){
        .status = 200, .content_type = "text/html", .body = "hello", .len = 5, .chunked = true};
    raw_t *c = raw_start(raw_new(f, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
    raw_finish(f, c);
    assert_bytes("chunked GET /",
                 "HTTP/1.1 200 OK\r\n"
                 "Connection: close\r\n"
                 "Content-Type: text/html\r\n"
                 "Transfer-Encoding: chunked\r\n"
                 "\r\n"
                 "5\r\nhello\r\n0\r\n\r\n",
                 c);
    free(c);

    /* a big one, decoded by libcurl */
    size_t n = 100000;
    uint8_t *big = fx_pattern(n);
    f->rec.r = (atota_httpd_response_t){
        .status = 200, .content_type = "text/html", .body = big, .len = n, .chunked = true};
    curl_client_t cc = {0};
    curl_run(f, &cc, "/");
    assert_int_equal(cc.rc, CURLE_OK);
    assert_int_equal(cc.status, 200);
    assert_non_null(strstr(cc.headers, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(cc.headers, "Content-Length"));
    assert_int_equal(cc.body_len, n);
    assert_memory_equal(cc.body, big, n);
    free(cc.body);

    /* an HTTP/1.0 client: the body unframed, up to the close */
    curl_client_t c10 = {.http10 = true};
    curl_run(f, &c10, "/");
    assert_int_equal(c10.rc, CURLE_OK);
    assert_null(strstr(c10.headers, "Transfer-Encoding"));
    assert_int_equal(c10.body_len, n);
    assert_memory_equal(c10.body, big, n);
    free(c10.body);
    free(big);
    fixture_free(f);
}

/* Extra headers go out; no Content-Type without one; an empty body has Content-Length: 0. */
static void test_extra_headers(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    f->rec.r = (atota_httpd_response_t){
        .status = 302,
        .headers = {{"Location", "http://192.168.4.1/"}, {"Cache-Control", "no-store"}}};
    raw_t *c = raw_start(raw_new(f, "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
    raw_finish(f, c);
    const char *got = got_text(c);
    assert_true(starts_with(got, "HTTP/1.1 302 Found\r\n"));
    assert_non_null(strstr(got, "\r\nLocation: http://192.168.4.1/\r\n"));
    assert_non_null(strstr(got, "\r\nCache-Control: no-store\r\n"));
    assert_non_null(strstr(got, "\r\nContent-Length: 0\r\n"));
    assert_null(strstr(got, "Content-Type"));
    assert_null(strstr(got, "Date:"));
    assert_null(strstr(got, "Server:"));
    assert_true(strlen(got) >= 4 && !strcmp(got + strlen(got) - 4, "\r\n\r\n"));
    free(c);
    fixture_free(f);
}

/* No answer by the end of on_end: 500 with an empty body. */
static void test_unanswered_is_500(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    f->rec.when = AT_NEVER;
    raw_t *c = raw_start(raw_new(f, "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
    raw_finish(f, c);
    assert_bytes("unanswered",
                 "HTTP/1.1 500 Internal Server Error\r\n"
                 "Connection: close\r\n"
                 "Content-Length: 0\r\n"
                 "\r\n",
                 c);
    assert_int_equal(f->rec.ends, 1);
    assert_int_equal(f->rec.aborts, 0);
    free(c);
    fixture_free(f);
}

/* Status 0: the connection closes without a byte, and no on_abort follows. */
static void test_status_zero_closes(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    f->rec.r = (atota_httpd_response_t){.status = 0};
    f->rec.when = AT_REQUEST;
    raw_t *c = raw_start(raw_new(f, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"));
    raw_finish(f, c);
    assert_int_equal(c->got_len, 0);
    free(c);

    /* a POST answered 0 at its end (esp_http_server after ESP_FAIL in /setotadata) */
    f->rec.when = AT_END;
    raw_t *p = raw_start(raw_new(f, "POST /setotadata HTTP/1.1\r\nHost: h\r\n"
                                    "Content-Length: 5\r\n\r\nhello"));
    raw_finish(f, p);
    assert_int_equal(p->got_len, 0);
    assert_int_equal(f->rec.requests, 2);
    assert_int_equal(f->rec.ends, 1);
    assert_int_equal(f->rec.body_len, 5);
    assert_int_equal(f->rec.aborts, 0);
    assert_int_equal(f->rec.late, 0);
    free(p);
    fixture_free(f);
}

/* ---- tests: request bodies ------------------------------------------------------------------ */

/* 1 MiB with Expect: 100-continue, as curl sends a big upload: every byte, in pieces. */
static void test_post_big_body(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    answer_json(&f->rec, 200, "{\"state\": 0}");
    size_t n = 1024u * 1024u;
    uint8_t *data = fx_pattern(n);
    curl_client_t cc = {.post = data, .post_len = n};
    curl_run(f, &cc, "/setotadata");
    assert_int_equal(cc.rc, CURLE_OK);
    assert_int_equal(cc.status, 200);
    assert_int_equal(cc.body_len, 12);
    assert_memory_equal(cc.body, "{\"state\": 0}", 12);
    rec_t *r = &f->rec;
    assert_string_equal(r->method, "POST");
    assert_int_equal(r->content_length, (int64_t)n);
    assert_int_equal(r->body_len, n);
    assert_memory_equal(r->body, data, n);
    assert_true(r->bodies >= 2);
    assert_int_equal(r->ends, 1);
    assert_int_equal(r->aborts, 0);
    assert_int_equal(r->late, 0);
    free(cc.body);
    free(data);
    fixture_free(f);
}

/* Expect: 100-continue on the wire: 100 Continue first, then the body, then the answer. */
static void test_expect_continue_bytes(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    answer_json(&f->rec, 200, "{\"state\": 0}");
    raw_t *c = raw_new(f, "POST /setstainfo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n"
                          "Expect: 100-continue\r\nConnection: close\r\n\r\n");
    c->want_continue = true;
    raw_finish(f, raw_start(raw_then(c, 0, "0123456789", 10)));
    assert_true(c->got_continue);
    assert_bytes("after 100 Continue",
                 "HTTP/1.1 200 OK\r\n"
                 "Connection: close\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: 12\r\n"
                 "\r\n"
                 "{\"state\": 0}",
                 c);
    assert_int_equal(f->rec.body_len, 10);
    assert_memory_equal(f->rec.body, "0123456789", 10);
    free(c);
    fixture_free(f);
}

/* An answer given in on_request to a request with a body waits for the body, which is read and
 * dropped: nothing is sent while the client is still sending, no on_body, no on_end. */
static void test_early_answer_waits_for_body(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    answer_json(&f->rec, 404, "{\"state\": 1}");
    f->rec.when = AT_REQUEST;
    size_t n = 200000;
    uint8_t *data = fx_pattern(n);
    char head[200];
    snprintf(head, sizeof head,
             "POST /nowhere HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\nConnection: close\r\n"
             "\r\n",
             n);
    size_t hl = strlen(head);
    uint8_t *first = malloc(hl + n / 2);
    memcpy(first, head, hl);
    memcpy(first + hl, data, n / 2);
    raw_t *c = raw_then(raw_new_bytes(f, first, hl + n / 2), 300, data + n / 2, n - n / 2);
    raw_finish(f, raw_start(c));
    assert_false(c->early);
    assert_false(c->send_failed);
    assert_bytes("the early answer",
                 "HTTP/1.1 404 Not Found\r\n"
                 "Connection: close\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: 12\r\n"
                 "\r\n"
                 "{\"state\": 1}",
                 c);
    assert_int_equal(f->rec.requests, 1);
    assert_int_equal(f->rec.bodies, 0);
    assert_int_equal(f->rec.ends, 0);
    assert_int_equal(f->rec.aborts, 0);
    free(c);

    /* answered in the middle of the body: the pieces stop there */
    f->rec.when = AT_BODY;
    f->rec.after = 1;
    raw_t *m = raw_then(raw_new_bytes(f, first, hl + n / 2), 300, data + n / 2, n - n / 2);
    raw_finish(f, raw_start(m));
    assert_false(m->early);
    assert_true(starts_with(got_text(m), "HTTP/1.1 404 Not Found\r\n"));
    assert_int_equal(f->rec.bodies, 1);
    assert_true(f->rec.body_len >= 1 && f->rec.body_len < n);
    assert_memory_equal(f->rec.body, data, f->rec.body_len);
    assert_int_equal(f->rec.ends, 0);
    assert_int_equal(f->rec.aborts, 0);
    assert_int_equal(f->rec.late, 0);
    free(m);
    free(first);
    free(data);
    fixture_free(f);
}

/* A client that closes (or resets) mid-upload: on_abort(NET_RESET). */
static void test_client_leaves_mid_upload(void **state)
{
    (void)state;
    static const end_t ends[] = {END_CLOSE, END_RESET};
    for (unsigned i = 0; i < 2; i++) {
        fixture_t *f = fixture_new(0, 0);
        fixture_start(f);
        char req[1200];
        int hl = snprintf(req, sizeof req,
                          "POST /setotadata HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n"
                          "Object: ota\r\n\r\n");
        memset(req + hl, 'x', 1000);
        raw_t *c = raw_new_bytes(f, req, (size_t)hl + 1000);
        c->end = ends[i];
        raw_finish(f, raw_start(c));
        RUN_WHILE(f, !f->rec.aborts);
        assert_int_equal(f->rec.requests, 1);
        assert_int_equal(f->rec.aborts, 1);
        assert_int_equal(f->rec.abort_err, ATOTA_ERR_NET_RESET);
        assert_int_equal(f->rec.ends, 0);
        assert_true(f->rec.body_len <= 1000);
        assert_int_equal(f->rec.late, 0);
        free(c);
        fixture_free(f);
    }
}

/* A stalled upload ends after the idle timeout: on_abort(NET_TIMEOUT), the connection closed. */
static void test_idle_timeout(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 1);
    raw_t *c = raw_new(f, "POST /setotadata HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n"
                          "0123456789");
    uint64_t t0 = fx_mono_ms();
    raw_finish(f, raw_start(c));
    uint64_t took = fx_mono_ms() - t0;
    assert_int_equal(f->rec.requests, 1);
    assert_int_equal(f->rec.body_len, 10);
    assert_int_equal(f->rec.aborts, 1);
    assert_int_equal(f->rec.abort_err, ATOTA_ERR_NET_TIMEOUT);
    assert_int_equal(f->rec.ends, 0);
    assert_int_equal(c->got_len, 0);
    if (took < 900 || took > 3500) {
        fprintf(stderr, "the idle timeout of 1 s closed the connection after %llu ms\n",
                (unsigned long long)took);
        fail();
    }
    free(c);
    fixture_free(f);
}

/* ---- tests: what the port refuses itself ---------------------------------------------------- */

static void test_chunked_request_is_411(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    raw_t *c = raw_start(raw_new(f, "POST /setotadata HTTP/1.1\r\nHost: h\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
    raw_finish(f, c);
    assert_bytes("a chunked request",
                 "HTTP/1.1 411 Length Required\r\n"
                 "Connection: close\r\n"
                 "Content-Type: text/html\r\n"
                 "Content-Length: 30\r\n"
                 "\r\n"
                 "Chunked encoding not supported",
                 c);
    assert_non_null(strstr(f->log, "httpd: POST: a chunked request body: 411\n"));
    assert_int_equal(f->rec.requests, 0);
    assert_int_equal(f->rec.aborts, 0);
    free(c);
    fixture_free(f);
}

static void test_long_uri_is_414(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    answer_json(&f->rec, 200, "{}");
    char req[1300];
    /* ATOTA_HTTPD_URI_MAX bytes: taken */
    memset(req, 0, sizeof req);
    strcpy(req, "GET /");
    memset(req + 5, 'a', ATOTA_HTTPD_URI_MAX - 1);
    strcat(req, " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    raw_t *c = raw_start(raw_new(f, req));
    raw_finish(f, c);
    assert_true(starts_with(got_text(c), "HTTP/1.1 200 OK\r\n"));
    assert_int_equal(strlen(f->rec.path), ATOTA_HTTPD_URI_MAX);
    free(c);
    /* one more: 414, and the core never hears of it */
    memset(req, 0, sizeof req);
    strcpy(req, "GET /");
    memset(req + 5, 'a', ATOTA_HTTPD_URI_MAX);
    strcat(req, " HTTP/1.1\r\nHost: h\r\n\r\n");
    c = raw_start(raw_new(f, req));
    raw_finish(f, c);
    assert_bytes("a long request target",
                 "HTTP/1.1 414 URI Too Long\r\n"
                 "Connection: close\r\n"
                 "Content-Type: text/html\r\n"
                 "Content-Length: 15\r\n"
                 "\r\n"
                 "URI is too long",
                 c);
    assert_int_equal(f->rec.requests, 1);
    free(c);
    fixture_free(f);
}

/* ---- tests: headers ------------------------------------------------------------------------- */

static void test_header_lookup(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    answer_json(&f->rec, 200, "{}");
    f->rec.lookup[0] = "object";
    f->rec.lookup[1] = "OBJECT";
    f->rec.lookup[2] = "content-TYPE";
    f->rec.lookup[3] = "X-Missing";
    raw_t *c = raw_start(raw_new(f, "POST /setotadata HTTP/1.1\r\nHost: h\r\nObject: ota\r\n"
                                    "content-type: application/octet-stream;charset=UTF-8\r\n"
                                    "content-length: 3\r\nConnection: close\r\n\r\nabc"));
    raw_finish(f, c);
    rec_t *r = &f->rec;
    assert_true(r->present[0] && r->present[1] && r->present[2]);
    assert_string_equal(r->found[0], "ota");
    assert_string_equal(r->found[1], "ota");
    assert_string_equal(r->found[2], "application/octet-stream;charset=UTF-8");
    assert_false(r->present[3]);
    assert_int_equal(r->content_length, 3);
    assert_int_equal(r->body_len, 3);
    free(c);
    fixture_free(f);
}

/* respond() outside any callback (from the host's loop) while the body is coming: the answer
 * waits for the body; status 0 there closes the connection at the next piece. */
static void test_answer_from_the_loop(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 0);
    f->rec.when = AT_NEVER;
    static const char head[] = "POST /setotadata HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n"
                               "Connection: close\r\n\r\n0123456789";
    static const unsigned statuses[] = {200, 0};
    for (unsigned i = 0; i < 2; i++) {
        raw_t *c = raw_then(raw_new(f, head), 400, "abcdefghij", 10);
        size_t want = f->rec.body_len + 10; /* the first piece; then the loop answers */
        raw_start(c);
        RUN_WHILE(f, f->rec.body_len < want);
        assert_int_equal(f->rec.body_len, want);
        answer_json(&f->rec, statuses[i], "{\"state\": 0}");
        rec_answer(&f->rec, f->rec.last);
        raw_finish(f, c);
        assert_false(c->early);
        if (statuses[i])
            assert_true(starts_with(got_text(c), "HTTP/1.1 200 OK\r\n"));
        else
            assert_int_equal(c->got_len, 0);
        assert_int_equal(f->rec.bodies, i + 1);
        free(c);
    }
    assert_int_equal(f->rec.ends, 0);
    assert_int_equal(f->rec.aborts, 0);
    assert_int_equal(f->rec.late, 0);
    fixture_free(f);
}

/* More clients than ATOTA_HTTPD_POSIX_MAX_CONNECTIONS at once: the extra ones wait (in the
 * listen backlog) until a connection closes, then are served; none is turned away. */
static void test_connection_limit(void **state)
{
    (void)state;
    fixture_t *f = fixture_started(0, 1); /* kept-alive connections close after 1 s idle */
    answer_json(&f->rec, 200, getversion);
    enum { N = ATOTA_HTTPD_POSIX_MAX_CONNECTIONS + 2 };
    raw_t *c[N];
    for (int i = 0; i < N; i++)
        c[i] = raw_start(raw_new(f, "GET /getversion HTTP/1.1\r\nHost: h\r\n\r\n"));
    unsigned most = 0;
    for (uint64_t t0 = fx_mono_ms(); fx_mono_ms() - t0 < WAIT_MS;) {
        bool all = true;
        for (int i = 0; i < N; i++)
            all = all && atomic_load(&c[i]->done);
        if (all)
            break;
        struct pollfd fds[ATOTA_HTTPD_POSIX_MAX_POLLFDS + 1];
        int timeout = 20;
        int n = atota_httpd_posix_pollfds(f->h, fds, ATOTA_HTTPD_POSIX_MAX_POLLFDS + 1, &timeout);
        if ((unsigned)n > most)
            most = (unsigned)n;
        poll(fds, (nfds_t)n, timeout);
        atota_httpd_posix_perform(f->h, fds, n);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(c[i]->thread, NULL);
        if (!starts_with(got_text(c[i]), "HTTP/1.1 200 OK\r\n")) {
            fprintf(stderr, "client %d of %d got (%zu bytes):\n%s\n", i, N, c[i]->got_len,
                    got_text(c[i]));
            fail();
        }
        free(c[i]);
    }
    assert_int_equal(f->rec.requests, N);
    assert_true(most <= ATOTA_HTTPD_POSIX_MAX_POLLFDS);
    fixture_free(f);
}

/* ---- tests: the life cycle ------------------------------------------------------------------ */

static void test_start_stop_states(void **state)
{
    (void)state;
    int fds0 = open_fds();
    fixture_t *f = fixture_new(0, 0);
    assert_null(atota_httpd_posix_url(f->h));
    assert_false(atota_httpd_posix_busy(f->h));
    f->it.ops->stop(f->it.ctx); /* stopped: a no-op */
    assert_int_equal(f->unlistens, 0);
    fixture_start(f);
    assert_true(atota_httpd_posix_busy(f->h));
    assert_int_equal(f->listens, 1);
    assert_int_equal(f->listen_module_port, 80);
    assert_string_equal(f->listen_url, atota_httpd_posix_url(f->h));
    assert_null(strstr(f->log, "libmicrohttpd")); /* MHD took every option without a word */

    atota_diag_t d = {{0}};
    assert_int_equal(f->it.ops->start(f->it.ctx, 81, &sink, &f->rec, &d), ATOTA_ERR_STATE);
    assert_non_null(strstr(d.msg, "already runs"));
    atota_httpd_sink_t partial = sink;
    partial.on_abort = NULL;
    f->it.ops->stop(f->it.ctx);
    assert_int_equal(f->it.ops->start(f->it.ctx, 80, &partial, &f->rec, &d), ATOTA_ERR_INVALID_ARG);
    assert_int_equal(f->unlistens, 1);
    assert_null(atota_httpd_posix_url(f->h));
    assert_false(atota_httpd_posix_busy(f->h));
    int n = 0;
    struct pollfd fds[ATOTA_HTTPD_POSIX_MAX_POLLFDS];
    int timeout = -1;
    n = atota_httpd_posix_pollfds(f->h, fds, ATOTA_HTTPD_POSIX_MAX_POLLFDS, &timeout);
    assert_int_equal(n, 0);
    assert_int_equal(timeout, -1);
    atota_httpd_posix_perform(f->h, NULL, 0);

    /* again, on a fixed port, twice in a row (the port is free again after a stop) */
    fixture_free(f);
    uint16_t port = fx_unused_port();
    f = fixture_new(port, 0);
    for (int i = 0; i < 2; i++) {
        fixture_start(f);
        assert_int_equal(f->port, port);
        answer_json(&f->rec, 200, getversion);
        raw_t *c = raw_start(raw_new(f, "GET /getversion HTTP/1.1\r\nHost: h\r\n"
                                        "Connection: close\r\n\r\n"));
        raw_finish(f, c);
        assert_true(starts_with(got_text(c), "HTTP/1.1 200 OK\r\n"));
        free(c);
        f->it.ops->stop(f->it.ctx);
    }
    fixture_free(f);
    assert_int_equal(open_fds(), fds0);
}

static void test_port_in_use(void **state)
{
    (void)state;
    uint16_t port = 0;
    int busy = fx_loopback_listen(1, &port);
    fixture_t *f = fixture_new(port, 0);
    atota_diag_t d = {{0}};
    assert_int_equal(f->it.ops->start(f->it.ctx, 80, &sink, &f->rec, &d), ATOTA_ERR_IO);
    char want[120];
    snprintf(want, sizeof want,
             "cannot listen on 127.0.0.1:%u for the module's port 80: ", (unsigned)port);
    if (!strstr(d.msg, want) || !strstr(d.msg, "in use")) {
        fprintf(stderr, "diag: %s\n", d.msg);
        fail();
    }
    assert_false(atota_httpd_posix_busy(f->h));
    assert_int_equal(f->listens, 0);
    close(busy);
    fixture_start(f); /* free now */
    fixture_free(f);
}

/* stop() with requests in flight (one uploading, one answered early and draining, one idle
 * kept-alive connection): every connection closes, no callback follows. */
static void test_stop_in_flight(void **state)
{
    (void)state;
    int fds0 = open_fds();
    fixture_t *f = fixture_started(0, 0);
    f->rec.when = AT_NEVER;
    static const char up[] = "POST /setotadata HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n"
                             "\r\n0123456789";
    raw_t *c1 = raw_start(raw_new(f, up));
    RUN_WHILE(f, f->rec.body_len < 10);
    assert_int_equal(f->rec.body_len, 10);
    /* the second: answered at once, its body still coming */
    f->rec.when = AT_REQUEST;
    answer_json(&f->rec, 200, "{}");
    raw_t *c2 = raw_start(raw_new(f, up));
    RUN_WHILE(f, f->rec.requests < 2);
    assert_int_equal(f->rec.requests, 2);
    run_for(f, 50);
    f->it.ops->stop(f->it.ctx);
    assert_int_equal(f->unlistens, 1);
    /* the clients see their connections close; nothing reaches the sink */
    RUN_WHILE(f, !(atomic_load(&c1->done) && atomic_load(&c2->done)));
    pthread_join(c1->thread, NULL);
    pthread_join(c2->thread, NULL);
    assert_int_equal(c1->got_len, 0);
    assert_int_equal(c2->got_len, 0);
    assert_int_equal(f->rec.aborts, 0);
    assert_int_equal(f->rec.ends, 0);
    assert_int_equal(f->rec.late, 0);
    free(c1);
    free(c2);

    /* freed while a request is in flight */
    fixture_start(f);
    f->rec.when = AT_NEVER;
    raw_t *c3 = raw_start(raw_new(f, up));
    RUN_WHILE(f, f->rec.requests < 3);
    assert_int_equal(f->rec.requests, 3);
    unsigned unlistens = f->unlistens;
    atota_httpd_posix_free(f->h);
    f->h = NULL;
    pthread_join(c3->thread, NULL);
    assert_int_equal(f->unlistens, unlistens); /* freeing announces nothing */
    assert_int_equal(f->rec.aborts, 0);
    free(c3);
    free(f->rec.body);
    free(f);
    assert_int_equal(open_fds(), fds0);
}

/* stop() from inside on_request: no further callback for anything of that server; a start()
 * right there listens again on the same fixed port. */
static void test_stop_from_callback(void **state)
{
    (void)state;
    uint16_t port = fx_unused_port();
    fixture_t *f = fixture_new(port, 0);
    fixture_start(f);
    f->rec.stop_in_request = true;
    f->rec.start_in_request = true;
    raw_t *c = raw_start(raw_new(f, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                                    "\r\nhello"));
    raw_finish(f, c);
    assert_int_equal(c->got_len, 0);
    assert_int_equal(f->rec.start_err, ATOTA_OK);
    assert_int_equal(f->rec.requests, 1);
    assert_int_equal(f->rec.bodies, 0);
    assert_int_equal(f->rec.ends, 0);
    assert_int_equal(f->rec.aborts, 0);
    assert_int_equal(f->unlistens, 1);
    assert_int_equal(f->listens, 2);
    assert_int_equal(url_port(atota_httpd_posix_url(f->h)), port);
    free(c);
    /* the new server answers */
    f->rec.stop_in_request = false;
    answer_json(&f->rec, 200, getversion);
    raw_t *g = raw_start(raw_new(f, "GET /getversion HTTP/1.1\r\nHost: h\r\n"
                                    "Connection: close\r\n\r\n"));
    raw_finish(f, g);
    assert_true(starts_with(got_text(g), "HTTP/1.1 200 OK\r\n"));
    assert_int_equal(f->rec.requests, 2);
    free(g);
    fixture_free(f);
}

static void test_parse_listen(void **state)
{
    (void)state;
    char host[64];
    uint16_t port = 1;
    atota_diag_t d = {{0}};
    assert_int_equal(atota_httpd_posix_parse_listen("127.0.0.1:0", host, sizeof host, &port, &d),
                     ATOTA_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 0);
    assert_int_equal(atota_httpd_posix_parse_listen("[::1]:8080", host, sizeof host, &port, &d),
                     ATOTA_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 8080);
    assert_int_equal(atota_httpd_posix_parse_listen(":80", host, sizeof host, &port, &d), ATOTA_OK);
    assert_string_equal(host, "");
    static const char *const bad[] = {"127.0.0.1",   "127.0.0.1:", "127.0.0.1:65536",
                                      "127.0.0.1:x", "[::1:80",    "no.such.host.invalid:80"};
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
        atota_diag_clear(&d);
        assert_int_equal(atota_httpd_posix_parse_listen(bad[i], host, sizeof host, &port, &d),
                         ATOTA_ERR_INVALID_ARG);
        assert_true(d.msg[0] != '\0');
    }
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_exact_bytes),
        cmocka_unit_test(test_path_and_query_raw),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_chunked_response),
        cmocka_unit_test(test_extra_headers),
        cmocka_unit_test(test_unanswered_is_500),
        cmocka_unit_test(test_status_zero_closes),
        cmocka_unit_test(test_post_big_body),
        cmocka_unit_test(test_expect_continue_bytes),
        cmocka_unit_test(test_early_answer_waits_for_body),
        cmocka_unit_test(test_client_leaves_mid_upload),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_chunked_request_is_411),
        cmocka_unit_test(test_long_uri_is_414),
        cmocka_unit_test(test_header_lookup),
        cmocka_unit_test(test_answer_from_the_loop),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_start_stop_states),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_stop_in_flight),
        cmocka_unit_test(test_stop_from_callback),
        cmocka_unit_test(test_parse_listen),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
