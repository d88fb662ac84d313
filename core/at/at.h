/*
 * The AT engine (esp-at-ota.md §1): bytes in from a UART, bytes out to it. It frames command
 * lines on "\r\n", echoes them (ATE0/ATE1), splits "AT<name>[=?|?|=params]" into the four command
 * types, parses the parameters (quoted strings with ESP-AT's escapes, omitted parameters, decimal
 * and 0x-hex numbers), dispatches to the handler the command registered for that type, and writes
 * ESP-AT's exact result bytes: "\r\nOK\r\n", "\r\nERROR\r\n" (after "ERR CODE:0x%08x\r\n" when
 * AT+SYSLOG=1), the data prompt "\r\nOK\r\n\r\n>" followed by exactly N raw bytes, and
 * "\r\nbusy p...\r\n" for input that arrives while a command is still running.
 *
 * The engine is portable core code: no OS calls, no allocation, a fixed-size struct that the
 * caller owns. Output goes through one write callback. A command that takes time (a Wi-Fi join,
 * a download) returns ATOTA_AT_PENDING and later finishes with atota_at_complete(); meanwhile the
 * engine answers every input line with busy.
 */
#ifndef ATOTA_CORE_AT_AT_H
#define ATOTA_CORE_AT_AT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ATOTA_AT_MAX_LINE   256 /* ESP-AT's command length limit, "\r\n" included */
#define ATOTA_AT_MAX_PARAMS 16
#define ATOTA_AT_MAX_TABLES 8 /* command tables that can be registered */

/* ESP-AT error codes (esp_at_core.h, esp-at-ota.md §1.2): 0x01SSEEEE. */
#define ATOTA_AT_ERR_CODE(sub)     (0x01000000u | ((uint32_t)(sub) << 16))
#define ATOTA_AT_SUB_COMMON        0x01
#define ATOTA_AT_SUB_NO_TERMINATOR 0x02
#define ATOTA_AT_SUB_NO_AT         0x03
#define ATOTA_AT_SUB_PARA_LENGTH   0x04
#define ATOTA_AT_SUB_PARA_TYPE     0x05
#define ATOTA_AT_SUB_PARA_NUM      0x06
#define ATOTA_AT_SUB_PARA_INVALID  0x07
#define ATOTA_AT_SUB_PARA_PARSE    0x08
#define ATOTA_AT_SUB_UNSUPPORTED   0x09
#define ATOTA_AT_SUB_EXEC_FAIL     0x0A
#define ATOTA_AT_SUB_PROCESSING    0x0B
#define ATOTA_AT_SUB_OP_TYPE       0x0C

typedef enum {
    ATOTA_AT_TEST = 0, /* AT+X=? */
    ATOTA_AT_QUERY,    /* AT+X? */
    ATOTA_AT_SET,      /* AT+X=... */
    ATOTA_AT_EXEC,     /* AT+X */
} atota_at_type_t;

/* What a handler returns. */
typedef enum {
    ATOTA_AT_OK = 0,  /* the engine writes "\r\nOK\r\n" */
    ATOTA_AT_ERROR,   /* the engine writes [ERR CODE line] "\r\nERROR\r\n" */
    ATOTA_AT_PROMPT,  /* "\r\nOK\r\n\r\n>", then the raw bytes of atota_at_expect_data() */
    ATOTA_AT_PENDING, /* still running: busy until atota_at_complete() */
    ATOTA_AT_SILENT,  /* nothing more: the handler wrote everything itself */
} atota_at_rc_t;

typedef enum {
    ATOTA_AT_PARAM_OMITTED = 0, /* an empty field: "AT+X=1,,3" */
    ATOTA_AT_PARAM_INT,         /* a bare number: decimal, or 0x.. hex */
    ATOTA_AT_PARAM_STR,         /* a quoted string, unescaped */
    ATOTA_AT_PARAM_RAW,         /* any other bare token (handlers usually refuse it) */
} atota_at_param_kind_t;

typedef struct {
    atota_at_param_kind_t kind;
    int64_t num;     /* ATOTA_AT_PARAM_INT */
    const char *str; /* STR and RAW: NUL-terminated, inside the engine; valid during the call */
    size_t len;      /* bytes of str (a string may hold NUL bytes after unescaping) */
} atota_at_param_t;

typedef struct {
    unsigned count;
    atota_at_param_t p[ATOTA_AT_MAX_PARAMS];
} atota_at_params_t;

typedef struct atota_at atota_at_t;

/* params is NULL for test, query and exec; ctx is the command table's ctx. */
typedef atota_at_rc_t (*atota_at_handler_t)(atota_at_t *at, void *ctx,
                                            const atota_at_params_t *params);

/* Raw bytes after a prompt, delivered as they arrive; last is true with the final chunk (the
 * N-th byte). Its return value on the last chunk is the command's result (as a handler's);
 * before the last chunk, ATOTA_AT_ERROR aborts the transfer (the remaining bytes are then
 * swallowed without being delivered) and anything else goes on. */
typedef atota_at_rc_t (*atota_at_data_handler_t)(atota_at_t *at, void *ctx, const uint8_t *data,
                                                 size_t len, bool last);

/* One command: name without "AT" ("+GMR", "E0", "" for plain AT), and a handler per type; a
 * NULL handler means the type is not supported (ERROR, as ESP-AT). */
