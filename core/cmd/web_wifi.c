/*
 * AT+WEBSERVER's Wi-Fi provisioning (esp-at-ota.md §4.3, §4.5; ESP-AT at_web_server_cmd.c):
 * /getstainfo, /setstainfo, /getresult, /getaprecord, and the timer that follows the connection
 * /setstainfo starts, over the virtual Wi-Fi (core/cmd/wifi.h). docs/webserver.md has the bytes.
 *
 * The flow the page drives: POST /setstainfo {"ssid":..,"password":..} -> {"state": 0}; 300 ms
 * later the station connects and "+WEBSERVERRSP:1" is written; every 500 ms the connection is
 * checked, until it has an address (state 1, "connect OK") or <connection_timeout> seconds passed
 * (state 2, "connect fail"); the page polls GET /getstainfo, then POSTs /getresult "received=1",
 * which clears the configuration and writes "+WEBSERVERRSP:2".
 */
#include <string.h>

#include "core/cmd/module.h"
#include "core/util/text.h"

static uint64_t now_ms(const atota_module_t *m)
{
    return m->host && m->host->now_ms ? m->host->now_ms(m->host->ctx) : 0;
}

/* ---- a JSON reader with cJSON's rules, for /setstainfo ------------------------------------ */

/* ESP-AT parses the body with cJSON_Parse and takes the root's "ssid" and "password" with
 * cJSON_GetObjectItem: the first member of that name in any case, a string. The body is a C
 * string (below 320 bytes); what follows the root value is not read (the applet appends
 * "&udp_port=<n>"). */
typedef struct {
    const char *s;
    size_t n, i;
} json_reader_t;

static void skip_space(json_reader_t *r)
{
    while (r->i < r->n && (unsigned char)r->s[r->i] <= 32) /* buffer_skip_whitespace */
        r->i++;
}

static bool at_char(const json_reader_t *r, char c)
{
    return r->i < r->n && r->s[r->i] == c;
}

