/*
 * The AT engine: framing, echo, dispatch and result bytes (esp-at-ota.md §1).
 *
 * Parameter parsing and the parameter helpers are at the end of this file.
 *
 * Decisions where the spec is uncertain (docs/at-engine.md has the long form):
 * - Terminator. ESP-AT requires "\r\n" (AT_Command_Set/index.rst; esp_at.h describes
 *   ESP_AT_SUB_NO_TERMINATOR as '"\r\n" expected'). A "\n" ends a line whatever precedes it; a
 *   line ended by a bare "\n" gets ERROR with 0x01020000 (no terminator), so a stray LF after a
 *   command gives "busy p..." or "ERROR" as the esp-faq "AT prompts busy" answer and the esp32.io
 *   thread t=7371 show, and an LF-only host gets an answer instead of silence. A lone "\r" is an
 *   ordinary byte of the line ("AT\rX\r\n" is the command "\rX": unsupported).
 * - Echo. The received line, verbatim with its terminator, before any response to it (§1.3),
 *   also for lines answered with busy (the t=7371 transcript shows the stray LF echoed before
 *   "busy p..."). An overlong line is echoed verbatim too: the bytes kept so far when it
 *   overflows, then each further byte as it arrives. Raw data after ">" is never echoed.
 * - Overlong line (more than ATOTA_AT_MAX_LINE bytes with its "\r\n"): ERROR with 0x01040000,
 *   ESP_AT_SUB_PARA_LENGTH_MISMATCH, the closest documented subcategory (the closed core's
 *   choice is unknown). The engine keeps nothing of it and starts afresh after its "\n".
 * - A registered command without a handler for the type: ERROR with 0x010c0000,
 *   ESP_AT_SUB_CMD_OP_ERROR "command operation type error" (§1.2: "probably 0x010c0000").
 * - A handler's ERROR without atota_at_set_error(): 0x010a0000, exec fail (§1.2: "probably").
 * - An empty line is a line without "AT": ERROR with 0x01030000 (esp-faq: "any input on the
 *   serial port is taken as command input").
 * - A data handler that aborts: the rest of the N bytes is swallowed and the ERROR is written
 *   after the N-th byte, so the result always follows the data the host sent.
 *
 * Re-entrancy: handlers run inside atota_at_feed(); a handler (or data handler) that calls
 * atota_at_feed() is ignored (the call returns without consuming anything), and
 * atota_at_complete() from inside a handler is ignored (nothing is pending yet: the command
 * becomes pending only when its handler returns ATOTA_AT_PENDING).
 */
#include "core/at/at.h"
#include "core/util/text.h"

#include <stdio.h>
#include <string.h>

static const char RESULT_OK[] = "\r\nOK\r\n";
static const char RESULT_ERROR[] = "\r\nERROR\r\n";
static const char RESULT_PROMPT[] = "\r\nOK\r\n\r\n>"; /* §1.2: no space after '>' */
static const char RESULT_BUSY[] = "\r\nbusy p...\r\n";

/* line_len while a handler runs: a line is never that long, and the line buffer is free then
 * (the line was parsed before the call), so this marks "inside a callback" without a field. */

/* atota_at_printf formats into a stack buffer of this size; longer output is cut. Handlers
 * with bulk output (AT+SYSFLASH read) write it with atota_at_write(). */
#define PRINTF_MAX 512

void atota_at_init(atota_at_t *at, atota_at_write_fn write, void *write_ctx)
{
    if (!at)
        return;
    memset(at, 0, sizeof *at);
    at->write = write;
    at->write_ctx = write_ctx;
    at->echo = true; /* §1.3: echo is on after boot */
    at->syslog = false;
    at->state = ATOTA_AT_STATE_IDLE;
}

atota_err_t atota_at_add_table(atota_at_t *at, const atota_at_cmd_t *cmds, unsigned count,
                               void *ctx)
{
    if (!at || (!cmds && count))
        return ATOTA_ERR_INVALID_ARG;
    if (at->table_count >= ATOTA_AT_MAX_TABLES)
        return ATOTA_ERR_TOO_BIG;
    atota_at_table_t *t = &at->tables[at->table_count++];
    t->cmds = cmds;
    t->count = count;
    t->ctx = ctx;
    return ATOTA_OK;
}

