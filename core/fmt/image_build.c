/*
 * Builds a valid app image: header, a DROM segment holding esp_app_desc_t, optional extra
 * segments, zero padding, checksum and SHA-256, laid out as esptool elf2image does
 * (esp-idf-formats.md §2.8) and byte-identical to the worked example of §3 for its inputs.
 */
#include <string.h>

#include "core/fmt/image.h"
#include "core/util/crc32.h"

#define MMU_PAGE         0x10000u
#define DESC_LOAD_OFFSET 0x20u /* §3: seg0 at DROM base + 0x20, congruent to its file offset */
#define DEFAULT_SPI_MODE 2u    /* DIO */
#define DEFAULT_SPI_SIZE 2u    /* 4 MB */
#define MMU_PAGE_LOG2    16u   /* §2.5 mmu_page_size: log2(64 KB) */

/* Where each segment goes: computed once, used by both the size query and the writer. */
typedef struct {
    const atota_chip_t *chip;
    uint32_t seg_count;
    uint32_t load[ATOTA_IMAGE_MAX_SEGMENTS];
    uint32_t len[ATOTA_IMAGE_MAX_SEGMENTS]; /* padded to 4 */
    uint32_t unpadded;                      /* header + every segment */
    uint32_t total;                         /* + padding, checksum and SHA-256 */
} layout_t;

static atota_err_t plan(const atota_image_build_opts_t *o, layout_t *l, atota_diag_t *diag)
{
    memset(l, 0, sizeof *l);
    if (!o)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no build options");
    l->chip = atota_chip_by_id(o->chip_id);
    if (!l->chip)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "unknown chip id %u", o->chip_id);
    if (o->segment_count > ATOTA_IMAGE_MAX_SEGMENTS - 1)
        return atota_diag_set(diag, ATOTA_ERR_IMAGE_SEGMENTS,
                              "%u extra segments: at most %u fit beside the descriptor",
                              o->segment_count, ATOTA_IMAGE_MAX_SEGMENTS - 1);
    if (o->segment_count && !o->segments)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "segment_count without segments");
    if (o->spi_mode > 3 || o->spi_speed > 0xF || o->spi_size > 7)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "flash mode %u / speed %u / size %u out of range", o->spi_mode,
                              o->spi_speed, o->spi_size);

    uint64_t pos = ATOTA_IMAGE_HEADER_LEN;
    l->load[0] = l->chip->drom_base + DESC_LOAD_OFFSET;
    l->len[0] = ATOTA_APP_DESC_LEN;
    pos += ATOTA_IMAGE_SEG_HEADER_LEN + ATOTA_APP_DESC_LEN;
    uint64_t next_free = (uint64_t)l->load[0] + ATOTA_APP_DESC_LEN; /* first free DROM address */
    l->seg_count = 1;
    for (unsigned i = 0; i < o->segment_count; i++) {
        const atota_image_build_segment_t *seg = &o->segments[i];
        if (seg->len && !seg->data)
            return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "segment %u has no data", i + 1);
        uint64_t len = ((uint64_t)seg->len + 3) & ~(uint64_t)3;
        if (len >= ATOTA_IMAGE_MAX_LEN)
            return atota_diag_set(diag, ATOTA_ERR_TOO_BIG,
                                  "segment %u: %llu bytes, a segment must be below 16 MB", i + 1,
                                  (unsigned long long)len);
        uint64_t data_off = pos + ATOTA_IMAGE_SEG_HEADER_LEN;
        uint64_t load = seg->load_addr;
        if (load == 0) {
            /* §2.7 step 3 for a 64 KB-aligned partition: load % 64K == file offset % 64K, in the
             * first 64 KB window of DROM that starts after the previous mapped data. */
            load = l->chip->drom_base + data_off % MMU_PAGE;
            while (load < next_free)
                load += MMU_PAGE;
            if (load + len > l->chip->drom_end)
                return atota_diag_set(diag, ATOTA_ERR_TOO_BIG,
                                      "segment %u: 0x%llx bytes do not fit in %s's DROM range "
                                      "(0x%08x-0x%08x)",
                                      i + 1, (unsigned long long)len, l->chip->name,
                                      l->chip->drom_base, l->chip->drom_end);
            next_free = load + len;
        }
        l->load[l->seg_count] = (uint32_t)load;
        l->len[l->seg_count] = (uint32_t)len;
        l->seg_count++;
        pos = data_off + len;
    }
    l->unpadded = (uint32_t)(pos < ATOTA_IMAGE_MAX_LEN ? pos : ATOTA_IMAGE_MAX_LEN);
    uint64_t total = ((pos + 1 + 15) & ~(uint64_t)15) + ATOTA_SHA256_LEN;
    if (total > ATOTA_IMAGE_MAX_LEN)
        return atota_diag_set(diag, ATOTA_ERR_TOO_BIG, "image would be %llu bytes, over 16 MB",
                              (unsigned long long)total);
    l->total = (uint32_t)total;
    return ATOTA_OK;
}

