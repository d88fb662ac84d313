/* Module profiles: the embedded layouts are ESP-AT's, byte for byte once written as binaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/fmt/profile.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(profiles_are_esp_at_layouts),
        cmocka_unit_test(names_enumerate_sorted_and_unknown_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
