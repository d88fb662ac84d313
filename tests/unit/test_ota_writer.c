/*
 * The OTA writer (core/ota/ota_writer.h) on a strict simulated flash: images written in chunks of
 * any size boot; bad headers are refused before anything is erased; a corrupted, truncated or
 * oversized image never reaches otadata; the erase policy's modelled time is within 5% of the
 * minimum; and a power cut before or in the middle of any flash operation of an update boots the
 * old app, unless the otadata switch has completed (then the new one).
 *
 * Layout: ESP-AT's ESP32 4 MB table (esp-at-ota.md §5.1), ota_0 running v1 (otadata copy 0 seq 1
 * VALID), ota_1 holding an old v0; or factory + ota_0 [+ ota_1] tables for the slot rules.
 */
#include "core/ota/boot.h"
#include "core/ota/ota_writer.h"
#include "support/fixture.h"

#define SIM_SIZE    0x400000u
#define OTADATA_OFF 0x10000u
#define OTA0_OFF    0x100000u
#define OTA1_OFF    0x280000u
#define OTA_SIZE    0x180000u

typedef struct {
    atota_partition_table_t table;
    atota_flash_sim_t *sim;
    const atota_flash_t *flash;
    uint8_t *pristine; /* the whole flash before the update */
    uint32_t size;
} env_t;

typedef struct {
    uint8_t *data;
    size_t len;
} image_t;

/* ---------------------------------------------------------------- fixtures */

static atota_flash_sim_t *sim_new(uint32_t size, bool timing)
{
    atota_flash_sim_opts_t o;
    memset(&o, 0, sizeof o);
    o.size = size;
    o.create = true;
    o.strict = true;
    o.timing = timing;
    atota_flash_sim_t *sim = NULL;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_flash_sim_open(&o, &sim, &d);
    if (err != ATOTA_OK) {
        print_error("atota_flash_sim_open: %s\n", atota_diag_text(&d, err));
        fail();
    }
    return sim;
}

/* esp-at-ota.md §5.1, ESP32 default (4 MB). */
static void table_esp_at(atota_partition_table_t *t)
{
    memset(t, 0, sizeof *t);
    fx_table_add(t, "phy_init", ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_PHY, 0xf000, 0x1000);
    fx_table_add(t, "otadata", ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_OTA, OTADATA_OFF, 0x2000);
    fx_table_add(t, "nvs", ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_NVS, 0x12000, 0xE000);
    fx_table_add(t, "at_customize", ATOTA_PT_TYPE_AT_CUSTOMIZE, 0, 0x20000, 0xE0000);
    fx_table_add(t, "ota_0", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0, OTA0_OFF, OTA_SIZE);
    fx_table_add(t, "ota_1", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0 + 1, OTA1_OFF, OTA_SIZE);
}

/* factory (0x100000) + ota_0 (0x200000) [+ ota_1 (0x300000)], slots of slot_size bytes. */
static void table_factory(atota_partition_table_t *t, unsigned ota_count, uint32_t slot_size)
{
    memset(t, 0, sizeof *t);
    fx_table_add(t, "otadata", ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_OTA, OTADATA_OFF, 0x2000);
    fx_table_add(t, "factory", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_FACTORY, 0x100000, 0x100000);
    for (unsigned i = 0; i < ota_count; i++) {
        char name[16];
        snprintf(name, sizeof name, "ota_%u", i);
        fx_table_add(t, name, ATOTA_PT_TYPE_APP, (uint8_t)(ATOTA_PT_SUBTYPE_APP_OTA_0 + i),
                     0x200000 + i * 0x100000, slot_size);
    }
}

/* A fresh flash for the table: v1 in the first app partition that is not ota_1, an older v0 in
 * ota_1 (so "untouched" means something), otadata as given (seq 0: left blank). */
static void env_init(env_t *e, const atota_partition_table_t *table, uint32_t seq0, uint32_t st0,
                     uint32_t seq1, uint32_t st1, bool timing)
{
    memset(e, 0, sizeof *e);
    e->table = *table;
    e->size = SIM_SIZE;
    e->sim = sim_new(SIM_SIZE, timing);
    e->flash = atota_flash_sim_flash(e->sim);
    for (unsigned i = 0; i < e->table.count; i++) {
        const atota_partition_t *p = &e->table.entries[i];
        if (p->type != ATOTA_PT_TYPE_APP)
            continue;
        bool second = p->subtype == ATOTA_PT_SUBTYPE_APP_OTA_0 + 1;
        fx_put_app(e->sim, p, FX_CHIP, second ? "v0" : "v1");
    }
    if (seq0)
        fx_put_otadata(e->sim, OTADATA_OFF, 0, seq0, st0, atota_otadata_crc(seq0));
    if (seq1)
        fx_put_otadata(e->sim, OTADATA_OFF, 1, seq1, st1, atota_otadata_crc(seq1));
    e->pristine = malloc(SIM_SIZE);
    assert_non_null(e->pristine);
    memcpy(e->pristine, atota_flash_sim_data(e->sim), SIM_SIZE);
    atota_flash_sim_reset_stats(e->sim);
}

/* The ESP-AT layout, running ota_0 (seq 1 VALID). */
static void env_esp_at(env_t *e)
{
    atota_partition_table_t t;
    table_esp_at(&t);
    env_init(e, &t, 1, ATOTA_OTA_STATE_VALID, 0, 0, false);
}

static void env_free(env_t *e)
{
    atota_flash_sim_close(e->sim);
    free(e->pristine);
}

/* Restores the flash to the pristine bytes (after a power cut: powered on, stats zeroed). */
static void env_reset(env_t *e)
{
    atota_flash_sim_disarm_power_cut(e->sim);
    atota_flash_sim_power_on(e->sim);
    memcpy(atota_flash_sim_data(e->sim), e->pristine, SIM_SIZE);
    atota_flash_sim_reset_stats(e->sim);
}

static atota_ota_writer_opts_t writer_opts(const env_t *e, const char *running)
{
    atota_ota_writer_opts_t o;
    memset(&o, 0, sizeof o);
    o.flash = e->flash;
    o.table = &e->table;
    o.running = running ? fx_table_get(&e->table, running) : NULL;
    o.rollback_enabled = true; /* ESP-AT: CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y */
    o.chip_id = FX_CHIP;
    o.chip_rev = FX_CHIP_REV;
    return o;
}

