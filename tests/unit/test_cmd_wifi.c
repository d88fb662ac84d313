/* The Wi-Fi and TCP/IP status commands (core/cmd/cmd_wifi.c, wifi.c; docs/wifi.md): exact bytes
 * of every command through a real AT engine, the simulated joins with a fake clock, the virtual
 * access points, and the settings kept in NVS across a reboot. */
#include "support/fixture.h"

#include "core/at/at.h"
#include "core/cmd/module.h"
#include "core/cmd/wifi.h"
#include "core/fmt/nvs.h"

#define SIM_SIZE 0x10000u
#define NVS_OFF  0x0u
#define NVS_SIZE 0x6000u

/* The default AP "atota" as the name derives it (wifi.c), and the test module's addresses. */
#define ATOTA_BSSID "ca:bf:f7:9b:ef:80"
#define STA_MAC     "24:0a:c4:12:34:56"
#define AP_MAC      "24:0a:c4:12:34:57"
#define STA_IP      "192.168.48.186" /* net 48 from the name "atota", .186 from the MAC */
#define STA_GW      "192.168.48.1"
#define STA_LL      "fe80::260a:c4ff:fe12:3456"
#define AP_LL       "fe80::260a:c4ff:fe12:3457"
#define JOINED      "WIFI CONNECTED\r\nWIFI GOT IP\r\n"
#define OK          "\r\nOK\r\n"
#define ERROR       "\r\nERROR\r\n"

static const uint8_t base_mac[6] = {0x24, 0x0a, 0xc4, 0x12, 0x34, 0x56};

typedef struct {
    atota_module_t m;
    atota_module_host_t host;
    atota_flash_sim_t *sim;
    const atota_wifi_ap_t *aps;
    unsigned ap_count;
    uint64_t now;
    char out[8192];
    size_t out_len;
} fx_t;

static uint64_t fake_now(void *ctx)
{
    return ((fx_t *)ctx)->now;
}

static void capture(void *ctx, const void *data, size_t len)
{
    fx_t *f = ctx;
    assert_true(f->out_len + len < sizeof f->out);
    memcpy(f->out + f->out_len, data, len);
    f->out_len += len;
    f->out[f->out_len] = '\0';
}

/* Boots the Wi-Fi part of a module over the fixture's flash, as atota_module_boot does: fresh
 * state, the settings from NVS, the commands, then auto-connect. */
static void boot(fx_t *f)
{
    atota_module_t *m = &f->m;
    m->host = &f->host;
    m->flash = atota_flash_sim_flash(f->sim);
    assert_int_equal(atota_nvs_open(&m->nvs, m->flash, NVS_OFF, NVS_SIZE, true, NULL), ATOTA_OK);
    m->nvs_ok = true;
    atota_wifi_init(&m->wifi, f->aps, f->ap_count, base_mac);
    assert_int_equal(atota_wifi_load(&m->wifi, &m->nvs), ATOTA_OK);
    atota_at_init(&m->at, capture, f);
    m->at.echo = false; /* ATE0, as drivers send it: the expected bytes are the responses */
    assert_int_equal(atota_cmd_wifi_register(m), ATOTA_OK);
    f->out_len = 0;
    f->out[0] = '\0';
    atota_wifi_start(m);
}

static fx_t *fx_new_with(const atota_wifi_ap_t *aps, unsigned count)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->host.ctx = f;
    f->host.now_ms = fake_now;
    f->now = 1000;
    f->sim = fx_sim_new(SIM_SIZE);
    f->aps = aps;
    f->ap_count = count;
    f->m.sys.sysstore = 1; /* ESP-AT's default */
    boot(f);
    return f;
}

static fx_t *fx_new(void)
{
    return fx_new_with(NULL, 0);
}

static void fx_free(fx_t *f)
{
    atota_flash_sim_close(f->sim);
    free(f);
}

static void print_escaped(const char *label, const char *s)
{
    print_error("%s \"", label);
    for (; *s; s++) {
        if (*s == '\r')
            print_error("\\r");
        else if (*s == '\n')
            print_error("\\n");
        else
            print_error("%c", *s);
    }
    print_error("\"\n");
}

/* Asserts what was written since the last check, then forgets it. */
static void expect_out(fx_t *f, const char *what, const char *want)
{
    if (strcmp(f->out, want) != 0) {
        print_error("%s: output differs\n", what);
        print_escaped("  expected", want);
        print_escaped("  got     ", f->out);
        fail();
    }
    f->out_len = 0;
    f->out[0] = '\0';
}

static void feed(fx_t *f, const char *line)
{
    atota_at_feed(&f->m.at, line, strlen(line));
    atota_at_feed(&f->m.at, "\r\n", 2);
}

/* One command line and its whole answer. */
static void cmd(fx_t *f, const char *line, const char *want)
{
    feed(f, line);
    expect_out(f, line, want);
}

static void advance(fx_t *f, uint64_t ms)
{
    f->now += ms;
    atota_wifi_poll(&f->m);
}

