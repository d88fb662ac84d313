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
    r->hs.restarts = 0;
    atota_module_opts_t o;
    memset(&o, 0, sizeof o);
    o.profile_name = "esp32-wroom-32";
    return atota_module_boot(&r->m, r->flash, &r->host, &o, NULL);
}

static void feed(rig_t *r, const char *s)
{
    atota_module_feed(&r->m, s, strlen(s));
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
    assert_int_equal(atota_profile_load("esp32-wroom-32", &r->profile, NULL), ATOTA_OK);
    r->sim = fx_sim_new(r->profile.flash_size);
    r->flash = atota_flash_sim_flash(r->sim);
    uint8_t *data = atota_flash_sim_data(r->sim);
    fx_put_module_tables(r->sim, &r->profile);
    uint8_t *v1;
    size_t n = fx_build_app_sized(ATOTA_CHIP_ESP32, V1, 4000, &v1);
    memcpy(data + fx_table_get(&r->profile.partitions, "ota_0")->offset, v1, n);
    free(v1);
    r->image_len = fx_build_app_sized(ATOTA_CHIP_ESP32, V2, IMAGE_SIZE, &r->image);
    r->hs.now = 1000;
    fx_host_init(&r->host, &r->hs);
    r->host.log = NULL;     /* thousands of boots: the log is not looked at */
    r->hs.keep_tail = true; /* only the end of the output is */
    r->host.http = fake_http_port(&r->http);

    /* v1 boots, the station joins and is saved: the state every run starts from */
    assert_int_equal(boot(r), ATOTA_OK);
    feed(r, "AT+CWJAP=\"atota\",\"atota-pass\"\r\n");
    run(r);
    assert_true(atota_wifi_connected(&r->m.wifi));
    r->base = malloc(r->profile.flash_size);
    assert_non_null(r->base);
    memcpy(r->base, data, r->profile.flash_size);
    return r;
}

static void rig_free(rig_t *r)
{
    atota_flash_sim_close(r->sim);
    free(r->base);
    free(r->image);
    free(r);
}

typedef struct {
    uint64_t update_ops; /* mutating operations from AT+USEROTA to its OK (the switch is last) */
    uint64_t total_ops;  /* ... and through the first boot of v2 */
    bool ok;             /* AT+USEROTA answered OK */
} outcome_t;

/* One update from the base state: boot v1, AT+USEROTA, and when it says OK, the restart into
 * v2. A cut (when armed by the caller through `arm`) stops it wherever it strikes. */
static outcome_t update(rig_t *r, bool arm, uint64_t after_ops, atota_power_cut_mode_t mode,
                        uint32_t seed)
{
    outcome_t o = {0, 0, false};
    memcpy(atota_flash_sim_data(r->sim), r->base, r->profile.flash_size);
    atota_flash_sim_power_on(r->sim);
    atota_flash_sim_disarm_power_cut(r->sim);
    assert_int_equal(boot(r), ATOTA_OK);
    wait_connected(r);
    fake_http_init(&r->http, r->image, r->image_len, "\"etag-v2\"");
    r->http.chunk = 8192;
    atota_flash_sim_reset_stats(r->sim);
    if (arm)
        atota_flash_sim_arm_power_cut(r->sim, after_ops, mode, seed);
    r->hs.len = 0;
    feed(r, "AT+USEROTA=36\r\n");
    feed(r, URL);
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

/* After a cut: power on; the module must boot, and run `want` (or either when NULL). */
static void expect_boot_after_cut(rig_t *r, uint64_t k, const char *mode, const char *want)
{
    atota_flash_sim_power_on(r->sim);
    atota_flash_sim_disarm_power_cut(r->sim);
    atota_diag_t d = {{0}};
    atota_module_opts_t o;
    memset(&o, 0, sizeof o);
    o.profile_name = "esp32-wroom-32";
    r->hs.restarts = 0;
    atota_err_t err = atota_module_boot(&r->m, r->flash, &r->host, &o, &d);
    const char *v = r->m.boot.app_desc.version;
    if (err || (want && strcmp(v, want)) || (strcmp(v, V1) && strcmp(v, V2))) {
        print_error("cut %s before operation %llu: expected %s to boot, got %s (%s)\n", mode,
                    (unsigned long long)k, want ? want : V1 " or " V2,
                    err ? atota_err_name(err) : v, err ? atota_diag_text(&d, err) : "");
        fail();
    }
}

static void test_power_cut_everywhere(void **state)
{
    (void)state;
    rig_t *r = rig_new();

    /* the reference run: no cut */
    outcome_t ref = update(r, false, 0, ATOTA_POWER_CUT_BEFORE, 0);
    assert_true(ref.ok);
    assert_string_equal(r->m.boot.app_desc.version, V2);
    assert_true(ref.update_ops > 500);

    unsigned points = 0, v1_boots = 0, v2_boots = 0;
    /* a cut before each mutating operation of the update and of v2's first boot */
    for (uint64_t k = 0; k < ref.total_ops; k++) {
        outcome_t o = update(r, true, k, ATOTA_POWER_CUT_BEFORE, 0);
        assert_true(atota_flash_sim_powered(r->sim) == false);
        if (k < ref.update_ops)
            assert_false(o.ok);
        expect_boot_after_cut(r, k, "before", k < ref.update_ops ? V1 : NULL);
        points++;
        if (!strcmp(r->m.boot.app_desc.version, V1))
            v1_boots++;
        else
            v2_boots++; /* a cut before v2's first boot touched otadata: v2 (NEW) boots */
    }
    /* cuts in the middle of operations */
    for (uint32_t seed = 1; seed <= MID_SEEDS; seed++) {
        for (uint64_t k = seed % MID_EVERY; k < ref.total_ops; k += MID_EVERY) {
            outcome_t o = update(r, true, k, ATOTA_POWER_CUT_MIDDLE, seed * 7919u + (uint32_t)k);
            (void)o;
            assert_false(atota_flash_sim_powered(r->sim));
            expect_boot_after_cut(r, k, "in the middle", k < ref.update_ops ? V1 : NULL);
            points++;
        }
    }
    print_message("USEROTA power cuts: %llu mutating operations in the update (%zu-byte image), "
                  "%llu with v2's first boot; %u cut points (%llu before, %u in the middle x %u "
                  "seeds): all booted (%u v1 / %u v2 after the before-cuts)\n",
                  (unsigned long long)ref.update_ops, r->image_len,
                  (unsigned long long)ref.total_ops, points, (unsigned long long)ref.total_ops,
                  points - (unsigned)ref.total_ops, MID_SEEDS, v1_boots, v2_boots);
    assert_true(points >= 500);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_cut_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
