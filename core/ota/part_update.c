/*
 * The partition updater: a custom partition replaced under a journal, so that a dropped
 * connection leaves it untouched and a power cut leaves it old or new (docs/part-update.md).
 * ESP-AT's AT+CIUPDATE erases the partition before downloading (esp-at-ota.md §3.2 step 3) and
 * writes it raw (§3.5); here the content is staged in the tail of the next OTA slot, past the
 * image that slot holds, verified there, and only then copied over the partition.
 */
#include "core/ota/part_update.h"

#include <stdio.h>
#include <string.h>

#include "core/ota/boot.h"
#include "core/ota/ota_writer.h"
#include "core/util/crc32.h"

#define SECTOR     ATOTA_FLASH_SECTOR_SIZE
#define COPY_CHUNK 1024u /* stack buffer for read-backs and the copy */

/* Record field offsets (part_update.h, docs/part-update.md). */
#define REC_MAGIC_LEN   8u
#define REC_VERSION     8u
#define REC_NAME        12u
#define REC_NAME_LEN    (ATOTA_PT_NAME_LEN + 1u)
#define REC_TARGET_OFF  32u
#define REC_TARGET_SIZE 36u
#define REC_LENGTH      40u
#define REC_STAGED      44u
#define REC_SHA         48u
#define REC_CRC         80u
#define DONE_ERASED     0xFFFFFFFFu

typedef struct {
    char name[REC_NAME_LEN];
    uint32_t target_offset;
    uint32_t target_size;
    uint32_t length;
    uint32_t staged;
    uint8_t sha[ATOTA_SHA256_LEN];
} record_t;

static uint32_t round_up_sector(uint32_t n)
{
    return (n + SECTOR - 1) / SECTOR * SECTOR;
}

/* Whole 4 KB sectors inside the flash. */
static bool area_ok(const atota_flash_t *flash, uint32_t offset, uint32_t size)
{
    return offset % SECTOR == 0 && size % SECTOR == 0 && size > 0 && offset <= flash->size &&
           size <= flash->size - offset;
}

static bool overlaps(uint32_t a, uint32_t a_len, uint32_t b, uint32_t b_len)
{
    return (uint64_t)a < (uint64_t)b + b_len && (uint64_t)b < (uint64_t)a + a_len;
}

static uint32_t journal_of(const atota_partition_t *slot)
{
    return slot->offset + slot->size - SECTOR;
}

/* --------------------------------------------------------------------------- journal record */

static void record_encode(const record_t *r, uint8_t out[ATOTA_PART_UPDATE_RECORD_LEN])
{
    memset(out, 0, ATOTA_PART_UPDATE_RECORD_LEN);
    memcpy(out, ATOTA_PART_UPDATE_JOURNAL_MAGIC, REC_MAGIC_LEN);
    atota_put_le32(out + REC_VERSION, ATOTA_PART_UPDATE_JOURNAL_VERSION);
    memcpy(out + REC_NAME, r->name, strlen(r->name)); /* NUL-terminated: at most 16 bytes */
    atota_put_le32(out + REC_TARGET_OFF, r->target_offset);
    atota_put_le32(out + REC_TARGET_SIZE, r->target_size);
    atota_put_le32(out + REC_LENGTH, r->length);
    atota_put_le32(out + REC_STAGED, r->staged);
    memcpy(out + REC_SHA, r->sha, ATOTA_SHA256_LEN);
    atota_put_le32(out + REC_CRC, atota_crc32_le(0, out, REC_CRC));
}

/* True for a whole record of this format: magic, version, CRC, a NUL-terminated name. A record a
 * power cut interrupted while it was being programmed fails the CRC: it was never committed. */
static bool record_decode(const uint8_t in[ATOTA_PART_UPDATE_RECORD_LEN], record_t *r)
{
    memset(r, 0, sizeof *r);
    if (memcmp(in, ATOTA_PART_UPDATE_JOURNAL_MAGIC, REC_MAGIC_LEN) != 0 ||
        atota_le32(in + REC_VERSION) != ATOTA_PART_UPDATE_JOURNAL_VERSION ||
        atota_le32(in + REC_CRC) != atota_crc32_le(0, in, REC_CRC) ||
        memchr(in + REC_NAME, 0, REC_NAME_LEN) == NULL)
        return false;
    memcpy(r->name, in + REC_NAME, REC_NAME_LEN);
    r->target_offset = atota_le32(in + REC_TARGET_OFF);
    r->target_size = atota_le32(in + REC_TARGET_SIZE);
    r->length = atota_le32(in + REC_LENGTH);
    r->staged = atota_le32(in + REC_STAGED);
    memcpy(r->sha, in + REC_SHA, ATOTA_SHA256_LEN);
    return true;
}

