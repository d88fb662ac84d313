/*
 * The module's web-server upload speed (AT+WEBSERVER, docs/webserver.md), each figure a ratio
 * against a baseline measured in the same run (ARCHITECTURE.md), never an assertion:
 *
 *  (a) upload handling vs transport: the wall time of `curl --data-binary` posting a 1.5 MB app
 *      image to atota-sim's POST /setotadata (the module writes it, verifies it and switches the
 *      boot slot), against the same POST of the same bytes to a path the module answers 404
 *      (the port reads and drops the whole body): HTTP transport alone, same server, same
 *      process. Both timed from fork to curl's exit, alternating. Goal: <= 2.0.
 *  (b) the same upload against AT+USEROTA of the same image from tests/e2e/lib/http_server.py,
 *      command to OK: the two ways into the OTA writer, alternating. No goal (see README.md).
 *
 * Usage: bench_webserver [reps]   (default 11). atota-sim is run from this program's directory
 * (the build directory), curl and python3 from PATH, the test server from the source tree
 * (ATOTA_SRC, else where bench/bench_util.h was compiled from). Without atota-sim or curl both
 * parts are skipped, without python3 or the test server (b) is, each with a line saying why.
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

#define IMAGE_PAYLOAD 1500000u /* 1.5 MB, within ota_1's 0x180000 */
/* Both paths are 10 characters: the two requests differ in nothing but the path's bytes. */
#define UPLOAD_PATH    "setotadata"
#define TRANSPORT_PATH "not-a-path"
#define WEB_LINE       "atota-sim: web server for port 80 on "

typedef struct {
    char dir[64];        /* the run's temporary directory */
    char image_arg[160]; /* "@<dir>/www/v2.bin", curl's --data-binary argument */
    char body[96];       /* the answer's body, written by curl */
    char code[96];       /* curl's -w "%{http_code}" */
    char sim_err[96];
    bench_child_t mod;
    bench_at_t *at;
    char web[256]; /* the web server's base URL, "http://127.0.0.1:NNNNN/" */
} web_bench_t;

