/*
 * Power cuts during a boot-slot switch: the upgrade commit sequence (set_boot_slot, reboot into the
 * new app, mark it valid) and the bootloader's own in-place writes, interrupted before every
 * mutating flash operation and in the middle of each, always leave a flash that boots either the
 * old app or the new one (esp-idf-formats.md §5.5, §7; the flash model of port/posix/flash_sim.h).
 *
 * Layout: ESP-AT's ESP32 4 MB table (esp-at-ota.md §5.1), v1 in the slot that runs (VALID) and v2
 * in the other, in both directions (ota_0 -> ota_1 writes copy 1, ota_1 -> ota_0 writes copy 0).
 */
#include "core/ota/boot.h"
#include "support/fixture.h"

#define SIM_SIZE     0x400000u
#define OTADATA_OFF  0x10000u
#define MIDDLE_SEEDS 8
#define E            0xFFFFFFFFu

typedef enum { OUT_OLD = 1, OUT_NEW = 2, OUT_OLD_OR_NEW = 3 } outcome_t;

typedef struct {
    atota_partition_table_t table;
    uint8_t *pristine; /* the whole flash before the operation */
    atota_boot_opts_t opts;
    unsigned old_slot; /* holds v1, the app running before the switch; the other slot holds v2 */
    unsigned runs;
} sweep_t;

/* The operation a sweep interrupts, run on a prepared flash; stops at the first error. */
typedef atota_err_t (*op_fn)(const sweep_t *s, const atota_flash_t *flash);

static atota_boot_opts_t boot_opts(void)
{
    atota_boot_opts_t o;
    memset(&o, 0, sizeof o);
    o.rollback_enabled = true; /* ESP-AT: CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y */
    o.chip_id = FX_CHIP;
    o.chip_rev = FX_CHIP_REV;
    return o;
}

static atota_err_t op_boot(const sweep_t *s, const atota_flash_t *flash)
{
    atota_boot_result_t res;
    return atota_boot_select(flash, &s->table, &s->opts, &res, NULL);
}

/* esp_ota_set_boot_partition(the slot that holds v2). */
static atota_err_t op_switch(const sweep_t *s, const atota_flash_t *flash)
{
    return atota_otadata_set_boot_slot(flash, OTADATA_OFF, 1 - s->old_slot, 2, true);
}

/* The upgrade commit: switch to the new slot, reboot (the bootloader marks it PENDING_VERIFY),
 * and the new app confirms itself. */
static atota_err_t op_commit(const sweep_t *s, const atota_flash_t *flash)
{
    atota_err_t err = op_switch(s, flash);
    if (err != ATOTA_OK)
        return err;
    err = op_boot(s, flash);
    if (err != ATOTA_OK)
        return err;
    return atota_otadata_mark_valid(flash, OTADATA_OFF);
}

static void sweep_init(sweep_t *s, unsigned old_slot)
{
    memset(s, 0, sizeof *s);
    s->old_slot = old_slot;
    atota_partition_table_t *t = &s->table;
    /* esp-at-ota.md §5.1, ESP32 default (4 MB) */
    fx_table_add(t, "phy_init", ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_PHY, 0xf000, 0x1000);
    fx_table_add(t, "otadata", ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_OTA, OTADATA_OFF, 0x2000);
    fx_table_add(t, "nvs", ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_NVS, 0x12000, 0xE000);
    fx_table_add(t, "at_customize", ATOTA_PT_TYPE_AT_CUSTOMIZE, 0, 0x20000, 0xE0000);
    fx_table_add(t, "ota_0", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0, 0x100000, 0x180000);
    fx_table_add(t, "ota_1", ATOTA_PT_TYPE_APP, ATOTA_PT_SUBTYPE_APP_OTA_0 + 1, 0x280000, 0x180000);
    s->opts = boot_opts();

    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    fx_put_app(sim, fx_table_get(t, "ota_0"), FX_CHIP, old_slot == 0 ? "v1" : "v2");
    fx_put_app(sim, fx_table_get(t, "ota_1"), FX_CHIP, old_slot == 1 ? "v1" : "v2");
    s->pristine = malloc(SIM_SIZE);
    assert_non_null(s->pristine);
    memcpy(s->pristine, atota_flash_sim_data(sim), SIM_SIZE);
    atota_flash_sim_close(sim);
}

static void sweep_free(sweep_t *s)
{
    free(s->pristine);
}

