/* The error space: every code has a distinct name and message; diagnostics format and fall back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/util/crc32.h"
#include "core/util/hash.h"

static void every_code_has_a_unique_name_and_message(void **state)
{
    (void)state;
    for (int a = 0; a < ATOTA_ERR_COUNT; a++) {
        assert_non_null(atota_strerror((atota_err_t)a));
        assert_true(strlen(atota_strerror((atota_err_t)a)) > 0);
        for (int b = a + 1; b < ATOTA_ERR_COUNT; b++) {
            assert_string_not_equal(atota_err_name((atota_err_t)a), atota_err_name((atota_err_t)b));
            assert_string_not_equal(atota_strerror((atota_err_t)a), atota_strerror((atota_err_t)b));
        }
    }
    assert_string_equal(atota_strerror((atota_err_t)ATOTA_ERR_COUNT), "unknown error");
    assert_string_equal(atota_err_name(ATOTA_ERR_IMAGE_MAGIC), "ATOTA_ERR_IMAGE_MAGIC");
}

static void diag_formats_and_falls_back(void **state)
{
    (void)state;
    atota_diag_t d;
    atota_diag_clear(&d);
    assert_string_equal(atota_diag_text(&d, ATOTA_ERR_PT_MD5), "partition table MD5 mismatch");
    assert_int_equal(atota_diag_set(&d, ATOTA_ERR_IMAGE_SEGMENT, "segment %d length 0x%x", 3, 5),
                     ATOTA_ERR_IMAGE_SEGMENT);
    assert_string_equal(atota_diag_text(&d, ATOTA_ERR_IMAGE_SEGMENT), "segment 3 length 0x5");
    assert_int_equal(atota_diag_set(NULL, ATOTA_ERR_IO, "x"), ATOTA_ERR_IO);
    assert_string_equal(atota_diag_text(NULL, ATOTA_ERR_IO), "input/output error");
}

/* esp-idf-formats.md §5.3: the ROM CRC and its check values. */
static void crc32_matches_rom_and_zlib(void **state)
{
    (void)state;
    const char *check = "123456789";
    assert_int_equal(atota_crc32_le(0, check, 9), 0xCBF43926u);           /* standard CRC-32 */
    assert_int_equal(atota_crc32_le(0xFFFFFFFFu, check, 9), 0xD202D277u); /* otadata variant */
}

static void hashes_match_known_digests(void **state)
{
    (void)state;
    uint8_t d[32];
    char hex[65];
    atota_sha256("abc", 3, d);
    assert_string_equal(atota_hex(d, 32, hex),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    atota_md5("abc", 3, d);
    assert_string_equal(atota_hex(d, 16, hex), "900150983cd24fb0d6963f7d28e17f72");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_unique_name_and_message),
        cmocka_unit_test(diag_formats_and_falls_back),
        cmocka_unit_test(crc32_matches_rom_and_zlib),
        cmocka_unit_test(hashes_match_known_digests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
