/* The `atota` command-line tool: shared helpers for its subcommands. */
#ifndef ATOTA_APPS_ATOTA_CLI_H
#define ATOTA_APPS_ATOTA_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Exit statuses of every subcommand. */
#define CLI_EXIT_OK      0
#define CLI_EXIT_INVALID 1 /* the input is invalid, or the operation failed */
#define CLI_EXIT_USAGE   2 /* bad command line */

/* Prints "atota: <subject>: <message>" on stderr (one line) and returns CLI_EXIT_INVALID.
 * subject is usually the file name; NULL leaves it out. */
int cli_error(const char *subject, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints a usage error and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Reads a whole file into a malloc'd buffer (*data, freed by the caller; NUL-terminated one past
 * *len so text can be parsed in place). max_len 0 = no limit. */
atota_err_t cli_read_file(const char *path, size_t max_len, uint8_t **data, size_t *len,
                          atota_diag_t *diag);

/* Writes a file atomically: a temporary file beside it, fsync, rename. Nothing is left behind
 * on failure, and an existing file is untouched. */
atota_err_t cli_write_file(const char *path, const void *data, size_t len, atota_diag_t *diag);

/* Parses a number as gen_esp32part does: decimal or 0x/0o/0b, with an optional K or M suffix.
 * Returns 0 on success, -1 when it is not a number or does not fit in 32 bits. */
int cli_parse_u32(const char *text, uint32_t *out);

/* The subcommands. argv[0] is the subcommand's name ("image"). */
int cli_cmd_image(int argc, char **argv);
int cli_cmd_part(int argc, char **argv);
int cli_cmd_flash(int argc, char **argv);
int cli_cmd_at(int argc, char **argv);
int cli_cmd_userota(int argc, char **argv);
int cli_cmd_ciupdate(int argc, char **argv);
int cli_cmd_web(int argc, char **argv);

#endif /* ATOTA_APPS_ATOTA_CLI_H */
