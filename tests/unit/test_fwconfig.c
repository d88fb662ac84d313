/* The firmware-configuration block (core/fmt/fwconfig): ESP-AT's defaults, every key, every
 * refusal with its own message, the encode/decode round trip, damaged blocks, and the block inside
 * an app image: valid for the image verifier and read back from a simulated flash. Images without
 * the block, ours and a real ESP-AT build, give the defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/fixture.h"

#include "core/fmt/fwconfig.h"
#include "core/util/crc32.h"

#define IMAGE_OFFSET 0x10000u
#define PART_SIZE    0x180000u
#define ESP_AT_V2    ATOTA_VECTORS_DIR "/app/esp32_idf3.3_esp-at-v2.0_esp-at.bin"

static void expect_contains(const char *what, const char *text, const char *want)
{
    if (!strstr(text, want)) {
        print_error("%s: expected a message containing \"%s\", got \"%s\"\n", what, want, text);
        fail();
    }
}

/* Where needle (n bytes) first occurs in hay (len bytes), or NULL. */
static const uint8_t *find_bytes(const uint8_t *hay, size_t len, const char *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

static void expect_same_config(const atota_fwconfig_t *got, const atota_fwconfig_t *want)
{
    assert_int_equal(got->present, want->present);
    assert_string_equal(got->module_name, want->module_name);
    assert_string_equal(got->ota_host, want->ota_host);
    assert_int_equal(got->ota_port, want->ota_port);
    assert_string_equal(got->ota_token, want->ota_token);
    assert_string_equal(got->ssl_host, want->ssl_host);
    assert_int_equal(got->ssl_port, want->ssl_port);
    assert_string_equal(got->ssl_token, want->ssl_token);
    assert_int_equal(got->features, want->features);
    assert_int_equal(got->ota_retries, want->ota_retries);
    assert_int_equal(got->ota_time_limit, want->ota_time_limit);
    assert_string_equal(got->web_password, want->web_password);
    assert_int_equal(got->web_captive_portal, want->web_captive_portal);
}

static void expect_defaults(const atota_fwconfig_t *c)
{
    atota_fwconfig_t d;
    atota_fwconfig_defaults(&d);
    expect_same_config(c, &d);
    assert_false(c->present);
}

static void set_ok(atota_fwconfig_t *c, const char *kv)
{
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_fwconfig_set(c, kv, &d);
    if (err != ATOTA_OK) {
        print_error("atota_fwconfig_set(\"%s\"): expected OK, got %s: %s\n", kv,
                    atota_err_name(err), atota_diag_text(&d, err));
        fail();
    }
}

/* A configuration where every field differs from the defaults. */
static void custom_config(atota_fwconfig_t *c)
{
    atota_fwconfig_defaults(c);
    set_ok(c, "module_name=WROOM-32 \xc3\xa9t\xc3\xa9");
    set_ok(c, "ota_host=ota.example.com");
    set_ok(c, "ota_port=8080");
    set_ok(c, "ota_token=0123456789abcdef0123456789abcdef01234567");
    set_ok(c, "ssl_host=192.168.1.20");
    set_ok(c, "ssl_port=8443");
    set_ok(c, "ssl_token=tok-en_1.2~3+4/5==");
    set_ok(c, "ota=off");
    set_ok(c, "webserver=off");
    set_ok(c, "ota_retries=0");
    set_ok(c, "ota_time_limit=45");
    set_ok(c, "web_password=s3cret!#=~");
    set_ok(c, "web_captive_portal=on");
}

static void defaults_are_esp_at_kconfig(void **state)
{
    (void)state;
    atota_fwconfig_t c;
    memset(&c, 0xA5, sizeof c);
    atota_fwconfig_defaults(&c);
    /* esp-at-ota.md §3 Kconfig table */
    assert_false(c.present);
    assert_string_equal(c.module_name, "");
    assert_string_equal(c.ota_host, "iot.espressif.cn");
    assert_int_equal(c.ota_port, 80);
    assert_string_equal(c.ota_token, "dd93253c287f725de50d4071a05dd28b72056ca7");
    assert_string_equal(c.ssl_host, "iot.espressif.cn");
    assert_int_equal(c.ssl_port, 443);
    assert_string_equal(c.ssl_token, "dd93253c287f725de50d4071a05dd28b72056ca7");
    assert_int_equal(c.features, ATOTA_FEATURE_ALL);
    /* ATOTA's download policy (docs/userota.md): 5 resumes, 300 s for a whole download */
    assert_int_equal(c.ota_retries, 5);
    assert_int_equal(c.ota_time_limit, 300);
    /* AT+WEBSERVER's upload password (docs/webserver.md): none, as ESP-AT */
    assert_string_equal(c.web_password, "");
    /* CONFIG_AT_WEB_CAPTIVE_PORTAL_ENABLE: off in ESP-AT's default builds */
    assert_false(c.web_captive_portal);
}

static void every_key_sets_its_field(void **state)
{
    (void)state;
    atota_fwconfig_t c;
    atota_fwconfig_defaults(&c);
    set_ok(&c, "module_name=ESP32-WROOM-32");
    assert_string_equal(c.module_name, "ESP32-WROOM-32");
    set_ok(&c, "module_name=");
    assert_string_equal(c.module_name, "");
    set_ok(&c, "module_name=1234567890123456789012345678901"); /* 31 bytes: the most */
    assert_string_equal(c.module_name, "1234567890123456789012345678901");
    set_ok(&c, "ota_host=ota.example.com");
    assert_string_equal(c.ota_host, "ota.example.com");
    set_ok(&c, "ota_host=10.0.0.1");
    assert_string_equal(c.ota_host, "10.0.0.1");
    set_ok(&c, "ota_port=1");
    assert_int_equal(c.ota_port, 1);
    set_ok(&c, "ota_port=65535");
    assert_int_equal(c.ota_port, 65535);
    set_ok(&c, "ota_token=abc");
    assert_string_equal(c.ota_token, "abc");
    set_ok(&c, "ssl_host=my_host-1.local");
    assert_string_equal(c.ssl_host, "my_host-1.local");
    set_ok(&c, "ssl_port=8443");
    assert_int_equal(c.ssl_port, 8443);
    /* 64 characters: the most */
    set_ok(&c, "ssl_token=0123456789012345678901234567890123456789012345678901234567890123");
    assert_int_equal(strlen(c.ssl_token), 64);
    /* the value runs to the end: '=' in a token is part of it */
    set_ok(&c, "ota_token=YWJj==");
    assert_string_equal(c.ota_token, "YWJj==");

    static const struct {
        const char *name;
        uint32_t bit;
    } features[] = {{"ota", ATOTA_FEATURE_OTA},
                    {"ota_ssl", ATOTA_FEATURE_OTA_SSL},
                    {"userota", ATOTA_FEATURE_USEROTA},
                    {"webserver", ATOTA_FEATURE_WEBSERVER}};
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++) {
        char kv[32];
        snprintf(kv, sizeof kv, "%s=off", features[i].name);
        set_ok(&c, kv);
        assert_int_equal(c.features, ATOTA_FEATURE_ALL & ~features[i].bit);
        snprintf(kv, sizeof kv, "%s=on", features[i].name);
        set_ok(&c, kv);
        assert_int_equal(c.features, ATOTA_FEATURE_ALL);
    }
    set_ok(&c, "ota_retries=0");
    assert_int_equal(c.ota_retries, 0);
    set_ok(&c, "ota_retries=100"); /* the most */
    assert_int_equal(c.ota_retries, 100);
    set_ok(&c, "ota_retries=007");
    assert_int_equal(c.ota_retries, 7);
    set_ok(&c, "ota_time_limit=0"); /* no limit */
    assert_int_equal(c.ota_time_limit, 0);
    set_ok(&c, "ota_time_limit=86400"); /* a day: the most */
    assert_int_equal(c.ota_time_limit, 86400);
    set_ok(&c, "web_password=pw");
    assert_string_equal(c.web_password, "pw");
    /* 64 characters, every printable ASCII one but space: the most */
    set_ok(&c, "web_password=!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`");
    assert_int_equal(strlen(c.web_password), 64);
    assert_string_equal(c.web_password + 60, "]^_`");
    set_ok(&c, "web_password=");
    assert_string_equal(c.web_password, "");
    set_ok(&c, "web_captive_portal=on");
    assert_true(c.web_captive_portal);
    assert_int_equal(c.features, ATOTA_FEATURE_ALL); /* a switch of its own, not a feature bit */
    set_ok(&c, "web_captive_portal=off");
    assert_false(c.web_captive_portal);
    assert_false(c.present); /* set does not claim a block */
}

