/*
 * Power cuts during a custom-partition update (core/ota/part_update.h): "after every cut and
 * reboot the partition holds exactly the old content or exactly the new". A whole update (begin,
 * the content in 1000-byte writes, finish) is cut before each of its mutating flash operations
 * and in the middle of each (an erase half done, a page half programmed, with several seeds); the
 * flash is powered on and recover runs, as the module's boot does. Then:
 *   - the partition is byte for byte the old partition or the new content followed by erased
 *     bytes: the new one whenever the cut came after the commit (the journal record), the old one
 *     whenever it came before;
 *   - the app images in ota_0 (running) and ota_1 (the staging slot's: the rollback app) are
 *     intact, and nothing outside the partition and the tail of ota_1 changed.
 * And after cuts past the commit, recover is itself cut before and in the middle of its
 * operations; the next recover completes the update.
 *
 * The flash starts from a finished earlier update of the partition (its journal done, its staged
 * copy in ota_1's tail), so the cuts also strike the erase of an old journal and of old staging.
 * Layout: profile esp32-wroom-32 (esp-at-ota.md §5.1); at_customize with mqtt_ca (0x2000, every
 * operation swept) and fs_storage (576 KB, erased by 64 KB blocks; a 100 KB content, sampled).
 */
#include "core/fmt/profile.h"
#include "core/ota/part_update.h"
#include "support/fixture.h"

#define PROFILE "esp32-wroom-32"
#define CHUNK   1000u

static const char AT_CUSTOMIZE_CSV[] = "# Name, Type, SubType, Offset, Size\n"
                                       "mfg_nvs, data, nvs, 0x21000, 112K\n"
                                       "mqtt_ca, 0x40, 14, 0x3D000, 0x2000\n"
                                       "factory_param, 0x40, 8, 0x3F000, 0x1000\n"
                                       "fs_storage, data, 0xff, 0x70000, 576K\n";

typedef enum { HOLDS_MIX = 0, HOLDS_OLD = 1, HOLDS_NEW = 2 } holds_t;

/* What a sweep cuts. */
typedef struct {
    const char *target;
    uint32_t old_len;       /* the content an earlier update left */
    uint32_t new_len;       /* the content of the update that is cut */
    uint32_t step;          /* cut the update at every step-th operation (1: each one) */
    uint32_t middle_seeds;  /* at each, also cut in the middle, with this many seeds */
    uint32_t recover_k;     /* recover cut after every recover_k-th post-commit cut */
    uint32_t recover_step;  /* ... at every recover_step-th operation of recover */
    uint32_t recover_modes; /* ... before, and in the middle with recover_modes - 1 seeds */
} plan_t;

typedef struct {
    atota_profile_t profile;
    atota_partition_table_t ac;
    atota_flash_sim_t *sim;
    const atota_flash_t *flash;
    uint32_t size;
    plan_t plan;
    const atota_partition_t *target;
    uint8_t *base;     /* the flash before the update */
    uint8_t *old_part; /* the target's bytes before (whole partition) */
    uint8_t *new_part; /* what it must hold after: the new content, then 0xFF */
    uint8_t *content;  /* the new content */
    uint8_t sha[32];   /* its SHA-256, given to finish as the server's digest */
    uint32_t stage_lo; /* the lowest address in ota_1 the updates stage at */
    uint32_t keep0;    /* ota_0's image, rounded up to 4 KB, and a signature sector */
    uint32_t keep1;    /* the same in ota_1 */
} rig_t;

static void noise(uint8_t *out, size_t len, uint32_t seed)
{
    uint32_t x = seed;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        out[i] = (uint8_t)x;
    }
}

static const atota_partition_t *part(const rig_t *r, const char *name)
{
    const atota_partition_t *p = atota_partition_find(&r->profile.partitions, name);
    return p ? p : fx_table_get(&r->ac, name);
}

static uint32_t keep_of(size_t image_len)
{
    return ((uint32_t)image_len + 0xFFF) / 0x1000 * 0x1000 + 0x1000;
}

