/*
 * The partition updater (core/ota/part_update.h) on a strict simulated flash with ESP-AT's ESP32
 * layout (profile esp32-wroom-32: ota_0 at 0x100000 and ota_1 at 0x280000, 0x180000 each) and an
 * at_customize table holding mqtt_ca (0x2000) and factory_param (0x1000): new content arrives in
 * chunks of any size and the partition then holds exactly it, the rest erased; the app image in
 * the staging slot (the rollback app) stays byte for byte; every refusal (no room, too big, too
 * many bytes, truncated, wrong SHA-256, abort) leaves the partition as it was, and the ones that
 * can be known up front write nothing; recover completes an update interrupted after its commit,
 * and drops (marks done, reports) one whose target is gone or whose staged copy is damaged.
 */
#include "core/fmt/profile.h"
#include "core/ota/part_update.h"
#include "support/fixture.h"

#define PROFILE "esp32-wroom-32"
#define NEW_LEN 0x1A37u /* not a multiple of the page: the last partial page waits for finish */

/* esp-at-ota.md §5.2: ESP-AT's default at_customize.csv with two of the legacy partitions that
 * AT+CIUPDATE's magic table knows (§3.5), between mfg_nvs and fs_storage. */
static const char AT_CUSTOMIZE_CSV[] = "# Name, Type, SubType, Offset, Size\n"
                                       "mfg_nvs, data, nvs, 0x21000, 112K\n"
                                       "mqtt_ca, 0x40, 14, 0x3D000, 0x2000\n"
                                       "factory_param, 0x40, 8, 0x3F000, 0x1000\n"
                                       "fs_storage, data, 0xff, 0x70000, 576K\n";

typedef struct {
    atota_profile_t profile;
    atota_partition_table_t ac; /* at_customize, parsed from AT_CUSTOMIZE_CSV */
    atota_flash_sim_t *sim;
    const atota_flash_t *flash;
    uint32_t size;
    uint8_t *base;   /* the whole flash before the update */
    size_t ota0_len; /* the image in ota_0 (v1) */
    size_t ota1_len; /* the image in ota_1 (v0): the rollback app when ota_0 runs */
} rig_t;

/* ---------------------------------------------------------------- fixtures */

/* len bytes of deterministic noise from seed. */
static void noise(uint8_t *out, size_t len, uint32_t seed)
{
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        out[i] = (uint8_t)x;
    }
}

static const atota_partition_t *slot(const rig_t *r, const char *name)
{
    return fx_table_get(&r->profile.partitions, name);
}

static const atota_partition_t *custom(const rig_t *r, const char *name)
{
    return fx_table_get(&r->ac, name);
}

static size_t put_image(rig_t *r, const char *slot_name, const char *version, size_t payload)
{
    uint8_t *img = NULL;
    size_t len = fx_build_app_sized(FX_CHIP, version, payload, &img);
    const atota_partition_t *p = slot(r, slot_name);
    assert_true(len <= p->size);
    uint8_t *data = atota_flash_sim_data(r->sim);
    memset(data + p->offset, 0xFF, p->size);
    memcpy(data + p->offset, img, len);
    free(img);
    return len;
}

/* Takes the current flash as the state every case starts from. */
static void rig_snapshot(rig_t *r)
{
    memcpy(r->base, atota_flash_sim_data(r->sim), r->size);
    atota_flash_sim_reset_stats(r->sim);
}

static rig_t *rig_new(bool timing)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    atota_diag_t d = {{0}};
    FX_CHECK(atota_profile_load(PROFILE, &r->profile, &d));
    FX_CHECK(atota_partition_table_parse_csv(AT_CUSTOMIZE_CSV, strlen(AT_CUSTOMIZE_CSV), NULL,
                                             &r->ac, &d));
    r->size = r->profile.flash_size;
    atota_flash_sim_opts_t o;
    memset(&o, 0, sizeof o);
    o.size = r->size;
    o.create = true;
    o.strict = true;
    o.timing = timing;
    FX_CHECK(atota_flash_sim_open(&o, &r->sim, &d));
    r->flash = atota_flash_sim_flash(r->sim);
    uint8_t *data = atota_flash_sim_data(r->sim);

    /* the module's tables, as the factory image lays them out (esp-at-ota.md §5) */
    uint8_t bin[ATOTA_PT_BIN_SIZE];
    FX_CHECK(atota_partition_table_write_bin(&r->profile.partitions, bin, &d));
    memcpy(data + r->profile.partition_table_offset, bin, sizeof bin);
    FX_CHECK(atota_partition_table_write_bin(&r->ac, bin, &d));
    memcpy(data + r->profile.at_customize_offset, bin, sizeof bin);

    r->ota0_len = put_image(r, "ota_0", "v1", 4000);
    r->ota1_len = put_image(r, "ota_1", "v0", 20000);
    /* old contents: mqtt_ca holds a CA bundle (magic F1 F1, §3.5) shorter than the partition */
    const atota_partition_t *ca = custom(r, "mqtt_ca");
    data[ca->offset] = 0xF1;
    data[ca->offset + 1] = 0xF1;
    noise(data + ca->offset + 2, 0x1234, 77);
    const atota_partition_t *fp = custom(r, "factory_param");
    data[fp->offset] = 0xFC;
    data[fp->offset + 1] = 0xFC;
    noise(data + fp->offset + 2, 0x200, 78);

    r->base = malloc(r->size);
    assert_non_null(r->base);
    rig_snapshot(r);
    return r;
}

