/*
 * AT+CIUPDATE and AT+CIPFWVER? (esp-at-ota.md §3; ESP-AT components/at/src/at_ota_cmd.c), state
 * in core/cmd/ciupdate.h, docs/ciupdate.md for the bytes and the differences from ESP-AT.
 *
 *   AT+CIUPDATE                       mode 0, the recommended version, "ota", blocking
 *   AT+CIUPDATE=<mode>[,<"version">][,<"name">][,<nonblocking>]
 *   AT+CIUPDATE?                      +CIUPDATE:<state>
 *   AT+CIPFWVER?                      +CIPFWVER:"<version>" per ROM on the server
 *
 * The lines, as ESP-AT writes them: +CIPUPDATE:1 when the server's name resolved, :2 when the query
 * connection is up, :3 when the recommended version is read (both only without a version), :4
 * when the target is written and verified; then OK (and a restart for a blocking "ota"), or the
 * lines reached and ERROR (blocking) / +CIPUPDATE:-1 (non-blocking). Unlike ESP-AT nothing is
 * erased before the first body bytes passed the magic check, a custom partition is staged and
 * replaced under a journal (core/ota/part_update.h), and the 3-minute limit holds over TLS too.
 */
#include <stdio.h>
#include <string.h>

#include "core/cmd/module.h"

/* Every failure: exec fail, as ESP-AT's handler returns ESP_AT_RESULT_CODE_ERROR; the reason is
 * in the log. */
#define CIUPDATE_ERR_CODE ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_EXEC_FAIL)

static const atota_stream_sink_t stream_sink;

/* ---- ending -------------------------------------------------------------------------------- */

static void close_stream(atota_module_t *m)
{
    const atota_stream_t *net = &m->host->stream;
    if (net->ops)
        net->ops->close(net->ctx);
}

static void release_target(atota_ciupdate_t *c)
{
    if (c->target_open) {
        if (c->is_app)
            atota_ota_writer_abort(&c->writer);
        else
            atota_part_update_abort(&c->part);
        c->target_open = false;
    }
    atota_sha256_free(&c->sha);
}

static void set_state(atota_module_t *m, int state)
{
    m->ciupdate.state = state;
    atota_at_printf(&m->at, "+CIPUPDATE:%d\r\n", state);
}

static void fail(atota_module_t *m, atota_err_t err, const char *msg)
{
    atota_ciupdate_t *c = &m->ciupdate;
    close_stream(m);
    release_target(c);
    c->phase = ATOTA_CIUPDATE_PHASE_IDLE;
    c->state = ATOTA_CIUPDATE_STATE_FAILED;
    atota_module_log(m, "ciupdate: failed: %s (%s)", msg ? msg : atota_strerror(err),
                     atota_err_name(err));
    if (c->nonblocking) {
        atota_at_printf(&m->at, "+CIPUPDATE:%d\r\n", ATOTA_CIUPDATE_STATE_FAILED);
        return;
    }
    atota_at_set_error(&m->at, CIUPDATE_ERR_CODE);
    atota_at_complete(&m->at, ATOTA_AT_ERROR);
}

static void fail_diag(atota_module_t *m, atota_err_t err, const atota_diag_t *d)
{
    fail(m, err, atota_diag_text(d, err));
}

static void succeed(atota_module_t *m)
{
    atota_ciupdate_t *c = &m->ciupdate;
    c->phase = ATOTA_CIUPDATE_PHASE_IDLE;
    c->target_open = false;
    set_state(m, ATOTA_CIUPDATE_DONE);
    if (c->nonblocking) {
        /* §3.2: no restart in non-blocking mode, even for "ota": the host sends AT+RST. */
        atota_module_log(m, "ciupdate: %s %s written%s", c->name, c->version,
                         c->is_app ? "; AT+RST boots it" : "");
        return;
    }
    atota_module_log(m, "ciupdate: %s %s written%s", c->name, c->version,
                     c->is_app ? "; restarting" : "");
    atota_at_complete(&m->at, ATOTA_AT_OK);
    if (c->is_app && m->host->restart)
        m->host->restart(m->host->ctx);
}

/* ---- connections ----------------------------------------------------------------------------- */

