/*
 * Partition table CSV (core/fmt/partition_csv.c, partition_verify.c): every CSV in the shared
 * vectors generates, with the flags gen_esp32part v6.0.2 was run with, the very binary it made;
 * the worked example of esp-idf-formats.md §4.5; the §4.4 syntax; and one error per broken rule.
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

static const char *vars(void *ctx, const char *name)
{
    (void)ctx;
    if (!strcmp(name, "NVS_SIZE"))
        return "0x6000";
    if (!strcmp(name, "APP"))
        return "app";
    return NULL;
}

/* Parses csv with opts (NULL: defaults) and expects success. */
static void parse_ok(const char *csv, const atota_partition_opts_t *opts,
                     atota_partition_table_t *t)
{
    atota_diag_t d = {{0}};
    atota_err_t err = atota_partition_table_parse_csv(csv, strlen(csv), opts, t, &d);
    if (err) {
        print_error("expected success, got %s: %s\nCSV:\n%s\n", atota_err_name(err),
                    atota_diag_text(&d, err), csv);
        fail();
    }
}

/* Parses csv and expects the error `want` with a message containing `needle`. */
static void parse_fails(const char *csv, const atota_partition_opts_t *opts, atota_err_t want,
                        const char *needle)
{
    atota_partition_table_t t;
    atota_diag_t d = {{0}};
    atota_err_t err = atota_partition_table_parse_csv(csv, strlen(csv), opts, &t, &d);
    if (err != want || !strstr(d.msg, needle)) {
        print_error("CSV:\n%s\nexpected %s with \"%s\", got %s: \"%s\"\n", csv,
                    atota_err_name(want), needle, atota_err_name(err), d.msg);
        fail();
    }
}

static void expect_entry(const atota_partition_table_t *t, unsigned i, const char *name,
                         unsigned type, unsigned subtype, uint32_t offset, uint32_t size,
                         uint32_t flags)
{
    const atota_partition_t *p = &t->entries[i];
    if (i >= t->count || strcmp(p->name, name) || p->type != type || p->subtype != subtype ||
        p->offset != offset || p->size != size || p->flags != flags) {
        print_error("entry %u: expected %s %u/%u 0x%x 0x%x flags %x, got %s %u/%u 0x%x 0x%x "
                    "flags %x (count %u)\n",
                    i, name, type, subtype, offset, size, flags, p->name, p->type, p->subtype,
                    p->offset, p->size, p->flags, t->count);
        fail();
    }
}

/* ---- vectors -------------------------------------------------------------------------------- */

/* One "$ python3 gen_esp32part.py [flags] IN OUT" run of a .csv.expected.txt: regenerates OUT
 * (when it is a vector) and every file the run is said to be byte-identical to. */
