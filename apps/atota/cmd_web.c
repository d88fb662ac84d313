/*
 * `atota web`: a module's web server (AT+WEBSERVER, esp-at-ota.md §4) from this host, as the
 * module's page does it from a browser: for a production line or a laptop joined to the module's
 * softAP, and for scripts.
 *
 *   info    GET /getotainfo: the running version and the partitions an upload may name
 *   upload  POST /setotadata with the file; before sending, the same checks as the page: the name
 *           is a partition the module lists, the size fits it, and the content suits it (for
 *           "ota" a whole valid app image for the module's chip, verified here; for a partition
 *           with a known magic, its first bytes). The module's answer: {"state": 0} with 200.
 *
 * ATOTA's extensions (docs/webserver.md) are used when the module announces them in
 * /getotainfo: the partition sizes and magics, the chip, the upload password (X-Upload-Password)
 * and the body's SHA-256 (Content-Digest, RFC 9530). Against ESP-AT's own firmware, which has
 * none of them, the checks it cannot make are skipped and the upload is the same request as
 * ESP-AT's page sends. No "Expect: 100-continue": esp_http_server does not answer it.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apps/atota/at_link.h"
#include "apps/atota/cli.h"
#include "core/fmt/image.h"
#include "core/proto/iot.h"
#include "core/util/hash.h"

static const char web_usage[] =
    "atota web info --url URL [--timeout S]\n"
    "       atota web upload --url URL [--object NAME] [--password PW] [--force] [--timeout S]\n"
    "                        FILE\n"
    "       atota web wifi --url URL --ssid SSID [--wifi-password PW] [--timeout S]\n"
    "  URL: the module's web server (http://192.168.4.1/ on its softAP; atota-sim prints it)\n"
    "  --object: the partition to write: ota (the firmware, default) or a label /getotainfo\n"
    "  lists; --password: the upload password the firmware asks for (web_password)\n"
    "  --force: send even when the checks made here fail (the module checks again)\n"
    "  wifi: the page's Wi-Fi setup (the module joins SSID; its Wi-Fi mode must be 3)\n"
    "  --timeout: seconds for the whole exchange (default 300)";

#define DEFAULT_TIMEOUT_S 300u
#define ESPAT_PAGE_MAX    2097152u /* esp-at-ota.md §4.5: ESP-AT's page refuses files >= 2 MiB */
#define REPLY_MAX         16384u
#define FILE_MAX          (64u << 20)

typedef struct {
    char name[24];
    int64_t size;     /* -1: not announced */
    uint8_t magic[8]; /* the bytes the content starts with */
    size_t magic_len; /* 0: none announced */
    unsigned magic_offset;
} part_t;

typedef struct {
    char fw_version[64], at_core_version[32];
    part_t parts[32];
    unsigned count;
    bool extensions; /* partition_info was there */
    bool has_chip;
    uint16_t chip_id;
    bool password, sha256;
} info_t;

/* One request to the module: its URL, the answer's body (cut at REPLY_MAX). */
typedef struct {
    char target[2048];
    CURL *curl;
    struct curl_slist *headers;
    char reply[REPLY_MAX];
    size_t reply_len;
} request_t;

static size_t on_reply(char *buf, size_t size, size_t n, void *ctx)
{
    request_t *r = ctx;
    size_t len = size * n;
    size_t room = sizeof r->reply - 1 - r->reply_len;
    size_t take = len < room ? len : room;
    memcpy(r->reply + r->reply_len, buf, take);
    r->reply_len += take;
    r->reply[r->reply_len] = 0;
    return len;
}

/* A request for url + path ("http://host/" and "/getotainfo", without a doubled slash); NULL when
 * out of memory. */
static request_t *request_new(const char *url, const char *path, uint32_t timeout_s)
{
    request_t *r = calloc(1, sizeof *r);
    if (!r || !(r->curl = curl_easy_init())) {
        free(r);
        return NULL;
    }
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    snprintf(r->target, sizeof r->target, "%.*s%s", (int)n, url, path);
    curl_easy_setopt(r->curl, CURLOPT_URL, r->target);
    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT, (long)timeout_s);
    curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_reply);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, r);
    return r;
}

static void request_header(request_t *r, const char *line)
{
    struct curl_slist *h = curl_slist_append(r->headers, line);
    if (h)
        r->headers = h;
}

