/*
 * `atota part gen` and `atota part dump`: gen_esp32part.py's CSV -> binary and binary -> CSV
 * (esp-idf-formats.md §4), with its options, its checks and its warnings on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/atota/cli.h"
#include "core/fmt/partition.h"

#define GEN_USAGE                                                                                  \
    "atota part gen CSV -o BIN [--offset 0x8000] [--flash-size 4MB] [--disable-md5sum] "           \
    "[--secure [v1|v2]] [--primary-bootloader-offset N] [--recovery-bootloader-offset N]"
#define DUMP_USAGE   "atota part dump BIN [-o CSV] [--offset 0x8000] [--flash-size 4MB]"
#define PART_USAGE   GEN_USAGE "\n       " DUMP_USAGE
#define MAX_CSV_LEN  (1u << 20)
#define MAX_DUMP_LEN (64u << 20) /* a table may be read out of a whole flash image */

static void print_warning(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "%s\n", msg);
}

static const char *env_lookup(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

/* gen_esp32part --flash-size choices; a plain number of bytes is accepted too. */
static int parse_flash_size(const char *text, uint32_t *out)
{
    static const char *const sizes[] = {"1MB",  "2MB",  "4MB",  "8MB",
                                        "16MB", "32MB", "64MB", "128MB"};
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (!strcmp(text, sizes[i])) {
            *out = (uint32_t)1 << (20 + i);
            return 0;
        }
    return cli_parse_u32(text, out);
}

typedef struct {
    const char *input;
    const char *output;
    atota_partition_opts_t opts;
} part_args_t;

/* Parses the options shared by gen and dump; gen-only options are refused for dump. */
static int parse_args(int argc, char **argv, bool gen, part_args_t *a)
{
    const char *usage = gen ? GEN_USAGE : DUMP_USAGE;
    memset(a, 0, sizeof *a);
    a->opts.warn = print_warning;
    a->opts.getenv = env_lookup;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint32_t *num = NULL;
        bool *flag = NULL;
        if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) {
            if (!val)
                return cli_usage_error(usage, "%s needs a file name", arg);
            a->output = val;
            i++;
            continue;
        }
        if (!strcmp(arg, "--offset"))
            num = &a->opts.table_offset;
        else if (!strcmp(arg, "--flash-size")) {
            if (!val || parse_flash_size(val, &a->opts.flash_size) || !a->opts.flash_size)
                return cli_usage_error(usage, "--flash-size wants one of 1MB 2MB 4MB 8MB 16MB "
                                              "32MB 64MB 128MB");
            i++;
            continue;
        } else if (gen && !strcmp(arg, "--disable-md5sum")) {
            a->opts.disable_md5sum = true;
            continue;
        } else if (gen && !strcmp(arg, "--secure")) {
            /* nargs='?', const='v1': a bare --secure means v1; v2 needs no extra alignment */
            if (val && (!strcmp(val, "v1") || !strcmp(val, "v2"))) {
                a->opts.secure_v1 = !strcmp(val, "v1");
                i++;
            } else {
                a->opts.secure_v1 = true;
            }
            continue;
        } else if (gen && !strcmp(arg, "--primary-bootloader-offset")) {
            num = &a->opts.primary_bootloader_offset;
            flag = &a->opts.has_primary_bootloader_offset;
        } else if (gen && !strcmp(arg, "--recovery-bootloader-offset")) {
            num = &a->opts.recovery_bootloader_offset;
            flag = &a->opts.has_recovery_bootloader_offset;
        } else if (arg[0] == '-' && arg[1]) {
            return cli_usage_error(usage, "unknown option '%s'", arg);
        } else if (!a->input) {
            a->input = arg;
            continue;
        } else {
            return cli_usage_error(usage, "unexpected argument '%s'", arg);
        }
        if (!val || cli_parse_u32(val, num))
            return cli_usage_error(usage, "%s wants a number (decimal, 0x.., K/M suffix)", arg);
        if (flag)
            *flag = true;
        i++;
    }
    if (!a->input)
        return cli_usage_error(usage, "no input file");
    if (gen && !a->output)
        return cli_usage_error(usage, "no output file (-o BIN)");
    return CLI_EXIT_OK;
}

/* Parses the command line and reads the input file; the caller frees *data. */
static int open_input(int argc, char **argv, bool gen, part_args_t *a, uint8_t **data, size_t *len)
{
    int rc = parse_args(argc, argv, gen, a);
    if (rc)
        return rc;
    atota_diag_t diag;
    atota_diag_clear(&diag);
    atota_err_t err = cli_read_file(a->input, gen ? MAX_CSV_LEN : MAX_DUMP_LEN, data, len, &diag);
    if (err)
        return cli_error(a->input, "%s", atota_diag_text(&diag, err));
    return CLI_EXIT_OK;
}

static int cmd_gen(int argc, char **argv)
{
    part_args_t a;
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = open_input(argc, argv, true, &a, &text, &len);
    if (rc)
        return rc;
    atota_diag_t diag;
    atota_diag_clear(&diag);
    atota_err_t err;
    if (len >= 2 && text[0] == 0xAA && text[1] == 0x50) {
        free(text);
        return cli_error(a.input, "this is a binary partition table; use 'atota part dump'");
    }
    atota_partition_table_t table;
    uint8_t bin[ATOTA_PT_BIN_SIZE];
    err = atota_partition_table_parse_csv((const char *)text, len, &a.opts, &table, &diag);
    free(text);
    if (!err)
        err = atota_partition_table_write_bin(&table, bin, &diag);
    if (err)
        return cli_error(a.input, "%s", atota_diag_text(&diag, err));
    if ((err = cli_write_file(a.output, bin, sizeof bin, &diag)))
        return cli_error(a.output, "%s", atota_diag_text(&diag, err));
    return CLI_EXIT_OK;
}

static int cmd_dump(int argc, char **argv)
{
    part_args_t a;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = open_input(argc, argv, false, &a, &data, &len);
    if (rc)
        return rc;
    atota_diag_t diag;
    atota_diag_clear(&diag);
    atota_err_t err;
    atota_partition_table_t table;
    err = atota_partition_table_parse_bin(data, len, &table, &diag);
    free(data);
    /* gen_esp32part verifies a binary input too ("Verifying table...") */
    if (!err)
        err = atota_partition_table_verify(&table, &a.opts, &diag);
    if (err)
        return cli_error(a.input, "%s", atota_diag_text(&diag, err));
    size_t need = atota_partition_table_write_csv(&table, NULL, 0);
    char *csv = malloc(need + 1);
    if (!csv)
        return cli_error(NULL, "out of memory");
    atota_partition_table_write_csv(&table, csv, need + 1);
    if (a.output) {
        err = cli_write_file(a.output, csv, need, &diag);
        free(csv);
        if (err)
            return cli_error(a.output, "%s", atota_diag_text(&diag, err));
        return CLI_EXIT_OK;
    }
    bool ok = fwrite(csv, 1, need, stdout) == need && fflush(stdout) == 0;
    free(csv);
    return ok ? CLI_EXIT_OK : cli_error("stdout", "write error");
}

int cli_cmd_part(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(PART_USAGE, "'part' needs a subcommand: gen or dump");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        printf("usage: %s\n", PART_USAGE);
        return CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "gen"))
        return cmd_gen(argc - 1, argv + 1);
    if (!strcmp(argv[1], "dump"))
        return cmd_dump(argc - 1, argv + 1);
    return cli_usage_error(PART_USAGE, "unknown 'part' subcommand '%s'", argv[1]);
}
