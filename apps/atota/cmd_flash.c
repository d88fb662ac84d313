/* `atota flash`: build a module's complete flash image, and show what is in one. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apps/atota/cli.h"
#include "core/fmt/image.h"
#include "core/fmt/otadata.h"
#include "core/fmt/partition.h"
#include "core/fmt/profile.h"
#include "core/ota/boot.h"
#include "core/ota/flash_layout.h"
#include "port/posix/flash_sim.h"

static const char create_usage[] =
    "atota flash create --module M --app IMAGE -o FLASH [--ota1 IMAGE] [--bootloader FILE]\n"
    "                          [--at-customize CSV|BIN]";
static const char info_usage[] =
    "atota flash info FLASH [--pt-offset N] [--chip TARGET] [--no-rollback]";

/* ---- flash create ---------------------------------------------------------------------------*/

struct create_args {
    const char *module, *app, *ota1, *bootloader, *out;
    const char *at_customize; /* a CSV or binary table replacing the profile's at_customize.bin */
};

#define AT_CUSTOMIZE_MAX_LEN (1u << 20)

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

/* Reads --at-customize: CSV as `atota part gen` reads it, or a binary table (AA 50), checked
 * against the profile's at_customize region as the profile's own table is. */
static int read_at_customize(const char *path, const atota_profile_t *profile,
                             atota_partition_table_t *table)
{
    uint8_t *data = NULL;
    size_t len = 0;
    atota_diag_t diag = {{0}};
    atota_err_t err = cli_read_file(path, AT_CUSTOMIZE_MAX_LEN, &data, &len, &diag);
    if (err)
        return cli_error(path, "%s", atota_diag_text(&diag, err));
    atota_partition_opts_t opts = {.warn = print_warning, .getenv = env_lookup};
    err = atota_profile_parse_at_customize(profile, data, len, &opts, table, &diag);
    free(data);
    if (err)
        return cli_error(path, "%s", atota_diag_text(&diag, err));
    return CLI_EXIT_OK;
}

/* Reads the image files and lays the flash out (core/ota/flash_layout.c checks them against the
 * profile before anything is written). */
static int build_flash(const struct create_args *a, const atota_profile_t *profile,
                       atota_flash_sim_t *sim)
{
    const char *paths[3] = {a->app, a->ota1, a->bootloader};
    atota_flash_layout_t layout;
    memset(&layout, 0, sizeof layout);
    atota_flash_layout_image_t *imgs[3] = {&layout.app, &layout.ota1, &layout.bootloader};
    uint8_t *data[3] = {NULL, NULL, NULL};
    atota_diag_t diag = {{0}};
    int rc = CLI_EXIT_OK;
    atota_partition_table_t *at_customize = NULL;
    if (a->at_customize) {
        at_customize = malloc(sizeof *at_customize);
        if (!at_customize)
            return cli_error(NULL, "out of memory");
        rc = read_at_customize(a->at_customize, profile, at_customize);
        layout.at_customize = at_customize;
    }
    for (int i = 0; i < 3 && rc == CLI_EXIT_OK; i++) {
        if (!paths[i])
            continue;
        size_t len;
        atota_err_t err = cli_read_file(paths[i], 16u << 20, &data[i], &len, &diag);
        if (err)
            rc = cli_error(paths[i], "%s", atota_diag_text(&diag, err));
        else
            *imgs[i] = (atota_flash_layout_image_t){data[i], len, paths[i]};
    }
    if (rc == CLI_EXIT_OK) {
        atota_err_t err =
            atota_flash_layout_write(atota_flash_sim_flash(sim), profile, &layout, &diag);
        if (err)
            rc = cli_error(NULL, "%s", atota_diag_text(&diag, err));
    }
    for (int i = 0; i < 3; i++)
        free(data[i]);
    free(at_customize);
    return rc;
}