/* An app image with a DROM payload of payload_len pseudo-random bytes; revisions 0 = default. */
static image_t build_image_rev(uint16_t chip, const char *version, size_t payload_len,
                               uint16_t min_rev, uint16_t max_rev)
{
    uint8_t *payload = malloc(payload_len ? payload_len : 1);
    assert_non_null(payload);
    uint32_t x = 0x12345678u ^ (uint32_t)payload_len;
    for (size_t i = 0; i < payload_len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        payload[i] = (uint8_t)x;
    }
    atota_image_build_segment_t seg;
    memset(&seg, 0, sizeof seg);
    seg.data = payload;
    seg.len = (uint32_t)payload_len;
    atota_image_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.chip_id = chip;
    o.version = version;
    o.project_name = "atota-test";
    o.time = "12:00:00";
    o.date = "Jan  1 2025";
    o.idf_ver = "v5.5";
    o.min_chip_rev_full = min_rev;
    o.max_chip_rev_full = max_rev;
    o.segments = &seg;
    o.segment_count = 1;
    size_t cap = atota_image_build_size(&o);
    assert_true(cap > 0);
    image_t img;
    img.data = malloc(cap);
    assert_non_null(img.data);
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_image_build(&o, img.data, cap, &img.len, &d);
    if (err != ATOTA_OK) {
        print_error("atota_image_build: %s\n", atota_diag_text(&d, err));
        fail();
    }
    free(payload);
    return img;
}

static image_t build_image(const char *version, size_t payload_len)
{
    return build_image_rev(FX_CHIP, version, payload_len, 0, 0);
}

static void expect_err(const char *what, atota_err_t got, atota_err_t want, const atota_diag_t *d)
{
    if (got == want)
        return;
    print_error("%s: expected %s, got %s (%s)\n", what, atota_err_name(want), atota_err_name(got),
                atota_diag_text(d, got));
    fail();
}

/* Writes img in chunks of `chunk` bytes (0: one write); returns the first error. */
static atota_err_t write_chunks(atota_ota_writer_t *w, const uint8_t *data, size_t len,
                                size_t chunk, atota_diag_t *d)
{
    if (chunk == 0)
        chunk = len;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        atota_err_t err = atota_ota_writer_write(w, data + off, n, d);
        if (err)
            return err;
    }
    return ATOTA_OK;
}

/* begin, all the bytes in chunks, finish; aborts the writer on an error and returns it. */
static atota_err_t update(const env_t *e, const char *running, const uint8_t *data, size_t len,
                          size_t chunk, atota_image_info_t *info, atota_diag_t *d)
{
    atota_ota_writer_opts_t o = writer_opts(e, running);
    atota_ota_writer_t w;
    atota_err_t err = atota_ota_writer_begin(&w, &o, d);
    if (!err)
        err = write_chunks(&w, data, len, chunk, d);
    if (!err)
        err = atota_ota_writer_finish(&w, info, d);
    atota_ota_writer_abort(&w);
    return err;
}

/* The flash outside [from, to) and outside the otadata copy `copy` (-1: none) is pristine. */
static void expect_untouched_except(const env_t *e, const char *what, uint32_t from, uint32_t to,
                                    int copy)
{
    const uint8_t *now = atota_flash_sim_data(e->sim);
    uint32_t od_from = copy < 0 ? 0 : OTADATA_OFF + (uint32_t)copy * ATOTA_FLASH_SECTOR_SIZE;
    uint32_t od_to = copy < 0 ? 0 : od_from + ATOTA_FLASH_SECTOR_SIZE;
    for (uint32_t a = 0; a < e->size; a++) {
        if ((a >= from && a < to) || (a >= od_from && a < od_to))
            continue;
        if (now[a] != e->pristine[a]) {
            print_error("%s: flash byte 0x%x changed: was %02x, now %02x\n", what, a,
                        e->pristine[a], now[a]);
            fail();
        }
    }
}

/* Boots and expects partition `name` with app version `version`. */
static void expect_boot(const env_t *e, const char *what, const char *name, const char *version,
                        atota_boot_result_t *out)
{
    atota_boot_opts_t bo;
    memset(&bo, 0, sizeof bo);
    bo.rollback_enabled = true;
    bo.chip_id = FX_CHIP;
    bo.chip_rev = FX_CHIP_REV;
    atota_boot_result_t res;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_boot_select(e->flash, &e->table, &bo, &res, &d);
    if (err != ATOTA_OK || strcmp(res.partition.name, name) != 0 ||
        strcmp(res.app_desc.version, version) != 0) {
        print_error("%s: expected to boot %s (%s), got %s: %s (%s); reason: %s\n", what, name,
                    version, atota_err_name(err), res.partition.name, res.app_desc.version,
                    err ? atota_diag_text(&d, err) : res.reason);
        fail();
    }
    if (out)
        *out = res;
}

/* ---------------------------------------------------------------- writing and booting */

/* One image in chunks of many sizes (and in an irregular pattern): the slot holds the image byte
 * for byte, no sector is erased twice, nothing else changed but otadata copy 1 (seq 2, NEW), and
 * the bootloader boots it, turning NEW into PENDING_VERIFY. */
