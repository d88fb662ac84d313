/* The bootloader's boot selection (esp-idf-formats.md §7): the §7.1 state trace step by step,
 * fallback over images that fail verification, blank otadata without a factory app, dry runs,
 * and the contiguous-slot rule. */
#include "core/ota/boot.h"
#include "support/fixture.h"

#define SIM_SIZE    0x400000u
#define OTADATA_OFF 0xd000u
#define E           0xFFFFFFFFu /* empty seq, erased state and CRC */

/* factory + ota_0 + ota_1 (+ optional test), as in §7.1. */
typedef struct {
    atota_flash_sim_t *sim;
    const atota_flash_t *flash;
    atota_partition_table_t table;
    atota_boot_opts_t opts;
    size_t len[4]; /* image lengths: factory, ota_0, ota_1, test */
} rig_t;

enum { RIG_FACTORY = 1, RIG_TEST = 2, RIG_NO_APPS = 4 };

static void rig_open(rig_t *r, unsigned flags)
{
    memset(r, 0, sizeof *r);
    r->sim = fx_sim_new(SIM_SIZE);
    r->flash = atota_flash_sim_flash(r->sim);
    fx_table_add(&r->table, "nvs", ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_NVS, 0x9000, 0x4000);
    fx_table_add(&r->table, "otadata", ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_OTA, OTADATA_OFF,
                 0x2000);
    if (flags & RIG_FACTORY)
        fx_table_add(&r->table, "factory", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_FACTORY, 0x10000,
                     0x100000);
    fx_table_add(&r->table, "ota_0", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0, 0x110000,
                 0x100000);
    fx_table_add(&r->table, "ota_1", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0 + 1, 0x210000,
                 0x100000);
    if (flags & RIG_TEST)
        fx_table_add(&r->table, "test", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_TEST, 0x310000,
                     0x80000);
    if (!(flags & RIG_NO_APPS)) {
        if (flags & RIG_FACTORY)
            r->len[0] = fx_put_app(r->sim, fx_table_get(&r->table, "factory"), FX_CHIP, "factory");
        r->len[1] = fx_put_app(r->sim, fx_table_get(&r->table, "ota_0"), FX_CHIP, "v1");
        r->len[2] = fx_put_app(r->sim, fx_table_get(&r->table, "ota_1"), FX_CHIP, "v2");
        if (flags & RIG_TEST)
            r->len[3] = fx_put_app(r->sim, fx_table_get(&r->table, "test"), FX_CHIP, "test");
    }
    r->opts.rollback_enabled = true;
    r->opts.chip_id = FX_CHIP;
    r->opts.chip_rev = FX_CHIP_REV;
}

static void rig_close(rig_t *r)
{
    atota_flash_sim_close(r->sim);
}

/* Boots and checks the partition that boots (by name) and its version; returns the result. */
static atota_boot_result_t boot_expect(rig_t *r, const char *step, const char *want_name,
                                       const char *want_version)
{
    atota_boot_result_t res;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_boot_select(r->flash, &r->table, &r->opts, &res, &d);
    if (err != ATOTA_OK) {
        print_error("%s: expected to boot %s, got %s: %s\n", step, want_name, atota_err_name(err),
                    atota_diag_text(&d, err));
        fail();
    }
    if (strcmp(res.partition.name, want_name) != 0 ||
        strcmp(res.app_desc.version, want_version) != 0) {
        print_error("%s: expected %s (%s), got %s (%s); reason: %s\n", step, want_name,
                    want_version, res.partition.name, res.app_desc.version, res.reason);
        fail();
    }
    return res;
}

static void expect_otadata(rig_t *r, const char *step, uint32_t seq0, uint32_t st0, uint32_t crc0,
                           uint32_t seq1, uint32_t st1, uint32_t crc1)
{
    atota_otadata_entry_t e[2];
    fx_get_otadata(r->sim, OTADATA_OFF, e);
    fx_expect_entry(step, 0, &e[0], seq0, st0, crc0);
    fx_expect_entry(step, 1, &e[1], seq1, st1, crc1);
}

static void expect_reason(const atota_boot_result_t *res, const char *step, const char *part)
{
    if (strstr(res->reason, part) == NULL) {
        print_error("%s: expected the reason to contain \"%s\", got \"%s\"\n", step, part,
                    res->reason);
        fail();
    }
}

