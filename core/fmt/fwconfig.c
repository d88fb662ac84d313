/*
 * The firmware-configuration block (fwconfig.h; docs/formats.md "Firmware-configuration block"):
 * ESP-AT's compiled-in options (esp-at-ota.md §3, Kconfig table) as "KEY=VALUE\n" lines behind a
 * 16-byte header, in a segment of its own inside an app image.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/fmt/fwconfig.h"
#include "core/util/crc32.h"

#define FORMAT_VERSION 1u
#define MAGIC_LEN      8u
#define MAX_PAYLOAD    (ATOTA_FWCONFIG_MAX_LEN - ATOTA_FWCONFIG_HEADER_LEN)
#define HOST_MAX       127u /* sizeof ota_host - 1 */
#define LABEL_MAX      63u  /* RFC 1035 label length */
#define TOKEN_MAX      64u  /* sizeof ota_token - 1 */
#define NAME_MAX_LEN   31u  /* sizeof module_name - 1 */
#define SHOWN_MAX      40u  /* bytes of a bad value quoted in a message */

typedef enum {
    KIND_NAME,
    KIND_HOST,
    KIND_PORT,
    KIND_TOKEN,
    KIND_FEATURE,
    KIND_UINT,
    KIND_PASSWORD, /* optional: written and listed only when set */
    KIND_SWITCH,   /* on or off, a bool field; optional: written and listed only when on */
} kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    size_t offset;    /* of the field in atota_fwconfig_t (not for features) */
    size_t size;      /* of a string field, with its NUL */
    uint32_t feature; /* ATOTA_FEATURE_* for KIND_FEATURE */
    uint32_t max;     /* the largest value of a KIND_UINT (a uint32_t field) */
} fwkey_t;

#define STR_KEY(n, k, f)                                                                           \
    {                                                                                              \
        n, k, offsetof(atota_fwconfig_t, f), sizeof(((atota_fwconfig_t *)0)->f), 0, 0              \
    }
#define PORT_KEY(n, f)                                                                             \
    {                                                                                              \
        n, KIND_PORT, offsetof(atota_fwconfig_t, f), 0, 0, 0                                       \
    }
#define FEATURE_KEY(n, b)                                                                          \
    {                                                                                              \
        n, KIND_FEATURE, 0, 0, b, 0                                                                \
    }
#define SWITCH_KEY(n, f)                                                                           \
    {                                                                                              \
        n, KIND_SWITCH, offsetof(atota_fwconfig_t, f), 0, 0, 0                                     \
    }
#define UINT_KEY(n, f, m)                                                                          \
    {                                                                                              \
        n, KIND_UINT, offsetof(atota_fwconfig_t, f), 0, 0, m                                       \
    }

/* Block order. The names are those of ESP-AT's Kconfig options, shortened (§3 table); then ATOTA's
 * own: the download policy (docs/userota.md) and the web server's upload password
 * (docs/webserver.md); then the web server's captive portal (CONFIG_AT_WEB_CAPTIVE_PORTAL_ENABLE).
 * Keys added later go last, optional, so that blocks without them read the same everywhere. */
static const fwkey_t keys[ATOTA_FWCONFIG_KEYS] = {
    STR_KEY("module_name", KIND_NAME, module_name),
    STR_KEY("ota_host", KIND_HOST, ota_host),
    PORT_KEY("ota_port", ota_port),
    STR_KEY("ota_token", KIND_TOKEN, ota_token),
    STR_KEY("ssl_host", KIND_HOST, ssl_host),
    PORT_KEY("ssl_port", ssl_port),
    STR_KEY("ssl_token", KIND_TOKEN, ssl_token),
    FEATURE_KEY("ota", ATOTA_FEATURE_OTA),
    FEATURE_KEY("ota_ssl", ATOTA_FEATURE_OTA_SSL),
    FEATURE_KEY("userota", ATOTA_FEATURE_USEROTA),
    FEATURE_KEY("webserver", ATOTA_FEATURE_WEBSERVER),
    UINT_KEY("ota_retries", ota_retries, ATOTA_FWCONFIG_MAX_OTA_RETRIES),
    UINT_KEY("ota_time_limit", ota_time_limit, ATOTA_FWCONFIG_MAX_OTA_TIME_LIMIT),
    STR_KEY("web_password", KIND_PASSWORD, web_password),
    SWITCH_KEY("web_captive_portal", web_captive_portal),
};

