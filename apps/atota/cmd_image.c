/*
 * `atota image info` prints what esptool v5.3.1 `image-info` prints (ET:esptool/cmds.py
 * _print_image_info), plus a Secure Boot section, and exits 0 only for a valid image.
 * `atota image create` builds a valid app image with atota_image_build, with a
 * firmware-configuration block (core/fmt/fwconfig.h) when --config is given; `image info` shows
 * that block after everything else, and nothing more for an image without one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps/atota/cli.h"
#include "core/fmt/fwconfig.h"
#include "core/fmt/image.h"
#include "core/util/hash.h"

#define INFO_USAGE "atota image info FILE [--chip TARGET] [--bootloader]"
#define CREATE_USAGE                                                                               \
    "atota image create -o OUT [--chip esp32] [--version V] [--project P] [--idf-ver I] "          \
    "[--date D] [--time T] [--secure-version N] [--payload FILE] [--flash-mode dio] "              \
    "[--flash-size 4MB] [--min-rev N] [--max-rev N] [--config KEY=VALUE]..."
#define MAX_FILE_LEN (64u << 20)

/* esptool FLASH_SIZES (ESP32ROM, inherited by every chip here): size nibble -> name. */
static const char *const flash_sizes[] = {"1MB",  "2MB",  "4MB",  "8MB",
                                          "16MB", "32MB", "64MB", "128MB"};
/* esptool FLASH_MODES */
static const char *const flash_modes[] = {"qio", "qout", "dio", "dout"};
static const char *const flash_modes_upper[] = {"QIO", "QOUT", "DIO", "DOUT"};

/* esptool FLASH_FREQUENCY per chip; get_key_from_value returns the first key with the value,
 * so ESP32-C6's {"80m": 0, "40m": 0} prints 0 as 80m. NULL = not in the table. */
static const char *flash_freq(uint16_t chip_id, uint8_t nibble)
{
    switch (chip_id) {
    case ATOTA_CHIP_ESP32C2:
        return nibble == 0xF ? "60m"
               : nibble == 0 ? "30m"
               : nibble == 1 ? "20m"
               : nibble == 2 ? "15m"
                             : NULL;
    case ATOTA_CHIP_ESP32H2:
        return nibble == 0xF ? "48m"
               : nibble == 0 ? "24m"
               : nibble == 1 ? "16m"
               : nibble == 2 ? "12m"
                             : NULL;
    case ATOTA_CHIP_ESP32C6:
        return nibble == 0 ? "80m" : nibble == 2 ? "20m" : NULL;
    case ATOTA_CHIP_ESP32C5:
    case ATOTA_CHIP_ESP32C61:
        return nibble == 0xF ? "80m" : nibble == 0 ? "40m" : nibble == 2 ? "20m" : NULL;
    default:
        return nibble == 0xF ? "80m"
               : nibble == 0 ? "40m"
               : nibble == 1 ? "26m"
               : nibble == 2 ? "20m"
                             : NULL;
    }
}

static void print_title(const char *title)
{
    printf("%s\n", title);
    for (size_t i = strlen(title); i > 0; i--)
        putchar('=');
    putchar('\n');
}

/* esptool tests list membership: "DROM" in ["DROM", "IROM"], so match whole names only. */
static int has_type(const char *types, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = types; *p;) {
        const char *end = strstr(p, ", ");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !memcmp(p, name, n))
            return 1;
        if (!end)
            break;
        p = end + 2;
    }
    return 0;
}

