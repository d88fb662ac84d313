/* The softAP commands (core/cmd/cmd_softap.c, wifi.c, wifi_nvs.c; docs/wifi.md "The softAP"):
 * the exact AT-port bytes of AT+CWSAP and AT+CWLIF on a whole booted module, ESP-IDF's default
 * configuration, every limit, and the configuration across reboots with AT+SYSSTORE 1 and 0 and
 * after AT+RESTORE. */
#include "core/cmd/module.h"
#include "core/cmd/wifi.h"
#include "core/fmt/nvs.h"
#include "support/app_config.h"
#include "support/capture_host.h"
#include "support/fixture.h"

#define OK    "\r\nOK\r\n"
#define ERROR "\r\nERROR\r\n"
/* the esp32-wroom-32 module's softAP MAC (module.c derives the base MAC from the profile) and
 * the default SSID ESP-IDF makes of its last three bytes */
#define AP_MAC       "24:0a:c4:cc:33:ed"
#define DEFAULT_SSID "ESP_CC33ED"
#define DEFAULT_AP   "+CWSAP:\"" DEFAULT_SSID "\",\"\",1,0,10,0\r\n"

typedef struct {
    atota_profile_t profile;
    atota_flash_sim_t *sim;
    fx_host_state_t hs;
    atota_module_host_t host;
    atota_module_t m;
} rig_t;

/* A module as `atota flash create --module esp32-wroom-32` leaves it, booted, echo off. */
static rig_t *rig_new(void)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    fx_module_profile(&r->profile, 0);
    uint8_t *v1;
    size_t n = fx_build_app_config("v4.1.0.0", 3000, NULL, &v1);
    r->sim = fx_module_flash_new(&r->profile, v1, n);
    free(v1);
    r->hs.now = 1000;
    fx_host_init(&r->host, &r->hs);
    return r;
}

static void rig_free(rig_t *r)
{
    atota_flash_sim_close(r->sim);
    free(r);
}

/* A power-on (or the restart AT+RST and AT+RESTORE ask for), then ATE0. */
static void boot(rig_t *r)
{
    fx_module_boot(&r->m, atota_flash_sim_flash(r->sim), &r->host, &r->hs);
    fx_module_send(&r->m, &r->hs, "ATE0\r\n", "ATE0\r\n" OK);
}

static void cmd(rig_t *r, const char *line, const char *want)
{
    char bytes[ATOTA_AT_MAX_LINE + 8];
    snprintf(bytes, sizeof bytes, "%s\r\n", line);
    fx_module_send(&r->m, &r->hs, bytes, want);
}

/* --- tests --- */

static void default_configuration_and_mode(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    boot(r);
    /* station mode (the factory default): no softAP to configure or list */
    cmd(r, "AT+CWSAP?", ERROR);
    cmd(r, "AT+CWSAP=\"pos_softap\",\"\",11,0,3", ERROR);
    cmd(r, "AT+CWLIF", ERROR);
    cmd(r, "AT+CWMODE=2", OK);
    cmd(r, "AT+CIPAPMAC?", "+CIPAPMAC:\"" AP_MAC "\"\r\n" OK);
    cmd(r, "AT+CWSAP?", DEFAULT_AP OK);
    /* the SSID is the softAP MAC's last three bytes whatever they are */
    char want[16];
    const uint8_t *mac = r->m.wifi.ap_mac;
    snprintf(want, sizeof want, "ESP_%02X%02X%02X", mac[3], mac[4], mac[5]);
    fx_expect_text("default ssid", r->m.wifi.softap.ssid, want);
    cmd(r, "AT+CWLIF", OK); /* no station ever joins the virtual softAP */
    cmd(r, "AT+CWMODE=3", OK);
    cmd(r, "AT+CWSAP?", DEFAULT_AP OK);
    cmd(r, "AT+CWMODE=0", OK);
    cmd(r, "AT+CWSAP?", ERROR);
    cmd(r, "AT+CWSAP=\"pos_softap\",\"\",11,0,3", ERROR);
    cmd(r, "AT+CWLIF", ERROR);
    rig_free(r);
}

