/* Module profiles: the embedded layouts are ESP-AT's, byte for byte once written as binaries; a
 * replacement at_customize table (`atota flash create --at-customize`) passes the same region
 * check as the profile's own, and atota_flash_layout_write writes it or refuses it untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/fmt/profile.h"
#include "core/ota/flash_layout.h"
#include "port/posix/flash_sim.h"

static void read_vector(const char *rel, uint8_t *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", ATOTA_VECTORS_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open vector %s", path);
    size_t got = fread(buf, 1, len, f);
    fclose(f);
    assert_int_equal(got, len);
}

/* profile name, ESP-AT module_config directory, module name, chip, at_customize offset */
static const struct {
    const char *name, *esp_at_dir, *module_name, *target;
    uint32_t at_customize_offset, ota0, ota1, slot_size;
} expected[] = {
    {"esp32-c3-mini-1", "module_esp32c3_default", "MINI-1", "esp32c3", 0x1e000, 0x60000, 0x230000,
     0x1d0000},
    {"esp32-wroom-32", "module_esp32_default", "WROOM-32", "esp32", 0x20000, 0x100000, 0x280000,
     0x180000},
};

static void profiles_are_esp_at_layouts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        atota_profile_t *p = malloc(sizeof *p);
        atota_diag_t d = {{0}};
        atota_err_t err = atota_profile_load(expected[i].name, p, &d);
        if (err)
            fail_msg("%s: %s", expected[i].name, atota_diag_text(&d, err));
        assert_string_equal(p->module_name, expected[i].module_name);
        assert_string_equal(p->chip->target, expected[i].target);
        assert_int_equal(p->flash_size, 0x400000);
        assert_int_equal(p->partition_table_offset, 0x8000);
        assert_int_equal(p->at_customize_offset, expected[i].at_customize_offset);
        assert_true(p->rollback_enabled);

        const atota_partition_t *ota0 = atota_partition_find(&p->partitions, "ota_0");
        const atota_partition_t *ota1 = atota_partition_find(&p->partitions, "ota_1");
        assert_non_null(ota0);
        assert_non_null(ota1);
        assert_int_equal(ota0->offset, expected[i].ota0);
        assert_int_equal(ota1->offset, expected[i].ota1);
        assert_int_equal(ota0->size, expected[i].slot_size);

        /* Written out, the tables equal what gen_esp32part makes with esp-at's build flags. */
        uint8_t got[ATOTA_PT_BIN_SIZE], want[ATOTA_PT_BIN_SIZE];
        char rel[256];
        assert_int_equal(atota_partition_table_write_bin(&p->partitions, got, NULL), ATOTA_OK);
        snprintf(rel, sizeof rel, "at_customize/esp-at-master/%s/partitions_at.generated.bin",
                 expected[i].esp_at_dir);
        read_vector(rel, want, sizeof want);
        assert_memory_equal(got, want, sizeof want);
        assert_int_equal(atota_partition_table_write_bin(&p->at_customize, got, NULL), ATOTA_OK);
        snprintf(rel, sizeof rel, "at_customize/esp-at-master/%s/at_customize.generated.bin",
                 expected[i].esp_at_dir);
        read_vector(rel, want, sizeof want);
        assert_memory_equal(got, want, sizeof want);
        free(p);
    }
}

static void names_enumerate_sorted_and_unknown_fails(void **state)
{
    (void)state;
    assert_string_equal(atota_profile_name(0), "esp32-c3-mini-1");
    assert_string_equal(atota_profile_name(1), "esp32-wroom-32");
    unsigned n = 0;
    while (atota_profile_name(n))
        n++;
    assert_true(n >= 2);

    atota_profile_t *p = malloc(sizeof *p);
    atota_diag_t d = {{0}};
    assert_int_equal(atota_profile_load("esp8266", p, &d), ATOTA_ERR_PROFILE_UNKNOWN);
    assert_string_equal(d.msg, "unknown module profile 'esp8266'");
    assert_int_equal(atota_profile_load(NULL, p, &d), ATOTA_ERR_PROFILE_UNKNOWN);
    free(p);
}

/* ESP-AT v2.x's legacy names (esp-at-ota.md §5.2), inside esp32-wroom-32's region
 * (0x20000-0xfffff, partitions from 0x21000). */
static const char legacy_csv[] = "# Name, Type, SubType, Offset, Size\n"
                                 "mfg_nvs, data, nvs, 0x21000, 112K\n"
                                 "factory_param, 0x40, 8, 0x3D000, 4K\n"
                                 "mqtt_ca, 0x40, 14, 0x3E000, 8K\n"
                                 "fs_storage, data, 0xff, 0x70000, 576K\n";

static void expect_refused(const atota_profile_t *p, const char *csv, atota_err_t want,
                           const char *want_msg)
{
    atota_partition_table_t *t = malloc(sizeof *t);
    atota_diag_t d = {{0}};
    atota_err_t err =
        atota_profile_parse_at_customize(p, (const uint8_t *)csv, strlen(csv), NULL, t, &d);
    if (err != want || !strstr(d.msg, want_msg))
        fail_msg("'%s': expected %s with '%s', got %s: '%s'", csv, atota_err_name(want), want_msg,
                 atota_err_name(err), d.msg);
    free(t);
}