#define KEY_NAMES                                                                                  \
    "module_name, ota_host, ota_port, ota_token, ssl_host, ssl_port, ssl_token, ota, ota_ssl, "    \
    "userota, webserver, ota_retries, ota_time_limit, web_password, web_captive_portal"

void atota_fwconfig_defaults(atota_fwconfig_t *c)
{
    /* esp-at-ota.md §3 Kconfig table */
    memset(c, 0, sizeof *c);
    memcpy(c->ota_host, ATOTA_FWCONFIG_DEFAULT_HOST, sizeof ATOTA_FWCONFIG_DEFAULT_HOST);
    memcpy(c->ssl_host, ATOTA_FWCONFIG_DEFAULT_HOST, sizeof ATOTA_FWCONFIG_DEFAULT_HOST);
    c->ota_port = 80;
    c->ssl_port = 443;
    memcpy(c->ota_token, ATOTA_FWCONFIG_DEFAULT_TOKEN, sizeof ATOTA_FWCONFIG_DEFAULT_TOKEN);
    memcpy(c->ssl_token, ATOTA_FWCONFIG_DEFAULT_TOKEN, sizeof ATOTA_FWCONFIG_DEFAULT_TOKEN);
    c->features = ATOTA_FEATURE_ALL;
    c->ota_retries = ATOTA_FWCONFIG_DEFAULT_OTA_RETRIES;
    c->ota_time_limit = ATOTA_FWCONFIG_DEFAULT_OTA_TIME_LIMIT;
}

/* A value as a message may quote it: at most SHOWN_MAX bytes, cut on a character boundary,
 * control characters as '?', "..." when cut. */
static const char *shown(const char *v, size_t len, char out[SHOWN_MAX + 4])
{
    size_t n = len;
    if (n > SHOWN_MAX) {
        n = SHOWN_MAX;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        out[i] = ch < 0x20 || ch == 0x7F ? '?' : (char)ch;
    }
    if (n < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if there is none (overlong
 * forms, surrogates and code points past U+10FFFF are invalid, RFC 3629 §4). */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    uint32_t cp, min;
    if ((s[0] & 0xE0) == 0xC0)
        len = 2, cp = s[0] & 0x1Fu, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0)
        len = 3, cp = s[0] & 0x0Fu, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0)
        len = 4, cp = s[0] & 0x07u, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Offset of the first byte that is not valid UTF-8, or n when all of it is. */
static size_t utf8_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_char_len(s + i, n - i);
        if (k == 0)
            return i;
        i += k;
    }
    return n;
}

static atota_err_t check_name(const fwkey_t *k, const char *v, size_t len, atota_diag_t *diag)
{
    char q[SHOWN_MAX + 4];
    if (len > NAME_MAX_LEN)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG, "%s: '%s' is %zu bytes, at most %u fit",
                              k->name, shown(v, len, q), len, NAME_MAX_LEN);
    size_t bad = utf8_invalid_at((const unsigned char *)v, len);
    if (bad < len)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG, "%s: byte %zu is not valid UTF-8", k->name,
                              bad + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x20 || ch == 0x7F)
            return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                                  "%s: '%s' has a control character (0x%02x)", k->name,
                                  shown(v, len, q), ch);
    }
    return ATOTA_OK;
}

static bool is_host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.';
}

static atota_err_t check_host(const fwkey_t *k, const char *v, size_t len, atota_diag_t *diag)
{
    char q[SHOWN_MAX + 4];
    if (len == 0)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "%s: empty, a host name or IPv4 address "
                              "is needed",
                              k->name);
    if (len > HOST_MAX)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "%s: '%s' is %zu characters, at most %u fit", k->name,
                              shown(v, len, q), len, HOST_MAX);
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_host_char(v[i]))
            return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                                  "%s: '%s' has '%c' (0x%02x): a host name is letters, digits, "
                                  "'-', '_' and '.'",
                                  k->name, shown(v, len, q),
                                  (unsigned char)v[i] >= 0x20 && (unsigned char)v[i] < 0x7F ? v[i]
                                                                                            : '?',
                                  (unsigned char)v[i]);
        if (v[i] != '.') {
            if (++label > LABEL_MAX)
                return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                                      "%s: '%s' has a label longer than %u characters", k->name,
                                      shown(v, len, q), LABEL_MAX);
            continue;
        }
        if (label == 0)
            return atota_diag_set(diag, ATOTA_ERR_FWCONFIG, "%s: '%s' has an empty label", k->name,
                                  shown(v, len, q));
        label = 0;
    }
    if (label == 0)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG, "%s: '%s' ends with '.'", k->name,
                              shown(v, len, q));
    return ATOTA_OK;
}

