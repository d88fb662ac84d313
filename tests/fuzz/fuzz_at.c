/*
 * libFuzzer target for the AT engine (core/at). The input is a feed plan and the bytes:
 *   byte 0      flags: bit 0 echo off, bit 1 AT+SYSLOG=1 from the start
 *   byte 1      n = byte % 16: how many chunk lengths follow
 *   n bytes     chunk lengths, used in turn (0 is an empty feed)
 *   the rest    what the UART receives
 * A small command table reaches every path: AT+DATA=<n>[,<mode>] prompts for n raw bytes with
 * four data-handler behaviours, AT+WAIT[=<k>] goes pending, AT+P checks its parameters with the
 * helpers, AT+T prints every parameter it got, and others return SILENT, PROMPT without data, or
 * try a re-entrant feed.
 *
 * Invariants (abort() on failure):
 * - the engine's state is consistent after every feed and every completion;
 * - output only grows, never through an empty or NULL write, and stays within a bound of the
 *   input;
 * - the parsed parameters are well formed (count, kinds, NUL-terminated strings inside the
 *   engine);
 * - the output does not depend on how the input is cut: fed whole, byte by byte, and in the
 *   planned chunks, the bytes written are the same (commands that go pending stay pending until
 *   the end of the input in those runs);
 * - a fourth run completes pending commands between chunks and checks the state only.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/at/at.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_at: invariant failed: %s (line %d)\n", #c, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_INPUT  (256u << 10) /* the replay feeds whole flash images: the start is enough */
#define BYTEWISE   (64u << 10)  /* byte-by-byte run only up to this much */
#define MAX_CHAIN  3            /* prompts chained by a data handler */
#define OUT_FACTOR 1500u        /* output bytes per input byte, at most (+T prints escapes) */

typedef struct {
    atota_at_t at;
    uint64_t out_len;
    uint64_t hash; /* FNV-1a over the output */
    /* data handler */
    unsigned mode;
    unsigned chain;
    size_t got;
    bool saw_e;
    /* pending */
    bool complete_midway;
    size_t wait_bytes; /* AT+WAIT=<k>: complete after k more input bytes */
    unsigned completions;
} fz_t;

static void fz_write(void *ctx, const void *data, size_t len)
{
    fz_t *f = ctx;
    CHECK(data != NULL);
    CHECK(len > 0);
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        f->hash ^= p[i];
        f->hash *= 0x100000001b3ull;
    }
    f->out_len += len;
}

static void check_state(const fz_t *f)
{
    const atota_at_t *at = &f->at;
    CHECK(at->line_len <= ATOTA_AT_MAX_LINE);
    CHECK(!at->overflow || at->line_len == 0);
    CHECK(at->table_count <= ATOTA_AT_MAX_TABLES);
    CHECK(atota_at_busy(at) == (at->state != ATOTA_AT_STATE_IDLE));
    switch (at->state) {
    case ATOTA_AT_STATE_IDLE:
        CHECK(at->current == NULL);
        CHECK(at->data_left == 0);
        CHECK(at->err_code == 0);
        break;
    case ATOTA_AT_STATE_DATA:
        CHECK(at->current != NULL);
        CHECK(at->data_left > 0);
        CHECK(at->data_fn != NULL);
        break;
    case ATOTA_AT_STATE_PENDING:
        CHECK(at->current != NULL);
        break;
    default:
        CHECK(!"unknown state");
    }
}

static void check_params(const atota_at_t *at, const atota_at_params_t *p)
{
    CHECK(p == &at->params);
    CHECK(p->count >= 1 && p->count <= ATOTA_AT_MAX_PARAMS);
    for (unsigned i = 0; i < p->count; i++) {
        const atota_at_param_t *v = &p->p[i];
        if (v->kind == ATOTA_AT_PARAM_OMITTED) {
            CHECK(v->str == NULL && v->len == 0);
            continue;
        }
        CHECK(v->kind == ATOTA_AT_PARAM_INT || v->kind == ATOTA_AT_PARAM_STR ||
              v->kind == ATOTA_AT_PARAM_RAW);
        CHECK(v->str >= at->strbuf);
        CHECK(v->str + v->len < at->strbuf + sizeof at->strbuf);
        CHECK(v->str[v->len] == '\0');
        CHECK(v->kind == ATOTA_AT_PARAM_STR || v->len > 0);
    }
}