void atota_at_write(atota_at_t *at, const void *data, size_t len)
{
    if (at && at->write && len)
        at->write(at->write_ctx, data, len);
}

void atota_at_printf(atota_at_t *at, const char *fmt, ...)
{
    char buf[PRINTF_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    atota_at_write(at, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void write_str(atota_at_t *at, const char *s)
{
    atota_at_write(at, s, strlen(s));
}

void atota_at_set_error(atota_at_t *at, uint32_t code)
{
    if (at)
        at->err_code = code;
}

void atota_at_expect_data(atota_at_t *at, size_t n, atota_at_data_handler_t fn, void *ctx)
{
    if (!at)
        return;
    at->data_left = n;
    at->data_fn = fn;
    at->data_ctx = ctx;
}

bool atota_at_busy(const atota_at_t *at)
{
    return at && at->state != ATOTA_AT_STATE_IDLE;
}

const atota_at_cmd_t *atota_at_cmd_at(const atota_at_t *at, unsigned i)
{
    if (!at)
        return NULL;
    for (unsigned t = 0; t < at->table_count; t++) {
        if (i < at->tables[t].count)
            return &at->tables[t].cmds[i];
        i -= at->tables[t].count;
    }
    return NULL;
}

/* §1.2: "ERR CODE:0x%08x\r\n" only with AT+SYSLOG=1, then "\r\nERROR\r\n". */
static void write_error(atota_at_t *at, uint32_t code)
{
    if (at->syslog)
        atota_at_printf(at, "ERR CODE:0x%08lx\r\n", (unsigned long)code);
    write_str(at, RESULT_ERROR);
    at->err_code = 0;
}

static void write_busy(atota_at_t *at)
{
    /* esp32.io t=7371: "ERR CODE:0x010b0000" then "busy p..." with AT+SYSLOG=1. */
    if (at->syslog)
        atota_at_printf(at, "ERR CODE:0x%08lx\r\n",
                        (unsigned long)ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PROCESSING));
    write_str(at, RESULT_BUSY);
}

static void finish_idle(atota_at_t *at)
{
    at->state = ATOTA_AT_STATE_IDLE;
    at->current = NULL;
    at->data_fn = NULL;
    at->data_left = 0;
    at->data_failed = false;
    at->err_code = 0;
}

static atota_at_rc_t call_data(atota_at_t *at, atota_at_data_handler_t fn, void *ctx,
                               const uint8_t *data, size_t len, bool last)
{
    at->in_callback = true;
    atota_at_rc_t rc = fn(at, ctx, data, len, last);
    at->in_callback = false;
    return rc;
}

/*
 * What the engine does with the result of a command handler, of the last chunk of data, or of
 * atota_at_complete(). A prompt for zero bytes calls its data handler at once, whose result is
 * handled here again (a loop, so a chain of them uses no stack).
 */
static void handle_result(atota_at_t *at, atota_at_rc_t rc)
{
    for (;;) {
        switch (rc) {
        case ATOTA_AT_OK:
            write_str(at, RESULT_OK);
            finish_idle(at);
            return;
        case ATOTA_AT_ERROR:
            write_error(at,
                        at->err_code ? at->err_code : ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_EXEC_FAIL));
            finish_idle(at);
            return;
        case ATOTA_AT_SILENT:
            finish_idle(at);
            return;
        case ATOTA_AT_PENDING:
            at->state = ATOTA_AT_STATE_PENDING;
            return;
        case ATOTA_AT_PROMPT:
            if (!at->data_fn) {
                /* PROMPT without atota_at_expect_data(): a handler bug; say so with "common". */
                write_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_COMMON));
                finish_idle(at);
                return;
            }
            write_str(at, RESULT_PROMPT);
            at->state = ATOTA_AT_STATE_DATA;
            at->data_failed = false;
            if (at->data_left > 0)
                return;
            {
                atota_at_data_handler_t fn = at->data_fn;
                at->data_fn = NULL; /* so a new atota_at_expect_data() can be seen */
                rc = call_data(at, fn, at->data_ctx, (const uint8_t *)"", 0, true);
            }
            continue;
        default:
            write_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_COMMON));
            finish_idle(at);
            return;
        }
    }
}