static void join_default(fx_t *f)
{
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\"", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "join", JOINED OK);
}

static atota_wifi_ap_t make_ap(const char *text)
{
    atota_wifi_ap_t ap;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_wifi_ap_parse(text, &ap, &d);
    if (err != ATOTA_OK) {
        print_error("atota_wifi_ap_parse(%s): %s\n", text, atota_diag_text(&d, err));
        fail();
    }
    return ap;
}

/* --- tests --- */

static void defaults_after_boot(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CWMODE?", "+CWMODE:1\r\n" OK);
    cmd(f, "AT+CWDHCP?", "+CWDHCP:3\r\n" OK);
    cmd(f, "AT+CWAUTOCONN?", "+CWAUTOCONN:1\r\n" OK);
    cmd(f, "AT+CIPMUX?", "+CIPMUX:0\r\n" OK);
    cmd(f, "AT+CIPRECVMODE?", "+CIPRECVMODE:0\r\n" OK);
    cmd(f, "AT+CIPV6?", "+CIPV6:0\r\n" OK);
    cmd(f, "AT+CIPDINFO?", "+CIPDINFO:false\r\n" OK);
    cmd(f, "AT+CIPSTATUS", "STATUS:1\r\n" OK);
    cmd(f, "AT+CIPSTATE?", OK);
    cmd(f, "AT+CWJAP?", "No AP\r\n" OK);
    cmd(f, "AT+CIPSTA?",
        "+CIPSTA:ip:\"0.0.0.0\"\r\n+CIPSTA:gateway:\"0.0.0.0\"\r\n+CIPSTA:netmask:\"0.0.0."
        "0\"\r\n" OK);
    cmd(f, "AT+CIPSTAMAC?", "+CIPSTAMAC:\"" STA_MAC "\"\r\n" OK);
    cmd(f, "AT+CIPAPMAC?", ERROR); /* no softAP in station mode */
    cmd(f, "AT+CIPAP?", ERROR);
    cmd(f, "AT+CIFSR", "+CIFSR:STAIP,\"0.0.0.0\"\r\n+CIFSR:STAMAC,\"" STA_MAC "\"\r\n" OK);
    assert_false(atota_wifi_connected(&f->m.wifi));
    fx_free(f);
}

static void unsupported_forms_are_errors(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    static const char *const lines[] = {
        "AT+CWMODE=?", "AT+CWMODE",    "AT+CWJAP=?",     "AT+CWQAP?",      "AT+CWQAP=1",
        "AT+CWLAP?",   "AT+CWLAPOPT?", "AT+CWLAPOPT",    "AT+CIPSTA",      "AT+CIPSTA=\"1.2.3.4\"",
        "AT+CIPAP",    "AT+CIFSR?",    "AT+CIPSTATUS?",  "AT+CIPSTATE",    "AT+CIPMUX",
        "AT+CIPV6",    "AT+CIPDINFO",  "AT+CIPRECVMODE", "AT+CWAUTOCONN",  "AT+CWDHCP",
        "AT+CWSTATE?", "AT+CIPSTAMAC", "AT+CIPAPMAC",    "AT+CIPSTAMAC=?", "AT+CWFOO",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cmd(f, lines[i], ERROR);
    fx_free(f);
}

static void set_commands_and_their_ranges(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CWMODE=3", OK);
    cmd(f, "AT+CWMODE?", "+CWMODE:3\r\n" OK);
    cmd(f, "AT+CWMODE=4", ERROR);
    cmd(f, "AT+CWMODE=-1", ERROR);
    cmd(f, "AT+CWMODE=\"1\"", ERROR);
    cmd(f, "AT+CWMODE=1,2", ERROR);
    cmd(f, "AT+CWMODE=1,0,1", ERROR);
    cmd(f, "AT+CWMODE=", ERROR);
    cmd(f, "AT+CWMODE=1,0", OK);
    cmd(f, "AT+CWMODE?", "+CWMODE:1\r\n" OK);

    cmd(f, "AT+CWDHCP=0,1", OK);
    cmd(f, "AT+CWDHCP?", "+CWDHCP:2\r\n" OK);
    cmd(f, "AT+CWDHCP=0,3", OK);
    cmd(f, "AT+CWDHCP?", "+CWDHCP:0\r\n" OK);
    cmd(f, "AT+CWDHCP=1,2", OK);
    cmd(f, "AT+CWDHCP?", "+CWDHCP:2\r\n" OK);
    cmd(f, "AT+CWDHCP=2,1", ERROR);
    cmd(f, "AT+CWDHCP=1,4", ERROR);
    cmd(f, "AT+CWDHCP=1", ERROR);

    cmd(f, "AT+CWAUTOCONN=0", OK);
    cmd(f, "AT+CWAUTOCONN?", "+CWAUTOCONN:0\r\n" OK);
    cmd(f, "AT+CWAUTOCONN=2", ERROR);

    cmd(f, "AT+CIPMUX=1", OK);
    cmd(f, "AT+CIPMUX?", "+CIPMUX:1\r\n" OK);
    cmd(f, "AT+CIPMUX=2", ERROR);
    cmd(f, "AT+CIPRECVMODE=1", OK);
    cmd(f, "AT+CIPRECVMODE?", "+CIPRECVMODE:1\r\n" OK);
    cmd(f, "AT+CIPRECVMODE=2", ERROR);
    cmd(f, "AT+CIPV6=1", OK);
    cmd(f, "AT+CIPV6?", "+CIPV6:1\r\n" OK);
    cmd(f, "AT+CIPV6=1,1", ERROR);
    cmd(f, "AT+CIPDINFO=1", OK);
    cmd(f, "AT+CIPDINFO?", "+CIPDINFO:true\r\n" OK);
    cmd(f, "AT+CIPDINFO=\"1\"", ERROR);
    fx_free(f);
}

static void join_succeeds_after_the_join_time_and_busy_meanwhile(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\"", "");
    assert_true(atota_at_busy(&f->m.at));
    cmd(f, "AT", "\r\nbusy p...\r\n");
    cmd(f, "AT+CWJAP?", "\r\nbusy p...\r\n");
    advance(f, ATOTA_WIFI_JOIN_MS - 1);
    expect_out(f, "1 ms before the join ends", "");
    advance(f, 1);
    expect_out(f, "join ends", JOINED OK);
    assert_false(atota_at_busy(&f->m.at));
    assert_true(atota_wifi_connected(&f->m.wifi));

    cmd(f, "AT+CWJAP?", "+CWJAP:\"atota\",\"" ATOTA_BSSID "\",8,-63,0,1,3,0,1\r\n" OK);
    cmd(f, "AT+CIPSTA?",
        "+CIPSTA:ip:\"" STA_IP "\"\r\n+CIPSTA:gateway:\"" STA_GW
        "\"\r\n+CIPSTA:netmask:\"255.255.255.0\"\r\n" OK);
    cmd(f, "AT+CIFSR", "+CIFSR:STAIP,\"" STA_IP "\"\r\n+CIFSR:STAMAC,\"" STA_MAC "\"\r\n" OK);
    cmd(f, "AT+CIPSTATUS", "STATUS:2\r\n" OK);
    cmd(f, "AT+CIPSTATE?", OK);
    /* nothing more happens later */
    advance(f, 10000);
    expect_out(f, "idle", "");
    fx_free(f);
}