static void rig_free(rig_t *r)
{
    atota_flash_sim_close(r->sim);
    free(r->base);
    free(r);
}

/* Back to the base state, powered, stats zeroed. */
static void rig_reset(rig_t *r)
{
    atota_flash_sim_disarm_power_cut(r->sim);
    atota_flash_sim_power_on(r->sim);
    memcpy(atota_flash_sim_data(r->sim), r->base, r->size);
    atota_flash_sim_reset_stats(r->sim);
}

static atota_part_update_opts_t opts(const rig_t *r, const char *running, const char *target)
{
    atota_part_update_opts_t o;
    memset(&o, 0, sizeof o);
    o.flash = r->flash;
    o.table = &r->profile.partitions;
    o.running = running ? slot(r, running) : NULL;
    o.target = custom(r, target);
    return o;
}

/* New content for a partition: its magic (F1 F1), then noise. */
static uint8_t *content(size_t len, uint32_t seed)
{
    uint8_t *c = malloc(len);
    assert_non_null(c);
    noise(c, len, seed);
    c[0] = 0xF1;
    if (len > 1)
        c[1] = 0xF1;
    return c;
}

static void expect_err(const char *what, atota_err_t got, atota_err_t want, const atota_diag_t *d)
{
    if (got == want)
        return;
    print_error("%s: expected %s, got %s (%s)\n", what, atota_err_name(want), atota_err_name(got),
                atota_diag_text(d, got));
    fail();
}

/* The partition holds data (len bytes) and then erased bytes to its end. */
static void expect_partition(const rig_t *r, const char *what, const char *name,
                             const uint8_t *data, size_t len)
{
    const atota_partition_t *p = custom(r, name);
    const uint8_t *flash = atota_flash_sim_data(r->sim) + p->offset;
    fx_expect_bytes(what, flash, data, len);
    for (size_t i = len; i < p->size; i++)
        if (flash[i] != 0xFF) {
            print_error("%s: %s byte 0x%zx past the content is %02x, expected ff\n", what, name, i,
                        flash[i]);
            fail();
        }
}

/* The flash outside [from, to) and [from2, to2) is as in the base state. */
static void expect_base_except(const rig_t *r, const char *what, uint32_t from, uint32_t to,
                               uint32_t from2, uint32_t to2)
{
    const uint8_t *now = atota_flash_sim_data(r->sim);
    for (uint32_t a = 0; a < r->size; a++) {
        if ((a >= from && a < to) || (a >= from2 && a < to2))
            continue;
        if (now[a] != r->base[a]) {
            print_error("%s: flash byte 0x%x changed: was %02x, now %02x\n", what, a, r->base[a],
                        now[a]);
            fail();
        }
    }
}

static void expect_untouched(const rig_t *r, const char *what)
{
    expect_base_except(r, what, 0, 0, 0, 0);
}

/* Writes data in chunks following pattern (cycled); returns the first error. */
static atota_err_t write_pattern(atota_part_update_t *u, const uint8_t *data, size_t len,
                                 const size_t *pattern, size_t n, atota_diag_t *d)
{
    for (size_t off = 0, i = 0; off < len; i++) {
        size_t c = pattern[i % n] ? pattern[i % n] : len;
        c = c < len - off ? c : len - off;
        atota_err_t err = atota_part_update_write(u, data + off, c, d);
        if (err)
            return err;
        off += c;
    }
    return ATOTA_OK;
}

/* begin, the bytes in chunks of `chunk` (0: one write), finish; aborts and returns the error. */
static atota_err_t update(const rig_t *r, const char *running, const char *target,
                          const uint8_t *data, size_t len, size_t chunk, const uint8_t *sha,
                          atota_diag_t *d)
{
    atota_part_update_opts_t o = opts(r, running, target);
    atota_part_update_t u;
    atota_err_t err = atota_part_update_begin(&u, &o, (uint32_t)len, d);
    if (!err)
        err = write_pattern(&u, data, len, &chunk, 1, d);
    if (!err)
        err = atota_part_update_finish(&u, sha, d);
    atota_part_update_abort(&u);
    return err;
}

static uint32_t journal_of(const atota_partition_t *p)
{
    return p->offset + p->size - ATOTA_FLASH_SECTOR_SIZE;
}

/* The done word of the journal in this slot. */
static uint32_t done_word(const rig_t *r, const atota_partition_t *p)
{
    const uint8_t *w = atota_flash_sim_data(r->sim) + journal_of(p) + ATOTA_PART_UPDATE_DONE_OFFSET;
    return (uint32_t)w[0] | (uint32_t)w[1] << 8 | (uint32_t)w[2] << 16 | (uint32_t)w[3] << 24;
}

