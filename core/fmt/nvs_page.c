/*
 * One NVS page and one item: CRCs, the entry-state bitmap, and the repairs ESP-IDF's
 * Page::load/mLoadEntryTable make after a power cut (nvs_page.cpp, nvs_types.cpp).
 */
#include "core/fmt/nvs_page.h"

#include <string.h>

#include "core/util/crc32.h"

uint32_t nvs_header_crc(const uint8_t *hdr)
{
    /* Page::Header::calculateCrc32: everything after the state word, up to the CRC. */
    return atota_crc32_le(0xFFFFFFFFu, hdr + 4, 24);
}

uint32_t nvs_item_crc(const uint8_t *item)
{
    /* Item::calculateCrc32: nsIndex..chunkIndex, then key[16] and data[8]; not the CRC field.
     * esp_rom_crc32_le chains: crc(crc(init, a), b) == crc(init, a || b). */
    uint32_t crc = atota_crc32_le(0xFFFFFFFFu, item, 4);
    return atota_crc32_le(crc, item + 8, 24);
}

uint32_t nvs_data_crc(const void *data, uint32_t len)
{
    return atota_crc32_le(0xFFFFFFFFu, data, len); /* Item::calculateCrc32(data, size) */
}

bool nvs_item_valid(const uint8_t *item, unsigned index)
{
    if (atota_le32(item + 4) != nvs_item_crc(item))
        return false;
    uint8_t type = item[1], span = item[2], chunk = item[3];
    if (nvs_is_int(type))
        return span == 1;
    if (type == ATOTA_NVS_BLOB_IDX) {
        /* (UINT8_MAX / 2) chunks of (ENTRY_COUNT - 1) entries at most */
        uint32_t max = 127u * NVS_CHUNK_MAX;
        return span == 1 && chunk == NVS_CHUNK_ANY && atota_le32(item + 24) <= max;
    }
    if (nvs_is_varlen(type)) {
        if (type == ATOTA_NVS_BLOB && chunk == NVS_CHUNK_ANY)
            return false;
        uint32_t size = atota_le16(item + 24);
        if (size > (NVS_ENTRY_COUNT - index - 1) * NVS_ENTRY_SIZE)
            return false;
        if (span > NVS_ENTRY_COUNT - index)
            return false;
        return span == 1 + (size + NVS_ENTRY_SIZE - 1) / NVS_ENTRY_SIZE;
    }
    return false;
}

void nvs_item_make(uint8_t *item, uint8_t ns, uint8_t type, uint8_t span, uint8_t chunk,
                   const char *key, const uint8_t data[8])
{
    item[0] = ns;
    item[1] = type;
    item[2] = span;
    item[3] = chunk;
    /* Item(): key filled by strncpy(key, key_, 15) and key[15] = 0, so zero-padded, as
     * nvs_partition_gen.py writes it too. */
    memset(item + 8, 0, 16);
    size_t n = strlen(key);
    memcpy(item + 8, key, n > ATOTA_NVS_KEY_MAX ? ATOTA_NVS_KEY_MAX : n);
    memcpy(item + 24, data, 8);
    atota_put_le32(item + 4, nvs_item_crc(item));
}

bool nvs_item_key_is(const uint8_t *item, const char *key)
{
    size_t n = strlen(key);
    if (n > ATOTA_NVS_KEY_MAX)
        return false;
    /* strncmp(key, item.key, MAX_KEY_LENGTH) == 0 */
    return memcmp(item + 8, key, n) == 0 && (n == ATOTA_NVS_KEY_MAX || item[8 + n] == 0);
}

uint32_t nvs_page_addr(const atota_nvs_t *nvs, unsigned page)
{
    return nvs->offset + page * ATOTA_NVS_PAGE_SIZE;
}

atota_err_t nvs_page_read(const atota_nvs_t *nvs, unsigned page, nvs_page_buf_t *buf)
{
    return atota_flash_read(nvs->flash, nvs_page_addr(nvs, page), buf->b, ATOTA_NVS_PAGE_SIZE);
}

