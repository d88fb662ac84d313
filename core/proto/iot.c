/*
 * The iot device protocol (iot.h). The client side mirrors ESP-AT's at_ota_cmd.c
 * (esp-at-ota.md §3.4-§3.6) operation for operation, with C strings bounded by the buffers they
 * live in; the server side builds replies that this scraping reads correctly.
 */
#include "core/proto/iot.h"

#include <string.h>

#include <mbedtls/base64.h>

/* ---- small text helpers -------------------------------------------------------------------- */

/* The length of s as a C string, but at most cap (strnlen without POSIX). */
static size_t cstr_len(const char *s, size_t cap)
{
    size_t n = 0;
    while (n < cap && s[n] != '\0')
        n++;
    return n;
}

/* strstr on s as a C string that cannot run past cap bytes; NULL when absent. */
static const char *cstr_find(const char *s, size_t cap, const char *needle)
{
    size_t n = cstr_len(s, cap);
    size_t m = strlen(needle);
    if (m > n)
        return NULL;
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(s + i, needle, m) == 0)
            return s + i;
    return NULL;
}

/* An snprintf-like writer: keeps at most cap - 1 bytes and a NUL, counts what it was given. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len; /* bytes kept */
} writer_t;

static void w_bytes(writer_t *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (w->len + 1 >= w->cap)
            break;
        w->buf[w->len++] = s[i];
    }
    if (w->cap)
        w->buf[w->len] = '\0';
}

static void w_str(writer_t *w, const char *s)
{
    w_bytes(w, s, strlen(s));
}

static void w_u64(writer_t *w, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    char out[24];
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    w_bytes(w, out, n);
}

static void w_int(writer_t *w, int v)
{
    if (v < 0) {
        w_str(w, "-");
        w_u64(w, (uint64_t)(-(int64_t)v));
    } else {
        w_u64(w, (uint64_t)v);
    }
}

/* ---- requests ------------------------------------------------------------------------------ */

/* esp-at-ota.md §3.4: ESP-AT's pheadbuffer, byte for byte (note the space after Safari/537.36). */
#define IOT_HEADERS_BEFORE_TOKEN                                                                   \
    "Connection: keep-alive\r\n"                                                                   \
    "Cache-Control: no-cache\r\n"                                                                  \
    "User-Agent: Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) "             \
    "Chrome/30.0.1599.101 Safari/537.36 \r\n"                                                      \
    "Accept: */*\r\n"                                                                              \
    "Authorization: token "
#define IOT_HEADERS_AFTER_TOKEN                                                                    \
    "\r\n"                                                                                         \
    "Accept-Encoding: gzip,deflate,sdch\r\n"                                                       \
    "Accept-Language: zh-CN,zh;q=0.8\r\n"                                                          \
    "\r\n"

static const char *token_text(const char *token)
{
    return token ? token : "(null)"; /* printf("%s", NULL) on newlib and glibc */
}

static void w_host_and_headers(writer_t *w, const atota_iot_target_t *t)
{
    w_str(w, "Host: ");
    w_str(w, t->host ? t->host : "(null)");
    w_str(w, ":");
    w_int(w, t->port);
    w_str(w, "\r\n" IOT_HEADERS_BEFORE_TOKEN);
    w_str(w, token_text(t->token));
    w_str(w, IOT_HEADERS_AFTER_TOKEN);
}

size_t atota_iot_request_query(const atota_iot_target_t *t, char out[ATOTA_IOT_BUF_SIZE])
{
    writer_t w = {out, ATOTA_IOT_BUF_SIZE, 0};
    w_str(&w, "GET /v1/device/rom/?is_format_simple=true HTTP/1.0\r\n");
    w_host_and_headers(&w, t);
    return w.len;
}

size_t atota_iot_request_download(const atota_iot_target_t *t, const char *version,
                                  const char *name, char out[ATOTA_IOT_BUF_SIZE])
{
    writer_t w = {out, ATOTA_IOT_BUF_SIZE, 0};
    /* §3.5: version and name inserted raw, as ESP-AT's "%s" */
    w_str(&w, "GET /v1/device/rom/?action=download_rom&version=");
    w_str(&w, version ? version : "(null)");
    w_str(&w, "&filename=");
    w_str(&w, name ? name : "(null)");
    w_str(&w, ".bin HTTP/1.1\r\n");
    w_host_and_headers(&w, t);
    return w.len;
}

