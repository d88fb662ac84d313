/*
 * /api/v1: the management API of atota-server (docs/server-api.md), for the web console,
 * `curl` and scripts. Every route but signing in needs a session cookie or an API key
 * (server/auth.h); a session's requests that change something also need its CSRF token.
 * Uploads are checked (server/validate.h) before their bytes reach the blob store, and a file
 * row is written only once its blob is durably on disk (server/blobs.h).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "server/auth.h"
#include "server/server.h"
#include "server/validate.h"

#define API_PREFIX     "/api/v1/"
#define SMALL_BODY_MAX (64u * 1024u) /* every JSON body the API takes */
#define MAX_SEGMENTS   8

typedef atota_httpd_response_t response_t;

/* ---- small helpers ---- */

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* The answer: cJSON printed compactly; obj is freed. */
static response_t *json_response(int status, cJSON *obj)
{
    if (!obj)
        return atota_httpd_response_error(500, "out of memory");
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!text)
        return atota_httpd_response_error(500, "out of memory");
    response_t *r = atota_httpd_response_bytes(status, "application/json", text, strlen(text));
    free(text);
    if (r)
        atota_httpd_response_header(r, "Cache-Control", "no-store");
    return r;
}

static response_t *no_content(void)
{
    response_t *r = atota_httpd_response_bytes(204, "application/json", "", 0);
    if (r)
        atota_httpd_response_header(r, "Cache-Control", "no-store");
    return r;
}

/* A store failure as an HTTP error; what names the thing that was looked for. */
static response_t *store_error(atota_err_t err, const char *what, const atota_diag_t *diag)
{
    switch (err) {
    case ATOTA_ERR_NOT_FOUND:
        return atota_httpd_response_error(404, "no such %s", what);
    case ATOTA_ERR_STATE:
        return atota_httpd_response_error(409, "a %s of that name already exists", what);
    case ATOTA_ERR_INVALID_ARG:
        return atota_httpd_response_error(400, "invalid %s: %s", what,
                                          diag ? atota_diag_text(diag, err) : atota_strerror(err));
    default:
        return atota_httpd_response_error(500, "store error: %s",
                                          diag ? atota_diag_text(diag, err) : atota_strerror(err));
    }
}

static bool parse_id(const char *s, int64_t *out)
{
    if (!s || !*s || strlen(s) > 18)
        return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v <= 0)
        return false;
    *out = v;
    return true;
}

/* The request body as a JSON object, or NULL with *err set to the answer. */
static cJSON *json_body(const atota_httpd_request_t *req, response_t **err)
{
    cJSON *obj = NULL;
    if (req->body && req->body_len)
        obj = cJSON_ParseWithLength((const char *)req->body, req->body_len);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        *err = atota_httpd_response_error(400, "the body must be a JSON object");
        return NULL;
    }
    return obj;
}

static const char *json_string(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* ---- JSON of the model (docs/server-api.md "The model") ---- */

static cJSON *account_json(const atota_store_account_t *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)a->id);
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddBoolToObject(o, "is_admin", a->is_admin);
    cJSON_AddNumberToObject(o, "created_at", (double)a->created_at);
    return o;
}

static cJSON *device_json(const atota_store_device_t *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)d->id);
    cJSON_AddNumberToObject(o, "product_id", (double)d->product_id);
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "key", d->key);
    cJSON_AddNumberToObject(o, "created_at", (double)d->created_at);
    if (d->last_seen_at)
        cJSON_AddNumberToObject(o, "last_seen_at", (double)d->last_seen_at);
    else
        cJSON_AddNullToObject(o, "last_seen_at");
    if (d->last_query_at) {
        cJSON *q = cJSON_AddObjectToObject(o, "last_query");
        cJSON_AddNumberToObject(q, "at", (double)d->last_query_at);
        cJSON_AddStringToObject(q, "version", d->last_query_version);
    } else {
        cJSON_AddNullToObject(o, "last_query");
    }
    if (d->last_download_at) {
        cJSON *q = cJSON_AddObjectToObject(o, "last_download");
        cJSON_AddNumberToObject(q, "at", (double)d->last_download_at);
        cJSON_AddStringToObject(q, "version", d->last_download_version);
        cJSON_AddStringToObject(q, "file", d->last_download_file);
    } else {
        cJSON_AddNullToObject(o, "last_download");
    }
    return o;
}

