/*
 * The iot device protocol of iot.espressif.cn as ESP-AT speaks it (esp-at-ota.md §3.4-§3.6,
 * docs/iot-protocol.md): the exact request bytes of AT+CIUPDATE and AT+CIPFWVER, the client's
 * substring scraping of the replies (byte for byte what ESP-AT's at_ota_cmd.c does, quirks
 * included), the magic table of the first body bytes, and the server's replies built so that this
 * scraping cannot fail. Used by the simulated module (the client side) and by atota-server and the
 * tests that hold the server to the real client (the server side).
 *
 * Portable core: no OS calls, no allocation; every buffer is the caller's or inside a struct.
 */
#ifndef ATOTA_CORE_PROTO_IOT_H
#define ATOTA_CORE_PROTO_IOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ATOTA_IOT_BUF_SIZE        1024u /* ESP-AT's TEXT_BUFFSIZE: requests and reads */
#define ATOTA_IOT_QUERY_CARRY     64u   /* bytes the query loop carries between reads */
#define ATOTA_IOT_FWVER_BUF_SIZE  8192u /* AT+CIPFWVER's body buffer (no bound check in ESP-AT) */
#define ATOTA_IOT_FWVER_LINE_SIZE 128u  /* AT+CIPFWVER's line buffer (snprintf truncates) */
#define ATOTA_IOT_VERSION_MAX     64u   /* AT+CIUPDATE's version parameter limit */
#define ATOTA_IOT_MAGIC_MAX       3u

/* Server-side limits: a query reply must reach the device whole in its 1024-byte buffer with the
 * headers the HTTP layer adds (kept under 256 bytes), and a listing must stay well inside
 * AT+CIPFWVER's 8192-byte buffer. */
#define ATOTA_IOT_QUERY_BODY_MAX 768u
#define ATOTA_IOT_LIST_BODY_MAX  4096u

/* ---- requests (what the module sends) ------------------------------------------------------ */

typedef struct {
    const char *host;  /* the configured server string, verbatim ("iot.espressif.cn") */
    uint16_t port;     /* always written after the host (":80", ":443") */
    const char *token; /* the 40-hex device key; NULL is written "(null)", as ESP-AT's printf */
} atota_iot_target_t;

/* The query request of §3.4 ("GET /v1/device/rom/?is_format_simple=true HTTP/1.0" and the fixed
 * header block) into out, formatted as ESP-AT's snprintf into its 1024-byte buffer: at most
 * 1023 bytes and a NUL. Returns the length ESP-AT writes to the socket (strlen). */
size_t atota_iot_request_query(const atota_iot_target_t *t, char out[ATOTA_IOT_BUF_SIZE]);

/* The download request of §3.5 for <version> and <name>.bin, both inserted raw (no URL encoding):
 * "GET /v1/device/rom/?action=download_rom&version=<v>&filename=<name>.bin HTTP/1.1" and the
 * header block. Same buffer rules as atota_iot_request_query. */
size_t atota_iot_request_download(const atota_iot_target_t *t, const char *version,
                                  const char *name, char out[ATOTA_IOT_BUF_SIZE]);

/* The AT+CIPFWVER request (§3.6), as esp_http_client sends it: "GET /v1/device/rom HTTP/1.1",
 * then User-Agent "ESP32 HTTP Client/1.0", Host (":<port>" only when the port is neither 80 nor
 * 443), "Authorization: token <T>", "Content-Length: 0" (docs/iot-protocol.md says why). Same
 * buffer rules. */
size_t atota_iot_request_fwver(const atota_iot_target_t *t, char out[ATOTA_IOT_BUF_SIZE]);

/* ---- the query reply, read as ESP-AT reads it (§3.4) --------------------------------------- */

/* ESP-AT's loop, byte for byte: read into buf+offset at most 1024-offset bytes; NUL-terminate;
 * stop when the buffer (as a C string) holds both `rom_version": ` and `status`; else carry
 * buf[n-64, n) to the front when the read gave n > 64 bytes (offset 64), or nothing (offset 0).
 * Note the carry is taken at n, not at offset+n: after a carried read, the last 64 bytes of the
 * data are NOT what is kept. Stale bytes stay in the buffer, as in ESP-AT. */
typedef struct {
    char buf[ATOTA_IOT_BUF_SIZE + 1];
    size_t offset;
    bool found; /* both markers seen */
} atota_iot_query_reader_t;

void atota_iot_query_reader_init(atota_iot_query_reader_t *r);

/* Where the next read goes, and its size limit (1024 - offset). */
char *atota_iot_query_reader_space(atota_iot_query_reader_t *r, size_t *max);

/* Reports that a read put n (> 0, at most the limit) bytes at the space. Returns true when both
 * markers are in the buffer: the device stops reading (and closes). */
bool atota_iot_query_reader_feed(atota_iot_query_reader_t *r, size_t n);

