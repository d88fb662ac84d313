/*
 * Test fixtures for otadata and boot selection: an in-memory simulated flash, a partition table
 * filled in C, app images from the image builder, copies of the flash to compare with or to start
 * again from, and readable dumps of otadata for failure messages. Header-only (static inline) so
 * any test can include it without a CMake change.
 */
#ifndef ATOTA_TESTS_SUPPORT_FIXTURE_H
#define ATOTA_TESTS_SUPPORT_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/check.h"

#include "core/fmt/image.h"
#include "core/fmt/otadata.h"
#include "core/fmt/partition.h"
#include "port/posix/flash_sim.h"

#define FX_CHIP     ATOTA_CHIP_ESP32
#define FX_CHIP_REV 300 /* ESP32 v3.0 */

/* A memory-only strict flash of `size` bytes, all 0xFF. */
static inline atota_flash_sim_t *fx_sim_new(uint32_t size)
{
    atota_flash_sim_opts_t o;
    memset(&o, 0, sizeof o);
    o.path = NULL;
    o.size = size;
    o.create = true;
    o.strict = true;
    atota_flash_sim_t *sim = NULL;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_flash_sim_open(&o, &sim, &d);
    if (err != ATOTA_OK || sim == NULL) {
        print_error("atota_flash_sim_open(size 0x%x): %s\n", (unsigned)size,
                    atota_diag_text(&d, err));
        fail();
    }
    return sim;
}

/* A copy of the flash's first `size` bytes (its whole content at the flash's size); the caller
 * frees it. */
static inline uint8_t *fx_sim_copy(atota_flash_sim_t *sim, size_t size)
{
    uint8_t *copy = malloc(size);
    assert_non_null(copy);
    memcpy(copy, atota_flash_sim_data(sim), size);
    return copy;
}

/* Puts a copy back (bytes, not flash operations), powers the flash on and disarms any power
 * cut: where every run of a power-cut test starts. */
static inline void fx_sim_restore(atota_flash_sim_t *sim, const uint8_t *copy, size_t size)
{
    memcpy(atota_flash_sim_data(sim), copy, size);
    atota_flash_sim_power_on(sim);
    atota_flash_sim_disarm_power_cut(sim);
}

static inline uint64_t fx_mutating_ops(const atota_flash_sim_t *sim)
{
    atota_flash_sim_stats_t st;
    atota_flash_sim_get_stats(sim, &st);
    return st.mutating_ops;
}

/* Builds an app image for `chip` with this version string; the caller frees *out. */
/* Builds an app image for `chip` with this version string and a DROM payload of payload_size
 * bytes of deterministic noise (0: 64 small bytes); the caller frees *out. */
static inline size_t fx_build_app_sized(uint16_t chip, const char *version, size_t payload_size,
                                        uint8_t **out)
{
    static const uint8_t code[64] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t *noise = NULL;
    atota_image_build_segment_t seg;
    memset(&seg, 0, sizeof seg);
    seg.load_addr = 0; /* DROM after the descriptor */
    seg.data = code;
    seg.len = sizeof code;
    if (payload_size) {
        noise = malloc(payload_size);
        assert_non_null(noise);
        uint32_t x = 2463534242u; /* xorshift32: the same bytes every run */
        for (size_t i = 0; i < payload_size; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            noise[i] = (uint8_t)x;
        }
        seg.data = noise;
        seg.len = (uint32_t)payload_size;
    }

    atota_image_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.chip_id = chip;
    o.version = version;
    o.project_name = "atota-test";
    o.time = "12:00:00";
    o.date = "Jan  1 2025";
    o.idf_ver = "v5.5";
    o.segments = &seg;
    o.segment_count = 1;

    size_t cap = atota_image_build_size(&o);
    if (cap == 0) {
        print_error("atota_image_build_size returned 0 for version %s\n", version);
        fail();
    }
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = 0;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_image_build(&o, buf, cap, &len, &d);
    free(noise);
    if (err != ATOTA_OK) {
        print_error("atota_image_build(%s): %s\n", version, atota_diag_text(&d, err));
        free(buf);
        fail();
    }
    *out = buf;
    return len;
}

