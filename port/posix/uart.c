/*
 * UART transports on Linux (uart.h): a pty, a TCP socket or standard input/output on the
 * simulator's side; a serial device, a pty or a TCP connection on the host's side.
 */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "port/posix/uart.h"

/* ---- shared --------------------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static atota_err_t os_fail(atota_diag_t *diag, const char *what, const char *subject)
{
    return atota_diag_set(diag, ATOTA_ERR_IO, "%s%s%s: %s", what, subject ? " " : "",
                          subject ? subject : "", strerror(errno));
}

/* The baud-rate constants termios knows (Linux has the high ones). */
static int baud_constant(uint32_t baud, speed_t *out)
{
    static const struct {
        uint32_t baud;
        speed_t speed;
    } rates[] = {
        {9600, B9600},       {19200, B19200},   {38400, B38400},
        {57600, B57600},     {115200, B115200}, {230400, B230400},
#ifdef B460800
        {460800, B460800},
#endif
#ifdef B921600
        {921600, B921600},
#endif
#ifdef B1000000
        {1000000, B1000000},
#endif
#ifdef B1500000
        {1500000, B1500000},
#endif
#ifdef B2000000
        {2000000, B2000000},
#endif
#ifdef B3000000
        {3000000, B3000000},
#endif
#ifdef B4000000
        {4000000, B4000000},
#endif
    };
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (rates[i].baud == baud) {
            *out = rates[i].speed;
            return 0;
        }
    return -1;
}

/* Raw 8N1 without flow control or modem lines, as a UART to an ESP32 is wired. */
static int make_raw(int fd, speed_t speed)
{
    struct termios t;
    if (tcgetattr(fd, &t) != 0)
        return -1;
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB);
#ifdef CRTSCTS
    t.c_cflag &= ~(tcflag_t)CRTSCTS;
#endif
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, speed) != 0 || cfsetospeed(&t, speed) != 0)
        return -1;
    return tcsetattr(fd, TCSANOW, &t);
}

/* Splits "HOST:PORT" or "[V6HOST]:PORT" into host (cap bytes) and port text. */
static int split_host_port(const char *text, char *host, size_t cap, const char **port)
{
    const char *colon;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= cap)
            return -1;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = 0;
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= cap)
            return -1;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = 0;
    }
    *port = colon + 1;
    char *end;
    long p = strtol(*port, &end, 10);
    if (!**port || *end || p < 0 || p > 65535)
        return -1;
    return 0;
}

/* ---- server --------------------------------------------------------------------------------- */

struct atota_uart_server {
    atota_uart_kind_t kind;
    int in_fd, out_fd; /* pty master (both), TCP client (both, -1 none), stdin / stdout */
    int slave_fd;      /* pty: our own hold on the slave */
    int listen_fd;     /* TCP */
    bool tty_input;    /* stdio from a terminal: a lone "\n" becomes "\r\n" */
    bool eof;
    char port[NI_MAXHOST + 128];
    atota_uart_log_fn log;
    void *log_ctx;
    uint8_t *out;
    size_t out_len, out_cap;
    uint64_t stall_since; /* when queued output last made no progress (0: not stalled) */
    uint64_t dropped;
};

static void slog(atota_uart_server_t *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void slog(atota_uart_server_t *s, const char *fmt, ...)
{
    if (!s->log)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->log(s->log_ctx, line);
}

static atota_err_t open_pty(atota_uart_server_t *s, atota_diag_t *diag)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0)
        return os_fail(diag, "cannot open a pty", NULL);
    s->in_fd = s->out_fd = m;
    if (grantpt(m) != 0 || unlockpt(m) != 0)
        return os_fail(diag, "cannot unlock the pty", NULL);
    const char *name = ptsname(m);
    if (!name)
        return os_fail(diag, "cannot name the pty", NULL);
    snprintf(s->port, sizeof s->port, "%s", name);
    /* Holding the slave open keeps the pty alive between clients: without it the master reads
     * EIO and polls POLLHUP whenever no client has the port open. It also keeps the termios
     * settings (raw) across clients. */
    s->slave_fd = open(s->port, O_RDWR | O_NOCTTY);
    if (s->slave_fd < 0)
        return os_fail(diag, "cannot open", s->port);
    if (make_raw(s->slave_fd, B115200) != 0)
        return os_fail(diag, "cannot set raw mode on", s->port);
    if (set_nonblock(m) != 0)
        return os_fail(diag, "cannot configure the pty", NULL);
    return ATOTA_OK;
}

