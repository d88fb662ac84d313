/*
 * libFuzzer target for the module's web server (AT+WEBSERVER: core/cmd/cmd_webserver.c,
 * web_wifi.c, web_upload.c) on one simulated esp32-wroom-32 module: v1 running from ota_0,
 * at_customize.bin with mqtt_ca, the HTTP-server port played by tests/support/fake_httpd.h. The
 * input is a script, read a byte at a time (zeros once it runs out):
 *   byte 0     the firmware: bit 0 web_password=<PASSWORD>, bit 1 web_captive_portal=on (v1 and
 *              the canned v2 carry the same configuration)
 *   then ops   (at most MAX_OPS), each an opcode byte and its operands:
 *     open     a request: method (a small set, odd ones included), path (a known endpoint or
 *              random bytes), 0-4 headers among Object, X-Upload-Password, Content-Digest,
 *              Repr-Digest and Content-Type (canned values or random bytes), a body (random
 *              bytes, the canned v2 image whole, flipped or cut, an mqtt_ca certificate, a
 *              /setstainfo JSON, "received=1", ...), a Content-Length (exact, none, larger than
 *              the body: the client then stalls, smaller: the rest is never sent, or huge), and
 *              what the client does now: send it all in pieces and end, send some and stay, send
 *              some and close
 *     feed     the next piece of a request still sending (piece size from the input)
 *     finish   the rest of a request's body (it ends if the Content-Length was met)
 *     close    a client goes away (on_abort: reset or idle timeout)
 *     at       an AT command on the AT port (AT+WEBSERVER forms, AT+CWMODE, AT+RST, ...)
 *     poll     time passes (5 ms to 65 s), the module polled on the way
 * A requested restart (AT+RST) boots the module again over the same flash, as atota-sim does. At
 * the end the clients still sending time out, and the module is powered on again.
 *
 * Invariants (abort() on failure, which libFuzzer reports):
 * - the port's contract (fake_httpd.h): a request is answered at most once, only while open;
 * - every request the core got is answered by the core (never the port's own 500 after on_end),
 *   or aborted by its client, or dropped with the server; its status is one the endpoints send,
 *   404/405 (302 with the captive portal) exactly for unknown paths and wrong methods;
 * - the AT port writes only whole lines ("\r\n"-terminated, printable ASCII) between two steps;
 *   every "+WEBSERVERRSP:3" is followed by one ":4" or ":5" before the next ":3" (a reset ends an
 *   upload without a word), and there are as many ":4" as /setotadata requests answered 200;
 * - after the final power-on the module boots, the running slot's image verifies on flash, and it
 *   is v1 or an app some /setotadata answered 200 for.
 */
#define FAKE_HTTPD_ABORT_ON_FAILURE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cmd/module.h"
#include "core/fmt/image.h"
#include "core/proto/iot.h"
#include "port/posix/flash_sim.h"
#include "tests/support/fake_httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WEB_MAX_INPUT (4u << 10) /* the replay feeds whole flash images: the start is enough */
#define MAX_OPS       48u
#define BODY_MAX      8192u
#define AT_LINE_MAX   512u
#define PASSWORD      "s3cret-pw"
#define V1_VERSION    "v4.1.0.0"
#define V2_VERSION    "v4.2.0.0"
#define PROFILE       "esp32-wroom-32"
#define MQTT_CA       0x3D000u /* mqtt_ca's row in at_customize.bin: 8 KB */
#define SECTORS       (ATOTA_FLASH_SIM_DEFAULT_SIZE / ATOTA_FLASH_SECTOR_SIZE)

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_webserver: invariant failed: %s (line %d)\n", #c, __LINE__);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* FUZZ_WEBSERVER_TRACE=1 in the environment: each answer, AT line and the final boot on stderr
 * (to see what a seed or a crash input does). */
static bool trace(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("FUZZ_WEBSERVER_TRACE") != NULL;
    return on;
}

/* ---- the input ------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t n, i;
} input_t;

static bool input_more(const input_t *in)
{
    return in->i < in->n;
}

static uint8_t take(input_t *in)
{
    return in->i < in->n ? in->p[in->i++] : 0;
}

static uint16_t take16(input_t *in)
{
    uint16_t hi = take(in);
    return (uint16_t)(hi << 8 | take(in));
}

/* Up to want bytes of the input (fewer at its end). */
static size_t take_bytes(input_t *in, size_t want, const uint8_t **out)
{
    size_t n = in->n - in->i < want ? in->n - in->i : want;
    *out = in->p + in->i;
    in->i += n;
    return n;
}

/* ---- the flash: the factory state, and a wrapper that notes which sectors change ----------- */

typedef struct {
    const atota_flash_t *inner;
    atota_flash_t outer;
    uint8_t dirty[SECTORS];
    bool written; /* a write or an erase since the dirty sectors were put back */
} tracked_flash_t;

