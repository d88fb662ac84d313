/*
 * ESP-IDF's NVS format (core/fmt/nvs.h, docs/nvs.md): values of every type, namespaces, a full
 * partition and compaction, byte-level layout against values computed by hand from the format
 * and against binaries made by ESP-IDF's nvs_partition_gen.py (tests/vectors/nvs), damaged data,
 * and a power-cut sweep over a sequence of sets that forces compactions.
 */
#include "core/fmt/nvs.h"
#include "support/fixture.h"

#define SIM_SIZE 0x10000u
#define NVS_OFF  0x1000u
#define PAGE     0x1000u

static void open_nvs(atota_flash_sim_t *sim, atota_nvs_t *nvs, uint32_t size)
{
    atota_diag_t d;
    atota_err_t err = atota_nvs_open(nvs, atota_flash_sim_flash(sim), NVS_OFF, size, false, &d);
    if (err) {
        print_error("atota_nvs_open: %s\n", atota_diag_text(&d, err));
        fail();
    }
}

static int64_t get_int(atota_nvs_t *nvs, const char *ns, const char *key, atota_nvs_type_t t)
{
    int64_t v = 0;
    FX_CHECK(atota_nvs_get_int(nvs, ns, key, t, &v));
    return v;
}

static void expect_str(atota_nvs_t *nvs, const char *ns, const char *key, const char *want)
{
    static char buf[ATOTA_NVS_STR_MAX];
    size_t len = 0;
    FX_CHECK(atota_nvs_get_str(nvs, ns, key, buf, sizeof buf, &len));
    assert_int_equal(len, strlen(want));
    fx_expect_text(key, buf, want);
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * (seed | 1) + seed + (i >> 8));
}

static void expect_blob(atota_nvs_t *nvs, const char *ns, const char *key, const uint8_t *want,
                        size_t n)
{
    size_t len = 0;
    FX_CHECK(atota_nvs_get_blob(nvs, ns, key, NULL, 0, &len));
    assert_int_equal(len, n);
    uint8_t *buf = malloc(n + 1);
    assert_non_null(buf);
    FX_CHECK(atota_nvs_get_blob(nvs, ns, key, buf, n, &len));
    assert_memory_equal(buf, want, n);
    free(buf);
}

/* An independent CRC-32 (table-driven, reflected 0xEDB88320, init and xorout ~0): what
 * esp_rom_crc32_le(0xFFFFFFFF, ...) and zlib.crc32(data, 0xFFFFFFFF) compute. */
static uint32_t ref_crc(uint32_t crc, const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An item as the documentation lays it out, built by hand. */
static void hand_item(uint8_t e[32], uint8_t ns, uint8_t type, uint8_t span, uint8_t chunk,
                      const char *key, const uint8_t data[8])
{
    e[0] = ns;
    e[1] = type;
    e[2] = span;
    e[3] = chunk;
    memset(e + 8, 0, 16);
    memcpy(e + 8, key, strlen(key));
    memcpy(e + 24, data, 8);
    uint8_t c[28];
    memcpy(c, e, 4);
    memcpy(c + 4, e + 8, 24);
    uint32_t crc = ref_crc(0xFFFFFFFFu, c, 28);
    for (int i = 0; i < 4; i++)
        e[4 + i] = (uint8_t)(crc >> (8 * i));
}

/* ---- basics -------------------------------------------------------------------------------- */

static void blank_partition_is_formatted(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 3 * PAGE);
    assert_int_equal(fx_mutating_ops(sim), 0); /* nvs_flash_init writes nothing on a blank one */
    int64_t v;
    FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND, atota_nvs_get_int(&nvs, "ns", "k", ATOTA_NVS_U8, &v));
    FX_CHECK(atota_nvs_set_int(&nvs, "ns", "k", ATOTA_NVS_U8, 1));
    uint8_t *p = atota_flash_sim_data(sim) + NVS_OFF;
    /* page 0: ACTIVE, seq 0, version 0xFE; pages 1 and 2 untouched */
    assert_int_equal(le32(p), 0xFFFFFFFEu);
    assert_int_equal(le32(p + 4), 0);
    assert_int_equal(p[8], 0xFE);
    assert_true(fx_is_blank(p + PAGE, 2 * PAGE));

    /* foreign data: refused unless format */
    atota_flash_sim_t *junk = fx_sim_new(SIM_SIZE);
    uint8_t *j = atota_flash_sim_data(junk) + NVS_OFF;
    for (unsigned i = 0; i < 100; i++)
        j[PAGE + i * 7] = (uint8_t)i;
    atota_diag_t d;
    FX_EXPECT_ERR(ATOTA_ERR_NVS_CORRUPT,
                  atota_nvs_open(&nvs, atota_flash_sim_flash(junk), NVS_OFF, 3 * PAGE, false, &d));
    assert_true(strstr(d.msg, "not an NVS partition") != NULL);
    FX_EXPECT_ERR(ATOTA_ERR_STATE, atota_nvs_set_int(&nvs, "ns", "k", ATOTA_NVS_U8, 1));
    FX_CHECK(atota_nvs_open(&nvs, atota_flash_sim_flash(junk), NVS_OFF, 3 * PAGE, true, &d));
    assert_true(fx_is_blank(j, 3 * PAGE));
    FX_CHECK(atota_nvs_set_str(&nvs, "ns", "k", "v"));
    open_nvs(junk, &nvs, 3 * PAGE);
    expect_str(&nvs, "ns", "k", "v");

    /* bad geometry */
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG,
                  atota_nvs_open(&nvs, atota_flash_sim_flash(sim), NVS_OFF, 2 * PAGE, false, NULL));
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG,
                  atota_nvs_open(&nvs, atota_flash_sim_flash(sim), 0x1800, 3 * PAGE, false, NULL));
    atota_flash_sim_close(junk);
    atota_flash_sim_close(sim);
}