static void set_and_query(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    boot(r);
    cmd(r, "AT+CWMODE=3", OK);
    /* Web_server_AT_Examples.rst */
    cmd(r, "AT+CWSAP=\"pos_softap\",\"\",11,0,3", OK);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"pos_softap\",\"\",11,0,3,0\r\n" OK);
    cmd(r, "AT+CWSAP=\"pos_softap\",\"espressif\",11,3,3", OK);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"pos_softap\",\"espressif\",11,3,3,0\r\n" OK);
    /* Wi-Fi_AT_Commands.rst's example: <max conn> and <ssid hidden> omitted take 10 and 0 */
    cmd(r, "AT+CWSAP=\"ESP\",\"1234567890\",5,3", OK);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"ESP\",\"1234567890\",5,3,10,0\r\n" OK);
    cmd(r, "AT+CWSAP=\"hidden\",\"12345678\",13,2,1,1", OK);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"hidden\",\"12345678\",13,2,1,1\r\n" OK);
    cmd(r, "AT+CWSAP=\"mixed\",\"12345678\",1,4,10,0", OK);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"mixed\",\"12345678\",1,4,10,0\r\n" OK);
    /* an open network keeps a password it was given (ESP-IDF ignores it) */
    cmd(r, "AT+CWSAP=\"open\",\"12345678\",6,0", OK);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"open\",\"12345678\",6,0,10,0\r\n" OK);
    /* the longest: a 32-byte SSID, a 63-byte password */
    cmd(r,
        "AT+CWSAP=\"TESTTESTTESTTESTTESTTESTTESTTEST\","
        "\"PASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPAS\",4,2,4,0",
        OK);
    cmd(r, "AT+CWSAP?",
        "+CWSAP:\"TESTTESTTESTTESTTESTTESTTESTTEST\","
        "\"PASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPASSPAS\",4,2,4,0\r\n" OK);
    /* escapes in, the bytes as they are out */
    cmd(r, "AT+CWSAP=\"a\\\"b\\\\,c\",\"pass\\,word\",1,3", OK);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"a\"b\\,c\",\"pass,word\",1,3,10,0\r\n" OK);
    rig_free(r);
}