static unsigned check_run(const char *csv_path, const char *run, const char *run_end,
                          const char *expected_warnings, char *dump_out, size_t dump_cap)
{
    char cmd[1024];
    const char *eol = strchr(run, '\n');
    snprintf(cmd, sizeof cmd, "%.*s", (int)(eol - run), run);
    atota_partition_opts_t o = {0};
    char *tok[16];
    unsigned n = 0;
    for (char *s = strtok(cmd, " "); s && n < 16; s = strtok(NULL, " "))
        tok[n++] = s;
    assert_true(n >= 5); /* $ python3 gen_esp32part.py IN OUT */
    for (unsigned i = 3; i + 2 < n; i++) {
        if (!strcmp(tok[i], "--disable-md5sum"))
            o.disable_md5sum = true;
        else if (!strcmp(tok[i], "--offset"))
            o.table_offset = (uint32_t)strtoul(tok[++i], NULL, 0);
        else if (!strcmp(tok[i], "--flash-size"))
            o.flash_size = (uint32_t)strtoul(tok[++i], NULL, 10) << 20;
        else {
            print_error("%s: unknown gen_esp32part flag %s\n", csv_path, tok[i]);
            fail();
        }
    }
    char warnings[1024] = "";
    o.warn = fx_collect_warning;
    o.warn_ctx = warnings;
    size_t len = 0;
    char *csv = fx_read_file(csv_path, &len);
    atota_partition_table_t t;
    atota_diag_t d = {{0}};
    atota_err_t err = atota_partition_table_parse_csv(csv, len, &o, &t, &d);
    free(csv);
    if (err) {
        print_error("%s (%s): %s\n", csv_path, run, atota_diag_text(&d, err));
        fail();
    }
    fx_expect_text(csv_path, warnings, expected_warnings);
    uint8_t out[ATOTA_PT_BIN_SIZE];
    assert_int_equal(atota_partition_table_write_bin(&t, out, &d), ATOTA_OK);
    if (dump_out)
        atota_partition_table_write_csv(&t, dump_out, dump_cap);

    /* the files this run must reproduce */
    char targets[4][512];
    unsigned nt = 0;
    if (strcmp(tok[n - 1], "out.bin"))
        snprintf(targets[nt++], sizeof targets[0], "%s", tok[n - 1]);
    for (const char *b = strstr(run, "byte-identical to "); b && b < run_end && nt < 4;
         b = strstr(b + 1, "byte-identical to ")) {
        b += strlen("byte-identical to ");
        if (!strncmp(b, "the first 3072 bytes of ", 24))
            b += 24;
        const char *colon = strstr(b, ": YES");
        assert_non_null(colon);
        snprintf(targets[nt++], sizeof targets[0], "%.*s", (int)(colon - b), b);
    }
    const char *sha = strstr(run, "generated binary: 3072 bytes, sha256 ");
    if (sha && sha < run_end) {
        uint8_t digest[32];
        char hex[65];
        atota_sha256(out, sizeof out, digest);
        atota_hex(digest, sizeof digest, hex);
        if (strncmp(hex, sha + 37, 64)) {
            print_error("%s: expected sha256 %.64s, got %s\n", csv_path, sha + 37, hex);
            fail();
        }
    }
    for (unsigned i = 0; i < nt; i++) {
        char path[3072];
        snprintf(path, sizeof path, "%s/%s", ATOTA_VECTORS_DIR, targets[i]);
        size_t blen;
        uint8_t *want = (uint8_t *)fx_read_file(path, &blen);
        assert_true(blen >= ATOTA_PT_BIN_SIZE);
        char what[4200];
        snprintf(what, sizeof what, "%s -> %s", csv_path, targets[i]);
        fx_expect_bytes(what, out, want, ATOTA_PT_BIN_SIZE);
        free(want);
    }
    return nt;
}

static void check_vector_csv(const char *csv_path, void *ctx)
{
    unsigned *files = (unsigned *)ctx, *binaries = files + 1;
    char epath[1024];
    snprintf(epath, sizeof epath, "%s.expected.txt", csv_path);
    size_t len = 0;
    char *e = fx_read_file(epath, &len);
    char dump[4096] = "";
    unsigned runs = 0;
    for (const char *sec = strstr(e, "\n==== gen_esp32part.py"); sec;
         sec = strstr(sec + 1, "\n==== gen_esp32part.py")) {
        const char *eol = strchr(sec + 1, '\n');
        if (!strstr(sec, "(CSV -> binary)") || strstr(sec, "(CSV -> binary)") > eol)
            continue;
        const char *end = strstr(sec + 1, "\n====");
        if (!end)
            end = e + len;
        const char *run = strstr(sec, "$ python3 gen_esp32part.py");
        assert_true(run && run < end);
        char warnings[1024] = "";
        for (const char *w = strstr(run, "\nWARNING: "); w && w < end;
             w = strstr(w + 1, "\nWARNING: "))
            strncat(warnings, w + 1, (size_t)(strchr(w + 1, '\n') - w));
        *binaries += check_run(csv_path, run, end, warnings, runs ? NULL : dump, sizeof dump);
        runs++;
    }
    /* the binary -> CSV dump of the first run's output is what write_csv prints */
    const char *sec = strstr(e, "==== gen_esp32part.py (binary -> CSV)");
    assert_non_null(sec);
    const char *start = strstr(sec, "# ESP-IDF Partition Table\n");
    const char *stop = strstr(start, "\n\n");
    char want[4096];
    snprintf(want, sizeof want, "%.*s", (int)(stop - start) + 1, start);
    fx_expect_text(csv_path, dump, want);
    assert_true(runs > 0);
    (*files)++;
    free(e);
}