static cJSON *file_json(atota_server_t *srv, const atota_store_file_t *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", f->name);
    cJSON_AddNumberToObject(o, "size", (double)f->size);
    cJSON_AddStringToObject(o, "sha256", f->sha256);
    cJSON_AddNumberToObject(o, "created_at", (double)f->created_at);
    char url[sizeof srv->base_url + 96];
    snprintf(url, sizeof url, "%s/fw/%s/%s", srv->base_url, f->sha256, f->name);
    cJSON_AddStringToObject(o, "url", url);
    if (strcmp(f->name, "ota.bin") == 0) {
        cJSON_AddStringToObject(o, "chip", f->chip);
        cJSON_AddStringToObject(o, "app_version", f->app_version);
        cJSON_AddStringToObject(o, "project", f->project);
    }
    return o;
}

static cJSON *version_json(atota_server_t *srv, const atota_store_version_t *v,
                           int64_t recommended_id)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)v->id);
    cJSON_AddNumberToObject(o, "product_id", (double)v->product_id);
    cJSON_AddStringToObject(o, "version", v->version);
    cJSON_AddStringToObject(o, "corename", v->corename);
    cJSON_AddNumberToObject(o, "created_at", (double)v->created_at);
    cJSON_AddBoolToObject(o, "recommended", v->id == recommended_id);
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    atota_store_rows_t rows = ATOTA_STORE_ROWS(atota_store_file_t);
    srv->store->ops->file_list(srv->store, v->id, atota_store_collect, &rows);
    for (size_t i = 0; i < rows.count; i++)
        cJSON_AddItemToArray(files, file_json(srv, ATOTA_STORE_ROW(rows, atota_store_file_t, i)));
    free(rows.rows);
    return o;
}

static cJSON *product_json(atota_server_t *srv, const atota_store_product_t *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)p->id);
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON_AddNumberToObject(o, "created_at", (double)p->created_at);
    atota_store_version_t v;
    if (p->recommended_version_id &&
        srv->store->ops->version_get(srv->store, p->recommended_version_id, &v) == ATOTA_OK) {
        cJSON_AddStringToObject(o, "recommended_version", v.version);
        cJSON_AddNumberToObject(o, "recommended_version_id", (double)v.id);
    } else {
        cJSON_AddNullToObject(o, "recommended_version");
        cJSON_AddNullToObject(o, "recommended_version_id");
    }
    return o;
}

static cJSON *devices_array(atota_server_t *srv, int64_t product_id)
{
    cJSON *arr = cJSON_CreateArray();
    atota_store_rows_t rows = ATOTA_STORE_ROWS(atota_store_device_t);
    srv->store->ops->device_list(srv->store, product_id, atota_store_collect, &rows);
    for (size_t i = 0; i < rows.count; i++)
        cJSON_AddItemToArray(arr, device_json(ATOTA_STORE_ROW(rows, atota_store_device_t, i)));
    free(rows.rows);
    return arr;
}

static cJSON *product_full_json(atota_server_t *srv, const atota_store_product_t *p)
{
    cJSON *o = product_json(srv, p);
    cJSON_AddItemToObject(o, "devices", devices_array(srv, p->id));
    cJSON *versions = cJSON_AddArrayToObject(o, "versions");
    atota_store_rows_t rows = ATOTA_STORE_ROWS(atota_store_version_t);
    srv->store->ops->version_list(srv->store, p->id, atota_store_collect, &rows);
    for (size_t i = 0; i < rows.count; i++)
        cJSON_AddItemToArray(versions,
                             version_json(srv, ATOTA_STORE_ROW(rows, atota_store_version_t, i),
                                          p->recommended_version_id));
    free(rows.rows);
    return o;
}

/* ---- sessions ---- */

/* A hash of a random password, verified against when the name is unknown, so that a sign-in
 * takes as long for a name that does not exist as for a wrong password. */
