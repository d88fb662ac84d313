#include "core/fmt/profile.h"

#include <stdio.h>
#include <string.h>

static const char *find_file(const char *module, const char *file)
{
    for (const atota_profile_file_t *f = atota_profile_files; f->module; f++)
        if (!strcmp(f->module, module) && !strcmp(f->file, file))
            return f->text;
    return NULL;
}

const char *atota_profile_name(unsigned i)
{
    /* The table is sorted by module then file; count each module once (its module.conf). */
    unsigned n = 0;
    for (const atota_profile_file_t *f = atota_profile_files; f->module; f++) {
        if (strcmp(f->file, "module.conf"))
            continue;
        if (n++ == i)
            return f->module;
    }
    return NULL;
}

/* Copies the value of `key=value` on its own line of conf into out; -1 when absent. */
static int conf_get(const char *conf, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    for (const char *line = conf; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > klen && !strncmp(line, key, klen) && line[klen] == '=') {
            size_t vlen = len - klen - 1;
            while (vlen && (line[klen + 1 + vlen - 1] == '\r' || line[klen + 1 + vlen - 1] == ' '))
                vlen--;
            if (vlen >= cap)
                return -1;
            memcpy(out, line + klen + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        line += len + (end ? 1 : 0);
    }
    return -1;
}

/* A number with an optional K/M/MB suffix ("4MB", "0x8000"). */
static int parse_size(const char *text, uint32_t *out)
{
    unsigned long long v = 0;
    int base = 10;
    const char *p = text;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (!*p)
        return -1;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            break;
        v = v * (unsigned)base + (unsigned)d;
        if (v > 0xFFFFFFFFull)
            return -1;
    }
    if (*p == 'K' || *p == 'k')
        v *= 1024, p++;
    else if (*p == 'M' || *p == 'm')
        v *= 1024 * 1024, p++;
    if (*p == 'B')
        p++;
    if (*p || v > 0xFFFFFFFFull)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static atota_err_t conf_number(const char *name, const char *conf, const char *key, uint32_t *out,
                               atota_diag_t *diag)
{
    char value[32];
    if (conf_get(conf, key, value, sizeof value) || parse_size(value, out))
        return atota_diag_set(diag, ATOTA_ERR_PROFILE_UNKNOWN,
                              "profile %s: module.conf has no valid '%s'", name, key);
    return ATOTA_OK;
}

static atota_err_t parse_table(const char *name, const char *file, const char *text,
                               uint32_t table_offset, uint32_t flash_size,
                               atota_partition_table_t *table, atota_diag_t *diag)
{
    if (!text)
        return atota_diag_set(diag, ATOTA_ERR_PROFILE_UNKNOWN, "profile %s has no %s", name, file);
    atota_partition_opts_t opts = {.table_offset = table_offset, .flash_size = flash_size};
    atota_diag_t inner = {{0}};
    atota_err_t err = atota_partition_table_parse_csv(text, strlen(text), &opts, table, &inner);
    if (err)
        return atota_diag_set(diag, err, "profile %s: %s: %s", name, file,
                              atota_diag_text(&inner, err));
    return ATOTA_OK;
}

atota_err_t atota_profile_load(const char *name, atota_profile_t *p, atota_diag_t *diag)
{
    memset(p, 0, sizeof *p);
    const char *conf = name ? find_file(name, "module.conf") : NULL;
    if (!conf || strlen(name) >= sizeof p->name)
        return atota_diag_set(diag, ATOTA_ERR_PROFILE_UNKNOWN, "unknown module profile '%s'",
                              name ? name : "(null)");
    snprintf(p->name, sizeof p->name, "%s", name);

    char value[32];
    if (conf_get(conf, "module_name", p->module_name, sizeof p->module_name) ||
        conf_get(conf, "chip", value, sizeof value) || !(p->chip = atota_chip_by_target(value)))
        return atota_diag_set(diag, ATOTA_ERR_PROFILE_UNKNOWN,
                              "profile %s: module.conf needs module_name and a known chip", name);
    uint32_t rollback = 0;
    atota_err_t err;
    if ((err = conf_number(name, conf, "flash_size", &p->flash_size, diag)) ||
        (err =
             conf_number(name, conf, "partition_table_offset", &p->partition_table_offset, diag)) ||
        (err = conf_number(name, conf, "at_customize_offset", &p->at_customize_offset, diag)) ||
        (err = conf_number(name, conf, "rollback", &rollback, diag)))
        return err;
    p->rollback_enabled = rollback != 0;

    /* esp-at builds partitions_at.bin with CONFIG_PARTITION_TABLE_MD5=n and at_customize.bin
     * with a plain gen_esp32part call (MD5 row): vectors/MANIFEST.md, at_customize section. */
    err = parse_table(name, "partitions_at.csv", find_file(name, "partitions_at.csv"),
                      p->partition_table_offset, p->flash_size, &p->partitions, diag);
    if (err)
        return err;
    p->partitions.has_md5 = false;

    const atota_partition_t *region = atota_partition_find(&p->partitions, "at_customize");
    if (!region || region->offset != p->at_customize_offset)
        return atota_diag_set(diag, ATOTA_ERR_PROFILE_UNKNOWN,
                              "profile %s: no at_customize partition at 0x%x", name,
                              p->at_customize_offset);
    err = parse_table(name, "at_customize.csv", find_file(name, "at_customize.csv"),
                      p->at_customize_offset, p->flash_size, &p->at_customize, diag);
    if (err)
        return err;
    p->at_customize.has_md5 = true;

    atota_diag_t inner = {{0}};
    if ((err = atota_profile_check_at_customize(p, &p->at_customize, &inner)))
        return atota_diag_set(diag, err, "profile %s: at_customize.csv: %s", name,
                              atota_diag_text(&inner, err));
    return ATOTA_OK;
}

atota_err_t atota_profile_check_at_customize(const atota_profile_t *p,
                                             const atota_partition_table_t *table,
                                             atota_diag_t *diag)
{
    const atota_partition_t *region = atota_partition_find(&p->partitions, "at_customize");
    if (!region || region->offset != p->at_customize_offset)
        return atota_diag_set(diag, ATOTA_ERR_PROFILE_UNKNOWN,
                              "profile %s: no at_customize partition at 0x%x", p->name,
                              p->at_customize_offset);
    /* esp-at-ota.md §5.2: the sub-partitions start one sector after the table and stay inside
     * the at_customize region. */
    uint32_t first = region->offset + ATOTA_FLASH_SECTOR_SIZE;
    uint64_t end = (uint64_t)region->offset + region->size;
    for (unsigned i = 0; i < table->count; i++) {
        const atota_partition_t *e = &table->entries[i];
        if (e->offset < first || (uint64_t)e->offset + e->size > end)
            return atota_diag_set(diag, ATOTA_ERR_PT_INVALID,
                                  "partition '%s' invalid: 0x%x bytes at 0x%x are outside the "
                                  "at_customize region of %s (0x%x-0x%llx; its partitions go "
                                  "from 0x%x, after the table's sector)",
                                  e->name, e->size, e->offset, p->name, region->offset,
                                  (unsigned long long)end - 1, first);
    }
    return ATOTA_OK;
}

atota_err_t atota_profile_parse_at_customize(const atota_profile_t *p, const uint8_t *data,
                                             size_t len, const atota_partition_opts_t *opts,
                                             atota_partition_table_t *table, atota_diag_t *diag)
{
    /* The profile's own table is parsed at the at_customize offset, for the module's flash. */
    atota_partition_opts_t o = {0};
    if (opts)
        o = *opts;
    o.table_offset = p->at_customize_offset;
    o.flash_size = p->flash_size;
    o.disable_md5sum = false;
    atota_err_t err;
    /* A binary table starts with an entry's magic AA 50 (esp-idf-formats.md §4); a CSV is text. */
    if (len >= 2 && data[0] == 0xAA && data[1] == 0x50) {
        if ((err = atota_partition_table_parse_bin(data, len, table, diag)) ||
            (err = atota_partition_table_verify(table, &o, diag)))
            return err;
    } else if ((err = atota_partition_table_parse_csv((const char *)data, len, &o, table, diag))) {
        return err;
    }
    if ((err = atota_profile_check_at_customize(p, table, diag)))
        return err;
    table->has_md5 = true; /* ESP-AT's at_customize.bin carries the MD5 row (§5.2) */
    return ATOTA_OK;
}