/* Sends it; the answer's status in *status (0 when there was none). */
static CURLcode request_perform(request_t *r, long *status)
{
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->headers);
    CURLcode res = curl_easy_perform(r->curl);
    *status = 0;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, status);
    return res;
}

static void request_free(request_t *r)
{
    curl_slist_free_all(r->headers);
    curl_easy_cleanup(r->curl);
    free(r);
}

static bool parse_hex(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap)
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return true;
}

/* /getotainfo's body (§4.3, and ATOTA's keys when there). */
static int parse_info(const char *body, info_t *info)
{
    memset(info, 0, sizeof *info);
    cJSON *root = cJSON_Parse(body);
    if (!root)
        return cli_error("/getotainfo", "the answer is not JSON: %.200s", body);
    int rc = CLI_EXIT_OK;
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "state");
    const cJSON *fw = cJSON_GetObjectItemCaseSensitive(root, "fw_version");
    const cJSON *core = cJSON_GetObjectItemCaseSensitive(root, "at_core_version");
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(root, "partitions");
    const cJSON *pinfo = cJSON_GetObjectItemCaseSensitive(root, "partition_info");
    const cJSON *chip = cJSON_GetObjectItemCaseSensitive(root, "chip_id");
    if (!cJSON_IsNumber(state) || state->valuedouble != 0 || !cJSON_IsString(fw)) {
        rc = cli_error("/getotainfo", "unexpected answer: %.200s", body);
        goto out;
    }
    snprintf(info->fw_version, sizeof info->fw_version, "%s", fw->valuestring);
    if (cJSON_IsString(core))
        snprintf(info->at_core_version, sizeof info->at_core_version, "%s", core->valuestring);
    info->password = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "password"));
    info->sha256 = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "sha256"));
    if (cJSON_IsNumber(chip)) {
        info->has_chip = true;
        info->chip_id = (uint16_t)chip->valueint;
    }
    const cJSON *p;
    if (cJSON_IsArray(pinfo)) {
        info->extensions = true;
        cJSON_ArrayForEach(p, pinfo)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
            const cJSON *size = cJSON_GetObjectItemCaseSensitive(p, "size");
            const cJSON *magic = cJSON_GetObjectItemCaseSensitive(p, "magic");
            const cJSON *off = cJSON_GetObjectItemCaseSensitive(p, "magic_offset");
            if (!cJSON_IsString(name) || info->count == sizeof info->parts / sizeof info->parts[0])
                continue;
            part_t *part = &info->parts[info->count++];
            snprintf(part->name, sizeof part->name, "%s", name->valuestring);
            part->size = cJSON_IsNumber(size) ? (int64_t)size->valuedouble : -1;
            if (cJSON_IsString(magic) &&
                !parse_hex(magic->valuestring, part->magic, sizeof part->magic, &part->magic_len))
                part->magic_len = 0;
            part->magic_offset = cJSON_IsNumber(off) ? (unsigned)off->valueint : 0;
        }
    } else if (cJSON_IsArray(parts)) {
        cJSON_ArrayForEach(p, parts)
        {
            if (!cJSON_IsString(p) || info->count == sizeof info->parts / sizeof info->parts[0])
                continue;
            part_t *part = &info->parts[info->count++];
            snprintf(part->name, sizeof part->name, "%s", p->valuestring);
            part->size = -1;
        }
    }
out:
    cJSON_Delete(root);
    return rc;
}

static int get_info(const char *url, uint32_t timeout_s, info_t *info)
{
    request_t *r = request_new(url, "/getotainfo", timeout_s);
    if (!r)
        return cli_error(NULL, "out of memory");
    request_header(r, "Object: none"); /* as the pages send it */
    long status;
    CURLcode res = request_perform(r, &status);
    int rc;
    if (res != CURLE_OK)
        rc = cli_error(r->target, "%s", curl_easy_strerror(res));
    else if (status != 200)
        rc = cli_error(r->target, "HTTP %ld: %.200s", status, r->reply);
    else
        rc = parse_info(r->reply, info);
    request_free(r);
    return rc;
}

