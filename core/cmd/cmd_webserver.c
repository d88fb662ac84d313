/*
 * AT+WEBSERVER (esp-at-ota.md §4; ESP-AT components/at/src/at_web_server_cmd.c): the command, the
 * server's start and stop over the host's HTTP-server port, the dispatch of requests to the
 * endpoints, and the endpoints that only read (/, /getversion, /getotainfo). Wi-Fi provisioning
 * is in web_wifi.c, the upload in web_upload.c; docs/webserver.md has the bytes.
 *
 *   AT+WEBSERVER=<enable>[,<server_port>,<connection_timeout>]
 *
 * The port calls back from the host's loop (core/net/httpd.h); every answer is decided here, with
 * the status lines, content types and bodies ESP-AT's handlers and esp_http_server send.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/cmd/module.h"
#include "core/proto/iot.h"

/* at_web_server_cmd.c registers these URIs, in this order, each for one method; esp_http_server
 * matches the path (up to '?') exactly, answers 405 for a known path with another method and 404
 * for the rest. The captive portal registers no URI of its own (generate_204, hotspot-detect.html
 * and the like are 404s, so redirected): all eight of max_uri_handlers are these. */
enum {
    ROUTE_VERSION,
    ROUTE_GETSTAINFO,
    ROUTE_SETSTAINFO,
    ROUTE_GETRESULT,
    ROUTE_APRECORD,
    ROUTE_OTAINFO,
    ROUTE_OTADATA,
    ROUTE_ROOT,
    ROUTE_COUNT
};

static const struct {
    const char *path;
    const char *method;
} routes[ROUTE_COUNT] = {
    {"/getversion", "GET"},  {"/getstainfo", "GET"},
    {"/setstainfo", "POST"}, {"/getresult", "POST"},
    {"/getaprecord", "GET"}, {"/getotainfo", "GET"},
    {"/setotadata", "POST"}, {"/", "GET"},
};

/* ---- answers ------------------------------------------------------------------------------- */

static void respond(atota_module_t *m, atota_httpd_request_t *req, const atota_httpd_response_t *r)
{
    const atota_httpd_t *h = &m->webserver.httpd;
    if (h->ops)
        h->ops->respond(h->ctx, req, r);
}

void atota_web_reply_header(atota_module_t *m, atota_httpd_request_t *req, unsigned status,
                            const char *content_type, const void *body, size_t len,
                            const char *name, const char *value)
{
    atota_httpd_response_t r;
    memset(&r, 0, sizeof r);
    r.status = status;
    r.content_type = content_type;
    r.body = body;
    r.len = len;
    r.headers[0][0] = name;
    r.headers[0][1] = value;
    respond(m, req, &r);
}

void atota_web_reply(atota_module_t *m, atota_httpd_request_t *req, unsigned status,
                     const char *content_type, const void *body, size_t len)
{
    atota_web_reply_header(m, req, status, content_type, body, len, NULL, NULL);
}

void atota_web_reply_state(atota_module_t *m, atota_httpd_request_t *req, unsigned status,
                           int state)
{
    /* at_web_response_ok / at_web_response_error: HTTPD_TYPE_JSON, with a space after the colon
     * (the other answers have none) */
    const char *body = state ? "{\"state\": 1}" : "{\"state\": 0}";
    atota_web_reply(m, req, status, "application/json", body, strlen(body));
}

void atota_web_reply_error(atota_module_t *m, atota_httpd_request_t *req, unsigned status)
{
    /* httpd_resp_send_err (ESP-IDF v5.x httpd_txrx.c): the default message of each code, sent
     * as HTTPD_TYPE_TEXT */
    const char *msg;
    switch (status) {
    case 400:
        msg = "Bad request syntax";
        break;
    case 404:
        msg = "Nothing matches the given URI";
        break;
    case 405:
        msg = "Specified method is invalid for this resource";
        break;
    default:
        status = 500;
        msg = "Server has encountered an unexpected error";
        break;
    }
    atota_web_reply(m, req, status, "text/html", msg, strlen(msg));
}