static void mark(tracked_flash_t *t, uint32_t addr, uint32_t len)
{
    t->written = true;
    if (!len || addr >= ATOTA_FLASH_SIM_DEFAULT_SIZE)
        return;
    uint32_t end = addr + len > ATOTA_FLASH_SIM_DEFAULT_SIZE || addr + len < addr
                       ? ATOTA_FLASH_SIM_DEFAULT_SIZE
                       : addr + len;
    for (uint32_t s = addr / ATOTA_FLASH_SECTOR_SIZE; s <= (end - 1) / ATOTA_FLASH_SECTOR_SIZE; s++)
        t->dirty[s] = 1;
}

static atota_err_t tracked_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    tracked_flash_t *t = ctx;
    return atota_flash_read(t->inner, addr, buf, len);
}

static atota_err_t tracked_write(void *ctx, uint32_t addr, const void *data, uint32_t len)
{
    tracked_flash_t *t = ctx;
    mark(t, addr, len);
    return atota_flash_write(t->inner, addr, data, len);
}

static atota_err_t tracked_erase(void *ctx, uint32_t addr, uint32_t len)
{
    tracked_flash_t *t = ctx;
    mark(t, addr, len);
    return atota_flash_erase(t->inner, addr, len);
}

static const atota_flash_ops_t tracked_ops = {tracked_read, tracked_write, tracked_erase};

/* ---- the host: the clock, the restart request, the AT port's lines ------------------------- */

typedef struct {
    uint64_t now;
    bool restart;
    bool captive_portal;
    char line[AT_LINE_MAX];
    size_t line_len;
    bool upload_live; /* a +WEBSERVERRSP:3 waits for its :4 or :5 */
    unsigned rsp4;
} host_t;

static uint64_t host_now(void *ctx)
{
    return ((host_t *)ctx)->now;
}

static void host_log(void *ctx, const char *line)
{
    (void)ctx, (void)line;
}

static void host_restart(void *ctx)
{
    ((host_t *)ctx)->restart = true;
}

/* One whole line of the AT port, without its "\r\n". */
static void check_line(host_t *h, const char *line, size_t len)
{
    if (trace())
        fprintf(stderr, "  AT| %.*s\n", (int)len, line);
    static const char rsp[] = "+WEBSERVERRSP:";
    if (len < sizeof rsp - 1 || memcmp(line, rsp, sizeof rsp - 1) != 0)
        return;
    CHECK(len == sizeof rsp && line[len - 1] >= '1' && line[len - 1] <= '5');
    char n = line[len - 1];
    if (n == '3') {
        CHECK(!h->upload_live);
        h->upload_live = true;
    } else if (n == '4' || n == '5') {
        CHECK(h->upload_live);
        h->upload_live = false;
        h->rsp4 += n == '4';
    }
}

static void host_write(void *ctx, const void *data, size_t len)
{
    host_t *h = ctx;
    const char *p = data;
    CHECK(data != NULL && len > 0);
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        bool after_cr = h->line_len && h->line[h->line_len - 1] == '\r';
        if (c == '\n') {
            CHECK(after_cr); /* lines end in "\r\n" */
            check_line(h, h->line, h->line_len - 1);
            h->line_len = 0;
            continue;
        }
        CHECK(!after_cr);                             /* a CR only before its LF */
        CHECK(c == '\r' || (c >= 0x20 && c <= 0x7E)); /* printable ASCII */
        CHECK(h->line_len < sizeof h->line - 1);      /* no runaway line */
        h->line[h->line_len++] = c;
    }
}

/* Between two steps the AT port has written whole lines only. */
static void check_between_steps(const host_t *h)
{
    CHECK(h->line_len == 0);
}

/* ---- the firmware: v1 on the flash, the canned bodies -------------------------------------- */

typedef struct {
    uint8_t *flash; /* the factory flash after its first boot */
    uint8_t *v1, *v2, *other_chip;
    size_t v1_len, v2_len, other_chip_len;
} firmware_t;

static uint8_t *build_app(uint16_t chip, const char *version, size_t payload_len,
                          const char *config, size_t *len)
{
    uint8_t payload[3072];
    uint32_t x = 88172645u ^ (uint32_t)payload_len;
    for (size_t i = 0; i < payload_len && i < sizeof payload; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        payload[i] = (uint8_t)x;
    }
    atota_image_build_segment_t seg[2];
    memset(seg, 0, sizeof seg);
    uint8_t block[ATOTA_FWCONFIG_MAX_LEN];
    unsigned nseg = 0;
    if (config) {
        atota_fwconfig_t c;
        atota_fwconfig_defaults(&c);
        char kv[256];
        snprintf(kv, sizeof kv, "%s", config);
        for (char *save = NULL, *line = strtok_r(kv, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save))
            CHECK(atota_fwconfig_set(&c, line, NULL) == ATOTA_OK);
        size_t n = atota_fwconfig_encode(&c, block, sizeof block);
        CHECK(n > 0);
        seg[nseg].data = block;
        seg[nseg++].len = (uint32_t)n;
    }
    seg[nseg].data = payload;
    seg[nseg++].len = (uint32_t)(payload_len < sizeof payload ? payload_len : sizeof payload);
    atota_image_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.chip_id = chip;
    o.version = version;
    o.project_name = "esp-at";
    o.time = "08:21:45";
    o.date = "May  8 2024";
    o.idf_ver = "v5.4.4";
    o.segments = seg;
    o.segment_count = nseg;
    size_t cap = atota_image_build_size(&o);
    uint8_t *buf = cap ? malloc(cap) : NULL;
    CHECK(buf != NULL);
    CHECK(atota_image_build(&o, buf, cap, len, NULL) == ATOTA_OK);
    return buf;
}

