/* The simulated SPI NOR flash (port/posix/flash_sim): NOR rules, operation counting, power cuts,
 * the timing model and the backing file. docs/flash-sim.md is the model these tests check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "port/posix/flash_sim.h"

#define KB 1024u

static atota_flash_sim_t *open_memory(uint32_t size, bool strict, bool timing)
{
    atota_flash_sim_opts_t opts = {.size = size, .strict = strict, .timing = timing};
    atota_flash_sim_t *sim = NULL;
    atota_diag_t diag;
    atota_diag_clear(&diag);
    atota_err_t err = atota_flash_sim_open(&opts, &sim, &diag);
    if (err)
        fail_msg("open (memory): %s", atota_diag_text(&diag, err));
    return sim;
}

/* A fresh path under /tmp: mkstemp makes the file (empty); the caller unlinks it. */
static void temp_path(char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/atota-flash-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static bool all_equal(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != v)
            return false;
    return true;
}

static atota_flash_sim_stats_t stats_of(const atota_flash_sim_t *sim)
{
    atota_flash_sim_stats_t st;
    atota_flash_sim_get_stats(sim, &st);
    return st;
}

/* ---- NOR rules ------------------------------------------------------------------------------ */

static void fresh_flash_reads_ff(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = open_memory(0, false, false);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    assert_int_equal(f->size, ATOTA_FLASH_SIM_DEFAULT_SIZE);
    uint8_t *buf = malloc(f->size);
    assert_non_null(buf);
    assert_int_equal(atota_flash_read(f, 0, buf, f->size), ATOTA_OK);
    assert_true(all_equal(buf, f->size, 0xFF));
    assert_int_equal(atota_flash_read(f, 3, buf, 5), ATOTA_OK); /* any alignment */
    atota_flash_sim_stats_t st = stats_of(sim);
    assert_int_equal(st.reads, 2);
    assert_int_equal(st.bytes_read, (uint64_t)f->size + 5);
    assert_int_equal(st.mutating_ops, 0);
    free(buf);
    atota_flash_sim_close(sim);
}

static void program_only_clears_bits(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = open_memory(64 * KB, false, false);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    uint8_t b = 0xF0, got = 0;
    assert_int_equal(atota_flash_write(f, 0x123, &b, 1), ATOTA_OK);
    b = 0x0F;
    assert_int_equal(atota_flash_write(f, 0x123, &b, 1), ATOTA_OK);
    assert_int_equal(atota_flash_read(f, 0x123, &got, 1), ATOTA_OK);
    assert_int_equal(got, 0x00);
    b = 0xFF; /* writing 1s cannot bring bits back */
    assert_int_equal(atota_flash_write(f, 0x123, &b, 1), ATOTA_OK);
    assert_int_equal(atota_flash_sim_data(sim)[0x123], 0x00);
    assert_int_equal(atota_flash_sim_data(sim)[0x122], 0xFF);
    assert_int_equal(atota_flash_sim_data(sim)[0x124], 0xFF);
    atota_flash_sim_close(sim);
}

static void strict_mode_refuses_and_leaves_bytes(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = open_memory(64 * KB, true, false);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    uint8_t *d = atota_flash_sim_data(sim);
    uint8_t zeros[16] = {0};
    assert_int_equal(atota_flash_write(f, 0x100, zeros, 16), ATOTA_OK);

    /* 0xF0..0x10F: the first 16 bytes are erased, the next 16 are 0x00 and would need 1s */
    uint8_t data[32];
    memset(data, 0x5A, sizeof data);
    assert_int_equal(atota_flash_write(f, 0xF0, data, 32), ATOTA_ERR_FLASH_NOT_ERASED);
    assert_true(all_equal(d + 0xF0, 16, 0xFF)); /* nothing was programmed, not even page 0 */
    assert_true(all_equal(d + 0x100, 16, 0x00));
    assert_non_null(strstr(atota_flash_sim_last_error(sim), "0x100"));
    assert_int_equal(stats_of(sim).pages_programmed, 1);
    assert_int_equal(stats_of(sim).writes, 1);

    /* clearing more bits of programmed bytes is allowed */
    uint8_t b = 0x0F;
    d[0x200] = 0x3F;
    assert_int_equal(atota_flash_write(f, 0x200, &b, 1), ATOTA_OK);
    assert_int_equal(d[0x200], 0x0F);

    atota_flash_sim_set_strict(sim, false);
    assert_int_equal(atota_flash_write(f, 0xF0, data, 32), ATOTA_OK);
    assert_int_equal(d[0xF0], 0x5A);
    assert_int_equal(d[0x100], 0x00);
    atota_flash_sim_close(sim);
}

