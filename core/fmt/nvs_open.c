/*
 * Opening an NVS partition: what nvs_flash_init does (PageManager::load, Page::load,
 * Storage::init), including the repairs after a power cut: half-written entries, a compaction
 * that was interrupted (a FREEING page), a value written twice (the old one not yet erased),
 * blob chunks without an index.
 */
#include <string.h>

#include "core/fmt/nvs.h"
#include "core/fmt/nvs_page.h"
#include "core/util/crc32.h"

static bool state_is_used(uint8_t ps)
{
    return ps == NVS_PS_ACTIVE || ps == NVS_PS_FULL || ps == NVS_PS_FREEING;
}

static bool page_blank(const nvs_page_buf_t *buf)
{
    for (unsigned i = 0; i < ATOTA_NVS_PAGE_SIZE; i++)
        if (buf->b[i] != 0xFF)
            return false;
    return true;
}

/* Page::load: the page's state from its header. *unsupported: a valid header of another
 * format version. */
static uint8_t classify(const nvs_page_buf_t *buf, uint32_t *seq, bool *unsupported)
{
    uint32_t state = atota_le32(buf->b);
    *unsupported = false;
    if (state == NVS_STATE_UNINITIALIZED)
        return page_blank(buf) ? NVS_PS_BLANK : NVS_PS_CORRUPT;
    if (atota_le32(buf->b + 28) != nvs_header_crc(buf->b))
        return NVS_PS_CORRUPT;
    if (buf->b[8] != NVS_VERSION) {
        *unsupported = true; /* 0xFF: version 1 (single-page blobs), not supported here */
        return NVS_PS_CORRUPT;
    }
    *seq = atota_le32(buf->b + 4);
    switch (state) {
    case NVS_STATE_ACTIVE:
        return NVS_PS_ACTIVE;
    case NVS_STATE_FULL:
        return NVS_PS_FULL;
    case NVS_STATE_FREEING:
        return NVS_PS_FREEING;
    default:
        return NVS_PS_CORRUPT;
    }
}

/* Same key (and for chunks the same chunk index): two values of one key. */
static bool same_identity(const uint8_t *a, const uint8_t *b)
{
    if (a[0] != b[0] || memcmp(a + 8, b + 8, 16) != 0)
        return false;
    bool a_chunk = a[1] == ATOTA_NVS_BLOB, b_chunk = b[1] == ATOTA_NVS_BLOB;
    if (a_chunk != b_chunk)
        return false;
    return !a_chunk || a[3] == b[3];
}

static unsigned live_items(const nvs_page_buf_t *buf, uint8_t idx[NVS_ENTRY_COUNT])
{
    unsigned n = 0;
    for (unsigned i = 0; nvs_page_next_item(buf, &i); i += nvs_entry(buf, i)[2])
        idx[n++] = (uint8_t)i;
    return n;
}

/* Duplicates: a power cut between writing a new value and erasing the old one leaves both. The
 * newest (highest page sequence number, then highest entry) wins, as the duplicate checks of
 * Page::mLoadEntryTable (same page) and PageManager::load (the last item against older pages)
 * decide; we check every item, not only the last one. */
static atota_err_t remove_duplicates(atota_nvs_t *nvs, nvs_page_buf_t *a, nvs_page_buf_t *b)
{
    uint8_t order[ATOTA_NVS_MAX_PAGES];
    unsigned n = nvs_pages_in_order(nvs, order);
    for (unsigned pa = 0; pa < n; pa++) {
        atota_err_t err = nvs_page_read(nvs, order[pa], a);
        if (err)
            return err;
        uint8_t ia[NVS_ENTRY_COUNT], ib[NVS_ENTRY_COUNT];
        bool older[NVS_ENTRY_COUNT] = {false};
        unsigned na = live_items(a, ia);
        for (unsigned pb = pa; pb < n && na; pb++) {
            const nvs_page_buf_t *other = a;
            if (pb != pa) {
                if ((err = nvs_page_read(nvs, order[pb], b)))
                    return err;
                other = b;
            }
            unsigned nb = live_items(other, ib);
            for (unsigned x = 0; x < na; x++)
                for (unsigned y = pb == pa ? x + 1 : 0; y < nb && !older[x]; y++)
                    older[x] = same_identity(nvs_entry(a, ia[x]), nvs_entry(other, ib[y]));
        }
        for (unsigned x = 0; x < na; x++)
            if (older[x] && (err = nvs_page_erase_item(nvs, order[pa], a, ia[x])))
                return err;
    }
    return ATOTA_OK;
}

