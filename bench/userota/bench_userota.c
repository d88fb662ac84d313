/*
 * AT+USEROTA's speed, each figure a ratio against a baseline measured in the same run
 * (ARCHITECTURE.md), never an assertion:
 *
 *  (a) loopback: the wall time of AT+USEROTA for a 1.5 MB image on atota-sim served by
 *      tests/e2e/lib/http_server.py, from the command's first byte to its OK, against
 *      `curl -s -o FILE` of the same URL (process start to exit). Goal: <= 1.2.
 *  (b) flash-bound: with the flash timing model (docs/flash-sim.md), the modelled on-module time
 *      of the OTA writer (core/ota/ota_writer.h) for the same image against the least erase +
 *      program time the image needs on that flash. Goal: <= 1.05. Next to it, ESP-AT's way
 *      (esp_https_ota, esp-at-ota.md §2.3: a 4 KB sector erased before each is written) and the
 *      older esp_ota_begin(OTA_SIZE_UNKNOWN) way (the whole slot erased first, by sector).
 *
 * Usage: bench_userota [reps]   (default 11). (a) runs atota-sim from this program's directory
 * (the build directory), python3 and curl from PATH, and the test server from the source tree
 * (ATOTA_SRC, else where this file was compiled from); it is skipped, saying why, when one is
 * missing. (b) needs nothing.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "core/fmt/partition.h"
#include "core/ota/ota_writer.h"
#include "core/util/hash.h"
#include "port/posix/flash_sim.h"

#define IMAGE_PAYLOAD 1500000u /* 1.5 MB, within ota_1's 0x180000 */
#define CHUNK         2048u    /* esp_https_ota's buffer_size (esp-at-ota.md §2.3) */
#define SECTOR        4096u
#define BLOCK         65536u

/* profiles/esp32-wroom-32/partitions_at.csv: ESP-AT's layout for the WROOM-32 (4 MB). */
static const char partitions_csv[] = "phy_init, data, phy, 0xf000, 0x1000\n"
                                     "otadata, data, ota, 0x10000, 8K\n"
                                     "nvs, data, nvs, 0x12000, 56K\n"
                                     "at_customize, 0x40, 0, 0x20000, 0xE0000\n"
                                     "ota_0, app, ota_0, 0x100000, 0x180000\n"
                                     "ota_1, app, ota_1, 0x280000, 0x180000\n";

static int die(const char *what, const atota_diag_t *diag, atota_err_t err)
{
    fprintf(stderr, "bench_userota: %s: %s\n", what, atota_diag_text(diag, err));
    return 1;
}

/* ---- (b) the flash-bound figures ---------------------------------------------------------- */

static atota_flash_sim_t *new_flash(void)
{
    atota_flash_sim_opts_t opts = {.size = 0x400000, .strict = true, .timing = true};
    atota_flash_sim_t *sim = NULL;
    atota_diag_t diag;
    atota_diag_clear(&diag);
    atota_err_t err = atota_flash_sim_open(&opts, &sim, &diag);
    if (err)
        die("flash_sim_open", &diag, err);
    return sim;
}

typedef struct {
    double s;
    atota_flash_sim_stats_t st;
} modelled_t;

static void modelled(atota_flash_sim_t *sim, modelled_t *m)
{
    atota_flash_sim_get_stats(sim, &m->st);
    m->s = (double)m->st.modelled_us / 1e6;
}

/* The OTA writer, fed CHUNK bytes at a time as a download would, from begin to the otadata
 * switch: everything it does to the flash, verification read included. */
static int run_writer(const uint8_t *img, size_t len, modelled_t *m, double *wall_s)
{
    atota_flash_sim_t *sim = new_flash();
    if (!sim)
        return 1;
    static atota_partition_table_t table;
    static atota_ota_writer_t w;
    atota_diag_t diag;
    atota_diag_clear(&diag);
    atota_err_t err = atota_partition_table_parse_csv(partitions_csv, sizeof partitions_csv - 1,
                                                      NULL, &table, &diag);
    if (err)
        return die("partition table", &diag, err);
    atota_ota_writer_opts_t o = {.flash = atota_flash_sim_flash(sim),
                                 .table = &table,
                                 .running = atota_partition_find(&table, "ota_0"),
                                 .rollback_enabled = true,
                                 .chip_id = ATOTA_CHIP_ESP32,
                                 .chip_rev = 300};
    atota_flash_sim_reset_stats(sim);
    double t0 = bench_now_s();
    if ((err = atota_ota_writer_begin(&w, &o, &diag)))
        return die("ota_writer_begin", &diag, err);
    for (size_t off = 0; off < len && !err; off += CHUNK)
        err = atota_ota_writer_write(&w, img + off, len - off < CHUNK ? len - off : CHUNK, &diag);
    if (!err)
        err = atota_ota_writer_finish(&w, NULL, &diag);
    if (err)
        return die("ota_writer", &diag, err);
    if (wall_s)
        *wall_s = bench_now_s() - t0;
    modelled(sim, m);
    atota_flash_sim_close(sim);
    return 0;
}

