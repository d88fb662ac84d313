/* One error space for all of ATOTA (STYLE.md): each value has a name and a one-line message. */
#ifndef ATOTA_CORE_ERR_H
#define ATOTA_CORE_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* X(name, message). Append new codes at the end of the block of the module they belong to. */
#define ATOTA_ERR_LIST(X)                                                                          \
    X(ATOTA_OK, "success")                                                                         \
    /* generic */                                                                                  \
    X(ATOTA_ERR_INVALID_ARG, "invalid argument")                                                   \
    X(ATOTA_ERR_NO_MEM, "out of memory")                                                           \
    X(ATOTA_ERR_IO, "input/output error")                                                          \
    X(ATOTA_ERR_NOT_FOUND, "not found")                                                            \
    X(ATOTA_ERR_UNSUPPORTED, "not supported")                                                      \
    X(ATOTA_ERR_TOO_BIG, "too large")                                                              \
    X(ATOTA_ERR_STATE, "operation not allowed in the current state")                               \
    /* app image (core/fmt/image) */                                                               \
    X(ATOTA_ERR_IMAGE_TRUNCATED, "image is truncated")                                             \
    X(ATOTA_ERR_IMAGE_MAGIC, "not an ESP image (bad magic byte)")                                  \
    X(ATOTA_ERR_IMAGE_HEADER, "invalid image header")                                              \
    X(ATOTA_ERR_IMAGE_SEGMENTS, "too many segments in image")                                      \
    X(ATOTA_ERR_IMAGE_SEGMENT, "invalid segment in image")                                         \
    X(ATOTA_ERR_IMAGE_CHECKSUM, "image checksum mismatch")                                         \
    X(ATOTA_ERR_IMAGE_HASH, "image SHA-256 mismatch")                                              \
    X(ATOTA_ERR_IMAGE_NO_APP_DESC, "image has no app descriptor")                                  \
    X(ATOTA_ERR_IMAGE_CHIP, "image is built for another chip")                                     \
    X(ATOTA_ERR_IMAGE_CHIP_REV, "image does not support this chip revision")                       \
    X(ATOTA_ERR_IMAGE_TOO_BIG, "image does not fit in the partition")                              \
    X(ATOTA_ERR_IMAGE_MMU, "mapped segment is not aligned to its load address")                    \
    /* partition tables (core/fmt/partition) */                                                    \
    X(ATOTA_ERR_PT_MAGIC, "not a partition table (bad magic)")                                     \
    X(ATOTA_ERR_PT_MD5, "partition table MD5 mismatch")                                            \
    X(ATOTA_ERR_PT_NO_END, "partition table has no end marker")                                    \
    X(ATOTA_ERR_PT_TOO_MANY, "too many partitions")                                                \
    X(ATOTA_ERR_PT_SYNTAX, "partition CSV syntax error")                                           \
    X(ATOTA_ERR_PT_ALIGN, "partition is not aligned")                                              \
    X(ATOTA_ERR_PT_OVERLAP, "partitions overlap")                                                  \
    X(ATOTA_ERR_PT_DUPLICATE, "duplicate partition name")                                          \
    X(ATOTA_ERR_PT_INVALID, "invalid partition table")                                             \
    /* otadata and boot selection (core/fmt/otadata, core/ota) */                                  \
    X(ATOTA_ERR_OTADATA_SIZE, "otadata partition must be 0x2000 bytes")                            \
    X(ATOTA_ERR_OTADATA_INVALID, "no valid otadata entry")                                         \
    X(ATOTA_ERR_NO_OTA_SLOT, "no such OTA slot")                                                   \
    X(ATOTA_ERR_NO_BOOTABLE_APP, "no bootable app partition")                                      \
    /* flash (core/hal.h, port/posix/flash_sim) */                                                 \
    X(ATOTA_ERR_FLASH_RANGE, "flash address out of range")                                         \
    X(ATOTA_ERR_FLASH_ALIGN, "flash erase not aligned to a 4 KB sector")                           \
    X(ATOTA_ERR_FLASH_NOT_ERASED, "flash write onto bytes that are not erased")                    \
    X(ATOTA_ERR_FLASH_POWER_CUT, "power cut: flash is not powered")                                \
    /* module profiles (core/fmt/profile) */                                                       \
    X(ATOTA_ERR_PROFILE_UNKNOWN, "unknown module profile")                                         \
    /* firmware-configuration block (core/fmt/fwconfig) */                                         \
    X(ATOTA_ERR_FWCONFIG, "invalid firmware-configuration block")                                  \
    /* NVS (core/fmt/nvs) */                                                                       \
    X(ATOTA_ERR_NVS_NOT_FOUND, "no such key in NVS")                                               \
    X(ATOTA_ERR_NVS_FULL, "NVS partition is full")                                                 \
    X(ATOTA_ERR_NVS_CORRUPT, "NVS data is corrupt")                                                \
    X(ATOTA_ERR_NVS_TYPE, "NVS value has another type")                                            \
    /* AT engine and module (core/at, core/cmd) */                                                 \
    X(ATOTA_ERR_AT_BUSY, "a command is still running")                                             \
    X(ATOTA_ERR_AT_PARAM, "invalid AT command parameter")                                          \
    /* OTA writer and downloads (core/ota/ota_writer, core/ota/download, port http) */             \
    X(ATOTA_ERR_OTA_IN_PROGRESS, "an OTA update is already in progress")                           \
    X(ATOTA_ERR_OTA_PENDING_VERIFY, "the running app is not confirmed yet (PENDING_VERIFY)")       \
    X(ATOTA_ERR_OTA_NO_STAGING, "no room to stage the partition update")                           \
    X(ATOTA_ERR_NET_URL, "invalid URL")                                                            \
    X(ATOTA_ERR_NET_CONNECT, "cannot connect to the server")                                       \
    X(ATOTA_ERR_NET_TLS, "TLS handshake or certificate check failed")                              \
    X(ATOTA_ERR_NET_RESET, "connection closed before the whole body arrived")                      \
    X(ATOTA_ERR_NET_TIMEOUT, "the server stopped sending (timeout)")                               \
    X(ATOTA_ERR_NET_PROTOCOL, "invalid HTTP response")                                             \
    X(ATOTA_ERR_HTTP_STATUS, "the server answered with an HTTP error status")                      \
    X(ATOTA_ERR_NET_DOWN, "no network: the station is not connected")                              \
    X(ATOTA_ERR_NET_DNS, "cannot resolve the server's name")

