/*
 * The chip table: ids, names, flash offsets and address ranges, taken from esptool's targets
 * (ET:esptool/targets/esp32*.py: IMAGE_CHIP_ID, CHIP_NAME, BOOTLOADER_FLASH_OFFSET,
 * IROM_MAP_START/END, DROM_MAP_START/END, MEMORY_MAP) so that `atota image info` names memory
 * exactly as `esptool image-info` v5.3.1 does.
 */
#include <stdio.h>
#include <string.h>

#include "core/fmt/image.h"

/* One MEMORY_MAP row: [start, end) and its name. esptool lists every row containing the address,
 * in table order, so overlapping rows ("DRAM", "BYTE_ACCESSIBLE") give several names. */
typedef struct {
    uint32_t start;
    uint32_t end;
    const char *name;
} mem_range_t;

#define MEM_END                                                                                    \
    {                                                                                              \
        0, 0, NULL                                                                                 \
    }

static const mem_range_t esp32_map[] = {
    {0x00000000, 0x00010000, "PADDING"},
    {0x3F400000, 0x3F800000, "DROM"},
    {0x3F800000, 0x3FC00000, "EXTRAM_DATA"},
    {0x3FF80000, 0x3FF82000, "RTC_DRAM"},
    {0x3FF90000, 0x40000000, "BYTE_ACCESSIBLE"},
    {0x3FFAE000, 0x40000000, "DRAM"},
    {0x3FFE0000, 0x3FFFFFFC, "DIRAM_DRAM"},
    {0x40000000, 0x40070000, "IROM"},
    {0x40070000, 0x40078000, "CACHE_PRO"},
    {0x40078000, 0x40080000, "CACHE_APP"},
    {0x40080000, 0x400A0000, "IRAM"},
    {0x400A0000, 0x400BFFFC, "DIRAM_IRAM"},
    {0x400C0000, 0x400C2000, "RTC_IRAM"},
    {0x400D0000, 0x40400000, "IROM"},
    {0x50000000, 0x50002000, "RTC_DATA"},
    MEM_END,
};

static const mem_range_t esp32s2_map[] = {
    {0x00000000, 0x00010000, "PADDING"},
    {0x3F000000, 0x3FF80000, "DROM"},
    {0x3F500000, 0x3FF80000, "EXTRAM_DATA"},
    {0x3FF9E000, 0x3FFA0000, "RTC_DRAM"},
    {0x3FF9E000, 0x40000000, "BYTE_ACCESSIBLE"},
    {0x3FF9E000, 0x40072000, "MEM_INTERNAL"},
    {0x3FFB0000, 0x40000000, "DRAM"},
    {0x40000000, 0x4001A100, "IROM_MASK"},
    {0x40020000, 0x40070000, "IRAM"},
    {0x40070000, 0x40072000, "RTC_IRAM"},
    {0x40080000, 0x40800000, "IROM"},
    {0x50000000, 0x50002000, "RTC_DATA"},
    MEM_END,
};

static const mem_range_t esp32s3_map[] = {
    {0x00000000, 0x00010000, "PADDING"},
    {0x3C000000, 0x3D000000, "DROM"},
    {0x3D000000, 0x3E000000, "EXTRAM_DATA"},
    {0x600FE000, 0x60100000, "RTC_DRAM"},
    {0x3FC88000, 0x3FD00000, "BYTE_ACCESSIBLE"},
    {0x3FC88000, 0x403E2000, "MEM_INTERNAL"},
    {0x3FC88000, 0x3FD00000, "DRAM"},
    {0x40000000, 0x4001A100, "IROM_MASK"},
    {0x40370000, 0x403E0000, "IRAM"},
    {0x600FE000, 0x60100000, "RTC_IRAM"},
    {0x42000000, 0x42800000, "IROM"},
    {0x50000000, 0x50002000, "RTC_DATA"},
    MEM_END,
};

static const mem_range_t esp32c3_map[] = {
    {0x00000000, 0x00010000, "PADDING"},       {0x3C000000, 0x3C800000, "DROM"},
    {0x3FC80000, 0x3FCE0000, "DRAM"},          {0x3FC88000, 0x3FD00000, "BYTE_ACCESSIBLE"},
    {0x3FF00000, 0x3FF20000, "DROM_MASK"},     {0x40000000, 0x40060000, "IROM_MASK"},
    {0x42000000, 0x42800000, "IROM"},          {0x4037C000, 0x403E0000, "IRAM"},
    {0x50000000, 0x50002000, "RTC_IRAM"},      {0x50000000, 0x50002000, "RTC_DRAM"},
    {0x600FE000, 0x60100000, "MEM_INTERNAL2"}, MEM_END,
};