size_t atota_iot_request_fwver(const atota_iot_target_t *t, char out[ATOTA_IOT_BUF_SIZE])
{
    writer_t w = {out, ATOTA_IOT_BUF_SIZE, 0};
    /* §3.6: esp_http_client_perform with .path "/v1/device/rom": the first line, its default
     * headers in the order they are set (User-Agent and Host at init, Authorization by AT, then
     * Content-Length of the empty GET body at request time). */
    w_str(&w, "GET /v1/device/rom HTTP/1.1\r\n");
    w_str(&w, "User-Agent: ESP32 HTTP Client/1.0\r\n");
    w_str(&w, "Host: ");
    w_str(&w, t->host ? t->host : "(null)");
    if (t->port != 80 && t->port != 443) {
        w_str(&w, ":");
        w_int(&w, t->port);
    }
    w_str(&w, "\r\nAuthorization: token ");
    w_str(&w, token_text(t->token));
    w_str(&w, "\r\nContent-Length: 0\r\n\r\n");
    return w.len;
}

/* ---- the query reply ----------------------------------------------------------------------- */

#define QUERY_MARK_VERSION "rom_version\": "
#define QUERY_MARK_STATUS  "status"
#define QUERY_SKIP         (sizeof "rom_version\": \"" - 1) /* ESP-AT skips the quote too */

void atota_iot_query_reader_init(atota_iot_query_reader_t *r)
{
    memset(r, 0, sizeof *r); /* ESP-AT: memset(data_buffer, 0, TEXT_BUFFSIZE + 1) once */
}

char *atota_iot_query_reader_space(atota_iot_query_reader_t *r, size_t *max)
{
    *max = ATOTA_IOT_BUF_SIZE - r->offset;
    return r->buf + r->offset;
}

bool atota_iot_query_reader_feed(atota_iot_query_reader_t *r, size_t n)
{
    if (n == 0 || n > ATOTA_IOT_BUF_SIZE - r->offset)
        return r->found; /* not a read ESP-AT can make */
    r->buf[r->offset + n] = '\0';
    if (cstr_find(r->buf, sizeof r->buf, QUERY_MARK_VERSION) &&
        cstr_find(r->buf, sizeof r->buf, QUERY_MARK_STATUS)) {
        r->found = true;
        return true;
    }
    /* ESP-AT: offset = result > 64 ? 64 : 0; memmove(buf, buf + result - offset, offset) */
    size_t keep = n > ATOTA_IOT_QUERY_CARRY ? ATOTA_IOT_QUERY_CARRY : 0;
    memmove(r->buf, r->buf + n - keep, keep);
    r->offset = keep;
    return false;
}

atota_err_t atota_iot_query_reader_version(atota_iot_query_reader_t *r, const char **version,
                                           atota_diag_t *diag)
{
    *version = NULL;
    const char *p = cstr_find(r->buf, sizeof r->buf, QUERY_MARK_VERSION);
    if (!p)
        return atota_diag_set(diag, ATOTA_ERR_NET_PROTOCOL,
                              "rom_version error: the reply has no 'rom_version\": '");
    size_t at = (size_t)(p - r->buf) + QUERY_SKIP;
    if (at > ATOTA_IOT_BUF_SIZE) /* ESP-AT would read past its buffer */
        return atota_diag_set(diag, ATOTA_ERR_NET_PROTOCOL,
                              "rom_version tail error: the reply ends at 'rom_version\": '");
    const char *v = r->buf + at;
    const char *tail = cstr_find(v, sizeof r->buf - at, "\",");
    if (!tail)
        return atota_diag_set(diag, ATOTA_ERR_NET_PROTOCOL,
                              "rom_version tail error: no '\",' after 'rom_version\": \"'");
    r->buf[tail - r->buf] = '\0';
    *version = v;
    return ATOTA_OK;
}

/* ---- the magic table ----------------------------------------------------------------------- */