/* §7.1, rollback enabled, factory + ota_0 + ota_1: every step, both copies, the booted app. */
static void state_trace_of_section_7_1(void **state)
{
    (void)state;
    const uint32_t C1 = 0x4743989au, C2 = 0x55f63774u;
    rig_t r;
    rig_open(&r, RIG_FACTORY);
    atota_boot_result_t res;

    /* 0: blank otadata boots factory and writes nothing */
    res = boot_expect(&r, "step 0", "factory", "factory");
    assert_int_equal(res.index, ATOTA_BOOT_FACTORY);
    assert_int_equal(res.otadata_writes, 0);
    expect_otadata(&r, "step 0", E, E, E, E, E, E);
    expect_reason(&res, "step 0", "both otadata copies invalid: factory");

    /* 1: OTA -> ota_0, set_boot_partition */
    assert_int_equal(atota_otadata_set_boot_slot(r.flash, OTADATA_OFF, 0, 2, true), ATOTA_OK);
    expect_otadata(&r, "step 1", 1, ATOTA_OTA_STATE_NEW, C1, E, E, E);

    /* 2: reboot: NEW -> PENDING_VERIFY, ota_0 */
    res = boot_expect(&r, "step 2", "ota_0", "v1");
    assert_int_equal(res.index, 0);
    assert_int_equal(res.otadata_copy, 0);
    assert_int_equal(res.otadata_writes, 1);
    expect_otadata(&r, "step 2", 1, ATOTA_OTA_STATE_PENDING_VERIFY, C1, E, E, E);
    expect_reason(&res, "step 2", "otadata copy 0 (seq 1, NEW -> PENDING_VERIFY) selects ota_0");

    /* 3: mark_app_valid_cancel_rollback */
    assert_int_equal(atota_otadata_mark_valid(r.flash, OTADATA_OFF), ATOTA_OK);
    expect_otadata(&r, "step 3", 1, ATOTA_OTA_STATE_VALID, C1, E, E, E);

    /* 4: OTA -> ota_1, set_boot_partition */
    assert_int_equal(atota_otadata_set_boot_slot(r.flash, OTADATA_OFF, 1, 2, true), ATOTA_OK);
    expect_otadata(&r, "step 4", 1, ATOTA_OTA_STATE_VALID, C1, 2, ATOTA_OTA_STATE_NEW, C2);

    /* 5: reboot: ota_1, PENDING_VERIFY */
    res = boot_expect(&r, "step 5", "ota_1", "v2");
    assert_int_equal(res.index, 1);
    assert_int_equal(res.otadata_copy, 1);
    expect_otadata(&r, "step 5", 1, ATOTA_OTA_STATE_VALID, C1, 2, ATOTA_OTA_STATE_PENDING_VERIFY,
                   C2);
    expect_reason(&res, "step 5", "otadata copy 1 (seq 2, NEW -> PENDING_VERIFY) selects ota_1");

    /* 6: crash before confirming, reboot: ABORTED, rollback to ota_0 */
    res = boot_expect(&r, "step 6", "ota_0", "v1");
    assert_int_equal(res.otadata_copy, 0);
    assert_int_equal(res.otadata_writes, 1);
    expect_otadata(&r, "step 6", 1, ATOTA_OTA_STATE_VALID, C1, 2, ATOTA_OTA_STATE_ABORTED, C2);
    expect_reason(&res, "step 6", "PENDING_VERIFY -> ABORTED");
    expect_reason(&res, "step 6", "otadata copy 0 (seq 1, VALID) selects ota_0");

    /* 7: esp_ota_begin(ota_1) in v5.5+ erases the inactive copy */
    assert_int_equal(atota_flash_erase(r.flash, OTADATA_OFF + 0x1000, 0x1000), ATOTA_OK);
    expect_otadata(&r, "step 7", 1, ATOTA_OTA_STATE_VALID, C1, E, E, E);

    /* 8: set_boot_partition(ota_1) */
    assert_int_equal(atota_otadata_set_boot_slot(r.flash, OTADATA_OFF, 1, 2, true), ATOTA_OK);
    expect_otadata(&r, "step 8", 1, ATOTA_OTA_STATE_VALID, C1, 2, ATOTA_OTA_STATE_NEW, C2);

    /* 9: reboot: ota_1 */
    res = boot_expect(&r, "step 9", "ota_1", "v2");
    expect_otadata(&r, "step 9", 1, ATOTA_OTA_STATE_VALID, C1, 2, ATOTA_OTA_STATE_PENDING_VERIFY,
                   C2);

    /* 10: mark_app_invalid_rollback */
    assert_int_equal(atota_otadata_mark_invalid(r.flash, OTADATA_OFF), ATOTA_OK);
    expect_otadata(&r, "step 10", 1, ATOTA_OTA_STATE_VALID, C1, 2, ATOTA_OTA_STATE_INVALID, C2);

    /* 11: reboot: ota_0, nothing written */
    res = boot_expect(&r, "step 11", "ota_0", "v1");
    assert_int_equal(res.otadata_writes, 0);
    expect_otadata(&r, "step 11", 1, ATOTA_OTA_STATE_VALID, C1, 2, ATOTA_OTA_STATE_INVALID, C2);
    rig_close(&r);
}