static bool has_record(const rig_t *r, const atota_partition_t *p)
{
    return memcmp(atota_flash_sim_data(r->sim) + journal_of(p), ATOTA_PART_UPDATE_JOURNAL_MAGIC,
                  8) == 0;
}

/* An update of mqtt_ca with data that a power cut stops `after` operations into finish (0: at the
 * record, the commit point; 1: the first target erase...). */
static void interrupted_update(const rig_t *r, const uint8_t *data, size_t len, uint64_t after)
{
    atota_part_update_opts_t o = opts(r, "ota_0", "mqtt_ca");
    atota_part_update_t u;
    atota_diag_t d = {{0}};
    FX_CHECK(atota_part_update_begin(&u, &o, (uint32_t)len, &d));
    FX_CHECK(atota_part_update_write(&u, data, len, &d));
    atota_flash_sim_arm_power_cut(r->sim, (u.page_len ? 1 : 0) + after, ATOTA_POWER_CUT_BEFORE, 0);
    expect_err("interrupted finish", atota_part_update_finish(&u, NULL, &d),
               ATOTA_ERR_FLASH_POWER_CUT, &d);
    assert_int_equal(u.state, ATOTA_PART_UPDATE_FAILED);
    assert_int_equal(u.committed, after > 0);
    atota_part_update_abort(&u);
    atota_flash_sim_power_on(r->sim);
    atota_flash_sim_disarm_power_cut(r->sim);
}

/* ---------------------------------------------------------------- updates */

/* Content in chunks of many sizes: the partition holds it, erased after it; only mqtt_ca and the
 * tail of ota_1 (staging and journal) changed; ota_1's image, the rollback app, is intact and
 * still verifies; the journal says done. */
static void chunks_of_any_size(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    uint8_t *c = content(NEW_LEN, 1);
    static const size_t patterns[][6] = {
        {1}, {7}, {255}, {256}, {1000}, {4096}, {0}, {1, 300, 17, 4096, 256, 999},
    };
    static const size_t pattern_len[] = {1, 1, 1, 1, 1, 1, 1, 6};
    const atota_partition_t *ota1 = slot(r, "ota_1");
    const atota_partition_t *ca = custom(r, "mqtt_ca");
    for (size_t k = 0; k < sizeof pattern_len / sizeof pattern_len[0]; k++) {
        rig_reset(r);
        char what[64];
        snprintf(what, sizeof what, "pattern %zu (first chunk %zu)", k, patterns[k][0]);
        atota_part_update_opts_t o = opts(r, "ota_0", "mqtt_ca");
        atota_part_update_t u;
        atota_diag_t d = {{0}};
        expect_err(what, atota_part_update_begin(&u, &o, NEW_LEN, &d), ATOTA_OK, &d);
        assert_string_equal(u.slot.name, "ota_1");
        assert_int_equal(u.journal, journal_of(ota1));
        assert_int_equal(u.stage_offset, journal_of(ota1) - 0x2000);
        expect_err(what, write_pattern(&u, c, NEW_LEN, patterns[k], pattern_len[k], &d), ATOTA_OK,
                   &d);
        uint8_t sha[32];
        atota_sha256(c, NEW_LEN, sha);
        expect_err(what, atota_part_update_finish(&u, sha, &d), ATOTA_OK, &d);
        assert_int_equal(u.state, ATOTA_PART_UPDATE_DONE);
        assert_true(u.committed);
        atota_part_update_abort(&u);

        expect_partition(r, what, "mqtt_ca", c, NEW_LEN);
        expect_base_except(r, what, ca->offset, ca->offset + ca->size, journal_of(ota1) - 0x2000,
                           ota1->offset + ota1->size);
        fx_expect_bytes(what, atota_flash_sim_data(r->sim) + journal_of(ota1) - 0x2000, c, NEW_LEN);
        assert_true(has_record(r, ota1));
        assert_int_not_equal(done_word(r, ota1), 0xFFFFFFFFu);
        atota_image_info_t info;
        FX_CHECK(atota_image_verify_flash(r->flash, ota1->offset, ota1->size, NULL, &info, &d));
        assert_string_equal(info.app_desc.version, "v0");
        /* one page program per 256 bytes staged, whatever the chunks */
        atota_flash_sim_stats_t st;
        atota_flash_sim_get_stats(r->sim, &st);
        unsigned pages = (NEW_LEN + 255) / 256;
        assert_int_equal(st.pages_programmed,
                         pages /* staged */ + 1 /* record */ + pages /* target */ + 1 /* done */);
        assert_int_equal(st.sector_erases, 1 /* journal */ + 2 /* staging */ + 2 /* target */);
        assert_int_equal(st.block_erases, 0);
    }
    /* the whole partition, and a 1-byte content */
    for (size_t len = 0x2000; len; len = len == 0x2000 ? 1 : 0) {
        rig_reset(r);
        uint8_t *full = content(len, 2);
        atota_diag_t d = {{0}};
        expect_err("full or 1 byte", update(r, "ota_0", "mqtt_ca", full, len, 333, NULL, &d),
                   ATOTA_OK, &d);
        expect_partition(r, "full or 1 byte", "mqtt_ca", full, len);
        free(full);
    }
    free(c);
    rig_free(r);
}

