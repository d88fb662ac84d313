/*
 * The iot device protocol (core/proto/iot): the request bytes against esp-at-ota.md §3.4-§3.6
 * byte for byte, ESP-AT's scraping of query, download and AT+CIPFWVER replies with each of its
 * failure cases and quirks (the 64-byte carry taken at the wrong place, reads of a few bytes that
 * lose the markers, the first download read that must hold headers and magic), the magic table,
 * and the server's replies: under their limits whatever the number of ROMs, and read back by the
 * same scraping.
 */
#include "core/proto/iot.h"
#include "support/check.h"

#define TOKEN "dd93253c287f725de50d4071a05dd28b72056ca7"

/* esp-at-ota.md §3.4 and §3.5: the header block after the Host line. */
#define SPEC_HEADERS                                                                               \
    "Connection: keep-alive\r\n"                                                                   \
    "Cache-Control: no-cache\r\n"                                                                  \
    "User-Agent: Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) "             \
    "Chrome/30.0.1599.101 Safari/537.36 \r\n"                                                      \
    "Accept: */*\r\n"                                                                              \
    "Authorization: token " TOKEN "\r\n"                                                           \
    "Accept-Encoding: gzip,deflate,sdch\r\n"                                                       \
    "Accept-Language: zh-CN,zh;q=0.8\r\n"                                                          \
    "\r\n"

static const atota_iot_target_t target = {"iot.espressif.cn", 80, TOKEN};

/* ---- requests ------------------------------------------------------------------------------ */

static void query_request_bytes(void **state)
{
    (void)state;
    char out[ATOTA_IOT_BUF_SIZE];
    size_t n = atota_iot_request_query(&target, out);
    const char *want = "GET /v1/device/rom/?is_format_simple=true HTTP/1.0\r\n"
                       "Host: iot.espressif.cn:80\r\n" SPEC_HEADERS;
    fx_expect_text("query request", out, want);
    assert_int_equal(n, strlen(want));
    /* the trailing space of the User-Agent, spelled out */
    assert_non_null(strstr(out, "Safari/537.36 \r\nAccept: */*\r\n"));
}

static void download_request_bytes(void **state)
{
    (void)state;
    char out[ATOTA_IOT_BUF_SIZE];
    atota_iot_target_t tls = {"ota.example.org", 443, TOKEN};
    size_t n = atota_iot_request_download(&tls, "v4.1.0.0", "ota", out);
    const char *want = "GET /v1/device/rom/?action=download_rom&version=v4.1.0.0&filename=ota.bin "
                       "HTTP/1.1\r\nHost: ota.example.org:443\r\n" SPEC_HEADERS;
    fx_expect_text("download request", out, want);
    assert_int_equal(n, strlen(want));

    /* raw insertion: no URL encoding of either */
    atota_iot_request_download(&target, "v 2&x=%", "mqtt_ca", out);
    assert_non_null(strstr(out, "?action=download_rom&version=v 2&x=%&filename=mqtt_ca.bin HTTP/1.1"
                                "\r\nHost: iot.espressif.cn:80\r\n"));
    /* an explicit empty version (AT+CIUPDATE=0,"") */
    atota_iot_request_download(&target, "", "ota", out);
    assert_non_null(strstr(out, "version=&filename=ota.bin HTTP/1.1\r\n"));
}

static void request_null_token_and_truncation(void **state)
{
    (void)state;
    char out[ATOTA_IOT_BUF_SIZE];
    atota_iot_target_t nul = {"10.0.0.1", 8080, NULL};
    atota_iot_request_query(&nul, out);
    assert_non_null(strstr(out, "Host: 10.0.0.1:8080\r\n"));
    assert_non_null(strstr(out, "Authorization: token (null)\r\n"));

    /* a version of 1000 bytes (scraped from a hostile server): snprintf into 1024 bytes */
    char v[1001];
    memset(v, 'a', 1000);
    v[1000] = '\0';
    size_t n = atota_iot_request_download(&target, v, "ota", out);
    assert_int_equal(n, ATOTA_IOT_BUF_SIZE - 1);
    assert_int_equal(strlen(out), ATOTA_IOT_BUF_SIZE - 1);
    assert_memory_equal(out, "GET /v1/device/rom/?action=download_rom&version=aaa", 51);
}

static void fwver_request_bytes(void **state)
{
    (void)state;
    char out[ATOTA_IOT_BUF_SIZE];
    atota_iot_target_t t = {"iot.espressif.cn", 443, TOKEN};
    size_t n = atota_iot_request_fwver(&t, out);
    const char *want = "GET /v1/device/rom HTTP/1.1\r\n"
                       "User-Agent: ESP32 HTTP Client/1.0\r\n"
                       "Host: iot.espressif.cn\r\n"
                       "Authorization: token " TOKEN "\r\n"
                       "Content-Length: 0\r\n"
                       "\r\n";
    fx_expect_text("AT+CIPFWVER request", out, want);
    assert_int_equal(n, strlen(want));
    t.port = 80;
    atota_iot_request_fwver(&t, out);
    assert_non_null(strstr(out, "\r\nHost: iot.espressif.cn\r\n"));
    t.port = 8443;
    atota_iot_request_fwver(&t, out);
    assert_non_null(strstr(out, "\r\nHost: iot.espressif.cn:8443\r\n"));
}

/* ---- the query reply ----------------------------------------------------------------------- */

#define SPEC_QUERY_BODY                                                                            \
    "{\"status\": 200, \"recommended_rom_version\": \"v4.1.0.0\", \"productRoms\": "               \
    "[{\"recommended\": 1, \"version\": \"v4.1.0.0\", \"life_cycle\": \"beta\"}, "                 \
    "{\"recommended\": 1, \"version\": \"v4.0.0.0\", \"life_cycle\": \"beta\"}]}"
