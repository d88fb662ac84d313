/*
 * A host port for module tests (core/cmd/module.h atota_module_host_t): the AT port's output in
 * a buffer, the log in another, a fake clock the test advances, counted restart requests and the
 * last UART settings. fx_visible and fx_expect_out print "\r\n" readably on a mismatch.
 * Header-only (static inline), like fixture.h.
 */
#ifndef ATOTA_TESTS_SUPPORT_CAPTURE_HOST_H
#define ATOTA_TESTS_SUPPORT_CAPTURE_HOST_H

#include "core/cmd/module.h"
#include "support/check.h"
#include "support/fixture.h"

#define FX_OUT_CAP 65536
#define FX_LOG_CAP 32768

typedef struct {
    char out[FX_OUT_CAP];
    size_t len;
    bool keep_tail; /* when full, start again at 0 (long runs that check only the end) */
    char log[FX_LOG_CAP];
    uint64_t now;
    unsigned restarts;
    unsigned uart_sets;
    uint32_t baud;
    unsigned data_bits, stop_bits, parity, flow;
} fx_host_state_t;

static inline uint64_t fx_host_now(void *ctx)
{
    return ((fx_host_state_t *)ctx)->now;
}

static inline void fx_host_log(void *ctx, const char *line)
{
    fx_host_state_t *h = ctx;
    size_t n = strlen(h->log);
    snprintf(h->log + n, sizeof h->log - n, "%s\n", line);
}

static inline void fx_host_write(void *ctx, const void *data, size_t len)
{
    fx_host_state_t *h = ctx;
    if (h->keep_tail && h->len + len >= FX_OUT_CAP)
        h->len = 0;
    assert_true(h->len + len < FX_OUT_CAP);
    memcpy(h->out + h->len, data, len);
    h->len += len;
    h->out[h->len] = '\0';
}

static inline void fx_host_restart(void *ctx)
{
    ((fx_host_state_t *)ctx)->restarts++;
}

static inline void fx_host_set_uart(void *ctx, uint32_t baud, unsigned data_bits,
                                    unsigned stop_bits, unsigned parity, unsigned flow)
{
    fx_host_state_t *h = ctx;
    h->uart_sets++;
    h->baud = baud;
    h->data_bits = data_bits;
    h->stop_bits = stop_bits;
    h->parity = parity;
    h->flow = flow;
}

/* A host whose callbacks all go to state. */
static inline void fx_host_init(atota_module_host_t *host, fx_host_state_t *state)
{
    memset(host, 0, sizeof *host);
    host->ctx = state;
    host->now_ms = fx_host_now;
    host->log = fx_host_log;
    host->write = fx_host_write;
    host->restart = fx_host_restart;
    host->set_uart = fx_host_set_uart;
}

static inline void fx_host_clear_out(fx_host_state_t *h)
{
    h->len = 0;
    h->out[0] = '\0';
}

/* s with "\r" and "\n" written as \r and \n (a \n also ends the line), into buf. */
static inline const char *fx_visible(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 5 < cap; s++) {
        if (*s == '\r') {
            buf[n++] = '\\';
            buf[n++] = 'r';
        } else if (*s == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
            buf[n++] = '\n';
        } else {
            buf[n++] = *s;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* The AT port's output is exactly want; else both, readable, and the log. */
static inline void fx_expect_out(const fx_host_state_t *h, const char *what, const char *want)
{
    if (h->len == strlen(want) && memcmp(h->out, want, h->len) == 0)
        return;
    static char a[FX_OUT_CAP * 2], b[FX_OUT_CAP * 2];
    print_error("%s:\n--- expected\n%s\n--- got\n%s\n---\nlog:\n%s", what,
                fx_visible(want, a, sizeof a), fx_visible(h->out, b, sizeof b), h->log);
    fail();
}

/* Writes the profile's partition table (ESP-AT's, without an MD5 row) and at_customize.bin into a
 * simulated flash as bytes, not flash operations (the state a factory image leaves). */
static inline void fx_put_module_tables(atota_flash_sim_t *sim, const atota_profile_t *profile)
{
    uint8_t *data = atota_flash_sim_data(sim);
    uint8_t buf[ATOTA_PT_BIN_SIZE];
    assert_int_equal(atota_partition_table_write_bin(&profile->partitions, buf, NULL), ATOTA_OK);
    memcpy(data + profile->partition_table_offset, buf, sizeof buf);
    assert_int_equal(atota_partition_table_write_bin(&profile->at_customize, buf, NULL), ATOTA_OK);
    memcpy(data + profile->at_customize_offset, buf, sizeof buf);
}

/* Boots an esp32-wroom-32 module over flash; it must print exactly "\r\nready\r\n". The output
 * and the restart count are cleared before and after. */
static inline void fx_module_boot(atota_module_t *m, const atota_flash_t *flash,
                                  const atota_module_host_t *host, fx_host_state_t *h)
{
    fx_host_clear_out(h);
    h->restarts = 0;
    atota_diag_t d = {{0}};
    atota_module_opts_t o;
    memset(&o, 0, sizeof o);
    o.profile_name = "esp32-wroom-32";
    atota_err_t err = atota_module_boot(m, flash, host, &o, &d);
    if (err) {
        print_error("boot: %s\nlog:\n%s", atota_diag_text(&d, err), h->log);
        fail();
    }
    fx_expect_out(h, "boot", "\r\nready\r\n");
    fx_host_clear_out(h);
}

/* Feeds bytes to the module and checks everything it answers at once. */
static inline void fx_module_send(atota_module_t *m, fx_host_state_t *h, const char *bytes,
                                  const char *want)
{
    fx_host_clear_out(h);
    atota_module_feed(m, bytes, strlen(bytes));
    fx_expect_out(h, bytes, want);
}

#endif /* ATOTA_TESTS_SUPPORT_CAPTURE_HOST_H */
