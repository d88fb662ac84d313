/*
 * What the benches that drive atota-sim share: a clock, the test image, child processes with
 * their standard output on a pipe, an AT port over TCP, medians, and where the build and source
 * trees are. Header-only (static inline), because CMakeLists.txt builds each bench/<name>/bench_*.c
 * on its own; a bench includes it as "bench/bench_util.h".
 *
 * Every function here is for benches only: nothing is asserted, failures are returned to the
 * caller, which says what it skips or why it failed.
 */
#ifndef ATOTA_BENCH_UTIL_H
#define ATOTA_BENCH_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fmt/image.h"
#include "port/posix/uart.h"

/* The monotonic clock, in seconds. */
static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A valid ESP32 app image, version v2.0.0.0, whose one data segment is payload_len bytes of
 * xorshift noise (the same bytes every run). Returns it malloc'd (the caller frees) with its
 * length in *len; NULL when out of memory or when the build fails, which is reported on stderr
 * as "<prog>: image build: <why>". */
static inline uint8_t *bench_image_build(const char *prog, size_t payload_len, size_t *len)
{
    uint8_t *payload = malloc(payload_len);
    if (!payload)
        return NULL;
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < payload_len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        payload[i] = (uint8_t)x;
    }
    atota_image_build_segment_t seg = {.load_addr = 0, .data = payload, .len = payload_len};
    atota_image_build_opts_t o = {.chip_id = ATOTA_CHIP_ESP32,
                                  .version = "v2.0.0.0",
                                  .project_name = "esp-at",
                                  .time = "00:00:00",
                                  .date = "Jan  1 2025",
                                  .idf_ver = "v5.4.1",
                                  .segments = &seg,
                                  .segment_count = 1};
    size_t cap = atota_image_build_size(&o);
    uint8_t *img = cap ? malloc(cap) : NULL;
    atota_diag_t diag;
    atota_diag_clear(&diag);
    if (img && atota_image_build(&o, img, cap, len, &diag)) {
        fprintf(stderr, "%s: image build: %s\n", prog, atota_diag_text(&diag, ATOTA_ERR_IO));
        free(img);
        img = NULL;
    }
    free(payload);
    return img;
}

/* Writes len bytes to a new file at path. 0, or -1 when it cannot. */
static inline int bench_write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    bool ok = fwrite(data, 1, len, fp) == len;
    return fclose(fp) == 0 && ok ? 0 : -1;
}

/* The directory this program runs from (the build directory, where atota-sim is) into dir.
 * 0, or -1 when /proc/self/exe cannot be read. */
static inline int bench_exe_dir(char *dir, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
    if (n <= 0)
        return -1;
    dir[n] = 0;
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    return 0;
}

/* The source tree into dir: ATOTA_SRC when set, else where this header was compiled from
 * (it is <src>/bench/bench_util.h). */
static inline void bench_src_dir(char *dir, size_t cap)
{
    const char *env_src = getenv("ATOTA_SRC");
    snprintf(dir, cap, "%s", env_src ? env_src : __FILE__);
    for (int i = 0; !env_src && i < 2; i++) {
        char *s = strrchr(dir, '/');
        if (s)
            *s = 0;
    }
}

/* ---- child processes ---------------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int out; /* its standard output, a pipe */
} bench_child_t;

/* Starts argv (argv[0] looked up in PATH) with stdin on /dev/null, stdout on a pipe (c->out)
 * and stderr in errfile (NULL: /dev/null). 0, or -1 when the pipe or fork fails. */
static inline int bench_spawn(char *const argv[], const char *errfile, bench_child_t *c)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        int e = open(errfile ? errfile : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int n = open("/dev/null", O_RDONLY);
        dup2(p[1], 1);
        if (e >= 0)
            dup2(e, 2);
        if (n >= 0)
            dup2(n, 0);
        close(p[0]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    c->pid = pid;
    c->out = p[0];
    return 0;
}

/* SIGTERM to a child started by bench_spawn, then reaps it; nothing when it is not running. */
static inline void bench_stop(bench_child_t *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        waitpid(c->pid, NULL, 0);
        close(c->out);
        c->pid = 0;
    }
}

/* Reads the child's stdout, for at most timeout_s, until a line starting with prefix; copies
 * the rest of that line to out (cut to cap). Lines before it are dropped. 0, or -1 on timeout
 * or when the child closed its stdout. */
