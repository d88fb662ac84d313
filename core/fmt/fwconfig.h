/*
 * The firmware-configuration block: what ESP-AT compiles into its firmware (module name, the OTA
 * server's host, port and token for AT+CIUPDATE, the SSL server's, features on or off), carried
 * inside an app image so that an upgrade brings its own configuration, as on a real module.
 *
 * The block is the payload of a segment of its own, placed by atota_image_build in flash-mapped
 * DROM after the app descriptor's segment, so the image stays valid for esptool and ESP-IDF (the
 * segment is covered by the checksum and the SHA-256). Layout (little-endian):
 *   "ATOTACFG" magic, u16 format version (1), u16 payload length, u32 CRC32 of the payload, then
 *   the payload: "KEY=VALUE\n" lines in UTF-8.
 * Images without the block, such as real ESP-AT builds, get ESP-AT's defaults
 * (esp-at-ota.md §3: iot.espressif.cn, ports 80 and 443, the public default token).
 */
#ifndef ATOTA_CORE_FMT_FWCONFIG_H
#define ATOTA_CORE_FMT_FWCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fmt/image.h"
#include "core/hal.h"

#define ATOTA_FWCONFIG_MAGIC         "ATOTACFG"
#define ATOTA_FWCONFIG_HEADER_LEN    16
#define ATOTA_FWCONFIG_MAX_LEN       2048 /* the whole block */
#define ATOTA_FWCONFIG_DEFAULT_HOST  "iot.espressif.cn"
#define ATOTA_FWCONFIG_DEFAULT_TOKEN "dd93253c287f725de50d4071a05dd28b72056ca7"

/* Features (bits of atota_fwconfig_t.features); all on by default. */
#define ATOTA_FEATURE_OTA       (1u << 0) /* CONFIG_AT_OTA_SUPPORT: AT+CIUPDATE */
#define ATOTA_FEATURE_OTA_SSL   (1u << 1) /* CONFIG_AT_OTA_SSL_SUPPORT: AT+CIUPDATE=1 */
#define ATOTA_FEATURE_USEROTA   (1u << 2) /* AT+USEROTA */
#define ATOTA_FEATURE_WEBSERVER (1u << 3) /* AT+WEBSERVER */
#define ATOTA_FEATURE_ALL       0xFu

typedef struct {
    bool present;         /* the image carries a block (else these are the defaults) */
    char module_name[32]; /* empty: the module profile's name */
    char ota_host[128];   /* CONFIG_AT_OTA_SERVER_IP */
    uint16_t ota_port;    /* CONFIG_AT_OTA_SERVER_PORT */
    char ota_token[65];   /* CONFIG_AT_OTA_TOKEN_KEY */
    char ssl_host[128];   /* CONFIG_AT_OTA_SSL_SERVER_IP */
    uint16_t ssl_port;    /* CONFIG_AT_OTA_SSL_SERVER_PORT */
    char ssl_token[65];   /* CONFIG_AT_OTA_SSL_TOKEN_KEY */
    uint32_t features;    /* ATOTA_FEATURE_* */
} atota_fwconfig_t;

/* ESP-AT's defaults. */
void atota_fwconfig_defaults(atota_fwconfig_t *c);

/* Applies one "KEY=VALUE" (the `atota image create --config` option). Keys: module_name,
 * ota_host, ota_port, ota_token, ssl_host, ssl_port, ssl_token, and feature names (ota, ota_ssl,
 * userota, webserver) with on/off. Unknown keys and bad values are ATOTA_ERR_FWCONFIG with a
 * message naming them. */
atota_err_t atota_fwconfig_set(atota_fwconfig_t *c, const char *key_value, atota_diag_t *diag);

/* Encodes the block (header and payload) into out; returns its length, or 0 if cap is short. */
size_t atota_fwconfig_encode(const atota_fwconfig_t *c, uint8_t *out, size_t cap);

/* Decodes a block that starts at data (len bytes available). ATOTA_ERR_NOT_FOUND when there is
 * no magic, ATOTA_ERR_FWCONFIG when the magic is there but the rest is damaged. */
atota_err_t atota_fwconfig_decode(const uint8_t *data, size_t len, atota_fwconfig_t *c,
                                  atota_diag_t *diag);

/* Finds the block in a verified image on flash (the image at offset, info from
 * atota_image_verify_flash): looks at the start of each segment after the first. No block:
 * the defaults and ATOTA_OK (present false). */
atota_err_t atota_fwconfig_read_flash(const atota_flash_t *flash, uint32_t offset,
                                      const atota_image_info_t *info, atota_fwconfig_t *c,
                                      atota_diag_t *diag);

#endif /* ATOTA_CORE_FMT_FWCONFIG_H */