/* begin, the content in CHUNK-byte writes, finish; the first error. *pre_commit (may be NULL) gets
 * the mutating operations done before finish's commit record (the record is operation number
 * *pre_commit, counting from 0). */
static atota_err_t run_update(rig_t *r, const uint8_t *data, uint32_t len, uint64_t *pre_commit)
{
    atota_part_update_opts_t o;
    memset(&o, 0, sizeof o);
    o.flash = r->flash;
    o.table = &r->profile.partitions;
    o.running = part(r, "ota_0");
    o.target = r->target;
    atota_part_update_t u;
    atota_err_t err = atota_part_update_begin(&u, &o, len, NULL);
    for (uint32_t off = 0; !err && off < len; off += CHUNK)
        err = atota_part_update_write(&u, data + off, len - off < CHUNK ? len - off : CHUNK, NULL);
    if (!err && pre_commit)
        *pre_commit = fx_mutating_ops(r->sim) + (u.page_len ? 1 : 0);
    if (!err)
        err = atota_part_update_finish(&u, data == r->content ? r->sha : NULL, NULL);
    atota_part_update_abort(&u);
    return err;
}

static rig_t *rig_new(const plan_t *plan)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->plan = *plan;
    atota_diag_t d = {{0}};
    FX_CHECK(atota_profile_load(PROFILE, &r->profile, &d));
    FX_CHECK(atota_partition_table_parse_csv(AT_CUSTOMIZE_CSV, strlen(AT_CUSTOMIZE_CSV), NULL,
                                             &r->ac, &d));
    r->target = fx_table_get(&r->ac, plan->target);
    r->size = r->profile.flash_size;
    r->sim = fx_sim_new(r->size);
    r->flash = atota_flash_sim_flash(r->sim);
    uint8_t *data = atota_flash_sim_data(r->sim);
    uint8_t bin[ATOTA_PT_BIN_SIZE];
    FX_CHECK(atota_partition_table_write_bin(&r->profile.partitions, bin, &d));
    memcpy(data + r->profile.partition_table_offset, bin, sizeof bin);
    FX_CHECK(atota_partition_table_write_bin(&r->ac, bin, &d));
    memcpy(data + r->profile.at_customize_offset, bin, sizeof bin);
    uint8_t *img = NULL;
    size_t n = fx_build_app_sized(FX_CHIP, "v1", 4000, &img);
    memcpy(data + part(r, "ota_0")->offset, img, n);
    r->keep0 = keep_of(n);
    free(img);
    n = fx_build_app_sized(FX_CHIP, "v0", 20000, &img);
    memcpy(data + part(r, "ota_1")->offset, img, n);
    r->keep1 = keep_of(n);
    free(img);

    /* the old content arrived by an earlier update, which left its journal (done) and staging */
    uint8_t *old = malloc(plan->old_len);
    assert_non_null(old);
    noise(old, plan->old_len, 0xC0FFEEu);
    old[0] = old[1] = 0xF1;
    FX_CHECK(run_update(r, old, plan->old_len, NULL));
    free(old);

    const atota_partition_t *ota1 = part(r, "ota_1");
    uint32_t size = r->target->size;
    r->base = malloc(r->size);
    r->old_part = malloc(size);
    r->new_part = malloc(size);
    r->content = malloc(plan->new_len);
    assert_true(r->base && r->old_part && r->new_part && r->content);
    memcpy(r->base, data, r->size);
    memcpy(r->old_part, data + r->target->offset, size);
    noise(r->content, plan->new_len, 0xBEEFu);
    r->content[0] = r->content[1] = 0xF1;
    atota_sha256(r->content, plan->new_len, r->sha);
    memset(r->new_part, 0xFF, size);
    memcpy(r->new_part, r->content, plan->new_len);
    uint32_t most = plan->old_len > plan->new_len ? plan->old_len : plan->new_len;
    r->stage_lo = ota1->offset + ota1->size - 0x1000 - (most + 0xFFF) / 0x1000 * 0x1000;
    return r;
}

