/*
 * The POSIX HTTP client (port/posix/http.c) against the e2e tests' real server
 * (tests/e2e/lib/http_server.py, started here over plain HTTP and over TLS): what the sink sees
 * for 200, chunked, redirects, Range and If-Range, 416 and 404, and how each fault the server can
 * inject ends (reset, truncation, stall, TLS with no/right/wrong CA, refused connection), cancel
 * and a refusing callback. The server's request log checks what went on the wire. A one-shot
 * server in a thread of this process records a request's whole head: the caller's own headers
 * and the connect-to mapping (the Host the firmware names, the server it reaches).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "port/posix/http.h"
#include "support/loopback.h"
#include "support/tmpdir.h"

#define FILE_SIZE 300000u
#define SERVER    ATOTA_SOURCE_DIR "/tests/e2e/lib/http_server.py"
#define MAKE_CERT ATOTA_SOURCE_DIR "/tests/e2e/lib/make_cert.sh"

typedef struct {
    pid_t pid;
    int port;
    char log[512];
} server_t;

static char g_dir[256];
static uint8_t g_file[FILE_SIZE];
static server_t g_plain, g_tls;
static char g_etag[ATOTA_HTTP_VALIDATOR_MAX];

/* ---- the server ----------------------------------------------------------------------------- */

