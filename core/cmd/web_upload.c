/*
 * AT+WEBSERVER's POST /setotadata (esp-at-ota.md §4.4; ESP-AT at_web_server_cmd.c
 * ota_data_post_handler, ota_upgrade, at_customize_partition_upgrade): a firmware file as the raw
 * body of a request whose "Object" header names the target, "ota..." for the app (the next OTA
 * slot) or an at_customize label. docs/webserver.md has the bytes and the differences.
 *
 * On the AT port: "+WEBSERVERRSP:3" once the Object header is read, then "+WEBSERVERRSP:4" after
 * {"state": 0} (200) or "+WEBSERVERRSP:5" after {"state": 1} (500; 401 for the upload password).
 * No restart: the host sends AT+RST to boot a new app.
 *
 * Unlike ESP-AT, a failure changes nothing: the app goes through the OTA writer (the header is
 * checked before anything is erased, the image verified before the boot slot switches), a custom
 * partition through the staged updater (core/ota/part_update.h) instead of an erase in place. And
 * two ATOTA extensions, which ESP-AT clients never send: an upload password (the firmware
 * configuration's web_password, asked in the X-Upload-Password header) and a body digest
 * (Content-Digest or Repr-Digest: sha-256, RFC 9530) checked before the switch.
 */
#include <stdio.h>
#include <string.h>

#include "core/cmd/module.h"
#include "core/proto/iot.h"

static const char *const digest_headers[] = {"Content-Digest", "Repr-Digest"};

static const char *header(atota_module_t *m, atota_httpd_request_t *req, const char *name)
{
    const atota_httpd_t *h = &m->webserver.httpd;
    return h->ops ? h->ops->header(h->ctx, req, name) : NULL;
}

/* Forgets the target (nothing was switched or committed: it stays as it was) and the request. */
static void release(atota_web_upload_t *u)
{
    if (u->target_open) {
        if (u->is_app)
            atota_ota_writer_abort(&u->writer);
        else
            atota_part_update_abort(&u->part);
        u->target_open = false;
    }
    if (u->hashing) {
        atota_sha256_free(&u->sha);
        u->hashing = false;
    }
    u->req = NULL;
}

/* The failure answer: {"state": 1} with status, then +WEBSERVERRSP:5 (ota_upgrade's err_handler:
 * response first, message after). */
static void fail(atota_module_t *m, unsigned status, atota_err_t err, const char *msg)
{
    atota_web_upload_t *u = &m->webserver.upload;
    atota_httpd_request_t *req = u->req;
    release(u);
    atota_module_log(m, "webserver: upload of %s failed: %s (%s)", u->object,
                     msg ? msg : atota_strerror(err), atota_err_name(err));
    static const char body[] = "{\"state\": 1}";
    /* RFC 9110 §15.5.2: a 401 names its scheme; browsers show no dialog for this one */
    if (req)
        atota_web_reply_header(m, req, status, "application/json", body, sizeof body - 1,
                               status == 401 ? "WWW-Authenticate" : NULL,
                               ATOTA_WEB_PASSWORD_HEADER " realm=\"ATOTA module\"");
    atota_web_message(m, 5);
}

static void fail_diag(atota_module_t *m, atota_err_t err, const atota_diag_t *d)
{
    fail(m, 500, err, atota_diag_text(d, err));
}

/* The configured password against the header, in a time that depends on neither's content. */
static bool password_matches(const char *want, const char *got)
{
    if (!got)
        return false;
    size_t wl = strlen(want), gl = strlen(got);
    unsigned diff = wl != gl;
    for (size_t i = 0; i < ATOTA_FWCONFIG_WEB_PASSWORD_MAX; i++) {
        unsigned char a = i < wl ? (unsigned char)want[i] : 0;
        unsigned char b = i < gl ? (unsigned char)got[i] : 0;
        diff |= (unsigned)(a ^ b);
    }
    return diff == 0;
}

/* The digest headers: each one given must hold a well-formed sha-256, and they must agree. */
static atota_err_t read_digests(atota_module_t *m, atota_httpd_request_t *req, atota_diag_t *d)
{
    atota_web_upload_t *u = &m->webserver.upload;
    for (unsigned i = 0; i < sizeof digest_headers / sizeof digest_headers[0]; i++) {
        const char *v = header(m, req, digest_headers[i]);
        if (!v)
            continue;
        uint8_t sha[ATOTA_SHA256_LEN];
        if (!atota_iot_digest_value_parse(v, strlen(v), sha))
            return atota_diag_set(d, ATOTA_ERR_INVALID_ARG,
                                  "%s has no well-formed sha-256=:<base64>: member",
                                  digest_headers[i]);
        if (u->have_digest && memcmp(sha, u->digest, sizeof sha) != 0)
            return atota_diag_set(d, ATOTA_ERR_IMAGE_HASH,
                                  "Content-Digest and Repr-Digest give different SHA-256s");
        memcpy(u->digest, sha, sizeof sha);
        u->have_digest = true;
    }
    return ATOTA_OK;
}