/* A request no route takes: esp_http_server's 404 or 405 page, or, with the captive portal
 * (web_captive_portal=on), http_common_error_handler: httpd_resp_set_status "302 Temporary
 * Redirect", httpd_resp_set_hdr Location, httpd_resp_send of the body with the default type
 * (HTTPD_TYPE_TEXT). Only the number reaches the port, which writes its own reason phrase; the
 * handler is registered for 414 too, which the port answers itself (docs/webserver.md). */
static void refuse(atota_module_t *m, atota_httpd_request_t *req, unsigned status)
{
    if (!m->config.web_captive_portal) {
        atota_web_reply_error(m, req, status);
        return;
    }
    static const char body[] = ATOTA_WEB_PORTAL_BODY;
    atota_web_reply_header(m, req, ATOTA_WEB_PORTAL_STATUS, "text/html", body, sizeof body - 1,
                           "Location", m->webserver.portal_url);
}

void atota_web_message(atota_module_t *m, int n)
{
    /* §4.2, esp_at_port_active_write_data: written whenever it happens, between the lines of a
     * command that may be running, as "WIFI CONNECTED" is */
    atota_at_printf(&m->at, "+WEBSERVERRSP:%d\r\n", n);
}

/* ---- JSON text ----------------------------------------------------------------------------- */

void atota_web_json_init(atota_web_json_t *j, char *buf, size_t cap)
{
    j->buf = buf;
    j->cap = cap;
    j->len = 0;
    j->overflow = cap == 0;
    if (cap)
        buf[0] = '\0';
}

static void json_put(atota_web_json_t *j, const char *s, size_t n)
{
    if (j->overflow || n >= j->cap - j->len) {
        j->overflow = true;
        return;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

void atota_web_json_raw(atota_web_json_t *j, const char *text)
{
    json_put(j, text, strlen(text));
}

void atota_web_json_printf(atota_web_json_t *j, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        j->overflow = true;
        return;
    }
    json_put(j, tmp, (size_t)n);
}

void atota_web_json_string(atota_web_json_t *j, const char *s, bool slash)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || (slash && c == '/')) {
            char e[2] = {'\\', (char)c};
            json_put(j, e, 2);
        } else if (c < 0x20) {
            /* ESP-AT writes control characters raw, which no JSON parser takes */
            atota_web_json_printf(j, "\\u%04x", c);
        } else {
            json_put(j, s, 1);
        }
    }
}

/* ---- the endpoints that only read ---------------------------------------------------------- */

/* GET /: the embedded index.html, "text/html", chunked (index_html_get_handler). */
static void get_page(atota_module_t *m, atota_httpd_request_t *req)
{
    atota_httpd_response_t r;
    memset(&r, 0, sizeof r);
    r.status = 200;
    r.content_type = "text/html";
    r.body = atota_web_page;
    r.len = atota_web_page_len;
    r.chunked = true;
    respond(m, req, &r);
}

/* GET /getversion (at_web_version_get_handler). */
static void get_version(atota_module_t *m, atota_httpd_request_t *req)
{
    static const char body[] = "{\"version\":\"" ATOTA_WEB_VERSION "\"}";
    atota_web_reply(m, req, 200, "application/json", body, sizeof body - 1);
}

/* One entry of the extension's partition_info: the name, the size, and the magic the file must
 * start with (the table AT+CIUPDATE checks, core/proto/iot.h: ESP-AT's web server checks none). */
static void partition_info(atota_web_json_t *j, const char *name, uint32_t size, bool first)
{
    atota_web_json_raw(j, first ? "{\"name\":\"" : ",{\"name\":\"");
    atota_web_json_string(j, name, false);
    atota_web_json_printf(j, "\",\"size\":%lu,\"magic\":\"", (unsigned long)size);
    const atota_iot_magic_t *mg = atota_iot_magic_find(name, 0);
    for (unsigned i = 0; mg && i < mg->len; i++)
        atota_web_json_printf(j, "%02x", mg->magic[i]);
    atota_web_json_raw(j, "\"");
    if (mg && mg->offset)
        atota_web_json_printf(j, ",\"magic_offset\":%u", (unsigned)mg->offset);
    atota_web_json_raw(j, "}");
}