static int server_start(server_t *s, const char *name, bool tls)
{
    char root[300], cert[300], key[300];
    snprintf(root, sizeof root, "%s/www", g_dir);
    snprintf(cert, sizeof cert, "%s/cert/server.pem", g_dir);
    snprintf(key, sizeof key, "%s/cert/server.key", g_dir);
    snprintf(s->log, sizeof s->log, "%s/%s.log", g_dir, name);
    int p[2];
    if (pipe(p))
        return -1;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        if (tls)
            execlp("python3", "python3", SERVER, "--root", root, "--port", "0", "--log", s->log,
                   "--tls", cert, key, (char *)NULL);
        else
            execlp("python3", "python3", SERVER, "--root", root, "--port", "0", "--log", s->log,
                   (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[128] = "";
    s->port = 0;
    if (f && fgets(line, sizeof line, f))
        sscanf(line, "http_server: listening on %d", &s->port);
    if (f)
        fclose(f);
    if (s->port <= 0) {
        fprintf(stderr, "http_server.py gave no port line (got \"%s\")\n", line);
        return -1;
    }
    return 0;
}

static void server_stop(server_t *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

/* The last line of a server's request log that contains `needle` (static buffer), or "". */
static const char *log_line(const server_t *s, const char *needle)
{
    static char last[1024];
    char line[1024];
    last[0] = '\0';
    FILE *f = fopen(s->log, "r");
    if (!f)
        return last;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            snprintf(last, sizeof last, "%s", line);
    fclose(f);
    return last;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/atota-http-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    char path[400];
    snprintf(path, sizeof path, "%s/www", g_dir);
    mkdir(path, 0755);
    uint32_t x = 0x12345678u;
    for (size_t i = 0; i < FILE_SIZE; i++) {
        x = x * 1103515245u + 12345u;
        g_file[i] = (uint8_t)(x >> 16);
    }
    snprintf(path, sizeof path, "%s/www/app.bin", g_dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(g_file, 1, FILE_SIZE, f) != FILE_SIZE)
        return -1;
    fclose(f);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "bash %s %s/cert >/dev/null && bash %s %s/other >/dev/null",
             MAKE_CERT, g_dir, MAKE_CERT, g_dir);
    if (system(cmd) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    if (server_start(&g_plain, "plain", false) || server_start(&g_tls, "tls", true))
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    server_stop(&g_plain);
    server_stop(&g_tls);
    return fx_rm_tree(g_dir) == 0 ? 0 : -1;
}

/* ---- a one-shot server in a thread: records one request's head, answers "ok" ------------- */

typedef struct {
    int listen_fd, port;
    pthread_t thread;
    char head[4096]; /* the request up to its blank line (read after head_server_join) */
} head_server_t;

static void *head_server_main(void *arg)
{
    head_server_t *s = arg;
    struct pollfd p = {s->listen_fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0)
        return NULL;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t len = 0;
    while (len + 1 < sizeof s->head && !strstr(s->head, "\r\n\r\n")) {
        struct pollfd q = {fd, POLLIN, 0};
        if (poll(&q, 1, 10000) <= 0)
            break;
        ssize_t n = recv(fd, s->head + len, sizeof s->head - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        s->head[len] = '\0';
    }
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    send(fd, answer, sizeof answer - 1, MSG_NOSIGNAL);
    close(fd);
    return NULL;
}

static void head_server_start(head_server_t *s)
{
    memset(s, 0, sizeof *s);
    uint16_t port = 0;
    s->listen_fd = fx_loopback_listen(4, &port);
    s->port = port;
    assert_int_equal(pthread_create(&s->thread, NULL, head_server_main, s), 0);
}

static void head_server_join(head_server_t *s)
{
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

/* ---- a recording sink and the loop ---------------------------------------------------------- */

typedef struct {
    atota_http_posix_t *h;
    unsigned headers, dones;
    atota_http_response_t response;
    uint8_t *body;
    size_t len;
    atota_err_t err;
    char msg[512];
    /* behaviour */
    atota_err_t refuse_headers; /* on_headers returns this */
    size_t refuse_body_at;      /* on_body returns ATOTA_ERR_IO once this many bytes arrived */
    size_t cancel_in_body_at;   /* on_body calls cancel() once this many bytes arrived */
    uint64_t done_at;
} rec_t;

static atota_err_t rec_headers(void *ctx, const atota_http_response_t *r)
{
    rec_t *rec = ctx;
    rec->headers++;
    rec->response = *r;
    return rec->refuse_headers;
}

static atota_err_t rec_body(void *ctx, const uint8_t *data, size_t len)
{
    rec_t *rec = ctx;
    if (rec->len + len <= 2 * FILE_SIZE)
        memcpy(rec->body + rec->len, data, len);
    rec->len += len;
    if (rec->refuse_body_at && rec->len >= rec->refuse_body_at)
        return ATOTA_ERR_IO;
    if (rec->cancel_in_body_at && rec->len >= rec->cancel_in_body_at) {
        atota_http_t t = atota_http_posix_iface(rec->h);
        t.ops->cancel(t.ctx);
    }
    return ATOTA_OK;
}

static void rec_done(void *ctx, atota_err_t err, const char *msg)
{
    rec_t *rec = ctx;
    rec->dones++;
    rec->err = err;
    rec->done_at = fx_mono_ms();
    snprintf(rec->msg, sizeof rec->msg, "%s", msg ? msg : "(null)");
}

static const atota_http_sink_t sink = {rec_headers, rec_body, rec_done};

typedef struct {
    atota_http_posix_t *h;
    rec_t rec;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f || !(f->h = atota_http_posix_new()) || !(f->rec.body = malloc(2 * FILE_SIZE)))
        return -1;
    f->rec.h = f->h;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    atota_http_posix_free(f->h);
    free(f->rec.body);
    free(f);
    return 0;
}

/* A fresh recorder for the next GET (the body buffer kept). */
static void rec_reset(fixture_t *f)
{
    uint8_t *body = f->rec.body;
    memset(&f->rec, 0, sizeof f->rec);
    f->rec.h = f->h;
    f->rec.body = body;
}

/* Runs the loop until on_done or max_ms; cancel_at_len > 0: cancel() from the loop once that
 * many body bytes arrived. Then runs it 200 ms more to catch a second on_done. */
static void drive(fixture_t *f, uint64_t max_ms, size_t cancel_at_len)
{
    uint64_t t0 = fx_mono_ms(), stop = 0;
    while (fx_mono_ms() - t0 < max_ms) {
        if (f->rec.dones && !stop)
            stop = fx_mono_ms() + 200;
        if (stop && fx_mono_ms() >= stop)
            break;
        struct pollfd fds[ATOTA_HTTP_POSIX_MAX_POLLFDS];
        int timeout = 50;
        int n = atota_http_posix_pollfds(f->h, fds, ATOTA_HTTP_POSIX_MAX_POLLFDS, &timeout);
        poll(fds, (nfds_t)n, timeout);
        atota_http_posix_perform(f->h, fds, n);
        if (cancel_at_len && f->rec.len >= cancel_at_len && !f->rec.dones) {
            atota_http_t t = atota_http_posix_iface(f->h);
            t.ops->cancel(t.ctx);
            assert_int_equal(f->rec.dones, 1); /* on_done from cancel itself */
        }
    }
}

/* GET url (range_from / if_range as given), loop until done; checks on_done came exactly once. */
static void get(fixture_t *f, const char *url, uint64_t range_from, const char *if_range,
                const char *ca_file, uint32_t stall_ms, size_t cancel_at_len)
{
    atota_http_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.url = url;
    rq.range_from = range_from;
    rq.if_range = if_range;
    rq.ca_file = ca_file;
    rq.connect_timeout_ms = 5000;
    rq.stall_timeout_ms = stall_ms ? stall_ms : 10000;
    atota_http_t t = atota_http_posix_iface(f->h);
    atota_err_t err = t.ops->get(t.ctx, &rq, &sink, &f->rec);
    if (err) {
        print_error("get(%s): %s\n", url, atota_strerror(err));
        fail();
    }
    assert_true(atota_http_posix_busy(f->h));
    drive(f, 20000, cancel_at_len);
    if (f->rec.dones != 1) {
        print_error("get(%s): on_done called %u times, expected once\n", url, f->rec.dones);
        fail();
    }
    assert_false(atota_http_posix_busy(f->h));
}

/* GET with the caller's headers (headers: NULL-terminated), loop until done. */
static void get_with_headers(fixture_t *f, const char *url, const char *const *headers)
{
    atota_http_request_t rq;
    memset(&rq, 0, sizeof rq);
    rq.url = url;
    rq.connect_timeout_ms = 5000;
    rq.stall_timeout_ms = 10000;
    rq.headers = headers;
    atota_http_t t = atota_http_posix_iface(f->h);
    assert_int_equal(t.ops->get(t.ctx, &rq, &sink, &f->rec), ATOTA_OK);
    drive(f, 20000, 0);
    assert_int_equal(f->rec.dones, 1);
}

static void expect_err(const rec_t *r, atota_err_t want)
{
    if (r->err != want) {
        print_error("on_done: expected %s, got %s (%s)\n", atota_strerror(want),
                    atota_strerror(r->err), r->msg);
        fail();
    }
}

static void url(char *buf, size_t cap, const server_t *s, const char *scheme, const char *host,
                const char *query)
{
    snprintf(buf, cap, "%s://%s:%d/app.bin%s%s", scheme, host, s->port, query[0] ? "?" : "", query);
}

static void expect_body(const rec_t *r, size_t from, size_t len)
{
    assert_int_equal(r->len, len);
    assert_memory_equal(r->body, g_file + from, len);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_plain_200(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "");
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    assert_int_equal(f->rec.headers, 1);
    assert_int_equal(f->rec.response.status, 200);
    assert_int_equal(f->rec.response.content_length, FILE_SIZE);
    assert_int_equal(f->rec.response.range_start, -1);
    assert_int_equal(f->rec.response.total_length, -1);
    assert_int_equal(f->rec.response.validator[0], '"'); /* the strong ETag */
    snprintf(g_etag, sizeof g_etag, "%s", f->rec.response.validator);
    expect_body(&f->rec, 0, FILE_SIZE);
    /* the wire: esp_http_client's User-Agent, no Range */
    const char *line = log_line(&g_plain, "\"query\": \"\"");
    assert_non_null(strstr(line, "\"user_agent\": \"ESP32 HTTP Client/1.0\""));
    assert_non_null(strstr(line, "\"range\": null"));
}

static void test_chunked(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "chunked=1");
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    assert_int_equal(f->rec.response.status, 200);
    assert_int_equal(f->rec.response.content_length, -1);
    expect_body(&f->rec, 0, FILE_SIZE);
}

static void test_redirects(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "redirect=10&chunked=1");
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    assert_int_equal(f->rec.headers, 1); /* only the final response */
    assert_int_equal(f->rec.response.status, 200);
    expect_body(&f->rec, 0, FILE_SIZE);
    assert_non_null(strstr(log_line(&g_plain, "redirect=10&"), "\"status\": 302"));

    /* one more than esp_http_client's 10 */
    rec_reset(f);
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "redirect=11");
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_ERR_NET_PROTOCOL);
    assert_int_equal(f->rec.headers, 0);
}