static void chunks_of_any_size_boot(void **state)
{
    (void)state;
    image_t img = build_image("v2", 150000); /* ~147 KB: crosses two 64 KB blocks */
    static const size_t chunks[] = {1, 7, 255, 256, 4096, 65536, 0 /* whole */, 3 /* pattern */};
    env_t e;
    env_esp_at(&e);
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        env_reset(&e);
        char what[64];
        snprintf(what, sizeof what, "chunks of %zu", chunks[c]);
        atota_ota_writer_opts_t o = writer_opts(&e, "ota_0");
        atota_ota_writer_t w;
        atota_diag_t d;
        atota_diag_clear(&d);
        expect_err(what, atota_ota_writer_begin(&w, &o, &d), ATOTA_OK, &d);
        assert_int_equal(w.slot_index, 1);
        assert_string_equal(w.slot.name, "ota_1");
        atota_err_t err = ATOTA_OK;
        if (c == 7) { /* irregular: 1, 2, 3, 5, 8, ... 4093 bytes, cycling */
            static const size_t pattern[] = {1, 2, 3, 5, 8, 13, 21, 300, 511, 4093, 777};
            for (size_t off = 0, i = 0; off < img.len && !err; i++) {
                size_t n = pattern[i % 11];
                n = n < img.len - off ? n : img.len - off;
                err = atota_ota_writer_write(&w, img.data + off, n, &d);
                off += n;
            }
        } else {
            err = write_chunks(&w, img.data, img.len, chunks[c], &d);
        }
        expect_err(what, err, ATOTA_OK, &d);
        assert_int_equal(w.written, img.len);
        atota_image_info_t info;
        expect_err(what, atota_ota_writer_finish(&w, &info, &d), ATOTA_OK, &d);
        assert_int_equal(w.state, ATOTA_OTA_WRITER_DONE);
        assert_string_equal(info.app_desc.version, "v2");
        assert_int_equal(info.image_len, img.len);
        atota_ota_writer_abort(&w);

        const uint8_t *flash = atota_flash_sim_data(e.sim);
        fx_expect_bytes(what, flash + OTA1_OFF, img.data, img.len);
        for (uint32_t s = OTA1_OFF / ATOTA_FLASH_SECTOR_SIZE;
             s < (OTA1_OFF + OTA_SIZE) / ATOTA_FLASH_SECTOR_SIZE; s++)
            if (atota_flash_sim_sector_erase_count(e.sim, s) > 1) {
                print_error("%s: sector 0x%x erased %u times\n", what, s * ATOTA_FLASH_SECTOR_SIZE,
                            atota_flash_sim_sector_erase_count(e.sim, s));
                fail();
            }
        /* Erased: the image's 64 KB blocks (the policy erases whole blocks, see the docs). */
        uint32_t blocks = (uint32_t)(img.len + 0xFFFF) / 0x10000;
        assert_true(fx_is_blank(flash + OTA1_OFF + img.len, blocks * 0x10000 - img.len));
        expect_untouched_except(&e, what, OTA1_OFF, OTA1_OFF + blocks * 0x10000, 1);

        atota_otadata_entry_t od[2];
        fx_get_otadata(e.sim, OTADATA_OFF, od);
        fx_expect_entry(what, 1, &od[1], 2, ATOTA_OTA_STATE_NEW, atota_otadata_crc(2));
        atota_boot_result_t res;
        expect_boot(&e, what, "ota_1", "v2", &res);
        assert_int_equal(res.index, 1);
        fx_get_otadata(e.sim, OTADATA_OFF, od);
        fx_expect_entry(what, 1, &od[1], 2, ATOTA_OTA_STATE_PENDING_VERIFY, atota_otadata_crc(2));
    }
    print_message("image of %zu bytes written in chunks of 1, 7, 255, 256, 4096, 65536, whole "
                  "and an irregular pattern: each booted ota_1 (v2)\n",
                  img.len);
    env_free(&e);
    free(img.data);
}

/* The first page is held: 255 bytes touch nothing, the 256th erases and programs. */
static void first_page_is_held(void **state)
{
    (void)state;
    image_t img = build_image("v2", 20000);
    env_t e;
    env_esp_at(&e);
    atota_ota_writer_opts_t o = writer_opts(&e, "ota_0");
    atota_ota_writer_t w;
    atota_diag_t d;
    assert_int_equal(atota_ota_writer_begin(&w, &o, &d), ATOTA_OK);
    assert_int_equal(fx_mutating_ops(e.sim), 0);
    assert_int_equal(atota_ota_writer_write(&w, img.data, 255, &d), ATOTA_OK);
    assert_int_equal(fx_mutating_ops(e.sim), 0);
    assert_int_equal(atota_ota_writer_write(&w, img.data + 255, 1, &d), ATOTA_OK);
    atota_flash_sim_stats_t st;
    atota_flash_sim_get_stats(e.sim, &st);
    assert_int_equal(st.block_erases, 1); /* ota_1 starts on a 64 KB boundary */
    assert_int_equal(st.sector_erases, 0);
    assert_int_equal(st.pages_programmed, 1);
    atota_ota_writer_abort(&w);
    env_free(&e);
    free(img.data);
}

/* The smallest app (fx_build_app: under 0x200 bytes, a partial second page that finish
 * programs) boots. Trailing bytes after the image that fit the slot (a signature sector,
 * padding) are accepted and programmed, as IDF does. */
static void small_image_and_trailing_bytes(void **state)
{
    (void)state;
    env_t e;
    env_esp_at(&e);
    atota_diag_t d;
    uint8_t *small = NULL;
    size_t small_len = fx_build_app(FX_CHIP, "v2", &small);
    expect_err("small image", update(&e, "ota_0", small, small_len, 100, NULL, &d), ATOTA_OK, &d);
    fx_expect_bytes("small image", atota_flash_sim_data(e.sim) + OTA1_OFF, small, small_len);
    expect_boot(&e, "small image", "ota_1", "v2", NULL);
    free(small);

    env_reset(&e);
    image_t img = build_image("v3", 20000);
    size_t padded = img.len + 0x2000;
    uint8_t *buf = malloc(padded);
    assert_non_null(buf);
    memcpy(buf, img.data, img.len);
    for (size_t i = img.len; i < padded; i++)
        buf[i] = (uint8_t)(i * 31u); /* not 0xFF: they must be programmed */
    expect_err("trailing bytes", update(&e, "ota_0", buf, padded, 4096, NULL, &d), ATOTA_OK, &d);
    fx_expect_bytes("trailing bytes", atota_flash_sim_data(e.sim) + OTA1_OFF, buf, padded);
    expect_boot(&e, "trailing bytes", "ota_1", "v3", NULL);
    free(buf);
    free(img.data);
    env_free(&e);
}

/* ---------------------------------------------------------------- refusals before any erase */

/* Writes a bad image in one chunk, then in 1-byte chunks: the error is reported on the bytes
 * that show it, nothing is erased or programmed, ota_1 keeps its bytes, later calls repeat the
 * error (sticky). */