/* Prints the report as far as the parse got. Returns nothing: the exit status comes from err. */
static void print_info(const char *prefix, const atota_chip_t *chip, const uint8_t *data,
                       size_t len, const atota_image_info_t *info, bool header_seen,
                       unsigned segs_seen, bool complete)
{
    const atota_image_header_t *h = &info->header;
    char title[64];
    if (!header_seen)
        return;
    printf("\n");
    snprintf(title, sizeof title, "%s Image Header", prefix);
    print_title(title);
    printf("Image version: 1\n");
    if (h->entry_addr)
        printf("Entry point: %#8x\n", h->entry_addr);
    else
        printf("Entry point not set\n");
    printf("Segments: %u\n", h->segment_count);
    if (h->spi_size < 8)
        printf("Flash size: %s\n", flash_sizes[h->spi_size]);
    else
        printf("Warning: Invalid flash size (%#x)\n", h->spi_size << 4);
    const char *freq = flash_freq(chip ? chip->id : ATOTA_CHIP_ESP32, h->spi_speed);
    if (freq)
        printf("Flash freq: %s\n", freq);
    else
        printf("Warning: Invalid flash frequency (%#x)\n", h->spi_speed);
    if (h->spi_mode < 4)
        printf("Flash mode: %s\n", flash_modes_upper[h->spi_mode]);
    else
        printf("Warning: Invalid flash mode (%u)\n", h->spi_mode);

    printf("\n");
    snprintf(title, sizeof title, "%s Extended Image Header", prefix);
    print_title(title);
    /* Python's {:#02x} prints 0 as 0x0, where C's %#x would print 0 */
    printf("WP pin: 0x%x%s\n", h->wp_pin, h->wp_pin == 0xEE ? " (disabled)" : "");
    printf("Flash pins drive settings: clk_drv: 0x%x, q_drv: 0x%x, d_drv: 0x%x, cs0_drv: 0x%x, "
           "hd_drv: 0x%x, wp_drv: 0x%x\n",
           h->spi_pin_drv[0] & 0xF, h->spi_pin_drv[0] >> 4, h->spi_pin_drv[1] & 0xF,
           h->spi_pin_drv[1] >> 4, h->spi_pin_drv[2] & 0xF, h->spi_pin_drv[2] >> 4);
    const atota_chip_t *id_chip = atota_chip_by_id(h->chip_id);
    printf("Chip ID: %u (%s)\n", h->chip_id, id_chip ? id_chip->name : "Unknown ID");
    printf("Minimal chip revision: v%u.%u, (legacy min_rev = %u)\n", h->min_chip_rev_full / 100,
           h->min_chip_rev_full % 100, h->min_chip_rev);
    printf("Maximal chip revision: v%u.%u\n", h->max_chip_rev_full / 100,
           h->max_chip_rev_full % 100);
    printf("\n");

    print_title("Segments Information");
    printf("%7s  %7s  %10s  %10s  %-10s\n", "Segment", "Length", "Load addr", "File offs",
           "Memory types");
    printf("-------  -------  ----------  ----------  ------------\n");
    int app_seg = -1, boot_seg = -1;
    for (unsigned i = 0; i < segs_seen; i++) {
        const atota_image_segment_t *s = &info->segments[i];
        char types[160];
        atota_chip_memory_types(chip, s->load_addr, types, sizeof types);
        /* cmds.py: the first DROM segment holds esp_app_desc_t; else the last DRAM segment of
         * at least 80 bytes holds esp_bootloader_desc_t */
        if (has_type(types, "DROM")) {
            if (app_seg < 0)
                app_seg = (int)i;
        } else if (has_type(types, "DRAM") && s->data_len >= ATOTA_BOOTLOADER_DESC_LEN) {
            boot_seg = (int)i;
        }
        printf("%7u  0x%05x  0x%08x  0x%08x  %s\n", i, s->data_len, s->load_addr, s->header_offset,
               types);
    }
    printf("\n");
    if (!complete || segs_seen < h->segment_count)
        return; /* the parse stopped before the footer: nothing more to say */

    snprintf(title, sizeof title, "%s Image Footer", prefix);
    print_title(title);
    if (info->checksum_ok)
        printf("Checksum: 0x%02x (valid)\n", info->checksum_stored);
    else
        printf("Checksum: 0x%02x (invalid - calculated 0x%02x)\n", info->checksum_stored,
               info->checksum_calc);
    if (h->hash_appended) {
        char hex[2 * ATOTA_SHA256_LEN + 1];
        printf("Validation hash: %s (%s)\n", atota_hex(info->hash_calc, ATOTA_SHA256_LEN, hex),
               info->hash_ok ? "valid" : "invalid");
    }

    if (app_seg >= 0) {
        const atota_image_segment_t *s = &info->segments[app_seg];
        size_t off = s->header_offset + ATOTA_IMAGE_SEG_HEADER_LEN;
        atota_app_desc_t d;
        if (s->data_len >= ATOTA_APP_DESC_LEN && off + ATOTA_APP_DESC_LEN <= len &&
            atota_image_decode_app_desc(data + off, &d)) {
            char hex[2 * ATOTA_SHA256_LEN + 1];
            printf("\n");
            print_title("Application Information");
            printf("Project name: %s\n", d.project_name);
            printf("App version: %s\n", d.version);
            printf("Compile time: %s %s\n", d.date, d.time);
            printf("ELF file SHA256: %s\n", atota_hex(d.app_elf_sha256, 32, hex));
            printf("ESP-IDF: %s\n", d.idf_ver);
            printf("Minimal eFuse block revision: %u.%u\n", d.min_efuse_blk_rev_full / 100,
                   d.min_efuse_blk_rev_full % 100);
            printf("Maximal eFuse block revision: %u.%u\n", d.max_efuse_blk_rev_full / 100,
                   d.max_efuse_blk_rev_full % 100);
            if (d.mmu_page_size && d.mmu_page_size < 64)
                printf("MMU page size: %llu KB\n", (1ull << d.mmu_page_size) / 1024);
            printf("Secure version: %u\n", d.secure_version);
        }
    } else if (boot_seg >= 0) {
        const atota_image_segment_t *s = &info->segments[boot_seg];
        size_t off = s->header_offset + ATOTA_IMAGE_SEG_HEADER_LEN;
        atota_bootloader_desc_t d;
        if (off + ATOTA_BOOTLOADER_DESC_LEN <= len &&
            atota_image_decode_bootloader_desc(data + off, &d)) {
            printf("\n");
            print_title("Bootloader Information");
            printf("Bootloader version: %u\n", d.version);
            printf("ESP-IDF: %s\n", d.idf_ver);
            printf("Compile time: %s\n", d.date_time);
        }
    }

    /* Our own section: esptool image-info does not look past the image. */
    if (info->sig.kind == ATOTA_IMAGE_SIG_SBV2) {
        printf("\n");
        print_title("Secure Boot");
        printf("Signature: Secure Boot V2 sector at 0x%x, %u bytes\n", info->sig.offset,
               info->sig.len);
        for (unsigned i = 0; i < info->sig.block_count; i++) {
            uint8_t v = info->sig.block_version[i];
            printf("Signature block %u: valid CRC (%s)\n", i,
                   v == 2   ? "RSA"
                   : v == 3 ? "ECDSA"
                            : "unknown scheme");
        }
    } else if (info->sig.kind == ATOTA_IMAGE_SIG_SBV1) {
        printf("\n");
        print_title("Secure Boot");
        printf("Signature: Secure Boot V1 ECDSA block at 0x%x, %u bytes (version %u)\n",
               info->sig.offset, info->sig.len,
               (unsigned)(data[info->sig.offset] | data[info->sig.offset + 1] << 8 |
                          data[info->sig.offset + 2] << 16 |
                          (unsigned)data[info->sig.offset + 3] << 24));
    }
}

