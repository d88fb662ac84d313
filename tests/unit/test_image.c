/* Damaged images: each kind of damage gives its own error, as early as the stream can see it,
 * and the stream agrees with the whole-buffer parse. */
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
#include "core/util/hash.h"

#define SEG0_DATA 0x20u /* file offset of segment 0's data */

static uint8_t payload[5000];
static uint8_t image[8192];
static size_t image_len;

/* A valid ESP32 app: descriptor segment + one 5000-byte DROM segment. */
static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 13 + 5);
    atota_image_build_segment_t seg = {0, payload, sizeof payload};
    atota_image_build_opts_t o = {.chip_id = ATOTA_CHIP_ESP32,
                                  .version = "2.0",
                                  .project_name = "damage",
                                  .idf_ver = "v5.5",
                                  .segments = &seg,
                                  .segment_count = 1};
    return atota_image_build(&o, image, sizeof image, &image_len, NULL) == ATOTA_OK ? 0 : -1;
}

/* Re-seals the checksum and hash after a header edit, so only the intended damage remains. */
static void reseal(uint8_t *img, size_t len)
{
    atota_image_info_t info;
    atota_image_parse(img, len, NULL, &info, NULL);
    uint32_t ck_pos = (uint32_t)len - 33;
    uint8_t ck = 0xEF;
    uint32_t pos = 24;
    for (unsigned i = 0; i < img[1] && pos + 8 <= ck_pos; i++) {
        uint32_t l = atota_le32(img + pos + 4);
        pos += 8;
        for (uint32_t k = 0; k < l && pos + k < ck_pos; k++)
            ck ^= img[pos + k];
        pos += l;
    }
    img[ck_pos] = ck;
    atota_sha256(img, ck_pos + 1, img + ck_pos + 1);
}

/* Parses buf and streams it 1 byte at a time; both must give want, with a message. */
static void expect_error(const uint8_t *buf, size_t len, const atota_image_opts_t *opts,
                         atota_err_t want, const char *what)
{
    atota_diag_t d;
    atota_image_info_t info;
    atota_err_t got = atota_image_parse(buf, len, opts, &info, &d);
    if (got != want) {
        print_error("%s: expected %s, got %s (%s)\n", what, atota_err_name(want),
                    atota_err_name(got), atota_diag_text(&d, got));
        fail();
    }
    atota_image_stream_t s;
    atota_image_stream_init(&s, opts);
    for (size_t i = 0; i < len; i++)
        atota_image_stream_feed(&s, buf + i, 1, NULL);
    atota_diag_t d2;
    atota_err_t got2 = atota_image_stream_finish(&s, NULL, &d2);
    if (got2 != want) {
        print_error("%s (stream): expected %s, got %s\n", what, atota_err_name(want),
                    atota_err_name(got2));
        fail();
    }
    if (want != ATOTA_OK && strlen(d.msg) == 0) {
        print_error("%s: no diagnostic message\n", what);
        fail();
    }
}

/* The stream reports the error no later than byte `at` (it is sticky afterwards). */
static void expect_error_by(const uint8_t *buf, size_t len, const atota_image_opts_t *opts,
                            size_t at, atota_err_t want, const char *what)
{
    atota_image_stream_t s;
    atota_image_stream_init(&s, opts);
    atota_err_t got = atota_image_stream_feed(&s, buf, at < len ? at : len, NULL);
    if (got != want) {
        print_error("%s: after %zu bytes expected %s, got %s\n", what, at, atota_err_name(want),
                    atota_err_name(got));
        fail();
    }
    atota_image_stream_finish(&s, NULL, NULL);
}

static void the_valid_image_passes(void **state)
{
    (void)state;
    expect_error(image, image_len, NULL, ATOTA_OK, "valid image");
    atota_image_opts_t o = {.check_chip = true,
                            .chip_id = ATOTA_CHIP_ESP32,
                            .check_chip_rev = true,
                            .chip_rev = 301,
                            .max_len = (uint32_t)image_len,
                            .flash_offset = 0x10000};
    expect_error(image, image_len, &o, ATOTA_OK, "valid image, all checks");
}