static void join_options_are_reported(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\",,0,5,10,1,20,0", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "join", JOINED OK);
    cmd(f, "AT+CWJAP?", "+CWJAP:\"atota\",\"" ATOTA_BSSID "\",8,-63,0,5,10,1,0\r\n" OK);
    /* out of range: <reconn_interval> 0-7200, <listen_interval> 1-100, <jap_timeout> 3-600,
     * <pmf> 0-3, <pci_en> 0-1, at most 9 parameters */
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\",,,7201", ERROR);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\",,,,0", ERROR);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\",,,,,,2", ERROR);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\",,,,,,,4", ERROR);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\",,2", ERROR);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\",,,,,,,1,1", ERROR);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\",\"ca:bf:f7:9b:ef\"", ERROR);
    cmd(f, "AT+CWJAP=\"\",\"atota-pass\"", ERROR);
    cmd(f, "AT+CWJAP=atota,\"atota-pass\"", ERROR);
    cmd(f, "AT+CWJAP=\"0123456789012345678901234567890123\",\"x\"", ERROR);
    cmd(f, "AT+CWJAP=,\"atota-pass\"", ERROR);
    /* none of the refused commands dropped the connection */
    assert_true(atota_wifi_connected(&f->m.wifi));
    fx_free(f);
}

static void join_wrong_password(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CWJAP=\"atota\",\"wrong-pass\"", "");
    cmd(f, "AT+CIPSTATUS", "\r\nbusy p...\r\n");
    advance(f, ATOTA_WIFI_JOIN_MS - 1);
    expect_out(f, "before", "");
    advance(f, 1);
    expect_out(f, "wrong password", "+CWJAP:2\r\n" ERROR);
    cmd(f, "AT+CWJAP?", "No AP\r\n" OK);
    cmd(f, "AT+CIPSTATUS", "STATUS:5\r\n" OK);
    assert_false(atota_wifi_connected(&f->m.wifi));
    /* an empty password against a WPA2 network fails the same way */
    cmd(f, "AT+CWJAP=\"atota\",\"\"", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "empty password", "+CWJAP:2\r\n" ERROR);
    fx_free(f);
}

static void join_unknown_ap(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CWJAP=\"nobody\",\"whatever1\"", "");
    cmd(f, "AT", "\r\nbusy p...\r\n");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "no such AP", "+CWJAP:3\r\n" ERROR);
    cmd(f, "AT+CIPSTATUS", "STATUS:5\r\n" OK);
    /* a BSSID that is not the AP's */
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\",\"ca:bf:f7:9b:ef:81\"", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "wrong bssid", "+CWJAP:3\r\n" ERROR);
    /* the right one, in capitals */
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\",\"CA:BF:F7:9B:EF:80\"", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "right bssid", JOINED OK);
    fx_free(f);
}

