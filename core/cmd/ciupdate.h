/*
 * AT+CIUPDATE and AT+CIPFWVER (esp-at-ota.md §3; ESP-AT components/at/src/at_ota_cmd.c): the
 * state of an update from the iot OTA server (atota-server or iot.espressif.cn) and of a version
 * listing. The commands are in core/cmd/cmd_ciupdate.c; docs/ciupdate.md has the bytes, the
 * states and what differs from ESP-AT.
 *
 * An update runs over the host's stream port (core/net/stream.h) with the exact request bytes of
 * core/proto/iot.h: a query for the recommended version (unless one was given), then the download
 * of ota.bin into the next OTA slot (core/ota/ota_writer.h) or of <label>.bin into a custom
 * partition of at_customize.bin, staged and replaced under a journal (core/ota/part_update.h).
 */
#ifndef ATOTA_CORE_CMD_CIUPDATE_H
#define ATOTA_CORE_CMD_CIUPDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fmt/partition.h"
#include "core/ota/ota_writer.h"
#include "core/ota/part_update.h"
#include "core/proto/iot.h"
#include "core/util/hash.h"

#define ATOTA_CIUPDATE_TIMEOUT_MS   (3u * 60u * 1000u) /* ESP_AT_OTA_TIMEOUT_MS (§3.3) */
#define ATOTA_CIPFWVER_TIMEOUT_MS   10000u             /* esp_http_client timeout_ms (§3.6) */
#define ATOTA_CIUPDATE_READ_MAX     1024u              /* TEXT_BUFFSIZE: one read() */
#define ATOTA_CIUPDATE_NAME_MAX     64u                /* the firmware name parameter */
#define ATOTA_CIUPDATE_STATE_FAILED (-1)

/* ESP_AT_OTA_STATE_* as AT+CIUPDATE? prints them. */
#define ATOTA_CIUPDATE_IDLE      0
#define ATOTA_CIUPDATE_FOUND     1 /* the server's name resolved */
#define ATOTA_CIUPDATE_CONNECTED 2 /* the query connection is up */
#define ATOTA_CIUPDATE_VERSION   3 /* the recommended version is known */
#define ATOTA_CIUPDATE_DONE      4

typedef enum {
    ATOTA_CIUPDATE_PHASE_IDLE = 0,
    ATOTA_CIUPDATE_PHASE_QUERY,    /* connecting for, or reading, the query reply */
    ATOTA_CIUPDATE_PHASE_DOWNLOAD, /* connecting for, or reading, the download */
} atota_ciupdate_phase_t;

typedef struct {
    int state; /* what AT+CIUPDATE? reports: 0..4 or -1 */
    atota_ciupdate_phase_t phase;
    bool nonblocking;
    bool tls;
    bool is_app;              /* the name is "ota" */
    const char *host, *token; /* in the module's firmware configuration */
    uint16_t port;
    char version[ATOTA_IOT_VERSION_MAX + 1];
    char name[ATOTA_CIUPDATE_NAME_MAX + 1];
    uint64_t deadline_ms;
    atota_iot_query_reader_t query;
    atota_iot_download_reader_t dl;
    /* the target */
    atota_partition_t custom; /* the at_customize entry (not is_app) */
    atota_ota_writer_t writer;
    atota_part_update_t part;
    bool prepared;      /* prepare_target ran: the reader knows the target */
    bool target_open;   /* the writer or the staged update is open (abort it on failure) */
    atota_sha256_t sha; /* over the body as it arrives */
    bool have_digest;   /* the server sent Repr-Digest: sha-256 */
    uint8_t digest[ATOTA_SHA256_LEN];
    /* AT+CIPFWVER's reply body, as ESP-AT's 8192-byte buffer */
    char fwver[ATOTA_IOT_FWVER_BUF_SIZE];
    size_t fwver_len;
    int fwver_status;
    bool fwver_running;
} atota_ciupdate_t;

#endif /* ATOTA_CORE_CMD_CIUPDATE_H */
