/*
 * gen_esp32part.py's PartitionTable.verify() and PartitionDefinition.verify() (esp-idf-formats.md
 * §4.4 "verify() checks"), in its order, so the first error reported is the one it reports, plus
 * its --flash-size check (verify_size_fits). Its warnings go to opts->warn with its wording.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/fmt/partition.h"

#define TABLE_SECTOR     0x1000u /* PARTITION_TABLE_SIZE */
#define OTADATA_SIZE     0x2000u
#define NVS_RW_MIN_SIZE  0x3000u /* NVS_RW_MIN_PARTITION_SIZE */
#define SUBTYPE_COREDUMP 0x03
#define SUBTYPE_TEE_OTA  0x90
#define SUBTYPE_PRIMARY  0x00 /* bootloader/primary, partition_table/primary */

/* "line 4: " when the caller knows the CSV line of entry i. */
typedef struct {
    const unsigned *lines;
    char text[24];
} where_t;

static const char *where(where_t *w, unsigned i)
{
    if (w->lines && w->lines[i])
        snprintf(w->text, sizeof w->text, "line %u: ", w->lines[i]);
    else
        w->text[0] = '\0';
    return w->text;
}

static void warn(const atota_partition_opts_t *opts, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void warn(const atota_partition_opts_t *opts, const char *fmt, ...)
{
    if (!opts || !opts->warn)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    opts->warn(opts->warn_ctx, msg);
}

/* The primary bootloader and primary partition table entries sit below the table offset by
 * design; gen_esp32part exempts them from the offset checks. */
static bool is_primary_boot_region(const atota_partition_t *p)
{
    return (p->type == ATOTA_PT_TYPE_BOOTLOADER || p->type == ATOTA_PT_TYPE_PARTITION_TABLE) &&
           p->subtype == SUBTYPE_PRIMARY;
}

/* gen_esp32part warns when a name is a type or subtype keyword of a different partition kind
 * (the squeezelite table's factory app "recovery" is a bootloader subtype). Names compare
 * case-sensitively there ("self.name in TYPES"). */
static void warn_keyword_names(const atota_partition_t *p, const atota_partition_opts_t *opts)
{
    size_t n;
    const atota_partition_keyword_t *kw = atota_partition_type_keywords(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(p->name, kw[i].name) == 0 && kw[i].value != p->type)
            warn(opts,
                 "WARNING: Partition has name '%s' which is a partition type, but does not "
                 "match this partition's type (0x%x). Mistake in partition table?",
                 p->name, p->type);
    bool is_subtype_name = false;
    for (unsigned t = 0; t < 256 && !is_subtype_name; t++) {
        kw = atota_partition_subtype_keywords((uint8_t)t, &n);
        for (size_t i = 0; i < n; i++)
            if (strcmp(p->name, kw[i].name) == 0)
                is_subtype_name = true;
    }
    if (!is_subtype_name)
        return;
    kw = atota_partition_subtype_keywords(p->type, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(p->name, kw[i].name) == 0 && kw[i].value == p->subtype)
            return;
    warn(opts,
         "WARNING: Partition has name '%s' which is a partition subtype, but this partition has "
         "non-matching type 0x%x and subtype 0x%x. Mistake in partition table?",
         p->name, p->type, p->subtype);
}

/* PartitionDefinition.verify() */
static atota_err_t verify_one(const atota_partition_t *p, const atota_partition_opts_t *opts,
                              const char *at, atota_diag_t *diag)
{
    /* §4.4: offsets of apps on 64 KB (the MMU page), everything else on a 4 KB sector */
    uint32_t offset_align = p->type == ATOTA_PT_TYPE_APP ? 0x10000u : 0x1000u;
    if (p->offset % offset_align)
        return atota_diag_set(diag, ATOTA_ERR_PT_ALIGN,
                              "%spartition '%s' invalid: offset 0x%x is not aligned to 0x%x", at,
                              p->name, p->offset, offset_align);
    if (p->type == ATOTA_PT_TYPE_APP) {
        /* Secure Boot v1 puts its 68-byte signature at the end of a 64 KB block */
        uint32_t size_align = opts && opts->secure_v1 ? 0x10000u : 0x1000u;
        if (p->size % size_align)
            return atota_diag_set(diag, ATOTA_ERR_PT_ALIGN,
                                  "%spartition '%s' invalid: size 0x%x is not aligned to 0x%x", at,
                                  p->name, p->size, size_align);
    }
    warn_keyword_names(p, opts);
    uint32_t unknown = p->flags & ~(ATOTA_PT_FLAG_ENCRYPTED | ATOTA_PT_FLAG_READONLY);
    if (unknown)
        warn(opts, "WARNING: Partition definition had unknown flag(s) 0x%08x. Newer binary format?",
             unknown);
    bool readonly = (p->flags & ATOTA_PT_FLAG_READONLY) != 0;
    if (p->type == ATOTA_PT_TYPE_DATA && readonly &&
        (p->subtype == ATOTA_PT_SUBTYPE_DATA_OTA || p->subtype == SUBTYPE_COREDUMP))
        return atota_diag_set(diag, ATOTA_ERR_PT_INVALID,
                              "%spartition '%s' invalid: '%s' partition of type %u and subtype %u "
                              "is always read-write and cannot be read-only",
                              at, p->name, p->name, p->type, p->subtype);
    if (p->type == ATOTA_PT_TYPE_DATA && p->subtype == ATOTA_PT_SUBTYPE_DATA_NVS && !readonly &&
        p->size < NVS_RW_MIN_SIZE)
        return atota_diag_set(diag, ATOTA_ERR_PT_INVALID,
                              "%spartition '%s' invalid: nvs partition of this size (0x%x) must be "
                              "flagged as 'readonly' (the size of read/write NVS has to be at "
                              "least 0x%x)",
                              at, p->name, p->size, NVS_RW_MIN_SIZE);
    return ATOTA_OK;
}

/* One data partition of this subtype at most, of exactly 0x2000 bytes (two otadata sectors). */
static atota_err_t verify_otadata(const atota_partition_table_t *table, uint8_t subtype,
                                  const char *what, where_t *w, atota_diag_t *diag)
{
    int found = -1;
    for (unsigned i = 0; i < table->count; i++) {
        const atota_partition_t *p = &table->entries[i];
        if (p->type != ATOTA_PT_TYPE_DATA || p->subtype != subtype)
            continue;
        if (found >= 0)
            return atota_diag_set(diag, ATOTA_ERR_PT_INVALID,
                                  "%sFound multiple %s partitions ('%s' and '%s'). Only one "
                                  "partition can be defined with type=\"data\"(1) and "
                                  "subtype=\"%s\"(0x%x).",
                                  where(w, i), what, table->entries[found].name, p->name,
                                  subtype == SUBTYPE_TEE_OTA ? "tee_ota" : "ota", subtype);
        found = (int)i;
    }
    if (found >= 0 && table->entries[found].size != OTADATA_SIZE)
        return atota_diag_set(diag, ATOTA_ERR_OTADATA_SIZE,
                              "%s%s partition '%s' must have size = 0x2000 (it is 0x%x)",
                              where(w, (unsigned)found), what, table->entries[found].name,
                              table->entries[found].size);
    return ATOTA_OK;
}

atota_err_t atota_partition_table_verify_lines(const atota_partition_table_t *table,
                                               const atota_partition_opts_t *opts,
                                               const unsigned *lines, atota_diag_t *diag)
{
    if (!table)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no table");
    if (table->count > ATOTA_PT_MAX_ENTRIES)
        return atota_diag_set(diag, ATOTA_ERR_PT_TOO_MANY, "%u partitions, at most %u fit",
                              table->count, (unsigned)ATOTA_PT_MAX_ENTRIES);
    where_t w = {lines, ""};
    atota_err_t err;
    for (unsigned i = 0; i < table->count; i++)
        if ((err = verify_one(&table->entries[i], opts, where(&w, i), diag)))
            return err;

    for (unsigned i = 0; i < table->count; i++)
        for (unsigned j = 0; j < i; j++)
            if (strcmp(table->entries[i].name, table->entries[j].name) == 0) {
                if (lines && lines[i] && lines[j])
                    return atota_diag_set(diag, ATOTA_ERR_PT_DUPLICATE,
                                          "line %u: Partition names must be unique: '%s' is "
                                          "already used at line %u",
                                          lines[i], table->entries[i].name, lines[j]);
                return atota_diag_set(diag, ATOTA_ERR_PT_DUPLICATE,
                                      "Partition names must be unique: '%s' is used by entries %u "
                                      "and %u",
                                      table->entries[i].name, j, i);
            }

    /* Overlaps are checked in offset order (a stable sort, as Python's sorted()). */
    unsigned order[ATOTA_PT_MAX_ENTRIES];
    for (unsigned i = 0; i < table->count; i++) {
        unsigned j = i;
        while (j > 0 && table->entries[order[j - 1]].offset > table->entries[i].offset) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    uint32_t table_offset =
        opts && opts->table_offset ? opts->table_offset : ATOTA_PT_OFFSET_DEFAULT;
    uint64_t first_free = (uint64_t)table_offset + TABLE_SECTOR;
    const atota_partition_t *last = NULL;
    for (unsigned k = 0; k < table->count; k++) {
        const atota_partition_t *p = &table->entries[order[k]];
        if (p->offset < first_free && !is_primary_boot_region(p))
            return atota_diag_set(diag, ATOTA_ERR_PT_OVERLAP,
                                  "%spartition '%s': Partition offset 0x%x is below 0x%llx (the "
                                  "partition table at 0x%x takes the sector)",
                                  where(&w, order[k]), p->name, p->offset,
                                  (unsigned long long)first_free, table_offset);
        if (last && p->offset < (uint64_t)last->offset + last->size)
            return atota_diag_set(diag, ATOTA_ERR_PT_OVERLAP,
                                  "%spartition '%s' at 0x%x overlaps '%s' (0x%x-0x%llx)",
                                  where(&w, order[k]), p->name, p->offset, last->name, last->offset,
                                  (unsigned long long)last->offset + last->size - 1);
        last = p;
    }

    if ((err = verify_otadata(table, ATOTA_PT_SUBTYPE_DATA_OTA, "otadata", &w, diag)) ||
        (err = verify_otadata(table, SUBTYPE_TEE_OTA, "TEE otadata", &w, diag)))
        return err;

    /* main(): --flash-size; flash_size() is the end of the partition with the highest offset */
    if (opts && opts->flash_size && table->count) {
        const atota_partition_t *top = &table->entries[order[table->count - 1]];
        for (unsigned k = table->count; k-- > 0;)
            if (table->entries[order[k]].offset == top->offset)
                top = &table->entries[order[k]];
        uint64_t end = (uint64_t)top->offset + top->size;
        if (end > opts->flash_size) {
            return atota_diag_set(diag, ATOTA_ERR_PT_INVALID,
                                  "Partitions tables occupies %.1fMB of flash (%llu bytes) which "
                                  "does not fit in configured flash size %uMB",
                                  (double)end / (1024.0 * 1024.0), (unsigned long long)end,
                                  (unsigned)(opts->flash_size >> 20));
        }
    }
    return ATOTA_OK;
}

atota_err_t atota_partition_table_verify(const atota_partition_table_t *table,
                                         const atota_partition_opts_t *opts, atota_diag_t *diag)
{
    return atota_partition_table_verify_lines(table, opts, NULL, diag);
}