static void join_needs_station_mode(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CWMODE=2", OK);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\"", ERROR);
    cmd(f, "AT+CWJAP", ERROR);
    cmd(f, "AT+CWJAP?", ERROR);
    cmd(f, "AT+CWQAP", ERROR);
    cmd(f, "AT+CWLAP", ERROR);
    cmd(f, "AT+CIPSTA?", ERROR);
    cmd(f, "AT+CIPSTAMAC?", ERROR);
    cmd(f, "AT+CIPSTATUS", "STATUS:0\r\n" OK);
    cmd(f, "AT+CIPAP?",
        "+CIPAP:ip:\"192.168.4.1\"\r\n+CIPAP:gateway:\"192.168.4.1\"\r\n"
        "+CIPAP:netmask:\"255.255.255.0\"\r\n" OK);
    cmd(f, "AT+CIPAPMAC?", "+CIPAPMAC:\"" AP_MAC "\"\r\n" OK);
    cmd(f, "AT+CIFSR", "+CIFSR:APIP,\"192.168.4.1\"\r\n+CIFSR:APMAC,\"" AP_MAC "\"\r\n" OK);
    cmd(f, "AT+CWMODE=0", OK);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\"", ERROR);
    cmd(f, "AT+CIFSR", OK);
    cmd(f, "AT+CIPSTATUS", "STATUS:0\r\n" OK);
    cmd(f, "AT+CWMODE=3", OK);
    cmd(f, "AT+CIFSR",
        "+CIFSR:APIP,\"192.168.4.1\"\r\n+CIFSR:APMAC,\"" AP_MAC "\"\r\n+CIFSR:STAIP,\"0.0.0.0\"\r\n"
        "+CIFSR:STAMAC,\"" STA_MAC "\"\r\n" OK);
    join_default(f);
    fx_free(f);
}

static void rejoin_quit_and_reconnect(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CWJAP", ERROR); /* nothing saved yet */
    join_default(f);
    /* joining again drops the current connection first */
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\"", "WIFI DISCONNECT\r\n");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "rejoin", JOINED OK);
    cmd(f, "AT+CWQAP", OK "WIFI DISCONNECT\r\n");
    cmd(f, "AT+CWQAP", OK);
    cmd(f, "AT+CWJAP?", "No AP\r\n" OK);
    cmd(f, "AT+CIPSTATUS", "STATUS:5\r\n" OK);
    cmd(f, "AT+CIPSTA?",
        "+CIPSTA:ip:\"0.0.0.0\"\r\n+CIPSTA:gateway:\"0.0.0.0\"\r\n+CIPSTA:netmask:\"0.0.0."
        "0\"\r\n" OK);
    /* execute: the last configuration */
    cmd(f, "AT+CWJAP", "");
    cmd(f, "AT", "\r\nbusy p...\r\n");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "reconnect", JOINED OK);
    /* both ssid and password omitted: the last configuration too */
    cmd(f, "AT+CWJAP=,", "WIFI DISCONNECT\r\n");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "omitted", JOINED OK);
    /* a failed join after a connection: DISCONNECT, then the error */
    cmd(f, "AT+CWJAP=\"atota\",\"bad-password\"", "WIFI DISCONNECT\r\n");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "failed rejoin", "+CWJAP:2\r\n" ERROR);
    /* the failed configuration is now the last one (ESP-IDF stores it before connecting) */
    cmd(f, "AT+CWJAP", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "exec with the bad password", "+CWJAP:2\r\n" ERROR);
    fx_free(f);
}

static void mode_changes_drop_and_restore_the_station(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    join_default(f);
    cmd(f, "AT+CWMODE=3", OK); /* the station stays */
    assert_true(atota_wifi_connected(&f->m.wifi));
    cmd(f, "AT+CWMODE=2", OK "WIFI DISCONNECT\r\n");
    assert_false(atota_wifi_connected(&f->m.wifi));
    /* back to station: <auto_connect> defaults to 1 and a configuration is saved */
    cmd(f, "AT+CWMODE=1", OK);
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "auto-connect after CWMODE", JOINED);
    assert_true(atota_wifi_connected(&f->m.wifi));
    cmd(f, "AT+CWMODE=0", OK "WIFI DISCONNECT\r\n");
    cmd(f, "AT+CWMODE=1,0", OK);
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "no auto-connect", "");
    cmd(f, "AT+CIPSTATUS", "STATUS:5\r\n" OK);
    /* leaving station mode cancels an auto-connect in progress */
    cmd(f, "AT+CWMODE=2", OK);
    cmd(f, "AT+CWMODE=1", OK);
    cmd(f, "AT+CWMODE=2", OK);
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "cancelled", "");
    fx_free(f);
}

