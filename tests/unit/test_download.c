/*
 * The HTTP download into the OTA writer (core/ota/download.c) against a fake HTTP port
 * (tests/support/fake_http.h) and a fake clock: one GET, resumes with Range and If-Range after
 * resets at several offsets, the server's answers that restart from zero (200 to a Range, 416, no
 * validator), retries running out, the overall time limit, error statuses, a wrong chip refused
 * before any erase, damaged images; after every failure the running firmware still boots.
 */
#include "core/ota/download.h"
#include "core/fmt/profile.h"
#include "core/ota/boot.h"
#include "support/fake_http.h"
#include "support/fixture.h"

#define IMAGE_SIZE_TARGET (300u * 1024u)
#define VALIDATOR         "\"v2-etag-1\""

typedef struct {
    atota_profile_t profile;
    atota_flash_sim_t *sim;
    const atota_flash_t *flash;
    const atota_partition_t *ota0, *ota1;
    atota_boot_result_t boot;
    uint8_t *image; /* v2 */
    size_t image_len;
    fake_http_t http;
    uint64_t now;
    atota_download_t dl;
    atota_download_policy_t policy;
    atota_ota_writer_opts_t wo;
    /* what the download reported */
    unsigned done_calls;
    atota_err_t done_err;
    char done_msg[256];
    char log[16384];
} rig_t;

static uint64_t rig_now(void *ctx)
{
    return ((rig_t *)ctx)->now;
}

static void rig_done(void *ctx, atota_err_t err, const char *msg)
{
    rig_t *r = ctx;
    r->done_calls++;
    r->done_err = err;
    snprintf(r->done_msg, sizeof r->done_msg, "%s", msg ? msg : "(null)");
}

static void rig_log(void *ctx, const char *line)
{
    rig_t *r = ctx;
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof r->log - n, "%s\n", line);
}

/* A module's flash: v1 in ota_0, booted once (otadata seq 1 VALID), v2 served by the fake. */
static rig_t *rig_new(void)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    atota_diag_t d = {{0}};
    assert_int_equal(atota_profile_load("esp32-wroom-32", &r->profile, &d), ATOTA_OK);
    r->sim = fx_sim_new(r->profile.flash_size);
    r->flash = atota_flash_sim_flash(r->sim);
    r->ota0 = fx_table_get(&r->profile.partitions, "ota_0");
    r->ota1 = fx_table_get(&r->profile.partitions, "ota_1");
    fx_put_app(r->sim, r->ota0, FX_CHIP, "v1.0.0.0");
    atota_boot_opts_t bo = {.rollback_enabled = true, .chip_id = FX_CHIP, .chip_rev = FX_CHIP_REV};
    assert_int_equal(atota_boot_select(r->flash, &r->profile.partitions, &bo, &r->boot, &d),
                     ATOTA_OK);
    assert_int_equal(r->boot.index, 0);
    r->image_len = fx_build_app_sized(FX_CHIP, "v2.0.0.0", IMAGE_SIZE_TARGET, &r->image);
    fake_http_init(&r->http, r->image, r->image_len, VALIDATOR);
    r->now = 1000;
    r->policy.max_retries = 5;
    r->policy.time_limit_ms = 300000;
    r->policy.stall_timeout_ms = 10000;
    r->policy.retry_delay_ms = 200;
    r->wo.flash = r->flash;
    r->wo.table = &r->profile.partitions;
    r->wo.running = &r->boot.partition;
    r->wo.rollback_enabled = true;
    r->wo.chip_id = FX_CHIP;
    r->wo.chip_rev = FX_CHIP_REV;
    return r;
}

static void rig_free(rig_t *r)
{
    atota_flash_sim_close(r->sim);
    free(r->image);
    free(r);
}

static atota_err_t start(rig_t *r, const char *url, atota_diag_t *d)
{
    atota_http_t h = fake_http_port(&r->http);
    return atota_download_start(&r->dl, &h, &r->policy, &r->wo, url, rig_now, r, rig_done, rig_log,
                                r, d);
}