static void range_and_alignment_errors(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = open_memory(128 * KB, false, false);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    uint8_t buf[4];
    assert_int_equal(atota_flash_erase(f, 0x800, 0x1000), ATOTA_ERR_FLASH_ALIGN);
    assert_non_null(strstr(atota_flash_sim_last_error(sim), "4 KB"));
    assert_non_null(strstr(atota_flash_sim_last_error(sim), "0x800"));
    assert_int_equal(atota_flash_erase(f, 0x1000, 0x800), ATOTA_ERR_FLASH_ALIGN);
    assert_int_equal(atota_flash_erase(f, 0x1F000, 0x2000), ATOTA_ERR_FLASH_RANGE);
    assert_non_null(strstr(atota_flash_sim_last_error(sim), "past the end"));
    assert_int_equal(atota_flash_erase(f, 0x20000, 0x1000), ATOTA_ERR_FLASH_RANGE);
    assert_int_equal(atota_flash_erase(f, 0xFFFFF000u, 0x2000), ATOTA_ERR_FLASH_RANGE);
    assert_int_equal(atota_flash_read(f, 0x1FFFF, buf, 2), ATOTA_ERR_FLASH_RANGE);
    assert_int_equal(atota_flash_read(f, 0xFFFFFFFFu, buf, 2), ATOTA_ERR_FLASH_RANGE);
    assert_int_equal(atota_flash_write(f, 0x20000, buf, 1), ATOTA_ERR_FLASH_RANGE);
    assert_int_equal(atota_flash_read(f, 0x20000, buf, 0), ATOTA_OK); /* empty, at the end */
    atota_flash_sim_stats_t st = stats_of(sim);
    assert_int_equal(st.mutating_ops, 0);
    assert_int_equal(st.writes, 0);
    assert_int_equal(st.reads, 1);
    atota_flash_sim_close(sim);
}

static void erase_splits_into_blocks_and_sectors(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = open_memory(256 * KB, false, false);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    uint8_t *d = atota_flash_sim_data(sim);
    memset(d, 0x00, 256 * KB);

    /* 0x0F000..0x21000 = sector 0x0F + block 0x10000 + sector 0x20 */
    assert_int_equal(atota_flash_erase(f, 0x0F000, 0x12000), ATOTA_OK);
    atota_flash_sim_stats_t st = stats_of(sim);
    assert_int_equal(st.sector_erases, 2);
    assert_int_equal(st.block_erases, 1);
    assert_int_equal(st.mutating_ops, 3);
    assert_true(all_equal(d + 0x0F000, 0x12000, 0xFF));
    assert_int_equal(d[0x0EFFF], 0x00);
    assert_int_equal(d[0x21000], 0x00);
    assert_int_equal(atota_flash_sim_sector_erase_count(sim, 0x0E), 0);
    for (uint32_t s = 0x0F; s <= 0x20; s++)
        assert_int_equal(atota_flash_sim_sector_erase_count(sim, s), 1);
    assert_int_equal(atota_flash_sim_sector_erase_count(sim, 0x21), 0);

    /* a 64 KB run that is not 64 KB-aligned is 16 sector erases */
    atota_flash_sim_reset_stats(sim);
    assert_int_equal(atota_flash_erase(f, 0x11000, 0x10000), ATOTA_OK);
    st = stats_of(sim);
    assert_int_equal(st.sector_erases, 16);
    assert_int_equal(st.block_erases, 0);
    assert_int_equal(atota_flash_sim_sector_erase_count(sim, 0x10), 0); /* reset_stats cleared it */
    assert_int_equal(atota_flash_sim_sector_erase_count(sim, 0x11), 1);

    /* two aligned blocks; per-sector counts accumulate */
    assert_int_equal(atota_flash_erase(f, 0x10000, 0x20000), ATOTA_OK);
    st = stats_of(sim);
    assert_int_equal(st.block_erases, 2);
    assert_int_equal(st.mutating_ops, 18);
    assert_int_equal(atota_flash_sim_sector_erase_count(sim, 0x10), 1);
    assert_int_equal(atota_flash_sim_sector_erase_count(sim, 0x11), 2);
    assert_int_equal(atota_flash_sim_sector_erase_count(sim, 0x2F), 1);
    assert_int_equal(atota_flash_sim_sector_erase_count(sim, 0x40), 0); /* past the end */
    atota_flash_sim_close(sim);
}