typedef enum {
#define ATOTA_ERR_ENUM(name, msg) name,
    ATOTA_ERR_LIST(ATOTA_ERR_ENUM)
#undef ATOTA_ERR_ENUM
        ATOTA_ERR_COUNT
} atota_err_t;

/* The one-line message of an error code; never NULL. */
const char *atota_strerror(atota_err_t err);

/* The symbolic name of an error code ("ATOTA_ERR_IMAGE_MAGIC"); never NULL. */
const char *atota_err_name(atota_err_t err);

/*
 * Diagnostics: where a function can say more than its error code (which segment, which line of
 * a CSV, which partition), it fills an atota_diag_t given by the caller. Every function that
 * takes one accepts NULL. The text is one line, without a trailing newline.
 */
typedef struct {
    char msg[256];
} atota_diag_t;

/* Formats into diag (if not NULL) and returns err, so a failure path is one statement:
 *   return atota_diag_set(diag, ATOTA_ERR_IMAGE_SEGMENT, "segment %u length 0x%x ...", ...); */
atota_err_t atota_diag_set(atota_diag_t *diag, atota_err_t err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The diag text if one was set, else atota_strerror(err). */
const char *atota_diag_text(const atota_diag_t *diag, atota_err_t err);

/* Clears diag (if not NULL). */
void atota_diag_clear(atota_diag_t *diag);

#endif /* ATOTA_CORE_ERR_H */