/* §7: a selected slot that fails verification is skipped, down to factory, and otadata is not
 * rewritten, so it is skipped again on every boot. */
static void corrupt_selected_slot_falls_back_without_rewriting_otadata(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, RIG_FACTORY);
    fx_put_otadata(r.sim, OTADATA_OFF, 0, 1, ATOTA_OTA_STATE_VALID, atota_otadata_crc(1));
    fx_put_otadata(r.sim, OTADATA_OFF, 1, 2, ATOTA_OTA_STATE_VALID, atota_otadata_crc(2));
    fx_corrupt_checksum(r.sim, fx_table_get(&r.table, "ota_1"), r.len[2]);

    uint8_t before[ATOTA_OTADATA_SIZE];
    memcpy(before, atota_flash_sim_data(r.sim) + OTADATA_OFF, sizeof before);
    for (int boot = 0; boot < 2; boot++) {
        atota_boot_result_t res = boot_expect(&r, "ota_1 corrupt", "ota_0", "v1");
        assert_int_equal(res.index, 0);
        assert_int_equal(res.selected_index, 1);
        assert_int_equal(res.active_copy, 1);
        assert_int_equal(res.otadata_copy, -1); /* no copy chose ota_0 */
        assert_int_equal(res.otadata_writes, 0);
        expect_reason(&res, "ota_1 corrupt", "ota_1 fails verification (image checksum mismatch)");
        expect_reason(&res, "ota_1 corrupt", "fell back to ota_0");
        fx_expect_bytes("otadata after a fallback", atota_flash_sim_data(r.sim) + OTADATA_OFF,
                        before, sizeof before);
    }
    assert_int_equal(fx_mutating_ops(r.sim), 0);

    /* ota_0 broken too: down to factory. */
    fx_corrupt_checksum(r.sim, fx_table_get(&r.table, "ota_0"), r.len[1]);
    atota_boot_result_t res = boot_expect(&r, "both OTA slots corrupt", "factory", "factory");
    assert_int_equal(res.index, ATOTA_BOOT_FACTORY);
    expect_reason(&res, "both OTA slots corrupt", "fell back to factory");
    rig_close(&r);
}

/* §7 load_boot_image: below the start slot and factory come first, then later slots, then test. */
static void fallback_goes_forward_then_to_test(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, RIG_TEST);
    /* seq 1 selects ota_0; ota_0 is broken and there is no factory: forward to ota_1. */
    fx_put_otadata(r.sim, OTADATA_OFF, 0, 1, ATOTA_OTA_STATE_VALID, atota_otadata_crc(1));
    fx_corrupt_checksum(r.sim, fx_table_get(&r.table, "ota_0"), r.len[1]);
    atota_boot_result_t res = boot_expect(&r, "ota_0 corrupt, no factory", "ota_1", "v2");
    assert_int_equal(res.index, 1);
    assert_int_equal(res.otadata_writes, 0);

    /* Both broken: the test app is the last resort. */
    fx_corrupt_checksum(r.sim, fx_table_get(&r.table, "ota_1"), r.len[2]);
    res = boot_expect(&r, "both OTA slots corrupt", "test", "test");
    assert_int_equal(res.index, ATOTA_BOOT_TEST);
    rig_close(&r);
}

