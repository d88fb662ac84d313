/*
 * `atota userota`: upgrade a module, simulated or real, with AT+USEROTA (esp-at-ota.md §2).
 *
 * The exchange: AT+GMR (the version before), "AT+USEROTA=<len>\r\n", the prompt
 * "\r\nOK\r\n\r\n>", the URL's bytes (no CRLF), "\r\nRecv <len> bytes\r\n", then OK or ERROR
 * once the module has downloaded and verified the image; after OK the module restarts and says
 * "ready", and AT+GMR gives the new version. The module reports no progress on the AT port (§2.2),
 * so on a terminal this shows only what it can observe: the elapsed time, a spinner, and the
 * image's size learnt with a HEAD (or a one-byte GET) of the URL from this host.
 *
 * Like `atota at`, it copes with a real module: echo on or off, unsolicited lines, "busy p..."
 * (the command is sent again once the port is quiet), stale "ready" lines.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "apps/atota/cli.h"
#include "port/posix/uart.h"

static const char userota_usage[] =
    "atota userota --port PORT [--timeout S] URL\n"
    "  PORT: a serial device or pty, PATH[@BAUD] (default 115200), or tcp:HOST:PORT\n"
    "  --timeout: seconds from the command to the module's OK or ERROR (default 600)";

#define URL_LEN_MAX        8192u /* AT_USEROTA_URL_LEN_MAX, esp-at-ota.md §2.1 */
#define DEFAULT_TIMEOUT_S  600u
#define COMMAND_TIMEOUT_MS 10000u /* AT+GMR, and the prompt after AT+USEROTA=<len> */
#define READY_TIMEOUT_MS   30000u /* after OK: TX drain (<= 3 s), restart, boot */
#define QUIET_MS           300u   /* after busy p...: quiet this long before sending again */
#define TICK_MS            200u   /* spinner period */
#define PROBE_TIMEOUT_S    5L
#define MAX_LINE           1024
#define MAX_REPLY          8192

