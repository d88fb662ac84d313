#include "server/validate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt/image.h"
#include "core/fmt/profile.h"
#include "core/proto/iot.h"
#include "server/store.h"

/* AT+CIUPDATE's magic table, s_at_partition_sig (esp-at-ota.md §3.5): the first body bytes a
 * custom partition's file must carry. ota is the app image (checked whole, below). */
typedef struct {
    const char *label;
    uint32_t offset;
    uint8_t magic[2];
} magic_t;

static const magic_t magic_table[] = {
    {"mqtt_ca", 0, {0xF1, 0xF1}},
    {"mqtt_cert", 0, {0xF1, 0xF1}},
    {"mqtt_key", 0, {0xF1, 0xF1}},
    {"client_ca", 0, {0xF1, 0xF1}},
    {"client_cert", 0, {0xF1, 0xF1}},
    {"client_key", 0, {0xF1, 0xF1}},
    {"server_ca", 0, {0xF1, 0xF1}},
    {"server_cert", 0, {0xF1, 0xF1}},
    {"server_key", 0, {0xF1, 0xF1}},
    {"wpa_ent_ca", 0, {0xF1, 0xF1}},
    {"wpa_ent_cert", 0, {0xF1, 0xF1}},
    {"wpa_ent_key", 0, {0xF1, 0xF1}},
    /* the same, with CONFIG_AT_EAP_LEGACY_NAMESPACE_SUPPORT */
    {"wpa2_ca", 0, {0xF1, 0xF1}},
    {"wpa2_cert", 0, {0xF1, 0xF1}},
    {"wpa2_key", 0, {0xF1, 0xF1}},
    {"ble_data", 2, {0x27, 0x95}},
    {"factory_param", 0, {0xFC, 0xFC}},
};

/* ESP-AT v2.0's at_customize.csv (shared/vectors/at_customize/esp32_esp-at-v2.0_at_customize.csv,
 * esp-at-ota.md §5.2 "legacy layout"): the table that holds the labels of the magic table; today's
 * defaults (the embedded profiles) hold only mfg_nvs and fs_storage. The wpa_ent_* names replaced
 * wpa2_* later with the same sizes. */
typedef struct {
    const char *label;
    uint32_t size;
} label_size_t;

static const label_size_t esp_at_v2_table[] = {
    {"ble_data", 12 * 1024},    {"server_cert", 8 * 1024},   {"server_key", 8 * 1024},
    {"server_ca", 8 * 1024},    {"client_cert", 8 * 1024},   {"client_key", 8 * 1024},
    {"client_ca", 8 * 1024},    {"factory_param", 4 * 1024}, {"wpa2_cert", 8 * 1024},
    {"wpa2_key", 8 * 1024},     {"wpa2_ca", 8 * 1024},       {"mqtt_cert", 8 * 1024},
    {"mqtt_key", 8 * 1024},     {"mqtt_ca", 8 * 1024},       {"fatfs", 576 * 1024},
    {"wpa_ent_cert", 8 * 1024}, {"wpa_ent_key", 8 * 1024},   {"wpa_ent_ca", 8 * 1024},
};

/* The labels of the embedded profiles' at_customize tables, read once. */
#define MAX_PROFILE_LABELS 256
static label_size_t profile_labels[MAX_PROFILE_LABELS];
static char profile_label_text[MAX_PROFILE_LABELS][ATOTA_VALIDATE_LABEL_MAX + 1];
static unsigned profile_label_count;
static pthread_once_t profile_once = PTHREAD_ONCE_INIT;

static void add_label(const char *label, uint32_t size)
{
    for (unsigned i = 0; i < profile_label_count; i++) {
        if (strcmp(profile_labels[i].label, label) == 0) {
            if (size > profile_labels[i].size)
                profile_labels[i].size = size;
            return;
        }
    }
    if (profile_label_count == MAX_PROFILE_LABELS)
        return;
    unsigned i = profile_label_count++;
    snprintf(profile_label_text[i], sizeof profile_label_text[i], "%s", label);
    profile_labels[i].label = profile_label_text[i];
    profile_labels[i].size = size;
}

static void load_profiles(void)
{
    atota_profile_t *p = malloc(sizeof *p);
    if (!p)
        return;
    for (unsigned i = 0; atota_profile_name(i); i++) {
        if (atota_profile_load(atota_profile_name(i), p, NULL) != ATOTA_OK)
            continue;
        for (unsigned e = 0; e < p->at_customize.count; e++)
            add_label(p->at_customize.entries[e].name, p->at_customize.entries[e].size);
    }
    free(p);
}

uint32_t atota_validate_label_max_size(const char *label)
{
    pthread_once(&profile_once, load_profiles);
    uint32_t best = 0;
    for (unsigned i = 0; i < profile_label_count; i++)
        if (strcmp(profile_labels[i].label, label) == 0 && profile_labels[i].size > best)
            best = profile_labels[i].size;
    for (size_t i = 0; i < sizeof esp_at_v2_table / sizeof esp_at_v2_table[0]; i++)
        if (strcmp(esp_at_v2_table[i].label, label) == 0 && esp_at_v2_table[i].size > best)
            best = esp_at_v2_table[i].size;
    return best;
}