static void print_info(const info_t *info)
{
    printf("firmware version: %s\n", info->fw_version);
    if (info->at_core_version[0])
        printf("AT core version:  %s\n", info->at_core_version);
    if (info->has_chip) {
        const atota_chip_t *chip = atota_chip_by_id(info->chip_id);
        printf("chip:             %s\n", chip ? chip->name : "unknown");
    }
    if (info->extensions)
        printf("upload password:  %s\n", info->password ? "required" : "none");
    printf("partitions:\n");
    for (unsigned i = 0; i < info->count; i++) {
        const part_t *p = &info->parts[i];
        if (p->size >= 0)
            printf("  %-16s %" PRId64 " bytes\n", p->name, p->size);
        else
            printf("  %s\n", p->name);
    }
}

/* The checks the page makes before it sends a file; 0, or a message in why. */
static int check_file(const info_t *info, const char *object, const uint8_t *data, size_t len,
                      char *why, size_t cap)
{
    const part_t *part = NULL;
    for (unsigned i = 0; i < info->count; i++)
        if (!strcmp(info->parts[i].name, object))
            part = &info->parts[i];
    if (!part) {
        snprintf(why, cap, "the module lists no partition '%s'", object);
        return -1;
    }
    if (!len) {
        snprintf(why, cap, "the file is empty");
        return -1;
    }
    if (part->size >= 0 && (int64_t)len > part->size) {
        snprintf(why, cap, "%zu bytes do not fit in '%s' (%" PRId64 " bytes)", len, object,
                 part->size);
        return -1;
    }
    if (!info->extensions && len >= ESPAT_PAGE_MAX) {
        snprintf(why, cap, "%zu bytes: ESP-AT's page takes less than 2 MiB", len);
        return -1;
    }
    if (!strncmp(object, "ota", 3)) {
        atota_image_opts_t o;
        memset(&o, 0, sizeof o);
        o.check_chip = info->has_chip;
        o.chip_id = info->chip_id;
        if (part->size > 0)
            o.max_len = (uint32_t)part->size;
        atota_diag_t d = {{0}};
        atota_err_t err = atota_image_parse(data, len, &o, NULL, &d);
        if (err) {
            snprintf(why, cap, "not a valid app image for this module: %s",
                     atota_diag_text(&d, err));
            return -1;
        }
    } else if (part->magic_len) {
        if (len < part->magic_offset + part->magic_len ||
            memcmp(data + part->magic_offset, part->magic, part->magic_len)) {
            snprintf(why, cap, "'%s' content starts with other bytes (the magic at offset %u)",
                     object, part->magic_offset);
            return -1;
        }
    }
    return 0;
}

typedef struct {
    bool tty;
    int last_pct;
} progress_t;

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    progress_t *p = ctx;
    if (!p->tty || ultotal <= 0)
        return 0;
    int pct = (int)(ulnow * 100 / ultotal);
    if (pct != p->last_pct) {
        p->last_pct = pct;
        printf("\r\033[Kuploading: %3d%%  (%" CURL_FORMAT_CURL_OFF_T " of %" CURL_FORMAT_CURL_OFF_T
               " bytes)",
               pct, ulnow, ultotal);
        fflush(stdout);
    }
    return 0;
}

static int upload(const char *url, const info_t *info, const char *object, const char *password,
                  const uint8_t *data, size_t len, uint32_t timeout_s)
{
    char header[256];
    request_t *r = request_new(url, "/setotadata", timeout_s);
    if (!r)
        return cli_error(NULL, "out of memory");
    CURL *c = r->curl;
    request_header(r, "Content-Type: application/octet-stream");
    request_header(r, "Expect:");
    snprintf(header, sizeof header, "Object: %s", object);
    request_header(r, header);
    if (password) {
        snprintf(header, sizeof header, "X-Upload-Password: %s", password);
        request_header(r, header);
    }
    if (info->sha256) {
        uint8_t sha[32];
        char value[80];
        atota_sha256(data, len, sha);
        snprintf(header, sizeof header, "Content-Digest: %s", atota_iot_digest_value(sha, value));
        request_header(r, header);
    }
    progress_t prog = {.tty = isatty(STDOUT_FILENO), .last_pct = -1};
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &prog);
    uint64_t t0 = cli_now_ms();
    long status;
    CURLcode res = request_perform(r, &status);
    double took = (double)(cli_now_ms() - t0) / 1000.0;
    if (prog.tty && prog.last_pct >= 0) {
        printf("\r\033[K");
        fflush(stdout);
    }
    int rc;
    if (res != CURLE_OK) {
        rc = cli_error(r->target, "%s (the module keeps its firmware)", curl_easy_strerror(res));
    } else if (status == 200 && strstr(r->reply, "\"state\": 0")) {
        printf("uploaded %zu bytes to '%s' in %.1f s: %s\n", len, object, took, r->reply);
        if (!strncmp(object, "ota", 3))
            printf("the new firmware runs after a restart: send AT+RST\n");
        rc = CLI_EXIT_OK;
    } else if (status == 401) {
        rc = cli_error(r->target, "HTTP 401 %s: wrong or missing upload password (--password)",
                       r->reply);
    } else {
        rc =
            cli_error(r->target, "HTTP %ld %s: the module refused the file (it keeps its firmware)",
                      status, r->reply);
    }
    request_free(r);
    return rc;
}

