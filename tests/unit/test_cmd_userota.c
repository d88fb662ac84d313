/*
 * AT+USEROTA through the simulated module (core/cmd/cmd_userota.c) with a fake HTTP port: the
 * exact bytes of esp-at-ota.md §2.2 on success (echo on), of each refusal and failure, busy
 * while downloading, the restart into the new image (AT+GMR, AT+SYSROLLBACK? after it), and the
 * download policy taken from the running image's firmware configuration.
 */
#include "core/cmd/module.h"
#include "core/fmt/fwconfig.h"
#include "core/fmt/otadata.h"
#include "support/fake_http.h"
#include "support/app_config.h"
#include "support/capture_host.h"
#include "support/fixture.h"

#define URL   "http://192.168.10.10:8070/esp-at.bin" /* 36 bytes, as the doc example */
#define ETAG  "\"5f1d-1a2b\""
#define OK    "\r\nOK\r\n"
#define ERROR "\r\nERROR\r\n"

typedef struct {
    atota_profile_t profile;
    atota_flash_sim_t *sim;
    const atota_flash_t *flash;
    fx_host_state_t hs;
    atota_module_host_t host;
    fake_http_t http;
    atota_module_t m;
    const atota_partition_t *ota0, *ota1;
    uint8_t *image; /* v2, served */
    size_t image_len;
} rig_t;

/* The flash `atota flash create --module esp32-wroom-32` makes: tables, v1 in ota_0 (with
 * v1_config as its firmware configuration), otadata erased. The fake serves v2 (~200 KB). */
static rig_t *rig_new(const char *v1_config)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    fx_module_profile(&r->profile, 0);
    uint8_t *v1;
    size_t n = fx_build_app_config("v4.1.0.0", 3000, v1_config, &v1);
    r->sim = fx_module_flash_new(&r->profile, v1, n);
    free(v1);
    r->flash = atota_flash_sim_flash(r->sim);
    r->ota0 = fx_table_get(&r->profile.partitions, "ota_0");
    r->ota1 = fx_table_get(&r->profile.partitions, "ota_1");
    r->image_len = fx_build_app_config("v4.2.0.0", 200 * 1024, NULL, &r->image);
    fake_http_init(&r->http, r->image, r->image_len, ETAG);
    r->hs.now = 1000;
    fx_host_init(&r->host, &r->hs);
    r->host.http = fake_http_port(&r->http);
    return r;
}

static void rig_free(rig_t *r)
{
    atota_flash_sim_close(r->sim);
    free(r->image);
    free(r);
}

/* The host's loop until the AT command ends (or a restart is asked for). */
static void run(rig_t *r)
{
    for (unsigned steps = 0; atota_at_busy(&r->m.at) && r->hs.restarts == 0; steps++) {
        assert_true(steps < 1000000);
        fake_http_pump(&r->http);
        r->hs.now += 5;
        atota_module_poll(&r->m);
    }
}

/* The station joins the default access point (AT+CWJAP, ~300 ms). */
static void join(rig_t *r)
{
    fx_host_clear_out(&r->hs);
    static const char cwjap[] = "AT+CWJAP=\"atota\",\"atota-pass\"\r\n";
    atota_module_feed(&r->m, cwjap, sizeof cwjap - 1);
    run(r);
    assert_true(atota_wifi_connected(&r->m.wifi));
    assert_non_null(strstr(r->hs.out, "WIFI GOT IP"));
    fx_host_clear_out(&r->hs);
}

static void prompt_and_url(rig_t *r, const char *url)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "AT+USEROTA=%zu\r\n", strlen(url));
    char want[128];
    snprintf(want, sizeof want, "%s\r\nOK\r\n\r\n>", r->m.at.echo ? cmd : "");
    fx_module_send(&r->m, &r->hs, cmd, want);
    snprintf(want, sizeof want, "\r\nRecv %zu bytes\r\n", strlen(url));
    fx_module_send(&r->m, &r->hs, url, want);
}