static void expect_refused_untouched(env_t *e, const char *what, const uint8_t *data, size_t len,
                                     atota_err_t want)
{
    static const size_t chunks[] = {0, 1, 31};
    for (size_t c = 0; c < 3; c++) {
        env_reset(e);
        char label[128];
        snprintf(label, sizeof label, "%s (chunks of %zu)", what, chunks[c]);
        atota_ota_writer_opts_t o = writer_opts(e, "ota_0");
        atota_ota_writer_t w;
        atota_diag_t d;
        atota_diag_clear(&d);
        assert_int_equal(atota_ota_writer_begin(&w, &o, &d), ATOTA_OK);
        atota_err_t err = write_chunks(&w, data, len, chunks[c], &d);
        expect_err(label, err, want, &d);
        assert_int_equal(w.state, ATOTA_OTA_WRITER_FAILED);
        atota_flash_sim_stats_t st;
        atota_flash_sim_get_stats(e->sim, &st);
        if (st.mutating_ops != 0) {
            print_error("%s: expected no erase or program, got %llu operations\n", label,
                        (unsigned long long)st.mutating_ops);
            fail();
        }
        expect_untouched_except(e, label, 0, 0, -1);
        /* sticky */
        atota_diag_t d2;
        expect_err(label, atota_ota_writer_write(&w, data, 16, &d2), want, &d2);
        assert_string_equal(d2.msg, d.msg);
        expect_err(label, atota_ota_writer_finish(&w, NULL, &d2), want, &d2);
        atota_ota_writer_abort(&w);
        expect_untouched_except(e, label, 0, 0, -1);
        if (c == 0)
            print_message("  %-34s -> %s: %s\n", what, atota_err_name(err), d.msg);
    }
}

static void bad_headers_erase_nothing(void **state)
{
    (void)state;
    env_t e;
    env_esp_at(&e);
    image_t good = build_image("v2", 20000);
    uint8_t *buf = malloc(good.len);
    assert_non_null(buf);

    print_message("bad first bytes, refused before any flash operation:\n");
    memcpy(buf, good.data, good.len);
    buf[0] = 0xE8;
    expect_refused_untouched(&e, "wrong magic", buf, good.len, ATOTA_ERR_IMAGE_MAGIC);

    image_t c3 = build_image_rev(ATOTA_CHIP_ESP32C3, "v2", 20000, 0, 0);
    expect_refused_untouched(&e, "image for ESP32-C3", c3.data, c3.len, ATOTA_ERR_IMAGE_CHIP);
    free(c3.data);

    image_t newer = build_image_rev(FX_CHIP, "v2", 20000, 301, 0); /* needs v3.1, chip v3.0 */
    expect_refused_untouched(&e, "min chip rev v3.1", newer.data, newer.len,
                             ATOTA_ERR_IMAGE_CHIP_REV);
    free(newer.data);

    image_t older = build_image_rev(FX_CHIP, "v2", 20000, 0, 200); /* up to v2.0, chip v3.0 */
    expect_refused_untouched(&e, "max chip rev v2.0", older.data, older.len,
                             ATOTA_ERR_IMAGE_CHIP_REV);
    free(older.data);

    memcpy(buf, good.data, good.len);
    buf[1] = 17; /* segment_count */
    expect_refused_untouched(&e, "17 segments", buf, good.len, ATOTA_ERR_IMAGE_SEGMENTS);

    /* The first segment header (bytes 24..31) is checked before the first page too. */
    memcpy(buf, good.data, good.len);
    buf[28] |= 2; /* segment 0 length not a multiple of 4 */
    expect_refused_untouched(&e, "segment 0 length odd", buf, good.len, ATOTA_ERR_IMAGE_SEGMENT);

    memcpy(buf, good.data, good.len);
    buf[28] = 0;
    buf[29] = 0;
    buf[30] = 0x20; /* segment 0: 2 MB, more than the 1.5 MB slot */
    expect_refused_untouched(&e, "segment 0 of 2 MB", buf, good.len, ATOTA_ERR_IMAGE_TOO_BIG);

    memcpy(buf, good.data, good.len);
    buf[32] ^= 0xFF; /* app descriptor magic (byte 36 completes it) */
    expect_refused_untouched(&e, "no app descriptor", buf, good.len, ATOTA_ERR_IMAGE_NO_APP_DESC);

    free(buf);
    free(good.data);
    env_free(&e);
}

/* ---------------------------------------------------------------- failures that keep the old app
 */

/* otadata is byte for byte what it was, and the old app boots. */
static void expect_old_app_kept(env_t *e, const char *what)
{
    fx_expect_bytes(what, atota_flash_sim_data(e->sim) + OTADATA_OFF, e->pristine + OTADATA_OFF,
                    ATOTA_OTADATA_SIZE);
    expect_boot(e, what, "ota_0", "v1", NULL);
}

static void corrupted_image_keeps_old_app(void **state)
{
    (void)state;
    env_t e;
    env_esp_at(&e);
    image_t img = build_image("v2", 40000);
    uint8_t *buf = malloc(img.len);
    assert_non_null(buf);
    atota_diag_t d;

    /* One byte of the payload: the checksum (and the hash) no longer match. */
    memcpy(buf, img.data, img.len);
    buf[img.len / 2] ^= 0x01;
    atota_err_t err = update(&e, "ota_0", buf, img.len, 4096, NULL, &d);
    if (err != ATOTA_ERR_IMAGE_CHECKSUM && err != ATOTA_ERR_IMAGE_HASH) {
        print_error("corrupted middle byte: expected a checksum or hash error, got %s\n",
                    atota_err_name(err));
        fail();
    }
    print_message("corrupted middle byte: %s: %s\n", atota_err_name(err), d.msg);
    expect_old_app_kept(&e, "corrupted middle byte");

    /* A byte of the appended SHA-256 only. */
    env_reset(&e);
    memcpy(buf, img.data, img.len);
    buf[img.len - 5] ^= 0x80;
    expect_err("corrupted hash", update(&e, "ota_0", buf, img.len, 1000, NULL, &d),
               ATOTA_ERR_IMAGE_HASH, &d);
    expect_old_app_kept(&e, "corrupted hash");

    /* Received right, but the flash lost a bit after programming: finish reads it back. */
    env_reset(&e);
    atota_ota_writer_opts_t o = writer_opts(&e, "ota_0");
    atota_ota_writer_t w;
    assert_int_equal(atota_ota_writer_begin(&w, &o, &d), ATOTA_OK);
    assert_int_equal(write_chunks(&w, img.data, img.len, 4096, &d), ATOTA_OK);
    atota_flash_sim_data(e.sim)[OTA1_OFF + 0x1000] ^= 0x01; /* bypasses the NOR rules */
    err = atota_ota_writer_finish(&w, NULL, &d);
    if ((err != ATOTA_ERR_IMAGE_CHECKSUM && err != ATOTA_ERR_IMAGE_HASH) ||
        strstr(d.msg, "as written on flash") == NULL) {
        print_error("flash bit flip: expected a checksum or hash error on the flash copy, got %s "
                    "(%s)\n",
                    atota_err_name(err), d.msg);
        fail();
    }
    print_message("flash bit flip after programming: %s: %s\n", atota_err_name(err), d.msg);
    atota_ota_writer_abort(&w);
    expect_old_app_kept(&e, "flash bit flip");

    free(buf);
    free(img.data);
    env_free(&e);
}