void atota_at_complete(atota_at_t *at, atota_at_rc_t rc)
{
    if (!at || at->state != ATOTA_AT_STATE_PENDING || at->in_callback)
        return;
    if (rc == ATOTA_AT_PENDING)
        return; /* still running */
    if (rc != ATOTA_AT_OK && rc != ATOTA_AT_ERROR && rc != ATOTA_AT_SILENT)
        rc = ATOTA_AT_ERROR; /* the contract allows OK, ERROR and SILENT only */
    handle_result(at, rc);
}

static bool parse_params(atota_at_t *at, const char *src, size_t n);

/* The command named by line[2..name_end), in registration order; NULL if none. */
static const atota_at_cmd_t *find_command(const atota_at_t *at, const char *name, size_t len,
                                          void **ctx)
{
    for (unsigned t = 0; t < at->table_count; t++) {
        const atota_at_table_t *tab = &at->tables[t];
        for (unsigned i = 0; i < tab->count; i++) {
            const char *n = tab->cmds[i].name;
            if (n && strlen(n) == len && memcmp(n, name, len) == 0) {
                *ctx = tab->ctx;
                return &tab->cmds[i];
            }
        }
    }
    return NULL;
}

/* A complete line without its terminator, in idle state. */
static void dispatch_line(atota_at_t *at, const char *line, size_t n)
{
    /* esp_at.h: ESP_AT_SUB_NO_AT, "not found AT or at or At or aT": "AT" is case-sensitive. */
    if (n < 2 || line[0] != 'A' || line[1] != 'T') {
        write_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_NO_AT));
        return;
    }
    const char *name = line + 2;
    size_t rest_n = n - 2, name_len = 0;
    /* The name ends at '=', '?' or the end of the line, so "+CWJAPX" never runs "+CWJAP". */
    while (name_len < rest_n && name[name_len] != '=' && name[name_len] != '?')
        name_len++;
    void *ctx = NULL;
    const atota_at_cmd_t *cmd = find_command(at, name, name_len, &ctx);
    if (!cmd) {
        /* at_basic doc AT+SYSLOG example: AT+FAKE -> ERR CODE:0x01090000 */
        write_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_UNSUPPORTED));
        return;
    }
    const char *rest = name + name_len;
    size_t rn = rest_n - name_len;
    atota_at_handler_t h;
    bool set = false;
    if (rn == 0) {
        h = cmd->exec;
    } else if (rn == 1 && rest[0] == '?') {
        h = cmd->query;
    } else if (rn == 2 && rest[0] == '=' && rest[1] == '?') {
        h = cmd->test;
    } else if (rest[0] == '=') {
        h = cmd->set;
        set = true;
    } else {
        /* "AT+X?junk": none of the four forms. */
        write_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_PARSE));
        return;
    }
    if (!h) {
        write_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_OP_TYPE));
        return;
    }
    if (set && !parse_params(at, rest + 1, rn - 1)) {
        write_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_PARSE));
        return;
    }
    at->current = cmd;
    at->err_code = 0;
    at->data_fn = NULL;
    at->data_left = 0;
    at->in_callback = true;
    atota_at_rc_t rc = h(at, ctx, set ? &at->params : NULL);
    at->in_callback = false;
    handle_result(at, rc);
}

/* The "\n" of a line arrived (crlf: the byte before it was "\r"). */
static void end_line(atota_at_t *at, bool crlf)
{
    size_t len = at->line_len;
    bool overflow = at->overflow;
    at->line_len = 0;
    at->overflow = false;
    at->last_cr = false;
    if (!overflow && at->echo)
        atota_at_write(at, at->line, len); /* §1.3: verbatim, terminator included */
    if (at->state == ATOTA_AT_STATE_PENDING) {
        write_busy(at); /* §1.2: strictly serial; the line is dropped */
        return;
    }
    if (overflow) {
        write_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_LENGTH));
        return;
    }
    if (!crlf) {
        write_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_NO_TERMINATOR));
        return;
    }
    at->line[len] = '\0';
    dispatch_line(at, at->line, len - 2);
}