static void expect_running(rig_t *r, const char *version)
{
    if (strcmp(r->m.boot.app_desc.version, version)) {
        print_error("expected %s running, got %s\n", version, r->m.boot.app_desc.version);
        fail();
    }
}

/* ---- success ------------------------------------------------------------------------------ */

static void test_success_exact_bytes(void **state)
{
    (void)state;
    rig_t *r = rig_new(NULL);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    join(r);
    /* §2.2, echo on */
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=36\r\n", "AT+USEROTA=36\r\n\r\nOK\r\n\r\n>");
    fx_module_send(&r->m, &r->hs, URL, "\r\nRecv 36 bytes\r\n");
    assert_true(atota_at_busy(&r->m.at));
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "the end of the download", OK); /* no progress lines on the AT port */
    assert_int_equal(r->hs.restarts, 1);
    assert_string_equal(r->http.url, URL);
    assert_int_equal(r->http.requests, 1);
    assert_int_equal(r->http.stall_timeout_ms, 10000); /* §2.3 */
    assert_non_null(strstr(r->hs.log, "userota: GET " URL));
    unsigned lines = 0; /* a progress line per 10 % */
    for (const char *s = r->hs.log; (s = strstr(s, "%)\n")) != NULL; s++)
        lines++;
    assert_int_equal(lines, 10);
    assert_non_null(strstr(r->hs.log, "restarting"));

    /* the restart: v2 boots (PENDING_VERIFY, confirmed before ready) */
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    expect_running(r, "v4.2.0.0");
    assert_int_equal(r->m.boot.index, 1);
    assert_non_null(strstr(r->hs.log, "confirmed (PENDING_VERIFY -> VALID)"));
    fx_module_send(&r->m, &r->hs, "AT+GMR\r\n",
                   "AT+GMR\r\n"
                   "AT version:4.2.0.0(0000000 - ESP32 - May  8 2024 08:21:45)\r\n"
                   "SDK version:v5.4.4\r\n"
                   "compile time(00000000):May  8 2024 08:21:45\r\n"
                   "Bin version:v4.2.0.0(WROOM-32)\r\n" OK);
    fx_module_send(&r->m, &r->hs, "AT+SYSROLLBACK?\r\n",
                   "AT+SYSROLLBACK?\r\n"
                   "+SYSROLLBACK:0x280000,\"v4.2.0.0\",0x100000,\"v4.1.0.0\"\r\n" OK);
    rig_free(r);
}

static void test_cmd_list_and_types(void **state)
{
    (void)state;
    rig_t *r = rig_new(NULL);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    fx_module_send(&r->m, &r->hs, "ATE0\r\n", "ATE0\r\n" OK);
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, "AT+CMD?\r\n", 9);
    unsigned n = 0;
    while (atota_at_cmd_at(&r->m.at, n))
        n++;
    char want[96];
    snprintf(want, sizeof want,
             "+CMD:%u,\"AT+USEROTA\",0,0,1,0\r\n+CMD:%u,\"AT+WEBSERVER\",0,0,1,0\r\n" OK, n - 2,
             n - 1);
    size_t wl = strlen(want);
    assert_true(r->hs.len > wl);
    /* after the UART table, before AT+WEBSERVER (esp_at_user_cmd_regist, then the web server's) */
    assert_string_equal(r->hs.out + r->hs.len - wl, want);
    /* set only (§2.1) */
    fx_module_send(&r->m, &r->hs, "AT+USEROTA?\r\n", ERROR);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=?\r\n", ERROR);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA\r\n", ERROR);
    rig_free(r);
}

/* ---- refusals and failures ---------------------------------------------------------------- */