static void rig_free(rig_t *r)
{
    atota_flash_sim_close(r->sim);
    free(r->base);
    free(r->old_part);
    free(r->new_part);
    free(r->content);
    free(r);
}

/* The first byte of [from, to) that differs from the base state, or `to`. */
static uint32_t first_change(const rig_t *r, uint32_t from, uint32_t to)
{
    const uint8_t *now = atota_flash_sim_data(r->sim);
    if (from >= to || memcmp(now + from, r->base + from, to - from) == 0)
        return to;
    while (now[from] == r->base[from])
        from++;
    return from;
}

/* The app images in ota_0 (running) and ota_1 (the staging slot's: the rollback app) are intact,
 * with the sector after each (a signature's place); with `full`, the whole flash outside the
 * target and ota_1's staging tail too (the tables, otadata, the other partitions). */
static void expect_rest_intact(const rig_t *r, const char *what, bool full)
{
    const atota_partition_t *t = r->target;
    const atota_partition_t *ota0 = part(r, "ota_0");
    const atota_partition_t *ota1 = part(r, "ota_1");
    uint32_t lo[3], hi[3];
    if (full) { /* the target lies below ota_1 */
        lo[0] = 0, hi[0] = t->offset;
        lo[1] = t->offset + t->size, hi[1] = r->stage_lo;
        lo[2] = ota1->offset + ota1->size, hi[2] = r->size;
    } else {
        lo[0] = ota0->offset, hi[0] = ota0->offset + r->keep0;
        lo[1] = ota1->offset, hi[1] = ota1->offset + r->keep1;
        lo[2] = hi[2] = 0;
    }
    for (int i = 0; i < 3; i++) {
        uint32_t a = first_change(r, lo[i], hi[i]);
        if (a < hi[i]) {
            print_error("%s: flash byte 0x%x changed (was %02x, now %02x)\n", what, a, r->base[a],
                        atota_flash_sim_data(r->sim)[a]);
            fail();
        }
    }
}

/* Puts back what an update may change (the target and ota_1's staging tail) from `from`: the
 * rest is checked intact after the runs. */
static void restore_changeable(rig_t *r, const uint8_t *from)
{
    const atota_partition_t *ota1 = part(r, "ota_1");
    uint8_t *data = atota_flash_sim_data(r->sim);
    memcpy(data + r->target->offset, from + r->target->offset, r->target->size);
    memcpy(data + r->stage_lo, from + r->stage_lo, ota1->offset + ota1->size - r->stage_lo);
}

/* From the base state, one update cut as asked; it must end with the cut. */
static void cut_update(rig_t *r, uint64_t k, atota_power_cut_mode_t mode, uint32_t seed)
{
    atota_flash_sim_disarm_power_cut(r->sim);
    atota_flash_sim_power_on(r->sim);
    restore_changeable(r, r->base);
    atota_flash_sim_reset_stats(r->sim);
    atota_flash_sim_arm_power_cut(r->sim, k, mode, seed);
    atota_err_t err = run_update(r, r->content, r->plan.new_len, NULL);
    if (err != ATOTA_ERR_FLASH_POWER_CUT) {
        print_error("cut at operation %llu: the update ended with %s, expected the power cut\n",
                    (unsigned long long)k, atota_err_name(err));
        fail();
    }
    atota_flash_sim_disarm_power_cut(r->sim);
    atota_flash_sim_power_on(r->sim);
}

/* The target holds exactly the old or exactly the new bytes (want: which, or both allowed), and
 * the rest of the flash is intact (see expect_rest_intact). */
