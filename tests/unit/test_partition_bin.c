/*
 * Binary partition tables (core/fmt/partition_bin.c): every real table in the shared vectors
 * dumps to exactly what gen_esp32part v6.0.2 printed and is rewritten byte for byte; the worked
 * example of esp-idf-formats.md §4.5; and each kind of damage gives its own error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/fmt/partition.h"
#include "core/util/hash.h"
#include "support/check.h"

/* ---- helpers -------------------------------------------------------------------------------- */

/* The text of gen_esp32part's binary -> CSV dump in an .expected.txt: from "# ESP-IDF Partition
 * Table" to the blank line. *warnings gets the WARNING lines printed before it. */
static char *expected_dump(const char *expected, char *warnings, size_t wcap)
{
    const char *sec = strstr(expected, "==== gen_esp32part.py (binary -> CSV)");
    if (!sec)
        return NULL;
    const char *start = strstr(sec, "# ESP-IDF Partition Table\n");
    const char *next_sec = strstr(sec + 4, "\n====");
    if (!start || (next_sec && start > next_sec))
        return NULL;
    warnings[0] = '\0';
    for (const char *w = strstr(sec, "\nWARNING: "); w && w < start;
         w = strstr(w + 1, "\nWARNING: ")) {
        const char *eol = strchr(w + 1, '\n');
        strncat(warnings, w + 1, (size_t)(eol - w));
        (void)wcap;
    }
    const char *end = strstr(start, "\n\n");
    size_t n = end ? (size_t)(end - start) + 1 : strlen(start);
    char *out = malloc(n + 1);
    assert_non_null(out);
    memcpy(out, start, n);
    out[n] = '\0';
    return out;
}

static void expect_err(const char *what, atota_err_t got, atota_err_t want, const atota_diag_t *d,
                       const char *needle)
{
    if (got != want) {
        print_error("%s: expected %s, got %s (%s)\n", what, atota_err_name(want),
                    atota_err_name(got), atota_diag_text(d, got));
        fail();
    }
    if (needle && !strstr(d->msg, needle)) {
        print_error("%s: expected the message to contain \"%s\", got \"%s\"\n", what, needle,
                    d->msg);
        fail();
    }
}

static void expect_same_table(const char *what, const atota_partition_table_t *a,
                              const atota_partition_table_t *b)
{
    if (a->count != b->count || a->has_md5 != b->has_md5) {
        print_error("%s: expected %u entries (md5 %d), got %u (md5 %d)\n", what, a->count,
                    a->has_md5, b->count, b->has_md5);
        fail();
    }
    for (unsigned i = 0; i < a->count; i++) {
        const atota_partition_t *x = &a->entries[i], *y = &b->entries[i];
        if (strcmp(x->name, y->name) || x->type != y->type || x->subtype != y->subtype ||
            x->offset != y->offset || x->size != y->size || x->flags != y->flags) {
            print_error("%s: entry %u: expected %s %u/%u 0x%x 0x%x %x, got %s %u/%u 0x%x 0x%x %x\n",
                        what, i, x->name, x->type, x->subtype, x->offset, x->size, x->flags,
                        y->name, y->type, y->subtype, y->offset, y->size, y->flags);
            fail();
        }
    }
}

/* The hello-world table of the vectors: nvs, phy_init, factory, MD5 row, end marker. */
static uint8_t *load_hello(size_t *len)
{
    return (uint8_t *)fx_read_file(
        ATOTA_VECTORS_DIR "/parttable/esp32_idf5.2.2_hello-world_partition-table.bin", len);
}

/* ---- vectors -------------------------------------------------------------------------------- */