static void several_aps_bssid_and_pci(void **state)
{
    (void)state;
    atota_wifi_ap_t aps[3] = {make_ap("lab:password1"), make_ap("open-net:"), make_ap("other")};
    fx_t *f = fx_new_with(aps, 3);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\"", ""); /* not configured here */
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "default AP absent", "+CWJAP:3\r\n" ERROR);
    cmd(f, "AT+CWJAP=\"lab\",\"password1\",\"9e:47:5b:6d:76:ae\"", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "lab", JOINED OK);
    cmd(f, "AT+CWJAP?", "+CWJAP:\"lab\",\"9e:47:5b:6d:76:ae\",2,-50,0,1,3,0,1\r\n" OK);
    cmd(f, "AT+CIPSTA?",
        "+CIPSTA:ip:\"192.168.174.186\"\r\n+CIPSTA:gateway:\"192.168.174.1\"\r\n"
        "+CIPSTA:netmask:\"255.255.255.0\"\r\n" OK);
    /* <pci_en> 1 refuses open networks: the scan finds no AP that qualifies */
    cmd(f, "AT+CWJAP=\"open-net\",\"\",,1", "WIFI DISCONNECT\r\n");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "pci_en", "+CWJAP:3\r\n" ERROR);
    /* an open network takes any password, and a missing one */
    cmd(f, "AT+CWJAP=\"open-net\",\"anything\"", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "open", JOINED OK);
    cmd(f, "AT+CWJAP=\"other\"", "WIFI DISCONNECT\r\n");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "open, no password", JOINED OK);
    fx_free(f);
}

static void cwlap_lists_and_options(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CWLAP", "+CWLAP:(3,\"atota\",-63,\"" ATOTA_BSSID "\",8,-1,-1,4,4,7,0)\r\n" OK);
    fx_free(f);

    atota_wifi_ap_t aps[3] = {make_ap("open-net:"), make_ap("lab:password1"), make_ap("other")};
    f = fx_new_with(aps, 3);
#define LAP_OPEN  "+CWLAP:(0,\"open-net\",-61,\"9a:40:0b:b7:a8:9e\",9,-1,-1,0,0,7,0)\r\n"
#define LAP_LAB   "+CWLAP:(3,\"lab\",-50,\"9e:47:5b:6d:76:ae\",2,-1,-1,4,4,7,0)\r\n"
#define LAP_OTHER "+CWLAP:(0,\"other\",-61,\"36:ca:aa:e6:97:08\",11,-1,-1,0,0,7,0)\r\n"
    cmd(f, "AT+CWLAP", LAP_OPEN LAP_LAB LAP_OTHER OK);
    /* filters of the set form: ssid, mac, channel */
    cmd(f, "AT+CWLAP=\"lab\"", LAP_LAB OK);
    cmd(f, "AT+CWLAP=\"nobody\"", OK);
    cmd(f, "AT+CWLAP=,\"36:ca:aa:e6:97:08\"", LAP_OTHER OK);
    cmd(f, "AT+CWLAP=,,9", LAP_OPEN OK);
    cmd(f, "AT+CWLAP=\"lab\",\"9e:47:5b:6d:76:ae\",2,0,400,1000", LAP_LAB OK);
    cmd(f, "AT+CWLAP=\"lab\",,15", ERROR);
    cmd(f, "AT+CWLAP=\"lab\",,,2", ERROR);
    cmd(f, "AT+CWLAP=\"lab\",,,,1501", ERROR);
    cmd(f, "AT+CWLAP=\"lab\",\"zz\"", ERROR);
    cmd(f, "AT+CWLAP=1", ERROR);

    /* sorted by RSSI (stable for equal ones), the first five fields */
    cmd(f, "AT+CWLAPOPT=1,31", OK);
    cmd(f, "AT+CWLAP",
        "+CWLAP:(3,\"lab\",-50,\"9e:47:5b:6d:76:ae\",2)\r\n"
        "+CWLAP:(0,\"open-net\",-61,\"9a:40:0b:b7:a8:9e\",9)\r\n"
        "+CWLAP:(0,\"other\",-61,\"36:ca:aa:e6:97:08\",11)\r\n" OK);
    /* only the name and the channel; an RSSI floor */
    cmd(f, "AT+CWLAPOPT=0,0x12,-55", OK);
    cmd(f, "AT+CWLAP", "+CWLAP:(\"lab\",2)\r\n" OK);
    /* authmode mask: open networks only */
    cmd(f, "AT+CWLAPOPT=0,3,-100,1", OK);
    cmd(f, "AT+CWLAP", "+CWLAP:(0,\"open-net\")\r\n+CWLAP:(0,\"other\")\r\n" OK);
    /* WPA2_PSK only (bit 3) */
    cmd(f, "AT+CWLAPOPT=0,2,,8", OK);
    cmd(f, "AT+CWLAP", "+CWLAP:(\"lab\")\r\n" OK);
    /* the defaults come back when omitted */
    cmd(f, "AT+CWLAPOPT=0,2047", OK);
    cmd(f, "AT+CWLAP", LAP_OPEN LAP_LAB LAP_OTHER OK);
    /* ranges */
    cmd(f, "AT+CWLAPOPT=2,31", ERROR);
    cmd(f, "AT+CWLAPOPT=1,2048", ERROR);
    cmd(f, "AT+CWLAPOPT=1,31,-101", ERROR);
    cmd(f, "AT+CWLAPOPT=1,31,41", ERROR);
    cmd(f, "AT+CWLAPOPT=1,31,0,65536", ERROR);
    cmd(f, "AT+CWLAPOPT=1", ERROR);
    cmd(f, "AT+CWLAPOPT=1,31,0,1,1", ERROR);
    fx_free(f);
}

