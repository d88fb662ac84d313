/*
 * The OTA writer: esp_ota_begin (sequential erase), esp_ota_write, esp_ota_end and
 * esp_ota_set_boot_partition (esp-idf-formats.md §6, §5.5), with esp_https_ota's rule of checking
 * the image header before anything is erased (§11) made stricter: the streaming verifier sees
 * every byte before it is programmed, so a bad header, a wrong chip or an image too big for the
 * slot is refused before the flash is touched, and finish re-reads the image from flash before
 * otadata changes. docs/ota-writer.md describes the erase policy and its cost.
 */
#include "core/ota/ota_writer.h"

#include <string.h>

#include "core/fmt/otadata.h"
#include "core/ota/boot.h"

#define MAX_OTA_SLOTS 16

/* Records the first failure (w->diag already says what it was): the writer becomes FAILED and
 * the verifier's hash context is released. */
static atota_err_t fail(atota_ota_writer_t *w, atota_diag_t *diag, atota_err_t err)
{
    w->err = err;
    w->state = ATOTA_OTA_WRITER_FAILED;
    atota_image_stream_finish(&w->verify, NULL, NULL); /* harmless when already finished */
    if (diag)
        *diag = w->diag;
    return err;
}

#define FAIL(w, diag, code, ...)                                                                   \
    (atota_diag_set(&(w)->diag, (code), __VA_ARGS__), fail((w), (diag), (code)))

/* write and finish need an open writer; a failed one repeats its first error (sticky). */
static atota_err_t check_open(const atota_ota_writer_t *w, atota_diag_t *diag)
{
    switch (w->state) {
    case ATOTA_OTA_WRITER_OPEN:
        return ATOTA_OK;
    case ATOTA_OTA_WRITER_FAILED:
        if (diag)
            *diag = w->diag;
        return w->err;
    case ATOTA_OTA_WRITER_DONE:
        return atota_diag_set(diag, ATOTA_ERR_STATE, "the OTA update is already finished");
    default:
        return atota_diag_set(diag, ATOTA_ERR_STATE, "no OTA update has begun");
    }
}

/* The image checks every caller of the writer makes (esp_image_verify, §2.7 step 2). */
static atota_image_opts_t image_opts(const atota_ota_writer_t *w)
{
    atota_image_opts_t o;
    memset(&o, 0, sizeof o);
    o.check_chip = true;
    o.chip_id = w->opts.chip_id;
    o.check_chip_rev = true;
    o.chip_rev = w->opts.chip_rev;
    o.max_len = w->slot.size;
    o.flash_offset = w->slot.offset; /* the MMU rule uses absolute flash addresses */
    return o;
}

/* The index of p among the OTA slots, -1 when it is none of them (factory, test, NULL). */
static int slot_index_of(const atota_partition_t *const slots[], unsigned count,
                         const atota_partition_t *p)
{
    for (unsigned i = 0; p && i < count; i++)
        if (slots[i]->offset == p->offset && slots[i]->subtype == p->subtype)
            return (int)i;
    return -1;
}

/* esp_ota_begin's rollback rule (§6): the running app must not be PENDING_VERIFY. The state is
 * the active otadata copy's, when that copy is the one that chose the running slot (IDF's
 * esp_ota_get_state_partition takes the first copy whose seq maps to the slot, which can be a
 * stale one when both copies map to it; the active copy is the one the bootloader followed). */
static atota_err_t check_running_confirmed(atota_ota_writer_t *w, int running_index,
                                           atota_diag_t *diag)
{
    atota_otadata_entry_t e[2];
    atota_err_t err = atota_otadata_read(w->opts.flash, w->otadata_offset, e);
    if (err)
        return atota_diag_set(diag, err, "cannot read otadata at 0x%x: %s", w->otadata_offset,
                              atota_strerror(err));
    int active = atota_otadata_select(e);
    if (active >= 0 &&
        atota_otadata_slot(e[active].seq, w->slot_count) == (unsigned)running_index &&
        e[active].state == ATOTA_OTA_STATE_PENDING_VERIFY)
        return atota_diag_set(diag, ATOTA_ERR_OTA_PENDING_VERIFY,
                              "the running app (%s) is PENDING_VERIFY: it must mark itself valid "
                              "before another update",
                              w->opts.running->name);
    return ATOTA_OK;
}

atota_err_t atota_ota_writer_next_slot(const atota_partition_table_t *table,
                                       const atota_partition_t *running,
                                       atota_ota_slot_choice_t *choice, atota_diag_t *diag)
{
    memset(choice, 0, sizeof *choice);
    const atota_partition_t *slots[MAX_OTA_SLOTS];
    unsigned count = atota_boot_ota_slots(table, slots);
    if (count == 0)
        return atota_diag_set(diag, ATOTA_ERR_NO_OTA_SLOT,
                              "the partition table has no OTA app slot (ota_0)");
    /* esp_ota_get_next_update_partition(running): the slot after the running one, wrapping;
     * ota_0 when the running app is not an OTA slot. */
    int running_index = slot_index_of(slots, count, running);
    int target = running_index < 0 ? 0 : (running_index + 1) % (int)count;
    if (target == running_index)
        return atota_diag_set(diag, ATOTA_ERR_NO_OTA_SLOT,
                              "the only OTA slot (%s) is the running app: no slot to update",
                              slots[0]->name);
    choice->slot = slots[target];
    choice->index = (unsigned)target;
    choice->count = count;
    choice->running_index = running_index;
    return ATOTA_OK;
}

