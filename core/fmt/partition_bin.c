/*
 * Binary partition tables (esp-idf-formats.md §4.1, §4.2): gen_esp32part.py's from_binary() and
 * to_binary(), with the bootloader's limits (esp_partition_table_verify): the table lives in the
 * first 0xC00 bytes, at most one MD5 row, and a table without an end marker is invalid.
 */
#include <string.h>

#include "core/fmt/partition.h"
#include "core/util/crc32.h"
#include "core/util/hash.h"

#define ROWS (ATOTA_PT_BIN_SIZE / ATOTA_PT_ENTRY_LEN) /* 96, the end marker included */

static bool is_end_marker(const uint8_t *row)
{
    /* gen_esp32part: 32 bytes of 0xFF end the table (the bootloader looks at only 4 of them) */
    for (unsigned i = 0; i < ATOTA_PT_ENTRY_LEN; i++)
        if (row[i] != 0xFF)
            return false;
    return true;
}

/* §4.1: <2sBBLL16sL>: magic, type, subtype, offset, size, label, flags. */
static void decode_entry(const uint8_t *row, atota_partition_t *p)
{
    memset(p, 0, sizeof *p);
    p->type = row[2];
    p->subtype = row[3];
    p->offset = atota_le32(row + 4);
    p->size = atota_le32(row + 8);
    /* The label is NUL-padded but a 16-byte name has no NUL: stop at the first NUL or at 16. */
    for (unsigned i = 0; i < ATOTA_PT_NAME_LEN && row[12 + i]; i++)
        p->name[i] = (char)row[12 + i];
    /* Unknown flag bits are kept so that a table read from flash is written back unchanged;
     * verify() warns about them as gen_esp32part does. */
    p->flags = atota_le32(row + 28);
}

static void encode_entry(const atota_partition_t *p, uint8_t *row)
{
    memset(row, 0, ATOTA_PT_ENTRY_LEN);
    row[0] = 0xAA;
    row[1] = 0x50;
    row[2] = p->type;
    row[3] = p->subtype;
    atota_put_le32(row + 4, p->offset);
    atota_put_le32(row + 8, p->size);
    /* struct.pack('16s'): truncated to 16 bytes, NUL-padded, no terminator needed */
    for (unsigned i = 0; i < ATOTA_PT_NAME_LEN && p->name[i]; i++)
        row[12 + i] = (uint8_t)p->name[i];
    atota_put_le32(row + 28, p->flags);
}

atota_err_t atota_partition_table_parse_bin(const uint8_t *buf, size_t len,
                                            atota_partition_table_t *table, atota_diag_t *diag)
{
    if (!table || (!buf && len))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no table or buffer");
    memset(table, 0, sizeof *table);
    /* §4.2: the table is at most 0xC00 bytes; anything after (a Secure Boot v1 signature, the
     * rest of a flash sector) is not part of it. */
    size_t limit = len < ATOTA_PT_BIN_SIZE ? len : ATOTA_PT_BIN_SIZE;
    size_t off;
    for (off = 0; off + ATOTA_PT_ENTRY_LEN <= limit; off += ATOTA_PT_ENTRY_LEN) {
        const uint8_t *row = buf + off;
        unsigned index = (unsigned)(off / ATOTA_PT_ENTRY_LEN);
        if (is_end_marker(row))
            return ATOTA_OK;
        if ((row[0] != 0xAA || row[1] != 0x50) && (row[0] != 0xEB || row[1] != 0xEB))
            return atota_diag_set(diag, ATOTA_ERR_PT_MAGIC,
                                  "row %u (offset 0x%zx): invalid magic bytes %02x %02x: not a "
                                  "partition entry (aa 50), an MD5 row (eb eb) or the end marker",
                                  index, off, row[0], row[1]);
        if (table->has_md5)
            /* The bootloader allows one MD5 row, and every tool writes it just before the end
             * marker; an entry or a second MD5 row after it is not covered by it. */
            return atota_diag_set(diag, ATOTA_ERR_PT_INVALID,
                                  "row %u (offset 0x%zx): a row after the MD5 row; the table "
                                  "must end there",
                                  index, off);
        if (row[0] == 0xEB && row[1] == 0xEB) {
            /* §4.2: the MD5 covers exactly the entries before the MD5 row. */
            uint8_t md5[ATOTA_MD5_LEN];
            atota_md5(buf, off, md5);
            if (memcmp(md5, row + 16, ATOTA_MD5_LEN) != 0) {
                char want[2 * ATOTA_MD5_LEN + 1], got[2 * ATOTA_MD5_LEN + 1];
                return atota_diag_set(diag, ATOTA_ERR_PT_MD5,
                                      "MD5 checksums don't match! (row %u: computed 0x%s, "
                                      "parsed 0x%s)",
                                      index, atota_hex(md5, sizeof md5, want),
                                      atota_hex(row + 16, ATOTA_MD5_LEN, got));
            }
            table->has_md5 = true;
            continue;
        }
        if (table->count >= ATOTA_PT_MAX_ENTRIES)
            return atota_diag_set(diag, ATOTA_ERR_PT_TOO_MANY,
                                  "row %u: more than %u partitions in the table", index,
                                  ATOTA_PT_MAX_ENTRIES);
        decode_entry(row, &table->entries[table->count++]);
    }
    if (limit % ATOTA_PT_ENTRY_LEN)
        return atota_diag_set(diag, ATOTA_ERR_PT_NO_END,
                              "Partition table is missing an end-of-table marker (input ends "
                              "inside row %zu, at byte %zu)",
                              limit / ATOTA_PT_ENTRY_LEN, limit);
    return atota_diag_set(diag, ATOTA_ERR_PT_NO_END,
                          "Partition table is missing an end-of-table marker (%u entries, no row "
                          "of 32 x 0xFF in the first %zu bytes)",
                          table->count, limit);
}

atota_err_t atota_partition_table_write_bin(const atota_partition_table_t *table,
                                            uint8_t out[ATOTA_PT_BIN_SIZE], atota_diag_t *diag)
{
    if (!table || !out)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no table or output buffer");
    /* gen_esp32part to_binary(): entries + MD5 row must stay below 0xC00, which leaves room for
     * the end marker: 95 partitions without the MD5 row, 94 with it. */
    size_t len = (size_t)table->count * ATOTA_PT_ENTRY_LEN + (table->has_md5 ? 32u : 0u);
    if (table->count > ATOTA_PT_MAX_ENTRIES || len >= ATOTA_PT_BIN_SIZE)
        return atota_diag_set(diag, ATOTA_ERR_PT_TOO_MANY,
                              "Binary partition table length (%zu) longer than max: %u "
                              "partitions%s; at most %u fit",
                              len, table->count, table->has_md5 ? " and the MD5 row" : "",
                              table->has_md5 ? ROWS - 2 : ROWS - 1);
    memset(out, 0xFF, ATOTA_PT_BIN_SIZE);
    for (unsigned i = 0; i < table->count; i++)
        encode_entry(&table->entries[i], out + i * ATOTA_PT_ENTRY_LEN);
    if (table->has_md5) {
        /* §4.2: EB EB, 14 x FF, MD5 of the entries before it */
        uint8_t *row = out + table->count * ATOTA_PT_ENTRY_LEN;
        row[0] = 0xEB;
        row[1] = 0xEB;
        atota_md5(out, (size_t)table->count * ATOTA_PT_ENTRY_LEN, row + 16);
    }
    return ATOTA_OK;
}