static atota_err_t parse_port(const fwkey_t *k, const char *v, size_t len, uint16_t *port,
                              atota_diag_t *diag)
{
    char q[SHOWN_MAX + 4];
    uint32_t n = 0;
    bool ok = len > 0 && len <= 5;
    for (size_t i = 0; ok && i < len; i++) {
        ok = v[i] >= '0' && v[i] <= '9';
        n = n * 10 + (uint32_t)(v[i] - '0');
    }
    if (!ok || n == 0 || n > 65535)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "%s: '%s' is not a port number (1-65535, decimal)", k->name,
                              shown(v, len, q));
    *port = (uint16_t)n;
    return ATOTA_OK;
}

/* A decimal number from 0 to k->max (no sign, no leading '+', at most 10 digits). */
static atota_err_t parse_uint(const fwkey_t *k, const char *v, size_t len, uint32_t *out,
                              atota_diag_t *diag)
{
    char q[SHOWN_MAX + 4];
    uint64_t n = 0;
    bool ok = len > 0 && len <= 10;
    for (size_t i = 0; ok && i < len; i++) {
        ok = v[i] >= '0' && v[i] <= '9';
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (!ok || n > k->max)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "%s: '%s' is not a number from 0 to %u (decimal)", k->name,
                              shown(v, len, q), (unsigned)k->max);
    *out = (uint32_t)n;
    return ATOTA_OK;
}

/* RFC 7235 token68: what may follow "Authorization: token " without quoting. */
static bool is_token_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '+' || ch == '/' || ch == '=';
}

static atota_err_t check_token(const fwkey_t *k, const char *v, size_t len, atota_diag_t *diag)
{
    char q[SHOWN_MAX + 4];
    if (len == 0)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG, "%s: empty, a token is needed", k->name);
    if (len > TOKEN_MAX)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "%s: '%s' is %zu characters, at most %u fit", k->name,
                              shown(v, len, q), len, TOKEN_MAX);
    for (size_t i = 0; i < len; i++)
        if (!is_token_char(v[i]))
            return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                                  "%s: '%s' has '%c' (0x%02x): a token is letters, digits and "
                                  "- . _ ~ + / =",
                                  k->name, shown(v, len, q),
                                  (unsigned char)v[i] >= 0x20 && (unsigned char)v[i] < 0x7F ? v[i]
                                                                                            : '?',
                                  (unsigned char)v[i]);
    return ATOTA_OK;
}

/* web_password: what a browser can put in a header value as it is (a ByteString of visible ASCII;
 * no space, so that no header parser's trimming can change it). */
static atota_err_t check_password(const fwkey_t *k, const char *v, size_t len, atota_diag_t *diag)
{
    if (len > ATOTA_FWCONFIG_WEB_PASSWORD_MAX)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG, "%s: %zu characters, at most %u fit",
                              k->name, len, ATOTA_FWCONFIG_WEB_PASSWORD_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        /* the message names the position, never the password */
        if (ch < 0x21 || ch > 0x7E)
            return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                                  "%s: character %zu is 0x%02x: a password is printable ASCII "
                                  "without space (0x21-0x7e)",
                                  k->name, i + 1, ch);
    }
    return ATOTA_OK;
}

static const fwkey_t *find_key(const char *name, size_t len)
{
    for (size_t i = 0; i < ATOTA_FWCONFIG_KEYS; i++)
        if (strlen(keys[i].name) == len && !memcmp(keys[i].name, name, len))
            return &keys[i];
    return NULL;
}

/* Applies "KEY=VALUE" of len bytes (no NUL needed); *which gets the key's index. c is changed
 * only on success. */
