/*
 * AT+CIUPDATE and AT+CIPFWVER? through the simulated module (core/cmd/cmd_ciupdate.c) with a
 * scripted stream port: the exact AT-port bytes of esp-at-ota.md §3.2 for every form, the request
 * bytes of §3.4 and §3.5 written out here from the spec, the replies built by the server's own code
 * (core/proto/iot.h), custom partitions staged and replaced, and every failure leaving the
 * firmware and the partition as they were.
 */
#include "core/cmd/module.h"
#include "core/fmt/otadata.h"
#include "support/app_config.h"
#include "support/capture_host.h"
#include "support/fake_http.h"
#include "support/fake_stream.h"
#include "support/fixture.h"

#define OK    "\r\nOK\r\n"
#define ERROR "\r\nERROR\r\n"

#define HOST      "ota.example.com"
#define TOKEN     "0123456789abcdef0123456789abcdef01234567"
#define SSL_TOKEN "fedcba9876543210fedcba9876543210fedcba98"
#define CONFIG                                                                                     \
    "ota_host=" HOST "\nota_port=8070\nota_token=" TOKEN "\nssl_host=" HOST                        \
    "\nssl_port=8443\nssl_token=" SSL_TOKEN

/* §3.4 and §3.5, byte for byte (note the space after "Safari/537.36"). */
#define REQ_TAIL(hostport, token)                                                                  \
    "Host: " hostport "\r\n"                                                                       \
    "Connection: keep-alive\r\n"                                                                   \
    "Cache-Control: no-cache\r\n"                                                                  \
    "User-Agent: Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) "             \
    "Chrome/30.0.1599.101 Safari/537.36 \r\n"                                                      \
    "Accept: */*\r\n"                                                                              \
    "Authorization: token " token "\r\n"                                                           \
    "Accept-Encoding: gzip,deflate,sdch\r\n"                                                       \
    "Accept-Language: zh-CN,zh;q=0.8\r\n"                                                          \
    "\r\n"
#define QUERY_REQ                                                                                  \
    "GET /v1/device/rom/?is_format_simple=true HTTP/1.0\r\n" REQ_TAIL(HOST ":8070", TOKEN)
#define DOWNLOAD_REQ(version, name)                                                                \
    "GET /v1/device/rom/?action=download_rom&version=" version "&filename=" name                   \
    ".bin HTTP/1.1\r\n" REQ_TAIL(HOST ":8070", TOKEN)

typedef struct {
    atota_profile_t profile;
    atota_flash_sim_t *sim;
    const atota_flash_t *flash;
    fx_host_state_t hs;
    atota_module_host_t host;
    fake_stream_t net;
    fake_http_t http;
    atota_module_t m;
    const atota_partition_t *ota0, *ota1, *otadata, *mqtt_ca;
    uint8_t *v2; /* the app served */
    size_t v2_len;
    char query[1024]; /* the query reply */
    uint8_t *dl;      /* the download reply */
    size_t dl_len;
    uint8_t *before; /* the flash before the command */
} rig_t;

/* A module whose at_customize.bin also has mqtt_ca (0x2000) and factory_param (0x1000), as
 * ESP-AT v2's did, running v4.1.0.0 configured with CONFIG (or `config`). */
static rig_t *rig_new_config(const char *config)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    fx_module_profile(&r->profile, 2); /* mqtt_ca, factory_param */
    uint8_t *v1;
    size_t n = fx_build_app_config("v4.1.0.0", 3000, config, &v1);
    r->sim = fx_module_flash_new(&r->profile, v1, n); /* and the old mqtt_ca content */
    free(v1);
    r->flash = atota_flash_sim_flash(r->sim);
    r->ota0 = fx_table_get(&r->profile.partitions, "ota_0");
    r->ota1 = fx_table_get(&r->profile.partitions, "ota_1");
    r->otadata = fx_table_get(&r->profile.partitions, "otadata");
    r->mqtt_ca = fx_table_get(&r->profile.at_customize, "mqtt_ca");
    r->v2_len = fx_build_app_config("v4.2.0.0", 100 * 1024, config, &r->v2);
    r->hs.now = 1000;
    fx_host_init(&r->host, &r->hs);
    r->host.stream = fake_stream_port(&r->net);
    r->host.http = fake_http_port(&r->http);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    return r;
}