/* Reads the journal sector at `journal`: *committed when it holds a valid record, *done when its
 * done word was programmed (even partly). */
static atota_err_t journal_read(const atota_flash_t *flash, uint32_t journal, record_t *r,
                                bool *committed, bool *done, atota_diag_t *diag)
{
    uint8_t raw[ATOTA_PART_UPDATE_RECORD_LEN];
    uint8_t word[4];
    atota_err_t err = atota_flash_read(flash, journal, raw, sizeof raw);
    if (!err)
        err = atota_flash_read(flash, journal + ATOTA_PART_UPDATE_DONE_OFFSET, word, sizeof word);
    if (err)
        return atota_diag_set(diag, err, "cannot read the partition-update journal at 0x%x: %s",
                              journal, atota_strerror(err));
    *committed = record_decode(raw, r);
    *done = atota_le32(word) != DONE_ERASED;
    return ATOTA_OK;
}

/* The done word: all bits cleared, so that any part of it programmed reads as done. */
static atota_err_t journal_mark_done(const atota_flash_t *flash, uint32_t journal,
                                     atota_diag_t *diag)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    atota_err_t err = atota_flash_write(flash, journal + ATOTA_PART_UPDATE_DONE_OFFSET, zero, 4);
    if (err)
        return atota_diag_set(diag, err,
                              "cannot mark the partition-update journal at 0x%x done: %s", journal,
                              atota_strerror(err));
    return ATOTA_OK;
}

/* ----------------------------------------------------------------------------- flash helpers */

/* SHA-256 of len bytes of flash at addr, read through a small buffer. */
static atota_err_t hash_flash(const atota_flash_t *flash, uint32_t addr, uint32_t len,
                              uint8_t out[ATOTA_SHA256_LEN])
{
    uint8_t buf[COPY_CHUNK];
    atota_sha256_t h;
    atota_sha256_init(&h);
    for (uint32_t off = 0; off < len;) {
        uint32_t n = len - off < COPY_CHUNK ? len - off : COPY_CHUNK;
        atota_err_t err = atota_flash_read(flash, addr + off, buf, n);
        if (err) {
            atota_sha256_free(&h);
            return err;
        }
        atota_sha256_update(&h, buf, n);
        off += n;
    }
    atota_sha256_finish(&h, out);
    return ATOTA_OK;
}

/* The copy after the commit point, shared by finish and recover, idempotent: erases the whole
 * target, programs the staged content over it, reads it back against the record's SHA-256. */
static atota_err_t copy_to_target(const atota_flash_t *flash, const record_t *r, atota_diag_t *diag)
{
    atota_err_t err = atota_flash_erase(flash, r->target_offset, r->target_size);
    if (err)
        return atota_diag_set(diag, err, "cannot erase %s (0x%x bytes at 0x%x): %s", r->name,
                              r->target_size, r->target_offset, atota_strerror(err));
    uint8_t buf[COPY_CHUNK];
    for (uint32_t off = 0; off < r->length;) {
        uint32_t n = r->length - off < COPY_CHUNK ? r->length - off : COPY_CHUNK;
        err = atota_flash_read(flash, r->staged + off, buf, n);
        if (err)
            return atota_diag_set(diag, err, "cannot read the staged copy of %s at 0x%x: %s",
                                  r->name, r->staged + off, atota_strerror(err));
        err = atota_flash_write(flash, r->target_offset + off, buf, n);
        if (err)
            return atota_diag_set(diag, err, "cannot program %s at 0x%x: %s", r->name,
                                  r->target_offset + off, atota_strerror(err));
        off += n;
    }
    uint8_t got[ATOTA_SHA256_LEN];
    err = hash_flash(flash, r->target_offset, r->length, got);
    if (err)
        return atota_diag_set(diag, err, "cannot read %s back at 0x%x: %s", r->name,
                              r->target_offset, atota_strerror(err));
    if (memcmp(got, r->sha, ATOTA_SHA256_LEN) != 0)
        return atota_diag_set(diag, ATOTA_ERR_IO,
                              "%s reads back with another SHA-256 than the content programmed "
                              "(a flash fault)",
                              r->name);
    return ATOTA_OK;
}