static void check_vector_binary(const char *path, void *ctx)
{
    unsigned *ok = (unsigned *)ctx, *refused = ok + 1;
    size_t len, elen;
    uint8_t *bin = (uint8_t *)fx_read_file(path, &len);
    /* X.generated.bin was dumped in X.csv.expected.txt; any other file has its own */
    char epath[1024];
    const char *gen = strstr(path, ".generated.bin");
    if (gen)
        snprintf(epath, sizeof epath, "%.*s.csv.expected.txt", (int)(gen - path), path);
    else
        snprintf(epath, sizeof epath, "%s.expected.txt", path);
    char *expected = fx_read_file(epath, &elen);
    char warnings[1024] = "", got_warnings[1024] = "";

    atota_partition_table_t t;
    atota_diag_t d = {{0}};
    atota_err_t err = atota_partition_table_parse_bin(bin, len, &t, &d);
    if (strstr(expected, "(exit status 2)\nParsing binary partition input...\nPartition table is "
                         "missing an end-of-table marker")) {
        expect_err(path, err, ATOTA_ERR_PT_NO_END, &d,
                   "Partition table is missing an end-of-table marker");
        (*refused)++;
    } else {
        char *want = expected_dump(expected, warnings, sizeof warnings);
        if (!want) {
            print_error("%s: no binary -> CSV dump in %s\n", path, epath);
            fail();
        }
        if (err) {
            print_error("%s: parse failed: %s\n", path, atota_diag_text(&d, err));
            fail();
        }
        atota_partition_opts_t o = {.warn = fx_collect_warning, .warn_ctx = got_warnings};
        err = atota_partition_table_verify(&t, &o, &d);
        if (err) {
            print_error("%s: verify failed: %s\n", path, atota_diag_text(&d, err));
            fail();
        }
        fx_expect_text(path, got_warnings, warnings);
        char csv[4096];
        size_t n = atota_partition_table_write_csv(&t, csv, sizeof csv);
        assert_true(n < sizeof csv);
        assert_int_equal(n, strlen(csv));
        fx_expect_text(path, csv, want);
        free(want);

        /* the table is the first 0xC00 bytes; a signed table has its signature after them */
        assert_true(len >= ATOTA_PT_BIN_SIZE);
        uint8_t out[ATOTA_PT_BIN_SIZE];
        assert_int_equal(atota_partition_table_write_bin(&t, out, &d), ATOTA_OK);
        fx_expect_bytes(path, out, bin, ATOTA_PT_BIN_SIZE);
        (*ok)++;
    }
    free(expected);
    free(bin);
}

static void test_vector_binaries(void **state)
{
    (void)state;
    static const char *const patterns[] = {
        ATOTA_VECTORS_DIR "/parttable/*.bin",
        ATOTA_VECTORS_DIR "/at_customize/*.bin",
        ATOTA_VECTORS_DIR "/at_customize/esp-at-master/*/*.bin",
    };
    unsigned counts[2] = {0, 0}; /* dumped, refused */
    fx_each_file(patterns, 3, check_vector_binary, counts);
    unsigned ok = counts[0], refused = counts[1];
    /* MANIFEST.md: 8 tables in parttable/ (one refused), 1 at_customize.bin, 12 generated */
    if (ok != 20 || refused != 1) {
        print_error("expected 20 tables dumped and 1 refused, got %u and %u\n", ok, refused);
        fail();
    }
}

/* The signed table: 3140 bytes, parsed from a buffer longer than the table; and the ESP-AT table
 * without an MD5 row. */
static void test_vector_md5_presence(void **state)
{
    (void)state;
    size_t len = 0;
    atota_partition_table_t t;
    atota_diag_t d = {{0}};
    uint8_t *bin = (uint8_t *)fx_read_file(
        ATOTA_VECTORS_DIR "/parttable/esp32_idf5.1.6_sbv1_partition-table-signed.bin", &len);
    assert_int_equal(len, 3140);
    assert_int_equal(atota_partition_table_parse_bin(bin, len, &t, &d), ATOTA_OK);
    assert_true(t.has_md5);
    assert_int_equal(t.count, 3);
    free(bin);
    bin = (uint8_t *)fx_read_file(
        ATOTA_VECTORS_DIR "/parttable/esp32_esp-at-v2.0_partitions_at.bin", &len);
    assert_int_equal(atota_partition_table_parse_bin(bin, len, &t, &d), ATOTA_OK);
    assert_false(t.has_md5);
    assert_int_equal(t.count, 6);
    const atota_partition_t *at = atota_partition_find(&t, "at_customize");
    assert_non_null(at);
    assert_int_equal(at->type, ATOTA_PT_TYPE_AT_CUSTOMIZE);
    assert_int_equal(at->offset, 0x20000);
    assert_int_equal(at->size, 896 * 1024);
    free(bin);
}

/* ---- esp-idf-formats.md §4.5 ---------------------------------------------------------------- */