static void bad_keys_and_values_each_say_what(void **state)
{
    (void)state;
    static const struct {
        const char *kv;
        const char *message;
    } cases[] = {
        {"ota_host", "'ota_host' is not KEY=VALUE"},
        {"", "'' is not KEY=VALUE"},
        {"=x", "unknown key ''"},
        {"server=x", "unknown key 'server' (keys: module_name, ota_host"},
        {"OTA_HOST=x", "unknown key 'OTA_HOST'"},
        {"ota_host =x", "unknown key 'ota_host '"},
        {"module_name=12345678901234567890123456789012", "module_name: '1234567890123456789012"
                                                         "3456789012' is 32 bytes, at most 31 fit"},
        {"module_name=a\tb", "module_name: 'a?b' has a control character (0x09)"},
        {"module_name=\xc3", "module_name: byte 1 is not valid UTF-8"},
        {"module_name=ab\xc0\xaf", "module_name: byte 3 is not valid UTF-8"},       /* overlong */
        {"module_name=\xed\xa0\x80", "module_name: byte 1 is not valid UTF-8"},     /* surrogate */
        {"module_name=\xf4\x90\x80\x80", "module_name: byte 1 is not valid UTF-8"}, /* > 10FFFF */
        {"ota_host=", "ota_host: empty, a host name or IPv4 address is needed"},
        {"ota_host=a b", "ota_host: 'a b' has ' ' (0x20): a host name is letters, digits"},
        {"ssl_host=http://x", "ssl_host: 'http://x' has ':' (0x3a)"},
        {"ota_host=a..b", "ota_host: 'a..b' has an empty label"},
        {"ota_host=.a", "ota_host: '.a' has an empty label"},
        {"ota_host=a.", "ota_host: 'a.' ends with '.'"},
        {"ota_host=a234567890123456789012345678901234567890123456789012345678901234.com",
         "has a label longer than 63 characters"},
        {"ota_port=0", "ota_port: '0' is not a port number (1-65535, decimal)"},
        {"ota_port=65536", "ota_port: '65536' is not a port number"},
        {"ota_port=", "ota_port: '' is not a port number"},
        {"ssl_port=0x50", "ssl_port: '0x50' is not a port number"},
        {"ssl_port=-1", "ssl_port: '-1' is not a port number"},
        {"ssl_port=443 ", "ssl_port: '443 ' is not a port number"},
        {"ssl_port=1000000", "ssl_port: '1000000' is not a port number"},
        {"ota_token=", "ota_token: empty, a token is needed"},
        {"ota_token=abc def", "ota_token: 'abc def' has ' ' (0x20): a token is letters, digits"},
        {"ssl_token=a\"b", "ssl_token: 'a\"b' has '\"' (0x22)"},
        {"ssl_token=a\rb", "ssl_token: 'a?b' has '?' (0x0d)"},
        {"ota_token=01234567890123456789012345678901234567890123456789012345678901234",
         "ota_token: '0123456789012345678901234567890123456789...' is 65 characters, at most 64"},
        {"ota=yes", "ota: 'yes' is not on or off"},
        {"webserver=ON", "webserver: 'ON' is not on or off"},
        {"userota=", "userota: '' is not on or off"},
        {"ota_retries=101", "ota_retries: '101' is not a number from 0 to 100 (decimal)"},
        {"ota_retries=-1", "ota_retries: '-1' is not a number from 0 to 100"},
        {"ota_retries=", "ota_retries: '' is not a number from 0 to 100"},
        {"ota_retries=+5", "ota_retries: '+5' is not a number"},
        {"ota_retries=5 ", "ota_retries: '5 ' is not a number"},
        {"ota_retries=0x5", "ota_retries: '0x5' is not a number"},
        {"ota_time_limit=86401", "ota_time_limit: '86401' is not a number from 0 to 86400"},
        {"ota_time_limit=99999999999", "ota_time_limit: '99999999999' is not a number"},
        {"ota_time_limit=4294967296", "ota_time_limit: '4294967296' is not a number"},
        {"web_password=two words", "web_password: character 4 is 0x20: a password is printable "
                                   "ASCII without space (0x21-0x7e)"},
        {"web_password=tab\there", "web_password: character 4 is 0x09"},
        {"web_password=caf\xc3\xa9", "web_password: character 4 is 0xc3"},
        {"web_password=x\x7f", "web_password: character 2 is 0x7f"},
        {"web_password=0123456789012345678901234567890123456789012345678901234567890123X",
         "web_password: 65 characters, at most 64 fit"},
        {"web_captive_portal=yes", "web_captive_portal: 'yes' is not on or off"},
        {"web_captive_portal=", "web_captive_portal: '' is not on or off"},
        {"web_captive_portal=On", "web_captive_portal: 'On' is not on or off"},
        {"captive_portal=on", "unknown key 'captive_portal' (keys: module_name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        atota_fwconfig_t c, before;
        custom_config(&c);
        before = c;
        atota_diag_t d;
        atota_diag_clear(&d);
        atota_err_t err = atota_fwconfig_set(&c, cases[i].kv, &d);
        if (err != ATOTA_ERR_FWCONFIG) {
            print_error("\"%s\": expected ATOTA_ERR_FWCONFIG, got %s\n", cases[i].kv,
                        atota_err_name(err));
            fail();
        }
        expect_contains(cases[i].kv, d.msg, cases[i].message);
        if (memcmp(&c, &before, sizeof c)) {
            print_error("\"%s\": the configuration changed on a refusal\n", cases[i].kv);
            fail();
        }
    }
    atota_fwconfig_t c;
    atota_fwconfig_defaults(&c);
    assert_int_equal(atota_fwconfig_set(&c, NULL, NULL), ATOTA_ERR_INVALID_ARG);
    assert_int_equal(atota_fwconfig_set(NULL, "ota=on", NULL), ATOTA_ERR_INVALID_ARG);
}

static void lines_list_every_key_in_block_order(void **state)
{
    (void)state;
    atota_fwconfig_t c;
    custom_config(&c);
    static const char *const want[ATOTA_FWCONFIG_KEYS] = {
        "module_name=WROOM-32 \xc3\xa9t\xc3\xa9",
        "ota_host=ota.example.com",
        "ota_port=8080",
        "ota_token=0123456789abcdef0123456789abcdef01234567",
        "ssl_host=192.168.1.20",
        "ssl_port=8443",
        "ssl_token=tok-en_1.2~3+4/5==",
        "ota=off",
        "ota_ssl=on",
        "userota=on",
        "webserver=off",
        "ota_retries=0",
        "ota_time_limit=45",
        "web_password=s3cret!#=~",
        "web_captive_portal=on",
    };
    char line[ATOTA_FWCONFIG_LINE_MAX];
    for (unsigned i = 0; i < ATOTA_FWCONFIG_KEYS; i++) {
        assert_ptr_equal(atota_fwconfig_line(&c, i, line, sizeof line), line);
        assert_string_equal(line, want[i]);
    }
    assert_null(atota_fwconfig_line(&c, ATOTA_FWCONFIG_KEYS, line, sizeof line));
    /* an unset web_password and web_captive_portal off are optional keys left out: no line */
    set_ok(&c, "web_password=");
    assert_null(atota_fwconfig_line(&c, ATOTA_FWCONFIG_KEYS - 2, line, sizeof line));
    set_ok(&c, "web_captive_portal=off");
    assert_null(atota_fwconfig_line(&c, ATOTA_FWCONFIG_KEYS - 1, line, sizeof line));
    assert_null(atota_fwconfig_line(&c, 1, line, 10));    /* "ota_host=" fits, the host does not */
    assert_non_null(atota_fwconfig_line(&c, 7, line, 8)); /* "ota=off" and its NUL */
    assert_null(atota_fwconfig_line(&c, 7, line, 7));
}

static void encode_decode_round_trip(void **state)
{
    (void)state;
    atota_fwconfig_t c, back;
    custom_config(&c);
    uint8_t block[ATOTA_FWCONFIG_MAX_LEN + 8];
    memset(block, 0xEE, sizeof block);
    size_t n = atota_fwconfig_encode(&c, block, ATOTA_FWCONFIG_MAX_LEN);
    assert_true(n > ATOTA_FWCONFIG_HEADER_LEN);

    /* The header of fwconfig.h */
    assert_memory_equal(block, "ATOTACFG", 8);
    assert_int_equal(atota_le16(block + 8), 1);
    assert_int_equal(atota_le16(block + 10), n - ATOTA_FWCONFIG_HEADER_LEN);
    assert_int_equal(atota_le32(block + 12),
                     atota_crc32_le(0, block + 16, n - ATOTA_FWCONFIG_HEADER_LEN));
    const char *payload = (const char *)block + 16;
    static const char first[] = "module_name=WROOM-32 \xc3\xa9t\xc3\xa9\nota_host=";
    assert_memory_equal(payload, first, sizeof first - 1);
    assert_int_equal(block[n - 1], '\n');

    atota_diag_t d;
    atota_diag_clear(&d);
    /* bytes after the block (segment padding) do not matter */
    assert_int_equal(atota_fwconfig_decode(block, sizeof block, &back, &d), ATOTA_OK);
    c.present = true;
    expect_same_config(&back, &c);
    assert_int_equal(atota_fwconfig_decode(block, n, &back, &d), ATOTA_OK);
    expect_same_config(&back, &c);

    /* The defaults round-trip too, and encoding is deterministic. */
    atota_fwconfig_t def;
    atota_fwconfig_defaults(&def);
    uint8_t b1[ATOTA_FWCONFIG_MAX_LEN], b2[ATOTA_FWCONFIG_MAX_LEN];
    size_t n1 = atota_fwconfig_encode(&def, b1, sizeof b1);
    size_t n2 = atota_fwconfig_encode(&def, b2, sizeof b2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    assert_int_equal(atota_fwconfig_decode(b1, n1, &back, &d), ATOTA_OK);
    assert_true(back.present);
    back.present = false;
    expect_defaults(&back);
    /* without a password and without the captive portal the block is what it was before the
     * keys existed: every line of the thirteen older keys, neither web_password nor
     * web_captive_portal, so older firmware reads it */
    assert_null(find_bytes(b1, n1, "web_password", 12));
    assert_null(find_bytes(b1, n1, "web_captive_portal", 18));
    assert_non_null(find_bytes(b1, n1, "\nota_time_limit=300\n", 20));
    assert_int_equal(b1[n1 - 1], '\n');
    assert_memory_equal(b1 + n1 - 19, "ota_time_limit=300\n", 19);
    /* a block that carries it reads back with it */
    atota_fwconfig_t pw = def;
    set_ok(&pw, "web_password=open-sesame");
    n1 = atota_fwconfig_encode(&pw, b1, sizeof b1);
    assert_non_null(find_bytes(b1, n1, "\nweb_password=open-sesame\n", 26));
    assert_int_equal(atota_fwconfig_decode(b1, n1, &back, &d), ATOTA_OK);
    assert_string_equal(back.web_password, "open-sesame");
    assert_false(back.web_captive_portal);
    atota_fwconfig_t portal = def;
    set_ok(&portal, "web_captive_portal=on");
    n1 = atota_fwconfig_encode(&portal, b1, sizeof b1);
    assert_memory_equal(b1 + n1 - 42, "\nota_time_limit=300\nweb_captive_portal=on\n", 42);
    assert_int_equal(atota_fwconfig_decode(b1, n1, &back, &d), ATOTA_OK);
    assert_true(back.web_captive_portal);
    assert_string_equal(back.web_password, "");
    /* and a block that lists it empty is valid too (the key given, set to nothing) */
    static const char empty_pw[] = "web_password=\n";
    uint8_t blk[64];
    memcpy(blk, "ATOTACFG", 8);
    atota_put_le16(blk + 8, 1);
    atota_put_le16(blk + 10, sizeof empty_pw - 1);
    memcpy(blk + 16, empty_pw, sizeof empty_pw - 1);
    atota_put_le32(blk + 12, atota_crc32_le(0, blk + 16, sizeof empty_pw - 1));
    assert_int_equal(atota_fwconfig_decode(blk, 16 + sizeof empty_pw - 1, &back, &d), ATOTA_OK);
    assert_string_equal(back.web_password, "");
    /* as is one that gives web_captive_portal=off */
    static const char portal_off[] = "web_captive_portal=off\n";
    memcpy(blk, "ATOTACFG", 8);
    atota_put_le16(blk + 8, 1);
    atota_put_le16(blk + 10, sizeof portal_off - 1);
    memcpy(blk + 16, portal_off, sizeof portal_off - 1);
    atota_put_le32(blk + 12, atota_crc32_le(0, blk + 16, sizeof portal_off - 1));
    back.web_captive_portal = true;
    assert_int_equal(atota_fwconfig_decode(blk, 16 + sizeof portal_off - 1, &back, &d), ATOTA_OK);
    assert_false(back.web_captive_portal);

    /* The largest configuration fits the block. */
    atota_fwconfig_t big;
    atota_fwconfig_defaults(&big);
    memset(big.module_name, 'n', 31);
    memset(big.ota_host, 'h', 63);
    big.ota_host[63] = '.';
    memset(big.ota_host + 64, 'h', 63);
    memcpy(big.ssl_host, big.ota_host, sizeof big.ssl_host);
    memset(big.ota_token, 't', 64);
    memset(big.ssl_token, 't', 64);
    big.ota_port = big.ssl_port = 65535;
    big.features = 0;
    big.ota_retries = ATOTA_FWCONFIG_MAX_OTA_RETRIES;
    big.ota_time_limit = ATOTA_FWCONFIG_MAX_OTA_TIME_LIMIT;
    memset(big.web_password, '~', ATOTA_FWCONFIG_WEB_PASSWORD_MAX);
    big.web_captive_portal = true;
    n = atota_fwconfig_encode(&big, block, ATOTA_FWCONFIG_MAX_LEN);
    assert_true(n > 0 && n <= ATOTA_FWCONFIG_MAX_LEN);
    assert_int_equal(atota_fwconfig_decode(block, n, &back, &d), ATOTA_OK);
    big.present = true;
    expect_same_config(&back, &big);
}

static void encode_refuses_short_buffers_and_bad_values(void **state)
{
    (void)state;
    atota_fwconfig_t c;
    atota_fwconfig_defaults(&c);
    uint8_t block[ATOTA_FWCONFIG_MAX_LEN];
    size_t n = atota_fwconfig_encode(&c, block, sizeof block);
    assert_true(n > 0);
    assert_int_equal(atota_fwconfig_encode(&c, block, n - 1), 0);
    assert_int_equal(atota_fwconfig_encode(&c, block, n), n);
    assert_int_equal(atota_fwconfig_encode(&c, block, 4), 0);

    atota_fwconfig_t bad = c;
    bad.ota_port = 0;
    assert_int_equal(atota_fwconfig_encode(&bad, block, sizeof block), 0);
    bad = c;
    strcpy(bad.ssl_host, "no spaces");
    assert_int_equal(atota_fwconfig_encode(&bad, block, sizeof block), 0);
    bad = c;
    bad.ota_token[0] = '\0';
    assert_int_equal(atota_fwconfig_encode(&bad, block, sizeof block), 0);
    bad = c;
    memset(bad.module_name, 'x', sizeof bad.module_name); /* no NUL */
    assert_int_equal(atota_fwconfig_encode(&bad, block, sizeof block), 0);
    bad = c;
    bad.features = 0x10;
    assert_int_equal(atota_fwconfig_encode(&bad, block, sizeof block), 0);
    bad = c;
    bad.ota_retries = 101;
    assert_int_equal(atota_fwconfig_encode(&bad, block, sizeof block), 0);
    bad = c;
    bad.ota_time_limit = 86401;
    assert_int_equal(atota_fwconfig_encode(&bad, block, sizeof block), 0);
    bad = c;
    strcpy(bad.web_password, "no spaces");
    assert_int_equal(atota_fwconfig_encode(&bad, block, sizeof block), 0);
}

/* A block around a payload, with a correct CRC unless told. */
static size_t make_block(uint8_t *out, const char *payload, size_t len)
{
    memcpy(out, "ATOTACFG", 8);
    atota_put_le16(out + 8, 1);
    atota_put_le16(out + 10, (uint16_t)len);
    memcpy(out + 16, payload, len);
    atota_put_le32(out + 12, atota_crc32_le(0, out + 16, len));
    return 16 + len;
}

static void expect_decode_error(const char *what, const uint8_t *data, size_t len, atota_err_t want,
                                const char *message)
{
    atota_fwconfig_t c;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_fwconfig_decode(data, len, &c, &d);
    if (err != want) {
        print_error("%s: expected %s, got %s (%s)\n", what, atota_err_name(want),
                    atota_err_name(err), atota_diag_text(&d, err));
        fail();
    }
    expect_contains(what, d.msg, message);
    expect_defaults(&c);
}

static void decode_refuses_damaged_blocks(void **state)
{
    (void)state;
    uint8_t b[ATOTA_FWCONFIG_MAX_LEN + 64];
    const char *ok = "ota_port=81\n";
    size_t n = make_block(b, ok, strlen(ok));
    atota_fwconfig_t c;
    atota_diag_t d;
    assert_int_equal(atota_fwconfig_decode(b, n, &c, &d), ATOTA_OK);
    assert_true(c.present);
    assert_int_equal(c.ota_port, 81);
    assert_string_equal(c.ota_host, "iot.espressif.cn"); /* keys not listed keep the defaults */
    assert_int_equal(c.ota_retries, 5); /* a block from before the policy keys: the defaults */
    assert_int_equal(c.ota_time_limit, 300);

    /* No magic: not a block at all. */
    b[0] = 'a';
    expect_decode_error("bad magic", b, n, ATOTA_ERR_NOT_FOUND, "no firmware-configuration block");
    b[0] = 'A';
    expect_decode_error("7 bytes", b, 7, ATOTA_ERR_NOT_FOUND, "no firmware-configuration block");
    expect_decode_error("NULL", NULL, 0, ATOTA_ERR_NOT_FOUND, "no firmware-configuration block");
    /* The header. */
    expect_decode_error("truncated header", b, 12, ATOTA_ERR_FWCONFIG,
                        "truncated: 12 bytes of its 16-byte header");
    atota_put_le16(b + 8, 2);
    expect_decode_error("version 2", b, n, ATOTA_ERR_FWCONFIG, "version 2, only 1 is known");
    atota_put_le16(b + 8, 1);
    atota_put_le16(b + 10, 2033);
    expect_decode_error("length over the limit", b, sizeof b, ATOTA_ERR_FWCONFIG,
                        "payload length 2033 is over the 2032-byte limit");
    atota_put_le16(b + 10, (uint16_t)strlen(ok));
    expect_decode_error("truncated payload", b, n - 1, ATOTA_ERR_FWCONFIG,
                        "truncated: payload of 12 bytes, 11 present");
    b[12] ^= 1;
    expect_decode_error("bad CRC", b, n, ATOTA_ERR_FWCONFIG, "CRC 0x");
    b[12] ^= 1;
    b[16 + 10] = '2'; /* a payload byte changed under the CRC */
    expect_decode_error("payload changed", b, n, ATOTA_ERR_FWCONFIG, "calculated 0x");

    /* The payload, under a correct CRC. */
    static const struct {
        const char *what;
        const char *payload;
        size_t len;
        const char *message;
    } cases[] = {
        {"NUL", "ota=on\n\0\n", 9, "NUL byte at payload offset 7"},
        {"bad UTF-8", "module_name=\xff\n", 14, "payload offset 12 is not valid UTF-8"},
        {"no final newline", "ota=on\nota_ssl=off", 18, "the last line has no '\\n'"},
        {"empty line", "ota=on\n\nuserota=off\n", 20, "line 2: empty"},
        {"unknown key", "ota=on\ncolor=blue\n", 18, "line 2: unknown key 'color'"},
        {"bad port", "ssl_port=99999\n", 15, "line 1: ssl_port: '99999' is not a port number"},
        {"CRLF", "ota_port=80\r\n", 13, "line 1: ota_port: '80?' is not a port number"},
        {"duplicate", "ota=on\nwebserver=off\nota=off\n", 29, "line 3: key 'ota' given twice"},
        {"duplicate number", "ota_retries=1\nota_retries=2\n", 28,
         "line 2: key 'ota_retries' given twice"},
        {"duplicate switch", "web_captive_portal=off\nweb_captive_portal=on\n", 45,
         "line 2: key 'web_captive_portal' given twice"},
        {"bad switch", "web_captive_portal=1\n", 21,
         "line 1: web_captive_portal: '1' is not on or off"},
        {"bad number", "ota_time_limit=1e3\n", 19, "line 1: ota_time_limit: '1e3' is not a number"},
        {"not KEY=VALUE", "ota_host\n", 9, "line 1: 'ota_host' is not KEY=VALUE"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        n = make_block(b, cases[i].payload, cases[i].len);
        expect_decode_error(cases[i].what, b, n, ATOTA_ERR_FWCONFIG, cases[i].message);
    }
    /* An empty payload is a block that keeps every default. */
    n = make_block(b, "", 0);
    assert_int_equal(atota_fwconfig_decode(b, n, &c, &d), ATOTA_OK);
    assert_true(c.present);
    c.present = false;
    expect_defaults(&c);
}

/* An app image with the block as its second segment and some code after it. */
static size_t build_image(const atota_fwconfig_t *cfg, uint8_t **out)
{
    static uint8_t code[300];
    for (size_t i = 0; i < sizeof code; i++)
        code[i] = (uint8_t)(i * 7);
    uint8_t block[ATOTA_FWCONFIG_MAX_LEN];
    size_t block_len = atota_fwconfig_encode(cfg, block, sizeof block);
    assert_true(block_len > 0);
    atota_image_build_segment_t segs[2] = {{0, block, (uint32_t)block_len}, {0, code, sizeof code}};
    atota_image_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.chip_id = ATOTA_CHIP_ESP32;
    o.version = "v2.0.0-cfg";
    o.project_name = "atota-test";
    o.time = "12:00:00";
    o.date = "Jan  1 2025";
    o.idf_ver = "v5.5";
    o.segments = segs;
    o.segment_count = 2;
    size_t cap = atota_image_build_size(&o);
    assert_true(cap > 0);
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = 0;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_image_build(&o, buf, cap, &len, &d);
    if (err) {
        print_error("atota_image_build: %s\n", atota_diag_text(&d, err));
        fail();
    }
    *out = buf;
    return len;
}

/* Puts an image on a fresh simulated flash at IMAGE_OFFSET and verifies it there. */
static atota_flash_sim_t *flash_with(const uint8_t *img, size_t len, atota_image_info_t *info)
{
    atota_flash_sim_t *sim = fx_sim_new(0x400000);
    memcpy(atota_flash_sim_data(sim) + IMAGE_OFFSET, img, len);
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_image_verify_flash(atota_flash_sim_flash(sim), IMAGE_OFFSET, PART_SIZE,
                                               NULL, info, &d);
    if (err) {
        print_error("atota_image_verify_flash: %s\n", atota_diag_text(&d, err));
        fail();
    }
    return sim;
}

static void image_with_block_is_valid_and_reads_back(void **state)
{
    (void)state;
    atota_fwconfig_t cfg, got;
    custom_config(&cfg);
    uint8_t *img = NULL;
    size_t len = build_image(&cfg, &img);

    /* esptool and ESP-IDF see an ordinary image: checksum and SHA-256 cover the block. */
    atota_image_info_t info;
    atota_diag_t d;
    atota_diag_clear(&d);
    assert_int_equal(atota_image_parse(img, len, NULL, &info, &d), ATOTA_OK);
    assert_true(info.checksum_ok);
    assert_true(info.hash_ok);
    assert_int_equal(info.header.segment_count, 3);
    assert_true(
        atota_chip_is_mapped(atota_chip_by_id(ATOTA_CHIP_ESP32), info.segments[1].load_addr));

    cfg.present = true;
    unsigned seg = 99;
    assert_int_equal(atota_fwconfig_find(img, len, &info, &got, &seg, &d), ATOTA_OK);
    assert_int_equal(seg, 1);
    expect_same_config(&got, &cfg);

    atota_image_info_t finfo;
    atota_flash_sim_t *sim = flash_with(img, len, &finfo);
    memset(&got, 0, sizeof got);
    assert_int_equal(
        atota_fwconfig_read_flash(atota_flash_sim_flash(sim), IMAGE_OFFSET, &finfo, &got, &d),
        ATOTA_OK);
    expect_same_config(&got, &cfg);

    /* A damaged block in the image: the error names the segment, the config is the defaults. */
    uint8_t *data = atota_flash_sim_data(sim);
    uint32_t payload = IMAGE_OFFSET + finfo.segments[1].header_offset + 8 + 16;
    data[payload] ^= 0x20;
    atota_diag_clear(&d);
    assert_int_equal(
        atota_fwconfig_read_flash(atota_flash_sim_flash(sim), IMAGE_OFFSET, &finfo, &got, &d),
        ATOTA_ERR_FWCONFIG);
    expect_contains("damaged block on flash", d.msg,
                    "segment 1 at 0x10128: firmware-configuration block CRC 0x");
    expect_defaults(&got);
    img[finfo.segments[1].header_offset + 8 + 16] ^= 0x20;
    assert_int_equal(atota_fwconfig_find(img, len, &info, &got, &seg, &d), ATOTA_ERR_FWCONFIG);
    expect_contains("damaged block in memory", d.msg, "segment 1 at 0x128: ");
    assert_int_equal(seg, 0);
    atota_flash_sim_close(sim);
    free(img);
}

static void block_in_a_later_segment_is_found(void **state)
{
    (void)state;
    /* Code first, then the block: every segment after the first is looked at. */
    atota_fwconfig_t cfg, got;
    atota_fwconfig_defaults(&cfg);
    set_ok(&cfg, "ota_host=late.example.org");
    uint8_t block[ATOTA_FWCONFIG_MAX_LEN];
    size_t block_len = atota_fwconfig_encode(&cfg, block, sizeof block);
    static const uint8_t code[20] = {9, 9, 9};
    atota_image_build_segment_t segs[2] = {{0, code, sizeof code}, {0, block, (uint32_t)block_len}};
    atota_image_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.chip_id = ATOTA_CHIP_ESP32C3;
    o.version = "late";
    o.segments = segs;
    o.segment_count = 2;
    uint8_t img[4096];
    size_t len = 0;
    atota_diag_t d;
    assert_int_equal(atota_image_build(&o, img, sizeof img, &len, &d), ATOTA_OK);
    atota_image_info_t info;
    atota_flash_sim_t *sim = flash_with(img, len, &info);
    assert_int_equal(
        atota_fwconfig_read_flash(atota_flash_sim_flash(sim), IMAGE_OFFSET, &info, &got, &d),
        ATOTA_OK);
    assert_true(got.present);
    assert_string_equal(got.ota_host, "late.example.org");
    atota_flash_sim_close(sim);
}

static void image_without_block_gives_the_defaults(void **state)
{
    (void)state;
    atota_fwconfig_t got;
    atota_diag_t d;
    atota_diag_clear(&d);

    /* Ours: a descriptor and a code segment. */
    uint8_t *img = NULL;
    size_t len = fx_build_app(ATOTA_CHIP_ESP32, "v1.0.0", &img);
    atota_image_info_t info;
    atota_flash_sim_t *sim = flash_with(img, len, &info);
    memset(&got, 0x5A, sizeof got);
    assert_int_equal(
        atota_fwconfig_read_flash(atota_flash_sim_flash(sim), IMAGE_OFFSET, &info, &got, &d),
        ATOTA_OK);
    expect_defaults(&got);
    atota_flash_sim_close(sim);
    unsigned seg = 99;
    assert_int_equal(atota_image_parse(img, len, NULL, &info, &d), ATOTA_OK);
    assert_int_equal(atota_fwconfig_find(img, len, &info, &got, &seg, &d), ATOTA_OK);
    assert_int_equal(seg, 0);
    expect_defaults(&got);
    free(img);

    /* A real ESP-AT v2.0 build, as Espressif ships it. */
    size_t vlen = 0;
    uint8_t *v = (uint8_t *)fx_read_file(ESP_AT_V2, &vlen);
    sim = flash_with(v, vlen, &info);
    assert_true(info.header.segment_count > 2);
    memset(&got, 0x5A, sizeof got);
    assert_int_equal(
        atota_fwconfig_read_flash(atota_flash_sim_flash(sim), IMAGE_OFFSET, &info, &got, &d),
        ATOTA_OK);
    expect_defaults(&got);
    atota_flash_sim_close(sim);
    free(v);
}

/* A flash whose reads fail, as a power cut or a broken port would. */
static atota_err_t failing_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    (void)ctx, (void)addr, (void)buf, (void)len;
    return ATOTA_ERR_IO;
}

static void flash_read_errors_are_returned(void **state)
{
    (void)state;
    static const atota_flash_ops_t ops = {failing_read, NULL, NULL};
    atota_flash_t flash = {&ops, NULL, 0x400000};
    uint8_t *img = NULL;
    size_t len = fx_build_app(ATOTA_CHIP_ESP32, "v1.0.0", &img);
    atota_image_info_t info;
    atota_diag_t d;
    assert_int_equal(atota_image_parse(img, len, NULL, &info, &d), ATOTA_OK);
    atota_fwconfig_t got;
    atota_diag_clear(&d);
    assert_int_equal(atota_fwconfig_read_flash(&flash, IMAGE_OFFSET, &info, &got, &d),
                     ATOTA_ERR_IO);
    expect_contains("failing read", d.msg, "reading segment 1 at 0x10128");
    expect_defaults(&got);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_esp_at_kconfig),
        cmocka_unit_test(every_key_sets_its_field),
        cmocka_unit_test(bad_keys_and_values_each_say_what),
        cmocka_unit_test(lines_list_every_key_in_block_order),
        cmocka_unit_test(encode_decode_round_trip),
        cmocka_unit_test(encode_refuses_short_buffers_and_bad_values),
        cmocka_unit_test(decode_refuses_damaged_blocks),
        cmocka_unit_test(image_with_block_is_valid_and_reads_back),
        cmocka_unit_test(block_in_a_later_segment_is_found),
        cmocka_unit_test(image_without_block_gives_the_defaults),
        cmocka_unit_test(flash_read_errors_are_returned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