#define SPEC_QUERY_REPLY                                                                           \
    "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: "                        \
    "160\r\n\r\n" SPEC_QUERY_BODY

/* Runs ESP-AT's loop over the given reads (sizes; 0 ends with the peer's close), then scrapes. */
static atota_err_t query_scrape(const char *reply, const size_t *reads, unsigned nreads,
                                atota_iot_query_reader_t *r, const char **version, atota_diag_t *d)
{
    atota_iot_query_reader_init(r);
    size_t pos = 0, total = strlen(reply);
    for (unsigned i = 0; i < nreads && pos < total; i++) {
        size_t max;
        char *space = atota_iot_query_reader_space(r, &max);
        size_t n = reads[i];
        if (n > max)
            n = max;
        if (n > total - pos)
            n = total - pos;
        memcpy(space, reply + pos, n);
        pos += n;
        if (atota_iot_query_reader_feed(r, n))
            break;
    }
    return atota_iot_query_reader_version(r, version, d);
}

/* The reply arriving in one read, as in the common case. */
static atota_err_t query_scrape_whole(const char *reply, atota_iot_query_reader_t *r,
                                      const char **version, atota_diag_t *d)
{
    size_t one = ATOTA_IOT_BUF_SIZE;
    return query_scrape(reply, &one, 1, r, version, d);
}

static void query_reply_scraped(void **state)
{
    (void)state;
    atota_iot_query_reader_t r;
    const char *v;
    atota_diag_t d;
    assert_int_equal(query_scrape_whole(SPEC_QUERY_REPLY, &r, &v, &d), ATOTA_OK);
    assert_string_equal(v, "v4.1.0.0");
    assert_true(r.found);

    /* the first `rom_version": ` wins, whatever key holds it; an empty version is a version */
    assert_int_equal(query_scrape_whole(
                         "status {\"x_rom_version\": \"\", \"rom_version\": \"v2\", ", &r, &v, &d),
                     ATOTA_OK);
    assert_string_equal(v, "");
}

static void query_reply_split_reads(void **state)
{
    (void)state;
    atota_iot_query_reader_t r;
    const char *v;
    atota_diag_t d;
    /* headers, then the body: the 64 bytes carried do not matter, the body holds both markers */
    size_t reads1[] = {sizeof "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                              "Content-Length: 160\r\n\r\n" -
                           1,
                       1024};
    assert_int_equal(query_scrape(SPEC_QUERY_REPLY, reads1, 2, &r, &v, &d), ATOTA_OK);
    assert_string_equal(v, "v4.1.0.0");

    /* the marker cut across two reads of more than 64 bytes: the carry joins it */
    const char *reply = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"
                        "{\"status\": 200, \"recommended_rom_ver"
                        "sion\": \"v9\", \"productRoms\": []}";
    size_t cut = strstr(reply, "sion\"") - reply;
    size_t reads2[] = {cut, 1024};
    assert_int_equal(query_scrape(reply, reads2, 2, &r, &v, &d), ATOTA_OK);
    assert_string_equal(v, "v9");
}

/* ESP-AT carries buf[n-64, n) of the buffer, not the last 64 bytes of the data: after a carried
 * read, the bytes just before the end are lost. A marker cut there is missed. */
static void query_carry_quirk(void **state)
{
    (void)state;
    char reply[1024];
    char pad1[201], pad2[101];
    memset(pad1, 'a', 200);
    pad1[200] = '\0';
    memset(pad2, 'b', 100);
    pad2[100] = '\0';
    /* read 1: 200 bytes; read 2: 100 bytes ending in `"recommended_rom_ver`; read 3: the rest */
    memcpy(pad2 + 100 - 20, "\"recommended_rom_ver", 20);
    snprintf(reply, sizeof reply, "%s%s%s", pad1, pad2,
             "sion\": \"v1\", \"status\": 200, \"productRoms\": []}");
    size_t reads[] = {200, 100, 1024};
    atota_iot_query_reader_t r;
    const char *v;
    atota_diag_t d;
    atota_err_t err = query_scrape(reply, reads, 3, &r, &v, &d);
    assert_int_equal(err, ATOTA_ERR_NET_PROTOCOL);
    assert_non_null(strstr(d.msg, "rom_version error"));

    /* the same bytes in reads that keep the true last 64 bytes (offset 0 before): found */
    size_t good[] = {300, 1024};
    assert_int_equal(query_scrape(reply, good, 2, &r, &v, &d), ATOTA_OK);
    assert_string_equal(v, "v1");
}

/* Reads of 64 bytes or fewer carry nothing: a reply trickling in small pieces is never found. */
static void query_small_reads_lose_everything(void **state)
{
    (void)state;
    size_t reads[256];
    for (unsigned i = 0; i < 256; i++)
        reads[i] = 1;
    atota_iot_query_reader_t r;
    const char *v;
    atota_diag_t d;
    assert_int_equal(query_scrape(SPEC_QUERY_BODY, reads, 256, &r, &v, &d), ATOTA_ERR_NET_PROTOCOL);
    assert_false(r.found);
}