static const uint8_t two_ota_bin[0xE0] = {
    0xaa, 0x50, 0x01, 0x02, 0x00, 0x90, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 'n',  'v',  's',  0,
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0xaa, 0x50, 0x01, 0x00, 0x00, 0xd0, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 'o',  't',  'a',  'd',
    'a',  't',  'a',  0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0xaa, 0x50, 0x01, 0x01, 0x00, 0xf0, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 'p',  'h',  'y',  '_',
    'i',  'n',  'i',  't',  0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0xaa, 0x50, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 'f',  'a',  'c',  't',
    'o',  'r',  'y',  0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0xaa, 0x50, 0x00, 0x10, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x10, 0x00, 'o',  't',  'a',  '_',
    '0',  0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0xaa, 0x50, 0x00, 0x11, 0x00, 0x00, 0x21, 0x00, 0x00, 0x00, 0x10, 0x00, 'o',  't',  'a',  '_',
    '1',  0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0xeb, 0xeb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbf, 0x25, 0x82, 0x2c, 0x0f, 0xa6, 0xd8, 0x64, 0x1b, 0xd9, 0x30, 0x25, 0x1e, 0x06, 0xb4, 0xc4,
};

static void test_worked_example(void **state)
{
    (void)state;
    atota_partition_table_t t = {.has_md5 = true};
    fx_table_add(&t, "nvs", 1, 2, 0x9000, 0x4000);
    fx_table_add(&t, "otadata", 1, 0, 0xD000, 0x2000);
    fx_table_add(&t, "phy_init", 1, 1, 0xF000, 0x1000);
    fx_table_add(&t, "factory", 0, 0, 0x10000, 0x100000);
    fx_table_add(&t, "ota_0", 0, 0x10, 0x110000, 0x100000);
    fx_table_add(&t, "ota_1", 0, 0x11, 0x210000, 0x100000);
    uint8_t out[ATOTA_PT_BIN_SIZE];
    atota_diag_t d = {{0}};
    assert_int_equal(atota_partition_table_write_bin(&t, out, &d), ATOTA_OK);
    fx_expect_bytes("§4.5 table", out, two_ota_bin, sizeof two_ota_bin);
    for (size_t i = sizeof two_ota_bin; i < ATOTA_PT_BIN_SIZE; i++)
        if (out[i] != 0xFF) {
            print_error("§4.5 padding: expected ff at 0x%zx, got %02x\n", i, out[i]);
            fail();
        }
    char hex[33];
    atota_hex(out + 0xD0, 16, hex);
    fx_expect_text("§4.5 MD5", hex, "bf25822c0fa6d8641bd930251e06b4c4");

    atota_partition_table_t back;
    assert_int_equal(atota_partition_table_parse_bin(out, sizeof out, &back, &d), ATOTA_OK);
    expect_same_table("§4.5 re-parsed", &t, &back);
    assert_int_equal(atota_partition_table_verify(&back, NULL, &d), ATOTA_OK);
}

/* ---- damage --------------------------------------------------------------------------------- */

static void test_bad_md5(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *bin = load_hello(&len);
    atota_partition_table_t t;
    atota_diag_t d = {{0}};
    bin[0x2C] ^= 0x01; /* phy_init's offset: the MD5 no longer matches */
    expect_err("entry changed", atota_partition_table_parse_bin(bin, len, &t, &d), ATOTA_ERR_PT_MD5,
               &d, "MD5 checksums don't match!");
    bin[0x2C] ^= 0x01;
    bin[0x7F] ^= 0x80; /* the stored digest */
    expect_err("digest changed", atota_partition_table_parse_bin(bin, len, &t, &d),
               ATOTA_ERR_PT_MD5, &d, "row 3");
    free(bin);
}

static void test_no_end_marker(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *bin = load_hello(&len);
    atota_partition_table_t t;
    atota_diag_t d = {{0}};
    /* cut before the end marker, and cut inside it */
    expect_err("96 bytes", atota_partition_table_parse_bin(bin, 0x80, &t, &d), ATOTA_ERR_PT_NO_END,
               &d, "missing an end-of-table marker");
    expect_err("0x90 bytes", atota_partition_table_parse_bin(bin, 0x90, &t, &d),
               ATOTA_ERR_PT_NO_END, &d, "missing an end-of-table marker");
    expect_err("empty", atota_partition_table_parse_bin(bin, 0, &t, &d), ATOTA_ERR_PT_NO_END, &d,
               NULL);
    /* a table filling all 0xC00 bytes with entries has no room for the end marker */
    uint8_t full[ATOTA_PT_BIN_SIZE];
    for (size_t off = 0; off < sizeof full; off += 32)
        memcpy(full + off, bin, 32);
    expect_err("96 entries", atota_partition_table_parse_bin(full, sizeof full, &t, &d),
               ATOTA_ERR_PT_TOO_MANY, &d, "more than 95");
    free(bin);
}