atota_err_t atota_ota_writer_begin(atota_ota_writer_t *w, const atota_ota_writer_opts_t *opts,
                                   atota_diag_t *diag)
{
    memset(w, 0, sizeof *w);
    if (!opts || !opts->flash || !opts->table)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "the OTA writer needs a flash and a partition table");
    w->opts = *opts;
    const atota_partition_table_t *table = opts->table;

    atota_ota_slot_choice_t choice;
    atota_err_t err = atota_ota_writer_next_slot(table, opts->running, &choice, diag);
    if (err)
        return err;
    const atota_partition_t *otadata =
        atota_partition_find_type(table, ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_OTA);
    if (!otadata)
        return atota_diag_set(diag, ATOTA_ERR_NOT_FOUND,
                              "the partition table has no otadata partition (data, ota)");
    if (otadata->size < ATOTA_OTADATA_SIZE)
        return atota_diag_set(diag, ATOTA_ERR_OTADATA_SIZE,
                              "otadata partition is 0x%x bytes, must be 0x%x", otadata->size,
                              ATOTA_OTADATA_SIZE);

    const atota_partition_t *slot = choice.slot;
    if (slot->offset % ATOTA_FLASH_SECTOR_SIZE || slot->size % ATOTA_FLASH_SECTOR_SIZE ||
        slot->size == 0 || slot->offset > opts->flash->size ||
        slot->size > opts->flash->size - slot->offset)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "OTA slot %s (0x%x, 0x%x bytes) is not whole 4 KB sectors inside "
                              "the 0x%x-byte flash",
                              slot->name, slot->offset, slot->size, opts->flash->size);
    w->slot = *slot;
    w->slot_index = choice.index;
    w->slot_count = choice.count;
    w->otadata_offset = otadata->offset;

    if (opts->rollback_enabled && choice.running_index >= 0) {
        err = check_running_confirmed(w, choice.running_index, diag);
        if (err) {
            memset(w, 0, sizeof *w);
            return err;
        }
    }

    atota_image_opts_t io = image_opts(w);
    io.skip_hash = true; /* hashed once, on flash, by finish */
    atota_image_stream_init(&w->verify, &io);
    w->state = ATOTA_OTA_WRITER_OPEN;
    atota_diag_clear(diag);
    return ATOTA_OK;
}

/* Erases the next unit after erased_to: the whole 64 KB block when erased_to is on a block
 * boundary and the slot holds the block (one block erase costs about as much as four sector
 * erases, so this is never slower than sectors once the image goes on for 5 sectors or more, and
 * costs at most one block erase beyond the image's end); else one 4 KB sector. */
static atota_err_t erase_next(atota_ota_writer_t *w, atota_diag_t *diag)
{
    uint32_t addr = w->slot.offset + w->erased_to;
    uint32_t len =
        addr % ATOTA_FLASH_BLOCK_SIZE == 0 && w->slot.size - w->erased_to >= ATOTA_FLASH_BLOCK_SIZE
            ? ATOTA_FLASH_BLOCK_SIZE
            : ATOTA_FLASH_SECTOR_SIZE;
    atota_err_t err = atota_flash_erase(w->opts.flash, addr, len);
    if (err)
        return FAIL(w, diag, err, "cannot erase 0x%x bytes of %s at 0x%x: %s", len, w->slot.name,
                    addr, atota_strerror(err));
    w->erased_to += len;
    return ATOTA_OK;
}

/* Programs n bytes at slot offset off (page-aligned; n a multiple of the page but for the last
 * piece of the image), erasing ahead of them as they need. */
static atota_err_t program(atota_ota_writer_t *w, uint32_t off, const uint8_t *p, uint32_t n,
                           atota_diag_t *diag)
{
    while (n > 0) {
        if (off >= w->erased_to) {
            atota_err_t err = erase_next(w, diag);
            if (err)
                return err;
            continue;
        }
        uint32_t chunk = w->erased_to - off < n ? w->erased_to - off : n;
        atota_err_t err = atota_flash_write(w->opts.flash, w->slot.offset + off, p, chunk);
        if (err)
            return FAIL(w, diag, err, "cannot program 0x%x bytes of %s at 0x%x: %s", chunk,
                        w->slot.name, w->slot.offset + off, atota_strerror(err));
        off += chunk;
        p += chunk;
        n -= chunk;
    }
    return ATOTA_OK;
}

/* Takes bytes the verifier has accepted: whole pages go to flash (straight from the caller's
 * buffer when no partial page is pending), the rest waits in w->page. */
