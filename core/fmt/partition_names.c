/*
 * The type and subtype keywords of partition tables: gen_esp32part.py's TYPES and SUBTYPES
 * (esp-idf-formats.md §4.3), in its dictionary order, which its to_csv() and its "Known keywords"
 * messages follow.
 */
#include <string.h>

#include "core/fmt/partition.h"

/* gen_esp32part TYPES: bootloader and partition_table come first (v5.4+). */
static const atota_partition_keyword_t types[] = {
    {"bootloader", ATOTA_PT_TYPE_BOOTLOADER},
    {"partition_table", ATOTA_PT_TYPE_PARTITION_TABLE},
    {"app", ATOTA_PT_TYPE_APP},
    {"data", ATOTA_PT_TYPE_DATA},
};

static const atota_partition_keyword_t bootloader_subtypes[] = {
    {"primary", 0x00},
    {"ota", 0x01},
    {"recovery", 0x02},
};

static const atota_partition_keyword_t partition_table_subtypes[] = {
    {"primary", 0x00},
    {"ota", 0x01},
};

/* factory and test, then the ota_N slots and the TEE slots that gen_esp32part appends. */
static const atota_partition_keyword_t app_subtypes[] = {
    {"factory", ATOTA_PT_SUBTYPE_APP_FACTORY},
    {"test", ATOTA_PT_SUBTYPE_APP_TEST},
    {"ota_0", 0x10},
    {"ota_1", 0x11},
    {"ota_2", 0x12},
    {"ota_3", 0x13},
    {"ota_4", 0x14},
    {"ota_5", 0x15},
    {"ota_6", 0x16},
    {"ota_7", 0x17},
    {"ota_8", 0x18},
    {"ota_9", 0x19},
    {"ota_10", 0x1A},
    {"ota_11", 0x1B},
    {"ota_12", 0x1C},
    {"ota_13", 0x1D},
    {"ota_14", 0x1E},
    {"ota_15", 0x1F},
    {"tee_0", 0x30},
    {"tee_1", 0x31},
};

static const atota_partition_keyword_t data_subtypes[] = {
    {"ota", ATOTA_PT_SUBTYPE_DATA_OTA},
    {"phy", ATOTA_PT_SUBTYPE_DATA_PHY},
    {"nvs", ATOTA_PT_SUBTYPE_DATA_NVS},
    {"coredump", 0x03},
    {"nvs_keys", 0x04},
    {"efuse", 0x05},
    {"undefined", ATOTA_PT_SUBTYPE_DATA_UNDEFINED},
    {"esphttpd", 0x80},
    {"fat", 0x81},
    {"spiffs", 0x82},
    {"littlefs", 0x83},
    {"tee_ota", 0x90},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const atota_partition_keyword_t *atota_partition_type_keywords(size_t *count)
{
    *count = COUNT(types);
    return types;
}

const atota_partition_keyword_t *atota_partition_subtype_keywords(uint8_t type, size_t *count)
{
    switch (type) {
    case ATOTA_PT_TYPE_BOOTLOADER:
        *count = COUNT(bootloader_subtypes);
        return bootloader_subtypes;
    case ATOTA_PT_TYPE_PARTITION_TABLE:
        *count = COUNT(partition_table_subtypes);
        return partition_table_subtypes;
    case ATOTA_PT_TYPE_APP:
        *count = COUNT(app_subtypes);
        return app_subtypes;
    case ATOTA_PT_TYPE_DATA:
        *count = COUNT(data_subtypes);
        return data_subtypes;
    default:
        *count = 0;
        return NULL;
    }
}

/* to_csv's lookup_keyword(): the first keyword with this value, in dictionary order. */
static const char *lookup(const atota_partition_keyword_t *kw, size_t n, uint8_t value)
{
    for (size_t i = 0; i < n; i++)
        if (kw[i].value == value)
            return kw[i].name;
    return NULL;
}

const char *atota_partition_type_name(uint8_t type)
{
    return lookup(types, COUNT(types), type);
}

const char *atota_partition_subtype_name(uint8_t type, uint8_t subtype)
{
    size_t n;
    const atota_partition_keyword_t *kw = atota_partition_subtype_keywords(type, &n);
    return lookup(kw, n, subtype);
}

const atota_partition_t *atota_partition_find(const atota_partition_table_t *table,
                                              const char *name)
{
    for (unsigned i = 0; i < table->count && i < ATOTA_PT_MAX_ENTRIES; i++)
        if (strcmp(table->entries[i].name, name) == 0)
            return &table->entries[i];
    return NULL;
}

const atota_partition_t *atota_partition_find_type(const atota_partition_table_t *table,
                                                   uint8_t type, uint8_t subtype)
{
    for (unsigned i = 0; i < table->count && i < ATOTA_PT_MAX_ENTRIES; i++)
        if (table->entries[i].type == type && table->entries[i].subtype == subtype)
            return &table->entries[i];
    return NULL;
}
