/*
 * The simulated SPI NOR flash: backing (a MAP_SHARED file or anonymous memory), NOR rules, power
 * cuts and the timing model. docs/flash-sim.md describes the model; esp-idf-formats.md §8
 * (ESP-IDF's partition_linux.c) is the behavioural oracle.
 */
#include "port/posix/flash_sim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Timing model (prior-art.md §3b). Typical figures, because the model answers "how long would
 * this take on a module", not "what is the worst case".
 *  - Page program 0.8 ms typ, sector erase 70 ms typ, 64 KB block erase 0.3 s typ: ESP32-S3-WROOM-1
 *    datasheet v1.6, Table 6-7. A page program costs the same whatever its length.
 *  - Read 459 µs per 4 KB, pro rata by byte: ESP-IDF host emulation,
 *    components/esp_partition/partition_linux.c (s_esp_partition_stat_read_times).
 */
#define FLASH_SIM_PAGE_PROGRAM_US 800u
#define FLASH_SIM_SECTOR_ERASE_US 70000u
#define FLASH_SIM_BLOCK_ERASE_US  300000u
#define FLASH_SIM_READ_US_PER_4K  459u

#define FLASH_SIM_MAX_SIZE 0xFFFF0000u /* the largest multiple of 64 KB a uint32_t holds */

struct atota_flash_sim {
    uint8_t *data;
    uint32_t size;
    int fd;      /* -1 when not file-backed (memory, or a read_only copy) */
    bool shared; /* data is a MAP_SHARED mapping of fd */
    bool read_only;
    bool strict;
    bool timing;
    bool powered;
    bool cut_armed;
    atota_power_cut_mode_t cut_mode;
    uint64_t cut_countdown; /* mutating operations left before the cut */
    uint64_t rng;           /* seeded state for the cut position and the garbage */
    atota_flash_sim_stats_t stats;
    uint64_t mutation_us;      /* modelled time of page programs and erases */
    uint64_t timed_bytes_read; /* bytes read while timing was on (pro-rata read time) */
    uint32_t *erase_counts;    /* one per 4 KB sector */
    atota_diag_t last_error;
    atota_flash_t flash;
};

/* ---- backing ------------------------------------------------------------------------------- */

static atota_err_t sys_fail(atota_diag_t *diag, const char *what, const char *path)
{
    int e = errno;
    return atota_diag_set(diag, e == ENOENT ? ATOTA_ERR_NOT_FOUND : ATOTA_ERR_IO,
                          "flash file %s: %s: %s", path, what, strerror(e));
}

static uint8_t *map_anonymous(uint32_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    memset(p, 0xFF, size);
    return p;
}

/* Picks the flash size from opts and the file's current size (0 for memory or a new file). */
static atota_err_t choose_size(const atota_flash_sim_opts_t *opts, uint64_t file_size,
                               uint32_t *size, atota_diag_t *diag)
{
    const char *name = opts->path ? opts->path : "(memory)";
    uint64_t s = opts->size;
    if (s == 0) {
        s = file_size ? (file_size + ATOTA_FLASH_BLOCK_SIZE - 1) / ATOTA_FLASH_BLOCK_SIZE *
                            ATOTA_FLASH_BLOCK_SIZE
                      : ATOTA_FLASH_SIM_DEFAULT_SIZE;
        if (s > FLASH_SIM_MAX_SIZE)
            return atota_diag_set(diag, ATOTA_ERR_TOO_BIG,
                                  "flash file %s: 0x%llx bytes is too large for a flash", name,
                                  (unsigned long long)file_size);
    }
    if (s % ATOTA_FLASH_BLOCK_SIZE != 0)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "flash %s: size 0x%llx is not a non-zero multiple of 64 KB", name,
                              (unsigned long long)s);
    if (file_size > s)
        return atota_diag_set(diag, ATOTA_ERR_TOO_BIG,
                              "flash file %s: 0x%llx bytes, larger than the flash size 0x%llx",
                              name, (unsigned long long)file_size, (unsigned long long)s);
    *size = (uint32_t)s;
    return ATOTA_OK;
}