typedef enum {
    ERASE_LEAST,        /* 64 KB blocks, the tail by whichever costs less: the flash-bound limit */
    ERASE_SEQ_SECTORS,  /* esp_https_ota: each 4 KB sector of the image as it is reached */
    ERASE_SLOT_SECTORS, /* esp_ota_begin(OTA_SIZE_UNKNOWN): the whole slot first, by sector */
} erase_plan_t;

/* Erases and programs the image at 0x280000 (ota_1) by a plan, straight on the flash. with_tail
 * adds what any OTA also does after the last byte, as the writer does: read the image back to
 * verify it (esp_ota_end) and switch otadata (one sector erase and one page program). */
static int run_plan(const uint8_t *img, size_t len, erase_plan_t plan, bool with_tail,
                    modelled_t *m)
{
    const uint32_t slot = 0x280000, slot_size = 0x180000;
    atota_flash_sim_t *sim = new_flash();
    if (!sim)
        return 1;
    const atota_flash_t *f = atota_flash_sim_flash(sim);
    uint32_t sectors = (uint32_t)((len + SECTOR - 1) / SECTOR);
    atota_err_t err = ATOTA_OK;
    atota_flash_sim_reset_stats(sim);
    if (plan == ERASE_LEAST) {
        uint32_t blocks = (uint32_t)(len / BLOCK);
        uint32_t tail = sectors - blocks * (BLOCK / SECTOR);
        /* datasheet typ (docs/flash-sim.md): a block 300 ms, a sector 70 ms */
        bool tail_block = tail * 70000u > 300000u;
        for (uint32_t b = 0; b < blocks && !err; b++)
            err = atota_flash_erase(f, slot + b * BLOCK, BLOCK);
        if (!err && tail)
            err = atota_flash_erase(f, slot + blocks * BLOCK, tail_block ? BLOCK : tail * SECTOR);
        for (size_t off = 0; off < len && !err; off += SECTOR)
            err = atota_flash_write(f, slot + (uint32_t)off, img + off,
                                    len - off < SECTOR ? len - off : SECTOR);
    } else {
        uint32_t erase_sectors = plan == ERASE_SLOT_SECTORS ? slot_size / SECTOR : sectors;
        if (plan == ERASE_SLOT_SECTORS)
            for (uint32_t s = 0; s < erase_sectors && !err; s++)
                err = atota_flash_erase(f, slot + s * SECTOR, SECTOR);
        for (size_t off = 0; off < len && !err; off += SECTOR) {
            if (plan == ERASE_SEQ_SECTORS)
                err = atota_flash_erase(f, slot + (uint32_t)off, SECTOR);
            if (!err)
                err = atota_flash_write(f, slot + (uint32_t)off, img + off,
                                        len - off < SECTOR ? len - off : SECTOR);
        }
    }
    if (!err && with_tail) {
        static uint8_t buf[SECTOR];
        for (size_t off = 0; off < len && !err; off += SECTOR)
            err = atota_flash_read(f, slot + (uint32_t)off, buf,
                                   len - off < SECTOR ? len - off : SECTOR);
        memset(buf, 0, 32);
        if (!err)
            err = atota_flash_erase(f, 0x10000, SECTOR);
        if (!err)
            err = atota_flash_write(f, 0x10000, buf, 32);
    }
    if (err) {
        atota_diag_t diag;
        atota_diag_clear(&diag);
        return die("flash plan", &diag, err);
    }
    modelled(sim, m);
    atota_flash_sim_close(sim);
    return 0;
}