static atota_err_t connect_server(atota_module_t *m, atota_diag_t *d)
{
    atota_ciupdate_t *c = &m->ciupdate;
    const atota_stream_t *net = &m->host->stream;
    uint64_t now = m->host->now_ms(m->host->ctx);
    atota_stream_connect_t req;
    memset(&req, 0, sizeof req);
    req.host = c->host;
    req.port = c->port;
    req.tls = c->tls;
    req.ca_file = m->opts.ca_file;
    req.connect_timeout_ms = c->deadline_ms > now ? (uint32_t)(c->deadline_ms - now) : 1u;
    req.read_max = ATOTA_CIUPDATE_READ_MAX;
    atota_err_t err = net->ops->connect(net->ctx, &req, &stream_sink, m);
    if (err)
        return atota_diag_set(d, err, "connecting to %s:%u: %s", c->host, (unsigned)c->port,
                              atota_strerror(err));
    atota_module_log(m, "ciupdate: %s %s:%u for %s", c->tls ? "tls" : "tcp", c->host,
                     (unsigned)c->port,
                     c->phase == ATOTA_CIUPDATE_PHASE_QUERY ? "the recommended version" : c->name);
    return ATOTA_OK;
}

/* §3.2 step 3, before the download connection: the target. ESP-AT erases the next OTA slot or the
 * whole custom partition here; nothing is erased until body bytes passed the checks. */
static atota_err_t prepare_target(atota_module_t *m, atota_diag_t *d)
{
    atota_ciupdate_t *c = &m->ciupdate;
    /* ESP-AT: a name whose first 3 bytes are "ota" is the app (memcmp 3), but only the exact "ota"
     * has a magic: "ota_1" fails. Any other name without a magic fails too (mfg_nvs,
     * fs_storage). We refuse both before anything is touched. */
    c->is_app = strncmp(c->name, "ota", 3) == 0;
    if (!atota_iot_magic_find(c->name, 0))
        return atota_diag_set(d, ATOTA_ERR_UNSUPPORTED,
                              "'%s' has no magic in ESP-AT's table (ota, mqtt_*, client_*, "
                              "server_*, wpa_ent_*, ble_data, factory_param): refused",
                              c->name);
    uint64_t size;
    if (c->is_app) {
        atota_ota_writer_opts_t wo;
        atota_module_writer_opts(m, &wo);
        atota_err_t err = atota_ota_writer_begin(&c->writer, &wo, d);
        if (err)
            return err;
        size = c->writer.slot.size;
        c->target_open = true;
    } else {
        const atota_partition_t *e = atota_partition_find(&m->at_customize, c->name);
        if (!e)
            return atota_diag_set(d, ATOTA_ERR_NOT_FOUND,
                                  "no partition '%s' in at_customize.bin (AT+SYSFLASH? lists them)",
                                  c->name);
        c->custom = *e;
        size = e->size;
    }
    atota_sha256_init(&c->sha);
    c->prepared = true;
    return atota_iot_download_reader_init(&c->dl, c->name, 0, size);
}

static atota_err_t send_bytes(atota_module_t *m, const char *req, size_t len, atota_diag_t *d)
{
    const atota_stream_t *net = &m->host->stream;
    atota_err_t err = net->ops->send(net->ctx, req, len);
    if (err)
        return atota_diag_set(d, err, "sending the request: %s", atota_strerror(err));
    return ATOTA_OK;
}

static atota_iot_target_t iot_target(const atota_ciupdate_t *c)
{
    atota_iot_target_t t = {c->host, c->port, c->token};
    return t;
}

static void start_download(atota_module_t *m)
{
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = prepare_target(m, &d);
    if (!err) {
        m->ciupdate.phase = ATOTA_CIUPDATE_PHASE_DOWNLOAD;
        err = connect_server(m, &d);
    }
    if (err)
        fail_diag(m, err, &d);
}

/* ---- the query (§3.4) ------------------------------------------------------------------------ */

static void query_ended(atota_module_t *m)
{
    atota_ciupdate_t *c = &m->ciupdate;
    close_stream(m);
    const char *version = NULL;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_iot_query_reader_version(&c->query, &version, &d);
    if (err) {
        fail_diag(m, err, &d);
        return;
    }
    size_t n = strlen(version);
    if (n > ATOTA_IOT_VERSION_MAX) {
        fail(m, ATOTA_ERR_NET_PROTOCOL, "the recommended version is longer than 64 bytes");
        return;
    }
    memcpy(c->version, version, n + 1);
    atota_module_log(m, "ciupdate: the server recommends %s", c->version);
    set_state(m, ATOTA_CIUPDATE_VERSION);
    start_download(m);
}

