/*
 * Internal to core/fmt/nvs*.c: one NVS page and one 32-byte item, as ESP-IDF lays them out
 * (components/nvs_flash/src/nvs_page.hpp, nvs_types.hpp; docs/nvs.md).
 *
 * Page (4096 bytes): header (32) | entry-state bitmap (32) | 126 entries of 32 bytes.
 * Header: state u32 | seq u32 | version u8 (0xFE) | 19 x 0xFF | crc32 u32 over bytes 4..27.
 * Item:   ns u8 | type u8 | span u8 | chunk u8 | crc32 u32 | key[16] | data[8]; the CRC covers
 *         bytes 0..3 and 8..31. Strings and blob chunks: data = size u16 | 0xFFFF | data_crc32,
 *         followed by span-1 entries of raw data. Blob index: data = size u32 | count u8 |
 *         start u8 | 0xFFFF.
 */
#ifndef ATOTA_CORE_FMT_NVS_PAGE_H
#define ATOTA_CORE_FMT_NVS_PAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fmt/nvs.h"

#define NVS_HEADER_SIZE   32u
#define NVS_BITMAP_OFFSET 32u
#define NVS_ENTRY_OFFSET  64u
#define NVS_ENTRY_SIZE    32u
#define NVS_ENTRY_COUNT   126u
#define NVS_CHUNK_MAX     (NVS_ENTRY_SIZE * (NVS_ENTRY_COUNT - 1)) /* 4000: CHUNK_MAX_SIZE */
#define NVS_VERSION       0xFEu                                    /* v2, multi-page blobs */
#define NVS_CHUNK_ANY     0xFFu
#define NVS_VER_0         0x00u /* VerOffset: blob chunk indexes start here or at 0x80 */
#define NVS_VER_1         0x80u
#define NVS_NS_INDEX      0u /* namespace entries live in namespace 0 */

/* Page states (nvs_page.hpp PageState): each one clears one more bit. */
#define NVS_STATE_UNINITIALIZED 0xFFFFFFFFu
#define NVS_STATE_ACTIVE        0xFFFFFFFEu
#define NVS_STATE_FULL          0xFFFFFFFCu
#define NVS_STATE_FREEING       0xFFFFFFF8u
#define NVS_STATE_CORRUPT       0xFFFFFFF0u

/* Entry states, 2 bits per entry, entry i at bits 2i..2i+1 of the little-endian bitmap. */
#define NVS_ES_EMPTY   3u /* 0b11 */
#define NVS_ES_WRITTEN 2u /* 0b10 */
#define NVS_ES_ERASED  0u /* 0b00 (0b01 is read as erased too) */

/* atota_nvs_t.page_state: our view of each page. */
enum {
    NVS_PS_BLANK = 0, /* all 0xFF, free */
    NVS_PS_PENDING,   /* blank, chosen as the current page with a seq; header not written yet */
    NVS_PS_ACTIVE,
    NVS_PS_FULL,
    NVS_PS_FREEING,
    NVS_PS_CORRUPT, /* not NVS: free, erased before reuse (as ESP-IDF's CORRUPT pages) */
};

/* A page read into memory. */
typedef struct {
    uint8_t b[ATOTA_NVS_PAGE_SIZE];
} nvs_page_buf_t;

static inline const uint8_t *nvs_entry(const nvs_page_buf_t *p, unsigned i)
{
    return p->b + NVS_ENTRY_OFFSET + i * NVS_ENTRY_SIZE;
}

static inline unsigned nvs_entry_state(const nvs_page_buf_t *p, unsigned i)
{
    unsigned s = (p->b[NVS_BITMAP_OFFSET + i / 4] >> ((i % 4) * 2)) & 3u;
    return s == 1u ? NVS_ES_ERASED : s;
}

static inline bool nvs_is_varlen(uint8_t type)
{
    return type == ATOTA_NVS_STR || type == ATOTA_NVS_BLOB || type == 0x41 /* v1 BLOB */;
}

static inline bool nvs_is_int(uint8_t type)
{
    switch (type) {
    case ATOTA_NVS_U8:
    case ATOTA_NVS_I8:
    case ATOTA_NVS_U16:
    case ATOTA_NVS_I16:
    case ATOTA_NVS_U32:
    case ATOTA_NVS_I32:
    case ATOTA_NVS_U64:
    case ATOTA_NVS_I64:
        return true;
    default:
        return false;
    }
}

/* CRC32 of a page header (bytes 4..27) and of an item (bytes 0..3 and 8..31), init 0xFFFFFFFF as
 * Page::Header::calculateCrc32 and Item::calculateCrc32 call esp_rom_crc32_le. */
uint32_t nvs_header_crc(const uint8_t *hdr);
uint32_t nvs_item_crc(const uint8_t *item);
uint32_t nvs_data_crc(const void *data, uint32_t len);

/* Item::checkHeaderConsistency: CRC, a known type, span and sizes that fit the page from index. */
bool nvs_item_valid(const uint8_t *item, unsigned index);

/* Fills a 32-byte item (key zero-padded, data 0xFF) and its CRC; data is the 8-byte field. */
void nvs_item_make(uint8_t *item, uint8_t ns, uint8_t type, uint8_t span, uint8_t chunk,
                   const char *key, const uint8_t data[8]);

/* The key of an item equals key (at most 15 characters)? */
bool nvs_item_key_is(const uint8_t *item, const char *key);