/* GET /getotainfo (ota_info_get_handler), then ATOTA's keys (docs/webserver.md). */
static void get_otainfo(atota_module_t *m, atota_httpd_request_t *req)
{
    atota_webserver_t *w = &m->webserver;
    atota_web_json_t j;
    atota_web_json_init(&j, w->json, sizeof w->json);
    /* fw_version: CONFIG_APP_PROJECT_VER, the running app descriptor's version; at_core_version:
     * esp_at_get_version() as four numbers, the ones AT+GMR prints */
    unsigned v[4];
    const char *suffix;
    atota_module_parse_version(m->boot.app_desc.version, v, &suffix);
    atota_web_json_raw(&j, "{\"state\":0,\"fw_version\":\"");
    atota_web_json_string(&j, m->boot.app_desc.version, false);
    atota_web_json_printf(&j, "\",\"at_core_version\":\"%u.%u.%u.%u\",\"partitions\":[", v[0], v[1],
                          v[2], v[3]);
    atota_ota_slot_choice_t slot;
    bool has_ota =
        atota_ota_writer_next_slot(&m->table, &m->boot.partition, &slot, NULL) == ATOTA_OK;
    if (has_ota)
        atota_web_json_raw(&j, "\"ota\",");
    for (unsigned i = 0; i < m->at_customize.count; i++) {
        atota_web_json_raw(&j, "\"");
        atota_web_json_string(&j, m->at_customize.entries[i].name, false);
        atota_web_json_raw(&j, "\",");
    }
    /* ESP-AT drops the last byte, the comma after the last name, or the '[' when there is none
     * ("partitions":] then, §4.3: kept) */
    if (!j.overflow)
        j.buf[--j.len] = '\0';
    atota_web_json_raw(&j, "]");

    atota_web_json_printf(
        &j, ",\"chip_id\":%u,\"password\":%s,\"sha256\":true,\"partition_info\":[",
        (unsigned)m->profile.chip->id, m->config.web_password[0] ? "true" : "false");
    if (has_ota)
        partition_info(&j, "ota", slot.slot->size, true);
    for (unsigned i = 0; i < m->at_customize.count; i++)
        partition_info(&j, m->at_customize.entries[i].name, m->at_customize.entries[i].size,
                       !has_ota && i == 0);
    atota_web_json_raw(&j, "]}");
    if (j.overflow) {
        atota_module_log(m, "webserver: /getotainfo: the answer passed %u bytes",
                         (unsigned)sizeof w->json);
        atota_web_reply_error(m, req, 500);
        return;
    }
    atota_web_reply(m, req, 200, "application/json", j.buf, j.len);
}

/* ---- requests ------------------------------------------------------------------------------ */

static atota_web_body_t *body_of(atota_module_t *m, const atota_httpd_request_t *req)
{
    atota_webserver_t *w = &m->webserver;
    for (unsigned i = 0; i < ATOTA_WEB_MAX_SOCKETS; i++)
        if (w->bodies[i].req && w->bodies[i].req == req && req->user == &w->bodies[i])
            return &w->bodies[i];
    return NULL;
}

/* Reads the request's body whole before the route's handler runs (recv_post_data). */
static void take_body(atota_module_t *m, atota_httpd_request_t *req, unsigned route)
{
    atota_webserver_t *w = &m->webserver;
    for (unsigned i = 0; i < ATOTA_WEB_MAX_SOCKETS; i++) {
        atota_web_body_t *b = &w->bodies[i];
        if (b->req)
            continue;
        b->req = req;
        b->route = route;
        b->len = 0;
        b->data[0] = '\0';
        req->user = b;
        return;
    }
    /* more than max_open_sockets requests waiting for their bodies: esp_http_server would not
     * have accepted the connection */
    atota_module_log(m, "webserver: %s: %u requests already wait for their bodies", req->path,
                     ATOTA_WEB_MAX_SOCKETS);
    atota_web_reply_error(m, req, 500);
}

