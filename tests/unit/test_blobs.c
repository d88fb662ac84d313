/*
 * The blob store (server/blobs.h, server/blobs.c, docs/server-store.md): content-addressed
 * layout and names, reading back, names that could build a path refused, gc of unreferenced
 * blobs and of temporary files a dead process left (never visible as blobs), blobs put through
 * the running handle kept by gc, content checks, and puts from four threads during a gc.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/blobs.h"
#include "support/tmpdir.h"
#include "support/check.h"

/* FIPS 180-2's examples */
#define SHA_ABC   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
    char dir[64];
    atota_blobs_t *b;
} fx_t;

static atota_blobs_t *open_blobs(const char *dir)
{
    atota_blobs_t *b = NULL;
    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err = atota_blobs_open(dir, &b, &d);
    if (err || !b) {
        print_error("atota_blobs_open(%s): %s\n", dir, atota_diag_text(&d, err));
        fail();
    }
    return b;
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/atota-blobs-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    fx->b = open_blobs(fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    atota_blobs_close(fx->b);
    fx_rm_tree(fx->dir);
    free(fx);
    return 0;
}

/* The process restarts: a new handle on the same directory. */
static void restart(fx_t *fx)
{
    atota_blobs_close(fx->b);
    fx->b = open_blobs(fx->dir);
}

static char *read_blob(atota_blobs_t *b, const char *sha, size_t *len)
{
    int fd = -1;
    uint64_t size = 0;
    int64_t mtime = 0;
    FX_CHECK(atota_blobs_open_read(b, sha, &fd, &size, &mtime));
    assert_true(fd >= 0);
    assert_true(mtime > 0);
    char *buf = malloc(size + 1);
    assert_int_equal(read(fd, buf, size + 1), (ssize_t)size);
    close(fd);
    buf[size] = '\0';
    *len = size;
    return buf;
}

static unsigned count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void test_put_and_read(void **state)
{
    fx_t *fx = *state;
    char sha[65], path[256];
    FX_CHECK(atota_blobs_put(fx->b, "abc", 3, sha, NULL));
    assert_string_equal(sha, SHA_ABC);
    snprintf(path, sizeof path, "%s/blobs/ba/%s", fx->dir, SHA_ABC); /* <first 2 hex>/<64 hex> */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3);
    assert_int_equal(st.st_mode & 0222, 0); /* immutable */
    size_t len;
    char *got = read_blob(fx->b, SHA_ABC, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(got, "abc", 3);
    free(got);

    /* again: a no-op */
    FX_CHECK(atota_blobs_put(fx->b, "abc", 3, sha, NULL));
    assert_string_equal(sha, SHA_ABC);
    FX_CHECK(atota_blobs_put(fx->b, "", 0, sha, NULL));
    assert_string_equal(sha, SHA_EMPTY);
    got = read_blob(fx->b, SHA_EMPTY, &len);
    assert_int_equal(len, 0);
    free(got);
    FX_CHECK(atota_blobs_verify(fx->b, SHA_ABC, NULL));

    /* a large one, and nothing left in tmp */
    size_t big = 3u << 20;
    uint8_t *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 11));
    FX_CHECK(atota_blobs_put(fx->b, data, big, sha, NULL));
    got = read_blob(fx->b, sha, &len);
    assert_int_equal(len, big);
    assert_memory_equal(got, data, big);
    free(got);
    free(data);
    snprintf(path, sizeof path, "%s/blobs/tmp", fx->dir);
    assert_int_equal(count_entries(path), 0);
}