static void truncated_image_keeps_old_app(void **state)
{
    (void)state;
    env_t e;
    env_esp_at(&e);
    image_t img = build_image("v2", 40000);
    atota_diag_t d;
    static const size_t cut[] = {1, 10, 32, 33, 5000};
    for (size_t i = 0; i < 5; i++) {
        env_reset(&e);
        char what[64];
        snprintf(what, sizeof what, "image missing its last %zu bytes", cut[i]);
        expect_err(what, update(&e, "ota_0", img.data, img.len - cut[i], 4096, NULL, &d),
                   ATOTA_ERR_IMAGE_TRUNCATED, &d);
        expect_old_app_kept(&e, what);
    }
    /* Nothing at all. */
    env_reset(&e);
    expect_err("no bytes", update(&e, "ota_0", img.data, 0, 4096, NULL, &d),
               ATOTA_ERR_IMAGE_TRUNCATED, &d);
    assert_int_equal(fx_mutating_ops(e.sim), 0);
    expect_old_app_kept(&e, "no bytes");
    free(img.data);
    env_free(&e);
}

/* Slots of 64 KB: an image that declares more is refused as soon as its segment header says so;
 * one that fits but is followed by bytes past the slot's end fails on the write that crosses it. */
static void image_bigger_than_slot(void **state)
{
    (void)state;
    atota_partition_table_t t;
    table_factory(&t, 2, 0x10000);
    env_t e;
    env_init(&e, &t, 0, 0, 0, 0, false); /* blank otadata: factory runs */
    atota_diag_t d;

    image_t big = build_image("v2", 100000);
    atota_ota_writer_opts_t o = writer_opts(&e, "factory");
    atota_ota_writer_t w;
    assert_int_equal(atota_ota_writer_begin(&w, &o, &d), ATOTA_OK);
    assert_string_equal(w.slot.name, "ota_0");
    expect_err("image of 100 KB", write_chunks(&w, big.data, big.len, 4096, &d),
               ATOTA_ERR_IMAGE_TOO_BIG, &d);
    assert_true(w.written < 4096); /* the segment header said so in the first chunk */
    print_message("image of %zu bytes in a 64 KB slot: %s\n", big.len, d.msg);
    atota_ota_writer_abort(&w);
    expect_untouched_except(&e, "image of 100 KB", 0x200000, 0x210000, -1);

    env_reset(&e);
    image_t img = build_image("v2", 40000);
    uint8_t *buf = malloc(0x11000);
    assert_non_null(buf);
    memset(buf, 0xA5, 0x11000);
    memcpy(buf, img.data, img.len);
    assert_int_equal(atota_ota_writer_begin(&w, &o, &d), ATOTA_OK);
    assert_int_equal(write_chunks(&w, buf, 0x10000 - 100, 0x1000, &d), ATOTA_OK);
    assert_int_equal(atota_ota_writer_write(&w, buf + 0x10000 - 100, 100, &d), ATOTA_OK);
    expect_err("one byte past the slot", atota_ota_writer_write(&w, buf + 0x10000, 1, &d),
               ATOTA_ERR_IMAGE_TOO_BIG, &d);
    print_message("data past the slot's end: %s\n", d.msg);
    expect_err("finish after it", atota_ota_writer_finish(&w, NULL, &d), ATOTA_ERR_IMAGE_TOO_BIG,
               &d);
    atota_ota_writer_abort(&w);
    /* A chunk that crosses the end fails whole. */
    env_reset(&e);
    assert_int_equal(atota_ota_writer_begin(&w, &o, &d), ATOTA_OK);
    expect_err("chunk across the end", write_chunks(&w, buf, 0x11000, 0x3000, &d),
               ATOTA_ERR_IMAGE_TOO_BIG, &d);
    atota_ota_writer_abort(&w);
    fx_expect_bytes("otadata", atota_flash_sim_data(e.sim) + OTADATA_OFF, e.pristine + OTADATA_OFF,
                    ATOTA_OTADATA_SIZE);
    expect_boot(&e, "after the refused images", "factory", "v1", NULL);

    /* The same image exactly filling the slot with padding is fine. */
    env_reset(&e);
    expect_err("image + padding filling the slot",
               update(&e, "factory", buf, 0x10000, 4096, NULL, &d), ATOTA_OK, &d);
    expect_boot(&e, "image + padding filling the slot", "ota_0", "v2", NULL);

    free(buf);
    free(img.data);
    free(big.data);
    env_free(&e);
}

/* ---------------------------------------------------------------- begin: which slot, and when */