/* esp-at-ota.md §3.5, s_at_partition_sig in ESP-AT's order. */
static const atota_iot_magic_t magic_ota = {"ota", 1, 0, {0xE9}};
static const atota_iot_magic_t magic_ota_legacy = {"ota", 3, 0, {0x45, 0x53, 0x50}};
static const atota_iot_magic_t magic_table[] = {
    {"mqtt_ca", 2, 0, {0xF1, 0xF1}},       {"mqtt_cert", 2, 0, {0xF1, 0xF1}},
    {"mqtt_key", 2, 0, {0xF1, 0xF1}},      {"ble_data", 2, 2, {0x27, 0x95}},
    {"client_ca", 2, 0, {0xF1, 0xF1}},     {"client_cert", 2, 0, {0xF1, 0xF1}},
    {"client_key", 2, 0, {0xF1, 0xF1}},    {"server_ca", 2, 0, {0xF1, 0xF1}},
    {"server_cert", 2, 0, {0xF1, 0xF1}},   {"server_key", 2, 0, {0xF1, 0xF1}},
    {"factory_param", 2, 0, {0xFC, 0xFC}},
};
static const atota_iot_magic_t magic_wpa_ent[] = {
    {"wpa_ent_ca", 2, 0, {0xF1, 0xF1}},
    {"wpa_ent_cert", 2, 0, {0xF1, 0xF1}},
    {"wpa_ent_key", 2, 0, {0xF1, 0xF1}},
};
static const atota_iot_magic_t magic_wpa2[] = {
    {"wpa2_ca", 2, 0, {0xF1, 0xF1}},
    {"wpa2_cert", 2, 0, {0xF1, 0xF1}},
    {"wpa2_key", 2, 0, {0xF1, 0xF1}},
};

const atota_iot_magic_t *atota_iot_magic_find(const char *name, unsigned flags)
{
    if (!name)
        return NULL;
    if (strcmp(name, "ota") == 0)
        return (flags & ATOTA_IOT_MAGIC_LEGACY_COMPRESSED) ? &magic_ota_legacy : &magic_ota;
    for (size_t i = 0; i < sizeof magic_table / sizeof magic_table[0]; i++)
        if (strcmp(name, magic_table[i].name) == 0)
            return &magic_table[i];
    const atota_iot_magic_t *eap =
        (flags & ATOTA_IOT_MAGIC_EAP_LEGACY) ? magic_wpa2 : magic_wpa_ent;
    for (size_t i = 0; i < 3; i++)
        if (strcmp(name, eap[i].name) == 0)
            return &eap[i];
    return NULL;
}

atota_err_t atota_iot_magic_check(const char *name, unsigned flags, const uint8_t *body, size_t len,
                                  atota_diag_t *diag)
{
    const atota_iot_magic_t *m = atota_iot_magic_find(name, flags);
    if (!m)
        return atota_diag_set(
            diag, ATOTA_ERR_UNSUPPORTED,
            "partition '%s' has no magic in ESP-AT's table: AT+CIUPDATE refuses it",
            name ? name : "(null)");
    if (len < m->len)
        return atota_diag_set(diag, ATOTA_ERR_IMAGE_TRUNCATED,
                              "%s: the first read holds %zu body byte(s), the magic check needs %u",
                              m->name, len, (unsigned)m->len);
    for (unsigned i = 0; i < m->len; i++) {
        size_t off = (size_t)m->offset + i;
        uint8_t got = off < len ? body[off] : 0; /* ESP-AT's cleared buffer */
        if (got != m->magic[i])
            return atota_diag_set(diag, ATOTA_ERR_IMAGE_MAGIC,
                                  "%s: body byte %zu is 0x%02x, expected 0x%02x", m->name, off, got,
                                  m->magic[i]);
    }
    return ATOTA_OK;
}

/* ---- the download reply -------------------------------------------------------------------- */

atota_err_t atota_iot_download_reader_init(atota_iot_download_reader_t *r, const char *name,
                                           unsigned flags, uint64_t partition_size)
{
    memset(r, 0, sizeof *r);
    if (!name || strlen(name) > ATOTA_IOT_VERSION_MAX)
        return ATOTA_ERR_INVALID_ARG;
    memcpy(r->name, name, strlen(name) + 1);
    r->flags = flags;
    r->partition_size = partition_size;
    return ATOTA_OK;
}