/* Slot-relative end of what staging must leave alone: the image the slot holds, walked from its
 * header and segment headers (esp-idf-formats.md §2.1, §2.2, §2.4), with its padding and checksum
 * byte (the image length is a multiple of 16, §2.6) and the 32-byte SHA-256 when the header says
 * one is appended (byte 23; IDF takes any non-zero as appended), rounded up to 4 KB, plus the
 * 4 KB sector a Secure Boot v2 signature would take (§10.1: at the first 4 KB boundary at or after
 * the image's end); capped at the slot's size. 0 when the slot holds no image the bootloader could
 * boot: no magic byte (erased, or never written), more than 16 segments, or segments that run past
 * the slot (esp_image_verify refuses an image longer than its partition, §2.7), as a copy an
 * aborted OTA left behind. Reads only headers: at most 17 small reads. */
static atota_err_t protected_end(const atota_flash_t *flash, const atota_partition_t *slot,
                                 uint32_t *end, atota_diag_t *diag)
{
    *end = 0;
    uint8_t h[ATOTA_IMAGE_HEADER_LEN];
    atota_err_t err = atota_flash_read(flash, slot->offset, h, sizeof h);
    if (err)
        return atota_diag_set(diag, err, "cannot read the image header of %s at 0x%x: %s",
                              slot->name, slot->offset, atota_strerror(err));
    if (h[0] != ATOTA_IMAGE_MAGIC || h[1] > ATOTA_IMAGE_MAX_SEGMENTS)
        return ATOTA_OK;
    uint64_t pos = ATOTA_IMAGE_HEADER_LEN;
    for (unsigned i = 0; i < h[1]; i++) {
        if (pos + ATOTA_IMAGE_SEG_HEADER_LEN > slot->size)
            return ATOTA_OK;
        uint8_t seg[ATOTA_IMAGE_SEG_HEADER_LEN];
        err = atota_flash_read(flash, slot->offset + (uint32_t)pos, seg, sizeof seg);
        if (err)
            return atota_diag_set(diag, err, "cannot read segment header %u of %s at 0x%x: %s", i,
                                  slot->name, slot->offset + (uint32_t)pos, atota_strerror(err));
        pos += ATOTA_IMAGE_SEG_HEADER_LEN + (uint64_t)atota_le32(seg + 4);
    }
    pos = (pos + 1 + 15) & ~(uint64_t)15; /* padding + checksum: 1..16 bytes */
    if (h[23])
        pos += ATOTA_SHA256_LEN;
    if (pos > slot->size)
        return ATOTA_OK;
    uint64_t keep = (pos + SECTOR - 1) / SECTOR * SECTOR + SECTOR;
    *end = keep < slot->size ? (uint32_t)keep : slot->size;
    return ATOTA_OK;
}

/* A committed journal not yet done in any OTA slot: begin refuses, since erasing it (when it is
 * the staging slot's) or staging over another content would lose a copy that recover must finish.
 */
static atota_err_t check_no_pending(const atota_flash_t *flash,
                                    const atota_partition_table_t *table, atota_diag_t *diag)
{
    const atota_partition_t *slots[16];
    unsigned count = atota_boot_ota_slots(table, slots);
    for (unsigned i = 0; i < count; i++) {
        if (!area_ok(flash, slots[i]->offset, slots[i]->size))
            continue;
        record_t r;
        bool committed, done;
        atota_err_t err = journal_read(flash, journal_of(slots[i]), &r, &committed, &done, diag);
        if (err)
            return err;
        if (committed && !done)
            return atota_diag_set(diag, ATOTA_ERR_STATE,
                                  "an interrupted update of %s (journal in %s) must be completed "
                                  "first (atota_part_update_recover)",
                                  r.name, slots[i]->name);
    }
    return ATOTA_OK;
}