static atota_wifi_ap_t access_point(const char *ssid, const char *password, int8_t rssi,
                                    uint8_t ecn)
{
    atota_wifi_ap_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.ssid, sizeof a.ssid, "%s", ssid);
    snprintf(a.password, sizeof a.password, "%s", password);
    a.rssi = rssi;
    a.ecn = ecn;
    a.channel = 6;
    return a;
}

/* The virtual access points: the default one, an open one, a hidden one. */
static atota_wifi_ap_t aps[3];

static atota_module_opts_t module_opts(void)
{
    if (!aps[0].ssid[0]) {
        aps[0] = access_point("atota", "atota-pass", -40, 3);
        aps[1] = access_point("open/net", "", -60, 0);
        aps[2] = access_point("", "hidden-pass", -50, 3);
    }
    atota_module_opts_t o;
    memset(&o, 0, sizeof o);
    o.profile_name = PROFILE;
    o.aps = aps;
    o.ap_count = sizeof aps / sizeof aps[0];
    return o;
}

/* The factory flash and images for one firmware configuration (0-3, byte 0's bits), built once:
 * the profile's tables, at_customize.bin with mqtt_ca (F1 F1 "old-ca" in it), v1 in ota_0, and
 * the first boot's writes (otadata, NVS). */
static const firmware_t *firmware(unsigned variant)
{
    static firmware_t fw[4];
    firmware_t *f = &fw[variant];
    if (f->flash)
        return f;
    char config[128] = "";
    if (variant & 1)
        strcat(config, "web_password=" PASSWORD "\n");
    if (variant & 2)
        strcat(config, "web_captive_portal=on\n");
    const char *cfg = config[0] ? config : NULL;
    f->v1 = build_app(ATOTA_CHIP_ESP32, V1_VERSION, 2048, cfg, &f->v1_len);
    f->v2 = build_app(ATOTA_CHIP_ESP32, V2_VERSION, 2560, cfg, &f->v2_len);
    f->other_chip = build_app(5 /* ESP32-C3 */, V2_VERSION, 1024, cfg, &f->other_chip_len);

    atota_profile_t profile;
    CHECK(atota_profile_load(PROFILE, &profile, NULL) == ATOTA_OK);
    atota_partition_table_t *ac = &profile.at_customize;
    CHECK(ac->count < ATOTA_PT_MAX_ENTRIES);
    atota_partition_t *ca = &ac->entries[ac->count++];
    memset(ca, 0, sizeof *ca);
    snprintf(ca->name, sizeof ca->name, "mqtt_ca");
    ca->type = 0x40;
    ca->subtype = 27;
    ca->offset = MQTT_CA;
    ca->size = 0x2000;

    atota_flash_sim_t *sim = NULL;
    atota_flash_sim_opts_t so = {.size = ATOTA_FLASH_SIM_DEFAULT_SIZE, .strict = true};
    CHECK(atota_flash_sim_open(&so, &sim, NULL) == ATOTA_OK);
    CHECK(profile.flash_size == ATOTA_FLASH_SIM_DEFAULT_SIZE);
    uint8_t *data = atota_flash_sim_data(sim);
    uint8_t bin[ATOTA_PT_BIN_SIZE];
    CHECK(atota_partition_table_write_bin(&profile.partitions, bin, NULL) == ATOTA_OK);
    memcpy(data + profile.partition_table_offset, bin, sizeof bin);
    CHECK(atota_partition_table_write_bin(ac, bin, NULL) == ATOTA_OK);
    memcpy(data + profile.at_customize_offset, bin, sizeof bin);
    const atota_partition_t *ota0 = atota_partition_find(&profile.partitions, "ota_0");
    CHECK(ota0 && f->v1_len <= ota0->size);
    memcpy(data + ota0->offset, f->v1, f->v1_len);
    memcpy(data + MQTT_CA, "\xF1\xF1old-ca", 8);

    static atota_module_t first; /* large: not on the stack */
    host_t h = {.now = 1000};
    atota_module_host_t host = {.ctx = &h, .now_ms = host_now, .write = host_write};
    atota_module_opts_t mo = module_opts();
    CHECK(atota_module_boot(&first, atota_flash_sim_flash(sim), &host, &mo, NULL) == ATOTA_OK);
    f->flash = malloc(ATOTA_FLASH_SIM_DEFAULT_SIZE);
    CHECK(f->flash != NULL);
    memcpy(f->flash, data, ATOTA_FLASH_SIM_DEFAULT_SIZE);
    atota_flash_sim_close(sim);
    return f;
}