static void test_names_that_build_paths_are_refused(void **state)
{
    fx_t *fx = *state;
    char sha[65];
    FX_CHECK(atota_blobs_put(fx->b, "abc", 3, sha, NULL));
    static const char *const bad[] = {
        "../../../../etc/passwd",
        "ba/../ba/" SHA_ABC,
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", /* uppercase */
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",  /* 63 */
        SHA_ABC "0",                                                        /* 65 */
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a/",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a\n",
        "",
        "tmp",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int fd = 123;
        uint64_t size = 0;
        FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG,
                      atota_blobs_open_read(fx->b, bad[i], &fd, &size, NULL));
        assert_int_equal(fd, -1);
    }
    int fd;
    FX_EXPECT_ERR(ATOTA_ERR_INVALID_ARG, atota_blobs_open_read(fx->b, NULL, &fd, NULL, NULL));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, atota_blobs_open_read(fx->b, SHA_EMPTY, &fd, NULL, NULL));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, atota_blobs_verify(fx->b, SHA_EMPTY, NULL));
}

typedef struct {
    const char *keep[4];
    unsigned asked;
} keep_t;

static int keep_listed(void *ctx, const char *sha)
{
    keep_t *k = ctx;
    k->asked++;
    for (int i = 0; i < 4 && k->keep[i]; i++)
        if (strcmp(k->keep[i], sha) == 0)
            return 1;
    return 0;
}

static void test_gc_removes_unreferenced(void **state)
{
    fx_t *fx = *state;
    char a[65], b[65], c[65];
    FX_CHECK(atota_blobs_put(fx->b, "abc", 3, a, NULL));
    FX_CHECK(atota_blobs_put(fx->b, "def", 3, b, NULL));
    FX_CHECK(atota_blobs_put(fx->b, "ghi", 3, c, NULL));

    /* the handle that put them keeps them: their file rows may not be committed yet */
    keep_t k = {{a, NULL}, 0};
    unsigned removed = 99;
    FX_CHECK(atota_blobs_gc(fx->b, keep_listed, &k, &removed));
    assert_int_equal(removed, 0);

    restart(fx);
    FX_CHECK(atota_blobs_gc(fx->b, keep_listed, &k, &removed));
    assert_int_equal(removed, 2);
    assert_int_equal(k.asked, 3);
    int fd;
    FX_CHECK(atota_blobs_open_read(fx->b, a, &fd, NULL, NULL));
    close(fd);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, atota_blobs_open_read(fx->b, b, &fd, NULL, NULL));
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, atota_blobs_open_read(fx->b, c, &fd, NULL, NULL));

    /* put again after a gc: back */
    FX_CHECK(atota_blobs_put(fx->b, "def", 3, b, NULL));
    FX_CHECK(atota_blobs_verify(fx->b, b, NULL));

    /* a file that is not a blob is left alone */
    char path[256];
    snprintf(path, sizeof path, "%s/blobs/ba/README", fx->dir);
    FILE *f = fopen(path, "w");
    fputs("x", f);
    fclose(f);
    restart(fx);
    k = (keep_t){{a, b, NULL}, 0};
    FX_CHECK(atota_blobs_gc(fx->b, keep_listed, &k, &removed));
    assert_int_equal(removed, 0);
    assert_int_equal(access(path, F_OK), 0);
}