static atota_at_rc_t h_ok(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at, (void)ctx, (void)p;
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_echo(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    at->echo = at->current->name[1] == '1';
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

static atota_at_rc_t h_t(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx;
    if (!p) {
        atota_at_printf(at, "+T:%s\r\n", at->current->name);
        return ATOTA_AT_OK;
    }
    check_params(at, p);
    atota_at_printf(at, "+T:%u", p->count);
    for (unsigned i = 0; i < p->count; i++) {
        const atota_at_param_t *v = &p->p[i];
        if (v->kind == ATOTA_AT_PARAM_INT)
            atota_at_printf(at, ",%lld", (long long)v->num);
        else if (v->kind != ATOTA_AT_PARAM_OMITTED)
            atota_at_printf(at, ",%u:%zu:", (unsigned)v->kind, v->len);
        if (v->str)
            atota_at_write(at, v->str, v->len);
    }
    atota_at_printf(at, "\r\n");
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_p(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx;
    check_params(at, p);
    int64_t a, b;
    const char *s, *t;
    size_t sl, tl;
    if (!atota_at_count(at, p, 1, 4) || !atota_at_int(at, p, 0, -1000, 1000, &a) ||
        !atota_at_int_opt(at, p, 1, 0, 0xFFFF, 3, &b) || !atota_at_str_opt(at, p, 2, 8, &s, &sl) ||
        !atota_at_str_opt(at, p, 3, 0, &t, &tl)) {
        CHECK(at->err_code >= ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_LENGTH) &&
              at->err_code <= ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_INVALID));
        return ATOTA_AT_ERROR;
    }
    CHECK(a >= -1000 && a <= 1000 && b >= 0 && b <= 0xFFFF);
    CHECK(s == NULL ? sl == 0 : (sl <= 8 && s[sl] == '\0'));
    CHECK(t == NULL && tl == 0 ? true : tl == 0);
    atota_at_printf(at, "+P:%lld,%lld,%zu\r\n", (long long)a, (long long)b, sl);
    return ATOTA_AT_OK;
}

/* Its result does not depend on where the chunks end: mode 1 fails if an 'E' is anywhere in the
 * data, aborting on the chunk that holds it or failing on the last one. */
static atota_at_rc_t on_data(atota_at_t *at, void *ctx, const uint8_t *data, size_t len, bool last)
{
    fz_t *f = ctx;
    CHECK(data != NULL);
    CHECK(at->state == ATOTA_AT_STATE_DATA);
    f->got += len;
    if (memchr(data, 'E', len))
        f->saw_e = true;
    if (!last) {
        CHECK(len > 0);
        return f->mode == 1 && f->saw_e ? ATOTA_AT_ERROR : ATOTA_AT_OK;
    }
    CHECK(at->data_left == 0);
    switch (f->mode) {
    case 1:
        if (f->saw_e)
            return ATOTA_AT_ERROR;
        break;
    case 2:
        atota_at_printf(at, "\r\nRecv %zu bytes\r\n", f->got);
        return ATOTA_AT_PENDING;
    case 3:
        if (f->chain < MAX_CHAIN) {
            f->chain++;
            atota_at_expect_data(at, f->got / 2, on_data, f);
            f->got = 0;
            return ATOTA_AT_PROMPT;
        }
        break;
    default:
        break;
    }
    atota_at_printf(at, "\r\nRecv %zu bytes\r\n", f->got);
    return ATOTA_AT_OK;
}

static atota_at_rc_t h_data(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    fz_t *f = ctx;
    int64_t n, mode;
    if (!atota_at_count(at, p, 1, 2) || !atota_at_int(at, p, 0, 0, 300, &n) ||
        !atota_at_int_opt(at, p, 1, 0, 3, 0, &mode))
        return ATOTA_AT_ERROR;
    f->mode = (unsigned)mode;
    f->chain = 0;
    f->got = 0;
    f->saw_e = false;
    atota_at_expect_data(at, (size_t)n, on_data, f);
    return ATOTA_AT_PROMPT;
}

static atota_at_rc_t h_wait(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    fz_t *f = ctx;
    int64_t k = 0;
    if (p && !atota_at_int(at, p, 0, 0, 100, &k))
        return ATOTA_AT_ERROR;
    f->wait_bytes = (size_t)k;
    return ATOTA_AT_PENDING;
}

static atota_at_rc_t h_silent(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    atota_at_printf(at, "silent\r\n");
    return ATOTA_AT_SILENT;
}

static atota_at_rc_t h_noprompt(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at, (void)ctx, (void)p;
    return ATOTA_AT_PROMPT;
}

static atota_at_rc_t h_refeed(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    fz_t *f = ctx;
    (void)p;
    uint64_t before = f->out_len;
    atota_at_feed(at, "AT\r\n", 4);
    atota_at_complete(at, ATOTA_AT_OK);
    CHECK(f->out_len == before); /* both ignored inside a handler */
    return ATOTA_AT_OK;
}

static const atota_at_cmd_t cmds[] = {
    {"", NULL, NULL, NULL, h_ok},
    {"E0", NULL, NULL, NULL, h_echo},
    {"E1", NULL, NULL, NULL, h_echo},
    {"+SYSLOG", NULL, h_ok, h_syslog, NULL},
    {"+T", h_t, h_t, h_t, h_t},
    {"+TX", NULL, NULL, NULL, h_t},
    {"+P", NULL, NULL, h_p, NULL},
    {"+DATA", NULL, NULL, h_data, NULL},
    {"+WAIT", NULL, NULL, h_wait, h_wait},
    {"+SIL", NULL, NULL, NULL, h_silent},
    {"+NOP", NULL, NULL, NULL, h_noprompt},
    {"+RE", NULL, NULL, NULL, h_refeed},
};

static void fz_init(fz_t *f, uint8_t flags)
{
    memset(f, 0, sizeof *f);
    f->hash = 0xcbf29ce484222325ull;
    atota_at_init(&f->at, fz_write, f);
    CHECK(atota_at_add_table(&f->at, cmds, 4, f) == ATOTA_OK);
    CHECK(atota_at_add_table(&f->at, cmds + 4, sizeof cmds / sizeof cmds[0] - 4, f) == ATOTA_OK);
    CHECK(f->at.echo && !f->at.syslog);
    f->at.echo = !(flags & 1);
    f->at.syslog = (flags & 2) != 0;
    check_state(f);
}

static void fz_feed(fz_t *f, const uint8_t *p, size_t n)
{
    uint64_t before = f->out_len;
    bool was_pending = f->at.state == ATOTA_AT_STATE_PENDING;
    atota_at_feed(&f->at, p, n);
    CHECK(f->out_len >= before);
    check_state(f);
    if (was_pending && f->at.state == ATOTA_AT_STATE_PENDING)
        f->wait_bytes = f->wait_bytes > n ? f->wait_bytes - n : 0;
}

static void fz_finish(fz_t *f, size_t in_len)
{
    if (f->at.state == ATOTA_AT_STATE_PENDING) {
        atota_at_complete(&f->at, ATOTA_AT_OK);
        check_state(f);
        CHECK(f->at.state == ATOTA_AT_STATE_IDLE);
    }
    CHECK(f->out_len <= (uint64_t)OUT_FACTOR * (in_len + 1));
}

/* Feeds the bytes cut at the plan's lengths; completes pending commands between chunks when
 * f->complete_midway is set. */
static void run_plan(fz_t *f, const uint8_t *cuts, size_t ncuts, const uint8_t *p, size_t n)
{
    size_t pos = 0, c = 0;
    unsigned empty = 0;
    while (pos < n) {
        size_t len = ncuts ? cuts[c++ % ncuts] : n;
        if (len == 0 && ++empty > 64)
            len = 1; /* a plan of only empty feeds still ends */
        if (len > n - pos)
            len = n - pos;
        fz_feed(f, p + pos, len);
        pos += len;
        if (f->complete_midway && f->at.state == ATOTA_AT_STATE_PENDING && f->wait_bytes == 0) {
            static const atota_at_rc_t rcs[] = {ATOTA_AT_OK, ATOTA_AT_ERROR, ATOTA_AT_SILENT,
                                                ATOTA_AT_PENDING};
            atota_at_rc_t rc = rcs[f->completions++ % 4];
            atota_at_complete(&f->at, rc);
            check_state(f);
            CHECK((f->at.state == ATOTA_AT_STATE_PENDING) == (rc == ATOTA_AT_PENDING));
        }
    }
    fz_finish(f, n);
}

/*
 * Seeds: the replay (replay_main.c) feeds only the shared vectors, which are binary images that
 * rarely hold an AT command, so the empty input (which the replay and libFuzzer both run first)
 * runs these scripts: every path once, deterministically. The same scripts are files in
 * tests/fuzz/corpus/fuzz_at/ for libFuzzer and the replay to mutate (once their CMake and
 * scripts/fuzz.sh pass that directory). Format: flags, cut count, cuts, bytes.
 */
#define SEED(flags, cuts, text)                                                                    \
    {                                                                                              \
        "" flags cuts text, sizeof("" flags cuts text) - 1                                         \
    }
static const struct {
    const char *bytes;
    size_t len;
} seeds[] = {
    SEED("\x00", "\x03\x01\x03\x07",
         "AT\r\nATE0\r\nAT\r\nATE1\r\nAT+T=?\r\nAT+T?\r\nAT+T=1,,\"a\\,b\\\"\\\\\",0x1F,-3,raw\r\n"
         "AT+T\r\nAT+TX\r\nAT+TX?\r\nAT+T?x\r\nAT+FAKE\r\nhello\r\n\r\nAT\nAT\rX\r\nat\r\n"),
    SEED("\x02", "\x02\x05\x00",
         "AT+DATA=10\r\n0123456789AT+DATA=5,1\r\nabEcdAT+DATA=4,2\r\nwxyzAT\r\nAT+WAIT=3\r\n"
         "AT\r\n\nAT+WAIT\r\nAT+T\r\n"),
    SEED("\x03", "\x01\x04",
         "AT+P=1\r\nAT+P=5,0x10,\"abc\",\"\"\r\nAT+P=\"x\"\r\nAT+P=2000\r\n"
         "AT+P=1,2,\"toolongstring\"\r\nAT+P=1,2,3,4,5\r\nAT+P=1,,,\"z\"\r\nAT+SYSLOG=0\r\n"
         "AT+SYSLOG?\r\nAT+SYSLOG=2\r\n"),
    SEED("\x02", "\x00",
         "AT+DATA=6,3\r\nabcdefABCAT+DATA=0\r\nAT+DATA=1,3\r\nxAT+SIL\r\nAT+NOP\r\nAT+RE\r\n"
         "AT+T=\"unterminated\r\nAT+T=\"a\"b\r\nAT+T=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\r\n"
         "AT+T=,,,,,,,,,,,,,,,\r\nAT+DATA=x\r\nAT+DATA=3,9\r\n"),
    SEED(
        "\x02", "\x02\x40\x11",
        "AT+T="
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "\r\nAT\r\nAT+WAIT="
        "1\r\nyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        "\r\nAT\r\n"),
};

static int test_one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
            test_one((const uint8_t *)seeds[i].bytes, seeds[i].len);
        return 0;
    }
    return test_one(data, size);
}

static int test_one(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    size_t ncuts = data[1] % 16;
    if (size < 2 + ncuts)
        return 0;
    const uint8_t *cuts = data + 2;
    const uint8_t *p = data + 2 + ncuts;
    size_t n = size - 2 - ncuts;
    if (n > MAX_INPUT)
        n = MAX_INPUT;

    /* The same bytes fed whole, byte by byte and in the planned chunks write the same output. */
    fz_t whole, piece;
    fz_init(&whole, flags);
    fz_feed(&whole, p, n);
    fz_finish(&whole, n);

    if (n <= BYTEWISE) {
        fz_init(&piece, flags);
        for (size_t i = 0; i < n; i++)
            fz_feed(&piece, p + i, 1);
        fz_finish(&piece, n);
        CHECK(piece.out_len == whole.out_len && piece.hash == whole.hash);
    }

    fz_init(&piece, flags);
    run_plan(&piece, cuts, ncuts, p, n);
    CHECK(piece.out_len == whole.out_len && piece.hash == whole.hash);

    /* Pending commands completed between chunks: state checks only. */
    fz_init(&piece, flags);
    piece.complete_midway = true;
    run_plan(&piece, cuts, ncuts, p, n);
    return 0;
}
