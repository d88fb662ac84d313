/*
 * Power cuts during AT+WEBSERVER uploads, driven exactly as the browser page sends them (POST
 * /setotadata, "Object", Content-Length, the body in 16 KB pieces) through the simulated module
 * and a fake HTTP-server port: the command, the upload, the OTA writer or the staged partition
 * updater, otadata, AT+RST and the first boot of the new app. A cut before every mutating flash
 * operation, and cuts in the middle of operations (an erase half done, a page half programmed)
 * with several seeds; after each the module is powered on and boots.
 *   - the app (ota): it must boot, v1 while the cut came before the otadata switch was complete,
 *     v1 or v2 after it (a v2 whose first boot never reached "ready" falls back to v1);
 *   - a custom partition (mqtt_ca): after the boot's recovery it holds the old content or the
 *     new, never a mix: old up to one operation (the journal's commit record), new after it,
 *     whatever the cut; v1 boots, its image and otadata untouched.
 */
#include "core/cmd/module.h"
#include "support/capture_host.h"
#include "support/fake_httpd.h"
#include "support/fixture.h"
#include "support/module_powercut.h"

#define IMAGE_SIZE (128u * 1024u)
#define CA_LEN     0x1A37u
#define PIECE      (16u * 1024u)
#define V1         "v4.1.0.0"
#define V2         "v4.2.0.0"
#define MID_EVERY  4u /* app: cuts in the middle at every 4th operation ... */
#define MID_SEEDS  3u /* ... with this many seeds */
#define CA_SEEDS   8u /* mqtt_ca: in the middle of every operation, with this many seeds */

typedef struct {
    atota_profile_t profile;
    atota_flash_sim_t *sim;
    const atota_flash_t *flash;
    uint8_t *base; /* v1 running, mqtt_ca's old content: the state every run starts from */
    fx_host_state_t hs;
    atota_module_host_t host;
    fake_httpd_t web;
    atota_module_t m;
    const atota_partition_t *ota0, *otadata, *mqtt_ca;
    uint8_t *image; /* v2 */
    size_t image_len;
    uint8_t ca[CA_LEN]; /* mqtt_ca's new content */
    uint8_t *old_part;  /* mqtt_ca's bytes before */
    uint8_t *new_part;  /* what it holds after the update: the new content, then 0xFF */
    uint32_t keep0;     /* v1's image in ota_0, rounded up to 4 KB */
} rig_t;

static atota_err_t boot(rig_t *r)
{
    return fx_module_try_boot(&r->m, r->flash, &r->host, &r->hs, NULL, NULL);
}

static rig_t *rig_new(void)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    fx_module_profile(&r->profile, 1); /* mqtt_ca */
    uint8_t *v1;
    size_t n = fx_build_app_sized(ATOTA_CHIP_ESP32, V1, 4000, &v1);
    r->sim = fx_module_flash_new(&r->profile, v1, n);
    r->keep0 = ((uint32_t)n + 0xFFF) / 0x1000 * 0x1000;
    free(v1);
    r->flash = atota_flash_sim_flash(r->sim);
    uint8_t *data = atota_flash_sim_data(r->sim);
    r->ota0 = fx_table_get(&r->profile.partitions, "ota_0");
    r->otadata = fx_table_get(&r->profile.partitions, "otadata");
    r->mqtt_ca = fx_table_get(&r->profile.at_customize, "mqtt_ca");
    r->image_len = fx_build_app_sized(ATOTA_CHIP_ESP32, V2, IMAGE_SIZE, &r->image);
    uint32_t x = 0xBEEFu;
    for (size_t i = 0; i < CA_LEN; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        r->ca[i] = (uint8_t)x;
    }
    r->ca[0] = r->ca[1] = 0xF1;
    r->hs.now = 1000;
    fx_host_init(&r->host, &r->hs);
    r->host.log = NULL;     /* thousands of boots: the log is not looked at */
    r->hs.keep_tail = true; /* only the end of the output is */
    r->host.httpd = fake_httpd_port(&r->web);
    /* the first boot writes otadata and NVS; the state after it is where every run starts */
    assert_int_equal(boot(r), ATOTA_OK);
    r->base = fx_sim_copy(r->sim, r->profile.flash_size);
    r->old_part = malloc(r->mqtt_ca->size);
    r->new_part = malloc(r->mqtt_ca->size);
    assert_true(r->old_part && r->new_part);
    memcpy(r->old_part, data + r->mqtt_ca->offset, r->mqtt_ca->size);
    memset(r->new_part, 0xFF, r->mqtt_ca->size);
    memcpy(r->new_part, r->ca, CA_LEN);
    return r;
}

