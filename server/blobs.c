/*
 * The blob store (server/blobs.h): <data>/blobs/<first 2 hex>/<64 hex>, written through
 * <data>/blobs/tmp/<token>.<random> + fsync + rename + fsync of the directory, so a blob is
 * whole or absent whenever the process dies (docs/server-store.md).
 *
 * gc and a running server: a put is followed by its file row, so between the two a blob is
 * named by no row. Every blob put since this handle was opened is remembered (a pin) and gc
 * keeps it, and temporary files carry this handle's token, so gc at any time removes only what
 * earlier processes left; what this process made unreferenced goes at the next start.
 */
#include "server/blobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/util/hash.h"

#define ROOT_MAX     3000 /* <data>/blobs: leaves room for any name below it */
#define PATH_MAX_LEN 4096
#define TOKEN_HEX    16 /* the temporary-file prefix of one handle */

struct atota_blobs {
    char root[ROOT_MAX]; /* <data>/blobs */
    char token[TOKEN_HEX + 1];
    pthread_mutex_t lock; /* guards pins, and orders puts against gc */
    uint8_t (*pins)[ATOTA_SHA256_LEN];
    size_t npins, cap;
};

static bool is_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Exactly 64 lowercase hex digits. */
static bool is_blob_name(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < 64; i++)
        if (!is_hex_digit(s[i]))
            return false;
    return s[64] == '\0';
}

static int hex_nibble(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

static void unhex(const char *hex, uint8_t out[ATOTA_SHA256_LEN])
{
    for (int i = 0; i < ATOTA_SHA256_LEN; i++)
        out[i] = (uint8_t)(hex_nibble(hex[2 * i]) << 4 | hex_nibble(hex[2 * i + 1]));
}

/* Makes a directory's entries (a new file, a rename) durable. */
static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* mkdir that accepts an existing directory; a new one is made durable in its parent. */
static int make_dir(const char *path, const char *parent)
{
    if (mkdir(path, 0755) == 0)
        return fsync_dir(parent);
    return errno == EEXIST ? 0 : -1;
}

atota_err_t atota_blobs_open(const char *data_dir, atota_blobs_t **out, atota_diag_t *diag)
{
    *out = NULL;
    atota_blobs_t *b = calloc(1, sizeof *b);
    if (!b)
        return ATOTA_ERR_NO_MEM;
    char tmp[PATH_MAX_LEN];
    if (!data_dir || snprintf(b->root, sizeof b->root, "%s/blobs", data_dir) >= ROOT_MAX) {
        free(b);
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "data directory path too long");
    }
    snprintf(tmp, sizeof tmp, "%s/tmp", b->root);
    if (make_dir(b->root, data_dir) != 0 || make_dir(tmp, b->root) != 0) {
        atota_err_t err =
            atota_diag_set(diag, ATOTA_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        free(b);
        return err;
    }
    uint8_t r[TOKEN_HEX / 2];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        free(b);
        return atota_diag_set(diag, ATOTA_ERR_IO, "getrandom: %s", strerror(errno));
    }
    atota_hex(r, sizeof r, b->token);
    pthread_mutex_init(&b->lock, NULL);
    *out = b;
    return ATOTA_OK;
}

void atota_blobs_close(atota_blobs_t *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b->pins);
    free(b);
}

static bool pinned(const atota_blobs_t *b, const uint8_t sha[ATOTA_SHA256_LEN])
{
    for (size_t i = 0; i < b->npins; i++)
        if (memcmp(b->pins[i], sha, ATOTA_SHA256_LEN) == 0)
            return true;
    return false;
}

static atota_err_t pin(atota_blobs_t *b, const uint8_t sha[ATOTA_SHA256_LEN])
{
    if (pinned(b, sha))
        return ATOTA_OK;
    if (b->npins == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        void *p = realloc(b->pins, cap * sizeof *b->pins);
        if (!p)
            return ATOTA_ERR_NO_MEM;
        b->pins = p;
        b->cap = cap;
    }
    memcpy(b->pins[b->npins++], sha, ATOTA_SHA256_LEN);
    return ATOTA_OK;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes data to a new temporary file, made durable, and renames it to path. */
static atota_err_t write_blob(atota_blobs_t *b, const void *data, size_t len, const char *dir,
                              const char *path, atota_diag_t *diag)
{
    char tmp[PATH_MAX_LEN];
    snprintf(tmp, sizeof tmp, "%s/tmp/%s.XXXXXX", b->root, b->token);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    const char *step = "write";
    if (fchmod(fd, 0444) != 0) /* immutable, and readable by a static server */
        step = "chmod";
    else if (write_all(fd, data, len) != 0)
        step = "write";
    else if (fsync(fd) != 0)
        step = "fsync";
    else
        step = NULL;
    int e = errno;
    if (close(fd) != 0 && !step) {
        step = "close";
        e = errno;
    }
    if (!step && make_dir(dir, b->root) != 0) {
        step = "mkdir";
        e = errno;
    }
    if (!step && rename(tmp, path) != 0) {
        step = "rename";
        e = errno;
    }
    if (step) {
        unlink(tmp);
        return atota_diag_set(diag, ATOTA_ERR_IO, "blob %s: %s: %s", path, step, strerror(e));
    }
    if (fsync_dir(dir) != 0)
        return atota_diag_set(diag, ATOTA_ERR_IO, "blob %s: fsync of the directory: %s", path,
                              strerror(errno));
    return ATOTA_OK;
}

atota_err_t atota_blobs_put(atota_blobs_t *b, const void *data, size_t len, char sha256_hex[65],
                            atota_diag_t *diag)
{
    uint8_t sha[ATOTA_SHA256_LEN];
    atota_sha256(data, len, sha);
    atota_hex(sha, sizeof sha, sha256_hex);
    char dir[ROOT_MAX + 8], path[PATH_MAX_LEN];
    snprintf(dir, sizeof dir, "%s/%.2s", b->root, sha256_hex);
    snprintf(path, sizeof path, "%s/%s", dir, sha256_hex);

    /* Pinned before it appears, so a concurrent gc never removes it (gc decides under the lock). */
    pthread_mutex_lock(&b->lock);
    atota_err_t err = pin(b, sha);
    pthread_mutex_unlock(&b->lock);
    if (err)
        return err;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == len)
        return ATOTA_OK; /* already stored: renamed into place only when whole */
    return write_blob(b, data, len, dir, path, diag);
}