/* Content-Length against the target: none (or 0) and more than it holds both fail
 * (esp_http_server gives content_len 0 without the header). */
static atota_err_t check_length(const atota_httpd_request_t *req, uint32_t size, const char *name,
                                atota_diag_t *d)
{
    if (req->content_length <= 0)
        return atota_diag_set(d, ATOTA_ERR_INVALID_ARG, "%s",
                              req->content_length < 0 ? "no Content-Length (chunked or none)"
                                                      : "Content-Length 0: no data");
    if ((uint64_t)req->content_length > size)
        return atota_diag_set(d, ATOTA_ERR_TOO_BIG,
                              "Content-Length %lld is more than %s holds (%u)",
                              (long long)req->content_length, name, (unsigned)size);
    return ATOTA_OK;
}

/* The target, before any body byte: the writer for the app (begin erases nothing), the staged
 * update for a custom partition (begin erases only its own journal sector in the staging slot). */
static atota_err_t open_target(atota_module_t *m, atota_httpd_request_t *req, const char *object,
                               atota_diag_t *d)
{
    atota_web_upload_t *u = &m->webserver.upload;
    atota_err_t err;
    if (u->is_app) {
        atota_ota_writer_opts_t wo;
        atota_module_writer_opts(m, &wo);
        if ((err = atota_ota_writer_begin(&u->writer, &wo, d)))
            return err;
        u->target_open = true;
        if ((err = check_length(req, u->writer.slot.size, u->writer.slot.name, d)))
            return err;
        /* esp_ota_get_next_update_partition is the slot after the running one, so a second app
         * upload before AT+RST rewrites the first one's slot, as on ESP-AT: once its first bytes
         * pass the checks (nothing is erased before), the image waiting there is gone, and until
         * an upload succeeds AT+RST boots the running firmware (the bootloader's fallback). Said
         * in the log; the answer's body stays ESP-AT's. */
        const char *pending = m->webserver.pending_app;
        if (pending[0] && !strcmp(pending, u->writer.slot.name))
            atota_module_log(m,
                             "webserver: %s holds an image waiting for AT+RST: this upload "
                             "replaces it once its first bytes are accepted",
                             pending);
        return ATOTA_OK;
    }
    /* any at_customize label: ESP-AT checks no magic here (§4.4), neither does this */
    const atota_partition_t *e = atota_partition_find(&m->at_customize, object);
    if (!e)
        return atota_diag_set(d, ATOTA_ERR_NOT_FOUND,
                              "no partition '%.64s' in at_customize.bin (GET /getotainfo lists "
                              "them)",
                              object);
    u->target = *e;
    if ((err = check_length(req, e->size, e->name, d)))
        return err;
    atota_part_update_opts_t po;
    memset(&po, 0, sizeof po);
    po.flash = m->flash;
    po.table = &m->table;
    po.running = &m->boot.partition;
    po.target = &u->target;
    if ((err = atota_part_update_begin(&u->part, &po, (uint32_t)req->content_length, d)))
        return err;
    u->target_open = true;
    return ATOTA_OK;
}

void atota_web_upload_begin(atota_module_t *m, atota_httpd_request_t *req)
{
    atota_web_upload_t *u = &m->webserver.upload;
    /* §4.4 step 1: no Object header, no answer (the handler's ESP_FAIL closes the connection)
     * and no message */
    const char *object = header(m, req, "Object");
    if (!object) {
        atota_module_log(m, "webserver: /setotadata without an Object header: closed");
        atota_web_reply(m, req, 0, NULL, NULL, 0);
        return;
    }
    /* One upload at a time. ESP-AT's single server task would run the second after the first;
     * here it is refused at once, without touching the first or writing a message that would
     * read as the first one's (docs/webserver.md). */
    if (u->req) {
        atota_module_log(m, "webserver: /setotadata refused: the upload of %s is running",
                         u->object);
        atota_web_reply_state(m, req, 500, 1);
        return;
    }
    bool other_ota = atota_module_ota_running(m); /* before this one counts */

    memset(u, 0, sizeof *u);
    u->req = req;
    req->user = u;
    u->is_app = strncmp(object, "ota", 3) == 0; /* strncmp 3: "ota_1", "otadata" too */
    snprintf(u->object, sizeof u->object, "%s", object);
    atota_web_message(m, 3);

    if (m->config.web_password[0] &&
        !password_matches(m->config.web_password, header(m, req, ATOTA_WEB_PASSWORD_HEADER))) {
        fail(m, 401, ATOTA_ERR_INVALID_ARG,
             header(m, req, ATOTA_WEB_PASSWORD_HEADER) ? "wrong " ATOTA_WEB_PASSWORD_HEADER
                                                       : "no " ATOTA_WEB_PASSWORD_HEADER);
        return;
    }
    /* esp_ota_begin refuses a slot another update writes; a partition update stages in it */
    if (other_ota) {
        fail(m, 500, ATOTA_ERR_OTA_IN_PROGRESS, "AT+USEROTA or AT+CIUPDATE is running");
        return;
    }
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = read_digests(m, req, &d);
    if (!err)
        err = open_target(m, req, object, &d);
    if (err) {
        fail_diag(m, err, &d);
        return;
    }
    u->length = (uint32_t)req->content_length;
    if (u->is_app && u->have_digest) {
        atota_sha256_init(&u->sha);
        u->hashing = true;
    }
    atota_module_log(m, "webserver: receiving %u bytes for %s", (unsigned)u->length,
                     u->is_app ? u->writer.slot.name : u->target.name);
}