static void begin_refusals_and_targets(void **state)
{
    (void)state;
    atota_diag_t d;
    atota_ota_writer_t w;

    /* Running ota_0 still PENDING_VERIFY: refused with rollback, allowed without. */
    env_t e;
    atota_partition_table_t t;
    table_esp_at(&t);
    env_init(&e, &t, 1, ATOTA_OTA_STATE_PENDING_VERIFY, 0, 0, false);
    atota_ota_writer_opts_t o = writer_opts(&e, "ota_0");
    expect_err("running PENDING_VERIFY", atota_ota_writer_begin(&w, &o, &d),
               ATOTA_ERR_OTA_PENDING_VERIFY, &d);
    print_message("running PENDING_VERIFY: %s\n", d.msg);
    assert_int_equal(w.state, ATOTA_OTA_WRITER_IDLE);
    atota_ota_writer_abort(&w);
    o.rollback_enabled = false;
    expect_err("PENDING_VERIFY without rollback", atota_ota_writer_begin(&w, &o, &d), ATOTA_OK, &d);
    atota_ota_writer_abort(&w);
    assert_int_equal(fx_mutating_ops(e.sim), 0);
    env_free(&e);

    /* A VALID entry for ota_1 active, a stale PENDING_VERIFY copy for ota_0: ota_1 runs, fine. */
    env_init(&e, &t, 1, ATOTA_OTA_STATE_PENDING_VERIFY, 2, ATOTA_OTA_STATE_VALID, false);
    o = writer_opts(&e, "ota_1");
    expect_err("running ota_1 VALID", atota_ota_writer_begin(&w, &o, &d), ATOTA_OK, &d);
    assert_string_equal(w.slot.name, "ota_0");
    assert_int_equal(w.slot_index, 0);
    atota_ota_writer_abort(&w);
    env_free(&e);

    /* Factory + ota_0 only: running ota_0 has no other slot; running factory targets ota_0. */
    table_factory(&t, 1, 0x100000);
    env_init(&e, &t, 1, ATOTA_OTA_STATE_VALID, 0, 0, false);
    o = writer_opts(&e, "ota_0");
    expect_err("only ota_0, running it", atota_ota_writer_begin(&w, &o, &d), ATOTA_ERR_NO_OTA_SLOT,
               &d);
    print_message("one OTA slot, running it: %s\n", d.msg);
    o = writer_opts(&e, "factory");
    expect_err("only ota_0, running factory", atota_ota_writer_begin(&w, &o, &d), ATOTA_OK, &d);
    assert_string_equal(w.slot.name, "ota_0");
    atota_ota_writer_abort(&w);
    o = writer_opts(&e, NULL);
    expect_err("running unknown", atota_ota_writer_begin(&w, &o, &d), ATOTA_OK, &d);
    assert_string_equal(w.slot.name, "ota_0");
    atota_ota_writer_abort(&w);
    env_free(&e);

    /* No OTA slot at all. */
    table_factory(&t, 0, 0);
    env_init(&e, &t, 0, 0, 0, 0, false);
    o = writer_opts(&e, "factory");
    expect_err("factory only", atota_ota_writer_begin(&w, &o, &d), ATOTA_ERR_NO_OTA_SLOT, &d);
    env_free(&e);

    /* No otadata partition. */
    memset(&t, 0, sizeof t);
    fx_table_add(&t, "ota_0", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0, 0x100000, 0x100000);
    fx_table_add(&t, "ota_1", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0 + 1, 0x200000,
                 0x100000);
    env_init(&e, &t, 0, 0, 0, 0, false);
    o = writer_opts(&e, "ota_0");
    expect_err("no otadata", atota_ota_writer_begin(&w, &o, &d), ATOTA_ERR_NOT_FOUND, &d);
    env_free(&e);
}

/* Running ota_1 (copy 1 seq 2 VALID active): the update goes to ota_0 and copy 0 gets seq 3. */
static void running_ota1_updates_ota0(void **state)
{
    (void)state;
    atota_partition_table_t t;
    table_esp_at(&t);
    env_t e;
    env_init(&e, &t, 1, ATOTA_OTA_STATE_VALID, 2, ATOTA_OTA_STATE_VALID, false);
    image_t img = build_image("v3", 30000);
    atota_diag_t d;
    expect_err("running ota_1", update(&e, "ota_1", img.data, img.len, 4096, NULL, &d), ATOTA_OK,
               &d);
    expect_untouched_except(&e, "running ota_1", OTA0_OFF, OTA0_OFF + OTA_SIZE, 0);
    atota_otadata_entry_t od[2];
    fx_get_otadata(e.sim, OTADATA_OFF, od);
    fx_expect_entry("running ota_1", 0, &od[0], 3, ATOTA_OTA_STATE_NEW, atota_otadata_crc(3));
    atota_boot_result_t res;
    expect_boot(&e, "running ota_1", "ota_0", "v3", &res);
    assert_int_equal(res.index, 0);
    free(img.data);
    env_free(&e);
}

/* Misuse: write/finish without begin, after abort, after done; abort in every state. */
static void states_and_abort(void **state)
{
    (void)state;
    env_t e;
    env_esp_at(&e);
    image_t img = build_image("v2", 5000);
    atota_diag_t d;
    atota_ota_writer_t w;
    memset(&w, 0, sizeof w);
    atota_ota_writer_abort(&w); /* idle */
    atota_ota_writer_abort(NULL);
    expect_err("write before begin", atota_ota_writer_write(&w, img.data, 10, &d), ATOTA_ERR_STATE,
               &d);
    expect_err("finish before begin", atota_ota_writer_finish(&w, NULL, &d), ATOTA_ERR_STATE, &d);

    atota_ota_writer_opts_t o = writer_opts(&e, "ota_0");
    assert_int_equal(atota_ota_writer_begin(&w, &o, &d), ATOTA_OK);
    assert_int_equal(atota_ota_writer_write(&w, img.data, 1000, &d), ATOTA_OK);
    assert_int_equal(atota_ota_writer_write(&w, img.data, 0, &d), ATOTA_OK);
    atota_ota_writer_abort(&w); /* open, mid-image */
    assert_int_equal(w.state, ATOTA_OTA_WRITER_IDLE);
    expect_err("write after abort", atota_ota_writer_write(&w, img.data, 10, &d), ATOTA_ERR_STATE,
               &d);
    atota_ota_writer_abort(&w); /* twice */
    fx_expect_bytes("otadata after abort", atota_flash_sim_data(e.sim) + OTADATA_OFF,
                    e.pristine + OTADATA_OFF, ATOTA_OTADATA_SIZE);

    /* A restart from zero after an abort writes over the partial image (strict flash). */
    assert_int_equal(atota_ota_writer_begin(&w, &o, &d), ATOTA_OK);
    assert_int_equal(write_chunks(&w, img.data, img.len, 333, &d), ATOTA_OK);
    expect_err("finish", atota_ota_writer_finish(&w, NULL, &d), ATOTA_OK, &d);
    expect_err("write after done", atota_ota_writer_write(&w, img.data, 10, &d), ATOTA_ERR_STATE,
               &d);
    expect_err("finish twice", atota_ota_writer_finish(&w, NULL, &d), ATOTA_ERR_STATE, &d);
    atota_ota_writer_abort(&w); /* done */
    expect_boot(&e, "after restart", "ota_1", "v2", NULL);

    /* failed */
    env_reset(&e);
    assert_int_equal(atota_ota_writer_begin(&w, &o, &d), ATOTA_OK);
    uint8_t bad = 0;
    assert_int_equal(atota_ota_writer_write(&w, &bad, 1, &d), ATOTA_ERR_IMAGE_MAGIC);
    atota_ota_writer_abort(&w);
    atota_ota_writer_abort(&w);
    free(img.data);
    env_free(&e);
}