/* §7 set_actual_ota_seq: blank otadata, no factory: ota_0 boots and copy 0 records seq 1 VALID;
 * when ota_0 is broken, ota_1 boots and seq 2 is recorded. */
static void blank_otadata_without_factory_records_the_booted_slot(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, 0);
    atota_boot_result_t res = boot_expect(&r, "blank, no factory", "ota_0", "v1");
    assert_int_equal(res.index, 0);
    assert_int_equal(res.otadata_writes, 1);
    expect_otadata(&r, "blank, no factory", 1, ATOTA_OTA_STATE_VALID, 0x4743989au, E, E, E);
    expect_reason(&res, "blank, no factory", "seq 1 VALID written to otadata copy 0");
    const uint8_t *od = atota_flash_sim_data(r.sim) + OTADATA_OFF;
    assert_true(fx_is_blank(od + 4, 20)); /* seq_label stays 0xFF */
    assert_true(fx_is_blank(od + 32, ATOTA_OTADATA_SIZE - 32));

    /* The next boot goes through the ordinary path and writes nothing. */
    res = boot_expect(&r, "after recording", "ota_0", "v1");
    assert_int_equal(res.otadata_writes, 0);
    assert_int_equal(res.otadata_copy, 0);

    /* Garbled (bad CRC) copies count as blank too; ota_0 broken: ota_1 boots, seq 2 recorded. */
    fx_put_otadata(r.sim, OTADATA_OFF, 0, 1, ATOTA_OTA_STATE_INVALID, 0x12345678u);
    fx_put_otadata(r.sim, OTADATA_OFF, 1, 7, ATOTA_OTA_STATE_ABORTED, 0);
    fx_corrupt_checksum(r.sim, fx_table_get(&r.table, "ota_0"), r.len[1]);
    res = boot_expect(&r, "garbled, ota_0 corrupt", "ota_1", "v2");
    expect_otadata(&r, "garbled, ota_0 corrupt", 2, ATOTA_OTA_STATE_VALID, 0x55f63774u, 7,
                   ATOTA_OTA_STATE_ABORTED, 0);

    /* Both copies invalid but one with a good CRC: not "initial contents", nothing recorded. */
    fx_put_otadata(r.sim, OTADATA_OFF, 0, 1, ATOTA_OTA_STATE_INVALID, atota_otadata_crc(1));
    fx_put_otadata(r.sim, OTADATA_OFF, 1, E, E, E);
    res = boot_expect(&r, "copy 0 INVALID with good CRC", "ota_1", "v2");
    assert_int_equal(res.otadata_writes, 0);
    expect_otadata(&r, "copy 0 INVALID with good CRC", 1, ATOTA_OTA_STATE_INVALID,
                   atota_otadata_crc(1), E, E, E);
    rig_close(&r);
}

static void nothing_bootable_is_an_error(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, RIG_NO_APPS);
    atota_boot_result_t res;
    atota_diag_t d;
    atota_diag_clear(&d);
    assert_int_equal(atota_boot_select(r.flash, &r.table, &r.opts, &res, &d),
                     ATOTA_ERR_NO_BOOTABLE_APP);
    expect_reason(&res, "empty slots", "no bootable app partition");
    assert_non_null(strstr(d.msg, "no bootable app"));
    /* Blank otadata and nothing booted: nothing recorded either. */
    expect_otadata(&r, "empty slots", E, E, E, E, E, E);
    rig_close(&r);
}

