/*
 * Partition table CSV, read and written as gen_esp32part.py does (esp-idf-formats.md §4.4):
 * PartitionTable.from_csv() / PartitionDefinition.from_csv() with parse_int(), then verify(); and
 * to_csv(), the text of its binary -> CSV dump. Everything works line by line in fixed buffers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/fmt/partition.h"

#define LINE_MAX_LEN     1024 /* one CSV line after $VAR expansion */
#define VAR_NAME_MAX     128
#define TABLE_SECTOR     0x1000u     /* PARTITION_TABLE_SIZE */
#define FIELDS           6           /* Name, Type, SubType, Offset, Size, Flags */
#define NUMBER_LIMIT     (1LL << 52) /* Python ints are unbounded; ours stop well past 32 bits */
#define SUBTYPE_PRIMARY  0x00
#define SUBTYPE_RECOVERY 0x02

typedef struct {
    const char *p;
    size_t n;
} span_t;

/* Python's str.strip() whitespace, for ASCII */
static bool is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
}

static span_t strip(span_t s)
{
    while (s.n && is_space(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && is_space(s.p[s.n - 1]))
        s.n--;
    return s;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool span_eq(span_t s, const char *word)
{
    return strlen(word) == s.n && memcmp(s.p, word, s.n) == 0;
}

static bool span_eq_nocase(span_t s, const char *word)
{
    if (strlen(word) != s.n)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if (lower(s.p[i]) != word[i])
            return false;
    return true;
}

static bool is_word_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* ---- numbers: parse_int() ------------------------------------------------------------------ */

enum { INT_OK, INT_INVALID, INT_RANGE };

/* Python's int(v, 0): optional sign, 0x/0o/0b prefixes, '_' between digits, and no leading
 * zeros in decimal ("010" is an error, "00" is 0). */
static int python_int(span_t s, long long *out)
{
    s = strip(s);
    bool negative = false;
    if (s.n && (s.p[0] == '+' || s.p[0] == '-')) {
        negative = s.p[0] == '-';
        s.p++;
        s.n--;
    }
    unsigned base = 10;
    if (s.n >= 2 && s.p[0] == '0' &&
        (lower(s.p[1]) == 'x' || lower(s.p[1]) == 'o' || lower(s.p[1]) == 'b')) {
        base = lower(s.p[1]) == 'x' ? 16 : lower(s.p[1]) == 'o' ? 8 : 2;
        s.p += 2;
        s.n -= 2;
        if (s.n && s.p[0] == '_') /* "0x_ff" is valid */
            s.p++, s.n--;
    }
    if (s.n == 0)
        return INT_INVALID;
    bool leading_zero = base == 10 && s.p[0] == '0';
    unsigned long long v = 0;
    bool range = false;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '_') {
            if (i == 0 || i == s.n - 1 || s.p[i - 1] == '_')
                return INT_INVALID;
            continue;
        }
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (lower(c) >= 'a' && lower(c) <= 'f')
            d = (unsigned)(lower(c) - 'a' + 10);
        else
            return INT_INVALID;
        if (d >= base || (leading_zero && d != 0))
            return INT_INVALID;
        if (v > (unsigned long long)NUMBER_LIMIT)
            range = true;
        else
            v = v * base + d;
    }
    if (range || v > (unsigned long long)NUMBER_LIMIT)
        return INT_RANGE;
    *out = negative ? -(long long)v : (long long)v;
    return INT_OK;
}

typedef struct {
    unsigned line;
    const char *field; /* for the messages */
    const atota_partition_keyword_t *keywords;
    size_t keyword_count;
    atota_diag_t *diag;
} int_ctx_t;

/* Appends to a bounded string, snprintf-style: len counts what would have been written. */
typedef struct {
    char *out;
    size_t cap;
    size_t len;
} text_t;