static atota_err_t apply(atota_fwconfig_t *c, const char *kv, size_t len, size_t *which,
                         atota_diag_t *diag)
{
    char q[SHOWN_MAX + 4];
    const char *eq = memchr(kv, '=', len);
    if (!eq)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG, "'%s' is not KEY=VALUE", shown(kv, len, q));
    size_t key_len = (size_t)(eq - kv);
    const char *v = eq + 1;
    size_t vlen = len - key_len - 1;
    const fwkey_t *k = find_key(kv, key_len);
    if (!k)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG, "unknown key '%s' (keys: %s)",
                              shown(kv, key_len, q), KEY_NAMES);
    if (which)
        *which = (size_t)(k - keys);

    atota_err_t err = ATOTA_OK;
    uint16_t port = 0;
    uint32_t number = 0;
    bool on = false;
    switch (k->kind) {
    case KIND_NAME:
        err = check_name(k, v, vlen, diag);
        break;
    case KIND_HOST:
        err = check_host(k, v, vlen, diag);
        break;
    case KIND_TOKEN:
        err = check_token(k, v, vlen, diag);
        break;
    case KIND_PASSWORD:
        err = check_password(k, v, vlen, diag);
        break;
    case KIND_PORT:
        err = parse_port(k, v, vlen, &port, diag);
        break;
    case KIND_UINT:
        err = parse_uint(k, v, vlen, &number, diag);
        break;
    case KIND_FEATURE:
    case KIND_SWITCH:
        if (vlen == 2 && !memcmp(v, "on", 2))
            on = true;
        else if (!(vlen == 3 && !memcmp(v, "off", 3)))
            err = atota_diag_set(diag, ATOTA_ERR_FWCONFIG, "%s: '%s' is not on or off", k->name,
                                 shown(v, vlen, q));
        break;
    }
    if (err)
        return err;
    if (k->kind == KIND_FEATURE) {
        c->features = on ? c->features | k->feature : c->features & ~k->feature;
    } else if (k->kind == KIND_SWITCH) {
        memcpy((char *)c + k->offset, &on, sizeof on);
    } else if (k->kind == KIND_PORT) {
        memcpy((char *)c + k->offset, &port, sizeof port);
    } else if (k->kind == KIND_UINT) {
        memcpy((char *)c + k->offset, &number, sizeof number);
    } else {
        char *field = (char *)c + k->offset;
        memcpy(field, v, vlen); /* the checks above keep vlen < k->size */
        field[vlen] = '\0';
    }
    return ATOTA_OK;
}

atota_err_t atota_fwconfig_set(atota_fwconfig_t *c, const char *key_value, atota_diag_t *diag)
{
    if (!c || !key_value)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no configuration or no KEY=VALUE");
    return apply(c, key_value, strlen(key_value), NULL, diag);
}

static size_t append(char *out, size_t cap, size_t pos, const char *s, size_t n)
{
    if (pos + n >= cap)
        return cap; /* marks "too short"; the caller checks pos < cap */
    memcpy(out + pos, s, n);
    return pos + n;
}

/* An optional key at its default (web_password empty, web_captive_portal off): neither written
 * nor listed. */
static bool optional_at_default(const fwkey_t *k, const atota_fwconfig_t *c)
{
    const char *field = (const char *)c + k->offset;
    if (k->kind == KIND_PASSWORD)
        return field[0] == '\0';
    if (k->kind == KIND_SWITCH) {
        bool on;
        memcpy(&on, field, sizeof on);
        return !on;
    }
    return false;
}

const char *atota_fwconfig_line(const atota_fwconfig_t *c, unsigned index, char *out, size_t cap)
{
    if (!c || !out || index >= ATOTA_FWCONFIG_KEYS || cap == 0)
        return NULL;
    const fwkey_t *k = &keys[index];
    if (optional_at_default(k, c))
        return NULL;
    size_t pos = append(out, cap, 0, k->name, strlen(k->name));
    pos = append(out, cap, pos, "=", 1);
    if (pos >= cap)
        return NULL;
    if (k->kind == KIND_PORT) {
        uint16_t port;
        memcpy(&port, (const char *)c + k->offset, sizeof port);
        char digits[8];
        int n = snprintf(digits, sizeof digits, "%u", (unsigned)port);
        pos = append(out, cap, pos, digits, (size_t)n);
    } else if (k->kind == KIND_UINT) {
        uint32_t number;
        memcpy(&number, (const char *)c + k->offset, sizeof number);
        char digits[12];
        int n = snprintf(digits, sizeof digits, "%u", (unsigned)number);
        pos = append(out, cap, pos, digits, (size_t)n);
    } else if (k->kind == KIND_FEATURE || k->kind == KIND_SWITCH) {
        bool on = true; /* a switch at its default (off) was left out above */
        if (k->kind == KIND_FEATURE)
            on = (c->features & k->feature) != 0;
        const char *v = on ? "on" : "off";
        pos = append(out, cap, pos, v, strlen(v));
    } else {
        const char *field = (const char *)c + k->offset;
        const char *nul = memchr(field, '\0', k->size);
        /* a field without its NUL is damaged: copy its bytes, the encoder's check refuses it */
        pos = append(out, cap, pos, field, nul ? (size_t)(nul - field) : k->size);
    }
    if (pos >= cap)
        return NULL;
    out[pos] = '\0';
    return out;
}

