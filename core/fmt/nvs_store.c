/*
 * NVS storage internals shared by nvs.c and nvs_open.c: searching items in page order, the
 * current page and page allocation with compaction (nvs_pagemanager.cpp), writing an item with its
 * data (Page::writeItem), and erasing a value (Storage::eraseItem / eraseMultiPageBlob).
 */
#include <string.h>

#include "core/fmt/nvs.h"
#include "core/fmt/nvs_page.h"
#include "core/util/crc32.h"

static bool state_used(uint8_t ps)
{
    return ps == NVS_PS_ACTIVE || ps == NVS_PS_FULL || ps == NVS_PS_FREEING;
}

static bool state_free(uint8_t ps)
{
    return ps == NVS_PS_BLANK || ps == NVS_PS_CORRUPT;
}

/* Pages that hold items, oldest sequence number first (PageManager's page list). */
unsigned nvs_pages_in_order(const atota_nvs_t *nvs, uint8_t order[ATOTA_NVS_MAX_PAGES])
{
    unsigned n = 0;
    for (unsigned p = 0; p < nvs->page_count; p++) {
        if (!state_used(nvs->page_state[p]))
            continue;
        unsigned k = n++;
        while (k > 0 && nvs->page_seq[order[k - 1]] > nvs->page_seq[p]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = (uint8_t)p;
    }
    return n;
}

static bool item_matches(const nvs_match_t *m, const uint8_t *item)
{
    if (m->ns >= 0 && item[0] != (unsigned)m->ns)
        return false;
    if (m->key && !nvs_item_key_is(item, m->key))
        return false;
    if (m->kind == MATCH_VALUE)
        return item[1] != ATOTA_NVS_BLOB;
    if (m->kind == MATCH_CHUNK)
        return item[1] == ATOTA_NVS_BLOB && item[3] == m->chunk;
    return true;
}

/* Storage::findItem: the first match in page order. buf holds the item's page afterwards. */
atota_err_t nvs_find(const atota_nvs_t *nvs, const nvs_match_t *m, nvs_page_buf_t *buf,
                     nvs_loc_t *loc)
{
    uint8_t order[ATOTA_NVS_MAX_PAGES];
    unsigned n = nvs_pages_in_order(nvs, order);
    for (unsigned k = 0; k < n; k++) {
        atota_err_t err = nvs_page_read(nvs, order[k], buf);
        if (err)
            return err;
        for (unsigned i = 0; nvs_page_next_item(buf, &i); i += nvs_entry(buf, i)[2]) {
            const uint8_t *item = nvs_entry(buf, i);
            if (m->skip_page == (int)order[k] && m->skip_index == i)
                continue;
            if (item_matches(m, item)) {
                loc->page = order[k];
                loc->index = i;
                memcpy(loc->item, item, NVS_ENTRY_SIZE);
                return ATOTA_OK;
            }
        }
    }
    return ATOTA_ERR_NVS_NOT_FOUND;
}

nvs_match_t nvs_match(int ns, const char *key, int kind, unsigned chunk)
{
    nvs_match_t m = {ns, key, kind, chunk, -1, 0};
    return m;
}

/* ---- pages --------------------------------------------------------------------------------- */

/* PageManager::activatePage: the next free page (after the current one, so pages are used in
 * turn) becomes the current page; its header is written with its first item (Page::initialize). */
atota_err_t nvs_activate_page(atota_nvs_t *nvs)
{
    unsigned start = nvs->active_page < 0 ? 0 : (unsigned)nvs->active_page + 1;
    for (unsigned k = 0; k < nvs->page_count; k++) {
        unsigned p = (start + k) % nvs->page_count;
        if (!state_free(nvs->page_state[p]))
            continue;
        if (nvs->page_state[p] == NVS_PS_CORRUPT) {
            atota_err_t err =
                atota_flash_erase(nvs->flash, nvs_page_addr(nvs, p), ATOTA_NVS_PAGE_SIZE);
            if (err)
                return err;
        }
        nvs->page_state[p] = NVS_PS_PENDING;
        nvs->page_seq[p] = nvs->next_seq++;
        nvs->active_page = (int)p;
        nvs->active_next = 0;
        return ATOTA_OK;
    }
    return ATOTA_ERR_NVS_FULL;
}

atota_err_t nvs_erase_page(atota_nvs_t *nvs, unsigned p)
{
    atota_err_t err = atota_flash_erase(nvs->flash, nvs_page_addr(nvs, p), ATOTA_NVS_PAGE_SIZE);
    if (err)
        return err;
    nvs->page_state[p] = NVS_PS_BLANK;
    nvs->page_seq[p] = 0xFFFFFFFFu;
    return ATOTA_OK;
}

/* Writes the header of the current page if it is still pending. */
static atota_err_t init_current(atota_nvs_t *nvs)
{
    unsigned p = (unsigned)nvs->active_page;
    if (nvs->page_state[p] != NVS_PS_PENDING)
        return ATOTA_OK;
    atota_err_t err = nvs_page_write_header(nvs, p, nvs->page_seq[p]);
    if (err)
        return err;
    nvs->page_state[p] = NVS_PS_ACTIVE;
    nvs->active_next = 0;
    return ATOTA_OK;
}

/* Page::copyItems: the live items of `from`, in order, into the (pending) current page. */
atota_err_t nvs_copy_items(atota_nvs_t *nvs, unsigned from)
{
    nvs_page_buf_t buf;
    atota_err_t err = nvs_page_read(nvs, from, &buf);
    if (err)
        return err;
    unsigned n = 0;
    uint8_t *entries = buf.b + NVS_ENTRY_OFFSET;
    for (unsigned i = 0; nvs_page_next_item(&buf, &i);) {
        unsigned span = nvs_entry(&buf, i)[2];
        memmove(entries + n * NVS_ENTRY_SIZE, entries + i * NVS_ENTRY_SIZE, span * NVS_ENTRY_SIZE);
        n += span;
        i += span;
    }
    if (n == 0)
        return ATOTA_OK; /* copyItems returns NOT_FOUND and leaves the new page uninitialized */
    unsigned to = (unsigned)nvs->active_page;
    if ((err = init_current(nvs)))
        return err;
    /* The same bytes as entry-by-entry copying; the bitmap follows the entries. */
    err = atota_flash_write(nvs->flash, nvs_page_addr(nvs, to) + NVS_ENTRY_OFFSET, entries,
                            n * NVS_ENTRY_SIZE);
    if (!err)
        err = nvs_page_mark(nvs, to, 0, n, NVS_ES_WRITTEN);
    if (!err)
        nvs->active_next = n;
    return err;
}

/* PageManager::requestNewPage: a free page if two are left, else the page with the most unused
 * entries is compacted into the last free page (FREEING, copy, erase): one page always stays
 * free for that. ATOTA_ERR_NVS_FULL when no page has anything to reclaim. */
static atota_err_t request_new_page(atota_nvs_t *nvs)
{
    unsigned free_pages = 0;
    for (unsigned p = 0; p < nvs->page_count; p++)
        free_pages += state_free(nvs->page_state[p]);
    if (free_pages == 0)
        return ATOTA_ERR_NVS_FULL;
    if (free_pages >= 2)
        return nvs_activate_page(nvs);

    uint8_t order[ATOTA_NVS_MAX_PAGES];
    unsigned n = nvs_pages_in_order(nvs, order), best_unused = 0;
    int victim = -1;
    nvs_page_buf_t buf;
    for (unsigned k = 0; k < n; k++) {
        atota_err_t err =
            atota_flash_read(nvs->flash, nvs_page_addr(nvs, order[k]), buf.b, NVS_ENTRY_OFFSET);
        if (err)
            return err;
        unsigned unused = NVS_ENTRY_COUNT - nvs_page_used(&buf);
        if (unused > best_unused) {
            best_unused = unused;
            victim = order[k];
        }
    }
    if (victim < 0)
        return ATOTA_ERR_NVS_FULL;
    unsigned v = (unsigned)victim;
    atota_err_t err;
    if (nvs->page_state[v] == NVS_PS_ACTIVE) { /* one state bit at a time */
        if ((err = nvs_page_set_state(nvs, v, NVS_STATE_FULL)))
            return err;
        nvs->page_state[v] = NVS_PS_FULL;
    }
    if ((err = nvs_page_set_state(nvs, v, NVS_STATE_FREEING)))
        return err;
    nvs->page_state[v] = NVS_PS_FREEING;
    if ((err = nvs_activate_page(nvs)) || (err = nvs_copy_items(nvs, v)))
        return err;
    return nvs_erase_page(nvs, v);
}

/* Marks the current page FULL (if it is not already) and moves to a new one. */
atota_err_t nvs_next_page(atota_nvs_t *nvs)
{
    unsigned p = (unsigned)nvs->active_page;
    if (nvs->page_state[p] == NVS_PS_ACTIVE) {
        atota_err_t err = nvs_page_set_state(nvs, p, NVS_STATE_FULL);
        if (err)
            return err;
        nvs->page_state[p] = NVS_PS_FULL;
    }
    if (nvs->page_state[p] == NVS_PS_PENDING)
        return ATOTA_ERR_NVS_FULL; /* an empty page and still no room: cannot happen */
    return request_new_page(nvs);
}

/* ---- writing items ------------------------------------------------------------------------- */

/* Page::writeItem on the current page: the item entry, its data entries, then the bitmap.
 * ATOTA_ERR_NVS_FULL: the page has no room. */
atota_err_t nvs_page_write_item(atota_nvs_t *nvs, const uint8_t *item, const uint8_t *data,
                                uint32_t size, nvs_loc_t *loc)
{
    unsigned span = item[2];
    if (nvs->page_state[nvs->active_page] == NVS_PS_FULL ||
        (nvs->page_state[nvs->active_page] != NVS_PS_PENDING &&
         nvs->active_next + span > NVS_ENTRY_COUNT))
        return ATOTA_ERR_NVS_FULL;
    atota_err_t err = init_current(nvs);
    if (err)
        return err;
    unsigned p = (unsigned)nvs->active_page, idx = nvs->active_next;
    uint32_t addr = nvs_page_addr(nvs, p) + NVS_ENTRY_OFFSET + idx * NVS_ENTRY_SIZE;
    if ((err = atota_flash_write(nvs->flash, addr, item, NVS_ENTRY_SIZE)))
        return err;
    if (nvs_is_varlen(item[1])) {
        uint32_t whole = size / NVS_ENTRY_SIZE * NVS_ENTRY_SIZE;
        if (whole && (err = atota_flash_write(nvs->flash, addr + NVS_ENTRY_SIZE, data, whole)))
            return err;
        if (size > whole) {
            uint8_t tail[NVS_ENTRY_SIZE];
            memset(tail, 0xFF, sizeof tail);
            memcpy(tail, data + whole, size - whole);
            if ((err = atota_flash_write(nvs->flash, addr + NVS_ENTRY_SIZE + whole, tail,
                                         NVS_ENTRY_SIZE)))
                return err;
        }
    }
    if ((err = nvs_page_mark(nvs, p, idx, idx + span, NVS_ES_WRITTEN)))
        return err;
    nvs->active_next = idx + span;
    if (loc) {
        loc->page = p;
        loc->index = idx;
        memcpy(loc->item, item, NVS_ENTRY_SIZE);
    }
    return ATOTA_OK;
}

/* Storage::writeItem's page handling: on a full page, the next page, once. */
atota_err_t nvs_write_item(atota_nvs_t *nvs, const uint8_t *item, const uint8_t *data,
                           uint32_t size, nvs_loc_t *loc)
{
    atota_err_t err = nvs_page_write_item(nvs, item, data, size, loc);
    if (err != ATOTA_ERR_NVS_FULL)
        return err;
    if ((err = nvs_next_page(nvs)))
        return err;
    return nvs_page_write_item(nvs, item, data, size, loc);
}

void nvs_make_varlen(uint8_t *item, uint8_t ns, uint8_t type, uint8_t chunk, const char *key,
                     const void *data, uint32_t size)
{
    uint8_t d[8];
    atota_put_le16(d, (uint16_t)size);
    d[2] = d[3] = 0xFF; /* reserved */
    atota_put_le32(d + 4, nvs_data_crc(data, size));
    unsigned span = 1 + (size + NVS_ENTRY_SIZE - 1) / NVS_ENTRY_SIZE;
    nvs_item_make(item, ns, type, (uint8_t)span, chunk, key, d);
}

/* Erases the item at loc; a blob index takes its chunks with it (index first, so a cut leaves
 * orphan chunks, which the next open erases: Storage::eraseMultiPageBlob). */
atota_err_t nvs_erase_value(atota_nvs_t *nvs, const nvs_loc_t *loc, nvs_page_buf_t *buf)
{
    atota_err_t err =
        nvs_page_mark(nvs, loc->page, loc->index, loc->index + loc->item[2], NVS_ES_ERASED);
    if (err || loc->item[1] != ATOTA_NVS_BLOB_IDX)
        return err;
    char key[ATOTA_NVS_KEY_MAX + 1];
    memcpy(key, loc->item + 8, ATOTA_NVS_KEY_MAX);
    key[ATOTA_NVS_KEY_MAX] = 0;
    unsigned start = loc->item[29], count = loc->item[28];
    for (unsigned c = start; c < start + count; c++) {
        nvs_match_t m = nvs_match(loc->item[0], key, MATCH_CHUNK, c);
        nvs_loc_t chunk;
        err = nvs_find(nvs, &m, buf, &chunk);
        if (err == ATOTA_ERR_NVS_NOT_FOUND)
            continue;
        if (err || (err = nvs_page_erase_item(nvs, chunk.page, buf, chunk.index)))
            return err;
    }
    return ATOTA_OK;
}

/* After the new value is written: erase every other value of the key (the old one). */
atota_err_t nvs_erase_older(atota_nvs_t *nvs, uint8_t ns, const char *key, const nvs_loc_t *keep)
{
    nvs_page_buf_t buf;
    nvs_match_t m = nvs_match(ns, key, MATCH_VALUE, 0);
    m.skip_page = (int)keep->page;
    m.skip_index = keep->index;
    for (;;) {
        nvs_loc_t old;
        atota_err_t err = nvs_find(nvs, &m, &buf, &old);
        if (err == ATOTA_ERR_NVS_NOT_FOUND)
            return ATOTA_OK;
        if (err || (err = nvs_erase_value(nvs, &old, &buf)))
            return err;
    }
}
