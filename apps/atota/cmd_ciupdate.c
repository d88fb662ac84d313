/*
 * `atota ciupdate`: upgrade a module, simulated or real, with AT+CIUPDATE from its OTA server
 * (esp-at-ota.md §3), and show the module's progress; --list runs AT+CIPFWVER? (the server's
 * versions, §3.6) and --state AT+CIUPDATE? (the state of the last update, §3.1).
 *
 * The command is exactly one of ESP-AT's forms (§3.1): "AT+CIUPDATE" without options, else
 * "AT+CIUPDATE=<mode>[,"<version>"][,"<name>"][,<nonblocking>]" with an omitted middle parameter
 * written empty ("AT+CIUPDATE=1,,,1") and the omitted ones at the end left out. The module then
 * prints "+CIPUPDATE:<n>" lines (§3.2): 1 found the server, 2 connected, 3 got the version, 4 done,
 * -1 failed (non-blocking). Blocking, the final result is OK or ERROR, and after OK for the app
 * ("ota") the module restarts by itself and says "ready". Non-blocking, OK comes at once and the
 * update ends on +CIPUPDATE:4 or -1, with no restart (§3.2: the host sends AT+RST; --restart does).
 *
 * Like `atota at` and `atota userota`, it copes with a real module: echo on or off, unsolicited
 * lines, "busy p..." (the command is sent again once the port is quiet), a stale "ready".
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps/atota/cli.h"
#include "apps/atota/at_link.h"

static const char ciupdate_usage[] =
    "atota ciupdate --port PORT [--mode 0|1] [--version V] [--name LABEL] [--nonblocking]\n"
    "                      [--restart] [--timeout S]\n"
    "       atota ciupdate --port PORT --list | --state [--timeout S]\n"
    "  PORT: a serial device or pty, PATH[@BAUD] (default 115200), or tcp:HOST:PORT\n"
    "  --mode: 0 HTTP, 1 HTTPS (default 0); --version: the server's recommended one if omitted;\n"
    "  --name: ota (the firmware, default) or an at_customize partition's label\n"
    "  --restart: AT+RST after a successful update the module did not restart for\n"
    "  --timeout: seconds from the command to the update's end (default 200; ESP-AT's own\n"
    "  limit is 3 minutes), 30 for --list and --state";

#define DEFAULT_TIMEOUT_S 200u /* esp-at-ota.md §3.3: ESP-AT gives up after 3 minutes */
#define QUERY_TIMEOUT_S   30u  /* --list (ESP-AT's HTTP timeout is 10 s) and --state */
#define PARAM_LEN_MAX     64u  /* §3.1: version and firmware name, longer -> ERROR */

/* ---- the update ---------------------------------------------------------------------------- */

typedef struct {
    const char *port;
    int mode; /* -1: not given */
    const char *version, *name;
    bool nonblocking, restart, list, state;
    uint32_t timeout_s;
    bool timeout_given;
} args_t;

/* The command line (§3.1): "AT+CIUPDATE" without options; else the set form, with an omitted
 * middle parameter left empty and the omitted ones at the end left out. */
static void build_command(const args_t *a, char *cmd, size_t cap)
{
    if (a->mode < 0 && !a->version && !a->name && !a->nonblocking) {
        snprintf(cmd, cap, "AT+CIUPDATE");
        return;
    }
    snprintf(cmd, cap, "AT+CIUPDATE=%d", a->mode < 0 ? 0 : a->mode);
    int last = a->nonblocking ? 3 : a->name ? 2 : a->version ? 1 : 0;
    if (last >= 1) {
        strncat(cmd, ",", cap - strlen(cmd) - 1);
        if (a->version)
            cli_at_append_string(cmd, cap, a->version);
    }
    if (last >= 2) {
        strncat(cmd, ",", cap - strlen(cmd) - 1);
        if (a->name)
            cli_at_append_string(cmd, cap, a->name);
    }
    if (last >= 3)
        strncat(cmd, ",1", cap - strlen(cmd) - 1);
}

/* +CIPUPDATE:<n> and +CIUPDATE:<n> values (esp-at-ota.md §3.2). */
static const char *state_meaning(int state)
{
    switch (state) {
    case -1:
        return "failed";
    case 0:
        return "idle: no update since the module started";
    case 1:
        return "found the server";
    case 2:
        return "connected to the server";
    case 3:
        return "got the version to download";
    case 4:
        return "done: written and verified";
    default:
        return "unknown state";
    }
}

/* "<prefix><n>" with n an integer: 1 and *state set, else 0. */
static int parse_state(const char *line, const char *prefix, int *state)
{
    size_t n = strlen(prefix);
    if (strncmp(line, prefix, n))
        return 0;
    char *end;
    long v = strtol(line + n, &end, 10);
    if (end == line + n || *end || v < -1 || v > 4)
        return 0;
    *state = (int)v;
    return 1;
}