static atota_err_t open_tcp(atota_uart_server_t *s, const char *addr, atota_diag_t *diag)
{
    char host[100];
    const char *port;
    if (!addr || split_host_port(addr, host, sizeof host, &port) != 0)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "'%s' is not HOST:PORT (a port from 0 to 65535)", addr ? addr : "");
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "cannot resolve '%s': %s", host,
                              gai_strerror(rc));
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        errno = saved;
        return os_fail(diag, "cannot listen on", addr);
    }
    s->listen_fd = fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char h[NI_MAXHOST], p[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, h, sizeof h, p, sizeof p,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return os_fail(diag, "cannot name the socket of", addr);
    /* The host as given (a name stays a name), the port as bound (port 0 picks one). */
    const char *shown = host[0] ? host : h;
    bool v6 = strchr(shown, ':') != NULL;
    snprintf(s->port, sizeof s->port, "tcp:%s%s%s:%s", v6 ? "[" : "", shown, v6 ? "]" : "", p);
    if (set_nonblock(fd) != 0)
        return os_fail(diag, "cannot configure the socket of", addr);
    return ATOTA_OK;
}

atota_err_t atota_uart_server_open(atota_uart_kind_t kind, const char *tcp_addr,
                                   atota_uart_log_fn log, void *log_ctx, atota_uart_server_t **out,
                                   atota_diag_t *diag)
{
    *out = NULL;
    atota_uart_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return atota_diag_set(diag, ATOTA_ERR_NO_MEM, "out of memory");
    s->kind = kind;
    s->in_fd = s->out_fd = s->slave_fd = s->listen_fd = -1;
    s->log = log;
    s->log_ctx = log_ctx;
    atota_err_t err = ATOTA_OK;
    switch (kind) {
    case ATOTA_UART_PTY:
        err = open_pty(s, diag);
        break;
    case ATOTA_UART_TCP:
        err = open_tcp(s, tcp_addr, diag);
        break;
    case ATOTA_UART_STDIO:
        s->in_fd = STDIN_FILENO;
        s->out_fd = STDOUT_FILENO;
        s->tty_input = isatty(STDIN_FILENO);
        snprintf(s->port, sizeof s->port, "stdio");
        break;
    default:
        err = atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "unknown transport %d", (int)kind);
    }
    if (err) {
        atota_uart_server_close(s);
        return err;
    }
    *out = s;
    return ATOTA_OK;
}

static void drop_client(atota_uart_server_t *s, const char *why)
{
    if (s->kind != ATOTA_UART_TCP || s->in_fd < 0)
        return;
    close(s->in_fd);
    s->in_fd = s->out_fd = -1;
    s->out_len = 0;
    s->stall_since = 0;
    slog(s, "client disconnected (%s)", why);
}

void atota_uart_server_close(atota_uart_server_t *s)
{
    if (!s)
        return;
    if (s->kind == ATOTA_UART_PTY) {
        if (s->in_fd >= 0)
            close(s->in_fd);
        if (s->slave_fd >= 0)
            close(s->slave_fd);
    } else if (s->kind == ATOTA_UART_TCP) {
        if (s->in_fd >= 0)
            close(s->in_fd);
        if (s->listen_fd >= 0)
            close(s->listen_fd);
    }
    free(s->out);
    free(s);
}

const char *atota_uart_server_port(const atota_uart_server_t *s)
{
    return s->port;
}

bool atota_uart_server_connected(const atota_uart_server_t *s)
{
    return s->kind != ATOTA_UART_TCP || s->in_fd >= 0;
}

bool atota_uart_server_drained(const atota_uart_server_t *s)
{
    return s->out_len == 0;
}