/* The staging slot follows the running app as the OTA writer picks it: running ota_1 stages in
 * ota_0 (whose v1 stays intact), no running OTA slot (NULL) stages in ota_0 too. */
static void staging_slot_follows_running(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    uint8_t *c = content(0x800, 3);
    const atota_partition_t *ota0 = slot(r, "ota_0");
    const atota_partition_t *fp = custom(r, "factory_param");
    const char *running[] = {"ota_1", NULL};
    for (int i = 0; i < 2; i++) {
        rig_reset(r);
        atota_part_update_opts_t o = opts(r, running[i], "factory_param");
        atota_part_update_t u;
        atota_diag_t d = {{0}};
        FX_CHECK(atota_part_update_begin(&u, &o, 0x800, &d));
        assert_string_equal(u.slot.name, "ota_0");
        FX_CHECK(atota_part_update_write(&u, c, 0x800, &d));
        FX_CHECK(atota_part_update_finish(&u, NULL, &d));
        atota_part_update_abort(&u);
        expect_partition(r, "factory_param", "factory_param", c, 0x800);
        expect_base_except(r, "running ota_1", fp->offset, fp->offset + fp->size,
                           journal_of(ota0) - 0x1000, ota0->offset + ota0->size);
        atota_image_info_t info;
        FX_CHECK(atota_image_verify_flash(r->flash, ota0->offset, ota0->size, NULL, &info, &d));
        assert_string_equal(info.app_desc.version, "v1");
    }
    free(c);
    rig_free(r);
}

/* An erased staging slot is all free; a slot with a header whose segments run past it (the copy
 * an aborted OTA leaves) is too. */
static void staging_slot_without_image(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    const atota_partition_t *ota1 = slot(r, "ota_1");
    uint8_t *data = atota_flash_sim_data(r->sim);
    uint8_t *big = content(0x2000, 4);
    for (int k = 0; k < 2; k++) {
        memset(data + ota1->offset, 0xFF, ota1->size);
        if (k == 1) { /* a header, one segment header, then erased bytes: length 0xFFFFFFFF */
            uint8_t *img = NULL;
            size_t n = fx_build_app(FX_CHIP, "v9", &img);
            memcpy(data + ota1->offset, img, 64 < n ? 64 : n);
            free(img);
        }
        rig_snapshot(r);
        atota_diag_t d = {{0}};
        expect_err("no image", update(r, "ota_0", "mqtt_ca", big, 0x2000, 0, NULL, &d), ATOTA_OK,
                   &d);
        expect_partition(r, "no image", "mqtt_ca", big, 0x2000);
    }
    free(big);
    rig_free(r);
}

/* No room: an image filling ota_1 leaves less than the content and the journal need:
 * ATOTA_ERR_OTA_NO_STAGING before any flash operation. The boundary is exact: the image rounded
 * up to 4 KB, one sector for a signature, then the content rounded up and the journal. */
static void no_room_refused_before_any_write(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    const atota_partition_t *ota1 = slot(r, "ota_1");
    r->ota1_len = put_image(r, "ota_1", "v0-big", ota1->size - 0x3800);
    rig_snapshot(r);
    uint32_t keep = ((uint32_t)r->ota1_len + 0xFFF) / 0x1000 * 0x1000 + 0x1000;
    uint32_t room = ota1->size - keep;
    assert_true(room >= 0x1000 && room < 0x2000 + 0x1000); /* mqtt_ca whole does not fit */

    uint8_t *c = content(0x2000, 5);
    atota_diag_t d = {{0}};
    expect_err("no room", update(r, "ota_0", "mqtt_ca", c, 0x2000, 0, NULL, &d),
               ATOTA_ERR_OTA_NO_STAGING, &d);
    fx_expect_text("no room: message", d.msg,
                   "staging mqtt_ca (8192 bytes) needs 0x3000 bytes at the end of ota_1; the app "
                   "image there (the rollback app) and its signature sector take 0x17e000, "
                   "leaving 0x2000");
    assert_int_equal(fx_mutating_ops(r->sim), 0);
    expect_untouched(r, "no room");

    /* exactly the room there is: accepted; one byte more: refused */
    uint32_t fit = room - 0x1000;
    if (fit > 0) {
        rig_reset(r);
        expect_err("exact fit", update(r, "ota_0", "mqtt_ca", c, fit, 100, NULL, &d), ATOTA_OK, &d);
        expect_partition(r, "exact fit", "mqtt_ca", c, fit);
        fx_expect_bytes("exact fit: ota_1", atota_flash_sim_data(r->sim) + ota1->offset,
                        r->base + ota1->offset, keep);
    }
    rig_reset(r);
    atota_part_update_opts_t o = opts(r, "ota_0", "mqtt_ca");
    atota_part_update_t u;
    expect_err("one byte more", atota_part_update_begin(&u, &o, fit + 1, &d),
               ATOTA_ERR_OTA_NO_STAGING, &d);
    assert_int_equal(u.state, ATOTA_PART_UPDATE_IDLE);
    assert_int_equal(fx_mutating_ops(r->sim), 0);

    /* a table whose only OTA slot runs: nowhere to stage */
    atota_partition_table_t one;
    memset(&one, 0, sizeof one);
    fx_table_add(&one, "ota_0", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0, 0x100000, 0x180000);
    o.table = &one;
    o.running = &one.entries[0];
    expect_err("single slot", atota_part_update_begin(&u, &o, 0x100, &d), ATOTA_ERR_OTA_NO_STAGING,
               &d);
    assert_int_equal(fx_mutating_ops(r->sim), 0);
    free(c);
    rig_free(r);
}