static void test_bad_magic_row(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *bin = load_hello(&len);
    atota_partition_table_t t;
    atota_diag_t d = {{0}};
    bin[0x40] = 0x12; /* row 2, factory */
    expect_err("row 2", atota_partition_table_parse_bin(bin, len, &t, &d), ATOTA_ERR_PT_MAGIC, &d,
               "row 2 (offset 0x40)");
    bin[0x40] = 0xAA;
    bin[0x80] = 0x00; /* the end marker becomes a garbage row */
    expect_err("row 4", atota_partition_table_parse_bin(bin, len, &t, &d), ATOTA_ERR_PT_MAGIC, &d,
               "row 4");
    free(bin);
}

static void test_entry_after_md5(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *bin = load_hello(&len);
    atota_partition_table_t t;
    atota_diag_t d = {{0}};
    memcpy(bin + 0x80, bin, 32); /* an entry where the end marker was */
    expect_err("entry after MD5", atota_partition_table_parse_bin(bin, len, &t, &d),
               ATOTA_ERR_PT_INVALID, &d, "a row after the MD5 row");
    free(bin);
}

static void test_too_many(void **state)
{
    (void)state;
    atota_partition_table_t t = {0};
    char name[17];
    for (unsigned i = 0; i < ATOTA_PT_MAX_ENTRIES; i++) {
        snprintf(name, sizeof name, "p%u", i);
        fx_table_add(&t, name, 0x40, 0, 0x10000 + i * 0x1000, 0x1000);
    }
    uint8_t out[ATOTA_PT_BIN_SIZE];
    atota_diag_t d = {{0}};
    /* 95 entries + MD5 row = 0xC00: no room for the end marker */
    t.has_md5 = true;
    expect_err("95 + MD5", atota_partition_table_write_bin(&t, out, &d), ATOTA_ERR_PT_TOO_MANY, &d,
               "at most 94");
    t.has_md5 = false;
    assert_int_equal(atota_partition_table_write_bin(&t, out, &d), ATOTA_OK);
    atota_partition_table_t back;
    assert_int_equal(atota_partition_table_parse_bin(out, sizeof out, &back, &d), ATOTA_OK);
    expect_same_table("95 entries", &t, &back);
    t.count = 94;
    t.has_md5 = true;
    assert_int_equal(atota_partition_table_write_bin(&t, out, &d), ATOTA_OK);
    assert_int_equal(atota_partition_table_parse_bin(out, sizeof out, &back, &d), ATOTA_OK);
    expect_same_table("94 entries + MD5", &t, &back);
    t.count = 96;
    expect_err("96 entries", atota_partition_table_write_bin(&t, out, &d), ATOTA_ERR_PT_TOO_MANY,
               &d, NULL);
}

/* A 16-byte name fills the label with no NUL (§4.1). */
static void test_name_16_bytes(void **state)
{
    (void)state;
    atota_partition_table_t t = {.has_md5 = true};
    fx_table_add(&t, "abcdefghijklmnop", 1, 0x81, 0x10000, 0x10000);
    uint8_t out[ATOTA_PT_BIN_SIZE];
    atota_diag_t d = {{0}};
    assert_int_equal(atota_partition_table_write_bin(&t, out, &d), ATOTA_OK);
    fx_expect_bytes("label", out + 12, (const uint8_t *)"abcdefghijklmnop", 16);
    atota_partition_table_t back;
    assert_int_equal(atota_partition_table_parse_bin(out, sizeof out, &back, &d), ATOTA_OK);
    fx_expect_text("name", back.entries[0].name, "abcdefghijklmnop");
    char csv[256];
    atota_partition_table_write_csv(&back, csv, sizeof csv);
    fx_expect_text("dump", csv,
                   "# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n"
                   "abcdefghijklmnop,data,fat,0x10000,64K,\n");
}