static atota_err_t put(atota_ota_writer_t *w, const uint8_t *p, uint32_t n, atota_diag_t *diag)
{
    while (n > 0) {
        if (w->page_len == 0 && n >= ATOTA_FLASH_PAGE_SIZE) {
            uint32_t whole = n - n % ATOTA_FLASH_PAGE_SIZE;
            atota_err_t err = program(w, w->written, p, whole, diag);
            if (err)
                return err;
            w->written += whole;
            p += whole;
            n -= whole;
            continue;
        }
        uint32_t take = ATOTA_FLASH_PAGE_SIZE - w->page_len;
        take = take < n ? take : n;
        memcpy(w->page + w->page_len, p, take);
        w->page_len += take;
        w->written += take;
        p += take;
        n -= take;
        if (w->page_len == ATOTA_FLASH_PAGE_SIZE) {
            atota_err_t err = program(w, w->written - ATOTA_FLASH_PAGE_SIZE, w->page,
                                      ATOTA_FLASH_PAGE_SIZE, diag);
            if (err)
                return err;
            w->page_len = 0;
        }
    }
    return ATOTA_OK;
}

atota_err_t atota_ota_writer_write(atota_ota_writer_t *w, const void *data, size_t len,
                                   atota_diag_t *diag)
{
    atota_err_t err = check_open(w, diag);
    if (err || len == 0)
        return err;
    if (!data)
        return FAIL(w, diag, ATOTA_ERR_INVALID_ARG, "no data to write");
    uint32_t room = w->slot.size - w->written;
    uint32_t fit = len < room ? (uint32_t)len : room;
    /* The verifier sees the bytes before the flash does: a bad header (magic on byte 0, chip and
     * revision at 24, segment count, first segment header at 32) is refused before any erase. */
    err = atota_image_stream_feed(&w->verify, data, fit, &w->diag);
    if (err)
        return fail(w, diag, err);
    if (len > room)
        return FAIL(w, diag, ATOTA_ERR_IMAGE_TOO_BIG,
                    "%s holds 0x%x bytes: this write would take the data to 0x%llx", w->slot.name,
                    w->slot.size, (unsigned long long)w->written + len);
    return put(w, data, fit, diag);
}

/* Ends the stream and keeps what the flash copy must match: its length and XOR checksum. The
 * stream does not hash (skip_hash): the SHA-256 is checked once, on the copy on flash. */
static atota_err_t end_stream(atota_ota_writer_t *w, uint32_t *len, uint8_t *checksum)
{
    atota_image_info_t info;
    atota_err_t err = atota_image_stream_finish(&w->verify, &info, &w->diag);
    *len = info.image_len;
    *checksum = info.checksum_calc;
    return err;
}

atota_err_t atota_ota_writer_finish(atota_ota_writer_t *w, atota_image_info_t *info,
                                    atota_diag_t *diag)
{
    atota_err_t err = check_open(w, diag);
    if (err)
        return err;
    /* A complete image, with checksum and hash right, as received (esp_ota_end fails on 0 bytes:
     * so does this, as a truncated image). */
    uint32_t stream_len;
    uint8_t stream_checksum;
    err = end_stream(w, &stream_len, &stream_checksum);
    if (err)
        return fail(w, diag, err);
    if (w->page_len > 0) {
        err = program(w, w->written - w->page_len, w->page, w->page_len, diag);
        if (err)
            return err;
        w->page_len = 0;
    }

    /* esp_ota_end: esp_image_verify on the slot, reading back what was programmed. */
    atota_image_info_t local;
    atota_image_info_t *out = info ? info : &local;
    atota_image_opts_t io = image_opts(w);
    atota_diag_t d;
    atota_diag_clear(&d);
    err = atota_image_verify_flash(w->opts.flash, w->slot.offset, w->slot.size, &io, out, &d);
    if (err)
        return FAIL(w, diag, err, "%s as written on flash: %s", w->slot.name,
                    atota_diag_text(&d, err));
    if (out->image_len != stream_len || out->checksum_calc != stream_checksum)
        return FAIL(w, diag, ATOTA_ERR_IMAGE_HASH,
                    "%s as written on flash (0x%x bytes) differs from the image received "
                    "(0x%x bytes)",
                    w->slot.name, out->image_len, stream_len);

    /* esp_ota_set_boot_partition: the copy that is not active gets the new seq (power-safe). */
    err = atota_otadata_set_boot_slot(w->opts.flash, w->otadata_offset, w->slot_index,
                                      w->slot_count, w->opts.rollback_enabled);
    if (err)
        return FAIL(w, diag, err, "cannot make %s the boot slot: %s", w->slot.name,
                    atota_strerror(err));
    w->state = ATOTA_OTA_WRITER_DONE;
    atota_diag_clear(diag);
    return ATOTA_OK;
}

void atota_ota_writer_abort(atota_ota_writer_t *w)
{
    if (!w)
        return;
    if (w->state == ATOTA_OTA_WRITER_OPEN || w->state == ATOTA_OTA_WRITER_FAILED)
        atota_image_stream_finish(&w->verify, NULL, NULL); /* releases the hash context */
    memset(w, 0, sizeof *w);
}