static void test_vector_csvs(void **state)
{
    (void)state;
    static const char *const patterns[] = {
        ATOTA_VECTORS_DIR "/parttable/*.csv",
        ATOTA_VECTORS_DIR "/at_customize/*.csv",
        ATOTA_VECTORS_DIR "/at_customize/esp-at-master/*/*.csv",
    };
    unsigned counts[2] = {0, 0}; /* CSV files, binaries reproduced */
    fx_each_file(patterns, 3, check_vector_csv, counts);
    unsigned files = counts[0], binaries = counts[1];
    /* MANIFEST.md: 5 + 1 + 12 CSVs; singleapp reproduces 3 binaries, the others one each */
    if (files != 18 || binaries != 20) {
        print_error("expected 18 CSVs reproducing 20 binaries, got %u and %u\n", files, binaries);
        fail();
    }
}

/* ---- esp-idf-formats.md §4.5 ---------------------------------------------------------------- */

static void test_worked_example(void **state)
{
    (void)state;
    static const char csv[] = "nvs,      data, nvs,     ,        0x4000,\n"
                              "otadata,  data, ota,     ,        0x2000,\n"
                              "phy_init, data, phy,     ,        0x1000,\n"
                              "factory,  app,  factory, ,        1M,\n"
                              "ota_0,    app,  ota_0,   ,        1M,\n"
                              "ota_1,    app,  ota_1,   ,        1M,\n";
    atota_partition_table_t t;
    parse_ok(csv, NULL, &t);
    assert_int_equal(t.count, 6);
    assert_true(t.has_md5);
    expect_entry(&t, 0, "nvs", 1, 2, 0x9000, 0x4000, 0);
    expect_entry(&t, 1, "otadata", 1, 0, 0xD000, 0x2000, 0);
    expect_entry(&t, 2, "phy_init", 1, 1, 0xF000, 0x1000, 0);
    expect_entry(&t, 3, "factory", 0, 0, 0x10000, 0x100000, 0);
    expect_entry(&t, 4, "ota_0", 0, 0x10, 0x110000, 0x100000, 0);
    expect_entry(&t, 5, "ota_1", 0, 0x11, 0x210000, 0x100000, 0);
    uint8_t out[ATOTA_PT_BIN_SIZE];
    assert_int_equal(atota_partition_table_write_bin(&t, out, NULL), ATOTA_OK);
    static const uint8_t row0[32] = {0xaa, 0x50, 0x01, 0x02, 0x00, 0x90, 0x00, 0x00,
                                     0x00, 0x40, 0x00, 0x00, 'n',  'v',  's'};
    static const uint8_t md5_row[32] = {0xeb, 0xeb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xbf, 0x25, 0x82, 0x2c, 0x0f, 0xa6, 0xd8, 0x64,
                                        0x1b, 0xd9, 0x30, 0x25, 0x1e, 0x06, 0xb4, 0xc4};
    fx_expect_bytes("§4.5 row 0", out, row0, 32);
    fx_expect_bytes("§4.5 MD5 row", out + 0xC0, md5_row, 32);
    for (size_t i = 0xE0; i < sizeof out; i++)
        assert_int_equal(out[i], 0xFF);
}

/* ---- §4.4 syntax ---------------------------------------------------------------------------- */

