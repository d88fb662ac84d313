/*
 * An app image downloaded over HTTP(S) into the OTA writer (AT+USEROTA; AT+CIUPDATE has its own
 * reader of ESP-AT's raw bytes, core/cmd/cmd_ciupdate.c),
 * with what ESP-AT lacks: when the connection drops mid-body, the download resumes with
 * "Range: bytes=<written>-" and "If-Range: <validator>" up to max_retries times (a 200 or 416
 * answer restarts from zero, a new image from the first byte), and an overall time limit so a
 * stalled server cannot hang the module. max_retries 0 is ESP-AT's behaviour (any drop fails).
 *
 * Event-driven, for the host's loop: atota_download_start() issues the first GET; the port calls
 * the sink; atota_download_poll() enforces the deadline and issues retries after a short backoff;
 * the done callback reports the outcome exactly once. Core code: no OS calls, fixed memory.
 */
#ifndef ATOTA_CORE_OTA_DOWNLOAD_H
#define ATOTA_CORE_OTA_DOWNLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fmt/image.h"
#include "core/net/http.h"
#include "core/ota/ota_writer.h"

#define ATOTA_DOWNLOAD_URL_MAX   8192 /* AT_USEROTA_URL_LEN_MAX (esp-at-ota.md §2.1) */
#define ATOTA_DOWNLOAD_MIN_IMAGE 1024 /* esp_https_ota's IMAGE_HEADER_SIZE (§2.3) */

typedef struct {
    uint32_t max_retries;      /* resumes after a dropped connection; 0: none (ESP-AT) */
    uint32_t time_limit_ms;    /* the whole download; 0: none (ESP-AT) */
    uint32_t stall_timeout_ms; /* per network operation (ESP-AT: 10 s) */
    uint32_t retry_delay_ms;   /* before each resume */
    const char *ca_file;       /* see atota_http_request_t */
} atota_download_policy_t;

typedef struct {
    uint64_t bytes;          /* image bytes written */
    int64_t total;           /* the image's length when the server said it, else -1 */
    unsigned requests;       /* GETs issued */
    unsigned range_requests; /* of which with a Range header */
    unsigned restarts;       /* restarts from zero: a 200 or 416 to a Range request, or a drop
                                with no validator to resume with */
} atota_download_stats_t;

typedef void (*atota_download_done_fn)(void *ctx, atota_err_t err, const char *msg);
typedef void (*atota_download_log_fn)(void *ctx, const char *line);

typedef struct {
    atota_http_t http;
    atota_download_policy_t policy;
    atota_ota_writer_opts_t writer_opts;
    atota_ota_writer_t writer;
    atota_download_stats_t stats;
    char url[ATOTA_DOWNLOAD_URL_MAX + 1];
    char validator[ATOTA_HTTP_VALIDATOR_MAX];
    uint64_t started_ms, retry_at_ms;
    uint64_t (*now_ms)(void *ctx);
    void *now_ctx;
    atota_download_done_fn done;
    atota_download_log_fn log; /* progress lines for the host's log; may be NULL */
    void *cb_ctx;
    bool running, in_request, finished;
    unsigned retries_used;
    atota_err_t last_err;
    atota_diag_t diag;
} atota_download_t;

/* Starts a download of url into the next OTA slot. url is copied (at most
 * ATOTA_DOWNLOAD_URL_MAX bytes). Fails at once (and calls nothing) on a bad URL, an OTA already
 * running, or a writer that refuses to begin (ATOTA_ERR_OTA_PENDING_VERIFY). On success, done(ctx,
 * err, msg) is called exactly once later: ATOTA_OK when the image was verified and the boot slot
 * switched, else the reason (the running firmware untouched). */
atota_err_t atota_download_start(atota_download_t *d, const atota_http_t *http,
                                 const atota_download_policy_t *policy,
                                 const atota_ota_writer_opts_t *writer_opts, const char *url,
                                 uint64_t (*now_ms)(void *), void *now_ctx,
                                 atota_download_done_fn done, atota_download_log_fn log, void *ctx,
                                 atota_diag_t *diag);

/* Deadlines and retries; the host calls it from its loop (atota_module_poll does). */
void atota_download_poll(atota_download_t *d);

/* Stops a running download (done is called with ATOTA_ERR_STATE). */
void atota_download_cancel(atota_download_t *d);

bool atota_download_running(const atota_download_t *d);

#endif /* ATOTA_CORE_OTA_DOWNLOAD_H */
