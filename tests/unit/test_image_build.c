/* atota_image_build: the §3 worked example byte for byte, extra segments placed by the MMU rule,
 * every chip, and every built image passing atota_image_parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/fmt/image.h"
#include "core/util/crc32.h"

/* esp-idf-formats.md §3: the tiny valid ESP32 app image (336 bytes). */
static const uint8_t tiny_example[336] = {
    0xe9, 0x01, 0x02, 0x20, 0x00, 0x00, 0x08, 0x40, 0xee, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x8f, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x00, 0x40, 0x3f, 0x00, 0x01, 0x00, 0x00,
    0x32, 0x54, 0xcd, 0xab, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x31, 0x2e, 0x30, 0x2e, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x74, 0x69, 0x6e, 0x79, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x31, 0x32, 0x3a, 0x30, 0x30, 0x3a, 0x30, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x4a, 0x61, 0x6e, 0x20, 0x20, 0x31, 0x20, 0x32, 0x30, 0x32, 0x35, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x76, 0x35, 0x2e, 0x35, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xcc,
    0x7a, 0x6f, 0x52, 0xeb, 0x21, 0xdb, 0xb3, 0x10, 0x67, 0xf5, 0xa7, 0xb4, 0x82, 0x69, 0x2d, 0x6c,
    0xb7, 0x8e, 0x4c, 0x7f, 0x79, 0xe3, 0x61, 0x54, 0xa8, 0xae, 0x76, 0xe7, 0x48, 0x2f, 0xea, 0x1c,
};

static atota_image_build_opts_t tiny_opts(void)
{
    atota_image_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.chip_id = ATOTA_CHIP_ESP32;
    o.version = "1.0.0";
    o.project_name = "tiny";
    o.time = "12:00:00";
    o.date = "Jan  1 2025";
    o.idf_ver = "v5.5";
    return o;
}

static void expect_same_bytes(const uint8_t *got, const uint8_t *want, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (got[i] != want[i]) {
            print_error("byte 0x%zx: expected 0x%02x, got 0x%02x\n", i, want[i], got[i]);
            fail();
        }
    }
}

static void builds_the_worked_example_byte_for_byte(void **state)
{
    (void)state;
    atota_image_build_opts_t o = tiny_opts();
    assert_int_equal(atota_image_build_size(&o), sizeof tiny_example);
    uint8_t out[512];
    size_t len = 0;
    atota_diag_t d;
    assert_int_equal(atota_image_build(&o, out, sizeof out, &len, &d), ATOTA_OK);
    assert_int_equal(len, sizeof tiny_example);
    expect_same_bytes(out, tiny_example, sizeof tiny_example);

    atota_image_info_t info;
    assert_int_equal(atota_image_parse(out, len, NULL, &info, &d), ATOTA_OK);
    assert_int_equal(info.checksum_stored, 0xcc);
    assert_true(info.hash_ok);
    assert_string_equal(info.app_desc.project_name, "tiny");
    assert_string_equal(info.app_desc.date, "Jan  1 2025");
}

static void refuses_a_buffer_too_small(void **state)
{
    (void)state;
    atota_image_build_opts_t o = tiny_opts();
    uint8_t out[335];
    size_t len = 99;
    assert_int_equal(atota_image_build(&o, out, sizeof out, &len, NULL), ATOTA_ERR_TOO_BIG);
    assert_int_equal(len, 0);
}

static void refuses_invalid_options(void **state)
{
    (void)state;
    atota_image_build_opts_t o = tiny_opts();
    o.chip_id = 0x99;
    assert_int_equal(atota_image_build_size(&o), 0);
    uint8_t out[512];
    atota_diag_t d;
    assert_int_equal(atota_image_build(&o, out, sizeof out, NULL, &d), ATOTA_ERR_INVALID_ARG);
    assert_non_null(strstr(d.msg, "chip"));

    o = tiny_opts();
    atota_image_build_segment_t segs[16];
    memset(segs, 0, sizeof segs);
    o.segments = segs;
    o.segment_count = 16;
    assert_int_equal(atota_image_build(&o, out, sizeof out, NULL, &d), ATOTA_ERR_IMAGE_SEGMENTS);
}

static void truncates_long_strings_leaving_a_nul(void **state)
{
    (void)state;
    atota_image_build_opts_t o = tiny_opts();
    o.version = "0123456789012345678901234567890123456789"; /* 40 chars into 32 */
    uint8_t out[512];
    size_t len;
    assert_int_equal(atota_image_build(&o, out, sizeof out, &len, NULL), ATOTA_OK);
    atota_image_info_t info;
    assert_int_equal(atota_image_parse(out, len, NULL, &info, NULL), ATOTA_OK);
    assert_string_equal(info.app_desc.version, "0123456789012345678901234567890");
}

/* Extra segments with load_addr 0 land in DROM, congruent to their file offset mod 64 KB, and do
 * not overlap; the image passes the MMU rule at any 64 KB-aligned partition. */