static void test_syntax_features(void **state)
{
    (void)state;
    atota_partition_table_t t;
    char warnings[1024] = "";
    atota_partition_opts_t o = {.getenv = vars, .warn = fx_collect_warning, .warn_ctx = warnings};
    /* BOM, CRLF, comments and blank lines, $VAR and ${VAR}, keywords in any case, all number
     * forms, automatic offsets aligned by type, a negative size, an empty data subtype, flags,
     * extra fields, a name longer than 16 bytes */
    static const char csv[] = "\xEF\xBB\xBF# Name, Type, SubType, Offset, Size, Flags\r\n"
                              "\r\n"
                              "   # indented comment with $UNSET_IN_A_COMMENT\r\n"
                              "nvs, DATA, NVS, , $NVS_SIZE\r\n"
                              "phy_init, Data, Phy, 0o170000, 0b1000000000000,\n"
                              "factory, ${APP}, Factory, , 1_024K\n"
                              "blob, 0x40, 0x7, , 4k\n"
                              "tail, data, , 0x120000, -0x130000\n"
                              "keys, data, nvs_keys, , 4K, encrypted:readonly,extra,fields\n"
                              "a_very_long_partition_name, data, spiffs, 0x140000, 0x1000\n"
                              "big, app, ota_0, , 1kk\n";
    parse_ok(csv, &o, &t);
    assert_int_equal(t.count, 8);
    expect_entry(&t, 0, "nvs", 1, 2, 0x9000, 0x6000, 0);
    expect_entry(&t, 1, "phy_init", 1, 1, 0xF000, 0x1000, 0);
    expect_entry(&t, 2, "factory", 0, 0, 0x10000, 0x100000, 0);
    expect_entry(&t, 3, "blob", 0x40, 7, 0x110000, 0x1000, 0);
    expect_entry(&t, 4, "tail", 1, 6, 0x120000, 0x10000, 0);
    expect_entry(&t, 5, "keys", 1, 4, 0x130000, 0x1000, 3);
    expect_entry(&t, 6, "a_very_long_part", 1, 0x82, 0x140000, 0x1000, 0);
    expect_entry(&t, 7, "big", 0, 0x10, 0x150000, 0x100000, 0);
    fx_expect_text(
        "warnings", warnings,
        "WARNING: line 10: partition name 'a_very_long_partition_name' is longer than 16 "
        "bytes; the binary table keeps 'a_very_long_part'\n");

    char dump[1024];
    atota_partition_table_write_csv(&t, dump, sizeof dump);
    fx_expect_text("dump", dump,
                   "# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n"
                   "nvs,data,nvs,0x9000,24K,\nphy_init,data,phy,0xf000,4K,\n"
                   "factory,app,factory,0x10000,1M,\nblob,64,7,0x110000,4K,\n"
                   "tail,data,undefined,0x120000,64K,\nkeys,data,nvs_keys,0x130000,4K,"
                   "encrypted:readonly\na_very_long_part,data,spiffs,0x140000,4K,\n"
                   "big,app,ota_0,0x150000,1M,\n");

    /* --disable-md5sum and the primary bootloader / partition table entries (v5.4+, "N/A") */
    atota_partition_opts_t b = {.disable_md5sum = true,
                                .has_primary_bootloader_offset = true,
                                .primary_bootloader_offset = 0x1000};
    parse_ok("bootloader, bootloader, primary, N/A, N/A\n"
             "partition_table, partition_table, primary, N/A, N/A\n"
             "nvs, data, nvs, , 0x6000\n",
             &b, &t);
    assert_false(t.has_md5);
    expect_entry(&t, 0, "bootloader", 2, 0, 0x1000, 0x7000, 0);
    expect_entry(&t, 1, "partition_table", 3, 0, 0x8000, 0x1000, 0);
    expect_entry(&t, 2, "nvs", 1, 2, 0x9000, 0x6000, 0);
    parse_fails("bootloader, bootloader, primary, N/A, N/A\n", NULL, ATOTA_ERR_PT_SYNTAX,
                "line 1: Primary bootloader offset is not provided");

    /* --offset moves the first free offset */
    atota_partition_opts_t off = {.table_offset = 0x10000};
    parse_ok("nvs, data, nvs, , 24K\n", &off, &t);
    expect_entry(&t, 0, "nvs", 1, 2, 0x11000, 0x6000, 0);

    /* the squeezelite warning, word for word */
    warnings[0] = '\0';
    parse_ok("recovery, app, factory, 0x10000, 1M\n", &o, &t);
    fx_expect_text("warning", warnings,
                   "WARNING: Partition has name 'recovery' which is a partition subtype, but this "
                   "partition has non-matching type 0x0 and subtype 0x0. Mistake in partition "
                   "table?\n");
    warnings[0] = '\0';
    parse_ok("data, app, factory, 0x10000, 1M\n", &o, &t);
    fx_expect_text("warning", warnings,
                   "WARNING: Partition has name 'data' which is a partition type, but does not "
                   "match this partition's type (0x0). Mistake in partition table?\n");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    atota_partition_opts_t o = {.getenv = vars};
    parse_fails("# t\nnvs, data, nvs, 0x9000, 0x6g00\n", NULL, ATOTA_ERR_PT_SYNTAX,
                "line 2: Invalid field value '0x6g00' for Size");
    parse_fails("nvs, data, nvs, 09000, 0x6000\n", NULL, ATOTA_ERR_PT_SYNTAX,
                "line 1: Invalid field value '09000' for Offset");
    parse_fails("nvs, data, nvs, 0x9000, 0x6000\nfactory, apps, factory, , 1M\n", NULL,
                ATOTA_ERR_PT_SYNTAX,
                "line 2: Type value 'apps' is not valid. Known keywords: bootloader, "
                "partition_table, app, data");
    parse_fails("ota_16, app, ota_16, , 1M\n", NULL, ATOTA_ERR_PT_SYNTAX,
                "line 1: SubType value 'ota_16' is not valid. Known keywords: factory, test, "
                "ota_0,");
    parse_fails("x, 0x40, fat, , 4K\n", NULL, ATOTA_ERR_PT_SYNTAX,
                "line 1: Invalid field value 'fat' for SubType");
    parse_fails("nvs, data, nvs, , $NVS_SIZE\nx, data, fat, , $NOPE\n", &o, ATOTA_ERR_PT_SYNTAX,
                "line 2: unknown variable 'NOPE'");
    parse_fails("x, data, fat, , ${NOPE}\n", NULL, ATOTA_ERR_PT_SYNTAX,
                "line 1: unknown variable 'NOPE'");
    parse_fails("x, , fat, , 4K\n", NULL, ATOTA_ERR_PT_SYNTAX,
                "line 1: Field 'type' can't be left empty.");
    parse_fails("x, app, , , 1M\n", NULL, ATOTA_ERR_PT_SYNTAX,
                "line 1: App partition cannot have an empty subtype");
    parse_fails("x, data, fat, 0x10000\n", NULL, ATOTA_ERR_PT_SYNTAX,
                "line 1: Size field can't be empty");
    parse_fails("x, data, fat, , 4K, secret\n", NULL, ATOTA_ERR_PT_SYNTAX,
                "line 1: CSV flag column contains unknown flag 'secret'");
    parse_fails("x, 256, 0, , 4K\n", NULL, ATOTA_ERR_PT_SYNTAX, "line 1: type 256 is not in 0-255");
    parse_fails("x, data, fat, , 99999999999999999999\n", NULL, ATOTA_ERR_PT_SYNTAX,
                "line 1: Size value");
    parse_fails("x, data, fat, , 0x100000000\n", NULL, ATOTA_ERR_PT_INVALID,
                "line 1: partition 'x': size 0x100000000 does not fit in 32 bits");
    parse_fails("x, data, fat, 0x20000, -0x10000\n", NULL, ATOTA_ERR_PT_INVALID,
                "line 1: partition 'x': the size ends before the offset 0x20000");
}