static void put(text_t *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void put(text_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->len < t->cap ? t->out + t->len : NULL,
                      t->len < t->cap ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
}

/* gen_esp32part parse_int(v, keywords): a K/M suffix multiplies what is before it (recursively,
 * so "1kk" is 1M), then int(v, 0), then a case-insensitive keyword. */
static atota_err_t parse_int(span_t v, const int_ctx_t *c, long long *out)
{
    if (v.n && (lower(v.p[v.n - 1]) == 'k' || lower(v.p[v.n - 1]) == 'm')) {
        long long mult = lower(v.p[v.n - 1]) == 'k' ? 1024 : 1024 * 1024;
        long long inner;
        atota_err_t err = parse_int((span_t){v.p, v.n - 1}, c, &inner);
        if (err)
            return err;
        if (inner > NUMBER_LIMIT / mult || inner < -NUMBER_LIMIT / mult)
            return atota_diag_set(c->diag, ATOTA_ERR_PT_SYNTAX,
                                  "line %u: %s value '%.*s' is too large", c->line, c->field,
                                  (int)v.n, v.p);
        *out = inner * mult;
        return ATOTA_OK;
    }
    int r = python_int(v, out);
    if (r == INT_OK)
        return ATOTA_OK;
    if (r == INT_RANGE)
        return atota_diag_set(c->diag, ATOTA_ERR_PT_SYNTAX, "line %u: %s value '%.*s' is too large",
                              c->line, c->field, (int)v.n, v.p);
    if (c->keyword_count == 0)
        return atota_diag_set(c->diag, ATOTA_ERR_PT_SYNTAX,
                              "line %u: Invalid field value '%.*s' for %s (not a number)", c->line,
                              (int)v.n, v.p, c->field);
    for (size_t i = 0; i < c->keyword_count; i++)
        if (span_eq_nocase(v, c->keywords[i].name)) {
            *out = c->keywords[i].value;
            return ATOTA_OK;
        }
    if (c->diag) {
        text_t t = {c->diag->msg, sizeof c->diag->msg, 0};
        put(&t, "line %u: %s value '%.*s' is not valid. Known keywords: ", c->line, c->field,
            (int)v.n, v.p);
        for (size_t i = 0; i < c->keyword_count; i++)
            put(&t, "%s%s", i ? ", " : "", c->keywords[i].name);
    }
    return ATOTA_ERR_PT_SYNTAX;
}

/* ---- lines ---------------------------------------------------------------------------------- */

/* Python str.splitlines() separators (ASCII): \n, \r, \r\n, \v, \f, \x1c-\x1e. */
static bool is_line_break(char c)
{
    return c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1C && c <= 0x1E);
}

static const char *lookup_var(const atota_partition_opts_t *opts, const char *name)
{
    return opts && opts->getenv ? opts->getenv(opts->getenv_ctx, name) : NULL;
}

/* os.path.expandvars(): $NAME and ${NAME} from the environment. gen_esp32part refuses an unknown
 * variable (at the start of a line); here any unknown variable on a line that is not a comment
 * is an error, since what it leaves behind would only fail later, less clearly. */
static atota_err_t expand_vars(span_t raw, const atota_partition_opts_t *opts, unsigned line,
                               char *out, size_t *out_len, char unknown[VAR_NAME_MAX],
                               atota_diag_t *diag)
{
    size_t n = 0;
    unknown[0] = '\0';
    for (size_t i = 0; i < raw.n;) {
        const char *value = NULL;
        size_t consumed = 1;
        char name[VAR_NAME_MAX];
        size_t name_len = 0;
        bool is_var = false;
        if (raw.p[i] == '$' && i + 1 < raw.n) {
            size_t start = i + 1, end = start;
            if (raw.p[start] == '{') {
                const char *close = memchr(raw.p + start, '}', raw.n - start);
                if (close) {
                    is_var = true;
                    start++;
                    end = (size_t)(close - raw.p);
                    consumed = end + 1 - i;
                }
            } else {
                while (end < raw.n && is_word_char(raw.p[end]))
                    end++;
                is_var = end > start;
                consumed = end - i;
            }
            if (is_var) {
                name_len = end - start;
                if (name_len >= VAR_NAME_MAX)
                    return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX,
                                          "line %u: variable name longer than %d bytes", line,
                                          VAR_NAME_MAX - 1);
                memcpy(name, raw.p + start, name_len);
                name[name_len] = '\0';
                value = lookup_var(opts, name);
                /* "$1" or "${a b}" cannot be set in a shell: left as text, as gen_esp32part's
                 * unknown-variable pattern [A-Za-z_][A-Za-z0-9_]* does */
                if (!value && !unknown[0] && name_len && !(name[0] >= '0' && name[0] <= '9')) {
                    bool identifier = true;
                    for (size_t k = 0; k < name_len; k++)
                        identifier = identifier && is_word_char(name[k]);
                    if (identifier)
                        memcpy(unknown, name, name_len + 1);
                }
            }
        }
        const char *src = value ? value : raw.p + i;
        size_t len = value ? strlen(value) : (is_var ? consumed : 1);
        if (n + len > LINE_MAX_LEN)
            return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX,
                                  "line %u: longer than %d bytes (after $VAR expansion)", line,
                                  LINE_MAX_LEN);
        memcpy(out + n, src, len);
        n += len;
        i += is_var ? consumed : 1;
    }
    *out_len = n;
    return ATOTA_OK;
}

