/*
 * Small cmocka helpers shared by the unit tests: reading a vector file, glob over vector folders,
 * text and byte comparisons that say where they differ, a warning collector, and a partition
 * table filled in C. Header-only (static inline) and with no library calls of ATOTA's own, so any
 * test can include it whatever it links.
 */
#ifndef ATOTA_TESTS_SUPPORT_CHECK_H
#define ATOTA_TESTS_SUPPORT_CHECK_H

#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/fmt/partition.h"

/* The call must return ATOTA_OK; else the test fails naming the call and the error. */
#define FX_CHECK(call)                                                                             \
    do {                                                                                           \
        atota_err_t err_ = (call);                                                                 \
        if (err_ != ATOTA_OK) {                                                                    \
            print_error("%s:%d: %s -> %s\n", __FILE__, __LINE__, #call, atota_err_name(err_));     \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* The call must return exactly want. */
#define FX_EXPECT_ERR(want, call)                                                                  \
    do {                                                                                           \
        atota_err_t err_ = (call);                                                                 \
        if (err_ != (want)) {                                                                      \
            print_error("%s:%d: %s -> %s, expected %s\n", __FILE__, __LINE__, #call,               \
                        atota_err_name(err_), atota_err_name(want));                               \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* The whole file, NUL-terminated; NULL when it cannot be read. The caller frees it. */
static inline char *fx_try_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

/* As fx_try_read_file, but a file that cannot be read fails the test. */
static inline char *fx_read_file(const char *path, size_t *len)
{
    char *buf = fx_try_read_file(path, len);
    if (!buf) {
        print_error("cannot read %s\n", path);
        fail();
    }
    return buf;
}

/* Calls fn(path, ctx) for every file matching each pattern; a pattern matching nothing fails. */
static inline void fx_each_file(const char *const *patterns, unsigned n,
                                void (*fn)(const char *path, void *ctx), void *ctx)
{
    for (unsigned i = 0; i < n; i++) {
        glob_t g;
        if (glob(patterns[i], 0, NULL, &g) != 0) {
            print_error("no file matches %s\n", patterns[i]);
            fail();
        }
        for (size_t k = 0; k < g.gl_pathc; k++)
            fn(g.gl_pathv[k], ctx);
        globfree(&g);
    }
}

/* An atota_partition_opts_t warn callback appending each warning and a newline to a buffer. */
static inline void fx_collect_warning(void *ctx, const char *msg)
{
    strcat((char *)ctx, msg);
    strcat((char *)ctx, "\n");
}

static inline void fx_expect_text(const char *what, const char *got, const char *want)
{
    if (strcmp(got, want) == 0)
        return;
    print_error("%s:\n--- expected\n%s\n--- got\n%s\n---\n", what, want, got);
    fail();
}

/* Byte comparison naming the first difference. */
static inline void fx_expect_bytes(const char *what, const uint8_t *got, const uint8_t *want,
                                   size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (got[i] != want[i]) {
            print_error("%s: first difference at byte 0x%zx of 0x%zx: expected %02x, got %02x\n",
                        what, i, len, want[i], got[i]);
            fail();
        }
}

static inline void fx_table_add(atota_partition_table_t *t, const char *name, uint8_t type,
                                uint8_t subtype, uint32_t offset, uint32_t size)
{
    assert_true(t->count < ATOTA_PT_MAX_ENTRIES);
    atota_partition_t *p = &t->entries[t->count++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->type = type;
    p->subtype = subtype;
    p->offset = offset;
    p->size = size;
}

static inline const atota_partition_t *fx_table_get(const atota_partition_table_t *t,
                                                    const char *name)
{
    for (unsigned i = 0; i < t->count; i++)
        if (strcmp(t->entries[i].name, name) == 0)
            return &t->entries[i];
    print_error("no partition '%s' in the test table\n", name);
    fail();
    return NULL;
}

#endif /* ATOTA_TESTS_SUPPORT_CHECK_H */
