/*
 * libFuzzer target: binary partition tables. Whatever parses must write back to a table that
 * parses to the same thing, and a table that verifies and has CSV-safe names must survive the
 * trip through gen_esp32part's CSV text unchanged. abort() when two paths disagree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt/partition.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_entry(const atota_partition_t *a, const atota_partition_t *b, uint32_t flag_mask)
{
    return strcmp(a->name, b->name) == 0 && a->type == b->type && a->subtype == b->subtype &&
           a->offset == b->offset && a->size == b->size &&
           (a->flags & flag_mask) == (b->flags & flag_mask);
}

static void expect_same(const atota_partition_table_t *a, const atota_partition_table_t *b,
                        uint32_t flag_mask)
{
    if (a->count != b->count || a->has_md5 != b->has_md5)
        abort();
    for (unsigned i = 0; i < a->count; i++)
        if (!same_entry(&a->entries[i], &b->entries[i], flag_mask))
            abort();
}

/* A name the CSV reads back as written: no separators, no surrounding blanks, no comment or
 * variable syntax, printable ASCII. */
static bool csv_safe_name(const char *s)
{
    size_t n = strlen(s);
    if (n && (s[0] == ' ' || s[n - 1] == ' ' || s[0] == '#'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7E || s[i] == ',' || s[i] == '$')
            if (s[i] != ' ')
                return false;
    return true;
}

/* A table gen_esp32part's CSV reproduces: bootloader/partition-table types are placed from the
 * command line rather than from the text, and from_csv() wants the partitions in flash order
 * (verify() does not: it sorts). */
static bool csv_round_trips(const atota_partition_table_t *t)
{
    uint64_t end = 0;
    for (unsigned i = 0; i < t->count; i++) {
        const atota_partition_t *p = &t->entries[i];
        if (!csv_safe_name(p->name) || p->type == ATOTA_PT_TYPE_BOOTLOADER ||
            p->type == ATOTA_PT_TYPE_PARTITION_TABLE || p->offset < end)
            return false;
        end = (uint64_t)p->offset + p->size;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static atota_partition_table_t table, again, from_csv; /* large: keep them off the stack */
    static uint8_t bin[ATOTA_PT_BIN_SIZE];
    static char csv[ATOTA_PT_MAX_ENTRIES * 80 + 128];
    atota_diag_t diag;

    if (atota_partition_table_parse_bin(data, size, &table, &diag) != ATOTA_OK)
        return 0;
    if (atota_partition_table_write_bin(&table, bin, &diag) != ATOTA_OK) {
        /* only 95 entries and an MD5 row cannot be written, and those never parse */
        abort();
    }
    if (atota_partition_table_parse_bin(bin, sizeof bin, &again, &diag) != ATOTA_OK)
        abort();
    expect_same(&table, &again, 0xFFFFFFFFu);

    size_t need = atota_partition_table_write_csv(&table, csv, sizeof csv);
    if (need >= sizeof csv || strlen(csv) != need)
        abort();
    if (atota_partition_table_verify(&table, NULL, &diag) != ATOTA_OK || !csv_round_trips(&table))
        return 0;
    atota_partition_opts_t opts = {.disable_md5sum = !table.has_md5};
    atota_err_t err = atota_partition_table_parse_csv(csv, need, &opts, &from_csv, &diag);
    if (err != ATOTA_OK) {
        fprintf(stderr, "the dump of a valid table does not parse: %s\n%s",
                atota_diag_text(&diag, err), csv);
        abort();
    }
    /* to_csv prints only the flags it knows */
    expect_same(&table, &from_csv, ATOTA_PT_FLAG_ENCRYPTED | ATOTA_PT_FLAG_READONLY);
    return 0;
}