static void test_range_206(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "r=1");
    get(f, u, 0, NULL, NULL, 0, 0); /* the validator */
    char etag[ATOTA_HTTP_VALIDATOR_MAX];
    snprintf(etag, sizeof etag, "%s", f->rec.response.validator);
    rec_reset(f);
    get(f, u, 1000, etag, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    assert_int_equal(f->rec.response.status, 206);
    assert_int_equal(f->rec.response.content_length, FILE_SIZE - 1000);
    assert_int_equal(f->rec.response.range_start, 1000);
    assert_int_equal(f->rec.response.total_length, FILE_SIZE);
    assert_string_equal(f->rec.response.validator, etag);
    expect_body(&f->rec, 1000, FILE_SIZE - 1000);
    const char *line = log_line(&g_plain, "\"query\": \"r=1\"");
    assert_non_null(strstr(line, "\"range\": \"bytes=1000-\""));
    assert_non_null(strstr(line, "\"status\": 206"));
    char want[200];
    snprintf(want, sizeof want, "\"if_range\": \"\\\"%.*s\\\"\"", (int)strlen(etag) - 2, etag + 1);
    assert_non_null(strstr(line, want));
}

static void test_if_range_mismatch(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "");
    get(f, u, 5000, "\"another-image\"", NULL, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    assert_int_equal(f->rec.response.status, 200);
    assert_int_equal(f->rec.response.range_start, -1);
    expect_body(&f->rec, 0, FILE_SIZE);
}