typedef struct {
    atota_uart_client_t *port;
    uint8_t rx[MAX_LINE * 2];
    size_t rx_len;
    char reply[MAX_REPLY]; /* the module's lines since the command, for an error report */
    size_t reply_len;
    bool tty;
    uint64_t started_ms;
    int64_t image_size; /* -1: unknown */
    unsigned spin;
    atota_diag_t diag;
} userota_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the line reader (small; the same idea as cmd_at.c's) --------------------------------- */

/* Reads more bytes, waiting until deadline. 1: got some, 0: timed out, -1: the port failed. */
static int fill(userota_t *u, uint64_t deadline)
{
    uint64_t now = now_ms();
    if (u->rx_len == sizeof u->rx || now >= deadline)
        return 0;
    size_t got;
    if (atota_uart_client_read(u->port, u->rx + u->rx_len, sizeof u->rx - u->rx_len,
                               (unsigned)(deadline - now), &got, &u->diag))
        return -1;
    u->rx_len += got;
    return got > 0;
}

/* Takes the next complete line (without its CR/LF) out of the buffer. 1: a line, 0: none yet. */
static int take_line(userota_t *u, char *line)
{
    uint8_t *nl = memchr(u->rx, '\n', u->rx_len);
    size_t take, len;
    if (nl)
        take = (size_t)(nl - u->rx) + 1;
    else if (u->rx_len >= MAX_LINE)
        take = MAX_LINE - 1; /* a line too long: cut */
    else
        return 0;
    len = take < MAX_LINE ? take : MAX_LINE - 1;
    memcpy(line, u->rx, len);
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    line[len] = 0;
    memmove(u->rx, u->rx + take, u->rx_len - take);
    u->rx_len -= take;
    return 1;
}

static void show_progress(userota_t *u, bool final);

/* The next line until deadline: 1 a line, 0 timeout, -1 port failure. With progress, the
 * spinner turns while it waits. */
static int next_line(userota_t *u, char *line, uint64_t deadline, bool progress)
{
    for (;;) {
        if (take_line(u, line))
            return 1;
        uint64_t until = deadline;
        if (progress && u->tty) {
            show_progress(u, false);
            uint64_t tick = now_ms() + TICK_MS;
            if (tick < until)
                until = tick;
        }
        int r = fill(u, until);
        if (r < 0)
            return -1;
        if (r == 0 && now_ms() >= deadline)
            return 0;
    }
}

/* Keeps a line of the module's reply (printed when the command fails). */
static void keep(userota_t *u, const char *line)
{
    size_t n = strlen(line);
    if (u->reply_len + n + 2 > sizeof u->reply)
        return;
    memcpy(u->reply + u->reply_len, line, n);
    u->reply[u->reply_len + n] = '\n';
    u->reply_len += n + 1;
    u->reply[u->reply_len] = 0;
}

static void print_reply(userota_t *u)
{
    show_progress(u, true);
    fwrite(u->reply, 1, u->reply_len, stdout);
    fflush(stdout);
}

/* After "busy p...": the module dropped what we sent. Waits until the port is quiet. */
static int wait_quiet(userota_t *u, uint64_t deadline)
{
    for (;;) {
        u->rx_len = 0;
        uint64_t quiet = now_ms() + QUIET_MS;
        int r = fill(u, quiet < deadline ? quiet : deadline);
        if (r <= 0)
            return r < 0 ? -1 : 0;
    }
}

static int send_text(userota_t *u, const void *data, size_t len)
{
    return atota_uart_client_write(u->port, data, len, COMMAND_TIMEOUT_MS, &u->diag) ? -1 : 0;
}

static int port_error(userota_t *u, const char *what)
{
    print_reply(u);
    return cli_error(what, "%s", atota_diag_text(&u->diag, ATOTA_ERR_IO));
}

/* ---- progress ----------------------------------------------------------------------------- */

static void format_size(int64_t bytes, char *out, size_t cap)
{
    if (bytes < 0)
        snprintf(out, cap, "size unknown");
    else if (bytes >= 1000000)
        snprintf(out, cap, "%" PRId64 " bytes, %.1f MB", bytes, (double)bytes / 1e6);
    else
        snprintf(out, cap, "%" PRId64 " bytes, %.0f kB", bytes, (double)bytes / 1e3);
}

/* One line, redrawn in place: what we can see from here, not the module's progress. final
 * clears it. Nothing at all when standard output is not a terminal. */
static void show_progress(userota_t *u, bool final)
{
    static const char spinner[] = "|/-\\";
    if (!u->tty || !u->started_ms)
        return;
    if (final) {
        fputs("\r\033[K", stdout);
        fflush(stdout);
        return;
    }
    char size[64];
    format_size(u->image_size, size, sizeof size);
    unsigned s = (unsigned)((now_ms() - u->started_ms) / 1000u);
    printf("\r\033[K%c the module is downloading the image (%s)  %u:%02u elapsed",
           spinner[u->spin++ % 4], size, s / 60, s % 60);
    fflush(stdout);
}

/* The image's size as this host sees it: Content-Length of a HEAD, else the total of a
 * "Range: bytes=0-0" GET's Content-Range. -1 when the server says neither. Certificates are not
 * checked, as the module does not check them without a CA (esp-at-ota.md §2.3): the figure is only
 * shown, never trusted. */
static size_t probe_header(char *buf, size_t size, size_t n, void *ctx)
{
    int64_t *total = ctx;
    size_t len = size * n;
    static const char name[] = "content-range:";
    if (len > sizeof name && !strncasecmp(buf, name, sizeof name - 1)) {
        char tmp[128];
        size_t l = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
        memcpy(tmp, buf, l);
        tmp[l] = 0;
        char *slash = strchr(tmp, '/');
        if (slash && slash[1] >= '0' && slash[1] <= '9')
            *total = strtoll(slash + 1, NULL, 10);
    }
    return len;
}

static size_t probe_discard(char *buf, size_t size, size_t n, void *ctx)
{
    (void)buf;
    (void)ctx;
    return size * n;
}

static int64_t probe_size(const char *url)
{
    int64_t size = -1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT))
        return -1;
    CURL *c = curl_easy_init();
    if (!c) {
        curl_global_cleanup();
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, PROBE_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    long status = 0;
    curl_off_t len = -1;
    if (curl_easy_perform(c) == CURLE_OK &&
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200 &&
        curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK && len >= 0) {
        size = (int64_t)len;
    } else {
        int64_t total = -1;
        curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_RANGE, "0-0");
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, probe_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &total);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, probe_discard);
        if (curl_easy_perform(c) == CURLE_OK &&
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 206)
            size = total;
    }
    curl_easy_cleanup(c);
    curl_global_cleanup();
    return size;
}

/* ---- the commands ------------------------------------------------------------------------- */

/* Sends AT+GMR and puts the firmware's version in version: the "Bin version:" line (ESP-AT's
 * version of the image, with the module name), else the "AT version:" line. Returns the exit
 * status: 0 on OK, 1 on ERROR, timeout or a port failure (the reply printed, one line on
 * stderr). */