/* ---- verify() ------------------------------------------------------------------------------- */

static void test_verify_errors(void **state)
{
    (void)state;
    /* overlaps: in CSV order (from_csv) and, for a table built in C, in offset order (verify) */
    parse_fails("factory, app, factory, 0x10000, 1M\nota_0, app, ota_0, 0x100000, 1M\n", NULL,
                ATOTA_ERR_PT_OVERLAP,
                "line 2: partition 'ota_0' at offset 0x100000 overlaps the previous partition, "
                "which ends at 0x110000");
    parse_fails("nvs, data, nvs, 0x8000, 0x6000\n", NULL, ATOTA_ERR_PT_OVERLAP,
                "line 1: partition 'nvs' at offset 0x8000 overlaps the partition table at 0x8000");
    atota_partition_table_t t = {0};
    t.count = 2;
    t.entries[0] = (atota_partition_t){"ota_0", 0, 0x10, 0x110000, 0x100000, 0};
    t.entries[1] = (atota_partition_t){"factory", 0, 0, 0x10000, 0x200000, 0};
    atota_diag_t d = {{0}};
    assert_int_equal(atota_partition_table_verify(&t, NULL, &d), ATOTA_ERR_PT_OVERLAP);
    fx_expect_text("verify overlap", d.msg,
                   "partition 'ota_0' at 0x110000 overlaps 'factory' (0x10000-0x20ffff)");
    t.entries[1].offset = 0x4000;
    t.entries[1].size = 0x1000;
    t.entries[1].type = 1;
    t.entries[1].subtype = 0x81;
    assert_int_equal(atota_partition_table_verify(&t, NULL, &d), ATOTA_ERR_PT_OVERLAP);
    fx_expect_text("verify below", d.msg,
                   "partition 'factory': Partition offset 0x4000 is below 0x9000 (the partition "
                   "table at 0x8000 takes the sector)");

    /* alignment */
    parse_fails("factory, app, factory, 0x18000, 1M\n", NULL, ATOTA_ERR_PT_ALIGN,
                "line 1: partition 'factory' invalid: offset 0x18000 is not aligned to 0x10000");
    parse_fails("nvs, data, nvs, 0x9800, 0x6000\n", NULL, ATOTA_ERR_PT_ALIGN,
                "offset 0x9800 is not aligned to 0x1000");
    parse_fails("factory, app, factory, 0x10000, 0x1800\n", NULL, ATOTA_ERR_PT_ALIGN,
                "line 1: partition 'factory' invalid: size 0x1800 is not aligned to 0x1000");
    atota_partition_opts_t v1 = {.secure_v1 = true};
    parse_fails("factory, app, factory, 0x10000, 0x11000\n", &v1, ATOTA_ERR_PT_ALIGN,
                "size 0x11000 is not aligned to 0x10000");

    /* names, otadata, readonly, nvs size, flash size */
    parse_fails("nvs, data, nvs, , 0x6000\nx, data, fat, , 4K\nnvs, data, fat, , 4K\n", NULL,
                ATOTA_ERR_PT_DUPLICATE,
                "line 3: Partition names must be unique: 'nvs' is already used at line 1");
    parse_fails("otadata, data, ota, , 0x1000\n", NULL, ATOTA_ERR_OTADATA_SIZE,
                "line 1: otadata partition 'otadata' must have size = 0x2000 (it is 0x1000)");
    parse_fails("od1, data, ota, , 8K\nod2, data, ota, , 8K\n", NULL, ATOTA_ERR_PT_INVALID,
                "line 2: Found multiple otadata partitions ('od1' and 'od2')");
    parse_fails("otadata, data, ota, , 8K, readonly\n", NULL, ATOTA_ERR_PT_INVALID,
                "line 1: partition 'otadata' invalid: 'otadata' partition of type 1 and subtype "
                "0 is always read-write and cannot be read-only");
    parse_fails("cd, data, coredump, , 64K, readonly\n", NULL, ATOTA_ERR_PT_INVALID,
                "is always read-write and cannot be read-only");
    parse_fails("nvs, data, nvs, , 0x2000\n", NULL, ATOTA_ERR_PT_INVALID,
                "line 1: partition 'nvs' invalid: nvs partition of this size (0x2000) must be "
                "flagged as 'readonly'");
    atota_partition_table_t ok;
    parse_ok("nvs, data, nvs, , 0x2000, readonly\n", NULL, &ok);
    atota_partition_opts_t fs = {.flash_size = 4u << 20};
    parse_ok("factory, app, factory, , 0x3F0000\n", &fs, &ok);
    parse_fails("factory, app, factory, , 0x400000\n", &fs, ATOTA_ERR_PT_INVALID,
                "Partitions tables occupies 4.1MB of flash (4259840 bytes) which does not fit in "
                "configured flash size 4MB");
}