static void integers_of_every_width(void **state)
{
    (void)state;
    static const struct {
        atota_nvs_type_t type;
        int64_t min, max;
    } t[] = {
        {ATOTA_NVS_U8, 0, 255},
        {ATOTA_NVS_I8, -128, 127},
        {ATOTA_NVS_U16, 0, 65535},
        {ATOTA_NVS_I16, -32768, 32767},
        {ATOTA_NVS_U32, 0, 0xFFFFFFFFll},
        {ATOTA_NVS_I32, INT32_MIN, INT32_MAX},
        {ATOTA_NVS_U64, 0, -1 /* 0xFFFF...: stored as the same 64 bits */},
        {ATOTA_NVS_I64, INT64_MIN, INT64_MAX},
    };
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 4 * PAGE);
    char key[16];
    for (unsigned i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "min%u", i);
        FX_CHECK(atota_nvs_set_int(&nvs, "ints", key, t[i].type, t[i].min));
        snprintf(key, sizeof key, "max%u", i);
        FX_CHECK(atota_nvs_set_int(&nvs, "ints", key, t[i].type, t[i].max));
        if (t[i].type != ATOTA_NVS_U64 && t[i].type != ATOTA_NVS_I64) {
            FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG,
                          atota_nvs_set_int(&nvs, "ints", key, t[i].type, t[i].max + 1));
            FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG,
                          atota_nvs_set_int(&nvs, "ints", key, t[i].type, t[i].min - 1));
        }
    }
    for (int round = 0; round < 2; round++) {
        for (unsigned i = 0; i < 8; i++) {
            snprintf(key, sizeof key, "min%u", i);
            assert_true(get_int(&nvs, "ints", key, t[i].type) == t[i].min);
            snprintf(key, sizeof key, "max%u", i);
            assert_true(get_int(&nvs, "ints", key, t[i].type) == t[i].max);
        }
        int64_t v;
        FX_EXPECT_ERR(ATOTA_ERR_NVS_TYPE,
                      atota_nvs_get_int(&nvs, "ints", "max0", ATOTA_NVS_I8, &v));
        FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND,
                      atota_nvs_get_int(&nvs, "ints", "none", ATOTA_NVS_U8, &v));
        FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND,
                      atota_nvs_get_int(&nvs, "other", "max0", ATOTA_NVS_U8, &v));
        FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG,
                      atota_nvs_get_int(&nvs, "ints", "0123456789abcdef", ATOTA_NVS_U8, &v));
        FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG,
                      atota_nvs_get_int(&nvs, "ints", "x", ATOTA_NVS_STR, &v));
        open_nvs(sim, &nvs, 4 * PAGE); /* the same after a reopen */
    }
    atota_flash_sim_close(sim);
}

static void strings_short_spanning_and_max(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 4 * PAGE);
    static char big[ATOTA_NVS_STR_MAX + 1], medium[301];
    memset(big, 'x', ATOTA_NVS_STR_MAX - 1); /* 3999 characters + NUL = 4000 bytes */
    for (unsigned i = 0; i < 300; i++)
        medium[i] = (char)('a' + i % 26);
    FX_CHECK(atota_nvs_set_str(&nvs, "s", "empty", ""));
    FX_CHECK(atota_nvs_set_str(&nvs, "s", "short", "hi"));
    FX_CHECK(atota_nvs_set_str(&nvs, "s", "medium", medium));
    FX_CHECK(atota_nvs_set_str(&nvs, "s", "max", big));
    big[ATOTA_NVS_STR_MAX - 1] = 'y';
    FX_EXPECT_ERR(ATOTA_ERR_TOO_BIG, atota_nvs_set_str(&nvs, "s", "toobig", big));
    big[ATOTA_NVS_STR_MAX - 1] = 0;
    for (int round = 0; round < 2; round++) {
        expect_str(&nvs, "s", "empty", "");
        expect_str(&nvs, "s", "short", "hi");
        expect_str(&nvs, "s", "medium", medium);
        expect_str(&nvs, "s", "max", big);
        char small[3];
        size_t len = 0;
        FX_EXPECT_ERR(ATOTA_ERR_TOO_BIG, atota_nvs_get_str(&nvs, "s", "medium", small, 3, &len));
        assert_int_equal(len, 300);
        FX_EXPECT_ERR(ATOTA_ERR_NVS_TYPE, atota_nvs_get_blob(&nvs, "s", "short", NULL, 0, &len));
        open_nvs(sim, &nvs, 4 * PAGE);
    }
    atota_flash_sim_close(sim);
}

static void blobs_across_pages(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 8 * PAGE);
    static uint8_t a[10000], b[7000];
    pattern(a, sizeof a, 3);
    pattern(b, sizeof b, 5);
    FX_CHECK(atota_nvs_set_int(&nvs, "bl", "before", ATOTA_NVS_U8, 1));
    FX_CHECK(atota_nvs_set_blob(&nvs, "bl", "big", a, sizeof a));
    FX_CHECK(atota_nvs_set_blob(&nvs, "bl", "zero", "", 0));
    FX_CHECK(atota_nvs_set_blob(&nvs, "bl", "small", b, 40));
    expect_blob(&nvs, "bl", "big", a, sizeof a);
    expect_blob(&nvs, "bl", "small", b, 40);
    expect_blob(&nvs, "bl", "zero", b, 0);
    /* overwrite: the new version goes to chunk indexes 0x80.., the old one is erased */
    FX_CHECK(atota_nvs_set_blob(&nvs, "bl", "big", b, sizeof b));
    for (int round = 0; round < 2; round++) {
        expect_blob(&nvs, "bl", "big", b, sizeof b);
        expect_blob(&nvs, "bl", "small", b, 40);
        assert_int_equal(get_int(&nvs, "bl", "before", ATOTA_NVS_U8), 1);
        uint8_t tiny[10];
        size_t len;
        FX_EXPECT_ERR(ATOTA_ERR_TOO_BIG, atota_nvs_get_blob(&nvs, "bl", "big", tiny, 10, &len));
        open_nvs(sim, &nvs, 8 * PAGE);
    }
    /* at most (pages - 1) x 4000 bytes (writeMultiPageBlob's limit) */
    static uint8_t huge[7 * 4000 + 1];
    FX_EXPECT_ERR(ATOTA_ERR_TOO_BIG, atota_nvs_set_blob(&nvs, "bl", "huge", huge, 7 * 4000 + 1));
    FX_CHECK(atota_nvs_set_blob(&nvs, "bl", "big", a, sizeof a));
    expect_blob(&nvs, "bl", "big", a, sizeof a);
    atota_flash_sim_close(sim);
}