static int query_version(userota_t *u, char *version, size_t cap)
{
    static const char cmd[] = "AT+GMR";
    char line[MAX_LINE];
    char at_version[MAX_LINE] = "";
    version[0] = 0;
    u->reply_len = 0;
    uint64_t deadline = now_ms() + COMMAND_TIMEOUT_MS;
    bool resend = true;
    for (;;) {
        if (resend) {
            resend = false;
            if (send_text(u, "AT+GMR\r\n", 8))
                return port_error(u, cmd);
        }
        int r = next_line(u, line, deadline, false);
        if (r < 0)
            return port_error(u, cmd);
        if (r == 0) {
            print_reply(u);
            return cli_error(cmd, "no final result (OK or ERROR) within %u ms", COMMAND_TIMEOUT_MS);
        }
        if (!line[0] || !strcmp(line, cmd))
            continue; /* blank line, or the echo */
        if (!strcmp(line, "busy p...")) {
            if (wait_quiet(u, deadline) < 0)
                return port_error(u, cmd);
            resend = now_ms() < deadline;
            u->reply_len = 0;
            continue;
        }
        keep(u, line);
        if (!strncmp(line, "Bin version:", 12))
            snprintf(version, cap, "%s", line + 12);
        else if (!strncmp(line, "AT version:", 11))
            snprintf(at_version, sizeof at_version, "%s", line + 11);
        else if (!strcmp(line, "ERROR")) {
            print_reply(u);
            return cli_error(cmd, "ERROR");
        } else if (!strcmp(line, "OK")) {
            if (!version[0])
                snprintf(version, cap, "%s", at_version[0] ? at_version : "unknown");
            return CLI_EXIT_OK;
        }
    }
}

/* After the OK of AT+USEROTA=<len>: the rest of the prompt, "\r\n>". 1: there, 0: something else
 * came or nothing did, -1: the port failed. */
static int wait_prompt(userota_t *u, uint64_t deadline)
{
    for (;;) {
        size_t i = 0;
        while (i < u->rx_len && (u->rx[i] == '\r' || u->rx[i] == '\n'))
            i++;
        if (i < u->rx_len) {
            if (u->rx[i] != '>')
                return 0;
            memmove(u->rx, u->rx + i + 1, u->rx_len - i - 1);
            u->rx_len -= i + 1;
            return 1;
        }
        int r = fill(u, deadline);
        if (r <= 0)
            return r;
    }
}

/* AT+USEROTA=<len>, the prompt, the URL: 0 once the URL is out, else the exit status. */
static int send_url(userota_t *u, const char *url, size_t len)
{
    char cmd[32], line[MAX_LINE];
    snprintf(cmd, sizeof cmd, "AT+USEROTA=%zu", len);
    uint64_t deadline = now_ms() + COMMAND_TIMEOUT_MS;
    bool resend = true;
    u->reply_len = 0;
    for (;;) {
        if (resend) {
            resend = false;
            if (send_text(u, cmd, strlen(cmd)) || send_text(u, "\r\n", 2))
                return port_error(u, cmd);
        }
        int r = next_line(u, line, deadline, false);
        if (r < 0)
            return port_error(u, cmd);
        if (r == 0) {
            print_reply(u);
            return cli_error(cmd, "no prompt (>) within %u ms", COMMAND_TIMEOUT_MS);
        }
        if (!line[0] || !strcmp(line, cmd) || !strcmp(line, "ready"))
            continue; /* blank, the echo, a restart that happened before */
        if (!strcmp(line, "busy p...")) {
            if (wait_quiet(u, deadline) < 0)
                return port_error(u, cmd);
            resend = now_ms() < deadline;
            u->reply_len = 0;
            continue;
        }
        keep(u, line);
        if (!strcmp(line, "ERROR")) {
            print_reply(u);
            return cli_error(cmd, "ERROR (the module refused the command: is AT+USEROTA in its "
                                  "firmware, and the URL length within 1..8192?)");
        }
        if (!strcmp(line, "OK"))
            break;
    }
    int p = wait_prompt(u, deadline);
    if (p < 0)
        return port_error(u, cmd);
    if (p == 0) {
        print_reply(u);
        return cli_error(cmd, "OK without the prompt (>)");
    }
    if (send_text(u, url, len))
        return port_error(u, cmd);
    return 0;
}

