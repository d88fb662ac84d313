/*
 * The POSIX TCP/TLS stream port (port/posix/stream.c) against real servers on loopback: a plain
 * TCP server in a thread of this process (it records every byte it receives and answers in
 * scripted pieces), and a TLS server in python3 (its ssl module, with make_cert.sh's test CA)
 * that sends a pattern or hashes what it receives. What the sink sees for each outcome (bytes,
 * reads of at most read_max, the peer's close, DNS, refused, timeout, TLS verification), close()
 * and connect() from inside the callbacks, the send queue, and the connect-to mapping.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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

#include "core/util/hash.h"
#include "port/posix/stream.h"
#include "support/loopback.h"
#include "support/tmpdir.h"

#define MAKE_CERT ATOTA_SOURCE_DIR "/tests/e2e/lib/make_cert.sh"

static char g_dir[256];
static pid_t g_tls_pid;
static int g_tls_port;

/* Whether text occurs in the n bytes at p. */
static bool contains(const uint8_t *p, size_t n, const char *text)
{
    size_t k = strlen(text);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(p + i, text, k))
            return true;
    return false;
}

/* ---- the plain TCP server (a thread) -------------------------------------------------------- */

typedef struct {
    int listen_fd;
    int port;
    pthread_t thread;
    bool started;
    /* the script */
    size_t expect;        /* read this many bytes before answering */
    const uint8_t *reply; /* then write this, */
    size_t reply_len;     /* in pieces of these sizes (0-terminated; NULL: one write), */
    const size_t *pieces; /* piece_ms apart, */
    unsigned piece_ms;    /* then close; with hold, keep reading until the client closes */
    bool hold;            /* (silent: never answer, only read until the client closes; */
    bool silent;          /* reset: 100 ms after the reply, a reset instead of a close) */
    bool reset;
    /* what it saw (read after server_join) */
    uint8_t *got;
    size_t got_len, got_cap;
    bool accepted, client_closed; /* client_closed: a FIN or a reset */
} tcp_server_t;

/* Reads what the client sends into s->got; false once the client closed (or after 10 s). */
static bool server_read(tcp_server_t *s, int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0)
        return false;
    uint8_t buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
        /* a close with bytes still unread in the client's socket is a reset */
        s->client_closed = n == 0 || errno == ECONNRESET;
        return false;
    }
    return fx_buffer_append(&s->got, &s->got_len, &s->got_cap, buf, (size_t)n);
}