static void overwrite_keeps_one_value(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 3 * PAGE);
    FX_CHECK(atota_nvs_set_int(&nvs, "o", "k", ATOTA_NVS_U32, 7));
    uint64_t ops = fx_mutating_ops(sim);
    FX_CHECK(atota_nvs_set_int(&nvs, "o", "k", ATOTA_NVS_U32, 7)); /* same value: nothing written */
    FX_CHECK(atota_nvs_set_str(&nvs, "o", "s", "same"));
    ops = fx_mutating_ops(sim);
    FX_CHECK(atota_nvs_set_str(&nvs, "o", "s", "same"));
    assert_int_equal(fx_mutating_ops(sim), ops);
    FX_CHECK(atota_nvs_set_int(&nvs, "o", "k", ATOTA_NVS_U32, 8));
    assert_int_equal(get_int(&nvs, "o", "k", ATOTA_NVS_U32), 8);
    /* another type replaces the value (ESP-IDF without CONFIG_NVS_LEGACY_DUP_KEYS_COMPATIBILITY) */
    FX_CHECK(atota_nvs_set_str(&nvs, "o", "k", "now a string"));
    int64_t v;
    FX_EXPECT_ERR(ATOTA_ERR_NVS_TYPE, atota_nvs_get_int(&nvs, "o", "k", ATOTA_NVS_U32, &v));
    expect_str(&nvs, "o", "k", "now a string");
    static uint8_t blob[5000];
    pattern(blob, sizeof blob, 9);
    FX_CHECK(atota_nvs_set_blob(&nvs, "o", "k", blob, sizeof blob));
    FX_CHECK(atota_nvs_set_int(&nvs, "o", "k", ATOTA_NVS_I8, -3));
    /* one live item for "k" (and "s"): the blob's chunks went with it */
    const uint8_t *p = atota_flash_sim_data(sim) + NVS_OFF;
    unsigned live = 0;
    for (unsigned pg = 0; pg < 3; pg++)
        for (unsigned i = 0; i < 126; i++) {
            const uint8_t *e = p + pg * PAGE + 64 + i * 32;
            unsigned st = (p[pg * PAGE + 32 + i / 4] >> ((i % 4) * 2)) & 3;
            if (st == 2 && e[0] != 0 && e[2] >= 1 && memcmp(e + 8, "k", 2) == 0)
                live++;
        }
    assert_int_equal(live, 1);
    open_nvs(sim, &nvs, 3 * PAGE);
    assert_int_equal(get_int(&nvs, "o", "k", ATOTA_NVS_I8), -3);
    expect_str(&nvs, "o", "s", "same");
    atota_flash_sim_close(sim);
}

typedef struct {
    unsigned count, blobs;
    size_t bytes;
    char last[64];
} listing_t;

static void list_one(void *ctx, const char *ns, const char *key, atota_nvs_type_t type, size_t size)
{
    listing_t *l = ctx;
    l->count++;
    l->bytes += size;
    l->blobs += type == ATOTA_NVS_BLOB;
    snprintf(l->last, sizeof l->last, "%s/%s", ns, key);
}

