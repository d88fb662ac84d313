/*
 * The ESP-IDF 2nd-stage bootloader's choice of app (esp-idf-formats.md §7), with rollback:
 * PENDING_VERIFY found at boot becomes ABORTED; NEW becomes PENDING_VERIFY when selected; a slot
 * whose image fails verification is skipped (down to factory, then forward through the OTA slots,
 * then test); blank otadata without a factory app boots slot 0 and records seq = 1 VALID.
 */
#ifndef ATOTA_CORE_OTA_BOOT_H
#define ATOTA_CORE_OTA_BOOT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fmt/image.h"
#include "core/fmt/otadata.h"
#include "core/fmt/partition.h"
#include "core/hal.h"

#define ATOTA_BOOT_FACTORY (-1)
#define ATOTA_BOOT_TEST    (-2)

typedef struct {
    bool rollback_enabled; /* CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (ESP-AT: y on most modules) */
    uint16_t chip_id;      /* images must be for this chip */
    uint16_t chip_rev;     /* major*100+minor */
    bool dry_run;          /* decide without writing otadata (for `atota flash info`) */
} atota_boot_opts_t;

typedef struct {
    int index; /* OTA slot number, ATOTA_BOOT_FACTORY or ATOTA_BOOT_TEST; -99 when none boots */
    atota_partition_t partition; /* the app partition that boots */
    atota_app_desc_t app_desc;   /* its descriptor (zeroed if it has none) */
    int otadata_copy;            /* the copy that chose it, -1 if none did */
    int active_copy;             /* the copy select() found active, -1 if none (even on fallback) */
    int selected_index;          /* where the search started: the slot otadata chose, or
                                    ATOTA_BOOT_FACTORY (§7 get_selected_boot_partition) */
    unsigned otadata_writes;     /* otadata sectors written (or that would be, in a dry run) */
    char reason[256];            /* why, in one line, for people */
} atota_boot_result_t;

/* Runs the bootloader's selection over a flash holding `table` (the primary partition table).
 * Writes otadata as the real bootloader does unless opts->dry_run. Returns
 * ATOTA_ERR_NO_BOOTABLE_APP when nothing can boot (the real chip resets forever),
 * ATOTA_ERR_OTADATA_SIZE when the otadata partition is smaller than 0x2000 (the bootloader resets
 * too), or a flash error (ATOTA_ERR_FLASH_POWER_CUT, ATOTA_ERR_IO). An image that fails to verify
 * (including one outside the flash) is skipped, not an error. result->reason is filled in every
 * case. */
atota_err_t atota_boot_select(const atota_flash_t *flash, const atota_partition_table_t *table,
                              const atota_boot_opts_t *opts, atota_boot_result_t *result,
                              atota_diag_t *diag);

/* The contiguous OTA app slots ota_0, ota_1, ... up to the first missing one (§5.4): fills
 * slots[] (up to 16) and returns their count. */
unsigned atota_boot_ota_slots(const atota_partition_table_t *table,
                              const atota_partition_t *slots[16]);

#endif /* ATOTA_CORE_OTA_BOOT_H */