static const mem_range_t esp32c2_map[] = {
    {0x00000000, 0x00010000, "PADDING"},
    {0x3C000000, 0x3C400000, "DROM"},
    {0x3FCA0000, 0x3FCE0000, "DRAM"},
    {0x3FC88000, 0x3FD00000, "BYTE_ACCESSIBLE"},
    {0x3FF00000, 0x3FF50000, "DROM_MASK"},
    {0x40000000, 0x40090000, "IROM_MASK"},
    {0x42000000, 0x42400000, "IROM"},
    {0x4037C000, 0x403C0000, "IRAM"},
    MEM_END,
};

/* ESP32-C6 and ESP32-H2 (which inherits it in esptool). */
static const mem_range_t esp32c6_map[] = {
    {0x00000000, 0x00010000, "PADDING"},       {0x42000000, 0x43000000, "DROM"},
    {0x40800000, 0x40880000, "DRAM"},          {0x40800000, 0x40880000, "BYTE_ACCESSIBLE"},
    {0x4004AC00, 0x40050000, "DROM_MASK"},     {0x40000000, 0x4004AC00, "IROM_MASK"},
    {0x42000000, 0x43000000, "IROM"},          {0x40800000, 0x40880000, "IRAM"},
    {0x50000000, 0x50004000, "RTC_IRAM"},      {0x50000000, 0x50004000, "RTC_DRAM"},
    {0x600FE000, 0x60100000, "MEM_INTERNAL2"}, MEM_END,
};

static const mem_range_t esp32c5_map[] = {
    {0x00000000, 0x00010000, "PADDING"},       {0x42000000, 0x44000000, "DROM"},
    {0x40800000, 0x40860000, "DRAM"},          {0x40800000, 0x40860000, "BYTE_ACCESSIBLE"},
    {0x4003A000, 0x40040000, "DROM_MASK"},     {0x40000000, 0x4003A000, "IROM_MASK"},
    {0x42000000, 0x44000000, "IROM"},          {0x40800000, 0x40860000, "IRAM"},
    {0x50000000, 0x50004000, "RTC_IRAM"},      {0x50000000, 0x50004000, "RTC_DRAM"},
    {0x600FE000, 0x60100000, "MEM_INTERNAL2"}, MEM_END,
};

static const mem_range_t esp32c61_map[] = {
    {0x00000000, 0x00010000, "PADDING"},       {0x42000000, 0x44000000, "DROM"},
    {0x40800000, 0x40860000, "DRAM"},          {0x40800000, 0x40860000, "BYTE_ACCESSIBLE"},
    {0x4004AC00, 0x40050000, "DROM_MASK"},     {0x40000000, 0x4004AC00, "IROM_MASK"},
    {0x42000000, 0x44000000, "IROM"},          {0x40800000, 0x40860000, "IRAM"},
    {0x50000000, 0x50004000, "RTC_IRAM"},      {0x50000000, 0x50004000, "RTC_DRAM"},
    {0x600FE000, 0x60100000, "MEM_INTERNAL2"}, MEM_END,
};

static const mem_range_t esp32p4_map[] = {
    {0x00000000, 0x00010000, "PADDING"},       {0x40000000, 0x4C000000, "DROM"},
    {0x4FF00000, 0x4FFA0000, "DRAM"},          {0x4FF00000, 0x4FFA0000, "BYTE_ACCESSIBLE"},
    {0x4FC00000, 0x4FC20000, "DROM_MASK"},     {0x4FC00000, 0x4FC20000, "IROM_MASK"},
    {0x40000000, 0x4C000000, "IROM"},          {0x4FF00000, 0x4FFA0000, "IRAM"},
    {0x50108000, 0x50110000, "RTC_IRAM"},      {0x50108000, 0x50110000, "RTC_DRAM"},
    {0x600FE000, 0x60100000, "MEM_INTERNAL2"}, MEM_END,
};

typedef struct {
    atota_chip_t chip;
    const mem_range_t *map;
} chip_entry_t;

/* mmu_page_configurable: the chips whose IDF picks the MMU page from the flash size or
 * mmu_page_size (esp_app_desc_t, v5.4+); the others always use 64 KB pages.
 * default_max_rev: the CONFIG_<CHIP>_REV_MAX_FULL an IDF v5.x build writes (ESP32 399, §3); the
 * vectors show ESP32-C3 v1.99 and C5/C6/H2 v0.99. */