/* One byte in command mode (idle or pending). */
static void feed_byte(atota_at_t *at, uint8_t b)
{
    if (at->overflow) {
        if (at->echo)
            atota_at_write(at, &b, 1);
    } else if (at->line_len < ATOTA_AT_MAX_LINE) {
        at->line[at->line_len++] = (char)b;
    } else {
        /* Past ESP-AT's 256 bytes (§1.1): keep nothing more, echo what we held and go on
         * echoing, answer at the next "\n". */
        at->overflow = true;
        if (at->echo) {
            atota_at_write(at, at->line, at->line_len);
            atota_at_write(at, &b, 1);
        }
        at->line_len = 0;
    }
    if (b == '\n')
        end_line(at, at->last_cr);
    else
        at->last_cr = b == '\r';
}

/* Raw bytes after a prompt; returns how many were consumed (up to data_left). */
static size_t feed_data(atota_at_t *at, const uint8_t *data, size_t len)
{
    size_t k = len < at->data_left ? len : at->data_left;
    at->data_left -= k;
    bool last = at->data_left == 0;
    if (at->data_failed) {
        if (last)
            handle_result(at, ATOTA_AT_ERROR);
        return k;
    }
    atota_at_data_handler_t fn = at->data_fn;
    void *ctx = at->data_ctx;
    size_t left = at->data_left;
    if (last)
        at->data_fn = NULL; /* a PROMPT result needs a new atota_at_expect_data() */
    atota_at_rc_t rc = call_data(at, fn, ctx, data, k, last);
    if (last) {
        handle_result(at, rc);
    } else {
        /* atota_at_expect_data() in the middle of a transfer must not change it */
        at->data_fn = fn;
        at->data_ctx = ctx;
        at->data_left = left;
        if (rc == ATOTA_AT_ERROR)
            at->data_failed = true; /* swallow the rest, ERROR after the N-th byte */
    }
    return k;
}

void atota_at_feed(atota_at_t *at, const void *data, size_t len)
{
    if (!at || (!data && len) || at->in_callback)
        return; /* re-entrant feed from a handler: not allowed, ignored */
    const uint8_t *p = data;
    size_t i = 0;
    while (i < len) {
        if (at->state == ATOTA_AT_STATE_DATA)
            i += feed_data(at, p + i, len - i);
        else
            feed_byte(at, p[i++]);
    }
}

/* ---- parameters ------------------------------------------------------------------------- */

/* §5.4: numbers are decimal (optionally negative) or 0x-hex ("0x1C000"). A token that does not
 * fit in int64_t is not a number (RAW), so a handler refuses it with PARA_TYPE. */
static bool parse_number(const char *s, size_t n, int64_t *out)
{
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        uint64_t v = 0;
        for (size_t i = 2; i < n; i++) {
            int d = atota_hex_digit(s[i]);
            if (d < 0 || v > ((uint64_t)INT64_MAX >> 4))
                return false;
            v = v << 4 | (uint64_t)d;
        }
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
        return true;
    }
    bool neg = n > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == n)
        return false;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return true;
}

/*
 * Splits the text after '=' into at->params; strings go unescaped into at->strbuf. §1.1: fields
 * are comma separated; a quoted string may hold \\, \, \" and \<any> (the char itself); an empty
 * field is omitted but counts ("AT+X=1,,3" has three, "AT+X=" one). Bare tokens are taken as
 * they are (no escapes, no trimming: ESP-AT does not strip spaces). False on an unterminated
 * string, bytes after a closing quote, or more than ATOTA_AT_MAX_PARAMS fields.
 */