static void ipv6_link_local(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CIPV6=1", OK);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\"", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "join with IPv6", JOINED OK "WIFI GOT IPv6 LL\r\n");
    cmd(f, "AT+CIPSTA?",
        "+CIPSTA:ip:\"" STA_IP "\"\r\n+CIPSTA:gateway:\"" STA_GW
        "\"\r\n+CIPSTA:netmask:\"255.255.255.0\"\r\n+CIPSTA:ip6ll:\"" STA_LL "\"\r\n" OK);
    cmd(f, "AT+CIFSR",
        "+CIFSR:STAIP,\"" STA_IP "\"\r\n+CIFSR:STAIP6LL,\"" STA_LL "\"\r\n+CIFSR:STAMAC,\"" STA_MAC
        "\"\r\n" OK);
    cmd(f, "AT+CWMODE=3", OK);
    cmd(f, "AT+CIPAP?",
        "+CIPAP:ip:\"192.168.4.1\"\r\n+CIPAP:gateway:\"192.168.4.1\"\r\n"
        "+CIPAP:netmask:\"255.255.255.0\"\r\n+CIPAP:ip6ll:\"" AP_LL "\"\r\n" OK);
    fx_free(f);

    char s[40];
    static const uint8_t zeros[6] = {0x02, 0, 0, 0, 0, 0};
    atota_wifi_format_ip6ll(zeros, s);
    fx_expect_text("ip6ll of 02:00:00:00:00:00", s, "fe80::ff:fe00:0");
    static const uint8_t mac[6] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
    atota_wifi_format_ip6ll(mac, s);
    fx_expect_text("ip6ll of 00:00:00:01:00:00", s, "fe80::200:ff:fe01:0");
}

static void dhcp_off_joins_without_an_address(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CWDHCP=0,1", OK);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\"", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "no DHCP", "WIFI CONNECTED\r\n" OK);
    assert_false(atota_wifi_connected(&f->m.wifi));
    cmd(f, "AT+CIPSTATUS", "STATUS:5\r\n" OK);
    cmd(f, "AT+CWJAP?", "+CWJAP:\"atota\",\"" ATOTA_BSSID "\",8,-63,0,1,3,0,1\r\n" OK);
    fx_free(f);
}

static void reboot(fx_t *f)
{
    memset(&f->m.wifi, 0, sizeof f->m.wifi);
    boot(f);
}

static void settings_survive_a_reboot(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    cmd(f, "AT+CWMODE=3", OK);
    cmd(f, "AT+CWDHCP=0,2", OK);
    cmd(f, "AT+CIPMUX=1", OK);
    cmd(f, "AT+CWJAP=\"atota\",\"atota-pass\",,,7,9,1,,0", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "join", JOINED OK);

    reboot(f);
    expect_out(f, "right after boot", "");
    cmd(f, "AT+CWMODE?", "+CWMODE:3\r\n" OK);
    cmd(f, "AT+CWDHCP?", "+CWDHCP:1\r\n" OK);
    cmd(f, "AT+CIPMUX?", "+CIPMUX:0\r\n" OK); /* not a saved setting */
    cmd(f, "AT+CIPSTATUS", "STATUS:5\r\n" OK);
    /* auto-connect: unsolicited, no OK */
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "auto-connect", JOINED);
    assert_true(atota_wifi_connected(&f->m.wifi));
    cmd(f, "AT+CWJAP?", "+CWJAP:\"atota\",\"" ATOTA_BSSID "\",8,-63,0,7,9,1,0\r\n" OK);

    /* auto-connect off: saved whatever AT+SYSSTORE says */
    f->m.sys.sysstore = 0;
    cmd(f, "AT+CWAUTOCONN=0", OK);
    cmd(f, "AT+CWMODE=1", OK); /* not saved with AT+SYSSTORE=0 */
    reboot(f);
    f->m.sys.sysstore = 1;
    cmd(f, "AT+CWAUTOCONN?", "+CWAUTOCONN:0\r\n" OK);
    cmd(f, "AT+CWMODE?", "+CWMODE:3\r\n" OK);
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "no auto-connect", "");
    cmd(f, "AT+CIPSTATUS", "STATUS:1\r\n" OK);
    /* the saved station is still there for AT+CWJAP */
    cmd(f, "AT+CWJAP", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "exec after reboot", JOINED OK);
    fx_free(f);
}

