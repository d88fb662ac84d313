/*
 * ESP-IDF's NVS API over nvs_store.c: namespaces, integers, strings, multi-page blobs (version
 * 2), erasing and listing (nvs_storage.cpp, nvs_api.cpp; docs/nvs.md). Opening and the repairs
 * after a power cut are in nvs_open.c.
 */
#include "core/fmt/nvs.h"

#include <string.h>

#include "core/fmt/nvs_page.h"
#include "core/util/crc32.h"

/* ---- namespaces ---------------------------------------------------------------------------- */

static atota_err_t check_name(const char *name)
{
    if (!name || !name[0] || strlen(name) > ATOTA_NVS_KEY_MAX)
        return ATOTA_ERR_INVALID_ARG;
    return ATOTA_OK;
}

/* Storage::createOrOpenNamespace: a U8 item in namespace 0 whose key is the name and whose value
 * is the index (1..254, the lowest unused). */
static atota_err_t ns_index(atota_nvs_t *nvs, const char *name, bool create, uint8_t *index)
{
    nvs_page_buf_t buf;
    nvs_loc_t loc;
    nvs_match_t m = nvs_match(NVS_NS_INDEX, name, MATCH_VALUE, 0);
    atota_err_t err = nvs_find(nvs, &m, &buf, &loc);
    if (err == ATOTA_OK && loc.item[1] == ATOTA_NVS_U8) {
        *index = loc.item[24];
        return ATOTA_OK;
    }
    if (err != ATOTA_OK && err != ATOTA_ERR_NVS_NOT_FOUND)
        return err;
    if (!create)
        return ATOTA_ERR_NVS_NOT_FOUND;
    uint8_t used[32] = {0};
    uint8_t order[ATOTA_NVS_MAX_PAGES];
    unsigned n = nvs_pages_in_order(nvs, order);
    for (unsigned k = 0; k < n; k++) {
        if ((err = nvs_page_read(nvs, order[k], &buf)))
            return err;
        for (unsigned i = 0; nvs_page_next_item(&buf, &i); i += nvs_entry(&buf, i)[2]) {
            const uint8_t *item = nvs_entry(&buf, i);
            if (item[0] == NVS_NS_INDEX && item[1] == ATOTA_NVS_U8)
                used[item[24] / 8] |= (uint8_t)(1u << (item[24] % 8));
        }
    }
    unsigned ns = 1;
    while (ns < 255 && (used[ns / 8] >> (ns % 8)) & 1u)
        ns++;
    if (ns == 255)
        return ATOTA_ERR_NVS_FULL;
    uint8_t d[8];
    memset(d, 0xFF, sizeof d);
    d[0] = (uint8_t)ns;
    uint8_t item[NVS_ENTRY_SIZE];
    nvs_item_make(item, NVS_NS_INDEX, ATOTA_NVS_U8, 1, NVS_CHUNK_ANY, name, d);
    if ((err = nvs_write_item(nvs, item, NULL, 0, NULL)))
        return err;
    *index = (uint8_t)ns;
    return ATOTA_OK;
}

/* ---- values -------------------------------------------------------------------------------- */

static bool handle_ok(const atota_nvs_t *nvs)
{
    return nvs && nvs->flash && nvs->active_page >= 0;
}

/* After a flash error the in-memory view may not match the flash: the handle must be reopened. */
static atota_err_t broken(atota_nvs_t *nvs, atota_err_t err)
{
    switch (err) {
    case ATOTA_ERR_FLASH_RANGE:
    case ATOTA_ERR_FLASH_ALIGN:
    case ATOTA_ERR_FLASH_NOT_ERASED:
    case ATOTA_ERR_FLASH_POWER_CUT:
    case ATOTA_ERR_IO:
        nvs->active_page = -1;
        break;
    default:
        break;
    }
    return err;
}

static unsigned int_width(atota_nvs_type_t type)
{
    return nvs_is_int((uint8_t)type) ? (unsigned)type & 0x0Fu : 0u; /* getAlignmentForType */
}

/* Finds the current value of ns/key. */
static atota_err_t find_value(atota_nvs_t *nvs, const char *ns, const char *key, bool create,
                              uint8_t *nsi, nvs_page_buf_t *buf, nvs_loc_t *loc)
{
    atota_err_t err = check_name(ns);
    if (!err)
        err = check_name(key);
    if (err)
        return err;
    if ((err = ns_index(nvs, ns, create, nsi)))
        return err;
    nvs_match_t m = nvs_match(*nsi, key, MATCH_VALUE, 0);
    return nvs_find(nvs, &m, buf, loc);
}

