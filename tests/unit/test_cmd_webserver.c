/*
 * AT+WEBSERVER through the simulated module (core/cmd/cmd_webserver.c, web_wifi.c,
 * web_upload.c) with a fake HTTP-server port played by the test: every form of the command
 * (esp-at-ota.md §4.1) with its exact AT-port bytes, every endpoint of §4.3 with its exact status,
 * Content-Type and body, the +WEBSERVERRSP lines of §4.2/§4.4 at their moments, Wi-Fi
 * provisioning over the virtual Wi-Fi, and uploads: the app (booted by AT+RST) and a custom
 * partition, ATOTA's extensions (upload password, body digest, /getotainfo's extra keys), and
 * every failure leaving the firmware, otadata and the target as they were, v1 still booting.
 */
#include "core/cmd/module.h"
#include "core/proto/iot.h"
#include "support/app_config.h"
#include "support/capture_host.h"
#include "support/fake_http.h"
#include "support/fake_httpd.h"
#include "support/fake_stream.h"
#include "support/fixture.h"

#define OK     "\r\nOK\r\n"
#define ERROR  "\r\nERROR\r\n"
#define RSP1   "+WEBSERVERRSP:1\r\n"
#define RSP2   "+WEBSERVERRSP:2\r\n"
#define RSP3   "+WEBSERVERRSP:3\r\n"
#define RSP4   "+WEBSERVERRSP:4\r\n"
#define RSP5   "+WEBSERVERRSP:5\r\n"
#define JSON   "application/json"
#define HTML   "text/html"
#define STATE0 "{\"state\": 0}"
#define STATE1 "{\"state\": 1}"
#define PIECE  (16u * 1024u) /* what a browser's socket hands over at a time */
#define V1     "v4.1.0.0"
#define V2     "v4.2.0.0"
#define PW     "s3cret-pw"

#define STAINFO(state, ssid, pwd, msg)                                                             \
    "{\"state\":" #state ",\"sta_ssid\":\"" ssid "\",\"sta_password\":\"" pwd                      \
    "\",\"message\":\"" msg "\"}"

typedef struct {
    const char *config;    /* firmware configuration of v1 and v2 ("k=v\nk=v"; NULL: none) */
    bool no_ota1;          /* a table with ota_0 only: no next OTA slot */
    bool erased_customize; /* no at_customize.bin */
    const atota_wifi_ap_t *aps;
    unsigned ap_count;
} rig_opts_t;

typedef struct {
    rig_opts_t opts;
    atota_profile_t profile;
    atota_flash_sim_t *sim;
    const atota_flash_t *flash;
    fx_host_state_t hs;
    atota_module_host_t host;
    fake_httpd_t web;
    fake_stream_t net;
    fake_http_t http;
    atota_module_t m;
    const atota_partition_t *ota0, *ota1, *otadata, *mqtt_ca;
    uint8_t *v2; /* the app uploaded */
    size_t v2_len;
    uint8_t *before; /* the flash at snapshot() */
} rig_t;

static void boot(rig_t *r)
{
    atota_module_opts_t o;
    memset(&o, 0, sizeof o);
    o.aps = r->opts.aps;
    o.ap_count = r->opts.ap_count;
    fx_module_boot_opts(&r->m, r->flash, &r->host, &r->hs, &o);
}

/* A command line and everything it answers at once; the output is then cleared. */
static void send(rig_t *r, const char *cmd, const char *want)
{
    fx_module_send(&r->m, &r->hs, cmd, want);
    fx_host_clear_out(&r->hs);
}

/* A module whose at_customize.bin also has mqtt_ca, factory_param and ble_data (ESP-AT v2's
 * labels, the ones with a magic), running v1, echo off. */
static rig_t *rig_new_opts(const rig_opts_t *opts)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->opts = *opts;
    fx_module_profile(&r->profile, 3); /* mqtt_ca, factory_param, ble_data */
    if (opts->no_ota1) {
        assert_string_equal(r->profile.partitions.entries[r->profile.partitions.count - 1].name,
                            "ota_1");
        r->profile.partitions.count--;
    }
    uint8_t *v1;
    size_t n = fx_build_app_config(V1, 3000, opts->config, &v1);
    r->sim = fx_module_flash_new(&r->profile, v1, n);
    free(v1);
    r->flash = atota_flash_sim_flash(r->sim);
    if (opts->erased_customize)
        memset(atota_flash_sim_data(r->sim) + r->profile.at_customize_offset, 0xFF,
               ATOTA_PT_BIN_SIZE);
    r->ota0 = fx_table_get(&r->profile.partitions, "ota_0");
    r->ota1 = opts->no_ota1 ? NULL : fx_table_get(&r->profile.partitions, "ota_1");
    r->otadata = fx_table_get(&r->profile.partitions, "otadata");
    r->mqtt_ca = fx_table_get(&r->profile.at_customize, "mqtt_ca");
    r->v2_len = fx_build_app_config(V2, 100 * 1024, opts->config, &r->v2);
    r->hs.now = 1000;
    fx_host_init(&r->host, &r->hs);
    r->host.httpd = fake_httpd_port(&r->web);
    r->host.stream = fake_stream_port(&r->net);
    r->host.http = fake_http_port(&r->http);
    boot(r);
    send(r, "ATE0\r\n", "ATE0\r\n" OK);
    return r;
}

static rig_t *rig_new_config(const char *config)
{
    rig_opts_t o;
    memset(&o, 0, sizeof o);
    o.config = config;
    return rig_new_opts(&o);
}

static rig_t *rig_new(void)
{
    return rig_new_config(NULL);
}

static void rig_free(rig_t *r)
{
    fake_httpd_clear(&r->web);
    atota_flash_sim_close(r->sim);
    free(r->v2);
    free(r->before);
    free(r);
}

static void web_on(rig_t *r)
{
    send(r, "AT+WEBSERVER=1,80,25\r\n", OK);
    assert_true(r->web.started);
}

/* The host's loop for ms milliseconds, 5 ms a step. */
static void advance(rig_t *r, uint64_t ms)
{
    uint64_t end = r->hs.now + ms;
    while (r->hs.now < end) {
        r->hs.now += end - r->hs.now < 5 ? end - r->hs.now : 5;
        fake_stream_pump(&r->net);
        atota_module_poll(&r->m);
    }
}

static unsigned get(rig_t *r, const char *uri)
{
    return fake_httpd_send(&r->web, "GET", uri, NULL, NULL, 0, 0, -1);
}

static unsigned post(rig_t *r, const char *uri, const char *content_type, const char *body)
{
    const char *h[] = {content_type, NULL};
    return fake_httpd_send(&r->web, "POST", uri, content_type ? h : NULL, body, strlen(body), 0,
                           (int64_t)strlen(body));
}

static unsigned post_json(rig_t *r, const char *uri, const char *body)
{
    return post(r, uri, "Content-Type: application/json", body);
}

static unsigned post_form(rig_t *r, const char *uri, const char *body)
{
    return post(r, uri, "Content-Type: application/x-www-form-urlencoded;charset=UTF-8", body);
}

/* POST /setotadata as the page sends it (§4.5 step 5): Object (omitted when NULL), the octet
 * stream type, up to two more headers, Content-Length and the body in 16 KB pieces. The request
 * is left open (for more) when content_length is larger than len. */
static unsigned upload_open(rig_t *r, const char *object, const void *data, size_t len,
                            int64_t content_length, const char *h1, const char *h2)
{
    char obj[96];
    const char *h[5];
    unsigned n = 0;
    if (object) {
        snprintf(obj, sizeof obj, "Object: %s", object);
        h[n++] = obj;
    }
    h[n++] = "Content-Type: application/octet-stream;charset=UTF-8";
    if (h1)
        h[n++] = h1;
    if (h2)
        h[n++] = h2;
    h[n] = NULL;
    return fake_httpd_send(&r->web, "POST", "/setotadata", h, data, len, PIECE, content_length);
}

/* The first half of v2 as the page sends it (Object: ota, the whole Content-Length): the request
 * stays open, and the module has said +WEBSERVERRSP:3 and nothing else. */
static unsigned upload_first_half(rig_t *r, const char *what)
{
    unsigned i = upload_open(r, "ota", r->v2, r->v2_len / 2, (int64_t)r->v2_len, NULL, NULL);
    fx_expect_out(&r->hs, what, RSP3);
    return i;
}

static unsigned upload(rig_t *r, const char *object, const void *data, size_t len, const char *h1,
                       const char *h2)
{
    return upload_open(r, object, data, len, (int64_t)len, h1, h2);
}

/* "Content-Digest: sha-256=:<base64>:" of data, into out. */
static const char *digest_header(const char *name, const void *data, size_t len, char *out,
                                 size_t cap)
{
    uint8_t sha[ATOTA_SHA256_LEN];
    atota_sha256(data, len, sha);
    char value[ATOTA_IOT_DIGEST_VALUE_MAX];
    snprintf(out, cap, "%s: %s", name, atota_iot_digest_value(sha, value));
    return out;
}