unsigned atota_uart_server_pollfds(atota_uart_server_t *s, struct pollfd *fds)
{
    unsigned n = 0;
    if (s->kind == ATOTA_UART_TCP && s->in_fd < 0) {
        /* One client at a time: the next one waits in the backlog until this one leaves. */
        fds[n++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
        return n;
    }
    if (s->in_fd == s->out_fd) {
        fds[n++] =
            (struct pollfd){.fd = s->in_fd, .events = (short)(POLLIN | (s->out_len ? POLLOUT : 0))};
        return n;
    }
    if (!s->eof)
        fds[n++] = (struct pollfd){.fd = s->in_fd, .events = POLLIN};
    if (s->out_len)
        fds[n++] = (struct pollfd){.fd = s->out_fd, .events = POLLOUT};
    return n;
}

/* Writes as much queued output as the port takes now, without blocking. */
static void write_out(atota_uart_server_t *s)
{
    size_t done = 0;
    while (done < s->out_len && s->out_fd >= 0) {
        size_t n = s->out_len - done;
        if (s->kind == ATOTA_UART_STDIO) {
            /* stdout stays blocking (it is shared with the shell): write only what poll says
             * fits, at most a pipe's atomic size. */
            struct pollfd p = {.fd = s->out_fd, .events = POLLOUT};
            if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
                break;
            if (n > 512)
                n = 512;
        }
        ssize_t w = write(s->out_fd, s->out + done, n);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (s->kind == ATOTA_UART_TCP) {
            drop_client(s, w < 0 ? strerror(errno) : "write failed");
            return;
        }
        /* pty or stdout failing for good: nobody can hear the port; drop what is queued. */
        slog(s, "cannot write to the AT port: %s", w < 0 ? strerror(errno) : "closed");
        done = s->out_len;
        break;
    }
    if (done) {
        memmove(s->out, s->out + done, s->out_len - done);
        s->out_len -= done;
        s->stall_since = 0;
    }
    if (s->out_len && !s->stall_since)
        s->stall_since = now_ms();
}

void atota_uart_server_flush(atota_uart_server_t *s)
{
    if (!s->out_len)
        return;
    write_out(s);
    if (s->out_len && s->stall_since && now_ms() - s->stall_since >= ATOTA_UART_STALL_MS) {
        slog(s, "nobody reads the AT port: %zu bytes of output dropped", s->out_len);
        s->dropped += s->out_len;
        s->out_len = 0;
        s->stall_since = 0;
    }
}

void atota_uart_server_write(atota_uart_server_t *s, const void *data, size_t len)
{
    if (!len || !atota_uart_server_connected(s))
        return; /* a UART with nothing attached */
    if (s->out_len + len > s->out_cap) {
        size_t cap = s->out_cap ? s->out_cap : 4096;
        while (cap < s->out_len + len && cap < ATOTA_UART_OUT_MAX)
            cap *= 2;
        if (cap > ATOTA_UART_OUT_MAX)
            cap = ATOTA_UART_OUT_MAX;
        if (cap != s->out_cap) {
            uint8_t *p = realloc(s->out, cap);
            if (p) {
                s->out = p;
                s->out_cap = cap;
            }
        }
        if (s->out_len + len > s->out_cap) {
            size_t room = s->out_cap - s->out_len;
            slog(s, "AT port output queue full: %zu bytes dropped", len - room);
            len = room;
        }
    }
    if (len) {
        memcpy(s->out + s->out_len, data, len);
        s->out_len += len;
    }
    write_out(s);
}

static void accept_client(atota_uart_server_t *s)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept(s->listen_fd, (struct sockaddr *)&ss, &sl);
    if (fd < 0)
        return; /* gone again (EAGAIN, ECONNABORTED): wait for the next */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (set_nonblock(fd) != 0) {
        close(fd);
        return;
    }
    char h[NI_MAXHOST] = "?", p[NI_MAXSERV] = "?";
    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof h, p, sizeof p,
                NI_NUMERICHOST | NI_NUMERICSERV);
    s->in_fd = s->out_fd = fd;
    s->out_len = 0;
    s->stall_since = 0;
    slog(s, "client connected from %s:%s", h, p);
}

/* stdin from a terminal: typing Enter gives "\n"; ESP-AT wants "\r\n". */
static size_t tty_newlines(uint8_t *buf, size_t n, size_t cap)
{
    size_t extra = 0;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
            extra++;
    if (!extra || n + extra > cap)
        return n;
    size_t j = n + extra;
    for (size_t i = n; i-- > 0;) {
        buf[--j] = buf[i];
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
            buf[--j] = '\r';
    }
    return n + extra;
}

atota_err_t atota_uart_server_service(atota_uart_server_t *s, const struct pollfd *fds,
                                      unsigned nfds, void *buf, size_t cap, size_t *got, bool *eof,
                                      atota_diag_t *diag)
{
    *got = 0;
    *eof = s->eof;
    bool readable = false;
    for (unsigned i = 0; i < nfds; i++) {
        if (!fds[i].revents)
            continue;
        if (s->kind == ATOTA_UART_TCP && fds[i].fd == s->listen_fd) {
            accept_client(s);
            return ATOTA_OK; /* its first bytes come with the next poll */
        }
        if (fds[i].fd == s->in_fd && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            readable = true;
    }
    write_out(s);
    if (!readable || s->in_fd < 0)
        return ATOTA_OK;
    size_t want = s->tty_input ? cap / 2 : cap;
    ssize_t r = read(s->in_fd, buf, want);
    if (r > 0) {
        *got = s->tty_input ? tty_newlines(buf, (size_t)r, cap) : (size_t)r;
        return ATOTA_OK;
    }
    if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return ATOTA_OK;
    switch (s->kind) {
    case ATOTA_UART_TCP:
        drop_client(s, r == 0 ? "closed" : strerror(errno));
        return ATOTA_OK;
    case ATOTA_UART_STDIO:
        s->eof = *eof = true;
        return ATOTA_OK;
    default:
        /* We hold the slave, so the master never sees a hangup: this is a real failure. */
        return os_fail(diag, "cannot read the pty", s->port);
    }
}

/* ---- client --------------------------------------------------------------------------------- */

struct atota_uart_client {
    int fd;
    bool tcp;
};

static atota_err_t client_tcp(atota_uart_client_t *c, const char *addr, atota_diag_t *diag)
{
    char host[100];
    const char *port;
    if (split_host_port(addr, host, sizeof host, &port) != 0 || !host[0])
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "'tcp:%s' is not tcp:HOST:PORT", addr);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot resolve '%s': %s", host,
                              gai_strerror(rc));
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            c->fd = fd;
            break;
        }
        saved = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (c->fd < 0) {
        errno = saved;
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot connect to tcp:%s: %s", addr,
                              strerror(errno));
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->tcp = true;
    return set_nonblock(c->fd) ? os_fail(diag, "cannot configure the connection to", addr)
                               : ATOTA_OK;
}

