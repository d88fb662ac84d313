/* Every app and bootloader vector (shared/vectors) against the "raw-byte facts" block of its
 * .expected.txt, read at test time: header, segment table, checksum, hash, image length, trailing
 * bytes, descriptors; the stream fed 1 byte at a time and in odd chunks agrees with the whole
 * parse; Secure Boot V1/V2 detection on the signed vectors. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/fmt/image.h"
#include "core/util/hash.h"
#include "support/check.h"

/* The value text of "key: value" in the facts block (after the "raw-byte facts" line). */
static const char *fact(const char *facts, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = facts; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, klen) && p[klen] == ':')
            return p + klen + 2;
    return NULL;
}

static long fact_num(const char *facts, const char *key)
{
    const char *v = fact(facts, key);
    if (!v) {
        print_error("fact '%s' missing\n", key);
        fail();
    }
    return strtol(v[0] == '"' ? v + 1 : v, NULL, 0);
}

static bool fact_bool(const char *facts, const char *key)
{
    const char *v = fact(facts, key);
    return v && !strncmp(v, "true", 4);
}

/* "name": "value" inside a JSON-like line; copies the string value into out. */
static bool json_str(const char *line, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", name);
    const char *p = line ? strstr(line, pat) : NULL;
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < cap) {
        if (*p == '\\' && p[1])
            p++;
        out[n++] = *p++;
    }
    out[n] = 0;
    return true;
}

static long json_num(const char *line, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", name);
    const char *p = strstr(line, pat);
    assert_non_null(p);
    return strtol(p + strlen(pat), NULL, 0);
}

#define EXPECT_STR(what, want, got)                                                                \
    do {                                                                                           \
        if (strcmp((want), (got))) {                                                               \
            print_error("%s: %s: expected '%s', got '%s'\n", name, what, want, got);               \
            fail();                                                                                \
        }                                                                                          \
    } while (0)