/* ---- one partition: PartitionDefinition.from_csv() ------------------------------------------ */

typedef struct {
    long long offset, size;
    bool has_offset;
} pending_t;

static atota_err_t parse_flags(span_t s, unsigned line, uint32_t *flags, atota_diag_t *diag)
{
    /* colon-separated, matched exactly (no stripping, case-sensitive) as FLAGS lookups are */
    *flags = 0;
    for (size_t i = 0; i <= s.n;) {
        const char *colon = i < s.n ? memchr(s.p + i, ':', s.n - i) : NULL;
        size_t end = colon ? (size_t)(colon - s.p) : s.n;
        span_t f = {s.p + i, end - i};
        if (span_eq(f, "encrypted"))
            *flags |= ATOTA_PT_FLAG_ENCRYPTED;
        else if (span_eq(f, "readonly"))
            *flags |= ATOTA_PT_FLAG_READONLY;
        else if (f.n)
            return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX,
                                  "line %u: CSV flag column contains unknown flag '%.*s' (known: "
                                  "encrypted, readonly)",
                                  line, (int)f.n, f.p);
        i = end + 1;
    }
    return ATOTA_OK;
}

static atota_err_t parse_entry(span_t line_text, unsigned line, const atota_partition_opts_t *opts,
                               uint32_t table_offset, atota_partition_t *p, pending_t *pend,
                               atota_diag_t *diag)
{
    /* line + ',,,,' split on ',': missing trailing fields are empty; extra fields are ignored */
    span_t f[FIELDS];
    size_t pos = 0;
    for (unsigned i = 0; i < FIELDS; i++) {
        if (pos > line_text.n) {
            f[i] = (span_t){line_text.p + line_text.n, 0};
            continue;
        }
        const char *comma = memchr(line_text.p + pos, ',', line_text.n - pos);
        size_t end = comma ? (size_t)(comma - line_text.p) : line_text.n;
        f[i] = strip((span_t){line_text.p + pos, end - pos});
        pos = end + 1;
    }
    memset(p, 0, sizeof *p);
    memset(pend, 0, sizeof *pend);

    /* §4.1: the label holds 16 bytes; struct.pack('16s') silently cuts a longer name */
    size_t name_len = f[0].n < ATOTA_PT_NAME_LEN ? f[0].n : ATOTA_PT_NAME_LEN;
    memcpy(p->name, f[0].p, name_len);
    if (f[0].n > ATOTA_PT_NAME_LEN && opts && opts->warn) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "WARNING: line %u: partition name '%.*s' is longer than %d bytes; the binary "
                 "table keeps '%s'",
                 line, (int)(f[0].n > 64 ? 64 : f[0].n), f[0].p, ATOTA_PT_NAME_LEN, p->name);
        opts->warn(opts->warn_ctx, msg);
    }

    long long v;
    atota_err_t err;
    size_t n;
    if (f[1].n == 0)
        return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX,
                              "line %u: Field 'type' can't be left empty.", line);
    int_ctx_t c = {line, "Type", atota_partition_type_keywords(&n), 0, diag};
    c.keyword_count = n;
    if ((err = parse_int(f[1], &c, &v)))
        return err;
    if (v < 0 || v > 0xFF)
        return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX, "line %u: type %lld is not in 0-255", line,
                              v);
    p->type = (uint8_t)v;

    if (f[2].n == 0) {
        if (p->type == ATOTA_PT_TYPE_APP)
            return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX,
                                  "line %u: App partition cannot have an empty subtype", line);
        v = ATOTA_PT_SUBTYPE_DATA_UNDEFINED;
    } else {
        c.field = "SubType";
        c.keywords = atota_partition_subtype_keywords(p->type, &c.keyword_count);
        if ((err = parse_int(f[2], &c, &v)))
            return err;
        if (v < 0 || v > 0xFF)
            return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX,
                                  "line %u: subtype %lld is not in 0-255", line, v);
    }
    p->subtype = (uint8_t)v;

    /* parse_address()/parse_size(): bootloader and partition-table entries get their place
     * from the command line; their Offset and Size fields are not read (usually "N/A"). */
    c.keywords = NULL;
    c.keyword_count = 0;
    bool fixed_size = false;
    if (p->type == ATOTA_PT_TYPE_BOOTLOADER && p->subtype == SUBTYPE_PRIMARY) {
        if (!opts || !opts->has_primary_bootloader_offset)
            return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX,
                                  "line %u: Primary bootloader offset is not provided", line);
        pend->offset = opts->primary_bootloader_offset;
        pend->has_offset = true;
    } else if (p->type == ATOTA_PT_TYPE_BOOTLOADER && p->subtype == SUBTYPE_RECOVERY) {
        if (!opts || !opts->has_recovery_bootloader_offset)
            return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX,
                                  "line %u: Recovery bootloader offset is not provided", line);
        pend->offset = opts->recovery_bootloader_offset;
        pend->has_offset = true;
    } else if (p->type == ATOTA_PT_TYPE_PARTITION_TABLE && p->subtype == SUBTYPE_PRIMARY) {
        pend->offset = table_offset;
        pend->has_offset = true;
    } else if (f[3].n) {
        c.field = "Offset";
        if ((err = parse_int(f[3], &c, &pend->offset)))
            return err;
        pend->has_offset = true;
    }

    if (p->type == ATOTA_PT_TYPE_BOOTLOADER) {
        if (!opts || !opts->has_primary_bootloader_offset)
            return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX,
                                  "line %u: Primary bootloader offset is not provided", line);
        pend->size = (long long)table_offset - opts->primary_bootloader_offset;
        fixed_size = true;
    } else if (p->type == ATOTA_PT_TYPE_PARTITION_TABLE) {
        pend->size = TABLE_SECTOR;
        fixed_size = true;
    }
    if (!fixed_size) {
        if (f[4].n == 0)
            return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX, "line %u: Size field can't be empty",
                                  line);
        c.field = "Size";
        if ((err = parse_int(f[4], &c, &pend->size)))
            return err;
    }
    return parse_flags(f[5], line, &p->flags, diag);
}