static int flash_create(int argc, char **argv)
{
    static const struct option options[] = {
        {"module", required_argument, 0, 'm'},
        {"app", required_argument, 0, 'a'},
        {"ota1", required_argument, 0, '1'},
        {"bootloader", required_argument, 0, 'b'},
        {"at-customize", required_argument, 0, 'c'},
        {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct create_args a = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:a:b:o:h", options, NULL)) != -1) {
        switch (c) {
        case 'm':
            a.module = optarg;
            break;
        case 'a':
            a.app = optarg;
            break;
        case '1':
            a.ota1 = optarg;
            break;
        case 'b':
            a.bootloader = optarg;
            break;
        case 'c':
            a.at_customize = optarg;
            break;
        case 'o':
            a.out = optarg;
            break;
        case 'h':
            printf("usage: %s\n", create_usage);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(create_usage, "bad option");
        }
    }
    if (!a.module || !a.app || !a.out || optind != argc)
        return cli_usage_error(create_usage, "flash create needs --module, --app and -o");

    atota_profile_t *profile = malloc(sizeof *profile);
    if (!profile)
        return cli_error(NULL, "out of memory");
    atota_diag_t diag = {{0}};
    atota_err_t err = atota_profile_load(a.module, profile, &diag);
    if (err) {
        free(profile);
        return cli_error(a.module, "%s (see `atota flash modules`)", atota_diag_text(&diag, err));
    }
    atota_flash_sim_opts_t sopts = {.size = profile->flash_size, .strict = true};
    atota_flash_sim_t *sim = NULL;
    err = atota_flash_sim_open(&sopts, &sim, &diag);
    int rc =
        err ? cli_error(NULL, "%s", atota_diag_text(&diag, err)) : build_flash(&a, profile, sim);
    if (rc == CLI_EXIT_OK) {
        err = cli_write_file(a.out, atota_flash_sim_data(sim), profile->flash_size, &diag);
        if (err)
            rc = cli_error(a.out, "%s", atota_diag_text(&diag, err));
        else
            printf("%s: %s flash image for %s (%s, %u MB)%s%s\n", a.out, profile->name,
                   profile->module_name, profile->chip->name, profile->flash_size >> 20,
                   a.at_customize ? ", at_customize.bin from " : "",
                   a.at_customize ? a.at_customize : "");
    }
    atota_flash_sim_close(sim);
    free(profile);
    return rc;
}

/* ---- flash info -----------------------------------------------------------------------------*/

struct flash_view {
    const char *path;
    const atota_flash_t *flash;
    uint32_t file_size;
    uint32_t pt_offset;
    atota_partition_table_t table;
    const atota_chip_t *chip;
};

/* Finds the primary partition table: at --pt-offset, else 0x8000, else the first 4 KB-aligned
 * offset below 1 MB that holds a valid table (Secure Boot v1 builds move it, e.g. to 0x10000). */
static atota_err_t find_table(struct flash_view *v, bool fixed, atota_diag_t *diag)
{
    uint8_t buf[ATOTA_PT_BIN_SIZE];
    uint32_t candidates[1 + 256];
    unsigned n = 0;
    candidates[n++] = v->pt_offset;
    if (!fixed)
        for (uint32_t off = 0; off < 0x100000 && n < 257; off += ATOTA_FLASH_SECTOR_SIZE)
            if (off != v->pt_offset)
                candidates[n++] = off;
    atota_err_t first_err = ATOTA_ERR_NOT_FOUND;
    atota_diag_t first = {{0}};
    for (unsigned i = 0; i < n; i++) {
        uint32_t off = candidates[i];
        if ((uint64_t)off + sizeof buf > v->flash->size || off >= v->file_size)
            continue;
        if (atota_flash_read(v->flash, off, buf, sizeof buf))
            continue;
        atota_diag_t d = {{0}};
        atota_err_t err = atota_partition_table_parse_bin(buf, sizeof buf, &v->table, &d);
        if (!err && v->table.count > 0) {
            v->pt_offset = off;
            return ATOTA_OK;
        }
        if (i == 0) {
            first_err = err ? err : ATOTA_ERR_PT_INVALID;
            first = d;
        }
    }
    if (first_err == ATOTA_ERR_NOT_FOUND || first_err == ATOTA_ERR_PT_MAGIC)
        return atota_diag_set(diag, ATOTA_ERR_NOT_FOUND, "no partition table found (tried 0x%x%s)",
                              candidates[0], fixed ? "" : " and every 4 KB below 1 MB");
    return atota_diag_set(diag, first_err, "partition table at 0x%x: %s", candidates[0],
                          atota_diag_text(&first, first_err));
}

static void show_bootloader(struct flash_view *v)
{
    static const uint32_t offsets[] = {0x1000, 0x0, 0x2000};
    for (unsigned i = 0; i < 3; i++) {
        uint32_t off = offsets[i];
        uint8_t magic = 0;
        if (off >= v->file_size || atota_flash_read(v->flash, off, &magic, 1) ||
            magic != ATOTA_IMAGE_MAGIC)
            continue;
        atota_image_opts_t opts = {.bootloader = true};
        atota_image_info_t info;
        atota_diag_t d = {{0}};
        atota_err_t err =
            atota_image_verify_flash(v->flash, off, v->pt_offset - off, &opts, &info, &d);
        const atota_chip_t *chip = atota_chip_by_id(info.header.chip_id);
        if (!v->chip && chip)
            v->chip = chip;
        printf("Bootloader at 0x%x: %s, %u segments, ", off, chip ? chip->name : "unknown chip",
               info.header.segment_count);
        if (info.has_bootloader_desc)
            printf("ESP-IDF %s, ", info.bootloader_desc.idf_ver);
        printf("%s\n", err ? atota_diag_text(&d, err) : "valid");
        return;
    }
    printf("Bootloader: none (the area is erased; atota-sim boots with its built-in bootloader)\n");
}

static const char *type_text(uint8_t type, char *buf, size_t cap)
{
    const char *name = atota_partition_type_name(type);
    if (name)
        return name;
    snprintf(buf, cap, "0x%02x", type);
    return buf;
}

static const char *subtype_text(uint8_t type, uint8_t subtype, char *buf, size_t cap)
{
    const char *name = atota_partition_subtype_name(type, subtype);
    if (name)
        return name;
    snprintf(buf, cap, "0x%02x", subtype);
    return buf;
}

/* One line about what an app partition holds. */
static void describe_app(struct flash_view *v, const atota_partition_t *p, char *out, size_t cap)
{
    if (p->offset >= v->file_size) {
        snprintf(out, cap, "not contained in the file");
        return;
    }
    uint8_t magic;
    if (atota_flash_read(v->flash, p->offset, &magic, 1) || magic == 0xFF) {
        snprintf(out, cap, "empty");
        return;
    }
    atota_image_opts_t opts = {.check_chip = v->chip != NULL, .chip_id = v->chip ? v->chip->id : 0};
    atota_image_info_t info;
    atota_diag_t d = {{0}};
    atota_err_t err = atota_image_verify_flash(v->flash, p->offset, p->size, &opts, &info, &d);
    if (err && !info.has_app_desc) {
        snprintf(out, cap, "invalid: %s", atota_diag_text(&d, err));
        return;
    }
    const atota_chip_t *chip = atota_chip_by_id(info.header.chip_id);
    if (!v->chip && chip && !err)
        v->chip = chip;
    snprintf(out, cap, "%s \"%s\" (%s, %s, IDF %s, %u bytes)%s%s", err ? "INVALID" : "app",
             info.app_desc.version, info.app_desc.project_name, chip ? chip->name : "?",
             info.app_desc.idf_ver, info.image_len, err ? ": " : "",
             err ? atota_diag_text(&d, err) : "");
}

static void show_subtable(struct flash_view *v, const atota_partition_t *p)
{
    uint8_t buf[ATOTA_PT_BIN_SIZE];
    atota_partition_table_t *sub = malloc(sizeof *sub);
    if (!sub || p->offset >= v->file_size ||
        atota_flash_read(v->flash, p->offset, buf, sizeof buf)) {
        free(sub);
        return;
    }
    atota_diag_t d = {{0}};
    atota_err_t err = atota_partition_table_parse_bin(buf, sizeof buf, sub, &d);
    if (err) {
        printf("    at_customize.bin: %s\n", buf[0] == 0xFF ? "empty" : atota_diag_text(&d, err));
    } else {
        printf("    at_customize.bin: %u partitions, MD5 row %s\n", sub->count,
               sub->has_md5 ? "yes" : "no");
        for (unsigned i = 0; i < sub->count; i++) {
            const atota_partition_t *e = &sub->entries[i];
            char tb[8], sb[8];
            printf("      %-16s %-6s %-10s 0x%06x 0x%06x\n", e->name,
                   type_text(e->type, tb, sizeof tb),
                   subtype_text(e->type, e->subtype, sb, sizeof sb), e->offset, e->size);
        }
    }
    free(sub);
}

static void show_otadata(struct flash_view *v, const atota_partition_t *p)
{
    atota_otadata_entry_t e[2];
    if (p->offset >= v->file_size || atota_otadata_read(v->flash, p->offset, e)) {
        printf("    otadata: not contained in the file\n");
        return;
    }
    int active = atota_otadata_select(e);
    for (int i = 0; i < 2; i++) {
        char sb[12];
        bool crc_ok = e[i].crc == atota_otadata_crc(e[i].seq);
        printf("    copy %d: seq 0x%08x state %-14s crc 0x%08x (%s) -> %s%s\n", i, e[i].seq,
               atota_otadata_state_name(e[i].state, sb), e[i].crc, crc_ok ? "ok" : "bad",
               e[i].seq == ATOTA_OTADATA_SEQ_EMPTY ? "blank"
               : atota_otadata_entry_valid(&e[i])  ? "valid"
                                                   : "invalid",
               i == active ? ", active" : "");
    }
}

static int flash_info(int argc, char **argv)
{
    static const struct option options[] = {
        {"pt-offset", required_argument, 0, 'p'},
        {"chip", required_argument, 0, 'c'},
        {"no-rollback", no_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct flash_view v = {.pt_offset = ATOTA_PT_OFFSET_DEFAULT};
    bool fixed_pt = false, rollback = true;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (cli_parse_u32(optarg, &v.pt_offset))
                return cli_usage_error(info_usage, "bad --pt-offset '%s'", optarg);
            fixed_pt = true;
            break;
        case 'c':
            if (!(v.chip = atota_chip_by_target(optarg)))
                return cli_usage_error(info_usage, "unknown chip '%s'", optarg);
            break;
        case 'n':
            rollback = false;
            break;
        case 'h':
            printf("usage: %s\n", info_usage);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(info_usage, "bad option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(info_usage, "flash info needs one FLASH file");
    v.path = argv[optind];

    struct stat st;
    if (stat(v.path, &st) != 0 || !S_ISREG(st.st_mode))
        return cli_error(v.path, "cannot open: not a readable file");
    if (st.st_size == 0 || st.st_size > (off_t)(256u << 20))
        return cli_error(v.path, "a flash image must be between 1 byte and 256 MB, not %lld bytes",
                         (long long)st.st_size);
    v.file_size = (uint32_t)st.st_size;

    atota_flash_sim_opts_t sopts = {.path = v.path, .read_only = true};
    atota_flash_sim_t *sim = NULL;
    atota_diag_t diag = {{0}};
    atota_err_t err = atota_flash_sim_open(&sopts, &sim, &diag);
    if (err)
        return cli_error(v.path, "%s", atota_diag_text(&diag, err));
    v.flash = atota_flash_sim_flash(sim);

    if ((err = find_table(&v, fixed_pt, &diag))) {
        atota_flash_sim_close(sim);
        return cli_error(v.path, "%s", atota_diag_text(&diag, err));
    }
    printf("Flash image: %s, %u bytes%s\n", v.path, v.file_size,
           v.file_size < v.flash->size ? " (shorter than the flash: the rest reads as erased)"
                                       : "");
    show_bootloader(&v);
    printf("Partition table at 0x%x: %u partitions, MD5 row %s\n", v.pt_offset, v.table.count,
           v.table.has_md5 ? "yes" : "no");
    printf("  %-16s %-6s %-10s %-10s %-10s %s\n", "Name", "Type", "SubType", "Offset", "Size",
           "Contents");
    for (unsigned i = 0; i < v.table.count; i++) {
        const atota_partition_t *p = &v.table.entries[i];
        char tb[8], sb[8], what[200] = "";
        if (p->type == ATOTA_PT_TYPE_APP)
            describe_app(&v, p, what, sizeof what);
        else if (p->offset >= v.file_size)
            snprintf(what, sizeof what, "not contained in the file");
        printf("  %-16s %-6s %-10s 0x%08x 0x%08x %s\n", p->name, type_text(p->type, tb, sizeof tb),
               subtype_text(p->type, p->subtype, sb, sizeof sb), p->offset, p->size, what);
        if (p->type == ATOTA_PT_TYPE_DATA && p->subtype == ATOTA_PT_SUBTYPE_DATA_OTA)
            show_otadata(&v, p);
        if (p->type == ATOTA_PT_TYPE_AT_CUSTOMIZE && p->subtype == 0)
            show_subtable(&v, p);
    }

    atota_boot_opts_t bopts = {
        .rollback_enabled = rollback, .chip_id = v.chip ? v.chip->id : 0, .dry_run = true};
    atota_boot_result_t *res = calloc(1, sizeof *res);
    int rc = CLI_EXIT_OK;
    if (!res) {
        rc = cli_error(NULL, "out of memory");
    } else if ((err = atota_boot_select(v.flash, &v.table, &bopts, res, &diag))) {
        printf("Boots: nothing (%s)\n", atota_diag_text(&diag, err));
    } else {
        printf("Boots: %s at 0x%x", res->partition.name, res->partition.offset);
        if (res->app_desc.magic_word == ATOTA_APP_DESC_MAGIC)
            printf(", version \"%s\"", res->app_desc.version);
        printf("\n  why: %s\n", res->reason);
        if (res->otadata_writes)
            printf("  the bootloader would write otadata %u time%s on this boot\n",
                   res->otadata_writes, res->otadata_writes == 1 ? "" : "s");
    }
    free(res);
    atota_flash_sim_close(sim);
    return rc;
}

static int flash_modules(void)
{
    for (unsigned i = 0; atota_profile_name(i); i++) {
        atota_profile_t *p = malloc(sizeof *p);
        atota_diag_t d = {{0}};
        if (!p)
            return cli_error(NULL, "out of memory");
        atota_err_t err = atota_profile_load(atota_profile_name(i), p, &d);
        if (err)
            printf("%-20s (broken: %s)\n", atota_profile_name(i), atota_diag_text(&d, err));
        else
            printf("%-20s %-10s %-9s %2u MB  module name %s\n", p->name, p->chip->target,
                   p->chip->name, p->flash_size >> 20, p->module_name);
        free(p);
    }
    return CLI_EXIT_OK;
}

int cli_cmd_flash(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("atota flash create|info|modules ...", "flash needs a subcommand");
    if (!strcmp(argv[1], "create"))
        return flash_create(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info"))
        return flash_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "modules"))
        return flash_modules();
    return cli_usage_error("atota flash create|info|modules ...", "unknown flash subcommand '%s'",
                           argv[1]);
}
