/*
 * A host port for module tests (core/cmd/module.h atota_module_host_t): the AT port's output in
 * a buffer, the log in another, a fake clock the test advances, counted restart requests and the
 * last UART settings. fx_visible and fx_expect_out print "\r\n" readably on a mismatch. And the
 * module on it: a profile and a simulated flash as a factory image leaves them, boots (checked,
 * or unchecked for the power-cut tests: module_powercut.h), and commands fed. Header-only (static
 * inline), like fixture.h.
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

/* The esp32-wroom-32 profile, with the first `custom_rows` (0 to 3) of the at_customize.bin rows
 * ESP-AT v2 shipped with a magic added, in this order: mqtt_ca (subtype 27, 0x3D000, 8 KB),
 * factory_param (255, 0x3F000, 4 KB), ble_data (1, 0x40000, 12 KB). */
static inline void fx_module_profile(atota_profile_t *profile, unsigned custom_rows)
{
    static const struct {
        const char *name;
        uint8_t subtype;
        uint32_t offset, size;
    } rows[] = {
        {"mqtt_ca", 27, 0x3D000, 0x2000},
        {"factory_param", 255, 0x3F000, 0x1000},
        {"ble_data", 1, 0x40000, 0x3000},
    };
    assert_true(custom_rows <= sizeof rows / sizeof rows[0]);
    assert_int_equal(atota_profile_load("esp32-wroom-32", profile, NULL), ATOTA_OK);
    for (unsigned i = 0; i < custom_rows; i++)
        fx_table_add(&profile->at_customize, rows[i].name, 0x40, rows[i].subtype, rows[i].offset,
                     rows[i].size);
}

/* A simulated flash of the profile's size as a factory image leaves a module: the profile's
 * tables (fx_put_module_tables), the app image v1 in ota_0 and, when at_customize.bin has mqtt_ca,
 * the old content an update replaces there: F1 F1 (ESP-AT's magic), then "old-ca". The caller
 * closes it. */
static inline atota_flash_sim_t *fx_module_flash_new(const atota_profile_t *profile,
                                                     const uint8_t *v1, size_t v1_len)
{
    atota_flash_sim_t *sim = fx_sim_new(profile->flash_size);
    fx_put_module_tables(sim, profile);
    uint8_t *data = atota_flash_sim_data(sim);
    const atota_partition_t *ota0 = fx_table_get(&profile->partitions, "ota_0");
    assert_true(v1_len <= ota0->size);
    memcpy(data + ota0->offset, v1, v1_len);
    for (unsigned i = 0; i < profile->at_customize.count; i++)
        if (strcmp(profile->at_customize.entries[i].name, "mqtt_ca") == 0)
            memcpy(data + profile->at_customize.entries[i].offset, "\xF1\xF1old-ca", 8);
    return sim;
}

/* Boots an esp32-wroom-32 module over flash with these options (NULL: none; the profile is
 * always esp32-wroom-32), the restart count cleared first, and returns what the boot returned,
 * unchecked: the power-cut tests boot thousands of times, and some of the boots are cut. */
static inline atota_err_t fx_module_try_boot(atota_module_t *m, const atota_flash_t *flash,
                                             const atota_module_host_t *host, fx_host_state_t *h,
                                             const atota_module_opts_t *opts, atota_diag_t *d)
{
    h->restarts = 0;
    atota_module_opts_t o;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    o.profile_name = "esp32-wroom-32";
    return atota_module_boot(m, flash, host, &o, d);
}

/* Boots the module with these options (NULL: none); it must print exactly "\r\nready\r\n". The
 * output and the restart count are cleared before and after. */
static inline void fx_module_boot_opts(atota_module_t *m, const atota_flash_t *flash,
                                       const atota_module_host_t *host, fx_host_state_t *h,
                                       const atota_module_opts_t *opts)
{
    fx_host_clear_out(h);
    atota_diag_t d = {{0}};
    atota_err_t err = fx_module_try_boot(m, flash, host, h, opts, &d);
    if (err) {
        print_error("boot: %s\nlog:\n%s", atota_diag_text(&d, err), h->log);
        fail();
    }
    fx_expect_out(h, "boot", "\r\nready\r\n");
    fx_host_clear_out(h);
}

/* Boots an esp32-wroom-32 module over flash, as fx_module_boot_opts with no options. */
static inline void fx_module_boot(atota_module_t *m, const atota_flash_t *flash,
                                  const atota_module_host_t *host, fx_host_state_t *h)
{
    fx_module_boot_opts(m, flash, host, h, NULL);
}

/* Feeds a text to the module and leaves what it answers in the output. */
static inline void fx_module_feed_text(atota_module_t *m, const char *text)
{
    atota_module_feed(m, text, strlen(text));
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