/* ---------------------------------------------------------------- erase policy, timing model */

typedef struct {
    uint64_t sector_us, block_us, page_us;
} costs_t;

/* What one sector erase, one block erase and one page program cost in the timing model. */
static costs_t calibrate(void)
{
    atota_flash_sim_t *sim = sim_new(0x30000, true);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    atota_flash_sim_stats_t st;
    costs_t c;
    assert_int_equal(atota_flash_erase(f, 0, 0x1000), ATOTA_OK);
    atota_flash_sim_get_stats(sim, &st);
    c.sector_us = st.modelled_us;
    atota_flash_sim_reset_stats(sim);
    assert_int_equal(atota_flash_erase(f, 0x10000, 0x10000), ATOTA_OK);
    atota_flash_sim_get_stats(sim, &st);
    c.block_us = st.modelled_us;
    atota_flash_sim_reset_stats(sim);
    static const uint8_t page[256] = {0};
    assert_int_equal(atota_flash_write(f, 0x20000, page, sizeof page), ATOTA_OK);
    atota_flash_sim_get_stats(sim, &st);
    c.page_us = st.modelled_us;
    atota_flash_sim_close(sim);
    return c;
}

/* One image through the writer on a flash with the timing model: returns the modelled time of
 * the image's erases and programs (finish's otadata sector and entry excluded). */
static uint64_t writer_time(const env_t *e, const image_t *img, const costs_t *c)
{
    atota_ota_writer_opts_t o = writer_opts(e, "ota_0");
    atota_ota_writer_t w;
    atota_diag_t d;
    assert_int_equal(atota_ota_writer_begin(&w, &o, &d), ATOTA_OK);
    atota_flash_sim_reset_stats(e->sim); /* begin read otadata: not part of the figure */
    expect_err("timed write", write_chunks(&w, img->data, img->len, 4096, &d), ATOTA_OK, &d);
    atota_flash_sim_stats_t a, b;
    atota_flash_sim_get_stats(e->sim, &a);
    assert_int_equal(a.bytes_read, 0); /* modelled_us is erases and programs only */
    expect_err("timed finish", atota_ota_writer_finish(&w, NULL, &d), ATOTA_OK, &d);
    atota_ota_writer_abort(&w);
    atota_flash_sim_get_stats(e->sim, &b);
    /* finish: the last partial page, then otadata (one sector erase, one page). */
    assert_true(b.sector_erases - a.sector_erases >= 1 &&
                b.pages_programmed - a.pages_programmed >= 1);
    return a.modelled_us + (b.sector_erases - a.sector_erases - 1) * c->sector_us +
           (b.block_erases - a.block_erases) * c->block_us +
           (b.pages_programmed - a.pages_programmed - 1) * c->page_us;
}

/* ESP-AT's way on the same slot: erase the whole slot sector by sector, then program. */
static uint64_t esp_at_time(uint32_t slot_off, uint32_t slot_size, const image_t *img)
{
    atota_flash_sim_t *sim = sim_new(SIM_SIZE, true);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    for (uint32_t a = 0; a < slot_size; a += ATOTA_FLASH_SECTOR_SIZE)
        assert_int_equal(atota_flash_erase(f, slot_off + a, ATOTA_FLASH_SECTOR_SIZE), ATOTA_OK);
    for (size_t off = 0; off < img->len; off += 4096) {
        uint32_t n = (uint32_t)(img->len - off < 4096 ? img->len - off : 4096);
        assert_int_equal(atota_flash_write(f, slot_off + (uint32_t)off, img->data + off, n),
                         ATOTA_OK);
    }
    atota_flash_sim_stats_t st;
    atota_flash_sim_get_stats(sim, &st);
    atota_flash_sim_close(sim);
    return st.modelled_us;
}

static void erase_policy_near_minimum(void **state)
{
    (void)state;
    costs_t c = calibrate();
    /* ESP-AT's ESP32-C3 slot size (0x1d0000, esp-at-ota.md §5.1): room for 1.5 MB and more. */
    atota_partition_table_t t;
    memset(&t, 0, sizeof t);
    fx_table_add(&t, "otadata", ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_OTA, OTADATA_OFF, 0x2000);
    fx_table_add(&t, "ota_0", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0, 0x20000, 0x1d0000);
    fx_table_add(&t, "ota_1", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0 + 1, 0x1f0000,
                 0x1d0000);
    env_t e;
    env_init(&e, &t, 1, ATOTA_OTA_STATE_VALID, 0, 0, true);
    const atota_partition_t *slot = fx_table_get(&t, "ota_1");

    /* 1.5 MB images: one ending just past a 64 KB boundary (the policy's worst case: a whole
     * block for one sector of image), one ending early in its last block. */
    static const size_t payloads[] = {0x180000, 0x179800};
    for (size_t i = 0; i < 2; i++) {
        env_reset(&e);
        image_t img = build_image("v2", payloads[i]);
        uint64_t sectors = (img.len + 0xFFF) / 0x1000;
        uint64_t pages = (img.len + 0xFF) / 0x100;
        uint64_t minimum =
            sectors / 16 * c.block_us + sectors % 16 * c.sector_us + pages * c.page_us;
        uint64_t ours = writer_time(&e, &img, &c);
        uint64_t esp_at = esp_at_time(slot->offset, slot->size, &img);
        print_message("erase+program of a %zu-byte image (%llu sectors, %llu in its last block): "
                      "writer %.3f s, minimum %.3f s (%+.1f%%), ESP-AT (whole %u KB slot by "
                      "sector first) %.3f s\n",
                      img.len, (unsigned long long)sectors, (unsigned long long)(sectors % 16),
                      ours / 1e6, minimum / 1e6, 100.0 * ((double)ours - minimum) / minimum,
                      slot->size / 1024, esp_at / 1e6);
        if (ours * 100 > minimum * 105) {
            print_error("writer's %llu us is more than 5%% above the minimum %llu us\n",
                        (unsigned long long)ours, (unsigned long long)minimum);
            fail();
        }
        assert_true(ours * 2 < esp_at);
        expect_boot(&e, "timed image", "ota_1", "v2", NULL);
        free(img.data);
    }
    env_free(&e);
}