static void erase_key_namespace_all(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 6 * PAGE);
    static uint8_t blob[6000];
    pattern(blob, sizeof blob, 1);
    FX_CHECK(atota_nvs_set_int(&nvs, "a", "i", ATOTA_NVS_I16, -5));
    FX_CHECK(atota_nvs_set_str(&nvs, "a", "s", "text"));
    FX_CHECK(atota_nvs_set_blob(&nvs, "a", "b", blob, sizeof blob));
    FX_CHECK(atota_nvs_set_int(&nvs, "b", "i", ATOTA_NVS_U8, 9));
    FX_CHECK(atota_nvs_set_blob(&nvs, "b", "b", blob, 100));
    listing_t l = {0};
    FX_CHECK(atota_nvs_foreach(&nvs, list_one, &l));
    assert_int_equal(l.count, 5);
    assert_int_equal(l.blobs, 2);
    assert_int_equal(l.bytes, 2 + 5 + 6000 + 1 + 100);

    FX_CHECK(atota_nvs_erase_key(&nvs, "a", "s"));
    FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND, atota_nvs_erase_key(&nvs, "a", "s"));
    FX_CHECK(atota_nvs_erase_key(&nvs, "a", "b"));
    size_t len;
    FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND, atota_nvs_get_blob(&nvs, "a", "b", NULL, 0, &len));
    open_nvs(sim, &nvs, 6 * PAGE);
    FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND, atota_nvs_get_blob(&nvs, "a", "b", NULL, 0, &len));
    assert_int_equal(get_int(&nvs, "a", "i", ATOTA_NVS_I16), -5);

    FX_CHECK(atota_nvs_erase_ns(&nvs, "b"));
    FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND, atota_nvs_erase_ns(&nvs, "nope"));
    open_nvs(sim, &nvs, 6 * PAGE);
    memset(&l, 0, sizeof l);
    FX_CHECK(atota_nvs_foreach(&nvs, list_one, &l));
    assert_int_equal(l.count, 1);
    fx_expect_text("remaining", l.last, "a/i");
    /* no blob chunk or index is left live anywhere */
    const uint8_t *p = atota_flash_sim_data(sim) + NVS_OFF;
    for (unsigned pg = 0; pg < 6; pg++)
        for (unsigned i = 0; i < 126; i++) {
            unsigned st = (p[pg * PAGE + 32 + i / 4] >> ((i % 4) * 2)) & 3;
            const uint8_t *e = p + pg * PAGE + 64 + i * 32;
            if (st == 2 && (e[1] == 0x42 || e[1] == 0x48) && e[0] != 0 && e[2] >= 1 &&
                (memcmp(e + 8, "b", 2) == 0))
                fail_msg("page %u entry %u: blob item of type 0x%02x still live", pg, i, e[1]);
        }

    FX_CHECK(atota_nvs_erase_all(&nvs));
    assert_true(fx_is_blank(atota_flash_sim_data(sim) + NVS_OFF, 6 * PAGE));
    int64_t v;
    FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND, atota_nvs_get_int(&nvs, "a", "i", ATOTA_NVS_I16, &v));
    FX_CHECK(atota_nvs_set_int(&nvs, "a", "i", ATOTA_NVS_I16, 4));
    open_nvs(sim, &nvs, 6 * PAGE);
    assert_int_equal(get_int(&nvs, "a", "i", ATOTA_NVS_I16), 4);
    atota_flash_sim_close(sim);
}

static void many_namespaces(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 8 * PAGE);
    char ns[16];
    for (unsigned i = 0; i < 254; i++) {
        snprintf(ns, sizeof ns, "ns%u", i);
        FX_CHECK(atota_nvs_set_int(&nvs, ns, "v", ATOTA_NVS_U16, i * 3));
    }
    FX_EXPECT_ERR(ATOTA_ERR_NVS_FULL,
                  atota_nvs_set_int(&nvs, "one-too-many", "v", ATOTA_NVS_U8, 1));
    open_nvs(sim, &nvs, 8 * PAGE);
    for (unsigned i = 0; i < 254; i++) {
        snprintf(ns, sizeof ns, "ns%u", i);
        assert_int_equal(get_int(&nvs, ns, "v", ATOTA_NVS_U16), i * 3);
    }
    atota_flash_sim_close(sim);
}

static void full_partition_and_compaction(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 3 * PAGE); /* 2 pages for data, 1 kept free */
    char key[16];
    unsigned n = 0;
    atota_err_t err;
    for (;;) {
        snprintf(key, sizeof key, "k%u", n);
        err = atota_nvs_set_int(&nvs, "full", key, ATOTA_NVS_U32, n * 11);
        if (err)
            break;
        n++;
    }
    assert_int_equal(err, ATOTA_ERR_NVS_FULL);
    assert_int_equal(n, 2 * 126 - 1); /* every entry but the namespace's */
    open_nvs(sim, &nvs, 3 * PAGE);
    FX_EXPECT_ERR(ATOTA_ERR_NVS_FULL, atota_nvs_set_int(&nvs, "full", "more", ATOTA_NVS_U8, 1));
    for (unsigned i = 0; i < n; i += 10) { /* free 26 entries */
        snprintf(key, sizeof key, "k%u", i);
        FX_CHECK(atota_nvs_erase_key(&nvs, "full", key));
    }
    atota_flash_sim_reset_stats(sim);
    for (unsigned i = 0; i < n; i += 10) { /* compaction reclaims them */
        snprintf(key, sizeof key, "k%u", i);
        FX_CHECK(atota_nvs_set_int(&nvs, "full", key, ATOTA_NVS_U32, i * 11 + 1));
    }
    atota_flash_sim_stats_t st;
    atota_flash_sim_get_stats(sim, &st);
    assert_true(st.sector_erases >= 1);
    open_nvs(sim, &nvs, 3 * PAGE);
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        assert_int_equal(get_int(&nvs, "full", key, ATOTA_NVS_U32), i * 11 + (i % 10 == 0));
    }
    /* endless overwrites of one key in a small partition keep working */
    atota_flash_sim_t *sim2 = fx_sim_new(SIM_SIZE);
    open_nvs(sim2, &nvs, 3 * PAGE);
    for (unsigned i = 0; i < 2000; i++)
        FX_CHECK(atota_nvs_set_int(&nvs, "w", "counter", ATOTA_NVS_U32, i));
    FX_CHECK(atota_nvs_set_str(&nvs, "w", "s", "still fine"));
    open_nvs(sim2, &nvs, 3 * PAGE);
    assert_int_equal(get_int(&nvs, "w", "counter", ATOTA_NVS_U32), 1999);
    expect_str(&nvs, "w", "s", "still fine");
    atota_flash_sim_close(sim2);
    atota_flash_sim_close(sim);
}

/* ---- byte layout --------------------------------------------------------------------------- */