/* Our own section: the firmware-configuration block, when the image carries one. Returns the
 * block's error (the image is otherwise valid), ATOTA_OK when it is fine or absent. */
static atota_err_t print_fwconfig(const uint8_t *data, size_t len, const atota_image_info_t *info,
                                  atota_diag_t *diag)
{
    atota_fwconfig_t c;
    unsigned seg = 0;
    atota_err_t err = atota_fwconfig_find(data, len, info, &c, &seg, diag);
    if (err == ATOTA_OK && !c.present)
        return ATOTA_OK; /* no block: the report stays what esptool prints */
    printf("\n");
    print_title("Firmware configuration");
    if (err) {
        printf("Invalid: %s\n", atota_diag_text(diag, err));
        return err;
    }
    const atota_image_segment_t *s = &info->segments[seg];
    printf("Block: segment %u, file offset 0x%x, %u bytes, version 1\n", seg,
           s->header_offset + ATOTA_IMAGE_SEG_HEADER_LEN,
           ATOTA_FWCONFIG_HEADER_LEN +
               (unsigned)(data[s->header_offset + ATOTA_IMAGE_SEG_HEADER_LEN + 10] |
                          data[s->header_offset + ATOTA_IMAGE_SEG_HEADER_LEN + 11] << 8));
    for (unsigned i = 0; i < ATOTA_FWCONFIG_KEYS; i++) {
        char line[ATOTA_FWCONFIG_LINE_MAX];
        if (atota_fwconfig_line(&c, i, line, sizeof line))
            printf("%s\n", line);
    }
    return ATOTA_OK;
}