static void sysstore_off_keeps_the_old_station(void **state)
{
    (void)state;
    atota_wifi_ap_t aps[2] = {make_ap("lab:password1"), make_ap("other")};
    fx_t *f = fx_new_with(aps, 2);
    cmd(f, "AT+CWJAP=\"lab\",\"password1\"", "");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "lab", JOINED OK);
    f->m.sys.sysstore = 0;
    cmd(f, "AT+CWJAP=\"other\",\"\"", "WIFI DISCONNECT\r\n");
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "other", JOINED OK);
    reboot(f);
    advance(f, ATOTA_WIFI_JOIN_MS);
    expect_out(f, "auto-connect", JOINED);
    cmd(f, "AT+CWJAP?", "+CWJAP:\"lab\",\"9e:47:5b:6d:76:ae\",2,-50,0,1,3,0,1\r\n" OK);
    fx_free(f);
}

static void save_load_round_trip(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    const atota_flash_t *flash = atota_flash_sim_flash(sim);
    atota_nvs_t nvs;
    assert_int_equal(atota_nvs_open(&nvs, flash, NVS_OFF, NVS_SIZE, true, NULL), ATOTA_OK);

    atota_wifi_t a, b;
    atota_wifi_init(&a, NULL, 0, base_mac);
    a.mode = 2;
    a.autoconn = 0;
    a.dhcp = 1;
    a.has_saved = true;
    strcpy(a.saved_ssid, "caf\xc3\xa9 \"net\", 32 bytes long....");
    strcpy(a.saved_password, "0123456789012345678901234567890123456789012345678901234567890123");
    a.pci_en = 1;
    a.reconn_interval = 7200;
    a.listen_interval = 100;
    a.scan_mode = 1;
    a.pmf = 3;
    assert_int_equal(atota_wifi_save(&a, &nvs), ATOTA_OK);

    /* saving unchanged settings writes nothing */
    uint64_t ops = fx_mutating_ops(sim);
    assert_int_equal(atota_wifi_save(&a, &nvs), ATOTA_OK);
    assert_int_equal(fx_mutating_ops(sim), ops);

    atota_nvs_t nvs2;
    assert_int_equal(atota_nvs_open(&nvs2, flash, NVS_OFF, NVS_SIZE, false, NULL), ATOTA_OK);
    atota_wifi_init(&b, NULL, 0, base_mac);
    assert_int_equal(atota_wifi_load(&b, &nvs2), ATOTA_OK);
    assert_int_equal(b.mode, 2);
    assert_int_equal(b.autoconn, 0);
    assert_int_equal(b.dhcp, 1);
    assert_true(b.has_saved);
    fx_expect_text("ssid", b.saved_ssid, a.saved_ssid);
    fx_expect_text("password", b.saved_password, a.saved_password);
    assert_int_equal(b.pci_en, 1);
    assert_int_equal(b.reconn_interval, 7200);
    assert_int_equal(b.listen_interval, 100);
    assert_int_equal(b.scan_mode, 1);
    assert_int_equal(b.pmf, 3);

    /* forgetting the station erases its keys */
    a.has_saved = false;
    assert_int_equal(atota_wifi_save(&a, &nvs2), ATOTA_OK);
    atota_wifi_init(&b, NULL, 0, base_mac);
    assert_int_equal(atota_wifi_load(&b, &nvs2), ATOTA_OK);
    assert_false(b.has_saved);

    /* an empty partition: the defaults */
    assert_int_equal(atota_nvs_erase_all(&nvs2), ATOTA_OK);
    atota_wifi_init(&b, NULL, 0, base_mac);
    assert_int_equal(atota_wifi_load(&b, &nvs2), ATOTA_OK);
    assert_int_equal(b.mode, 1);
    assert_int_equal(b.autoconn, 1);
    assert_int_equal(b.dhcp, 3);
    assert_false(b.has_saved);
    atota_flash_sim_close(sim);
}