/* ---- the clients ---------------------------------------------------------------------------- */

typedef struct {
    unsigned idx;  /* in the fake port */
    uint8_t *body; /* what the client sends: at most the Content-Length */
    size_t len;    /* bytes of body */
    size_t sent;   /* given so far */
    bool app;      /* POST /setotadata, Object "ota...": an app upload */
    bool checked;  /* its answer was checked */
    bool can_end;  /* Content-Length == len: the body can end (else the client stalls) */
    bool live;     /* the client still sends (not ended, not closed) */
} client_t;

static const char *const methods[] = {
    "GET",    "POST",    "GET", "POST", "GET",   "POST", "PUT",   "HEAD",
    "DELETE", "OPTIONS", "get", "post", "PATCH", "",     "POST ", "G\xC3\x89T",
};

/* The endpoints (cmd_webserver.c's routes: path, method), matched exactly up to '?'. */
static const char *const endpoints[][2] = {
    {"/", "GET"},           {"/getversion", "GET"},
    {"/getstainfo", "GET"}, {"/setstainfo", "POST"},
    {"/getresult", "POST"}, {"/getaprecord", "GET"},
    {"/getotainfo", "GET"}, {"/setotadata", "POST"},
};

/* The URIs a request picks from: the endpoints, with a query, and paths that are none. */
static const char *const uris[] = {
    "/",
    "/getversion",
    "/getstainfo",
    "/setstainfo",
    "/getresult",
    "/getaprecord",
    "/getotainfo",
    "/setotadata",
    "/setotadata",
    "/setotadata?object=ota",
    "/setstainfo?x",
    "/generate_204",
    "/hotspot-detect.html",
    "/SETOTADATA",
    "/setotadata/",
    "",
};

static const char *const header_names[] = {"Object", ATOTA_WEB_PASSWORD_HEADER, "Content-Digest",
                                           "Repr-Digest", "Content-Type"};

static const char *const objects[] = {"ota",
                                      "ota",
                                      "ota_1",
                                      "mqtt_ca",
                                      "mqtt_ca",
                                      "otadata",
                                      "factory_param",
                                      "OTA",
                                      "MQTT_CA",
                                      "none",
                                      "",
                                      "ota_0",
                                      "mqtt",
                                      "mqtt_ca_and_more_than_sixteen_characters"};

static const char *const json_bodies[] = {
    "{\"ssid_len\":5,\"ssid\":\"atota\",\"password_len\":10,\"password\":\"atota-pass\"}",
    "{\"ssid\":\"atota\",\"password\":\"wrong-pass\"}",
    "{\"ssid\":\"open\\/net\",\"password\":\"\"}",
    "{\"SSID\":\"atota\",\"Password\":\"atota-pass\",\"x\":[1,{\"y\":null},-2.5e3]}",
    "{\"ssid\":\"\",\"password\":\"12345678\"}&udp_port=5000",
    "{\"ssid\":\"atota\",\"password\":\"atota-pass\"}&udp_port=",
    "\xEF\xBB\xBF{\"ssid\":\"\\u0061tota\",\"password\":\"atota-pass\"}",
    "{\"ssid\":\"\\ud83d\\ude00\",\"password\":1}",
};

static const char *const form_bodies[] = {"received=1", "a=b&received=2", "received", ""};

/* A header's value: canned (for its name) or random bytes from the input. */
static void header_value(input_t *in, unsigned name, const uint8_t *body, size_t len, char *out,
                         size_t cap)
{
    uint8_t v = take(in);
    if (!(v & 0x80)) {
        const uint8_t *raw;
        size_t n = take_bytes(in, v % 64u, &raw);
        size_t k = 0;
        for (size_t i = 0; i < n && k + 1 < cap; i++) {
            uint8_t c = raw[i];
            /* an HTTP parser hands over no NUL, CR or LF, and drops leading whitespace */
            if (c == 0 || c == '\r' || c == '\n' || ((c == ' ' || c == '\t') && k == 0))
                c = 'x';
            out[k++] = (char)c;
        }
        out[k] = '\0';
        return;
    }
    uint8_t sha[ATOTA_SHA256_LEN];
    char digest[ATOTA_IOT_DIGEST_VALUE_MAX];
    v &= 0x7F;
    switch (name) {
    case 0:
        snprintf(out, cap, "%s", objects[v % (sizeof objects / sizeof objects[0])]);
        break;
    case 1: {
        static const char *const pw[] = {PASSWORD, "wrong", "", PASSWORD "x", "s3cret"};
        snprintf(out, cap, "%s", pw[v % (sizeof pw / sizeof pw[0])]);
        break;
    }
    case 2:
    case 3:
        atota_sha256(body, len, sha);
        if (v % 5 == 1)
            sha[v % ATOTA_SHA256_LEN] ^= 1; /* a digest of other bytes */
        atota_iot_digest_value(sha, digest);
        if (v % 5 == 2)
            snprintf(out, cap, "sha-512=:AAAA:, %s", digest);
        else if (v % 5 == 3)
            snprintf(out, cap, "sha-256=:not base64:");
        else if (v % 5 == 4)
            snprintf(out, cap, "%.20s", digest); /* cut */
        else
            snprintf(out, cap, "%s", digest);
        break;
    default: {
        static const char *const types[] = {
            "application/octet-stream;charset=UTF-8", "application/json",
            "application/x-www-form-urlencoded;charset=UTF-8", "text/plain"};
        snprintf(out, cap, "%s", types[v % (sizeof types / sizeof types[0])]);
        break;
    }
    }
}