/* An image for another chip fails the chip check and is skipped like a corrupt one. */
static void wrong_chip_image_is_skipped(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, RIG_FACTORY);
    fx_put_app(r.sim, fx_table_get(&r.table, "ota_1"), ATOTA_CHIP_ESP32C3, "v2-c3");
    fx_put_otadata(r.sim, OTADATA_OFF, 0, 1, ATOTA_OTA_STATE_VALID, atota_otadata_crc(1));
    fx_put_otadata(r.sim, OTADATA_OFF, 1, 2, ATOTA_OTA_STATE_VALID, atota_otadata_crc(2));
    atota_boot_result_t res = boot_expect(&r, "ota_1 for ESP32-C3", "ota_0", "v1");
    expect_reason(&res, "ota_1 for ESP32-C3",
                  "ota_1 fails verification (image is built for another chip)");

    /* The same flash on an ESP32-C3 boots ota_1 (ota_1 is the only image for that chip). */
    r.opts.chip_id = ATOTA_CHIP_ESP32C3;
    r.opts.chip_rev = 4;
    res = boot_expect(&r, "on an ESP32-C3", "ota_1", "v2-c3");
    assert_int_equal(res.otadata_copy, 1);

    /* A chip revision above the images' max_chip_rev_full (ESP32 builds: 399): nothing boots. */
    r.opts.chip_id = FX_CHIP;
    r.opts.chip_rev = 400;
    atota_diag_t d;
    atota_diag_clear(&d);
    assert_int_equal(atota_boot_select(r.flash, &r.table, &r.opts, &res, &d),
                     ATOTA_ERR_NO_BOOTABLE_APP);
    expect_reason(&res, "ESP32 v4.0",
                  "ota_0 fails verification (image does not support this chip revision)");
    rig_close(&r);
}

/* A dry run makes the same choice, writes nothing, and counts what it would write. */
static void dry_run_decides_without_writing(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        unsigned flags;
        uint32_t seq0, st0, seq1, st1;
        unsigned writes;
    } cases[] = {
        {"NEW in copy 1", RIG_FACTORY, 1, ATOTA_OTA_STATE_VALID, 2, ATOTA_OTA_STATE_NEW, 1},
        {"PENDING in copy 1", RIG_FACTORY, 1, ATOTA_OTA_STATE_VALID, 2,
         ATOTA_OTA_STATE_PENDING_VERIFY, 1},
        {"PENDING in both", RIG_FACTORY, 3, ATOTA_OTA_STATE_PENDING_VERIFY, 2,
         ATOTA_OTA_STATE_PENDING_VERIFY, 2},
        {"blank, no factory", 0, E, E, E, E, 1},
        {"VALID", RIG_FACTORY, 5, ATOTA_OTA_STATE_VALID, 4, ATOTA_OTA_STATE_VALID, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        atota_boot_result_t dry, real;
        for (int pass = 0; pass < 2; pass++) {
            rig_t r;
            rig_open(&r, cases[i].flags);
            if (cases[i].seq0 != E)
                fx_put_otadata(r.sim, OTADATA_OFF, 0, cases[i].seq0, cases[i].st0,
                               atota_otadata_crc(cases[i].seq0));
            if (cases[i].seq1 != E)
                fx_put_otadata(r.sim, OTADATA_OFF, 1, cases[i].seq1, cases[i].st1,
                               atota_otadata_crc(cases[i].seq1));
            uint8_t *copy = malloc(SIM_SIZE);
            assert_non_null(copy);
            memcpy(copy, atota_flash_sim_data(r.sim), SIM_SIZE);
            r.opts.dry_run = pass == 0;
            atota_boot_result_t *res = pass == 0 ? &dry : &real;
            assert_int_equal(atota_boot_select(r.flash, &r.table, &r.opts, res, NULL), ATOTA_OK);
            bool same = memcmp(copy, atota_flash_sim_data(r.sim), SIM_SIZE) == 0;
            if (pass == 0 && (!same || fx_mutating_ops(r.sim) != 0)) {
                print_error("%s: the dry run changed the flash (%llu mutating operations)\n",
                            cases[i].what, (unsigned long long)fx_mutating_ops(r.sim));
                fail();
            }
            if (pass == 1 && same != (cases[i].writes == 0)) {
                print_error("%s: expected the real run to %s the flash\n", cases[i].what,
                            cases[i].writes ? "change" : "leave");
                fail();
            }
            free(copy);
            rig_close(&r);
        }
        if (dry.index != real.index || dry.otadata_writes != real.otadata_writes ||
            dry.otadata_writes != cases[i].writes ||
            strcmp(dry.app_desc.version, real.app_desc.version) != 0) {
            print_error("%s: dry run chose %d (%u writes), real run %d (%u writes), expected %u "
                        "writes\n  dry:  %s\n  real: %s\n",
                        cases[i].what, dry.index, dry.otadata_writes, real.index,
                        real.otadata_writes, cases[i].writes, dry.reason, real.reason);
            fail();
        }
    }
}

