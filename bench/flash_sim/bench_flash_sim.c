/*
 * Simulated-flash throughput, as a ratio against a plain memcpy/memset baseline measured in the
 * same run (ARCHITECTURE.md: each figure a ratio). Also prints the modelled time of the same work
 * on a module (docs/flash-sim.md, timing model). Usage: bench_flash_sim [MiB] [reps]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "port/posix/flash_sim.h"

#define CHUNK 4096u

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    atota_flash_sim_t *sim;
    uint8_t *mem; /* baseline target */
    uint8_t *src; /* data written */
    uint32_t size;
} bench_t;

static volatile uint8_t sink;

static void base_write(bench_t *b)
{
    for (uint32_t a = 0; a < b->size; a += CHUNK)
        memcpy(b->mem + a, b->src + a, CHUNK);
    sink = b->mem[b->size - 1];
}

static void base_erase(bench_t *b)
{
    for (uint32_t a = 0; a < b->size; a += CHUNK)
        memset(b->mem + a, 0xFF, CHUNK);
    sink = b->mem[b->size - 1];
}

static void base_read(bench_t *b)
{
    for (uint32_t a = 0; a < b->size; a += CHUNK)
        memcpy(b->src + a, b->mem + a, CHUNK);
    sink = b->src[b->size - 1];
}

static void sim_write(bench_t *b)
{
    const atota_flash_t *f = atota_flash_sim_flash(b->sim);
    for (uint32_t a = 0; a < b->size; a += CHUNK)
        if (atota_flash_write(f, a, b->src + a, CHUNK))
            abort();
}

static void sim_erase(bench_t *b)
{
    const atota_flash_t *f = atota_flash_sim_flash(b->sim);
    for (uint32_t a = 0; a < b->size; a += CHUNK)
        if (atota_flash_erase(f, a, CHUNK))
            abort();
}

static void sim_read(bench_t *b)
{
    const atota_flash_t *f = atota_flash_sim_flash(b->sim);
    for (uint32_t a = 0; a < b->size; a += CHUNK)
        if (atota_flash_read(f, a, b->src + a, CHUNK))
            abort();
}

/* Best of reps: each rep erases first so a write always lands on erased flash. */
static double best(bench_t *b, void (*prep)(bench_t *), void (*fn)(bench_t *), int reps)
{
    double t_best = 1e30;
    for (int r = 0; r < reps; r++) {
        if (prep)
            prep(b);
        double t0 = now_s();
        fn(b);
        double t = now_s() - t0;
        if (t < t_best)
            t_best = t;
    }
    return t_best;
}

static void report(const char *what, double sim_s, double base_s, uint32_t size)
{
    double mib = (double)size / (1024.0 * 1024.0);
    printf("%-28s sim %9.1f MiB/s   baseline %9.1f MiB/s   sim/baseline %.3f\n", what, mib / sim_s,
           mib / base_s, base_s / sim_s);
}

int main(int argc, char **argv)
{
    uint32_t mib = argc > 1 ? (uint32_t)atoi(argv[1]) : 4;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (mib == 0 || mib > 256 || reps <= 0) {
        fprintf(stderr, "usage: %s [MiB 1..256] [reps]\n", argv[0]);
        return 2;
    }
    bench_t b = {.size = mib * 1024u * 1024u};
    atota_flash_sim_opts_t opts = {.size = b.size, .strict = true, .timing = true};
    atota_diag_t diag;
    atota_diag_clear(&diag);
    atota_err_t err = atota_flash_sim_open(&opts, &b.sim, &diag);
    b.mem = malloc(b.size);
    b.src = malloc(b.size);
    if (err || !b.mem || !b.src) {
        fprintf(stderr, "setup failed: %s\n", atota_diag_text(&diag, err));
        return 1;
    }
    for (uint32_t i = 0; i < b.size; i++)
        b.src[i] = (uint8_t)(i * 2654435761u >> 24);
    memset(b.mem, 0xFF, b.size);

    printf("flash_sim bench: %u MiB in %u-byte calls, best of %d (strict mode, timing on)\n", mib,
           CHUNK, reps);
    report("write (page programs)", best(&b, sim_erase, sim_write, reps),
           best(&b, base_erase, base_write, reps), b.size);
    report("erase (4 KB sectors)", best(&b, NULL, sim_erase, reps),
           best(&b, NULL, base_erase, reps), b.size);
    report("read", best(&b, NULL, sim_read, reps), best(&b, NULL, base_read, reps), b.size);

    /* Modelled module time for one pass of "erase a sector, program it" over the whole flash. */
    atota_flash_sim_reset_stats(b.sim);
    sim_erase(&b);
    sim_write(&b);
    atota_flash_sim_stats_t st;
    atota_flash_sim_get_stats(b.sim, &st);
    printf("modelled on a module: erase + program %u MiB = %.1f s (%.1f KB/s)\n", mib,
           (double)st.modelled_us / 1e6, (double)b.size / 1000.0 / ((double)st.modelled_us / 1e6));

    atota_flash_sim_close(b.sim);
    free(b.mem);
    free(b.src);
    return 0;
}