static void writes_split_at_page_boundaries(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = open_memory(64 * KB, false, false);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    uint8_t data[600];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    /* 0xF0: 16 + 256 + 256 + 72 bytes */
    assert_int_equal(atota_flash_write(f, 0xF0, data, sizeof data), ATOTA_OK);
    atota_flash_sim_stats_t st = stats_of(sim);
    assert_int_equal(st.writes, 1);
    assert_int_equal(st.pages_programmed, 4);
    assert_int_equal(st.bytes_written, 600);
    assert_int_equal(st.mutating_ops, 4);
    assert_memory_equal(atota_flash_sim_data(sim) + 0xF0, data, sizeof data);

    assert_int_equal(atota_flash_write(f, 0x1000, data, 256), ATOTA_OK); /* one aligned page */
    assert_int_equal(atota_flash_write(f, 0x2000, data, 0), ATOTA_OK);   /* empty */
    st = stats_of(sim);
    assert_int_equal(st.pages_programmed, 5);
    assert_int_equal(st.writes, 3);
    atota_flash_sim_close(sim);
}

/* ---- power cuts ----------------------------------------------------------------------------- */

/* A sequence of flash calls and the same sequence as single operations (page program or sector
 * erase), so a reference can stop after exactly N operations. */
typedef struct {
    bool erase;
    uint32_t addr, len, src_off;
} step_t;

static const step_t calls[] = {
    {true, 0x0000, 0x2000, 0},
    {false, 0x0080, 700, 0},
    {true, 0x2000, 0x1000, 0},
    {false, 0x2000, 256, 700},
};
static const step_t units[] = {
    {true, 0x0000, 0x1000, 0}, {true, 0x1000, 0x1000, 0}, {false, 0x0080, 128, 0},
    {false, 0x0100, 256, 128}, {false, 0x0200, 256, 384}, {false, 0x0300, 60, 640},
    {true, 0x2000, 0x1000, 0}, {false, 0x2000, 256, 700},
};
#define N_UNITS (sizeof units / sizeof units[0])

static uint8_t pattern[1024];

static void prepare(atota_flash_sim_t *sim)
{
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 13 + 1);
    memset(atota_flash_sim_data(sim), 0x00, 0x4000);
}

static atota_err_t run_steps(atota_flash_sim_t *sim, const step_t *steps, size_t n)
{
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    atota_err_t first = ATOTA_OK;
    for (size_t i = 0; i < n; i++) {
        const step_t *s = &steps[i];
        atota_err_t err = s->erase ? atota_flash_erase(f, s->addr, s->len)
                                   : atota_flash_write(f, s->addr, pattern + s->src_off, s->len);
        if (err && !first)
            first = err;
        if (first) /* after a cut, every call fails */
            assert_int_equal(err, ATOTA_ERR_FLASH_POWER_CUT);
    }
    return first;
}

static void cut_before_op_n_leaves_n_ops(void **state)
{
    (void)state;
    for (uint64_t n = 0; n <= N_UNITS; n++) {
        atota_flash_sim_t *ref = open_memory(64 * KB, false, false);
        prepare(ref);
        assert_int_equal(run_steps(ref, units, n), ATOTA_OK);

        atota_flash_sim_t *sim = open_memory(64 * KB, false, false);
        prepare(sim);
        atota_flash_sim_arm_power_cut(sim, n, ATOTA_POWER_CUT_BEFORE, 7);
        atota_err_t err = run_steps(sim, calls, sizeof calls / sizeof calls[0]);
        assert_int_equal(err, n < N_UNITS ? ATOTA_ERR_FLASH_POWER_CUT : ATOTA_OK);
        assert_int_equal(atota_flash_sim_powered(sim), n == N_UNITS);
        atota_flash_sim_stats_t st = stats_of(sim);
        assert_int_equal(st.mutating_ops, n);
        assert_int_equal(st.power_cuts, n < N_UNITS ? 1 : 0);
        assert_memory_equal(atota_flash_sim_data(sim), atota_flash_sim_data(ref), 0x4000);
        atota_flash_sim_close(sim);
        atota_flash_sim_close(ref);
    }
}