atota_err_t atota_blobs_open_read(atota_blobs_t *b, const char *sha256_hex, int *fd, uint64_t *size,
                                  int64_t *mtime)
{
    *fd = -1;
    if (!is_blob_name(sha256_hex)) /* no path can be built from anything else */
        return ATOTA_ERR_INVALID_ARG;
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s/%.2s/%s", b->root, sha256_hex, sha256_hex);
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (f < 0)
        return errno == ENOENT || errno == ENOTDIR ? ATOTA_ERR_NOT_FOUND : ATOTA_ERR_IO;
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return ATOTA_ERR_IO;
    }
    *fd = f;
    if (size)
        *size = (uint64_t)st.st_size;
    if (mtime)
        *mtime = (int64_t)st.st_mtime;
    return ATOTA_OK;
}

atota_err_t atota_blobs_verify(atota_blobs_t *b, const char *sha256_hex, atota_diag_t *diag)
{
    int fd;
    uint64_t size;
    atota_err_t err = atota_blobs_open_read(b, sha256_hex, &fd, &size, NULL);
    if (err)
        return atota_diag_set(diag, err, "blob %.64s: %s", sha256_hex ? sha256_hex : "",
                              atota_strerror(err));
    atota_sha256_t h;
    atota_sha256_init(&h);
    uint8_t buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            atota_sha256_update(&h, buf, (size_t)n);
    close(fd);
    uint8_t sha[ATOTA_SHA256_LEN];
    char hex[65];
    atota_sha256_finish(&h, sha);
    atota_hex(sha, sizeof sha, hex);
    if (n < 0)
        return atota_diag_set(diag, ATOTA_ERR_IO, "blob %s: read: %s", sha256_hex, strerror(errno));
    if (strcmp(hex, sha256_hex) != 0)
        return atota_diag_set(diag, ATOTA_ERR_IO, "blob %s holds data that hashes to %s",
                              sha256_hex, hex);
    return ATOTA_OK;
}

/* Removes the temporary files of other (dead) handles. */
static atota_err_t gc_tmp(atota_blobs_t *b, unsigned *removed)
{
    char dir[ROOT_MAX + 8], path[PATH_MAX_LEN];
    snprintf(dir, sizeof dir, "%s/tmp", b->root);
    DIR *d = opendir(dir);
    if (!d)
        return ATOTA_ERR_IO;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' ||
            (strncmp(e->d_name, b->token, TOKEN_HEX) == 0 && e->d_name[TOKEN_HEX] == '.'))
            continue; /* ours: a put in progress */
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path &&
            unlink(path) == 0)
            (*removed)++;
    }
    closedir(d);
    return ATOTA_OK;
}

atota_err_t atota_blobs_gc(atota_blobs_t *b, int (*keep)(void *ctx, const char *sha256_hex),
                           void *ctx, unsigned *removed)
{
    unsigned n = 0;
    atota_err_t err = gc_tmp(b, &n);
    DIR *top = err ? NULL : opendir(b->root);
    if (!err && !top)
        err = ATOTA_ERR_IO;
    struct dirent *e;
    while (!err && (e = readdir(top)) != NULL) {
        const char *p = e->d_name;
        bool prefix = strlen(p) == 2 && is_hex_digit(p[0]) && is_hex_digit(p[1]);
        if (!prefix)
            continue; /* tmp, or not ours */
        char dir[ROOT_MAX + 8], path[PATH_MAX_LEN];
        snprintf(dir, sizeof dir, "%s/%.2s", b->root, p);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *f;
        while ((f = readdir(d)) != NULL) {
            if (!is_blob_name(f->d_name) || strncmp(f->d_name, p, 2) != 0)
                continue; /* not a blob name: left alone */
            uint8_t sha[ATOTA_SHA256_LEN];
            unhex(f->d_name, sha);
            snprintf(path, sizeof path, "%s/%s", dir, f->d_name);
            /* Decided and removed under the lock: a put pins before it renames into place. */
            pthread_mutex_lock(&b->lock);
            if (!pinned(b, sha) && !keep(ctx, f->d_name) && unlink(path) == 0)
                n++;
            pthread_mutex_unlock(&b->lock);
        }
        closedir(d);
        fsync_dir(dir);
    }
    if (top)
        closedir(top);
    if (removed)
        *removed = n;
    return err;
}