/* The page's POST /getresult "received=1": 200 {"state": 0}, and the AT port says exactly
 * want_out. */
static void getresult(rig_t *r, const char *what, const char *want_out)
{
    unsigned i = post_form(r, "/getresult", "received=1");
    fake_httpd_expect(&r->web, i, what, 200, JSON, STATE0);
    fx_expect_out(&r->hs, what, want_out);
}

static void snapshot(rig_t *r)
{
    free(r->before);
    r->before = fx_sim_copy(r->sim, r->profile.flash_size);
}

/* Not one byte of the flash changed since snapshot(): nothing was erased or written. */
static void expect_flash_untouched(rig_t *r, const char *what)
{
    char name[160];
    snprintf(name, sizeof name, "%s: the flash", what);
    fx_expect_bytes(name, atota_flash_sim_data(r->sim), r->before, r->profile.flash_size);
}

/* otadata, the running slot, at_customize.bin and every custom partition are as they were (the
 * inactive slot may hold what was received). */
static void expect_firmware_kept(rig_t *r, const char *what)
{
    const uint8_t *now = atota_flash_sim_data(r->sim);
    char name[160];
    const atota_partition_t *keep[] = {r->otadata, r->ota0};
    for (unsigned i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s: %s", what, keep[i]->name);
        fx_expect_bytes(name, now + keep[i]->offset, r->before + keep[i]->offset, keep[i]->size);
    }
    /* at_customize.bin and the user partitions after it: the whole at_customize region */
    const atota_partition_t *ac = fx_table_get(&r->profile.partitions, "at_customize");
    snprintf(name, sizeof name, "%s: at_customize", what);
    fx_expect_bytes(name, now + ac->offset, r->before + ac->offset, ac->size);
}

static void expect_running(rig_t *r, const char *version)
{
    if (strcmp(r->m.boot.app_desc.version, version)) {
        print_error("expected %s running, got %s\nlog:\n%s", version, r->m.boot.app_desc.version,
                    r->hs.log);
        fail();
    }
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, "AT+GMR\r\n", 8);
    char line[64];
    snprintf(line, sizeof line, "\r\nBin version:%s(WROOM-32)\r\n" OK, version);
    if (r->hs.len < strlen(line) || strcmp(r->hs.out + r->hs.len - strlen(line), line) != 0) {
        print_error("AT+GMR: expected it to end with %s, got %s\n", line, r->hs.out);
        fail();
    }
    fx_host_clear_out(&r->hs);
}

/* AT+RST: OK, the host restarts the module, which boots `version`. */
static void restart_and_expect(rig_t *r, const char *version)
{
    send(r, "AT+RST\r\n", OK);
    assert_int_equal(r->hs.restarts, 1);
    boot(r);
    send(r, "ATE0\r\n", "ATE0\r\n" OK);
    expect_running(r, version);
}

/* ---- the command ----------------------------------------------------------------------------- */

static void test_command_forms(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    /* §4.1: start, port and timeout as given */
    send(r, "AT+WEBSERVER=1,80,25\r\n", OK);
    assert_true(r->web.started);
    assert_int_equal(r->web.port, 80);
    assert_int_equal(r->web.starts, 1);
    assert_int_equal(r->m.webserver.timeout_s, 25);
    /* started again: only the timeout changes, the port stays */
    send(r, "AT+WEBSERVER=1,8080,30\r\n", OK);
    assert_int_equal(r->web.starts, 1);
    assert_int_equal(r->web.port, 80);
    assert_int_equal(r->m.webserver.timeout_s, 30);
    /* stop, and stop again (at_web_destory of nothing is OK) */
    send(r, "AT+WEBSERVER=0\r\n", OK);
    assert_false(r->web.started);
    assert_int_equal(r->web.stops, 1);
    send(r, "AT+WEBSERVER=0\r\n", OK);
    assert_int_equal(r->web.stops, 1);
    /* the quirk: enable 0 with three parameters falls through and starts */
    send(r, "AT+WEBSERVER=0,8080,21\r\n", OK);
    assert_true(r->web.started);
    assert_int_equal(r->web.port, 8080);
    assert_int_equal(r->m.webserver.timeout_s, 21);
    send(r, "AT+WEBSERVER=0\r\n", OK);
    /* no upper limit on the port: cut to 16 bits */
    send(r, "AT+WEBSERVER=1,70000,60\r\n", OK);
    assert_int_equal(r->web.port, 70000 - 65536);
    send(r, "AT+WEBSERVER=0\r\n", OK);
    send(r, "AT+WEBSERVER=1,0,25\r\n", OK);
    assert_int_equal(r->web.port, 0);
    send(r, "AT+WEBSERVER=0\r\n", OK);

    /* refusals, none of which starts anything */
    static const char *const bad[] = {
        "AT+WEBSERVER=2\r\n",
        "AT+WEBSERVER=-1\r\n",
        "AT+WEBSERVER=1\r\n",
        "AT+WEBSERVER=1,80\r\n",
        "AT+WEBSERVER=0,80\r\n",
        "AT+WEBSERVER=1,80,20\r\n",
        "AT+WEBSERVER=1,80,61\r\n",
        "AT+WEBSERVER=1,-1,25\r\n",
        "AT+WEBSERVER=1,80,25,0\r\n",
        "AT+WEBSERVER=1,\"80\",25\r\n",
        "AT+WEBSERVER=\"1\",80,25\r\n",
        "AT+WEBSERVER=1,,25\r\n",
        "AT+WEBSERVER?\r\n",
        "AT+WEBSERVER=?\r\n",
        "AT+WEBSERVER\r\n",
    };
    unsigned starts = r->web.starts;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        send(r, bad[i], ERROR);
        assert_false(r->web.started);
        assert_int_equal(r->web.starts, starts);
    }
    /* the error codes (AT+SYSLOG=1): a wrong count, a value out of range */
    send(r, "AT+SYSLOG=1\r\n", OK);
    send(r, "AT+WEBSERVER=1,80,25,0\r\n", "ERR CODE:0x01060000\r\n" ERROR);
    send(r, "AT+WEBSERVER=1,80,61\r\n", "ERR CODE:0x01070000\r\n" ERROR);
    send(r, "AT+WEBSERVER=1,\"80\",25\r\n", "ERR CODE:0x01050000\r\n" ERROR);
    r->web.start_err = ATOTA_ERR_IO;
    send(r, "AT+WEBSERVER=1,80,25\r\n", "ERR CODE:0x010a0000\r\n" ERROR);
    r->web.start_err = ATOTA_OK;
    send(r, "AT+SYSLOG=0\r\n", OK);

    /* AT+CMD?: set only (0,0,1,0), the last command registered */
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, "AT+CMD?\r\n", 9);
    assert_non_null(strstr(r->hs.out, ",\"AT+WEBSERVER\",0,0,1,0\r\n" OK));
    fx_host_clear_out(&r->hs);
    rig_free(r);
}

static void test_no_server(void **state)
{
    (void)state;
    /* the host has no HTTP server: ERROR; stopping is still OK */
    rig_t *r = rig_new();
    r->host.httpd.ops = NULL;
    send(r, "AT+WEBSERVER=1,80,25\r\n", ERROR);
    send(r, "AT+WEBSERVER=0\r\n", OK);
    r->host.httpd = fake_httpd_port(&r->web);
    /* the port cannot listen: ERROR, and the timeout is not taken */
    r->web.start_err = ATOTA_ERR_IO;
    send(r, "AT+WEBSERVER=1,80,30\r\n", ERROR);
    assert_false(r->web.started);
    assert_int_equal(r->m.webserver.timeout_s, 60);
    assert_false(r->m.webserver.running);
    r->web.start_err = ATOTA_OK;
    send(r, "AT+WEBSERVER=1,80,30\r\n", OK);
    assert_true(r->web.started);
    rig_free(r);

    /* a firmware built without the web server has no such command */
    r = rig_new_config("webserver=off");
    send(r, "AT+WEBSERVER=1,80,25\r\n", ERROR);
    send(r, "AT+WEBSERVER=0\r\n", ERROR);
    assert_int_equal(r->web.starts, 0);
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, "AT+CMD?\r\n", 9);
    assert_null(strstr(r->hs.out, "WEBSERVER"));
    assert_non_null(strstr(r->hs.out, ",\"AT+USEROTA\",0,0,1,0\r\n" OK));
    rig_free(r);
}