static void test_interrupted_put_is_never_visible_and_gc_cleans_it(void **state)
{
    fx_t *fx = *state;
    /* A put killed before its rename: a part of "abc" in tmp, under a dead handle's token. */
    char path[256];
    snprintf(path, sizeof path, "%s/blobs/tmp/0123456789abcdef.Xy12Zq", fx->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("ab", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/blobs/tmp/leftover", fx->dir);
    f = fopen(path, "w");
    fclose(f);

    int fd;
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, atota_blobs_open_read(fx->b, SHA_ABC, &fd, NULL, NULL));
    restart(fx);
    FX_EXPECT_ERR(ATOTA_ERR_NOT_FOUND, atota_blobs_open_read(fx->b, SHA_ABC, &fd, NULL, NULL));
    keep_t k = {{NULL}, 0};
    unsigned removed = 0;
    FX_CHECK(atota_blobs_gc(fx->b, keep_listed, &k, &removed));
    assert_int_equal(removed, 2);
    snprintf(path, sizeof path, "%s/blobs/tmp", fx->dir);
    assert_int_equal(count_entries(path), 0);
    assert_int_equal(k.asked, 0); /* nothing in tmp is ever taken for a blob */

    /* the put, done again, succeeds whole */
    char sha[65];
    FX_CHECK(atota_blobs_put(fx->b, "abc", 3, sha, NULL));
    FX_CHECK(atota_blobs_verify(fx->b, SHA_ABC, NULL));
}

static void test_verify_finds_damage(void **state)
{
    fx_t *fx = *state;
    char sha[65], path[256];
    FX_CHECK(atota_blobs_put(fx->b, "abc", 3, sha, NULL));
    snprintf(path, sizeof path, "%s/blobs/ba/%s", fx->dir, SHA_ABC);
    chmod(path, 0644);
    FILE *f = fopen(path, "r+");
    fputc('X', f);
    fclose(f);
    atota_diag_t d;
    FX_EXPECT_ERR(ATOTA_ERR_IO, atota_blobs_verify(fx->b, SHA_ABC, &d));
    assert_non_null(strstr(d.msg, "hashes to"));
    /* a put of the right content whose blob exists with the right size is a no-op; a damaged
     * blob of another size is rewritten */
    f = fopen(path, "a");
    fputc('Y', f);
    fclose(f);
    FX_CHECK(atota_blobs_put(fx->b, "abc", 3, sha, NULL));
    FX_CHECK(atota_blobs_verify(fx->b, SHA_ABC, NULL));
}

/* ---- four threads putting while another collects ----------------------------------------- */

#define PUTS 40

typedef struct {
    atota_blobs_t *b;
    int index;
    char shas[PUTS][65];
    unsigned failures;
} putter_t;

static void *putter(void *arg)
{
    putter_t *p = arg;
    for (int i = 0; i < PUTS; i++) {
        char data[64];
        /* half of them the same across threads */
        int n = snprintf(data, sizeof data, "blob %d of %d", i, i % 2 ? p->index : -1);
        if (atota_blobs_put(p->b, data, (size_t)n, p->shas[i], NULL))
            p->failures++;
    }
    return NULL;
}

static int keep_none(void *ctx, const char *sha)
{
    (void)ctx, (void)sha;
    return 0;
}

static void test_four_threads_and_gc(void **state)
{
    fx_t *fx = *state;
    pthread_t t[4];
    putter_t *p = calloc(4, sizeof *p);
    for (int i = 0; i < 4; i++) {
        p[i].b = fx->b;
        p[i].index = i;
        assert_int_equal(pthread_create(&t[i], NULL, putter, &p[i]), 0);
    }
    for (int round = 0; round < 20; round++) {
        unsigned removed = 0;
        FX_CHECK(atota_blobs_gc(fx->b, keep_none, NULL, &removed));
        assert_int_equal(removed, 0); /* everything here was put by this handle */
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(p[i].failures, 0);
        for (int j = 0; j < PUTS; j++)
            FX_CHECK(atota_blobs_verify(fx->b, p[i].shas[j], NULL));
    }
    char path[256];
    snprintf(path, sizeof path, "%s/blobs/tmp", fx->dir);
    assert_int_equal(count_entries(path), 0);
    restart(fx);
    unsigned removed = 0;
    FX_CHECK(atota_blobs_gc(fx->b, keep_none, NULL, &removed));
    assert_int_equal(removed, PUTS / 2 + 4 * PUTS / 2); /* distinct blobs */
    free(p);
}

static void test_open_refuses_bad_directories(void **state)
{
    (void)state;
    atota_blobs_t *b = NULL;
    atota_diag_t d;
    FX_EXPECT_ERR(ATOTA_ERR_IO, atota_blobs_open("/nonexistent/data", &b, &d));
    assert_null(b);
    assert_non_null(strstr(d.msg, "/nonexistent/data/blobs"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_that_build_paths_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_removes_unreferenced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_put_is_never_visible_and_gc_cleans_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_finds_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_four_threads_and_gc, setup, teardown),
        cmocka_unit_test(test_open_refuses_bad_directories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
