/*
 * Firmware files on disk, by SHA-256 (<data>/blobs/ab/abcdef...): content-addressed and
 * immutable, so any static server or CDN can serve them. A put writes a temporary file, fsyncs
 * it, renames it into place and fsyncs the directory: a blob either exists whole or not at all,
 * whenever the process dies.
 */
#ifndef ATOTA_SERVER_BLOBS_H
#define ATOTA_SERVER_BLOBS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct atota_blobs atota_blobs_t;

atota_err_t atota_blobs_open(const char *data_dir, atota_blobs_t **out, atota_diag_t *diag);
void atota_blobs_close(atota_blobs_t *b);

/* Stores data; sha256_hex (65 bytes) gets its name. Storing an existing blob is a no-op. */
atota_err_t atota_blobs_put(atota_blobs_t *b, const void *data, size_t len, char sha256_hex[65],
                            atota_diag_t *diag);
/* Opens a blob for reading: a file descriptor (the caller closes it), its size and mtime.
 * ATOTA_ERR_NOT_FOUND when absent; ATOTA_ERR_INVALID_ARG for a name that is not 64 hex. */
atota_err_t atota_blobs_open_read(atota_blobs_t *b, const char *sha256_hex, int *fd, uint64_t *size,
                                  int64_t *mtime);
/* Removes blobs no file row names and leftover temporary files; keep(ctx, sha) says which to
 * keep. Returns how many were removed in *removed. Safe while the server runs: blobs put through
 * this handle and its own temporary files are always kept (a put's file row may not be committed
 * yet), so what this process made unreferenced is removed by the next process's gc. keep is
 * called with the handle's lock held: it must not call atota_blobs_*. */
atota_err_t atota_blobs_gc(atota_blobs_t *b, int (*keep)(void *ctx, const char *sha256_hex),
                           void *ctx, unsigned *removed);

/* Reads a blob whole and checks that it hashes to its name (start-up checks, tests):
 * ATOTA_ERR_IO with diag when it does not, NOT_FOUND / INVALID_ARG as atota_blobs_open_read. */
atota_err_t atota_blobs_verify(atota_blobs_t *b, const char *sha256_hex, atota_diag_t *diag);

#endif /* ATOTA_SERVER_BLOBS_H */
