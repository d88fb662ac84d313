/*
 * `atota at`: send AT commands to a module, simulated or real, and print what comes back.
 *
 * Each command goes out as CMD "\r\n"; the reply is read line by line until a final result
 * (esp-at-ota.md §1.2): OK, ERROR, SEND OK or SEND FAIL. The echo (ATE1, the default) is the
 * command's own line and is left out; echo off works the same. The data prompt "\r\nOK\r\n\r\n>"
 * makes it send the --data file and wait for the final result after it. "busy p..." means the
 * module was still running something else and dropped the command: it waits until the port is
 * quiet and sends the command again. After AT+RST, AT+RESTORE and AT+SYSROLLBACK it waits for
 * "ready". Nothing here depends on the simulator.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/atota/cli.h"
#include "apps/atota/at_link.h"

static const char at_usage[] =
    "atota at --port PORT [--timeout MS] [--data FILE] CMD...\n"
    "  PORT: a serial device or pty, PATH[@BAUD] (default 115200), or tcp:HOST:PORT";

#define DEFAULT_TIMEOUT_MS 10000u
#define PROMPT_GRACE_MS    50u  /* after OK: how long "\r\n>" may take to follow */
#define DATA_GRACE_MS      500u /* the same when --data waits for a prompt */

typedef struct {
    cli_link_t *link;
    /* what this command printed so far (sent to stdout when it ends) */
    char *out;
    size_t out_len, out_cap;
} session_t;

static void keep(session_t *s, const char *line)
{
    size_t n = strlen(line) + 1;
    if (s->out_len + n + 1 > s->out_cap) {
        size_t cap = s->out_cap ? s->out_cap * 2 : 4096;
        while (cap < s->out_len + n + 1)
            cap *= 2;
        char *p = realloc(s->out, cap);
        if (!p)
            return;
        s->out = p;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, line, n - 1);
    s->out[s->out_len + n - 1] = '\n';
    s->out_len += n;
}

static void print_kept(session_t *s)
{
    if (s->out_len)
        fwrite(s->out, 1, s->out_len, stdout);
    fflush(stdout);
    s->out_len = 0;
}

/* Drops a trailing "ERR CODE:0x010b...." (processing: it belongs to the busy). */
static void drop_busy_code(session_t *s)
{
    static const char code[] = "ERR CODE:0x010b";
    if (!s->out_len)
        return;
    size_t end = s->out_len - 1; /* the last '\n' */
    size_t start = end;
    while (start && s->out[start - 1] != '\n')
        start--;
    if (end - start >= sizeof code - 1 && !strncmp(s->out + start, code, sizeof code - 1))
        s->out_len = start;
}

/* After an OK line: whether the data prompt ">" follows ("\r\nOK\r\n\r\n>"). */
static int prompt_follows(cli_link_t *s, unsigned grace_ms)
{
    static const char prompt[] = "\r\n>";
    uint64_t deadline = cli_now_ms() + grace_ms;
    for (;;) {
        size_t n = s->rx_len < 3 ? s->rx_len : 3;
        if (n && s->rx[0] == '>') { /* without the blank line before it */
            memmove(s->rx, s->rx + 1, --s->rx_len);
            return 1;
        }
        if (memcmp(s->rx, prompt, n) != 0)
            return 0;
        if (n == 3) {
            memmove(s->rx, s->rx + 3, s->rx_len - 3);
            s->rx_len -= 3;
            return 1;
        }
        int r = cli_link_fill(s, deadline);
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
    }
}

static bool is_restart(const char *cmd)
{
    return !strcmp(cmd, "AT+RST") || !strcmp(cmd, "AT+RESTORE") || !strcmp(cmd, "AT+SYSROLLBACK");
}

/* Sends one command and reads its reply; returns the exit status. *data_used is set once the
 * data has gone out after a prompt. */