static rig_t *rig_new(void)
{
    return rig_new_config(CONFIG);
}

static void rig_free(rig_t *r)
{
    atota_flash_sim_close(r->sim);
    free(r->v2);
    free(r->dl);
    free(r->before);
    free(r);
}

/* The host's loop: until the command ends (blocking), the update ends (non-blocking) or a restart
 * is asked for. */
static void run(rig_t *r)
{
    for (unsigned steps = 0;
         (atota_at_busy(&r->m.at) || atota_module_ota_running(&r->m)) && r->hs.restarts == 0;
         steps++) {
        assert_true(steps < 1000000);
        fake_stream_pump(&r->net);
        fake_http_pump(&r->http);
        r->hs.now += 5;
        atota_module_poll(&r->m);
    }
}

static void join(rig_t *r)
{
    static const char cwjap[] = "AT+CWJAP=\"atota\",\"atota-pass\"\r\n";
    atota_module_feed(&r->m, cwjap, sizeof cwjap - 1);
    run(r);
    assert_true(atota_wifi_connected(&r->m.wifi));
    fx_host_clear_out(&r->hs);
}

/* The query reply atota-server sends (its own reply builder), on connection `conn`. */
static void serve_query(rig_t *r, unsigned conn, const char *recommended)
{
    char body[ATOTA_IOT_QUERY_BODY_MAX + 1];
    atota_iot_reply_t rep;
    assert_int_equal(
        atota_iot_reply_begin(&rep, ATOTA_IOT_REPLY_QUERY, body, sizeof body, recommended),
        ATOTA_OK);
    assert_true(atota_iot_reply_add_rom(&rep, recommended, true, NULL, 0));
    assert_true(atota_iot_reply_add_rom(&rep, "v4.1.0.0", false, NULL, 0));
    size_t n = atota_iot_reply_end(&rep);
    snprintf(r->query, sizeof r->query,
             "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             n, body);
    r->net.reply[conn] = (const uint8_t *)r->query;
    r->net.reply_len[conn] = strlen(r->query);
}

static void serve_text(rig_t *r, unsigned conn, const char *text)
{
    snprintf(r->query, sizeof r->query, "%s", text);
    r->net.reply[conn] = (const uint8_t *)r->query;
    r->net.reply_len[conn] = strlen(r->query);
}

/* A download reply: headers (Content-Length unless length_header is false, Repr-Digest of
 * `digest_of` when given) and the body, on connection `conn`. */
static void serve_file(rig_t *r, unsigned conn, const uint8_t *body, size_t len, bool length_header,
                       const uint8_t *digest_of)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n");
    if (length_header)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", len);
    if (digest_of) {
        uint8_t sha[32];
        atota_sha256(digest_of, len, sha);
        char value[ATOTA_IOT_DIGEST_VALUE_MAX];
        n += snprintf(head + n, sizeof head - (size_t)n, "Repr-Digest: %s\r\n",
                      atota_iot_digest_value(sha, value));
    }
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    free(r->dl);
    r->dl_len = (size_t)n + len;
    r->dl = malloc(r->dl_len);
    assert_non_null(r->dl);
    memcpy(r->dl, head, (size_t)n);
    memcpy(r->dl + n, body, len);
    r->net.reply[conn] = r->dl;
    r->net.reply_len[conn] = r->dl_len;
}

static void serve_app(rig_t *r, unsigned conn)
{
    serve_file(r, conn, r->v2, r->v2_len, true, r->v2);
}

static void snapshot(rig_t *r)
{
    free(r->before);
    r->before = fx_sim_copy(r->sim, r->profile.flash_size);
}

/* The partition `p` (and otadata, and the running slot) hold what they held at snapshot(). */
static void expect_unchanged(rig_t *r, const atota_partition_t *p)
{
    fx_expect_partition_kept(r->sim, r->before, p);
    fx_expect_partition_kept(r->sim, r->before, r->otadata);
    fx_expect_partition_kept(r->sim, r->before, r->ota0);
}

