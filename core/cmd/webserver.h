/*
 * AT+WEBSERVER (esp-at-ota.md §4; ESP-AT components/at/src/at_web_server_cmd.c): the module's own
 * web server, for Wi-Fi provisioning and for firmware uploads from a browser. The command and the
 * request dispatch are in core/cmd/cmd_webserver.c, the provisioning endpoints in
 * core/cmd/web_wifi.c, the upload (/setotadata) in core/cmd/web_upload.c; docs/webserver.md has
 * the bytes, the differences from ESP-AT and ATOTA's extensions.
 *
 * The server runs over the host's HTTP-server port (core/net/httpd.h): the port owns the sockets
 * and the HTTP framing, this code decides every status, header and body byte. An upload streams
 * into the OTA writer (core/ota/ota_writer.h) or, for a custom partition, into the staged
 * partition updater (core/ota/part_update.h): nothing is held whole in memory and a failure
 * changes nothing.
 */
#ifndef ATOTA_CORE_CMD_WEBSERVER_H
#define ATOTA_CORE_CMD_WEBSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fmt/partition.h"
#include "core/net/httpd.h"
#include "core/ota/ota_writer.h"
#include "core/ota/part_update.h"
#include "core/util/hash.h"

struct atota_module;

/* The module's web page (GET /): core/cmd/web/index.html, embedded by the build
 * (cmake/embed_file.cmake): its bytes and their number (no NUL counted). */
extern const unsigned char atota_web_page[];
extern const size_t atota_web_page_len;

#define ATOTA_WEB_SCRATCH_SIZE                                                                     \
    320u                             /* ESP_AT_WEB_SCRATCH_BUFSIZE: a request body must be shorter \
                                      */
#define ATOTA_WEB_MAX_SOCKETS     7u /* max_open_sockets: small requests in flight at once */
#define ATOTA_WEB_TIMEOUT_MIN     21u  /* <connection_timeout>, seconds (ESP-AT's limits) */
#define ATOTA_WEB_TIMEOUT_MAX     60u  /* ... and the value before any AT+WEBSERVER=1 */
#define ATOTA_WEB_POLL_MS         500u /* ESP_AT_WEB_TIMER_POLLING_PERIOD: the join is checked */
#define ATOTA_WEB_APPLY_DELAY_MS  300u /* /setstainfo answers, then waits this long to connect */
#define ATOTA_WEB_SEARCH_MARGIN_S 10u  /* the phone-hotspot search gets timeout - 10 s */
#define ATOTA_WEB_AP_MAX          10u  /* ESP_AT_WEB_AP_SCAN_NUM_DEFAULT: /getaprecord's records */
#define ATOTA_WEB_JSON_MAX        12288u /* the largest JSON answer (/getotainfo, 95 partitions) */
#define ATOTA_WEB_VERSION         "1.0"  /* ESP_AT_WEB_VERSION, /getversion */

/* The captive portal's redirect (web_captive_portal=on, CONFIG_AT_WEB_CAPTIVE_PORTAL_ENABLE):
 * http_common_error_handler's status, its Location's room ("http://" + a dotted quad +
 * CONFIG_AT_WEB_ROOT_DIR "/" + NUL) and its body. */
#define ATOTA_WEB_PORTAL_STATUS  302u
#define ATOTA_WEB_PORTAL_URL_MAX 24u
#define ATOTA_WEB_PORTAL_BODY    "Redirect to captive portal"

/* The ATOTA extensions' header names (docs/webserver.md). */
#define ATOTA_WEB_PASSWORD_HEADER "X-Upload-Password"

/* esp_at_web_config_wifi_status: where /setstainfo's connection stands (/getstainfo's state and
 * message). */
typedef enum {
    ATOTA_WEB_STA_NOT_START = 0,
    ATOTA_WEB_STA_CONFIG_DONE,
    ATOTA_WEB_STA_CONNECTING,
    ATOTA_WEB_STA_CONNECT_FAIL,
    ATOTA_WEB_STA_CONNECT_OK,
    ATOTA_WEB_STA_RESULT_CHECKED,
} atota_web_sta_t;

/* What the provisioning timer does next (atota_webserver_poll). */
typedef enum {
    ATOTA_WEB_JOIN_IDLE = 0,
    ATOTA_WEB_JOIN_APPLY,  /* answered; connect at due_ms (the 300 ms pause) */
    ATOTA_WEB_JOIN_POLL,   /* connecting: a tick every 500 ms until connected or timed out */
    ATOTA_WEB_JOIN_SEARCH, /* the applet's phone-hotspot search: fails at due_ms */
} atota_web_join_t;

/* A small request whose body is read whole (/setstainfo, /getresult): one per socket. */
typedef struct {
    atota_httpd_request_t *req; /* NULL: the slot is free */
    unsigned route;             /* cmd_webserver.c's route of the request */
    size_t len;
    char data[ATOTA_WEB_SCRATCH_SIZE]; /* NUL-terminated: len < ATOTA_WEB_SCRATCH_SIZE */
} atota_web_body_t;

/* The upload running (/setotadata): at most one. */
typedef struct {
    atota_httpd_request_t *req; /* NULL: none */
    bool is_app;                /* Object starts with "ota": the next OTA slot */
    char object[ATOTA_PT_NAME_LEN + 1];
    atota_partition_t target; /* the at_customize entry (not is_app) */
    uint32_t length;          /* Content-Length */
    uint32_t received;
    atota_ota_writer_t writer;
    atota_part_update_t part;
    bool target_open;   /* the writer or the staged update is open (abort it on failure) */
    bool hashing;       /* sha is live: an app upload with a digest to check */
    atota_sha256_t sha; /* over the body as it arrives */
    bool have_digest;   /* Content-Digest / Repr-Digest: sha-256 */
    uint8_t digest[ATOTA_SHA256_LEN];
} atota_web_upload_t;