/* After the loop ended (markers found, or read() gave 0): the version ESP-AT takes, NUL-terminated
 * inside the reader (valid while it lives): the text after the first `rom_version": ` plus one
 * byte (ESP-AT skips strlen(`rom_version": "`)) up to the next `",`. Errors (diag says which):
 * ATOTA_ERR_NET_PROTOCOL for "rom_version error" (no marker) and "rom_version tail error" (no
 * `",` after it). */
atota_err_t atota_iot_query_reader_version(atota_iot_query_reader_t *r, const char **version,
                                           atota_diag_t *diag);

/* ---- the magic table of the first body bytes (§3.5, s_at_partition_sig) ------------------- */

#define ATOTA_IOT_MAGIC_LEGACY_COMPRESSED 0x1u /* "ota" is "ESP" (CONFIG_BOOTLOADER_COMPRESSED) */
#define ATOTA_IOT_MAGIC_EAP_LEGACY        0x2u /* wpa2_* names instead of wpa_ent_* */

typedef struct {
    const char *name;
    uint8_t len;
    uint8_t offset;
    uint8_t magic[ATOTA_IOT_MAGIC_MAX];
} atota_iot_magic_t;

/* The entry for a partition name (exact, case-sensitive), or NULL: ESP-AT refuses every other
 * name. */
const atota_iot_magic_t *atota_iot_magic_find(const char *name, unsigned flags);

/* ESP-AT's at_partition_verify on the body bytes of the first read: the name must be in the
 * table, len >= the magic length, and the magic bytes at their offset (bytes past len count as
 * the zeroes of ESP-AT's cleared buffer). ATOTA_ERR_UNSUPPORTED for a name without magic,
 * ATOTA_ERR_IMAGE_TRUNCATED when fewer body bytes than the magic length, ATOTA_ERR_IMAGE_MAGIC for
 * a wrong byte; diag names what was expected and what came. */
atota_err_t atota_iot_magic_check(const char *name, unsigned flags, const uint8_t *body, size_t len,
                                  atota_diag_t *diag);

/* ---- the download reply, read as ESP-AT reads it (§3.5) ------------------------------------ */

/* ESP-AT's receive loop: every read goes into a cleared 1024-byte buffer. Until the body has
 * started, a read must contain `Content-Length: ` (else the loop ends with nothing written) and
 * is searched for `\r\n\r\n`; the body bytes after it go through the magic check and are data.
 * Later reads are all data. The loop ends when the data reaches Content-Length; read() giving 0
 * before that is a failure. */
typedef struct {
    char name[ATOTA_IOT_VERSION_MAX + 1]; /* partition name: "ota" or an at_customize label */
    unsigned flags;                       /* ATOTA_IOT_MAGIC_* */
    uint64_t partition_size;              /* > 0: Content-Length above it fails ("oversize") */
    bool body_started;
    bool no_content_length; /* the loop ended on a read without `Content-Length: ` */
    bool done;
    int64_t total_len; /* Content-Length as ESP-AT's atoi gives it (int) */
    int64_t recv_len;
} atota_iot_download_reader_t;

atota_err_t atota_iot_download_reader_init(atota_iot_download_reader_t *r, const char *name,
                                           unsigned flags, uint64_t partition_size);

/* One read of n (1..1024) bytes at data. On success, the data bytes it holds are
 * [*body, *body + *body_len) (inside data; maybe none), and r->done says the loop ended (then
 * check r->no_content_length: ESP-AT ends "successfully" with nothing written). Errors:
 * ATOTA_ERR_INVALID_ARG (n out of range or called after done), a magic error, ATOTA_ERR_TOO_BIG
 * (Content-Length above partition_size), ATOTA_ERR_NET_PROTOCOL (more data than Content-Length). */
atota_err_t atota_iot_download_reader_feed(atota_iot_download_reader_t *r, const uint8_t *data,
                                           size_t n, const uint8_t **body, size_t *body_len,
                                           atota_diag_t *diag);

/* read() gave 0. ATOTA_OK (and done) when the data reached Content-Length, else
 * ATOTA_ERR_NET_RESET. */
atota_err_t atota_iot_download_reader_closed(atota_iot_download_reader_t *r, atota_diag_t *diag);

/* The file's SHA-256 from the headers of a download reply: `Repr-Digest: sha-256=:<base64>:`
 * (RFC 9530; atota-server sends it, ESP-AT ignores it). head is the response up to the end of its
 * headers (len bytes, not NUL-terminated); the field name is matched without regard to case at the
 * start of a line. Returns true and the digest when the field is there with a well-formed
 * sha-256 member, false otherwise (then the caller checks the length only). */
bool atota_iot_digest_parse(const char *head, size_t len, uint8_t sha256[32]);

