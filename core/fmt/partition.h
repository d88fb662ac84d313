/*
 * ESP-IDF partition tables (esp-idf-formats.md §4), binary and CSV, with gen_esp32part.py's rules.
 * The same code reads and writes ESP-AT's at_customize.bin, which is a table in the same format
 * (esp-at-ota.md §5.2). Tables are plain structs of fixed size: no allocation.
 */
#ifndef ATOTA_CORE_FMT_PARTITION_H
#define ATOTA_CORE_FMT_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ATOTA_PT_BIN_SIZE       0xC00u /* a binary table, padded with 0xFF */
#define ATOTA_PT_OFFSET_DEFAULT 0x8000u
#define ATOTA_PT_MAX_ENTRIES    95 /* 0xC00 / 32 minus the end marker */
#define ATOTA_PT_ENTRY_LEN      32
#define ATOTA_PT_NAME_LEN       16

#define ATOTA_PT_TYPE_APP             0x00
#define ATOTA_PT_TYPE_DATA            0x01
#define ATOTA_PT_TYPE_BOOTLOADER      0x02
#define ATOTA_PT_TYPE_PARTITION_TABLE 0x03
#define ATOTA_PT_TYPE_AT_CUSTOMIZE    0x40 /* ESP-AT's custom type */

#define ATOTA_PT_SUBTYPE_APP_FACTORY    0x00
#define ATOTA_PT_SUBTYPE_APP_OTA_0      0x10 /* ota_N = 0x10 + N, N < 16 */
#define ATOTA_PT_SUBTYPE_APP_TEST       0x20
#define ATOTA_PT_SUBTYPE_DATA_OTA       0x00
#define ATOTA_PT_SUBTYPE_DATA_PHY       0x01
#define ATOTA_PT_SUBTYPE_DATA_NVS       0x02
#define ATOTA_PT_SUBTYPE_DATA_UNDEFINED 0x06

#define ATOTA_PT_FLAG_ENCRYPTED 0x1u
#define ATOTA_PT_FLAG_READONLY  0x2u

typedef struct {
    char name[ATOTA_PT_NAME_LEN + 1]; /* NUL-terminated; at most 16 significant bytes */
    uint8_t type;
    uint8_t subtype;
    uint32_t offset;
    uint32_t size;
    uint32_t flags;
} atota_partition_t;

typedef struct {
    atota_partition_t entries[ATOTA_PT_MAX_ENTRIES];
    unsigned count;
    bool has_md5; /* the binary had an MD5 row / write one (gen_esp32part's default) */
} atota_partition_table_t;

/* Warnings gen_esp32part prints without failing (e.g. a name that is a subtype keyword). */
typedef void (*atota_partition_warn_fn)(void *ctx, const char *msg);

typedef struct {
    uint32_t table_offset; /* 0: 0x8000. Partitions must start at or after offset + 0x1000 */
    uint32_t flash_size;   /* 0: not checked (gen_esp32part --flash-size) */
    bool secure_v1;        /* app sizes aligned to 64 KB (--secure v1) */
    /* $VAR / ${VAR} expansion in CSV fields; NULL getenv: any variable is an error. */
    const char *(*getenv)(void *ctx, const char *name);
    void *getenv_ctx;
    atota_partition_warn_fn warn; /* may be NULL */
    void *warn_ctx;
    bool disable_md5sum; /* parse_csv leaves has_md5 false (gen_esp32part --disable-md5sum) */
    /* gen_esp32part --primary-bootloader-offset / --recovery-bootloader-offset: where the CSV's
     * bootloader-type entries go (their Offset/Size fields are ignored, usually "N/A"). */
    bool has_primary_bootloader_offset;
    uint32_t primary_bootloader_offset;
    bool has_recovery_bootloader_offset;
    uint32_t recovery_bootloader_offset;
} atota_partition_opts_t;