static void truncation_at_every_region_is_truncated(void **state)
{
    (void)state;
    size_t cuts[] = {0,
                     1,
                     10,
                     23,
                     24,
                     30,
                     31,
                     32,
                     0x20 + 100,
                     0x120,
                     0x125,
                     0x128,
                     3000,
                     image_len - 34,
                     image_len - 33,
                     image_len - 32,
                     image_len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "truncated at %zu of %zu", cuts[i], image_len);
        expect_error(image, cuts[i], NULL, ATOTA_ERR_IMAGE_TRUNCATED, what);
    }
    /* every length, byte by byte, through the parse */
    for (size_t n = 0; n < image_len; n++) {
        atota_err_t err = atota_image_parse(image, n, NULL, NULL, NULL);
        if (err != ATOTA_ERR_IMAGE_TRUNCATED) {
            print_error("cut at %zu: expected TRUNCATED, got %s\n", n, atota_err_name(err));
            fail();
        }
    }
    atota_diag_t d;
    atota_image_parse(image, 3000, NULL, NULL, &d);
    assert_non_null(strstr(d.msg, "3000"));
}

static void bad_magic_fails_on_the_first_byte(void **state)
{
    (void)state;
    uint8_t buf[8192];
    memcpy(buf, image, image_len);
    buf[0] = 0xE8;
    expect_error(buf, image_len, NULL, ATOTA_ERR_IMAGE_MAGIC, "bad magic");
    expect_error_by(buf, image_len, NULL, 1, ATOTA_ERR_IMAGE_MAGIC, "bad magic");
}

static void header_faults(void **state)
{
    (void)state;
    uint8_t buf[8192];
    memcpy(buf, image, image_len);
    buf[23] = 2; /* hash_appended must be 0 or 1 */
    expect_error(buf, image_len, NULL, ATOTA_ERR_IMAGE_HEADER, "hash_appended=2");
    expect_error_by(buf, image_len, NULL, 24, ATOTA_ERR_IMAGE_HEADER, "hash_appended=2");

    memcpy(buf, image, image_len);
    buf[1] = 17;
    expect_error(buf, image_len, NULL, ATOTA_ERR_IMAGE_SEGMENTS, "17 segments");
    expect_error_by(buf, image_len, NULL, 24, ATOTA_ERR_IMAGE_SEGMENTS, "17 segments");
}

static void segment_faults(void **state)
{
    (void)state;
    uint8_t buf[8192];
    uint32_t seg1 = 0x18 + 8 + 256; /* header offset of segment 1 */

    memcpy(buf, image, image_len);
    atota_put_le32(buf + seg1 + 4, 4999); /* not a multiple of 4 */
    expect_error(buf, image_len, NULL, ATOTA_ERR_IMAGE_SEGMENT, "length %4");
    expect_error_by(buf, image_len, NULL, seg1 + 8, ATOTA_ERR_IMAGE_SEGMENT, "length %4");
    atota_diag_t d;
    atota_image_parse(buf, image_len, NULL, NULL, &d);
    assert_string_equal(d.msg, "segment 1: length 0x1387 is not a multiple of 4");

    memcpy(buf, image, image_len);
    atota_put_le32(buf + seg1 + 4, 0x1000000); /* 16 MB */
    expect_error(buf, image_len, NULL, ATOTA_ERR_IMAGE_SEGMENT, "length 16 MB");

    memcpy(buf, image, image_len);
    atota_put_le32(buf + 0x18 + 4, 252); /* app segment 0 under 256 bytes */
    expect_error(buf, image_len, NULL, ATOTA_ERR_IMAGE_SEGMENT, "app seg0 < 256");
    expect_error_by(buf, image_len, NULL, 0x20, ATOTA_ERR_IMAGE_SEGMENT, "app seg0 < 256");
    atota_image_opts_t boot = {.bootloader = true}; /* a bootloader may have a short seg 0 */
    atota_image_parse(buf, image_len, &boot, NULL, &d);
    assert_null(strstr(d.msg, "segment 0"));

    memcpy(buf, image, image_len);
    buf[SEG0_DATA] ^= 0xFF; /* app descriptor magic */
    expect_error(buf, image_len, NULL, ATOTA_ERR_IMAGE_NO_APP_DESC, "no app desc");
    expect_error_by(buf, image_len, NULL, SEG0_DATA + 4, ATOTA_ERR_IMAGE_NO_APP_DESC,
                    "no app desc");
}