static int bench_flash(const uint8_t *img, size_t len)
{
    modelled_t limit, writer, esp_seq, esp_slot;
    if (run_plan(img, len, ERASE_LEAST, false, &limit) || run_writer(img, len, &writer, NULL) ||
        run_plan(img, len, ERASE_SEQ_SECTORS, true, &esp_seq) ||
        run_plan(img, len, ERASE_SLOT_SECTORS, true, &esp_slot))
        return 1;
    printf("(b) modelled on a module (flash timing model, datasheet typ), %zu-byte image into "
           "ota_1:\n",
           len);
    printf("  %-44s %9s  %11s  %s\n", "", "time", "rate", "vs limit");
    const struct {
        const char *what;
        const modelled_t *m;
    } rows[] = {
        {"flash-bound limit (least erase + program)", &limit},
        {"ATOTA OTA writer (all, verify + otadata)", &writer},
        {"ESP-AT esp_https_ota (sector per sector)", &esp_seq},
        {"esp_ota_begin(SIZE_UNKNOWN) (slot first)", &esp_slot},
    };
    for (unsigned i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const modelled_t *m = rows[i].m;
        printf("  %-44s %7.2f s  %6.1f KB/s  x%.3f   (%llu block + %llu sector erases, %llu "
               "pages, %.1f MB read)\n",
               rows[i].what, m->s, (double)len / 1000.0 / m->s, m->s / limit.s,
               (unsigned long long)m->st.block_erases, (unsigned long long)m->st.sector_erases,
               (unsigned long long)m->st.pages_programmed, (double)m->st.bytes_read / 1e6);
    }
    printf("  writer / flash-bound limit = %.3f (goal <= 1.05); ESP-AT / writer = %.2f\n",
           writer.s / limit.s, esp_seq.s / writer.s);
    return 0;
}

/* ---- (a) loopback, against curl ----------------------------------------------------------- */