/* Parses a binary table with gen_esp32part's from_binary rules: 32-byte entries with magic AA 50,
 * an optional MD5 row (EB EB, 14 x FF, MD5 of the entries before it) that must match, and an end
 * marker of 32 x FF. buf may be longer than the table (a flash region or a signed table); only
 * its first 0xC00 bytes are read. Errors: ATOTA_ERR_PT_NO_END, _PT_MD5, _PT_MAGIC (diag names the
 * row), _PT_TOO_MANY, _PT_INVALID (a row after the MD5 row). Flag bits are kept as stored. It does
 * not verify the layout: call atota_partition_table_verify as gen_esp32part does. */
atota_err_t atota_partition_table_parse_bin(const uint8_t *buf, size_t len,
                                            atota_partition_table_t *table, atota_diag_t *diag);

/* Writes the 0xC00-byte binary: entries, the MD5 row when table->has_md5, 0xFF padding.
 * Refuses a table that would not fit (ATOTA_ERR_PT_TOO_MANY). */
atota_err_t atota_partition_table_write_bin(const atota_partition_table_t *table,
                                            uint8_t out[ATOTA_PT_BIN_SIZE], atota_diag_t *diag);

/* Parses CSV text with gen_esp32part's rules (§4.4): comments, $VAR expansion, keywords, numbers
 * with K/M suffixes, automatic offsets and alignment, negative sizes, flags; then verifies the
 * table (atota_partition_table_verify). Sets has_md5 (false with opts->disable_md5sum). diag
 * names the CSV line. Names longer than 16 bytes are cut as the binary does (with a warning).
 * opts may be NULL. On failure the table's contents are unspecified. */
atota_err_t atota_partition_table_parse_csv(const char *text, size_t len,
                                            const atota_partition_opts_t *opts,
                                            atota_partition_table_t *table, atota_diag_t *diag);

/* gen_esp32part's verify(): alignment, overlaps, unique names, the otadata size, readonly rules,
 * the minimum nvs size, the flash size. opts may be NULL. */
atota_err_t atota_partition_table_verify(const atota_partition_table_t *table,
                                         const atota_partition_opts_t *opts, atota_diag_t *diag);

/* atota_partition_table_verify, with diag naming the CSV line of the partition at fault:
 * lines[i] is the line of entries[i] (lines may be NULL). parse_csv uses it. */
atota_err_t atota_partition_table_verify_lines(const atota_partition_table_t *table,
                                               const atota_partition_opts_t *opts,
                                               const unsigned *lines, atota_diag_t *diag);

/* Writes the table as gen_esp32part's to_csv() does (the text of its binary -> CSV dump, starting
 * "# ESP-IDF Partition Table"). Like snprintf: returns the length needed, writes at most cap
 * bytes including the NUL. */
size_t atota_partition_table_write_csv(const atota_partition_table_t *table, char *out, size_t cap);

/* The entry with this name, or NULL. */
const atota_partition_t *atota_partition_find(const atota_partition_table_t *table,
                                              const char *name);

/* The first entry with this type and subtype, or NULL. */
const atota_partition_t *atota_partition_find_type(const atota_partition_table_t *table,
                                                   uint8_t type, uint8_t subtype);

/* Keyword names as gen_esp32part spells them ("app", "data"; "ota_0", "nvs"), or NULL when the
 * value has none. */
const char *atota_partition_type_name(uint8_t type);
const char *atota_partition_subtype_name(uint8_t type, uint8_t subtype);

/* gen_esp32part's TYPES and SUBTYPES[type] tables, in its order (which fixes the order of the
 * "Known keywords" in its errors). A type without keywords gives NULL and *count 0. */
typedef struct {
    const char *name;
    uint8_t value;
} atota_partition_keyword_t;
const atota_partition_keyword_t *atota_partition_type_keywords(size_t *count);
const atota_partition_keyword_t *atota_partition_subtype_keywords(uint8_t type, size_t *count);

#endif /* ATOTA_CORE_FMT_PARTITION_H */