static void query_data(atota_module_t *m, const uint8_t *data, size_t len)
{
    atota_ciupdate_t *c = &m->ciupdate;
    while (len > 0) {
        size_t max;
        char *space = atota_iot_query_reader_space(&c->query, &max);
        size_t n = len < max ? len : max;
        memcpy(space, data, n);
        data += n;
        len -= n;
        if (atota_iot_query_reader_feed(&c->query, n)) {
            query_ended(m); /* ESP-AT stops reading and closes */
            return;
        }
    }
}

/* ---- the download (§3.5) --------------------------------------------------------------------- */

static atota_err_t write_body(atota_module_t *m, const uint8_t *data, size_t len, atota_diag_t *d)
{
    atota_ciupdate_t *c = &m->ciupdate;
    if (len == 0)
        return ATOTA_OK;
    atota_sha256_update(&c->sha, data, len);
    if (c->is_app)
        return atota_ota_writer_write(&c->writer, data, len, d);
    if (!c->target_open) {
        /* The first body bytes passed the magic check: stage, the partition stays as it is. */
        if (c->dl.total_len <= 0)
            return atota_diag_set(d, ATOTA_ERR_NET_PROTOCOL, "Content-Length %lld",
                                  (long long)c->dl.total_len);
        atota_part_update_opts_t po;
        memset(&po, 0, sizeof po);
        po.flash = m->flash;
        po.table = &m->table;
        po.running = &m->boot.partition;
        po.target = &c->custom;
        atota_err_t err = atota_part_update_begin(&c->part, &po, (uint32_t)c->dl.total_len, d);
        if (err)
            return err;
        c->target_open = true;
    }
    return atota_part_update_write(&c->part, data, len, d);
}

static void download_ended(atota_module_t *m)
{
    atota_ciupdate_t *c = &m->ciupdate;
    close_stream(m);
    atota_diag_t d;
    atota_diag_clear(&d);
    if (c->dl.no_content_length || !c->dl.body_started) {
        /* ESP-AT ends "successfully" with nothing written: the app then fails validation, a
         * custom partition is left erased. Both fail here, with nothing touched. */
        fail(m, ATOTA_ERR_NET_PROTOCOL,
             "the reply's first read holds no \"Content-Length: \" and header end");
        return;
    }
    uint8_t got[ATOTA_SHA256_LEN];
    atota_sha256_finish(&c->sha, got);
    if (c->have_digest && memcmp(got, c->digest, sizeof got) != 0) {
        fail(m, ATOTA_ERR_IMAGE_HASH, "the bytes received do not match the server's Repr-Digest");
        return;
    }
    atota_err_t err =
        c->is_app ? atota_ota_writer_finish(&c->writer, NULL, &d)
                  : atota_part_update_finish(&c->part, c->have_digest ? c->digest : NULL, &d);
    if (err && !c->is_app && c->part.committed) {
        /* Past the commit point the journal owns the update: complete it now (else the next
         * boot does). */
        atota_module_log(m, "ciupdate: %s; completing from the journal", atota_diag_text(&d, err));
        atota_diag_clear(&d);
        err = atota_part_update_recover(m->flash, &m->table, &m->at_customize, NULL, &d);
    }
    if (err) {
        fail_diag(m, err, &d);
        return;
    }
    succeed(m);
}

static void download_data(atota_module_t *m, const uint8_t *data, size_t len)
{
    atota_ciupdate_t *c = &m->ciupdate;
    atota_diag_t d;
    atota_diag_clear(&d);
    bool started = c->dl.body_started;
    const uint8_t *body;
    size_t body_len;
    atota_err_t err = atota_iot_download_reader_feed(&c->dl, data, len, &body, &body_len, &d);
    if (!err && !started && c->dl.body_started)
        c->have_digest =
            atota_iot_digest_parse((const char *)data, (size_t)(body - data), c->digest);
    if (!err)
        err = write_body(m, body, body_len, &d);
    if (err) {
        fail_diag(m, err, &d);
        return;
    }
    if (c->dl.done)
        download_ended(m);
}

/* ---- the stream's callbacks ------------------------------------------------------------------ */

