/*
 * What atota-server's main program and its `admin` subcommands share: the data directory
 * (<data>/atota.db, <data>/blobs/), and a walk over every file row for the blob store's garbage
 * collection and the consistency check.
 */
#ifndef ATOTA_APPS_ATOTA_SERVER_APP_H
#define ATOTA_APPS_ATOTA_SERVER_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "server/blobs.h"
#include "server/store.h"

/* Creates dir (mode 0700, parents too) when missing and opens its store and blob store. */
atota_err_t server_app_open(const char *dir, atota_store_t **store, atota_blobs_t **blobs,
                            atota_diag_t *diag);

/* Calls fn for every file row, with its product and version; a non-zero return stops the walk. */
typedef int (*server_app_file_fn)(void *ctx, const atota_store_product_t *p,
                                  const atota_store_version_t *v, const atota_store_file_t *f);
atota_err_t server_app_each_file(atota_store_t *store, server_app_file_fn fn, void *ctx);

/* Removes the blobs no file row names (and leftover temporary files); *removed says how many. */
atota_err_t server_app_gc(atota_store_t *store, atota_blobs_t *blobs, unsigned *removed);

/* Writes text to path (created with mode, replaced atomically). */
atota_err_t server_app_write_file(const char *path, const char *text, unsigned mode,
                                  atota_diag_t *diag);

/* The whole file as a NUL-terminated string (the caller frees it), or NULL. */
char *server_app_read_file(const char *path, size_t *len);

/* One line "atota-server: <message>" on standard error; returns 1 (the exit status of a failure).
 */
int server_app_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* `atota-server admin --data DIR <command> ...` (argv[0] is "admin"). Returns the exit status. */
int server_admin_main(int argc, char **argv);

#endif /* ATOTA_APPS_ATOTA_SERVER_APP_H */