static void expect_sent(rig_t *r, unsigned conn, const char *want)
{
    r->net.sent[conn][r->net.sent_len[conn] < FAKE_STREAM_SENT_CAP ? r->net.sent_len[conn]
                                                                   : FAKE_STREAM_SENT_CAP - 1] =
        '\0';
    fx_expect_text("request bytes", r->net.sent[conn], want);
    assert_int_equal(r->net.sent_len[conn], strlen(want));
}

static void expect_running(rig_t *r, const char *version)
{
    if (strcmp(r->m.boot.app_desc.version, version)) {
        print_error("expected %s running, got %s\n", version, r->m.boot.app_desc.version);
        fail();
    }
}

/* ---- the app ------------------------------------------------------------------------------- */

static void test_query_then_ota(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    join(r);
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE?\r\n", "AT+CIUPDATE?\r\n+CIUPDATE:0\r\n" OK);
    serve_query(r, 0, "v4.2.0.0");
    serve_app(r, 1);
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE\r\n", "AT+CIUPDATE\r\n");
    fx_host_clear_out(&r->hs);
    assert_true(atota_at_busy(&r->m.at));
    run(r);
    /* §3.2: blocking success, ota */
    fx_expect_out(&r->hs, "AT+CIUPDATE",
                  "+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n+CIPUPDATE:3\r\n+CIPUPDATE:4\r\n" OK);
    assert_int_equal(r->hs.restarts, 1);
    assert_int_equal(r->net.connects, 2);
    assert_string_equal(r->net.host[0], HOST);
    assert_int_equal(r->net.port[0], 8070);
    assert_false(r->net.tls[0]);
    expect_sent(r, 0, QUERY_REQ);
    expect_sent(r, 1, DOWNLOAD_REQ("v4.2.0.0", "ota"));

    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    expect_running(r, "v4.2.0.0");
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE?\r\n", "AT+CIUPDATE?\r\n+CIUPDATE:0\r\n" OK);
    rig_free(r);
}

static void test_explicit_version(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    join(r);
    serve_app(r, 0);
    fx_module_send(&r->m, &r->hs, "ATE0\r\n", "ATE0\r\n" OK);
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE=0,\"v4.2.0.0\"\r\n", "");
    run(r);
    /* §3.2: no :2 and :3 when a version is given */
    fx_expect_out(&r->hs, "explicit version", "+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n" OK);
    assert_int_equal(r->net.connects, 1);
    expect_sent(r, 0, DOWNLOAD_REQ("v4.2.0.0", "ota"));
    assert_int_equal(r->hs.restarts, 1);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    expect_running(r, "v4.2.0.0");
    rig_free(r);
}

static void test_mode1_tls(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    join(r);
    serve_query(r, 0, "v4.2.0.0");
    serve_app(r, 1);
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE=1\r\n", "AT+CIUPDATE=1\r\n");
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "mode 1",
                  "+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n+CIPUPDATE:3\r\n+CIPUPDATE:4\r\n" OK);
    for (unsigned i = 0; i < 2; i++) {
        assert_true(r->net.tls[i]);
        assert_int_equal(r->net.port[i], 8443);
    }
    expect_sent(
        r, 0,
        "GET /v1/device/rom/?is_format_simple=true HTTP/1.0\r\n" REQ_TAIL(HOST ":8443", SSL_TOKEN));
    assert_int_equal(r->hs.restarts, 1);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    expect_running(r, "v4.2.0.0");
    rig_free(r);
}

static void test_nonblocking_then_rst(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    join(r);
    serve_query(r, 0, "v4.2.0.0");
    serve_app(r, 1);
    r->net.chunk = 512;
    /* §3.1 example: AT+CIUPDATE=1,,,1 -> mode 1, latest, ota, non-blocking: OK at once */
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE=1,,,1\r\n", "AT+CIUPDATE=1,,,1\r\n" OK);
    assert_false(atota_at_busy(&r->m.at));
    for (int i = 0; i < 4; i++) { /* connect, request, the reply's first pieces */
        fake_stream_pump(&r->net);
        atota_module_poll(&r->m);
    }
    /* other commands keep working; a second update is refused; the query shows the state */
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, "AT\r\n", 4);
    assert_non_null(strstr(r->hs.out, "AT\r\n" OK));
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, "AT+CIUPDATE\r\n", 13);
    assert_non_null(strstr(r->hs.out, "AT+CIUPDATE\r\n" ERROR));
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, "AT+CIUPDATE?\r\n", 14);
    assert_non_null(strstr(r->hs.out, "+CIUPDATE:3\r\n" OK));
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "the rest", "+CIPUPDATE:4\r\n"); /* and no restart */
    assert_int_equal(r->hs.restarts, 0);
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE?\r\n", "AT+CIUPDATE?\r\n+CIUPDATE:4\r\n" OK);
    expect_running(r, "v4.1.0.0");
    fx_module_send(&r->m, &r->hs, "AT+RST\r\n", "AT+RST\r\n" OK);
    assert_int_equal(r->hs.restarts, 1);
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    expect_running(r, "v4.2.0.0");
    rig_free(r);
}

