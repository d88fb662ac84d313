/*
 * A custom partition (a label of at_customize.csv: mqtt_ca, factory_param, ...) replaced so that a
 * power cut at any point leaves it holding either its old content or its new content, never a
 * mix, and a dropped connection leaves it untouched. ESP-AT erases the partition before it has
 * downloaded anything (esp-at-ota.md §3.2 step 3) and has no copy; here the new content is staged
 * first, verified, and only then copied over the partition under a journal, and a copy that a
 * power cut interrupted is completed on the next boot (atota_part_update_recover).
 *
 * Where the staging lives (docs/part-update.md): in the OTA slot the next app update would write
 * (the one after the running slot, as atota_ota_writer_begin picks), at its end, past the image
 * it holds, so that image (the rollback target) stays intact:
 *   [slot end - 4 KB, slot end)                the journal sector
 *   [journal - round_up(length, 4 KB), journal) the staged content
 * The journal sector holds one record (target, length, staged offset, SHA-256, CRC), programmed
 * only once the staged content is verified (the commit point), and a "done" word programmed once
 * the partition is rewritten and verified.
 *
 * Portable core: no OS calls, no allocation; buffers on the stack stay under 4 KB.
 */
#ifndef ATOTA_CORE_OTA_PART_UPDATE_H
#define ATOTA_CORE_OTA_PART_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fmt/partition.h"
#include "core/hal.h"
#include "core/util/hash.h"

/* The journal sector (docs/part-update.md): the last 4 KB of the staging slot. A record at offset
 * 0, programmed once at the commit point (all fields little-endian):
 *   0   magic "ATOTAPUJ"          8 bytes
 *   8   format version (1)        u32
 *   12  target name               17 bytes, NUL-padded, then 3 zero bytes
 *   32  target offset, size       u32, u32 (absolute flash address, bytes)
 *   40  content length            u32
 *   44  staged offset             u32 (absolute flash address)
 *   48  SHA-256 of the content    32 bytes
 *   80  CRC-32 of bytes 0..79     u32 (atota_crc32_le(0, ...), zlib's CRC-32)
 * and a "done" word at offset 256: 0xFFFFFFFF while the copy is not finished, anything else once
 * the target holds the new content and was verified (a power cut while it is being programmed
 * leaves it either still erased, and the copy is redone, or with bits cleared: done). */
#define ATOTA_PART_UPDATE_JOURNAL_MAGIC   "ATOTAPUJ"
#define ATOTA_PART_UPDATE_JOURNAL_VERSION 1u
#define ATOTA_PART_UPDATE_RECORD_LEN      84u
#define ATOTA_PART_UPDATE_DONE_OFFSET     256u

typedef struct {
    const atota_flash_t *flash;
    const atota_partition_table_t *table; /* the primary table: the OTA slots */
    const atota_partition_t *running;     /* the running app partition (the boot result's, or a
                                             copy of it: matched by offset and subtype); NULL,
                                             factory or test: ota_0 stages */
    const atota_partition_t *target;      /* the partition to replace (at_customize entry) */
} atota_part_update_opts_t;

typedef enum {
    ATOTA_PART_UPDATE_IDLE = 0,
    ATOTA_PART_UPDATE_STAGING, /* begun: bytes go to the staging area */
    ATOTA_PART_UPDATE_DONE,    /* the partition holds the new content */
    ATOTA_PART_UPDATE_FAILED,  /* sticky; the partition holds the old content unless the error
                                  came after the commit point (then recover completes it) */
} atota_part_update_state_t;

typedef struct {
    atota_part_update_opts_t opts;
    atota_partition_t target; /* copy */
    atota_partition_t slot;   /* the OTA slot that stages (copy) */
    atota_part_update_state_t state;
    uint32_t length;       /* the new content's announced length */
    uint32_t written;      /* staged so far (programmed, or waiting in page) */
    uint32_t stage_offset; /* absolute flash address of the staged content */
    uint32_t journal;      /* absolute flash address of the journal sector */
    uint32_t erased_to;    /* absolute end of the erased staging range */
    atota_sha256_t sha;    /* over the bytes as they arrive */
    bool hashing;          /* sha holds a live context (released by finish, abort or a failure) */
    bool committed;        /* the journal record is programmed: from here a failure or a power cut
                              leaves the update to atota_part_update_recover, which completes it */
    /* Bytes not yet programmed (a partial page), so that staging costs one page program per
     * 256 bytes whatever the sizes of the writes; the last partial page waits for finish. */
    uint8_t page[ATOTA_FLASH_PAGE_SIZE];
    uint32_t page_len;
    atota_err_t err; /* sticky: the first failure */
    atota_diag_t diag;
} atota_part_update_t;