/* The app partition of table that [offset, offset + size) overlaps, or NULL. */
static const atota_partition_t *app_overlapping(const atota_partition_table_t *table,
                                                uint32_t offset, uint32_t size)
{
    for (unsigned i = 0; i < table->count; i++) {
        const atota_partition_t *p = &table->entries[i];
        if (p->type == ATOTA_PT_TYPE_APP && overlaps(offset, size, p->offset, p->size))
            return p;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------ the update */

/* Records the first failure (u->diag already says what it was): the update becomes FAILED and the
 * hash context is released. */
static atota_err_t fail(atota_part_update_t *u, atota_diag_t *diag, atota_err_t err)
{
    u->err = err;
    u->state = ATOTA_PART_UPDATE_FAILED;
    if (u->hashing) {
        atota_sha256_free(&u->sha);
        u->hashing = false;
    }
    if (diag)
        *diag = u->diag;
    return err;
}

#define FAIL(u, diag, code, ...)                                                                   \
    (atota_diag_set(&(u)->diag, (code), __VA_ARGS__), fail((u), (diag), (code)))

/* write and finish need a staging update; a failed one repeats its first error (sticky). */
static atota_err_t check_staging(const atota_part_update_t *u, atota_diag_t *diag)
{
    switch (u->state) {
    case ATOTA_PART_UPDATE_STAGING:
        return ATOTA_OK;
    case ATOTA_PART_UPDATE_FAILED:
        if (diag)
            *diag = u->diag;
        return u->err;
    case ATOTA_PART_UPDATE_DONE:
        return atota_diag_set(diag, ATOTA_ERR_STATE, "the partition update is already finished");
    default:
        return atota_diag_set(diag, ATOTA_ERR_STATE, "no partition update has begun");
    }
}

/* begin's checks of the target and the length; nothing is read or written. */
static atota_err_t check_target(const atota_part_update_opts_t *opts, uint32_t length,
                                atota_diag_t *diag)
{
    const atota_partition_t *t = opts->target;
    if (!area_ok(opts->flash, t->offset, t->size))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "partition %s (0x%x, 0x%x bytes) is not whole 4 KB sectors inside "
                              "the 0x%x-byte flash",
                              t->name, t->offset, t->size, opts->flash->size);
    const atota_partition_t *app = app_overlapping(opts->table, t->offset, t->size);
    if (app)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "partition %s (0x%x, 0x%x bytes) overlaps the app partition %s",
                              t->name, t->offset, t->size, app->name);
    if (length == 0)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no content for %s (0 bytes)", t->name);
    if (length > t->size)
        return atota_diag_set(diag, ATOTA_ERR_TOO_BIG,
                              "the content (%u bytes) is larger than %s (%u bytes)", length,
                              t->name, t->size);
    return ATOTA_OK;
}

/* Chooses the staging slot (the one the next app update would write) and the staging range at
 * its end, past the image it holds. */
static atota_err_t place_staging(atota_part_update_t *u, atota_diag_t *diag)
{
    const atota_part_update_opts_t *o = &u->opts;
    atota_ota_slot_choice_t choice;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_ota_writer_next_slot(o->table, o->running, &choice, &d);
    if (err)
        return atota_diag_set(diag, ATOTA_ERR_OTA_NO_STAGING, "no OTA slot to stage %s in: %s",
                              u->target.name, atota_diag_text(&d, err));
    const atota_partition_t *slot = choice.slot;
    if (!area_ok(o->flash, slot->offset, slot->size))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "OTA slot %s (0x%x, 0x%x bytes) is not whole 4 KB sectors inside "
                              "the 0x%x-byte flash",
                              slot->name, slot->offset, slot->size, o->flash->size);
    uint32_t keep;
    err = protected_end(o->flash, slot, &keep, diag);
    if (err)
        return err;
    uint32_t stage_len = round_up_sector(u->length);
    uint64_t need = (uint64_t)stage_len + SECTOR; /* the content and the journal sector */
    uint32_t room = slot->size - keep;
    if (need > room) {
        if (keep == 0)
            return atota_diag_set(diag, ATOTA_ERR_OTA_NO_STAGING,
                                  "staging %s (%u bytes) needs 0x%llx bytes; %s holds 0x%x",
                                  u->target.name, u->length, (unsigned long long)need, slot->name,
                                  slot->size);
        return atota_diag_set(diag, ATOTA_ERR_OTA_NO_STAGING,
                              "staging %s (%u bytes) needs 0x%llx bytes at the end of %s; the "
                              "app image there (the rollback app) and its signature sector take "
                              "0x%x, leaving 0x%x",
                              u->target.name, u->length, (unsigned long long)need, slot->name, keep,
                              room);
    }
    u->slot = *slot;
    u->journal = journal_of(slot);
    u->stage_offset = u->journal - stage_len;
    u->erased_to = u->stage_offset;
    return ATOTA_OK;
}