typedef struct {
    const char *name;
    atota_at_handler_t test, query, set, exec;
} atota_at_cmd_t;

typedef struct {
    const atota_at_cmd_t *cmds;
    unsigned count;
    void *ctx;
} atota_at_table_t;

typedef void (*atota_at_write_fn)(void *ctx, const void *data, size_t len);

typedef enum {
    ATOTA_AT_STATE_IDLE = 0, /* waiting for a command line */
    ATOTA_AT_STATE_DATA,     /* reading raw bytes after a prompt */
    ATOTA_AT_STATE_PENDING,  /* a command is running */
} atota_at_state_t;

/* Plain struct so it can live anywhere; fields are the engine's own unless said. */
struct atota_at {
    atota_at_write_fn write;
    void *write_ctx;
    atota_at_table_t tables[ATOTA_AT_MAX_TABLES];
    unsigned table_count;
    bool echo;   /* ATE1 (default) / ATE0: commands set it */
    bool syslog; /* AT+SYSLOG=1: "ERR CODE:" lines before ERROR; commands set it */
    atota_at_state_t state;
    uint32_t err_code; /* for the next ERROR; 0 = the engine's default for the case */
    char line[ATOTA_AT_MAX_LINE + 1];
    size_t line_len;
    bool overflow; /* the current line is longer than the limit */
    bool last_cr;
    char strbuf[ATOTA_AT_MAX_LINE + ATOTA_AT_MAX_PARAMS]; /* unescaped strings of params */
    atota_at_params_t params;
    /* data mode */
    size_t data_left;
    atota_at_data_handler_t data_fn;
    void *data_ctx;
    bool data_failed;
    /* the command running (for AT+CMD?-style introspection and busy) */
    const atota_at_cmd_t *current;
    bool in_callback; /* a handler is running: atota_at_feed and atota_at_complete are ignored */
};

/* Starts an engine with echo on and syslog off. */
void atota_at_init(atota_at_t *at, atota_at_write_fn write, void *write_ctx);

/* Adds a command table (kept by pointer: it must outlive the engine). Names are matched
 * case-sensitively as ESP-AT does. ATOTA_ERR_TOO_BIG past ATOTA_AT_MAX_TABLES. */
atota_err_t atota_at_add_table(atota_at_t *at, const atota_at_cmd_t *cmds, unsigned count,
                               void *ctx);

/* Feeds bytes received on the UART. Handlers run from inside this call; a feed from inside a
 * handler is ignored (not re-entrant), and so is one from the write callback. */
void atota_at_feed(atota_at_t *at, const void *data, size_t len);

/* Writes bytes to the UART (for handlers: "+GMR:..." lines and the like). */
void atota_at_write(atota_at_t *at, const void *data, size_t len);
/* At most 512 bytes of output a call: longer output is cut. */
void atota_at_printf(atota_at_t *at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* From a handler, before it returns ATOTA_AT_PROMPT: the next n raw bytes go to fn. n may be 0
 * (the data handler is then called once with len 0 and last true). */
void atota_at_expect_data(atota_at_t *at, size_t n, atota_at_data_handler_t fn, void *ctx);

/* The ESP-AT error code for the next ERROR the engine writes (ATOTA_AT_ERR_CODE(sub) | detail).
 * A handler that returns ATOTA_AT_ERROR without setting one gets
 * ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_EXEC_FAIL). */
void atota_at_set_error(atota_at_t *at, uint32_t code);

/* Ends a command that returned ATOTA_AT_PENDING (or a data handler that did) with rc
 * (OK, ERROR or SILENT). Ignored when nothing is pending, including from inside the handler
 * before it returns. */
void atota_at_complete(atota_at_t *at, atota_at_rc_t rc);

/* Whether a command is running or raw data is awaited. */
bool atota_at_busy(const atota_at_t *at);

/* Every registered command in registration order (for AT+CMD?): the i-th, or NULL past the end. */
const atota_at_cmd_t *atota_at_cmd_at(const atota_at_t *at, unsigned i);

/* Parameter helpers for handlers. Each one checks the index and the kind, sets the matching
 * ESP-AT error code (PARA_NUM, PARA_TYPE, PARA_INVALID, PARA_LENGTH) and returns false when the
 * parameter is not acceptable, so a handler can write: if (!atota_at_int(at, p, 0, 0, 3, &mode))
 * return ATOTA_AT_ERROR; */
bool atota_at_int(atota_at_t *at, const atota_at_params_t *p, unsigned i, int64_t min, int64_t max,
                  int64_t *out);
/* As atota_at_int, but an omitted or missing parameter gives def. */
bool atota_at_int_opt(atota_at_t *at, const atota_at_params_t *p, unsigned i, int64_t min,
                      int64_t max, int64_t def, int64_t *out);
/* A string of at most max_len bytes; *out points into the engine. */
bool atota_at_str(atota_at_t *at, const atota_at_params_t *p, unsigned i, size_t max_len,
                  const char **out, size_t *len);
/* As atota_at_str, but omitted or missing gives *out = NULL, *len = 0 and true. */
bool atota_at_str_opt(atota_at_t *at, const atota_at_params_t *p, unsigned i, size_t max_len,
                      const char **out, size_t *len);
/* Between min and max parameters (else PARA_NUM and false). */
bool atota_at_count(atota_at_t *at, const atota_at_params_t *p, unsigned min, unsigned max);

#endif /* ATOTA_CORE_AT_AT_H */