/* ---- custom partitions ------------------------------------------------------------------------
 */

static void test_custom_partition(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    join(r);
    uint8_t ca[3000];
    for (size_t i = 0; i < sizeof ca; i++)
        ca[i] = (uint8_t)(i * 7 + 1);
    ca[0] = ca[1] = 0xF1;
    serve_file(r, 0, ca, sizeof ca, true, ca);
    snapshot(r);
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE=0,\"v4.2.0.0\",\"mqtt_ca\"\r\n",
                   "AT+CIUPDATE=0,\"v4.2.0.0\",\"mqtt_ca\"\r\n");
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "mqtt_ca", "+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n" OK); /* no restart */
    assert_int_equal(r->hs.restarts, 0);
    expect_sent(r, 0, DOWNLOAD_REQ("v4.2.0.0", "mqtt_ca"));
    fx_expect_partition_holds(r->sim, r->mqtt_ca, ca, sizeof ca);
    fx_expect_partition_kept(r->sim, r->before, r->otadata);
    fx_expect_partition_kept(r->sim, r->before, r->ota0);
    /* read back through the AT port: AT+SYSFLASH=2 */
    static const char read_cmd[] = "AT+SYSFLASH=2,\"mqtt_ca\",0,8\r\n";
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, read_cmd, sizeof read_cmd - 1);
    char want[64];
    memcpy(want, "+SYSFLASH:8,", 12);
    memcpy(want + 12, ca, 8);
    assert_true(r->hs.len >= sizeof read_cmd - 1 + 20);
    assert_memory_equal(r->hs.out + sizeof read_cmd - 1, want, 20);
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE?\r\n", "AT+CIUPDATE?\r\n+CIUPDATE:4\r\n" OK);
    rig_free(r);
}

/* ---- failures ----------------------------------------------------------------------------------
 */

typedef enum {
    F_DNS,
    F_REFUSED,
    F_WRONG_KEY,
    F_NO_RECOMMENDED,
    F_UNKNOWN_VERSION,
    F_BAD_MAGIC,
    F_TOO_BIG,
    F_DROP,
    F_DIGEST,
    F_NO_LENGTH,
    F_NO_LABEL,
    F_NO_MAGIC_LABEL,
    F_OTA_1,
    F_TIMEOUT,
    F_COUNT
} failure_t;

static const char *const failure_names[F_COUNT] = {
    "dns",       "refused", "wrong key", "no recommended", "unknown version",
    "bad magic", "too big", "drop",      "digest",         "no Content-Length",
    "no label",  "mfg_nvs", "ota_1",     "timeout"};

/* One failure of an update of `name` (version given unless the failure is in the query), blocking
 * or not: the lines reached, then ERROR (or +CIPUPDATE:-1), the state -1, the target and the
 * firmware unchanged. */