/* The host's loop: the port's callbacks, 5 ms a step, the download's poll. */
static void run(rig_t *r)
{
    for (unsigned steps = 0; atota_download_running(&r->dl); steps++) {
        assert_true(steps < 2000000);
        fake_http_pump(&r->http);
        r->now += 5;
        atota_download_poll(&r->dl);
    }
    /* the port may still hold callbacks; none may reach a finished download */
    while (fake_http_pump(&r->http))
        ;
}

static void start_and_run(rig_t *r)
{
    atota_diag_t d = {{0}};
    atota_err_t err = start(r, "http://192.168.1.10:8070/esp-at.bin", &d);
    if (err) {
        print_error("atota_download_start: %s\n", atota_diag_text(&d, err));
        fail();
    }
    run(r);
    assert_int_equal(r->done_calls, 1);
}

static void expect_ok(rig_t *r)
{
    if (r->done_err != ATOTA_OK) {
        print_error("expected success, got %s: %s\nlog:\n%s", atota_err_name(r->done_err),
                    r->done_msg, r->log);
        fail();
    }
    /* the slot holds exactly the image */
    fx_expect_bytes("ota_1", atota_flash_sim_data(r->sim) + r->ota1->offset, r->image,
                    r->image_len);
    assert_int_equal(r->dl.stats.bytes, r->image_len);
}

static void expect_fail(rig_t *r, atota_err_t want, const char *msg_part)
{
    if (r->done_err != want || !strstr(r->done_msg, msg_part)) {
        print_error("expected %s with \"%s\", got %s: \"%s\"\nlog:\n%s", atota_err_name(want),
                    msg_part, atota_err_name(r->done_err), r->done_msg, r->log);
        fail();
    }
}

/* What boots next: the version of the app the bootloader picks. */
static void expect_boots(rig_t *r, const char *version)
{
    atota_boot_opts_t bo = {.rollback_enabled = true, .chip_id = FX_CHIP, .chip_rev = FX_CHIP_REV};
    atota_boot_result_t res;
    atota_diag_t d = {{0}};
    atota_err_t err = atota_boot_select(r->flash, &r->profile.partitions, &bo, &res, &d);
    if (err || strcmp(res.app_desc.version, version)) {
        print_error("expected %s to boot, got %s (%s): %s\n", version,
                    err ? atota_err_name(err) : res.app_desc.version, res.reason,
                    atota_diag_text(&d, err));
        fail();
    }
}

static void expect_request(rig_t *r, unsigned i, uint64_t range_from, const char *if_range)
{
    if (r->http.range_from[i] != range_from || strcmp(r->http.if_range[i], if_range)) {
        print_error("request %u: expected Range from %llu If-Range '%s', got %llu '%s'\n", i,
                    (unsigned long long)range_from, if_range,
                    (unsigned long long)r->http.range_from[i], r->http.if_range[i]);
        fail();
    }
}

/* ---- success ------------------------------------------------------------------------------ */

static void test_success_one_get(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    start_and_run(r);
    expect_ok(r);
    assert_int_equal(r->http.requests, 1);
    expect_request(r, 0, 0, "");
    assert_int_equal(r->dl.stats.requests, 1);
    assert_int_equal(r->dl.stats.range_requests, 0);
    assert_int_equal(r->dl.stats.restarts, 0);
    assert_int_equal(r->dl.stats.total, (int64_t)r->image_len);
    assert_int_equal(r->http.stall_timeout_ms, 10000);
    assert_false(r->http.had_ca_file);
    /* progress lines: every 10 % of the announced length */
    char want[64];
    snprintf(want, sizeof want, "%zu/%zu bytes (100%%)", r->image_len, r->image_len);
    assert_non_null(strstr(r->log, want));
    unsigned lines = 0;
    for (const char *s = r->log; (s = strstr(s, "%)\n")) != NULL; s++)
        lines++;
    assert_int_equal(lines, 10);
    /* the boot slot switched: v2 boots (NEW, then PENDING_VERIFY) */
    expect_boots(r, "v2.0.0.0");
    rig_free(r);
}