static void places_extra_segments_by_the_mmu_rule(void **state)
{
    (void)state;
    static const uint16_t ids[] = {ATOTA_CHIP_ESP32,   ATOTA_CHIP_ESP32S2,  ATOTA_CHIP_ESP32S3,
                                   ATOTA_CHIP_ESP32C2, ATOTA_CHIP_ESP32C3,  ATOTA_CHIP_ESP32C5,
                                   ATOTA_CHIP_ESP32C6, ATOTA_CHIP_ESP32C61, ATOTA_CHIP_ESP32H2,
                                   ATOTA_CHIP_ESP32P4};
    size_t big_len = 150000 + 2; /* not a multiple of 4: padded */
    uint8_t *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)(i * 7 + 1);
    static const uint8_t small[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    atota_image_build_segment_t segs[3] = {
        {0, small, sizeof small}, {0, big, (uint32_t)big_len}, {0, small, 4}};

    for (size_t c = 0; c < sizeof ids / sizeof ids[0]; c++) {
        const atota_chip_t *chip = atota_chip_by_id(ids[c]);
        assert_non_null(chip);
        atota_image_build_opts_t o = tiny_opts();
        o.chip_id = ids[c];
        o.segments = segs;
        o.segment_count = 3;
        size_t size = atota_image_build_size(&o);
        assert_true(size > big_len);
        uint8_t *out = malloc(size);
        assert_non_null(out);
        size_t len = 0;
        atota_diag_t d;
        atota_err_t err = atota_image_build(&o, out, size, &len, &d);
        if (err)
            print_error("%s: %s\n", chip->target, d.msg);
        assert_int_equal(err, ATOTA_OK);
        assert_int_equal(len, size);

        atota_image_opts_t opts = {.check_chip = true, .chip_id = ids[c], .flash_offset = 0x110000};
        atota_image_info_t info;
        err = atota_image_parse(out, len, &opts, &info, &d);
        if (err)
            print_error("%s: %s\n", chip->target, d.msg);
        assert_int_equal(err, ATOTA_OK);
        assert_int_equal(info.header.segment_count, 4);
        assert_int_equal(info.header.chip_id, ids[c]);
        assert_int_equal(info.header.max_chip_rev_full, chip->default_max_rev);
        uint32_t prev_end = 0;
        for (unsigned i = 0; i < 4; i++) {
            const atota_image_segment_t *s = &info.segments[i];
            uint32_t data_off = s->header_offset + 8;
            assert_true(s->load_addr >= chip->drom_base && s->load_addr < chip->drom_end);
            assert_int_equal(s->load_addr % 0x10000, data_off % 0x10000);
            assert_true(s->load_addr >= prev_end); /* no overlap, increasing */
            prev_end = s->load_addr + s->data_len;
        }
        assert_int_equal(info.segments[1].data_len, 12);
        assert_int_equal(info.segments[2].data_len, 150004);
        assert_memory_equal(out + info.segments[2].header_offset + 8, big, big_len);
        assert_int_equal(out[info.segments[2].header_offset + 8 + big_len], 0);
        free(out);
    }
    free(big);
}

static void honours_header_options(void **state)
{
    (void)state;
    atota_image_build_opts_t o = tiny_opts();
    o.chip_id = ATOTA_CHIP_ESP32C3;
    o.spi_mode = 3;
    o.spi_size = 4;
    o.spi_speed = 0xF;
    o.min_chip_rev_full = 3;
    o.max_chip_rev_full = 199;
    o.secure_version = 7;
    uint8_t sha[32];
    for (int i = 0; i < 32; i++)
        sha[i] = (uint8_t)i;
    o.app_elf_sha256 = sha;
    uint8_t out[512];
    size_t len;
    assert_int_equal(atota_image_build(&o, out, sizeof out, &len, NULL), ATOTA_OK);
    atota_image_info_t info;
    assert_int_equal(atota_image_parse(out, len, NULL, &info, NULL), ATOTA_OK);
    assert_int_equal(info.header.spi_mode, 3);
    assert_int_equal(info.header.spi_size, 4);
    assert_int_equal(info.header.spi_speed, 0xF);
    assert_int_equal(info.header.min_chip_rev_full, 3);
    assert_int_equal(info.header.max_chip_rev_full, 199);
    assert_int_equal(info.segments[0].load_addr, 0x3C000020);
    assert_int_equal(info.app_desc.secure_version, 7);
    assert_memory_equal(info.app_desc.app_elf_sha256, sha, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builds_the_worked_example_byte_for_byte),
        cmocka_unit_test(refuses_a_buffer_too_small),
        cmocka_unit_test(refuses_invalid_options),
        cmocka_unit_test(truncates_long_strings_leaving_a_nul),
        cmocka_unit_test(places_extra_segments_by_the_mmu_rule),
        cmocka_unit_test(honours_header_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