static void test_reboot_stops_server(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    web_on(r);
    /* a reset kills the server: the port is free for the next boot */
    restart_and_expect(r, V1);
    assert_false(r->web.started);
    assert_int_equal(r->web.stops, 1);
    assert_false(r->m.webserver.running);
    web_on(r);
    assert_int_equal(r->web.starts, 2);

    /* a reset in the middle of an upload: the upload is gone without a word, nothing switched */
    snapshot(r);
    unsigned i = upload_first_half(r, "upload started");
    assert_true(atota_module_ota_running(&r->m));
    restart_and_expect(r, V1); /* boot()'s own check: exactly "\r\nready\r\n", no :5 */
    assert_int_equal(r->web.reqs[i].state, FAKE_HTTPD_DROPPED);
    assert_false(r->web.started);
    assert_false(atota_module_ota_running(&r->m));
    expect_firmware_kept(r, "reset mid-upload");
    rig_free(r);
}

/* ---- the endpoints that only read --------------------------------------------------------------
 */

#define OTAINFO_ESP_AT                                                                             \
    "{\"state\":0,\"fw_version\":\"v4.1.0.0\",\"at_core_version\":\"4.1.0.0\",\"partitions\":["    \
    "\"ota\",\"mfg_nvs\",\"fs_storage\",\"mqtt_ca\",\"factory_param\",\"ble_data\"]"
#define PARTITION_INFO                                                                             \
    "\"partition_info\":[{\"name\":\"ota\",\"size\":1572864,\"magic\":\"e9\"},"                    \
    "{\"name\":\"mfg_nvs\",\"size\":114688,\"magic\":\"\"},"                                       \
    "{\"name\":\"fs_storage\",\"size\":589824,\"magic\":\"\"},"                                    \
    "{\"name\":\"mqtt_ca\",\"size\":8192,\"magic\":\"f1f1\"},"                                     \
    "{\"name\":\"factory_param\",\"size\":4096,\"magic\":\"fcfc\"},"                               \
    "{\"name\":\"ble_data\",\"size\":12288,\"magic\":\"2795\",\"magic_offset\":2}]"

static void test_read_endpoints(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    web_on(r);
    /* GET /: the page, chunked */
    unsigned i = get(r, "/");
    const fake_httpd_req_t *q = &r->web.reqs[i];
    assert_int_equal(q->status, 200);
    assert_string_equal(q->content_type, HTML);
    assert_true(q->chunked);
    assert_int_equal(q->len, atota_web_page_len);
    assert_memory_equal(q->body, atota_web_page, atota_web_page_len);
    /* the JSON ones are not chunked */
    i = get(r, "/getversion");
    fake_httpd_expect(&r->web, i, "/getversion", 200, JSON, "{\"version\":\"1.0\"}");
    assert_false(r->web.reqs[i].chunked);
    i = get(r, "/getversion?lang=en");
    fake_httpd_expect(&r->web, i, "/getversion?lang=en", 200, JSON, "{\"version\":\"1.0\"}");
    /* /getotainfo (the page sends Object: none, not read): ESP-AT's keys, then ATOTA's */
    const char *none[] = {"Object: none", NULL};
    i = fake_httpd_send(&r->web, "GET", "/getotainfo", none, NULL, 0, 0, -1);
    fake_httpd_expect(&r->web, i, "/getotainfo", 200, JSON,
                      OTAINFO_ESP_AT
                      ",\"chip_id\":0,\"password\":false,\"sha256\":true," PARTITION_INFO "}");
    /* esp_http_server's own answers: 404 for an unknown path (exact, case-sensitive), 405 for a
     * known one with another method */
    static const char *const unknown[] = {"/nothing-here", "/index.html", "/GETVERSION",
                                          "/getversion/", "//"};
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
        i = get(r, unknown[k]);
        fake_httpd_expect(&r->web, i, unknown[k], 404, HTML, "Nothing matches the given URI");
    }
    static const char *const wrong[][2] = {
        {"POST", "/"},          {"HEAD", "/"},
        {"GET", "/setotadata"}, {"POST", "/getversion"},
        {"PUT", "/getstainfo"}, {"GET", "/getresult"},
        {"get", "/getversion"}, {"DELETE", "/getaprecord"},
    };
    for (size_t k = 0; k < sizeof wrong / sizeof wrong[0]; k++) {
        i = fake_httpd_send(&r->web, wrong[k][0], wrong[k][1], NULL, NULL, 0, 0, -1);
        fake_httpd_expect(&r->web, i, wrong[k][1], 405, HTML,
                          "Specified method is invalid for this resource");
    }
    /* a GET with a body: answered at once, the body dropped by the port */
    i = fake_httpd_send(&r->web, "GET", "/getversion", NULL, "abc", 3, 0, 3);
    fake_httpd_expect(&r->web, i, "GET with a body", 200, JSON, "{\"version\":\"1.0\"}");
    fx_expect_out(&r->hs, "the AT port", ""); /* none of it is an AT-port matter */
    rig_free(r);
}

/* A request the captive portal redirects: exactly http_common_error_handler's answer. */
static void expect_portal(rig_t *r, unsigned i, const char *what, const char *location)
{
    fake_httpd_expect(&r->web, i, what, 302, HTML, "Redirect to captive portal");
    const fake_httpd_req_t *q = &r->web.reqs[i];
    assert_false(q->chunked);
    if (q->nrheaders != 1 || strcmp(q->rhname[0], "Location") != 0 ||
        strcmp(q->rhvalue[0], location) != 0) {
        print_error("%s: expected the one header Location: %s; got %u headers, the first %s: %s\n",
                    what, location, q->nrheaders, q->nrheaders ? q->rhname[0] : "-",
                    q->nrheaders ? q->rhvalue[0] : "-");
        fail();
    }
}

static void test_captive_portal(void **state)
{
    (void)state;
    /* web_captive_portal=on (CONFIG_AT_WEB_CAPTIVE_PORTAL_ENABLE): what would be 404 or 405 is
     * 302 to the softAP's root, in any Wi-Fi mode (the softAP's netif always has its address) */
    rig_t *r = rig_new_config("web_captive_portal=on");
    assert_true(r->m.config.web_captive_portal);
    web_on(r);
    /* no URI of its own: the operating systems' probes are unknown paths like any other */
    static const char *const unknown[] = {
        "/generate_204", "/hotspot-detect.html", "/connecttest.txt", "/ncsi.txt",
        "/nothing-here", "/index.html",          "/GETVERSION",      "/getversion/?a=1",
    };
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++)
        expect_portal(r, get(r, unknown[k]), unknown[k], "http://192.168.4.1/");
    static const char *const wrong[][2] = {
        {"POST", "/"},          {"HEAD", "/"},          {"GET", "/setotadata"},
        {"PUT", "/getstainfo"}, {"get", "/getversion"}, {"POST", "/success.txt"},
    };
    for (size_t k = 0; k < sizeof wrong / sizeof wrong[0]; k++) {
        /* with a body: answered at once, the body dropped by the port */
        unsigned i = fake_httpd_send(&r->web, wrong[k][0], wrong[k][1], NULL, "a=1", 3, 0, 3);
        expect_portal(r, i, wrong[k][1], "http://192.168.4.1/");
        assert_true(r->web.reqs[i].ended);
    }
    /* the endpoints answer as before */
    unsigned i = get(r, "/");
    assert_int_equal(r->web.reqs[i].status, 200);
    assert_int_equal(r->web.reqs[i].len, atota_web_page_len);
    i = get(r, "/getversion");
    fake_httpd_expect(&r->web, i, "/getversion", 200, JSON, "{\"version\":\"1.0\"}");
    assert_int_equal(r->web.reqs[i].nrheaders, 0);
    /* the address is read when the server starts (s_at_web_redirect_url): a running server
     * keeps it, =1 again included; the next start takes the new one */
    static const uint8_t other[4] = {10, 0, 0, 1};
    memcpy(r->m.wifi.ap_ip, other, 4);
    expect_portal(r, get(r, "/x"), "a new softAP address, same server", "http://192.168.4.1/");
    send(r, "AT+WEBSERVER=1,80,30\r\n", OK);
    expect_portal(r, get(r, "/x"), "=1 while running", "http://192.168.4.1/");
    send(r, "AT+WEBSERVER=0\r\n", OK);
    web_on(r);
    expect_portal(r, get(r, "/x"), "restarted", "http://10.0.0.1/");
    static const uint8_t widest[4] = {255, 255, 255, 255};
    memcpy(r->m.wifi.ap_ip, widest, 4);
    send(r, "AT+WEBSERVER=0\r\n", OK);
    web_on(r);
    expect_portal(r, get(r, "/x"), "the longest address", "http://255.255.255.255/");
    fx_expect_out(&r->hs, "the AT port", ""); /* none of it is an AT-port matter */
    rig_free(r);

    /* off (the default, and said so): 404 and 405 stay */
    r = rig_new_config("web_captive_portal=off");
    web_on(r);
    i = get(r, "/generate_204");
    fake_httpd_expect(&r->web, i, "off: /generate_204", 404, HTML, "Nothing matches the given URI");
    assert_int_equal(r->web.reqs[i].nrheaders, 0);
    i = fake_httpd_send(&r->web, "POST", "/", NULL, NULL, 0, 0, -1);
    fake_httpd_expect(&r->web, i, "off: POST /", 405, HTML,
                      "Specified method is invalid for this resource");
    rig_free(r);
}

