/*
 * The OTA data partition (esp-idf-formats.md §5): two 32-byte esp_ota_select_entry_t copies, one
 * per 4 KB sector, the CRC variant, choosing the active copy, slot mapping, and the writes IDF
 * makes (§5.5), each safe against power loss: a switch always writes the copy that is not active,
 * so a cut at any point leaves the old active copy in charge.
 */
#ifndef ATOTA_CORE_FMT_OTADATA_H
#define ATOTA_CORE_FMT_OTADATA_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hal.h"

#define ATOTA_OTADATA_SIZE      0x2000u
#define ATOTA_OTADATA_ENTRY_LEN 32
#define ATOTA_OTADATA_SEQ_EMPTY 0xFFFFFFFFu

/* esp_ota_img_states_t (§5.2) */
#define ATOTA_OTA_STATE_NEW            0x0u
#define ATOTA_OTA_STATE_PENDING_VERIFY 0x1u
#define ATOTA_OTA_STATE_VALID          0x2u
#define ATOTA_OTA_STATE_INVALID        0x3u
#define ATOTA_OTA_STATE_ABORTED        0x4u
#define ATOTA_OTA_STATE_UNDEFINED      0xFFFFFFFFu

typedef struct {
    uint32_t seq;
    uint8_t seq_label[20];
    uint32_t state;
    uint32_t crc;
} atota_otadata_entry_t;

/* esp_rom_crc32_le(UINT32_MAX, &seq, 4) (§5.3). */
uint32_t atota_otadata_crc(uint32_t seq);

void atota_otadata_decode(const uint8_t raw[ATOTA_OTADATA_ENTRY_LEN], atota_otadata_entry_t *e);
void atota_otadata_encode(const atota_otadata_entry_t *e, uint8_t raw[ATOTA_OTADATA_ENTRY_LEN]);

/* "NEW", "PENDING_VERIFY", "VALID", "INVALID", "ABORTED", "UNDEFINED", or "0x%08x" into buf. */
const char *atota_otadata_state_name(uint32_t state, char buf[12]);

/* The bootloader's invalid(): seq empty, or state INVALID or ABORTED (no CRC check). */
bool atota_otadata_entry_invalid(const atota_otadata_entry_t *e);
/* valid(): not invalid and the CRC matches (bootloader_common_ota_select_valid). */
bool atota_otadata_entry_valid(const atota_otadata_entry_t *e);

/* The active copy (0 or 1): the valid one with the larger seq, ties to copy 0; -1 if none. */
int atota_otadata_select(const atota_otadata_entry_t e[2]);

/* (seq - 1) % slot_count, in uint32 arithmetic. slot_count must be > 0. */
unsigned atota_otadata_slot(uint32_t seq, unsigned slot_count);

/* Reads both copies of the otadata partition at a flash offset. */
atota_err_t atota_otadata_read(const atota_flash_t *flash, uint32_t offset,
                               atota_otadata_entry_t e[2]);

/* rewrite_ota_seq / the bootloader's write_otadata: erases sector `copy` (0 or 1) of the partition
 * and writes the entry there exactly as given (the CRC is not recomputed: the bootloader's
 * PENDING_VERIFY -> ABORTED write keeps the one it read). ATOTA_ERR_INVALID_ARG for another copy.
 */
atota_err_t atota_otadata_write_copy(const atota_flash_t *flash, uint32_t offset, int copy,
                                     const atota_otadata_entry_t *e);

/* esp_rewrite_ota_data (v5.5 semantics, §5.5): makes OTA slot `slot` (of slot_count contiguous
 * slots) the boot slot, writing the copy that is not active with the smallest seq >= the active
 * one that maps to the slot, state NEW when rollback is enabled else UNDEFINED; seq_label is kept
 * from what that copy held, as IDF does. ATOTA_ERR_NO_OTA_SLOT when slot >= slot_count (or
 * slot_count is 0 or > 16); ATOTA_ERR_STATE when the new seq would reach 0xFFFFFFFF (the empty
 * marker; IDF would write it and lose the switch). */
atota_err_t atota_otadata_set_boot_slot(const atota_flash_t *flash, uint32_t offset, unsigned slot,
                                        unsigned slot_count, bool rollback_enabled);

/* esp_ota_mark_app_valid_cancel_rollback: the active copy becomes VALID, in place (IDF's
 * non-atomic window: a cut between erase and write leaves the other copy active). No-op when
 * already VALID. ATOTA_ERR_OTADATA_INVALID when no copy is active. */
atota_err_t atota_otadata_mark_valid(const atota_flash_t *flash, uint32_t offset);

/* esp_ota_mark_app_invalid_rollback: the active copy becomes INVALID, in place. */
atota_err_t atota_otadata_mark_invalid(const atota_flash_t *flash, uint32_t offset);

/* Erases both copies (esp_ota_set_boot_partition(factory); otatool erase_otadata). */
atota_err_t atota_otadata_erase(const atota_flash_t *flash, uint32_t offset);

#endif /* ATOTA_CORE_FMT_OTADATA_H */