/* A fresh flash holding the pristine bytes with otadata as given (copy state, seq, or E). */
static atota_flash_sim_t *fresh(const sweep_t *s, uint32_t seq0, uint32_t st0, uint32_t seq1,
                                uint32_t st1)
{
    atota_flash_sim_t *sim = fx_sim_new(SIM_SIZE);
    memcpy(atota_flash_sim_data(sim), s->pristine, SIM_SIZE);
    if (seq0 != E)
        fx_put_otadata(sim, OTADATA_OFF, 0, seq0, st0, atota_otadata_crc(seq0));
    if (seq1 != E)
        fx_put_otadata(sim, OTADATA_OFF, 1, seq1, st1, atota_otadata_crc(seq1));
    atota_flash_sim_reset_stats(sim);
    return sim;
}

/* Boots; returns OUT_OLD (v1 from the old slot) or OUT_NEW (v2 from the other), failing on
 * anything else. */
static outcome_t boot_old_or_new(sweep_t *s, atota_flash_sim_t *sim, const char *what)
{
    atota_boot_result_t res;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_boot_select(atota_flash_sim_flash(sim), &s->table, &s->opts, &res, &d);
    if (err != ATOTA_OK) {
        print_error("%s: expected to boot v1 or v2, got %s: %s\n", what, atota_err_name(err),
                    atota_diag_text(&d, err));
        fail();
    }
    const char *old_name = s->old_slot == 0 ? "ota_0" : "ota_1";
    const char *new_name = s->old_slot == 0 ? "ota_1" : "ota_0";
    if (strcmp(res.partition.name, old_name) == 0 && strcmp(res.app_desc.version, "v1") == 0)
        return OUT_OLD;
    if (strcmp(res.partition.name, new_name) == 0 && strcmp(res.app_desc.version, "v2") == 0)
        return OUT_NEW;
    print_error("%s: expected %s (v1) or %s (v2), got %s (%s); reason: %s\n", what, old_name,
                new_name, res.partition.name, res.app_desc.version, res.reason);
    fail();
    return OUT_OLD;
}

static const char *outcome_name(outcome_t o)
{
    return o == OUT_OLD ? "old (v1)" : o == OUT_NEW ? "new (v2)" : "old or new";
}

/*
 * One interrupted run: arm the cut at operation k, run the operation until the power cut, power
 * on, boot (the next boot), then let the app that booted confirm itself (mark_valid, as ESP-AT does
 * once it runs) and boot once more: the same app must come back. Returns the first boot's outcome.
 */
static outcome_t run_cut(sweep_t *s, const char *name, op_fn op, uint32_t seq0, uint32_t st0,
                         uint32_t seq1, uint32_t st1, uint64_t k, atota_power_cut_mode_t mode,
                         uint32_t seed)
{
    char what[160];
    snprintf(what, sizeof what, "%s, cut %s operation %llu (seed %u)", name,
             mode == ATOTA_POWER_CUT_BEFORE ? "before" : "in the middle of", (unsigned long long)k,
             (unsigned)seed);
    atota_flash_sim_t *sim = fresh(s, seq0, st0, seq1, st1);
    const atota_flash_t *flash = atota_flash_sim_flash(sim);

    atota_flash_sim_arm_power_cut(sim, k, mode, seed);
    atota_err_t err = op(s, flash);
    if (err != ATOTA_ERR_FLASH_POWER_CUT || atota_flash_sim_powered(sim)) {
        print_error("%s: expected the operation to stop on a power cut, got %s\n", what,
                    atota_err_name(err));
        fail();
    }
    atota_flash_sim_disarm_power_cut(sim);
    atota_flash_sim_power_on(sim);

    outcome_t first = boot_old_or_new(s, sim, what);
    /* The app that runs confirms itself; an old app that is already VALID writes nothing. With
     * no active copy (a garbled copy that is not invalid() sends the bootloader to "factory",
     * which here means the first slot that verifies) IDF's mark_valid fails the same way. */
    err = atota_otadata_mark_valid(flash, OTADATA_OFF);
    if (err != ATOTA_OK) {
        atota_otadata_entry_t e[2];
        fx_get_otadata(sim, OTADATA_OFF, e);
        if (err != ATOTA_ERR_OTADATA_INVALID || atota_otadata_select(e) != -1) {
            print_error("%s: mark_valid after the first boot: %s\n", what, atota_err_name(err));
            fail();
        }
    }
    char again[200];
    snprintf(again, sizeof again, "%s, second boot", what);
    outcome_t second = boot_old_or_new(s, sim, again);
    if (second != first) {
        print_error("%s: first boot gave %s, the boot after it confirmed itself gave %s\n", what,
                    outcome_name(first), outcome_name(second));
        fail();
    }
    /* And a third boot, with nothing in between, is stable too. */
    snprintf(again, sizeof again, "%s, third boot", what);
    assert_int_equal(boot_old_or_new(s, sim, again), first);
    atota_flash_sim_close(sim);
    s->runs++;
    return first;
}

