/*
 * A module's whole flash as ESP-AT lays it out (flash_layout.h). Every image is checked before
 * the first erase, so a refusal writes nothing.
 */
#include <string.h>

#include "core/fmt/image.h"
#include "core/fmt/partition.h"
#include "core/ota/boot.h"
#include "core/ota/flash_layout.h"

/* The fixed build date of the factory firmware: the same bytes on every run. */
#define FACTORY_DATE "Jan  1 2025"
#define FACTORY_TIME "00:00:00"

/* Checks one image for a partition (or the bootloader area). */
static atota_err_t check_image(const atota_flash_layout_image_t *img,
                               const atota_profile_t *profile, const atota_partition_t *part,
                               bool bootloader, atota_diag_t *diag)
{
    const char *name = img->name ? img->name : (bootloader ? "bootloader" : "app");
    atota_image_opts_t opts = {
        .check_chip = true,
        .chip_id = profile->chip->id,
        .max_len = part->size,
        .flash_offset = part->offset,
        .bootloader = bootloader,
    };
    atota_image_info_t info;
    atota_diag_t d = {{0}};
    atota_err_t err = atota_image_parse(img->data, img->len, &opts, &info, &d);
    if (err)
        return atota_diag_set(diag, err,
                              "%s: not a valid %s image for %s (%s, partition '%s' of 0x%x "
                              "bytes): %s",
                              name, bootloader ? "bootloader" : "app", profile->chip->name,
                              profile->name, part->name, part->size, atota_diag_text(&d, err));
    if (img->len > part->size) /* trailing bytes past the image that would not fit */
        return atota_diag_set(diag, ATOTA_ERR_IMAGE_TOO_BIG,
                              "%s: file is %zu bytes, larger than partition '%s' (0x%x bytes)",
                              name, img->len, part->name, part->size);
    return ATOTA_OK;
}

/* Programs bytes, erasing the sectors they need first. */
static atota_err_t program(const atota_flash_t *flash, uint32_t offset, const void *data,
                           size_t len, const char *what, atota_diag_t *diag)
{
    if ((uint64_t)offset + len > flash->size)
        return atota_diag_set(diag, ATOTA_ERR_FLASH_RANGE,
                              "%s: 0x%zx bytes at 0x%x do not fit in a flash of 0x%x bytes", what,
                              len, offset, flash->size);
    uint32_t start = offset & ~(ATOTA_FLASH_SECTOR_SIZE - 1);
    uint32_t end = (uint32_t)((offset + len + ATOTA_FLASH_SECTOR_SIZE - 1) &
                              ~(size_t)(ATOTA_FLASH_SECTOR_SIZE - 1));
    atota_err_t err = atota_flash_erase(flash, start, end - start);
    if (!err)
        err = atota_flash_write(flash, offset, data, (uint32_t)len);
    if (err)
        return atota_diag_set(diag, err, "%s: cannot program 0x%x bytes at 0x%x: %s", what,
                              (unsigned)len, offset, atota_strerror(err));
    return ATOTA_OK;
}