/* Why an update failed, from the last state the module reached (esp-at-ota.md §3.2). */
static const char *failure_reason(int last, bool version_given)
{
    switch (last) {
    case 0:
        return "the module refused the command (a bad parameter, an update already running, no "
               "OTA support) or could not resolve its OTA server (no network?)";
    case 1:
        return version_given ? "the download failed (no such version or file on the server, a "
                               "wrong magic, too large, or the connection failed)"
                             : "the module could not connect to its OTA server";
    case 2:
        return "the server gave no version (a wrong token, or no recommended version)";
    default:
        return "the download failed (no such version or file on the server, a wrong magic, too "
               "large, the connection failed, or the 3-minute limit)";
    }
}

/* Sends the update and reads its output to the end: 0 success, else the exit status. The
 * +CIPUPDATE lines are printed as they come, each with its meaning, and the module's other lines
 * as they are. */
static int run_update(cli_link_t *l, const args_t *a, const char *cmd)
{
    char line[CLI_LINE_MAX];
    uint64_t deadline = cli_now_ms() + (uint64_t)a->timeout_s * 1000u;
    bool resend = true, ok = false;
    int last = 0, state;
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
            return cli_error(cmd, "no %s within %" PRIu32 " s (the last progress: %s)",
                             ok ? "+CIPUPDATE:4 or -1" : "OK or ERROR", a->timeout_s,
                             last ? state_meaning(last) : "none");
        bool started = ok || last;
        if (!strcmp(line, cmd) || (!strcmp(line, "ready") && !started))
            continue; /* the echo, or a restart that happened before */
        if (!strcmp(line, "ready"))
            return cli_error(cmd,
                             "the module restarted during the update (the last progress: "
                             "%s)",
                             last ? state_meaning(last) : "none");
        if (!strcmp(line, "busy p...") && !started) {
            if (cli_link_wait_quiet(l, deadline) < 0)
                return cli_link_port_error(l, cmd);
            resend = cli_now_ms() < deadline;
            continue;
        }
        if (parse_state(line, "+CIPUPDATE:", &state)) {
            printf("%-14s %s\n", line, state_meaning(state));
            fflush(stdout);
            if (state == -1)
                return cli_error(cmd, "+CIPUPDATE:-1: %s",
                                 failure_reason(last, a->version != NULL));
            last = state;
            if (a->nonblocking && ok && state == 4)
                return CLI_EXIT_OK;
            continue;
        }
        printf("%s\n", line);
        fflush(stdout);
        if (!strcmp(line, "ERROR"))
            return cli_error(cmd, "ERROR: %s",
                             ok ? "after OK" : failure_reason(last, a->version != NULL));
        if (!strcmp(line, "OK") && !ok) {
            ok = true;
            if (!a->nonblocking || last == 4)
                return CLI_EXIT_OK;
        }
    }
}

static int update(cli_link_t *l, const args_t *a)
{
    char cmd[CLI_COMMAND_LEN + 64];
    build_command(a, cmd, sizeof cmd);
    /* §3.1: an omitted or empty name is the app firmware, which alone restarts the module. */
    bool app = !a->name || !a->name[0] || !strcmp(a->name, "ota");
    char before[CLI_LINE_MAX], after[CLI_LINE_MAX];
    char at_line[CLI_LINE_MAX], bin_line[CLI_LINE_MAX];
    int rc = app ? cli_link_version(l, before, sizeof before, NULL, NULL, 0) : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK)
        rc = run_update(l, a, cmd);
    if (rc != CLI_EXIT_OK)
        return rc;
    unsigned ready_ms = a->timeout_s * 1000u < CLI_READY_MS ? a->timeout_s * 1000u : CLI_READY_MS;
    bool restarted = false;
    if (app && !a->nonblocking) {
        /* §3.2: blocking, ota: OK, the TX drained, esp_restart(), "ready" */
        rc = cli_link_wait_ready(l, cmd, ready_ms);
        restarted = true;
    } else if (a->restart) {
        rc = cli_link_restart(l, ready_ms);
        restarted = true;
    }
    if (rc != CLI_EXIT_OK)
        return rc;
    if (restarted && app) {
        if ((rc = cli_link_version(l, after, sizeof after, at_line, bin_line, sizeof at_line)))
            return rc;
        if (at_line[0])
            printf("%s\n", at_line);
        if (bin_line[0])
            printf("%s\n", bin_line);
        printf("upgraded: %s -> %s\n", before, after);
        if (!strcmp(before, after))
            fprintf(stderr, "atota: note: the module runs the same version as before\n");
    } else if (app) {
        printf("the new firmware runs after a restart: send AT+RST (atota ciupdate --restart "
               "does it)\n");
    } else {
        printf("updated partition '%s'%s\n", a->name,
               restarted ? ", and the module restarted" : "");
    }
    return CLI_EXIT_OK;
}

/* ---- --list and --state -------------------------------------------------------------------- */

static void version_line(void *ctx, const char *line)
{
    unsigned *count = ctx;
    static const char prefix[] = "+CIPFWVER:";
    size_t n = strlen(line);
    if (strncmp(line, prefix, sizeof prefix - 1))
        return;
    const char *v = line + sizeof prefix - 1;
    n -= sizeof prefix - 1;
    /* §3.6: the version with both its quotes */
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        printf("%.*s\n", (int)(n - 2), v + 1);
    else
        printf("%s\n", v);
    (*count)++;
}