static const chip_entry_t chips[] = {
    {{ATOTA_CHIP_ESP32, "esp32", "ESP32", 0x1000, 0x3F400000, 0x3F800000, 0x400D0000, 0x40400000,
      0x40080000, 399, false},
     esp32_map},
    {{ATOTA_CHIP_ESP32S2, "esp32s2", "ESP32-S2", 0x1000, 0x3F000000, 0x3F3F0000, 0x40080000,
      0x40B80000, 0x40022000, 199, false},
     esp32s2_map},
    {{ATOTA_CHIP_ESP32C3, "esp32c3", "ESP32-C3", 0x0, 0x3C000000, 0x3C800000, 0x42000000,
      0x42800000, 0x40380000, 199, false},
     esp32c3_map},
    {{ATOTA_CHIP_ESP32S3, "esp32s3", "ESP32-S3", 0x0, 0x3C000000, 0x3E000000, 0x42000000,
      0x44000000, 0x40375000, 99, false},
     esp32s3_map},
    {{ATOTA_CHIP_ESP32C2, "esp32c2", "ESP32-C2", 0x0, 0x3C000000, 0x3C400000, 0x42000000,
      0x42400000, 0x40380000, 199, true},
     esp32c2_map},
    {{ATOTA_CHIP_ESP32C6, "esp32c6", "ESP32-C6", 0x0, 0x42800000, 0x43000000, 0x42000000,
      0x42800000, 0x40800000, 99, true},
     esp32c6_map},
    {{ATOTA_CHIP_ESP32H2, "esp32h2", "ESP32-H2", 0x0, 0x42800000, 0x43000000, 0x42000000,
      0x42800000, 0x40800000, 99, true},
     esp32c6_map},
    {{ATOTA_CHIP_ESP32P4, "esp32p4", "ESP32-P4", 0x2000, 0x40000000, 0x4C000000, 0x40000000,
      0x4C000000, 0x4FF00000, 199, false},
     esp32p4_map},
    {{ATOTA_CHIP_ESP32C61, "esp32c61", "ESP32-C61", 0x0, 0x42000000, 0x44000000, 0x42000000,
      0x44000000, 0x40800000, 99, true},
     esp32c61_map},
    {{ATOTA_CHIP_ESP32C5, "esp32c5", "ESP32-C5", 0x2000, 0x42000000, 0x44000000, 0x42000000,
      0x44000000, 0x40800000, 99, true},
     esp32c5_map},
};

#define CHIP_COUNT (sizeof chips / sizeof chips[0])

const atota_chip_t *atota_chip_by_id(uint16_t id)
{
    for (size_t i = 0; i < CHIP_COUNT; i++)
        if (chips[i].chip.id == id)
            return &chips[i].chip;
    return NULL;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b))
            return false;
    return *a == *b;
}

const atota_chip_t *atota_chip_by_target(const char *target)
{
    if (!target)
        return NULL;
    for (size_t i = 0; i < CHIP_COUNT; i++)
        if (same_name(chips[i].chip.target, target))
            return &chips[i].chip;
    return NULL;
}

const atota_chip_t *atota_chip_at(size_t index)
{
    return index < CHIP_COUNT ? &chips[index].chip : NULL;
}

static const mem_range_t *map_of(const atota_chip_t *chip)
{
    for (size_t i = 0; i < CHIP_COUNT; i++)
        if (&chips[i].chip == chip || chips[i].chip.id == chip->id)
            return chips[i].map;
    return NULL;
}

const char *atota_chip_memory_types(const atota_chip_t *chip, uint32_t load_addr, char *out,
                                    size_t cap)
{
    if (!out || cap == 0)
        return out;
    out[0] = '\0';
    const mem_range_t *map = chip ? map_of(chip) : NULL;
    if (!map)
        return out;
    size_t used = 0;
    /* esptool: ", ".join(name for start, end, name in MEMORY_MAP if start <= addr < end) */
    for (const mem_range_t *r = map; r->name; r++) {
        if (load_addr < r->start || load_addr >= r->end)
            continue;
        int n = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", r->name);
        if (n < 0 || (size_t)n >= cap - used)
            break; /* truncated: out stays NUL-terminated */
        used += (size_t)n;
    }
    return out;
}

bool atota_chip_is_mapped(const atota_chip_t *chip, uint32_t load_addr)
{
    if (!chip)
        return false;
    return (load_addr >= chip->irom_base && load_addr < chip->irom_end) ||
           (load_addr >= chip->drom_base && load_addr < chip->drom_end);
}