/* A small app image (a 64-byte payload). */
static inline size_t fx_build_app(uint16_t chip, const char *version, uint8_t **out)
{
    return fx_build_app_sized(chip, version, 0, out);
}

/* Places an app image in a partition by writing the bytes directly (not a flash operation the
 * power-cut clock counts): the rest of the partition is left as it is. */
static inline size_t fx_put_app(atota_flash_sim_t *sim, const atota_partition_t *p, uint16_t chip,
                                const char *version)
{
    uint8_t *img = NULL;
    size_t len = fx_build_app(chip, version, &img);
    assert_true(len <= p->size);
    uint8_t *data = atota_flash_sim_data(sim);
    memset(data + p->offset, 0xFF, p->size);
    memcpy(data + p->offset, img, len);
    free(img);
    return len;
}

/* Flips a byte of the stored image (the XOR checksum byte sits just before the 32-byte hash). */
static inline void fx_corrupt_checksum(atota_flash_sim_t *sim, const atota_partition_t *p,
                                       size_t image_len)
{
    uint8_t *data = atota_flash_sim_data(sim);
    data[p->offset + image_len - 32 - 1] ^= 0x5A;
}

/* Writes one otadata copy directly (no flash operation counted). */
static inline void fx_put_otadata(atota_flash_sim_t *sim, uint32_t offset, int copy, uint32_t seq,
                                  uint32_t state, uint32_t crc)
{
    atota_otadata_entry_t e;
    memset(&e, 0xFF, sizeof e);
    e.seq = seq;
    e.state = state;
    e.crc = crc;
    uint8_t *data = atota_flash_sim_data(sim) + offset + (uint32_t)copy * ATOTA_FLASH_SECTOR_SIZE;
    memset(data, 0xFF, ATOTA_FLASH_SECTOR_SIZE);
    atota_otadata_encode(&e, data);
}

static inline void fx_get_otadata(atota_flash_sim_t *sim, uint32_t offset,
                                  atota_otadata_entry_t e[2])
{
    const uint8_t *data = atota_flash_sim_data(sim) + offset;
    atota_otadata_decode(data, &e[0]);
    atota_otadata_decode(data + ATOTA_FLASH_SECTOR_SIZE, &e[1]);
}

/* "seq/STATE/crc" as the tables of esp-idf-formats.md §7.1 write it. */
static inline const char *fx_entry_text(const atota_otadata_entry_t *e, char buf[48])
{
    char sb[12];
    snprintf(buf, 48, "%x/%s/%08x", (unsigned)e->seq, atota_otadata_state_name(e->state, sb),
             (unsigned)e->crc);
    return buf;
}

/* Asserts one otadata copy, printing expected and got on a mismatch. */
static inline void fx_expect_entry(const char *what, int copy, const atota_otadata_entry_t *got,
                                   uint32_t seq, uint32_t state, uint32_t crc)
{
    if (got->seq == seq && got->state == state && got->crc == crc)
        return;
    atota_otadata_entry_t want = *got;
    want.seq = seq;
    want.state = state;
    want.crc = crc;
    char a[48], b[48];
    print_error("%s: otadata copy %d: expected %s, got %s\n", what, copy, fx_entry_text(&want, a),
                fx_entry_text(got, b));
    fail();
}

/* A whole sector of 0xFF? */
static inline bool fx_is_blank(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0xFF)
            return false;
    return true;
}

/* The partition holds what it held in `before` (a copy of the whole flash: fx_sim_copy); the
 * message names the partition and the first difference. */
static inline void fx_expect_partition_kept(atota_flash_sim_t *sim, const uint8_t *before,
                                            const atota_partition_t *p)
{
    fx_expect_bytes(p->name, atota_flash_sim_data(sim) + p->offset, before + p->offset, p->size);
}

/* The partition holds content (len bytes), then 0xFF to its end. */
static inline void fx_expect_partition_holds(atota_flash_sim_t *sim, const atota_partition_t *p,
                                             const uint8_t *content, size_t len)
{
    const uint8_t *data = atota_flash_sim_data(sim) + p->offset;
    assert_true(len <= p->size);
    fx_expect_bytes(p->name, data, content, len);
    assert_true(fx_is_blank(data + len, p->size - len));
}

#endif /* ATOTA_TESTS_SUPPORT_FIXTURE_H */