size_t atota_image_build_size(const atota_image_build_opts_t *opts)
{
    layout_t l;
    return plan(opts, &l, NULL) ? 0 : l.total;
}

static void put_string(uint8_t *field, size_t field_len, const char *text)
{
    /* Truncated to leave a NUL, as IDF's descriptor strings always end in one (§2.5). */
    if (!text)
        return;
    size_t n = strlen(text);
    if (n > field_len - 1)
        n = field_len - 1;
    memcpy(field, text, n);
}

atota_err_t atota_image_build(const atota_image_build_opts_t *opts, uint8_t *out, size_t cap,
                              size_t *out_len, atota_diag_t *diag)
{
    if (out_len)
        *out_len = 0;
    layout_t l;
    atota_err_t err = plan(opts, &l, diag);
    if (err)
        return err;
    if (!out || cap < l.total)
        return atota_diag_set(diag, ATOTA_ERR_TOO_BIG, "image needs %u bytes, buffer has %zu",
                              l.total, cap);
    memset(out, 0, l.total);

    /* §2.2 header */
    uint8_t spi_mode = opts->spi_mode || opts->spi_mode_set ? opts->spi_mode : DEFAULT_SPI_MODE;
    uint8_t spi_size = opts->spi_size ? opts->spi_size : DEFAULT_SPI_SIZE;
    uint16_t max_rev = opts->max_chip_rev_full ? opts->max_chip_rev_full : l.chip->default_max_rev;
    out[0] = ATOTA_IMAGE_MAGIC;
    out[1] = (uint8_t)l.seg_count;
    out[2] = spi_mode;
    out[3] = (uint8_t)((spi_size << 4) | (opts->spi_speed & 0x0F));
    atota_put_le32(out + 4, opts->entry_addr ? opts->entry_addr : l.chip->default_entry);
    out[8] = 0xEE; /* WP pin disabled */
    atota_put_le16(out + 12, l.chip->id);
    out[14] = (uint8_t)(opts->min_chip_rev_full / 100); /* legacy min_chip_rev: the major */
    atota_put_le16(out + 15, opts->min_chip_rev_full);
    atota_put_le16(out + 17, max_rev);
    out[23] = 1; /* hash appended */

    /* Segments; segment 0 is esp_app_desc_t (§2.5). */
    uint32_t pos = ATOTA_IMAGE_HEADER_LEN;
    for (uint32_t i = 0; i < l.seg_count; i++) {
        atota_put_le32(out + pos, l.load[i]);
        atota_put_le32(out + pos + 4, l.len[i]);
        pos += ATOTA_IMAGE_SEG_HEADER_LEN;
        if (i == 0) {
            uint8_t *d = out + pos;
            atota_put_le32(d, ATOTA_APP_DESC_MAGIC);
            atota_put_le32(d + 0x04, opts->secure_version);
            put_string(d + 0x10, 32, opts->version);
            put_string(d + 0x30, 32, opts->project_name);
            put_string(d + 0x50, 16, opts->time);
            put_string(d + 0x60, 16, opts->date);
            put_string(d + 0x70, 32, opts->idf_ver);
            if (opts->app_elf_sha256)
                memcpy(d + 0x90, opts->app_elf_sha256, 32);
            d[0xB4] = MMU_PAGE_LOG2;
            d[0xB5] = spi_mode; /* spi_flash_mode, as in the §3 example */
        } else {
            const atota_image_build_segment_t *seg = &opts->segments[i - 1];
            if (seg->len)
                memcpy(out + pos, seg->data, seg->len); /* the rest stays zero (padding to 4) */
        }
        pos += l.len[i];
    }

    /* §2.6 footer: zero padding to pos % 16 == 15, the checksum, then the SHA-256. */
    uint8_t ck = 0xEF;
    pos = ATOTA_IMAGE_HEADER_LEN;
    for (uint32_t i = 0; i < l.seg_count; i++) {
        pos += ATOTA_IMAGE_SEG_HEADER_LEN;
        for (uint32_t k = 0; k < l.len[i]; k++)
            ck ^= out[pos + k];
        pos += l.len[i];
    }
    uint32_t ck_pos = l.total - ATOTA_SHA256_LEN - 1;
    out[ck_pos] = ck;
    atota_sha256(out, ck_pos + 1, out + ck_pos + 1);

    /* Every image we build must pass our own verifier; anything else is a bug here or a caller's
     * explicit load address that breaks the MMU rule. */
    atota_image_info_t info;
    err = atota_image_parse(out, l.total, NULL, &info, diag);
    if (err)
        return err;
    if (out_len)
        *out_len = l.total;
    return ATOTA_OK;
}