static inline int bench_wait_line(bench_child_t *c, const char *prefix, double timeout_s, char *out,
                                  size_t cap)
{
    char buf[1024];
    size_t len = 0;
    double deadline = bench_now_s() + timeout_s;
    while (bench_now_s() < deadline) {
        struct pollfd pfd = {.fd = c->out, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t n = read(c->out, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            if (!strncmp(line, prefix, strlen(prefix))) {
                snprintf(out, cap, "%s", line + strlen(prefix));
                return 0;
            }
            line = nl + 1;
        }
        len = strlen(line);
        memmove(buf, line, len);
    }
    return -1;
}

/* ---- an AT port ----------------------------------------------------------------------------- */

typedef struct {
    atota_uart_client_t *port;
    char rx[16384];
    size_t len;
} bench_at_t;

static inline char *bench_find(char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(hay + i, needle, n))
            return hay + i;
    return NULL;
}

/* Reads the AT port until one of the two strings arrives (b may be NULL), consuming through it.
 * 1: a came first, 2: b, 0: timeout or error. */
static inline int bench_at_expect2(bench_at_t *k, const char *a, const char *b, double timeout_s)
{
    double deadline = bench_now_s() + timeout_s;
    for (;;) {
        char *pa = bench_find(k->rx, k->len, a), *pb = b ? bench_find(k->rx, k->len, b) : NULL;
        if (pa || pb) {
            bool is_a = pa && (!pb || pa <= pb);
            char *end = is_a ? pa + strlen(a) : pb + strlen(b);
            k->len -= (size_t)(end - k->rx);
            memmove(k->rx, end, k->len);
            return is_a ? 1 : 2;
        }
        if (k->len > sizeof k->rx / 2) { /* keep the tail, where a match may start */
            memmove(k->rx, k->rx + k->len - 64, 64);
            k->len = 64;
        }
        double left = deadline - bench_now_s();
        if (left <= 0)
            return 0;
        size_t got = 0;
        atota_diag_t diag;
        if (atota_uart_client_read(k->port, k->rx + k->len, sizeof k->rx - k->len,
                                   (unsigned)(left * 1000) + 1, &got, &diag))
            return 0;
        k->len += got;
    }
}

/* Writes s to the AT port. 0, or -1 when it cannot within 5 s. */
static inline int bench_at_send(bench_at_t *k, const char *s)
{
    atota_diag_t diag;
    return atota_uart_client_write(k->port, s, strlen(s), 5000, &diag) ? -1 : 0;
}

/* Sends cmd and waits for its "OK\r\n" (1), "ERROR\r\n" (2) or timeout_s (0). */
static inline int bench_at_cmd(bench_at_t *k, const char *cmd, double timeout_s)
{
    if (bench_at_send(k, cmd))
        return 0;
    return bench_at_expect2(k, "OK\r\n", "ERROR\r\n", timeout_s);
}

/* One AT+USEROTA of url (plain HTTP), timed from the command's first byte to the OK after
 * "Recv <len> bytes"; then waits, untimed, for the restart's "ready" and the station's
 * "WIFI GOT IP" (the module must have joined an AP that it rejoins by itself). The seconds, or
 * -1 when a step fails or times out. */
static inline double bench_at_userota(bench_at_t *k, const char *url)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "AT+USEROTA=%zu\r\n", strlen(url));
    double t0 = bench_now_s();
    if (bench_at_send(k, cmd) || bench_at_expect2(k, "OK\r\n\r\n>", "ERROR", 5) != 1 ||
        bench_at_send(k, url) || bench_at_expect2(k, "Recv ", NULL, 5) != 1 ||
        bench_at_expect2(k, "\r\nOK\r\n", "\r\nERROR\r\n", 120) != 1)
        return -1;
    double t = bench_now_s() - t0;
    if (bench_at_expect2(k, "ready\r\n", NULL, 30) != 1 ||
        bench_at_expect2(k, "WIFI GOT IP\r\n", NULL, 10) != 1)
        return -1;
    return t;
}

/* ---- files and figures ---------------------------------------------------------------------- */

/* Removes a directory of plain files and directories, depth first. */
static inline void bench_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[512];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub)
                bench_remove_tree(sub);
        }
        closedir(d);
    }
    remove(path);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n-1], n >= 1. Sorts v in place: v[0] is the fastest afterwards. */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
