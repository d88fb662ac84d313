/*
 * Removing a test's temporary directory tree (mkdtemp'd by the test), with plain POSIX calls:
 * no nftw (it needs _XOPEN_SOURCE before every include) and no shell. Header-only.
 */
#ifndef ATOTA_TESTS_SUPPORT_TMPDIR_H
#define ATOTA_TESTS_SUPPORT_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Removes path and, for a directory, everything below it (making directories writable first:
 * stores create 0700/0500 trees). Symbolic links are removed, never followed. 0, or -1 when
 * something could not be removed. */
static inline int fx_rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    chmod(path, 0700);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char child[4096];
        if ((size_t)snprintf(child, sizeof child, "%s/%s", path, e->d_name) >= sizeof child ||
            fx_rm_tree(child) != 0)
            rc = -1;
    }
    closedir(d);
    return rmdir(path) == 0 ? rc : -1;
}

#endif /* ATOTA_TESTS_SUPPORT_TMPDIR_H */
