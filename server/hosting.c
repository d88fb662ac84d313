/*
 * Firmware hosting: GET and HEAD /fw/<sha256>/<name>, the stable, content-addressed URL of every
 * uploaded file (docs/server-api.md). The SHA-256 in the path is the capability and the strong
 * validator; conditional and range requests follow RFC 9110 §13 and §14 (docs/server-http.md).
 * The path is checked character by character before anything is looked up, so no other path
 * reaches a file.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

#define FW_PREFIX "/fw/"

/* "<64 lowercase hex>/<[a-z0-9_]{1,16}>.bin": the only shape that reaches the store. */
static bool parse_fw_path(const char *path, char sha[65], char name[ATOTA_STORE_FILE_MAX + 1])
{
    if (strncmp(path, FW_PREFIX, strlen(FW_PREFIX)) != 0)
        return false;
    const char *p = path + strlen(FW_PREFIX);
    for (int i = 0; i < 64; i++, p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
        sha[i] = *p;
    }
    sha[64] = '\0';
    if (*p++ != '/')
        return false;
    size_t label = 0;
    while ((p[label] >= 'a' && p[label] <= 'z') || (p[label] >= '0' && p[label] <= '9') ||
           p[label] == '_')
        label++;
    if (label < 1 || label > 16 || strcmp(p + label, ".bin") != 0)
        return false;
    memcpy(name, p, label + 4);
    name[label + 4] = '\0';
    return true;
}

/* ---- HTTP dates (RFC 9110 §5.6.7) ---------------------------------------------------------------
 */

