/*
 * atota-sim: one simulated ESP-AT module (docs/atota-sim.md). Its flash is a file; its AT port
 * is a pty, a TCP socket or standard input/output. The program boots the module from the flash,
 * then runs a poll() loop: bytes from the port go to the AT engine, the HTTP client's sockets
 * (AT+USEROTA's downloads, port/posix/http.h), the TCP/TLS stream's (AT+CIUPDATE,
 * port/posix/stream.h) and the web server's (AT+WEBSERVER, port/posix/httpd.h, on the host
 * address --web gives) are served, timers run every 10 ms, and a restart the
 * firmware asks for (AT+RST, AT+SYSROLLBACK, the end of an OTA) boots the module again from the
 * same flash once its output has drained. Killing the process is a power cut: the flash file is
 * memory-mapped and shared, so every completed flash operation is in it.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apps/atota-sim/sim.h"
#include "core/cmd/module.h"
#include "port/posix/connect_to.h"
#include "port/posix/http.h"
#include "port/posix/httpd.h"
#include "port/posix/stream.h"
#include "port/posix/uart.h"

#define EXIT_USAGE      2
#define TICK_MS         10u   /* atota_module_poll period */
#define RESTART_WAIT_MS 3000u /* esp_at_port_wait_write_complete's limit (esp-at-ota.md §1.6) */
#define CONNECT_TO_MAX  32