static void query_failures(void **state)
{
    (void)state;
    atota_iot_query_reader_t r;
    const char *v;
    atota_diag_t d;
    /* no marker at all: read until the close, then "rom_version error" */
    assert_int_equal(
        query_scrape_whole("HTTP/1.0 404 Not Found\r\n\r\n{\"status\": 404}", &r, &v, &d),
        ATOTA_ERR_NET_PROTOCOL);
    assert_non_null(strstr(d.msg, "rom_version error"));
    assert_null(v);
    /* the version not followed by `",` (the last key, or `" ,`) */
    assert_int_equal(
        query_scrape_whole("{\"status\": 200, \"recommended_rom_version\": \"v1\"}", &r, &v, &d),
        ATOTA_ERR_NET_PROTOCOL);
    assert_non_null(strstr(d.msg, "rom_version tail error"));
    assert_int_equal(
        query_scrape_whole("{\"status\": 200, \"recommended_rom_version\": \"v1\" , }", &r, &v, &d),
        ATOTA_ERR_NET_PROTOCOL);
    /* `:"` without the space is not the marker */
    assert_int_equal(query_scrape_whole(
                         "{\"status\":200,\"recommended_rom_version\":\"v1\",\"a\":1}", &r, &v, &d),
                     ATOTA_ERR_NET_PROTOCOL);
    assert_non_null(strstr(d.msg, "rom_version error"));
    /* no "status": the loop goes on to the close; a short reply (over 64 bytes) is carried and
     * its start is gone */
    assert_int_equal(
        query_scrape_whole("{\"recommended_rom_version\": \"v1\", \"productRoms\": [], "
                           "\"padding\": \"xxxxxxxxxxxxxxxxxxxxxx\"}",
                           &r, &v, &d),
        ATOTA_ERR_NET_PROTOCOL);
    assert_false(r.found);
    /* a value that is not a string: ESP-AT skips one byte blindly and takes up to the next `",` */
    assert_int_equal(
        query_scrape_whole("{\"status\": 200, \"rom_version\": null, \"a\": \"b\", }", &r, &v, &d),
        ATOTA_OK);
    assert_string_equal(v, "ull, \"a\": \"b");
}

/* The marker ending exactly at the end of the 1024-byte buffer: no read past it. */
static void query_marker_at_buffer_end(void **state)
{
    (void)state;
    char reply[ATOTA_IOT_BUF_SIZE + 1];
    const char *tail = "status rom_version\": ";
    size_t tl = strlen(tail);
    memset(reply, 'x', ATOTA_IOT_BUF_SIZE - tl);
    memcpy(reply + ATOTA_IOT_BUF_SIZE - tl, tail, tl + 1);
    atota_iot_query_reader_t r;
    const char *v;
    atota_diag_t d;
    assert_int_equal(query_scrape_whole(reply, &r, &v, &d), ATOTA_ERR_NET_PROTOCOL);
    assert_true(r.found);
    assert_non_null(strstr(d.msg, "tail error"));
}

/* ---- the magic table ----------------------------------------------------------------------- */

static void magic_table(void **state)
{
    (void)state;
    const uint8_t e9[] = {0xE9, 0x03};
    const uint8_t f1[] = {0xF1, 0xF1, 0x00};
    const uint8_t fc[] = {0xFC, 0xFC};
    const uint8_t ble[] = {0x00, 0x00, 0x27, 0x95};
    const uint8_t esp[] = {'E', 'S', 'P', 0x01};
    atota_diag_t d;
    assert_int_equal(atota_iot_magic_check("ota", 0, e9, 1, &d), ATOTA_OK);
    assert_int_equal(atota_iot_magic_check("ota", 0, f1, 3, &d), ATOTA_ERR_IMAGE_MAGIC);
    assert_non_null(strstr(d.msg, "0xf1, expected 0xe9"));
    assert_int_equal(atota_iot_magic_check("ota", 0, e9, 0, &d), ATOTA_ERR_IMAGE_TRUNCATED);
    assert_int_equal(atota_iot_magic_check("ota", ATOTA_IOT_MAGIC_LEGACY_COMPRESSED, esp, 3, &d),
                     ATOTA_OK);
    assert_int_equal(atota_iot_magic_check("ota", ATOTA_IOT_MAGIC_LEGACY_COMPRESSED, esp, 2, &d),
                     ATOTA_ERR_IMAGE_TRUNCATED);
    assert_int_equal(atota_iot_magic_check("ota", ATOTA_IOT_MAGIC_LEGACY_COMPRESSED, e9, 2, &d),
                     ATOTA_ERR_IMAGE_TRUNCATED);

    const char *pki[] = {"mqtt_ca",     "mqtt_cert",  "mqtt_key",     "client_ca",
                         "client_cert", "client_key", "server_ca",    "server_cert",
                         "server_key",  "wpa_ent_ca", "wpa_ent_cert", "wpa_ent_key"};
    for (unsigned i = 0; i < sizeof pki / sizeof pki[0]; i++) {
        assert_int_equal(atota_iot_magic_check(pki[i], 0, f1, 2, &d), ATOTA_OK);
        assert_int_equal(atota_iot_magic_check(pki[i], 0, f1, 1, &d), ATOTA_ERR_IMAGE_TRUNCATED);
        assert_int_equal(atota_iot_magic_check(pki[i], 0, fc, 2, &d), ATOTA_ERR_IMAGE_MAGIC);
    }
    assert_int_equal(atota_iot_magic_check("wpa2_ca", 0, f1, 2, &d), ATOTA_ERR_UNSUPPORTED);
    assert_int_equal(atota_iot_magic_check("wpa2_ca", ATOTA_IOT_MAGIC_EAP_LEGACY, f1, 2, &d),
                     ATOTA_OK);
    assert_int_equal(atota_iot_magic_check("wpa_ent_ca", ATOTA_IOT_MAGIC_EAP_LEGACY, f1, 2, &d),
                     ATOTA_ERR_UNSUPPORTED);
    assert_int_equal(atota_iot_magic_check("factory_param", 0, fc, 2, &d), ATOTA_OK);
    assert_int_equal(atota_iot_magic_check("factory_param", 0, f1, 2, &d), ATOTA_ERR_IMAGE_MAGIC);
    /* ble_data: 27 95 at offset 2; with 2 or 3 body bytes ESP-AT compares zeroes */
    assert_int_equal(atota_iot_magic_check("ble_data", 0, ble, 4, &d), ATOTA_OK);
    assert_int_equal(atota_iot_magic_check("ble_data", 0, ble, 3, &d), ATOTA_ERR_IMAGE_MAGIC);
    assert_int_equal(atota_iot_magic_check("ble_data", 0, ble, 2, &d), ATOTA_ERR_IMAGE_MAGIC);
    assert_int_equal(atota_iot_magic_check("ble_data", 0, ble, 1, &d), ATOTA_ERR_IMAGE_TRUNCATED);
    /* names without magic: refused (after ESP-AT erased the partition) */
    const char *refused[] = {"mfg_nvs", "fs_storage", "ota_1", "OTA", "", "otaa"};
    for (unsigned i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_null(atota_iot_magic_find(refused[i], 0));
        assert_int_equal(atota_iot_magic_check(refused[i], 0, e9, 2, &d), ATOTA_ERR_UNSUPPORTED);
    }
    const atota_iot_magic_t *m = atota_iot_magic_find("ble_data", 0);
    assert_non_null(m);
    assert_int_equal(m->offset, 2);
    assert_int_equal(m->len, 2);
}

