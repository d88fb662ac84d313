/*
 * The OTA writer (esp-idf-formats.md §6, esp_ota_begin/write/end + esp_ota_set_boot_partition),
 * shared by AT+USEROTA, AT+CIUPDATE and AT+WEBSERVER. Bytes of an app image arrive in chunks of
 * any size; the writer
 *   - refuses to start while the running app is PENDING_VERIFY (rollback enabled), and picks the
 *     next OTA slot after the running one (esp_ota_get_next_update_partition);
 *   - checks the image header (magic, chip id, chip revision, segment count) on the first bytes,
 *     before anything is erased, and the image length against the slot as soon as it is known;
 *   - erases ahead of the data, a 64 KB block where the range is block-aligned and a 4 KB sector
 *     elsewhere: at a 64 KB boundary the whole block is erased when the slot has room for it
 *     (the image's length is unknown until its end), so at most one block, up to 60 KB, is
 *     erased beyond the image; docs/ota-writer.md gives the cost;
 *   - programs in 256-byte pages and feeds the streaming verifier as it goes;
 *   - on finish, verifies the whole image (checksum, SHA-256, length) and only then switches the
 *     boot slot in otadata (state NEW with rollback), a write that is safe against power loss.
 * Until finish has switched otadata, the running firmware stays the one that boots, whatever
 * happens and whenever power fails. Memory is fixed: the struct (under 8 KiB of image buffers)
 * and no allocation.
 */
#ifndef ATOTA_CORE_OTA_OTA_WRITER_H
#define ATOTA_CORE_OTA_OTA_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fmt/image.h"
#include "core/fmt/partition.h"
#include "core/hal.h"

typedef struct {
    const atota_flash_t *flash;
    const atota_partition_table_t *table; /* the primary partition table */
    const atota_partition_t *running;     /* the app partition that runs (from boot selection) */
    bool rollback_enabled;                /* CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE */
    uint16_t chip_id;                     /* the image must be for this chip */
    uint16_t chip_rev;                    /* major*100+minor */
} atota_ota_writer_opts_t;

typedef enum {
    ATOTA_OTA_WRITER_IDLE = 0,
    ATOTA_OTA_WRITER_OPEN,   /* begun, receiving bytes */
    ATOTA_OTA_WRITER_DONE,   /* finished: the boot slot was switched */
    ATOTA_OTA_WRITER_FAILED, /* a write or finish failed; abort() it */
} atota_ota_writer_state_t;

typedef struct {
    atota_ota_writer_opts_t opts;
    atota_ota_writer_state_t state;
    atota_partition_t slot; /* the target OTA slot */
    unsigned slot_index;    /* its index among the OTA slots (ota_N) */
    unsigned slot_count;
    uint32_t otadata_offset;
    uint32_t written;   /* image bytes accepted so far (programmed, or waiting in page) */
    uint32_t erased_to; /* slot-relative end of the erased range */
    atota_image_stream_t verify;
    /* Bytes not yet programmed (a partial page). Also what holds the first bytes back: the
     * first erase and program happen when the first page is full, after the verifier has
     * checked the header (24 bytes), the first segment header (32) and the app descriptor magic
     * (36). The last partial page waits for finish, which checks the image whole first. */
    uint8_t page[ATOTA_FLASH_PAGE_SIZE];
    uint32_t page_len;
    atota_err_t err; /* sticky: the first failure */
    atota_diag_t diag;
} atota_ota_writer_t;

/* esp_ota_get_next_update_partition(running), the choice atota_ota_writer_begin makes. */
typedef struct {
    const atota_partition_t *slot; /* the OTA slot the next app update writes (in the table) */
    unsigned index;                /* its number N (ota_N) */
    unsigned count;                /* the table's OTA slots (ota_0 .. ota_{count-1}) */
    int running_index;             /* the running app's N; -1 when it is not an OTA slot */
} atota_ota_slot_choice_t;

/* The OTA slot after `running`, wrapping; ota_0 when running is not an OTA slot (factory, test,
 * NULL). A slot is recognised by offset and subtype, so running may be a copy (the boot result's
 * partition). ATOTA_ERR_NO_OTA_SLOT when the table has no ota_0, or when its only OTA slot is the
 * running one. Reads no flash and checks nothing about the slot's geometry. Used by the OTA writer
 * and by the partition updater (core/ota/part_update.h), which stages in the same slot. */
atota_err_t atota_ota_writer_next_slot(const atota_partition_table_t *table,
                                       const atota_partition_t *running,
                                       atota_ota_slot_choice_t *choice, atota_diag_t *diag);

/* esp_ota_begin with sequential erase: chooses the next OTA slot after opts->running, wrapping
 * (ota_0 when running factory or test, or when running is NULL). Erases nothing. *w is
 * overwritten whatever it held (abort an open writer first); opts is copied, and what its pointers
 * point to must outlive the writer. ATOTA_ERR_OTA_PENDING_VERIFY when rollback is enabled and the
 * active otadata entry, the one for the running slot, is PENDING_VERIFY; ATOTA_ERR_NO_OTA_SLOT
 * without another OTA slot; also ATOTA_ERR_INVALID_ARG (no flash or table; a slot outside the
 * flash or not whole sectors), ATOTA_ERR_NOT_FOUND (no otadata partition), ATOTA_ERR_OTADATA_SIZE,
 * or the flash's error reading otadata. On failure the writer is IDLE. */
atota_err_t atota_ota_writer_begin(atota_ota_writer_t *w, const atota_ota_writer_opts_t *opts,
                                   atota_diag_t *diag);

/* Takes the next len bytes of the image (any len, 0 included; data is not kept after the call).
 * Errors are sticky (the writer is then FAILED and every later write or finish returns the same
 * error and message): an image error (ATOTA_ERR_IMAGE_MAGIC, _CHIP, _CHIP_REV, _SEGMENTS, _TOO_BIG,
 * ... from the streaming verifier, which sees the bytes before the flash does, so the header
 * ones come before any erase; a checksum or hash mismatch on the write that ends the image), or a
 * flash error. Bytes after the end of the image are accepted and programmed while they fit the
 * slot (trailing padding or a signature sector, as IDF); the write that would pass the slot's end
 * fails whole with ATOTA_ERR_IMAGE_TOO_BIG. ATOTA_ERR_STATE when the writer is not open. */
atota_err_t atota_ota_writer_write(atota_ota_writer_t *w, const void *data, size_t len,
                                   atota_diag_t *diag);

/* esp_ota_end + esp_ota_set_boot_partition: checks that the verifier saw a complete, valid image
 * (ATOTA_ERR_IMAGE_TRUNCATED, also for no bytes at all), programs the last partial page, verifies
 * the image as written on flash (chip, revision, checksum, SHA-256, slot size; and that it is the
 * image received), then makes the slot the boot slot (atota_otadata_set_boot_slot: state NEW with
 * rollback). info (may be NULL) gets what was verified on flash. On any error before the switch
 * otadata is untouched; a power cut inside the switch leaves the old entry in charge. The writer
 * is then DONE (or FAILED, sticky). */
atota_err_t atota_ota_writer_finish(atota_ota_writer_t *w, atota_image_info_t *info,
                                    atota_diag_t *diag);

/* esp_ota_abort: forgets the update; the slot's partial contents stay (harmless: otadata does not
 * point to them). Safe in any state. */
void atota_ota_writer_abort(atota_ota_writer_t *w);

#endif /* ATOTA_CORE_OTA_OTA_WRITER_H */