/* Flash helpers on page `page` of the partition. */
uint32_t nvs_page_addr(const atota_nvs_t *nvs, unsigned page);
atota_err_t nvs_page_read(const atota_nvs_t *nvs, unsigned page, nvs_page_buf_t *buf);
/* Writes the header of a blank page (ACTIVE, seq, version 0xFE, CRC): Page::initialize. */
atota_err_t nvs_page_write_header(const atota_nvs_t *nvs, unsigned page, uint32_t seq);
/* Writes the state word (a state change only clears bits): Page::alterPageState. */
atota_err_t nvs_page_set_state(const atota_nvs_t *nvs, unsigned page, uint32_t state);
/* Sets entries [first, end) to WRITTEN (bitmap words in ascending order, the item's first entry
 * first) or ERASED (descending, its first entry last), by read-modify-write of each word. */
atota_err_t nvs_page_mark(const atota_nvs_t *nvs, unsigned page, unsigned first, unsigned end,
                          unsigned state);
/* Marks the item at index and its span ERASED (Page::eraseEntryAndSpan). */
atota_err_t nvs_page_erase_item(const atota_nvs_t *nvs, unsigned page, const nvs_page_buf_t *buf,
                                unsigned index);

/* Page::mLoadEntryTable's repairs for an ACTIVE, FULL or FREEING page in buf: entries left half
 * written by a power cut are marked ERASED, items whose CRC or shape is wrong and strings/chunks
 * whose span is not fully WRITTEN are erased. *next_free: the first entry new items may use.
 * buf is re-read afterwards by the caller if anything changed (*changed). */
atota_err_t nvs_page_repair(const atota_nvs_t *nvs, unsigned page, nvs_page_buf_t *buf,
                            unsigned *next_free, bool *changed);

/* Walks live items: the first WRITTEN, valid item at or after *index; its span is complete for
 * strings and chunks. Returns false at the end of the page. */
bool nvs_page_next_item(const nvs_page_buf_t *buf, unsigned *index);

/* Number of WRITTEN entries (Page::getUsedEntryCount). */
unsigned nvs_page_used(const nvs_page_buf_t *buf);

/* Shared by nvs.c, nvs_store.c and nvs_open.c. */
/* A live item found by a search. */
typedef struct {
    unsigned page;
    unsigned index;
    uint8_t item[NVS_ENTRY_SIZE];
} nvs_loc_t;

enum {
    MATCH_VALUE, /* a key's value: any type but BLOB_DATA (ints, strings, blob indexes, namespaces)
                  */
    MATCH_CHUNK, /* a BLOB_DATA chunk with this chunk index */
    MATCH_ANY,
};

typedef struct {
    int ns;          /* -1: any */
    const char *key; /* NULL: any */
    int kind;
    unsigned chunk;
    int skip_page; /* a location to pass over (the value just written), -1 none */
    unsigned skip_index;
} nvs_match_t;

/* Storage::findItem: the first match in page order. buf holds the item's page afterwards. */
atota_err_t nvs_find(const atota_nvs_t *nvs, const nvs_match_t *m, nvs_page_buf_t *buf,
                     nvs_loc_t *loc);
nvs_match_t nvs_match(int ns, const char *key, int kind, unsigned chunk);
/* Marks the current page FULL and moves to a new page (compacting if need be). */
atota_err_t nvs_next_page(atota_nvs_t *nvs);
/* Page::writeItem on the current page (ATOTA_ERR_NVS_FULL: no room on it). */
atota_err_t nvs_page_write_item(atota_nvs_t *nvs, const uint8_t *item, const uint8_t *data,
                                uint32_t size, nvs_loc_t *loc);
/* Storage::writeItem: on the current page, else on the next one. */
atota_err_t nvs_write_item(atota_nvs_t *nvs, const uint8_t *item, const uint8_t *data,
                           uint32_t size, nvs_loc_t *loc);
/* A string or blob-chunk item for data of size bytes. */
void nvs_make_varlen(uint8_t *item, uint8_t ns, uint8_t type, uint8_t chunk, const char *key,
                     const void *data, uint32_t size);
/* Erases the value at loc (a blob index with its chunks). */
atota_err_t nvs_erase_value(atota_nvs_t *nvs, const nvs_loc_t *loc, nvs_page_buf_t *buf);
/* Erases every value of ns/key but the one at keep (the old value after an overwrite). */
atota_err_t nvs_erase_older(atota_nvs_t *nvs, uint8_t ns, const char *key, const nvs_loc_t *keep);

/* Pages that hold items, oldest sequence number first (PageManager's page list). */
unsigned nvs_pages_in_order(const atota_nvs_t *nvs, uint8_t order[ATOTA_NVS_MAX_PAGES]);
/* PageManager::activatePage: the next free page becomes the (pending) current page. */
atota_err_t nvs_activate_page(atota_nvs_t *nvs);
/* Erases page p (it becomes BLANK). */
atota_err_t nvs_erase_page(atota_nvs_t *nvs, unsigned p);
/* Page::copyItems: the live items of page `from` into the pending current page. */
atota_err_t nvs_copy_items(atota_nvs_t *nvs, unsigned from);
/* Every page BLANK, no current page, seq 0. */
void nvs_reset_blank(atota_nvs_t *nvs);

#endif /* ATOTA_CORE_FMT_NVS_PAGE_H */