static int hex4(const json_reader_t *r, size_t at)
{
    if (at + 4 > r->n)
        return -1;
    int v = 0;
    for (size_t k = 0; k < 4; k++) {
        int d = atota_hex_digit(r->s[at + k]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* Adds a code point as UTF-8 (utf16_literal_to_utf8) to out, while it fits. */
static void put_utf8(char *out, size_t cap, size_t *len, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12), b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        b[0] = (char)(0xF0 | cp >> 18), b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (char)(0x80 | (cp >> 6 & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    for (size_t k = 0; k < n; k++)
        if (out && *len + 1 < cap)
            out[(*len)++] = b[k];
}

/* A string at r (parse_string): the escapes \" \\ \/ \b \f \n \r \t \uXXXX (surrogate pairs
 * joined, a lone one refused); anything else after a backslash is an error. The text goes to out
 * (cap bytes, NUL-terminated, cut to fit) when out is not NULL. */
static bool read_string(json_reader_t *r, char *out, size_t cap)
{
    size_t len = 0;
    if (!at_char(r, '"'))
        return false;
    r->i++;
    for (;;) {
        if (r->i >= r->n)
            return false;
        char c = r->s[r->i++];
        if (c == '"')
            break;
        if (c != '\\') {
            if (out && len + 1 < cap)
                out[len++] = c;
            continue;
        }
        if (r->i >= r->n)
            return false;
        c = r->s[r->i++];
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *e = c ? strchr(from, c) : NULL;
        if (e) {
            if (out && len + 1 < cap)
                out[len++] = to[e - from];
            continue;
        }
        if (c != 'u')
            return false;
        int hi = hex4(r, r->i);
        if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
            return false;
        r->i += 4;
        uint32_t cp = (uint32_t)hi;
        if (hi >= 0xD800 && hi <= 0xDBFF) {
            int lo = r->i + 1 < r->n && r->s[r->i] == '\\' && r->s[r->i + 1] == 'u'
                         ? hex4(r, r->i + 2)
                         : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return false;
            r->i += 6;
            cp = 0x10000 + (((uint32_t)hi & 0x3FF) << 10 | ((uint32_t)lo & 0x3FF));
        }
        put_utf8(out, cap, &len, cp);
    }
    if (out)
        out[len] = '\0';
    return true;
}

static size_t digits(json_reader_t *r)
{
    size_t k = 0;
    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
        r->i++, k++;
    return k;
}

/* A number (parse_number: what strtod takes of the characters that follow). */
static bool read_number(json_reader_t *r)
{
    if (at_char(r, '-'))
        r->i++;
    size_t whole = digits(r), frac = 0;
    if (at_char(r, '.')) {
        r->i++;
        frac = digits(r);
    }
    if (whole + frac == 0)
        return false;
    if (at_char(r, 'e') || at_char(r, 'E')) {
        size_t back = r->i++;
        if (at_char(r, '+') || at_char(r, '-'))
            r->i++;
        if (digits(r) == 0)
            r->i = back; /* "1e" is 1 and an 'e' the container refuses */
    }
    return true;
}

static bool read_word(json_reader_t *r, const char *w)
{
    size_t n = strlen(w);
    if (r->n - r->i < n || memcmp(r->s + r->i, w, n) != 0)
        return false;
    r->i += n;
    return true;
}

/* Skips one value of any kind, checking its syntax. Containers are followed with a stack (the
 * body is short: at most one level per two bytes), not by recursion. */
static bool skip_value(json_reader_t *r)
{
    char stack[ATOTA_WEB_SCRATCH_SIZE / 2];
    size_t depth = 0;
    bool want_key = false;
    for (;;) {
        skip_space(r);
        bool done = false; /* a whole value was read */
        if (want_key) {
            if (!read_string(r, NULL, 0))
                return false;
            skip_space(r);
            if (!at_char(r, ':'))
                return false;
            r->i++;
            want_key = false;
            continue;
        }
        if (at_char(r, '{') || at_char(r, '[')) {
            char open = r->s[r->i++];
            skip_space(r);
            if (at_char(r, open == '{' ? '}' : ']')) {
                r->i++;
                done = true;
            } else {
                if (depth == sizeof stack)
                    return false;
                stack[depth++] = open;
                want_key = open == '{';
                continue;
            }
        } else if (at_char(r, '"')) {
            done = read_string(r, NULL, 0);
        } else if (at_char(r, '-') || (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')) {
            done = read_number(r);
        } else {
            done = read_word(r, "null") || read_word(r, "false") || read_word(r, "true");
        }
        if (!done)
            return false;
        /* after a value: the container goes on, or closes (perhaps several) */
        for (;;) {
            if (depth == 0)
                return true;
            skip_space(r);
            char top = stack[depth - 1];
            if (at_char(r, ',')) {
                r->i++;
                want_key = top == '{';
                break;
            }
            if (at_char(r, top == '{' ? '}' : ']')) {
                r->i++;
                depth--;
                continue;
            }
            return false;
        }
    }
}

static bool same_nocase(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return false;
        if (!x)
            return true;
    }
}

/* at_get_wifi_info_from_json_str: the root object's "ssid" (at most 32 bytes) and "password" (at
 * most 64), "" when absent. False for a body that is not JSON, a member of another type than
 * string (ESP-AT dereferences NULL there), or a value too long. */
static bool parse_wifi_json(const char *body, char ssid[33], char password[65])
{
    json_reader_t r = {body, strlen(body), 0};
    char key[ATOTA_WEB_SCRATCH_SIZE], value[ATOTA_WEB_SCRATCH_SIZE];
    bool has_ssid = false, has_password = false;
    ssid[0] = password[0] = '\0';
    if (r.n >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) /* skip_utf8_bom */
        r.i = 3;
    skip_space(&r);
    if (!at_char(&r, '{'))
        return false; /* not an object: no member, or not JSON; both end in 400 */
    r.i++;
    skip_space(&r);
    if (at_char(&r, '}'))
        return true;
    for (;;) {
        skip_space(&r);
        if (!read_string(&r, key, sizeof key))
            return false;
        skip_space(&r);
        if (!at_char(&r, ':'))
            return false;
        r.i++;
        skip_space(&r);
        bool is_ssid = !has_ssid && same_nocase(key, "ssid");
        bool is_password = !has_password && same_nocase(key, "password");
        if (is_ssid || is_password) {
            if (!read_string(&r, value, sizeof value))
                return false;
            size_t n = strlen(value); /* a \u0000 ends the C string, as in ESP-AT */
            if (n > (is_ssid ? 32u : 64u))
                return false;
            memcpy(is_ssid ? ssid : password, value, n + 1);
            has_ssid |= is_ssid;
            has_password |= is_password;
        } else if (!skip_value(&r)) {
            return false;
        }
        skip_space(&r);
        if (at_char(&r, ',')) {
            r.i++;
            continue;
        }
        if (!at_char(&r, '}'))
            return false;
        return true;
    }
}

/* at_web_find_arg: whether "<arg>=" starts the body or follows a '&', before a CR or LF; *value
 * (may be NULL) gets the text up to the next '&' (cap bytes, NUL-terminated). */
static bool find_arg(const char *body, const char *arg, char *value, size_t cap)
{
    size_t n = strlen(arg);
    for (const char *p = body; p && *p && *p != '\n' && *p != '\r';) {
        if (strncmp(p, arg, n) == 0 && p[n] == '=') {
            p += n + 1;
            const char *e = strchr(p, '&');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (value && cap) {
                if (len >= cap)
                    len = cap - 1;
                memcpy(value, p, len);
                value[len] = '\0';
            }
            return true;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return false;
}

/* ---- GET /getstainfo, GET /getaprecord ----------------------------------------------------- */

void atota_web_getstainfo(atota_module_t *m, atota_httpd_request_t *req)
{
    atota_webserver_t *w = &m->webserver;
    static const char *const messages[] = {"waiting config", "config done", "connecting",
                                           "connect fail",   "connect OK",  ""};
    int state = w->sta_state == ATOTA_WEB_STA_CONNECT_OK     ? 1
                : w->sta_state == ATOTA_WEB_STA_CONNECT_FAIL ? 2
                                                             : 0;
    atota_web_json_t j;
    atota_web_json_init(&j, w->json, sizeof w->json);
    atota_web_json_printf(&j, "{\"state\":%d,\"sta_ssid\":\"", state);
    atota_web_json_string(&j, w->sta_ssid, true);
    atota_web_json_raw(&j, "\",\"sta_password\":\"");
    atota_web_json_string(&j, w->sta_password, true);
    atota_web_json_printf(&j, "\",\"message\":\"%s\"}",
                          w->sta_state <= ATOTA_WEB_STA_RESULT_CHECKED ? messages[w->sta_state]
                                                                       : "");
    atota_web_reply(m, req, 200, "application/json", j.buf, j.len);
}

void atota_web_getaprecord(atota_module_t *m, atota_httpd_request_t *req)
{
    const atota_wifi_t *wifi = &m->wifi;
    /* a scan needs the station interface; one that finds nothing fails ("There is no ap
     * here"): 500 {"state": 1} */
    if (!(wifi->mode & 1) || wifi->ap_count == 0) {
        atota_web_reply_state(m, req, 500, 1);
        return;
    }
    /* the scan's records, strongest first (ap_record_sort_by_rssi, stable), at most 10 */
    unsigned idx[ATOTA_WIFI_MAX_APS], n = 0;
    for (unsigned i = 0; i < wifi->ap_count; i++) {
        unsigned at = n;
        while (at > 0 && wifi->aps[idx[at - 1]].rssi < wifi->aps[i].rssi)
            at--;
        memmove(&idx[at + 1], &idx[at], (n - at) * sizeof idx[0]);
        idx[at] = i;
        n++;
    }
    if (n > ATOTA_WEB_AP_MAX)
        n = ATOTA_WEB_AP_MAX;
    atota_webserver_t *w = &m->webserver;
    atota_web_json_t j;
    atota_web_json_init(&j, w->json, sizeof w->json);
    atota_web_json_raw(&j, "{\"state\":0,\"message\":\"scan done\",\"aplist\":[");
    for (unsigned k = 0; k < n; k++) {
        const atota_wifi_ap_t *ap = &wifi->aps[idx[k]];
        if (ap->ssid[0] == '\0')
            continue; /* hidden */
        atota_web_json_raw(&j, "{\"ssid\":\"");
        atota_web_json_string(&j, ap->ssid, true);
        atota_web_json_printf(&j, "\",\"auth_mode\":%u},", (unsigned)ap->ecn);
    }
    /* sprintf(json + len - 1, "]}"): over the last comma, or over the '[' when every record was
     * hidden (then not JSON, as ESP-AT's) */
    if (!j.overflow)
        j.buf[--j.len] = '\0';
    atota_web_json_raw(&j, "]}");
    atota_web_reply(m, req, 200, "application/json", j.buf, j.len);
}

/* ---- POST /setstainfo ---------------------------------------------------------------------- */

/* config_wifi_post_handler's first checks: the softAP and the station both on (AT+CWMODE=3), and
 * no connection being applied; then recv_post_data's size limit. */
static bool setstainfo_allowed(atota_module_t *m, atota_httpd_request_t *req)
{
    uint8_t s = m->webserver.sta_state;
    if (m->wifi.mode != 3 || (s != ATOTA_WEB_STA_NOT_START && s != ATOTA_WEB_STA_CONNECT_FAIL &&
                              s != ATOTA_WEB_STA_CONNECT_OK)) {
        atota_module_log(m, "webserver: /setstainfo refused: %s",
                         m->wifi.mode != 3 ? "the Wi-Fi mode is not 3 (softAP + station)"
                                           : "a connection is being made");
        atota_web_reply_state(m, req, 400, 1);
        return false;
    }
    return true;
}

bool atota_web_setstainfo_begin(atota_module_t *m, atota_httpd_request_t *req)
{
    if (!setstainfo_allowed(m, req))
        return false;
    if (req->content_length >= (int64_t)ATOTA_WEB_SCRATCH_SIZE) {
        /* httpd_resp_send_500 first (its answer is the one the client reads) */
        atota_web_reply_error(m, req, 500);
        return false;
    }
    return true;
}

void atota_web_setstainfo_body(atota_module_t *m, atota_httpd_request_t *req, const char *body,
                               size_t len)
{
    (void)len;
    atota_webserver_t *w = &m->webserver;
    if (!setstainfo_allowed(m, req)) /* another request started a connection meanwhile */
        return;
    char ssid[33], password[65], port[32];
    bool udp = false;
    const char *why = NULL;
    if (!parse_wifi_json(body, ssid, password))
        why = "the body is not {\"ssid\":\"..\",\"password\":\"..\"} within 32 and 64 bytes";
    else if (!ssid[0] && !password[0])
        why = "no SSID and no password";
    else if ((udp = find_arg(body, "udp_port", port, sizeof port)) && !port[0])
        why = "an empty udp_port";
    if (why) {
        atota_module_log(m, "webserver: /setstainfo refused: %s", why);
        atota_web_reply_state(m, req, 400, 1);
        return;
    }
    memcpy(w->sta_ssid, ssid, sizeof w->sta_ssid);
    memcpy(w->sta_password, password, sizeof w->sta_password);
    atota_web_reply_state(m, req, 200, 0);
    /* vTaskDelay(300 ms) "to avoid wifi ap channel changed so quickly that the response can not
     * be sent", then at_web_apply_wifi_connect_info */
    w->join = ATOTA_WEB_JOIN_APPLY;
    w->wechat = udp && !ssid[0];
    w->due_ms = now_ms(m) + ATOTA_WEB_APPLY_DELAY_MS;
    atota_module_log(m, "webserver: /setstainfo: connecting to \"%s\" in %u ms", ssid,
                     ATOTA_WEB_APPLY_DELAY_MS);
}

/* ---- POST /getresult ----------------------------------------------------------------------- */

/* accept_wifi_result_post_handler, the states that do not read the body. */
static void getresult_without_body(atota_module_t *m, atota_httpd_request_t *req)
{
    uint8_t s = m->webserver.sta_state;
    if (s == ATOTA_WEB_STA_CONFIG_DONE || s == ATOTA_WEB_STA_CONNECTING)
        atota_web_message(m, 2); /* the page closed before the result: release */
    atota_web_reply_state(m, req, 200, 0);
}

static bool has_result(const atota_module_t *m)
{
    uint8_t s = m->webserver.sta_state;
    return s == ATOTA_WEB_STA_CONNECT_FAIL || s == ATOTA_WEB_STA_CONNECT_OK;
}

bool atota_web_getresult_begin(atota_module_t *m, atota_httpd_request_t *req)
{
    if (!has_result(m)) {
        getresult_without_body(m, req);
        return false;
    }
    if (req->content_length >= (int64_t)ATOTA_WEB_SCRATCH_SIZE) {
        atota_web_reply_error(m, req, 500);
        return false;
    }
    return true;
}

void atota_web_getresult_body(atota_module_t *m, atota_httpd_request_t *req, const char *body,
                              size_t len)
{
    (void)len;
    atota_webserver_t *w = &m->webserver;
    if (!has_result(m)) { /* another request took the result meanwhile */
        getresult_without_body(m, req);
        return;
    }
    if (!find_arg(body, "received", NULL, 0)) {
        atota_module_log(m, "webserver: /getresult: no received=<n> in the body");
        atota_web_reply_state(m, req, 400, 1);
        return;
    }
    /* the result was seen: forget the configuration, tell the host */
    w->sta_state = ATOTA_WEB_STA_NOT_START;
    w->sta_ssid[0] = w->sta_password[0] = '\0';
    atota_web_message(m, 2);
    atota_web_reply_state(m, req, 200, 0);
}

/* ---- the connection (at_web_apply_wifi_connect_info and its timer) ------------------------- */

static void apply(atota_module_t *m)
{
    atota_webserver_t *w = &m->webserver;
    atota_wifi_t *wifi = &m->wifi;
    uint64_t now = now_ms(m);
    if (w->wechat) {
        /* the applet's "local phone hotspot" (§4.6): disconnect, then scan for the phone's AP
         * for timeout - 10 s; the simulation has no phone, so the search fails at its end */
        if (atota_wifi_disconnect(wifi))
            atota_at_write(&m->at, "WIFI DISCONNECT\r\n", 17);
        w->sta_state = ATOTA_WEB_STA_CONNECTING;
        atota_web_message(m, 1);
        uint32_t t =
            w->timeout_s > ATOTA_WEB_SEARCH_MARGIN_S ? w->timeout_s - ATOTA_WEB_SEARCH_MARGIN_S : 0;
        w->join = ATOTA_WEB_JOIN_SEARCH;
        w->due_ms = now + (uint64_t)t * 1000u;
        return;
    }
    /* at_web_try_connect: esp_wifi_set_config (stored as AT+SYSSTORE says, like AT+CWJAP's) and
     * connect; a password sets the WEP threshold, so an open AP is not joined then. A join that
     * AT+CWJAP is waiting for keeps it waiting, for this join's outcome. */
    memcpy(wifi->saved_ssid, w->sta_ssid, sizeof wifi->saved_ssid);
    memcpy(wifi->saved_password, w->sta_password, sizeof wifi->saved_password);
    wifi->has_saved = true;
    if (m->nvs_ok && m->sys.sysstore)
        (void)atota_wifi_save(wifi, &m->nvs);
    atota_wifi_join_t kind =
        wifi->joining == ATOTA_WIFI_JOIN_COMMAND ? ATOTA_WIFI_JOIN_COMMAND : ATOTA_WIFI_JOIN_AUTO;
    atota_wifi_join_begin(m, w->sta_ssid, w->sta_password, NULL, w->sta_password[0] != '\0', kind);
    w->sta_state = ATOTA_WEB_STA_CONNECTING;
    atota_web_message(m, 1);
    w->join = ATOTA_WEB_JOIN_POLL;
    w->ticks = 1;
    w->due_ms = now + ATOTA_WEB_POLL_MS;
}

/* listen_sta_connect_status_timer_cb: connect_count runs from 1; below timeout * 2 a tick with an
 * address ends in "connect OK", at it in "connect fail". */
static void tick(atota_module_t *m)
{
    atota_webserver_t *w = &m->webserver;
    unsigned max = w->timeout_s * 1000u / ATOTA_WEB_POLL_MS;
    if (w->ticks < max) {
        if (!atota_wifi_connected(&m->wifi)) {
            w->ticks++;
            return;
        }
        w->sta_state = ATOTA_WEB_STA_CONNECT_OK;
        atota_module_log(m, "webserver: connected to \"%s\"", w->sta_ssid);
    } else {
        w->sta_state = ATOTA_WEB_STA_CONNECT_FAIL;
        atota_module_log(m, "webserver: no connection to \"%s\" within %u s", w->sta_ssid,
                         (unsigned)w->timeout_s);
    }
    w->join = ATOTA_WEB_JOIN_IDLE;
}

void atota_webserver_poll(atota_module_t *m)
{
    atota_webserver_t *w = &m->webserver;
    uint64_t now = now_ms(m);
    while (w->join != ATOTA_WEB_JOIN_IDLE && now >= w->due_ms) {
        switch (w->join) {
        case ATOTA_WEB_JOIN_APPLY:
            apply(m);
            break;
        case ATOTA_WEB_JOIN_POLL:
            w->due_ms += ATOTA_WEB_POLL_MS;
            tick(m);
            break;
        default: /* the phone-hotspot search ended without a phone */
            w->join = ATOTA_WEB_JOIN_IDLE;
            w->sta_state = ATOTA_WEB_STA_CONNECT_FAIL;
            w->sta_ssid[0] = w->sta_password[0] = '\0';
            atota_module_log(m, "webserver: the phone-hotspot search found no phone");
            atota_web_message(m, 2);
            break;
        }
    }
}