static void data_damage_breaks_checksum_and_hash(void **state)
{
    (void)state;
    uint8_t buf[8192];
    memcpy(buf, image, image_len);
    buf[0x200] ^= 0x40;
    atota_image_info_t info;
    atota_diag_t d;
    assert_int_equal(atota_image_parse(buf, image_len, NULL, &info, &d), ATOTA_ERR_IMAGE_CHECKSUM);
    assert_false(info.checksum_ok);
    assert_int_equal(info.checksum_calc, info.checksum_stored ^ 0x40);
    assert_false(info.hash_ok); /* the report also knows the hash is wrong */
    assert_int_equal(info.image_len, image_len);
    expect_error(buf, image_len, NULL, ATOTA_ERR_IMAGE_CHECKSUM, "flipped data byte");

    memcpy(buf, image, image_len);
    buf[image_len - 5] ^= 1; /* in the stored digest */
    assert_int_equal(atota_image_parse(buf, image_len, NULL, &info, NULL), ATOTA_ERR_IMAGE_HASH);
    assert_true(info.checksum_ok);
    assert_false(info.hash_ok);
    expect_error(buf, image_len, NULL, ATOTA_ERR_IMAGE_HASH, "flipped hash byte");

    memcpy(buf, image, image_len);
    buf[image_len - 40] ^= 1; /* a padding byte: not in the checksum, but hashed */
    expect_error(buf, image_len, NULL, ATOTA_ERR_IMAGE_HASH, "flipped padding byte");
}

static void chip_and_revision_checks(void **state)
{
    (void)state;
    atota_image_opts_t o = {.check_chip = true, .chip_id = ATOTA_CHIP_ESP32C3};
    expect_error(image, image_len, &o, ATOTA_ERR_IMAGE_CHIP, "wrong chip");
    expect_error_by(image, image_len, &o, 24, ATOTA_ERR_IMAGE_CHIP, "wrong chip");

    uint8_t buf[8192];
    memcpy(buf, image, image_len);
    atota_put_le16(buf + 15, 300); /* min v3.0 */
    reseal(buf, image_len);
    atota_image_opts_t r = {.check_chip_rev = true, .chip_rev = 101};
    expect_error(buf, image_len, &r, ATOTA_ERR_IMAGE_CHIP_REV, "rev below min");
    r.chip_rev = 300;
    expect_error(buf, image_len, &r, ATOTA_OK, "rev = min");
    r.chip_rev = 400; /* above max 399: app refused, bootloader not checked against max */
    expect_error(buf, image_len, &r, ATOTA_ERR_IMAGE_CHIP_REV, "rev above max");
    atota_put_le16(buf + 17, 0xFFFF); /* max not set */
    reseal(buf, image_len);
    expect_error(buf, image_len, &r, ATOTA_OK, "max not set");
}

static void image_must_fit_the_partition(void **state)
{
    (void)state;
    atota_image_opts_t o = {.max_len = (uint32_t)image_len - 1};
    expect_error(image, image_len, &o, ATOTA_ERR_IMAGE_TOO_BIG, "one byte too big");
    o.max_len = 1000; /* segment 1 declares more than this: refused at its header */
    expect_error_by(image, image_len, &o, 0x18 + 8 + 256 + 8, ATOTA_ERR_IMAGE_TOO_BIG,
                    "declared too big");
    o.max_len = (uint32_t)image_len;
    expect_error(image, image_len, &o, ATOTA_OK, "exact fit");
}

static void mapped_segments_obey_the_mmu_rule(void **state)
{
    (void)state;
    /* The partition at a non-64 KB-aligned address breaks the congruence of every mapped
     * segment. */
    atota_image_opts_t o = {.flash_offset = 0x11000};
    expect_error(image, image_len, &o, ATOTA_ERR_IMAGE_MMU, "partition misaligned");
    o.flash_offset = 0x20000;
    expect_error(image, image_len, &o, ATOTA_OK, "partition aligned");

    uint8_t buf[8192];
    memcpy(buf, image, image_len);
    uint32_t seg1 = 0x18 + 8 + 256;
    atota_put_le32(buf + seg1, atota_le32(buf + seg1) + 4); /* load address off by 4 */
    reseal(buf, image_len);
    expect_error(buf, image_len, NULL, ATOTA_ERR_IMAGE_MMU, "segment 1 misaligned");
    expect_error_by(buf, image_len, NULL, seg1 + 8, ATOTA_ERR_IMAGE_MMU, "segment 1 misaligned");
    atota_image_opts_t boot = {.bootloader = true}; /* only apps are held to it */
    expect_error(buf, image_len, &boot, ATOTA_OK, "bootloader not MMU-checked");
}

static void trailing_bytes_are_ignored(void **state)
{
    (void)state;
    uint8_t buf[8192];
    memcpy(buf, image, image_len);
    memset(buf + image_len, 0xFF, sizeof buf - image_len);
    atota_image_info_t info;
    assert_int_equal(atota_image_parse(buf, sizeof buf, NULL, &info, NULL), ATOTA_OK);
    assert_int_equal(info.image_len, image_len);
    assert_int_equal(info.sig.kind, ATOTA_IMAGE_SIG_NONE);
}