static void test_getotainfo_variants(void **state)
{
    (void)state;
    /* web_password set: "password":true */
    rig_t *r = rig_new_config("web_password=" PW);
    web_on(r);
    unsigned i = get(r, "/getotainfo");
    fake_httpd_expect(&r->web, i, "with a password", 200, JSON,
                      OTAINFO_ESP_AT
                      ",\"chip_id\":0,\"password\":true,\"sha256\":true," PARTITION_INFO "}");
    rig_free(r);

    /* no next OTA slot: no "ota" in either list */
    rig_opts_t o;
    memset(&o, 0, sizeof o);
    o.no_ota1 = true;
    r = rig_new_opts(&o);
    web_on(r);
    i = get(r, "/getotainfo");
    fake_httpd_expect(
        &r->web, i, "no OTA slot", 200, JSON,
        "{\"state\":0,\"fw_version\":\"v4.1.0.0\",\"at_core_version\":\"4.1.0.0\",\"partitions\":["
        "\"mfg_nvs\",\"fs_storage\",\"mqtt_ca\",\"factory_param\",\"ble_data\"],\"chip_id\":0,"
        "\"password\":false,\"sha256\":true,\"partition_info\":["
        "{\"name\":\"mfg_nvs\",\"size\":114688,\"magic\":\"\"},"
        "{\"name\":\"fs_storage\",\"size\":589824,\"magic\":\"\"},"
        "{\"name\":\"mqtt_ca\",\"size\":8192,\"magic\":\"f1f1\"},"
        "{\"name\":\"factory_param\",\"size\":4096,\"magic\":\"fcfc\"},"
        "{\"name\":\"ble_data\",\"size\":12288,\"magic\":\"2795\",\"magic_offset\":2}]}");
    /* an upload of the app then has no target */
    snapshot(r);
    fx_host_clear_out(&r->hs);
    i = upload(r, "ota", r->v2, r->v2_len, NULL, NULL);
    fake_httpd_expect(&r->web, i, "ota without a slot", 500, JSON, STATE1);
    fx_expect_out(&r->hs, "ota without a slot", RSP3 RSP5);
    expect_flash_untouched(r, "ota without a slot");
    rig_free(r);

    /* and no at_customize.bin either: ESP-AT's bytes, "partitions":] (§4.3) */
    o.erased_customize = true;
    r = rig_new_opts(&o);
    web_on(r);
    i = get(r, "/getotainfo");
    fake_httpd_expect(&r->web, i, "nothing to update", 200, JSON,
                      "{\"state\":0,\"fw_version\":\"v4.1.0.0\",\"at_core_version\":\"4.1.0.0\","
                      "\"partitions\":],\"chip_id\":0,\"password\":false,\"sha256\":true,"
                      "\"partition_info\":[]}");
    rig_free(r);
}

static atota_wifi_ap_t ap(const char *ssid, int8_t rssi, uint8_t ecn)
{
    atota_wifi_ap_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.ssid, sizeof a.ssid, "%s", ssid);
    snprintf(a.password, sizeof a.password, "%s", ecn ? "password-123" : "");
    a.rssi = rssi;
    a.ecn = ecn;
    a.channel = 6;
    return a;
}

static void test_getaprecord(void **state)
{
    (void)state;
    /* 12 access points: strongest first (ties in configuration order), the first 10 of those,
     * the hidden one skipped, '"' '\' '/' escaped */
    atota_wifi_ap_t aps[12] = {
        ap("ap-4", -64, 3),  ap("tie-a", -45, 3),     ap("slash/ap", -50, 3), ap("ap-5", -65, 3),
        ap("", -30, 3),      ap("quote\"ap", -40, 3), ap("back\\ap", -60, 0), ap("ap-1", -61, 3),
        ap("tie-b", -45, 0), ap("ap-2", -62, 3),      ap("ap-3", -63, 3),     ap("ap-6", -66, 3),
    };
    rig_opts_t o;
    memset(&o, 0, sizeof o);
    o.aps = aps;
    o.ap_count = 12;
    rig_t *r = rig_new_opts(&o);
    web_on(r);
    unsigned i = get(r, "/getaprecord");
    fake_httpd_expect(&r->web, i, "/getaprecord", 200, JSON,
                      "{\"state\":0,\"message\":\"scan done\",\"aplist\":["
                      "{\"ssid\":\"quote\\\"ap\",\"auth_mode\":3},"
                      "{\"ssid\":\"tie-a\",\"auth_mode\":3},{\"ssid\":\"tie-b\",\"auth_mode\":0},"
                      "{\"ssid\":\"slash\\/ap\",\"auth_mode\":3},"
                      "{\"ssid\":\"back\\\\ap\",\"auth_mode\":0},"
                      "{\"ssid\":\"ap-1\",\"auth_mode\":3},{\"ssid\":\"ap-2\",\"auth_mode\":3},"
                      "{\"ssid\":\"ap-3\",\"auth_mode\":3},{\"ssid\":\"ap-4\",\"auth_mode\":3}]}");
    /* a scan needs the station: softAP only fails */
    send(r, "AT+CWMODE=2\r\n", OK);
    i = get(r, "/getaprecord");
    fake_httpd_expect(&r->web, i, "softAP only", 500, JSON, STATE1);
    rig_free(r);

    /* only a hidden network: ESP-AT's "]}" over the '[' (not JSON, kept) */
    atota_wifi_ap_t hidden = ap("", -40, 3);
    o.aps = &hidden;
    o.ap_count = 1;
    r = rig_new_opts(&o);
    web_on(r);
    i = get(r, "/getaprecord");
    fake_httpd_expect(&r->web, i, "hidden only", 200, JSON,
                      "{\"state\":0,\"message\":\"scan done\",\"aplist\":]}");
    rig_free(r);

    /* the default access point */
    r = rig_new();
    web_on(r);
    i = get(r, "/getaprecord");
    fake_httpd_expect(&r->web, i, "default AP", 200, JSON,
                      "{\"state\":0,\"message\":\"scan done\",\"aplist\":[{\"ssid\":\"atota\","
                      "\"auth_mode\":3}]}");
    rig_free(r);
}

/* ---- Wi-Fi provisioning (§4.5 step 2) -------------------------------------------------------- */

#define GOOD_WIFI                                                                                  \
    "{\"ssid_len\":5,\"ssid\":\"atota\",\"password_len\":10,\"password\":\"atota-pass\"}"

static void expect_stainfo(rig_t *r, const char *what, const char *want)
{
    unsigned i = get(r, "/getstainfo");
    fake_httpd_expect(&r->web, i, what, 200, JSON, want);
}

static rig_t *wifi_rig(void)
{
    rig_t *r = rig_new();
    send(r, "AT+CWMODE=3\r\n", OK);
    web_on(r);
    return r;
}

static void test_provisioning_ok(void **state)
{
    (void)state;
    rig_t *r = wifi_rig();
    expect_stainfo(r, "before", STAINFO(0, "", "", "waiting config"));
    unsigned i = post_json(r, "/setstainfo", GOOD_WIFI);
    fake_httpd_expect(&r->web, i, "/setstainfo", 200, JSON, STATE0);
    /* the configuration is taken at once; the connection starts 300 ms after the answer */
    expect_stainfo(r, "answered", STAINFO(0, "atota", "atota-pass", "waiting config"));
    advance(r, 299);
    fx_expect_out(&r->hs, "before the pause ends", "");
    advance(r, 1);
    fx_expect_out(&r->hs, "the connection starts", RSP1);
    expect_stainfo(r, "connecting", STAINFO(0, "atota", "atota-pass", "connecting"));
    /* the join takes 300 ms; the next 500 ms tick sees the address */
    advance(r, 300);
    fx_expect_out(&r->hs, "joined", RSP1 "WIFI CONNECTED\r\nWIFI GOT IP\r\n");
    advance(r, 199);
    expect_stainfo(r, "before the tick", STAINFO(0, "atota", "atota-pass", "connecting"));
    advance(r, 1);
    expect_stainfo(r, "connected", STAINFO(1, "atota", "atota-pass", "connect OK"));
    /* the page confirms: the configuration is forgotten, the host told */
    fx_host_clear_out(&r->hs);
    getresult(r, "/getresult", RSP2);
    expect_stainfo(r, "after", STAINFO(0, "", "", "waiting config"));
    /* the station is configured as AT+CWJAP would, and kept (AT+SYSSTORE=1): a reboot rejoins */
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, "AT+CWJAP?\r\n", 11);
    assert_non_null(strstr(r->hs.out, "+CWJAP:\"atota\","));
    restart_and_expect(r, V1);
    advance(r, 400);
    fx_expect_out(&r->hs, "auto-connect", "WIFI CONNECTED\r\nWIFI GOT IP\r\n");
    rig_free(r);
}