/* Common tail of every set: write the item (and data), then erase the old value. */
static atota_err_t replace(atota_nvs_t *nvs, uint8_t nsi, const char *key, const uint8_t *item,
                           const void *data, uint32_t size, bool had_old)
{
    nvs_loc_t loc;
    atota_err_t err = nvs_write_item(nvs, item, data, size, &loc);
    if (!err && had_old)
        err = nvs_erase_older(nvs, nsi, key, &loc);
    return err;
}

atota_err_t atota_nvs_set_int(atota_nvs_t *nvs, const char *ns, const char *key,
                              atota_nvs_type_t type, int64_t value)
{
    if (!handle_ok(nvs))
        return ATOTA_ERR_STATE;
    unsigned width = int_width(type);
    if (width == 0)
        return ATOTA_ERR_INVALID_ARG;
    bool is_signed = ((unsigned)type & 0x10u) != 0;
    if (width < 8) {
        int64_t lo = is_signed ? -((int64_t)1 << (width * 8 - 1)) : 0;
        int64_t hi =
            is_signed ? ((int64_t)1 << (width * 8 - 1)) - 1 : ((int64_t)1 << (width * 8)) - 1;
        if (value < lo || value > hi)
            return ATOTA_ERR_INVALID_ARG;
    }
    uint8_t d[8];
    memset(d, 0xFF, sizeof d); /* Item(): data filled with 0xFF, then the value's bytes */
    for (unsigned i = 0; i < width; i++)
        d[i] = (uint8_t)((uint64_t)value >> (8 * i));

    nvs_page_buf_t buf;
    nvs_loc_t old;
    uint8_t nsi;
    atota_err_t err = find_value(nvs, ns, key, true, &nsi, &buf, &old);
    if (err && err != ATOTA_ERR_NVS_NOT_FOUND)
        return broken(nvs, err);
    bool had_old = err == ATOTA_OK;
    if (had_old && old.item[1] == (uint8_t)type && memcmp(old.item + 24, d, 8) == 0)
        return ATOTA_OK; /* cmpItem: the same value is not written again */
    uint8_t item[NVS_ENTRY_SIZE];
    nvs_item_make(item, nsi, (uint8_t)type, 1, NVS_CHUNK_ANY, key, d);
    return broken(nvs, replace(nvs, nsi, key, item, NULL, 0, had_old));
}

atota_err_t atota_nvs_get_int(atota_nvs_t *nvs, const char *ns, const char *key,
                              atota_nvs_type_t type, int64_t *value)
{
    if (!handle_ok(nvs))
        return ATOTA_ERR_STATE;
    unsigned width = int_width(type);
    if (width == 0 || !value)
        return ATOTA_ERR_INVALID_ARG;
    nvs_page_buf_t buf;
    nvs_loc_t loc;
    uint8_t nsi;
    atota_err_t err = find_value(nvs, ns, key, false, &nsi, &buf, &loc);
    if (err)
        return err;
    if (loc.item[1] != (uint8_t)type)
        return ATOTA_ERR_NVS_TYPE;
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint64_t)loc.item[24 + i] << (8 * i);
    if ((type & 0x10) && width < 8 && (v >> (width * 8 - 1)) & 1u)
        v |= ~(uint64_t)0 << (width * 8); /* sign-extend */
    *value = (int64_t)v;
    return ATOTA_OK;
}

/* The data of the string or chunk at loc (its page is in buf), CRC-checked. */
static atota_err_t varlen_data(const nvs_page_buf_t *buf, const nvs_loc_t *loc,
                               const uint8_t **data, uint32_t *size)
{
    *size = atota_le16(loc->item + 24);
    *data = nvs_entry(buf, loc->index + 1);
    if (nvs_data_crc(*data, *size) != atota_le32(loc->item + 28))
        return ATOTA_ERR_NVS_CORRUPT;
    return ATOTA_OK;
}

atota_err_t atota_nvs_set_str(atota_nvs_t *nvs, const char *ns, const char *key, const char *value)
{
    if (!handle_ok(nvs))
        return ATOTA_ERR_STATE;
    if (!value)
        return ATOTA_ERR_INVALID_ARG;
    size_t size = strlen(value) + 1; /* nvs_set_str stores the NUL */
    if (size > ATOTA_NVS_STR_MAX)
        return ATOTA_ERR_TOO_BIG;
    nvs_page_buf_t buf;
    nvs_loc_t old;
    uint8_t nsi;
    atota_err_t err = find_value(nvs, ns, key, true, &nsi, &buf, &old);
    if (err && err != ATOTA_ERR_NVS_NOT_FOUND)
        return broken(nvs, err);
    bool had_old = err == ATOTA_OK;
    if (had_old && old.item[1] == ATOTA_NVS_STR) {
        const uint8_t *data;
        uint32_t n;
        if (varlen_data(&buf, &old, &data, &n) == ATOTA_OK && n == size &&
            memcmp(data, value, size) == 0)
            return ATOTA_OK;
    }
    uint8_t item[NVS_ENTRY_SIZE];
    nvs_make_varlen(item, nsi, ATOTA_NVS_STR, NVS_CHUNK_ANY, key, value, (uint32_t)size);
    return broken(nvs, replace(nvs, nsi, key, item, value, (uint32_t)size, had_old));
}