static bool parse_params(atota_at_t *at, const char *src, size_t n)
{
    atota_at_params_t *ps = &at->params;
    size_t pos = 0, out = 0;
    const size_t cap = sizeof at->strbuf;
    memset(ps, 0, sizeof *ps);
    for (;;) {
        if (ps->count == ATOTA_AT_MAX_PARAMS)
            return false;
        atota_at_param_t *p = &ps->p[ps->count++];
        size_t start = out;
        if (pos < n && src[pos] == '"') {
            bool closed = false;
            pos++;
            while (pos < n) {
                char c = src[pos++];
                if (c == '\\') {
                    if (pos == n)
                        break; /* a backslash escaping the end: unterminated */
                    c = src[pos++];
                } else if (c == '"') {
                    closed = true;
                    break;
                }
                if (out + 1 >= cap)
                    return false;
                at->strbuf[out++] = c;
            }
            if (!closed || (pos < n && src[pos] != ','))
                return false;
            p->kind = ATOTA_AT_PARAM_STR;
        } else {
            size_t t = pos;
            while (pos < n && src[pos] != ',')
                pos++;
            size_t tlen = pos - t;
            if (tlen == 0) {
                p->kind = ATOTA_AT_PARAM_OMITTED;
            } else {
                if (out + tlen + 1 > cap)
                    return false;
                memcpy(at->strbuf + out, src + t, tlen);
                out += tlen;
                /* INT keeps its text too: a handler may want "0x1C000" as written. */
                p->kind =
                    parse_number(src + t, tlen, &p->num) ? ATOTA_AT_PARAM_INT : ATOTA_AT_PARAM_RAW;
            }
        }
        if (p->kind != ATOTA_AT_PARAM_OMITTED) {
            at->strbuf[out] = '\0';
            p->str = at->strbuf + start;
            p->len = out - start;
            out++;
        }
        if (pos >= n)
            return true;
        pos++; /* the comma */
    }
}

static bool param_error(atota_at_t *at, unsigned sub)
{
    atota_at_set_error(at, ATOTA_AT_ERR_CODE(sub));
    return false;
}

/* NULL when the parameter is missing (index past the count) or omitted (empty field). */
static const atota_at_param_t *param_get(const atota_at_params_t *p, unsigned i)
{
    if (!p || i >= p->count || p->p[i].kind == ATOTA_AT_PARAM_OMITTED)
        return NULL;
    return &p->p[i];
}

bool atota_at_int(atota_at_t *at, const atota_at_params_t *p, unsigned i, int64_t min, int64_t max,
                  int64_t *out)
{
    if (!p || i >= p->count)
        return param_error(at, ATOTA_AT_SUB_PARA_NUM);
    const atota_at_param_t *v = &p->p[i];
    if (v->kind != ATOTA_AT_PARAM_INT)
        return param_error(at, ATOTA_AT_SUB_PARA_TYPE); /* omitted, string or raw */
    if (v->num < min || v->num > max)
        return param_error(at, ATOTA_AT_SUB_PARA_INVALID);
    if (out)
        *out = v->num;
    return true;
}

bool atota_at_int_opt(atota_at_t *at, const atota_at_params_t *p, unsigned i, int64_t min,
                      int64_t max, int64_t def, int64_t *out)
{
    if (!param_get(p, i)) {
        if (out)
            *out = def;
        return true;
    }
    return atota_at_int(at, p, i, min, max, out);
}

bool atota_at_str(atota_at_t *at, const atota_at_params_t *p, unsigned i, size_t max_len,
                  const char **out, size_t *len)
{
    if (!p || i >= p->count)
        return param_error(at, ATOTA_AT_SUB_PARA_NUM);
    const atota_at_param_t *v = &p->p[i];
    if (v->kind != ATOTA_AT_PARAM_STR)
        return param_error(at, ATOTA_AT_SUB_PARA_TYPE);
    if (v->len > max_len)
        return param_error(at, ATOTA_AT_SUB_PARA_LENGTH); /* "parameter length mismatch" */
    if (out)
        *out = v->str;
    if (len)
        *len = v->len;
    return true;
}

bool atota_at_str_opt(atota_at_t *at, const atota_at_params_t *p, unsigned i, size_t max_len,
                      const char **out, size_t *len)
{
    if (!param_get(p, i)) {
        if (out)
            *out = NULL;
        if (len)
            *len = 0;
        return true;
    }
    return atota_at_str(at, p, i, max_len, out, len);
}

bool atota_at_count(atota_at_t *at, const atota_at_params_t *p, unsigned min, unsigned max)
{
    unsigned n = p ? p->count : 0;
    if (n < min || n > max)
        return param_error(at, ATOTA_AT_SUB_PARA_NUM);
    return true;
}