static void run_failure(failure_t f, const char *name, bool nonblocking)
{
    rig_t *r = rig_new();
    join(r);
    fx_module_send(&r->m, &r->hs, "ATE0\r\n", "ATE0\r\n" OK);
    bool query = f == F_WRONG_KEY || f == F_NO_RECOMMENDED;
    const char *lines = "+CIPUPDATE:1\r\n";
    uint8_t body[0x3000];
    memset(body, 0x5A, sizeof body);
    body[0] = body[1] = strcmp(name, "ota") == 0 ? 0xE9 : 0xF1;
    const uint8_t *file = strcmp(name, "ota") == 0 ? r->v2 : body;
    size_t file_len = strcmp(name, "ota") == 0 ? r->v2_len : 0x1800;
    char other[16];
    snprintf(other, sizeof other, "%s", name);
    switch (f) {
    case F_DNS:
        r->net.connect_err[0] = ATOTA_ERR_NET_DNS;
        lines = "";
        break;
    case F_REFUSED:
        r->net.connect_err[0] = ATOTA_ERR_NET_CONNECT;
        break;
    case F_WRONG_KEY:
    case F_NO_RECOMMENDED: {
        char err[256], reply[512];
        atota_iot_reply_error(err, sizeof err, f == F_WRONG_KEY ? 401 : 404,
                              f == F_WRONG_KEY ? "wrong or missing device token"
                                               : "no recommended version for this product");
        snprintf(reply, sizeof reply, "HTTP/1.0 %s\r\nConnection: close\r\n\r\n%s",
                 f == F_WRONG_KEY ? "401 Unauthorized" : "404 Not Found", err);
        serve_text(r, 0, reply);
        lines = "+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n";
        break;
    }
    case F_UNKNOWN_VERSION: {
        char err[256], reply[512];
        size_t n = atota_iot_reply_error(err, sizeof err, 404, "this product has no version");
        snprintf(reply, sizeof reply, "HTTP/1.1 404 Not Found\r\nContent-Length: %zu\r\n\r\n%s", n,
                 err);
        serve_text(r, 0, reply);
        break;
    }
    case F_BAD_MAGIC:
        body[0] = 0x00;
        if (strcmp(name, "ota") == 0)
            r->v2[0] = 0xE8; /* the served copy; v1 is already on the flash */
        break;
    case F_TOO_BIG:
        file_len = strcmp(name, "ota") == 0 ? 0x180000 + 1 : 0x2001;
        break;
    case F_DROP:
        r->net.drop_at[0] = 1500;
        break;
    case F_DIGEST:
        break;
    case F_NO_LENGTH:
        break;
    case F_NO_LABEL:
        snprintf(other, sizeof other, "client_ca"); /* in the magic table, not in at_customize */
        break;
    case F_NO_MAGIC_LABEL:
        snprintf(other, sizeof other, "mfg_nvs"); /* in at_customize, not in the magic table */
        break;
    case F_OTA_1:
        snprintf(other, sizeof other, "ota_1");
        break;
    case F_TIMEOUT:
        r->net.keep_open[0] = true; /* the server answers the connect, then says nothing */
        break;
    case F_COUNT:
        break;
    }
    if (f == F_TOO_BIG) {
        /* Content-Length says more than the partition; the body is never sent */
        char reply[256];
        snprintf(reply, sizeof reply, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n\xE9\xF1\xF1",
                 file_len);
        serve_text(r, 0, reply);
    } else if (f == F_DIGEST) {
        uint8_t other_bytes[0x3000];
        memcpy(other_bytes, file, file_len < sizeof other_bytes ? file_len : sizeof other_bytes);
        if (file_len <= sizeof other_bytes) {
            other_bytes[file_len - 1] ^= 1;
            serve_file(r, 0, file, file_len, true, other_bytes);
        } else {
            /* an app: the digest of another file of the same length */
            uint8_t *copy = malloc(file_len);
            assert_non_null(copy);
            memcpy(copy, file, file_len);
            copy[file_len - 1] ^= 1;
            serve_file(r, 0, file, file_len, true, copy);
            free(copy);
        }
    } else if (f == F_BAD_MAGIC || f == F_DROP || f == F_NO_LENGTH || f == F_NO_LABEL ||
               f == F_NO_MAGIC_LABEL || f == F_OTA_1) {
        serve_file(r, 0, file, file_len, f != F_NO_LENGTH, NULL);
    }
    /* what must not change: the partition named (or mqtt_ca when the name is not one), and
     * always otadata and the running slot (an app failure may leave bytes in ota_1: harmless) */
    const atota_partition_t *target = strcmp(name, "ota") == 0 ? r->ota0
                                      : f == F_NO_MAGIC_LABEL
                                          ? fx_table_get(&r->m.at_customize, "mfg_nvs")
                                          : r->mqtt_ca;
    snapshot(r);
    char cmd[128];
    if (query)
        snprintf(cmd, sizeof cmd, "AT+CIUPDATE=0,,\"%s\"%s\r\n", other, nonblocking ? ",1" : "");
    else
        snprintf(cmd, sizeof cmd, "AT+CIUPDATE=0,\"v4.2.0.0\",\"%s\"%s\r\n", other,
                 nonblocking ? ",1" : "");
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, cmd, strlen(cmd));
    if (f == F_TIMEOUT) {
        for (int i = 0; i < 10; i++) {
            fake_stream_pump(&r->net);
            atota_module_poll(&r->m);
        }
        assert_true(atota_module_ota_running(&r->m));
        r->hs.now += ATOTA_CIUPDATE_TIMEOUT_MS - 1000; /* just before: still running */
        atota_module_poll(&r->m);
        assert_true(atota_module_ota_running(&r->m));
        r->hs.now += 1000;
    }
    run(r);
    char want[256];
    snprintf(want, sizeof want, "%s%s%s", nonblocking ? OK : "", lines,
             nonblocking ? "+CIPUPDATE:-1\r\n" : ERROR);
    char what[96];
    snprintf(what, sizeof what, "%s (%s)%s", failure_names[f], other,
             nonblocking ? " non-blocking" : "");
    fx_expect_out(&r->hs, what, want);
    assert_int_equal(r->hs.restarts, 0);
    assert_int_equal(r->m.ciupdate.state, ATOTA_CIUPDATE_STATE_FAILED);
    assert_false(atota_module_ota_running(&r->m));
    assert_false(r->net.open); /* every connection was closed */
    expect_unchanged(r, target);
    assert_non_null(strstr(r->hs.log, "ciupdate: failed: "));
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE?\r\n", "+CIUPDATE:-1\r\n" OK);
    /* the module still boots what it ran */
    fx_module_boot(&r->m, r->flash, &r->host, &r->hs);
    expect_running(r, "v4.1.0.0");
    expect_unchanged(r, target);
    rig_free(r);
}