static void page_layout_by_hand(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 3 * PAGE);
    FX_CHECK(atota_nvs_set_int(&nvs, "ns", "a", ATOTA_NVS_U8, 5));
    FX_CHECK(atota_nvs_set_str(&nvs, "ns", "s", "hi"));
    FX_CHECK(atota_nvs_set_int(&nvs, "ns", "w", ATOTA_NVS_I32, -2));
    const uint8_t *p = atota_flash_sim_data(sim) + NVS_OFF;

    /* header: state ACTIVE, seq 0, version 0xFE, 19 x 0xFF, CRC32 over bytes 4..27 */
    uint8_t hdr[32];
    memset(hdr, 0xFF, sizeof hdr);
    memcpy(hdr, "\xFE\xFF\xFF\xFF\x00\x00\x00\x00\xFE", 9);
    uint32_t hcrc = ref_crc(0xFFFFFFFFu, hdr + 4, 24);
    assert_int_equal(hcrc, 0xB9BA2D84u); /* the same CRC as nvs_partition_gen.py's seq-0 page */
    for (int i = 0; i < 4; i++)
        hdr[28 + i] = (uint8_t)(hcrc >> (8 * i));
    fx_expect_bytes("page header", p, hdr, 32);

    /* entries: namespace "ns" = 1, a = 5, s = "hi" (2 entries), w = -2 */
    uint8_t want[5][32], d[8];
    memset(d, 0xFF, 8);
    d[0] = 1;
    hand_item(want[0], 0, 0x01, 1, 0xFF, "ns", d);
    d[0] = 5;
    hand_item(want[1], 1, 0x01, 1, 0xFF, "a", d);
    uint32_t dcrc = ref_crc(0xFFFFFFFFu, (const uint8_t *)"hi", 3);
    uint8_t sd[8] = {3,
                     0,
                     0xFF,
                     0xFF,
                     (uint8_t)dcrc,
                     (uint8_t)(dcrc >> 8),
                     (uint8_t)(dcrc >> 16),
                     (uint8_t)(dcrc >> 24)};
    hand_item(want[2], 1, 0x21, 2, 0xFF, "s", sd);
    memset(want[3], 0xFF, 32);
    memcpy(want[3], "hi", 3);
    memset(d, 0xFF, 8);
    memcpy(d, "\xFE\xFF\xFF\xFF", 4); /* -2 as i32 */
    hand_item(want[4], 1, 0x14, 1, 0xFF, "w", d);
    fx_expect_bytes("entries", p + 64, &want[0][0], sizeof want);
    assert_true(fx_is_blank(p + 64 + sizeof want, PAGE - 64 - sizeof want));

    /* bitmap: 5 entries WRITTEN (0b10 each): 0xAA, then 0xFE for the fifth */
    uint8_t bm[32];
    memset(bm, 0xFF, 32);
    bm[0] = 0xAA;
    bm[1] = 0xFE;
    fx_expect_bytes("bitmap", p + 32, bm, 32);

    /* erase "a": entry 1 becomes 0b00; overwrite w: entry 4 erased, entry 5 written */
    FX_CHECK(atota_nvs_erase_key(&nvs, "ns", "a"));
    FX_CHECK(atota_nvs_set_int(&nvs, "ns", "w", ATOTA_NVS_I32, 3));
    bm[0] = 0xA2;
    bm[1] = 0xFC & 0xFB; /* entry 4: 00, entry 5: 10 */
    fx_expect_bytes("bitmap after erase", p + 32, bm, 32);
    atota_flash_sim_close(sim);
}

/* ---- vectors made by ESP-IDF's nvs_partition_gen.py ---------------------------------------- */

static uint8_t *load_vector(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/vectors/nvs/%s", ATOTA_SOURCE_DIR, name);
    uint8_t *buf = (uint8_t *)fx_read_file(path, len);
    return buf;
}

static void reads_nvs_partition_gen_output(void **state)
{
    (void)state;
    size_t len;
    uint8_t *bin = load_vector("nvs_basic.bin", &len);
    assert_int_equal(len, 3 * PAGE);
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    memcpy(atota_flash_sim_data(sim) + NVS_OFF, bin, len);
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 3 * PAGE);
    assert_int_equal(fx_mutating_ops(sim), 0);
    for (int round = 0; round < 2; round++) {
        assert_true(get_int(&nvs, "atota", "u8key", ATOTA_NVS_U8) == 200);
        assert_true(get_int(&nvs, "atota", "i8key", ATOTA_NVS_I8) == -100);
        assert_true(get_int(&nvs, "atota", "u16key", ATOTA_NVS_U16) == 60000);
        assert_true(get_int(&nvs, "atota", "i16key", ATOTA_NVS_I16) == -30000);
        assert_true(get_int(&nvs, "atota", "u32key", ATOTA_NVS_U32) == 4000000000ll);
        assert_true(get_int(&nvs, "atota", "i32key", ATOTA_NVS_I32) == -2000000000ll);
        assert_true((uint64_t)get_int(&nvs, "atota", "u64key", ATOTA_NVS_U64) ==
                    18000000000000000000ull);
        assert_true(get_int(&nvs, "atota", "i64key", ATOTA_NVS_I64) == -9000000000000000000ll);
        expect_str(&nvs, "atota", "short", "hi");
        expect_str(&nvs, "atota", "long",
                   "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over "
                   "the lazy dog. The quick brown fox jumps over the lazy dog. ");
        uint8_t b40[40];
        for (unsigned i = 0; i < 40; i++)
            b40[i] = (uint8_t)(i * 13 + 1);
        expect_blob(&nvs, "atota", "blob40", b40, 40);
        expect_str(&nvs, "wifi", "ssid", "atota-ap");
        assert_true(get_int(&nvs, "wifi", "channel", ATOTA_NVS_U8) == 6);
        /* and it takes new values: page 0 is FULL, page 1 ACTIVE and empty */
        FX_CHECK(atota_nvs_set_int(&nvs, "wifi", "channel", ATOTA_NVS_U8, round ? 6 : 11));
        assert_true(get_int(&nvs, "wifi", "channel", ATOTA_NVS_U8) == (round ? 6 : 11));
        FX_CHECK(atota_nvs_set_int(&nvs, "wifi", "channel", ATOTA_NVS_U8, 6));
        open_nvs(sim, &nvs, 3 * PAGE);
    }
    free(bin);

    bin = load_vector("nvs_multipage.bin", &len);
    assert_int_equal(len, 6 * PAGE);
    memset(atota_flash_sim_data(sim), 0xFF, SIM_SIZE);
    memcpy(atota_flash_sim_data(sim) + NVS_OFF, bin, len);
    atota_flash_sim_reset_stats(sim);
    open_nvs(sim, &nvs, 6 * PAGE);
    assert_int_equal(fx_mutating_ops(sim), 0);
    static uint8_t big[6000];
    for (unsigned i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + 3);
    for (int round = 0; round < 2; round++) {
        assert_true(get_int(&nvs, "atota", "u8key", ATOTA_NVS_U8) == 7);
        assert_true(get_int(&nvs, "atota", "i32key", ATOTA_NVS_I32) == -123456);
        expect_str(&nvs, "atota", "str", "hello nvs");
        expect_blob(&nvs, "atota", "blob6000", big, sizeof big);
        assert_true(get_int(&nvs, "atota", "after", ATOTA_NVS_U32) == 3735928559ll);
        FX_CHECK(atota_nvs_set_blob(&nvs, "atota", "blob6000", big, sizeof big - round));
        FX_CHECK(atota_nvs_set_blob(&nvs, "atota", "blob6000", big, sizeof big));
        open_nvs(sim, &nvs, 6 * PAGE);
    }
    free(bin);
    atota_flash_sim_close(sim);
}