atota_err_t atota_nvs_get_str(atota_nvs_t *nvs, const char *ns, const char *key, char *out,
                              size_t cap, size_t *len)
{
    if (!handle_ok(nvs))
        return ATOTA_ERR_STATE;
    nvs_page_buf_t buf;
    nvs_loc_t loc;
    uint8_t nsi;
    atota_err_t err = find_value(nvs, ns, key, false, &nsi, &buf, &loc);
    if (err)
        return err;
    if (loc.item[1] != ATOTA_NVS_STR)
        return ATOTA_ERR_NVS_TYPE;
    const uint8_t *data;
    uint32_t size;
    if ((err = varlen_data(&buf, &loc, &data, &size)))
        return err;
    if (size == 0 || data[size - 1] != 0)
        return ATOTA_ERR_NVS_CORRUPT;
    if (len)
        *len = size - 1;
    if (!out || cap < size)
        return ATOTA_ERR_TOO_BIG;
    memcpy(out, data, size);
    return ATOTA_OK;
}

/* ---- blobs (version 2: BLOB_DATA chunks + BLOB_IDX) ---------------------------------------- */

/* Page::getVarDataTailroom of the current page. */
static uint32_t tailroom(const atota_nvs_t *nvs)
{
    uint8_t ps = nvs->page_state[nvs->active_page];
    if (ps == NVS_PS_PENDING)
        return NVS_CHUNK_MAX;
    if (ps == NVS_PS_FULL || nvs->active_next >= NVS_ENTRY_COUNT - 1)
        return 0;
    return (NVS_ENTRY_COUNT - nvs->active_next - 1) * NVS_ENTRY_SIZE;
}

/* Storage::writeMultiPageBlob: chunks fill the current page and go on in new pages; the index
 * is written last, so until then the chunks are orphans that the next open erases. */
static atota_err_t write_blob(atota_nvs_t *nvs, uint8_t nsi, const char *key, const uint8_t *data,
                              uint32_t size, uint8_t start, nvs_loc_t *idx_loc)
{
    uint32_t max_pages = nvs->page_count - 1;
    if (max_pages > 127)
        max_pages = 127;
    if (size > max_pages * NVS_CHUNK_MAX)
        return ATOTA_ERR_TOO_BIG;
    unsigned count = 0;
    uint32_t offset = 0, remaining = size;
    atota_err_t err = ATOTA_OK;
    for (;;) {
        uint32_t room = tailroom(nvs);
        if (count == 0 && (room < size || (room == 0 && size == 0)) && room < NVS_CHUNK_MAX / 10) {
            /* the first chunk would be too small: start on a new page */
            if ((err = nvs_next_page(nvs)))
                return err;
            if (tailroom(nvs) == room)
                return ATOTA_ERR_NVS_FULL;
            continue;
        }
        if (room == 0) {
            err = ATOTA_ERR_NVS_FULL;
            break;
        }
        uint32_t chunk = remaining > room ? room : remaining;
        remaining -= chunk;
        uint8_t item[NVS_ENTRY_SIZE];
        nvs_make_varlen(item, nsi, ATOTA_NVS_BLOB, (uint8_t)(start + count), key, data + offset,
                        chunk);
        if ((err = nvs_page_write_item(nvs, item, data + offset, chunk, NULL)))
            break;
        count++;
        if ((remaining || room - chunk < NVS_ENTRY_SIZE) && (err = nvs_next_page(nvs)))
            break;
        offset += chunk;
        if (!remaining) {
            uint8_t d[8];
            memset(d, 0xFF, sizeof d);
            atota_put_le32(d, size);
            d[4] = (uint8_t)count;
            d[5] = start;
            nvs_item_make(item, nsi, ATOTA_NVS_BLOB_IDX, 1, NVS_CHUNK_ANY, key, d);
            err = nvs_page_write_item(nvs, item, NULL, 0, idx_loc);
            break;
        }
    }
    if (err == ATOTA_ERR_NVS_FULL) { /* give the chunks back */
        nvs_page_buf_t buf;
        for (unsigned c = 0; c < count; c++) {
            nvs_match_t m = nvs_match(nsi, key, MATCH_CHUNK, start + c);
            nvs_loc_t loc;
            atota_err_t e = nvs_find(nvs, &m, &buf, &loc);
            if (e == ATOTA_OK)
                e = nvs_page_erase_item(nvs, loc.page, &buf, loc.index);
            if (e && e != ATOTA_ERR_NVS_NOT_FOUND)
                return e;
        }
    }
    return err;
}