/* ESP-AT's atoi on newlib (32-bit long): whitespace, a sign, digits, clamped to int32. */
static int64_t esp_atoi(const char *s, size_t cap)
{
    size_t i = 0;
    while (i < cap && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
        i++;
    bool neg = false;
    if (i < cap && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    int64_t v = 0;
    while (i < cap && s[i] >= '0' && s[i] <= '9') {
        if (v <= INT32_MAX)
            v = v * 10 + (s[i] - '0');
        i++;
    }
    if (neg)
        v = -v;
    if (v > INT32_MAX)
        v = INT32_MAX;
    if (v < INT32_MIN)
        v = INT32_MIN;
    return v;
}

#define DL_MARK_LENGTH "Content-Length: "

atota_err_t atota_iot_download_reader_feed(atota_iot_download_reader_t *r, const uint8_t *data,
                                           size_t n, const uint8_t **body, size_t *body_len,
                                           atota_diag_t *diag)
{
    *body = data;
    *body_len = 0;
    if (r->done || n == 0 || n > ATOTA_IOT_BUF_SIZE)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "a read of %zu bytes%s", n,
                              r->done ? " after the loop ended" : "");
    const char *text = (const char *)data; /* ESP-AT: strstr on the cleared buffer */
    if (!r->body_started) {
        const char *p = cstr_find(text, n, DL_MARK_LENGTH);
        if (!p) {
            r->no_content_length = true; /* ESP-AT: break, nothing written */
            r->done = true;
            return ATOTA_OK;
        }
        size_t at = (size_t)(p - text) + sizeof DL_MARK_LENGTH - 1;
        r->total_len = esp_atoi(text + at, cstr_len(text + at, n - at));
        if (r->partition_size && r->total_len > 0 && (uint64_t)r->total_len > r->partition_size)
            return atota_diag_set(diag, ATOTA_ERR_TOO_BIG,
                                  "ota bin oversize: Content-Length %lld, partition 0x%llx bytes",
                                  (long long)r->total_len, (unsigned long long)r->partition_size);
        const char *end = cstr_find(text, n, "\r\n\r\n");
        if (end) {
            r->body_started = true;
            size_t skip = (size_t)(end - text) + 4;
            atota_err_t err = atota_iot_magic_check(r->name, r->flags, data + skip, n - skip, diag);
            if (err != ATOTA_OK)
                return err;
            *body = data + skip;
            *body_len = n - skip;
            r->recv_len += (int64_t)(n - skip);
        }
    } else {
        *body_len = n;
        r->recv_len += (int64_t)n;
    }
    if (r->recv_len == r->total_len)
        r->done = true;
    else if (r->total_len >= 0 && r->recv_len > r->total_len)
        return atota_diag_set(diag, ATOTA_ERR_NET_PROTOCOL,
                              "%lld body bytes, more than Content-Length %lld",
                              (long long)r->recv_len, (long long)r->total_len);
    return ATOTA_OK;
}

atota_err_t atota_iot_download_reader_closed(atota_iot_download_reader_t *r, atota_diag_t *diag)
{
    if (r->done)
        return ATOTA_OK;
    if (r->recv_len != r->total_len)
        return atota_diag_set(diag, ATOTA_ERR_NET_RESET, "closed after %lld of %lld body bytes",
                              (long long)r->recv_len, (long long)r->total_len);
    r->done = true;
    return ATOTA_OK;
}

/* ---- the digest of a download (RFC 9530 Repr-Digest) ---------------------------------------- */

#define DIGEST_FIELD  "repr-digest:"
#define DIGEST_MEMBER "sha-256=:"
#define DIGEST_B64    44u /* base64 of 32 bytes */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool starts_nocase(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != prefix[i])
            return false;
    return true;
}

bool atota_iot_digest_parse(const char *head, size_t len, uint8_t sha256[32])
{
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && head[i - 1] != '\n')
            continue;
        if (!starts_nocase(head + i, len - i, DIGEST_FIELD))
            continue;
        size_t p = i + sizeof DIGEST_FIELD - 1;
        while (p < len && (head[p] == ' ' || head[p] == '\t'))
            p++;
        /* One member is what the server sends; a list with sha-256 first is read too. */
        if (!starts_nocase(head + p, len - p, DIGEST_MEMBER))
            return false;
        p += sizeof DIGEST_MEMBER - 1;
        if (len - p < DIGEST_B64 + 1 || head[p + DIGEST_B64] != ':')
            return false;
        size_t out = 0;
        if (mbedtls_base64_decode(sha256, 32, &out, (const unsigned char *)head + p, DIGEST_B64) !=
                0 ||
            out != 32)
            return false;
        return true;
    }
    return false;
}

bool atota_iot_digest_value_parse(const char *value, size_t len, uint8_t sha256[32])
{
    static const char key[] = "sha-256";
    size_t i = 0;
    while (i < len) {
        while (i < len && (value[i] == ' ' || value[i] == '\t'))
            i++;
        size_t end = i; /* a member runs to the next comma (base64 has none) */
        while (end < len && value[end] != ',')
            end++;
        size_t n = end - i;
        while (n > 0 && (value[i + n - 1] == ' ' || value[i + n - 1] == '\t'))
            n--;
        if (n > sizeof key && memcmp(value + i, key, sizeof key - 1) == 0 &&
            value[i + sizeof key - 1] == '=') {
            /* "sha-256=" then ":<base64>:" and nothing else (no parameters: RFC 9530 defines
             * none for a digest) */
            const char *v = value + i + sizeof key;
            size_t vn = n - sizeof key;
            size_t out = 0;
            return vn == DIGEST_B64 + 2 && v[0] == ':' && v[vn - 1] == ':' &&
                   mbedtls_base64_decode(sha256, 32, &out, (const unsigned char *)v + 1,
                                         DIGEST_B64) == 0 &&
                   out == 32;
        }
        i = end + 1;
    }
    return false;
}

