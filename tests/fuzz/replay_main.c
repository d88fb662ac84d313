/*
 * Runs a libFuzzer target without libFuzzer: every file under the directories given on the command
 * line (the shared vectors), then a bounded number of deterministic mutations of each (byte flips,
 * boundary words, truncations, splices). This is the representative part of `make fuzz` that runs
 * in every `make test`; the sanitizers turn any memory error into a failure, and the targets
 * abort() when two of their paths disagree.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FILE      (4u << 20)
#define SMALL_FILE    (64u << 10)
#define MUTATIONS     300 /* per small file */
#define MUTATIONS_BIG 12  /* per file over SMALL_FILE: each run hashes the whole image */

static unsigned long files, inputs;
static uint32_t rng_state = 0x2545F491u;

static uint32_t rng(void)
{
    /* xorshift32: deterministic, so a failure reproduces on every run */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void run(const uint8_t *data, size_t size)
{
    LLVMFuzzerTestOneInput(data, size);
    inputs++;
}

static void mutate_and_run(const uint8_t *orig, size_t size, uint8_t *buf)
{
    memcpy(buf, orig, size);
    size_t len = size;
    /* Most interesting structure is near the start (headers, tables): bias positions there. */
    size_t window = size < 4096 ? size : (rng() & 1 ? 4096 : size);
    switch (rng() % 5) {
    case 0: /* flip a few bytes */
        for (unsigned n = 1 + rng() % 8; n && window; n--)
            buf[rng() % window] ^= (uint8_t)(1u << (rng() % 8));
        break;
    case 1: /* a boundary word */
        if (window >= 4) {
            static const uint32_t words[] = {0,          1,          0xFF,      0xFFFF,
                                             0x7FFFFFFF, 0xFFFFFFFF, 0x1000000, 0x10000,
                                             0xFFFFFFFC, 0x3F400020};
            uint32_t w = words[rng() % (sizeof words / sizeof words[0])];
            memcpy(buf + (rng() % (window - 3)), &w, 4);
        }
        break;
    case 2: /* truncate */
        len = size ? rng() % size : 0;
        break;
    case 3: /* random bytes */
        for (unsigned n = 1 + rng() % 32; n && window; n--)
            buf[rng() % window] = (uint8_t)rng();
        break;
    default: /* copy one region over another */
        if (window > 16) {
            size_t a = rng() % window, b = rng() % window, n = 1 + rng() % 64;
            if (a + n > size)
                n = size - a;
            if (b + n > size)
                n = size - b;
            memmove(buf + b, buf + a, n);
        }
        break;
    }
    run(buf, len);
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || st->st_size <= 0 || (size_t)st->st_size > MAX_FILE)
        return 0;
    size_t size = (size_t)st->st_size;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint8_t *orig = malloc(size);
    uint8_t *buf = malloc(size);
    if (orig && buf && fread(orig, 1, size, f) == size) {
        files++;
        run(orig, size);
        unsigned n = size > SMALL_FILE ? MUTATIONS_BIG : MUTATIONS;
        for (unsigned i = 0; i < n; i++)
            mutate_and_run(orig, size, buf);
    }
    free(orig);
    free(buf);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    /* Edge cases every target must survive. */
    static const uint8_t empty[1];
    run(empty, 0);
    for (int i = 1; i < argc; i++) {
        if (nftw(argv[i], visit, 16, FTW_PHYS) != 0) {
            fprintf(stderr, "%s: cannot walk %s\n", argv[0], argv[i]);
            return 1;
        }
    }
    if (files == 0) {
        fprintf(stderr, "%s: no input files found\n", argv[0]);
        return 1;
    }
    printf("fuzz replay: %lu inputs (%lu files and their mutations), no failures\n", inputs, files);
    return 0;
}