static void cut_middle_of_write_leaves_a_prefix(void **state)
{
    (void)state;
    uint8_t zeros[1024] = {0};
    bool seen[256] = {false};
    unsigned distinct = 0;
    for (uint32_t seed = 0; seed < 300; seed++) {
        atota_flash_sim_t *sim = open_memory(64 * KB, false, false);
        const atota_flash_t *f = atota_flash_sim_flash(sim);
        const uint8_t *d = atota_flash_sim_data(sim);
        /* cut on the 3rd page of a 4-page write: pages 1-2 programmed, 3 partly, 4 untouched */
        atota_flash_sim_arm_power_cut(sim, 2, ATOTA_POWER_CUT_MIDDLE, seed);
        assert_int_equal(atota_flash_write(f, 0, zeros, 1024), ATOTA_ERR_FLASH_POWER_CUT);
        assert_true(all_equal(d, 512, 0x00));
        size_t p = 512;
        while (p < 768 && d[p] == 0x00)
            p++;
        assert_true(p < 768); /* the prefix is shorter than the page */
        assert_true(all_equal(d + p + 1, 1024 - (p + 1), 0xFF));
        if (!seen[p - 512]) {
            seen[p - 512] = true;
            distinct++;
        }
        assert_int_equal(stats_of(sim).pages_programmed, 2);
        atota_flash_sim_close(sim);
    }
    assert_true(distinct > 100); /* the seed moves the cut through the page */
}

static void cut_middle_of_erase_leaves_garbage(void **state)
{
    (void)state;
    for (uint32_t seed = 1; seed <= 50; seed++) {
        for (int block = 0; block <= 1; block++) {
            uint32_t len = block ? ATOTA_FLASH_BLOCK_SIZE : ATOTA_FLASH_SECTOR_SIZE;
            atota_flash_sim_t *sim = open_memory(192 * KB, false, false);
            const atota_flash_t *f = atota_flash_sim_flash(sim);
            uint8_t *d = atota_flash_sim_data(sim);
            memset(d, 0x5A, 192 * KB);
            atota_flash_sim_arm_power_cut(sim, 0, ATOTA_POWER_CUT_MIDDLE, seed);
            assert_int_equal(atota_flash_erase(f, 0x10000, len), ATOTA_ERR_FLASH_POWER_CUT);
            size_t p = 0; /* erased prefix */
            while (p < len && d[0x10000 + p] == 0xFF)
                p++;
            assert_true(p < len);
            assert_false(all_equal(d + 0x10000, len, 0x5A)); /* not untouched... */
            for (size_t i = p; i < len; i++)                 /* ...bits only set, never cleared */
                assert_int_equal(d[0x10000 + i] & 0x5A, 0x5A);
            assert_int_equal(d[0xFFFF], 0x5A); /* outside the range: untouched */
            assert_int_equal(d[0x10000 + len], 0x5A);
            atota_flash_sim_stats_t st = stats_of(sim);
            assert_int_equal(st.mutating_ops, 0);
            assert_int_equal(st.sector_erases + st.block_erases, 0);
            assert_int_equal(atota_flash_sim_sector_erase_count(sim, 0x10), 0);
            atota_flash_sim_close(sim);
        }
    }
}

static void after_a_cut_everything_fails_until_power_on(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = open_memory(64 * KB, false, false);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    uint8_t b = 0;
    atota_flash_sim_arm_power_cut(sim, 0, ATOTA_POWER_CUT_BEFORE, 1);
    assert_int_equal(atota_flash_erase(f, 0, 0x1000), ATOTA_ERR_FLASH_POWER_CUT);
    assert_non_null(strstr(atota_flash_sim_last_error(sim), "power cut"));
    assert_false(atota_flash_sim_powered(sim));
    assert_int_equal(atota_flash_read(f, 0, &b, 1), ATOTA_ERR_FLASH_POWER_CUT);
    assert_non_null(strstr(atota_flash_sim_last_error(sim), "power_on"));
    assert_int_equal(atota_flash_write(f, 0, &b, 1), ATOTA_ERR_FLASH_POWER_CUT);
    assert_int_equal(atota_flash_erase(f, 0x10, 0x10), ATOTA_ERR_FLASH_POWER_CUT);
    assert_int_equal(stats_of(sim).reads, 0);

    atota_flash_sim_power_on(sim);
    assert_true(atota_flash_sim_powered(sim));
    assert_int_equal(atota_flash_read(f, 0, &b, 1), ATOTA_OK);
    assert_int_equal(b, 0xFF);
    /* the cut fired once: it is not armed any more */
    assert_int_equal(atota_flash_erase(f, 0, 0x1000), ATOTA_OK);

    /* disarm */
    atota_flash_sim_arm_power_cut(sim, 0, ATOTA_POWER_CUT_BEFORE, 1);
    atota_flash_sim_disarm_power_cut(sim);
    assert_int_equal(atota_flash_write(f, 0, &b, 1), ATOTA_OK);
    assert_true(atota_flash_sim_powered(sim));
    atota_flash_sim_close(sim);
}