static void test_success_chunked(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    r->http.no_content_length = true;
    r->http.chunk = 1000; /* not a page multiple */
    start_and_run(r);
    expect_ok(r);
    assert_int_equal(r->dl.stats.total, -1);
    assert_non_null(strstr(r->log, "\n66000 bytes\n")); /* past each 64 KB, no length known */
    expect_boots(r, "v2.0.0.0");
    rig_free(r);
}

/* ---- resume ------------------------------------------------------------------------------- */

static void test_resume_after_resets(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    /* offsets inside the header, mid-page, on a page, on a 64 KB boundary, near the end */
    static const uint64_t at[] = {100, 50001, 120064, 196608, 0};
    for (unsigned i = 0; i < 4; i++)
        r->http.reset_at[i] = at[i];
    r->http.reset_at[4] = r->image_len - 1;
    r->http.reset_err[2] = ATOTA_ERR_NET_TIMEOUT; /* a stall the port timed out */
    start_and_run(r);
    expect_ok(r);
    assert_int_equal(r->http.requests, 6);
    expect_request(r, 0, 0, "");
    for (unsigned i = 0; i < 4; i++)
        expect_request(r, i + 1, at[i], VALIDATOR);
    expect_request(r, 5, r->image_len - 1, VALIDATOR);
    assert_int_equal(r->dl.stats.range_requests, 5);
    assert_int_equal(r->dl.stats.restarts, 0);
    assert_int_equal(r->dl.retries_used, 5);
    assert_non_null(strstr(r->log, "resuming at byte 50001"));
    expect_boots(r, "v2.0.0.0");
    rig_free(r);
}

static void test_range_ignored_restarts_from_zero(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    r->http.reset_at[0] = 70000;
    r->http.ignore_range = true;
    start_and_run(r);
    expect_ok(r);
    assert_int_equal(r->http.requests, 2);
    expect_request(r, 1, 70000, VALIDATOR); /* asked for a Range, got the whole image */
    assert_int_equal(r->dl.stats.restarts, 1);
    assert_non_null(strstr(r->log, "HTTP 200 to Range from byte 70000"));
    expect_boots(r, "v2.0.0.0");
    rig_free(r);
}

static void test_changed_image_restarts_from_zero(void **state)
{
    (void)state;
    /* the server's file changed between the reset and the resume: If-Range does not match, the
     * server sends the new whole image (200), and that is what gets written */
    rig_t *r = rig_new();
    r->http.reset_at[0] = 70000;
    atota_diag_t d = {{0}};
    assert_int_equal(start(r, "http://h/x.bin", &d), ATOTA_OK);
    while (r->http.requests < 2 || r->http.active) {
        fake_http_pump(&r->http);
        if (!r->http.active && r->http.requests == 1)
            snprintf(r->http.validator, sizeof r->http.validator, "\"v2-etag-2\"");
        r->now += 5;
        atota_download_poll(&r->dl);
    }
    run(r);
    assert_int_equal(r->done_calls, 1);
    expect_ok(r);
    expect_request(r, 1, 70000, VALIDATOR);
    assert_int_equal(r->dl.stats.restarts, 1);
    rig_free(r);
}

static void test_416_restarts_from_zero(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    r->http.reset_at[0] = 70000;
    r->http.status_for[1] = 416;
    start_and_run(r);
    expect_ok(r);
    assert_int_equal(r->http.requests, 3);
    expect_request(r, 1, 70000, VALIDATOR);
    expect_request(r, 2, 0, ""); /* a new GET without Range */
    assert_int_equal(r->dl.stats.restarts, 1);
    assert_int_equal(r->dl.retries_used, 1); /* the restart is not a retry */
    expect_boots(r, "v2.0.0.0");
    rig_free(r);
}