size_t atota_fwconfig_encode(const atota_fwconfig_t *c, uint8_t *out, size_t cap)
{
    if (!c || !out || cap < ATOTA_FWCONFIG_HEADER_LEN || (c->features & ~ATOTA_FEATURE_ALL))
        return 0;
    atota_fwconfig_t check; /* every line must read back: what we write, we can decode */
    atota_fwconfig_defaults(&check);
    size_t pos = ATOTA_FWCONFIG_HEADER_LEN;
    for (unsigned i = 0; i < ATOTA_FWCONFIG_KEYS; i++) {
        char line[ATOTA_FWCONFIG_LINE_MAX + 2];
        if (optional_at_default(&keys[i], c))
            continue; /* not written */
        if (!atota_fwconfig_line(c, i, line, sizeof line))
            return 0;
        size_t n = strlen(line);
        if (apply(&check, line, n, NULL, NULL) != ATOTA_OK)
            return 0;
        line[n++] = '\n';
        if (pos + n > cap || pos + n > ATOTA_FWCONFIG_MAX_LEN)
            return 0;
        memcpy(out + pos, line, n);
        pos += n;
    }
    size_t payload = pos - ATOTA_FWCONFIG_HEADER_LEN;
    memcpy(out, ATOTA_FWCONFIG_MAGIC, MAGIC_LEN);
    atota_put_le16(out + 8, FORMAT_VERSION);
    atota_put_le16(out + 10, (uint16_t)payload);
    atota_put_le32(out + 12, atota_crc32_le(0, out + ATOTA_FWCONFIG_HEADER_LEN, payload));
    return pos;
}

/* The payload's lines, applied to c in order. */
static atota_err_t decode_payload(const uint8_t *p, size_t len, atota_fwconfig_t *c,
                                  atota_diag_t *diag)
{
    const uint8_t *nul = memchr(p, '\0', len);
    if (nul)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "firmware-configuration block: NUL byte at payload offset %zu",
                              (size_t)(nul - p));
    size_t bad = utf8_invalid_at(p, len);
    if (bad < len)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "firmware-configuration block: payload offset %zu is not valid "
                              "UTF-8",
                              bad);
    if (len && p[len - 1] != '\n')
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "firmware-configuration block: the last line has no '\\n'");
    uint32_t seen = 0;
    unsigned line_no = 0;
    for (size_t pos = 0; pos < len; line_no++) {
        const uint8_t *nl = memchr(p + pos, '\n', len - pos);
        size_t n = (size_t)(nl - (p + pos));
        if (n == 0)
            return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                                  "firmware-configuration block line %u: empty", line_no + 1);
        atota_diag_t d;
        size_t which = ATOTA_FWCONFIG_KEYS;
        atota_err_t err = apply(c, (const char *)p + pos, n, &which, &d);
        if (err)
            return atota_diag_set(diag, err, "firmware-configuration block line %u: %s",
                                  line_no + 1, d.msg);
        if (seen & (1u << which))
            return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                                  "firmware-configuration block line %u: key '%s' given twice",
                                  line_no + 1, keys[which].name);
        seen |= 1u << which;
        pos += n + 1;
    }
    return ATOTA_OK;
}

atota_err_t atota_fwconfig_decode(const uint8_t *data, size_t len, atota_fwconfig_t *c,
                                  atota_diag_t *diag)
{
    if (!c)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no configuration to decode into");
    atota_fwconfig_defaults(c);
    if (!data || len < MAGIC_LEN || memcmp(data, ATOTA_FWCONFIG_MAGIC, MAGIC_LEN))
        return atota_diag_set(diag, ATOTA_ERR_NOT_FOUND, "no firmware-configuration block");
    if (len < ATOTA_FWCONFIG_HEADER_LEN)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "firmware-configuration block truncated: %zu bytes of its %u-byte "
                              "header",
                              len, ATOTA_FWCONFIG_HEADER_LEN);
    uint16_t version = atota_le16(data + 8);
    uint16_t payload = atota_le16(data + 10);
    uint32_t crc = atota_le32(data + 12);
    if (version != FORMAT_VERSION)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "firmware-configuration block version %u, only %u is known", version,
                              FORMAT_VERSION);
    if (payload > MAX_PAYLOAD)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "firmware-configuration block payload length %u is over the %u-byte "
                              "limit",
                              payload, MAX_PAYLOAD);
    if (len - ATOTA_FWCONFIG_HEADER_LEN < payload)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "firmware-configuration block truncated: payload of %u bytes, %zu "
                              "present",
                              payload, len - ATOTA_FWCONFIG_HEADER_LEN);
    const uint8_t *p = data + ATOTA_FWCONFIG_HEADER_LEN;
    uint32_t calc = atota_crc32_le(0, p, payload);
    if (calc != crc)
        return atota_diag_set(diag, ATOTA_ERR_FWCONFIG,
                              "firmware-configuration block CRC 0x%08x, calculated 0x%08x",
                              (unsigned)crc, (unsigned)calc);
    atota_err_t err = decode_payload(p, payload, c, diag);
    if (err) {
        atota_fwconfig_defaults(c);
        return err;
    }
    c->present = true;
    return ATOTA_OK;
}