static void cuts_are_deterministic_per_seed(void **state)
{
    (void)state;
    uint8_t *img[3];
    atota_flash_sim_t *sims[3];
    const uint32_t seeds[3] = {42, 42, 43};
    for (int i = 0; i < 3; i++) {
        sims[i] = open_memory(64 * KB, false, false);
        prepare(sims[i]);
        const atota_flash_t *f = atota_flash_sim_flash(sims[i]);
        assert_int_equal(atota_flash_write(f, 0x4000, pattern, 1024), ATOTA_OK);
        /* cut the 1st sector erase, of 0x3000 (all 0x00): garbage everywhere past the prefix */
        atota_flash_sim_arm_power_cut(sims[i], 0, ATOTA_POWER_CUT_MIDDLE, seeds[i]);
        assert_int_equal(atota_flash_erase(f, 0x3000, 0x2000), ATOTA_ERR_FLASH_POWER_CUT);
        img[i] = atota_flash_sim_data(sims[i]);
    }
    assert_memory_equal(img[0], img[1], 64 * KB);
    assert_memory_not_equal(img[0], img[2], 64 * KB);
    for (int i = 0; i < 3; i++)
        atota_flash_sim_close(sims[i]);
}

/* ---- timing --------------------------------------------------------------------------------- */

static void timing_adds_the_documented_figures(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = open_memory(256 * KB, false, true);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    uint8_t buf[6144];
    memset(buf, 0, sizeof buf);
    assert_int_equal(atota_flash_erase(f, 0x0F000, 0x12000), ATOTA_OK); /* 2 x 70 ms + 300 ms */
    assert_int_equal(stats_of(sim).modelled_us, 440000);
    assert_int_equal(atota_flash_write(f, 0xF0, buf, 600), ATOTA_OK); /* 4 x 0.8 ms */
    assert_int_equal(stats_of(sim).modelled_us, 443200);
    assert_int_equal(atota_flash_read(f, 0, buf, 4096), ATOTA_OK); /* 459 us per 4 KB */
    assert_int_equal(stats_of(sim).modelled_us, 443659);
    assert_int_equal(atota_flash_read(f, 0, buf, 2048), ATOTA_OK); /* pro rata: 6 KB = 688.5 */
    assert_int_equal(stats_of(sim).modelled_us, 443888);

    /* a cut operation adds nothing */
    atota_flash_sim_arm_power_cut(sim, 0, ATOTA_POWER_CUT_MIDDLE, 3);
    assert_int_equal(atota_flash_erase(f, 0, 0x10000), ATOTA_ERR_FLASH_POWER_CUT);
    assert_int_equal(stats_of(sim).modelled_us, 443888);

    atota_flash_sim_reset_stats(sim);
    atota_flash_sim_stats_t st = stats_of(sim);
    assert_int_equal(st.modelled_us, 0);
    assert_int_equal(st.mutating_ops + st.reads + st.bytes_read + st.power_cuts, 0);
    atota_flash_sim_close(sim);

    sim = open_memory(64 * KB, false, false); /* timing off: no modelled time */
    f = atota_flash_sim_flash(sim);
    assert_int_equal(atota_flash_erase(f, 0, 0x10000), ATOTA_OK);
    assert_int_equal(stats_of(sim).modelled_us, 0);
    assert_int_equal(stats_of(sim).block_erases, 1);
    atota_flash_sim_close(sim);
}

/* ---- backing file --------------------------------------------------------------------------- */