/* Refused up front, nothing written: a length above the partition (TOO_BIG), 0, a target that
 * is not whole sectors or overlaps an app slot (INVALID_ARG). */
static void bad_arguments_write_nothing(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    atota_part_update_opts_t o = opts(r, "ota_0", "mqtt_ca");
    atota_part_update_t u;
    atota_diag_t d = {{0}};
    expect_err("0x2001 bytes", atota_part_update_begin(&u, &o, 0x2001, &d), ATOTA_ERR_TOO_BIG, &d);
    assert_non_null(strstr(d.msg, "mqtt_ca"));
    expect_err("0 bytes", atota_part_update_begin(&u, &o, 0, &d), ATOTA_ERR_INVALID_ARG, &d);
    atota_partition_t odd = *custom(r, "mqtt_ca");
    odd.offset += 0x100;
    o.target = &odd;
    expect_err("unaligned", atota_part_update_begin(&u, &o, 0x100, &d), ATOTA_ERR_INVALID_ARG, &d);
    atota_partition_t over = *custom(r, "mqtt_ca");
    over.offset = slot(r, "ota_1")->offset + 0x1000;
    o.target = &over;
    expect_err("over ota_1", atota_part_update_begin(&u, &o, 0x100, &d), ATOTA_ERR_INVALID_ARG, &d);
    assert_non_null(strstr(d.msg, "ota_1"));
    o.target = NULL;
    expect_err("no target", atota_part_update_begin(&u, &o, 0x100, &d), ATOTA_ERR_INVALID_ARG, &d);
    assert_int_equal(fx_mutating_ops(r->sim), 0);
    expect_untouched(r, "bad arguments");
    rig_free(r);
}

/* More bytes than announced: TOO_BIG on the write that passes the length, sticky; the partition
 * is untouched and nothing is committed. */
static void too_many_bytes(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    uint8_t *c = content(0x1000, 6);
    atota_part_update_opts_t o = opts(r, "ota_0", "mqtt_ca");
    atota_part_update_t u;
    atota_diag_t d = {{0}};
    FX_CHECK(atota_part_update_begin(&u, &o, 0x800, &d));
    FX_CHECK(atota_part_update_write(&u, c, 0x400, &d));
    expect_err("too many", atota_part_update_write(&u, c + 0x400, 0x401, &d), ATOTA_ERR_TOO_BIG,
               &d);
    assert_int_equal(u.state, ATOTA_PART_UPDATE_FAILED);
    expect_err("sticky write", atota_part_update_write(&u, c, 1, &d), ATOTA_ERR_TOO_BIG, &d);
    expect_err("sticky finish", atota_part_update_finish(&u, NULL, &d), ATOTA_ERR_TOO_BIG, &d);
    atota_part_update_abort(&u);
    const atota_partition_t *ca = custom(r, "mqtt_ca");
    fx_expect_bytes("too many: mqtt_ca", atota_flash_sim_data(r->sim) + ca->offset,
                    r->base + ca->offset, ca->size);
    assert_false(has_record(r, slot(r, "ota_1")));
    free(c);
    rig_free(r);
}

/* Fewer bytes than announced (a dropped connection): IMAGE_TRUNCATED, the partition untouched;
 * a wrong expected SHA-256: IMAGE_HASH, untouched; abort half-way: untouched, and the next update
 * goes through. */