/* The reverse: the same values written by atota give the generator's bytes, except for what the
 * generator does differently by design: it initializes every page but the reserved last one and
 * marks them all FULL (nvs_partition_gen.py create_new_page), where ESP-IDF (and we) leave the
 * page being written ACTIVE and write a page header when the page gets its first item. */
static void writes_what_nvs_partition_gen_writes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *bin = load_vector("nvs_basic.bin", &len);
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 3 * PAGE);
    FX_CHECK(atota_nvs_set_int(&nvs, "atota", "u8key", ATOTA_NVS_U8, 200));
    FX_CHECK(atota_nvs_set_int(&nvs, "atota", "i8key", ATOTA_NVS_I8, -100));
    FX_CHECK(atota_nvs_set_int(&nvs, "atota", "u16key", ATOTA_NVS_U16, 60000));
    FX_CHECK(atota_nvs_set_int(&nvs, "atota", "i16key", ATOTA_NVS_I16, -30000));
    FX_CHECK(atota_nvs_set_int(&nvs, "atota", "u32key", ATOTA_NVS_U32, 4000000000ll));
    FX_CHECK(atota_nvs_set_int(&nvs, "atota", "i32key", ATOTA_NVS_I32, -2000000000ll));
    FX_CHECK(atota_nvs_set_int(&nvs, "atota", "u64key", ATOTA_NVS_U64,
                               (int64_t)18000000000000000000ull));
    FX_CHECK(atota_nvs_set_int(&nvs, "atota", "i64key", ATOTA_NVS_I64, -9000000000000000000ll));
    FX_CHECK(atota_nvs_set_str(&nvs, "atota", "short", "hi"));
    FX_CHECK(atota_nvs_set_str(&nvs, "atota", "long",
                               "The quick brown fox jumps over the lazy dog. The quick brown fox "
                               "jumps over the lazy dog. The quick brown fox jumps over the lazy "
                               "dog. "));
    uint8_t b40[40];
    for (unsigned i = 0; i < 40; i++)
        b40[i] = (uint8_t)(i * 13 + 1);
    FX_CHECK(atota_nvs_set_blob(&nvs, "atota", "blob40", b40, 40));
    FX_CHECK(atota_nvs_set_str(&nvs, "wifi", "ssid", "atota-ap"));
    FX_CHECK(atota_nvs_set_int(&nvs, "wifi", "channel", ATOTA_NVS_U8, 6));
    const uint8_t *p = atota_flash_sim_data(sim) + NVS_OFF;
    /* page 0 from byte 4 on (seq, version, reserved, CRC, bitmap, every entry) is identical */
    fx_expect_bytes("page 0 after the state word", p + 4, bin + 4, PAGE - 4);
    assert_int_equal(le32(p), 0xFFFFFFFEu);   /* ACTIVE here */
    assert_int_equal(le32(bin), 0xFFFFFFFCu); /* FULL in the generator's output */
    assert_true(fx_is_blank(p + PAGE, 2 * PAGE));
    /* generator: page 1 initialized (FULL too: create_new_page marks the previous page FULL
     * before it finds no room for a third), seq 1, no entries; page 2 kept blank */
    assert_int_equal(le32(bin + PAGE), 0xFFFFFFFCu);
    assert_int_equal(le32(bin + PAGE + 4), 1);
    assert_true(fx_is_blank(bin + PAGE + 32, PAGE - 32));
    assert_true(fx_is_blank(bin + 2 * PAGE, PAGE));
    free(bin);
    atota_flash_sim_close(sim);
}

/* ---- damaged data -------------------------------------------------------------------------- */