static const char *const DAYS[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* IMF-fixdate, whatever the locale: "Sun, 06 Nov 1994 08:49:37 GMT". */
static void http_date(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", DAYS[tm.tm_wday], tm.tm_mday,
             MONTHS[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* An IMF-fixdate back to Unix seconds; false for anything else (the obsolete RFC 850 and asctime
 * forms are not matched: a client sends back the Last-Modified it was given). */
static bool parse_http_date(const char *s, int64_t *out)
{
    char day[4], mon[4], zone[4];
    int d, y, hh, mm, ss, n = 0;
    if (sscanf(s, "%3[A-Za-z], %d %3s %d %d:%d:%d %3s%n", day, &d, mon, &y, &hh, &mm, &ss, zone,
               &n) != 8 ||
        s[n] != '\0' || strcmp(zone, "GMT") != 0)
        return false;
    int month = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, MONTHS[i]) == 0)
            month = i;
    if (month < 0 || d < 1 || d > 31 || y < 1970 || hh > 23 || mm > 59 || ss > 60)
        return false;
    /* days since the epoch (civil from days, Howard Hinnant's algorithm) */
    int yy = y - (month < 2);
    int era = yy / 400;
    int yoe = yy - era * 400;
    int mp = (month + 10) % 12; /* March = 0 (month is 0-based) */
    int doy = (153 * mp + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    *out = days * 86400 + hh * 3600 + mm * 60 + ss;
    return true;
}

/* ---- validators ---------------------------------------------------------------------------------
 */

/* Does an If-None-Match list (RFC 9110 §13.1.2: "*" or entity-tags, weak comparison) name etag? */
static bool none_match_hits(const char *list, const char *etag)
{
    size_t etag_len = strlen(etag);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2; /* weak comparison: W/"x" matches "x" */
        if (*p != '"')
            return false;
        const char *end = strchr(p + 1, '"');
        if (!end)
            return false;
        if ((size_t)(end + 1 - p) == etag_len && memcmp(p, etag, etag_len) == 0)
            return true;
        p = end + 1;
    }
    return false;
}

/* If-Range (RFC 9110 §13.1.5): the range is sent only when the validator matches: a strong ETag
 * equal to ours, or a date equal to Last-Modified. A weak tag never matches. */
static bool if_range_matches(const char *value, const char *etag, int64_t mtime)
{
    if (value[0] == '"')
        return strcmp(value, etag) == 0;
    if (value[0] == 'W' && value[1] == '/')
        return false;
    int64_t t;
    return parse_http_date(value, &t) && t == mtime;
}

/* ---- Range (RFC 9110 §14.1.2) -------------------------------------------------------------------
 */

typedef enum {
    RANGE_NONE,          /* no Range, or one to ignore: 200 and the whole file */
    RANGE_ONE,           /* 206 with [first, last] */
    RANGE_UNSATISFIABLE, /* 416 */
} range_kind_t;

static bool parse_u64(const char **p, uint64_t *out)
{
    if (!isdigit((unsigned char)**p))
        return false;
    uint64_t v = 0;
    while (isdigit((unsigned char)**p)) {
        unsigned digit = (unsigned)(**p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            v = UINT64_MAX; /* saturate: longer than any file */
        else
            v = v * 10 + digit;
        (*p)++;
    }
    *out = v;
    return true;
}

/* One range; several ranges are answered with the whole file (RFC 9110 §14.2 lets a server
 * ignore Range), as are syntax errors and units other than bytes. */
static range_kind_t parse_range(const char *value, uint64_t size, uint64_t *first, uint64_t *last)
{
    const char *p = value;
    if (strncasecmp(p, "bytes=", 6) != 0)
        return RANGE_NONE;
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t a = 0, b = 0;
    bool suffix = false, open = false;
    if (*p == '-') {
        p++;
        if (!parse_u64(&p, &b))
            return RANGE_NONE;
        suffix = true;
    } else {
        if (!parse_u64(&p, &a) || *p++ != '-')
            return RANGE_NONE;
        if (!parse_u64(&p, &b))
            open = true;
        else if (b < a)
            return RANGE_NONE; /* invalid range-spec: the header is ignored */
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\0')
        return RANGE_NONE; /* a list of ranges, or junk */
    if (suffix) {
        if (b == 0 || size == 0)
            return RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return RANGE_ONE;
    }
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    *first = a;
    *last = open || b >= size ? size - 1 : b;
    return RANGE_ONE;
}

/* ---- the route --------------------------------------------------------------------------------
 */

static atota_httpd_response_t *not_found(void)
{
    return atota_httpd_response_error(404, "no such file");
}

static atota_httpd_response_t *serve(void *ctx, const atota_httpd_request_t *req)
{
    atota_server_t *srv = ctx;
    char sha[65], name[ATOTA_STORE_FILE_MAX + 1];
    if (!parse_fw_path(req->path, sha, name))
        return not_found();
    atota_store_file_t file;
    atota_err_t err = srv->store->ops->file_find_blob(srv->store, sha, name, &file);
    if (err == ATOTA_ERR_NOT_FOUND)
        return not_found();
    if (err)
        return atota_httpd_response_error(500, "store error: %s", atota_strerror(err));
    int fd;
    uint64_t size;
    int64_t mtime;
    err = atota_blobs_open_read(srv->blobs, sha, &fd, &size, &mtime);
    if (err == ATOTA_ERR_NOT_FOUND) {
        if (srv->log) {
            char line[160];
            snprintf(line, sizeof line, "hosting: the blob of %s (%s) is missing", name, sha);
            srv->log(srv->log_ctx, line);
        }
        return not_found();
    }
    if (err)
        return atota_httpd_response_error(500, "cannot open the file: %s", atota_strerror(err));
    if (mtime <= 0)
        mtime = file.created_at;

    char etag[68], last_modified[32];
    snprintf(etag, sizeof etag, "\"%s\"", sha);
    http_date(mtime, last_modified);

    /* RFC 9110 §13.2.2: If-None-Match (or, without it, If-Modified-Since) before Range */
    const char *inm = atota_httpd_header(req, "If-None-Match");
    const char *ims = atota_httpd_header(req, "If-Modified-Since");
    int64_t since;
    bool not_modified =
        inm ? none_match_hits(inm, etag) : ims && parse_http_date(ims, &since) && mtime <= since;

    atota_httpd_response_t *r;
    if (not_modified) {
        close(fd);
        r = atota_httpd_response_bytes(304, NULL, NULL, 0);
    } else {
        uint64_t first = 0, last = 0;
        const char *range = atota_httpd_header(req, "Range");
        const char *if_range = atota_httpd_header(req, "If-Range");
        range_kind_t kind = range ? parse_range(range, size, &first, &last) : RANGE_NONE;
        if (kind != RANGE_NONE && if_range && !if_range_matches(if_range, etag, mtime))
            kind = RANGE_NONE; /* the client's copy is stale: the whole file */
        char content_range[80];
        if (kind == RANGE_UNSATISFIABLE) {
            close(fd);
            r = atota_httpd_response_error(416, "the range is outside the file's %" PRIu64 " bytes",
                                           size);
            snprintf(content_range, sizeof content_range, "bytes */%" PRIu64, size);
            atota_httpd_response_header(r, "Content-Range", content_range);
        } else if (kind == RANGE_ONE) {
            r = atota_httpd_response_file(206, fd, first, last - first + 1);
            snprintf(content_range, sizeof content_range, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                     first, last, size);
            atota_httpd_response_header(r, "Content-Range", content_range);
            atota_httpd_response_header(r, "Content-Type", "application/octet-stream");
        } else {
            r = atota_httpd_response_file(200, fd, 0, size);
            atota_httpd_response_header(r, "Content-Type", "application/octet-stream");
        }
    }
    atota_httpd_response_header(r, "ETag", etag);
    atota_httpd_response_header(r, "Last-Modified", last_modified);
    atota_httpd_response_header(r, "Accept-Ranges", "bytes");
    /* content-addressed: these bytes never change under this URL */
    atota_httpd_response_header(r, "Cache-Control", "public, max-age=31536000, immutable");
    return r;
}

unsigned atota_hosting_routes(atota_server_t *srv, atota_httpd_route_t *out, unsigned max)
{
    const atota_httpd_route_t routes[] = {
        {"GET", FW_PREFIX "*", 0, serve, srv}, /* and HEAD (a GET route answers it) */
    };
    unsigned n = 0;
    for (; n < sizeof routes / sizeof routes[0] && n < max; n++)
        out[n] = routes[n];
    return n;
}