static int cmd_info(int argc, char **argv)
{
    const char *path = NULL, *target = NULL;
    int force_bootloader = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--chip")) {
            if (++i >= argc)
                return cli_usage_error(INFO_USAGE, "--chip needs a value");
            target = argv[i];
        } else if (!strcmp(argv[i], "--bootloader")) {
            force_bootloader = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: %s\n", INFO_USAGE);
            return CLI_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error(INFO_USAGE, "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error(INFO_USAGE, "more than one FILE");
        }
    }
    if (!path)
        return cli_usage_error(INFO_USAGE, "no FILE given");
    const atota_chip_t *forced = NULL;
    if (target && !(forced = atota_chip_by_target(target)))
        return cli_usage_error(INFO_USAGE, "unknown chip '%s'", target);

    uint8_t *data;
    size_t len;
    atota_diag_t diag;
    atota_diag_clear(&diag);
    atota_err_t err = cli_read_file(path, MAX_FILE_LEN, &data, &len, &diag);
    if (err)
        return cli_error(path, "%s", atota_diag_text(&diag, err));

    printf("Image size: %zu bytes\n", len);
    /* A bootloader carries esp_bootloader_desc_t (0x50) at 0x20, or no app descriptor at all. */
    atota_image_opts_t opts;
    memset(&opts, 0, sizeof opts);
    opts.bootloader =
        force_bootloader || (len > ATOTA_APP_DESC_OFFSET && data[ATOTA_APP_DESC_OFFSET] == 0x50) ||
        len < ATOTA_APP_DESC_OFFSET + 4 ||
        (data[0x20] | data[0x21] << 8 | data[0x22] << 16 | (uint32_t)data[0x23] << 24) !=
            ATOTA_APP_DESC_MAGIC;
    if (forced) {
        opts.check_chip = true;
        opts.chip_id = forced->id;
    }
    atota_image_info_t info;
    err = atota_image_parse(data, len, &opts, &info, &diag);

    bool header_seen = len >= ATOTA_IMAGE_HEADER_LEN && data[0] == ATOTA_IMAGE_MAGIC;
    const atota_chip_t *chip = forced;
    char prefix[32];
    if (forced) {
        /* esptool titles with the --chip argument upper-cased ("ESP32C3 Image Header") */
        size_t i = 0;
        for (; forced->target[i] && i + 1 < sizeof prefix; i++)
            prefix[i] =
                (char)(forced->target[i] >= 'a' && forced->target[i] <= 'z' ? forced->target[i] - 32
                                                                            : forced->target[i]);
        prefix[i] = '\0';
    } else if (header_seen) {
        chip = atota_chip_by_id(info.header.chip_id);
        snprintf(prefix, sizeof prefix, "%s", chip ? chip->name : "ESP32");
        printf("Detected image type: %s\n", prefix);
    }
    /* Segments the parse got through: up to the failing one, whose header is known. */
    unsigned segs_seen = info.header.segment_count;
    if (segs_seen > ATOTA_IMAGE_MAX_SEGMENTS)
        segs_seen = 0;
    for (unsigned i = 0; i < segs_seen; i++) {
        const atota_image_segment_t *s = &info.segments[i];
        if (s->header_offset == 0 ||
            (uint64_t)s->header_offset + ATOTA_IMAGE_SEG_HEADER_LEN + s->data_len > len) {
            segs_seen = i;
            break;
        }
    }
    bool complete =
        err == ATOTA_OK || err == ATOTA_ERR_IMAGE_CHECKSUM || err == ATOTA_ERR_IMAGE_HASH;
    print_info(prefix, chip, data, len, &info, header_seen && err != ATOTA_ERR_IMAGE_MAGIC,
               segs_seen, complete);
    if (complete && segs_seen == info.header.segment_count && !opts.bootloader) {
        atota_diag_t cfg_diag;
        atota_diag_clear(&cfg_diag);
        atota_err_t cfg_err = print_fwconfig(data, len, &info, &cfg_diag);
        if (cfg_err && !err) {
            err = cfg_err;
            diag = cfg_diag;
        }
    }
    fflush(stdout);
    free(data);
    if (err)
        return cli_error(path, "%s", atota_diag_text(&diag, err));
    return CLI_EXIT_OK;
}