/* Storage::eraseOrphanDataBlobs: chunks that no blob index claims (a blob write cut before its
 * index was written, or an erase cut after the index was erased). */
static atota_err_t remove_orphans(atota_nvs_t *nvs, nvs_page_buf_t *a, nvs_page_buf_t *b)
{
    uint8_t order[ATOTA_NVS_MAX_PAGES];
    unsigned n = nvs_pages_in_order(nvs, order);
    for (unsigned pa = 0; pa < n; pa++) {
        atota_err_t err = nvs_page_read(nvs, order[pa], a);
        if (err)
            return err;
        uint8_t ia[NVS_ENTRY_COUNT], ib[NVS_ENTRY_COUNT];
        unsigned na = live_items(a, ia);
        for (unsigned x = 0; x < na; x++) {
            const uint8_t *chunk = nvs_entry(a, ia[x]);
            if (chunk[1] != ATOTA_NVS_BLOB)
                continue;
            bool claimed = false;
            for (unsigned pb = 0; pb < n && !claimed; pb++) {
                if ((err = nvs_page_read(nvs, order[pb], b)))
                    return err;
                unsigned nb = live_items(b, ib);
                for (unsigned y = 0; y < nb && !claimed; y++) {
                    const uint8_t *idx = nvs_entry(b, ib[y]);
                    claimed = idx[1] == ATOTA_NVS_BLOB_IDX && idx[0] == chunk[0] &&
                              memcmp(idx + 8, chunk + 8, 16) == 0 && chunk[3] >= idx[29] &&
                              chunk[3] < idx[29] + idx[28];
                }
            }
            if (!claimed && (err = nvs_page_erase_item(nvs, order[pa], a, ia[x])))
                return err;
        }
    }
    return ATOTA_OK;
}

static int newest_page(const atota_nvs_t *nvs)
{
    uint8_t order[ATOTA_NVS_MAX_PAGES];
    unsigned n = nvs_pages_in_order(nvs, order);
    return n ? order[n - 1] : -1;
}

/* PageManager::load, "check if power went out while page was being freed": the half-filled
 * new page (the newest, if ACTIVE) is erased and the copy done again, then the FREEING page is
 * erased. */
static atota_err_t finish_freeing(atota_nvs_t *nvs)
{
    for (unsigned f = 0; f < nvs->page_count; f++) {
        if (nvs->page_state[f] != NVS_PS_FREEING)
            continue;
        int newest = newest_page(nvs);
        atota_err_t err;
        if (newest >= 0 && (unsigned)newest != f && nvs->page_state[newest] == NVS_PS_ACTIVE &&
            (err = nvs_erase_page(nvs, (unsigned)newest)))
            return err;
        nvs->active_page = (int)f;
        if ((err = nvs_activate_page(nvs)) || (err = nvs_copy_items(nvs, f)) ||
            (err = nvs_erase_page(nvs, f)))
            return err;
    }
    return ATOTA_OK;
}

static atota_err_t format_all(atota_nvs_t *nvs)
{
    atota_err_t err = atota_flash_erase(nvs->flash, nvs->offset, nvs->size);
    if (err)
        return err;
    nvs_reset_blank(nvs);
    return nvs_activate_page(nvs);
}