/* §5.4: ota_0 and ota_2 without ota_1: only ota_0 counts; ota_2 never boots. */
static void non_contiguous_slots(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    const atota_flash_t *flash = atota_flash_sim_flash(sim);
    atota_partition_table_t t;
    memset(&t, 0, sizeof t);
    fx_table_add(&t, "otadata", ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_OTA, OTADATA_OFF, 0x2000);
    fx_table_add(&t, "ota_0", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0, 0x110000, 0x100000);
    fx_table_add(&t, "ota_2", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0 + 2, 0x210000,
                 0x100000);
    size_t len0 = fx_put_app(sim, fx_table_get(&t, "ota_0"), FX_CHIP, "v1");
    fx_put_app(sim, fx_table_get(&t, "ota_2"), FX_CHIP, "v3");

    const atota_partition_t *slots[16];
    assert_int_equal(atota_boot_ota_slots(&t, slots), 1);
    assert_ptr_equal(slots[0], fx_table_get(&t, "ota_0"));

    atota_boot_opts_t o = {.rollback_enabled = true, .chip_id = FX_CHIP, .chip_rev = FX_CHIP_REV};
    atota_boot_result_t res;
    /* seq 2 and seq 3 both land on ota_0: slot 1 is empty, ota_2 is out of reach. */
    for (uint32_t seq = 2; seq <= 3; seq++) {
        fx_put_otadata(sim, OTADATA_OFF, 0, seq, ATOTA_OTA_STATE_VALID, atota_otadata_crc(seq));
        assert_int_equal(atota_boot_select(flash, &t, &o, &res, NULL), ATOTA_OK);
        if (strcmp(res.partition.name, "ota_0") != 0) {
            print_error("seq %u: expected ota_0, got %s (%s)\n", (unsigned)seq, res.partition.name,
                        res.reason);
            fail();
        }
    }
    fx_corrupt_checksum(sim, fx_table_get(&t, "ota_0"), len0);
    assert_int_equal(atota_boot_select(flash, &t, &o, &res, NULL), ATOTA_ERR_NO_BOOTABLE_APP);
    atota_flash_sim_close(sim);

    /* A full table: 3 contiguous slots. */
    rig_t r;
    rig_open(&r, RIG_FACTORY);
    fx_table_add(&r.table, "ota_2", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0 + 2, 0x310000,
                 0x80000);
    assert_int_equal(atota_boot_ota_slots(&r.table, slots), 3);
    assert_string_equal(slots[2]->name, "ota_2");
    rig_close(&r);
}

static void tables_without_usable_otadata(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, RIG_FACTORY);
    fx_put_otadata(r.sim, OTADATA_OFF, 0, 2, ATOTA_OTA_STATE_VALID, atota_otadata_crc(2));

    /* No otadata partition: factory, whatever the otadata bytes say. */
    atota_partition_table_t no_od = r.table;
    no_od.entries[1].type = ATOTA_PT_TYPE_DATA;
    no_od.entries[1].subtype = ATOTA_PT_SUBTYPE_DATA_UNDEFINED;
    atota_boot_result_t res;
    assert_int_equal(atota_boot_select(r.flash, &no_od, &r.opts, &res, NULL), ATOTA_OK);
    assert_string_equal(res.partition.name, "factory");
    expect_reason(&res, "no otadata", "no otadata partition");

    /* otadata smaller than 0x2000: the bootloader resets. */
    atota_partition_table_t small = r.table;
    small.entries[1].size = 0x1000;
    atota_diag_t d;
    atota_diag_clear(&d);
    assert_int_equal(atota_boot_select(r.flash, &small, &r.opts, &res, &d), ATOTA_ERR_OTADATA_SIZE);
    assert_non_null(strstr(d.msg, "0x1000"));

    /* No OTA app partitions at all: factory. */
    atota_partition_table_t factory_only = r.table;
    factory_only.count = 3; /* nvs, otadata, factory */
    assert_int_equal(atota_boot_select(r.flash, &factory_only, &r.opts, &res, NULL), ATOTA_OK);
    assert_string_equal(res.partition.name, "factory");
    expect_reason(&res, "factory only", "no OTA app partitions");
    rig_close(&r);
}