atota_err_t atota_part_update_begin(atota_part_update_t *u, const atota_part_update_opts_t *opts,
                                    uint32_t length, atota_diag_t *diag)
{
    memset(u, 0, sizeof *u);
    if (!opts || !opts->flash || !opts->table || !opts->target)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "a partition update needs a flash, a partition table and a target");
    atota_err_t err = check_target(opts, length, diag);
    if (err)
        return err;
    u->opts = *opts;
    u->target = *opts->target;
    u->length = length;
    err = place_staging(u, diag);
    if (!err)
        err = check_no_pending(opts->flash, opts->table, diag);
    if (err) {
        memset(u, 0, sizeof *u);
        return err;
    }
    /* A new journal: the old record (done, or never committed) is forgotten before anything of
     * the new content is staged, so it can never be replayed over it. */
    err = atota_flash_erase(opts->flash, u->journal, SECTOR);
    if (err) {
        atota_diag_set(diag, err, "cannot erase the partition-update journal at 0x%x (%s): %s",
                       u->journal, u->slot.name, atota_strerror(err));
        memset(u, 0, sizeof *u);
        return err;
    }
    atota_sha256_init(&u->sha);
    u->hashing = true;
    u->state = ATOTA_PART_UPDATE_STAGING;
    atota_diag_clear(diag);
    return ATOTA_OK;
}

/* Erases the next unit of the staging range: a 64 KB block where erased_to is block-aligned and
 * the slot holds the whole block (one block erase costs about four sector erases), else one 4 KB
 * sector. The last block of the slot includes the journal sector: erasing it again is harmless,
 * since nothing is programmed there before the commit, which comes after the last byte staged. */
static atota_err_t erase_next(atota_part_update_t *u, atota_diag_t *diag)
{
    uint32_t addr = u->erased_to;
    uint32_t slot_end = u->journal + SECTOR;
    uint32_t len = addr % ATOTA_FLASH_BLOCK_SIZE == 0 && slot_end - addr >= ATOTA_FLASH_BLOCK_SIZE
                       ? ATOTA_FLASH_BLOCK_SIZE
                       : SECTOR;
    atota_err_t err = atota_flash_erase(u->opts.flash, addr, len);
    if (err)
        return FAIL(u, diag, err, "cannot erase 0x%x bytes of %s at 0x%x to stage %s: %s", len,
                    u->slot.name, addr, u->target.name, atota_strerror(err));
    u->erased_to += len;
    return ATOTA_OK;
}

/* Programs n bytes at staging offset off, erasing ahead of them as they need. */
static atota_err_t program(atota_part_update_t *u, uint32_t off, const uint8_t *p, uint32_t n,
                           atota_diag_t *diag)
{
    while (n > 0) {
        uint32_t addr = u->stage_offset + off;
        if (addr >= u->erased_to) {
            atota_err_t err = erase_next(u, diag);
            if (err)
                return err;
            continue;
        }
        uint32_t chunk = u->erased_to - addr < n ? u->erased_to - addr : n;
        atota_err_t err = atota_flash_write(u->opts.flash, addr, p, chunk);
        if (err)
            return FAIL(u, diag, err, "cannot program 0x%x bytes of %s at 0x%x to stage %s: %s",
                        chunk, u->slot.name, addr, u->target.name, atota_strerror(err));
        off += chunk;
        p += chunk;
        n -= chunk;
    }
    return ATOTA_OK;
}

/* Whole pages go to flash (straight from the caller's buffer when no partial page is pending);
 * the rest waits in u->page. */