/* The body a client will send, into buf (BODY_MAX). */
static size_t make_body(input_t *in, const firmware_t *fw, uint8_t *buf)
{
    uint8_t kind = take(in);
    size_t n = 0;
    const uint8_t *raw;
    switch (kind % 12u) {
    case 0:
    case 1: /* random bytes */
        n = take_bytes(in, take16(in) % 1024u, &raw);
        memcpy(buf, raw, n);
        break;
    case 2: /* v2, whole */
    case 3:
        memcpy(buf, fw->v2, n = fw->v2_len);
        break;
    case 4: { /* v2 with a byte changed */
        memcpy(buf, fw->v2, n = fw->v2_len);
        uint16_t at = take16(in);
        buf[at % n] ^= (uint8_t)(take(in) | 1);
        break;
    }
    case 5: /* v2 cut short */
        n = take16(in) % fw->v2_len;
        memcpy(buf, fw->v2, n);
        break;
    case 6: /* v2 and trailing bytes */
        memcpy(buf, fw->v2, n = fw->v2_len);
        n += take_bytes(in, take(in) % 64u, &raw);
        memcpy(buf + fw->v2_len, raw, n - fw->v2_len);
        break;
    case 7: /* a certificate for mqtt_ca, its length from the input */
        n = 64u + take16(in) % 8192u;
        if (n > BODY_MAX)
            n = BODY_MAX;
        memset(buf, 'C', n);
        memcpy(buf, "\xF1\xF1new-ca\n", 9);
        break;
    case 8: {
        const char *j = json_bodies[take(in) % (sizeof json_bodies / sizeof json_bodies[0])];
        memcpy(buf, j, n = strlen(j));
        break;
    }
    case 9: {
        const char *f = form_bodies[take(in) % (sizeof form_bodies / sizeof form_bodies[0])];
        memcpy(buf, f, n = strlen(f));
        break;
    }
    case 10: /* the app of another chip */
        memcpy(buf, fw->other_chip, n = fw->other_chip_len);
        break;
    default: /* v1 again */
        memcpy(buf, fw->v1, n = fw->v1_len);
        break;
    }
    return n;
}

/* ---- one input ------------------------------------------------------------------------------ */

typedef struct {
    const firmware_t *fw;
    tracked_flash_t *tracked;   /* the variant's flash */
    const atota_flash_t *flash; /* &tracked->outer */
    bool rebooted;              /* AT+RST booted the module during the input */
    host_t h;
    atota_module_host_t host;
    atota_module_opts_t opts;
    fake_httpd_t web;
    atota_module_t m;
    client_t clients[FAKE_HTTPD_MAX_REQ];
    uint8_t bodies[FAKE_HTTPD_MAX_REQ][BODY_MAX];
    unsigned uploads_ok;                       /* /setotadata answered 200 */
    char versions[FAKE_HTTPD_MAX_REQ + 1][33]; /* the apps that may boot: v1, uploaded ones */
    unsigned nversions;
} run_t;

static void boot(run_t *r)
{
    atota_diag_t d;
    atota_diag_clear(&d);
    r->h.restart = false;
    atota_err_t err = atota_module_boot(&r->m, r->flash, &r->host, &r->opts, &d);
    if (err != ATOTA_OK) {
        fprintf(stderr, "fuzz_webserver: the module no longer boots: %s\n",
                atota_diag_text(&d, err));
        abort();
    }
    r->h.upload_live = false; /* a reset ends an upload without a word */
    check_between_steps(&r->h);
}

