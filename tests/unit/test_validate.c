/* Upload checks of atota-server: what a device would refuse is refused before it is stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/proto/iot.h"
#include "server/validate.h"
#include "support/check.h"

static uint8_t *vector(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", ATOTA_VECTORS_DIR, rel);
    uint8_t *buf = (uint8_t *)fx_try_read_file(path, len);
    if (!buf)
        fail_msg("cannot read vector %s", path);
    return buf;
}

static void expect_refused(const char *name, const void *data, size_t len, atota_err_t want,
                           const char *words)
{
    atota_diag_t d = {{0}};
    atota_validate_result_t r;
    atota_err_t err = atota_validate_file(name, data, len, &r, &d);
    if (err != want)
        fail_msg("%s (%zu bytes): expected %s, got %s (%s)", name, len, atota_err_name(want),
                 atota_err_name(err), atota_diag_text(&d, err));
    if (words && !strstr(d.msg, words))
        fail_msg("%s: message '%s' does not say '%s'", name, d.msg, words);
}

static void real_esp_at_images_are_accepted(void **state)
{
    (void)state;
    static const struct {
        const char *file, *chip, *version, *project;
    } cases[] = {
        {"app/esp32_esp-at-ES4.2.0_esp-at.bin", "esp32", "ES4.2.0", "esp-at"},
        {"app/esp32_idf5.4_esp-at-v4.1.0.0-dev_sbv2-signed.bin", "esp32", "v4.1.0.0-dev", "esp-at"},
        {"app/esp32_idf3.3_esp-at-v2.0_esp-at.bin", "esp32", "ESP-AT", "esp-at"},
        {"app/esp32c3_idf5.2.2_hello_world.bin", "esp32c3", "v1.4.1-2-g0296947-dirty",
         "hello_world"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *img = vector(cases[i].file, &len);
        atota_validate_result_t r;
        atota_diag_t d = {{0}};
        atota_err_t err = atota_validate_file("ota.bin", img, len, &r, &d);
        if (err)
            fail_msg("%s refused: %s", cases[i].file, atota_diag_text(&d, err));
        assert_true(r.is_app);
        assert_string_equal(r.chip, cases[i].chip);
        assert_string_equal(r.app_version, cases[i].version);
        assert_string_equal(r.project, cases[i].project);
        assert_string_equal(r.warning, "");
        free(img);
    }
}

static void damaged_images_are_refused(void **state)
{
    (void)state;
    size_t len;
    uint8_t *img = vector("app/esp32_esp-at-ES4.2.0_esp-at.bin", &len);

    /* one flipped byte in the middle: the checksum or the SHA-256 no longer match */
    img[len / 2] ^= 0x01;
    atota_diag_t d = {{0}};
    atota_err_t err = atota_validate_file("ota.bin", img, len, NULL, &d);
    assert_true(err == ATOTA_ERR_IMAGE_CHECKSUM || err == ATOTA_ERR_IMAGE_HASH);
    assert_non_null(strstr(d.msg, "ota.bin is not a valid app image"));
    img[len / 2] ^= 0x01;

    /* truncated */
    expect_refused("ota.bin", img, len - 100, ATOTA_ERR_IMAGE_TRUNCATED, "not a valid app image");
    /* not an image at all */
    img[0] = 0x00;
    expect_refused("ota.bin", img, len, ATOTA_ERR_IMAGE_MAGIC, "not a valid app image");
    /* a certificate uploaded as ota.bin */
    static const uint8_t cert[64] = {0xF1, 0xF1};
    expect_refused("ota.bin", cert, sizeof cert, ATOTA_ERR_IMAGE_MAGIC, NULL);
    free(img);

    /* a bootloader is an image, but not an app: no app descriptor */
    uint8_t *boot = vector("bootloader/esp32_idf3.3_esp-at-v2.0_bootloader.bin", &len);
    atota_diag_t d2 = {{0}};
    err = atota_validate_file("ota.bin", boot, len, NULL, &d2);
    assert_int_not_equal(err, ATOTA_OK);
    assert_non_null(strstr(d2.msg, "ota.bin is not a valid app image"));
    free(boot);
}