static void test_empty_table_and_flags(void **state)
{
    (void)state;
    uint8_t buf[ATOTA_PT_BIN_SIZE];
    memset(buf, 0xFF, sizeof buf);
    atota_partition_table_t t;
    atota_diag_t d = {{0}};
    assert_int_equal(atota_partition_table_parse_bin(buf, sizeof buf, &t, &d), ATOTA_OK);
    assert_int_equal(t.count, 0);
    assert_false(t.has_md5);

    /* flags: known bits printed, unknown bits kept and warned about as gen_esp32part does */
    atota_partition_table_t f = {.has_md5 = true};
    fx_table_add(&f, "nvs", 1, 2, 0x9000, 0x6000);
    f.entries[0].flags = ATOTA_PT_FLAG_ENCRYPTED | ATOTA_PT_FLAG_READONLY | 0x100;
    assert_int_equal(atota_partition_table_write_bin(&f, buf, &d), ATOTA_OK);
    assert_int_equal(atota_partition_table_parse_bin(buf, sizeof buf, &t, &d), ATOTA_OK);
    assert_int_equal(t.entries[0].flags, 0x103);
    char warnings[512] = "";
    atota_partition_opts_t o = {.warn = fx_collect_warning, .warn_ctx = warnings};
    assert_int_equal(atota_partition_table_verify(&t, &o, &d), ATOTA_OK);
    fx_expect_text("warning", warnings,
                   "WARNING: Partition definition had unknown flag(s) 0x00000100. Newer binary "
                   "format?\n");
    char csv[256];
    atota_partition_table_write_csv(&t, csv, sizeof csv);
    fx_expect_text("flags", strchr(csv + 30, '\n') + 1,
                   "nvs,data,nvs,0x9000,24K,encrypted:readonly\n");
}

static void test_names_and_lookup(void **state)
{
    (void)state;
    fx_expect_text("type 0", atota_partition_type_name(0), "app");
    fx_expect_text("type 1", atota_partition_type_name(1), "data");
    fx_expect_text("type 2", atota_partition_type_name(2), "bootloader");
    fx_expect_text("type 3", atota_partition_type_name(3), "partition_table");
    assert_null(atota_partition_type_name(0x40));
    fx_expect_text("app 0x1f", atota_partition_subtype_name(0, 0x1F), "ota_15");
    fx_expect_text("app 0x20", atota_partition_subtype_name(0, 0x20), "test");
    fx_expect_text("app 0x31", atota_partition_subtype_name(0, 0x31), "tee_1");
    fx_expect_text("data 0", atota_partition_subtype_name(1, 0), "ota");
    fx_expect_text("data 0x83", atota_partition_subtype_name(1, 0x83), "littlefs");
    fx_expect_text("data 0x90", atota_partition_subtype_name(1, 0x90), "tee_ota");
    fx_expect_text("bootloader 2", atota_partition_subtype_name(2, 2), "recovery");
    assert_null(atota_partition_subtype_name(1, 0xFF));
    assert_null(atota_partition_subtype_name(0x40, 0));

    size_t len = 0;
    uint8_t *bin = load_hello(&len);
    atota_partition_table_t t;
    atota_diag_t d = {{0}};
    assert_int_equal(atota_partition_table_parse_bin(bin, len, &t, &d), ATOTA_OK);
    const atota_partition_t *p = atota_partition_find(&t, "phy_init");
    assert_non_null(p);
    assert_int_equal(p->offset, 0xF000);
    assert_null(atota_partition_find(&t, "ota_0"));
    p = atota_partition_find_type(&t, ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_FACTORY);
    assert_non_null(p);
    fx_expect_text("factory", p->name, "factory");
    assert_null(atota_partition_find_type(&t, ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_OTA));
    free(bin);
}

/* write_csv is snprintf-like: the length needed, at most cap bytes written, NUL-terminated. */
static void test_write_csv_cap(void **state)
{
    (void)state;
    atota_partition_table_t t = {0};
    fx_table_add(&t, "fs_storage", 1, 0xFF, 0x70000, 0x90000);
    fx_table_add(&t, "at_customize", 0x40, 0, 0x20000, 0xE0000);
    fx_table_add(&t, "odd", 0x41, 7, 0x1000, 0x1234);
    const char *want = "# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n"
                       "fs_storage,data,255,0x70000,576K,\n"
                       "at_customize,64,0,0x20000,896K,\n"
                       "odd,65,7,0x1000,0x1234,\n";
    size_t need = atota_partition_table_write_csv(&t, NULL, 0);
    assert_int_equal(need, strlen(want));
    char small[20];
    assert_int_equal(atota_partition_table_write_csv(&t, small, sizeof small), need);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, want, sizeof small - 1);
    char full[512];
    atota_partition_table_write_csv(&t, full, sizeof full);
    fx_expect_text("dump", full, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_binaries),  cmocka_unit_test(test_vector_md5_presence),
        cmocka_unit_test(test_worked_example),   cmocka_unit_test(test_bad_md5),
        cmocka_unit_test(test_no_end_marker),    cmocka_unit_test(test_bad_magic_row),
        cmocka_unit_test(test_entry_after_md5),  cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_name_16_bytes),    cmocka_unit_test(test_empty_table_and_flags),
        cmocka_unit_test(test_names_and_lookup), cmocka_unit_test(test_write_csv_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