static void refusals_keep_the_configuration(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    boot(r);
    cmd(r, "AT+CWMODE=2", OK);
    cmd(r, "AT+CWSAP=\"lab\",\"password1\",6,3,4,1", OK);
    static const char *const lines[] = {
        "AT+CWSAP",                                                /* no execute form */
        "AT+CWSAP=?",                                              /* no test form */
        "AT+CWSAP=\"x\",\"\",1",                                   /* too few */
        "AT+CWSAP=\"x\",\"\",1,0,1,0,0",                           /* too many */
        "AT+CWSAP=,\"\",1,0",                                      /* ssid omitted */
        "AT+CWSAP=\"\",\"\",1,0",                                  /* ssid empty */
        "AT+CWSAP=\"123456789012345678901234567890123\",\"\",1,0", /* ssid 33 bytes */
        "AT+CWSAP=1,\"\",1,0",                                     /* ssid not a string */
        "AT+CWSAP=\"x\",,1,0",                                     /* password omitted */
        "AT+CWSAP=\"x\",\"\",0,0",                                 /* channel 0 */
        "AT+CWSAP=\"x\",\"\",14,0",                                /* channel 14: not in CN */
        "AT+CWSAP=\"x\",\"\",\"1\",0",                             /* channel not a number */
        "AT+CWSAP=\"x\",\"12345678\",1,1",                         /* WEP */
        "AT+CWSAP=\"x\",\"12345678\",1,5",                         /* WPA2_ENTERPRISE */
        "AT+CWSAP=\"x\",\"12345678\",1,-1",                        /* no such ecn */
        "AT+CWSAP=\"x\",\"\",1,3",                                 /* WPA2 without a password */
        "AT+CWSAP=\"x\",\"1234567\",1,3",                          /* a 7-byte password */
        "AT+CWSAP=\"x\",\"1234567\",1,0",                          /* the same, open */
        "AT+CWSAP=\"x\",\"1234567890123456789012345678901234567890123456789012345678901234\",1,3",
        "AT+CWSAP=\"x\",\"\",1,0,0",   /* max conn 0 */
        "AT+CWSAP=\"x\",\"\",1,0,11",  /* max conn 11 */
        "AT+CWSAP=\"x\",\"\",1,0,4,2", /* ssid hidden 2 */
        "AT+CWLIF?",
        "AT+CWLIF=1",
        "AT+CWSAP_CUR?", /* removed in ESP-AT v2 */
        "AT+CWSAP_DEF=\"x\",\"\",1,0",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cmd(r, lines[i], ERROR);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"lab\",\"password1\",6,3,4,1\r\n" OK);
    /* with AT+SYSLOG=1 the codes: PARA_INVALID for a value, PARA_NUM for the count */
    cmd(r, "AT+SYSLOG=1", OK);
    cmd(r, "AT+CWSAP=\"x\",\"12345678\",1,1", "ERR CODE:0x01070000\r\n" ERROR);
    cmd(r, "AT+CWSAP=\"x\",\"\",1,3", "ERR CODE:0x01070000\r\n" ERROR);
    cmd(r, "AT+CWSAP=\"x\",\"\",1", "ERR CODE:0x01060000\r\n" ERROR);
    cmd(r, "AT+CWSAP=\"123456789012345678901234567890123\",\"\",1,0",
        "ERR CODE:0x01040000\r\n" ERROR);
    cmd(r, "AT+CWSAP=\"\",\"\",1,0", "ERR CODE:0x01070000\r\n" ERROR);
    /* a NUL byte in the ssid (the UART carries any byte) */
    static const char nul[] = "AT+CWSAP=\"a\0b\",\"\",1,0\r\n";
    fx_host_clear_out(&r->hs);
    atota_module_feed(&r->m, nul, sizeof nul - 1);
    fx_expect_out(&r->hs, "a NUL in the ssid", "ERR CODE:0x01070000\r\n" ERROR);
    rig_free(r);
}

static void kept_across_reboots_with_sysstore(void **state)
{
    (void)state;
    rig_t *r = rig_new();
    boot(r);
    cmd(r, "AT+CWMODE=3", OK);
    cmd(r, "AT+CWSAP=\"pos_softap\",\"espressif\",11,3,3", OK);
    boot(r);
    cmd(r, "AT+CWMODE?", "+CWMODE:3\r\n" OK);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"pos_softap\",\"espressif\",11,3,3,0\r\n" OK);

    /* AT+SYSSTORE=0: the new configuration holds until the next boot, then the stored one */
    cmd(r, "AT+SYSSTORE=0", OK);
    cmd(r, "AT+CWSAP=\"volatile\",\"\",1,0,10,1", OK);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"volatile\",\"\",1,0,10,1\r\n" OK);
    boot(r);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"pos_softap\",\"espressif\",11,3,3,0\r\n" OK);

    /* leaving softAP mode keeps the configuration */
    cmd(r, "AT+SYSSTORE=1", OK);
    cmd(r, "AT+CWMODE=1", OK);
    boot(r);
    cmd(r, "AT+CWSAP?", ERROR);
    cmd(r, "AT+CWMODE=2", OK);
    cmd(r, "AT+CWSAP?", "+CWSAP:\"pos_softap\",\"espressif\",11,3,3,0\r\n" OK);

    /* AT+RESTORE: the factory default again */
    cmd(r, "AT+RESTORE", OK);
    assert_int_equal(r->hs.restarts, 1);
    boot(r);
    cmd(r, "AT+CWMODE?", "+CWMODE:1\r\n" OK);
    cmd(r, "AT+CWMODE=2", OK);
    cmd(r, "AT+CWSAP?", DEFAULT_AP OK);
    boot(r); /* AT+CWMODE=2 alone stores no softAP */
    cmd(r, "AT+CWSAP?", DEFAULT_AP OK);
    rig_free(r);
}

