/* The AT engine (esp-at-ota.md §1): every assertion compares the exact bytes written to the UART
 * with what ESP-AT writes (echo, OK/ERROR, ERR CODE lines, the ">" prompt, busy p...), and
 * prints both, with \r and \n made visible, when they differ. */
#include "core/at/at.h"
#include "support/check.h"

#include <stdbool.h>

/* ---- the rig: an engine, its captured output, and a command table that records ---------- */

typedef struct {
    atota_at_t at;
    char out[16384];
    size_t out_len;
    size_t seen; /* output already checked by expect_out() */
    /* data handler */
    char data[4096];
    size_t data_len;
    unsigned data_calls;
    size_t chunks[64];
    atota_at_rc_t data_rc_mid, data_rc_last;
    uint32_t data_err;
    unsigned handler_calls;
} rig_t;

static void rig_write(void *ctx, const void *data, size_t len)
{
    rig_t *r = ctx;
    assert_true(r->out_len + len < sizeof r->out);
    memcpy(r->out + r->out_len, data, len);
    r->out_len += len;
    r->out[r->out_len] = '\0';
}

/* Text with \r, \n and other control bytes written as escapes, for failure messages. */
static void visible(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r')
            o += (size_t)snprintf(dst + o, cap - o, "\\r");
        else if (c == '\n')
            o += (size_t)snprintf(dst + o, cap - o, "\\n");
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
        else
            dst[o++] = (char)c;
    }
    dst[o] = '\0';
}

/* The output written since the previous call must be exactly `want`. */
static void expect_out(rig_t *r, const char *what, const char *want)
{
    const char *got = r->out + r->seen;
    size_t got_len = r->out_len - r->seen;
    r->seen = r->out_len;
    if (got_len == strlen(want) && memcmp(got, want, got_len) == 0)
        return;
    static char w[4096], g[4096];
    visible(w, sizeof w, want, strlen(want));
    visible(g, sizeof g, got, got_len);
    print_error("%s: output differs\n  expected: \"%s\"\n  got:      \"%s\"\n", what, w, g);
    fail();
}

static void feed(rig_t *r, const char *s)
{
    atota_at_feed(&r->at, s, strlen(s));
}

/* Each parameter as [i:N] [o] [s:text] [r:text], so one line shows a whole parse. */
static void describe_params(atota_at_t *at, const atota_at_params_t *p)
{
    atota_at_printf(at, "+T:%u", p->count);
    for (unsigned i = 0; i < p->count; i++) {
        const atota_at_param_t *v = &p->p[i];
        char text[600];
        switch (v->kind) {
        case ATOTA_AT_PARAM_OMITTED:
            atota_at_printf(at, "[o]");
            break;
        case ATOTA_AT_PARAM_INT:
            atota_at_printf(at, "[i:%lld]", (long long)v->num);
            break;
        case ATOTA_AT_PARAM_STR:
        case ATOTA_AT_PARAM_RAW:
            assert_int_equal(v->str[v->len], '\0');
            visible(text, sizeof text, v->str, v->len);
            atota_at_printf(at, "[%c:%s]", v->kind == ATOTA_AT_PARAM_STR ? 's' : 'r', text);
            break;
        }
    }
    atota_at_printf(at, "\r\n");
}