/* Sweeps every cut point of op over BEFORE and MIDDLE (MIDDLE_SEEDS seeds). want_before[k] is
 * the outcome a cut before operation k must give; a MIDDLE cut must give old or new (which one
 * depends on where in the operation the cut fell). want_count is the expected number of cut
 * points N, want_uncut the outcome without a cut. Returns N. */
static uint64_t sweep(sweep_t *s, const char *name, op_fn op, uint32_t seq0, uint32_t st0,
                      uint32_t seq1, uint32_t st1, const outcome_t *want_before, size_t want_count,
                      outcome_t want_uncut)
{
    /* The uninterrupted run: its mutating operations are the cut points. */
    atota_flash_sim_t *sim = fresh(s, seq0, st0, seq1, st1);
    assert_int_equal(op(s, atota_flash_sim_flash(sim)), ATOTA_OK);
    uint64_t n = fx_mutating_ops(sim);
    char what[120];
    snprintf(what, sizeof what, "%s, uninterrupted", name);
    outcome_t uncut = boot_old_or_new(s, sim, what);
    if (uncut != want_uncut) {
        print_error("%s: expected %s, got %s\n", what, outcome_name(want_uncut),
                    outcome_name(uncut));
        fail();
    }
    atota_flash_sim_close(sim);
    if (n != want_count) {
        print_error("%s: expected %zu mutating operations, got %llu\n", name, want_count,
                    (unsigned long long)n);
        fail();
    }

    for (uint64_t k = 0; k < n; k++) {
        outcome_t got =
            run_cut(s, name, op, seq0, st0, seq1, st1, k, ATOTA_POWER_CUT_BEFORE, (uint32_t)k);
        if (!(got & want_before[k])) {
            print_error("%s: cut before operation %llu: expected %s, got %s\n", name,
                        (unsigned long long)k, outcome_name(want_before[k]), outcome_name(got));
            fail();
        }
        for (uint32_t seed = 1; seed <= MIDDLE_SEEDS; seed++)
            run_cut(s, name, op, seq0, st0, seq1, st1, k, ATOTA_POWER_CUT_MIDDLE,
                    seed * 7919u + (uint32_t)k);
    }
    return n;
}

/* otadata before an operation, for one direction of the switch. */
typedef struct {
    unsigned old_slot;
    uint32_t seq0, st0, seq1, st1;
} setup_t;

/* Sweeps op in each given direction; returns the cut points summed over them, adds the runs. */
static uint64_t sweep_setups(const char *name, op_fn op, const setup_t *setups, size_t count,
                             const outcome_t *want, size_t want_count, outcome_t want_uncut,
                             unsigned *runs)
{
    uint64_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const setup_t *u = &setups[i];
        char what[96];
        snprintf(what, sizeof what, "%s, ota_%u -> ota_%u", name, u->old_slot, 1 - u->old_slot);
        sweep_t s;
        sweep_init(&s, u->old_slot);
        n += sweep(&s, what, op, u->seq0, u->st0, u->seq1, u->st1, want, want_count, want_uncut);
        *runs += s.runs;
        sweep_free(&s);
    }
    return n;
}

/* Both directions of a switch: from ota_0 (seq 1 VALID, copy 1 blank), which writes copy 1, and
 * from ota_1 (copy 1 seq 2 VALID active over copy 0 seq 1), which writes copy 0 (seq 3). */
static const setup_t running_valid[] = {
    {0, 1, ATOTA_OTA_STATE_VALID, E, E},
    {1, 1, ATOTA_OTA_STATE_VALID, 2, ATOTA_OTA_STATE_VALID},
};

/* The switch alone (esp_ota_set_boot_partition): it writes only the copy that is not active, so
 * every cut before it completes boots v1, and the completed switch boots v2. */
static void switch_survives_every_cut(void **state)
{
    (void)state;
    static const outcome_t want[] = {OUT_OLD, OUT_OLD};
    unsigned runs = 0;
    uint64_t n = sweep_setups("switch", op_switch, running_valid, 2, want, 2, OUT_NEW, &runs);
    print_message("boot power-cut sweep (set_boot_slot, both directions): %llu cut points x modes "
                  "= %u runs, all booted old or new\n",
                  (unsigned long long)n, runs);
}