static void replacement_at_customize_is_checked(void **state)
{
    (void)state;
    atota_profile_t *p = malloc(sizeof *p);
    atota_partition_table_t *csv = malloc(sizeof *csv), *bin = malloc(sizeof *bin);
    atota_diag_t d = {{0}};
    assert_int_equal(atota_profile_load("esp32-wroom-32", p, &d), ATOTA_OK);

    /* CSV, then its binary (no MD5 row): the same table, with the MD5 row the profile's has */
    assert_int_equal(atota_profile_parse_at_customize(p, (const uint8_t *)legacy_csv,
                                                      strlen(legacy_csv), NULL, csv, &d),
                     ATOTA_OK);
    assert_int_equal(csv->count, 4);
    assert_true(csv->has_md5);
    assert_int_equal(atota_partition_find(csv, "mqtt_ca")->offset, 0x3e000);
    assert_int_equal(atota_partition_find(csv, "factory_param")->type, 0x40);
    uint8_t raw[ATOTA_PT_BIN_SIZE], with_md5[ATOTA_PT_BIN_SIZE];
    csv->has_md5 = false;
    assert_int_equal(atota_partition_table_write_bin(csv, raw, NULL), ATOTA_OK);
    csv->has_md5 = true;
    assert_int_equal(atota_partition_table_write_bin(csv, with_md5, NULL), ATOTA_OK);
    assert_int_equal(atota_profile_parse_at_customize(p, raw, sizeof raw, NULL, bin, &d), ATOTA_OK);
    assert_true(bin->has_md5);
    uint8_t again[ATOTA_PT_BIN_SIZE];
    assert_int_equal(atota_partition_table_write_bin(bin, again, NULL), ATOTA_OK);
    assert_memory_equal(again, with_md5, sizeof again);

    /* outside the region, past its end or across it; in the table's own sector; a bad binary */
    expect_refused(p, "mqtt_ca, 0x40, 14, 0x100000, 8K\n", ATOTA_ERR_PT_INVALID,
                   "partition 'mqtt_ca' invalid: 0x2000 bytes at 0x100000 are outside the "
                   "at_customize region of esp32-wroom-32 (0x20000-0xfffff");
    expect_refused(p, "mqtt_ca, 0x40, 14, 0xff000, 8K\n", ATOTA_ERR_PT_INVALID,
                   "0x2000 bytes at 0xff000 are outside");
    expect_refused(p, "mqtt_ca, 0x40, 14, 0x20000, 8K\n", ATOTA_ERR_PT_OVERLAP,
                   "overlaps the partition table at 0x20000");
    uint8_t corrupt[ATOTA_PT_BIN_SIZE];
    memcpy(corrupt, with_md5, sizeof corrupt);
    corrupt[12] ^= 0x01; /* a byte of the first entry's name: the MD5 row no longer matches */
    assert_int_equal(atota_profile_parse_at_customize(p, corrupt, sizeof corrupt, NULL, bin, &d),
                     ATOTA_ERR_PT_MD5);

    /* atota_flash_layout_write checks a table it is given too, before it erases anything */
    size_t app_len = atota_flash_layout_factory_app_size(p), len = 0;
    uint8_t *app = malloc(app_len);
    assert_int_equal(atota_flash_layout_factory_app(p, app, app_len, &len, &d), ATOTA_OK);
    atota_flash_sim_opts_t so = {.size = p->flash_size, .strict = true};
    atota_flash_sim_t *sim = NULL;
    assert_int_equal(atota_flash_sim_open(&so, &sim, &d), ATOTA_OK);
    atota_partition_table_t *outside = malloc(sizeof *outside);
    *outside = *csv;
    outside->entries[1].offset = 0x100000;
    atota_flash_layout_t images = {.app = {app, len, "factory"}, .at_customize = outside};
    assert_int_equal(atota_flash_layout_write(atota_flash_sim_flash(sim), p, &images, &d),
                     ATOTA_ERR_PT_INVALID);
    assert_non_null(strstr(d.msg, "at_customize: partition 'factory_param' invalid"));
    const uint8_t *bytes = atota_flash_sim_data(sim);
    for (uint32_t i = 0; i < p->flash_size; i++)
        if (bytes[i] != 0xFF)
            fail_msg("the refused layout wrote 0x%02x at 0x%x", bytes[i], i);
    /* the good one lands at the at_customize offset, MD5 row and all */
    images.at_customize = csv;
    assert_int_equal(atota_flash_layout_write(atota_flash_sim_flash(sim), p, &images, &d),
                     ATOTA_OK);
    assert_memory_equal(bytes + p->at_customize_offset, with_md5, sizeof with_md5);
    atota_flash_sim_close(sim);
    free(outside);
    free(app);
    free(bin);
    free(csv);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(profiles_are_esp_at_layouts),
        cmocka_unit_test(names_enumerate_sorted_and_unknown_fails),
        cmocka_unit_test(replacement_at_customize_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