static void test_no_validator_restarts_from_zero(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    r->http.validator[0] = '\0';
    r->http.reset_at[0] = 70000;
    r->http.reset_at[1] = 20000;
    start_and_run(r);
    expect_ok(r);
    assert_int_equal(r->http.requests, 3);
    expect_request(r, 1, 0, "");
    expect_request(r, 2, 0, "");
    assert_int_equal(r->dl.stats.range_requests, 0);
    assert_int_equal(r->dl.stats.restarts, 2);
    assert_non_null(strstr(r->log, "no validator"));
    expect_boots(r, "v2.0.0.0");
    rig_free(r);
}

/* ---- failures ----------------------------------------------------------------------------- */

static void test_retries_exhausted(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    for (unsigned i = 0; i < FAKE_HTTP_MAX_REQ; i++)
        r->http.reset_at[i] = 10000 * (i + 1);
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_NET_RESET, "connection reset by peer at byte 60000, after 5 retries");
    assert_int_equal(r->http.requests, 6);
    expect_boots(r, "v1.0.0.0");
    rig_free(r);
}

static void test_no_retries_fails_at_first_reset(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    r->policy.max_retries = 0; /* ESP-AT */
    r->http.reset_at[0] = 123456;
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_NET_RESET, "connection reset by peer at byte 123456");
    assert_null(strstr(r->done_msg, "retries"));
    assert_int_equal(r->http.requests, 1);
    expect_boots(r, "v1.0.0.0");
    rig_free(r);
}

static void test_time_limit(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    r->policy.time_limit_ms = 30000;
    r->http.stall = true;
    r->http.stall_at = 100000; /* the server goes silent; the port says nothing either */
    uint64_t t0 = r->now;
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_NET_TIMEOUT, "no complete image within 30 s (100000 bytes received)");
    assert_true(r->now - t0 >= 30000 && r->now - t0 < 30100);
    assert_int_equal(r->http.cancels, 1);
    assert_false(r->http.active);
    expect_boots(r, "v1.0.0.0");
    rig_free(r);
}

static void test_http_errors(void **state)
{
    (void)state;
    static const int statuses[] = {404, 403, 500, 503, 416};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        rig_t *r = rig_new();
        r->http.status_for[0] = statuses[i];
        start_and_run(r);
        char want[16];
        snprintf(want, sizeof want, "HTTP %d", statuses[i]);
        expect_fail(r, ATOTA_ERR_HTTP_STATUS, want);
        assert_int_equal(r->http.requests, 1); /* an error status is not retried */
        expect_boots(r, "v1.0.0.0");
        rig_free(r);
    }
    /* an error status on a resume fails too */
    rig_t *r = rig_new();
    r->http.reset_at[0] = 5000;
    r->http.status_for[1] = 500;
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_HTTP_STATUS, "HTTP 500");
    expect_boots(r, "v1.0.0.0");
    rig_free(r);
    /* a status that is neither 200 nor 206 nor an error */
    r = rig_new();
    r->http.status_for[0] = 204;
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_NET_PROTOCOL, "unexpected HTTP status 204");
    rig_free(r);
}

static void test_206_at_wrong_offset(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    r->http.reset_at[0] = 8192;
    r->http.range_skew = -4096;
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_NET_PROTOCOL, "HTTP 206 starts at byte 4096, byte 8192 was asked for");
    expect_boots(r, "v1.0.0.0");
    rig_free(r);
}

static void test_connect_failure(void **state)
{
    (void)state;
    /* the first connection: fails at once, as ESP-AT */
    rig_t *r = rig_new();
    r->http.status_for[0] = -1;
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_NET_CONNECT, "connection refused");
    assert_int_equal(r->http.requests, 1);
    rig_free(r);
    /* a reconnect that fails while resuming is retried */
    r = rig_new();
    r->http.reset_at[0] = 9000;
    r->http.status_for[1] = -1;
    start_and_run(r);
    expect_ok(r);
    assert_int_equal(r->http.requests, 3);
    expect_request(r, 2, 9000, VALIDATOR);
    rig_free(r);
}