/* The state cmd_webserver.c, web_wifi.c and web_upload.c keep in the module; fields are theirs. */
typedef struct {
    bool running;
    atota_httpd_t httpd; /* the port that runs it (host->httpd when it started) */
    uint16_t port;
    uint32_t timeout_s; /* <connection_timeout>, the provisioning's limit */
    /* the captive portal's Location: the softAP's address when the server started, as
     * start_web_server reads it once (s_at_web_redirect_url) */
    char portal_url[ATOTA_WEB_PORTAL_URL_MAX];
    /* Wi-Fi provisioning (s_wifi_sta_connect_config, s_wifi_sta_connection_info): kept across
     * AT+WEBSERVER=0 and =1 as ESP-AT's statics are, cleared by a reboot */
    uint8_t sta_state; /* atota_web_sta_t */
    char sta_ssid[33];
    char sta_password[65];
    uint8_t join; /* atota_web_join_t */
    bool wechat;  /* the join to apply is the applet's phone-hotspot search */
    uint64_t due_ms;
    unsigned ticks; /* connect_count */
    atota_web_body_t bodies[ATOTA_WEB_MAX_SOCKETS];
    atota_web_upload_t upload;
    /* the OTA slot a successful app upload switched the boot to, until the reset that boots it
     * ("": none); a later app upload writes the same slot (docs/webserver.md) */
    char pending_app[ATOTA_PT_NAME_LEN + 1];
    char json[ATOTA_WEB_JSON_MAX]; /* the answer being built (the port copies it) */
} atota_webserver_t;

/* Registers AT+WEBSERVER unless the firmware configuration has the webserver feature off
 * (CONFIG_AT_WEB_SERVER_SUPPORT: no such command at all). */
atota_err_t atota_cmd_webserver_register(struct atota_module *m);

/* The provisioning timer (the 300 ms pause, the 500 ms ticks, the timeout); atota_module_poll
 * calls it. */
void atota_webserver_poll(struct atota_module *m);

/* A module reset: stops a server the previous boot left running (host->httpd's stop) and drops
 * its requests and its upload without a word on the AT port. atota_module_boot calls it before
 * it clears the module. */
void atota_webserver_reset(struct atota_module *m);

/* Whether an upload is running (atota_module_ota_running counts it). */
bool atota_webserver_uploading(const struct atota_module *m);

/* --- between cmd_webserver.c, web_wifi.c and web_upload.c --- */

/* Answers: {"state": 0} with 200, {"state": 1} with `status`, ESP-AT's JSON type. */
void atota_web_reply_state(struct atota_module *m, atota_httpd_request_t *req, unsigned status,
                           int state);
/* Answers with esp_http_server's own error page for status (400, 404, 405, 500 ...): its
 * status line's text as the body, text/html (httpd_resp_send_err). */
void atota_web_reply_error(struct atota_module *m, atota_httpd_request_t *req, unsigned status);
/* Answers status with body (len bytes) of content_type. */
void atota_web_reply(struct atota_module *m, atota_httpd_request_t *req, unsigned status,
                     const char *content_type, const void *body, size_t len);
/* The same with one more header, name: value (Location, WWW-Authenticate). */
void atota_web_reply_header(struct atota_module *m, atota_httpd_request_t *req, unsigned status,
                            const char *content_type, const void *body, size_t len,
                            const char *name, const char *value);
/* Writes "+WEBSERVERRSP:<n>\r\n" on the AT port (esp_at_port_active_write_data). */
void atota_web_message(struct atota_module *m, int n);

/* JSON text into a fixed buffer: the writes stop at the end, and overflow says so. */
typedef struct {
    char *buf;
    size_t cap, len;
    bool overflow;
} atota_web_json_t;

void atota_web_json_init(atota_web_json_t *j, char *buf, size_t cap);
void atota_web_json_raw(atota_web_json_t *j, const char *text);
void atota_web_json_printf(atota_web_json_t *j, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s inside a JSON string: '"' and '\\' escaped, '/' too when slash (ESP-AT's SSID escaping),
 * control characters as \u00XX. */
void atota_web_json_string(atota_web_json_t *j, const char *s, bool slash);

/* web_wifi.c: the routes (on_request: answered, or a body slot taken; on_end: the body read). */
void atota_web_getstainfo(struct atota_module *m, atota_httpd_request_t *req);
void atota_web_getaprecord(struct atota_module *m, atota_httpd_request_t *req);
/* Returns true when the request's body is wanted (then atota_web_*_body follows at on_end). */
bool atota_web_setstainfo_begin(struct atota_module *m, atota_httpd_request_t *req);
void atota_web_setstainfo_body(struct atota_module *m, atota_httpd_request_t *req, const char *body,
                               size_t len);
bool atota_web_getresult_begin(struct atota_module *m, atota_httpd_request_t *req);
void atota_web_getresult_body(struct atota_module *m, atota_httpd_request_t *req, const char *body,
                              size_t len);

/* web_upload.c: /setotadata, the httpd callbacks of its request, and its end by AT+WEBSERVER=0
 * (message true: +WEBSERVERRSP:5) or a reset (false). */
void atota_web_upload_begin(struct atota_module *m, atota_httpd_request_t *req);
void atota_web_upload_body(struct atota_module *m, const uint8_t *data, size_t len);
void atota_web_upload_end(struct atota_module *m);
void atota_web_upload_abort(struct atota_module *m, atota_err_t err);
void atota_web_upload_drop(struct atota_module *m, bool message);

#endif /* ATOTA_CORE_CMD_WEBSERVER_H */