static void test_provisioning_wrong_password(void **state)
{
    (void)state;
    rig_t *r = wifi_rig();
    /* connected first: the new connection drops it */
    send(r, "AT+CWJAP=\"atota\",\"atota-pass\"\r\n", "");
    advance(r, 400);
    fx_expect_out(&r->hs, "AT+CWJAP", "WIFI CONNECTED\r\nWIFI GOT IP\r\n" OK);
    fx_host_clear_out(&r->hs);
    unsigned i = post_json(r, "/setstainfo", "{\"ssid\":\"atota\",\"password\":\"wrong-pass\"}");
    fake_httpd_expect(&r->web, i, "/setstainfo", 200, JSON, STATE0);
    advance(r, 300);
    fx_expect_out(&r->hs, "the connection starts", "WIFI DISCONNECT\r\n" RSP1);
    /* while it is being made, another /setstainfo is refused; a /getresult releases the host
     * (+WEBSERVERRSP:2) without changing anything */
    i = post_json(r, "/setstainfo", GOOD_WIFI);
    fake_httpd_expect(&r->web, i, "second /setstainfo", 400, JSON, STATE1);
    getresult(r, "/getresult while connecting", "WIFI DISCONNECT\r\n" RSP1 RSP2);
    /* "connect fail" exactly at <connection_timeout> (25 s) after the connection started */
    advance(r, 24999);
    expect_stainfo(r, "24.999 s", STAINFO(0, "atota", "wrong-pass", "connecting"));
    advance(r, 1);
    expect_stainfo(r, "25 s", STAINFO(2, "atota", "wrong-pass", "connect fail"));
    assert_false(atota_wifi_connected(&r->m.wifi));
    /* a failed connection may be retried at once; here the page gives up */
    fx_host_clear_out(&r->hs);
    getresult(r, "/getresult", RSP2);
    expect_stainfo(r, "after", STAINFO(0, "", "", "waiting config"));
    rig_free(r);
}

/* One accepted body: 200, then connected, then the result taken back to "waiting config". */
static void provision(rig_t *r, const char *body, const char *ssid)
{
    unsigned i = post_json(r, "/setstainfo", body);
    fake_httpd_expect(&r->web, i, body, 200, JSON, STATE0);
    assert_string_equal(r->m.webserver.sta_ssid, ssid);
    advance(r, 800);
    if (r->m.webserver.sta_state != ATOTA_WEB_STA_CONNECT_OK) {
        print_error("%s: expected connect OK, got state %u\n", body, r->m.webserver.sta_state);
        fail();
    }
    i = post_form(r, "/getresult", "received=1");
    fake_httpd_expect(&r->web, i, "/getresult", 200, JSON, STATE0);
    fx_host_clear_out(&r->hs);
}

static void test_setstainfo_bodies(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    web_on(r);
    /* the Wi-Fi mode must be 3 (softAP + station) */
    unsigned i = post_json(r, "/setstainfo", GOOD_WIFI);
    fake_httpd_expect(&r->web, i, "mode 1", 400, JSON, STATE1);
    send(r, "AT+CWMODE=3\r\n", OK);
    /* refused bodies: not JSON, a member of another type, too long, nothing, a bad udp_port */
    static const char *const bad[] = {
        "",
        "ssid=atota&password=atota-pass",
        "{",
        "{\"ssid\":\"atota\",}",
        "{\"ssid\":\"atota\" \"password\":\"x\"}",
        "[\"ssid\",\"atota\"]",
        "\"atota\"",
        "{}",
        "{\"ssid\":\"\",\"password\":\"\"}",
        "{\"ssid_len\":5}",
        "{\"ssid\":5,\"password\":\"atota-pass\"}",
        "{\"ssid\":\"atota\",\"password\":null}",
        "{\"ssid\":\"123456789012345678901234567890123\",\"password\":\"x\"}",
        "{\"ssid\":\"atota\",\"password\":\"1234567890123456789012345678901234567890123456789012"
        "3456789012345\"}", /* 65 bytes */
        "{\"ssid\":\"at\\qota\"}",
        "{\"ssid\":\"\\ud800\"}",
        "{\"ssid\":\"\\udc00x\"}",
        "{\"ssid\":\"\\u12\"}",
        "{\"ssid\":\"atota\",\"x\":[1,}",
        "{\"ssid\":\"atota\",\"x\":tru}",
        "{\"ssid\":\"atota\",\"x\":-}",
        "{\"ssid\":\"atota\",\"x\":{\"a\" 1}}",
        "{\"ssid\":\"atota\"}&udp_port=",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        i = post_json(r, "/setstainfo", bad[k]);
        fake_httpd_expect(&r->web, i, bad[k], 400, JSON, STATE1);
    }
    /* no Content-Length at all: an empty body */
    i = fake_httpd_send(&r->web, "POST", "/setstainfo", NULL, NULL, 0, 0, -1);
    fake_httpd_expect(&r->web, i, "no body", 400, JSON, STATE1);
    /* 320 bytes or more: httpd_resp_send_500's page, before the body is read */
    char big[400];
    memset(big, ' ', sizeof big);
    memcpy(big, GOOD_WIFI, sizeof GOOD_WIFI - 1);
    big[320] = '\0';
    i = post_json(r, "/setstainfo", big);
    fake_httpd_expect(&r->web, i, "320 bytes", 500, HTML,
                      "Server has encountered an unexpected error");
    fx_expect_out(&r->hs, "refusals", "");
    assert_int_equal(r->m.webserver.sta_state, ATOTA_WEB_STA_NOT_START);
    assert_string_equal(r->m.webserver.sta_ssid, "");

    /* accepted: 319 bytes; keys in any case; escapes; other members of any kind skipped; the
     * first of two members counts; a BOM; bytes after the object (the applet's &udp_port) */
    big[319] = '\0';
    provision(r, big, "atota");
    provision(r, "{\"SSID\":\"atota\",\"PassWord\":\"atota-pass\"}", "atota");
    provision(r,
              "{\"n\":null,\"t\":true,\"f\":false,\"x\":[1,-2.5e3,{\"a\":[[],{}]},\"s\"],"
              "\"ssid\":\"at\\u006fta\",\"password\":\"atota\\u002dpass\"}",
              "atota");
    provision(r, "{\"ssid\":\"atota\",\"ssid\":7,\"password\":\"atota-pass\",\"password\":{}}",
              "atota");
    provision(r, "\xEF\xBB\xBF {\"ssid\":\"atota\",\"password\":\"atota-pass\"} trailing", "atota");
    provision(r, "{\"ssid\":\"atota\",\"password\":\"atota-pass\"}&udp_port=3339", "atota");
    /* /getstainfo escapes '"', '\' and '/' as ESP-AT does */
    i = post_json(r, "/setstainfo",
                  "{\"ssid\":\"a\\\"b\\\\c/d\",\"password\":\"p/\\\\\\\"q\\u0001\"}");
    fake_httpd_expect(&r->web, i, "escapes", 200, JSON, STATE0);
    expect_stainfo(r, "escapes",
                   STAINFO(0, "a\\\"b\\\\c\\/d", "p\\/\\\\\\\"q\\u0001", "waiting config"));
    rig_free(r);
}

static void test_getresult(void **state)
{
    (void)state;
    rig_t *r = wifi_rig();
    /* nothing configured: OK, nothing for the host */
    getresult(r, "not started", "");
    /* connected: the body must say received=<n> */
    unsigned i = post_json(r, "/setstainfo", GOOD_WIFI);
    advance(r, 800);
    assert_int_equal(r->m.webserver.sta_state, ATOTA_WEB_STA_CONNECT_OK);
    fx_host_clear_out(&r->hs);
    static const char *const bad[] = {"", "foo=1", "xreceived=1", "received", "a=1\nreceived=1"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        i = post_form(r, "/getresult", bad[k]);
        fake_httpd_expect(&r->web, i, bad[k], 400, JSON, STATE1);
    }
    char big[330];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "received=1&", 11);
    i = post_form(r, "/getresult", big);
    fake_httpd_expect(&r->web, i, "329 bytes", 500, HTML,
                      "Server has encountered an unexpected error");
    fx_expect_out(&r->hs, "refused results", "");
    assert_int_equal(r->m.webserver.sta_state, ATOTA_WEB_STA_CONNECT_OK);
    /* the beacon the page sends when it closes (text/plain, another argument first) */
    i = post(r, "/getresult", "Content-Type: text/plain;charset=UTF-8", "lang=en&received=0");
    fake_httpd_expect(&r->web, i, "beacon", 200, JSON, STATE0);
    fx_expect_out(&r->hs, "beacon", RSP2);
    assert_int_equal(r->m.webserver.sta_state, ATOTA_WEB_STA_NOT_START);
    /* a client that goes away before its body: nothing */
    i = fake_httpd_open(&r->web, "POST", "/setstainfo", NULL, 40);
    fake_httpd_body(&r->web, i, "{\"ssid\"", 7);
    fake_httpd_abort(&r->web, i, ATOTA_ERR_NET_RESET);
    assert_null(r->m.webserver.bodies[0].req);
    assert_int_equal(r->m.webserver.sta_state, ATOTA_WEB_STA_NOT_START);
    rig_free(r);
}