static void partition_files_need_esp_at_magic(void **state)
{
    (void)state;
    uint8_t buf[8192];
    memset(buf, 0x30, sizeof buf);
    atota_validate_result_t r;

    /* certificates and keys: F1 F1 */
    buf[0] = 0xF1;
    buf[1] = 0xF1;
    assert_int_equal(atota_validate_file("mqtt_ca.bin", buf, 2048, &r, NULL), ATOTA_OK);
    assert_false(r.is_app);
    assert_string_equal(r.label, "mqtt_ca");
    assert_string_equal(r.warning, "");
    assert_int_equal(atota_validate_file("client_key.bin", buf, 100, NULL, NULL), ATOTA_OK);
    assert_int_equal(atota_validate_file("wpa_ent_ca.bin", buf, 100, NULL, NULL), ATOTA_OK);
    assert_int_equal(atota_validate_file("wpa2_ca.bin", buf, 100, NULL, NULL), ATOTA_OK);
    expect_refused("factory_param.bin", buf, 100, ATOTA_ERR_UNSUPPORTED, "FC FC");
    expect_refused("ble_data.bin", buf, 100, ATOTA_ERR_UNSUPPORTED, "27 95 at offset 2");
    buf[1] = 0xF0;
    expect_refused("server_cert.bin", buf, 100, ATOTA_ERR_UNSUPPORTED,
                   "must have the magic F1 F1 at offset 0");
    expect_refused("server_cert.bin", buf, 1, ATOTA_ERR_UNSUPPORTED, "too short");

    /* factory_param: FC FC */
    buf[0] = 0xFC;
    buf[1] = 0xFC;
    assert_int_equal(atota_validate_file("factory_param.bin", buf, 4096, NULL, NULL), ATOTA_OK);

    /* ble_data: 27 95 at offset 2 */
    buf[0] = 0x00;
    buf[1] = 0x00;
    buf[2] = 0x27;
    buf[3] = 0x95;
    assert_int_equal(atota_validate_file("ble_data.bin", buf, 1000, NULL, NULL), ATOTA_OK);
    expect_refused("ble_data.bin", buf, 3, ATOTA_ERR_UNSUPPORTED, "too short");

    /* empty files are nothing to flash */
    expect_refused("mqtt_ca.bin", buf, 0, ATOTA_ERR_INVALID_ARG, "empty");
}

static void partition_files_must_fit_the_partition(void **state)
{
    (void)state;
    /* ESP-AT v2.0's at_customize.csv: factory_param 4K, mqtt_ca 8K, ble_data 12K */
    assert_int_equal(atota_validate_label_max_size("factory_param"), 4096);
    assert_int_equal(atota_validate_label_max_size("mqtt_ca"), 8192);
    assert_int_equal(atota_validate_label_max_size("ble_data"), 12288);
    /* the embedded profiles: mfg_nvs 124K (ESP32-C3) beats 112K (ESP32) */
    assert_int_equal(atota_validate_label_max_size("mfg_nvs"), 124 * 1024);
    assert_int_equal(atota_validate_label_max_size("fs_storage"), 576 * 1024);
    assert_int_equal(atota_validate_label_max_size("no_such_label"), 0);

    uint8_t *buf = calloc(1, 16 * 1024 * 1024 + 1);
    assert_non_null(buf);
    buf[0] = 0xFC;
    buf[1] = 0xFC;
    assert_int_equal(atota_validate_file("factory_param.bin", buf, 4096, NULL, NULL), ATOTA_OK);
    expect_refused("factory_param.bin", buf, 4097, ATOTA_ERR_TOO_BIG, "4096");
    buf[0] = 0xF1;
    buf[1] = 0xF1;
    expect_refused("mqtt_ca.bin", buf, 8193, ATOTA_ERR_TOO_BIG, "largest mqtt_ca partition");

    /* a label without a magic: accepted, with a warning that AT+CIUPDATE refuses it */
    atota_validate_result_t r;
    assert_int_equal(atota_validate_file("mfg_nvs.bin", buf, 124 * 1024, &r, NULL), ATOTA_OK);
    assert_non_null(strstr(r.warning, "AT+CIUPDATE"));
    assert_int_equal(r.max_size, 124 * 1024);
    expect_refused("mfg_nvs.bin", buf, 124 * 1024 + 1, ATOTA_ERR_TOO_BIG, NULL);

    /* a label no table knows: accepted with a warning, up to 16 MiB */
    assert_int_equal(atota_validate_file("my_data.bin", buf, 1 << 20, &r, NULL), ATOTA_OK);
    assert_non_null(strstr(r.warning, "my_data"));
    assert_int_equal(r.max_size, 16 * 1024 * 1024);
    assert_int_equal(atota_validate_file("my_data.bin", buf, 16 * 1024 * 1024, NULL, NULL),
                     ATOTA_OK);
    expect_refused("my_data.bin", buf, 16 * 1024 * 1024 + 1, ATOTA_ERR_TOO_BIG, "16777216");
    expect_refused("ota.bin", buf, 16 * 1024 * 1024 + 1, ATOTA_ERR_TOO_BIG, NULL);
    free(buf);
}