static void test_bad_parameters(void **state)
{
    (void)state;
    rig_t *r = rig_new(NULL);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    join(r);
    /* §2.1: 1..8192 and exactly one parameter, else ERROR without a prompt (echo on) */
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=0\r\n", "AT+USEROTA=0\r\n" ERROR);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=8193\r\n", "AT+USEROTA=8193\r\n" ERROR);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=36,1\r\n", "AT+USEROTA=36,1\r\n" ERROR);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=\"36\"\r\n", "AT+USEROTA=\"36\"\r\n" ERROR);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=\r\n", "AT+USEROTA=\r\n" ERROR);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=-1\r\n", "AT+USEROTA=-1\r\n" ERROR);
    /* the codes with AT+SYSLOG=1 (the AT engine's parameter helpers) */
    fx_module_send(&r->m, &r->hs, "AT+SYSLOG=1\r\n", "AT+SYSLOG=1\r\n" OK);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=0\r\n",
                   "AT+USEROTA=0\r\nERR CODE:0x01070000\r\n" ERROR);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=36,1\r\n",
                   "AT+USEROTA=36,1\r\nERR CODE:0x01060000\r\n" ERROR);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=\"36\"\r\n",
                   "AT+USEROTA=\"36\"\r\nERR CODE:0x01050000\r\n" ERROR);
    assert_int_equal(r->http.requests, 0);
    /* 8192 is accepted: the prompt */
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=8192\r\n", "AT+USEROTA=8192\r\n\r\nOK\r\n\r\n>");
    rig_free(r);
}

static void test_station_not_connected(void **state)
{
    (void)state;
    rig_t *r = rig_new(NULL);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=36\r\n", "AT+USEROTA=36\r\n\r\nOK\r\n\r\n>");
    fx_module_send(&r->m, &r->hs, URL, "\r\nRecv 36 bytes\r\n" ERROR);
    assert_int_equal(r->http.requests, 0);
    assert_non_null(strstr(r->hs.log, "userota: failed: no network: the station is not connected"));
    fx_module_send(&r->m, &r->hs, "AT+SYSLOG=1\r\n", "AT+SYSLOG=1\r\n" OK);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=36\r\n", "AT+USEROTA=36\r\n\r\nOK\r\n\r\n>");
    fx_module_send(&r->m, &r->hs, URL, "\r\nRecv 36 bytes\r\nERR CODE:0x010a0000\r\n" ERROR);
    rig_free(r);
}

static void test_no_network(void **state)
{
    (void)state;
    rig_t *r = rig_new(NULL);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    join(r);
    r->host.http.ops = NULL;
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=36\r\n", "AT+USEROTA=36\r\n\r\nOK\r\n\r\n>");
    fx_module_send(&r->m, &r->hs, URL, "\r\nRecv 36 bytes\r\n" ERROR);
    assert_non_null(strstr(r->hs.log, "userota: failed: no network"));
    rig_free(r);
}

static void test_bad_url(void **state)
{
    (void)state;
    rig_t *r = rig_new(NULL);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    join(r);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=20\r\n", "AT+USEROTA=20\r\n\r\nOK\r\n\r\n>");
    fx_module_send(&r->m, &r->hs, "ftp://example.com/xx", "\r\nRecv 20 bytes\r\n" ERROR);
    assert_non_null(strstr(r->hs.log, "http:// or https://"));
    /* a NUL byte inside the URL: counted, refused */
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=10\r\n", "AT+USEROTA=10\r\n\r\nOK\r\n\r\n>");
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, "http://a\0b", 10);
    fx_expect_out(&r->hs, "URL with a NUL", "\r\nRecv 10 bytes\r\n" ERROR);
    assert_int_equal(r->http.requests, 0);
    rig_free(r);
}

static void test_http_404(void **state)
{
    (void)state;
    rig_t *r = rig_new(NULL);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    join(r);
    r->http.status_for[0] = 404;
    prompt_and_url(r, URL);
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "404", ERROR);
    assert_int_equal(r->hs.restarts, 0);
    assert_non_null(strstr(r->hs.log, "userota: failed: HTTP 404 (ATOTA_ERR_HTTP_STATUS)"));
    /* the module goes on with v1 */
    fx_module_send(&r->m, &r->hs, "AT\r\n", "AT\r\n" OK);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    expect_running(r, "v4.1.0.0");
    rig_free(r);
}