static void test_phone_hotspot_search(void **state)
{
    (void)state;
    /* the WeChat applet's local-hotspot case: no SSID, a udp_port; the simulation has no phone,
     * so after timeout - 10 s the search fails and the host is told */
    rig_t *r = wifi_rig();
    unsigned i =
        post_json(r, "/setstainfo", "{\"ssid\":\"\",\"password\":\"phone-pass\"}&udp_port=8000");
    fake_httpd_expect(&r->web, i, "/setstainfo", 200, JSON, STATE0);
    advance(r, 300);
    fx_expect_out(&r->hs, "search starts", RSP1);
    expect_stainfo(r, "searching", STAINFO(0, "", "phone-pass", "connecting"));
    advance(r, 14999);
    fx_expect_out(&r->hs, "still searching", RSP1);
    advance(r, 1);
    fx_expect_out(&r->hs, "search over", RSP1 RSP2);
    expect_stainfo(r, "search over", STAINFO(2, "", "", "connect fail"));
    rig_free(r);
}

/* ---- uploads: success -------------------------------------------------------------------------
 */

static void test_upload_app(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    web_on(r);
    snapshot(r);
    /* as the page sends it: Object: ota, the body in 16 KB pieces */
    unsigned i = upload_first_half(r, "upload started");
    assert_true(atota_module_ota_running(&r->m));
    assert_int_equal(r->web.reqs[i].state, FAKE_HTTPD_OPEN);
    for (size_t off = r->v2_len / 2; off < r->v2_len; off += PIECE)
        fake_httpd_body(&r->web, i, r->v2 + off, r->v2_len - off < PIECE ? r->v2_len - off : PIECE);
    fake_httpd_end(&r->web, i);
    fake_httpd_expect(&r->web, i, "upload", 200, JSON, STATE0);
    fx_expect_out(&r->hs, "upload", RSP3 RSP4);
    assert_false(atota_module_ota_running(&r->m));
    /* no restart (§4.4.3): v1 runs until the host sends AT+RST */
    assert_int_equal(r->hs.restarts, 0);
    expect_running(r, V1);
    fx_expect_partition_kept(r->sim, r->before, r->ota0);
    fx_expect_bytes("ota_1", atota_flash_sim_data(r->sim) + r->ota1->offset, r->v2, r->v2_len);
    restart_and_expect(r, V2);
    /* a second upload goes to the other slot, after v2 was confirmed at its boot */
    web_on(r);
    uint8_t *v3;
    size_t n = fx_build_app_config("v4.3.0.0", 20000, NULL, &v3);
    i = upload(r, "ota", v3, n, NULL, NULL);
    fake_httpd_expect(&r->web, i, "v3", 200, JSON, STATE0);
    fx_expect_bytes("ota_0 after v3", atota_flash_sim_data(r->sim) + r->ota0->offset, v3, n);
    free(v3);
    restart_and_expect(r, "v4.3.0.0");
    rig_free(r);
}

/* A second app upload before AT+RST goes to the same slot as the first (the one after the running
 * slot, as ESP-AT): refused on its first bytes it changes nothing, and AT+RST boots the first;
 * past them it has replaced it, and if it then fails AT+RST boots the running firmware. */
static void test_upload_replaces_pending(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    web_on(r);
    unsigned i = upload(r, "ota", r->v2, r->v2_len, NULL, NULL);
    fake_httpd_expect(&r->web, i, "v2", 200, JSON, STATE0);
    fx_expect_out(&r->hs, "v2", RSP3 RSP4);
    fx_host_clear_out(&r->hs);
    /* not an image: refused before anything is erased; v2 still waits in ota_1 */
    static const char junk[] = "not an image at all";
    i = upload(r, "ota", junk, sizeof junk - 1, NULL, NULL);
    fake_httpd_expect(&r->web, i, "junk", 500, JSON, STATE1);
    fx_expect_out(&r->hs, "junk", RSP3 RSP5);
    fx_host_clear_out(&r->hs);
    fx_expect_bytes("ota_1 after the junk", atota_flash_sim_data(r->sim) + r->ota1->offset, r->v2,
                    r->v2_len);
    assert_non_null(strstr(r->hs.log, "ota_1 holds an image waiting for AT+RST"));
    restart_and_expect(r, V2);
    /* from v2 (in ota_1): v3 accepted, then v4 whose connection closes halfway through */
    web_on(r);
    uint8_t *v3, *v4;
    size_t n3 = fx_build_app_config("v4.3.0.0", 20000, NULL, &v3);
    size_t n4 = fx_build_app_config("v4.4.0.0", 20000, NULL, &v4);
    i = upload(r, "ota", v3, n3, NULL, NULL);
    fake_httpd_expect(&r->web, i, "v3", 200, JSON, STATE0);
    i = upload_open(r, "ota", v4, n4 / 2, (int64_t)n4, NULL, NULL);
    fake_httpd_abort(&r->web, i, ATOTA_ERR_NET_RESET);
    fx_expect_out(&r->hs, "v3 then v4 cut", RSP3 RSP4 RSP3 RSP5);
    free(v3);
    free(v4);
    /* v3's image in ota_0 is gone: the bootloader falls back to the running v2 */
    restart_and_expect(r, V2);
    rig_free(r);
}

static void test_upload_custom_partition(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    web_on(r);
    snapshot(r);
    uint8_t ca[3000];
    for (size_t k = 0; k < sizeof ca; k++)
        ca[k] = (uint8_t)('A' + k % 26);
    ca[0] = ca[1] = 0xF1;
    unsigned i = upload(r, "mqtt_ca", ca, sizeof ca, NULL, NULL);
    fake_httpd_expect(&r->web, i, "mqtt_ca", 200, JSON, STATE0);
    fx_expect_out(&r->hs, "mqtt_ca", RSP3 RSP4);
    fx_expect_partition_holds(r->sim, r->mqtt_ca, ca, sizeof ca);
    fx_expect_partition_kept(r->sim, r->before, r->otadata);
    fx_expect_partition_kept(r->sim, r->before, r->ota0);
    assert_int_equal(r->hs.restarts, 0);
    /* read back through the AT port */
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, "AT+SYSFLASH=2,\"mqtt_ca\",2,10\r\n", 30);
    fx_expect_out(&r->hs, "AT+SYSFLASH=2", "+SYSFLASH:10,CDEFGHIJKL\r\n" OK);
    /* no magic is checked here (ESP-AT's web server checks none): any label, any content */
    static const uint8_t text[] = "no magic at all";
    i = upload(r, "fs_storage", text, sizeof text, NULL, NULL);
    fake_httpd_expect(&r->web, i, "fs_storage", 200, JSON, STATE0);
    i = upload(r, "ble_data", text, sizeof text, NULL, NULL);
    fake_httpd_expect(&r->web, i, "ble_data", 200, JSON, STATE0);
    const uint8_t *data = atota_flash_sim_data(r->sim);
    fx_expect_bytes("ble_data", data + 0x40000, text, sizeof text);
    /* the whole partition, exactly its size */
    uint8_t *full = malloc(r->mqtt_ca->size);
    assert_non_null(full);
    memset(full, 0x3C, r->mqtt_ca->size);
    i = upload(r, "mqtt_ca", full, r->mqtt_ca->size, NULL, NULL);
    fake_httpd_expect(&r->web, i, "mqtt_ca, whole", 200, JSON, STATE0);
    fx_expect_bytes("mqtt_ca, whole", data + r->mqtt_ca->offset, full, r->mqtt_ca->size);
    free(full);
    /* it stays after a restart, and v1 still runs */
    restart_and_expect(r, V1);
    assert_int_equal(data[r->mqtt_ca->offset], 0x3C);
    rig_free(r);
}