static void test_failures_custom(void **state)
{
    (void)state;
    for (failure_t f = 0; f < F_COUNT; f++)
        run_failure(f, "mqtt_ca", false);
}

static void test_failures_ota(void **state)
{
    (void)state;
    static const failure_t app[] = {F_DNS,       F_REFUSED, F_WRONG_KEY, F_UNKNOWN_VERSION,
                                    F_BAD_MAGIC, F_TOO_BIG, F_DROP,      F_DIGEST,
                                    F_NO_LENGTH, F_TIMEOUT};
    for (size_t i = 0; i < sizeof app / sizeof app[0]; i++)
        run_failure(app[i], "ota", false);
}

static void test_failures_nonblocking(void **state)
{
    (void)state;
    run_failure(F_REFUSED, "ota", true);
    run_failure(F_DROP, "mqtt_ca", true);
    run_failure(F_TIMEOUT, "ota", true);
    run_failure(F_WRONG_KEY, "ota", true);
}

/* ---- parameters ---------------------------------------------------------------------------------
 */

static void test_params(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    join(r);
    fx_module_send(&r->m, &r->hs, "ATE0\r\n", "ATE0\r\n" OK);
    static const char *const refused[] = {
        "AT+CIUPDATE=?\r\n",                    /* no test form */
        "AT+CIUPDATE=2\r\n",                    /* 0 <= mode < 2 */
        "AT+CIUPDATE=0,\"v1\",\"ota\",1,0\r\n", /* extra parameter */
        "AT+CIUPDATE=0,5\r\n",                  /* a number for the version */
        "AT+CIUPDATE=0,,,2\r\n",                /* nonblocking 0/1 */
        "AT+CIUPDATE=0,\"v12345678901234567890123456789012345678901234567890123456789012345\"\r\n",
        "AT+CIPFWVER=1\r\n",
        "AT+CIPFWVER\r\n",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        fx_module_send(&r->m, &r->hs, refused[i], ERROR);
    assert_int_equal(r->net.connects, 0);
    rig_free(r);

    /* a firmware without OTA over SSL: mode 1 fails at once, with no lines */
    r = rig_new_config(CONFIG "\nota_ssl=off");
    join(r);
    fx_module_send(&r->m, &r->hs, "ATE0\r\n", "ATE0\r\n" OK);
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE=1\r\n", ERROR);
    assert_int_equal(r->net.connects, 0);
    rig_free(r);

    /* a firmware without OTA has neither command */
    r = rig_new_config(CONFIG "\nota=off");
    fx_module_send(&r->m, &r->hs, "ATE0\r\n", "ATE0\r\n" OK);
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE\r\n", ERROR);
    fx_module_send(&r->m, &r->hs, "AT+CIPFWVER?\r\n", ERROR);
    rig_free(r);
}

/* Without Wi-Fi the name does not resolve: ERROR and no line. While a blocking update runs, the
 * port answers busy. USEROTA is refused while a non-blocking update runs. */
static void test_no_wifi_busy_and_userota(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    fx_module_send(&r->m, &r->hs, "ATE0\r\n", "ATE0\r\n" OK);
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE\r\n", ERROR);
    assert_int_equal(r->net.connects, 0);
    assert_non_null(strstr(r->hs.log, "not connected"));
    join(r);
    serve_app(r, 0);
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE=0,\"v4.2.0.0\"\r\n", "");
    fx_module_send(&r->m, &r->hs, "AT\r\n", "\r\nbusy p...\r\n");
    run(r);
    assert_int_equal(r->hs.restarts, 1);
    rig_free(r);

    r = rig_new();
    join(r);
    fx_module_send(&r->m, &r->hs, "ATE0\r\n", "ATE0\r\n" OK);
    r->net.silent[0] = true;
    fx_module_send(&r->m, &r->hs, "AT+CIUPDATE=0,,,1\r\n", OK);
    fx_module_send(&r->m, &r->hs, "AT+USEROTA=10\r\n", ERROR);
    rig_free(r);
}