static void rig_free(rig_t *r)
{
    fake_httpd_clear(&r->web);
    atota_flash_sim_close(r->sim);
    free(r->base);
    free(r->old_part);
    free(r->new_part);
    free(r->image);
    free(r);
}

/* One upload from the base state: boot v1, AT+WEBSERVER=1,80,25, POST /setotadata, and for the
 * app, when it is answered 200, AT+RST and the boot of v2. A cut (armed through `arm`) stops it
 * wherever it strikes. */
static fx_cut_outcome_t upload(rig_t *r, bool app, bool arm, uint64_t k,
                               atota_power_cut_mode_t mode, uint32_t seed)
{
    fx_cut_outcome_t o = {0, 0, false}; /* ok: answered 200 {"state": 0} */
    fx_sim_restore(r->sim, r->base, r->profile.flash_size);
    assert_int_equal(boot(r), ATOTA_OK);
    fake_httpd_clear(&r->web);
    fx_module_feed_text(&r->m, "AT+WEBSERVER=1,80,25\r\n");
    assert_true(r->web.started);
    atota_flash_sim_reset_stats(r->sim);
    if (arm)
        atota_flash_sim_arm_power_cut(r->sim, k, mode, seed);
    fx_host_clear_out(&r->hs);
    const uint8_t *body = app ? r->image : r->ca;
    size_t len = app ? r->image_len : CA_LEN;
    const char *headers[] = {app ? "Object: ota" : "Object: mqtt_ca",
                             "Content-Type: application/octet-stream;charset=UTF-8", NULL};
    unsigned i =
        fake_httpd_send(&r->web, "POST", "/setotadata", headers, body, len, PIECE, (int64_t)len);
    const fake_httpd_req_t *q = &r->web.reqs[i];
    assert_int_equal(q->state, FAKE_HTTPD_ANSWERED);
    o.update_ops = fx_mutating_ops(r->sim);
    o.ok = q->status == 200;
    if (o.ok) {
        assert_string_equal((const char *)q->body, "{\"state\": 0}");
        assert_non_null(strstr(r->hs.out, "+WEBSERVERRSP:3\r\n+WEBSERVERRSP:4\r\n"));
        if (app) {
            fx_module_feed_text(&r->m, "AT+RST\r\n");
            assert_int_equal(r->hs.restarts, 1);
            boot(r); /* may be cut */
        }
    } else {
        assert_int_equal(q->status, 500);
        assert_string_equal((const char *)q->body, "{\"state\": 1}");
        assert_non_null(strstr(r->hs.out, "+WEBSERVERRSP:3\r\n+WEBSERVERRSP:5\r\n"));
    }
    o.total_ops = fx_mutating_ops(r->sim);
    return o;
}

/* After a cut: power on; the module must boot, and run `want` (either when NULL). */
static void expect_boot_after_cut(rig_t *r, const char *what, const char *want)
{
    fx_module_expect_boot_after_cut(&r->m, r->sim, &r->host, &r->hs, what, want, V1, V2);
}

/* The app's upload (with AT+RST and v2's first boot), as the sweep runs it. */
static fx_cut_outcome_t upload_app(void *ctx, bool arm, uint64_t k, atota_power_cut_mode_t mode,
                                   uint32_t seed)
{
    return upload(ctx, true, arm, k, mode, seed);
}

static void test_app_power_cuts(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    fx_app_cut_sweep_t sweep = {.m = &r->m,
                                .sim = r->sim,
                                .host = &r->host,
                                .hs = &r->hs,
                                .v1 = V1,
                                .v2 = V2,
                                .run = upload_app,
                                .ctx = r,
                                .min_update_ops = 400,
                                .mid_every = MID_EVERY,
                                .seeds = MID_SEEDS};
    fx_app_cut_result_t res = fx_app_cut_sweep(&sweep);
    print_message("web upload (app) power cuts: %llu mutating operations in the upload (%zu-byte "
                  "image), %llu with AT+RST and v2's first boot; %u cut points: all booted (%u v1 "
                  "/ %u v2 after the before-cuts)\n",
                  (unsigned long long)res.ref.update_ops, r->image_len,
                  (unsigned long long)res.ref.total_ops, res.points, res.v1_boots, res.v2_boots);
    assert_true(res.v1_boots > 0 && res.v2_boots > 0);
    assert_true(res.points >= 500);
    rig_free(r);
}

typedef enum { HOLDS_MIX = 0, HOLDS_OLD = 1, HOLDS_NEW = 2 } holds_t;

/* After the cut and the boot: mqtt_ca is old or new, v1 runs, its image and the rest of the
 * at_customize region are as they were. */