void atota_web_upload_body(atota_module_t *m, const uint8_t *data, size_t len)
{
    atota_web_upload_t *u = &m->webserver.upload;
    if (!u->req)
        return;
    atota_diag_t d;
    atota_diag_clear(&d);
    if (len > u->length - u->received) {
        fail(m, 500, ATOTA_ERR_TOO_BIG, "more body bytes than Content-Length");
        return;
    }
    u->received += (uint32_t)len;
    if (u->hashing)
        atota_sha256_update(&u->sha, data, len);
    atota_err_t err = u->is_app ? atota_ota_writer_write(&u->writer, data, len, &d)
                                : atota_part_update_write(&u->part, data, len, &d);
    if (err)
        fail_diag(m, err, &d);
}

void atota_web_upload_end(atota_module_t *m)
{
    atota_web_upload_t *u = &m->webserver.upload;
    if (!u->req)
        return;
    atota_diag_t d;
    atota_diag_clear(&d);
    if (u->received != u->length) {
        fail(m, 500, ATOTA_ERR_IMAGE_TRUNCATED, "the body ended before Content-Length");
        return;
    }
    atota_err_t err;
    if (u->is_app) {
        if (u->hashing) {
            uint8_t got[ATOTA_SHA256_LEN];
            atota_sha256_finish(&u->sha, got);
            u->hashing = false;
            if (memcmp(got, u->digest, sizeof got) != 0) {
                fail(m, 500, ATOTA_ERR_IMAGE_HASH, "the body does not match its digest header");
                return;
            }
        }
        /* esp_ota_end + esp_ota_set_boot_partition: verified on flash, then switched */
        err = atota_ota_writer_finish(&u->writer, NULL, &d);
    } else {
        err = atota_part_update_finish(&u->part, u->have_digest ? u->digest : NULL, &d);
        if (err && u->part.committed) {
            /* past the commit point the journal owns the update: complete it now (else the
             * next boot does) */
            atota_module_log(m, "webserver: %s; completing from the journal",
                             atota_diag_text(&d, err));
            atota_diag_clear(&d);
            err = atota_part_update_recover(m->flash, &m->table, &m->at_customize, NULL, &d);
        }
    }
    if (err) {
        fail_diag(m, err, &d);
        return;
    }
    atota_httpd_request_t *req = u->req;
    u->target_open = false;
    u->req = NULL;
    if (u->is_app)
        snprintf(m->webserver.pending_app, sizeof m->webserver.pending_app, "%s",
                 u->writer.slot.name);
    atota_module_log(m, "webserver: %u bytes written to %s and verified%s", (unsigned)u->length,
                     u->is_app ? u->writer.slot.name : u->target.name,
                     u->is_app ? "; AT+RST boots it" : "");
    atota_web_reply_state(m, req, 200, 0);
    atota_web_message(m, 4);
}

void atota_web_upload_abort(atota_module_t *m, atota_err_t err)
{
    atota_web_upload_t *u = &m->webserver.upload;
    if (!u->req)
        return;
    release(u);
    /* ESP-AT retries a stalled read forever (esp-at#684); the port's idle limit ends it here */
    atota_module_log(m, "webserver: upload of %s failed: the connection %s after %u of %u bytes",
                     u->object, err == ATOTA_ERR_NET_TIMEOUT ? "stalled" : "closed",
                     (unsigned)u->received, (unsigned)u->length);
    atota_web_message(m, 5);
}

void atota_web_upload_drop(atota_module_t *m, bool message)
{
    atota_web_upload_t *u = &m->webserver.upload;
    if (!u->req)
        return;
    release(u);
    atota_module_log(m, "webserver: upload of %s dropped with the server", u->object);
    if (message)
        atota_web_message(m, 5);
}