/* Appends 0xFF from `from` up to `to`: the file never holds bytes nobody programmed. */
static atota_err_t extend_with_ff(int fd, uint64_t from, uint64_t to, const char *path,
                                  atota_diag_t *diag)
{
    uint8_t ff[4096];
    memset(ff, 0xFF, sizeof ff);
    while (from < to) {
        size_t n = to - from < sizeof ff ? (size_t)(to - from) : sizeof ff;
        ssize_t w = pwrite(fd, ff, n, (off_t)from);
        if (w <= 0)
            return sys_fail(diag, "cannot extend with 0xFF", path);
        from += (uint64_t)w;
    }
    return ATOTA_OK;
}

/* read_only: a private copy of what the file holds, padded with 0xFF. */
static atota_err_t copy_file(atota_flash_sim_t *sim, uint64_t file_size, const char *path,
                             atota_diag_t *diag)
{
    sim->data = map_anonymous(sim->size);
    if (!sim->data)
        return atota_diag_set(diag, ATOTA_ERR_NO_MEM, "flash %s: cannot map 0x%x bytes", path,
                              sim->size);
    for (uint64_t off = 0; off < file_size;) {
        ssize_t r = pread(sim->fd, sim->data + off, (size_t)(file_size - off), (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return sys_fail(diag, "cannot read", path);
        off += (uint64_t)r;
    }
    return ATOTA_OK;
}

static atota_err_t map_file(atota_flash_sim_t *sim, uint64_t file_size, const char *path,
                            atota_diag_t *diag)
{
    atota_err_t err = extend_with_ff(sim->fd, file_size, sim->size, path, diag);
    if (err)
        return err;
    void *p = mmap(NULL, sim->size, PROT_READ | PROT_WRITE, MAP_SHARED, sim->fd, 0);
    if (p == MAP_FAILED)
        return sys_fail(diag, "cannot mmap", path);
    sim->data = p;
    sim->shared = true;
    return ATOTA_OK;
}

static atota_err_t open_file(atota_flash_sim_t *sim, const atota_flash_sim_opts_t *opts,
                             atota_diag_t *diag)
{
    const char *path = opts->path;
    int flags = opts->read_only ? O_RDONLY : O_RDWR | (opts->create ? O_CREAT : 0);
    sim->fd = open(path, flags | O_CLOEXEC, 0644);
    if (sim->fd < 0)
        return sys_fail(diag, "cannot open", path);
    struct stat st;
    if (fstat(sim->fd, &st) != 0)
        return sys_fail(diag, "cannot stat", path);
    if (!S_ISREG(st.st_mode))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "flash file %s: not a regular file",
                              path);
    uint64_t file_size = (uint64_t)st.st_size;
    atota_err_t err = choose_size(opts, file_size, &sim->size, diag);
    if (err)
        return err;
    if (opts->read_only) {
        err = copy_file(sim, file_size, path, diag);
        close(sim->fd);
        sim->fd = -1;
        return err;
    }
    return map_file(sim, file_size, path, diag);
}

static atota_err_t open_memory(atota_flash_sim_t *sim, const atota_flash_sim_opts_t *opts,
                               atota_diag_t *diag)
{
    atota_err_t err = choose_size(opts, 0, &sim->size, diag);
    if (err)
        return err;
    sim->data = map_anonymous(sim->size);
    if (!sim->data)
        return atota_diag_set(diag, ATOTA_ERR_NO_MEM, "flash (memory): cannot map 0x%x bytes",
                              sim->size);
    return ATOTA_OK;
}

static atota_err_t flash_sim_read(void *ctx, uint32_t addr, void *buf, uint32_t len);
static atota_err_t flash_sim_write(void *ctx, uint32_t addr, const void *data, uint32_t len);
static atota_err_t flash_sim_erase(void *ctx, uint32_t addr, uint32_t len);

static const atota_flash_ops_t flash_sim_ops = {
    .read = flash_sim_read,
    .write = flash_sim_write,
    .erase = flash_sim_erase,
};

atota_err_t atota_flash_sim_open(const atota_flash_sim_opts_t *opts, atota_flash_sim_t **out,
                                 atota_diag_t *diag)
{
    if (!opts || !out)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "flash_sim_open: opts and out needed");
    *out = NULL;
    atota_flash_sim_t *sim = calloc(1, sizeof *sim);
    if (!sim)
        return atota_diag_set(diag, ATOTA_ERR_NO_MEM, "flash_sim_open: out of memory");
    sim->fd = -1;
    sim->read_only = opts->read_only;
    sim->strict = opts->strict;
    sim->timing = opts->timing;
    sim->powered = true;
    atota_err_t err = opts->path ? open_file(sim, opts, diag) : open_memory(sim, opts, diag);
    if (!err) {
        sim->erase_counts = calloc(sim->size / ATOTA_FLASH_SECTOR_SIZE, sizeof(uint32_t));
        if (!sim->erase_counts)
            err = atota_diag_set(diag, ATOTA_ERR_NO_MEM, "flash_sim_open: out of memory");
    }
    if (err) {
        atota_flash_sim_close(sim);
        return err;
    }
    sim->flash = (atota_flash_t){.ops = &flash_sim_ops, .ctx = sim, .size = sim->size};
    *out = sim;
    return ATOTA_OK;
}