/* Whether an executable named name is in PATH. */
static bool in_path(const char *name)
{
    const char *path = getenv("PATH");
    char dir[4096], file[4200];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s", (int)n, n ? path : ".");
        snprintf(file, sizeof file, "%s/%s", dir, name);
        if (!access(file, X_OK))
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

/* Reads a small file whole into buf (NUL-terminated, cut to cap - 1); "" when unreadable. */
static void read_small(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *fp = fopen(path, "rb");
    if (fp) {
        buf[fread(buf, 1, cap - 1, fp)] = 0;
        fclose(fp);
    }
}

/* The page's upload (docs/webserver.md /setotadata; tests/e2e/webserver_http.sh), to path under
 * the web server: curl posts the image as a raw body with Content-Length, `Expect:` so that it
 * sends the body at once. Timed from fork to curl's exit. The seconds, the HTTP status in
 * *status and the answer's body in body; -1 when curl could not run or failed. */
static double post_image(web_bench_t *b, const char *path, int *status, char *body, size_t cap)
{
    char url[400];
    snprintf(url, sizeof url, "%s%s", b->web, path);
    double t0 = bench_now_s();
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(b->code, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out >= 0)
            dup2(out, 1);
        execlp("curl", "curl", "-s", "--max-time", "60", "-o", b->body, "-w", "%{http_code}", "-H",
               "Expect:", "-H", "Object: ota", "-H", "Content-Type: application/octet-stream",
               "--data-binary", b->image_arg, url, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
        return -1;
    double t = bench_now_s() - t0;
    char code[16];
    read_small(b->code, code, sizeof code);
    *status = atoi(code);
    read_small(b->body, body, cap);
    return t;
}

/* An upload that must succeed: 200 {"state": 0}, then +WEBSERVERRSP:4 on the AT port (written
 * and verified), which is waited for after the clock has stopped. */
static double upload(web_bench_t *b)
{
    int status = 0;
    char body[256];
    double t = post_image(b, UPLOAD_PATH, &status, body, sizeof body);
    if (t < 0 || status != 200 || strcmp(body, "{\"state\": 0}")) {
        printf("  POST /%s answered %d \"%s\", expected 200 {\"state\": 0}\n", UPLOAD_PATH, status,
               body);
        return -1;
    }
    if (bench_at_expect2(b->at, "+WEBSERVERRSP:4\r\n", "+WEBSERVERRSP:5\r\n", 10) != 1) {
        printf("  no +WEBSERVERRSP:4 on the AT port after the upload\n");
        return -1;
    }
    return t;
}

/* The baseline: the same POST to a path the module does not serve, which must answer 404. */
static double transport(web_bench_t *b)
{
    int status = 0;
    char body[256];
    double t = post_image(b, TRANSPORT_PATH, &status, body, sizeof body);
    if (t < 0 || status != 404) {
        printf("  POST /%s answered %d, expected 404\n", TRANSPORT_PATH, status);
        return -1;
    }
    return t;
}

/* AT+WEBSERVER=1,80,25 (the Wi-Fi mode is 3, set once and kept in NVS), then the URL atota-sim
 * prints for it: a new free port at each start. */
static int web_start(web_bench_t *b)
{
    if (bench_at_cmd(b->at, "AT+WEBSERVER=1,80,25\r\n", 5) != 1)
        return -1;
    return bench_wait_line(&b->mod, WEB_LINE, 10.0, b->web, sizeof b->web);
}

static void print_pair(const char *a_what, double *ta, const char *b_what, double *tb, int reps,
                       size_t len, const char *ratio_what, const char *goal)
{
    double ma = bench_median(ta, reps), mb = bench_median(tb, reps);
    printf("  %-52s %7.1f ms  %7.1f MB/s\n", a_what, ma * 1e3, (double)len / 1e6 / ma);
    printf("  %-52s %7.1f ms  %7.1f MB/s\n", b_what, mb * 1e3, (double)len / 1e6 / mb);
    printf("  %s = %.3f%s; best of each: %.1f ms / %.1f ms = %.3f\n", ratio_what, mb / ma, goal,
           tb[0] * 1e3, ta[0] * 1e3, tb[0] / ta[0]);
}

/* (a): alternating 404 POST and upload, reps of each, after one of each to warm up. */
static int bench_transport(web_bench_t *b, size_t len, int reps)
{
    int rc = 0;
    double *tt = calloc((size_t)reps, sizeof *tt), *tu = calloc((size_t)reps, sizeof *tu);
    if (!tt || !tu || transport(b) < 0 || upload(b) < 0) {
        printf("(a) failed: the first requests (see %s)\n", b->sim_err);
        rc = 1;
    }
    for (int r = 0; r < reps && !rc; r++) {
        tt[r] = transport(b);
        tu[r] = tt[r] < 0 ? -1 : upload(b);
        if (tt[r] < 0 || tu[r] < 0) {
            printf("(a) failed: %s in repetition %d (see %s)\n",
                   tt[r] < 0 ? "POST /" TRANSPORT_PATH : "POST /" UPLOAD_PATH, r + 1, b->sim_err);
            rc = 1;
        }
    }
    if (!rc) {
        printf("(a) upload vs transport, %zu-byte body, curl --data-binary (fork to exit), median "
               "of %d (alternating):\n",
               len, reps);
        print_pair("POST /" TRANSPORT_PATH " (404: body read and dropped)", tt,
                   "POST /" UPLOAD_PATH " (written, verified, slot switched)", tu, reps, len,
                   "upload / transport", " (goal <= 2.0)");
    }
    free(tt);
    free(tu);
    return rc;
}

/* (b): alternating web upload and AT+USEROTA of the same image from http_server.py. */
static int bench_vs_userota(web_bench_t *b, const char *src, const char *www, size_t len, int reps)
{
    char server[4300], srv_err[96], srv_log[96], port[256], url[512];
    snprintf(server, sizeof server, "%s/tests/e2e/lib/http_server.py", src);
    if (!in_path("python3"))
        return printf("(b) skipped: no python3 in PATH\n"), 0;
    if (access(server, R_OK))
        return printf("(b) skipped: no %s (set ATOTA_SRC to the source tree)\n", server), 0;
    snprintf(srv_err, sizeof srv_err, "%s/http.err", b->dir);
    snprintf(srv_log, sizeof srv_log, "%s/http.log", b->dir);
    char *srv_argv[] = {"python3", server,      "--root", (char *)www, "--port", "0",
                        "--bind",  "127.0.0.1", "--log",  srv_log,     NULL};
    bench_child_t srv = {0};
    if (bench_spawn(srv_argv, srv_err, &srv) ||
        bench_wait_line(&srv, "http_server: listening on ", 15.0, port, sizeof port)) {
        printf("(b) skipped: http_server.py did not start (see %s)\n", srv_err);
        bench_stop(&srv);
        return 0;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v2.bin", atoi(port));
    int rc = 0;
    double *tw = calloc((size_t)reps, sizeof *tw), *to = calloc((size_t)reps, sizeof *to);
    if (!tw || !to || bench_at_send(b->at, "AT+CWJAP=\"atota\",\"atota-pass\"\r\n") ||
        bench_at_expect2(b->at, "WIFI GOT IP\r\n", NULL, 10) != 1 ||
        bench_at_expect2(b->at, "OK\r\n", NULL, 10) != 1) {
        printf("(b) failed: AT+CWJAP\n");
        rc = 1;
    }
    for (int r = 0; r < reps && !rc; r++) {
        tw[r] = upload(b);
        /* AT+USEROTA ends in a restart, which stops the web server: started again, untimed. */
        to[r] = tw[r] < 0 ? -1 : bench_at_userota(b->at, url);
        if (tw[r] < 0 || to[r] < 0 || web_start(b)) {
            printf("(b) failed: %s in repetition %d (see %s)\n",
                   tw[r] < 0   ? "POST /" UPLOAD_PATH
                   : to[r] < 0 ? "AT+USEROTA"
                               : "AT+WEBSERVER after the restart",
                   r + 1, b->sim_err);
            rc = 1;
        }
    }
    if (!rc) {
        printf("(b) web upload vs AT+USEROTA of the same image (both into the OTA writer), "
               "median of %d (alternating):\n",
               reps);
        print_pair("AT+USEROTA from http_server.py (command to OK)", to,
                   "POST /" UPLOAD_PATH " with curl (fork to exit)", tw, reps, len,
                   "upload / AT+USEROTA", "");
    }
    free(tw);
    free(to);
    bench_stop(&srv);
    return rc;
}

static int bench_web(const uint8_t *img, size_t len, int reps)
{
    char exe[4096], sim[4200], src[4096];
    if (bench_exe_dir(exe, sizeof exe))
        return printf("skipped: cannot find this program's directory\n"), 0;
    snprintf(sim, sizeof sim, "%s/atota-sim", exe);
    bench_src_dir(src, sizeof src);
    if (access(sim, X_OK))
        return printf("(a), (b) skipped: no %s (build atota-sim first)\n", sim), 0;
    if (!in_path("curl"))
        return printf("(a), (b) skipped: no curl in PATH\n"), 0;

    web_bench_t *b = calloc(1, sizeof *b);
    if (!b || !(b->at = calloc(1, sizeof *b->at))) {
        free(b);
        return printf("(a), (b) skipped: out of memory\n"), 0;
    }
    snprintf(b->dir, sizeof b->dir, "/tmp/bench_webserver.XXXXXX");
    if (!mkdtemp(b->dir)) {
        free(b->at);
        free(b);
        return printf("(a), (b) skipped: mkdtemp: %s\n", strerror(errno)), 0;
    }
    char www[96], image[128], flash[96], addr[256];
    snprintf(www, sizeof www, "%s/www", b->dir);
    snprintf(image, sizeof image, "%s/v2.bin", www);
    snprintf(b->image_arg, sizeof b->image_arg, "@%s", image);
    snprintf(flash, sizeof flash, "%s/m.flash", b->dir);
    snprintf(b->body, sizeof b->body, "%s/curl.body", b->dir);
    snprintf(b->code, sizeof b->code, "%s/curl.code", b->dir);
    snprintf(b->sim_err, sizeof b->sim_err, "%s/sim.err", b->dir);
    mkdir(www, 0755);

    int rc = 0;
    bool keep = false; /* the directory, for the simulator's stderr a message points to */
    char *sim_argv[] = {sim, "--flash", flash, "--tcp", "127.0.0.1:0", NULL};
    atota_diag_t diag;
    atota_diag_clear(&diag);
    if (bench_write_file(image, img, len)) {
        printf("(a), (b) skipped: cannot write %s\n", image);
    } else if (bench_spawn(sim_argv, b->sim_err, &b->mod) ||
               bench_wait_line(&b->mod, "atota-sim: AT port on ", 15.0, addr, sizeof addr) ||
               atota_uart_client_open(addr, &b->at->port, &diag)) {
        printf("(a), (b) skipped: atota-sim did not start (see %s)\n", b->sim_err);
        keep = true;
    } else if (bench_at_cmd(b->at, "AT+CWMODE=3\r\n", 5) != 1 || web_start(b)) {
        printf("(a), (b) failed: AT+CWMODE=3, AT+WEBSERVER=1,80,25 (see %s)\n", b->sim_err);
        rc = 1;
    } else {
        rc = bench_transport(b, len, reps);
        if (!rc)
            rc = bench_vs_userota(b, src, www, len, reps);
    }
    if (b->at->port)
        atota_uart_client_close(b->at->port);
    bench_stop(&b->mod);
    if (!rc && !keep)
        bench_remove_tree(b->dir);
    free(b->at);
    free(b);
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
    uint8_t *img = bench_image_build("bench_webserver", IMAGE_PAYLOAD, &len);
    if (!img)
        return 1;
    printf("webserver bench: a %zu-byte ESP32 app image (1.5 MB of noise), ESP32-WROOM-32 layout, "
           "AT+WEBSERVER on atota-sim\n",
           len);
    int rc = bench_web(img, len, reps);
    free(img);
    return rc;
}