static void test_wrong_chip_before_any_erase(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    uint8_t *c3 = NULL;
    size_t len = fx_build_app_sized(ATOTA_CHIP_ESP32C3, "v2.0.0.0", 100000, &c3);
    fake_http_init(&r->http, c3, len, VALIDATOR);
    atota_flash_sim_reset_stats(r->sim);
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_IMAGE_CHIP, "at byte 0");
    assert_int_equal(fx_mutating_ops(r->sim), 0);
    assert_int_equal(r->http.requests, 1);
    expect_boots(r, "v1.0.0.0");
    free(c3);
    rig_free(r);
}

/* esp-at-ota.md §2.3: a complete, valid image shorter than the 1024 bytes esp_https_ota reads
 * first is refused, as on the module; one of exactly 1024 bytes or more is taken. */
static void test_image_under_1024_bytes(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    uint8_t *tiny = NULL;
    size_t len = fx_build_app_sized(FX_CHIP, "v2.0.0.0", 16, &tiny);
    assert_true(len < ATOTA_DOWNLOAD_MIN_IMAGE);
    fake_http_init(&r->http, tiny, len, VALIDATOR);
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_IMAGE_TRUNCATED, "Complete headers were not received");
    expect_boots(r, "v1.0.0.0");
    free(tiny);
    rig_free(r);
}

static void test_damaged_images(void **state)
{
    (void)state;
    /* the server's file is short: the body is complete as HTTP goes, the image is not */
    rig_t *r = rig_new();
    r->http.serve_len = r->image_len - 1000;
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_IMAGE_TRUNCATED, "");
    expect_boots(r, "v1.0.0.0");
    rig_free(r);
    /* a byte changed in transit */
    r = rig_new();
    r->http.corrupt_at = 150000;
    start_and_run(r);
    if (r->done_err != ATOTA_ERR_IMAGE_HASH && r->done_err != ATOTA_ERR_IMAGE_CHECKSUM) {
        print_error("corrupted byte: expected a hash or checksum error, got %s: %s\n",
                    atota_err_name(r->done_err), r->done_msg);
        fail();
    }
    expect_boots(r, "v1.0.0.0");
    rig_free(r);
    /* not an image at all (an HTML page with 200) */
    r = rig_new();
    static const uint8_t html[2000] = "<html><body>Not here</body></html>";
    fake_http_init(&r->http, html, sizeof html, "");
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_IMAGE_MAGIC, "");
    expect_boots(r, "v1.0.0.0");
    rig_free(r);
    /* larger than the slot, said by Content-Length: refused before a byte is written */
    r = rig_new();
    fake_http_init(&r->http, r->image, r->image_len, VALIDATOR);
    r->http.serve_len = r->ota1->size + 1;
    uint8_t *big = calloc(1, r->ota1->size + 1);
    memcpy(big, r->image, r->image_len);
    r->http.image = big;
    start_and_run(r);
    expect_fail(r, ATOTA_ERR_IMAGE_TOO_BIG, "holds");
    assert_int_equal(r->dl.stats.bytes, 0);
    expect_boots(r, "v1.0.0.0");
    free(big);
    rig_free(r);
}

/* ---- immediate refusals, cancel, the contract ------------------------------------------ */