static void test_too_many(void **state)
{
    (void)state;
    static char csv[96 * 40];
    size_t n = 0;
    for (unsigned i = 0; i < 96; i++)
        n += (size_t)snprintf(csv + n, sizeof csv - n, "p%u, 0x40, 0, , 4K\n", i);
    parse_fails(csv, NULL, ATOTA_ERR_PT_TOO_MANY, "line 96: more than 95 partitions");
    /* 95 parse, but with the MD5 row they do not fit in 0xC00 bytes (gen_esp32part to_binary) */
    csv[strstr(csv, "p95,") - csv] = '\0';
    atota_partition_table_t t;
    parse_ok(csv, NULL, &t);
    assert_int_equal(t.count, 95);
    uint8_t out[ATOTA_PT_BIN_SIZE];
    atota_diag_t d = {{0}};
    assert_int_equal(atota_partition_table_write_bin(&t, out, &d), ATOTA_ERR_PT_TOO_MANY);
    assert_non_null(strstr(d.msg, "Binary partition table length (3072) longer than max"));
    atota_partition_opts_t nomd5 = {.disable_md5sum = true};
    parse_ok(csv, &nomd5, &t);
    assert_int_equal(atota_partition_table_write_bin(&t, out, &d), ATOTA_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_csvs),     cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_syntax_features), cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_verify_errors),   cmocka_unit_test(test_too_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