static void damaged_entries_and_pages(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    uint8_t *p = atota_flash_sim_data(sim) + NVS_OFF;
    atota_nvs_t nvs;
    open_nvs(sim, &nvs, 4 * PAGE);
    FX_CHECK(atota_nvs_set_int(&nvs, "d", "k1", ATOTA_NVS_U8, 1)); /* entries 0 (ns), 1 */
    FX_CHECK(atota_nvs_set_int(&nvs, "d", "k2", ATOTA_NVS_U8, 2)); /* 2 */
    FX_CHECK(atota_nvs_set_int(&nvs, "d", "k3", ATOTA_NVS_U8, 3)); /* 3 */
    /* a bad entry CRC: the entry is skipped and marked ERASED, as Page::load does */
    p[64 + 2 * 32 + 24] ^= 0x40;
    open_nvs(sim, &nvs, 4 * PAGE);
    int64_t v;
    FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND, atota_nvs_get_int(&nvs, "d", "k2", ATOTA_NVS_U8, &v));
    assert_int_equal(get_int(&nvs, "d", "k1", ATOTA_NVS_U8), 1);
    assert_int_equal(get_int(&nvs, "d", "k3", ATOTA_NVS_U8), 3);
    assert_int_equal((p[32] >> 4) & 3, 0);

    /* an entry written but not marked (a cut between the two): skipped, the next write goes
     * after it (strict flash would refuse to write over it) */
    memset(p + 64 + 4 * 32, 0x5A, 32);
    open_nvs(sim, &nvs, 4 * PAGE);
    assert_int_equal(p[33] & 3, 0);
    FX_CHECK(atota_nvs_set_int(&nvs, "d", "k4", ATOTA_NVS_U8, 4));
    assert_int_equal(p[64 + 5 * 32 + 24], 4);

    /* a string whose data entries were not all marked: erased with its span */
    FX_CHECK(atota_nvs_set_str(&nvs, "d", "str", "a string of more than thirty-two characters"));
    p[33] |= 0xC0; /* by hand: data entry 7 of the span 6..8 back to EMPTY */
    open_nvs(sim, &nvs, 4 * PAGE);
    char buf[64];
    size_t len;
    FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND, atota_nvs_get_str(&nvs, "d", "str", buf, 64, &len));
    FX_CHECK(atota_nvs_set_str(&nvs, "d", "str", "again"));
    expect_str(&nvs, "d", "str", "again");

    /* a page with a bad header CRC: its items are gone, the rest stays, the page is reused */
    static uint8_t blob[4500];
    pattern(blob, sizeof blob, 7);
    FX_CHECK(atota_nvs_set_blob(&nvs, "d", "fill", blob, sizeof blob)); /* into page 1 */
    FX_CHECK(atota_nvs_set_int(&nvs, "d", "late", ATOTA_NVS_U32, 77));  /* page 1 too */
    assert_int_equal(le32(p + PAGE), 0xFFFFFFFEu);
    p[PAGE + 28] ^= 1;
    open_nvs(sim, &nvs, 4 * PAGE);
    FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND, atota_nvs_get_int(&nvs, "d", "late", ATOTA_NVS_U32, &v));
    FX_EXPECT_ERR(ATOTA_ERR_NVS_NOT_FOUND, atota_nvs_get_blob(&nvs, "d", "fill", NULL, 0, &len));
    assert_int_equal(get_int(&nvs, "d", "k1", ATOTA_NVS_U8), 1);
    expect_str(&nvs, "d", "str", "again");
    for (unsigned i = 0; i < 4; i++)
        FX_CHECK(atota_nvs_set_blob(&nvs, "d", "fill", blob, sizeof blob - i)); /* reuses page 1 */
    open_nvs(sim, &nvs, 4 * PAGE);
    expect_blob(&nvs, "d", "fill", blob, sizeof blob - 3);
    assert_int_equal(get_int(&nvs, "d", "k4", ATOTA_NVS_U8), 4);
    atota_flash_sim_close(sim);
}

/* ---- power cuts ---------------------------------------------------------------------------- */

#define PC_PAGES        4
#define PC_SIZE         (PC_PAGES * PAGE)
#define PC_KEYS         9
#define PC_STEPS        120
#define PC_MIDDLE_SEEDS 3 /* each cut point in the middle of its operation, 3 ways */

/* Keys 0-5 u32, 6-7 strings, 8 a blob; a version v of a key gives its value (0: absent). */
static const char *pc_key(unsigned k)
{
    static const char *names[PC_KEYS] = {"n0", "n1", "n2", "n3", "n4", "n5", "s0", "s1", "b0"};
    return names[k];
}

static size_t pc_len(unsigned k, unsigned v)
{
    return k == 8 ? 2500 + v * 97 % 900 : k >= 6 ? 60 + v * 37 % 250 : 4;
}

static void pc_value(unsigned k, unsigned v, uint8_t *out)
{
    size_t n = pc_len(k, v);
    pattern(out, n, k * 31 + v);
    if (k >= 6 && k < 8) {
        for (size_t i = 0; i < n; i++)
            out[i] = (uint8_t)('a' + out[i] % 26);
        out[n] = 0;
    }
}

static atota_err_t pc_set(atota_nvs_t *nvs, unsigned k, unsigned v)
{
    static uint8_t val[4096];
    pc_value(k, v, val);
    if (k < 6)
        return atota_nvs_set_int(nvs, "pc", pc_key(k), ATOTA_NVS_U32, k * 100000 + v);
    if (k < 8)
        return atota_nvs_set_str(nvs, "pc", pc_key(k), (const char *)val);
    return atota_nvs_set_blob(nvs, "pc", pc_key(k), val, pc_len(k, v));
}

/* Does key k hold version v? */
static bool pc_holds(atota_nvs_t *nvs, unsigned k, unsigned v)
{
    static uint8_t want[4096], got[4096];
    pc_value(k, v, want);
    size_t len = 0;
    if (k < 6) {
        int64_t x;
        return atota_nvs_get_int(nvs, "pc", pc_key(k), ATOTA_NVS_U32, &x) == ATOTA_OK &&
               x == (int64_t)(k * 100000 + v);
    }
    if (k < 8)
        return atota_nvs_get_str(nvs, "pc", pc_key(k), (char *)got, sizeof got, &len) == ATOTA_OK &&
               len == pc_len(k, v) && memcmp(got, want, len) == 0;
    return atota_nvs_get_blob(nvs, "pc", pc_key(k), got, sizeof got, &len) == ATOTA_OK &&
           len == pc_len(k, v) && memcmp(got, want, len) == 0;
}