static void *server_main(void *arg)
{
    tcp_server_t *s = arg;
    struct pollfd p = {s->listen_fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0)
        return NULL;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    s->accepted = true;
    if (s->silent) {
        while (server_read(s, fd))
            ;
        close(fd);
        return NULL;
    }
    while (s->got_len < s->expect && server_read(s, fd))
        ;
    size_t off = 0;
    for (unsigned i = 0; off < s->reply_len; i++) {
        size_t n = s->pieces && s->pieces[i] ? s->pieces[i] : s->reply_len - off;
        if (n > s->reply_len - off)
            n = s->reply_len - off;
        if (send(fd, s->reply + off, n, MSG_NOSIGNAL) != (ssize_t)n)
            break;
        off += n;
        if (off < s->reply_len && s->piece_ms)
            fx_sleep_ms(s->piece_ms);
    }
    if (s->hold)
        while (server_read(s, fd))
            ;
    if (s->reset) {
        fx_sleep_ms(100);
        struct linger lg = {1, 0}; /* close() sends a RST */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
    return NULL;
}

/* Listens on 127.0.0.1 (a free port) and serves one connection in a thread. */
static void server_start(tcp_server_t *s)
{
    uint16_t port = 0;
    s->listen_fd = fx_loopback_listen(4, &port);
    s->port = port;
    assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
    s->started = true;
}

/* Waits for the server's thread (its connection over) and closes its socket. */
static void server_join(tcp_server_t *s)
{
    if (!s->started)
        return;
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    s->started = false;
}

static void server_free(tcp_server_t *s)
{
    server_join(s);
    free(s->got);
    s->got = NULL;
}

/* ---- the TLS server (python3 ssl) ----------------------------------------------------------- */

/* One connection, one command line:
 *   SEND N PIECE  N pattern bytes in writes of PIECE bytes 10 ms apart, then close
 *   HASH N        wait 300 ms (the client's writes back up), read N bytes, answer
 *                 "<count> <sha256 hex>\n", close */
static const char tls_server_py[] =
    "import hashlib, socket, ssl, sys, threading, time\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n"
    "ls = socket.socket()\n"
    "ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)\n"
    "ls.bind(('127.0.0.1', 0))\n"
    "ls.listen(16)\n"
    "print('tls_server: listening on %d' % ls.getsockname()[1], flush=True)\n"
    "def serve(raw):\n"
    "    try:\n"
    "        c = ctx.wrap_socket(raw, server_side=True)\n"
    "        line = b''\n"
    "        while not line.endswith(b'\\n'):\n"
    "            d = c.recv(1)\n"
    "            if not d:\n"
    "                return\n"
    "            line += d\n"
    "        cmd = line.decode().split()\n"
    "        if cmd[0] == 'SEND':\n"
    "            n, piece = int(cmd[1]), int(cmd[2])\n"
    "            data = bytes((i * 7 + 3) & 255 for i in range(n))\n"
    "            for i in range(0, n, piece):\n"
    "                c.sendall(data[i:i + piece])\n"
    "                time.sleep(0.01)\n"
    "        elif cmd[0] == 'HASH':\n"
    "            n, got, h = int(cmd[1]), 0, hashlib.sha256()\n"
    "            time.sleep(0.3)\n"
    "            while got < n:\n"
    "                d = c.recv(min(65536, n - got))\n"
    "                if not d:\n"
    "                    break\n"
    "                h.update(d)\n"
    "                got += len(d)\n"
    "            c.sendall(('%d %s\\n' % (got, h.hexdigest())).encode())\n"
    "        c.close()\n"
    "    except Exception as e:\n"
    "        sys.stderr.write('tls_server: %s\\n' % e)\n"
    "    finally:\n"
    "        raw.close()\n"
    "while True:\n"
    "    c, _ = ls.accept()\n"
    "    threading.Thread(target=serve, args=(c,), daemon=True).start()\n";

static int tls_server_start(void)
{
    char script[300], cert[300], key[300];
    snprintf(script, sizeof script, "%s/tls_server.py", g_dir);
    snprintf(cert, sizeof cert, "%s/cert/server.pem", g_dir);
    snprintf(key, sizeof key, "%s/cert/server.key", g_dir);
    FILE *f = fopen(script, "w");
    if (!f || fputs(tls_server_py, f) < 0 || fclose(f) != 0)
        return -1;
    int p[2];
    if (pipe(p))
        return -1;
    g_tls_pid = fork();
    if (g_tls_pid < 0)
        return -1;
    if (g_tls_pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execlp("python3", "python3", script, cert, key, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *in = fdopen(p[0], "r");
    char line[128] = "";
    if (in && fgets(line, sizeof line, in))
        sscanf(line, "tls_server: listening on %d", &g_tls_port);
    if (in)
        fclose(in);
    if (g_tls_port <= 0) {
        fprintf(stderr, "tls_server.py gave no port line (got \"%s\")\n", line);
        return -1;
    }
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/atota-stream-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "bash %s %s/cert >/dev/null && bash %s %s/other >/dev/null",
             MAKE_CERT, g_dir, MAKE_CERT, g_dir);
    if (system(cmd) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return tls_server_start();
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_tls_pid > 0) {
        kill(g_tls_pid, SIGTERM);
        waitpid(g_tls_pid, NULL, 0);
    }
    return fx_rm_tree(g_dir) == 0 ? 0 : -1;
}

/* ---- a recording sink and the loop ---------------------------------------------------------- */

typedef struct rec rec_t;
struct rec {
    atota_stream_posix_t *s;
    unsigned connects, datas, closes;
    atota_err_t connect_err, close_err;
    char msg[512];
    uint8_t *data;
    size_t len, cap, max_read;
    uint32_t read_max; /* what each on_data must stay within */
    /* behaviour */
    const char *send_on_connect;        /* sent from on_connected(OK) */
    bool close_in_data;                 /* close() from the first on_data */
    const atota_stream_connect_t *next; /* with close_in_data, or from on_closed: connect() */
    atota_err_t next_err;               /* what that connect() returned */
};

static const atota_stream_sink_t sink;

static void rec_connected(void *ctx, atota_err_t err, const char *msg)
{
    rec_t *r = ctx;
    r->connects++;
    r->connect_err = err;
    snprintf(r->msg, sizeof r->msg, "%s", msg ? msg : "(null)");
    if (!err && r->send_on_connect) {
        atota_stream_t t = atota_stream_posix_iface(r->s);
        assert_int_equal(t.ops->send(t.ctx, r->send_on_connect, strlen(r->send_on_connect)),
                         ATOTA_OK);
    }
}

/* connect() to r->next from inside a callback (the stream is idle by then). */
static void rec_connect_next(rec_t *r)
{
    const atota_stream_connect_t *c = r->next;
    r->next = NULL;
    atota_stream_t t = atota_stream_posix_iface(r->s);
    r->next_err = t.ops->connect(t.ctx, c, &sink, r);
}

static void rec_data(void *ctx, const uint8_t *data, size_t len)
{
    rec_t *r = ctx;
    r->datas++;
    if (len > r->max_read)
        r->max_read = len;
    assert_true(fx_buffer_append(&r->data, &r->len, &r->cap, data, len));
    if (r->close_in_data) {
        r->close_in_data = false;
        atota_stream_t t = atota_stream_posix_iface(r->s);
        t.ops->close(t.ctx);
        if (r->next)
            rec_connect_next(r);
    }
}

static void rec_closed(void *ctx, atota_err_t err, const char *msg)
{
    rec_t *r = ctx;
    r->closes++;
    r->close_err = err;
    snprintf(r->msg, sizeof r->msg, "%s", msg ? msg : "(null)");
    if (r->next)
        rec_connect_next(r);
}

static const atota_stream_sink_t sink = {rec_connected, rec_data, rec_closed};

typedef struct {
    atota_stream_posix_t *s;
    rec_t rec;
    tcp_server_t srv, srv2;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f || !(f->s = atota_stream_posix_new()))
        return -1;
    f->rec.s = f->s;
    *state = f;
    return 0;
}

/* A fresh recorder for the next connection. */
static void rec_reset(fixture_t *f)
{
    free(f->rec.data);
    memset(&f->rec, 0, sizeof f->rec);
    f->rec.s = f->s;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    atota_stream_posix_free(f->s); /* with a connection still open in some tests */
    server_free(&f->srv);
    server_free(&f->srv2);
    free(f->rec.data);
    free(f);
    return 0;
}

typedef bool (*until_fn)(const rec_t *r, size_t arg);

static bool until_connected(const rec_t *r, size_t arg)
{
    return r->connects > arg;
}

static bool until_closed(const rec_t *r, size_t arg)
{
    return r->closes > arg;
}

static bool until_bytes(const rec_t *r, size_t arg)
{
    return r->len >= arg;
}

/* One turn of a host's loop. */
static void loop_once(fixture_t *f, int timeout)
{
    struct pollfd fds[ATOTA_STREAM_POSIX_MAX_POLLFDS];
    int n = atota_stream_posix_pollfds(f->s, fds, ATOTA_STREAM_POSIX_MAX_POLLFDS, &timeout);
    assert_true(n >= 0 && n <= ATOTA_STREAM_POSIX_MAX_POLLFDS);
    poll(fds, (nfds_t)n, timeout);
    atota_stream_posix_perform(f->s, fds, n);
}

/* Runs the loop until `until` holds (false after max_ms). */
static bool drive(fixture_t *f, until_fn until, size_t arg, uint64_t max_ms)
{
    uint64_t t0 = fx_mono_ms();
    while (!until(&f->rec, arg)) {
        if (fx_mono_ms() - t0 > max_ms)
            return false;
        loop_once(f, 50);
    }
    return true;
}

/* Runs the loop for ms: whatever should not happen has its chance to. */
static void settle(fixture_t *f, unsigned ms)
{
    for (uint64_t t0 = fx_mono_ms(); fx_mono_ms() - t0 < ms;)
        loop_once(f, 20);
}

static atota_stream_connect_t request(const char *host, int port, bool tls, const char *ca,
                                      uint32_t read_max)
{
    atota_stream_connect_t c;
    memset(&c, 0, sizeof c);
    c.host = host;
    c.port = (uint16_t)port;
    c.tls = tls;
    c.ca_file = ca;
    c.connect_timeout_ms = 5000;
    c.read_max = read_max;
    return c;
}

static void start(fixture_t *f, const atota_stream_connect_t *c)
{
    f->rec.read_max = c->read_max;
    atota_stream_t t = atota_stream_posix_iface(f->s);
    atota_err_t err = t.ops->connect(t.ctx, c, &sink, &f->rec);
    if (err) {
        print_error("connect(%s:%u): %s\n", c->host, (unsigned)c->port, atota_strerror(err));
        fail();
    }
    assert_true(atota_stream_posix_busy(f->s));
}

static void expect_connect(fixture_t *f, atota_err_t want)
{
    if (!drive(f, until_connected, 0, 15000)) {
        print_error("on_connected never came\n");
        fail();
    }
    if (f->rec.connect_err != want) {
        print_error("on_connected: expected %s, got %s (%s)\n", atota_err_name(want),
                    atota_err_name(f->rec.connect_err), f->rec.msg);
        fail();
    }
}

static void expect_close(fixture_t *f, atota_err_t want)
{
    if (!drive(f, until_closed, 0, 15000)) {
        print_error("on_closed never came (%zu bytes received)\n", f->rec.len);
        fail();
    }
    if (f->rec.close_err != want) {
        print_error("on_closed: expected %s, got %s (%s)\n", atota_err_name(want),
                    atota_err_name(f->rec.close_err), f->rec.msg);
        fail();
    }
    assert_false(atota_stream_posix_busy(f->s));
}

/* Sends n bytes of the pattern in pieces of `piece`, driving the loop while the queue is full. */
static void send_all(fixture_t *f, const uint8_t *data, size_t n, size_t piece)
{
    atota_stream_t t = atota_stream_posix_iface(f->s);
    uint64_t t0 = fx_mono_ms();
    for (size_t off = 0; off < n;) {
        size_t k = n - off < piece ? n - off : piece;
        atota_err_t err = t.ops->send(t.ctx, data + off, k);
        if (err == ATOTA_ERR_NO_MEM) {
            assert_true(fx_mono_ms() - t0 < 20000);
            loop_once(f, 50);
            continue;
        }
        assert_int_equal(err, ATOTA_OK);
        off += k;
    }
}

static void expect_pattern(const uint8_t *got, size_t len, size_t want_len)
{
    if (len != want_len) {
        print_error("expected %zu bytes, got %zu\n", want_len, len);
        fail();
    }
    for (size_t i = 0; i < len; i++)
        if (got[i] != fx_pattern_byte(i)) {
            print_error("byte %zu: expected 0x%02x, got 0x%02x\n", i, fx_pattern_byte(i), got[i]);
            fail();
        }
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_send_exact_bytes(void **state)
{
    fixture_t *f = *state;
    const size_t total = 300000;
    uint8_t *data = fx_pattern(total);
    f->srv.expect = total;
    f->srv.reply = (const uint8_t *)"got it\n";
    f->srv.reply_len = 7;
    f->srv.hold = true;
    server_start(&f->srv);
    atota_stream_connect_t c = request("127.0.0.1", f->srv.port, false, NULL, 1024);
    start(f, &c);
    atota_stream_t t = atota_stream_posix_iface(f->s);
    assert_int_equal(t.ops->send(t.ctx, "x", 1), ATOTA_ERR_STATE); /* not connected yet */
    expect_connect(f, ATOTA_OK);
    /* the whole queue is taken at once, one byte more is not */
    assert_int_equal(t.ops->send(t.ctx, data, ATOTA_STREAM_POSIX_QUEUE_MAX), ATOTA_OK);
    assert_int_equal(t.ops->send(t.ctx, data, 1), ATOTA_ERR_NO_MEM);
    assert_int_equal(t.ops->send(t.ctx, data, 0), ATOTA_OK);
    /* the rest in odd pieces, through the ring as it wraps */
    send_all(f, data + ATOTA_STREAM_POSIX_QUEUE_MAX, total - ATOTA_STREAM_POSIX_QUEUE_MAX, 3001);
    assert_true(drive(f, until_bytes, 7, 15000));
    assert_int_equal(f->rec.len, 7);
    assert_memory_equal(f->rec.data, "got it\n", 7);
    assert_int_equal(f->rec.closes, 0);
    /* the core's close: the server sees it, the sink hears nothing */
    t.ops->close(t.ctx);
    assert_false(atota_stream_posix_busy(f->s));
    t.ops->close(t.ctx); /* idle: nothing */
    server_join(&f->srv);
    assert_true(f->srv.client_closed);
    expect_pattern(f->srv.got, f->srv.got_len, total);
    settle(f, 100);
    assert_int_equal(f->rec.closes, 0);
    assert_int_equal(f->rec.connects, 1);
    free(data);
}

static void test_reply_in_pieces_then_close(void **state)
{
    fixture_t *f = *state;
    static const size_t pieces[] = {700, 1300, 3000, 0};
    uint8_t *reply = fx_pattern(5000);
    f->srv.expect = 5;
    f->srv.reply = reply;
    f->srv.reply_len = 5000;
    f->srv.pieces = pieces;
    f->srv.piece_ms = 30;
    server_start(&f->srv);
    atota_stream_connect_t c = request("127.0.0.1", f->srv.port, false, NULL, 1024);
    f->rec.send_on_connect = "hello";
    start(f, &c);
    expect_connect(f, ATOTA_OK);
    expect_close(f, ATOTA_OK);
    expect_pattern(f->rec.data, f->rec.len, 5000);
    assert_true(f->rec.max_read <= 1024);
    assert_true(f->rec.datas >= 5); /* 5000 bytes in reads of at most 1024 */
    server_join(&f->srv);
    assert_int_equal(f->srv.got_len, 5);
    assert_memory_equal(f->srv.got, "hello", 5);
    settle(f, 100);
    assert_int_equal(f->rec.closes, 1);
    free(reply);
}

static void test_read_max_one(void **state)
{
    fixture_t *f = *state;
    uint8_t *reply = fx_pattern(300);
    f->srv.reply = reply;
    f->srv.reply_len = 300;
    server_start(&f->srv);
    atota_stream_connect_t c = request("127.0.0.1", f->srv.port, false, NULL, 1);
    start(f, &c);
    expect_connect(f, ATOTA_OK);
    expect_close(f, ATOTA_OK);
    expect_pattern(f->rec.data, f->rec.len, 300);
    assert_int_equal(f->rec.datas, 300);
    free(reply);
}

static void test_reset_by_peer(void **state)
{
    fixture_t *f = *state;
    uint8_t *reply = fx_pattern(3000);
    f->srv.reply = reply;
    f->srv.reply_len = 3000;
    f->srv.reset = true;
    server_start(&f->srv);
    atota_stream_connect_t c = request("127.0.0.1", f->srv.port, false, NULL, 1024);
    start(f, &c);
    expect_connect(f, ATOTA_OK);
    expect_close(f, ATOTA_ERR_NET_RESET);
    expect_pattern(f->rec.data, f->rec.len, 3000);
    settle(f, 100);
    assert_int_equal(f->rec.closes, 1);
    free(reply);
}

static void test_dns_failure(void **state)
{
    fixture_t *f = *state;
    atota_stream_connect_t c = request("nosuch.invalid", 80, false, NULL, 1024);
    start(f, &c);
    expect_connect(f, ATOTA_ERR_NET_DNS);
    assert_false(atota_stream_posix_busy(f->s));
    assert_non_null(strstr(f->rec.msg, "nosuch.invalid"));
    settle(f, 100);
    assert_int_equal(f->rec.connects, 1);
    assert_int_equal(f->rec.closes, 0);
}

static void test_connection_refused(void **state)
{
    fixture_t *f = *state;
    atota_stream_connect_t c = request("127.0.0.1", fx_unused_port(), false, NULL, 1024);
    start(f, &c);
    expect_connect(f, ATOTA_ERR_NET_CONNECT);
    assert_false(atota_stream_posix_busy(f->s));
    settle(f, 100);
    assert_int_equal(f->rec.connects, 1);
    assert_int_equal(f->rec.closes, 0);
}

static void test_tls_handshake_timeout(void **state)
{
    fixture_t *f = *state;
    f->srv.silent = true; /* accepts, never answers the ClientHello */
    server_start(&f->srv);
    atota_stream_connect_t c = request("localhost", f->srv.port, true, NULL, 1024);
    c.connect_timeout_ms = 500;
    uint64_t t0 = fx_mono_ms();
    start(f, &c);
    expect_connect(f, ATOTA_ERR_NET_TIMEOUT);
    uint64_t ms = fx_mono_ms() - t0;
    if (ms < 400 || ms > 3000) {
        print_error("a 500 ms connect timeout reported after %llu ms\n", (unsigned long long)ms);
        fail();
    }
    server_join(&f->srv);
    assert_true(f->srv.accepted);
    assert_true(f->srv.client_closed);
    /* the ClientHello: SNI names the host; no ALPN (esp_tls offers none) */
    assert_true(contains(f->srv.got, f->srv.got_len, "localhost"));
    assert_false(contains(f->srv.got, f->srv.got_len, "http/1.1"));
}

static void test_tls_receive(void **state)
{
    fixture_t *f = *state;
    atota_stream_connect_t c = request("localhost", g_tls_port, true, NULL, 1024);
    f->rec.send_on_connect = "SEND 100000 1500\n";
    start(f, &c);
    expect_connect(f, ATOTA_OK);
    expect_close(f, ATOTA_OK);
    expect_pattern(f->rec.data, f->rec.len, 100000);
    assert_true(f->rec.max_read <= 1024);

    /* verified against the right CA */
    char ca[300];
    snprintf(ca, sizeof ca, "%s/cert/ca.pem", g_dir);
    rec_reset(f);
    c = request("localhost", g_tls_port, true, ca, 16384);
    f->rec.send_on_connect = "SEND 50000 7000\n";
    start(f, &c);
    expect_connect(f, ATOTA_OK);
    expect_close(f, ATOTA_OK);
    expect_pattern(f->rec.data, f->rec.len, 50000);
    assert_true(f->rec.max_read <= 16384);
}

static void test_tls_send_large(void **state)
{
    fixture_t *f = *state;
    /* past the socket buffers (the server's receive buffer is small, and it waits before
     * reading): the queue fills and waits for the socket */
    const size_t total = 4000000;
    uint8_t *data = fx_pattern(total);
    char cmd[64], want[128], hex[2 * ATOTA_SHA256_LEN + 1];
    uint8_t digest[ATOTA_SHA256_LEN];
    atota_sha256(data, total, digest);
    snprintf(cmd, sizeof cmd, "HASH %zu\n", total);
    snprintf(want, sizeof want, "%zu %s\n", total, atota_hex(digest, sizeof digest, hex));
    atota_stream_connect_t c = request("localhost", g_tls_port, true, NULL, 1024);
    f->rec.send_on_connect = cmd;
    start(f, &c);
    expect_connect(f, ATOTA_OK);
    send_all(f, data, total, 40000);
    expect_close(f, ATOTA_OK);
    if (f->rec.len != strlen(want) || memcmp(f->rec.data, want, f->rec.len) != 0) {
        print_error("the server hashed something else: expected \"%s\", got \"%.*s\"\n", want,
                    (int)f->rec.len, (const char *)f->rec.data);
        fail();
    }
    free(data);
}

static void test_tls_wrong_ca(void **state)
{
    fixture_t *f = *state;
    char ca[300];
    snprintf(ca, sizeof ca, "%s/other/ca.pem", g_dir);
    atota_stream_connect_t c = request("localhost", g_tls_port, true, ca, 1024);
    start(f, &c);
    expect_connect(f, ATOTA_ERR_NET_TLS);
    assert_false(atota_stream_posix_busy(f->s));

    /* a CA file that does not exist */
    f->rec.connects = 0;
    snprintf(ca, sizeof ca, "%s/none.pem", g_dir);
    c = request("localhost", g_tls_port, true, ca, 1024);
    start(f, &c);
    expect_connect(f, ATOTA_ERR_NET_TLS);
    settle(f, 100);
    assert_int_equal(f->rec.connects, 1);
    assert_int_equal(f->rec.closes, 0);
    assert_int_equal(f->rec.len, 0);
}

static void test_close_inside_on_data(void **state)
{
    fixture_t *f = *state;
    static const size_t pieces[] = {100, 100, 100, 0};
    uint8_t *reply = fx_pattern(300);
    f->srv.reply = reply;
    f->srv.reply_len = 300;
    f->srv.pieces = pieces;
    f->srv.piece_ms = 20;
    f->srv.hold = true;
    server_start(&f->srv);
    atota_stream_connect_t c = request("127.0.0.1", f->srv.port, false, NULL, 1024);
    f->rec.close_in_data = true;
    start(f, &c);
    expect_connect(f, ATOTA_OK);
    assert_true(drive(f, until_bytes, 1, 5000));
    assert_false(atota_stream_posix_busy(f->s));
    settle(f, 300); /* the rest of the reply arrives at a closed stream */
    assert_int_equal(f->rec.datas, 1);
    assert_int_equal(f->rec.len, 100);
    assert_int_equal(f->rec.closes, 0);
    server_join(&f->srv);
    assert_true(f->srv.client_closed);
    free(reply);
}

static void test_connect_inside_callbacks(void **state)
{
    fixture_t *f = *state;
    /* the first connection answers and closes; on_closed connects to the second (as AT+CIUPDATE
     * goes from its query to its download) */
    uint8_t *reply = fx_pattern(2000);
    f->srv.reply = reply;
    f->srv.reply_len = 2000;
    f->srv.expect = 4;
    server_start(&f->srv);
    f->srv2.reply = reply;
    f->srv2.reply_len = 2000;
    f->srv2.expect = 4;
    f->srv2.hold = true;
    server_start(&f->srv2);
    atota_stream_connect_t c1 = request("127.0.0.1", f->srv.port, false, NULL, 512);
    atota_stream_connect_t c2 = request("localhost", f->srv2.port, false, NULL, 512);
    f->rec.send_on_connect = "one\n";
    f->rec.next = &c2;
    start(f, &c1);
    expect_connect(f, ATOTA_OK);
    assert_true(drive(f, until_closed, 0, 10000));
    assert_int_equal(f->rec.close_err, ATOTA_OK);
    assert_int_equal(f->rec.next_err, ATOTA_OK);
    assert_true(atota_stream_posix_busy(f->s)); /* the second one, opening */
    expect_pattern(f->rec.data, f->rec.len, 2000);
    assert_true(drive(f, until_connected, 1, 10000));
    assert_int_equal(f->rec.connect_err, ATOTA_OK);
    assert_true(drive(f, until_bytes, 4000, 10000));
    assert_int_equal(f->rec.len, 4000);
    assert_memory_equal(f->rec.data + 2000, reply, 2000);
    server_join(&f->srv);
    assert_memory_equal(f->srv.got, "one\n", 4);

    /* from inside on_data: close a third connection, connect a fourth (refused) */
    atota_stream_t t = atota_stream_posix_iface(f->s);
    t.ops->close(t.ctx);
    server_join(&f->srv2);
    assert_true(f->srv2.client_closed);
    free(f->srv2.got);
    memset(&f->srv2, 0, sizeof f->srv2);
    f->srv2.reply = reply;
    f->srv2.reply_len = 2000;
    f->srv2.hold = true;
    server_start(&f->srv2);
    size_t before = f->rec.len;
    atota_stream_connect_t c3 = request("127.0.0.1", f->srv2.port, false, NULL, 512);
    atota_stream_connect_t c4 = request("127.0.0.1", fx_unused_port(), false, NULL, 512);
    f->rec.close_in_data = true;
    f->rec.next = &c4;
    start(f, &c3);
    assert_true(drive(f, until_connected, 2, 10000));
    assert_true(drive(f, until_bytes, before + 1, 10000));
    assert_int_equal(f->rec.next_err, ATOTA_OK);
    assert_true(drive(f, until_connected, 3, 10000));
    assert_int_equal(f->rec.connect_err, ATOTA_ERR_NET_CONNECT);
    assert_int_equal(f->rec.len, before + 512); /* one read of the second reply, then closed */
    server_join(&f->srv2);
    assert_true(f->srv2.client_closed);
    settle(f, 100);
    assert_int_equal(f->rec.closes, 1);
    free(reply);
}

static void test_connect_to_mapping(void **state)
{
    fixture_t *f = *state;
    char spec[128];
    f->srv.expect = 5;
    f->srv.reply = (const uint8_t *)"mapped\n";
    f->srv.reply_len = 7;
    server_start(&f->srv);
    snprintf(spec, sizeof spec, "nosuch.example:443:127.0.0.1:%d", f->srv.port);
    assert_int_equal(atota_stream_posix_connect_to(f->s, spec, NULL), ATOTA_OK);
    snprintf(spec, sizeof spec, "nosuch.invalid:8443:localhost:%d", g_tls_port);
    assert_int_equal(atota_stream_posix_connect_to(f->s, spec, NULL), ATOTA_OK);

    /* plain: the firmware's host and port, the local server */
    atota_stream_connect_t c = request("nosuch.example", 443, false, NULL, 1024);
    f->rec.send_on_connect = "hello";
    start(f, &c);
    expect_connect(f, ATOTA_OK);
    expect_close(f, ATOTA_OK);
    assert_int_equal(f->rec.len, 7);
    assert_memory_equal(f->rec.data, "mapped\n", 7);
    server_join(&f->srv);
    assert_memory_equal(f->srv.got, "hello", 5);

    /* TLS through the mapping, unverified as ESP-AT */
    rec_reset(f);
    c = request("nosuch.invalid", 8443, true, NULL, 1024);
    f->rec.send_on_connect = "SEND 3000 1000\n";
    start(f, &c);
    expect_connect(f, ATOTA_OK);
    expect_close(f, ATOTA_OK);
    expect_pattern(f->rec.data, f->rec.len, 3000);

    /* verified: the certificate must name the firmware's host, not the mapped one */
    char ca[300];
    snprintf(ca, sizeof ca, "%s/cert/ca.pem", g_dir);
    f->rec.connects = 0;
    c = request("nosuch.invalid", 8443, true, ca, 1024);
    start(f, &c);
    expect_connect(f, ATOTA_ERR_NET_TLS);

    /* an unmapped port of the same host is not routed */
    f->rec.connects = 0;
    c = request("nosuch.invalid", 444, false, NULL, 1024);
    start(f, &c);
    expect_connect(f, ATOTA_ERR_NET_DNS);
}

static void test_connect_to_specs(void **state)
{
    fixture_t *f = *state;
    static const char *const good[] = {
        "iot.example.com:443:127.0.0.1:8443",
        "iot.example.com:80:localhost:",
        ":443:127.0.0.1:8443",
        "iot.example.com::127.0.0.1:",
        "[::1]:443:[::1]:8443",
        "a_b.example:1:127.0.0.1:65535",
    };
    static const char *const bad[] = {
        "",
        "iot.example.com",
        "iot.example.com:443",
        "iot.example.com:443:127.0.0.1",
        "iot.example.com:443:127.0.0.1:8443:9",
        "iot.example.com:443::",
        "iot.example.com:0:127.0.0.1:8443",
        "iot.example.com:443:127.0.0.1:65536",
        "iot.example.com:https:127.0.0.1:8443",
        "iot.example.com:443:127.0.0.1:-1",
        "iot example.com:443:127.0.0.1:8443",
        "iot.example.com:443:127.0.0.1/x:8443",
        "[::1:443:127.0.0.1:8443",
        "::1:443:127.0.0.1:8443",
        "-iot.example.com:443:127.0.0.1:8443",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        atota_diag_t d = {{0}};
        atota_err_t err = atota_stream_posix_connect_to(f->s, good[i], &d);
        if (err) {
            print_error("connect-to \"%s\" refused: %s\n", good[i], d.msg);
            fail();
        }
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        atota_diag_t d = {{0}};
        atota_err_t err = atota_stream_posix_connect_to(f->s, bad[i], &d);
        if (err != ATOTA_ERR_INVALID_ARG || !d.msg[0]) {
            print_error("connect-to \"%s\": expected INVALID_ARG with a message, got %s (\"%s\")\n",
                        bad[i], atota_err_name(err), d.msg);
            fail();
        }
    }
    atota_diag_t d = {{0}};
    atota_stream_posix_connect_to(f->s, "iot.example.com:443:127.0.0.1:99999", &d);
    assert_non_null(strstr(d.msg, "PORT2 \"99999\""));
    assert_int_equal(atota_stream_posix_connect_to(f->s, NULL, NULL), ATOTA_ERR_INVALID_ARG);
}

static void test_arguments_and_states(void **state)
{
    fixture_t *f = *state;
    atota_stream_t t = atota_stream_posix_iface(f->s);
    atota_stream_connect_t c = request("127.0.0.1", 80, false, NULL, 1024);
    struct {
        const char *host;
        int port;
        uint32_t read_max;
    } bad[] = {
        {NULL, 80, 1024},
        {"", 80, 1024},
        {"127.0.0.1", 0, 1024},
        {"127.0.0.1", 80, 0},
        {"127.0.0.1", 80, ATOTA_STREAM_READ_MAX + 1},
        {"exa mple.com", 80, 1024},
        {"user@example.com", 80, 1024},
        {"example.com/x", 80, 1024},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = request(bad[i].host, bad[i].port, false, NULL, bad[i].read_max);
        atota_err_t err = t.ops->connect(t.ctx, &c, &sink, &f->rec);
        if (err != ATOTA_ERR_INVALID_ARG) {
            print_error("connect(\"%s\", %d, read_max %u): expected INVALID_ARG, got %s\n",
                        bad[i].host ? bad[i].host : "(null)", bad[i].port,
                        (unsigned)bad[i].read_max, atota_err_name(err));
            fail();
        }
        assert_false(atota_stream_posix_busy(f->s));
    }
    assert_int_equal(t.ops->send(t.ctx, "x", 1), ATOTA_ERR_STATE); /* idle */
    t.ops->close(t.ctx);                                           /* idle: nothing */

    /* one connection at a time; close() while opening (in the TLS handshake) stops it, silently */
    f->srv.silent = true;
    server_start(&f->srv);
    c = request("127.0.0.1", f->srv.port, true, NULL, ATOTA_STREAM_READ_MAX);
    start(f, &c);
    assert_int_equal(t.ops->connect(t.ctx, &c, &sink, &f->rec), ATOTA_ERR_STATE);
    settle(f, 200);
    assert_true(atota_stream_posix_busy(f->s));
    assert_int_equal(t.ops->send(t.ctx, "x", 1), ATOTA_ERR_STATE); /* opening */
    t.ops->close(t.ctx);
    assert_false(atota_stream_posix_busy(f->s));
    settle(f, 200);
    assert_int_equal(f->rec.connects, 0);
    server_join(&f->srv);
    assert_true(f->srv.client_closed);

    /* the teardown frees the stream with a connection open */
    free(f->srv.got);
    memset(&f->srv, 0, sizeof f->srv);
    f->srv.hold = true;
    server_start(&f->srv);
    c = request("127.0.0.1", f->srv.port, false, NULL, 1024);
    start(f, &c);
    expect_connect(f, ATOTA_OK);
    assert_int_equal(t.ops->send(t.ctx, "left open", 9), ATOTA_OK);
    settle(f, 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_exact_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_in_pieces_then_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_max_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_by_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_handshake_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_receive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_send_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_wrong_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_inside_on_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_inside_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_to_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_to_specs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arguments_and_states, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