static void refusals_leave_target_untouched(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    uint8_t *c = content(NEW_LEN, 7);
    const atota_partition_t *ca = custom(r, "mqtt_ca");
    const atota_partition_t *ota1 = slot(r, "ota_1");
    atota_diag_t d = {{0}};

    atota_part_update_opts_t o = opts(r, "ota_0", "mqtt_ca");
    atota_part_update_t u;
    FX_CHECK(atota_part_update_begin(&u, &o, NEW_LEN, &d));
    FX_CHECK(atota_part_update_write(&u, c, NEW_LEN - 1, &d));
    expect_err("truncated", atota_part_update_finish(&u, NULL, &d), ATOTA_ERR_IMAGE_TRUNCATED, &d);
    assert_non_null(strstr(d.msg, "mqtt_ca"));
    assert_false(u.committed);
    atota_part_update_abort(&u);
    expect_base_except(r, "truncated", journal_of(ota1) - 0x2000, ota1->offset + ota1->size, 0, 0);
    assert_false(has_record(r, ota1));

    rig_reset(r);
    uint8_t wrong[32];
    atota_sha256(c, NEW_LEN, wrong);
    wrong[31] ^= 1;
    expect_err("wrong sha", update(r, "ota_0", "mqtt_ca", c, NEW_LEN, 512, wrong, &d),
               ATOTA_ERR_IMAGE_HASH, &d);
    assert_non_null(strstr(d.msg, "expected"));
    expect_base_except(r, "wrong sha", journal_of(ota1) - 0x2000, ota1->offset + ota1->size, 0, 0);
    assert_false(has_record(r, ota1));

    rig_reset(r);
    FX_CHECK(atota_part_update_begin(&u, &o, NEW_LEN, &d));
    FX_CHECK(atota_part_update_write(&u, c, NEW_LEN / 2, &d));
    atota_part_update_abort(&u);
    assert_int_equal(u.state, ATOTA_PART_UPDATE_IDLE);
    expect_base_except(r, "abort", journal_of(ota1) - 0x2000, ota1->offset + ota1->size, 0, 0);
    expect_err("after abort", update(r, "ota_0", "mqtt_ca", c, NEW_LEN, 4096, NULL, &d), ATOTA_OK,
               &d);
    expect_partition(r, "after abort", "mqtt_ca", c, NEW_LEN);
    fx_expect_bytes("after abort: mqtt_ca", atota_flash_sim_data(r->sim) + ca->offset, c, NEW_LEN);

    /* calls out of turn */
    atota_part_update_t idle;
    memset(&idle, 0, sizeof idle);
    expect_err("write idle", atota_part_update_write(&idle, c, 1, &d), ATOTA_ERR_STATE, &d);
    expect_err("finish idle", atota_part_update_finish(&idle, NULL, &d), ATOTA_ERR_STATE, &d);
    atota_part_update_abort(&idle);
    atota_part_update_abort(NULL);
    free(c);
    rig_free(r);
}

/* Two updates in a row: the second stages over the first's leftovers (its journal is erased
 * first) and wins; recover then has nothing to do. */
static void updates_in_a_row(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    uint8_t *a = content(NEW_LEN, 8);
    uint8_t *b = content(0x900, 9);
    atota_diag_t d = {{0}};
    FX_CHECK(update(r, "ota_0", "mqtt_ca", a, NEW_LEN, 700, NULL, &d));
    FX_CHECK(update(r, "ota_0", "mqtt_ca", b, 0x900, 700, NULL, &d));
    expect_partition(r, "second", "mqtt_ca", b, 0x900);
    char label[ATOTA_PT_NAME_LEN + 1] = "x";
    atota_flash_sim_reset_stats(r->sim);
    FX_CHECK(atota_part_update_recover(r->flash, &r->profile.partitions, &r->ac, label, &d));
    assert_string_equal(label, "");
    assert_int_equal(fx_mutating_ops(r->sim), 0);
    expect_partition(r, "after recover", "mqtt_ca", b, 0x900);
    free(a);
    free(b);
    rig_free(r);
}

/* ---------------------------------------------------------------- recovery */

/* Nothing to do on a fresh flash: OK, label "", not one flash write. */
static void recover_nothing_to_do(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    char label[ATOTA_PT_NAME_LEN + 1] = "x";
    atota_diag_t d = {{0}};
    FX_CHECK(atota_part_update_recover(r->flash, &r->profile.partitions, &r->ac, label, &d));
    assert_string_equal(label, "");
    assert_int_equal(fx_mutating_ops(r->sim), 0);
    expect_untouched(r, "recover");
    FX_CHECK(atota_part_update_recover(r->flash, &r->profile.partitions, &r->ac, NULL, NULL));
    expect_err("no table", atota_part_update_recover(r->flash, NULL, &r->ac, label, &d),
               ATOTA_ERR_INVALID_ARG, &d);
    rig_free(r);
}

/* A power cut at every step after the commit (the target erase, its programming, the done
 * word): recover completes the update; a second recover has nothing to do. A cut at the commit
 * itself leaves nothing to recover and the old content. While a committed update waits, begin
 * refuses a new one. */