static void file_keeps_what_was_programmed(void **state)
{
    (void)state;
    char path[64];
    temp_path(path, sizeof path);
    atota_flash_sim_opts_t opts = {.path = path, .size = 128 * KB, .create = true};
    atota_flash_sim_t *sim = NULL;
    assert_int_equal(atota_flash_sim_open(&opts, &sim, NULL), ATOTA_OK);
    assert_int_equal(file_size(path), 128 * KB);
    const char msg[] = "hello flash";
    assert_int_equal(atota_flash_write(atota_flash_sim_flash(sim), 0x1F0FE, msg, sizeof msg),
                     ATOTA_OK);
    /* MAP_SHARED: the file holds the bytes at once, so killing the process loses nothing */
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char got[sizeof msg];
    assert_int_equal(fseek(fp, 0x1F0FE, SEEK_SET), 0);
    assert_int_equal(fread(got, 1, sizeof got, fp), sizeof got);
    fclose(fp);
    assert_memory_equal(got, msg, sizeof msg);
    assert_int_equal(atota_flash_sim_sync(sim), ATOTA_OK);
    atota_flash_sim_close(sim);

    opts = (atota_flash_sim_opts_t){.path = path}; /* size 0: the file's size */
    assert_int_equal(atota_flash_sim_open(&opts, &sim, NULL), ATOTA_OK);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    assert_int_equal(f->size, 128 * KB);
    assert_int_equal(atota_flash_read(f, 0x1F0FE, got, sizeof got), ATOTA_OK);
    assert_memory_equal(got, msg, sizeof msg);
    assert_true(all_equal(atota_flash_sim_data(sim), 0x1F0FE, 0xFF));
    atota_flash_sim_close(sim);
    unlink(path);
}

static void empty_file_becomes_default_size(void **state)
{
    (void)state;
    char path[64];
    temp_path(path, sizeof path); /* mkstemp leaves it empty */
    atota_flash_sim_opts_t opts = {.path = path, .create = true};
    atota_flash_sim_t *sim = NULL;
    assert_int_equal(atota_flash_sim_open(&opts, &sim, NULL), ATOTA_OK);
    assert_int_equal(atota_flash_sim_flash(sim)->size, ATOTA_FLASH_SIM_DEFAULT_SIZE);
    assert_int_equal(file_size(path), ATOTA_FLASH_SIM_DEFAULT_SIZE);
    assert_true(all_equal(atota_flash_sim_data(sim), ATOTA_FLASH_SIM_DEFAULT_SIZE, 0xFF));
    atota_flash_sim_close(sim);
    unlink(path);
}

static void short_file_reads_as_ff_padded(void **state)
{
    (void)state;
    char path[64];
    uint8_t img[1000];
    memset(img, 0x00, sizeof img);
    temp_path(path, sizeof path);
    write_file(path, img, sizeof img);

    atota_flash_sim_opts_t opts = {.path = path};
    atota_flash_sim_t *sim = NULL;
    assert_int_equal(atota_flash_sim_open(&opts, &sim, NULL), ATOTA_OK);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    assert_int_equal(f->size, 64 * KB); /* rounded up to 64 KB */
    uint8_t *buf = malloc(64 * KB);
    assert_non_null(buf);
    assert_int_equal(atota_flash_read(f, 0, buf, 64 * KB), ATOTA_OK);
    assert_true(all_equal(buf, 1000, 0x00));
    assert_true(all_equal(buf + 1000, 64 * KB - 1000, 0xFF));
    atota_flash_sim_close(sim);
    assert_int_equal(file_size(path), 64 * KB); /* extended with 0xFF */
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(buf, 1, 64 * KB, fp), 64 * KB);
    fclose(fp);
    assert_true(all_equal(buf + 1000, 64 * KB - 1000, 0xFF));
    free(buf);
    unlink(path);
}