atota_err_t nvs_page_write_header(const atota_nvs_t *nvs, unsigned page, uint32_t seq)
{
    uint8_t hdr[NVS_HEADER_SIZE];
    memset(hdr, 0xFF, sizeof hdr);
    atota_put_le32(hdr, NVS_STATE_ACTIVE);
    atota_put_le32(hdr + 4, seq);
    hdr[8] = NVS_VERSION;
    atota_put_le32(hdr + 28, nvs_header_crc(hdr));
    return atota_flash_write(nvs->flash, nvs_page_addr(nvs, page), hdr, sizeof hdr);
}

atota_err_t nvs_page_set_state(const atota_nvs_t *nvs, unsigned page, uint32_t state)
{
    uint8_t w[4];
    atota_put_le32(w, state);
    return atota_flash_write(nvs->flash, nvs_page_addr(nvs, page), w, 4);
}

/* Rewrites one 32-bit bitmap word with the entries of [first, end) that fall in it set to state.
 * NOR writes only clear bits, so the word is read first and written with the bits cleared. */
static atota_err_t mark_word(const atota_nvs_t *nvs, unsigned page, unsigned word, unsigned first,
                             unsigned end, unsigned state)
{
    uint32_t addr = nvs_page_addr(nvs, page) + NVS_BITMAP_OFFSET + word * 4;
    uint8_t w[4];
    atota_err_t err = atota_flash_read(nvs->flash, addr, w, 4);
    if (err)
        return err;
    uint32_t old = atota_le32(w), val = old;
    unsigned lo = word * 16 > first ? word * 16 : first;
    unsigned hi = word * 16 + 16 < end ? word * 16 + 16 : end;
    for (unsigned e = lo; e < hi; e++) {
        unsigned shift = (e % 16) * 2;
        uint32_t keep = state == NVS_ES_WRITTEN ? 2u : 0u; /* the bits of the new state */
        val &= ~(3u << shift) | (keep << shift);
    }
    if (val == old)
        return ATOTA_OK;
    atota_put_le32(w, val);
    return atota_flash_write(nvs->flash, addr, w, 4);
}

atota_err_t nvs_page_mark(const atota_nvs_t *nvs, unsigned page, unsigned first, unsigned end,
                          unsigned state)
{
    if (first >= end)
        return ATOTA_OK;
    unsigned w0 = first / 16, w1 = (end - 1) / 16;
    /* nvs_page.cpp: alterEntryRangeState walks from the end. For ERASED that leaves the item's
     * first entry WRITTEN until its whole span is erased (a cut in between leaves an incomplete
     * span, erased at the next load); for WRITTEN we go forwards so the first entry is marked
     * before its data entries, and never a data entry that could be read as an item alone. */
    for (unsigned i = 0; i <= w1 - w0; i++) {
        unsigned w = state == NVS_ES_WRITTEN ? w0 + i : w1 - i;
        atota_err_t err = mark_word(nvs, page, w, first, end, state);
        if (err)
            return err;
    }
    return ATOTA_OK;
}

static void buf_mark(nvs_page_buf_t *buf, unsigned first, unsigned end, unsigned state)
{
    for (unsigned e = first; e < end; e++) {
        uint8_t *b = &buf->b[NVS_BITMAP_OFFSET + e / 4];
        unsigned shift = (e % 4) * 2;
        *b = (uint8_t)(*b & (~(3u << shift) | (state << shift)));
    }
}

static unsigned item_span(const nvs_page_buf_t *buf, unsigned index)
{
    const uint8_t *item = nvs_entry(buf, index);
    return nvs_item_valid(item, index) ? item[2] : 1u;
}

atota_err_t nvs_page_erase_item(const atota_nvs_t *nvs, unsigned page, const nvs_page_buf_t *buf,
                                unsigned index)
{
    unsigned span = item_span(buf, index);
    return nvs_page_mark(nvs, page, index, index + span, NVS_ES_ERASED);
}

static bool entry_blank(const nvs_page_buf_t *buf, unsigned i)
{
    const uint8_t *e = nvs_entry(buf, i);
    for (unsigned k = 0; k < NVS_ENTRY_SIZE; k++)
        if (e[k] != 0xFF)
            return false;
    return true;
}