static void test_last_modified_validator(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "noetag=1");
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    assert_non_null(strstr(f->rec.response.validator, " GMT"));
    char date[ATOTA_HTTP_VALIDATOR_MAX];
    snprintf(date, sizeof date, "%s", f->rec.response.validator);
    rec_reset(f);
    get(f, u, 200000, date, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    assert_int_equal(f->rec.response.status, 206);
    expect_body(&f->rec, 200000, FILE_SIZE - 200000);
}

static void test_416(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "");
    f->rec.refuse_headers = ATOTA_ERR_HTTP_STATUS; /* as the core does */
    get(f, u, FILE_SIZE, g_etag[0] ? g_etag : NULL, NULL, 0, 0);
    assert_int_equal(f->rec.headers, 1);
    assert_int_equal(f->rec.response.status, 416);
    assert_int_equal(f->rec.len, 0);
    expect_err(&f->rec, ATOTA_ERR_HTTP_STATUS);
}

static void test_404_reported(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "status=404");
    get(f, u, 0, NULL, NULL, 0, 0);
    assert_int_equal(f->rec.headers, 1);
    assert_int_equal(f->rec.response.status, 404);
    expect_err(&f->rec, ATOTA_OK); /* the sink accepted it: the short body, complete */

    rec_reset(f);
    f->rec.refuse_headers = ATOTA_ERR_HTTP_STATUS;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/missing.bin", g_plain.port);
    get(f, u, 0, NULL, NULL, 0, 0);
    assert_int_equal(f->rec.response.status, 404);
    assert_int_equal(f->rec.len, 0);
    expect_err(&f->rec, ATOTA_ERR_HTTP_STATUS);
}

static void test_reset(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "reset=50000:1000");
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_ERR_NET_RESET);
    assert_int_equal(f->rec.response.status, 200);
    expect_body(&f->rec, 0, 50000);
}

static void test_truncate(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "truncate=40000");
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_ERR_NET_RESET);
    expect_body(&f->rec, 0, 40000);

    /* chunked, the last chunk missing */
    rec_reset(f);
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "truncate=40000&chunked=1");
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_ERR_NET_RESET);
    expect_body(&f->rec, 0, 40000);
}

static void test_stall(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "stall=30000");
    uint64_t t0 = fx_mono_ms();
    get(f, u, 0, NULL, NULL, 1000, 0);
    expect_err(&f->rec, ATOTA_ERR_NET_TIMEOUT);
    expect_body(&f->rec, 0, 30000);
    uint64_t ms = f->rec.done_at - t0;
    if (ms < 900 || ms > 4000) {
        print_error("stall of 1 s reported after %llu ms\n", (unsigned long long)ms);
        fail();
    }
}