static int list_versions(cli_link_t *l, unsigned timeout_ms)
{
    unsigned count = 0;
    int rc = cli_link_command(l, "AT+CIPFWVER?", timeout_ms, version_line, &count,
                              "the module could not list the server's versions (no network, the "
                              "server unreachable, or an HTTP error)");
    fflush(stdout);
    if (rc == CLI_EXIT_OK && !count)
        fprintf(stderr, "atota: note: the server lists no versions for this module\n");
    return rc;
}

typedef struct {
    bool found;
    int state;
} state_t;

static void state_line(void *ctx, const char *line)
{
    state_t *st = ctx;
    /* §3.1: the code prints +CIUPDATE:<n>; the documentation says +CIPUPDATE:<n> */
    if (parse_state(line, "+CIUPDATE:", &st->state) || parse_state(line, "+CIPUPDATE:", &st->state))
        st->found = true;
}

static int query_state(cli_link_t *l, unsigned timeout_ms)
{
    state_t st = {0};
    int rc = cli_link_command(l, "AT+CIUPDATE?", timeout_ms, state_line, &st,
                              "the module has no AT+CIUPDATE (OTA support not in its firmware)");
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!st.found)
        return cli_error("AT+CIUPDATE?", "OK without a +CIUPDATE:<state> line");
    printf("state %d: %s%s\n", st.state, state_meaning(st.state),
           st.state >= 1 && st.state <= 3 ? " (an update is running)" : "");
    return CLI_EXIT_OK;
}

/* ---- the command line ---------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, args_t *a)
{
    static const struct option options[] = {
        {"port", required_argument, 0, 'p'},
        {"mode", required_argument, 0, 'm'},
        {"version", required_argument, 0, 'v'},
        {"name", required_argument, 0, 'n'},
        {"nonblocking", no_argument, 0, 'b'},
        {"restart", no_argument, 0, 'r'},
        {"list", no_argument, 0, 'l'},
        {"state", no_argument, 0, 's'},
        {"timeout", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    a->mode = -1;
    a->timeout_s = DEFAULT_TIMEOUT_S;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:t:h", options, NULL)) != -1) {
        switch (c) {
        case 'p':
            a->port = optarg;
            break;
        case 'm':
            if (strcmp(optarg, "0") && strcmp(optarg, "1"))
                return cli_usage_error(ciupdate_usage, "bad --mode '%s' (0 HTTP, 1 HTTPS)", optarg);
            a->mode = optarg[0] - '0';
            break;
        case 'v':
        case 'n':
            if (strlen(optarg) > PARAM_LEN_MAX || strpbrk(optarg, "\r\n"))
                return cli_usage_error(ciupdate_usage,
                                       "--%s '%s': at most %u bytes on one line (ESP-AT's limit)",
                                       c == 'v' ? "version" : "name", optarg, PARAM_LEN_MAX);
            *(c == 'v' ? &a->version : &a->name) = optarg;
            break;
        case 'b':
            a->nonblocking = true;
            break;
        case 'r':
            a->restart = true;
            break;
        case 'l':
            a->list = true;
            break;
        case 's':
            a->state = true;
            break;
        case 't':
            if (cli_parse_u32(optarg, &a->timeout_s) || !a->timeout_s || a->timeout_s > 86400)
                return cli_usage_error(ciupdate_usage, "bad --timeout '%s' (seconds)", optarg);
            a->timeout_given = true;
            break;
        case 'h':
            printf("usage: %s\n", ciupdate_usage);
            return -1;
        default:
            return cli_usage_error(ciupdate_usage, "bad option");
        }
    }
    if (!a->port)
        return cli_usage_error(ciupdate_usage, "ciupdate needs --port PORT");
    if (optind != argc)
        return cli_usage_error(ciupdate_usage, "unexpected argument '%s'", argv[optind]);
    bool updating = a->mode >= 0 || a->version || a->name || a->nonblocking || a->restart;
    if (a->list + a->state + updating > 1)
        return cli_usage_error(ciupdate_usage,
                               "--list, --state and the update's options go one at a time");
    return CLI_EXIT_OK;
}

int cli_cmd_ciupdate(int argc, char **argv)
{
    args_t a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (!a.list && !a.state) {
        char cmd[CLI_COMMAND_LEN + 64];
        build_command(&a, cmd, sizeof cmd);
        if (strlen(cmd) > CLI_COMMAND_LEN)
            return cli_usage_error(ciupdate_usage,
                                   "'%s' is longer than an AT command may be (%u bytes)", cmd,
                                   CLI_COMMAND_LEN);
    }
    cli_link_t *l;
    if ((rc = cli_link_open(a.port, ciupdate_usage, &l)))
        return rc;
    unsigned query_ms = (a.timeout_given ? a.timeout_s : QUERY_TIMEOUT_S) * 1000u;
    if (a.list)
        rc = list_versions(l, query_ms);
    else if (a.state)
        rc = query_state(l, query_ms);
    else
        rc = update(l, &a);
    cli_link_close(l);
    return rc;
}