/* A flash that is a plain buffer: for verify_flash and read_app_desc. */
typedef struct {
    uint8_t *mem;
    uint32_t size;
    uint32_t max_read;
} mem_flash_t;

static atota_err_t mem_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    mem_flash_t *m = ctx;
    if (len > m->max_read)
        m->max_read = len;
    if (addr + len > m->size)
        return ATOTA_ERR_FLASH_RANGE;
    memcpy(buf, m->mem + addr, len);
    return ATOTA_OK;
}

static void verifies_and_reads_from_flash(void **state)
{
    (void)state;
    static uint8_t mem[0x40000];
    memset(mem, 0xFF, sizeof mem);
    memcpy(mem + 0x20000, image, image_len);
    mem_flash_t m = {mem, sizeof mem, 0};
    atota_flash_ops_t ops = {mem_read, NULL, NULL};
    atota_flash_t flash = {&ops, &m, sizeof mem};
    atota_image_info_t info;
    assert_int_equal(atota_image_verify_flash(&flash, 0x20000, 0x10000, NULL, &info, NULL),
                     ATOTA_OK);
    assert_int_equal(info.image_len, image_len);
    assert_true(m.max_read <= 512);
    assert_int_equal(atota_image_verify_flash(&flash, 0x20000, 0x1000, NULL, NULL, NULL),
                     ATOTA_ERR_IMAGE_TOO_BIG);
    assert_int_equal(atota_image_verify_flash(&flash, 0x30000, 0x10000, NULL, NULL, NULL),
                     ATOTA_ERR_IMAGE_MAGIC);

    atota_app_desc_t desc;
    assert_int_equal(atota_image_read_app_desc(&flash, 0x20000, &desc), ATOTA_OK);
    assert_string_equal(desc.project_name, "damage");
    assert_string_equal(desc.version, "2.0");
    assert_int_equal(atota_image_read_app_desc(&flash, 0x30000, &desc), ATOTA_ERR_IMAGE_MAGIC);
    mem[0x20000 + SEG0_DATA] = 0;
    assert_int_equal(atota_image_read_app_desc(&flash, 0x20000, &desc),
                     ATOTA_ERR_IMAGE_NO_APP_DESC);
}

static void memory_types_match_esptool(void **state)
{
    (void)state;
    char out[128];
    const atota_chip_t *esp32 = atota_chip_by_target("ESP32");
    assert_non_null(esp32);
    assert_string_equal(atota_chip_memory_types(esp32, 0x3fff0030, out, sizeof out),
                        "BYTE_ACCESSIBLE, DRAM, DIRAM_DRAM");
    assert_string_equal(atota_chip_memory_types(esp32, 0, out, sizeof out), "PADDING");
    assert_string_equal(atota_chip_memory_types(esp32, 0x40078000, out, sizeof out), "CACHE_APP");
    const atota_chip_t *c6 = atota_chip_by_target("esp32c6");
    assert_string_equal(atota_chip_memory_types(c6, 0x42080020, out, sizeof out), "DROM, IROM");
    assert_string_equal(atota_chip_memory_types(c6, 0x40800000, out, sizeof out),
                        "DRAM, BYTE_ACCESSIBLE, IRAM");
    const atota_chip_t *s3 = atota_chip_by_id(ATOTA_CHIP_ESP32S3);
    assert_string_equal(atota_chip_memory_types(s3, 0x50000000, out, sizeof out), "RTC_DATA");
    assert_null(atota_chip_by_target("esp8266"));
    assert_null(atota_chip_by_id(0x99));
    unsigned n = 0;
    while (atota_chip_at(n))
        n++;
    assert_int_equal(n, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_valid_image_passes),
        cmocka_unit_test(truncation_at_every_region_is_truncated),
        cmocka_unit_test(bad_magic_fails_on_the_first_byte),
        cmocka_unit_test(header_faults),
        cmocka_unit_test(segment_faults),
        cmocka_unit_test(data_damage_breaks_checksum_and_hash),
        cmocka_unit_test(chip_and_revision_checks),
        cmocka_unit_test(image_must_fit_the_partition),
        cmocka_unit_test(mapped_segments_obey_the_mmu_rule),
        cmocka_unit_test(trailing_bytes_are_ignored),
        cmocka_unit_test(verifies_and_reads_from_flash),
        cmocka_unit_test(memory_types_match_esptool),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