static void recover_completes_interrupted(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    uint8_t *c = content(NEW_LEN, 10);
    const atota_partition_t *ca = custom(r, "mqtt_ca");
    const atota_partition_t *ota1 = slot(r, "ota_1");
    unsigned pages = (NEW_LEN + 255) / 256;
    /* after 0: cut at the record; 1..2: the target's sector erases; 3..: its pages; last: done */
    for (uint64_t after = 0; after <= 3 + pages; after++) {
        rig_reset(r);
        char what[64];
        snprintf(what, sizeof what, "cut %llu operations into the commit",
                 (unsigned long long)after);
        interrupted_update(r, c, NEW_LEN, after);
        atota_diag_t d = {{0}};
        char label[ATOTA_PT_NAME_LEN + 1] = "x";
        if (after == 0) {
            FX_CHECK(
                atota_part_update_recover(r->flash, &r->profile.partitions, &r->ac, label, &d));
            assert_string_equal(label, "");
            fx_expect_bytes(what, atota_flash_sim_data(r->sim) + ca->offset, r->base + ca->offset,
                            ca->size);
            continue;
        }
        assert_true(has_record(r, ota1));
        assert_int_equal(done_word(r, ota1), 0xFFFFFFFFu);
        atota_part_update_opts_t o = opts(r, "ota_0", "factory_param");
        atota_part_update_t u;
        expect_err(what, atota_part_update_begin(&u, &o, 0x10, &d), ATOTA_ERR_STATE, &d);
        assert_non_null(strstr(d.msg, "mqtt_ca"));

        expect_err(what,
                   atota_part_update_recover(r->flash, &r->profile.partitions, &r->ac, label, &d),
                   ATOTA_OK, &d);
        assert_string_equal(label, "mqtt_ca");
        expect_partition(r, what, "mqtt_ca", c, NEW_LEN);
        assert_int_not_equal(done_word(r, ota1), 0xFFFFFFFFu);
        fx_expect_bytes(what, atota_flash_sim_data(r->sim) + ota1->offset, r->base + ota1->offset,
                        (uint32_t)r->ota1_len);
        atota_flash_sim_reset_stats(r->sim);
        FX_CHECK(atota_part_update_recover(r->flash, &r->profile.partitions, &r->ac, label, &d));
        assert_string_equal(label, "");
        assert_int_equal(fx_mutating_ops(r->sim), 0);
        FX_CHECK(atota_part_update_begin(&u, &o, 0x10, &d)); /* no longer refused */
        atota_part_update_abort(&u);
    }
    free(c);
    rig_free(r);
}

/* A committed update whose target no longer matches at_customize (moved, or gone): marked done
 * and reported as NOT_FOUND naming the partition, nothing written to where it is now; a damaged
 * staged copy: marked done, IMAGE_HASH. Either way the next recover has nothing to do. */
static void recover_drops_what_it_cannot_complete(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    uint8_t *c = content(NEW_LEN, 11);
    const atota_partition_t *ota1 = slot(r, "ota_1");
    char label[ATOTA_PT_NAME_LEN + 1];
    atota_diag_t d = {{0}};

    for (int k = 0; k < 2; k++) {
        rig_reset(r);
        interrupted_update(r, c, NEW_LEN, 3);
        atota_partition_table_t moved = r->ac;
        atota_partition_t *ca = (atota_partition_t *)fx_table_get(&moved, "mqtt_ca");
        if (k == 0)
            ca->offset = 0x50000; /* moved */
        else
            snprintf(ca->name, sizeof ca->name, "mqtt_ca_v2"); /* renamed: gone */
        uint8_t *before = malloc(r->size);
        assert_non_null(before);
        memcpy(before, atota_flash_sim_data(r->sim), r->size);
        expect_err("target gone",
                   atota_part_update_recover(r->flash, &r->profile.partitions, &moved, label, &d),
                   ATOTA_ERR_NOT_FOUND, &d);
        assert_string_equal(label, "mqtt_ca");
        assert_non_null(strstr(d.msg, "mqtt_ca"));
        assert_int_not_equal(done_word(r, ota1), 0xFFFFFFFFu);
        /* only the done word changed */
        uint32_t done_at = journal_of(ota1) + ATOTA_PART_UPDATE_DONE_OFFSET;
        const uint8_t *now = atota_flash_sim_data(r->sim);
        for (uint32_t a = 0; a < r->size; a++)
            if ((a < done_at || a >= done_at + 4) && now[a] != before[a]) {
                print_error("target gone: byte 0x%x changed\n", a);
                fail();
            }
        free(before);
        FX_CHECK(atota_part_update_recover(r->flash, &r->profile.partitions, &r->ac, label, &d));
        assert_string_equal(label, "");
    }

    rig_reset(r);
    interrupted_update(r, c, NEW_LEN, 3);
    atota_flash_sim_data(r->sim)[journal_of(ota1) - 0x2000 + 100] ^= 0x40; /* bit rot, staged */
    expect_err("staged copy damaged",
               atota_part_update_recover(r->flash, &r->profile.partitions, &r->ac, label, &d),
               ATOTA_ERR_IMAGE_HASH, &d);
    assert_string_equal(label, "mqtt_ca");
    assert_non_null(strstr(d.msg, "ota_1"));
    assert_int_not_equal(done_word(r, ota1), 0xFFFFFFFFu);
    FX_CHECK(atota_part_update_recover(r->flash, &r->profile.partitions, &r->ac, label, &d));
    assert_string_equal(label, "");
    free(c);
    rig_free(r);
}