/* What the answer to a request must look like, once it is answered. */
static void check_answer(run_t *r, client_t *c)
{
    const fake_httpd_req_t *q = &r->web.reqs[c->idx];
    if (q->state != FAKE_HTTPD_ANSWERED || c->checked)
        return;
    c->checked = true;
    if (trace())
        fprintf(stderr, "  %s %s -> %u %.60s\n", q->method, q->path, q->status,
                (const char *)q->body);
    CHECK(!q->port_500); /* on_end returned without an answer */
    unsigned s = q->status;
    CHECK(s == 0 || s == 200 || s == 302 || s == 400 || s == 401 || s == 404 || s == 405 ||
          s == 500);
    CHECK(q->body != NULL && (q->len == 0 || s != 0));
    const char *method = NULL; /* the endpoint's, NULL: no endpoint */
    for (unsigned i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++)
        if (strcmp(endpoints[i][0], q->path) == 0)
            method = endpoints[i][1];
    bool known = method != NULL;
    bool method_ok = known && strcmp(method, q->method) == 0;
    unsigned refused = r->h.captive_portal ? 302 : known ? 405 : 404;
    CHECK((s == 302) == (r->h.captive_portal && !method_ok));
    if (!method_ok)
        CHECK(s == refused);
    else
        CHECK(s != 404 && s != 405);
    CHECK(s != 0 || (method_ok && strcmp(q->path, "/setotadata") == 0));
    CHECK(s != 401 || strcmp(q->path, "/setotadata") == 0);
    if (strcmp(q->path, "/setotadata") == 0 && method_ok && s == 200) {
        r->uploads_ok++;
        if (c->app) {
            atota_image_info_t info;
            CHECK(atota_image_parse(c->body, c->len, NULL, &info, NULL) == ATOTA_OK);
            CHECK(info.has_app_desc);
            CHECK(r->nversions < sizeof r->versions / sizeof r->versions[0]);
            snprintf(r->versions[r->nversions++], sizeof r->versions[0], "%s",
                     info.app_desc.version);
        }
    }
}

/* Gives the next n body bytes of c (within what it has). */
static void feed(run_t *r, client_t *c, size_t n)
{
    if (n > c->len - c->sent)
        n = c->len - c->sent;
    if (n) {
        fake_httpd_body(&r->web, c->idx, c->body + c->sent, n);
        c->sent += n;
    }
    if (c->sent == c->len && c->can_end) {
        fake_httpd_end(&r->web, c->idx);
        c->live = false;
    }
    check_answer(r, c);
}

static void client_close(run_t *r, client_t *c, atota_err_t err)
{
    fake_httpd_abort(&r->web, c->idx, err);
    c->live = false;
    check_answer(r, c);
}

static size_t piece_size(uint8_t b)
{
    static const size_t sizes[] = {1, 3, 16, 100, 255, 319, 320, 321, 1024, 4096, BODY_MAX, 7};
    return sizes[b % (sizeof sizes / sizeof sizes[0])];
}

static void op_open(run_t *r, input_t *in)
{
    if (!r->web.started || r->web.count >= FAKE_HTTPD_MAX_REQ)
        return; /* connection refused */
    unsigned k = r->web.count;
    client_t *c = &r->clients[k];
    memset(c, 0, sizeof *c);
    c->body = r->bodies[k];

    const char *method = methods[take(in) % (sizeof methods / sizeof methods[0])];
    char uri[80];
    uint8_t p = take(in);
    if (p < 0xC0) {
        snprintf(uri, sizeof uri, "%s", uris[p % (sizeof uris / sizeof uris[0])]);
    } else {
        const uint8_t *raw;
        size_t n = take_bytes(in, p % 48u, &raw);
        for (size_t i = 0; i < n; i++)
            uri[i] = raw[i] ? (char)raw[i] : '/';
        uri[n] = '\0';
    }

    c->len = make_body(in, r->fw, c->body);
    unsigned nheaders = take(in) % 5u;
    char lines[4][600];
    const char *headers[5];
    for (unsigned i = 0; i < nheaders; i++) {
        unsigned name = take(in) % (sizeof header_names / sizeof header_names[0]);
        char value[520];
        header_value(in, name, c->body, c->len, value, sizeof value);
        snprintf(lines[i], sizeof lines[i], "%s: %s", header_names[name], value);
        headers[i] = lines[i];
    }
    headers[nheaders] = NULL;

    int64_t cl;
    uint8_t mode = take(in);
    switch (mode % 8u) {
    case 4: /* no Content-Length: no body (a chunked one the port refuses itself) */
        cl = -1;
        c->len = 0;
        break;
    case 5: /* more than the client has: it stalls after its body */
        cl = (int64_t)c->len + 1 + take16(in);
        break;
    case 6: /* less: the rest is never sent */
        cl = (int64_t)(take16(in) % (c->len + 1));
        c->len = (size_t)cl;
        break;
    case 7: {
        static const int64_t huge[] = {0, 0x7FFFFFFF, 0x180001, 0x2001, 0x100000000, 320};
        cl = huge[take(in) % (sizeof huge / sizeof huge[0])];
        if ((uint64_t)cl < c->len)
            c->len = (size_t)cl;
        break;
    }
    default:
        cl = (int64_t)c->len;
        break;
    }
    c->can_end = cl < 0 || (uint64_t)cl == c->len;
    c->live = true;

    /* the Object header the core will read: fake_httpd's first match, case-insensitive */
    const char *object = NULL;
    for (unsigned i = 0; i < nheaders && !object; i++)
        if (strncasecmp(headers[i], "Object:", 7) == 0)
            object = headers[i] + 7 + strspn(headers[i] + 7, " \t");
    c->app = object && strncmp(object, "ota", 3) == 0;

    c->idx = fake_httpd_open(&r->web, method, uri, headers, cl);
    CHECK(c->idx == k);
    check_answer(r, c);

    /* what the client does now */
    uint8_t then = take(in);
    size_t piece = piece_size(then >> 2);
    switch (then & 3u) {
    case 0: /* all of it */
        while (c->live && c->sent < c->len)
            feed(r, c, piece);
        if (c->live)
            feed(r, c, 0);
        break;
    case 1: /* some, then it goes away */
        for (unsigned n = take(in) % 4u; n && c->sent < c->len; n--)
            feed(r, c, piece);
        if (c->live)
            client_close(r, c, take(in) & 1 ? ATOTA_ERR_NET_TIMEOUT : ATOTA_ERR_NET_RESET);
        break;
    default: /* some, and more later */
        if ((then & 3u) == 2 && c->len)
            feed(r, c, piece);
        else if (c->len == 0)
            feed(r, c, 0);
        break;
    }
}