static void on_connected(void *ctx, atota_err_t err, const char *msg)
{
    atota_module_t *m = ctx;
    atota_ciupdate_t *c = &m->ciupdate;
    /* ESP-AT resolves first (+CIPUPDATE:1) and connects after: a name that does not resolve
     * prints nothing, a server that refuses prints :1 before ERROR. */
    if (c->state == ATOTA_CIUPDATE_IDLE && err != ATOTA_ERR_NET_DNS)
        set_state(m, ATOTA_CIUPDATE_FOUND);
    if (err) {
        fail(m, err, msg);
        return;
    }
    char req[ATOTA_IOT_BUF_SIZE];
    atota_iot_target_t t = iot_target(c);
    atota_diag_t d;
    atota_diag_clear(&d);
    if (c->phase == ATOTA_CIUPDATE_PHASE_QUERY) {
        set_state(m, ATOTA_CIUPDATE_CONNECTED);
        atota_iot_query_reader_init(&c->query);
        err = send_bytes(m, req, atota_iot_request_query(&t, req), &d);
    } else {
        if (!c->prepared) { /* a version was given: the target is prepared after :1 */
            err = prepare_target(m, &d);
            if (err) {
                fail_diag(m, err, &d);
                return;
            }
        }
        err = send_bytes(m, req, atota_iot_request_download(&t, c->version, c->name, req), &d);
    }
    if (err)
        fail_diag(m, err, &d);
}

static void on_data(void *ctx, const uint8_t *data, size_t len)
{
    atota_module_t *m = ctx;
    if (m->ciupdate.phase == ATOTA_CIUPDATE_PHASE_QUERY)
        query_data(m, data, len);
    else if (m->ciupdate.phase == ATOTA_CIUPDATE_PHASE_DOWNLOAD)
        download_data(m, data, len);
}

static void on_closed(void *ctx, atota_err_t err, const char *msg)
{
    atota_module_t *m = ctx;
    atota_ciupdate_t *c = &m->ciupdate;
    if (c->phase == ATOTA_CIUPDATE_PHASE_QUERY) {
        /* read() <= 0 ends ESP-AT's loop; the buffer is scraped either way. */
        if (err)
            atota_module_log(m, "ciupdate: query connection: %s", msg ? msg : atota_strerror(err));
        query_ended(m);
        return;
    }
    if (c->phase != ATOTA_CIUPDATE_PHASE_DOWNLOAD)
        return;
    atota_diag_t d;
    atota_diag_clear(&d);
    if (err) {
        fail(m, ATOTA_ERR_NET_RESET, msg);
        return;
    }
    if (!c->dl.body_started) {
        fail(m, ATOTA_ERR_NET_RESET, "the server closed before the body");
        return;
    }
    err = atota_iot_download_reader_closed(&c->dl, &d);
    if (err)
        fail_diag(m, err, &d);
    else
        download_ended(m);
}

static const atota_stream_sink_t stream_sink = {on_connected, on_data, on_closed};

/* ---- the commands ---------------------------------------------------------------------------- */

bool atota_module_ota_running(const atota_module_t *m)
{
    return atota_download_running(&m->download) || m->ciupdate.phase != ATOTA_CIUPDATE_PHASE_IDLE ||
           atota_webserver_uploading(m);
}

void atota_ciupdate_poll(atota_module_t *m)
{
    atota_ciupdate_t *c = &m->ciupdate;
    if (c->phase == ATOTA_CIUPDATE_PHASE_IDLE)
        return;
    /* §3.3: one 3-minute timer over resolution, query and download. ESP-AT's closes only a plain
     * socket; this one ends a TLS update too. */
    if (m->host->now_ms(m->host->ctx) >= c->deadline_ms)
        fail(m, ATOTA_ERR_NET_TIMEOUT, "the 3-minute OTA limit passed");
}