void atota_flash_sim_close(atota_flash_sim_t *sim)
{
    if (!sim)
        return;
    if (sim->data) {
        if (sim->shared)
            msync(sim->data, sim->size, MS_SYNC);
        munmap(sim->data, sim->size);
    }
    if (sim->fd >= 0)
        close(sim->fd);
    free(sim->erase_counts);
    free(sim);
}

atota_err_t atota_flash_sim_sync(atota_flash_sim_t *sim)
{
    if (sim->shared && msync(sim->data, sim->size, MS_SYNC) != 0)
        return atota_diag_set(&sim->last_error, ATOTA_ERR_IO, "flash: msync failed: %s",
                              strerror(errno));
    return ATOTA_OK;
}

/* ---- accessors ----------------------------------------------------------------------------- */

const atota_flash_t *atota_flash_sim_flash(atota_flash_sim_t *sim)
{
    return &sim->flash;
}

uint8_t *atota_flash_sim_data(atota_flash_sim_t *sim)
{
    return sim->data;
}

void atota_flash_sim_set_strict(atota_flash_sim_t *sim, bool strict)
{
    sim->strict = strict;
}

const char *atota_flash_sim_last_error(const atota_flash_sim_t *sim)
{
    return sim->last_error.msg;
}

void atota_flash_sim_get_stats(const atota_flash_sim_t *sim, atota_flash_sim_stats_t *stats)
{
    *stats = sim->stats;
    stats->modelled_us =
        sim->mutation_us + sim->timed_bytes_read * FLASH_SIM_READ_US_PER_4K / 4096u;
}

void atota_flash_sim_reset_stats(atota_flash_sim_t *sim)
{
    memset(&sim->stats, 0, sizeof sim->stats);
    sim->mutation_us = 0;
    sim->timed_bytes_read = 0;
    memset(sim->erase_counts, 0, sim->size / ATOTA_FLASH_SECTOR_SIZE * sizeof(uint32_t));
}

uint32_t atota_flash_sim_sector_erase_count(const atota_flash_sim_t *sim, uint32_t sector)
{
    if (sector >= sim->size / ATOTA_FLASH_SECTOR_SIZE)
        return 0;
    return sim->erase_counts[sector];
}

/* ---- power cuts ---------------------------------------------------------------------------- */

void atota_flash_sim_arm_power_cut(atota_flash_sim_t *sim, uint64_t after_ops,
                                   atota_power_cut_mode_t mode, uint32_t seed)
{
    sim->cut_armed = true;
    sim->cut_countdown = after_ops;
    sim->cut_mode = mode;
    sim->rng = seed;
}

void atota_flash_sim_disarm_power_cut(atota_flash_sim_t *sim)
{
    sim->cut_armed = false;
}

bool atota_flash_sim_powered(const atota_flash_sim_t *sim)
{
    return sim->powered;
}

void atota_flash_sim_power_on(atota_flash_sim_t *sim)
{
    sim->powered = true;
}