/* Segments the image header announces, as far as info holds them. */
static unsigned segment_count(const atota_image_info_t *info)
{
    unsigned n = info->header.segment_count;
    return n > ATOTA_IMAGE_MAX_SEGMENTS ? ATOTA_IMAGE_MAX_SEGMENTS : n;
}

static atota_err_t segment_error(atota_err_t err, unsigned i, uint32_t file_offset,
                                 const atota_diag_t *d, atota_diag_t *diag)
{
    return atota_diag_set(diag, err, "segment %u at 0x%x: %s", i, (unsigned)file_offset, d->msg);
}

atota_err_t atota_fwconfig_find(const uint8_t *image, size_t len, const atota_image_info_t *info,
                                atota_fwconfig_t *c, unsigned *segment, atota_diag_t *diag)
{
    if (segment)
        *segment = 0;
    if (!c || !info || (!image && len))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no image or no configuration");
    atota_fwconfig_defaults(c);
    for (unsigned i = 1; i < segment_count(info); i++) {
        const atota_image_segment_t *s = &info->segments[i];
        uint64_t off = (uint64_t)s->header_offset + ATOTA_IMAGE_SEG_HEADER_LEN;
        if (off >= len)
            continue;
        size_t avail = (size_t)(len - off);
        if (avail > s->data_len)
            avail = s->data_len;
        atota_diag_t d;
        atota_err_t err = atota_fwconfig_decode(image + off, avail, c, &d);
        if (err == ATOTA_ERR_NOT_FOUND)
            continue;
        if (err)
            return segment_error(err, i, (uint32_t)off, &d, diag);
        if (segment)
            *segment = i;
        return ATOTA_OK;
    }
    atota_fwconfig_defaults(c);
    return ATOTA_OK;
}

atota_err_t atota_fwconfig_read_flash(const atota_flash_t *flash, uint32_t offset,
                                      const atota_image_info_t *info, atota_fwconfig_t *c,
                                      atota_diag_t *diag)
{
    if (!c || !info || !flash)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no flash, image or configuration");
    atota_fwconfig_defaults(c);
    uint8_t buf[ATOTA_FWCONFIG_MAX_LEN];
    for (unsigned i = 1; i < segment_count(info); i++) {
        const atota_image_segment_t *s = &info->segments[i];
        uint32_t off = s->header_offset + ATOTA_IMAGE_SEG_HEADER_LEN;
        if (s->data_len < MAGIC_LEN)
            continue;
        /* the magic first: most segments are code and data, read no more of them */
        atota_err_t err = atota_flash_read(flash, offset + off, buf, MAGIC_LEN);
        if (err)
            return atota_diag_set(diag, err, "reading segment %u at 0x%x: %s", i,
                                  (unsigned)(offset + off), atota_strerror(err));
        if (memcmp(buf, ATOTA_FWCONFIG_MAGIC, MAGIC_LEN))
            continue;
        uint32_t n = s->data_len < sizeof buf ? s->data_len : (uint32_t)sizeof buf;
        err = atota_flash_read(flash, offset + off + MAGIC_LEN, buf + MAGIC_LEN, n - MAGIC_LEN);
        if (err)
            return atota_diag_set(diag, err, "reading segment %u at 0x%x: %s", i,
                                  (unsigned)(offset + off), atota_strerror(err));
        atota_diag_t d;
        err = atota_fwconfig_decode(buf, n, c, &d);
        if (err)
            return segment_error(err, i, offset + off, &d, diag);
        return ATOTA_OK;
    }
    return ATOTA_OK;
}