/* Waits for the module's verdict after the URL: "Recv N bytes", then OK or ERROR. */
static int wait_result(userota_t *u, size_t url_len, uint32_t timeout_s)
{
    static const char cmd[] = "AT+USEROTA";
    char line[MAX_LINE], recv_line[48];
    snprintf(recv_line, sizeof recv_line, "Recv %zu bytes", url_len);
    uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000u;
    bool received = false;
    for (;;) {
        int r = next_line(u, line, deadline, true);
        if (r < 0)
            return port_error(u, cmd);
        if (r == 0) {
            print_reply(u);
            return cli_error(cmd, "no OK or ERROR within %" PRIu32 " s%s", timeout_s,
                             received ? "" : " (and no \"Recv N bytes\")");
        }
        if (!line[0])
            continue;
        keep(u, line);
        if (!strcmp(line, recv_line)) {
            received = true;
        } else if (!strncmp(line, "Recv ", 5)) {
            print_reply(u);
            return cli_error(cmd, "the module received another length (sent %zu bytes)", url_len);
        } else if (!strcmp(line, "ERROR")) {
            print_reply(u);
            return cli_error(cmd, "ERROR: the module did not upgrade (it still runs the old "
                                  "firmware)");
        } else if (!strcmp(line, "OK")) {
            show_progress(u, true);
            return CLI_EXIT_OK;
        }
        /* "busy p..." (bytes beyond the URL, §2.2) and unsolicited lines: kept, not fatal */
    }
}

/* After OK: the module drains its output, restarts and says "ready". */
static int wait_ready(userota_t *u)
{
    char line[MAX_LINE];
    uint64_t deadline = now_ms() + READY_TIMEOUT_MS;
    for (;;) {
        int r = next_line(u, line, deadline, false);
        if (r < 0)
            return port_error(u, "AT+USEROTA");
        if (r == 0)
            return cli_error("AT+USEROTA",
                             "OK, but no \"ready\" within %u ms after it: the "
                             "module did not come back",
                             READY_TIMEOUT_MS);
        if (!strcmp(line, "ready"))
            return CLI_EXIT_OK;
    }
}

int cli_cmd_userota(int argc, char **argv)
{
    static const struct option options[] = {
        {"port", required_argument, 0, 'p'},
        {"timeout", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *port = NULL;
    uint32_t timeout_s = DEFAULT_TIMEOUT_S;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:t:h", options, NULL)) != -1) {
        switch (c) {
        case 'p':
            port = optarg;
            break;
        case 't':
            if (cli_parse_u32(optarg, &timeout_s) || !timeout_s || timeout_s > 86400)
                return cli_usage_error(userota_usage, "bad --timeout '%s' (seconds)", optarg);
            break;
        case 'h':
            printf("usage: %s\n", userota_usage);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(userota_usage, "bad option");
        }
    }
    if (!port)
        return cli_usage_error(userota_usage, "userota needs --port PORT");
    if (optind != argc - 1)
        return cli_usage_error(userota_usage, "userota needs one URL");
    const char *url = argv[optind];
    size_t url_len = strlen(url);
    if (!url_len || url_len > URL_LEN_MAX)
        return cli_usage_error(userota_usage, "the URL must be 1 to %u bytes long (it is %zu)",
                               URL_LEN_MAX, url_len);

    userota_t *u = calloc(1, sizeof *u);
    if (!u)
        return cli_error(NULL, "out of memory");
    u->tty = isatty(STDOUT_FILENO);
    u->image_size = -1;
    atota_err_t err = atota_uart_client_open(port, &u->port, &u->diag);
    if (err) {
        int rc = err == ATOTA_ERR_INVALID_ARG
                     ? cli_usage_error(userota_usage, "--port: %s", atota_diag_text(&u->diag, err))
                     : cli_error(port, "%s", atota_diag_text(&u->diag, err));
        free(u);
        return rc;
    }
    char old_version[MAX_LINE], new_version[MAX_LINE];
    int rc = query_version(u, old_version, sizeof old_version);
    if (rc == CLI_EXIT_OK && u->tty)
        u->image_size = probe_size(url);
    uint64_t t0 = now_ms();
    if (rc == CLI_EXIT_OK)
        rc = send_url(u, url, url_len);
    if (rc == CLI_EXIT_OK) {
        u->started_ms = t0;
        u->reply_len = 0;
        rc = wait_result(u, url_len, timeout_s);
    }
    double took = (double)(now_ms() - t0) / 1000.0;
    if (rc == CLI_EXIT_OK)
        rc = wait_ready(u);
    if (rc == CLI_EXIT_OK)
        rc = query_version(u, new_version, sizeof new_version);
    if (rc == CLI_EXIT_OK) {
        if (u->tty)
            printf("the module downloaded and verified the image in %.1f s, and restarted\n", took);
        printf("upgraded: %s -> %s\n", old_version, new_version);
        if (!strcmp(old_version, new_version))
            fprintf(stderr, "atota: note: the module runs the same version as before\n");
    }
    fflush(stdout);
    atota_uart_client_close(u->port);
    free(u);
    return rc;
}
