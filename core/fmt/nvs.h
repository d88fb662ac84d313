/*
 * ESP-IDF's NVS (non-volatile storage) format, so that the simulated module keeps its settings
 * where ESP-AT does (the `nvs` partition) in a layout ESP-IDF's own tools read (nvs_tool.py,
 * nvs_partition_gen.py): 4 KB pages with a 32-byte header (state, seq, version 0xFE, CRC32), a
 * 32-byte entry-state bitmap (2 bits an entry), 126 entries of 32 bytes (namespace index, type,
 * span, chunk index, CRC32, 16-byte key, 8 bytes of data); namespaces in namespace 0; strings and
 * blobs over several entries (blobs as BLOB_DATA chunks plus a BLOB_IDX entry, version 2).
 *
 * Writes follow NVS's own order, so a power cut at any point leaves the old value or the new one:
 * the new entry is written and marked WRITTEN before the old one is marked ERASED; a full page is
 * compacted into a fresh one (FREEING) before it is erased. Opening the partition finishes or
 * rolls back whatever a power cut interrupted, as nvs_flash_init does.
 *
 * Core code: all flash access through hal.h, no allocation, no state outside the struct. Lookups
 * scan the partition (small partitions; ESP-AT's is 56 KB).
 */
#ifndef ATOTA_CORE_FMT_NVS_H
#define ATOTA_CORE_FMT_NVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hal.h"

#define ATOTA_NVS_PAGE_SIZE 0x1000u
#define ATOTA_NVS_MAX_PAGES 64 /* 256 KB */
#define ATOTA_NVS_KEY_MAX   15 /* characters, as NVS_KEY_NAME_MAX_SIZE - 1 */
#define ATOTA_NVS_MAX_NS    254
#define ATOTA_NVS_STR_MAX   4000 /* a string fits in one page */
#define ATOTA_NVS_BLOB_MAX  (ATOTA_NVS_MAX_PAGES * 4000u)

/* NVS item types (nvs_types.h). */
typedef enum {
    ATOTA_NVS_U8 = 0x01,
    ATOTA_NVS_I8 = 0x11,
    ATOTA_NVS_U16 = 0x02,
    ATOTA_NVS_I16 = 0x12,
    ATOTA_NVS_U32 = 0x04,
    ATOTA_NVS_I32 = 0x14,
    ATOTA_NVS_U64 = 0x08,
    ATOTA_NVS_I64 = 0x18,
    ATOTA_NVS_STR = 0x21,
    ATOTA_NVS_BLOB = 0x42, /* BLOB_DATA chunks */
    ATOTA_NVS_BLOB_IDX = 0x48,
} atota_nvs_type_t;

typedef struct {
    const atota_flash_t *flash;
    uint32_t offset; /* partition offset and size (a multiple of 4 KB, at least 3 pages) */
    uint32_t size;
    unsigned page_count;
    uint32_t page_seq[ATOTA_NVS_MAX_PAGES];  /* sequence number of each page, 0xFFFFFFFF erased */
    uint8_t page_state[ATOTA_NVS_MAX_PAGES]; /* the port-independent view of each page's state */
    uint32_t next_seq;
    int active_page;      /* the page new entries go to; -1: not open, or a flash error */
    unsigned active_next; /* its first free entry */
} atota_nvs_t;

/* Any function that meets a flash error (a power cut) leaves the handle unusable (ATOTA_ERR_STATE)
 * until atota_nvs_open is called again, which repairs what the cut left. */

/* Opens the partition, formats a blank or foreign one (all 0xFF is blank; anything that is not
 * NVS is ATOTA_ERR_NVS_CORRUPT unless format is true, which erases it), and repairs what a power
 * cut interrupted. Pages of another NVS format version (1) are ATOTA_ERR_UNSUPPORTED, a partition
 * with no free page left is ATOTA_ERR_NVS_FULL (ESP_ERR_NVS_NO_FREE_PAGES); format erases those
 * too. A blank partition is not written to: a page header is written with its first item. */
atota_err_t atota_nvs_open(atota_nvs_t *nvs, const atota_flash_t *flash, uint32_t offset,
                           uint32_t size, bool format, atota_diag_t *diag);

/* Integers: type is one of the integer types; value is read/written in that width. */
atota_err_t atota_nvs_set_int(atota_nvs_t *nvs, const char *ns, const char *key,
                              atota_nvs_type_t type, int64_t value);
atota_err_t atota_nvs_get_int(atota_nvs_t *nvs, const char *ns, const char *key,
                              atota_nvs_type_t type, int64_t *value);
/* Strings (NUL-terminated; stored with their NUL as NVS does). get copies at most cap bytes
 * including the NUL (ATOTA_ERR_TOO_BIG if it does not fit) and sets *len to strlen. */
atota_err_t atota_nvs_set_str(atota_nvs_t *nvs, const char *ns, const char *key, const char *value);
atota_err_t atota_nvs_get_str(atota_nvs_t *nvs, const char *ns, const char *key, char *out,
                              size_t cap, size_t *len);
/* Blobs. get with out == NULL reports the size. */
atota_err_t atota_nvs_set_blob(atota_nvs_t *nvs, const char *ns, const char *key, const void *data,
                               size_t len);
atota_err_t atota_nvs_get_blob(atota_nvs_t *nvs, const char *ns, const char *key, void *out,
                               size_t cap, size_t *len);
/* Removes a key (ATOTA_ERR_NVS_NOT_FOUND if absent); erase_ns removes every key of a namespace
 * (ATOTA_ERR_NVS_NOT_FOUND if the namespace does not exist; its namespace entry stays, as
 * ESP-IDF's nvs_erase_all leaves it). */
atota_err_t atota_nvs_erase_key(atota_nvs_t *nvs, const char *ns, const char *key);
atota_err_t atota_nvs_erase_ns(atota_nvs_t *nvs, const char *ns);
/* Erases the whole partition (nvs_flash_erase) and formats it again. */
atota_err_t atota_nvs_erase_all(atota_nvs_t *nvs);

/* Calls fn for each live item (namespace name, key, type, and the value's size in bytes: a
 * string's size counts its NUL, as NVS stores it; a blob is reported once, as ATOTA_NVS_BLOB).
 * fn must not call back into this handle. */
typedef void (*atota_nvs_each_fn)(void *ctx, const char *ns, const char *key, atota_nvs_type_t type,
                                  size_t size);
atota_err_t atota_nvs_foreach(atota_nvs_t *nvs, atota_nvs_each_fn fn, void *ctx);

#endif /* ATOTA_CORE_FMT_NVS_H */