/* ---------------------------------------------------------------- power cuts */

#define SWEEP_SEEDS 4

/* Which app the flash boots after a cut: old (ota_0 v1) while otadata does not yet hold a valid
 * active entry for ota_1, new (ota_1 v2) once it does. */
static void expect_boot_after_cut(env_t *e, const char *what, bool early)
{
    atota_otadata_entry_t od[2];
    fx_get_otadata(e->sim, OTADATA_OFF, od);
    int active = atota_otadata_select(od);
    bool switched = active >= 0 && atota_otadata_slot(od[active].seq, 2) == 1;
    if (switched && early) {
        print_error("%s: otadata switched before the switch operation\n", what);
        fail();
    }
    if (switched)
        expect_boot(e, what, "ota_1", "v2", NULL);
    else
        expect_boot(e, what, "ota_0", "v1", NULL);
}

static void power_cut_sweep(void **state)
{
    (void)state;
    env_t e;
    env_esp_at(&e);
    image_t img = build_image("v2", 10000); /* ~10 KB: 3 sectors */
    atota_diag_t d;

    /* The uninterrupted update: its mutating operations are the cut points. */
    expect_err("uncut update", update(&e, "ota_0", img.data, img.len, 1000, NULL, &d), ATOTA_OK,
               &d);
    uint64_t n = fx_mutating_ops(e.sim);
    expect_boot(&e, "uncut update", "ota_1", "v2", NULL);
    /* Erase (a block), the image's pages, then otadata: erase + entry (the last two). */
    assert_int_equal(n, 1 + (img.len + 255) / 256 + 2);

    unsigned runs = 0, old_boots = 0, new_boots = 0;
    for (uint64_t k = 0; k < n; k++) {
        for (uint32_t m = 0; m <= SWEEP_SEEDS; m++) {
            atota_power_cut_mode_t mode = m == 0 ? ATOTA_POWER_CUT_BEFORE : ATOTA_POWER_CUT_MIDDLE;
            uint32_t seed = m * 7919u + (uint32_t)k;
            char what[128];
            snprintf(what, sizeof what, "cut %s operation %llu of %llu (seed %u)",
                     m == 0 ? "before" : "in the middle of", (unsigned long long)k,
                     (unsigned long long)n, (unsigned)seed);
            env_reset(&e);
            atota_flash_sim_arm_power_cut(e.sim, k, mode, seed);
            atota_err_t err = update(&e, "ota_0", img.data, img.len, 1000, NULL, &d);
            if (err != ATOTA_ERR_FLASH_POWER_CUT || atota_flash_sim_powered(e.sim)) {
                print_error("%s: expected the update to stop on the cut, got %s\n", what,
                            atota_err_name(err));
                fail();
            }
            atota_flash_sim_disarm_power_cut(e.sim);
            atota_flash_sim_power_on(e.sim);
            /* Until the otadata entry is programmed (the last operation) nothing may switch. */
            expect_boot_after_cut(&e, what, k + 1 < n || mode == ATOTA_POWER_CUT_BEFORE);
            atota_otadata_entry_t od[2];
            fx_get_otadata(e.sim, OTADATA_OFF, od);
            if (od[1].seq == 2 && od[1].state == ATOTA_OTA_STATE_PENDING_VERIFY)
                new_boots++;
            else
                old_boots++;
            /* After the cut, the same update from the start succeeds on what the cut left. */
            if (od[1].seq != 2) {
                char again[160];
                snprintf(again, sizeof again, "%s, update again", what);
                expect_err(again, update(&e, "ota_0", img.data, img.len, 1000, NULL, &d), ATOTA_OK,
                           &d);
                expect_boot(&e, again, "ota_1", "v2", NULL);
            }
            runs++;
        }
    }
    print_message("OTA writer power-cut sweep: %llu cut points (before each mutating operation "
                  "and in its middle with %d seeds) = %u runs: %u booted the old app, %u the new "
                  "one (a cut that left the otadata entry whole), none failed; uncut: new\n",
                  (unsigned long long)n, SWEEP_SEEDS, runs, old_boots, new_boots);
    free(img.data);
    env_free(&e);
}

/* ---------------------------------------------------------------- memory */

static void struct_size_within_budget(void **state)
{
    (void)state;
    size_t total = sizeof(atota_ota_writer_t);
    size_t own = total - sizeof(atota_image_stream_t);
    print_message("sizeof(atota_ota_writer_t) = %zu bytes: verifier %zu + writer %zu (budget "
                  "8192)\n",
                  total, sizeof(atota_image_stream_t), own);
    assert_true(own < 8192);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chunks_of_any_size_boot),
        cmocka_unit_test(first_page_is_held),
        cmocka_unit_test(small_image_and_trailing_bytes),
        cmocka_unit_test(bad_headers_erase_nothing),
        cmocka_unit_test(corrupted_image_keeps_old_app),
        cmocka_unit_test(truncated_image_keeps_old_app),
        cmocka_unit_test(image_bigger_than_slot),
        cmocka_unit_test(begin_refusals_and_targets),
        cmocka_unit_test(running_ota1_updates_ota0),
        cmocka_unit_test(states_and_abort),
        cmocka_unit_test(erase_policy_near_minimum),
        cmocka_unit_test(power_cut_sweep),
        cmocka_unit_test(struct_size_within_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