static atota_err_t load(atota_nvs_t *nvs, bool format, atota_diag_t *diag)
{
    nvs_page_buf_t a, b;
    unsigned used = 0, corrupt = 0, unsupported = 0;
    uint32_t max_seq = 0;
    atota_err_t err;
    for (unsigned p = 0; p < nvs->page_count; p++) {
        if ((err = nvs_page_read(nvs, p, &a)))
            return atota_diag_set(diag, err, "nvs: reading page %u at 0x%x", p,
                                  (unsigned)nvs_page_addr(nvs, p));
        uint32_t seq = 0xFFFFFFFFu;
        bool other_version;
        nvs->page_state[p] = classify(&a, &seq, &other_version);
        nvs->page_seq[p] = state_is_used(nvs->page_state[p]) ? seq : 0xFFFFFFFFu;
        unsupported += other_version;
        corrupt += nvs->page_state[p] == NVS_PS_CORRUPT;
        if (state_is_used(nvs->page_state[p])) {
            used++;
            if (seq > max_seq)
                max_seq = seq;
        }
    }
    if (unsupported || (used == 0 && corrupt)) {
        if (!format)
            return atota_diag_set(diag, unsupported ? ATOTA_ERR_UNSUPPORTED : ATOTA_ERR_NVS_CORRUPT,
                                  unsupported ? "nvs at 0x%x: NVS format version other than 2 "
                                                "(0xFE) in %u page(s)"
                                              : "nvs at 0x%x: not an NVS partition (%u page(s) "
                                                "neither blank nor NVS)",
                                  (unsigned)nvs->offset, unsupported ? unsupported : corrupt);
        return format_all(nvs);
    }
    nvs->next_seq = used ? max_seq + 1 : 0;

    /* Page::load for each page: entries half written, bad CRCs, incomplete spans. */
    unsigned active_next = NVS_ENTRY_COUNT;
    int newest = newest_page(nvs);
    for (unsigned p = 0; p < nvs->page_count; p++) {
        if (!state_is_used(nvs->page_state[p]))
            continue;
        unsigned next_free;
        bool changed;
        if ((err = nvs_page_read(nvs, p, &a)) ||
            (err = nvs_page_repair(nvs, p, &a, &next_free, &changed)))
            return err;
        if ((int)p == newest)
            active_next = next_free;
    }
    if ((err = finish_freeing(nvs)) || (err = remove_duplicates(nvs, &a, &b)) ||
        (err = remove_orphans(nvs, &a, &b)))
        return err;

    /* The current page is the newest one (PageManager::back()), else a new one. */
    if (nvs->active_page < 0) {
        if (newest < 0)
            return nvs_activate_page(nvs);
        nvs->active_page = newest;
        nvs->active_next = nvs->page_state[newest] == NVS_PS_ACTIVE ? active_next : NVS_ENTRY_COUNT;
    }
    unsigned free_pages = 0;
    for (unsigned p = 0; p < nvs->page_count; p++)
        free_pages += nvs->page_state[p] == NVS_PS_BLANK || nvs->page_state[p] == NVS_PS_CORRUPT;
    if (free_pages == 0) { /* ESP_ERR_NVS_NO_FREE_PAGES */
        if (format)
            return format_all(nvs);
        return atota_diag_set(diag, ATOTA_ERR_NVS_FULL,
                              "nvs at 0x%x: no free page left (ESP_ERR_NVS_NO_FREE_PAGES)",
                              (unsigned)nvs->offset);
    }
    return ATOTA_OK;
}

atota_err_t atota_nvs_open(atota_nvs_t *nvs, const atota_flash_t *flash, uint32_t offset,
                           uint32_t size, bool format, atota_diag_t *diag)
{
    if (!nvs || !flash)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "nvs: no handle or flash");
    atota_diag_clear(diag);
    memset(nvs, 0, sizeof *nvs);
    nvs->active_page = -1;
    if (offset % ATOTA_NVS_PAGE_SIZE || size % ATOTA_NVS_PAGE_SIZE ||
        size < 3 * ATOTA_NVS_PAGE_SIZE || size > ATOTA_NVS_MAX_PAGES * ATOTA_NVS_PAGE_SIZE ||
        (uint64_t)offset + size > flash->size)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "nvs: partition 0x%x+0x%x must be 4 KB aligned, 3 to %u pages, "
                              "inside the 0x%x-byte flash",
                              (unsigned)offset, (unsigned)size, ATOTA_NVS_MAX_PAGES,
                              (unsigned)flash->size);
    nvs->flash = flash;
    nvs->offset = offset;
    nvs->size = size;
    nvs->page_count = size / ATOTA_NVS_PAGE_SIZE;
    atota_err_t err = load(nvs, format, diag);
    if (err) {
        nvs->active_page = -1; /* unusable until opened again */
        if (!diag || !diag->msg[0])
            atota_diag_set(diag, err, "nvs at 0x%x: %s", (unsigned)offset, atota_strerror(err));
    }
    return err;
}