static atota_at_rc_t h_ok(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at, (void)p;
    if (ctx)
        ((rig_t *)ctx)->handler_calls++;
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_e0(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    at->echo = false;
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_e1(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    at->echo = true;
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_syslog(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx;
    int64_t v;
    if (!atota_at_count(at, p, 1, 1) || !atota_at_int(at, p, 0, 0, 1, &v))
        return ATOTA_AT_ERROR;
    at->syslog = v == 1;
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_t_test(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx;
    assert_null(p);
    atota_at_printf(at, "+T:test\r\n");
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_t_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx;
    assert_null(p);
    atota_at_printf(at, "+T:query\r\n");
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_t_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx;
    assert_non_null(p);
    describe_params(at, p);
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_t_exec(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx;
    assert_null(p);
    atota_at_printf(at, "+T:exec\r\n");
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_cwjap(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    atota_at_printf(at, "%s\r\n", at->current->name);
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_fail(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at, (void)ctx, (void)p;
    return ATOTA_AT_ERROR;
}

static atota_at_rc_t h_fail_code(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    atota_at_set_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_EXEC_FAIL) | 0x1234);
    return ATOTA_AT_ERROR;
}

/* AT+HELP=<int 0..3>[,<int -5..5, default 7>],<str max 4>[,<str max 2>] */
static atota_at_rc_t h_help(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx;
    int64_t a, b;
    const char *s, *t;
    size_t sl, tl;
    if (!atota_at_count(at, p, 3, 4) || !atota_at_int(at, p, 0, 0, 3, &a) ||
        !atota_at_int_opt(at, p, 1, -5, 5, 7, &b) || !atota_at_str(at, p, 2, 4, &s, &sl) ||
        !atota_at_str_opt(at, p, 3, 2, &t, &tl))
        return ATOTA_AT_ERROR;
    atota_at_printf(at, "+HELP:%lld,%lld,%s,%s\r\n", (long long)a, (long long)b, s,
                    t ? t : "(none)");
    return ATOTA_AT_OK;
}

static atota_at_rc_t on_data(atota_at_t *at, void *ctx, const uint8_t *data, size_t len, bool last)
{
    rig_t *r = ctx;
    assert_true(r->data_len + len <= sizeof r->data);
    memcpy(r->data + r->data_len, data, len);
    r->data_len += len;
    if (r->data_calls < 64)
        r->chunks[r->data_calls] = len;
    r->data_calls++;
    if (!last) {
        if (r->data_rc_mid == ATOTA_AT_ERROR && r->data_err)
            atota_at_set_error(at, r->data_err);
        return r->data_rc_mid;
    }
    atota_at_printf(at, "\r\nRecv %zu bytes\r\n", r->data_len); /* as AT+USEROTA (§1.4) */
    return r->data_rc_last;
}

/* AT+DATA=<n>: a prompt for n raw bytes, as AT+USEROTA and AT+SYSFLASH=1 do. */
static atota_at_rc_t h_data(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    int64_t n;
    if (!atota_at_int(at, p, 0, 0, 4096, &n))
        return ATOTA_AT_ERROR;
    atota_at_expect_data(at, (size_t)n, on_data, ctx);
    return ATOTA_AT_PROMPT;
}

static atota_at_rc_t h_pending(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    atota_at_complete(at, ATOTA_AT_OK); /* nothing pending yet: ignored */
    return ATOTA_AT_PENDING;
}

static atota_at_rc_t h_noprompt(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at, (void)ctx, (void)p;
    return ATOTA_AT_PROMPT;
}

static atota_at_rc_t h_bad_rc(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at, (void)ctx, (void)p;
    return (atota_at_rc_t)42;
}

static atota_at_rc_t h_silent(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    atota_at_printf(at, "custom\r\n");
    return ATOTA_AT_SILENT;
}

static atota_at_rc_t h_refeed(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    atota_at_feed(at, "AT\r\n", 4); /* not allowed: ignored */
    return ATOTA_AT_OK;
}

static const atota_at_cmd_t base_cmds[] = {
    {"", NULL, NULL, NULL, h_ok},
    {"E0", NULL, NULL, NULL, h_e0},
    {"E1", NULL, NULL, NULL, h_e1},
    {"+SYSLOG", NULL, NULL, h_syslog, NULL},
};

static const atota_at_cmd_t test_cmds[] = {
    {"+T", h_t_test, h_t_query, h_t_set, h_t_exec},
    {"+CWJAP", NULL, h_cwjap, h_cwjap, h_cwjap},
    {"+CWJAPX", NULL, NULL, NULL, h_cwjap},
    {"+Q", NULL, h_t_query, NULL, NULL},
    {"+FAIL", NULL, NULL, h_fail_code, h_fail},
    {"+HELP", NULL, NULL, h_help, NULL},
    {"+DATA", NULL, NULL, h_data, NULL},
    {"+WAIT", NULL, NULL, NULL, h_pending},
    {"+NOPROMPT", NULL, NULL, NULL, h_noprompt},
    {"+SILENT", NULL, NULL, NULL, h_silent},
    {"+BADRC", NULL, NULL, NULL, h_bad_rc},
    {"+REFEED", NULL, NULL, NULL, h_refeed},
};

#define COUNT(a) ((unsigned)(sizeof(a) / sizeof((a)[0])))

static rig_t *rig_new(void)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    atota_at_init(&r->at, rig_write, r);
    assert_int_equal(atota_at_add_table(&r->at, base_cmds, COUNT(base_cmds), r), ATOTA_OK);
    assert_int_equal(atota_at_add_table(&r->at, test_cmds, COUNT(test_cmds), r), ATOTA_OK);
    r->data_rc_mid = ATOTA_AT_OK;
    r->data_rc_last = ATOTA_AT_OK;
    return r;
}

static void rig_syslog(rig_t *r)
{
    feed(r, "AT+SYSLOG=1\r\n");
    expect_out(r, "AT+SYSLOG=1", "AT+SYSLOG=1\r\n\r\nOK\r\n");
}

/* ---- framing and echo ----------------------------------------------------------------- */

static void echo_is_on_by_default(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    assert_true(r->at.echo);
    assert_false(r->at.syslog);
    feed(r, "AT\r\n");
    expect_out(r, "AT with echo", "AT\r\n\r\nOK\r\n");
    assert_int_equal(r->handler_calls, 1);
    free(r);
}

static void ate0_and_ate1(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    feed(r, "ATE0\r\n"); /* echoed: echo is still on while the line arrives */
    expect_out(r, "ATE0", "ATE0\r\n\r\nOK\r\n");
    feed(r, "AT+T\r\n");
    expect_out(r, "AT+T, echo off", "+T:exec\r\n\r\nOK\r\n");
    feed(r, "ATE1\r\n"); /* not echoed: echo was off when it arrived */
    expect_out(r, "ATE1", "\r\nOK\r\n");
    feed(r, "AT\r\n");
    expect_out(r, "AT, echo on again", "AT\r\n\r\nOK\r\n");
    free(r);
}

static void line_split_across_feeds(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    feed(r, "A");
    feed(r, "T+T?\r");
    expect_out(r, "no output before the line ends", "");
    feed(r, "\n");
    expect_out(r, "AT+T? in pieces", "AT+T?\r\n+T:query\r\n\r\nOK\r\n");
    /* two lines in one feed */
    feed(r, "AT\r\nAT+T\r\n");
    expect_out(r, "two lines", "AT\r\n\r\nOK\r\nAT+T\r\n+T:exec\r\n\r\nOK\r\n");
    free(r);
}

static void bare_lf_and_lone_cr(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    /* a "\n" without "\r": the line ends, without the required terminator (0x01020000) */
    feed(r, "AT\n");
    expect_out(r, "AT<LF>", "AT\n\r\nERROR\r\n");
    rig_syslog(r);
    feed(r, "AT\n");
    expect_out(r, "AT<LF> with syslog", "AT\nERR CODE:0x01020000\r\n\r\nERROR\r\n");
    /* a stray LF after a command (esp-faq): ERROR when idle */
    feed(r, "AT\r\n\n");
    expect_out(r, "AT<CR><LF><LF>", "AT\r\n\r\nOK\r\n\nERR CODE:0x01020000\r\n\r\nERROR\r\n");
    /* a lone CR is an ordinary byte: "AT\rX" is the command "\rX" */
    feed(r, "AT\rX\r\n");
    expect_out(r, "AT<CR>X", "AT\rX\r\nERR CODE:0x01090000\r\n\r\nERROR\r\n");
    /* "\r\r\n": the name is "\r" */
    feed(r, "AT\r\r\n");
    expect_out(r, "AT<CR><CR><LF>", "AT\r\r\nERR CODE:0x01090000\r\n\r\nERROR\r\n");
    free(r);
}

static void lines_without_at(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    feed(r, "hello\r\n");
    expect_out(r, "hello", "hello\r\n\r\nERROR\r\n");
    rig_syslog(r);
    feed(r, "hello\r\n");
    expect_out(r, "hello with syslog", "hello\r\nERR CODE:0x01030000\r\n\r\nERROR\r\n");
    feed(r, "at\r\n"); /* ESP_AT_SUB_NO_AT: "at", "At" and "aT" are not AT */
    expect_out(r, "lower-case at", "at\r\nERR CODE:0x01030000\r\n\r\nERROR\r\n");
    feed(r, "A\r\n");
    expect_out(r, "A", "A\r\nERR CODE:0x01030000\r\n\r\nERROR\r\n");
    feed(r, "\r\n");
    expect_out(r, "empty line", "\r\nERR CODE:0x01030000\r\n\r\nERROR\r\n");
    free(r);
}

static void overlong_line_then_recovery(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    /* 256 bytes with "\r\n" is the limit: "AT+T=" + 249 'x' + "\r\n" */
    char line[600];
    memset(line, 0, sizeof line);
    strcpy(line, "AT+T=");
    memset(line + 5, 'x', 249);
    strcat(line, "\r\n");
    assert_int_equal(strlen(line), ATOTA_AT_MAX_LINE);
    feed(r, line);
    char want[1200];
    char xs[300];
    memset(xs, 0, sizeof xs);
    memset(xs, 'x', 249);
    snprintf(want, sizeof want, "%s+T:1[r:%s]\r\n\r\nOK\r\n", line, xs);
    expect_out(r, "a line of exactly 256 bytes", want);

    /* one more byte: ERROR, echoed verbatim, nothing dispatched */
    rig_syslog(r);
    memset(line, 0, sizeof line);
    strcpy(line, "AT+T=");
    memset(line + 5, 'x', 250);
    strcat(line, "\r\n");
    feed(r, line);
    snprintf(want, sizeof want, "%sERR CODE:0x01040000\r\n\r\nERROR\r\n", line);
    expect_out(r, "a line of 257 bytes", want);

    /* far longer, fed in pieces, then the next line works */
    for (int i = 0; i < 10; i++)
        feed(r, "AT+T=yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
    feed(r, "\r\nAT+T?\r\n");
    memset(want, 0, sizeof want);
    for (int i = 0; i < 10; i++)
        strcat(want, "AT+T=yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
    strcat(want, "\r\nERR CODE:0x01040000\r\n\r\nERROR\r\nAT+T?\r\n+T:query\r\n\r\nOK\r\n");
    expect_out(r, "a 670-byte line, then AT+T?", want);

    /* without echo, only the result */
    r->at.echo = false;
    memset(line, 'z', 400);
    line[400] = '\0';
    feed(r, line);
    feed(r, "\r\nAT\r\n");
    expect_out(r, "overlong without echo", "ERR CODE:0x01040000\r\n\r\nERROR\r\n\r\nOK\r\n");
    free(r);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static void four_command_types(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    feed(r, "AT+T=?\r\n");
    expect_out(r, "test", "AT+T=?\r\n+T:test\r\n\r\nOK\r\n");
    feed(r, "AT+T?\r\n");
    expect_out(r, "query", "AT+T?\r\n+T:query\r\n\r\nOK\r\n");
    feed(r, "AT+T=1\r\n");
    expect_out(r, "set", "AT+T=1\r\n+T:1[i:1]\r\n\r\nOK\r\n");
    feed(r, "AT+T\r\n");
    expect_out(r, "exec", "AT+T\r\n+T:exec\r\n\r\nOK\r\n");
    /* "=?" followed by more is a set whose first parameter is "?x" */
    feed(r, "AT+T=?x\r\n");
    expect_out(r, "set ?x", "AT+T=?x\r\n+T:1[r:?x]\r\n\r\nOK\r\n");
    rig_syslog(r);
    feed(r, "AT+T?x\r\n");
    expect_out(r, "query with junk", "AT+T?x\r\nERR CODE:0x01080000\r\n\r\nERROR\r\n");
    free(r);
}

static void names_match_exactly(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    feed(r, "AT+CWJAPX\r\n");
    expect_out(r, "+CWJAPX", "AT+CWJAPX\r\n+CWJAPX\r\n\r\nOK\r\n");
    feed(r, "AT+CWJAP\r\n");
    expect_out(r, "+CWJAP", "AT+CWJAP\r\n+CWJAP\r\n\r\nOK\r\n");
    feed(r, "AT+CWJAP=\"a\"\r\n");
    expect_out(r, "+CWJAP=", "AT+CWJAP=\"a\"\r\n+CWJAP\r\n\r\nOK\r\n");
    rig_syslog(r);
    feed(r, "AT+CWJAPX?\r\n"); /* +CWJAPX has no query; +CWJAP's must not answer */
    expect_out(r, "+CWJAPX?", "AT+CWJAPX?\r\nERR CODE:0x010c0000\r\n\r\nERROR\r\n");
    feed(r, "AT+CWJA\r\n");
    expect_out(r, "+CWJA", "AT+CWJA\r\nERR CODE:0x01090000\r\n\r\nERROR\r\n");
    feed(r, "AT+t\r\n"); /* case-sensitive */
    expect_out(r, "+t", "AT+t\r\nERR CODE:0x01090000\r\n\r\nERROR\r\n");
    feed(r, "AT+T \r\n"); /* a stray space is part of the name (esp-faq: ERROR) */
    expect_out(r, "+T<space>", "AT+T \r\nERR CODE:0x01090000\r\n\r\nERROR\r\n");
    free(r);
}

static void unknown_command(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    feed(r, "AT+FAKE\r\n");
    expect_out(r, "AT+FAKE without syslog", "AT+FAKE\r\n\r\nERROR\r\n");
    rig_syslog(r);
    /* Basic_AT_Commands.rst, AT+SYSLOG example */
    feed(r, "AT+FAKE\r\n");
    expect_out(r, "AT+FAKE with syslog", "AT+FAKE\r\nERR CODE:0x01090000\r\n\r\nERROR\r\n");
    feed(r, "AT+FAKE=1,\"x\r\n"); /* unknown is decided before the parameters are parsed */
    expect_out(r, "AT+FAKE=bad", "AT+FAKE=1,\"x\r\nERR CODE:0x01090000\r\n\r\nERROR\r\n");
    free(r);
}

static void missing_handler(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    feed(r, "AT+Q=?\r\n");
    expect_out(r, "AT+Q=? without syslog", "AT+Q=?\r\n\r\nERROR\r\n");
    rig_syslog(r);
    feed(r, "AT+Q=?\r\n");
    expect_out(r, "AT+Q=?", "AT+Q=?\r\nERR CODE:0x010c0000\r\n\r\nERROR\r\n");
    feed(r, "AT+Q=1\r\n");
    expect_out(r, "AT+Q=1", "AT+Q=1\r\nERR CODE:0x010c0000\r\n\r\nERROR\r\n");
    feed(r, "AT+Q\r\n");
    expect_out(r, "AT+Q", "AT+Q\r\nERR CODE:0x010c0000\r\n\r\nERROR\r\n");
    feed(r, "AT+Q?\r\n");
    expect_out(r, "AT+Q?", "AT+Q?\r\n+T:query\r\n\r\nOK\r\n");
    free(r);
}

/* ---- parameters -------------------------------------------------------------------------- */

static void params_kinds(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    r->at.echo = false;
    static const struct {
        const char *line, *want;
    } cases[] = {
        {"AT+T=1,,3\r\n", "+T:3[i:1][o][i:3]\r\n"},
        {"AT+T=\r\n", "+T:1[o]\r\n"},
        {"AT+T=1,\r\n", "+T:2[i:1][o]\r\n"},
        {"AT+T=,\r\n", "+T:2[o][o]\r\n"},
        {"AT+T=-42,0,007\r\n", "+T:3[i:-42][i:0][i:7]\r\n"},
        {"AT+T=0x1C000,0XfF,0x\r\n", "+T:3[i:114688][i:255][r:0x]\r\n"},
        {"AT+T=9223372036854775807,-9223372036854775808\r\n",
         "+T:2[i:9223372036854775807][i:-9223372036854775808]\r\n"},
        {"AT+T=9223372036854775808,0x8000000000000000,0x7fffffffffffffff\r\n",
         "+T:3[r:9223372036854775808][r:0x8000000000000000][i:9223372036854775807]\r\n"},
        {"AT+T=0x1G,0x10000000000000000,0x0000000000000000001\r\n",
         "+T:3[r:0x1G][r:0x10000000000000000][i:1]\r\n"},
        {"AT+T=abc,1a,-,+5, 1,-0x1\r\n", "+T:6[r:abc][r:1a][r:-][r:+5][r: 1][r:-0x1]\r\n"},
        {"AT+T=\"ssid\",\"\"\r\n", "+T:2[s:ssid][s:]\r\n"},
        {"AT+T=\"a\\\\b\",\"c\\,d\",\"e\\\"f\",\"\\x\\q\"\r\n",
         "+T:4[s:a\\b][s:c,d][s:e\"f][s:xq]\r\n"},
        {"AT+T=\"a,b\",\"x\"\r\n", "+T:2[s:a,b][s:x]\r\n"},
        {"AT+T=\"123\"\r\n", "+T:1[s:123]\r\n"},
        {"AT+T=a\"b\r\n", "+T:1[r:a\"b]\r\n"},
        {"AT+T=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\r\n",
         "+T:16[i:1][i:2][i:3][i:4][i:5][i:6][i:7][i:8][i:9][i:10][i:11][i:12][i:13][i:14][i:15]"
         "[i:16]\r\n"},
        {"AT+T=,,,,,,,,,,,,,,,\r\n", "+T:16[o][o][o][o][o][o][o][o][o][o][o][o][o][o][o][o]\r\n"},
    };
    for (unsigned i = 0; i < COUNT(cases); i++) {
        feed(r, cases[i].line);
        char want[512];
        snprintf(want, sizeof want, "%s\r\nOK\r\n", cases[i].want);
        expect_out(r, cases[i].line, want);
    }
    free(r);
}

static void params_malformed(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    rig_syslog(r);
    r->at.echo = false;
    static const char *const bad[] = {
        "AT+T=\"abc\r\n",                                     /* unterminated */
        "AT+T=\"abc\\\"\r\n",                                 /* the closing quote is escaped */
        "AT+T=\"abc\\\r\n",                                   /* backslash at the end */
        "AT+T=\"abc\"x\r\n",                                  /* garbage after the quote */
        "AT+T=\"abc\" ,1\r\n",                                /* a space is garbage too */
        "AT+T=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\r\n", /* 17 parameters */
        "AT+T=,,,,,,,,,,,,,,,,\r\n",                          /* 17 omitted */
    };
    for (unsigned i = 0; i < COUNT(bad); i++) {
        feed(r, bad[i]);
        expect_out(r, bad[i], "ERR CODE:0x01080000\r\n\r\nERROR\r\n");
    }
    free(r);
}

static void params_with_nul_bytes(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    r->at.echo = false;
    static const char line[] = "AT+T=\"a\\\0b\",c\0d\r\n";
    atota_at_feed(&r->at, line, sizeof line - 1);
    expect_out(r, "NUL inside params", "+T:2[s:a\\x00b][r:c\\x00d]\r\n\r\nOK\r\n");
    free(r);
}

static void param_helpers(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    rig_syslog(r);
    r->at.echo = false;
    static const struct {
        const char *line, *want;
    } cases[] = {
        {"AT+HELP=1,,\"ab\"\r\n", "+HELP:1,7,ab,(none)\r\n\r\nOK\r\n"},
        {"AT+HELP=3,-5,\"abcd\",\"xy\"\r\n", "+HELP:3,-5,abcd,xy\r\n\r\nOK\r\n"},
        {"AT+HELP=0,5,\"\",\r\n", "+HELP:0,5,,(none)\r\n\r\nOK\r\n"},
        {"AT+HELP=1,2\r\n", "ERR CODE:0x01060000\r\n\r\nERROR\r\n"},               /* too few */
        {"AT+HELP=1,2,\"a\",\"b\",5\r\n", "ERR CODE:0x01060000\r\n\r\nERROR\r\n"}, /* too many */
        {"AT+HELP=4,2,\"a\"\r\n", "ERR CODE:0x01070000\r\n\r\nERROR\r\n"},         /* range */
        {"AT+HELP=1,-6,\"a\"\r\n", "ERR CODE:0x01070000\r\n\r\nERROR\r\n"},
        {"AT+HELP=\"1\",2,\"a\"\r\n", "ERR CODE:0x01050000\r\n\r\nERROR\r\n"}, /* type */
        {"AT+HELP=x,2,\"a\"\r\n", "ERR CODE:0x01050000\r\n\r\nERROR\r\n"},
        {"AT+HELP=,2,\"a\"\r\n", "ERR CODE:0x01050000\r\n\r\nERROR\r\n"}, /* required, omitted */
        {"AT+HELP=1,2,3\r\n", "ERR CODE:0x01050000\r\n\r\nERROR\r\n"},
        {"AT+HELP=1,2,\"abcde\"\r\n", "ERR CODE:0x01040000\r\n\r\nERROR\r\n"}, /* length */
        {"AT+HELP=1,2,\"a\",\"xyz\"\r\n", "ERR CODE:0x01040000\r\n\r\nERROR\r\n"},
        {"AT+HELP=1,2,\"a\",1\r\n", "ERR CODE:0x01050000\r\n\r\nERROR\r\n"},
        {"AT+SYSLOG=2\r\n", "ERR CODE:0x01070000\r\n\r\nERROR\r\n"},
    };
    for (unsigned i = 0; i < COUNT(cases); i++) {
        feed(r, cases[i].line);
        expect_out(r, cases[i].line, cases[i].want);
    }
    /* helpers on NULL params (test, query, exec) */
    int64_t v = 99;
    const char *s = "x";
    size_t l = 9;
    assert_false(atota_at_int(&r->at, NULL, 0, 0, 1, &v));
    assert_int_equal(r->at.err_code, 0x01060000);
    assert_true(atota_at_int_opt(&r->at, NULL, 0, 0, 1, 5, &v));
    assert_int_equal(v, 5);
    assert_false(atota_at_str(&r->at, NULL, 0, 4, &s, &l));
    assert_true(atota_at_str_opt(&r->at, NULL, 0, 4, &s, &l));
    assert_null(s);
    assert_int_equal(l, 0);
    assert_true(atota_at_count(&r->at, NULL, 0, 0));
    assert_false(atota_at_count(&r->at, NULL, 1, 2));
    free(r);
}

static void handler_errors(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    feed(r, "AT+FAIL\r\n");
    expect_out(r, "ERROR without syslog", "AT+FAIL\r\n\r\nERROR\r\n");
    rig_syslog(r);
    feed(r, "AT+FAIL\r\n"); /* no code set: exec fail */
    expect_out(r, "ERROR, default code", "AT+FAIL\r\nERR CODE:0x010a0000\r\n\r\nERROR\r\n");
    feed(r, "AT+FAIL=1\r\n");
    expect_out(r, "ERROR, handler's code", "AT+FAIL=1\r\nERR CODE:0x010a1234\r\n\r\nERROR\r\n");
    feed(r, "AT+FAIL\r\n"); /* the previous code does not leak into the next ERROR */
    expect_out(r, "ERROR, code reset", "AT+FAIL\r\nERR CODE:0x010a0000\r\n\r\nERROR\r\n");
    feed(r, "AT+NOPROMPT\r\n"); /* PROMPT without atota_at_expect_data */
    expect_out(r, "PROMPT without data", "AT+NOPROMPT\r\nERR CODE:0x01010000\r\n\r\nERROR\r\n");
    feed(r, "AT+BADRC\r\n"); /* not an atota_at_rc_t: a handler bug, "common" */
    expect_out(r, "bad result", "AT+BADRC\r\nERR CODE:0x01010000\r\n\r\nERROR\r\n");
    feed(r, "AT+SILENT\r\n");
    expect_out(r, "SILENT", "AT+SILENT\r\ncustom\r\n");
    feed(r, "AT+REFEED\r\n");
    expect_out(r, "re-entrant feed ignored", "AT+REFEED\r\n\r\nOK\r\n");
    assert_false(atota_at_busy(&r->at));
    free(r);
}

/* ---- data prompt ------------------------------------------------------------------------- */

static void prompt_and_data_in_chunks(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    feed(r, "AT+DATA=10\r\n");
    expect_out(r, "prompt", "AT+DATA=10\r\n\r\nOK\r\n\r\n>");
    assert_true(atota_at_busy(&r->at));
    assert_int_equal(r->at.state, ATOTA_AT_STATE_DATA);
    feed(r, "AT\r\n"); /* raw: not echoed, not a command */
    expect_out(r, "data is not echoed", "");
    feed(r, "\"\\,");
    feed(r, "");
    feed(r, "xyzAT\r\nAT+T?\r\n"); /* the last 3 bytes of data, then two commands */
    expect_out(r, "data end and surplus",
               "\r\nRecv 10 bytes\r\n\r\nOK\r\nAT\r\n\r\nOK\r\nAT+T?\r\n+T:query\r\n\r\nOK\r\n");
    assert_int_equal(r->data_len, 10);
    assert_memory_equal(r->data, "AT\r\n\"\\,xyz", 10);
    assert_int_equal(r->data_calls, 3);
    assert_int_equal(r->chunks[0], 4);
    assert_int_equal(r->chunks[1], 3);
    assert_int_equal(r->chunks[2], 3);
    assert_false(atota_at_busy(&r->at));
    free(r);
}

static void prompt_and_data_in_one_feed(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    r->at.echo = false;
    static const char in[] = "AT+DATA=5\r\n\r\n\0\xff\n"
                             "AT\r\n";
    atota_at_feed(&r->at, in, sizeof in - 1);
    expect_out(r, "one feed", "\r\nOK\r\n\r\n>\r\nRecv 5 bytes\r\n\r\nOK\r\n\r\nOK\r\n");
    assert_int_equal(r->data_calls, 1);
    assert_memory_equal(r->data, "\r\n\0\xff\n", 5);
    free(r);
}

static void data_of_length_zero(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    feed(r, "AT+DATA=0\r\nAT\r\n");
    expect_out(r, "zero bytes",
               "AT+DATA=0\r\n\r\nOK\r\n\r\n>\r\nRecv 0 bytes\r\n\r\nOK\r\nAT\r\n\r\nOK\r\n");
    assert_int_equal(r->data_calls, 1);
    assert_int_equal(r->chunks[0], 0);
    free(r);
}

static void data_handler_aborts(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    rig_syslog(r);
    r->data_rc_mid = ATOTA_AT_ERROR;
    r->data_err = ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_INVALID) | 7;
    feed(r, "AT+DATA=8\r\nabc");
    expect_out(r, "prompt", "AT+DATA=8\r\n\r\nOK\r\n\r\n>");
    feed(r, "de");
    feed(r, "f");
    expect_out(r, "no result before the N-th byte", "");
    feed(r, "ghAT\r\n");
    expect_out(r, "ERROR after the N-th byte",
               "ERR CODE:0x01070007\r\n\r\nERROR\r\nAT\r\n\r\nOK\r\n");
    assert_int_equal(r->data_calls, 1); /* nothing delivered after the abort */
    assert_int_equal(r->data_len, 3);
    /* without a code: exec fail */
    r->data_err = 0;
    r->data_calls = 0;
    r->data_len = 0;
    feed(r, "AT+DATA=3\r\n");
    feed(r, "a");
    feed(r, "bc");
    expect_out(r, "abort, default code",
               "AT+DATA=3\r\n\r\nOK\r\n\r\n>ERR CODE:0x010a0000\r\n\r\nERROR\r\n");
    /* the last chunk's ERROR is the result as well */
    r->data_rc_mid = ATOTA_AT_OK;
    r->data_rc_last = ATOTA_AT_ERROR;
    r->data_len = 0;
    feed(r, "AT+DATA=2\r\nxy");
    expect_out(r, "last chunk ERROR",
               "AT+DATA=2\r\n\r\nOK\r\n\r\n>\r\nRecv 2 bytes\r\nERR CODE:0x010a0000\r\n\r\n"
               "ERROR\r\n");
    assert_false(atota_at_busy(&r->at));
    feed(r, "AT+DATA=x\r\n"); /* the handler refuses its parameter: no prompt */
    expect_out(r, "no prompt", "AT+DATA=x\r\nERR CODE:0x01050000\r\n\r\nERROR\r\n");
    free(r);
}

/* ---- pending and busy -------------------------------------------------------------------- */

static void pending_busy_complete(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    atota_at_complete(&r->at, ATOTA_AT_OK); /* nothing pending: ignored */
    expect_out(r, "complete when idle", "");
    feed(r, "AT+WAIT\r\n");
    expect_out(r, "pending", "AT+WAIT\r\n");
    assert_true(atota_at_busy(&r->at));
    assert_int_equal(r->at.state, ATOTA_AT_STATE_PENDING);
    assert_string_equal(r->at.current->name, "+WAIT");
    feed(r, "AT\r\n");
    expect_out(r, "busy", "AT\r\n\r\nbusy p...\r\n");
    feed(r, "AT+T?\r\nAT+FAKE\r\n");
    expect_out(r, "busy twice", "AT+T?\r\n\r\nbusy p...\r\nAT+FAKE\r\n\r\nbusy p...\r\n");
    feed(r, "\n"); /* a stray LF (esp32.io t=7371) */
    expect_out(r, "stray LF", "\n\r\nbusy p...\r\n");
    feed(r, "AT+T"); /* half a line is kept across the completion */
    atota_at_complete(&r->at, ATOTA_AT_OK);
    expect_out(r, "complete", "\r\nOK\r\n");
    assert_false(atota_at_busy(&r->at));
    assert_null(r->at.current);
    atota_at_complete(&r->at, ATOTA_AT_ERROR); /* again: ignored */
    feed(r, "\r\n");
    expect_out(r, "the half line", "AT+T\r\n+T:exec\r\n\r\nOK\r\n");
    free(r);
}

static void busy_with_syslog(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    rig_syslog(r);
    feed(r, "AT+WAIT\r\nAT\r\n");
    expect_out(r, "busy with syslog", "AT+WAIT\r\nAT\r\nERR CODE:0x010b0000\r\n\r\nbusy p...\r\n");
    /* an overlong line while pending is busy too, not ERROR */
    char line[400];
    memset(line, 'q', 300);
    strcpy(line + 300, "\r\n");
    feed(r, line);
    char want[600];
    snprintf(want, sizeof want, "%sERR CODE:0x010b0000\r\n\r\nbusy p...\r\n", line);
    expect_out(r, "overlong while pending", want);
    atota_at_set_error(&r->at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_EXEC_FAIL) | 0x42);
    atota_at_complete(&r->at, ATOTA_AT_ERROR);
    expect_out(r, "complete(ERROR)", "ERR CODE:0x010a0042\r\n\r\nERROR\r\n");
    /* SILENT and an invalid result */
    feed(r, "AT+WAIT\r\n");
    atota_at_complete(&r->at, ATOTA_AT_PENDING); /* still running */
    assert_true(atota_at_busy(&r->at));
    atota_at_complete(&r->at, ATOTA_AT_SILENT);
    expect_out(r, "complete(SILENT)", "AT+WAIT\r\n");
    assert_false(atota_at_busy(&r->at));
    feed(r, "AT+WAIT\r\n");
    atota_at_complete(&r->at, ATOTA_AT_PROMPT); /* not allowed: ERROR */
    expect_out(r, "complete(PROMPT)", "AT+WAIT\r\nERR CODE:0x010a0000\r\n\r\nERROR\r\n");
    free(r);
}

static void data_handler_pending(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    r->data_rc_last = ATOTA_AT_PENDING; /* as AT+USEROTA: Recv N bytes, then the download */
    feed(r, "AT+DATA=3\r\nabcAT\r\n");
    expect_out(r, "data then pending",
               "AT+DATA=3\r\n\r\nOK\r\n\r\n>\r\nRecv 3 bytes\r\nAT\r\n\r\nbusy p...\r\n");
    assert_int_equal(r->at.state, ATOTA_AT_STATE_PENDING);
    atota_at_complete(&r->at, ATOTA_AT_OK);
    expect_out(r, "complete", "\r\nOK\r\n");
    free(r);
}

/* ---- tables ------------------------------------------------------------------------------ */

static void tables_and_listing(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    assert_ptr_equal(atota_at_cmd_at(&r->at, 0), &base_cmds[0]);
    assert_ptr_equal(atota_at_cmd_at(&r->at, 3), &base_cmds[3]);
    assert_ptr_equal(atota_at_cmd_at(&r->at, 4), &test_cmds[0]);
    assert_ptr_equal(atota_at_cmd_at(&r->at, 4 + COUNT(test_cmds) - 1),
                     &test_cmds[COUNT(test_cmds) - 1]);
    assert_null(atota_at_cmd_at(&r->at, 4 + COUNT(test_cmds)));
    for (unsigned i = 2; i < ATOTA_AT_MAX_TABLES; i++)
        assert_int_equal(atota_at_add_table(&r->at, test_cmds, 1, NULL), ATOTA_OK);
    assert_int_equal(atota_at_add_table(&r->at, test_cmds, 1, NULL), ATOTA_ERR_TOO_BIG);
    assert_int_equal(atota_at_add_table(NULL, test_cmds, 1, NULL), ATOTA_ERR_INVALID_ARG);
    /* the first registration of a name wins */
    feed(r, "AT+T\r\n");
    expect_out(r, "first table wins", "AT+T\r\n+T:exec\r\n\r\nOK\r\n");
    free(r);
}

static void no_write_callback(void **state)
{
    (void)state;
    atota_at_t at;
    atota_at_init(&at, NULL, NULL);
    atota_at_add_table(&at, base_cmds, COUNT(base_cmds), NULL);
    atota_at_feed(&at, "AT\r\nATE0\r\n", 10);
    assert_false(at.echo);
    atota_at_feed(&at, NULL, 0);
    atota_at_feed(NULL, "AT\r\n", 4);
}

/* The failure message itself: expected and got, with \r and \n visible. */
static void failure_message_is_readable(void **state)
{
    (void)state;
    char buf[64];
    visible(buf, sizeof buf, "\r\nOK\r\n\x01", 7);
    assert_string_equal(buf, "\\r\\nOK\\r\\n\\x01");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echo_is_on_by_default),
        cmocka_unit_test(ate0_and_ate1),
        cmocka_unit_test(line_split_across_feeds),
        cmocka_unit_test(bare_lf_and_lone_cr),
        cmocka_unit_test(lines_without_at),
        cmocka_unit_test(overlong_line_then_recovery),
        cmocka_unit_test(four_command_types),
        cmocka_unit_test(names_match_exactly),
        cmocka_unit_test(unknown_command),
        cmocka_unit_test(missing_handler),
        cmocka_unit_test(params_kinds),
        cmocka_unit_test(params_malformed),
        cmocka_unit_test(params_with_nul_bytes),
        cmocka_unit_test(param_helpers),
        cmocka_unit_test(handler_errors),
        cmocka_unit_test(prompt_and_data_in_chunks),
        cmocka_unit_test(prompt_and_data_in_one_feed),
        cmocka_unit_test(data_of_length_zero),
        cmocka_unit_test(data_handler_aborts),
        cmocka_unit_test(pending_busy_complete),
        cmocka_unit_test(busy_with_syslog),
        cmocka_unit_test(data_handler_pending),
        cmocka_unit_test(tables_and_listing),
        cmocka_unit_test(no_write_callback),
        cmocka_unit_test(failure_message_is_readable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