static void test_https_no_ca(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_tls, "https", "localhost", "");
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    expect_body(&f->rec, 0, FILE_SIZE);
}

static void test_https_right_ca(void **state)
{
    fixture_t *f = *state;
    char u[256], ca[300];
    snprintf(ca, sizeof ca, "%s/cert/ca.pem", g_dir);
    url(u, sizeof u, &g_tls, "https", "localhost", "");
    get(f, u, 0, NULL, ca, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    expect_body(&f->rec, 0, FILE_SIZE);
    rec_reset(f);
    url(u, sizeof u, &g_tls, "https", "127.0.0.1", "chunked=1");
    get(f, u, 0, NULL, ca, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    expect_body(&f->rec, 0, FILE_SIZE);
}

static void test_https_wrong_ca(void **state)
{
    fixture_t *f = *state;
    char u[256], ca[300];
    snprintf(ca, sizeof ca, "%s/other/ca.pem", g_dir);
    url(u, sizeof u, &g_tls, "https", "localhost", "");
    get(f, u, 0, NULL, ca, 0, 0);
    expect_err(&f->rec, ATOTA_ERR_NET_TLS);
    assert_int_equal(f->rec.headers, 0);
    assert_int_equal(f->rec.len, 0);

    /* a CA file that does not exist */
    rec_reset(f);
    snprintf(ca, sizeof ca, "%s/none.pem", g_dir);
    get(f, u, 0, NULL, ca, 0, 0);
    expect_err(&f->rec, ATOTA_ERR_NET_TLS);
}

static void test_connection_refused(void **state)
{
    fixture_t *f = *state;
    /* a port nobody listens on: bound, never listened, closed */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    char u[256];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/app.bin", ntohs(a.sin_port));
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_ERR_NET_CONNECT);
    assert_int_equal(f->rec.headers, 0);
}

static void test_cancel_mid_body(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "slow=300000");
    get(f, u, 0, NULL, NULL, 0, 20000);
    expect_err(&f->rec, ATOTA_ERR_STATE);
    assert_true(f->rec.len >= 20000 && f->rec.len < FILE_SIZE);

    /* from inside on_body */
    rec_reset(f);
    f->rec.cancel_in_body_at = 20000;
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_ERR_STATE);
    assert_true(f->rec.len >= 20000 && f->rec.len < FILE_SIZE);

    /* the client is usable again */
    rec_reset(f);
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "");
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    expect_body(&f->rec, 0, FILE_SIZE);
}

static void test_callback_refuses(void **state)
{
    fixture_t *f = *state;
    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "");
    f->rec.refuse_body_at = 1;
    get(f, u, 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_ERR_IO);
    assert_true(f->rec.len > 0 && f->rec.len < FILE_SIZE);
}

static void test_bad_urls_and_busy(void **state)
{
    fixture_t *f = *state;
    atota_http_t t = atota_http_posix_iface(f->h);
    atota_http_request_t rq;
    memset(&rq, 0, sizeof rq);
    static const char *const bad[] = {"ftp://127.0.0.1/app.bin", "http://", "127.0.0.1/app.bin",
                                      "file:///etc/passwd",      "",        "http://exa mple.com/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rq.url = bad[i];
        atota_err_t err = t.ops->get(t.ctx, &rq, &sink, &f->rec);
        if (err != ATOTA_ERR_NET_URL) {
            print_error("get(\"%s\"): expected NET_URL, got %s\n", bad[i], atota_strerror(err));
            fail();
        }
    }
    assert_int_equal(f->rec.dones, 0);
    t.ops->cancel(t.ctx); /* idle: nothing */
    assert_int_equal(f->rec.dones, 0);

    char u[256];
    url(u, sizeof u, &g_plain, "http", "127.0.0.1", "slow=100000");
    rq.url = u;
    assert_int_equal(t.ops->get(t.ctx, &rq, &sink, &f->rec), ATOTA_OK);
    assert_int_equal(t.ops->get(t.ctx, &rq, &sink, &f->rec), ATOTA_ERR_STATE);
    t.ops->cancel(t.ctx);
    assert_int_equal(f->rec.dones, 1);
    expect_err(&f->rec, ATOTA_ERR_STATE);
    /* freeing with a transfer running (the fixture's teardown) is fine too */
    assert_int_equal(t.ops->get(t.ctx, &rq, &sink, &f->rec), ATOTA_OK);
    drive(f, 100, 0);
}