/* The NVS side: only a configured softAP is stored; a set of keys that does not fit together (a
 * power cut between two of them) keeps the default. */
static void nvs_keys_load_whole_or_not_at_all(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(0x10000);
    atota_nvs_t nvs;
    assert_int_equal(atota_nvs_open(&nvs, atota_flash_sim_flash(sim), 0, 0x6000, true, NULL),
                     ATOTA_OK);
    static const uint8_t mac[6] = {0x24, 0x0a, 0xc4, 0x12, 0x34, 0x56};
    atota_wifi_t a, b;
    atota_wifi_init(&a, NULL, 0, mac);
    fx_expect_text("default", a.softap.ssid, "ESP_123457");
    assert_int_equal(atota_wifi_save(&a, &nvs), ATOTA_OK);
    char s[80];
    size_t len;
    assert_int_equal(atota_nvs_get_str(&nvs, "atota.wifi", "ap.ssid", s, sizeof s, &len),
                     ATOTA_ERR_NVS_NOT_FOUND);

    a.has_softap = true;
    strcpy(a.softap.ssid, "lab");
    strcpy(a.softap.password, "password1");
    a.softap.channel = 13;
    a.softap.ecn = ATOTA_WIFI_ECN_WPA2_PSK;
    a.softap.max_conn = 4;
    a.softap.hidden = 1;
    assert_int_equal(atota_wifi_save(&a, &nvs), ATOTA_OK);
    uint64_t ops = fx_mutating_ops(sim);
    assert_int_equal(atota_wifi_save(&a, &nvs), ATOTA_OK);
    assert_int_equal(fx_mutating_ops(sim), ops); /* unchanged: nothing written */
    atota_wifi_init(&b, NULL, 0, mac);
    assert_int_equal(atota_wifi_load(&b, &nvs), ATOTA_OK);
    assert_true(b.has_softap);
    assert_memory_equal(&b.softap, &a.softap, sizeof a.softap);

    /* WPA2 with an empty password: the keys of two configurations */
    assert_int_equal(atota_nvs_set_str(&nvs, "atota.wifi", "ap.pwd", ""), ATOTA_OK);
    atota_wifi_init(&b, NULL, 0, mac);
    assert_int_equal(atota_wifi_load(&b, &nvs), ATOTA_OK);
    assert_false(b.has_softap);
    fx_expect_text("fallback", b.softap.ssid, "ESP_123457");
    /* a channel out of range */
    assert_int_equal(atota_nvs_set_str(&nvs, "atota.wifi", "ap.pwd", "password1"), ATOTA_OK);
    assert_int_equal(atota_nvs_set_int(&nvs, "atota.wifi", "ap.chl", ATOTA_NVS_U8, 14), ATOTA_OK);
    atota_wifi_init(&b, NULL, 0, mac);
    assert_int_equal(atota_wifi_load(&b, &nvs), ATOTA_OK);
    assert_false(b.has_softap);

    /* forgetting it erases the keys */
    a.has_softap = false;
    assert_int_equal(atota_wifi_save(&a, &nvs), ATOTA_OK);
    assert_int_equal(atota_nvs_get_str(&nvs, "atota.wifi", "ap.ssid", s, sizeof s, &len),
                     ATOTA_ERR_NVS_NOT_FOUND);
    int64_t v;
    assert_int_equal(atota_nvs_get_int(&nvs, "atota.wifi", "ap.chl", ATOTA_NVS_U8, &v),
                     ATOTA_ERR_NVS_NOT_FOUND);
    atota_flash_sim_close(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_configuration_and_mode),
        cmocka_unit_test(set_and_query),
        cmocka_unit_test(refusals_keep_the_configuration),
        cmocka_unit_test(kept_across_reboots_with_sysstore),
        cmocka_unit_test(nvs_keys_load_whole_or_not_at_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