static void ap_parse_and_derivation(void **state)
{
    (void)state;
    atota_wifi_ap_t ap;
    atota_diag_t d;

    ap = make_ap("atota:atota-pass");
    fx_expect_text("ssid", ap.ssid, "atota");
    fx_expect_text("password", ap.password, "atota-pass");
    assert_int_equal(ap.ecn, ATOTA_WIFI_ECN_WPA2_PSK);
    char mac[18];
    atota_wifi_format_mac(ap.bssid, mac);
    fx_expect_text("bssid", mac, ATOTA_BSSID);
    assert_int_equal(ap.channel, 8);
    assert_int_equal(ap.rssi, -63);

    /* the default AP is the same as --ap atota:atota-pass */
    atota_wifi_t w;
    atota_wifi_init(&w, NULL, 0, NULL);
    assert_int_equal(w.ap_count, 1);
    assert_memory_equal(&w.aps[0], &ap, sizeof ap);
    atota_wifi_format_mac(w.sta_mac, mac);
    fx_expect_text("default base MAC", mac, "24:0a:c4:00:00:01");
    atota_wifi_format_mac(w.ap_mac, mac);
    fx_expect_text("softAP MAC", mac, "24:0a:c4:00:00:02");
    static const uint8_t carry[6] = {0x24, 0x0a, 0xc4, 0x00, 0xff, 0xff};
    atota_wifi_init(&w, NULL, 0, carry);
    atota_wifi_format_mac(w.ap_mac, mac);
    fx_expect_text("softAP MAC with carry", mac, "24:0a:c4:01:00:00");

    /* the password is everything after the first ':' */
    ap = make_ap("lab:pass:word:1");
    fx_expect_text("ssid", ap.ssid, "lab");
    fx_expect_text("password with colons", ap.password, "pass:word:1");
    /* "\:" and "\\" in the name */
    ap = make_ap("a\\:b\\\\c:12345678");
    fx_expect_text("escaped ssid", ap.ssid, "a:b\\c");
    fx_expect_text("password", ap.password, "12345678");
    /* open networks */
    ap = make_ap("cafe:");
    assert_int_equal(ap.ecn, ATOTA_WIFI_ECN_OPEN);
    fx_expect_text("open password", ap.password, "");
    ap = make_ap("cafe");
    assert_int_equal(ap.ecn, ATOTA_WIFI_ECN_OPEN);
    /* 64 hex digits: a raw PSK */
    ap = make_ap("hex:0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef");
    assert_int_equal(ap.ecn, ATOTA_WIFI_ECN_WPA2_PSK);
    ap = make_ap("0123456789012345678901234567890\\::12345678"); /* 32 bytes */
    assert_int_equal(strlen(ap.ssid), 32);

    static const char *const bad[] = {
        "",
        ":password",
        "short:1234567",
        "long:01234567890123456789012345678901234567890123456789012345678901234",
        "nothex:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
        "012345678901234567890123456789012:12345678",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        atota_diag_clear(&d);
        atota_err_t err = atota_wifi_ap_parse(bad[i], &ap, &d);
        if (err != ATOTA_ERR_INVALID_ARG || d.msg[0] == '\0') {
            print_error("atota_wifi_ap_parse(\"%s\"): expected INVALID_ARG with a message, got %s "
                        "\"%s\"\n",
                        bad[i], atota_err_name(err), d.msg);
            fail();
        }
    }
    assert_int_equal(atota_wifi_ap_parse(NULL, &ap, NULL), ATOTA_ERR_INVALID_ARG);

    /* MAC text */
    uint8_t m6[6];
    assert_true(atota_wifi_parse_mac("aA:00:ff:12:34:5b", m6));
    atota_wifi_format_mac(m6, mac);
    fx_expect_text("mac round trip", mac, "aa:00:ff:12:34:5b");
    assert_false(atota_wifi_parse_mac("aa:00:ff:12:34", m6));
    assert_false(atota_wifi_parse_mac("aa-00-ff-12-34-5b", m6));
    assert_false(atota_wifi_parse_mac("aa:00:ff:12:34:5g", m6));
    char ip[16];
    static const uint8_t ip4[4] = {255, 0, 10, 100};
    atota_wifi_format_ip(ip4, ip);
    fx_expect_text("ip", ip, "255.0.10.100");
}

static void ap_list_is_capped(void **state)
{
    (void)state;
    atota_wifi_ap_t aps[ATOTA_WIFI_MAX_APS + 2];
    for (unsigned i = 0; i < ATOTA_WIFI_MAX_APS + 2; i++) {
        char name[16];
        snprintf(name, sizeof name, "ap%u:", i);
        aps[i] = make_ap(name);
    }
    atota_wifi_t w;
    atota_wifi_init(&w, aps, ATOTA_WIFI_MAX_APS + 2, base_mac);
    assert_int_equal(w.ap_count, ATOTA_WIFI_MAX_APS);
    fx_expect_text("last kept", w.aps[ATOTA_WIFI_MAX_APS - 1].ssid, "ap15");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_after_boot),
        cmocka_unit_test(unsupported_forms_are_errors),
        cmocka_unit_test(set_commands_and_their_ranges),
        cmocka_unit_test(join_succeeds_after_the_join_time_and_busy_meanwhile),
        cmocka_unit_test(join_options_are_reported),
        cmocka_unit_test(join_wrong_password),
        cmocka_unit_test(join_unknown_ap),
        cmocka_unit_test(join_needs_station_mode),
        cmocka_unit_test(rejoin_quit_and_reconnect),
        cmocka_unit_test(mode_changes_drop_and_restore_the_station),
        cmocka_unit_test(several_aps_bssid_and_pci),
        cmocka_unit_test(cwlap_lists_and_options),
        cmocka_unit_test(ipv6_link_local),
        cmocka_unit_test(dhcp_off_joins_without_an_address),
        cmocka_unit_test(settings_survive_a_reboot),
        cmocka_unit_test(sysstore_off_keeps_the_old_station),
        cmocka_unit_test(save_load_round_trip),
        cmocka_unit_test(ap_parse_and_derivation),
        cmocka_unit_test(ap_list_is_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