static void test_refusals_are_immediate(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    atota_diag_t d = {{0}};
    static const char *const bad[] = {"",           "ftp://host/x.bin", "http://",
                                      "https:///x", "http://host/a b",  "host/x.bin"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(start(r, bad[i], &d), ATOTA_ERR_NET_URL);
        assert_false(atota_download_running(&r->dl));
    }
    char *longurl = malloc(ATOTA_DOWNLOAD_URL_MAX + 2);
    memset(longurl, 'a', ATOTA_DOWNLOAD_URL_MAX + 1);
    memcpy(longurl, "http://", 7);
    longurl[ATOTA_DOWNLOAD_URL_MAX + 1] = '\0';
    assert_int_equal(start(r, longurl, &d), ATOTA_ERR_NET_URL);
    longurl[ATOTA_DOWNLOAD_URL_MAX] = '\0'; /* 8192 bytes: accepted (the fake refuses it) */
    assert_int_equal(start(r, longurl, &d), ATOTA_OK);
    atota_download_cancel(&r->dl);
    assert_int_equal(r->done_calls, 1);
    r->done_calls = 0;
    free(longurl);
    assert_int_equal(r->http.requests, 1);
    assert_int_equal(r->done_calls, 0);
    /* any case of the scheme */
    fake_http_init(&r->http, r->image, r->image_len, VALIDATOR);
    assert_int_equal(start(r, "HTTP://Host/x.bin", &d), ATOTA_ERR_NET_URL); /* the fake's */
    assert_int_equal(r->http.requests, 0);

    /* a second start while one runs */
    assert_int_equal(start(r, "http://h/x.bin", &d), ATOTA_OK);
    assert_int_equal(start(r, "http://h/y.bin", &d), ATOTA_ERR_OTA_IN_PROGRESS);
    run(r);
    assert_int_equal(r->done_calls, 1);
    expect_ok(r);
    assert_int_equal(r->http.requests, 1);

    /* v2 now boots PENDING_VERIFY: no update until it is confirmed (esp_ota_begin) */
    atota_boot_opts_t bo = {.rollback_enabled = true, .chip_id = FX_CHIP, .chip_rev = FX_CHIP_REV};
    assert_int_equal(atota_boot_select(r->flash, &r->profile.partitions, &bo, &r->boot, &d),
                     ATOTA_OK);
    assert_int_equal(r->boot.index, 1);
    assert_int_equal(start(r, "http://h/x.bin", &d), ATOTA_ERR_OTA_PENDING_VERIFY);
    assert_int_equal(r->http.requests, 1);
    assert_int_equal(r->done_calls, 1);
    rig_free(r);
}

static void test_cancel(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    atota_diag_t d = {{0}};
    assert_int_equal(start(r, "http://h/x.bin", &d), ATOTA_OK);
    for (int i = 0; i < 20; i++)
        fake_http_pump(&r->http);
    atota_download_cancel(&r->dl);
    assert_int_equal(r->done_calls, 1);
    expect_fail(r, ATOTA_ERR_STATE, "cancelled");
    assert_false(r->http.active);
    atota_download_cancel(&r->dl); /* nothing more */
    atota_download_poll(&r->dl);
    assert_int_equal(r->done_calls, 1);
    expect_boots(r, "v1.0.0.0");
    /* and a new download on the same struct works */
    r->done_calls = 0;
    fake_http_init(&r->http, r->image, r->image_len, VALIDATOR);
    start_and_run(r);
    expect_ok(r);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_one_get),
        cmocka_unit_test(test_success_chunked),
        cmocka_unit_test(test_resume_after_resets),
        cmocka_unit_test(test_range_ignored_restarts_from_zero),
        cmocka_unit_test(test_changed_image_restarts_from_zero),
        cmocka_unit_test(test_416_restarts_from_zero),
        cmocka_unit_test(test_no_validator_restarts_from_zero),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_no_retries_fails_at_first_reset),
        cmocka_unit_test(test_time_limit),
        cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_206_at_wrong_offset),
        cmocka_unit_test(test_connect_failure),
        cmocka_unit_test(test_wrong_chip_before_any_erase),
        cmocka_unit_test(test_image_under_1024_bytes),
        cmocka_unit_test(test_damaged_images),
        cmocka_unit_test(test_refusals_are_immediate),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
