/*
 * The CLI's side of a module's AT port (`atota at`, `userota`, `ciupdate`, `webserver`): a line
 * reader over port/posix/uart.h's client, and the few exchanges every subcommand needs. It copes
 * with what a real module does as well as the simulator: echo on or off, unsolicited lines,
 * "busy p..." (the module dropped the command: wait until the port is quiet, send it again), a
 * stale "ready" from a restart before.
 *
 * Lines are returned without their CR/LF; one longer than CLI_LINE_MAX - 1 bytes is cut. Every
 * line read is also appended to a transcript (bounded), which a subcommand prints when a command
 * fails, so the user sees what the module said.
 */
#ifndef ATOTA_APPS_ATOTA_AT_LINK_H
#define ATOTA_APPS_ATOTA_AT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "port/posix/uart.h"

#define CLI_LINE_MAX       4096
#define CLI_TRANSCRIPT_MAX 8192
#define CLI_COMMAND_MS     10000u /* a short command's reply (AT+GMR, AT+RST's OK) */
#define CLI_READY_MS       30000u /* after a restart's OK: TX drain (<= 3 s), reset, boot */
#define CLI_COMMAND_LEN    254u   /* esp-at-ota.md §1.1: 256 bytes with the CR-LF */

typedef struct {
    atota_uart_client_t *port;
    uint8_t rx[CLI_LINE_MAX * 2];
    size_t rx_len;
    char transcript[CLI_TRANSCRIPT_MAX]; /* the lines read since cli_link_forget */
    size_t transcript_len;
    /* While next_line waits: called every tick_ms (a spinner); NULL: not called. */
    void (*tick)(void *ctx);
    void *tick_ctx;
    unsigned tick_ms;
    atota_diag_t diag; /* why the port failed */
} cli_link_t;

/* Monotonic milliseconds. */
uint64_t cli_now_ms(void);

/* Opens the port (PATH[@BAUD] or tcp:HOST:PORT) into a new link (*out, freed by cli_link_close).
 * Returns the exit status: a usage error naming usage for a malformed PORT, else an error. */
int cli_link_open(const char *port, const char *usage, cli_link_t **out);
void cli_link_close(cli_link_t *l);

/* Reads more bytes, waiting until deadline. 1: got some, 0: timed out (or the buffer is full),
 * -1: the port failed (l->diag). */
int cli_link_fill(cli_link_t *l, uint64_t deadline);

/* Takes the next complete line out of the buffer. 1: a line, 0: none complete yet. */
int cli_link_take_line(cli_link_t *l, char *line);

/* The next non-blank line until deadline (added to the transcript): 1 a line, 0 timeout,
 * -1 port failure. */
int cli_link_next_line(cli_link_t *l, char *line, uint64_t deadline);

/* After "busy p...": drops what comes until the port has been quiet for a while (or deadline).
 * 0, or -1 when the port failed. */
int cli_link_wait_quiet(cli_link_t *l, uint64_t deadline);

/* Writes bytes as they are; 0 or -1 (l->diag). */
int cli_link_write(cli_link_t *l, const void *data, size_t len);

/* Writes cmd and CR-LF; 0 or -1. */
int cli_link_send(cli_link_t *l, const char *cmd);

/* Prints "atota: <what>: <the port's error>" on stderr and returns CLI_EXIT_INVALID. */
int cli_link_port_error(cli_link_t *l, const char *what);

/* The transcript: forget starts a new one; print writes it to standard output. */
void cli_link_forget(cli_link_t *l);
void cli_link_print_transcript(cli_link_t *l);

/* Called with each line of a reply that is not the echo, a busy, a stale "ready" or the final
 * result. */
typedef void (*cli_line_fn)(void *ctx, const char *line);

/* Sends cmd and reads its reply up to OK (CLI_EXIT_OK) or ERROR (an error whose message is
 * refusal, or just "ERROR"); each other line goes to fn (may be NULL). "busy p..." sends the
 * command again once the port is quiet; a "ready" (a restart before) is skipped. The transcript
 * then holds the reply (the caller prints it if it wants to show it). */
int cli_link_command(cli_link_t *l, const char *cmd, unsigned timeout_ms, cli_line_fn fn, void *ctx,
                     const char *refusal);

/* AT+GMR (esp-at-ota.md §1.5): the firmware's version is its "Bin version:" line (the app
 * descriptor's version and the module), else its "AT version:" line, else "unknown". The two
 * lines as the module printed them go to at_line and bin_line ("" when absent; may be NULL).
 * Returns the exit status. */
int cli_link_version(cli_link_t *l, char *version, size_t cap, char *at_line, char *bin_line,
                     size_t line_cap);

/* Waits for "ready" (a restart's end), at most timeout_ms; what names the command in an error. */
int cli_link_wait_ready(cli_link_t *l, const char *what, unsigned timeout_ms);

/* AT+RST, its OK, then "ready" within ready_ms (esp-at-ota.md §1.6). */
int cli_link_restart(cli_link_t *l, unsigned ready_ms);

/* Appends a quoted string parameter to cmd (capacity cap): \ " and , escaped (§1.1). */
void cli_at_append_string(char *cmd, size_t cap, const char *text);

#endif /* ATOTA_APPS_ATOTA_AT_LINK_H */