char *atota_iot_digest_value(const uint8_t sha256[32], char *out)
{
    size_t n = 0;
    memcpy(out, DIGEST_MEMBER, sizeof DIGEST_MEMBER - 1);
    size_t at = sizeof DIGEST_MEMBER - 1;
    /* 32 bytes always encode to 44 characters and a NUL: the buffer is large enough. */
    (void)mbedtls_base64_encode((unsigned char *)out + at, DIGEST_B64 + 1, &n, sha256, 32);
    out[at + n] = ':';
    out[at + n + 1] = '\0';
    return out;
}

/* ---- the AT+CIPFWVER listing --------------------------------------------------------------- */

#define FWVER_MARK   "\"version\": "
#define FWVER_TAIL   "\", "
#define FWVER_PREFIX "+CIPFWVER:"

atota_err_t atota_iot_fwver_lines(const char *body, size_t len,
                                  void (*line)(void *ctx, const char *text, size_t len), void *ctx,
                                  unsigned *count, atota_diag_t *diag)
{
    unsigned lines = 0;
    if (count)
        *count = 0;
    if (len >= ATOTA_IOT_FWVER_BUF_SIZE)
        return atota_diag_set(diag, ATOTA_ERR_TOO_BIG,
                              "a %zu-byte body overflows AT+CIPFWVER's %u-byte buffer", len,
                              ATOTA_IOT_FWVER_BUF_SIZE);
    size_t clen = cstr_len(body, len); /* the calloc'd buffer is a C string */
    size_t pos = 0;
    while (pos < len) { /* ESP-AT: while (pstr < s_http_buffer + s_http_buffer_offset) */
        const char *p = pos < clen ? cstr_find(body + pos, clen - pos, FWVER_MARK) : NULL;
        if (!p)
            break;
        size_t head = (size_t)(p - body) + sizeof FWVER_MARK - 1;
        const char *tail =
            head + 1 <= clen ? cstr_find(body + head + 1, clen - head - 1, FWVER_TAIL) : NULL;
        if (!tail)
            return atota_diag_set(diag, ATOTA_ERR_NET_PROTOCOL,
                                  "'\"version\": ' at byte %zu has no '\", ' after it (ESP-AT "
                                  "crashes)",
                                  (size_t)(p - body));
        size_t n = (size_t)(tail - (body + head)) + 1;
        char out[ATOTA_IOT_FWVER_LINE_SIZE];
        writer_t w = {out, sizeof out, 0};
        w_str(&w, FWVER_PREFIX);
        w_bytes(&w, body + head, n);
        w_str(&w, "\r\n");
        if (line)
            line(ctx, out, w.len);
        lines++;
        pos = (size_t)(tail - body);
    }
    if (count)
        *count = lines;
    return ATOTA_OK;
}

/* ---- the server's replies ------------------------------------------------------------------ */

bool atota_iot_version_is_safe(const char *v)
{
    if (!v)
        return false;
    size_t n = strlen(v);
    if (n == 0 || n > ATOTA_IOT_VERSION_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x21 || c > 0x7E || strchr("\"\\&#%+?=", c))
            return false;
    }
    return true;
}

