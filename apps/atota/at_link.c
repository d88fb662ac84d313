/* The CLI's line reader over a module's AT port (at_link.h). */
#include "apps/atota/at_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps/atota/cli.h"

#define QUIET_MS 300u /* after busy p...: quiet this long before sending again */

uint64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int cli_link_open(const char *port, const char *usage, cli_link_t **out)
{
    *out = NULL;
    cli_link_t *l = calloc(1, sizeof *l);
    if (!l)
        return cli_error(NULL, "out of memory");
    atota_err_t err = atota_uart_client_open(port, &l->port, &l->diag);
    if (err) {
        int rc = err == ATOTA_ERR_INVALID_ARG
                     ? cli_usage_error(usage, "--port: %s", atota_diag_text(&l->diag, err))
                     : cli_error(port, "%s", atota_diag_text(&l->diag, err));
        free(l);
        return rc;
    }
    *out = l;
    return CLI_EXIT_OK;
}

void cli_link_close(cli_link_t *l)
{
    if (!l)
        return;
    fflush(stdout);
    atota_uart_client_close(l->port);
    free(l);
}

int cli_link_fill(cli_link_t *l, uint64_t deadline)
{
    uint64_t now = cli_now_ms();
    if (l->rx_len == sizeof l->rx || now >= deadline)
        return 0;
    size_t got;
    if (atota_uart_client_read(l->port, l->rx + l->rx_len, sizeof l->rx - l->rx_len,
                               (unsigned)(deadline - now), &got, &l->diag))
        return -1;
    l->rx_len += got;
    return got > 0;
}

int cli_link_take_line(cli_link_t *l, char *line)
{
    uint8_t *nl = memchr(l->rx, '\n', l->rx_len);
    size_t take;
    if (nl)
        take = (size_t)(nl - l->rx) + 1;
    else if (l->rx_len >= CLI_LINE_MAX)
        take = CLI_LINE_MAX - 1; /* a line too long: cut */
    else
        return 0;
    size_t len = take < CLI_LINE_MAX ? take : CLI_LINE_MAX - 1;
    memcpy(line, l->rx, len);
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    line[len] = 0;
    memmove(l->rx, l->rx + take, l->rx_len - take);
    l->rx_len -= take;
    return 1;
}

static void transcribe(cli_link_t *l, const char *line)
{
    size_t n = strlen(line);
    if (l->transcript_len + n + 2 > sizeof l->transcript)
        return;
    memcpy(l->transcript + l->transcript_len, line, n);
    l->transcript[l->transcript_len + n] = '\n';
    l->transcript_len += n + 1;
    l->transcript[l->transcript_len] = 0;
}

int cli_link_next_line(cli_link_t *l, char *line, uint64_t deadline)
{
    for (;;) {
        while (cli_link_take_line(l, line)) {
            if (line[0]) {
                transcribe(l, line);
                return 1;
            }
        }
        uint64_t until = deadline;
        if (l->tick) {
            l->tick(l->tick_ctx);
            uint64_t tick = cli_now_ms() + l->tick_ms;
            if (tick < until)
                until = tick;
        }
        int r = cli_link_fill(l, until);
        if (r < 0)
            return -1;
        if (r == 0 && cli_now_ms() >= deadline)
            return 0;
    }
}

int cli_link_wait_quiet(cli_link_t *l, uint64_t deadline)
{
    for (;;) {
        l->rx_len = 0;
        uint64_t quiet = cli_now_ms() + QUIET_MS;
        int r = cli_link_fill(l, quiet < deadline ? quiet : deadline);
        if (r <= 0)
            return r < 0 ? -1 : 0;
    }
}

int cli_link_write(cli_link_t *l, const void *data, size_t len)
{
    return atota_uart_client_write(l->port, data, len, CLI_COMMAND_MS, &l->diag) ? -1 : 0;
}

int cli_link_send(cli_link_t *l, const char *cmd)
{
    return cli_link_write(l, cmd, strlen(cmd)) || cli_link_write(l, "\r\n", 2) ? -1 : 0;
}

void cli_link_forget(cli_link_t *l)
{
    l->transcript_len = 0;
    l->transcript[0] = 0;
}

void cli_link_print_transcript(cli_link_t *l)
{
    fwrite(l->transcript, 1, l->transcript_len, stdout);
    fflush(stdout);
}