#define EXPECT_NUM(what, want, got)                                                                \
    do {                                                                                           \
        if ((long)(want) != (long)(got)) {                                                         \
            print_error("%s: %s: expected %ld (0x%lx), got %ld (0x%lx)\n", name, what,             \
                        (long)(want), (long)(want), (long)(got), (long)(got));                     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

static void compare_infos(const char *name, const atota_image_info_t *a,
                          const atota_image_info_t *b)
{
    EXPECT_NUM("stream image_len", a->image_len, b->image_len);
    EXPECT_NUM("stream segment count", a->header.segment_count, b->header.segment_count);
    EXPECT_NUM("stream checksum", a->checksum_calc, b->checksum_calc);
    EXPECT_NUM("stream hash_ok", a->hash_ok, b->hash_ok);
    if (memcmp(a->hash_calc, b->hash_calc, 32) ||
        memcmp(a->segments, b->segments, sizeof a->segments)) {
        print_error("%s: streamed hash or segments differ from the whole parse\n", name);
        fail();
    }
    EXPECT_NUM("stream has_app_desc", a->has_app_desc, b->has_app_desc);
    if (a->has_app_desc)
        EXPECT_STR("stream version", a->app_desc.version, b->app_desc.version);
}

static void check_vector(const char *dir, const char *name, bool bootloader)
{
    char path[1024], exp_path[1100];
    snprintf(path, sizeof path, "%s/%s/%s", ATOTA_VECTORS_DIR, dir, name);
    snprintf(exp_path, sizeof exp_path, "%s.expected.txt", path);
    size_t len = 0, exp_len = 0;
    uint8_t *data = (uint8_t *)fx_try_read_file(path, &len);
    char *expected = fx_try_read_file(exp_path, &exp_len);
    assert_non_null(data);
    assert_non_null(expected);
    const char *facts = strstr(expected, "==== raw-byte facts");
    assert_non_null(facts);

    atota_image_opts_t opts = {.bootloader = bootloader};
    atota_image_info_t info;
    atota_diag_t diag;
    atota_err_t err = atota_image_parse(data, len, &opts, &info, &diag);
    if (err)
        print_error("%s: %s\n", name, diag.msg);
    EXPECT_NUM("parse result", ATOTA_OK, err);

    EXPECT_NUM("segments", fact_num(facts, "segments"), info.header.segment_count);
    EXPECT_NUM("spi_mode", fact_num(facts, "spi_mode"), info.header.spi_mode);
    EXPECT_NUM("spi_speed_size", fact_num(facts, "spi_speed_size"),
               info.header.spi_size << 4 | info.header.spi_speed);
    EXPECT_NUM("entry", fact_num(facts, "entry"), info.header.entry_addr);
    EXPECT_NUM("wp_pin", fact_num(facts, "wp_pin"), info.header.wp_pin);
    EXPECT_NUM("chip_id", fact_num(facts, "chip_id"), info.header.chip_id);
    EXPECT_NUM("min_chip_rev", fact_num(facts, "min_chip_rev"), info.header.min_chip_rev);
    EXPECT_NUM("min_chip_rev_full", fact_num(facts, "min_chip_rev_full"),
               info.header.min_chip_rev_full);
    EXPECT_NUM("max_chip_rev_full", fact_num(facts, "max_chip_rev_full"),
               info.header.max_chip_rev_full);
    EXPECT_NUM("hash_appended", fact_num(facts, "hash_appended"), info.header.hash_appended);

    /* segment_table: [["0x3f400020", "0x10644", "0x18"], ...] */
    const char *t = fact(facts, "segment_table");
    assert_non_null(t);
    for (unsigned i = 0; i < info.header.segment_count; i++) {
        t = strstr(t, "[\"");
        assert_non_null(t);
        char *end;
        unsigned long load = strtoul(t + 2, &end, 16);
        unsigned long slen = strtoul(strchr(end + 1, '"') + 1, &end, 16);
        unsigned long off = strtoul(strchr(end + 1, '"') + 1, &end, 16);
        EXPECT_NUM("segment load addr", load, info.segments[i].load_addr);
        EXPECT_NUM("segment length", slen, info.segments[i].data_len);
        EXPECT_NUM("segment file offset", off, info.segments[i].header_offset);
        t = end;
    }

    EXPECT_NUM("checksum byte", fact_num(facts, "checksum_byte"), info.checksum_stored);
    EXPECT_NUM("checksum calc", fact_num(facts, "checksum_calc"), info.checksum_calc);
    EXPECT_NUM("checksum ok", fact_bool(facts, "checksum_ok"), info.checksum_ok);
    if (info.header.hash_appended) {
        char want[65], got[65];
        assert_true(sscanf(fact(facts, "sha256_stored"), "\"%64[0-9a-f]\"", want) == 1);
        EXPECT_STR("stored sha256", want, atota_hex(info.hash_stored, 32, got));
        EXPECT_NUM("sha256 ok", fact_bool(facts, "sha256_ok"), info.hash_ok);
    }
    EXPECT_NUM("image_len", fact_num(facts, "image_len"), info.image_len);
    EXPECT_NUM("trailing bytes", fact_num(facts, "trailing_bytes"), len - info.image_len);

    const char *app = fact(facts, "app_desc");
    if (app) {
        char want[80], hex[65];
        assert_true(info.has_app_desc);
        json_str(app, "version", want, sizeof want);
        EXPECT_STR("app version", want, info.app_desc.version);
        json_str(app, "project_name", want, sizeof want);
        EXPECT_STR("project name", want, info.app_desc.project_name);
        json_str(app, "idf_ver", want, sizeof want);
        EXPECT_STR("idf_ver", want, info.app_desc.idf_ver);
        json_str(app, "time", want, sizeof want);
        EXPECT_STR("time", want, info.app_desc.time);
        json_str(app, "date", want, sizeof want);
        EXPECT_STR("date", want, info.app_desc.date);
        json_str(app, "app_elf_sha256", want, sizeof want);
        EXPECT_STR("elf sha256", want, atota_hex(info.app_desc.app_elf_sha256, 32, hex));
        EXPECT_NUM("secure version", json_num(app, "secure_version"), info.app_desc.secure_version);
    } else {
        assert_false(info.has_app_desc);
    }
    const char *bl = fact(facts, "bootloader_desc");
    if (bl) {
        char want[80];
        assert_true(info.has_bootloader_desc);
        EXPECT_NUM("bootloader version", json_num(bl, "version"), info.bootloader_desc.version);
        json_str(bl, "idf_ver", want, sizeof want);
        EXPECT_STR("bootloader idf_ver", want, info.bootloader_desc.idf_ver);
        json_str(bl, "date_time", want, sizeof want);
        EXPECT_STR("bootloader date_time", want, info.bootloader_desc.date_time);
    } else if (bootloader) {
        assert_false(info.has_bootloader_desc);
    }

    /* The stream, 1 byte at a time and in odd-sized chunks, sees exactly what the parse saw. */
    static const size_t chunks[] = {1, 7, 4096, 100003};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        atota_image_stream_t s;
        atota_image_stream_init(&s, &opts);
        for (size_t off = 0; off < len; off += chunks[c]) {
            size_t n = len - off < chunks[c] ? len - off : chunks[c];
            EXPECT_NUM("stream feed", ATOTA_OK, atota_image_stream_feed(&s, data + off, n, NULL));
            if (chunks[c] == 1 && off == 0x20 + 256 && !bootloader)
                assert_true(atota_image_stream_header_ok(&s));
        }
        assert_true(atota_image_stream_complete(&s));
        atota_image_info_t sinfo;
        EXPECT_NUM("stream finish", ATOTA_OK, atota_image_stream_finish(&s, &sinfo, NULL));
        compare_infos(name, &info, &sinfo);
    }
    free(data);
    free(expected);
}

static void check_dir(const char *dir, bool bootloader)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", ATOTA_VECTORS_DIR, dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".bin"))
            continue;
        check_vector(dir, e->d_name, bootloader);
        n++;
    }
    closedir(d);
    print_message("%s: %u vectors checked\n", dir, n);
    assert_true(n >= 6);
}