#define WIFI_POLLS                                                                                 \
    40 /* esp-at-ota.md §4.5: the page asks /getstainfo at most 40 times, 1 s apart */

/* One exchange of the Wi-Fi setup: status and body in r; 0 or the exit status of a failure. */
static int wifi_step(request_t *r, const char *content_type, const char *body, long *status)
{
    if (content_type) {
        request_header(r, content_type);
        curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
    }
    CURLcode res = request_perform(r, status);
    if (res != CURLE_OK)
        return cli_error(r->target, "%s", curl_easy_strerror(res));
    return CLI_EXIT_OK;
}

/* The "state" of a JSON answer, -1 when there is none. */
static int json_state(const char *body, char *message, size_t cap)
{
    cJSON *root = cJSON_Parse(body);
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "state");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
    int v = cJSON_IsNumber(state) ? state->valueint : -1;
    if (message)
        snprintf(message, cap, "%s", cJSON_IsString(msg) ? msg->valuestring : "");
    cJSON_Delete(root);
    return v;
}

static int wifi_setup(const char *url, const char *ssid, const char *password, uint32_t timeout_s)
{
    /* the page's body: {"ssid_len":n,"ssid":"..","password_len":m,"password":".."}, lengths in
     * bytes */
    cJSON *j = cJSON_CreateObject();
    char *body = NULL;
    if (j && cJSON_AddNumberToObject(j, "ssid_len", (double)strlen(ssid)) &&
        cJSON_AddStringToObject(j, "ssid", ssid) &&
        cJSON_AddNumberToObject(j, "password_len", (double)strlen(password)) &&
        cJSON_AddStringToObject(j, "password", password))
        body = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    request_t *r = body ? request_new(url, "/setstainfo", timeout_s) : NULL;
    if (!r) {
        cJSON_free(body);
        return cli_error(NULL, "out of memory");
    }
    long status;
    int rc = wifi_step(r, "Content-Type: application/json", body, &status);
    cJSON_free(body);
    if (rc == CLI_EXIT_OK && (status != 200 || json_state(r->reply, NULL, 0) != 0))
        rc = cli_error(r->target,
                       "HTTP %ld %s: the module refused the setup (is its Wi-Fi mode 3, "
                       "AT+CWMODE=3?)",
                       status, r->reply);
    request_free(r);
    char message[64] = "";
    int state = 0;
    for (unsigned i = 0; rc == CLI_EXIT_OK && i < WIFI_POLLS && state != 1 && state != 2; i++) {
        struct timespec pause = {1, 0};
        nanosleep(&pause, NULL);
        if (!(r = request_new(url, "/getstainfo", timeout_s)))
            return cli_error(NULL, "out of memory");
        if ((rc = wifi_step(r, NULL, NULL, &status)) == CLI_EXIT_OK) {
            state = json_state(r->reply, message, sizeof message);
            if (status != 200 || state < 0)
                rc = cli_error(r->target, "HTTP %ld: unexpected answer %.200s", status, r->reply);
        }
        request_free(r);
    }
    if (rc != CLI_EXIT_OK)
        return rc;
    if (state != 1)
        return cli_error(url, "the module did not join '%s': %s", ssid,
                         state == 2 ? message : "no answer within 40 s");
    /* the page's acknowledgement: the module prints +WEBSERVERRSP:2 */
    if (!(r = request_new(url, "/getresult", timeout_s)))
        return cli_error(NULL, "out of memory");
    rc = wifi_step(r, "Content-Type: application/x-www-form-urlencoded;charset=UTF-8", "received=1",
                   &status);
    request_free(r);
    if (rc == CLI_EXIT_OK)
        printf("the module joined '%s' (%s)\n", ssid, message);
    return rc;
}

