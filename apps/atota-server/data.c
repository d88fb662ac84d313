/* The data directory of atota-server: the store, the blob store, and walks over file rows. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps/atota-server/app.h"

static atota_err_t make_dirs(const char *dir, atota_diag_t *diag)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "data directory path too long");
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return atota_diag_set(diag, ATOTA_ERR_IO, "cannot create %s: %s", path,
                                  strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return atota_diag_set(diag, ATOTA_ERR_IO, "%s is not a directory", path);
    return ATOTA_OK;
}

atota_err_t server_app_open(const char *dir, atota_store_t **store, atota_blobs_t **blobs,
                            atota_diag_t *diag)
{
    atota_err_t err = make_dirs(dir, diag);
    if (err)
        return err;
    err = atota_store_sqlite_open(dir, store, diag);
    if (err)
        return err;
    err = atota_blobs_open(dir, blobs, diag);
    if (err) {
        (*store)->ops->close(*store);
        *store = NULL;
    }
    return err;
}

atota_err_t server_app_each_file(atota_store_t *store, server_app_file_fn fn, void *ctx)
{
    atota_store_rows_t products = ATOTA_STORE_ROWS(atota_store_product_t);
    atota_err_t err = store->ops->product_list(store, atota_store_collect, &products);
    int stop = 0;
    for (size_t i = 0; !err && !stop && i < products.count; i++) {
        const atota_store_product_t *p =
            (const void *)(products.rows + i * sizeof(atota_store_product_t));
        atota_store_rows_t versions = ATOTA_STORE_ROWS(atota_store_version_t);
        err = store->ops->version_list(store, p->id, atota_store_collect, &versions);
        for (size_t j = 0; !err && !stop && j < versions.count; j++) {
            const atota_store_version_t *v =
                (const void *)(versions.rows + j * sizeof(atota_store_version_t));
            atota_store_rows_t files = ATOTA_STORE_ROWS(atota_store_file_t);
            err = store->ops->file_list(store, v->id, atota_store_collect, &files);
            for (size_t k = 0; !err && !stop && k < files.count; k++)
                stop = fn(ctx, p, v, (const void *)(files.rows + k * sizeof(atota_store_file_t)));
            free(files.rows);
        }
        free(versions.rows);
    }
    free(products.rows);
    return err;
}

typedef struct {
    char (*sha)[65];
    size_t count, cap;
    bool oom;
} sha_set_t;

static int add_sha(void *ctx, const atota_store_product_t *p, const atota_store_version_t *v,
                   const atota_store_file_t *f)
{
    (void)p;
    (void)v;
    sha_set_t *s = ctx;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char(*grown)[65] = realloc(s->sha, cap * sizeof *grown);
        if (!grown) {
            s->oom = true;
            return 1;
        }
        s->sha = grown;
        s->cap = cap;
    }
    memcpy(s->sha[s->count++], f->sha256, 65);
    return 0;
}

static int cmp_sha(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int keep_sha(void *ctx, const char *sha256_hex)
{
    const sha_set_t *s = ctx;
    return s->count && bsearch(sha256_hex, s->sha, s->count, 65, cmp_sha) != NULL;
}

atota_err_t server_app_gc(atota_store_t *store, atota_blobs_t *blobs, unsigned *removed)
{
    sha_set_t set = {NULL, 0, 0, false};
    atota_err_t err = server_app_each_file(store, add_sha, &set);
    /* When the walk failed, nothing is removed: a blob kept too long costs disk, one removed
     * too early loses a firmware file. */
    if (!err && set.oom)
        err = ATOTA_ERR_NO_MEM;
    if (!err) {
        if (set.count)
            qsort(set.sha, set.count, 65, cmp_sha);
        err = atota_blobs_gc(blobs, keep_sha, &set, removed);
    }
    free(set.sha);
    return err;
}

atota_err_t server_app_write_file(const char *path, const char *text, unsigned mode,
                                  atota_diag_t *diag)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return atota_diag_set(diag, ATOTA_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
        }
        done += (size_t)n;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot rename %s: %s", tmp, strerror(e));
    }
    return ATOTA_OK;
}

char *server_app_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *grown = realloc(buf, cap + 1);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int server_app_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("atota-server: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}