static void read_only_file_is_never_written(void **state)
{
    (void)state;
    char path[64];
    uint8_t img[0x11000];
    memset(img, 0x33, sizeof img);
    temp_path(path, sizeof path);
    write_file(path, img, sizeof img);

    atota_flash_sim_opts_t opts = {.path = path, .read_only = true};
    atota_flash_sim_t *sim = NULL;
    assert_int_equal(atota_flash_sim_open(&opts, &sim, NULL), ATOTA_OK);
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    assert_int_equal(f->size, 128 * KB);
    const uint8_t *d = atota_flash_sim_data(sim);
    assert_true(all_equal(d, sizeof img, 0x33));
    assert_true(all_equal(d + sizeof img, 128 * KB - sizeof img, 0xFF));
    uint8_t b = 0;
    assert_int_equal(atota_flash_write(f, 0, &b, 1), ATOTA_ERR_STATE);
    assert_non_null(strstr(atota_flash_sim_last_error(sim), "read-only"));
    assert_int_equal(atota_flash_erase(f, 0, 0x1000), ATOTA_ERR_STATE);
    assert_int_equal(d[0], 0x33);
    assert_int_equal(atota_flash_sim_sync(sim), ATOTA_OK);
    atota_flash_sim_close(sim);
    assert_int_equal(file_size(path), sizeof img); /* not extended */
    unlink(path);
}

static void open_errors_say_what_was_wrong(void **state)
{
    (void)state;
    atota_flash_sim_t *sim = (atota_flash_sim_t *)(uintptr_t)1; /* open must reset it to NULL */
    atota_diag_t diag;

    atota_diag_clear(&diag);
    atota_flash_sim_opts_t opts = {.size = 0x1000};
    assert_int_equal(atota_flash_sim_open(&opts, &sim, &diag), ATOTA_ERR_INVALID_ARG);
    assert_null(sim);
    assert_non_null(strstr(diag.msg, "64 KB"));

    char path[64];
    temp_path(path, sizeof path);
    unlink(path);
    atota_diag_clear(&diag);
    opts = (atota_flash_sim_opts_t){.path = path};
    assert_int_equal(atota_flash_sim_open(&opts, &sim, &diag), ATOTA_ERR_NOT_FOUND);
    assert_non_null(strstr(diag.msg, path));
    opts.read_only = true;
    assert_int_equal(atota_flash_sim_open(&opts, &sim, &diag), ATOTA_ERR_NOT_FOUND);

    uint8_t img[0x20000];
    memset(img, 0xFF, sizeof img);
    write_file(path, img, sizeof img);
    atota_diag_clear(&diag);
    opts = (atota_flash_sim_opts_t){.path = path, .size = 64 * KB};
    assert_int_equal(atota_flash_sim_open(&opts, &sim, &diag), ATOTA_ERR_TOO_BIG);
    assert_non_null(strstr(diag.msg, "larger than the flash size"));
    assert_int_equal(file_size(path), sizeof img); /* untouched */
    unlink(path);

    atota_diag_clear(&diag);
    opts = (atota_flash_sim_opts_t){.path = "/tmp"};
    assert_int_equal(atota_flash_sim_open(&opts, &sim, &diag), ATOTA_ERR_IO); /* EISDIR */
    assert_true(strlen(diag.msg) > 0);
    opts.read_only = true;
    assert_int_equal(atota_flash_sim_open(&opts, &sim, &diag), ATOTA_ERR_INVALID_ARG);
    assert_non_null(strstr(diag.msg, "not a regular file"));

    assert_int_equal(atota_flash_sim_open(NULL, &sim, NULL), ATOTA_ERR_INVALID_ARG);
    atota_flash_sim_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fresh_flash_reads_ff),
        cmocka_unit_test(program_only_clears_bits),
        cmocka_unit_test(strict_mode_refuses_and_leaves_bytes),
        cmocka_unit_test(range_and_alignment_errors),
        cmocka_unit_test(erase_splits_into_blocks_and_sectors),
        cmocka_unit_test(writes_split_at_page_boundaries),
        cmocka_unit_test(cut_before_op_n_leaves_n_ops),
        cmocka_unit_test(cut_middle_of_write_leaves_a_prefix),
        cmocka_unit_test(cut_middle_of_erase_leaves_garbage),
        cmocka_unit_test(after_a_cut_everything_fails_until_power_on),
        cmocka_unit_test(cuts_are_deterministic_per_seed),
        cmocka_unit_test(timing_adds_the_documented_figures),
        cmocka_unit_test(file_keeps_what_was_programmed),
        cmocka_unit_test(empty_file_becomes_default_size),
        cmocka_unit_test(short_file_reads_as_ff_padded),
        cmocka_unit_test(read_only_file_is_never_written),
        cmocka_unit_test(open_errors_say_what_was_wrong),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