/* Reads (out != NULL) or compares (cmp != NULL) the blob of the index at idx. */
static atota_err_t blob_io(atota_nvs_t *nvs, const nvs_loc_t *idx, uint8_t *out, const uint8_t *cmp,
                           bool *equal)
{
    char key[ATOTA_NVS_KEY_MAX + 1];
    memcpy(key, idx->item + 8, ATOTA_NVS_KEY_MAX);
    key[ATOTA_NVS_KEY_MAX] = 0;
    uint32_t size = atota_le32(idx->item + 24), offset = 0;
    unsigned start = idx->item[29], count = idx->item[28];
    nvs_page_buf_t buf;
    for (unsigned c = start; c < start + count; c++) {
        nvs_match_t m = nvs_match(idx->item[0], key, MATCH_CHUNK, c);
        nvs_loc_t loc;
        atota_err_t err = nvs_find(nvs, &m, &buf, &loc);
        if (err == ATOTA_ERR_NVS_NOT_FOUND)
            return ATOTA_ERR_NVS_CORRUPT; /* a chunk is missing */
        const uint8_t *data;
        uint32_t n;
        if (err || (err = varlen_data(&buf, &loc, &data, &n)))
            return err;
        if (n > size - offset)
            return ATOTA_ERR_NVS_CORRUPT;
        if (out)
            memcpy(out + offset, data, n);
        if (cmp && memcmp(cmp + offset, data, n) != 0)
            *equal = false;
        offset += n;
    }
    return offset == size ? ATOTA_OK : ATOTA_ERR_NVS_CORRUPT;
}

atota_err_t atota_nvs_set_blob(atota_nvs_t *nvs, const char *ns, const char *key, const void *data,
                               size_t len)
{
    if (!handle_ok(nvs))
        return ATOTA_ERR_STATE;
    if (!data && len)
        return ATOTA_ERR_INVALID_ARG;
    if (len > ATOTA_NVS_BLOB_MAX)
        return ATOTA_ERR_TOO_BIG;
    nvs_page_buf_t buf;
    nvs_loc_t old;
    uint8_t nsi;
    atota_err_t err = find_value(nvs, ns, key, true, &nsi, &buf, &old);
    if (err && err != ATOTA_ERR_NVS_NOT_FOUND)
        return broken(nvs, err);
    bool had_old = err == ATOTA_OK;
    uint8_t start = NVS_VER_0;
    if (had_old && old.item[1] == ATOTA_NVS_BLOB_IDX) {
        bool equal = atota_le32(old.item + 24) == len;
        if (equal && blob_io(nvs, &old, NULL, data, &equal) == ATOTA_OK && equal)
            return ATOTA_OK;
        start = old.item[29] == NVS_VER_1 ? NVS_VER_0 : NVS_VER_1; /* toggle the version */
    }
    nvs_loc_t idx;
    err = write_blob(nvs, nsi, key, data, (uint32_t)len, start, &idx);
    if (!err && had_old)
        err = nvs_erase_older(nvs, nsi, key, &idx);
    return broken(nvs, err);
}

atota_err_t atota_nvs_get_blob(atota_nvs_t *nvs, const char *ns, const char *key, void *out,
                               size_t cap, size_t *len)
{
    if (!handle_ok(nvs))
        return ATOTA_ERR_STATE;
    nvs_page_buf_t buf;
    nvs_loc_t loc;
    uint8_t nsi;
    atota_err_t err = find_value(nvs, ns, key, false, &nsi, &buf, &loc);
    if (err)
        return err;
    if (loc.item[1] != ATOTA_NVS_BLOB_IDX)
        return ATOTA_ERR_NVS_TYPE;
    size_t size = atota_le32(loc.item + 24);
    if (len)
        *len = size;
    if (!out)
        return ATOTA_OK;
    if (cap < size)
        return ATOTA_ERR_TOO_BIG;
    return blob_io(nvs, &loc, out, NULL, NULL);
}

/* ---- erasing ------------------------------------------------------------------------------- */