/* The k-th client that still sends (k from the input), or NULL. */
static client_t *live_client(run_t *r, input_t *in)
{
    unsigned live[FAKE_HTTPD_MAX_REQ], n = 0;
    for (unsigned i = 0; i < r->web.count; i++) {
        client_t *c = &r->clients[i];
        if (c->live && r->web.reqs[i].state == FAKE_HTTPD_DROPPED)
            c->live = false; /* the server closed it */
        if (c->live)
            live[n++] = i;
    }
    uint8_t k = take(in);
    return n ? &r->clients[live[k % n]] : NULL;
}

static const char *const at_commands[] = {
    "AT+WEBSERVER=1,80,25\r\n",
    "AT+WEBSERVER=0\r\n",
    "AT+WEBSERVER=1,80,21\r\n",
    "AT+WEBSERVER=0,8080,60\r\n",
    "AT+WEBSERVER=1,70000,60\r\n",
    "AT+WEBSERVER=1,80,20\r\n",
    "AT+WEBSERVER=1\r\n",
    "AT+WEBSERVER=2,80,25\r\n",
    "AT+WEBSERVER=\"1\",80,25\r\n",
    "AT+CWMODE=3\r\n",
    "AT+CWMODE=1\r\n",
    "AT+CWMODE=2\r\n",
    "AT+CWMODE=0\r\n",
    "AT+CWMODE?\r\n",
    "AT+RST\r\n",
    "AT+CWQAP\r\n",
    "AT+SYSSTORE=0\r\n",
    "ATE0\r\n",
    "AT+GMR\r\n",
    "AT\r\n",
    "AT+CWMODE=3\r\n",
    "AT+WEBSERVER=1,80,25\r\n",
    "AT+CIPSTA?\r\n",
};

static void op_at(run_t *r, input_t *in)
{
    const char *cmd = at_commands[take(in) % (sizeof at_commands / sizeof at_commands[0])];
    atota_module_feed(&r->m, cmd, strlen(cmd));
    if (r->h.restart) {
        boot(r); /* stops the server: the fake drops what was open */
        r->rebooted = true;
    }
}

static void op_poll(run_t *r, input_t *in)
{
    static const uint32_t steps[] = {5, 50, 100, 300, 500, 1000, 5000, 65000};
    uint8_t b = take(in);
    uint64_t end = r->h.now + steps[b % (sizeof steps / sizeof steps[0])];
    while (r->h.now < end) {
        r->h.now += end - r->h.now < 250 ? end - r->h.now : 250;
        atota_module_poll(&r->m);
        check_between_steps(&r->h);
        if (r->h.restart) {
            boot(r);
            r->rebooted = true;
        }
    }
}

