/*
 * What atota-server accepts as a firmware file (docs/server-api.md "Upload checks"), so that a
 * device never downloads something ESP-AT would refuse after erasing its partition
 * (esp-at-ota.md §3.5, §5.3):
 *   ota.bin      a valid app image: header, segments, checksum, SHA-256, app descriptor
 *                (atota_image_parse); its chip, version and project are recorded;
 *   <label>.bin  the magic AT+CIUPDATE checks for that label (F1 F1 for the certificate and key
 *                partitions, FC FC for factory_param, 27 95 at offset 2 for ble_data), and no
 *                larger than the largest partition of that label in ESP-AT's at_customize tables
 *                (the embedded profiles' and ESP-AT v2.0's, which holds the labels of the magic
 *                table). A label without a magic is accepted with a warning: AT+CIUPDATE would
 *                refuse it (AT+WEBSERVER and AT+SYSFLASH can still write it).
 * Names are [a-z0-9_]{1,16}.bin: no path can ever be built from one. Files are at most 16 MiB.
 */
#ifndef ATOTA_SERVER_VALIDATE_H
#define ATOTA_SERVER_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ATOTA_VALIDATE_MAX_SIZE  (16u * 1024u * 1024u) /* 16 MiB */
#define ATOTA_VALIDATE_LABEL_MAX 16u                   /* ESP-IDF partition names */

typedef struct {
    bool is_app;                              /* ota.bin */
    char label[ATOTA_VALIDATE_LABEL_MAX + 1]; /* the name without ".bin" ("ota" for ota.bin) */
    /* ota.bin: from the image */
    char chip[16];        /* the chip's target name ("esp32c3"), "0x00nn" when unknown */
    char app_version[33]; /* esp_app_desc_t.version */
    char project[33];     /* esp_app_desc_t.project_name */
    /* <label>.bin */
    uint32_t max_size; /* the limit applied (the largest partition of the label, or 16 MiB) */
    char warning[320]; /* empty when none: the file is accepted, but says why it may not work */
} atota_validate_result_t;

/* True when name is "ota.bin" or "<label>.bin" with label [a-z0-9_]{1,16}. */
bool atota_validate_name(const char *name);

/* Product, device and account names, corenames, labels: 1 to 64 bytes (ATOTA_STORE_NAME_MAX),
 * no control character. NULL is not one. */
bool atota_validate_object_name(const char *s);

/* ROM versions: ESP-AT puts them raw into a request line (esp-at-ota.md §3.5) and reads them up
 * to `",` (§3.4): 1 to 64 characters among A-Z a-z 0-9 . _ - ~, and nothing the device API
 * could not send (atota_iot_version_is_safe). NULL is not one. */
bool atota_validate_version(const char *s);

/* Checks a file about to be stored under name. On success fills *out (may be NULL). On a refusal
 * returns the reason (ATOTA_ERR_INVALID_ARG for a name, ATOTA_ERR_TOO_BIG for a size, an image
 * error for ota.bin, ATOTA_ERR_UNSUPPORTED for a wrong magic) with a one-line message in diag that
 * says what was wrong and with what. */
atota_err_t atota_validate_file(const char *name, const void *data, size_t len,
                                atota_validate_result_t *out, atota_diag_t *diag);

/* The size of the largest partition called label in ESP-AT's at_customize tables (0: none has
 * it). */
uint32_t atota_validate_label_max_size(const char *label);

#endif /* ATOTA_SERVER_VALIDATE_H */