static void test_request_headers(void **state)
{
    fixture_t *f = *state;
    head_server_t srv;
    head_server_start(&srv);
    char u[256];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/v1/device/rom", srv.port);
    static const char *const headers[] = {"Authorization: token 0123456789abcdef",
                                          "User-Agent: my-agent/2", "X-Empty:", NULL};
    get_with_headers(f, u, headers);
    head_server_join(&srv);
    expect_err(&f->rec, ATOTA_OK);
    assert_int_equal(f->rec.len, 2);
    assert_memory_equal(f->rec.body, "ok", 2);
    if (!strstr(srv.head, "\r\nAuthorization: token 0123456789abcdef\r\n") ||
        !strstr(srv.head, "\r\nUser-Agent: my-agent/2\r\n") ||
        strstr(srv.head, ATOTA_HTTP_POSIX_USER_AGENT) || strstr(srv.head, "X-Empty")) {
        print_error("the request's head:\n%s", srv.head);
        fail();
    }

    /* headers that are not "Name: value" on one line are refused before anything is sent */
    atota_http_t t = atota_http_posix_iface(f->h);
    static const char *const bad[][2] = {
        {"no colon", NULL},       {": no name", NULL},
        {"Bad Name: x", NULL},    {"X-Split: a\r\nX-Injected: b", NULL},
        {"X-Newline: a\n", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        atota_http_request_t rq;
        memset(&rq, 0, sizeof rq);
        rq.url = u;
        rq.headers = bad[i];
        atota_err_t err = t.ops->get(t.ctx, &rq, &sink, &f->rec);
        if (err != ATOTA_ERR_INVALID_ARG) {
            print_error("header \"%s\": expected INVALID_ARG, got %s\n", bad[i][0],
                        atota_err_name(err));
            fail();
        }
        assert_false(atota_http_posix_busy(f->h));
    }
}

static void test_connect_to(void **state)
{
    fixture_t *f = *state;
    head_server_t srv;
    head_server_start(&srv);
    char spec[128];
    snprintf(spec, sizeof spec, "iot.nosuch.invalid:8080:127.0.0.1:%d", srv.port);
    assert_int_equal(atota_http_posix_connect_to(f->h, spec, NULL), ATOTA_OK);
    snprintf(spec, sizeof spec, "files.nosuch.invalid:443:localhost:%d", g_tls.port);
    assert_int_equal(atota_http_posix_connect_to(f->h, spec, NULL), ATOTA_OK);

    /* the firmware's URL reaches the local server, with its own Host */
    get_with_headers(f, "http://iot.nosuch.invalid:8080/v1/device/rom", NULL);
    head_server_join(&srv);
    expect_err(&f->rec, ATOTA_OK);
    assert_memory_equal(f->rec.body, "ok", 2);
    assert_non_null(strstr(srv.head, "GET /v1/device/rom HTTP/1.1\r\n"));
    assert_non_null(strstr(srv.head, "\r\nHost: iot.nosuch.invalid:8080\r\n"));

    /* https, the scheme's default port */
    rec_reset(f);
    get(f, "https://files.nosuch.invalid/app.bin", 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_OK);
    expect_body(&f->rec, 0, FILE_SIZE);

    /* a port with no mapping is not routed */
    rec_reset(f);
    get(f, "http://iot.nosuch.invalid:8081/v1/device/rom", 0, NULL, NULL, 0, 0);
    expect_err(&f->rec, ATOTA_ERR_NET_CONNECT);

    /* a mapping that is not one is refused, with the reason */
    atota_diag_t d = {{0}};
    assert_int_equal(atota_http_posix_connect_to(f->h, "iot.nosuch.invalid:8080:127.0.0.1", &d),
                     ATOTA_ERR_INVALID_ARG);
    assert_non_null(strstr(d.msg, "HOST:PORT:HOST2:PORT2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_200, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_206, setup, teardown),
        cmocka_unit_test_setup_teardown(test_if_range_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_modified_validator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_416, setup, teardown),
        cmocka_unit_test_setup_teardown(test_404_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_https_no_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_https_right_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_https_wrong_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_mid_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_urls_and_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_to, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