int cli_cmd_web(int argc, char **argv)
{
    static const struct option options[] = {
        {"url", required_argument, 0, 'u'},
        {"object", required_argument, 0, 'o'},
        {"password", required_argument, 0, 'p'},
        {"force", no_argument, 0, 'f'},
        {"ssid", required_argument, 0, 's'},
        {"wifi-password", required_argument, 0, 'w'},
        {"timeout", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    if (argc < 2 ||
        (strcmp(argv[1], "info") && strcmp(argv[1], "upload") && strcmp(argv[1], "wifi"))) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            printf("usage: %s\n", web_usage);
            return CLI_EXIT_OK;
        }
        return cli_usage_error(web_usage, "web needs info, upload or wifi");
    }
    bool is_upload = !strcmp(argv[1], "upload");
    bool is_wifi = !strcmp(argv[1], "wifi");
    const char *url = NULL, *object = "ota", *password = NULL, *ssid = NULL, *wifi_password = "";
    bool force = false;
    uint32_t timeout_s = DEFAULT_TIMEOUT_S;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'u':
            url = optarg;
            break;
        case 'o':
            object = optarg;
            break;
        case 'p':
            password = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 's':
            ssid = optarg;
            break;
        case 'w':
            wifi_password = optarg;
            break;
        case 't':
            if (cli_parse_u32(optarg, &timeout_s) || !timeout_s || timeout_s > 86400)
                return cli_usage_error(web_usage, "bad --timeout '%s' (seconds)", optarg);
            break;
        case 'h':
            printf("usage: %s\n", web_usage);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(web_usage, "bad option");
        }
    }
    if (!url)
        return cli_usage_error(web_usage, "web needs --url URL");
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return cli_usage_error(web_usage, "--url '%s': an http:// URL", url);
    if (optind != argc - (is_upload ? 1 : 0))
        return cli_usage_error(web_usage,
                               is_upload ? "web upload needs one FILE" : "unexpected argument");
    if (!*object || strlen(object) > 16 || strpbrk(object, "\r\n"))
        return cli_usage_error(web_usage, "--object '%s': a partition label (1-16 bytes)", object);
    if (is_wifi && (!ssid || !*ssid || strlen(ssid) > 32))
        return cli_usage_error(web_usage, "web wifi needs --ssid SSID (1-32 bytes)");
    if (strlen(wifi_password) > 64)
        return cli_usage_error(web_usage, "--wifi-password: at most 64 bytes");
    if (password && (strlen(password) > 64 || strpbrk(password, "\r\n")))
        return cli_usage_error(web_usage, "--password: at most 64 bytes on one line");

    if (curl_global_init(CURL_GLOBAL_DEFAULT))
        return cli_error(NULL, "cannot start libcurl");
    if (is_wifi) {
        int wrc = wifi_setup(url, ssid, wifi_password, timeout_s);
        curl_global_cleanup();
        return wrc;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    info_t *info = calloc(1, sizeof *info);
    int rc = info ? get_info(url, timeout_s, info) : cli_error(NULL, "out of memory");
    if (rc == CLI_EXIT_OK && !is_upload)
        print_info(info);
    if (rc == CLI_EXIT_OK && is_upload) {
        const char *path = argv[optind];
        atota_diag_t d = {{0}};
        atota_err_t err = cli_read_file(path, FILE_MAX, &data, &len, &d);
        char why[512];
        if (err) {
            rc = cli_error(path, "%s", atota_diag_text(&d, err));
        } else if (check_file(info, object, data, len, why, sizeof why)) {
            if (force)
                fprintf(stderr, "atota: %s: %s; sending it anyway (--force)\n", path, why);
            else
                rc = cli_error(path, "%s (nothing was sent; --force sends it anyway)", why);
        }
        if (rc == CLI_EXIT_OK && info->password && !password)
            rc = cli_usage_error(web_usage, "the module asks for an upload password: --password");
        if (rc == CLI_EXIT_OK)
            rc = upload(url, info, object, password, data, len, timeout_s);
    }
    free(data);
    free(info);
    curl_global_cleanup();
    return rc;
}