static int run_command(session_t *s, const char *cmd, unsigned timeout_ms, const uint8_t *data,
                       size_t data_len, bool *data_used)
{
    char *line = malloc(CLI_LINE_MAX);
    cli_link_t *l = s->link;
    if (!line)
        return cli_error(NULL, "out of memory");
    int rc = -1;
    uint64_t deadline = cli_now_ms() + timeout_ms;
    bool resend = true, echo_pending = false, in_data = false;
    while (rc < 0) {
        if (resend) {
            resend = false;
            echo_pending = true;
            size_t len = strlen(cmd);
            if (atota_uart_client_write(l->port, cmd, len, timeout_ms, &l->diag) ||
                atota_uart_client_write(l->port, "\r\n", 2, timeout_ms, &l->diag)) {
                rc = cli_link_port_error(l, cmd);
                break;
            }
        }
        int r = cli_link_next_line(l, line, deadline);
        if (r < 0) {
            rc = cli_link_port_error(l, cmd);
            break;
        }
        if (r == 0) {
            print_kept(s);
            rc = cli_error(cmd, "no final result (OK or ERROR) within %u ms", timeout_ms);
            break;
        }
        if (!line[0])
            continue;
        if (echo_pending && !in_data && !strcmp(line, cmd)) {
            echo_pending = false;
            continue;
        }
        if (!strcmp(line, "busy p...")) {
            /* The module dropped the command (or our data): wait until it is quiet, then again.
             * The lines of the command it was busy with are not ours. */
            drop_busy_code(s);
            if (cli_link_wait_quiet(l, deadline) < 0) {
                rc = cli_link_port_error(l, cmd);
                break;
            }
            if (in_data) {
                rc = cli_error(cmd, "the module was busy while the data was sent");
                break;
            }
            resend = cli_now_ms() < deadline;
            if (resend)
                fprintf(stderr, "atota: %s: the module was busy; sending it again\n", cmd);
            continue;
        }
        keep(s, line);
        if (!strcmp(line, "ERROR") || !strcmp(line, "SEND FAIL")) {
            print_kept(s);
            rc = cli_error(cmd, "%s", line);
        } else if (!strcmp(line, "SEND OK")) {
            rc = CLI_EXIT_OK;
        } else if (!strcmp(line, "OK")) {
            int p = in_data
                        ? 0
                        : prompt_follows(l, data && !*data_used ? DATA_GRACE_MS : PROMPT_GRACE_MS);
            if (p < 0) {
                rc = cli_link_port_error(l, cmd);
            } else if (p == 0) {
                rc = CLI_EXIT_OK;
            } else if (!data || *data_used) {
                keep(s, ">");
                print_kept(s);
                rc = cli_error(cmd, "the module waits for data (>) but there is no --data %s",
                               data ? "left (it went to an earlier command)" : "FILE");
            } else {
                keep(s, ">");
                if (atota_uart_client_write(l->port, data, data_len, timeout_ms, &l->diag)) {
                    rc = cli_link_port_error(l, cmd);
                    break;
                }
                *data_used = true;
                in_data = true;
                deadline = cli_now_ms() + timeout_ms;
            }
        }
    }
    /* A restart: the next command waits for the module to be ready again. */
    if (rc == CLI_EXIT_OK && is_restart(cmd)) {
        deadline = cli_now_ms() + timeout_ms;
        for (;;) {
            int r = cli_link_next_line(l, line, deadline);
            if (r < 0) {
                rc = cli_link_port_error(l, cmd);
                break;
            }
            if (r == 0) {
                print_kept(s);
                rc = cli_error(cmd, "no \"ready\" within %u ms after the restart", timeout_ms);
                break;
            }
            if (!strcmp(line, "ready")) {
                keep(s, line);
                break;
            }
        }
    }
    print_kept(s);
    free(line);
    return rc;
}

int cli_cmd_at(int argc, char **argv)
{
    static const struct option options[] = {
        {"port", required_argument, 0, 'p'},
        {"timeout", required_argument, 0, 't'},
        {"data", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *port = NULL, *data_path = NULL;
    uint32_t timeout_ms = DEFAULT_TIMEOUT_MS;
    int c;
    optind = 1;
    /* Options may come after the commands too: an AT command never starts with '-'. */
    while ((c = getopt_long(argc, argv, "p:t:d:h", options, NULL)) != -1) {
        switch (c) {
        case 'p':
            port = optarg;
            break;
        case 't':
            if (cli_parse_u32(optarg, &timeout_ms) || !timeout_ms || timeout_ms > 3600000)
                return cli_usage_error(at_usage, "bad --timeout '%s' (milliseconds)", optarg);
            break;
        case 'd':
            data_path = optarg;
            break;
        case 'h':
            printf("usage: %s\n", at_usage);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(at_usage, "bad option");
        }
    }
    if (!port)
        return cli_usage_error(at_usage, "at needs --port PORT");
    if (optind == argc)
        return cli_usage_error(at_usage, "at needs at least one command");
    for (int i = optind; i < argc; i++)
        if (strlen(argv[i]) + 2 > 256 || strpbrk(argv[i], "\r\n"))
            return cli_usage_error(at_usage, "'%s': a command is one line of at most 254 bytes",
                                   argv[i]);

    uint8_t *data = NULL;
    size_t data_len = 0;
    atota_diag_t diag = {{0}};
    atota_err_t err;
    if (data_path && (err = cli_read_file(data_path, 64u << 20, &data, &data_len, &diag)))
        return cli_error(data_path, "%s", atota_diag_text(&diag, err));
    session_t *s = calloc(1, sizeof *s);
    if (!s) {
        free(data);
        return cli_error(NULL, "out of memory");
    }
    int rc = cli_link_open(port, at_usage, &s->link);
    bool data_used = false;
    for (int i = optind; i < argc && rc == CLI_EXIT_OK; i++)
        rc = run_command(s, argv[i], timeout_ms, data, data_len, &data_used);
    cli_link_close(s->link);
    free(s->out);
    free(s);
    free(data);
    return rc;
}