static void run_input(run_t *r, input_t *in)
{
    for (unsigned ops = 0; ops < MAX_OPS && input_more(in); ops++) {
        uint8_t op = take(in);
        client_t *c;
        switch (op % 10u) {
        case 0:
        case 1:
        case 2:
            op_open(r, in);
            break;
        case 3:
            if ((c = live_client(r, in)) != NULL)
                feed(r, c, piece_size(take(in)));
            break;
        case 4:
            if ((c = live_client(r, in)) != NULL)
                feed(r, c, c->len);
            break;
        case 5:
            if ((c = live_client(r, in)) != NULL)
                client_close(r, c, op & 0x10 ? ATOTA_ERR_NET_TIMEOUT : ATOTA_ERR_NET_RESET);
            break;
        case 6:
        case 7:
            op_at(r, in);
            break;
        default:
            op_poll(r, in);
            break;
        }
        check_between_steps(&r->h);
    }
    /* the clients still sending time out, then every request has its end */
    for (unsigned i = 0; i < r->web.count; i++) {
        client_t *c = &r->clients[i];
        if (c->live && r->web.reqs[i].state != FAKE_HTTPD_DROPPED)
            client_close(r, c, ATOTA_ERR_NET_TIMEOUT);
        check_answer(r, c);
        fake_httpd_req_state_t s = r->web.reqs[i].state;
        CHECK(s == FAKE_HTTPD_ANSWERED || s == FAKE_HTTPD_ABORTED || s == FAKE_HTTPD_DROPPED);
    }
    CHECK(!atota_webserver_uploading(&r->m));
    CHECK(!r->h.upload_live); /* every upload said how it ended */
    CHECK(r->h.rsp4 == r->uploads_ok);

    /* a power cycle: something boots, it verifies, and it is v1 or an app uploaded. A flash
     * nobody wrote to boots as it did before the input (the boot is deterministic): skipped. */
    r->h.now += 5000;
    atota_module_poll(&r->m);
    if (!r->tracked->written && !r->rebooted)
        return;
    boot(r);
    const atota_partition_t *run = &r->m.boot.partition;
    atota_image_opts_t io;
    memset(&io, 0, sizeof io);
    io.check_chip = true;
    io.chip_id = ATOTA_CHIP_ESP32;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_image_verify_flash(r->flash, run->offset, run->size, &io, NULL, &d);
    if (err != ATOTA_OK) {
        fprintf(stderr, "fuzz_webserver: %s does not verify: %s\n", run->name,
                atota_diag_text(&d, err));
        abort();
    }
    if (trace())
        fprintf(stderr, "  boots %s from %s\n", r->m.boot.app_desc.version, run->name);
    bool known = false;
    for (unsigned i = 0; i < r->nversions; i++)
        known |= strcmp(r->m.boot.app_desc.version, r->versions[i]) == 0;
    if (!known) {
        fprintf(stderr, "fuzz_webserver: %s runs %s, neither v1 nor an upload answered 200\n",
                run->name, r->m.boot.app_desc.version);
        abort();
    }
}

/* A firmware variant's flash and its module just booted (LLVMFuzzerTestOneInput). */
typedef struct {
    atota_flash_sim_t *sim;
    tracked_flash_t flash;
    bool booted;
    atota_module_t module;
} variant_t;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > WEB_MAX_INPUT)
        size = WEB_MAX_INPUT;
    input_t in = {data, size, 0};
    unsigned variant = take(&in) & 3u;
    const firmware_t *fw = firmware(variant);

    /* One flash per firmware variant for every input, its changed sectors put back to the
     * factory bytes (copying 4 MB per input would be most of the work), and the module as it
     * booted from those bytes, copied in instead of booting again: a boot reads all of NVS,
     * and the final power-on and every AT+RST boot for real. r stays where it is, so the
     * pointers the booted module holds (its host, its flash, itself) stay right. */
    static run_t *r;
    static variant_t *variants;
    if (!r) {
        r = calloc(1, sizeof *r);
        variants = calloc(4, sizeof *variants);
        CHECK(r && variants);
    }
    variant_t *v = &variants[variant];
    if (!v->sim) {
        atota_flash_sim_opts_t so = {.size = ATOTA_FLASH_SIM_DEFAULT_SIZE, .strict = true};
        CHECK(atota_flash_sim_open(&so, &v->sim, NULL) == ATOTA_OK);
        memcpy(atota_flash_sim_data(v->sim), fw->flash, ATOTA_FLASH_SIM_DEFAULT_SIZE);
        v->flash.inner = atota_flash_sim_flash(v->sim);
        v->flash.outer.ops = &tracked_ops;
        v->flash.outer.ctx = &v->flash;
        v->flash.outer.size = v->flash.inner->size;
    }
    uint8_t *flash = atota_flash_sim_data(v->sim);
    for (unsigned s = 0; s < SECTORS; s++)
        if (v->flash.dirty[s])
            memcpy(flash + s * ATOTA_FLASH_SECTOR_SIZE, fw->flash + s * ATOTA_FLASH_SECTOR_SIZE,
                   ATOTA_FLASH_SECTOR_SIZE);
    memset(v->flash.dirty, 0, sizeof v->flash.dirty);
    v->flash.written = false;

    /* everything but the bodies' room starts afresh */
    memset(r, 0, offsetof(run_t, bodies));
    memset(&r->uploads_ok, 0, sizeof *r - offsetof(run_t, uploads_ok));
    r->fw = fw;
    r->tracked = &v->flash;
    r->flash = &v->flash.outer;
    r->h.now = 1000;
    r->h.captive_portal = variant & 2u;
    r->host.ctx = &r->h;
    r->host.now_ms = host_now;
    r->host.log = host_log;
    r->host.write = host_write;
    r->host.restart = host_restart;
    r->host.httpd = fake_httpd_port(&r->web);
    r->opts = module_opts();
    snprintf(r->versions[r->nversions++], sizeof r->versions[0], "%s", V1_VERSION);
    if (!v->booted) {
        boot(r);
        CHECK(!v->flash.written); /* the factory flash is the one a boot leaves */
        memcpy(&v->module, &r->m, sizeof r->m);
        v->booted = true;
    } else {
        memcpy(&r->m, &v->module, sizeof r->m);
    }

    run_input(r, &in);
    fake_httpd_clear(&r->web);
    return 0;
}