static atota_err_t client_serial(atota_uart_client_t *c, const char *spec, atota_diag_t *diag)
{
    char path[256];
    uint32_t baud = ATOTA_UART_DEFAULT_BAUD;
    const char *at = strrchr(spec, '@');
    size_t plen = at ? (size_t)(at - spec) : strlen(spec);
    if (!plen || plen >= sizeof path)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "'%s' is not PATH[@BAUD]", spec);
    memcpy(path, spec, plen);
    path[plen] = 0;
    if (at) {
        char *end;
        unsigned long b = strtoul(at + 1, &end, 10);
        if (!at[1] || *end || b == 0 || b > 100000000ul)
            return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "'%s' is not a baud rate", at + 1);
        baud = (uint32_t)b;
    }
    speed_t speed;
    if (baud_constant(baud, &speed) != 0)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "baud rate %u is not supported here",
                              baud);
    c->fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (c->fd < 0)
        return os_fail(diag, "cannot open", path);
    if (!isatty(c->fd))
        return atota_diag_set(diag, ATOTA_ERR_IO, "%s is not a serial port or a pty", path);
    if (make_raw(c->fd, speed) != 0)
        return os_fail(diag, "cannot set raw mode on", path);
    /* Bytes the port received before we opened it are not answers to our commands. */
    tcflush(c->fd, TCIOFLUSH);
    return ATOTA_OK;
}

atota_err_t atota_uart_client_open(const char *port, atota_uart_client_t **out, atota_diag_t *diag)
{
    *out = NULL;
    atota_uart_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return atota_diag_set(diag, ATOTA_ERR_NO_MEM, "out of memory");
    c->fd = -1;
    atota_err_t err =
        !strncmp(port, "tcp:", 4) ? client_tcp(c, port + 4, diag) : client_serial(c, port, diag);
    if (err) {
        atota_uart_client_close(c);
        return err;
    }
    *out = c;
    return ATOTA_OK;
}

void atota_uart_client_close(atota_uart_client_t *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

atota_err_t atota_uart_client_write(atota_uart_client_t *c, const void *data, size_t len,
                                    unsigned timeout_ms, atota_diag_t *diag)
{
    const uint8_t *p = data;
    uint64_t deadline = now_ms() + timeout_ms;
    while (len) {
        ssize_t w = c->tcp ? send(c->fd, p, len, MSG_NOSIGNAL) : write(c->fd, p, len);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return os_fail(diag, "cannot write to the port", NULL);
        uint64_t now = now_ms();
        if (now >= deadline)
            return atota_diag_set(diag, ATOTA_ERR_IO, "the port took no data for %u ms",
                                  timeout_ms);
        struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
        poll(&pf, 1, (int)(deadline - now));
    }
    return ATOTA_OK;
}

atota_err_t atota_uart_client_read(atota_uart_client_t *c, void *buf, size_t cap,
                                   unsigned timeout_ms, size_t *got, atota_diag_t *diag)
{
    *got = 0;
    uint64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        ssize_t r = read(c->fd, buf, cap);
        if (r > 0) {
            *got = (size_t)r;
            return ATOTA_OK;
        }
        if (r == 0)
            return atota_diag_set(diag, ATOTA_ERR_IO, "the port was closed by the other side");
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return os_fail(diag, "cannot read the port", NULL);
        uint64_t now = now_ms();
        if (now >= deadline)
            return ATOTA_OK;
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(deadline - now)) < 0 && errno != EINTR)
            return os_fail(diag, "cannot wait for the port", NULL);
    }
}