static bool is_primary_boot_region(const atota_partition_t *p)
{
    return (p->type == ATOTA_PT_TYPE_BOOTLOADER && p->subtype == SUBTYPE_PRIMARY) ||
           (p->type == ATOTA_PT_TYPE_PARTITION_TABLE && p->subtype == SUBTYPE_PRIMARY);
}

/* from_csv(): "fix up missing offsets & negative sizes", in CSV order. */
static atota_err_t place_partitions(atota_partition_table_t *table, pending_t *pend,
                                    const unsigned *lines, uint32_t table_offset,
                                    atota_diag_t *diag)
{
    long long last_end = (long long)table_offset + TABLE_SECTOR;
    for (unsigned i = 0; i < table->count; i++) {
        atota_partition_t *p = &table->entries[i];
        pending_t *e = &pend[i];
        if (!is_primary_boot_region(p)) {
            if (e->has_offset && e->offset < last_end) {
                if (i == 0)
                    return atota_diag_set(
                        diag, ATOTA_ERR_PT_OVERLAP,
                        "line %u: partition '%s' at offset 0x%llx overlaps the partition table "
                        "at 0x%x, which takes the whole sector; use a free offset 0x%llx or higher",
                        lines[i], p->name, e->offset, table_offset, last_end);
                return atota_diag_set(diag, ATOTA_ERR_PT_OVERLAP,
                                      "line %u: partition '%s' at offset 0x%llx overlaps the "
                                      "previous partition, which ends at 0x%llx",
                                      lines[i], p->name, e->offset, last_end);
            }
            if (!e->has_offset) {
                /* §4.4: an empty offset follows the previous partition, aligned for the type */
                long long align = p->type == ATOTA_PT_TYPE_APP ? 0x10000 : 0x1000;
                if (last_end % align)
                    last_end += align - last_end % align;
                e->offset = last_end;
            }
            if (e->size < 0) /* §4.4: "-X" means "ends at X" */
                e->size = -e->size - e->offset;
            last_end = e->offset + e->size;
        }
        if (e->offset < 0 || e->offset > 0xFFFFFFFFLL)
            return atota_diag_set(diag, ATOTA_ERR_PT_INVALID,
                                  "line %u: partition '%s': offset %lld does not fit in 32 bits",
                                  lines[i], p->name, e->offset);
        if (e->size < 0)
            return atota_diag_set(diag, ATOTA_ERR_PT_INVALID,
                                  "line %u: partition '%s': the size ends before the offset "
                                  "0x%llx (size %lld)",
                                  lines[i], p->name, e->offset, e->size);
        if (e->size > 0xFFFFFFFFLL)
            return atota_diag_set(diag, ATOTA_ERR_PT_INVALID,
                                  "line %u: partition '%s': size 0x%llx does not fit in 32 bits",
                                  lines[i], p->name, e->size);
        p->offset = (uint32_t)e->offset;
        p->size = (uint32_t)e->size;
    }
    return ATOTA_OK;
}