static atota_at_rc_t start(atota_module_t *m, bool tls, const char *version, const char *name,
                           bool nonblocking)
{
    atota_ciupdate_t *c = &m->ciupdate;
    if (atota_module_ota_running(m)) {
        atota_module_log(m, "ciupdate: ALREADY IN OTA");
        return ATOTA_AT_ERROR;
    }
    if (tls && !(m->config.features & ATOTA_FEATURE_OTA_SSL)) {
        atota_module_log(m, "ciupdate: mode 1: this firmware has no OTA over SSL");
        return ATOTA_AT_ERROR;
    }
    atota_err_t why = ATOTA_OK;
    if (!m->host->stream.ops)
        why = ATOTA_ERR_UNSUPPORTED;
    else if (!atota_wifi_connected(&m->wifi))
        why = ATOTA_ERR_NET_DOWN; /* gethostbyname fails: no line, ERROR */
    if (why) {
        c->state = ATOTA_CIUPDATE_STATE_FAILED;
        atota_module_log(m, "ciupdate: failed: %s (%s)",
                         why == ATOTA_ERR_NET_DOWN ? atota_strerror(why)
                                                   : "the host has no network streams",
                         atota_err_name(why));
        return ATOTA_AT_ERROR;
    }

    memset(c, 0, sizeof *c);
    c->nonblocking = nonblocking;
    c->tls = tls;
    c->host = tls ? m->config.ssl_host : m->config.ota_host;
    c->port = tls ? m->config.ssl_port : m->config.ota_port;
    c->token = tls ? m->config.ssl_token : m->config.ota_token;
    snprintf(c->name, sizeof c->name, "%s", name && *name ? name : "ota");
    c->deadline_ms = m->host->now_ms(m->host->ctx) + ATOTA_CIUPDATE_TIMEOUT_MS;
    if (version) {
        snprintf(c->version, sizeof c->version, "%s", version);
        c->phase = ATOTA_CIUPDATE_PHASE_DOWNLOAD;
    } else {
        c->phase = ATOTA_CIUPDATE_PHASE_QUERY;
    }
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = connect_server(m, &d);
    if (err) {
        c->phase = ATOTA_CIUPDATE_PHASE_IDLE;
        c->state = ATOTA_CIUPDATE_STATE_FAILED;
        atota_module_log(m, "ciupdate: failed: %s", atota_diag_text(&d, err));
        return ATOTA_AT_ERROR;
    }
    return nonblocking ? ATOTA_AT_OK : ATOTA_AT_PENDING;
}

static atota_at_rc_t ciupdate_exec(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at, (void)p;
    return start(ctx, false, NULL, "ota", false);
}

/* §3.1: AT+CIUPDATE=<ota mode>[,<"version">][,<"firmware name">][,<nonblocking>] */
static atota_at_rc_t ciupdate_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    int64_t mode, nb;
    const char *version, *name;
    size_t vlen, nlen;
    if (!atota_at_count(at, p, 1, 4) || !atota_at_int(at, p, 0, 0, 1, &mode) ||
        !atota_at_str_opt(at, p, 1, ATOTA_IOT_VERSION_MAX, &version, &vlen) ||
        !atota_at_str_opt(at, p, 2, ATOTA_CIUPDATE_NAME_MAX, &name, &nlen) ||
        !atota_at_int_opt(at, p, 3, 0, 1, 0, &nb))
        return ATOTA_AT_ERROR;
    /* A version or name holding a NUL byte would not be the string ESP-AT's C code sees. */
    if ((version && strlen(version) != vlen) || (name && strlen(name) != nlen)) {
        atota_at_set_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_INVALID));
        return ATOTA_AT_ERROR;
    }
    /* §3.1: an explicit "" version is a (empty) version in blocking mode, and omitted in
     * non-blocking mode. */
    if (nb && version && vlen == 0)
        version = NULL;
    return start(ctx, mode == 1, version, name, nb == 1);
}

/* §3.1: "%s:%d\r\n" with the command's own name, +CIUPDATE (the docs' +CIPUPDATE is wrong). */
static atota_at_rc_t ciupdate_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    atota_at_printf(at, "+CIUPDATE:%d\r\n", m->ciupdate.state);
    return ATOTA_AT_OK;
}

/* ---- AT+CIPFWVER? (§3.6) --------------------------------------------------------------------- */

static atota_err_t fwver_headers(void *ctx, const atota_http_response_t *r)
{
    atota_module_t *m = ctx;
    m->ciupdate.fwver_status = r->status;
    if (r->status >= 400)
        return ATOTA_ERR_HTTP_STATUS;
    return ATOTA_OK;
}

static atota_err_t fwver_body(void *ctx, const uint8_t *data, size_t len)
{
    atota_ciupdate_t *c = &((atota_module_t *)ctx)->ciupdate;
    /* ESP-AT copies into its 8192-byte buffer without a bound check; we stop instead. */
    if (len >= sizeof c->fwver - c->fwver_len)
        return ATOTA_ERR_TOO_BIG;
    memcpy(c->fwver + c->fwver_len, data, len);
    c->fwver_len += len;
    c->fwver[c->fwver_len] = '\0';
    return ATOTA_OK;
}