static char dummy_hash[ATOTA_STORE_HASH_MAX + 1];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy_hash(void)
{
    char pw[33];
    if (atota_auth_random_hex(pw, 16) == ATOTA_OK)
        atota_auth_hash_password(pw, dummy_hash);
}

static response_t *session_body(const atota_auth_identity_t *id, int status)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "account", account_json(&id->account));
    if (id->by_session)
        cJSON_AddStringToObject(o, "csrf_token", id->csrf_token);
    else
        cJSON_AddNullToObject(o, "csrf_token");
    return json_response(status, o);
}

static response_t *session_create(atota_server_t *srv, const atota_httpd_request_t *req)
{
    response_t *err = NULL;
    cJSON *body = json_body(req, &err);
    if (!body)
        return err;
    const char *name = json_string(body, "name");
    const char *password = json_string(body, "password");
    if (!name || !password) {
        cJSON_Delete(body);
        return atota_httpd_response_error(400, "name and password are required");
    }
    pthread_once(&dummy_once, make_dummy_hash);
    atota_store_account_t account;
    bool found = atota_validate_object_name(name) &&
                 srv->store->ops->account_get(srv->store, 0, name, &account) == ATOTA_OK;
    bool ok = atota_auth_verify_password(password, found ? account.password_hash : dummy_hash);
    cJSON_Delete(body);
    if (!found || !ok) {
        atota_server_log(srv, "sign-in refused from %s", req->client ? req->client : "?");
        return atota_httpd_response_error(401, "wrong name or password");
    }
    atota_auth_identity_t id;
    memset(&id, 0, sizeof id);
    id.account = account;
    id.by_session = true;
    char token[ATOTA_AUTH_TOKEN_HEX + 1];
    if (atota_auth_session_start(srv->store, account.id, now_s(), token, id.csrf_token))
        return atota_httpd_response_error(500, "cannot start a session");
    response_t *r = session_body(&id, 200);
    char cookie[256];
    if (r)
        atota_httpd_response_header(
            r, "Set-Cookie", atota_auth_session_cookie(token, req->tls, cookie, sizeof cookie));
    memset(token, 0, sizeof token);
    return r;
}

static response_t *session_delete(atota_server_t *srv, const atota_httpd_request_t *req,
                                  const atota_auth_identity_t *id)
{
    if (id->by_session)
        srv->store->ops->session_delete(srv->store, id->session_hash);
    response_t *r = no_content();
    char cookie[256];
    if (r)
        atota_httpd_response_header(
            r, "Set-Cookie", atota_auth_session_cookie(NULL, req->tls, cookie, sizeof cookie));
    return r;
}

/* ---- accounts and API keys ---- */

static response_t *accounts_list(atota_server_t *srv)
{
    atota_store_rows_t rows = ATOTA_STORE_ROWS(atota_store_account_t);
    srv->store->ops->account_list(srv->store, atota_store_collect, &rows);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "accounts");
    for (size_t i = 0; i < rows.count; i++)
        cJSON_AddItemToArray(arr, account_json(ATOTA_STORE_ROW(rows, atota_store_account_t, i)));
    free(rows.rows);
    return json_response(200, o);
}

static response_t *check_new_password(const char *password)
{
    if (!password)
        return atota_httpd_response_error(400, "a password is required");
    size_t len = strlen(password);
    if (len < ATOTA_AUTH_PASSWORD_MIN || len > ATOTA_AUTH_PASSWORD_MAX)
        return atota_httpd_response_error(400, "a password must have %u to %u bytes",
                                          ATOTA_AUTH_PASSWORD_MIN, ATOTA_AUTH_PASSWORD_MAX);
    return NULL;
}