bool atota_iot_file_name_is_safe(const char *name)
{
    if (!name)
        return false;
    size_t n = strlen(name);
    if (n < 5 || n > 16 + 4 || strcmp(name + n - 4, ".bin") != 0)
        return false;
    for (size_t i = 0; i < n - 4; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

#define REPLY_CLOSE "]}"

/* Appends to the reply if it still fits with the closing "]}"; false (nothing kept) otherwise. */
static bool reply_put(atota_iot_reply_t *r, const char *s, size_t n)
{
    if (r->len + n + (sizeof REPLY_CLOSE - 1) > r->limit)
        return false;
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    return true;
}

static bool reply_str(atota_iot_reply_t *r, const char *s)
{
    return reply_put(r, s, strlen(s));
}

static bool reply_u64(atota_iot_reply_t *r, uint64_t v)
{
    char tmp[24];
    writer_t w = {tmp, sizeof tmp, 0};
    w_u64(&w, v);
    return reply_put(r, tmp, w.len);
}

atota_err_t atota_iot_reply_begin(atota_iot_reply_t *r, atota_iot_reply_kind_t kind, char *buf,
                                  size_t cap, const char *recommended)
{
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->kind = kind;
    size_t max = kind == ATOTA_IOT_REPLY_QUERY ? ATOTA_IOT_QUERY_BODY_MAX : ATOTA_IOT_LIST_BODY_MAX;
    r->limit = cap == 0 ? 0 : (cap - 1 < max ? cap - 1 : max);
    if (recommended ? !atota_iot_version_is_safe(recommended) : kind == ATOTA_IOT_REPLY_QUERY)
        return ATOTA_ERR_INVALID_ARG;
    /* §3.4: "status" first, then "recommended_rom_version": "<v>", followed by another key
     * (the device scrapes up to the first `",`), ": " separators. */
    bool ok = reply_str(r, "{\"status\": 200, ");
    if (recommended)
        ok = ok && reply_str(r, "\"recommended_rom_version\": \"") && reply_str(r, recommended) &&
             reply_str(r, "\", ");
    ok = ok && reply_str(r, "\"productRoms\": [");
    if (!ok) {
        r->len = 0;
        return ATOTA_ERR_TOO_BIG;
    }
    if (cap)
        buf[r->len] = '\0';
    return ATOTA_OK;
}

bool atota_iot_reply_add_rom(atota_iot_reply_t *r, const char *version, bool recommended,
                             const atota_iot_file_t *files, unsigned nfiles)
{
    size_t mark = r->len;
    bool ok = atota_iot_version_is_safe(version);
    if (r->kind == ATOTA_IOT_REPLY_LIST)
        for (unsigned i = 0; ok && i < nfiles; i++)
            ok = atota_iot_file_name_is_safe(files[i].name);
    /* §3.6: every "version": "<v>" is followed by `", ` (AT+CIPFWVER's tail marker). */
    ok = ok && (r->roms == 0 || reply_str(r, ", ")) && reply_str(r, "{\"version\": \"") &&
         reply_str(r, version) && reply_str(r, "\", \"recommended\": ") &&
         reply_str(r, recommended ? "1" : "0");
    if (ok && r->kind == ATOTA_IOT_REPLY_LIST) {
        ok = reply_str(r, ", \"files\": [");
        for (unsigned i = 0; ok && i < nfiles; i++)
            ok = (i == 0 || reply_str(r, ", ")) && reply_str(r, "{\"name\": \"") &&
                 reply_str(r, files[i].name) && reply_str(r, "\", \"size\": ") &&
                 reply_u64(r, files[i].size) && reply_str(r, "}");
        ok = ok && reply_str(r, "]");
    }
    ok = ok && reply_str(r, "}");
    if (!ok) {
        r->len = mark;
        r->buf[r->len] = '\0';
        r->dropped++;
        return false;
    }
    r->buf[r->len] = '\0';
    r->roms++;
    return true;
}

size_t atota_iot_reply_end(atota_iot_reply_t *r)
{
    if (r->limit == 0)
        return 0;
    memcpy(r->buf + r->len, REPLY_CLOSE, sizeof REPLY_CLOSE); /* reserved by reply_put */
    r->len += sizeof REPLY_CLOSE - 1;
    return r->len;
}

size_t atota_iot_reply_error(char *buf, size_t cap, int status, const char *message)
{
    writer_t w = {buf, cap, 0};
    w_str(&w, "{\"status\": ");
    w_int(&w, status);
    w_str(&w, ", \"message\": \"");
    const char *tail = "\"}";
    size_t room = cap > w.len + strlen(tail) + 1 ? cap - w.len - strlen(tail) - 1 : 0;
    for (const char *m = message ? message : ""; *m; m++) {
        unsigned char c = (unsigned char)*m;
        char esc[2] = {'\\', (char)c};
        size_t need = (c == '"' || c == '\\') ? 2 : 1;
        if (c < 0x20 || c == 0x7F)
            continue; /* a one-line message: control bytes are dropped */
        if (need > room)
            break;
        if (need == 2)
            w_bytes(&w, esc, 2);
        else
            w_bytes(&w, (const char *)&c, 1);
        room -= need;
    }
    w_str(&w, tail);
    return w.len;
}