static void fwver_line(void *ctx, const char *text, size_t len)
{
    atota_module_t *m = ctx;
    atota_at_write(&m->at, text, len);
}

static void fwver_done(void *ctx, atota_err_t err, const char *msg)
{
    atota_module_t *m = ctx;
    atota_ciupdate_t *c = &m->ciupdate;
    c->fwver_running = false;
    atota_diag_t d;
    atota_diag_clear(&d);
    if (!err) {
        unsigned n = 0;
        err = atota_iot_fwver_lines(c->fwver, c->fwver_len, fwver_line, m, &n, &d);
        msg = atota_diag_text(&d, err);
        if (!err)
            atota_module_log(m, "cipfwver: %u versions", n);
    } else if (err == ATOTA_ERR_HTTP_STATUS) {
        atota_module_log(m, "cipfwver: HTTP status %d", c->fwver_status);
    }
    if (err) {
        atota_module_log(m, "cipfwver: failed: %s (%s)", msg ? msg : atota_strerror(err),
                         atota_err_name(err));
        atota_at_set_error(&m->at, CIUPDATE_ERR_CODE);
        atota_at_complete(&m->at, ATOTA_AT_ERROR);
        return;
    }
    atota_at_complete(&m->at, ATOTA_AT_OK);
}

static atota_at_rc_t cipfwver_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at, (void)p;
    atota_module_t *m = ctx;
    atota_ciupdate_t *c = &m->ciupdate;
    const atota_http_t *http = &m->host->http;
    if (!http->ops || !atota_wifi_connected(&m->wifi) || c->fwver_running) {
        atota_module_log(
            m, "cipfwver: failed: %s",
            !http->ops ? "the host has no HTTP client"
                       : atota_strerror(c->fwver_running ? ATOTA_ERR_STATE : ATOTA_ERR_NET_DOWN));
        return ATOTA_AT_ERROR;
    }
    /* §3.6: esp_http_client to the SSL server when SSL is compiled in, else the plain one, at the
     * scheme's default port (the *_PORT options are not used), path /v1/device/rom. */
    bool ssl = (m->config.features & ATOTA_FEATURE_OTA_SSL) != 0;
    char url[160];
    snprintf(url, sizeof url, "%s://%s/v1/device/rom", ssl ? "https" : "http",
             ssl ? m->config.ssl_host : m->config.ota_host);
    char auth[96];
    snprintf(auth, sizeof auth, "Authorization: token %s",
             ssl ? m->config.ssl_token : m->config.ota_token);
    const char *headers[] = {auth, NULL};
    atota_http_request_t req;
    memset(&req, 0, sizeof req);
    req.url = url;
    req.ca_file = m->opts.ca_file;
    req.connect_timeout_ms = ATOTA_CIPFWVER_TIMEOUT_MS;
    req.stall_timeout_ms = ATOTA_CIPFWVER_TIMEOUT_MS;
    req.headers = headers;
    static const atota_http_sink_t sink = {fwver_headers, fwver_body, fwver_done};
    c->fwver_len = 0;
    c->fwver[0] = '\0';
    c->fwver_status = 0;
    atota_err_t err = http->ops->get(http->ctx, &req, &sink, m);
    if (err) {
        atota_module_log(m, "cipfwver: failed: %s %s", url, atota_strerror(err));
        return ATOTA_AT_ERROR;
    }
    c->fwver_running = true;
    atota_module_log(m, "cipfwver: GET %s", url);
    return ATOTA_AT_PENDING;
}

/* at_ota_cmd.c: {"+CIUPDATE", NULL, query, setup, exe}, {"+CIPFWVER", NULL, query, NULL, NULL}. */
static const atota_at_cmd_t ciupdate_cmds[] = {
    {"+CIUPDATE", NULL, ciupdate_query, ciupdate_set, ciupdate_exec},
    {"+CIPFWVER", NULL, cipfwver_query, NULL, NULL},
};

atota_err_t atota_cmd_ciupdate_register(atota_module_t *m)
{
    /* CONFIG_AT_OTA_SUPPORT: a firmware built without it has neither command. */
    if (!(m->config.features & ATOTA_FEATURE_OTA))
        return ATOTA_OK;
    return atota_at_add_table(&m->at, ciupdate_cmds, sizeof ciupdate_cmds / sizeof ciupdate_cmds[0],
                              m);
}