atota_err_t atota_nvs_erase_key(atota_nvs_t *nvs, const char *ns, const char *key)
{
    if (!handle_ok(nvs))
        return ATOTA_ERR_STATE;
    nvs_page_buf_t buf;
    nvs_loc_t loc;
    uint8_t nsi;
    atota_err_t err = find_value(nvs, ns, key, false, &nsi, &buf, &loc);
    if (err)
        return err;
    return broken(nvs, nvs_erase_value(nvs, &loc, &buf));
}

atota_err_t atota_nvs_erase_ns(atota_nvs_t *nvs, const char *ns)
{
    if (!handle_ok(nvs))
        return ATOTA_ERR_STATE;
    atota_err_t err = check_name(ns);
    uint8_t nsi;
    if (err || (err = ns_index(nvs, ns, false, &nsi)))
        return err;
    /* Storage::eraseNamespace; values and blob indexes first, then chunks, so that a cut never
     * leaves an index without its chunks. The namespace entry itself stays, as in ESP-IDF. */
    uint8_t order[ATOTA_NVS_MAX_PAGES];
    unsigned n = nvs_pages_in_order(nvs, order);
    nvs_page_buf_t buf;
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned k = 0; k < n; k++) {
            if ((err = nvs_page_read(nvs, order[k], &buf)))
                return broken(nvs, err);
            for (unsigned i = 0; nvs_page_next_item(&buf, &i); i += nvs_entry(&buf, i)[2]) {
                const uint8_t *item = nvs_entry(&buf, i);
                if (item[0] != nsi || (item[1] == ATOTA_NVS_BLOB) != (pass == 1))
                    continue;
                if ((err = nvs_page_erase_item(nvs, order[k], &buf, i)))
                    return broken(nvs, err);
            }
        }
    }
    return ATOTA_OK;
}

void nvs_reset_blank(atota_nvs_t *nvs)
{
    for (unsigned p = 0; p < nvs->page_count; p++) {
        nvs->page_state[p] = NVS_PS_BLANK;
        nvs->page_seq[p] = 0xFFFFFFFFu;
    }
    nvs->next_seq = 0;
    nvs->active_page = -1;
    nvs->active_next = 0;
}

atota_err_t atota_nvs_erase_all(atota_nvs_t *nvs)
{
    if (!nvs || !nvs->flash)
        return ATOTA_ERR_STATE;
    atota_err_t err = atota_flash_erase(nvs->flash, nvs->offset, nvs->size);
    if (err)
        return err;
    nvs_reset_blank(nvs);
    return nvs_activate_page(nvs); /* PageManager::load on a blank partition */
}

/* ---- listing ------------------------------------------------------------------------------- */

atota_err_t atota_nvs_foreach(atota_nvs_t *nvs, atota_nvs_each_fn fn, void *ctx)
{
    if (!handle_ok(nvs))
        return ATOTA_ERR_STATE;
    if (!fn)
        return ATOTA_ERR_INVALID_ARG;
    char names[256][ATOTA_NVS_KEY_MAX + 1];
    memset(names, 0, sizeof names);
    uint8_t order[ATOTA_NVS_MAX_PAGES];
    unsigned n = nvs_pages_in_order(nvs, order);
    nvs_page_buf_t buf;
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned k = 0; k < n; k++) {
            atota_err_t err = nvs_page_read(nvs, order[k], &buf);
            if (err)
                return err;
            for (unsigned i = 0; nvs_page_next_item(&buf, &i); i += nvs_entry(&buf, i)[2]) {
                const uint8_t *item = nvs_entry(&buf, i);
                char key[ATOTA_NVS_KEY_MAX + 1];
                memcpy(key, item + 8, ATOTA_NVS_KEY_MAX);
                key[ATOTA_NVS_KEY_MAX] = 0;
                if (pass == 0) {
                    if (item[0] == NVS_NS_INDEX && item[1] == ATOTA_NVS_U8)
                        memcpy(names[item[24]], key, sizeof key);
                    continue;
                }
                if (item[0] == NVS_NS_INDEX || item[1] == ATOTA_NVS_BLOB || item[1] == 0x41)
                    continue;
                atota_nvs_type_t type = (atota_nvs_type_t)item[1];
                size_t size = int_width(type);
                if (item[1] == ATOTA_NVS_STR)
                    size = atota_le16(item + 24);
                if (item[1] == ATOTA_NVS_BLOB_IDX) {
                    type = ATOTA_NVS_BLOB;
                    size = atota_le32(item + 24);
                }
                fn(ctx, names[item[0]], key, type, size);
            }
        }
    }
    return ATOTA_OK;
}