int cli_link_port_error(cli_link_t *l, const char *what)
{
    return cli_error(what, "%s", atota_diag_text(&l->diag, ATOTA_ERR_IO));
}

int cli_link_command(cli_link_t *l, const char *cmd, unsigned timeout_ms, cli_line_fn fn, void *ctx,
                     const char *refusal)
{
    char line[CLI_LINE_MAX];
    uint64_t deadline = cli_now_ms() + timeout_ms;
    bool resend = true;
    cli_link_forget(l);
    for (;;) {
        if (resend) {
            resend = false;
            if (cli_link_send(l, cmd))
                return cli_link_port_error(l, cmd);
        }
        int r = cli_link_next_line(l, line, deadline);
        if (r < 0)
            return cli_link_port_error(l, cmd);
        if (r == 0)
            return cli_error(cmd, "no final result (OK or ERROR) within %u ms", timeout_ms);
        if (!strcmp(line, cmd) || !strcmp(line, "ready"))
            continue; /* the echo, or a restart that happened before */
        if (!strcmp(line, "busy p...")) {
            if (cli_link_wait_quiet(l, deadline) < 0)
                return cli_link_port_error(l, cmd);
            resend = cli_now_ms() < deadline;
            cli_link_forget(l); /* what came was the other command's */
            continue;
        }
        if (!strcmp(line, "OK"))
            return CLI_EXIT_OK;
        if (!strcmp(line, "ERROR"))
            return cli_error(cmd, "ERROR%s%s", refusal ? ": " : "", refusal ? refusal : "");
        if (fn)
            fn(ctx, line);
    }
}

typedef struct {
    char at[CLI_LINE_MAX];
    char bin[CLI_LINE_MAX];
} gmr_t;

static void gmr_line(void *ctx, const char *line)
{
    gmr_t *g = ctx;
    if (!strncmp(line, "AT version:", 11))
        snprintf(g->at, sizeof g->at, "%s", line);
    else if (!strncmp(line, "Bin version:", 12))
        snprintf(g->bin, sizeof g->bin, "%s", line);
}

int cli_link_version(cli_link_t *l, char *version, size_t cap, char *at_line, char *bin_line,
                     size_t line_cap)
{
    gmr_t *g = calloc(1, sizeof *g);
    if (!g)
        return cli_error(NULL, "out of memory");
    int rc = cli_link_command(l, "AT+GMR", CLI_COMMAND_MS, gmr_line, g, NULL);
    snprintf(version, cap, "%s", g->bin[0] ? g->bin + 12 : g->at[0] ? g->at + 11 : "unknown");
    if (at_line)
        snprintf(at_line, line_cap, "%s", g->at);
    if (bin_line)
        snprintf(bin_line, line_cap, "%s", g->bin);
    free(g);
    return rc;
}

int cli_link_wait_ready(cli_link_t *l, const char *what, unsigned timeout_ms)
{
    char line[CLI_LINE_MAX];
    uint64_t deadline = cli_now_ms() + timeout_ms;
    for (;;) {
        int r = cli_link_next_line(l, line, deadline);
        if (r < 0)
            return cli_link_port_error(l, what);
        if (r == 0)
            return cli_error(what,
                             "OK, but no \"ready\" within %u ms after it: the module did not "
                             "come back",
                             timeout_ms);
        if (!strcmp(line, "ready"))
            return CLI_EXIT_OK;
    }
}

int cli_link_restart(cli_link_t *l, unsigned ready_ms)
{
    int rc = cli_link_command(l, "AT+RST", CLI_COMMAND_MS, NULL, NULL, NULL);
    if (rc == CLI_EXIT_OK)
        rc = cli_link_wait_ready(l, "AT+RST", ready_ms);
    return rc;
}

void cli_at_append_string(char *cmd, size_t cap, const char *text)
{
    size_t n = strlen(cmd);
    if (n + 1 < cap)
        cmd[n++] = '"';
    for (const char *p = text; *p && n + 2 < cap; p++) {
        if (*p == '\\' || *p == '"' || *p == ',')
            cmd[n++] = '\\';
        cmd[n++] = *p;
    }
    if (n + 1 < cap)
        cmd[n++] = '"';
    cmd[n] = 0;
}
