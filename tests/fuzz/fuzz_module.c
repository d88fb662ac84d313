/*
 * libFuzzer target for a whole simulated module: the input is what a host sends on the UART of
 * an ESP-AT module made by atota_flash_layout_write (the factory firmware of esp32-wroom-32 in
 * ota_0), fed in chunks whose sizes the first byte picks, with the clock advanced between chunks
 * so Wi-Fi joins complete. Every command of core/cmd is reachable (AT+SYSFLASH writes into
 * at_customize partitions, AT+RESTORE erases NVS, AT+SYSROLLBACK, AT+RST). A requested restart
 * boots the module again over the same flash, as atota-sim does.
 *
 * Invariants (abort() on failure): the module always boots again after what the input did (the
 * running firmware stays bootable whatever arrives), and the app it runs is the factory one.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cmd/module.h"
#include "core/ota/flash_layout.h"
#include "port/posix/flash_sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODULE_MAX_INPUT                                                                           \
    (16u << 10) /* the replay feeds whole flash images: the start is enough                        \
                 */

typedef struct {
    uint64_t now;
    bool restart;
    size_t out;
} fuzz_host_t;

static uint64_t host_now(void *ctx)
{
    return ((fuzz_host_t *)ctx)->now;
}

static void host_log(void *ctx, const char *line)
{
    (void)ctx, (void)line;
}

static void host_write(void *ctx, const void *d, size_t len)
{
    (void)d;
    ((fuzz_host_t *)ctx)->out += len;
}

static void host_restart(void *ctx)
{
    ((fuzz_host_t *)ctx)->restart = true;
}

/* The factory flash, built once; every input starts from a copy of it. */
static uint8_t *factory_flash(void)
{
    static uint8_t *image;
    if (image)
        return image;
    atota_profile_t profile;
    atota_diag_t diag;
    atota_flash_sim_t *sim = NULL;
    atota_flash_sim_opts_t o = {.size = ATOTA_FLASH_SIM_DEFAULT_SIZE};
    size_t cap = 0, len = 0;
    uint8_t *app = NULL;
    if (atota_profile_load("esp32-wroom-32", &profile, &diag) ||
        atota_flash_sim_open(&o, &sim, &diag) ||
        !(cap = atota_flash_layout_factory_app_size(&profile)) || !(app = malloc(cap)) ||
        atota_flash_layout_factory_app(&profile, app, cap, &len, &diag)) {
        fprintf(stderr, "fuzz_module: cannot build the factory flash\n");
        abort();
    }
    atota_flash_layout_t images = {.app = {.data = app, .len = len, .name = "factory"}};
    if (atota_flash_layout_write(atota_flash_sim_flash(sim), &profile, &images, &diag))
        abort();
    /* the first boot records otadata (seq 1 VALID); later boots of this flash write nothing */
    static atota_module_t first;
    fuzz_host_t h = {0};
    atota_module_host_t host = {.ctx = &h, .now_ms = host_now, .write = host_write};
    atota_module_opts_t mo = {.profile_name = "esp32-wroom-32"};
    if (atota_module_boot(&first, atota_flash_sim_flash(sim), &host, &mo, &diag))
        abort();
    image = malloc(ATOTA_FLASH_SIM_DEFAULT_SIZE);
    if (!image)
        abort();
    memcpy(image, atota_flash_sim_data(sim), ATOTA_FLASH_SIM_DEFAULT_SIZE);
    free(app);
    atota_flash_sim_close(sim);
    return image;
}

static void boot(atota_module_t *m, const atota_flash_t *flash, const atota_module_host_t *host,
                 const atota_module_opts_t *opts)
{
    atota_diag_t diag;
    if (atota_module_boot(m, flash, host, opts, &diag) != ATOTA_OK) {
        fprintf(stderr, "fuzz_module: the module no longer boots: %s\n", diag.msg);
        abort();
    }
    if (strcmp(m->boot.app_desc.version, ATOTA_FACTORY_APP_VERSION) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MODULE_MAX_INPUT)
        size = MODULE_MAX_INPUT;
    /* One flash for every input, put back to the factory bytes only when the previous input
     * changed it (most inputs don't): copying 4 MB per input would be most of the work. */
    static atota_flash_sim_t *sim;
    const uint8_t *base = factory_flash();
    atota_flash_sim_stats_t st = {0};
    if (sim)
        atota_flash_sim_get_stats(sim, &st);
    if (!sim) {
        atota_flash_sim_opts_t o = {.size = ATOTA_FLASH_SIM_DEFAULT_SIZE, .strict = true};
        if (atota_flash_sim_open(&o, &sim, NULL))
            abort();
    }
    if (!st.reads || st.mutating_ops) {
        memcpy(atota_flash_sim_data(sim), base, ATOTA_FLASH_SIM_DEFAULT_SIZE);
        atota_flash_sim_reset_stats(sim);
    }

    static atota_module_t m; /* large: not on the stack */
    fuzz_host_t h = {.now = 1000};
    atota_module_host_t host = {.ctx = &h,
                                .now_ms = host_now,
                                .log = host_log,
                                .write = host_write,
                                .restart = host_restart};
    atota_module_opts_t opts = {.profile_name = "esp32-wroom-32"};
    const atota_flash_t *flash = atota_flash_sim_flash(sim);
    boot(&m, flash, &host, &opts);

    unsigned chunk = size ? 1u + data[0] % 64u : 1u;
    for (size_t i = size ? 1 : 0; i < size; i += chunk) {
        size_t n = size - i < chunk ? size - i : chunk;
        atota_module_feed(&m, data + i, n);
        h.now += 50;
        atota_module_poll(&m);
        if (h.restart) {
            h.restart = false;
            boot(&m, flash, &host, &opts);
        }
    }
    h.now += 5000; /* let a join in progress finish */
    atota_module_poll(&m);
    boot(&m, flash, &host, &opts); /* a power cycle: still boots the factory app */
    return 0;
}
