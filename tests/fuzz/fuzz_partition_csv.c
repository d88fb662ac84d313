/*
 * libFuzzer target: partition table CSV. A CSV that parses (and so verifies) must give a binary
 * that parses back to the same table, and whose CSV dump parses back to it too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt/partition.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void expect_same(const atota_partition_table_t *a, const atota_partition_table_t *b)
{
    if (a->count != b->count || a->has_md5 != b->has_md5)
        abort();
    for (unsigned i = 0; i < a->count; i++) {
        const atota_partition_t *x = &a->entries[i], *y = &b->entries[i];
        if (strcmp(x->name, y->name) || x->type != y->type || x->subtype != y->subtype ||
            x->offset != y->offset || x->size != y->size || x->flags != y->flags)
            abort();
    }
}

static const char *fake_env(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "SIZE") == 0 ? "0x6000" : NULL;
}

/* Names the CSV dump cannot carry back (separators, blanks, '#', '$'), and the bootloader and
 * partition-table types placed from the command line, end the CSV round trip. */
static bool csv_round_trips(const atota_partition_table_t *t)
{
    for (unsigned i = 0; i < t->count; i++) {
        const char *s = t->entries[i].name;
        size_t n = strlen(s);
        if (t->entries[i].type == ATOTA_PT_TYPE_BOOTLOADER ||
            t->entries[i].type == ATOTA_PT_TYPE_PARTITION_TABLE || (n && s[0] == '#'))
            return false;
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)s[k] < 0x21 || (unsigned char)s[k] > 0x7E || s[k] == ',' ||
                s[k] == '$')
                return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static atota_partition_table_t table, from_bin, from_csv;
    static uint8_t bin[ATOTA_PT_BIN_SIZE];
    static char csv[ATOTA_PT_MAX_ENTRIES * 80 + 128];
    atota_diag_t diag;

    char *text = malloc(size + 1); /* the parser takes a length; the NUL catches over-reads */
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* the first byte picks options, so the fuzzer explores them too */
    uint8_t sel = size ? data[0] : 0;
    atota_partition_opts_t opts = {
        .table_offset = (sel & 1) ? 0x10000 : 0,
        .flash_size = (sel & 2) ? 4u << 20 : 0,
        .secure_v1 = (sel & 4) != 0,
        .disable_md5sum = (sel & 8) != 0,
        .getenv = fake_env,
        .has_primary_bootloader_offset = (sel & 16) != 0,
        .primary_bootloader_offset = 0x1000,
    };
    atota_err_t err = atota_partition_table_parse_csv(text, size, &opts, &table, &diag);
    free(text);
    if (err != ATOTA_OK)
        return 0;
    if (atota_partition_table_write_bin(&table, bin, &diag) != ATOTA_OK) {
        if (table.count == ATOTA_PT_MAX_ENTRIES && table.has_md5)
            return 0; /* 95 entries and the MD5 row do not fit (gen_esp32part refuses too) */
        abort();
    }
    if (atota_partition_table_parse_bin(bin, sizeof bin, &from_bin, &diag) != ATOTA_OK)
        abort();
    expect_same(&table, &from_bin);

    size_t need = atota_partition_table_write_csv(&table, csv, sizeof csv);
    if (need >= sizeof csv || !csv_round_trips(&table))
        return 0;
    atota_partition_opts_t again = opts;
    again.getenv = NULL;
    if (atota_partition_table_parse_csv(csv, need, &again, &from_csv, &diag) != ATOTA_OK)
        abort();
    expect_same(&table, &from_csv);
    return 0;
}