static response_t *account_create(atota_server_t *srv, const atota_httpd_request_t *req)
{
    response_t *err = NULL;
    cJSON *body = json_body(req, &err);
    if (!body)
        return err;
    const char *name = json_string(body, "name");
    const char *password = json_string(body, "password");
    const cJSON *is_admin = cJSON_GetObjectItemCaseSensitive(body, "is_admin");
    atota_store_account_t a;
    memset(&a, 0, sizeof a);
    if (!atota_validate_object_name(name))
        err = atota_httpd_response_error(400, "an account name must have 1 to 64 bytes and no "
                                              "control characters");
    else if (is_admin && !cJSON_IsBool(is_admin))
        err = atota_httpd_response_error(400, "is_admin must be true or false");
    else if ((err = check_new_password(password)) == NULL) {
        snprintf(a.name, sizeof a.name, "%s", name);
        a.is_admin = cJSON_IsTrue(is_admin);
        a.created_at = now_s();
        if (atota_auth_hash_password(password, a.password_hash))
            err = atota_httpd_response_error(500, "cannot hash the password");
    }
    cJSON_Delete(body);
    if (err)
        return err;
    atota_diag_t d = {{0}};
    atota_err_t e = srv->store->ops->account_add(srv->store, &a, &d);
    if (e)
        return store_error(e, "account", &d);
    atota_server_log(srv, "account %s created%s", a.name, a.is_admin ? " (admin)" : "");
    return json_response(201, account_json(&a));
}

static response_t *password_change(atota_server_t *srv, const atota_httpd_request_t *req,
                                   const atota_auth_identity_t *id)
{
    response_t *err = NULL;
    cJSON *body = json_body(req, &err);
    if (!body)
        return err;
    const char *old_pw = json_string(body, "old_password");
    const char *new_pw = json_string(body, "new_password");
    char hash[ATOTA_STORE_HASH_MAX + 1];
    if (!old_pw)
        err = atota_httpd_response_error(400, "old_password is required");
    else if ((err = check_new_password(new_pw)) != NULL)
        ;
    else if (!atota_auth_verify_password(old_pw, id->account.password_hash))
        err = atota_httpd_response_error(403, "the old password is wrong");
    else if (atota_auth_hash_password(new_pw, hash))
        err = atota_httpd_response_error(500, "cannot hash the password");
    cJSON_Delete(body);
    if (err)
        return err;
    atota_err_t e = srv->store->ops->account_set_password(srv->store, id->account.id, hash);
    if (e)
        return store_error(e, "account", NULL);
    /* docs/server-api.md: the initial password's file goes once that password is changed. */
    if (strcmp(id->account.name, "admin") == 0 && srv->data_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/initial-admin-password", srv->data_dir);
        unlink(path);
    }
    atota_server_log(srv, "account %s changed its password", id->account.name);
    return no_content();
}

static response_t *api_key_create(atota_server_t *srv, const atota_httpd_request_t *req,
                                  const atota_auth_identity_t *id)
{
    response_t *err = NULL;
    cJSON *body = json_body(req, &err);
    if (!body)
        return err;
    const char *label = json_string(body, "label");
    if (!atota_validate_object_name(label)) {
        cJSON_Delete(body);
        return atota_httpd_response_error(400, "a label must have 1 to 64 bytes and no control "
                                               "characters");
    }
    char key[ATOTA_AUTH_TOKEN_HEX + 1];
    atota_store_api_key_t row;
    atota_err_t e =
        atota_auth_api_key_create(srv->store, id->account.id, label, now_s(), key, &row);
    cJSON_Delete(body);
    if (e)
        return store_error(e, "api key", NULL);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)row.id);
    cJSON_AddStringToObject(o, "label", row.label);
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddNumberToObject(o, "created_at", (double)row.created_at);
    memset(key, 0, sizeof key);
    return json_response(201, o);
}

/* ---- products, devices, versions, files ---- */

static response_t *products_list(atota_server_t *srv)
{
    atota_store_rows_t rows = ATOTA_STORE_ROWS(atota_store_product_t);
    srv->store->ops->product_list(srv->store, atota_store_collect, &rows);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "products");
    for (size_t i = 0; i < rows.count; i++)
        cJSON_AddItemToArray(arr,
                             product_json(srv, ATOTA_STORE_ROW(rows, atota_store_product_t, i)));
    free(rows.rows);
    return json_response(200, o);
}

/* Reads the "name" member every create route takes. */
static response_t *body_name(const atota_httpd_request_t *req, const char *what,
                             char out[ATOTA_STORE_NAME_MAX + 1])
{
    response_t *err = NULL;
    cJSON *body = json_body(req, &err);
    if (!body)
        return err;
    const char *name = json_string(body, "name");
    if (atota_validate_object_name(name))
        snprintf(out, ATOTA_STORE_NAME_MAX + 1, "%s", name);
    else
        err = atota_httpd_response_error(400,
                                         "a %s name must have 1 to 64 bytes and no control "
                                         "characters",
                                         what);
    cJSON_Delete(body);
    return err;
}