/* ---- the download reply -------------------------------------------------------------------- */

typedef struct {
    uint8_t data[8192];
    size_t len;
} sink_t;

/* Feeds the reply in reads of the given sizes (the last size repeats), then the close when
 * close_at_end; collects the body. Returns the first error. */
static atota_err_t download_run(atota_iot_download_reader_t *r, const uint8_t *reply, size_t len,
                                const size_t *reads, unsigned nreads, bool close_at_end,
                                sink_t *sink, atota_diag_t *d)
{
    size_t pos = 0;
    sink->len = 0;
    for (unsigned i = 0; pos < len && !r->done; i++) {
        size_t n = reads[i < nreads ? i : nreads - 1];
        if (n > len - pos)
            n = len - pos;
        const uint8_t *body;
        size_t blen;
        atota_err_t err = atota_iot_download_reader_feed(r, reply + pos, n, &body, &blen, d);
        if (err != ATOTA_OK)
            return err;
        assert_true(sink->len + blen <= sizeof sink->data);
        memcpy(sink->data + sink->len, body, blen);
        sink->len += blen;
        pos += n;
    }
    if (!r->done && close_at_end)
        return atota_iot_download_reader_closed(r, d);
    return ATOTA_OK;
}

static size_t make_reply(uint8_t *out, const char *headers, const uint8_t *body, size_t blen)
{
    size_t hl = strlen(headers);
    memcpy(out, headers, hl);
    memcpy(out + hl, body, blen);
    return hl + blen;
}

