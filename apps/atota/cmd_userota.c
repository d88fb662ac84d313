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
#include "apps/atota/at_link.h"

static const char userota_usage[] =
    "atota userota --port PORT [--timeout S] URL\n"
    "  PORT: a serial device or pty, PATH[@BAUD] (default 115200), or tcp:HOST:PORT\n"
    "  --timeout: seconds from the command to the module's OK or ERROR (default 600)";

#define URL_LEN_MAX       8192u /* AT_USEROTA_URL_LEN_MAX, esp-at-ota.md §2.1 */
#define DEFAULT_TIMEOUT_S 600u
#define TICK_MS           200u /* spinner period */
#define PROBE_TIMEOUT_S   5L

typedef struct {
    cli_link_t *link;
    bool tty;
    uint64_t started_ms;
    int64_t image_size; /* -1: unknown */
    unsigned spin;
} userota_t;

static void show_progress(userota_t *u, bool final);

/* The module's reply so far (the link's transcript), after the progress line is cleared. */
static void print_reply(userota_t *u)
{
    show_progress(u, true);
    cli_link_print_transcript(u->link);
}

static int port_error(userota_t *u, const char *what)
{
    print_reply(u);
    return cli_link_port_error(u->link, what);
}

static void spin(void *ctx)
{
    show_progress(ctx, false);
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
    unsigned s = (unsigned)((cli_now_ms() - u->started_ms) / 1000u);
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

/* AT+GMR: the firmware's version (cli_link_version). Returns the exit status; on a failure the
 * module's reply is printed. */
static int query_version(userota_t *u, char *version, size_t cap)
{
    int rc = cli_link_version(u->link, version, cap, NULL, NULL, 0);
    if (rc != CLI_EXIT_OK)
        print_reply(u);
    return rc;
}

/* After the OK of AT+USEROTA=<len>: the rest of the prompt, "\r\n>". 1: there, 0: something else
 * came or nothing did, -1: the port failed. */
static int wait_prompt(userota_t *u, uint64_t deadline)
{
    cli_link_t *l = u->link;
    for (;;) {
        size_t i = 0;
        while (i < l->rx_len && (l->rx[i] == '\r' || l->rx[i] == '\n'))
            i++;
        if (i < l->rx_len) {
            if (l->rx[i] != '>')
                return 0;
            memmove(l->rx, l->rx + i + 1, l->rx_len - i - 1);
            l->rx_len -= i + 1;
            return 1;
        }
        int r = cli_link_fill(l, deadline);
        if (r <= 0)
            return r;
    }
}

/* AT+USEROTA=<len>, the prompt, the URL: 0 once the URL is out, else the exit status. */
static int send_url(userota_t *u, const char *url, size_t len)
{
    char cmd[32], line[CLI_LINE_MAX];
    snprintf(cmd, sizeof cmd, "AT+USEROTA=%zu", len);
    uint64_t deadline = cli_now_ms() + CLI_COMMAND_MS;
    bool resend = true;
    cli_link_forget(u->link);
    for (;;) {
        if (resend) {
            resend = false;
            if (cli_link_send(u->link, cmd))
                return port_error(u, cmd);
        }
        int r = cli_link_next_line(u->link, line, deadline);
        if (r < 0)
            return port_error(u, cmd);
        if (r == 0) {
            print_reply(u);
            return cli_error(cmd, "no prompt (>) within %u ms", CLI_COMMAND_MS);
        }
        if (!line[0] || !strcmp(line, cmd) || !strcmp(line, "ready"))
            continue; /* blank, the echo, a restart that happened before */
        if (!strcmp(line, "busy p...")) {
            if (cli_link_wait_quiet(u->link, deadline) < 0)
                return port_error(u, cmd);
            resend = cli_now_ms() < deadline;
            cli_link_forget(u->link);
            continue;
        }
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
    if (cli_link_write(u->link, url, len))
        return port_error(u, cmd);
    return 0;
}

/* Waits for the module's verdict after the URL: "Recv N bytes", then OK or ERROR. */
static int wait_result(userota_t *u, size_t url_len, uint32_t timeout_s)
{
    static const char cmd[] = "AT+USEROTA";
    char line[CLI_LINE_MAX], recv_line[48];
    snprintf(recv_line, sizeof recv_line, "Recv %zu bytes", url_len);
    uint64_t deadline = cli_now_ms() + (uint64_t)timeout_s * 1000u;
    bool received = false;
    cli_link_t *l = u->link;
    if (u->tty) { /* the spinner turns while the module downloads */
        l->tick = spin;
        l->tick_ctx = u;
        l->tick_ms = TICK_MS;
    }
    int rc = -1;
    while (rc < 0) {
        int r = cli_link_next_line(l, line, deadline);
        if (r < 0) {
            rc = port_error(u, cmd);
        } else if (r == 0) {
            print_reply(u);
            rc = cli_error(cmd, "no OK or ERROR within %" PRIu32 " s%s", timeout_s,
                           received ? "" : " (and no \"Recv N bytes\")");
        } else if (!strcmp(line, recv_line)) {
            received = true;
        } else if (!strncmp(line, "Recv ", 5)) {
            print_reply(u);
            rc = cli_error(cmd, "the module received another length (sent %zu bytes)", url_len);
        } else if (!strcmp(line, "ERROR")) {
            print_reply(u);
            rc = cli_error(cmd, "ERROR: the module did not upgrade (it still runs the old "
                                "firmware)");
        } else if (!strcmp(line, "OK")) {
            show_progress(u, true);
            rc = CLI_EXIT_OK;
        }
        /* "busy p..." (bytes beyond the URL, §2.2) and unsolicited lines: kept, not fatal */
    }
    l->tick = NULL;
    return rc;
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
    int rc = cli_link_open(port, userota_usage, &u->link);
    if (rc) {
        free(u);
        return rc;
    }
    char old_version[CLI_LINE_MAX], new_version[CLI_LINE_MAX];
    rc = query_version(u, old_version, sizeof old_version);
    if (rc == CLI_EXIT_OK && u->tty)
        u->image_size = probe_size(url);
    uint64_t t0 = cli_now_ms();
    if (rc == CLI_EXIT_OK)
        rc = send_url(u, url, url_len);
    if (rc == CLI_EXIT_OK) {
        u->started_ms = t0;
        cli_link_forget(u->link);
        rc = wait_result(u, url_len, timeout_s);
    }
    double took = (double)(cli_now_ms() - t0) / 1000.0;
    if (rc == CLI_EXIT_OK)
        rc = cli_link_wait_ready(u->link, "AT+USEROTA", CLI_READY_MS);
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
    cli_link_close(u->link);
    free(u);
    return rc;
}
