/*
 * A module's whole flash, laid out as ESP-AT's factory image is (esp-at-ota.md §5): the
 * partition table (partitions_at.bin, without an MD5 row) at the profile's offset,
 * at_customize.bin at the start of its partition, the app(s) in the first OTA slots, otadata
 * left erased, and optionally a 2nd-stage bootloader. Shared by `atota flash create` and by
 * atota-sim, which makes a flash for a module when its flash file does not exist yet.
 */
#ifndef ATOTA_CORE_OTA_FLASH_LAYOUT_H
#define ATOTA_CORE_OTA_FLASH_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fmt/profile.h"
#include "core/hal.h"

/* The version, project and ESP-IDF version of the factory firmware atota-sim puts on a new
 * flash (docs/atota-sim.md): ESP-AT's own release style, so AT+GMR reads like a real module. */
#define ATOTA_FACTORY_APP_VERSION "v4.1.0.0"
#define ATOTA_FACTORY_APP_PROJECT "esp-at"
#define ATOTA_FACTORY_APP_IDF_VER "v5.4.1"

/* One image in memory; name says where it came from in messages (a file name), may be NULL. */
typedef struct {
    const uint8_t *data; /* NULL: none */
    size_t len;
    const char *name;
} atota_flash_layout_image_t;

typedef struct {
    atota_flash_layout_image_t app;        /* required: the first OTA slot (ota_0), or factory */
    atota_flash_layout_image_t ota1;       /* optional: the second OTA slot (ota_1) */
    atota_flash_layout_image_t bootloader; /* optional: at the chip's bootloader offset */
    /* optional: written as at_customize.bin instead of the profile's table (as given, with its
     * MD5 row when has_md5; atota_profile_parse_at_customize makes one); NULL: the profile's */
    const atota_partition_table_t *at_customize;
} atota_flash_layout_t;

/* Checks every image against the profile first (chip, a valid image, fits its partition), and a
 * replacement at_customize table against the profile's at_customize region
 * (atota_profile_check_at_customize), and only then erases and programs: a refused input leaves
 * the flash untouched. The flash should be
 * erased (a new one); the sectors each piece occupies are erased before they are programmed.
 * Errors: ATOTA_ERR_INVALID_ARG (no app, the profile has no slot for one), the image's error with
 * a message that starts with its name ("app.bin: not a valid app image for ESP32 ..."), the
 * at_customize check's error ("at_customize: partition 'x' invalid: ..."), or the flash's
 * error. */
atota_err_t atota_flash_layout_write(const atota_flash_t *flash, const atota_profile_t *profile,
                                     const atota_flash_layout_t *images, atota_diag_t *diag);

/* Size of the factory firmware for this profile (for the caller's buffer), 0 on failure. */
size_t atota_flash_layout_factory_app_size(const atota_profile_t *profile);

/* Builds the factory firmware: an app image for the profile's chip, version
 * ATOTA_FACTORY_APP_VERSION, project "esp-at", with fixed dates (the same bytes every time) and no
 * firmware-configuration block (ESP-AT's defaults). out holds cap bytes. */
atota_err_t atota_flash_layout_factory_app(const atota_profile_t *profile, uint8_t *out, size_t cap,
                                           size_t *out_len, atota_diag_t *diag);

#endif /* ATOTA_CORE_OTA_FLASH_LAYOUT_H */