atota_err_t atota_flash_layout_write(const atota_flash_t *flash, const atota_profile_t *profile,
                                     const atota_flash_layout_t *images, atota_diag_t *diag)
{
    if (!flash || !profile || !images || !images->app.data)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no app image to lay out");
    const atota_partition_t *slots[16];
    unsigned nslots = atota_boot_ota_slots(&profile->partitions, slots);
    const atota_partition_t *factory = atota_partition_find_type(
        &profile->partitions, ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_FACTORY);
    const atota_partition_t *first = nslots ? slots[0] : factory;
    if (!first)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "%s: profile has no app partition",
                              profile->name);
    if (images->ota1.data && nslots < 2)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "%s: profile has no ota_1 partition for a second app", profile->name);

    /* The bootloader area runs from the chip's bootloader offset to the partition table. */
    atota_partition_t boot_area = {.offset = profile->chip->bootloader_offset,
                                   .size = profile->partition_table_offset -
                                           profile->chip->bootloader_offset};
    memcpy(boot_area.name, "bootloader", sizeof "bootloader");
    const atota_flash_layout_image_t *apps[2] = {&images->app, &images->ota1};
    const atota_partition_t *targets[2] = {first, nslots > 1 ? slots[1] : NULL};

    /* Everything is checked before anything is erased. */
    atota_err_t err;
    if (images->bootloader.data &&
        (err = check_image(&images->bootloader, profile, &boot_area, true, diag)))
        return err;
    for (int i = 0; i < 2; i++)
        if (apps[i]->data && (err = check_image(apps[i], profile, targets[i], false, diag)))
            return err;
    const atota_partition_table_t *at_customize =
        images->at_customize ? images->at_customize : &profile->at_customize;
    if (images->at_customize) {
        atota_diag_t d = {{0}};
        if ((err = atota_profile_check_at_customize(profile, at_customize, &d)))
            return atota_diag_set(diag, err, "at_customize: %s", atota_diag_text(&d, err));
    }

    if (images->bootloader.data && (err = program(flash, boot_area.offset, images->bootloader.data,
                                                  images->bootloader.len, "bootloader", diag)))
        return err;

    /* partitions_at.bin, without an MD5 row, as ESP-AT builds it (esp-at-ota.md §5.1). */
    uint8_t buf[ATOTA_PT_BIN_SIZE];
    if ((err = atota_partition_table_write_bin(&profile->partitions, buf, diag)) ||
        (err = program(flash, profile->partition_table_offset, buf, sizeof buf, "partition table",
                       diag)))
        return err;

    /* at_customize.bin at the start of the at_customize partition (esp-at-ota.md §5.2); its
     * sub-partitions stay erased, as after `AT+SYSFLASH=0,...`. */
    if ((err = atota_partition_table_write_bin(at_customize, buf, diag)) ||
        (err = program(flash, profile->at_customize_offset, buf, sizeof buf, "at_customize.bin",
                       diag)))
        return err;

    /* otadata stays erased, as ESP-IDF's ota_data_initial.bin: the bootloader then boots ota_0
     * and records seq 1 (esp-idf-formats.md §7, set_actual_ota_seq). */
    for (int i = 0; i < 2; i++)
        if (apps[i]->data && (err = program(flash, targets[i]->offset, apps[i]->data, apps[i]->len,
                                            targets[i]->name, diag)))
            return err;
    return ATOTA_OK;
}

/* The image header's flash size code for the profile (esp-idf-formats.md §2.1: 0 = 1 MB,
 * 1 = 2 MB, 2 = 4 MB, ...). */
static uint8_t flash_size_code(uint32_t flash_size)
{
    uint8_t code = 0;
    while (code < 7 && (0x100000u << code) < flash_size)
        code++;
    return code;
}

/* The factory firmware's "ELF SHA-256": SHA-256 of "atota-sim factory firmware v4.1.0.0". A
 * fixed, non-zero value, since AT+GMR derives its commit ids from it (docs/module.md). */
static const uint8_t FACTORY_ELF_SHA256[32] = {
    0xa0, 0x84, 0x03, 0x1e, 0x80, 0x21, 0x91, 0x7c, 0xb2, 0x1f, 0xa1, 0xd1, 0x53, 0x1f, 0x18, 0x79,
    0xe6, 0x86, 0x4a, 0x8c, 0x1a, 0xd5, 0x7b, 0x68, 0x50, 0xf9, 0xfb, 0x2c, 0xdf, 0x0a, 0xd6, 0xa7};

static void factory_opts(const atota_profile_t *profile, atota_image_build_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->chip_id = profile->chip->id;
    o->version = ATOTA_FACTORY_APP_VERSION;
    o->project_name = ATOTA_FACTORY_APP_PROJECT;
    o->idf_ver = ATOTA_FACTORY_APP_IDF_VER;
    o->date = FACTORY_DATE;
    o->time = FACTORY_TIME;
    o->app_elf_sha256 = FACTORY_ELF_SHA256;
    o->spi_size = flash_size_code(profile->flash_size);
}

size_t atota_flash_layout_factory_app_size(const atota_profile_t *profile)
{
    atota_image_build_opts_t o;
    factory_opts(profile, &o);
    return atota_image_build_size(&o);
}

atota_err_t atota_flash_layout_factory_app(const atota_profile_t *profile, uint8_t *out, size_t cap,
                                           size_t *out_len, atota_diag_t *diag)
{
    atota_image_build_opts_t o;
    factory_opts(profile, &o);
    return atota_image_build(&o, out, cap, out_len, diag);
}