static holds_t expect_partition_after_cut(rig_t *r, const char *what)
{
    expect_boot_after_cut(r, what, V1);
    const uint8_t *data = atota_flash_sim_data(r->sim);
    const uint8_t *now = data + r->mqtt_ca->offset;
    holds_t got = HOLDS_MIX;
    if (memcmp(now, r->old_part, r->mqtt_ca->size) == 0)
        got = HOLDS_OLD;
    else if (memcmp(now, r->new_part, r->mqtt_ca->size) == 0)
        got = HOLDS_NEW;
    if (got == HOLDS_MIX) {
        size_t i = 0;
        while (i < r->mqtt_ca->size && now[i] == r->new_part[i])
            i++;
        print_error("%s: mqtt_ca holds a mix (first difference from the new content at 0x%zx)\n",
                    what, i);
        fail();
    }
    fx_expect_bytes(what, data + r->ota0->offset, r->base + r->ota0->offset, r->keep0);
    fx_expect_bytes(what, data + r->otadata->offset, r->base + r->otadata->offset,
                    r->otadata->size);
    const atota_partition_t *ac = fx_table_get(&r->profile.partitions, "at_customize");
    fx_expect_bytes(what, data + ac->offset, r->base + ac->offset, r->mqtt_ca->offset - ac->offset);
    uint32_t after = r->mqtt_ca->offset + r->mqtt_ca->size;
    fx_expect_bytes(what, data + after, r->base + after, ac->offset + ac->size - after);
    return got;
}

static void test_partition_power_cuts(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    fx_cut_outcome_t ref = upload(r, false, false, 0, ATOTA_POWER_CUT_BEFORE, 0);
    assert_true(ref.ok);
    fx_expect_bytes("no cut", atota_flash_sim_data(r->sim) + r->mqtt_ca->offset, r->new_part,
                    r->mqtt_ca->size);
    assert_true(ref.update_ops > 50);

    /* before every operation: old up to the commit, new from there on */
    uint64_t first_new = ref.update_ops;
    unsigned points = 0;
    char what[96];
    for (uint64_t k = 0; k < ref.update_ops; k++) {
        fx_cut_outcome_t o = upload(r, false, true, k, ATOTA_POWER_CUT_BEFORE, 0);
        assert_false(o.ok);
        snprintf(what, sizeof what, "cut before operation %llu", (unsigned long long)k);
        holds_t got = expect_partition_after_cut(r, what);
        if (got == HOLDS_NEW && first_new == ref.update_ops)
            first_new = k;
        if (got == HOLDS_OLD && k > first_new) {
            print_error("%s: mqtt_ca old again after a cut at %llu left it new\n", what,
                        (unsigned long long)first_new);
            fail();
        }
        points++;
    }
    /* the commit record is one operation, well inside the update */
    assert_true(first_new > 10 && first_new < ref.update_ops);
    /* in the middle of every operation, with several seeds: old before the commit record, new
     * after it, either at it */
    unsigned old_mid = 0, new_mid = 0;
    for (uint64_t k = 0; k < ref.update_ops; k++) {
        for (uint32_t seed = 1; seed <= CA_SEEDS; seed++) {
            upload(r, false, true, k, ATOTA_POWER_CUT_MIDDLE, seed * 104729u + (uint32_t)k);
            snprintf(what, sizeof what, "cut in the middle of operation %llu (seed %u)",
                     (unsigned long long)k, seed);
            holds_t got = expect_partition_after_cut(r, what);
            holds_t want = k + 1 < first_new ? HOLDS_OLD : k + 1 > first_new ? HOLDS_NEW : got;
            if (got != want) {
                print_error("%s: mqtt_ca holds the %s content, expected the %s (commit at %llu)\n",
                            what, got == HOLDS_OLD ? "old" : "new",
                            want == HOLDS_OLD ? "old" : "new", (unsigned long long)first_new - 1);
                fail();
            }
            old_mid += got == HOLDS_OLD;
            new_mid += got == HOLDS_NEW;
            points++;
        }
    }
    print_message("web upload (mqtt_ca) power cuts: %llu mutating operations in a %u-byte upload, "
                  "the commit record operation %llu; %u cut points (every operation, before and "
                  "in the middle x %u seeds): old or new after every boot (%u old / %u new after "
                  "the middle cuts)\n",
                  (unsigned long long)ref.update_ops, CA_LEN, (unsigned long long)first_new - 1,
                  points, CA_SEEDS, old_mid, new_mid);
    assert_true(old_mid > 0 && new_mid > 0);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_app_power_cuts),
        cmocka_unit_test(test_partition_power_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
