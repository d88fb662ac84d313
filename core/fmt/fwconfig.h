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
 * The CRC is the standard CRC-32 (atota_crc32_le(0, payload, len)). Every line ends in '\n', a key
 * appears at most once, keys not listed keep their default; docs/formats.md has the details.
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

/* ATOTA's download policy defaults (docs/userota.md): ESP-AT has neither resume nor an overall
 * limit; these keep a dropped connection or a stalled server from failing or hanging an update. */
#define ATOTA_FWCONFIG_DEFAULT_OTA_RETRIES    5u
#define ATOTA_FWCONFIG_DEFAULT_OTA_TIME_LIMIT 300u /* seconds */
#define ATOTA_FWCONFIG_MAX_OTA_RETRIES        100u
#define ATOTA_FWCONFIG_MAX_OTA_TIME_LIMIT     86400u
#define ATOTA_FWCONFIG_WEB_PASSWORD_MAX       64u /* characters of web_password */

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
    /* ATOTA's own (no ESP-AT Kconfig): the download policy of AT+USEROTA (docs/userota.md) */
    uint32_t ota_retries;    /* resumes after a dropped connection, 0-100 (0: none, as ESP-AT) */
    uint32_t ota_time_limit; /* seconds for a whole download, 0-86400 (0: none, as ESP-AT) */
    /* ATOTA's own: the password AT+WEBSERVER's /setotadata asks for in its X-Upload-Password
     * header (docs/webserver.md); empty: no password, as ESP-AT */
    char web_password[ATOTA_FWCONFIG_WEB_PASSWORD_MAX + 1];
    /* CONFIG_AT_WEB_CAPTIVE_PORTAL_ENABLE: AT+WEBSERVER answers what would be 404 or 405 with a
     * 302 to the softAP's root page (docs/webserver.md); off, as in ESP-AT's default builds */
    bool web_captive_portal;
} atota_fwconfig_t;

/* ESP-AT's defaults (and ATOTA's download policy defaults). */
void atota_fwconfig_defaults(atota_fwconfig_t *c);

/* Applies one "KEY=VALUE" (the `atota image create --config` option). Keys: module_name,
 * ota_host, ota_port, ota_token, ssl_host, ssl_port, ssl_token, feature names (ota, ota_ssl,
 * userota, webserver) with on/off, ota_retries, ota_time_limit, web_password and
 * web_captive_portal. Unknown keys and bad values are ATOTA_ERR_FWCONFIG with a message naming
 * them, and c is left unchanged. Values:
 *   module_name  0-31 bytes of UTF-8 without control characters (empty: the profile's name)
 *   *_host       1-127 characters: a host name or IPv4 address (letters, digits, '-', '_', '.';
 *                dot-separated labels of 1-63 characters)
 *   *_port       1-65535, decimal
 *   *_token      1-64 characters of the RFC 7235 token68 set (letters, digits, - . _ ~ + / =),
 *                as it is sent in "Authorization: token <token>"
 *   ota_retries  0-100, decimal: resumes of a download after a dropped connection
 *   ota_time_limit 0-86400, decimal: seconds for a whole download, 0 for no limit
 *   web_password 0-64 printable ASCII characters without space (0x21-0x7E), as a browser sends
 *                them in a header; empty: uploads need no password
 *   web_captive_portal on or off
 * c->present is not changed. */
atota_err_t atota_fwconfig_set(atota_fwconfig_t *c, const char *key_value, atota_diag_t *diag);

/* Number of keys, and the index-th "KEY=VALUE" of c in block order (index < ATOTA_FWCONFIG_KEYS),
 * NUL-terminated in out (cap bytes, at most ATOTA_FWCONFIG_LINE_MAX needed). Returns out, or NULL
 * when index is past the last key, cap is short, or the key is an optional one at its default
 * (web_password empty, web_captive_portal off): such a key is neither listed nor written, so a
 * block without it stays readable by firmware that predates the key. For listing a
 * configuration. */
#define ATOTA_FWCONFIG_KEYS     15
#define ATOTA_FWCONFIG_LINE_MAX 160
const char *atota_fwconfig_line(const atota_fwconfig_t *c, unsigned index, char *out, size_t cap);

/* Encodes the block (header and payload, every key but an optional one at its default) into out;
 * returns its length, or 0 if cap is short or c holds a value atota_fwconfig_set would refuse (so
 * a block we write always decodes). A cap of ATOTA_FWCONFIG_MAX_LEN is always enough. */
size_t atota_fwconfig_encode(const atota_fwconfig_t *c, uint8_t *out, size_t cap);

/* Decodes a block that starts at data (len bytes available; bytes after the block are ignored).
 * ATOTA_ERR_NOT_FOUND when there is no magic, ATOTA_ERR_FWCONFIG when the magic is there but the
 * rest is damaged (version, length, CRC, a line), diag saying what. On success c holds the
 * defaults overridden by the block's lines, present true; on failure the defaults, present
 * false. */
atota_err_t atota_fwconfig_decode(const uint8_t *data, size_t len, atota_fwconfig_t *c,
                                  atota_diag_t *diag);

/* Finds the block in a verified image on flash (the image at offset, info from
 * atota_image_verify_flash): looks at the start of each segment after the first; the first block
 * found counts. No block: the defaults and ATOTA_OK (present false). A damaged block:
 * ATOTA_ERR_FWCONFIG naming the segment, c the defaults; a flash read error is returned as is.
 * Reads through a 2 KB buffer on the stack. */
atota_err_t atota_fwconfig_read_flash(const atota_flash_t *flash, uint32_t offset,
                                      const atota_image_info_t *info, atota_fwconfig_t *c,
                                      atota_diag_t *diag);

/* The same for an image in memory (len bytes, info from atota_image_parse). *segment (may be
 * NULL) gets the index of the segment holding the block, 0 when there is none. */
atota_err_t atota_fwconfig_find(const uint8_t *image, size_t len, const atota_image_info_t *info,
                                atota_fwconfig_t *c, unsigned *segment, atota_diag_t *diag);

#endif /* ATOTA_CORE_FMT_FWCONFIG_H */