static int parse_flash_size(const char *text, uint8_t *nibble)
{
    for (uint8_t i = 0; i < 8; i++)
        if (!strcmp(text, flash_sizes[i])) {
            *nibble = i;
            return 0;
        }
    return -1;
}

static int parse_u16(const char *text, uint16_t *out)
{
    uint32_t v;
    if (cli_parse_u32(text, &v) || v > 0xFFFF)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int cmd_create(int argc, char **argv)
{
    const char *out_path = NULL, *target = "esp32", *payload_path = NULL;
    const char *version = "1.0.0", *project = "atota-app", *idf_ver = "v5.5";
    const char *date = NULL, *time_s = NULL;
    uint32_t secure_version = 0;
    uint8_t spi_mode = 2, spi_size = 2;
    uint16_t min_rev = 0, max_rev = 0;
    atota_fwconfig_t config;
    atota_fwconfig_defaults(&config);
    bool with_config = false;
    const char *config_error = NULL; /* the first --config refused, reported after the options */
    atota_diag_t config_diag;
    atota_diag_clear(&config_diag);
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
            printf("usage: %s\n", CREATE_USAGE);
            return CLI_EXIT_OK;
        }
        if (opt[0] != '-')
            return cli_usage_error(CREATE_USAGE, "unexpected argument '%s'", opt);
        if (i + 1 >= argc)
            return cli_usage_error(CREATE_USAGE, "%s needs a value", opt);
        const char *val = argv[++i];
        if (!strcmp(opt, "-o") || !strcmp(opt, "--output"))
            out_path = val;
        else if (!strcmp(opt, "--chip"))
            target = val;
        else if (!strcmp(opt, "--version"))
            version = val;
        else if (!strcmp(opt, "--project"))
            project = val;
        else if (!strcmp(opt, "--idf-ver"))
            idf_ver = val;
        else if (!strcmp(opt, "--date"))
            date = val;
        else if (!strcmp(opt, "--time"))
            time_s = val;
        else if (!strcmp(opt, "--payload"))
            payload_path = val;
        else if (!strcmp(opt, "--config")) {
            /* a value the block refuses is invalid input (exit 1, one line), as a bad payload
             * file is; a missing value is a malformed command line (exit 2) */
            with_config = true;
            if (!config_error && atota_fwconfig_set(&config, val, &config_diag))
                config_error = val;
        } else if (!strcmp(opt, "--secure-version")) {
            if (cli_parse_u32(val, &secure_version))
                return cli_usage_error(CREATE_USAGE, "--secure-version: '%s' is not a number", val);
        } else if (!strcmp(opt, "--flash-mode")) {
            unsigned m = 0;
            while (m < 4 && strcmp(val, flash_modes[m]))
                m++;
            if (m == 4)
                return cli_usage_error(CREATE_USAGE,
                                       "--flash-mode: '%s' is not qio, qout, dio "
                                       "or dout",
                                       val);
            spi_mode = (uint8_t)m;
        } else if (!strcmp(opt, "--flash-size")) {
            if (parse_flash_size(val, &spi_size))
                return cli_usage_error(CREATE_USAGE, "--flash-size: '%s' is not 1MB..128MB", val);
        } else if (!strcmp(opt, "--min-rev")) {
            if (parse_u16(val, &min_rev))
                return cli_usage_error(CREATE_USAGE, "--min-rev: '%s' is not a revision", val);
        } else if (!strcmp(opt, "--max-rev")) {
            if (parse_u16(val, &max_rev))
                return cli_usage_error(CREATE_USAGE, "--max-rev: '%s' is not a revision", val);
        } else
            return cli_usage_error(CREATE_USAGE, "unknown option '%s'", opt);
    }
    if (!out_path)
        return cli_usage_error(CREATE_USAGE, "no output file (-o OUT)");
    const atota_chip_t *chip = atota_chip_by_target(target);
    if (!chip)
        return cli_usage_error(CREATE_USAGE, "unknown chip '%s'", target);
    if (max_rev && min_rev > max_rev)
        return cli_usage_error(CREATE_USAGE, "--min-rev %u is above --max-rev %u", min_rev,
                               max_rev);
    if (config_error)
        return cli_error(NULL, "--config '%s': %s", config_error,
                         atota_diag_text(&config_diag, ATOTA_ERR_FWCONFIG));

    /* __DATE__ / __TIME__ of the build: SOURCE_DATE_EPOCH when set (reproducible builds), else
     * now, in UTC. */
    char date_buf[16], time_buf[16];
    if (!date || !time_s) {
        time_t t = time(NULL);
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        if (sde && *sde) {
            char *end;
            long long v = strtoll(sde, &end, 10);
            if (*end || v < 0)
                return cli_usage_error(CREATE_USAGE, "SOURCE_DATE_EPOCH '%s' is not a number", sde);
            t = (time_t)v;
        }
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date_buf, sizeof date_buf, "%b %e %Y", &tm);
        strftime(time_buf, sizeof time_buf, "%H:%M:%S", &tm);
        if (!date)
            date = date_buf;
        if (!time_s)
            time_s = time_buf;
    }

    atota_diag_t diag;
    atota_diag_clear(&diag);
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    if (payload_path) {
        atota_err_t err =
            cli_read_file(payload_path, ATOTA_IMAGE_MAX_LEN, &payload, &payload_len, &diag);
        if (err)
            return cli_error(payload_path, "%s", atota_diag_text(&diag, err));
    }
    /* The block right after the descriptor, then the payload: both in DROM (load_addr 0). */
    uint8_t block[ATOTA_FWCONFIG_MAX_LEN];
    size_t block_len = with_config ? atota_fwconfig_encode(&config, block, sizeof block) : 0;
    if (with_config && !block_len) {
        free(payload);
        return cli_error(NULL, "--config: cannot encode the firmware-configuration block");
    }
    atota_image_build_segment_t segs[2];
    unsigned seg_count = 0;
    if (with_config)
        segs[seg_count++] = (atota_image_build_segment_t){0, block, (uint32_t)block_len};
    if (payload_path)
        segs[seg_count++] = (atota_image_build_segment_t){0, payload, (uint32_t)payload_len};
    atota_image_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.chip_id = chip->id;
    o.version = version;
    o.project_name = project;
    o.time = time_s;
    o.date = date;
    o.idf_ver = idf_ver;
    o.secure_version = secure_version;
    o.spi_mode = spi_mode;
    o.spi_mode_set = true;
    o.spi_size = spi_size;
    o.min_chip_rev_full = min_rev;
    o.max_chip_rev_full = max_rev;
    o.segments = seg_count ? segs : NULL;
    o.segment_count = seg_count;
    size_t size = atota_image_build_size(&o);
    uint8_t *image = size ? malloc(size) : NULL;
    size_t len = 0;
    atota_err_t err = image ? atota_image_build(&o, image, size, &len, &diag)
                            : atota_diag_set(&diag, ATOTA_ERR_INVALID_ARG,
                                             "cannot build an image with these options");
    free(payload);
    if (!err)
        err = cli_write_file(out_path, image, len, &diag);
    free(image);
    if (err)
        return cli_error(out_path, "%s", atota_diag_text(&diag, err));
    printf("%s: %zu bytes, %s app '%s' version '%s'%s\n", out_path, len, chip->name, project,
           version, with_config ? ", with a firmware-configuration block" : "");
    return CLI_EXIT_OK;
}

int cli_cmd_image(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("atota image info|create ...", "missing image subcommand");
    if (!strcmp(argv[1], "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "create"))
        return cmd_create(argc - 1, argv + 1);
    return cli_usage_error("atota image info|create ...", "unknown image subcommand '%s'", argv[1]);
}