static void test_busy_while_downloading(void **state)
{
    (void)state;
    rig_t *r = rig_new(NULL);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    join(r);
    r->http.stall = true;
    r->http.stall_at = 50000;
    prompt_and_url(r, URL);
    for (int i = 0; i < 50; i++) {
        fake_http_pump(&r->http);
        r->hs.now += 5;
        atota_module_poll(&r->m);
    }
    fx_module_send(&r->m, &r->hs, "AT\r\n", "AT\r\n\r\nbusy p...\r\n");
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=36\r\n", "AT+USEROTA=36\r\n\r\nbusy p...\r\n");
    fx_module_send(&r->m, &r->hs, "AT+SYSLOG=1\r\n", "AT+SYSLOG=1\r\n\r\nbusy p...\r\n");
    r->http.stall = false;
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "after busy", OK);
    rig_free(r);
}

static void test_surplus_bytes_after_the_url(void **state)
{
    (void)state;
    rig_t *r = rig_new(NULL);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    join(r);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=36\r\n", "AT+USEROTA=36\r\n\r\nOK\r\n\r\n>");
    /* §1.4: more bytes than announced: they are not the URL; the running command answers them
     * with busy (here a whole line, echoed first as every line is) */
    fx_module_send(&r->m, &r->hs, URL "AT\r\n", "\r\nRecv 36 bytes\r\nAT\r\n\r\nbusy p...\r\n");
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "after surplus", OK);
    assert_string_equal(r->http.url, URL);
    rig_free(r);
}

/* ---- the policy from the firmware configuration ----------------------------------------- */

static void test_resume_through_the_module(void **state)
{
    (void)state;
    rig_t *r = rig_new(NULL); /* defaults: 5 retries, 300 s */
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    assert_int_equal(r->m.config.ota_retries, 5);
    assert_int_equal(r->m.config.ota_time_limit, 300);
    join(r);
    r->http.reset_at[0] = 30000;
    r->http.reset_at[1] = 100000;
    prompt_and_url(r, URL);
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "resumed", OK);
    assert_int_equal(r->http.requests, 3);
    assert_int_equal(r->http.range_from[1], 30000);
    assert_string_equal(r->http.if_range[2], ETAG);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    expect_running(r, "v4.2.0.0");
    rig_free(r);
}

static void test_no_retries_from_fwconfig(void **state)
{
    (void)state;
    rig_t *r = rig_new("ota_retries=0");
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    assert_int_equal(r->m.config.ota_retries, 0);
    join(r);
    r->http.reset_at[0] = 30000;
    prompt_and_url(r, URL);
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "no retries", ERROR);
    assert_int_equal(r->http.requests, 1);
    assert_non_null(strstr(r->hs.log, "connection reset by peer at byte 30000"));
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    expect_running(r, "v4.1.0.0");
    rig_free(r);
}

static void test_time_limit_from_fwconfig(void **state)
{
    (void)state;
    rig_t *r = rig_new("ota_time_limit=5");
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    join(r);
    r->http.stall = true;
    r->http.stall_at = 40000;
    prompt_and_url(r, URL);
    uint64_t t0 = r->hs.now;
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "time limit", ERROR);
    assert_true(r->hs.now - t0 >= 5000 && r->hs.now - t0 < 5100);
    assert_non_null(strstr(r->hs.log, "no complete image within 5 s"));
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    expect_running(r, "v4.1.0.0");
    rig_free(r);
}

static void test_userota_off_in_fwconfig(void **state)
{
    (void)state;
    rig_t *r = rig_new("userota=off");
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=36\r\n", "AT+USEROTA=36\r\n" ERROR);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_exact_bytes),
        cmocka_unit_test(test_cmd_list_and_types),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_station_not_connected),
        cmocka_unit_test(test_no_network),
        cmocka_unit_test(test_bad_url),
        cmocka_unit_test(test_http_404),
        cmocka_unit_test(test_busy_while_downloading),
        cmocka_unit_test(test_surplus_bytes_after_the_url),
        cmocka_unit_test(test_resume_through_the_module),
        cmocka_unit_test(test_no_retries_from_fwconfig),
        cmocka_unit_test(test_time_limit_from_fwconfig),
        cmocka_unit_test(test_userota_off_in_fwconfig),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
