/*
 * Module profiles: the layouts of ESP-AT's modules (profiles/<module>/, the same data as ESP-AT's
 * module_config/): the chip, the flash size, partitions_at.csv, at_customize.csv, where
 * at_customize.bin lives, and the module name AT+GMR reports. The files are embedded in the
 * program at build time (cmake/embed_profiles.cmake), so nothing is read from disk.
 */
#ifndef ATOTA_CORE_FMT_PROFILE_H
#define ATOTA_CORE_FMT_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fmt/image.h"
#include "core/fmt/partition.h"

/* One embedded file: profiles/<module>/<file>. The table ends with a {0} entry. */
typedef struct {
    const char *module;
    const char *file;
    const char *text;
} atota_profile_file_t;

extern const atota_profile_file_t atota_profile_files[];

typedef struct {
    char name[32];        /* the directory name: "esp32-wroom-32" */
    char module_name[32]; /* ESP-AT's module name: "WROOM-32" */
    const atota_chip_t *chip;
    uint32_t flash_size;
    uint32_t partition_table_offset;      /* where partitions_at.bin goes */
    uint32_t at_customize_offset;         /* where at_customize.bin goes */
    bool rollback_enabled;                /* CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE */
    atota_partition_table_t partitions;   /* partitions_at.csv, parsed (no MD5 row, as ESP-AT) */
    atota_partition_table_t at_customize; /* at_customize.csv, parsed (with MD5 row) */
} atota_profile_t;

/* Loads the profile with this name, parsing and checking its files: the at_customize partitions
 * must lie inside the at_customize partition, after the table's own sector. */
atota_err_t atota_profile_load(const char *name, atota_profile_t *profile, atota_diag_t *diag);

/* Checks an at_customize table against the profile's at_customize region, the check
 * atota_profile_load makes on the profile's own table: every partition starts at or after the
 * sector that follows the table (region offset + 0x1000) and ends inside the region
 * (esp-at-ota.md §5.2). Errors: ATOTA_ERR_PT_INVALID with diag naming the first partition outside
 * and the region; ATOTA_ERR_PROFILE_UNKNOWN when the profile has no at_customize partition. */
atota_err_t atota_profile_check_at_customize(const atota_profile_t *profile,
                                             const atota_partition_table_t *table,
                                             atota_diag_t *diag);

/* Parses an at_customize table meant to replace the profile's (`atota flash create
 * --at-customize`): a binary table when data starts with an entry's magic AA 50 (parsed, then
 * verified as gen_esp32part verifies a binary input), otherwise gen_esp32part CSV text. Both are
 * read with the profile's table offset and flash size, then checked with
 * atota_profile_check_at_customize. The result has has_md5 set, as the profile's own table (the
 * at_customize.bin ESP-AT builds has the MD5 row). opts gives only the warning callback and
 * $VAR lookup (may be NULL); its offsets and sizes are ignored. Errors: the parser's and the
 * check's, diag in gen_esp32part's words ("line 3: ...", "partition 'x' invalid: ..."). */
atota_err_t atota_profile_parse_at_customize(const atota_profile_t *profile, const uint8_t *data,
                                             size_t len, const atota_partition_opts_t *opts,
                                             atota_partition_table_t *table, atota_diag_t *diag);

/* The name of the i-th profile (sorted), or NULL past the last. */
const char *atota_profile_name(unsigned i);

#endif /* ATOTA_CORE_FMT_PROFILE_H */