static void count_items(void *ctx, const char *ns, const char *key, atota_nvs_type_t type,
                        size_t size)
{
    (void)ns, (void)key, (void)type, (void)size;
    (*(unsigned *)ctx)++;
}

static void sets_survive_power_cuts(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    const atota_flash_t *flash = atota_flash_sim_flash(sim);
    uint8_t *data = atota_flash_sim_data(sim);
    static uint8_t before[PC_SIZE];
    atota_nvs_t nvs;
    unsigned ver[PC_KEYS];
    open_nvs(sim, &nvs, PC_SIZE);
    for (unsigned k = 0; k < PC_KEYS; k++) {
        ver[k] = 1;
        FX_CHECK(pc_set(&nvs, k, 1));
    }
    /* the sequence: mostly small overwrites, a string and the blob now and then; it fills the
     * partition several times over, so it goes through compactions */
    unsigned seq[PC_STEPS];
    for (unsigned i = 0; i < PC_STEPS; i++)
        seq[i] = i % 10 == 9 ? 8 : i % 4 == 3 ? 6 + i % 2 : i % 6;
    unsigned cuts = 0, points = 0, compactions = 0;
    for (unsigned step = 0; step < PC_STEPS; step++) {
        unsigned k = seq[step], old = ver[k], now = old + 1;
        memcpy(before, data + NVS_OFF, PC_SIZE);
        /* the operation once, whole: how many mutating operations it takes */
        atota_flash_sim_reset_stats(sim);
        open_nvs(sim, &nvs, PC_SIZE);
        assert_int_equal(fx_mutating_ops(sim), 0);
        FX_CHECK(pc_set(&nvs, k, now));
        atota_flash_sim_stats_t st;
        atota_flash_sim_get_stats(sim, &st);
        uint64_t total = st.mutating_ops;
        compactions += st.sector_erases > 0;
        points += (unsigned)total;
        static uint8_t after[PC_SIZE];
        memcpy(after, data + NVS_OFF, PC_SIZE);
        for (unsigned pass = 0; pass <= PC_MIDDLE_SEEDS; pass++) {
            int mode = pass == 0 ? ATOTA_POWER_CUT_BEFORE : ATOTA_POWER_CUT_MIDDLE;
            for (uint64_t at = 0; at < total; at++) {
                memcpy(data + NVS_OFF, before, PC_SIZE);
                open_nvs(sim, &nvs, PC_SIZE);
                atota_flash_sim_arm_power_cut(sim, at, (atota_power_cut_mode_t)mode,
                                              (uint32_t)(step * 7919 + at * 31 + pass));
                FX_EXPECT_ERR(ATOTA_ERR_FLASH_POWER_CUT, pc_set(&nvs, k, now));
                atota_flash_sim_power_on(sim);
                cuts++;
                /* open repairs; a second open finds nothing left to repair */
                open_nvs(sim, &nvs, PC_SIZE);
                atota_flash_sim_reset_stats(sim);
                open_nvs(sim, &nvs, PC_SIZE);
                if (fx_mutating_ops(sim) != 0) {
                    print_error("step %u cut %llu mode %d: second open wrote\n", step,
                                (unsigned long long)at, mode);
                    fail();
                }
                for (unsigned j = 0; j < PC_KEYS; j++) {
                    bool ok = pc_holds(&nvs, j, ver[j]) || (j == k && pc_holds(&nvs, j, now));
                    if (!ok) {
                        print_error("step %u (key %s v%u -> v%u), cut before op %llu of %llu, "
                                    "mode %s: key %s lost its value\n",
                                    step, pc_key(k), old, now, (unsigned long long)at,
                                    (unsigned long long)total, mode ? "middle" : "before",
                                    pc_key(j));
                        fail();
                    }
                }
                unsigned items = 0;
                FX_CHECK(atota_nvs_foreach(&nvs, count_items, &items));
                assert_int_equal(items, PC_KEYS);
                /* and it still takes writes (strict flash: nothing half-written is reused) */
                FX_CHECK(pc_set(&nvs, k, now));
                FX_CHECK(pc_set(&nvs, (k + 1) % 6, ver[(k + 1) % 6] + 1000));
                FX_CHECK(pc_set(&nvs, (k + 1) % 6, ver[(k + 1) % 6]));
                open_nvs(sim, &nvs, PC_SIZE);
                assert_true(pc_holds(&nvs, k, now));
            }
        }
        memcpy(data + NVS_OFF, after, PC_SIZE);
        ver[k] = now;
    }
    (void)flash;
    assert_true(compactions >= 2);
    print_message("nvs power-cut sweep: %u cut points (every mutating flash operation of %u sets, "
                  "%u of them with a compaction), %u cuts (before each, and in its middle with %u "
                  "seeds)\n",
                  points, PC_STEPS, compactions, cuts, PC_MIDDLE_SEEDS);
    atota_flash_sim_close(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blank_partition_is_formatted),
        cmocka_unit_test(integers_of_every_width),
        cmocka_unit_test(strings_short_spanning_and_max),
        cmocka_unit_test(blobs_across_pages),
        cmocka_unit_test(overwrite_keeps_one_value),
        cmocka_unit_test(erase_key_namespace_all),
        cmocka_unit_test(many_namespaces),
        cmocka_unit_test(full_partition_and_compaction),
        cmocka_unit_test(page_layout_by_hand),
        cmocka_unit_test(reads_nvs_partition_gen_output),
        cmocka_unit_test(writes_what_nvs_partition_gen_writes),
        cmocka_unit_test(damaged_entries_and_pages),
        cmocka_unit_test(sets_survive_power_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