/* §5.4: seq 0 passes the CRC (0xFFFFFFFF) and maps to (0 - 1) % 2 = slot 1. */
static void seq_zero_wraps_to_the_last_slot(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, RIG_FACTORY);
    fx_put_otadata(r.sim, OTADATA_OFF, 0, 0, ATOTA_OTA_STATE_UNDEFINED, 0xFFFFFFFFu);
    atota_boot_result_t res = boot_expect(&r, "seq 0", "ota_1", "v2");
    expect_reason(&res, "seq 0", "otadata copy 0 (seq 0, UNDEFINED) selects ota_1");
    rig_close(&r);
}

/* Rollback disabled: NEW is left alone and PENDING_VERIFY is not aborted. */
static void rollback_disabled_writes_nothing(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, RIG_FACTORY);
    r.opts.rollback_enabled = false;
    fx_put_otadata(r.sim, OTADATA_OFF, 0, 1, ATOTA_OTA_STATE_PENDING_VERIFY, atota_otadata_crc(1));
    fx_put_otadata(r.sim, OTADATA_OFF, 1, 2, ATOTA_OTA_STATE_NEW, atota_otadata_crc(2));
    atota_boot_result_t res = boot_expect(&r, "rollback off", "ota_1", "v2");
    assert_int_equal(res.otadata_writes, 0);
    assert_int_equal(fx_mutating_ops(r.sim), 0);
    rig_close(&r);
}

/* A flash whose reads at or above fail_from fail with ATOTA_ERR_IO: a failing SPI bus, not a bad
 * image. */
typedef struct {
    const atota_flash_t *inner;
    uint32_t fail_from;
} failing_flash_t;

static atota_err_t failing_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    failing_flash_t *f = ctx;
    if (addr + len > f->fail_from)
        return ATOTA_ERR_IO;
    return atota_flash_read(f->inner, addr, buf, len);
}

static atota_err_t failing_write(void *ctx, uint32_t addr, const void *data, uint32_t len)
{
    failing_flash_t *f = ctx;
    return atota_flash_write(f->inner, addr, data, len);
}

static atota_err_t failing_erase(void *ctx, uint32_t addr, uint32_t len)
{
    failing_flash_t *f = ctx;
    return atota_flash_erase(f->inner, addr, len);
}

static void flash_errors_stop_the_boot(void **state)
{
    (void)state;
    static const atota_flash_ops_t ops = {failing_read, failing_write, failing_erase};
    rig_t r;
    rig_open(&r, RIG_FACTORY);
    fx_put_otadata(r.sim, OTADATA_OFF, 0, 2, ATOTA_OTA_STATE_VALID, atota_otadata_crc(2));
    failing_flash_t ff = {r.flash, 0x210000}; /* ota_1 and above */
    atota_flash_t flash = {&ops, &ff, r.flash->size};
    atota_boot_result_t res;
    atota_diag_t d;
    atota_diag_clear(&d);
    /* ota_1 cannot be read: an I/O error, not a fallback to ota_0. */
    assert_int_equal(atota_boot_select(&flash, &r.table, &r.opts, &res, &d), ATOTA_ERR_IO);
    assert_non_null(strstr(d.msg, "ota_1"));

    /* Power lost before the boot: reading otadata fails with the power cut. */
    atota_flash_sim_arm_power_cut(r.sim, 0, ATOTA_POWER_CUT_BEFORE, 1);
    assert_int_equal(atota_flash_erase(r.flash, 0x3f0000, 0x1000), ATOTA_ERR_FLASH_POWER_CUT);
    assert_int_equal(atota_boot_select(r.flash, &r.table, &r.opts, &res, &d),
                     ATOTA_ERR_FLASH_POWER_CUT);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(state_trace_of_section_7_1),
        cmocka_unit_test(corrupt_selected_slot_falls_back_without_rewriting_otadata),
        cmocka_unit_test(fallback_goes_forward_then_to_test),
        cmocka_unit_test(blank_otadata_without_factory_records_the_booted_slot),
        cmocka_unit_test(nothing_bootable_is_an_error),
        cmocka_unit_test(wrong_chip_image_is_skipped),
        cmocka_unit_test(dry_run_decides_without_writing),
        cmocka_unit_test(non_contiguous_slots),
        cmocka_unit_test(tables_without_usable_otadata),
        cmocka_unit_test(seq_zero_wraps_to_the_last_slot),
        cmocka_unit_test(rollback_disabled_writes_nothing),
        cmocka_unit_test(flash_errors_stop_the_boot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