static const char usage[] =
    "usage: atota-sim --flash FILE [--module M] [--pty | --tcp HOST:PORT | --stdio]\n"
    "                 [--ap NAME:PASSWORD]... [--ca FILE] [--connect-to HOST:PORT:HOST2:PORT2]...\n"
    "                 [--web HOST:PORT] [--log FILE|-]\n"
    "\n"
    "  --flash FILE        the module's flash; created for the module with a factory firmware\n"
    "                      when it does not exist\n"
    "  --module M          module profile (default esp32-wroom-32; `atota flash modules`)\n"
    "  --pty               AT port on a new pseudo-terminal (the default)\n"
    "  --tcp HOST:PORT     AT port on a TCP socket, one client at a time (port 0: any free port)\n"
    "  --stdio             AT port on standard input and output\n"
    "  --ap NAME:PASSWORD  a virtual access point (repeatable; default atota:atota-pass)\n"
    "  --ca FILE           https and TLS connections (AT+USEROTA, AT+CIUPDATE) verify the\n"
    "                      server with this CA (PEM); without it the certificate is not\n"
    "                      checked, as on ESP-AT\n"
    "  --connect-to HOST:PORT:HOST2:PORT2\n"
    "                      the virtual network: connections the firmware makes to HOST:PORT go\n"
    "                      to HOST2:PORT2 (curl's --connect-to; repeatable)\n"
    "  --web HOST:PORT     where the module's web server (AT+WEBSERVER) listens on this host\n"
    "                      (default 127.0.0.1:0, port 0: any free port); its URL is printed\n"
    "  --log FILE|-        the simulator's log (- is standard error)\n";

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct {
    FILE *log;
    uint64_t t0;
    atota_uart_server_t *uart;
    atota_http_posix_t *http;     /* the station's network (host.http) */
    atota_stream_posix_t *stream; /* its TCP/TLS connections (host.stream) */
    atota_httpd_posix_t *httpd;   /* the module's web server (host.httpd) */
    bool print_web;               /* announce the web server on standard output (not --stdio) */
    bool restart;
    uint64_t restart_at;
} sim_t;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sim_log(sim_t *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sim_log(sim_t *s, const char *fmt, ...)
{
    if (!s->log)
        return;
    uint64_t t = mono_ms() - s->t0;
    fprintf(s->log, "[%5llu.%03llu] ", (unsigned long long)(t / 1000),
            (unsigned long long)(t % 1000));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(s->log, fmt, ap);
    va_end(ap);
    fputc('\n', s->log);
    fflush(s->log);
}

/* ---- the module's port (atota_module_host_t) ------------------------------------------------ */

static uint64_t host_now_ms(void *ctx)
{
    (void)ctx;
    return mono_ms();
}

static void host_log(void *ctx, const char *line)
{
    sim_log(ctx, "%s", line);
}

static void uart_log(void *ctx, const char *line)
{
    sim_log(ctx, "uart: %s", line);
}

static void host_write(void *ctx, const void *data, size_t len)
{
    sim_t *s = ctx;
    atota_uart_server_write(s->uart, data, len);
}

static void host_restart(void *ctx)
{
    sim_t *s = ctx;
    if (!s->restart) {
        s->restart = true;
        s->restart_at = mono_ms();
        sim_log(s, "restart requested");
    }
}

static void host_set_uart(void *ctx, uint32_t baud, unsigned data_bits, unsigned stop_bits,
                          unsigned parity, unsigned flow)
{
    /* A pty or a socket has no line speed: the setting is only reported. */
    sim_log(ctx, "UART set to %u baud, %u data bits, stop bits %u, parity %u, flow control %u",
            baud, data_bits, stop_bits, parity, flow);
}

/* The web server started (url) or stopped (NULL): one line on standard output, flushed, so a
 * script can wait for it, and the same in the log. */
static void web_listen(void *ctx, uint16_t module_port, const char *url)
{
    sim_t *s = ctx;
    if (!url) {
        sim_log(s, "web server for port %u stopped", (unsigned)module_port);
        return;
    }
    sim_log(s, "web server for port %u on %s", (unsigned)module_port, url);
    if (s->print_web) {
        printf("atota-sim: web server for port %u on %s\n", (unsigned)module_port, url);
        fflush(stdout);
    }
}

/* ---- main ----------------------------------------------------------------------------------- */

static int fail(const char *subject, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int fail(const char *subject, const char *fmt, ...)
{
    fprintf(stderr, "atota-sim: ");
    if (subject)
        fprintf(stderr, "%s: ", subject);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

typedef struct {
    const char *flash, *module, *tcp, *log, *ca;
    char web_host[ATOTA_HTTPD_POSIX_HOST_MAX]; /* --web: "" is 127.0.0.1 */
    uint16_t web_port;
    atota_uart_kind_t kind;
    atota_wifi_ap_t aps[ATOTA_WIFI_MAX_APS];
    unsigned ap_count;
    const char *connect_to[CONNECT_TO_MAX];
    unsigned connect_to_count;
} options_t;

static int parse_options(int argc, char **argv, options_t *o)
{
    static const struct option options[] = {
        {"flash", required_argument, 0, 'f'},
        {"module", required_argument, 0, 'm'},
        {"pty", no_argument, 0, 'p'},
        {"tcp", required_argument, 0, 't'},
        {"stdio", no_argument, 0, 's'},
        {"ap", required_argument, 0, 'a'},
        {"ca", required_argument, 0, 'c'},
        {"log", required_argument, 0, 'l'},
        {"connect-to", required_argument, 0, 'C'},
        {"web", required_argument, 0, 'w'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c, transports = 0;
    o->module = "esp32-wroom-32";
    o->kind = ATOTA_UART_PTY;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        atota_diag_t d = {{0}};
        atota_err_t err;
        switch (c) {
        case 'f':
            o->flash = optarg;
            break;
        case 'm':
            o->module = optarg;
            break;
        case 'p':
            o->kind = ATOTA_UART_PTY;
            transports++;
            break;
        case 't':
            o->kind = ATOTA_UART_TCP;
            o->tcp = optarg;
            transports++;
            break;
        case 's':
            o->kind = ATOTA_UART_STDIO;
            transports++;
            break;
        case 'a':
            if (o->ap_count == ATOTA_WIFI_MAX_APS) {
                fprintf(stderr, "atota-sim: at most %d --ap\n%s", ATOTA_WIFI_MAX_APS, usage);
                return EXIT_USAGE;
            }
            if ((err = atota_wifi_ap_parse(optarg, &o->aps[o->ap_count], &d))) {
                fprintf(stderr, "atota-sim: --ap %s: %s\n%s", optarg, atota_diag_text(&d, err),
                        usage);
                return EXIT_USAGE;
            }
            o->ap_count++;
            break;
        case 'c':
            if (access(optarg, R_OK) != 0) {
                fprintf(stderr, "atota-sim: --ca %s: %s\n%s", optarg, strerror(errno), usage);
                return EXIT_USAGE;
            }
            o->ca = optarg;
            break;
        case 'C':
            if (o->connect_to_count == CONNECT_TO_MAX) {
                fprintf(stderr, "atota-sim: at most %d --connect-to\n%s", CONNECT_TO_MAX, usage);
                return EXIT_USAGE;
            }
            if ((err = atota_connect_to_check(optarg, &d))) {
                fprintf(stderr, "atota-sim: --connect-to %s: %s\n%s", optarg,
                        atota_diag_text(&d, err), usage);
                return EXIT_USAGE;
            }
            o->connect_to[o->connect_to_count++] = optarg;
            break;
        case 'w':
            if ((err = atota_httpd_posix_parse_listen(optarg, o->web_host, sizeof o->web_host,
                                                      &o->web_port, &d))) {
                fprintf(stderr, "atota-sim: --web %s: %s\n%s", optarg, atota_diag_text(&d, err),
                        usage);
                return EXIT_USAGE;
            }
            break;
        case 'l':
            o->log = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        default:
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (!o->flash || optind != argc || transports > 1) {
        fprintf(stderr, "atota-sim: %s\n%s",
                !o->flash        ? "--flash FILE is required"
                : transports > 1 ? "give one of --pty, --tcp and --stdio"
                                 : "unexpected argument",
                usage);
        return EXIT_USAGE;
    }
    return 0;
}

/* The poll loop; returns the exit status. */
static int run(sim_t *s, atota_module_t *m, const atota_flash_t *flash,
               const atota_module_host_t *host, const atota_module_opts_t *mopts,
               const char *flash_path)
{
    uint8_t buf[4096];
    uint64_t last_tick = mono_ms();
    atota_diag_t diag = {{0}};
    while (!g_stop) {
        struct pollfd fds[ATOTA_UART_MAX_POLLFDS + ATOTA_HTTP_POSIX_MAX_POLLFDS +
                          ATOTA_STREAM_POSIX_MAX_POLLFDS + ATOTA_HTTPD_POSIX_MAX_POLLFDS];
        unsigned nfds = atota_uart_server_pollfds(s->uart, fds);
        uint64_t now = mono_ms();
        int timeout = now - last_tick >= TICK_MS ? 0 : (int)(TICK_MS - (now - last_tick));
        /* the HTTP client's sockets follow the port's; its timers may shorten the wait */
        int nhttp =
            atota_http_posix_pollfds(s->http, fds + nfds, ATOTA_HTTP_POSIX_MAX_POLLFDS, &timeout);
        /* then the stream's (AT+CIUPDATE), the same way */
        unsigned at_stream = nfds + (unsigned)nhttp;
        int nstream = atota_stream_posix_pollfds(s->stream, fds + at_stream,
                                                 ATOTA_STREAM_POSIX_MAX_POLLFDS, &timeout);
        /* then the web server's (AT+WEBSERVER) */
        unsigned at_httpd = at_stream + (unsigned)nstream;
        int nhttpd = atota_httpd_posix_pollfds(s->httpd, fds + at_httpd,
                                               ATOTA_HTTPD_POSIX_MAX_POLLFDS, &timeout);
        if (poll(fds, at_httpd + (unsigned)nhttpd, timeout) < 0) {
            if (errno == EINTR)
                continue;
            return fail(NULL, "poll: %s", strerror(errno));
        }
        size_t got = 0;
        bool eof = false;
        atota_err_t err =
            atota_uart_server_service(s->uart, fds, nfds, buf, sizeof buf, &got, &eof, &diag);
        if (err)
            return fail(NULL, "%s", atota_diag_text(&diag, err));
        /* Line by line, so that what follows a command that restarts the module is lost with
         * the reset, as on a module (esp-at-ota.md §1.6). */
        for (size_t at = 0; at < got;) {
            if (s->restart) {
                sim_log(s, "%zu bytes received while restarting: lost", got - at);
                break;
            }
            const uint8_t *nl = memchr(buf + at, '\n', got - at);
            size_t n = nl ? (size_t)(nl - (buf + at)) + 1 : got - at;
            atota_module_feed(m, buf + at, n);
            at += n;
        }
        /* Network: body bytes go to the download (the sink runs here, in this loop). */
        atota_http_posix_perform(s->http, fds + nfds, nhttp);
        atota_stream_posix_perform(s->stream, fds + at_stream, nstream);
        /* Browsers and curl: the firmware's handlers run here (the sink is called from perform) */
        atota_httpd_posix_perform(s->httpd, fds + at_httpd, nhttpd);
        atota_uart_server_flush(s->uart);

        now = mono_ms();
        if (now - last_tick >= TICK_MS) {
            last_tick = now;
            atota_module_poll(m);
        }
        if (s->restart &&
            (atota_uart_server_drained(s->uart) || mono_ms() - s->restart_at >= RESTART_WAIT_MS)) {
            s->restart = false;
            sim_log(s, "restarting");
            /* A reset drops the connection: a transfer still running ends before the module's
             * state is initialised again. */
            if (atota_http_posix_busy(s->http)) {
                atota_http_t net = atota_http_posix_iface(s->http);
                net.ops->cancel(net.ctx);
            }
            if (atota_stream_posix_busy(s->stream)) {
                atota_stream_t net = atota_stream_posix_iface(s->stream);
                net.ops->close(net.ctx);
            }
            /* The web server goes down with the module: its listener and connections close (the
             * boot stops it too; a second stop is a no-op). */
            atota_httpd_t web = atota_httpd_posix_iface(s->httpd);
            web.ops->stop(web.ctx);
            if ((err = atota_module_boot(m, flash, host, mopts, &diag)))
                return fail(flash_path, "cannot boot after a restart: %s",
                            atota_diag_text(&diag, err));
            sim_log(s, "booted %s at 0x%x (boot %u): %s", m->boot.partition.name,
                    m->boot.partition.offset, m->boots, m->boot.reason);
        }
        /* Standard input ended: finish what is running, then stop. */
        if (eof && !s->restart && !atota_at_busy(&m->at) && atota_uart_server_drained(s->uart))
            break;
    }
    /* Let the last output out (a client that asked for it is still reading). */
    for (uint64_t t = mono_ms(); !atota_uart_server_drained(s->uart) && mono_ms() - t < 500;) {
        struct pollfd p[ATOTA_UART_MAX_POLLFDS];
        poll(p, atota_uart_server_pollfds(s->uart, p), 10);
        atota_uart_server_flush(s->uart);
    }
    sim_log(s, "stopped");
    return 0;
}

int main(int argc, char **argv)
{
    options_t o;
    memset(&o, 0, sizeof o);
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;

    sim_t s = {.t0 = mono_ms()};
    if (o.log && !strcmp(o.log, "-"))
        s.log = stderr;
    else if (o.log && !(s.log = fopen(o.log, "a")))
        return fail(o.log, "cannot open the log: %s", strerror(errno));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    atota_profile_t *profile = malloc(sizeof *profile);
    atota_module_t *m = calloc(1, sizeof *m);
    atota_flash_sim_t *sim = NULL;
    atota_diag_t diag = {{0}};
    atota_err_t err;
    char note[300];
    if (!profile || !m) {
        rc = fail(NULL, "out of memory");
        goto out;
    }
    if ((err = atota_profile_load(o.module, profile, &diag))) {
        rc = fail(o.module, "%s (see `atota flash modules`)", atota_diag_text(&diag, err));
        goto out;
    }
    if ((err = sim_flash_open(o.flash, profile, &sim, note, sizeof note, &diag))) {
        rc = fail(o.flash, "%s", atota_diag_text(&diag, err));
        goto out;
    }
    if (note[0])
        sim_log(&s, "%s", note);
    if ((err = atota_uart_server_open(o.kind, o.tcp, uart_log, &s, &s.uart, &diag))) {
        rc = fail(o.tcp, "%s", atota_diag_text(&diag, err));
        goto out;
    }

    if (!(s.http = atota_http_posix_new())) {
        rc = fail(NULL, "cannot start the HTTP client (libcurl)");
        goto out;
    }
    if (!(s.stream = atota_stream_posix_new())) {
        rc = fail(NULL, "cannot start the TCP/TLS streams (libcurl)");
        goto out;
    }
    atota_httpd_posix_opts_t web_opts = {.host = o.web_host,
                                         .port = o.web_port,
                                         .on_listen = web_listen,
                                         .log = host_log,
                                         .ctx = &s};
    s.print_web = o.kind != ATOTA_UART_STDIO; /* with --stdio, standard output is the AT port */
    if (!(s.httpd = atota_httpd_posix_new(&web_opts))) {
        rc = fail(NULL, "out of memory");
        goto out;
    }
    for (unsigned i = 0; i < o.connect_to_count; i++) {
        /* checked by parse_options: only memory can fail here */
        if ((err = atota_http_posix_connect_to(s.http, o.connect_to[i], &diag)) ||
            (err = atota_stream_posix_connect_to(s.stream, o.connect_to[i], &diag))) {
            rc = fail(o.connect_to[i], "--connect-to: %s", atota_diag_text(&diag, err));
            goto out;
        }
        sim_log(&s, "virtual network: %s", o.connect_to[i]);
    }

    const atota_flash_t *flash = atota_flash_sim_flash(sim);
    atota_module_host_t host = {
        .ctx = &s,
        .now_ms = host_now_ms,
        .log = host_log,
        .write = host_write,
        .restart = host_restart,
        .set_uart = host_set_uart,
        .http = atota_http_posix_iface(s.http),
        .stream = atota_stream_posix_iface(s.stream),
        .httpd = atota_httpd_posix_iface(s.httpd),
    };
    atota_module_opts_t mopts = {.profile_name = o.module,
                                 .aps = o.ap_count ? o.aps : NULL,
                                 .ap_count = o.ap_count,
                                 .ca_file = o.ca};
    if ((err = atota_module_boot(m, flash, &host, &mopts, &diag))) {
        rc = fail(o.flash, "cannot boot: %s", atota_diag_text(&diag, err));
        goto out;
    }
    sim_log(&s, "booted %s at 0x%x: %s", m->boot.partition.name, m->boot.partition.offset,
            m->boot.reason);
    sim_log(&s, "AT port on %s", atota_uart_server_port(s.uart));
    if (o.kind != ATOTA_UART_STDIO) {
        if (note[0])
            printf("atota-sim: %s\n", note);
        printf("atota-sim: AT port on %s\n", atota_uart_server_port(s.uart));
        fflush(stdout);
    }
    rc = run(&s, m, flash, &host, &mopts, o.flash);

out:
    atota_httpd_posix_free(s.httpd);
    atota_stream_posix_free(s.stream);
    atota_http_posix_free(s.http);
    atota_uart_server_close(s.uart);
    atota_flash_sim_close(sim);
    free(m);
    free(profile);
    if (s.log && s.log != stderr)
        fclose(s.log);
    return rc;
}