/* splitmix64: a small, well-mixed generator, so nearby seeds give unrelated cuts. */
static uint64_t next_random(atota_flash_sim_t *sim)
{
    uint64_t z = (sim->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The power-cut clock: true if the mutating operation about to start is the one to cut. */
static bool cut_now(atota_flash_sim_t *sim)
{
    if (!sim->cut_armed)
        return false;
    if (sim->cut_countdown > 0) {
        sim->cut_countdown--;
        return false;
    }
    sim->cut_armed = false;
    sim->powered = false;
    sim->stats.power_cuts++;
    return true;
}

static atota_err_t power_cut(atota_flash_sim_t *sim, const char *op, uint32_t addr)
{
    return atota_diag_set(&sim->last_error, ATOTA_ERR_FLASH_POWER_CUT,
                          "flash: power cut during %s at 0x%x (after %llu mutating operations)", op,
                          addr, (unsigned long long)sim->stats.mutating_ops);
}

/* MIDDLE cut of a page program: a prefix of the bytes is programmed, the next byte only partly
 * (some of the bits it should clear stay 1), the rest is untouched. */
static void program_partly(atota_flash_sim_t *sim, uint32_t addr, const uint8_t *src, uint32_t len)
{
    uint32_t done = (uint32_t)(next_random(sim) % len);
    for (uint32_t i = 0; i < done; i++)
        sim->data[addr + i] &= src[i];
    sim->data[addr + done] &= (uint8_t)(src[done] | (uint8_t)next_random(sim));
}

/* MIDDLE cut of an erase: a prefix of the range reads 0xFF; the rest is the old content with
 * random bits set (an erase only moves cells toward 1; where it stopped is unpredictable). */
static void erase_partly(atota_flash_sim_t *sim, uint32_t addr, uint32_t len)
{
    uint32_t done = (uint32_t)(next_random(sim) % len);
    memset(sim->data + addr, 0xFF, done);
    for (uint32_t i = done; i < len; i += 8) {
        uint64_t r = next_random(sim);
        for (uint32_t k = 0; k < 8 && i + k < len; k++)
            sim->data[addr + i + k] |= (uint8_t)(r >> (8 * k));
    }
}

/* ---- NOR operations (core/hal.h contract) -------------------------------------------------- */

static atota_err_t check_access(atota_flash_sim_t *sim, const char *op, uint32_t addr, uint32_t len,
                                bool mutating)
{
    if (!sim->powered)
        return atota_diag_set(&sim->last_error, ATOTA_ERR_FLASH_POWER_CUT,
                              "flash: %s at 0x%x refused: no power since a cut (power_on first)",
                              op, addr);
    if ((uint64_t)addr + len > sim->size)
        return atota_diag_set(&sim->last_error, ATOTA_ERR_FLASH_RANGE,
                              "flash: %s of 0x%x bytes at 0x%x is past the end of the 0x%x-byte "
                              "flash",
                              op, len, addr, sim->size);
    if (mutating && sim->read_only)
        return atota_diag_set(&sim->last_error, ATOTA_ERR_STATE,
                              "flash: %s at 0x%x refused: the flash is open read-only", op, addr);
    return ATOTA_OK;
}

static atota_err_t flash_sim_read(void *ctx, uint32_t addr, void *buf, uint32_t len)
{
    atota_flash_sim_t *sim = ctx;
    atota_err_t err = check_access(sim, "read", addr, len, false);
    if (err)
        return err;
    memcpy(buf, sim->data + addr, len);
    sim->stats.reads++;
    sim->stats.bytes_read += len;
    if (sim->timing)
        sim->timed_bytes_read += len;
    return ATOTA_OK;
}

/* Strict mode: the first byte where the write would need a 0 bit to become 1, or -1. */
static int64_t first_unerased(const atota_flash_sim_t *sim, uint32_t addr, const uint8_t *src,
                              uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        if ((uint8_t)(~sim->data[addr + i] & src[i]) != 0)
            return i;
    return -1;
}

/* One page program: len bytes at addr, all inside one 256-byte page. */
static atota_err_t program_page(atota_flash_sim_t *sim, uint32_t addr, const uint8_t *src,
                                uint32_t len)
{
    if (cut_now(sim)) {
        if (sim->cut_mode == ATOTA_POWER_CUT_MIDDLE)
            program_partly(sim, addr, src, len);
        return power_cut(sim, "page program", addr);
    }
    for (uint32_t i = 0; i < len; i++)
        sim->data[addr + i] &= src[i]; /* NOR programming only clears bits */
    sim->stats.pages_programmed++;
    sim->stats.bytes_written += len;
    sim->stats.mutating_ops++;
    if (sim->timing)
        sim->mutation_us += FLASH_SIM_PAGE_PROGRAM_US;
    return ATOTA_OK;
}

static atota_err_t flash_sim_write(void *ctx, uint32_t addr, const void *data, uint32_t len)
{
    atota_flash_sim_t *sim = ctx;
    const uint8_t *src = data;
    atota_err_t err = check_access(sim, "write", addr, len, true);
    if (err)
        return err;
    int64_t bad = sim->strict ? first_unerased(sim, addr, src, len) : -1;
    if (bad >= 0) {
        uint32_t at = addr + (uint32_t)bad;
        return atota_diag_set(&sim->last_error, ATOTA_ERR_FLASH_NOT_ERASED,
                              "flash: write of 0x%x bytes at 0x%x refused: byte 0x%x is 0x%02x, "
                              "writing 0x%02x needs an erase first",
                              len, addr, at, sim->data[at], src[bad]);
    }
    sim->stats.writes++;
    while (len > 0) {
        uint32_t room = ATOTA_FLASH_PAGE_SIZE - addr % ATOTA_FLASH_PAGE_SIZE;
        uint32_t n = len < room ? len : room;
        err = program_page(sim, addr, src, n);
        if (err)
            return err;
        addr += n;
        src += n;
        len -= n;
    }
    return ATOTA_OK;
}

/* One sector (4 KB) or block (64 KB) erase. */
static atota_err_t erase_unit(atota_flash_sim_t *sim, uint32_t addr, uint32_t len)
{
    bool block = len == ATOTA_FLASH_BLOCK_SIZE;
    if (cut_now(sim)) {
        if (sim->cut_mode == ATOTA_POWER_CUT_MIDDLE)
            erase_partly(sim, addr, len);
        return power_cut(sim, block ? "block erase" : "sector erase", addr);
    }
    memset(sim->data + addr, 0xFF, len);
    for (uint32_t s = addr / ATOTA_FLASH_SECTOR_SIZE; s < (addr + len) / ATOTA_FLASH_SECTOR_SIZE;
         s++)
        sim->erase_counts[s]++;
    if (block)
        sim->stats.block_erases++;
    else
        sim->stats.sector_erases++;
    sim->stats.mutating_ops++;
    if (sim->timing)
        sim->mutation_us += block ? FLASH_SIM_BLOCK_ERASE_US : FLASH_SIM_SECTOR_ERASE_US;
    return ATOTA_OK;
}

static atota_err_t flash_sim_erase(void *ctx, uint32_t addr, uint32_t len)
{
    atota_flash_sim_t *sim = ctx;
    if (sim->powered && (addr % ATOTA_FLASH_SECTOR_SIZE || len % ATOTA_FLASH_SECTOR_SIZE))
        return atota_diag_set(&sim->last_error, ATOTA_ERR_FLASH_ALIGN,
                              "flash: erase of 0x%x bytes at 0x%x: address and length must be "
                              "multiples of 4 KB (0x1000)",
                              len, addr);
    atota_err_t err = check_access(sim, "erase", addr, len, true);
    if (err)
        return err;
    uint32_t end = addr + len;
    while (addr < end) {
        /* core/hal.h: a 64 KB-aligned run of 64 KB is one block erase, the rest 4 KB sectors */
        bool block = addr % ATOTA_FLASH_BLOCK_SIZE == 0 && end - addr >= ATOTA_FLASH_BLOCK_SIZE;
        uint32_t n = block ? ATOTA_FLASH_BLOCK_SIZE : ATOTA_FLASH_SECTOR_SIZE;
        err = erase_unit(sim, addr, n);
        if (err)
            return err;
        addr += n;
    }
    return ATOTA_OK;
}