static bool span_written(const nvs_page_buf_t *buf, unsigned index, unsigned span)
{
    for (unsigned j = index; j < index + span; j++)
        if (nvs_entry_state(buf, j) != NVS_ES_WRITTEN)
            return false;
    return true;
}

static atota_err_t erase_range(const atota_nvs_t *nvs, unsigned page, nvs_page_buf_t *buf,
                               unsigned first, unsigned end, bool *changed)
{
    atota_err_t err = nvs_page_mark(nvs, page, first, end, NVS_ES_ERASED);
    if (err)
        return err;
    buf_mark(buf, first, end, NVS_ES_ERASED);
    *changed = true;
    return ATOTA_OK;
}

atota_err_t nvs_page_repair(const atota_nvs_t *nvs, unsigned page, nvs_page_buf_t *buf,
                            unsigned *next_free, bool *changed)
{
    atota_err_t err;
    uint32_t state = atota_le32(buf->b);
    unsigned end = NVS_ENTRY_COUNT;
    *changed = false;
    if (state == NVS_STATE_ACTIVE) {
        /* mLoadEntryTable finds the first EMPTY entry, then skips entries whose first word was
         * written although the bitmap says EMPTY (a cut between writing an entry and marking
         * it). We go one step further and take everything up to the last entry that is not
         * blank, so that a half-written span whose first word happens to be 0xFFFFFFFF is
         * never written over (strict NOR would refuse that). */
        unsigned last = 0;
        for (unsigned i = 0; i < NVS_ENTRY_COUNT; i++)
            if (nvs_entry_state(buf, i) != NVS_ES_EMPTY || !entry_blank(buf, i))
                last = i + 1;
        end = last;
        for (unsigned i = 0; i < end; i++) {
            if (nvs_entry_state(buf, i) != NVS_ES_EMPTY)
                continue;
            unsigned j = i;
            while (j < end && nvs_entry_state(buf, j) == NVS_ES_EMPTY)
                j++;
            if ((err = erase_range(nvs, page, buf, i, j, changed)))
                return err;
            i = j;
        }
    }
    unsigned i = 0;
    while (i < end) {
        if (nvs_entry_state(buf, i) != NVS_ES_WRITTEN) {
            i++;
            continue;
        }
        const uint8_t *item = nvs_entry(buf, i);
        if (!nvs_item_valid(item, i)) { /* a bad CRC: that entry alone is erased */
            if ((err = erase_range(nvs, page, buf, i, i + 1, changed)))
                return err;
            i++;
            continue;
        }
        unsigned span = item[2];
        if (nvs_is_varlen(item[1]) && !span_written(buf, i, span)) {
            if ((err = erase_range(nvs, page, buf, i, i + span, changed)))
                return err;
            if (i + span > end)
                end = i + span; /* eraseEntryAndSpan moves mNextFreeEntry past the span */
        }
        i += span;
    }
    *next_free = state == NVS_STATE_ACTIVE ? end : NVS_ENTRY_COUNT;
    return ATOTA_OK;
}

bool nvs_page_next_item(const nvs_page_buf_t *buf, unsigned *index)
{
    unsigned i = *index;
    while (i < NVS_ENTRY_COUNT) {
        if (nvs_entry_state(buf, i) != NVS_ES_WRITTEN) {
            i++;
            continue;
        }
        const uint8_t *item = nvs_entry(buf, i);
        if (!nvs_item_valid(item, i)) {
            i++;
            continue;
        }
        if (nvs_is_varlen(item[1]) && !span_written(buf, i, item[2])) {
            i += item[2];
            continue;
        }
        *index = i;
        return true;
    }
    *index = i;
    return false;
}

unsigned nvs_page_used(const nvs_page_buf_t *buf)
{
    unsigned n = 0;
    for (unsigned i = 0; i < NVS_ENTRY_COUNT; i++)
        if (nvs_entry_state(buf, i) == NVS_ES_WRITTEN)
            n++;
    return n;
}