/* ---- AT+CIPFWVER? -------------------------------------------------------------------------------
 */

static void test_cipfwver(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    join(r);
    char body[ATOTA_IOT_LIST_BODY_MAX + 1];
    atota_iot_reply_t rep;
    assert_int_equal(
        atota_iot_reply_begin(&rep, ATOTA_IOT_REPLY_LIST, body, sizeof body, "v4.2.0.0"), ATOTA_OK);
    atota_iot_file_t files[1] = {{"ota.bin", 1634560}};
    assert_true(atota_iot_reply_add_rom(&rep, "v4.2.0.0", true, files, 1));
    assert_true(atota_iot_reply_add_rom(&rep, "v4.1.0.0", false, files, 1));
    size_t n = atota_iot_reply_end(&rep);
    fake_http_init(&r->http, (const uint8_t *)body, n, NULL);
    fx_module_send(&r->m, &r->hs, "AT+CIPFWVER?\r\n", "AT+CIPFWVER?\r\n");
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "AT+CIPFWVER?",
                  "+CIPFWVER:\"v4.2.0.0\"\r\n+CIPFWVER:\"v4.1.0.0\"\r\n" OK);
    /* §3.6: the SSL server at the scheme's port, no trailing slash, the SSL token */
    assert_string_equal(r->http.url, "https://" HOST "/v1/device/rom");
    assert_int_equal(r->http.stall_timeout_ms, 10000);
    assert_non_null(strstr(r->http.headers, "Authorization: token " SSL_TOKEN));

    /* an HTTP error status is ERROR */
    fake_http_init(&r->http, (const uint8_t *)body, n, NULL);
    r->http.status_for[0] = 401;
    fx_module_send(&r->m, &r->hs, "AT+CIPFWVER?\r\n", "AT+CIPFWVER?\r\n");
    fx_host_clear_out(&r->hs);
    run(r);
    fx_expect_out(&r->hs, "AT+CIPFWVER? 401", ERROR);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_then_ota),   cmocka_unit_test(test_explicit_version),
        cmocka_unit_test(test_mode1_tls),        cmocka_unit_test(test_nonblocking_then_rst),
        cmocka_unit_test(test_custom_partition), cmocka_unit_test(test_failures_custom),
        cmocka_unit_test(test_failures_ota),     cmocka_unit_test(test_failures_nonblocking),
        cmocka_unit_test(test_params),           cmocka_unit_test(test_no_wifi_busy_and_userota),
        cmocka_unit_test(test_cipfwver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