static holds_t expect_old_or_new(const rig_t *r, const char *what, unsigned want, bool full)
{
    const atota_partition_t *t = r->target;
    const uint8_t *now = atota_flash_sim_data(r->sim) + t->offset;
    holds_t got = HOLDS_MIX;
    if (memcmp(now, r->old_part, t->size) == 0)
        got = HOLDS_OLD;
    else if (memcmp(now, r->new_part, t->size) == 0)
        got = HOLDS_NEW;
    if (!(got & want)) {
        size_t i = 0;
        const uint8_t *ref = want & HOLDS_NEW ? r->new_part : r->old_part;
        while (i < t->size && now[i] == ref[i])
            i++;
        print_error("%s: %s holds %s, expected %s (first difference from the %s content at byte "
                    "0x%zx)\n",
                    what, t->name,
                    got == HOLDS_OLD ? "the old content"
                    : got            ? "the new content"
                                     : "a mix",
                    want == HOLDS_OLD   ? "the old"
                    : want == HOLDS_NEW ? "the new"
                                        : "old or new",
                    want & HOLDS_NEW ? "new" : "old", i);
        fail();
    }
    expect_rest_intact(r, what, full);
    return got;
}

static void expect_recover(rig_t *r, const char *what, atota_err_t want)
{
    char label[ATOTA_PT_NAME_LEN + 1];
    atota_diag_t d = {{0}};
    atota_err_t err =
        atota_part_update_recover(r->flash, &r->profile.partitions, &r->ac, label, &d);
    if (err != want) {
        print_error("%s: recover returned %s (%s), expected %s\n", what, atota_err_name(err),
                    atota_diag_text(&d, err), atota_err_name(want));
        fail();
    }
    if (!err && label[0] && strcmp(label, r->target->name) != 0) {
        print_error("%s: recover completed %s, expected %s\n", what, label, r->target->name);
        fail();
    }
}