bool atota_validate_object_name(const char *s)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    if (len < 1 || len > ATOTA_STORE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

bool atota_validate_version(const char *s)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    if (len < 1 || len > ATOTA_STORE_VERSION_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '~'))
            return false;
    }
    return atota_iot_version_is_safe(s);
}

bool atota_validate_name(const char *name)
{
    if (!name)
        return false;
    size_t len = strlen(name);
    if (len < 5 || len > ATOTA_VALIDATE_LABEL_MAX + 4 || strcmp(name + len - 4, ".bin") != 0)
        return false;
    for (size_t i = 0; i < len - 4; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static atota_err_t validate_app(const void *data, size_t len, atota_validate_result_t *out,
                                atota_diag_t *diag)
{
    atota_image_info_t *info = malloc(sizeof *info);
    if (!info)
        return ATOTA_ERR_NO_MEM;
    atota_diag_t d = {{0}};
    atota_err_t err = atota_image_parse(data, len, NULL, info, &d);
    if (err) {
        atota_diag_set(diag, err, "ota.bin is not a valid app image: %s", atota_diag_text(&d, err));
    } else if (!info->has_app_desc) {
        err = atota_diag_set(diag, ATOTA_ERR_IMAGE_NO_APP_DESC,
                             "ota.bin is not a valid app image: it has no app descriptor");
    } else {
        const atota_chip_t *chip = atota_chip_by_id(info->header.chip_id);
        if (chip)
            snprintf(out->chip, sizeof out->chip, "%s", chip->target);
        else
            snprintf(out->chip, sizeof out->chip, "0x%04x", info->header.chip_id);
        snprintf(out->app_version, sizeof out->app_version, "%s", info->app_desc.version);
        snprintf(out->project, sizeof out->project, "%s", info->app_desc.project_name);
    }
    free(info);
    return err;
}

static const magic_t *find_magic(const char *label)
{
    for (size_t i = 0; i < sizeof magic_table / sizeof magic_table[0]; i++)
        if (strcmp(magic_table[i].label, label) == 0)
            return &magic_table[i];
    return NULL;
}

static atota_err_t validate_label(const char *name, const uint8_t *data, size_t len,
                                  atota_validate_result_t *out, atota_diag_t *diag)
{
    const char *label = out->label;
    uint32_t part_size = atota_validate_label_max_size(label);
    out->max_size = part_size ? part_size : ATOTA_VALIDATE_MAX_SIZE;
    if (len > out->max_size)
        return atota_diag_set(diag, ATOTA_ERR_TOO_BIG,
                              "%s is %zu bytes, larger than the largest %s partition of ESP-AT "
                              "(%u bytes)",
                              name, len, label, (unsigned)out->max_size);
    const magic_t *m = find_magic(label);
    if (m) {
        /* esp-at-ota.md §3.5: compared on the first body bytes; a shorter file fails too. */
        if (len < m->offset + 2)
            return atota_diag_set(diag, ATOTA_ERR_UNSUPPORTED,
                                  "%s is %zu bytes: too short for the magic %02X %02X ESP-AT "
                                  "checks at offset %u",
                                  name, len, m->magic[0], m->magic[1], (unsigned)m->offset);
        if (data[m->offset] != m->magic[0] || data[m->offset + 1] != m->magic[1])
            return atota_diag_set(diag, ATOTA_ERR_UNSUPPORTED,
                                  "%s must have the magic %02X %02X at offset %u (ESP-AT's check "
                                  "for %s), it has %02X %02X",
                                  name, m->magic[0], m->magic[1], (unsigned)m->offset, label,
                                  data[m->offset], data[m->offset + 1]);
        return ATOTA_OK;
    }
    if (part_size)
        snprintf(out->warning, sizeof out->warning,
                 "ESP-AT has no magic for %s: AT+CIUPDATE erases the partition and then refuses "
                 "the file (esp-at-ota.md 3.5); AT+WEBSERVER or AT+SYSFLASH can write it",
                 label);
    else
        snprintf(out->warning, sizeof out->warning,
                 "no at_customize table of ESP-AT has a partition %s, and ESP-AT has no magic for "
                 "it: AT+CIUPDATE would refuse the file",
                 label);
    return ATOTA_OK;
}

atota_err_t atota_validate_file(const char *name, const void *data, size_t len,
                                atota_validate_result_t *out, atota_diag_t *diag)
{
    atota_validate_result_t local;
    if (!out)
        out = &local;
    memset(out, 0, sizeof *out);
    if (!atota_validate_name(name))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "invalid file name \"%.40s\": must be ota.bin or <label>.bin with a "
                              "label of 1 to 16 characters a-z, 0-9, _",
                              name ? name : "");
    snprintf(out->label, sizeof out->label, "%.*s", (int)(strlen(name) - 4), name);
    if (len > ATOTA_VALIDATE_MAX_SIZE)
        return atota_diag_set(diag, ATOTA_ERR_TOO_BIG, "%s is %zu bytes: files are limited to %u",
                              name, len, ATOTA_VALIDATE_MAX_SIZE);
    if (len == 0)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "%s is empty", name);
    if (strcmp(name, "ota.bin") == 0) {
        out->is_app = true;
        out->max_size = ATOTA_VALIDATE_MAX_SIZE;
        return validate_app(data, len, out, diag);
    }
    return validate_label(name, data, len, out, diag);
}