/* Starts an update of opts->target with content of exactly length bytes (1..target size). *u is
 * overwritten whatever it held (abort an open update first); opts is copied, and what its pointers
 * point to must outlive the update. Checks, before anything is written: the target is inside the
 * flash, whole sectors and clear of every app partition (ATOTA_ERR_INVALID_ARG), length
 * (ATOTA_ERR_TOO_BIG above the partition's size, INVALID_ARG for 0), that no OTA slot holds a
 * committed journal still to complete (ATOTA_ERR_STATE: atota_part_update_recover first), and
 * that the staging slot has room past the image it holds (ATOTA_ERR_OTA_NO_STAGING, diag saying
 * how much is needed and how much is free; also when the table has no OTA slot other than the
 * running one). Then erases the journal sector (forgetting a finished journal); a flash error
 * there is returned as it is. The target partition is not touched. On failure *u is IDLE. */
atota_err_t atota_part_update_begin(atota_part_update_t *u, const atota_part_update_opts_t *opts,
                                    uint32_t length, atota_diag_t *diag);

/* Stages the next len bytes (erasing the staging area ahead of them). More bytes than length:
 * ATOTA_ERR_TOO_BIG. Errors are sticky (state FAILED). The target is not touched. */
atota_err_t atota_part_update_write(atota_part_update_t *u, const void *data, size_t len,
                                    atota_diag_t *diag);

/* Completes the update: checks that length bytes were staged (ATOTA_ERR_IMAGE_TRUNCATED), and,
 * when sha256 is not NULL, the SHA-256 of the bytes received against it (the server's digest;
 * ATOTA_ERR_IMAGE_HASH), then reads the staged copy back and checks its SHA-256 against the bytes
 * received (ATOTA_ERR_IMAGE_HASH, a flash fault): until here the target is untouched. Then
 * commits the journal (u->committed), erases the whole target, programs the content (the rest of
 * the partition stays erased, as ESP-AT leaves it), reads it back against the SHA-256
 * (ATOTA_ERR_IO when it differs), and marks the journal done: state DONE. Flash errors are
 * returned as they are. Any failure is sticky (state FAILED); one after the commit (u->committed)
 * leaves the target to atota_part_update_recover, which completes it (at the next boot, or at
 * once when the caller runs it). */
atota_err_t atota_part_update_finish(atota_part_update_t *u, const uint8_t *sha256,
                                     atota_diag_t *diag);

/* Forgets an update that was not finished: the target is untouched before the commit; after it
 * (u->committed) the journal stays, for atota_part_update_recover. Releases the hash context.
 * Safe in any state, and on a zeroed struct. */
void atota_part_update_abort(atota_part_update_t *u);

/* At boot, before anything reads the custom partitions or writes an OTA slot: looks at the
 * journal sector of every OTA slot of table; a committed record that is not done, whose target is
 * still a partition of at_customize (same name, offset and size) and whose staged copy still has
 * its SHA-256, is completed (erase, program, verify, done): ATOTA_OK. label (may be NULL;
 * ATOTA_PT_NAME_LEN + 1 bytes) gets the name of the partition of the record acted on, "" when
 * there was none (nothing to do: ATOTA_OK). A committed record that can no longer be completed
 * (its staged copy damaged: ATOTA_ERR_IMAGE_HASH; its target gone or moved: ATOTA_ERR_NOT_FOUND)
 * is marked done and reported, with diag saying which partition. Flash errors are returned as
 * they are, and ATOTA_ERR_IO when the target reads back wrong after programming; both leave the
 * record pending (a power cut during recovery: the next boot tries again). ATOTA_ERR_INVALID_ARG
 * without a flash or a table. */
atota_err_t atota_part_update_recover(const atota_flash_t *flash,
                                      const atota_partition_table_t *table,
                                      const atota_partition_table_t *at_customize, char *label,
                                      atota_diag_t *diag);

#endif /* ATOTA_CORE_OTA_PART_UPDATE_H */
