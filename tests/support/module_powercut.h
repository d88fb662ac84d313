/*
 * Power cuts during an app update of a simulated module that ends in the first boot of the new
 * app (AT+USEROTA; a web upload and AT+RST): the boot after a cut, and the sweep that cuts the
 * power before every mutating flash operation of a reference run and in the middle of some with
 * several seeds, booting the module after each. The test supplies the run (from its base state
 * to the answer and the boot of v2, stopped wherever the armed cut strikes). Header-only (static
 * inline), like fixture.h.
 */
#ifndef ATOTA_TESTS_SUPPORT_MODULE_POWERCUT_H
#define ATOTA_TESTS_SUPPORT_MODULE_POWERCUT_H

#include "support/capture_host.h"
#include "support/fixture.h"

/* What one run did. */
typedef struct {
    uint64_t update_ops; /* mutating flash operations from the request to its answer */
    uint64_t total_ops;  /* ... and through v2's first boot */
    bool ok;             /* the update was answered as a success */
} fx_cut_outcome_t;

/* One run from the base state; with arm, a cut (mode, seed) strikes before or in the middle of
 * mutating operation k. */
typedef fx_cut_outcome_t (*fx_cut_run_fn)(void *ctx, bool arm, uint64_t k,
                                          atota_power_cut_mode_t mode, uint32_t seed);

typedef struct {
    atota_module_t *m;
    atota_flash_sim_t *sim;
    const atota_module_host_t *host;
    fx_host_state_t *hs;
    const char *v1, *v2; /* the versions before and after the update */
    fx_cut_run_fn run;   /* with ctx */
    void *ctx;
    uint64_t min_update_ops;   /* the reference run must have more */
    unsigned mid_every, seeds; /* middle cuts: every mid_every-th operation, with seeds seeds */
} fx_app_cut_sweep_t;

/* What the sweep saw. */
typedef struct {
    fx_cut_outcome_t ref;        /* the reference run */
    unsigned points;             /* cuts made */
    unsigned v1_boots, v2_boots; /* what booted after the cuts before an operation */
} fx_app_cut_result_t;

/* After a power cut: powers the flash on with no cut armed and boots the module, which must
 * boot and run `want`, or (want NULL) either v1 or v2; `what` names the cut in the message. */
static inline void fx_module_expect_boot_after_cut(atota_module_t *m, atota_flash_sim_t *sim,
                                                   const atota_module_host_t *host,
                                                   fx_host_state_t *h, const char *what,
                                                   const char *want, const char *v1, const char *v2)
{
    atota_flash_sim_power_on(sim);
    atota_flash_sim_disarm_power_cut(sim);
    atota_diag_t d = {{0}};
    atota_err_t err = fx_module_try_boot(m, atota_flash_sim_flash(sim), host, h, NULL, &d);
    const char *v = m->boot.app_desc.version;
    if (err || (want && strcmp(v, want)) || (strcmp(v, v1) && strcmp(v, v2))) {
        char either[80];
        snprintf(either, sizeof either, "%s or %s", v1, v2);
        print_error("%s: expected %s to boot, got %s (%s)\n", what, want ? want : either,
                    err ? atota_err_name(err) : v, err ? atota_diag_text(&d, err) : "");
        fail();
    }
}

/* The reference run, with no cut, must succeed with v2 running after more than min_update_ops
 * operations. Then a cut before each operation of the reference run (the update and v2's first
 * boot), and in the middle of every mid_every-th with each seed: the run must stop powerless,
 * fail when the cut came before its answer, and the module must then boot: v1 while the cut
 * came before the answer (the otadata switch is the last operation), v1 or v2 after it. */
static inline fx_app_cut_result_t fx_app_cut_sweep(const fx_app_cut_sweep_t *s)
{
    fx_app_cut_result_t res;
    memset(&res, 0, sizeof res);
    res.ref = s->run(s->ctx, false, 0, ATOTA_POWER_CUT_BEFORE, 0);
    const fx_cut_outcome_t ref = res.ref;
    assert_true(ref.ok);
    assert_string_equal(s->m->boot.app_desc.version, s->v2);
    assert_true(ref.update_ops > s->min_update_ops);

    char what[96];
    for (uint64_t k = 0; k < ref.total_ops; k++) {
        fx_cut_outcome_t o = s->run(s->ctx, true, k, ATOTA_POWER_CUT_BEFORE, 0);
        assert_false(atota_flash_sim_powered(s->sim));
        if (k < ref.update_ops)
            assert_false(o.ok);
        snprintf(what, sizeof what, "cut before operation %llu", (unsigned long long)k);
        fx_module_expect_boot_after_cut(s->m, s->sim, s->host, s->hs, what,
                                        k < ref.update_ops ? s->v1 : NULL, s->v1, s->v2);
        res.points++;
        if (!strcmp(s->m->boot.app_desc.version, s->v1))
            res.v1_boots++;
        else
            res.v2_boots++; /* a cut before v2's first boot touched otadata: v2 (NEW) boots */
    }
    for (uint32_t seed = 1; seed <= s->seeds; seed++) {
        for (uint64_t k = seed % s->mid_every; k < ref.total_ops; k += s->mid_every) {
            s->run(s->ctx, true, k, ATOTA_POWER_CUT_MIDDLE, seed * 7919u + (uint32_t)k);
            assert_false(atota_flash_sim_powered(s->sim));
            snprintf(what, sizeof what, "cut in the middle of operation %llu (seed %u)",
                     (unsigned long long)k, seed);
            fx_module_expect_boot_after_cut(s->m, s->sim, s->host, s->hs, what,
                                            k < ref.update_ops ? s->v1 : NULL, s->v1, s->v2);
            res.points++;
        }
    }
    return res;
}

#endif /* ATOTA_TESTS_SUPPORT_MODULE_POWERCUT_H */