static void sweep(const plan_t *plan)
{
    rig_t *r = rig_new(plan);

    /* the reference run: how many operations, where the commit is */
    uint64_t commit = 0;
    atota_flash_sim_reset_stats(r->sim);
    FX_CHECK(run_update(r, r->content, plan->new_len, &commit));
    uint64_t total = fx_mutating_ops(r->sim);
    expect_old_or_new(r, "no cut", HOLDS_NEW, true);
    assert_true(commit > 0 && commit < total);

    /* 1. a cut before and in the middle of operations of the update, then recover */
    unsigned old_after = 0, new_after = 0, first_runs = 0;
    for (uint64_t k = 0; k < total; k += plan->step) {
        for (uint32_t m = 0; m <= plan->middle_seeds; m++) {
            uint32_t seed = m * 7919u + (uint32_t)k;
            char what[96];
            snprintf(what, sizeof what, "cut %s operation %llu (seed %u)",
                     m ? "in the middle of" : "before", (unsigned long long)k, seed);
            cut_update(r, k, m ? ATOTA_POWER_CUT_MIDDLE : ATOTA_POWER_CUT_BEFORE, seed);
            /* up to the commit the target is not touched at all; after it, it may be a mix */
            if (k <= commit)
                expect_old_or_new(r, what, HOLDS_OLD, false);
            else
                expect_rest_intact(r, what, false);
            expect_recover(r, what, ATOTA_OK);
            /* recover completes what was committed; a cut in the middle of programming the
             * record may or may not have committed it */
            unsigned want = k < commit || (k == commit && !m) ? HOLDS_OLD
                            : k == commit                     ? HOLDS_OLD | HOLDS_NEW
                                                              : HOLDS_NEW;
            holds_t got = expect_old_or_new(r, what, want, true);
            old_after += got == HOLDS_OLD;
            new_after += got == HOLDS_NEW;
            /* and, now and then, the next update goes through */
            if (k % (8 * plan->step) == 0 && m == 0) {
                FX_CHECK(run_update(r, r->content, plan->new_len, NULL));
                expect_old_or_new(r, what, HOLDS_NEW, false);
            }
            first_runs++;
        }
    }

    /* 2. after cuts past the commit, recover itself cut before and in the middle of its
     * operations; the next recover completes the update */
    unsigned second_runs = 0, first_cuts = 0;
    uint64_t recover_ops = 0;
    uint8_t *cut_state = malloc(r->size);
    assert_non_null(cut_state);
    for (uint64_t k = commit + 1; k < total; k += plan->recover_k) {
        for (uint32_t first = 0; first < 2; first++) {
            cut_update(r, k, first ? ATOTA_POWER_CUT_MIDDLE : ATOTA_POWER_CUT_BEFORE,
                       (uint32_t)k * 31u + 5u);
            memcpy(cut_state, atota_flash_sim_data(r->sim), r->size);
            atota_flash_sim_reset_stats(r->sim);
            expect_recover(r, "recover after the cut", ATOTA_OK);
            uint64_t rops = fx_mutating_ops(r->sim);
            recover_ops = rops > recover_ops ? rops : recover_ops;
            first_cuts++;
            for (uint64_t j = 0; j < rops; j += plan->recover_step) {
                for (uint32_t m = 0; m < plan->recover_modes; m++) {
                    char what[128];
                    snprintf(what, sizeof what,
                             "update cut %s operation %llu, recover cut %s its operation %llu",
                             first ? "in the middle of" : "before", (unsigned long long)k,
                             m ? "in the middle of" : "before", (unsigned long long)j);
                    restore_changeable(r, cut_state);
                    atota_flash_sim_reset_stats(r->sim);
                    atota_flash_sim_arm_power_cut(
                        r->sim, j, m ? ATOTA_POWER_CUT_MIDDLE : ATOTA_POWER_CUT_BEFORE,
                        m * 104729u + (uint32_t)(k * 131 + j));
                    expect_recover(r, what, ATOTA_ERR_FLASH_POWER_CUT);
                    atota_flash_sim_disarm_power_cut(r->sim);
                    atota_flash_sim_power_on(r->sim);
                    expect_recover(r, what, ATOTA_OK);
                    expect_old_or_new(r, what, HOLDS_NEW, j % (16 * plan->recover_step) == 0);
                    second_runs++;
                }
            }
        }
    }
    free(cut_state);

    char every[32], every_recover[32];
    snprintf(every, sizeof every, plan->step == 1 ? "every operation" : "1 in %u operations",
             plan->step);
    snprintf(every_recover, sizeof every_recover,
             plan->recover_step == 1 ? "every operation" : "1 in %u operations",
             plan->recover_step);
    print_message("%s power cuts: %llu mutating operations in a %u-byte update (commit at "
                  "operation %llu; recover %llu); %u cut-and-recover runs (%s x (1 before + %u in "
                  "the middle)): %u old, %u new after recover; %u runs also cutting recover (%u "
                  "post-commit cuts x %s of recover x %u): all new; %u runs, the partition old or "
                  "new after every one\n",
                  plan->target, (unsigned long long)total, plan->new_len,
                  (unsigned long long)commit, (unsigned long long)recover_ops, first_runs, every,
                  plan->middle_seeds, old_after, new_after, second_runs, first_cuts, every_recover,
                  plan->recover_modes, first_runs + second_runs);
    assert_int_equal(old_after + new_after, first_runs);
    assert_true(old_after > 0 && new_after > 0 && second_runs > 0);
    rig_free(r);
}

/* mqtt_ca: every operation of the update, 8 seeds in the middle; recover cut at every one of its
 * operations after every post-commit cut (before and in the middle), 4 ways each. */
static void mqtt_ca_every_operation(void **state)
{
    (void)state;
    const plan_t plan = {"mqtt_ca", 0x1234, 0x1A37, 1, 8, 1, 1, 4};
    sweep(&plan);
}

/* fs_storage (576 KB: the target erase is 9 block erases; staging 26 sectors): a 100 KB content,
 * every 5th operation, recover cut at every 23rd operation after every 37th post-commit cut. */
static void fs_storage_sampled(void **state)
{
    (void)state;
    const plan_t plan = {"fs_storage", 0x9000, 0x19123, 5, 1, 37, 23, 2};
    sweep(&plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mqtt_ca_every_operation),
        cmocka_unit_test(fs_storage_sampled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