static atota_err_t put(atota_part_update_t *u, const uint8_t *p, uint32_t n, atota_diag_t *diag)
{
    while (n > 0) {
        if (u->page_len == 0 && n >= ATOTA_FLASH_PAGE_SIZE) {
            uint32_t whole = n - n % ATOTA_FLASH_PAGE_SIZE;
            atota_err_t err = program(u, u->written, p, whole, diag);
            if (err)
                return err;
            u->written += whole;
            p += whole;
            n -= whole;
            continue;
        }
        uint32_t take = ATOTA_FLASH_PAGE_SIZE - u->page_len;
        take = take < n ? take : n;
        memcpy(u->page + u->page_len, p, take);
        u->page_len += take;
        u->written += take;
        p += take;
        n -= take;
        if (u->page_len == ATOTA_FLASH_PAGE_SIZE) {
            atota_err_t err = program(u, u->written - ATOTA_FLASH_PAGE_SIZE, u->page,
                                      ATOTA_FLASH_PAGE_SIZE, diag);
            if (err)
                return err;
            u->page_len = 0;
        }
    }
    return ATOTA_OK;
}

atota_err_t atota_part_update_write(atota_part_update_t *u, const void *data, size_t len,
                                    atota_diag_t *diag)
{
    atota_err_t err = check_staging(u, diag);
    if (err || len == 0)
        return err;
    if (!data)
        return FAIL(u, diag, ATOTA_ERR_INVALID_ARG, "no data to write");
    if (len > u->length - u->written)
        return FAIL(u, diag, ATOTA_ERR_TOO_BIG,
                    "%s takes %u bytes: this write would take the content to %llu bytes",
                    u->target.name, u->length, (unsigned long long)u->written + len);
    atota_sha256_update(&u->sha, data, len);
    return put(u, data, (uint32_t)len, diag);
}

atota_err_t atota_part_update_finish(atota_part_update_t *u, const uint8_t *sha256,
                                     atota_diag_t *diag)
{
    atota_err_t err = check_staging(u, diag);
    if (err)
        return err;
    if (u->written != u->length)
        return FAIL(u, diag, ATOTA_ERR_IMAGE_TRUNCATED,
                    "%u of the %u bytes of %s arrived: the partition is untouched", u->written,
                    u->length, u->target.name);
    if (u->page_len > 0) {
        err = program(u, u->written - u->page_len, u->page, u->page_len, diag);
        if (err)
            return err;
        u->page_len = 0;
    }
    record_t r;
    memset(&r, 0, sizeof r);
    atota_sha256_finish(&u->sha, r.sha);
    u->hashing = false;
    char a[2 * ATOTA_SHA256_LEN + 1], b[2 * ATOTA_SHA256_LEN + 1];
    if (sha256 && memcmp(sha256, r.sha, ATOTA_SHA256_LEN) != 0)
        return FAIL(u, diag, ATOTA_ERR_IMAGE_HASH,
                    "%s: the content received has SHA-256 %.16s..., expected %.16s...: the "
                    "partition is untouched",
                    u->target.name, atota_hex(r.sha, ATOTA_SHA256_LEN, a),
                    atota_hex(sha256, ATOTA_SHA256_LEN, b));
    uint8_t staged[ATOTA_SHA256_LEN];
    err = hash_flash(u->opts.flash, u->stage_offset, u->length, staged);
    if (err)
        return FAIL(u, diag, err, "cannot read back the copy of %s staged in %s at 0x%x: %s",
                    u->target.name, u->slot.name, u->stage_offset, atota_strerror(err));
    if (memcmp(staged, r.sha, ATOTA_SHA256_LEN) != 0)
        return FAIL(u, diag, ATOTA_ERR_IMAGE_HASH,
                    "the copy of %s staged in %s at 0x%x differs from the content received (a "
                    "flash fault): the partition is untouched",
                    u->target.name, u->slot.name, u->stage_offset);

    /* The commit point: once this record reads whole, the update completes, here or at boot. */
    snprintf(r.name, sizeof r.name, "%s", u->target.name);
    r.target_offset = u->target.offset;
    r.target_size = u->target.size;
    r.length = u->length;
    r.staged = u->stage_offset;
    uint8_t raw[ATOTA_PART_UPDATE_RECORD_LEN];
    record_encode(&r, raw);
    err = atota_flash_write(u->opts.flash, u->journal, raw, sizeof raw);
    if (err)
        return FAIL(u, diag, err, "cannot program the partition-update journal at 0x%x: %s",
                    u->journal, atota_strerror(err));
    u->committed = true;

    err = copy_to_target(u->opts.flash, &r, &u->diag);
    if (!err)
        err = journal_mark_done(u->opts.flash, u->journal, &u->diag);
    if (err)
        return fail(u, diag, err);
    u->state = ATOTA_PART_UPDATE_DONE;
    atota_diag_clear(diag);
    return ATOTA_OK;
}

