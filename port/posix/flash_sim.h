/*
 * The simulated SPI NOR flash: a file (or memory) that behaves like the flash of an ESP32 module
 * (core/hal.h contract): erased is 0xFF, erase by 4 KB sector and 64 KB block, programming only
 * clears bits, an optional strict mode that fails a write onto bytes that are not erased.
 *
 * For tests it counts operations (and erases per sector), injects power cuts before the Nth
 * mutating operation or in the middle of it, and can report how long the same operations would
 * take on a real module (a timing model with datasheet figures, docs/flash-sim.md).
 *
 * The file is the whole state of a simulated module: killing the process is a power cut.
 */
#ifndef ATOTA_PORT_POSIX_FLASH_SIM_H
#define ATOTA_PORT_POSIX_FLASH_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hal.h"

#define ATOTA_FLASH_SIM_DEFAULT_SIZE 0x400000u /* 4 MB */

typedef struct atota_flash_sim atota_flash_sim_t;

typedef struct {
    const char *path; /* backing file; NULL: memory only */
    uint32_t size;    /* bytes, a multiple of 64 KB; 0: the file's size, or 4 MB for a new one */
    bool create;      /* create the file (filled with 0xFF) when it does not exist */
    bool read_only;   /* open an existing file without writing to it */
    bool strict;      /* fail writes onto bytes that are not erased */
    bool timing;      /* accumulate modelled time for each operation */
} atota_flash_sim_opts_t;

/* Opens (or creates) a simulated flash (docs/flash-sim.md). opts->size must be a multiple of
 * 64 KB (else ATOTA_ERR_INVALID_ARG); 0 means the existing file's size rounded up to 64 KB, or 4 MB
 * for a new or empty file or for memory. A file shorter than size is read as if padded with 0xFF
 * (a merged image that ends early): it is extended with 0xFF on open, or, when read_only, copied
 * into private memory (the file is never written). A file longer than size: ATOTA_ERR_TOO_BIG.
 * A missing file without create: ATOTA_ERR_NOT_FOUND; other OS failures: ATOTA_ERR_IO. diag (may
 * be NULL) says what was wrong with which file. *out is owned by the caller:
 * atota_flash_sim_close. */
atota_err_t atota_flash_sim_open(const atota_flash_sim_opts_t *opts, atota_flash_sim_t **out,
                                 atota_diag_t *diag);

/* Flushes (msync) and frees. NULL is fine. */
void atota_flash_sim_close(atota_flash_sim_t *sim);

/* The core's view of this flash (core/hal.h contract). Valid until close. Operations that fail
 * leave a one-line reason in atota_flash_sim_last_error. A read_only flash refuses write and
 * erase with ATOTA_ERR_STATE. */
const atota_flash_t *atota_flash_sim_flash(atota_flash_sim_t *sim);

/* Direct access to the bytes (size bytes), for tools and tests. Writing through it bypasses the
 * NOR rules and the counters. */
uint8_t *atota_flash_sim_data(atota_flash_sim_t *sim);

/* Flushes the bytes to the backing file (msync). ATOTA_ERR_IO if that fails; a memory-backed or
 * read_only flash has nothing to flush. */
atota_err_t atota_flash_sim_sync(atota_flash_sim_t *sim);

/* Strict mode: a write that would turn a 0 bit into 1 fails with ATOTA_ERR_FLASH_NOT_ERASED and
 * programs nothing (the whole write is checked first). */
void atota_flash_sim_set_strict(atota_flash_sim_t *sim, bool strict);

/* The one-line reason of the last failed flash operation ("" if none has failed). Valid until the
 * next operation or close. */
const char *atota_flash_sim_last_error(const atota_flash_sim_t *sim);

typedef struct {
    uint64_t reads;
    uint64_t bytes_read;
    uint64_t writes;           /* write calls */
    uint64_t pages_programmed; /* 256-byte page program operations */
    uint64_t bytes_written;
    uint64_t sector_erases; /* 4 KB */
    uint64_t block_erases;  /* 64 KB */
    uint64_t mutating_ops;  /* page programs + sector erases + block erases: the power-cut clock */
    uint64_t power_cuts;    /* cuts that happened (armed cuts that fired) */
    uint64_t modelled_us;   /* time the same operations take on a real module (timing on) */
} atota_flash_sim_stats_t;

/* Counters count completed operations only: a refused call or a cut operation adds nothing. */
void atota_flash_sim_get_stats(const atota_flash_sim_t *sim, atota_flash_sim_stats_t *stats);

/* Zeroes every counter, modelled_us and the per-sector erase counts. */
void atota_flash_sim_reset_stats(atota_flash_sim_t *sim);

/* How many times the 4 KB sector with this index has been erased (a block erase counts for each
 * of its 16 sectors). 0 for an index past the end. */
uint32_t atota_flash_sim_sector_erase_count(const atota_flash_sim_t *sim, uint32_t sector);

typedef enum {
    ATOTA_POWER_CUT_BEFORE = 0, /* the cut operation does not happen at all */
    ATOTA_POWER_CUT_MIDDLE,     /* it happens partly: a page program writes a prefix of its bytes
                                   (0 to len-1, the next byte with only some bits cleared); an erase
                                   leaves a prefix of its range 0xFF and the rest the old bytes
                                   with random bits set (docs/flash-sim.md) */
} atota_power_cut_mode_t;

/* Arms a power cut: the next `after_ops` mutating operations succeed, then the one after is cut
 * (as mode says) and the flash loses power: that call returns ATOTA_ERR_FLASH_POWER_CUT, and so
 * does every operation after it until atota_flash_sim_power_on. The same seed and the same
 * operations give the same bytes. Re-arming replaces an armed cut. */
void atota_flash_sim_arm_power_cut(atota_flash_sim_t *sim, uint64_t after_ops,
                                   atota_power_cut_mode_t mode, uint32_t seed);

/* Disarms any armed cut. */
void atota_flash_sim_disarm_power_cut(atota_flash_sim_t *sim);

/* False after a cut happened, until atota_flash_sim_power_on. */
bool atota_flash_sim_powered(const atota_flash_sim_t *sim);

/* Powers the flash on again after a cut (the bytes stay as the cut left them). */
void atota_flash_sim_power_on(atota_flash_sim_t *sim);

#endif /* ATOTA_PORT_POSIX_FLASH_SIM_H */