static double run_curl(const char *url, const char *out)
{
    double t0 = bench_now_s();
    pid_t pid = fork();
    if (pid == 0) {
        execlp("curl", "curl", "-s", "-f", "-o", out, url, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
        return -1;
    return bench_now_s() - t0;
}

static int bench_loopback(const uint8_t *img, size_t len, int reps)
{
    char exe[4096], sim[4200], src[4096], server[4300];
    if (bench_exe_dir(exe, sizeof exe))
        return printf("(a) skipped: cannot find this program's directory\n"), 0;
    snprintf(sim, sizeof sim, "%s/atota-sim", exe);
    bench_src_dir(src, sizeof src);
    snprintf(server, sizeof server, "%s/tests/e2e/lib/http_server.py", src);
    if (access(sim, X_OK))
        return printf("(a) skipped: no %s (build atota-sim first)\n", sim), 0;
    if (access(server, R_OK))
        return printf("(a) skipped: no %s (set ATOTA_SRC to the source tree)\n", server), 0;

    char dir[] = "/tmp/bench_userota.XXXXXX";
    if (!mkdtemp(dir))
        return printf("(a) skipped: mkdtemp: %s\n", strerror(errno)), 0;
    char www[64], image[96], flash[64], curl_out[64], sim_err[64], srv_err[64], srv_log[64];
    snprintf(www, sizeof www, "%s/www", dir);
    snprintf(image, sizeof image, "%s/v2.bin", www);
    snprintf(flash, sizeof flash, "%s/m.flash", dir);
    snprintf(curl_out, sizeof curl_out, "%s/curl.out", dir);
    snprintf(sim_err, sizeof sim_err, "%s/sim.err", dir);
    snprintf(srv_err, sizeof srv_err, "%s/http.err", dir);
    snprintf(srv_log, sizeof srv_log, "%s/http.log", dir);
    mkdir(www, 0755);
    if (bench_write_file(image, img, len))
        return printf("(a) skipped: cannot write %s\n", image), 0;

    int rc = 0;
    bench_child_t srv = {0}, mod = {0};
    bench_at_t *k = calloc(1, sizeof *k);
    char port[256], addr[256], url[512];
    char *srv_argv[] = {"python3", server,      "--root", www,     "--port", "0",
                        "--bind",  "127.0.0.1", "--log",  srv_log, NULL};
    char *sim_argv[] = {sim, "--flash", flash, "--tcp", "127.0.0.1:0", NULL};
    atota_diag_t diag;
    atota_diag_clear(&diag);
    if (!k || bench_spawn(srv_argv, srv_err, &srv) ||
        bench_wait_line(&srv, "http_server: listening on ", 15.0, port, sizeof port)) {
        printf("(a) skipped: http_server.py did not start (see %s)\n", srv_err);
        goto out;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v2.bin", atoi(port));
    if (bench_spawn(sim_argv, sim_err, &mod) ||
        bench_wait_line(&mod, "atota-sim: AT port on ", 15.0, addr, sizeof addr) ||
        atota_uart_client_open(addr, &k->port, &diag)) {
        printf("(a) skipped: atota-sim did not start (see %s)\n", sim_err);
        goto out;
    }
    if (bench_at_send(k, "AT+CWJAP=\"atota\",\"atota-pass\"\r\n") ||
        bench_at_expect2(k, "WIFI GOT IP\r\n", NULL, 10) != 1 ||
        bench_at_expect2(k, "OK\r\n", NULL, 10) != 1) {
        printf("(a) failed: AT+CWJAP\n");
        rc = 1;
        goto out;
    }
    if (run_curl(url, curl_out) < 0) {
        printf("(a) skipped: curl failed on %s\n", url);
        goto out;
    }
    double *tc = calloc((size_t)reps, sizeof *tc), *tu = calloc((size_t)reps, sizeof *tu);
    for (int r = 0; r < reps && tc && tu; r++) { /* interleaved, so both see the same machine */
        tc[r] = run_curl(url, curl_out);
        tu[r] = bench_at_userota(k, url);
        if (tc[r] < 0 || tu[r] < 0) {
            printf("(a) failed: %s in repetition %d (see %s)\n", tu[r] < 0 ? "AT+USEROTA" : "curl",
                   r + 1, sim_err);
            rc = 1;
            break;
        }
    }
    if (!rc && tc && tu) {
        double mc = bench_median(tc, reps), mu = bench_median(tu, reps);
        printf("(a) loopback, %zu-byte image over HTTP, median of %d (interleaved):\n", len, reps);
        printf("  curl -s -o FILE URL (process start to exit)   %7.1f ms  %7.1f MB/s\n", mc * 1e3,
               (double)len / 1e6 / mc);
        printf("  AT+USEROTA on atota-sim (command to OK)       %7.1f ms  %7.1f MB/s\n", mu * 1e3,
               (double)len / 1e6 / mu);
        printf("  AT+USEROTA / curl = %.3f (goal <= 1.2); best of each: %.1f ms / %.1f ms = %.3f\n",
               mu / mc, tu[0] * 1e3, tc[0] * 1e3, tu[0] / tc[0]);
        /* Where the module's time goes, on this machine: the same writer in this process on a
         * memory flash (no network), and one SHA-256 of the image (the writer hashes it twice:
         * the stream as it arrives, then the copy on flash). */
        double wb = 1e30, hb = 1e30, w;
        modelled_t m;
        for (int r = 0; r < 5; r++) {
            if (run_writer(img, len, &m, &w))
                break;
            wb = w < wb ? w : wb;
            uint8_t digest[ATOTA_SHA256_LEN];
            double h0 = bench_now_s();
            atota_sha256(img, len, digest);
            double h = bench_now_s() - h0;
            hb = h < hb ? h : hb;
        }
        printf("  of which on the module's side, best of 5 in this process: the OTA writer alone "
               "%.1f ms (one SHA-256 of the image: %.1f ms)\n",
               wb * 1e3, hb * 1e3);
    }
    free(tc);
    free(tu);
out:
    if (k)
        atota_uart_client_close(k->port);
    free(k);
    bench_stop(&mod);
    bench_stop(&srv);
    bench_remove_tree(dir);
    return rc;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 11;
    if (reps <= 0 || reps > 100) {
        fprintf(stderr, "usage: %s [reps 1..100]\n", argv[0]);
        return 2;
    }
    size_t len = 0;
    uint8_t *img = bench_image_build("bench_userota", IMAGE_PAYLOAD, &len);
    if (!img)
        return 1;
    printf("userota bench: a %zu-byte ESP32 app image (1.5 MB of noise), ESP32-WROOM-32 layout\n",
           len);
    int rc = bench_loopback(img, len, reps);
    rc |= bench_flash(img, len);
    free(img);
    return rc;
}