static void names_that_could_be_paths_are_refused(void **state)
{
    (void)state;
    static const char *const good[] = {"ota.bin", "mqtt_ca.bin", "a.bin", "0123456789abcdef.bin",
                                       "fs_storage.bin"};
    static const char *const bad[] = {
        "",
        ".bin",
        "ota",
        "OTA.bin",
        "Mqtt_ca.bin",
        "ota.BIN",
        "../ota.bin",
        "a/b.bin",
        "/ota.bin",
        "..bin",
        "..",
        "ota.bin/",
        "ota..bin",
        "a-b.bin",
        "a b.bin",
        "ota.bin.gz",
        "ota.txt",
        "a\\b.bin",
        "0123456789abcdefg.bin",
        "ota.bin\n",
        "%2e.bin",
        "mqtt.ca.bin",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!atota_validate_name(good[i]))
            fail_msg("name '%s' refused", good[i]);
    uint8_t data[16] = {0xF1, 0xF1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (atota_validate_name(bad[i]))
            fail_msg("name '%s' accepted", bad[i]);
        expect_refused(bad[i], data, sizeof data, ATOTA_ERR_INVALID_ARG, "invalid file name");
    }
    assert_false(atota_validate_name(NULL));
}

/* Versions go raw into ESP-AT's request line and are read up to `",`: only what the device API
 * can send is taken, so an accepted version is never one the device API then refuses. */
static void versions_and_names(void **state)
{
    (void)state;
    static const char *const good[] = {"v4.1.0.0", "V2.0", "1", "v4.1.0.0-dev_2~rc1"};
    for (unsigned i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!atota_validate_version(good[i]))
            fail_msg("version '%s' refused", good[i]);
        assert_true(atota_iot_version_is_safe(good[i]));
    }
    static const char *const bad[] = {"",       "v1 0",  "v1+2", "v1\"", "v1,2",
                                      "v1&x=2", "v1%20", "v1?",  "v1#",  "v1/2"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (atota_validate_version(bad[i]))
            fail_msg("version '%s' accepted", bad[i]);
    char long_version[66];
    memset(long_version, 'v', 65);
    long_version[65] = '\0';
    assert_false(atota_validate_version(long_version));
    long_version[64] = '\0';
    assert_true(atota_validate_version(long_version));
    assert_false(atota_validate_version(NULL));

    assert_true(atota_validate_object_name("module 1 (lab)"));
    assert_false(atota_validate_object_name(""));
    assert_false(atota_validate_object_name("a\nb"));
    assert_false(atota_validate_object_name(NULL));
    char long_name[66];
    memset(long_name, 'n', 65);
    long_name[65] = '\0';
    assert_false(atota_validate_object_name(long_name));
    long_name[64] = '\0';
    assert_true(atota_validate_object_name(long_name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_esp_at_images_are_accepted),
        cmocka_unit_test(damaged_images_are_refused),
        cmocka_unit_test(partition_files_need_esp_at_magic),
        cmocka_unit_test(partition_files_must_fit_the_partition),
        cmocka_unit_test(names_that_could_be_paths_are_refused),
        cmocka_unit_test(versions_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