static void on_request(void *ctx, atota_httpd_request_t *req)
{
    atota_module_t *m = ctx;
    unsigned route = 0;
    while (route < ROUTE_COUNT && strcmp(routes[route].path, req->path) != 0)
        route++;
    if (route == ROUTE_COUNT) {
        refuse(m, req, 404);
        return;
    }
    if (strcmp(routes[route].method, req->method) != 0) {
        refuse(m, req, 405);
        return;
    }
    switch (route) {
    case ROUTE_VERSION:
        get_version(m, req);
        break;
    case ROUTE_GETSTAINFO:
        atota_web_getstainfo(m, req);
        break;
    case ROUTE_SETSTAINFO:
        if (atota_web_setstainfo_begin(m, req))
            take_body(m, req, route);
        break;
    case ROUTE_GETRESULT:
        if (atota_web_getresult_begin(m, req))
            take_body(m, req, route);
        break;
    case ROUTE_APRECORD:
        atota_web_getaprecord(m, req);
        break;
    case ROUTE_OTAINFO:
        get_otainfo(m, req); /* the page's "Object: none" header is not read */
        break;
    case ROUTE_OTADATA:
        atota_web_upload_begin(m, req);
        break;
    default:
        get_page(m, req);
        break;
    }
}

static void on_body(void *ctx, atota_httpd_request_t *req, const uint8_t *data, size_t len)
{
    atota_module_t *m = ctx;
    if (m->webserver.upload.req == req) {
        atota_web_upload_body(m, data, len);
        return;
    }
    atota_web_body_t *b = body_of(m, req);
    if (!b)
        return;
    /* the routes took only bodies shorter than the buffer; more is cut, never overrun */
    size_t room = sizeof b->data - 1 - b->len;
    size_t n = len < room ? len : room;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void on_end(void *ctx, atota_httpd_request_t *req)
{
    atota_module_t *m = ctx;
    if (m->webserver.upload.req == req) {
        atota_web_upload_end(m);
        return;
    }
    atota_web_body_t *b = body_of(m, req);
    if (!b) {
        atota_web_reply_error(m, req, 500);
        return;
    }
    b->req = NULL; /* free again, whatever the handler does */
    if (b->route == ROUTE_SETSTAINFO)
        atota_web_setstainfo_body(m, req, b->data, b->len);
    else
        atota_web_getresult_body(m, req, b->data, b->len);
}

static void on_abort(void *ctx, atota_httpd_request_t *req, atota_err_t err)
{
    atota_module_t *m = ctx;
    if (m->webserver.upload.req == req) {
        atota_web_upload_abort(m, err);
        return;
    }
    atota_web_body_t *b = body_of(m, req);
    if (b)
        b->req = NULL;
}

static const atota_httpd_sink_t sink = {on_request, on_body, on_end, on_abort};

/* ---- the server ---------------------------------------------------------------------------- */

/* at_web_destory: closes everything; the requests in flight are gone without callbacks
 * (core/net/httpd.h), so what they held is released here. */
static void stop_server(atota_module_t *m, bool message)
{
    atota_webserver_t *w = &m->webserver;
    if (!w->running)
        return;
    if (w->httpd.ops)
        w->httpd.ops->stop(w->httpd.ctx);
    w->running = false;
    atota_web_upload_drop(m, message);
    for (unsigned i = 0; i < ATOTA_WEB_MAX_SOCKETS; i++)
        w->bodies[i].req = NULL;
    atota_module_log(m, "webserver: stopped");
}

void atota_webserver_reset(atota_module_t *m)
{
    stop_server(m, false);
}

bool atota_webserver_uploading(const atota_module_t *m)
{
    return m->webserver.upload.req != NULL;
}

/* at_web_start: a server already running is left as it is (its port too). */
static atota_err_t start_server(atota_module_t *m, uint16_t port)
{
    atota_webserver_t *w = &m->webserver;
    if (w->running)
        return ATOTA_OK;
    const atota_httpd_t *h = &m->host->httpd;
    if (!h->ops) {
        atota_module_log(m, "webserver: cannot start: the host has no HTTP server");
        return ATOTA_ERR_UNSUPPORTED;
    }
    atota_diag_t d;
    atota_diag_clear(&d);
    w->httpd = *h; /* before start: the port may call back as soon as it listens */
    atota_err_t err = h->ops->start(h->ctx, port, &sink, m, &d);
    if (err) {
        memset(&w->httpd, 0, sizeof w->httpd);
        atota_module_log(m, "webserver: cannot start on port %u: %s", (unsigned)port,
                         atota_diag_text(&d, err));
        return err;
    }
    w->running = true;
    w->port = port;
    if (m->config.web_captive_portal) {
        /* start_web_server: "http://" IPSTR CONFIG_AT_WEB_ROOT_DIR from the softAP's netif
         * (WIFI_AP_DEF, there in every Wi-Fi mode), read once here: a later change of the
         * softAP's address does not change it until the server starts again */
        char ip[16];
        atota_wifi_format_ip(m->wifi.ap_ip, ip);
        snprintf(w->portal_url, sizeof w->portal_url, "http://%s/", ip);
        atota_module_log(m, "webserver: captive portal: unknown paths go to %s", w->portal_url);
    }
    atota_module_log(m, "webserver: listening on the module's port %u", (unsigned)port);
    return ATOTA_OK;
}

/* at_setupCmdWebConf, §4.1: <enable> 0/1; "=0" alone stops; otherwise a port (>= 0, no upper
 * limit, cut to 16 bits) and a timeout of 21-60 s, exactly three parameters. "=0,<port>,<timeout>"
 * falls through and starts, as ESP-AT's does. Starting a running server only sets the timeout. */
static atota_at_rc_t webserver_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    int64_t enable, port, timeout;
    if (!atota_at_int(at, p, 0, 0, 1, &enable))
        return ATOTA_AT_ERROR;
    if (p->count == 1 && enable == 0) {
        stop_server(m, true);
        return ATOTA_AT_OK;
    }
    if (!atota_at_int(at, p, 1, 0, INT32_MAX, &port) ||
        !atota_at_int(at, p, 2, ATOTA_WEB_TIMEOUT_MIN, ATOTA_WEB_TIMEOUT_MAX, &timeout) ||
        !atota_at_count(at, p, 3, 3))
        return ATOTA_AT_ERROR;
    if (start_server(m, (uint16_t)port) != ATOTA_OK)
        return ATOTA_AT_ERROR;
    m->webserver.timeout_s = (uint32_t)timeout;
    return ATOTA_AT_OK;
}

/* at_web_server_cmd.c: {"+WEBSERVER", NULL, NULL, at_setupCmdWebConf, NULL}: AT+CMD? 0,0,1,0. */
static const atota_at_cmd_t webserver_cmds[] = {
    {"+WEBSERVER", NULL, NULL, webserver_set, NULL},
};

atota_err_t atota_cmd_webserver_register(atota_module_t *m)
{
    m->webserver.timeout_s = ATOTA_WEB_TIMEOUT_MAX; /* s_at_web_wifi_reconnect_timeout */
    /* CONFIG_AT_WEB_SERVER_SUPPORT: a firmware built without it has no such command. */
    if (!(m->config.features & ATOTA_FEATURE_WEBSERVER))
        return ATOTA_OK;
    return atota_at_add_table(&m->at, webserver_cmds,
                              sizeof webserver_cmds / sizeof webserver_cmds[0], m);
}
