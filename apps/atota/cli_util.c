#include "apps/atota/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_error(const char *subject, const char *fmt, ...)
{
    va_list ap;
    fputs("atota: ", stderr);
    if (subject)
        fprintf(stderr, "%s: ", subject);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_INVALID;
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    fputs("atota: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (usage)
        fprintf(stderr, "usage: %s\n", usage);
    return CLI_EXIT_USAGE;
}

atota_err_t cli_read_file(const char *path, size_t max_len, uint8_t **data, size_t *len,
                          atota_diag_t *diag)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return atota_diag_set(diag, ATOTA_ERR_IO, "not a regular file");
    }
    size_t size = (size_t)st.st_size;
    if (max_len && size > max_len) {
        fclose(f);
        return atota_diag_set(diag, ATOTA_ERR_TOO_BIG, "file is %zu bytes, more than %zu", size,
                              max_len);
    }
    uint8_t *buf = malloc(size + 1);
    if (!buf) {
        fclose(f);
        return atota_diag_set(diag, ATOTA_ERR_NO_MEM, "cannot allocate %zu bytes", size + 1);
    }
    size_t got = fread(buf, 1, size, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != size) {
        free(buf);
        return atota_diag_set(diag, ATOTA_ERR_IO, "read error");
    }
    buf[size] = 0;
    *data = buf;
    *len = size;
    return ATOTA_OK;
}

atota_err_t cli_write_file(const char *path, const void *data, size_t len, atota_diag_t *diag)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return atota_diag_set(diag, ATOTA_ERR_NO_MEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        atota_err_t e = atota_diag_set(diag, ATOTA_ERR_IO, "cannot create: %s", strerror(errno));
        free(tmp);
        return e;
    }
    const uint8_t *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    int ok = left == 0 && fchmod(fd, 0644) == 0 && fsync(fd) == 0;
    int saved = errno;
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        unlink(tmp);
        free(tmp);
        return atota_diag_set(diag, ATOTA_ERR_IO, "cannot write: %s", strerror(saved));
    }
    free(tmp);
    return ATOTA_OK;
}

int cli_parse_u32(const char *text, uint32_t *out)
{
    if (!text || !*text)
        return -1;
    int base = 10;
    const char *p = text;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
        base = 8;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        base = 2;
        p += 2;
    }
    if (!*p)
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, base);
    if (errno || end == p || *p == '-' || *p == '+')
        return -1;
    if (*end == 'k' || *end == 'K') {
        v *= 1024;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        v *= 1024 * 1024;
        end++;
    }
    if (*end || v > 0xFFFFFFFFull)
        return -1;
    *out = (uint32_t)v;
    return 0;
}