static void test_upload_extensions(void **state)
{
    (void)state;
    char dg[128], dg2[128];
    /* the password, and a digest of the body */
    rig_t *r = rig_new_config("web_password=" PW);
    web_on(r);
    unsigned i = upload(r, "ota", r->v2, r->v2_len, "X-Upload-Password: " PW,
                        digest_header("Content-Digest", r->v2, r->v2_len, dg, sizeof dg));
    fake_httpd_expect(&r->web, i, "password and digest", 200, JSON, STATE0);
    fx_expect_out(&r->hs, "password and digest", RSP3 RSP4);
    restart_and_expect(r, V2);
    rig_free(r);

    /* Repr-Digest for a partition; both headers, agreeing, for the app */
    r = rig_new();
    web_on(r);
    uint8_t ca[500];
    memset(ca, 0xF1, sizeof ca);
    i = upload(r, "mqtt_ca", ca, sizeof ca,
               digest_header("Repr-Digest", ca, sizeof ca, dg, sizeof dg), NULL);
    fake_httpd_expect(&r->web, i, "Repr-Digest", 200, JSON, STATE0);
    fx_expect_bytes("mqtt_ca", atota_flash_sim_data(r->sim) + r->mqtt_ca->offset, ca, sizeof ca);
    i = upload(r, "ota", r->v2, r->v2_len,
               digest_header("Content-Digest", r->v2, r->v2_len, dg, sizeof dg),
               digest_header("repr-digest", r->v2, r->v2_len, dg2, sizeof dg2));
    fake_httpd_expect(&r->web, i, "both digests", 200, JSON, STATE0);
    /* a dictionary with other algorithms around sha-256 */
    char list[200];
    digest_header("Content-Digest", ca, 200, dg, sizeof dg);
    snprintf(list, sizeof list,
             "Content-Digest: sha-512=:AAAA:, %s, md5=:BBBB:", dg + strlen("Content-Digest: "));
    i = upload(r, "mqtt_ca", ca, 200, list, NULL);
    fake_httpd_expect(&r->web, i, "a digest list", 200, JSON, STATE0);
    fx_expect_out(&r->hs, "uploads", RSP3 RSP4 RSP3 RSP4 RSP3 RSP4);
    restart_and_expect(r, V2);
    rig_free(r);
}

/* ---- uploads: failures ------------------------------------------------------------------------
 */

typedef enum {
    F_NOT_IMAGE,
    F_MAGIC_THEN_NOISE,
    F_WRONG_CHIP,
    F_BAD_CHECKSUM,
    F_TOO_LARGE,
    F_NO_LENGTH,
    F_ZERO_LENGTH,
    F_CLOSED,
    F_STALLED,
    F_NO_PASSWORD,
    F_WRONG_PASSWORD,
    F_PASSWORD_PREFIX,
    F_DIGEST_MISMATCH,
    F_DIGEST_MALFORMED,
    F_DIGESTS_DISAGREE,
    F_UNKNOWN_OBJECT,
    F_EMPTY_OBJECT,
    F_MISSING_OBJECT,
    F_CUSTOM_TOO_LARGE,
    F_CUSTOM_ZERO,
    F_CUSTOM_DIGEST,
    F_CUSTOM_CLOSED,
    F_COUNT
} failure_t;

static const char *const failure_names[F_COUNT] = {
    "not an image",    "E9 then noise",     "wrong chip",        "bad checksum",
    "too large",       "no Content-Length", "Content-Length 0",  "closed mid-upload",
    "stalled",         "no password",       "wrong password",    "password prefix",
    "digest mismatch", "malformed digest",  "digests disagree",  "unknown Object",
    "empty Object",    "no Object",         "mqtt_ca too large", "mqtt_ca empty",
    "mqtt_ca digest",  "mqtt_ca closed",
};

/* Why each one fails, as the module's log says it. */
static const char *const failure_reasons[F_COUNT] = {
    [F_NOT_IMAGE] = "(ATOTA_ERR_IMAGE_MAGIC)",
    [F_MAGIC_THEN_NOISE] = "(ATOTA_ERR_IMAGE_CHIP)",
    [F_WRONG_CHIP] = "image is for chip id 5 (ESP32-C3)",
    [F_BAD_CHECKSUM] = "(ATOTA_ERR_IMAGE_CHECKSUM)",
    [F_TOO_LARGE] = "Content-Length 1572865 is more than ota_1 holds (1572864)",
    [F_NO_LENGTH] = "no Content-Length",
    [F_ZERO_LENGTH] = "Content-Length 0: no data",
    [F_CLOSED] = "the connection closed after",
    [F_STALLED] = "the connection stalled after",
    [F_NO_PASSWORD] = "no X-Upload-Password",
    [F_WRONG_PASSWORD] = "wrong X-Upload-Password",
    [F_PASSWORD_PREFIX] = "wrong X-Upload-Password",
    [F_DIGEST_MISMATCH] = "the body does not match its digest header",
    [F_DIGEST_MALFORMED] = "Content-Digest has no well-formed sha-256",
    [F_DIGESTS_DISAGREE] = "give different SHA-256s",
    [F_UNKNOWN_OBJECT] = "no partition 'nvs' in at_customize.bin",
    [F_EMPTY_OBJECT] = "no partition '' in at_customize.bin",
    [F_MISSING_OBJECT] = "/setotadata without an Object header: closed",
    [F_CUSTOM_TOO_LARGE] = "Content-Length 8193 is more than mqtt_ca holds (8192)",
    [F_CUSTOM_ZERO] = "Content-Length 0: no data",
    [F_CUSTOM_DIGEST] = "the partition is untouched (ATOTA_ERR_IMAGE_HASH)",
    [F_CUSTOM_CLOSED] = "the connection closed after 1500 of 3000 bytes",
};

/* One failed upload: its answer, the AT port's lines, what stayed byte-identical, and v1 still
 * booting with the old mqtt_ca. */