void atota_part_update_abort(atota_part_update_t *u)
{
    if (!u)
        return;
    if (u->hashing)
        atota_sha256_free(&u->sha);
    memset(u, 0, sizeof *u);
}

/* ------------------------------------------------------------------------------- recovery */

/* Completes one committed record of the journal in `slot`, or marks it done and says why it
 * cannot be completed. The target must be what begin accepted: an entry of at_customize, whole
 * sectors, clear of the app partitions of table. */
static atota_err_t recover_one(const atota_flash_t *flash, const atota_partition_table_t *table,
                               const atota_partition_t *slot, const record_t *r,
                               const atota_partition_table_t *at_customize, atota_diag_t *diag)
{
    uint32_t journal = journal_of(slot);
    const atota_partition_t *p = atota_partition_find(at_customize, r->name);
    if (!p || p->offset != r->target_offset || p->size != r->target_size || r->length > p->size ||
        r->length == 0 || !area_ok(flash, p->offset, p->size) ||
        app_overlapping(table, p->offset, p->size)) {
        atota_err_t err = journal_mark_done(flash, journal, diag);
        if (err)
            return err;
        return atota_diag_set(diag, ATOTA_ERR_NOT_FOUND,
                              "the interrupted update of %s (0x%x bytes at 0x%x) is dropped: "
                              "at_customize no longer has that partition there",
                              r->name, r->target_size, r->target_offset);
    }
    uint8_t got[ATOTA_SHA256_LEN] = {0};
    bool inside = r->staged >= slot->offset && r->staged % SECTOR == 0 && r->staged < journal &&
                  round_up_sector(r->length) <= journal - r->staged;
    if (inside) {
        atota_err_t err = hash_flash(flash, r->staged, r->length, got);
        if (err)
            return atota_diag_set(diag, err, "cannot read the staged copy of %s at 0x%x: %s",
                                  r->name, r->staged, atota_strerror(err));
    }
    if (!inside || memcmp(got, r->sha, ATOTA_SHA256_LEN) != 0) {
        atota_err_t err = journal_mark_done(flash, journal, diag);
        if (err)
            return err;
        return atota_diag_set(diag, ATOTA_ERR_IMAGE_HASH,
                              "the interrupted update of %s is dropped: its copy staged in %s at "
                              "0x%x is damaged, and %s may hold part of the new content",
                              r->name, slot->name, r->staged, r->name);
    }
    atota_err_t err = copy_to_target(flash, r, diag);
    if (!err)
        err = journal_mark_done(flash, journal, diag);
    return err;
}

atota_err_t atota_part_update_recover(const atota_flash_t *flash,
                                      const atota_partition_table_t *table,
                                      const atota_partition_table_t *at_customize, char *label,
                                      atota_diag_t *diag)
{
    if (label)
        label[0] = '\0';
    if (!flash || !table || !at_customize)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "recovery needs a flash, the partition table and at_customize");
    const atota_partition_t *slots[16];
    unsigned count = atota_boot_ota_slots(table, slots);
    atota_err_t first = ATOTA_OK;
    atota_diag_t first_diag;
    atota_diag_clear(&first_diag);
    for (unsigned i = 0; i < count; i++) {
        if (!area_ok(flash, slots[i]->offset, slots[i]->size))
            continue;
        record_t r;
        bool committed, done;
        atota_err_t err = journal_read(flash, journal_of(slots[i]), &r, &committed, &done, diag);
        if (err)
            return err;
        if (!committed || done)
            continue;
        if (label && !label[0])
            snprintf(label, ATOTA_PT_NAME_LEN + 1, "%s", r.name);
        atota_diag_t d;
        atota_diag_clear(&d);
        err = recover_one(flash, table, slots[i], &r, at_customize, &d);
        if (err == ATOTA_ERR_NOT_FOUND || err == ATOTA_ERR_IMAGE_HASH) {
            if (!first) {
                first = err;
                first_diag = d;
            }
            continue; /* dropped and marked done: look at the other slots */
        }
        if (err) {
            if (diag)
                *diag = d;
            return err;
        }
    }
    if (diag)
        *diag = first_diag;
    return first;
}
