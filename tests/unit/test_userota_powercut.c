/*
 * Power cuts during a whole AT+USEROTA (the command through the simulated module, a fake HTTP
 * port, the download, the OTA writer, otadata, the restart and the first boot of the new image):
 * a cut before every mutating flash operation, and cuts in the middle of operations (an erase
 * half done, a page half programmed) with several seeds. After each cut the module is powered on
 * and must boot: v1 when the cut came before the otadata switch was complete, v1 or v2 after
 * (the bootloader falls back to v1 when v2's first boot never reached "ready").
 */
#include "core/cmd/module.h"
#include "core/fmt/otadata.h"
#include "support/fake_http.h"
#include "support/capture_host.h"
#include "support/fixture.h"
#include "support/module_powercut.h"

#define URL        "http://192.168.10.10:8070/esp-at.bin"
#define IMAGE_SIZE (256u * 1024u)
#define V1         "v4.1.0.0"
#define V2         "v4.2.0.0"
#define MID_EVERY  4u /* cuts in the middle: every 4th operation ... */
#define MID_SEEDS  3u /* ... with this many seeds */

typedef struct {
    atota_profile_t profile;
    atota_flash_sim_t *sim;
    const atota_flash_t *flash;
    uint8_t *base; /* the flash before the update: v1 running, the station saved */
    fx_host_state_t hs;
    atota_module_host_t host;
    fake_http_t http;
    atota_module_t m;
    uint8_t *image;
    size_t image_len;
} rig_t;

static atota_err_t boot(rig_t *r)
{
    return fx_module_try_boot(&r->m, r->flash, &r->host, &r->hs, NULL, NULL);
}

/* The host's loop until the AT port is free or a restart is asked for. */
static void run(rig_t *r)
{
    for (unsigned steps = 0; atota_at_busy(&r->m.at) && r->hs.restarts == 0; steps++) {
        assert_true(steps < 1000000);
        fake_http_pump(&r->http);
        r->hs.now += 5;
        atota_module_poll(&r->m);
    }
}

/* After boot: the saved station reconnects by itself (auto-connect). */
static void wait_connected(rig_t *r)
{
    for (unsigned i = 0; i < 1000 && !atota_wifi_connected(&r->m.wifi); i++) {
        r->hs.now += 5;
        atota_module_poll(&r->m);
    }
    assert_true(atota_wifi_connected(&r->m.wifi));
}

static rig_t *rig_new(void)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    fx_module_profile(&r->profile, 0);
    uint8_t *v1;
    size_t n = fx_build_app_sized(ATOTA_CHIP_ESP32, V1, 4000, &v1);
    r->sim = fx_module_flash_new(&r->profile, v1, n);
    free(v1);
    r->flash = atota_flash_sim_flash(r->sim);
    r->image_len = fx_build_app_sized(ATOTA_CHIP_ESP32, V2, IMAGE_SIZE, &r->image);
    r->hs.now = 1000;
    fx_host_init(&r->host, &r->hs);
    r->host.log = NULL;     /* thousands of boots: the log is not looked at */
    r->hs.keep_tail = true; /* only the end of the output is */
    r->host.http = fake_http_port(&r->http);

    /* v1 boots, the station joins and is saved: the state every run starts from */
    assert_int_equal(boot(r), ATOTA_OK);
    fx_module_feed_text(&r->m, "AT+CWJAP=\"atota\",\"atota-pass\"\r\n");
    run(r);
    assert_true(atota_wifi_connected(&r->m.wifi));
    r->base = fx_sim_copy(r->sim, r->profile.flash_size);
    return r;
}

static void rig_free(rig_t *r)
{
    atota_flash_sim_close(r->sim);
    free(r->base);
    free(r->image);
    free(r);
}

/* One update from the base state: boot v1, AT+USEROTA, and when it says OK (the otadata switch
 * is its last operation), the restart into v2. A cut (when armed by the caller through `arm`)
 * stops it wherever it strikes. */
static fx_cut_outcome_t update(void *ctx, bool arm, uint64_t after_ops, atota_power_cut_mode_t mode,
                               uint32_t seed)
{
    rig_t *r = ctx;
    fx_cut_outcome_t o = {0, 0, false};
    fx_sim_restore(r->sim, r->base, r->profile.flash_size);
    assert_int_equal(boot(r), ATOTA_OK);
    wait_connected(r);
    fake_http_init(&r->http, r->image, r->image_len, "\"etag-v2\"");
    r->http.chunk = 8192;
    atota_flash_sim_reset_stats(r->sim);
    if (arm)
        atota_flash_sim_arm_power_cut(r->sim, after_ops, mode, seed);
    fx_host_clear_out(&r->hs);
    fx_module_feed_text(&r->m, "AT+USEROTA=36\r\n");
    fx_module_feed_text(&r->m, URL);
    run(r);
    o.update_ops = fx_mutating_ops(r->sim);
    if (r->hs.restarts == 1) {
        o.ok = true;
        assert_non_null(strstr(r->hs.out, "\r\nOK\r\n"));
        boot(r); /* may be cut */
    } else {
        assert_non_null(strstr(r->hs.out, "\r\nERROR\r\n"));
    }
    o.total_ops = fx_mutating_ops(r->sim);
    return o;
}

static void test_power_cut_everywhere(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    fx_app_cut_sweep_t sweep = {.m = &r->m,
                                .sim = r->sim,
                                .host = &r->host,
                                .hs = &r->hs,
                                .v1 = V1,
                                .v2 = V2,
                                .run = update,
                                .ctx = r,
                                .min_update_ops = 500,
                                .mid_every = MID_EVERY,
                                .seeds = MID_SEEDS};
    fx_app_cut_result_t res = fx_app_cut_sweep(&sweep);
    print_message("USEROTA power cuts: %llu mutating operations in the update (%zu-byte image), "
                  "%llu with v2's first boot; %u cut points (%llu before, %u in the middle x %u "
                  "seeds): all booted (%u v1 / %u v2 after the before-cuts)\n",
                  (unsigned long long)res.ref.update_ops, r->image_len,
                  (unsigned long long)res.ref.total_ops, res.points,
                  (unsigned long long)res.ref.total_ops, res.points - (unsigned)res.ref.total_ops,
                  MID_SEEDS, res.v1_boots, res.v2_boots);
    assert_true(res.points >= 500);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_cut_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