static void run_failure(failure_t f)
{
    const char *what = failure_names[f];
    bool pw = f == F_NO_PASSWORD || f == F_WRONG_PASSWORD || f == F_PASSWORD_PREFIX;
    rig_t *r = rig_new_config(pw ? "web_password=" PW : NULL);
    web_on(r);
    snapshot(r);
    uint8_t noise[6000];
    for (size_t k = 0; k < sizeof noise; k++)
        noise[k] = (uint8_t)(k * 131 + 7);
    noise[0] = 0x00;
    uint8_t ca[3000];
    memset(ca, 0xF1, sizeof ca);
    char h1[160], h2[160];
    const uint8_t *body = r->v2;
    size_t len = r->v2_len;
    int64_t length = (int64_t)len;
    const char *object = "ota", *x1 = NULL, *x2 = NULL;
    unsigned status = 500;
    bool untouched = true; /* else: only the firmware kept (the inactive slot written) */
    bool abort_half = false, closed = false;
    atota_err_t abort_err = ATOTA_ERR_NET_RESET;
    uint8_t *other = NULL;
    switch (f) {
    case F_NOT_IMAGE:
        body = noise;
        len = sizeof noise;
        length = (int64_t)len;
        break;
    case F_MAGIC_THEN_NOISE:
        noise[0] = 0xE9;
        body = noise;
        len = sizeof noise;
        length = (int64_t)len;
        break;
    case F_WRONG_CHIP:
        len = fx_build_app_sized(ATOTA_CHIP_ESP32C3, V2, 20000, &other);
        body = other;
        length = (int64_t)len;
        break;
    case F_BAD_CHECKSUM:
        other = malloc(len);
        assert_non_null(other);
        memcpy(other, r->v2, len);
        other[len / 2] ^= 0x5A; /* in the payload: the header is right, the checksum not */
        body = other;
        untouched = false;
        break;
    case F_TOO_LARGE:
        length = (int64_t)r->ota1->size + 1; /* one byte more than the slot */
        break;
    case F_NO_LENGTH:
        len = 0;
        length = -1;
        break;
    case F_ZERO_LENGTH:
        len = 0;
        length = 0;
        break;
    case F_CLOSED:
    case F_STALLED:
        abort_half = true;
        abort_err = f == F_CLOSED ? ATOTA_ERR_NET_RESET : ATOTA_ERR_NET_TIMEOUT;
        untouched = false;
        break;
    case F_NO_PASSWORD:
        status = 401;
        break;
    case F_WRONG_PASSWORD:
        x1 = "X-Upload-Password: s3cret-pX";
        status = 401;
        break;
    case F_PASSWORD_PREFIX:
        x1 = "X-Upload-Password: s3cret-p";
        status = 401;
        break;
    case F_DIGEST_MISMATCH: {
        uint8_t *v1 = atota_flash_sim_data(r->sim) + r->ota0->offset;
        x1 = digest_header("Content-Digest", v1, 3000, h1, sizeof h1);
        untouched = false;
        break;
    }
    case F_DIGEST_MALFORMED:
        x1 = "Content-Digest: sha-256=:not-base64:";
        break;
    case F_DIGESTS_DISAGREE:
        x1 = digest_header("Content-Digest", r->v2, r->v2_len, h1, sizeof h1);
        x2 = digest_header("Repr-Digest", r->v2, r->v2_len - 1, h2, sizeof h2);
        break;
    case F_UNKNOWN_OBJECT:
        object = "nvs"; /* a partition, but not an at_customize one */
        break;
    case F_EMPTY_OBJECT:
        object = "";
        break;
    case F_MISSING_OBJECT:
        object = NULL;
        status = 0;
        break;
    case F_CUSTOM_TOO_LARGE:
        object = "mqtt_ca";
        body = ca;
        len = sizeof ca;
        length = (int64_t)r->mqtt_ca->size + 1;
        break;
    case F_CUSTOM_ZERO:
        object = "mqtt_ca";
        len = 0;
        length = 0;
        break;
    case F_CUSTOM_DIGEST:
        object = "mqtt_ca";
        body = ca;
        len = sizeof ca;
        length = (int64_t)len;
        x1 = digest_header("Content-Digest", ca, len - 1, h1, sizeof h1);
        untouched = false; /* staged in ota_1's end */
        break;
    case F_CUSTOM_CLOSED:
        object = "mqtt_ca";
        body = ca;
        len = sizeof ca;
        length = (int64_t)len;
        abort_half = true;
        untouched = false;
        break;
    default:
        fail();
    }

    unsigned i;
    if (abort_half) {
        i = upload_open(r, object, body, len / 2, length, x1, x2);
        assert_true(atota_module_ota_running(&r->m));
        fake_httpd_abort(&r->web, i, abort_err);
        assert_int_equal(r->web.reqs[i].state, FAKE_HTTPD_ABORTED);
        closed = true;
    } else {
        i = upload_open(r, object, body, len, length, x1, x2);
        if (r->web.reqs[i].state == FAKE_HTTPD_OPEN) /* answered early: the port drops the rest */
            fake_httpd_end(&r->web, i);
    }
    if (!closed && status == 0) {
        /* §4.4 step 1: closed without an answer, nothing on the AT port */
        assert_int_equal(r->web.reqs[i].state, FAKE_HTTPD_ANSWERED);
        assert_int_equal(r->web.reqs[i].status, 0);
        fx_expect_out(&r->hs, what, "");
    } else {
        if (!closed)
            fake_httpd_expect(&r->web, i, what, status, JSON, STATE1);
        fx_expect_out(&r->hs, what, RSP3 RSP5);
    }
    const char *auth = fake_httpd_response_header(&r->web, i, "WWW-Authenticate");
    if (status == 401)
        assert_string_equal(auth, "X-Upload-Password realm=\"ATOTA module\"");
    else
        assert_null(auth);
    assert_false(atota_module_ota_running(&r->m));
    if (!strstr(r->hs.log, failure_reasons[f])) {
        print_error("%s: expected the log to say \"%s\"\nlog:\n%s", what, failure_reasons[f],
                    r->hs.log);
        fail();
    }
    if (untouched)
        expect_flash_untouched(r, what);
    else
        expect_firmware_kept(r, what);
    free(other);
    /* the module still boots v1, and works: a good upload goes through */
    restart_and_expect(r, V1);
    expect_firmware_kept(r, what);
    web_on(r);
    i = upload(r, "ota", r->v2, r->v2_len, pw ? "X-Upload-Password: " PW : NULL, NULL);
    fake_httpd_expect(&r->web, i, "after the failure", 200, JSON, STATE0);
    rig_free(r);
}

static void test_upload_failures(void **state)
{
    (void)state;
    for (unsigned f = 0; f < F_COUNT; f++)
        run_failure((failure_t)f);
}

static void test_upload_one_at_a_time(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    web_on(r);
    snapshot(r);
    unsigned a = upload_first_half(r, "first upload");
    /* a second upload meanwhile: 500 at once, no AT-port line, the first untouched */
    uint8_t ca[1000];
    memset(ca, 0xF1, sizeof ca);
    unsigned b = upload(r, "mqtt_ca", ca, sizeof ca, NULL, NULL);
    fake_httpd_expect(&r->web, b, "second upload", 500, JSON, STATE1);
    b = upload(r, "ota", r->v2, r->v2_len, NULL, NULL);
    fake_httpd_expect(&r->web, b, "third upload", 500, JSON, STATE1);
    b = upload(r, NULL, ca, sizeof ca, NULL, NULL); /* no Object: closed, as always */
    assert_int_equal(r->web.reqs[b].status, 0);
    fx_expect_out(&r->hs, "refused uploads", RSP3);
    /* nor do AT+CIUPDATE and AT+USEROTA start (one OTA at a time) */
    send(r, "AT+CIUPDATE\r\n", ERROR);
    send(r, "AT+USEROTA=20\r\n", ERROR);
    /* other requests are served as usual */
    unsigned g = get(r, "/getversion");
    fake_httpd_expect(&r->web, g, "/getversion", 200, JSON, "{\"version\":\"1.0\"}");
    /* the first one ends well */
    fx_host_clear_out(&r->hs);
    for (size_t off = r->v2_len / 2; off < r->v2_len; off += PIECE)
        fake_httpd_body(&r->web, a, r->v2 + off, r->v2_len - off < PIECE ? r->v2_len - off : PIECE);
    fake_httpd_end(&r->web, a);
    fake_httpd_expect(&r->web, a, "first upload", 200, JSON, STATE0);
    fx_expect_out(&r->hs, "first upload's end", RSP4);
    fx_expect_partition_kept(r->sim, r->before, r->mqtt_ca);
    restart_and_expect(r, V2);
    rig_free(r);
}

static void test_upload_during_ciupdate(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    send(r, "AT+CWJAP=\"atota\",\"atota-pass\"\r\n", "");
    advance(r, 400);
    fx_host_clear_out(&r->hs);
    /* a non-blocking AT+CIUPDATE whose server never answers: running, nothing written yet */
    r->net.silent[0] = true;
    send(r, "AT+CIUPDATE=0,\"v4.2.0.0\",\"ota\",1\r\n", OK);
    assert_true(atota_module_ota_running(&r->m));
    web_on(r);
    snapshot(r);
    unsigned i = upload(r, "ota", r->v2, r->v2_len, NULL, NULL);
    fake_httpd_expect(&r->web, i, "ota during AT+CIUPDATE", 500, JSON, STATE1);
    fx_expect_out(&r->hs, "ota during AT+CIUPDATE", RSP3 RSP5);
    uint8_t ca[1000];
    memset(ca, 0xF1, sizeof ca);
    i = upload(r, "mqtt_ca", ca, sizeof ca, NULL, NULL);
    fake_httpd_expect(&r->web, i, "mqtt_ca during AT+CIUPDATE", 500, JSON, STATE1);
    fx_expect_out(&r->hs, "mqtt_ca during AT+CIUPDATE", RSP3 RSP5 RSP3 RSP5);
    expect_flash_untouched(r, "during AT+CIUPDATE");
    assert_true(atota_module_ota_running(&r->m)); /* AT+CIUPDATE still runs */
    rig_free(r);
}

static void test_upload_server_stopped(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    web_on(r);
    snapshot(r);
    unsigned i = upload_first_half(r, "upload");
    fx_host_clear_out(&r->hs);
    /* AT+WEBSERVER=0 closes every connection: the upload fails, and the host hears of it */
    send(r, "AT+WEBSERVER=0\r\n", RSP5 OK);
    assert_int_equal(r->web.reqs[i].state, FAKE_HTTPD_DROPPED);
    assert_false(atota_module_ota_running(&r->m));
    expect_firmware_kept(r, "server stopped");
    /* started again, a new upload works */
    web_on(r);
    i = upload(r, "ota", r->v2, r->v2_len, NULL, NULL);
    fake_httpd_expect(&r->web, i, "again", 200, JSON, STATE0);
    restart_and_expect(r, V2);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_forms),
        cmocka_unit_test(test_no_server),
        cmocka_unit_test(test_reboot_stops_server),
        cmocka_unit_test(test_read_endpoints),
        cmocka_unit_test(test_captive_portal),
        cmocka_unit_test(test_getotainfo_variants),
        cmocka_unit_test(test_getaprecord),
        cmocka_unit_test(test_provisioning_ok),
        cmocka_unit_test(test_provisioning_wrong_password),
        cmocka_unit_test(test_setstainfo_bodies),
        cmocka_unit_test(test_getresult),
        cmocka_unit_test(test_phone_hotspot_search),
        cmocka_unit_test(test_upload_app),
        cmocka_unit_test(test_upload_replaces_pending),
        cmocka_unit_test(test_upload_custom_partition),
        cmocka_unit_test(test_upload_extensions),
        cmocka_unit_test(test_upload_failures),
        cmocka_unit_test(test_upload_one_at_a_time),
        cmocka_unit_test(test_upload_during_ciupdate),
        cmocka_unit_test(test_upload_server_stopped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