static response_t *product_create(atota_server_t *srv, const atota_httpd_request_t *req)
{
    atota_store_product_t p;
    memset(&p, 0, sizeof p);
    response_t *err = body_name(req, "product", p.name);
    if (err)
        return err;
    p.created_at = now_s();
    atota_diag_t d = {{0}};
    atota_err_t e = srv->store->ops->product_add(srv->store, &p, &d);
    if (e)
        return store_error(e, "product", &d);
    atota_server_log(srv, "product %s created", p.name);
    return json_response(201, product_json(srv, &p));
}

static response_t *device_create(atota_server_t *srv, const atota_httpd_request_t *req,
                                 const atota_store_product_t *p)
{
    atota_store_device_t d;
    memset(&d, 0, sizeof d);
    response_t *err = body_name(req, "device", d.name);
    if (err)
        return err;
    d.product_id = p->id;
    d.created_at = now_s();
    if (atota_auth_device_key(d.key))
        return atota_httpd_response_error(500, "no randomness for a device key");
    atota_diag_t diag = {{0}};
    atota_err_t e = srv->store->ops->device_add(srv->store, &d, &diag);
    if (e)
        return store_error(e, "device", &diag);
    atota_server_log(srv, "device %s created in product %s", d.name, p->name);
    return json_response(201, device_json(&d));
}

static response_t *version_create(atota_server_t *srv, const atota_httpd_request_t *req,
                                  const atota_store_product_t *p)
{
    response_t *err = NULL;
    cJSON *body = json_body(req, &err);
    if (!body)
        return err;
    const char *version = json_string(body, "version");
    const cJSON *corename_item = cJSON_GetObjectItemCaseSensitive(body, "corename");
    const char *corename = json_string(body, "corename");
    atota_store_version_t v;
    memset(&v, 0, sizeof v);
    if (!atota_validate_version(version))
        err = atota_httpd_response_error(400, "a version must have 1 to 64 characters among "
                                              "A-Z a-z 0-9 . _ - ~ (v4.1.0.0)");
    else if (corename_item && !cJSON_IsNull(corename_item) &&
             (!corename || (*corename && !atota_validate_object_name(corename))))
        err = atota_httpd_response_error(400, "corename must be a string of at most 64 bytes "
                                              "without control characters");
    else {
        snprintf(v.version, sizeof v.version, "%s", version);
        snprintf(v.corename, sizeof v.corename, "%s", corename ? corename : "");
    }
    cJSON_Delete(body);
    if (err)
        return err;
    v.product_id = p->id;
    v.created_at = now_s();
    atota_diag_t d = {{0}};
    atota_err_t e = srv->store->ops->version_add(srv->store, &v, &d);
    if (e)
        return store_error(e, "version", &d);
    atota_server_log(srv, "version %s created in product %s", v.version, p->name);
    return json_response(201, version_json(srv, &v, p->recommended_version_id));
}