/* The SHA-256 in the value of a Repr-Digest or Content-Digest field (RFC 9530; a structured-field
 * dictionary), len bytes, not NUL-terminated: members separated by commas and optional spaces or
 * tabs, the one named sha-256 (lower-case, as RFC 8941 keys are) a byte sequence of exactly 32
 * bytes, `sha-256=:<44 base64 characters>:`. Other members (sha-512, ...) are skipped unread.
 * Returns false, leaving sha256 unspecified, when there is no such member or it is malformed: a
 * caller that asked for a digest check then refuses the data (AT+WEBSERVER's uploads). */
bool atota_iot_digest_value_parse(const char *value, size_t len, uint8_t sha256[32]);

/* The header's value for a digest: "sha-256=:<44 base64 characters>:" and a NUL (out holds at
 * least ATOTA_IOT_DIGEST_VALUE_MAX bytes). Returns out. */
#define ATOTA_IOT_DIGEST_VALUE_MAX 56u
char *atota_iot_digest_value(const uint8_t sha256[32], char *out);

/* ---- the AT+CIPFWVER listing, scraped as ESP-AT does (§3.6) -------------------------------- */

/* For every `"version": ` in body (a C string: scanning stops at a NUL), from the byte after it to
 * the next `", ` found from one byte further, quote included: calls line(ctx, text, len) with
 * the line ESP-AT prints, "+CIPFWVER:<that text>\r\n" cut to 127 bytes as its 128-byte snprintf
 * does. *count (may be NULL) gets how many lines. Errors: ATOTA_ERR_TOO_BIG when len >= 8192
 * (ESP-AT writes past its buffer), ATOTA_ERR_NET_PROTOCOL for a `"version": ` with no `", `
 * after it (ESP-AT dereferences NULL); lines before it were already given. */
atota_err_t atota_iot_fwver_lines(const char *body, size_t len,
                                  void (*line)(void *ctx, const char *text, size_t len), void *ctx,
                                  unsigned *count, atota_diag_t *diag);

/* ---- the server's replies ------------------------------------------------------------------ */

/* True when v can be served: 1..64 bytes of printable ASCII without space, '"', '\\', '&', '#',
 * '%', '+' or '?'. ESP-AT inserts the version raw into its request line and scrapes it up to the
 * first `",` / `", `: any other version could not be queried, listed or downloaded whole. */
bool atota_iot_version_is_safe(const char *v);

/* True when name is a file name the replies may carry: [a-z0-9_]{1,16}.bin. */
bool atota_iot_file_name_is_safe(const char *name);

typedef enum {
    ATOTA_IOT_REPLY_QUERY, /* is_format_simple=true: at most ATOTA_IOT_QUERY_BODY_MAX bytes */
    ATOTA_IOT_REPLY_LIST,  /* /v1/device/rom (AT+CIPFWVER): at most ATOTA_IOT_LIST_BODY_MAX */
} atota_iot_reply_kind_t;

typedef struct {
    const char *name; /* "ota.bin" */
    uint64_t size;
} atota_iot_file_t;

/* A reply under construction, in the caller's buffer. The closing "]}" is always reserved, so
 * the reply is valid JSON at every step and never passes its limit: a ROM that does not fit is
 * left out whole (counted in dropped). The caller adds ROMs in the order it wants kept. */
typedef struct {
    char *buf;
    size_t limit; /* min(cap - 1, the kind's limit) */
    size_t len;   /* without the reserved "]}" */
    atota_iot_reply_kind_t kind;
    unsigned roms;
    unsigned dropped;
} atota_iot_reply_t;

/* Starts `{"status": 200, "recommended_rom_version": "<v>", "productRoms": [` (the
 * recommended_rom_version key only when recommended is not NULL; a query reply needs it).
 * ATOTA_ERR_INVALID_ARG for an unsafe recommended version (or none, for a query reply),
 * ATOTA_ERR_TOO_BIG when cap cannot hold even that. */
atota_err_t atota_iot_reply_begin(atota_iot_reply_t *r, atota_iot_reply_kind_t kind, char *buf,
                                  size_t cap, const char *recommended);

/* Adds `{"version": "<v>", "recommended": 0|1}` (a listing adds `, "files": [{"name": "<n>",
 * "size": <s>}, ...]`; a query reply ignores files). Returns false, writing nothing, when the
 * version (or a file name) is unsafe or the ROM does not fit; dropped counts it. */
bool atota_iot_reply_add_rom(atota_iot_reply_t *r, const char *version, bool recommended,
                             const atota_iot_file_t *files, unsigned nfiles);

/* Closes the reply ("]}" and a NUL) and returns its length. */
size_t atota_iot_reply_end(atota_iot_reply_t *r);

/* An error body, `{"status": <status>, "message": "<message>"}` (message JSON-escaped, cut to
 * fit), into buf; returns its length. It never holds `rom_version": `, so an ESP-AT query reads
 * until the close and fails cleanly ("rom_version error"). */
size_t atota_iot_reply_error(char *buf, size_t cap, int status, const char *message);

#endif /* ATOTA_CORE_PROTO_IOT_H */