static void download_reply_read(void **state)
{
    (void)state;
    uint8_t image[3000];
    for (size_t i = 0; i < sizeof image; i++)
        image[i] = (uint8_t)(i * 7 + 1);
    image[0] = 0xE9;
    uint8_t reply[4096];
    size_t len =
        make_reply(reply, "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n", image, sizeof image);
    size_t reads[] = {1024};
    atota_iot_download_reader_t r;
    sink_t sink;
    atota_diag_t d;
    assert_int_equal(atota_iot_download_reader_init(&r, "ota", 0, 0x100000), ATOTA_OK);
    assert_int_equal(download_run(&r, reply, len, reads, 1, false, &sink, &d), ATOTA_OK);
    assert_true(r.done);
    assert_false(r.no_content_length);
    assert_int_equal(r.total_len, 3000);
    assert_int_equal(sink.len, sizeof image);
    fx_expect_bytes("body", sink.data, image, sizeof image);

    /* the device does not wait for the close: data beyond Content-Length is a failure */
    assert_int_equal(atota_iot_download_reader_init(&r, "ota", 0, 0), ATOTA_OK);
    uint8_t more[4096];
    len = make_reply(more, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", image, 12);
    assert_int_equal(download_run(&r, more, len, reads, 1, false, &sink, &d),
                     ATOTA_ERR_NET_PROTOCOL);

    /* status is never checked; Content-Length may be anywhere in the headers */
    assert_int_equal(atota_iot_download_reader_init(&r, "ota", 0, 0), ATOTA_OK);
    len = make_reply(reply, "HTTP/1.1 500 Oops\r\nX: y\r\nContent-Length: 5\r\nZ: w\r\n\r\n", image,
                     5);
    assert_int_equal(download_run(&r, reply, len, reads, 1, false, &sink, &d), ATOTA_OK);
    assert_true(r.done);
    assert_int_equal(sink.len, 5);
}

static void download_first_read_rules(void **state)
{
    (void)state;
    uint8_t image[64] = {0xE9, 1, 2, 3};
    uint8_t reply[1024];
    atota_iot_download_reader_t r;
    sink_t sink;
    atota_diag_t d;
    const char *hdr = "HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n";
    size_t hl = strlen(hdr);
    size_t len = make_reply(reply, hdr, image, sizeof image);

    /* headers alone in the first read: no body byte for the magic check */
    size_t headers_first[] = {hl, 1024};
    atota_iot_download_reader_init(&r, "ota", 0, 0);
    assert_int_equal(download_run(&r, reply, len, headers_first, 2, true, &sink, &d),
                     ATOTA_ERR_IMAGE_TRUNCATED);
    /* one body byte is enough for ota */
    size_t one_byte[] = {hl + 1, 1024};
    atota_iot_download_reader_init(&r, "ota", 0, 0);
    assert_int_equal(download_run(&r, reply, len, one_byte, 2, true, &sink, &d), ATOTA_OK);
    assert_int_equal(sink.len, 64);

    /* the header end cut off: the next read is searched for Content-Length again and, without
     * it, ends the loop "successfully" with nothing written */
    size_t cut[] = {hl - 2, 1024};
    atota_iot_download_reader_init(&r, "ota", 0, 0);
    assert_int_equal(download_run(&r, reply, len, cut, 2, true, &sink, &d), ATOTA_OK);
    assert_true(r.done);
    assert_true(r.no_content_length);
    assert_int_equal(r.recv_len, 0);
    assert_int_equal(sink.len, 0);

    /* no exact `Content-Length: `: lowercase, no space, chunked */
    const char *bad[] = {"HTTP/1.1 200 OK\r\ncontent-length: 64\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nContent-Length:64\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n"};
    for (unsigned i = 0; i < 3; i++) {
        len = make_reply(reply, bad[i], image, sizeof image);
        atota_iot_download_reader_init(&r, "mqtt_ca", 0, 0);
        size_t whole[] = {1024};
        assert_int_equal(download_run(&r, reply, len, whole, 1, true, &sink, &d), ATOTA_OK);
        assert_true(r.no_content_length);
        assert_int_equal(sink.len, 0);
    }

    /* a wrong magic: an error page served as the firmware */
    len = make_reply(reply, "HTTP/1.1 404 Not Found\r\nContent-Length: 15\r\n\r\n",
                     (const uint8_t *)"{\"status\": 404}", 15);
    atota_iot_download_reader_init(&r, "ota", 0, 0);
    size_t whole[] = {1024};
    assert_int_equal(download_run(&r, reply, len, whole, 1, true, &sink, &d),
                     ATOTA_ERR_IMAGE_MAGIC);
    assert_non_null(strstr(d.msg, "0x7b, expected 0xe9"));

    /* ble_data needs 4 body bytes in the first read */
    uint8_t ble[16] = {0x01, 0x00, 0x27, 0x95};
    len = make_reply(reply, "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n", ble, sizeof ble);
    size_t ble_hl = len - sizeof ble;
    size_t three[] = {ble_hl + 3, 1024}, four[] = {ble_hl + 4, 1024};
    atota_iot_download_reader_init(&r, "ble_data", 0, 0);
    assert_int_equal(download_run(&r, reply, len, three, 2, true, &sink, &d),
                     ATOTA_ERR_IMAGE_MAGIC);
    atota_iot_download_reader_init(&r, "ble_data", 0, 0);
    assert_int_equal(download_run(&r, reply, len, four, 2, true, &sink, &d), ATOTA_OK);
    assert_int_equal(sink.len, 16);

    /* a name ESP-AT has no magic for */
    atota_iot_download_reader_init(&r, "mfg_nvs", 0, 0);
    assert_int_equal(download_run(&r, reply, len, four, 2, true, &sink, &d), ATOTA_ERR_UNSUPPORTED);
}

static void download_close_and_size(void **state)
{
    (void)state;
    uint8_t image[100] = {0xE9};
    uint8_t reply[1024];
    atota_iot_download_reader_t r;
    sink_t sink;
    atota_diag_t d;
    size_t len = make_reply(reply, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", image, 60);
    size_t whole[] = {1024};
    atota_iot_download_reader_init(&r, "ota", 0, 0);
    assert_int_equal(download_run(&r, reply, len, whole, 1, true, &sink, &d), ATOTA_ERR_NET_RESET);
    assert_non_null(strstr(d.msg, "60 of 100"));

    /* Content-Length above the target partition: "ota bin oversize" */
    len = make_reply(reply, "HTTP/1.1 200 OK\r\nContent-Length: 4097\r\n\r\n", image, 100);
    atota_iot_download_reader_init(&r, "ota", 0, 4096);
    assert_int_equal(download_run(&r, reply, len, whole, 1, true, &sink, &d), ATOTA_ERR_TOO_BIG);
    /* atoi: garbage after the digits is ignored, an absurd value is clamped to int */
    len = make_reply(reply, "HTTP/1.1 200 OK\r\nContent-Length: 100abc\r\n\r\n", image, 100);
    atota_iot_download_reader_init(&r, "ota", 0, 0);
    assert_int_equal(download_run(&r, reply, len, whole, 1, true, &sink, &d), ATOTA_OK);
    assert_int_equal(r.total_len, 100);
    len =
        make_reply(reply, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n", image, 100);
    atota_iot_download_reader_init(&r, "ota", 0, 0);
    assert_int_equal(download_run(&r, reply, len, whole, 1, true, &sink, &d), ATOTA_ERR_NET_RESET);
    assert_int_equal(r.total_len, INT32_MAX);

    /* reads that are not reads */
    const uint8_t *body;
    size_t blen;
    atota_iot_download_reader_init(&r, "ota", 0, 0);
    assert_int_equal(atota_iot_download_reader_feed(&r, reply, 0, &body, &blen, &d),
                     ATOTA_ERR_INVALID_ARG);
    assert_int_equal(atota_iot_download_reader_feed(&r, reply, 1025, &body, &blen, &d),
                     ATOTA_ERR_INVALID_ARG);
    char longname[80];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(atota_iot_download_reader_init(&r, longname, 0, 0), ATOTA_ERR_INVALID_ARG);
}

/* ---- AT+CIPFWVER --------------------------------------------------------------------------- */

typedef struct {
    char text[8192];
    unsigned lines;
} lines_t;

static void collect_line(void *ctx, const char *text, size_t len)
{
    lines_t *l = ctx;
    size_t n = strlen(l->text);
    assert_true(n + len < sizeof l->text);
    memcpy(l->text + n, text, len);
    l->text[n + len] = '\0';
    l->lines++;
}

static void fwver_scraping(void **state)
{
    (void)state;
    const char *body =
        "{\"status\": 200, \"recommended_rom_version\": \"v4.1.0.0\", \"productRoms\": "
        "[{\"version\": \"v4.1.0.0\", \"recommended\": 1}, "
        "{\"version\": \"v4.0.0.0\", \"recommended\": 0}]}";
    lines_t l = {{0}, 0};
    unsigned count;
    atota_diag_t d;
    assert_int_equal(atota_iot_fwver_lines(body, strlen(body), collect_line, &l, &count, &d),
                     ATOTA_OK);
    assert_int_equal(count, 2);
    fx_expect_text("CIPFWVER lines", l.text,
                   "+CIPFWVER:\"v4.1.0.0\"\r\n+CIPFWVER:\"v4.0.0.0\"\r\n");

    /* the last version followed by `"}`: no tail, ESP-AT would crash */
    const char *bad = "{\"productRoms\": [{\"version\": \"v1\", \"a\": 1}, {\"version\": \"v2\"}]}";
    memset(&l, 0, sizeof l);
    assert_int_equal(atota_iot_fwver_lines(bad, strlen(bad), collect_line, &l, &count, &d),
                     ATOTA_ERR_NET_PROTOCOL);
    assert_int_equal(l.lines, 1);

    /* a tail far away: everything up to it is printed (ESP-AT's scraping, not JSON) */
    const char *far = "{\"version\": \"v1\"}, {\"x\": \"y\", ";
    memset(&l, 0, sizeof l);
    assert_int_equal(atota_iot_fwver_lines(far, strlen(far), collect_line, &l, &count, &d),
                     ATOTA_OK);
    fx_expect_text("far tail", l.text, "+CIPFWVER:\"v1\"}, {\"x\": \"y\"\r\n");

    /* a long version: the 128-byte line is cut, \r\n included */
    char longbody[512];
    char v[201];
    memset(v, 'v', 200);
    v[200] = '\0';
    snprintf(longbody, sizeof longbody, "{\"version\": \"%s\", }", v);
    memset(&l, 0, sizeof l);
    assert_int_equal(
        atota_iot_fwver_lines(longbody, strlen(longbody), collect_line, &l, &count, &d), ATOTA_OK);
    assert_int_equal(strlen(l.text), ATOTA_IOT_FWVER_LINE_SIZE - 1);
    assert_null(strstr(l.text, "\r\n"));

    /* a NUL in the body ends the scan; 8192 bytes overflow ESP-AT's buffer */
    const char nul[] = "{\"version\": \"v1\", \0\"version\": \"v2\", }";
    memset(&l, 0, sizeof l);
    assert_int_equal(atota_iot_fwver_lines(nul, sizeof nul - 1, collect_line, &l, &count, &d),
                     ATOTA_OK);
    assert_int_equal(count, 1);
    static char big[ATOTA_IOT_FWVER_BUF_SIZE];
    memset(big, ' ', sizeof big);
    assert_int_equal(atota_iot_fwver_lines(big, sizeof big, collect_line, &l, &count, &d),
                     ATOTA_ERR_TOO_BIG);
    assert_int_equal(atota_iot_fwver_lines(big, sizeof big - 1, NULL, NULL, &count, &d), ATOTA_OK);
    assert_int_equal(count, 0);
}

/* ---- the server's replies ------------------------------------------------------------------ */

static void reply_query_format(void **state)
{
    (void)state;
    char buf[2048];
    atota_iot_reply_t r;
    assert_int_equal(atota_iot_reply_begin(&r, ATOTA_IOT_REPLY_QUERY, buf, sizeof buf, "v4.1.0.0"),
                     ATOTA_OK);
    assert_true(atota_iot_reply_add_rom(&r, "v4.1.0.0", true, NULL, 0));
    assert_true(atota_iot_reply_add_rom(&r, "v4.0.0.0", false, NULL, 0));
    size_t n = atota_iot_reply_end(&r);
    const char *want =
        "{\"status\": 200, \"recommended_rom_version\": \"v4.1.0.0\", \"productRoms\": "
        "[{\"version\": \"v4.1.0.0\", \"recommended\": 1}, "
        "{\"version\": \"v4.0.0.0\", \"recommended\": 0}]}";
    fx_expect_text("query reply", buf, want);
    assert_int_equal(n, strlen(want));
    /* keys in order: status, recommended_rom_version, productRoms */
    assert_true(strstr(buf, "\"status\"") < strstr(buf, "\"recommended_rom_version\""));
    assert_true(strstr(buf, "\"recommended_rom_version\"") < strstr(buf, "\"productRoms\""));

    atota_iot_query_reader_t qr;
    const char *v;
    atota_diag_t d;
    assert_int_equal(query_scrape_whole(buf, &qr, &v, &d), ATOTA_OK);
    assert_string_equal(v, "v4.1.0.0");

    /* no ROM at all is still a reply */
    atota_iot_reply_begin(&r, ATOTA_IOT_REPLY_QUERY, buf, sizeof buf, "v1");
    atota_iot_reply_end(&r);
    assert_string_equal(buf, "{\"status\": 200, \"recommended_rom_version\": \"v1\", "
                             "\"productRoms\": []}");
    /* a query reply needs a safe recommended version */
    assert_int_equal(atota_iot_reply_begin(&r, ATOTA_IOT_REPLY_QUERY, buf, sizeof buf, NULL),
                     ATOTA_ERR_INVALID_ARG);
    assert_int_equal(atota_iot_reply_begin(&r, ATOTA_IOT_REPLY_QUERY, buf, sizeof buf, "v\",1"),
                     ATOTA_ERR_INVALID_ARG);
    assert_int_equal(atota_iot_reply_begin(&r, ATOTA_IOT_REPLY_QUERY, buf, 20, "v1"),
                     ATOTA_ERR_TOO_BIG);
}

static void reply_query_many_roms(void **state)
{
    (void)state;
    char buf[4096];
    atota_iot_reply_t r;
    char rec[65];
    memset(rec, '9', 64);
    rec[64] = '\0'; /* the longest version */
    assert_int_equal(atota_iot_reply_begin(&r, ATOTA_IOT_REPLY_QUERY, buf, sizeof buf, rec),
                     ATOTA_OK);
    assert_true(atota_iot_reply_add_rom(&r, rec, true, NULL, 0));
    unsigned added = 1;
    for (unsigned i = 0; i < 500; i++) {
        char v[65];
        snprintf(v, sizeof v, "v%u.%u.%u.0-with-a-long-suffix-to-fill-the-reply", i / 100,
                 (i / 10) % 10, i % 10);
        added += atota_iot_reply_add_rom(&r, v, false, NULL, 0);
    }
    size_t n = atota_iot_reply_end(&r);
    assert_true(n <= ATOTA_IOT_QUERY_BODY_MAX);
    assert_true(n > ATOTA_IOT_QUERY_BODY_MAX - 100); /* filled, not abandoned early */
    assert_int_equal(r.roms, added);
    assert_int_equal(r.roms + r.dropped, 501);
    assert_int_equal(strlen(buf), n);
    assert_string_equal(buf + n - 3, "}]}");
    atota_iot_query_reader_t qr;
    const char *v;
    atota_diag_t d;
    assert_int_equal(query_scrape_whole(buf, &qr, &v, &d), ATOTA_OK);
    assert_string_equal(v, rec);

    /* a small caller buffer is a limit too */
    char small[200];
    atota_iot_reply_begin(&r, ATOTA_IOT_REPLY_QUERY, small, sizeof small, "v1");
    for (unsigned i = 0; i < 50; i++)
        atota_iot_reply_add_rom(&r, "v1.0.0.0", false, NULL, 0);
    n = atota_iot_reply_end(&r);
    assert_true(n < sizeof small);
    assert_int_equal(strlen(small), n);
    assert_true(r.dropped > 0);
}

static void reply_list_format(void **state)
{
    (void)state;
    static char buf[16384];
    atota_iot_reply_t r;
    atota_iot_file_t files[] = {{"ota.bin", 1634560}, {"mqtt_ca.bin", 1200}};
    assert_int_equal(atota_iot_reply_begin(&r, ATOTA_IOT_REPLY_LIST, buf, sizeof buf, NULL),
                     ATOTA_OK);
    assert_true(atota_iot_reply_add_rom(&r, "v2", false, files, 2));
    assert_true(atota_iot_reply_add_rom(&r, "v1", false, NULL, 0));
    atota_iot_reply_end(&r);
    fx_expect_text("list reply", buf,
                   "{\"status\": 200, \"productRoms\": [{\"version\": \"v2\", \"recommended\": 0, "
                   "\"files\": [{\"name\": \"ota.bin\", \"size\": 1634560}, "
                   "{\"name\": \"mqtt_ca.bin\", \"size\": 1200}]}, "
                   "{\"version\": \"v1\", \"recommended\": 0, \"files\": []}]}");

    /* many ROMs with many files: under the limit, and AT+CIPFWVER prints each one kept */
    atota_iot_file_t many[20];
    char names[20][24];
    for (unsigned i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "label_%02u.bin", i);
        many[i].name = names[i];
        many[i].size = 1000000u + i;
    }
    atota_iot_reply_begin(&r, ATOTA_IOT_REPLY_LIST, buf, sizeof buf, "v0");
    char want[8192] = "";
    unsigned kept = 0;
    for (unsigned i = 0; i < 300; i++) {
        char v[65];
        snprintf(v, sizeof v, "v%u", i);
        if (atota_iot_reply_add_rom(&r, v, i == 0, many, 1 + i % 20)) {
            kept++;
            size_t wl = strlen(want);
            snprintf(want + wl, sizeof want - wl, "+CIPFWVER:\"%s\"\r\n", v);
        }
    }
    size_t n = atota_iot_reply_end(&r);
    assert_true(n <= ATOTA_IOT_LIST_BODY_MAX);
    assert_int_equal(kept + r.dropped, 300);
    assert_true(kept > 5);
    lines_t l = {{0}, 0};
    unsigned count;
    atota_diag_t d;
    assert_int_equal(atota_iot_fwver_lines(buf, n, collect_line, &l, &count, &d), ATOTA_OK);
    assert_int_equal(count, kept);
    fx_expect_text("CIPFWVER of a long listing", l.text, want);

    /* unsafe names and versions are never written */
    atota_iot_file_t evil[] = {{"../x.bin", 1}};
    atota_iot_reply_begin(&r, ATOTA_IOT_REPLY_LIST, buf, sizeof buf, NULL);
    assert_false(atota_iot_reply_add_rom(&r, "v1", false, evil, 1));
    assert_false(atota_iot_reply_add_rom(&r, "v 1", false, NULL, 0));
    assert_false(atota_iot_reply_add_rom(&r, "", false, NULL, 0));
    assert_int_equal(r.dropped, 3);
    atota_iot_reply_end(&r);
    assert_string_equal(buf, "{\"status\": 200, \"productRoms\": []}");
}

static void reply_error_fails_cleanly(void **state)
{
    (void)state;
    char buf[256];
    size_t n = atota_iot_reply_error(buf, sizeof buf, 404,
                                     "no \"rom_version\": here\n\\ for this product");
    assert_int_equal(strlen(buf), n);
    fx_expect_text("error reply", buf,
                   "{\"status\": 404, \"message\": \"no \\\"rom_version\\\": here\\\\ for this "
                   "product\"}");
    /* the device reads to the close and fails: no `rom_version": ` in it */
    atota_iot_query_reader_t qr;
    const char *v;
    atota_diag_t d;
    assert_int_equal(query_scrape_whole(buf, &qr, &v, &d), ATOTA_ERR_NET_PROTOCOL);
    assert_non_null(strstr(d.msg, "rom_version error"));

    char small[40];
    n = atota_iot_reply_error(small, sizeof small, 401, "a long message that cannot fit at all");
    assert_true(n < sizeof small);
    assert_string_equal(small + n - 2, "\"}");
}

static void safe_names(void **state)
{
    (void)state;
    assert_true(atota_iot_version_is_safe("v4.1.0.0"));
    assert_true(atota_iot_version_is_safe("V2.2.0.0-rc1_build(3)"));
    const char *bad[] = {"",    "v 1", "v\"1", "v\\1", "v&1",   "v#1",
                         "v%1", "v+1", "v?1",  "v=1",  "v\x7f", "v\xc3\xa9"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(atota_iot_version_is_safe(bad[i]));
    char v65[66];
    memset(v65, 'a', 65);
    v65[65] = '\0';
    assert_false(atota_iot_version_is_safe(v65));
    v65[64] = '\0';
    assert_true(atota_iot_version_is_safe(v65));
    assert_false(atota_iot_version_is_safe(NULL));

    assert_true(atota_iot_file_name_is_safe("ota.bin"));
    assert_true(atota_iot_file_name_is_safe("factory_param.bin"));
    assert_true(atota_iot_file_name_is_safe("abcdefghijklmnop.bin"));
    assert_false(atota_iot_file_name_is_safe("abcdefghijklmnopq.bin"));
    assert_false(atota_iot_file_name_is_safe(".bin"));
    assert_false(atota_iot_file_name_is_safe("OTA.bin"));
    assert_false(atota_iot_file_name_is_safe("ota.BIN"));
    assert_false(atota_iot_file_name_is_safe("a/b.bin"));
    assert_false(atota_iot_file_name_is_safe(NULL));
}

/* Repr-Digest (RFC 9530) as atota-server writes it and the module reads it back; anything else
 * is "no digest", never a wrong one. */
static void digest_round_trip(void **state)
{
    (void)state;
    uint8_t sha[32], got[32];
    for (unsigned i = 0; i < sizeof sha; i++)
        sha[i] = (uint8_t)(i * 37 + 11);
    char value[ATOTA_IOT_DIGEST_VALUE_MAX];
    atota_iot_digest_value(sha, value);
    assert_int_equal(strlen(value), 54);
    assert_memory_equal(value, "sha-256=:", 9);
    assert_int_equal(value[53], ':');
    char head[256];
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nrepr-DIGEST:  %s\r\n\r\n",
             value);
    memset(got, 0, sizeof got);
    assert_true(atota_iot_digest_parse(head, strlen(head), got));
    assert_memory_equal(got, sha, sizeof sha);
    /* the value cut short, a wrong algorithm, bad base64, the name not at a line start, none */
    assert_false(atota_iot_digest_parse(head, strlen(head) - 10, got));
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nRepr-Digest: sha-512=:AAAA:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nRepr-Digest: "
        "sha-256=:!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Repr-Digest: "
        "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(atota_iot_digest_parse(bad[i], strlen(bad[i]), got));
}

/* A Content-Digest / Repr-Digest field value (AT+WEBSERVER's uploads): the sha-256 member of a
 * dictionary, wherever it stands; a missing or malformed one is false (the upload is refused). */
static void digest_value_parse(void **state)
{
    (void)state;
    uint8_t sha[32], got[32];
    for (unsigned i = 0; i < sizeof sha; i++)
        sha[i] = (uint8_t)(255 - i * 7);
    char value[ATOTA_IOT_DIGEST_VALUE_MAX];
    atota_iot_digest_value(sha, value);
    char field[256];
    static const char *const good[] = {"%s", "  %s  ", "sha-512=:AAAA:, %s",
                                       "md5=:x:,\t%s\t, sha-512=:BBBB:", "unixsum=1,%s"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(field, sizeof field, good[i], value);
        memset(got, 0, sizeof got);
        if (!atota_iot_digest_value_parse(field, strlen(field), got)) {
            print_error("\"%s\": expected the sha-256 member to be read\n", field);
            fail();
        }
        assert_memory_equal(got, sha, sizeof sha);
    }
    /* the length given counts, not a NUL */
    snprintf(field, sizeof field, "%sEXTRA", value);
    assert_true(atota_iot_digest_value_parse(field, strlen(value), got));
    static const char *const bad[] = {
        "",
        "sha-512=:AAAA:",
        "SHA-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:",     /* keys are lower-case */
        "sha-256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",       /* not a byte sequence */
        "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:",         /* 30 bytes */
        "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:", /* 35 bytes */
        "sha-256=:!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!:",     /* not base64 */
        "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:;p=1", /* a parameter */
        "sha-2566=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:",
        "xsha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (atota_iot_digest_value_parse(bad[i], strlen(bad[i]), got)) {
            print_error("\"%s\": expected no digest\n", bad[i]);
            fail();
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_request_bytes),
        cmocka_unit_test(download_request_bytes),
        cmocka_unit_test(request_null_token_and_truncation),
        cmocka_unit_test(fwver_request_bytes),
        cmocka_unit_test(query_reply_scraped),
        cmocka_unit_test(query_reply_split_reads),
        cmocka_unit_test(query_carry_quirk),
        cmocka_unit_test(query_small_reads_lose_everything),
        cmocka_unit_test(query_failures),
        cmocka_unit_test(query_marker_at_buffer_end),
        cmocka_unit_test(magic_table),
        cmocka_unit_test(download_reply_read),
        cmocka_unit_test(download_first_read_rules),
        cmocka_unit_test(download_close_and_size),
        cmocka_unit_test(fwver_scraping),
        cmocka_unit_test(reply_query_format),
        cmocka_unit_test(reply_query_many_roms),
        cmocka_unit_test(reply_list_format),
        cmocka_unit_test(reply_error_fails_cleanly),
        cmocka_unit_test(safe_names),
        cmocka_unit_test(digest_round_trip),
        cmocka_unit_test(digest_value_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