/* docs/server-api.md: PUT .../files/{name}: checked, stored by SHA-256, then recorded. */
static response_t *file_upload(atota_server_t *srv, const atota_httpd_request_t *req,
                               const atota_store_version_t *v, const char *name)
{
    atota_validate_result_t *check = malloc(sizeof *check);
    if (!check)
        return atota_httpd_response_error(500, "out of memory");
    atota_diag_t d = {{0}};
    atota_err_t e = atota_validate_file(name, req->body, req->body_len, check, &d);
    if (e) {
        free(check);
        atota_server_log(srv, "upload of %s to version %s refused: %s", name, v->version,
                         atota_diag_text(&d, e));
        return atota_httpd_response_error(e == ATOTA_ERR_NO_MEM ? 500 : 422, "%s",
                                          atota_diag_text(&d, e));
    }
    atota_store_file_t f;
    memset(&f, 0, sizeof f);
    f.version_id = v->id;
    snprintf(f.name, sizeof f.name, "%s", name);
    f.size = req->body_len;
    f.created_at = now_s();
    if (check->is_app) {
        snprintf(f.chip, sizeof f.chip, "%s", check->chip);
        snprintf(f.app_version, sizeof f.app_version, "%s", check->app_version);
        snprintf(f.project, sizeof f.project, "%s", check->project);
    }
    /* blobs.h: the blob is durably on disk before the row that names it is committed */
    e = atota_blobs_put(srv->blobs, req->body, req->body_len, f.sha256, &d);
    if (!e)
        e = srv->store->ops->file_put(srv->store, &f, &d);
    if (e) {
        free(check);
        return atota_httpd_response_error(500, "cannot store %s: %s", name, atota_diag_text(&d, e));
    }
    atota_server_log(srv, "%s of version %s stored: %" PRIu64 " bytes, sha256 %s", name, v->version,
                     f.size, f.sha256);
    cJSON *o = file_json(srv, &f);
    if (check->warning[0])
        cJSON_AddStringToObject(o, "warning", check->warning);
    free(check);
    return json_response(201, o);
}

/* ---- routing ---- */

static bool is_mutating(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static response_t *method_not_allowed(const char *method)
{
    return atota_httpd_response_error(405, "%s is not allowed here", method);
}

/* /api/v1/products/{id}/... */
static response_t *route_product(atota_server_t *srv, const atota_httpd_request_t *req, char **seg,
                                 unsigned n)
{
    const char *m = req->method;
    int64_t pid;
    atota_store_product_t p;
    if (!parse_id(seg[1], &pid) || srv->store->ops->product_get(srv->store, pid, &p) != ATOTA_OK)
        return atota_httpd_response_error(404, "no such product");
    if (n == 2) {
        if (strcmp(m, "GET") == 0)
            return json_response(200, product_full_json(srv, &p));
        return method_not_allowed(m);
    }
    if (n == 3 && strcmp(seg[2], "devices") == 0) {
        if (strcmp(m, "GET") == 0) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "devices", devices_array(srv, p.id));
            return json_response(200, o);
        }
        if (strcmp(m, "POST") == 0)
            return device_create(srv, req, &p);
        return method_not_allowed(m);
    }
    if (strcmp(seg[2], "versions") != 0)
        return atota_httpd_response_error(404, "no such route");
    if (n == 3) {
        if (strcmp(m, "POST") == 0)
            return version_create(srv, req, &p);
        return method_not_allowed(m);
    }
    int64_t vid;
    atota_store_version_t v;
    /* a version is reached through its own product only */
    if (!parse_id(seg[3], &vid) || srv->store->ops->version_get(srv->store, vid, &v) != ATOTA_OK ||
        v.product_id != p.id)
        return atota_httpd_response_error(404, "no such version in product %s", p.name);
    if (n == 4) {
        if (strcmp(m, "GET") == 0)
            return json_response(200, version_json(srv, &v, p.recommended_version_id));
        return method_not_allowed(m);
    }
    if (n == 5 && strcmp(seg[4], "current") == 0) {
        if (strcmp(m, "POST") != 0)
            return method_not_allowed(m);
        atota_err_t e = srv->store->ops->product_set_recommended(srv->store, p.id, v.id);
        if (e)
            return store_error(e, "version", NULL);
        atota_server_log(srv, "product %s: version %s is current", p.name, v.version);
        if (srv->store->ops->product_get(srv->store, p.id, &p) != ATOTA_OK)
            return atota_httpd_response_error(404, "no such product");
        return json_response(200, product_json(srv, &p));
    }
    if (n == 6 && strcmp(seg[4], "files") == 0) {
        const char *name = seg[5];
        if (strcmp(m, "PUT") == 0)
            return file_upload(srv, req, &v, name);
        if (!atota_validate_name(name))
            return atota_httpd_response_error(404, "no such file");
        if (strcmp(m, "DELETE") == 0) {
            atota_err_t e = srv->store->ops->file_delete(srv->store, v.id, name);
            if (e)
                return store_error(e, "file", NULL);
            atota_server_log(srv, "%s of version %s deleted", name, v.version);
            return no_content();
        }
        if (strcmp(m, "GET") == 0) {
            atota_store_file_t f;
            atota_err_t e = srv->store->ops->file_get(srv->store, v.id, name, &f);
            if (e)
                return store_error(e, "file", NULL);
            return json_response(200, file_json(srv, &f));
        }
        return method_not_allowed(m);
    }
    return atota_httpd_response_error(404, "no such route");
}