/*
 * The upgrade commit, in each direction. Its six mutating operations, all on the copy that is not
 * active before the switch (copy 1 from ota_0, copy 0 from ota_1):
 *   0 erase, 1 program = seq/NEW              (set_boot_slot)
 *   2 erase, 3 program = seq/PENDING_VERIFY   (the bootloader, NEW -> PENDING_VERIFY)
 *   4 erase, 5 program = seq/VALID            (the new app's mark_valid, in place)
 * A cut before the switch record is complete (0, 1) boots v1. A cut before 2 finds NEW: the next
 * boot is v2, which confirms itself. A cut at 3 or later, before the confirmation is complete,
 * leaves the copy erased (v1) or PENDING_VERIFY, which the next boot aborts: the rollback an
 * unconfirmed app gets (v1). Uncut: v2.
 */
static void commit_sequence_survives_every_cut(void **state)
{
    (void)state;
    static const outcome_t want[] = {OUT_OLD, OUT_OLD, OUT_NEW, OUT_OLD, OUT_OLD, OUT_OLD};
    unsigned runs = 0;
    uint64_t n = sweep_setups("commit", op_commit, running_valid, 2, want, 6, OUT_NEW, &runs);
    print_message(
        "boot power-cut sweep: %llu cut points x modes = %u runs, all booted old or new\n",
        (unsigned long long)n, runs);
    print_message("  (6 cut points in each direction, ota_0 -> ota_1 and ota_1 -> ota_0; modes: "
                  "before each operation, and in its middle with %d seeds)\n",
                  MIDDLE_SEEDS);
}

/* The bootloader's NEW -> PENDING_VERIFY write: a cut before it leaves NEW, which boots v2; a cut
 * before the program leaves the copy erased: v1. Uncut, the boot after it (with no confirmation
 * in between) aborts the unconfirmed v2: v1. */
static void new_to_pending_write_survives_every_cut(void **state)
{
    (void)state;
    static const setup_t setups[] = {
        {0, 1, ATOTA_OTA_STATE_VALID, 2, ATOTA_OTA_STATE_NEW},
        {1, 3, ATOTA_OTA_STATE_NEW, 2, ATOTA_OTA_STATE_VALID},
    };
    static const outcome_t want[] = {OUT_NEW, OUT_OLD};
    unsigned runs = 0;
    uint64_t n = sweep_setups("NEW -> PENDING_VERIFY", op_boot, setups, 2, want, 2, OUT_OLD, &runs);
    print_message("boot power-cut sweep (NEW -> PENDING_VERIFY): %llu cut points x modes = %u "
                  "runs, all booted old or new\n",
                  (unsigned long long)n, runs);
}

/* The bootloader's PENDING_VERIFY -> ABORTED write: whatever the cut leaves, the next boot rolls
 * back to v1. */
static void pending_to_aborted_write_survives_every_cut(void **state)
{
    (void)state;
    static const setup_t setups[] = {
        {0, 1, ATOTA_OTA_STATE_VALID, 2, ATOTA_OTA_STATE_PENDING_VERIFY},
        {1, 3, ATOTA_OTA_STATE_PENDING_VERIFY, 2, ATOTA_OTA_STATE_VALID},
    };
    static const outcome_t want[] = {OUT_OLD, OUT_OLD};
    unsigned runs = 0;
    uint64_t n =
        sweep_setups("PENDING_VERIFY -> ABORTED", op_boot, setups, 2, want, 2, OUT_OLD, &runs);
    print_message("boot power-cut sweep (PENDING_VERIFY -> ABORTED): %llu cut points x modes = %u "
                  "runs, all booted old or new\n",
                  (unsigned long long)n, runs);
}

/* The bootloader's set_actual_ota_seq on blank otadata (no factory): a cut leaves copy 0 blank or
 * garbled, and the next boot records it again (or, garbled, falls through to ota_0): always v1. */
static void blank_otadata_record_survives_every_cut(void **state)
{
    (void)state;
    static const setup_t setups[] = {{0, E, E, E, E}};
    static const outcome_t want[] = {OUT_OLD, OUT_OLD};
    unsigned runs = 0;
    uint64_t n = sweep_setups("set_actual_ota_seq", op_boot, setups, 1, want, 2, OUT_OLD, &runs);
    print_message("boot power-cut sweep (set_actual_ota_seq): %llu cut points x modes = %u runs, "
                  "all booted old or new\n",
                  (unsigned long long)n, runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(switch_survives_every_cut),
        cmocka_unit_test(commit_sequence_survives_every_cut),
        cmocka_unit_test(new_to_pending_write_survives_every_cut),
        cmocka_unit_test(pending_to_aborted_write_survives_every_cut),
        cmocka_unit_test(blank_otadata_record_survives_every_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