/* Recovery looks at every OTA slot: an update staged in ota_0 (running ota_1) and interrupted is
 * completed whatever the running slot is at the next boot (the bootloader may have rolled back
 * to the staging slot itself). */
static void recover_scans_every_slot(void **state)
{
    (void)state;
    rig_t *r = rig_new(false);
    uint8_t *c = content(0x800, 12);
    atota_part_update_opts_t o = opts(r, "ota_1", "factory_param");
    atota_part_update_t u;
    atota_diag_t d = {{0}};
    FX_CHECK(atota_part_update_begin(&u, &o, 0x800, &d));
    FX_CHECK(atota_part_update_write(&u, c, 0x800, &d));
    atota_flash_sim_arm_power_cut(r->sim, 2, ATOTA_POWER_CUT_MIDDLE, 42);
    expect_err("cut", atota_part_update_finish(&u, NULL, &d), ATOTA_ERR_FLASH_POWER_CUT, &d);
    atota_part_update_abort(&u);
    atota_flash_sim_power_on(r->sim);
    char label[ATOTA_PT_NAME_LEN + 1];
    FX_CHECK(atota_part_update_recover(r->flash, &r->profile.partitions, &r->ac, label, &d));
    assert_string_equal(label, "factory_param");
    expect_partition(r, "ota_0 journal", "factory_param", c, 0x800);
    const atota_partition_t *ota0 = slot(r, "ota_0");
    fx_expect_bytes("ota_0 image", atota_flash_sim_data(r->sim) + ota0->offset,
                    r->base + ota0->offset, (uint32_t)r->ota0_len);
    free(c);
    rig_free(r);
}

/* ---------------------------------------------------------------- cost */

/* What the update costs against ESP-AT's in-place write (erase the partition, program it), with
 * the flash model's datasheet timings: printed for docs/part-update.md. The content is programmed
 * twice, plus the record and the done word; the staging range and the journal are erased besides
 * the partition. */
static void cost_against_in_place(void **state)
{
    (void)state;
    rig_t *r = rig_new(true);
    static const struct {
        const char *target;
        uint32_t len;
    } cases[] = {{"mqtt_ca", NEW_LEN}, {"mqtt_ca", 0x2000}, {"fs_storage", 0x19123}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t len = cases[i].len;
        const atota_partition_t *t = custom(r, cases[i].target);
        uint8_t *c = content(len, 13);
        rig_reset(r);
        atota_diag_t d = {{0}};
        FX_CHECK(update(r, "ota_0", cases[i].target, c, len, 1024, NULL, &d));
        expect_partition(r, "cost", cases[i].target, c, len);
        atota_flash_sim_stats_t ours;
        atota_flash_sim_get_stats(r->sim, &ours);

        rig_reset(r);
        FX_CHECK(atota_flash_erase(r->flash, t->offset, t->size));
        for (uint32_t off = 0; off < len; off += 1024)
            FX_CHECK(atota_flash_write(r->flash, t->offset + off, c + off,
                                       len - off < 1024 ? len - off : 1024));
        atota_flash_sim_stats_t esp_at;
        atota_flash_sim_get_stats(r->sim, &esp_at);
        print_message("%s (0x%x), %u bytes: staged update %llu page programs, %llu sector + %llu "
                      "block erases, %llu bytes read, %.1f ms; ESP-AT in place %llu page "
                      "programs, %llu sector + %llu block erases, %.1f ms; ratio %.2f\n",
                      t->name, t->size, len, (unsigned long long)ours.pages_programmed,
                      (unsigned long long)ours.sector_erases, (unsigned long long)ours.block_erases,
                      (unsigned long long)ours.bytes_read, ours.modelled_us / 1000.0,
                      (unsigned long long)esp_at.pages_programmed,
                      (unsigned long long)esp_at.sector_erases,
                      (unsigned long long)esp_at.block_erases, esp_at.modelled_us / 1000.0,
                      (double)ours.modelled_us / (double)esp_at.modelled_us);
        assert_int_equal(ours.pages_programmed, 2 * esp_at.pages_programmed + 2);
        if (t->size == 0x2000) /* 1 journal + 2 staging sectors, against the partition's 2 */
            assert_int_equal(ours.sector_erases, 2 * esp_at.sector_erases + 1);
        assert_true(ours.modelled_us < 3 * esp_at.modelled_us);
        free(c);
    }
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chunks_of_any_size),
        cmocka_unit_test(staging_slot_follows_running),
        cmocka_unit_test(staging_slot_without_image),
        cmocka_unit_test(no_room_refused_before_any_write),
        cmocka_unit_test(bad_arguments_write_nothing),
        cmocka_unit_test(too_many_bytes),
        cmocka_unit_test(refusals_leave_target_untouched),
        cmocka_unit_test(updates_in_a_row),
        cmocka_unit_test(recover_nothing_to_do),
        cmocka_unit_test(recover_completes_interrupted),
        cmocka_unit_test(recover_drops_what_it_cannot_complete),
        cmocka_unit_test(recover_scans_every_slot),
        cmocka_unit_test(cost_against_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