static response_t *handle(void *ctx, const atota_httpd_request_t *req)
{
    atota_server_t *srv = ctx;
    const char *m = req->method;
    if (strncmp(req->path, API_PREFIX, strlen(API_PREFIX)) != 0)
        return atota_httpd_response_error(404, "no such route");

    /* the path's segments, empty ones skipped ("/api/v1/products/" is "/api/v1/products") */
    char path[1024];
    if (strlen(req->path) >= sizeof path)
        return atota_httpd_response_error(404, "no such route");
    snprintf(path, sizeof path, "%s", req->path + strlen(API_PREFIX));
    char *seg[MAX_SEGMENTS];
    unsigned n = 0;
    char *save = NULL;
    for (char *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGMENTS)
            return atota_httpd_response_error(404, "no such route");
        seg[n++] = s;
    }
    if (n == 0)
        return atota_httpd_response_error(404, "no such route");

    if (n == 1 && strcmp(seg[0], "session") == 0 && strcmp(m, "POST") == 0)
        return session_create(srv, req);

    atota_auth_identity_t id;
    atota_auth_result_t who =
        atota_auth_identify(srv->store, atota_httpd_header(req, "Authorization"),
                            atota_httpd_cookie(req, ATOTA_AUTH_COOKIE),
                            atota_httpd_header(req, "X-CSRF-Token"), is_mutating(m), now_s(), &id);
    if (who == ATOTA_AUTH_NONE)
        return atota_httpd_response_error(401, "sign in first (a session or an API key)");
    if (who == ATOTA_AUTH_CSRF)
        return atota_httpd_response_error(403, "missing or wrong X-CSRF-Token header");

    if (strcmp(seg[0], "session") == 0 && n == 1) {
        if (strcmp(m, "GET") == 0)
            return session_body(&id, 200);
        if (strcmp(m, "DELETE") == 0)
            return session_delete(srv, req, &id);
        return method_not_allowed(m);
    }
    if (strcmp(seg[0], "accounts") == 0) {
        if (n == 1) {
            if (!id.account.is_admin)
                return atota_httpd_response_error(403, "this needs an admin account");
            if (strcmp(m, "GET") == 0)
                return accounts_list(srv);
            if (strcmp(m, "POST") == 0)
                return account_create(srv, req);
            return method_not_allowed(m);
        }
        if (n == 3 && strcmp(seg[1], "me") == 0 && strcmp(seg[2], "password") == 0) {
            if (strcmp(m, "PUT") == 0)
                return password_change(srv, req, &id);
            return method_not_allowed(m);
        }
        return atota_httpd_response_error(404, "no such route");
    }
    if (strcmp(seg[0], "api-keys") == 0 && n == 1) {
        if (strcmp(m, "POST") == 0)
            return api_key_create(srv, req, &id);
        return method_not_allowed(m);
    }
    if (strcmp(seg[0], "products") == 0) {
        if (n == 1) {
            if (strcmp(m, "GET") == 0)
                return products_list(srv);
            if (strcmp(m, "POST") == 0)
                return product_create(srv, req);
            return method_not_allowed(m);
        }
        return route_product(srv, req, seg, n);
    }
    return atota_httpd_response_error(404, "no such route");
}

unsigned atota_mgmt_api_routes(atota_server_t *srv, atota_httpd_route_t *out, unsigned max)
{
    /* Uploads are the only large bodies: PUT under /products (docs/server-api.md, 16 MiB). */
    const atota_httpd_route_t routes[] = {
        {"PUT", "/api/v1/products/*", ATOTA_VALIDATE_MAX_SIZE, handle, srv},
        {NULL, "/api/v1/*", SMALL_BODY_MAX, handle, srv},
    };
    unsigned n = 0;
    for (; n < sizeof routes / sizeof routes[0] && n < max; n++)
        out[n] = routes[n];
    return n;
}