static void every_app_vector_matches_its_facts(void **state)
{
    (void)state;
    check_dir("app", false);
}

static void every_bootloader_vector_matches_its_facts(void **state)
{
    (void)state;
    check_dir("bootloader", true);
}

static atota_image_info_t parse_file(const char *rel, size_t *len_out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", ATOTA_VECTORS_DIR, rel);
    size_t len = 0;
    uint8_t *data = (uint8_t *)fx_try_read_file(path, &len);
    assert_non_null(data);
    atota_image_info_t info;
    assert_int_equal(atota_image_parse(data, len, NULL, &info, NULL), ATOTA_OK);
    free(data);
    *len_out = len;
    return info;
}

static void detects_secure_boot_v1_signature(void **state)
{
    (void)state;
    size_t len = 0;
    atota_image_info_t info = parse_file("app/esp32_idf5.1.6_sbv1-signed_YOLO_BIT.bin", &len);
    assert_int_equal(info.image_len, 917424);
    assert_int_equal(info.sig.kind, ATOTA_IMAGE_SIG_SBV1);
    assert_int_equal(info.sig.offset, 917424);
    assert_int_equal(info.sig.len, 68);
}

static void detects_secure_boot_v2_signature(void **state)
{
    (void)state;
    size_t len = 0;
    atota_image_info_t info =
        parse_file("app/esp32_idf5.4_esp-at-v4.1.0.0-dev_sbv2-signed.bin", &len);
    assert_int_equal(info.image_len, 0x120000);
    assert_int_equal(info.sig.kind, ATOTA_IMAGE_SIG_SBV2);
    assert_int_equal(info.sig.offset, 0x120000);
    assert_int_equal(info.sig.len, 4096);
    /* espsecure: "Signature block 0 is valid (RSA)", block 1 absent */
    assert_int_equal(info.sig.block_count, 1);
    assert_int_equal(info.sig.block_version[0], 2);
}

static void unsigned_vectors_have_no_signature(void **state)
{
    (void)state;
    size_t len = 0;
    atota_image_info_t info = parse_file("app/esp32_idf5.2.2_main.bin", &len);
    assert_int_equal(info.sig.kind, ATOTA_IMAGE_SIG_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_app_vector_matches_its_facts),
        cmocka_unit_test(every_bootloader_vector_matches_its_facts),
        cmocka_unit_test(detects_secure_boot_v1_signature),
        cmocka_unit_test(detects_secure_boot_v2_signature),
        cmocka_unit_test(unsigned_vectors_have_no_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