atota_err_t atota_partition_table_parse_csv(const char *text, size_t len,
                                            const atota_partition_opts_t *opts,
                                            atota_partition_table_t *table, atota_diag_t *diag)
{
    if (!table || (!text && len))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no table or text");
    memset(table, 0, sizeof *table);
    uint32_t table_offset =
        opts && opts->table_offset ? opts->table_offset : ATOTA_PT_OFFSET_DEFAULT;
    pending_t pend[ATOTA_PT_MAX_ENTRIES];
    unsigned lines[ATOTA_PT_MAX_ENTRIES];
    char buf[LINE_MAX_LEN];
    char unknown[VAR_NAME_MAX];

    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) /* utf-8-sig, as get_encoding() */
        i = 3;
    for (unsigned line = 1; i < len; line++) {
        size_t start = i;
        while (i < len && !is_line_break(text[i]))
            i++;
        span_t raw = {text + start, i - start};
        if (i < len)
            i += (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') ? 2 : 1;
        if (memchr(raw.p, '\0', raw.n))
            return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX, "line %u: NUL byte in the CSV", line);
        size_t n = 0;
        atota_err_t err = expand_vars(raw, opts, line, buf, &n, unknown, diag);
        if (err)
            return err;
        span_t s = strip((span_t){buf, n});
        if (s.n == 0 || s.p[0] == '#')
            continue;
        if (unknown[0])
            return atota_diag_set(diag, ATOTA_ERR_PT_SYNTAX, "line %u: unknown variable '%s'", line,
                                  unknown);
        if (table->count >= ATOTA_PT_MAX_ENTRIES)
            return atota_diag_set(diag, ATOTA_ERR_PT_TOO_MANY,
                                  "line %u: more than %u partitions; a table holds at most %u",
                                  line, (unsigned)ATOTA_PT_MAX_ENTRIES,
                                  (unsigned)ATOTA_PT_MAX_ENTRIES);
        lines[table->count] = line;
        err = parse_entry(s, line, opts, table_offset, &table->entries[table->count],
                          &pend[table->count], diag);
        if (err)
            return err;
        table->count++;
    }
    atota_err_t err = place_partitions(table, pend, lines, table_offset, diag);
    if (err)
        return err;
    table->has_md5 = !(opts && opts->disable_md5sum);
    return atota_partition_table_verify_lines(table, opts, lines, diag);
}

/* ---- to_csv() ------------------------------------------------------------------------------- */

size_t atota_partition_table_write_csv(const atota_partition_table_t *table, char *out, size_t cap)
{
    text_t t = {out, cap, 0};
    put(&t, "# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n");
    for (unsigned i = 0; table && i < table->count && i < ATOTA_PT_MAX_ENTRIES; i++) {
        const atota_partition_t *p = &table->entries[i];
        const char *type = atota_partition_type_name(p->type);
        const char *subtype = atota_partition_subtype_name(p->type, p->subtype);
        put(&t, "%s,", p->name);
        if (type)
            put(&t, "%s,", type);
        else
            put(&t, "%u,", p->type);
        if (subtype)
            put(&t, "%s,", subtype);
        else
            put(&t, "%u,", p->subtype);
        /* addr_format(): the offset in hex, the size in M or K when it divides, else hex */
        put(&t, "0x%x,", p->offset);
        if (p->size % 0x100000u == 0)
            put(&t, "%uM,", p->size / 0x100000u);
        else if (p->size % 0x400u == 0)
            put(&t, "%uK,", p->size / 0x400u);
        else
            put(&t, "0x%x,", p->size);
        bool encrypted = p->flags & ATOTA_PT_FLAG_ENCRYPTED;
        bool readonly = p->flags & ATOTA_PT_FLAG_READONLY;
        put(&t, "%s%s%s\n", encrypted ? "encrypted" : "", encrypted && readonly ? ":" : "",
            readonly ? "readonly" : "");
    }
    if (cap)
        out[t.len < cap ? t.len : cap - 1] = '\0';
    return t.len;
}
