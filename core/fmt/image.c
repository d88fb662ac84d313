/*
 * ESP app and bootloader image verification as a stream (esp-idf-formats.md §2.7): each check runs
 * as soon as the bytes it needs have arrived, and the memory is the fixed atota_image_stream_t.
 * atota_image_parse (whole buffer, plus Secure Boot signature detection) and the flash readers
 * are thin drivers of the same stream, so every path applies the same rules.
 */
#include <string.h>

#include "core/fmt/image.h"
#include "core/util/crc32.h"

enum {
    ST_HEADER = 0, /* collecting the 24-byte image header */
    ST_SEG_HEADER, /* collecting an 8-byte segment header */
    ST_SEG_DATA,   /* passing segment data through the checksum and the hash */
    ST_PAD,        /* zero padding before the checksum byte (§2.6) */
    ST_CHECKSUM,   /* the checksum byte, at the position where pos % 16 == 15 */
    ST_HASH,       /* the 32-byte appended SHA-256 */
    ST_DONE,
};

#define MMU_PAGE         0x10000u /* §2.7 step 3: default MMU page, 64 KB */
#define CHECKSUM_INITIAL 0xEFu    /* §2.6: ESP_ROM_CHECKSUM_INITIAL */
#define SBV2_SECTOR_LEN  4096u    /* §10.1 */
#define SBV2_BLOCK_LEN   1216u
#define SBV2_CRC_OFFSET  1196u
#define SBV2_MAGIC       0xE7u
#define SBV2_MAX_BLOCKS  3u
#define SBV1_SIG_LEN     68u /* §10.2: uint32 version + 64-byte ECDSA signature */

static void copy_field(char *dst, const uint8_t *src, size_t field_len)
{
    /* The fields are NUL-padded, but a full-width string has no NUL: bound the copy. */
    size_t n = 0;
    while (n < field_len && src[n])
        n++;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

bool atota_image_decode_app_desc(const uint8_t raw[ATOTA_APP_DESC_LEN], atota_app_desc_t *desc)
{
    memset(desc, 0, sizeof *desc);
    /* esp-idf-formats.md §2.5: offsets within esp_app_desc_t */
    if (atota_le32(raw) != ATOTA_APP_DESC_MAGIC)
        return false;
    desc->magic_word = ATOTA_APP_DESC_MAGIC;
    desc->secure_version = atota_le32(raw + 0x04);
    copy_field(desc->version, raw + 0x10, 32);
    copy_field(desc->project_name, raw + 0x30, 32);
    copy_field(desc->time, raw + 0x50, 16);
    copy_field(desc->date, raw + 0x60, 16);
    copy_field(desc->idf_ver, raw + 0x70, 32);
    memcpy(desc->app_elf_sha256, raw + 0x90, 32);
    desc->min_efuse_blk_rev_full = atota_le16(raw + 0xB0);
    desc->max_efuse_blk_rev_full = atota_le16(raw + 0xB2);
    desc->mmu_page_size = raw[0xB4];
    desc->spi_flash_mode = raw[0xB5];
    return true;
}

bool atota_image_decode_bootloader_desc(const uint8_t raw[ATOTA_BOOTLOADER_DESC_LEN],
                                        atota_bootloader_desc_t *desc)
{
    memset(desc, 0, sizeof *desc);
    /* §2.5: magic byte 0x50, reserved[2], secure_version u8, version u32, idf_ver[32],
     * date_time[24], reserved2[16] */
    if (raw[0] != ATOTA_BOOTLOADER_DESC_MAGIC)
        return false;
    desc->magic_byte = raw[0];
    desc->secure_version = raw[3];
    desc->version = atota_le32(raw + 4);
    copy_field(desc->idf_ver, raw + 8, 32);
    copy_field(desc->date_time, raw + 40, 24);
    return true;
}

static uint32_t max_len_of(const atota_image_stream_t *s)
{
    return s->opts.max_len ? s->opts.max_len : ATOTA_IMAGE_MAX_LEN;
}

/* Records the first error (sticky) with its message, and releases the hash context. */
static atota_err_t fail(atota_image_stream_t *s, atota_diag_t *diag, atota_err_t err)
{
    s->err = err;
    if (s->sha_live) {
        atota_sha256_free(&s->sha);
        s->sha_live = false;
    }
    if (diag)
        *diag = s->diag;
    return err;
}

#define FAIL(s, diag, code, ...)                                                                   \
    (atota_diag_set(&(s)->diag, (code), __VA_ARGS__), fail((s), (diag), (code)))

void atota_image_stream_init(atota_image_stream_t *s, const atota_image_opts_t *opts)
{
    memset(s, 0, sizeof *s);
    if (opts)
        s->opts = *opts;
    s->state = ST_HEADER;
    s->need = ATOTA_IMAGE_HEADER_LEN;
    s->checksum_word = CHECKSUM_INITIAL;
    if (!s->opts.skip_hash) {
        atota_sha256_init(&s->sha);
        s->sha_live = true;
    }
}

/* Hashes the bytes unless the caller asked for no hash (opts.skip_hash). */
static void hash_bytes(atota_image_stream_t *s, const uint8_t *p, size_t n)
{
    if (s->sha_live)
        atota_sha256_update(&s->sha, p, n);
}

/* §2.2 / §2.7 step 2: decode and check the header once its 24 bytes are in. */
static atota_err_t check_header(atota_image_stream_t *s, atota_diag_t *diag)
{
    const uint8_t *b = s->buf;
    atota_image_header_t *h = &s->info.header;
    h->magic = b[0];
    h->segment_count = b[1];
    h->spi_mode = b[2];
    h->spi_speed = b[3] & 0x0F;
    h->spi_size = b[3] >> 4;
    h->entry_addr = atota_le32(b + 4);
    h->wp_pin = b[8];
    memcpy(h->spi_pin_drv, b + 9, 3);
    h->chip_id = atota_le16(b + 12);
    h->min_chip_rev = b[14];
    h->min_chip_rev_full = atota_le16(b + 15); /* unaligned u16 */
    h->max_chip_rev_full = atota_le16(b + 17);
    h->hash_appended = b[23];

    if (s->opts.check_chip && h->chip_id != s->opts.chip_id) {
        const atota_chip_t *want = atota_chip_by_id(s->opts.chip_id);
        const atota_chip_t *got = atota_chip_by_id(h->chip_id);
        return FAIL(s, diag, ATOTA_ERR_IMAGE_CHIP, "image is for chip id %u (%s), expected %u (%s)",
                    h->chip_id, got ? got->name : "unknown", s->opts.chip_id,
                    want ? want->name : "unknown");
    }
    if (s->opts.check_chip_rev) {
        uint16_t rev = s->opts.chip_rev;
        if (h->min_chip_rev_full > rev)
            return FAIL(s, diag, ATOTA_ERR_IMAGE_CHIP_REV,
                        "image needs chip revision v%u.%u or later, chip is v%u.%u",
                        h->min_chip_rev_full / 100, h->min_chip_rev_full % 100, rev / 100,
                        rev % 100);
        /* bootloader_common_check_chip_validity: the max applies to apps only, and only when
         * set (0 and 0xFFFF mean "not set") */
        bool max_set = h->max_chip_rev_full != 0 && h->max_chip_rev_full != 0xFFFF;
        if (!s->opts.bootloader && max_set && rev > h->max_chip_rev_full)
            return FAIL(s, diag, ATOTA_ERR_IMAGE_CHIP_REV,
                        "image supports chip revisions up to v%u.%u, chip is v%u.%u",
                        h->max_chip_rev_full / 100, h->max_chip_rev_full % 100, rev / 100,
                        rev % 100);
    }
    if (h->segment_count > ATOTA_IMAGE_MAX_SEGMENTS)
        return FAIL(s, diag, ATOTA_ERR_IMAGE_SEGMENTS, "header declares %u segments, at most %u",
                    h->segment_count, ATOTA_IMAGE_MAX_SEGMENTS);
    /* esptool requires 0 or 1 (load_extended_header); IDF takes any non-zero as 1 (§2.2) */
    if (h->hash_appended > 1)
        return FAIL(s, diag, ATOTA_ERR_IMAGE_HEADER, "hash_appended is %u, must be 0 or 1",
                    h->hash_appended);
    if (ATOTA_IMAGE_HEADER_LEN > max_len_of(s))
        return FAIL(s, diag, ATOTA_ERR_IMAGE_TOO_BIG, "partition of %u bytes cannot hold an image",
                    max_len_of(s));
    return ATOTA_OK;
}

/* Moves to the padding/checksum once the last segment is through (§2.6). */
static atota_err_t enter_footer(atota_image_stream_t *s, atota_diag_t *diag)
{
    uint32_t unpadded = s->pos;
    uint32_t total = (unpadded + 1 + 15) & ~15u; /* padding + checksum: 1..16 bytes */
    uint32_t end = total + (s->info.header.hash_appended ? ATOTA_SHA256_LEN : 0);
    if (end > max_len_of(s))
        return FAIL(s, diag, ATOTA_ERR_IMAGE_TOO_BIG,
                    "image is %u bytes, more than the partition's %u", end, max_len_of(s));
    s->need = total - unpadded - 1;
    s->state = s->need ? ST_PAD : ST_CHECKSUM;
    return ATOTA_OK;
}

/* §2.7 step 3: a mapped segment's absolute flash address and load address must be congruent
 * modulo the MMU page. */
static atota_err_t check_mmu(atota_image_stream_t *s, uint32_t i, atota_diag_t *diag)
{
    const atota_chip_t *chip = atota_chip_by_id(s->info.header.chip_id);
    const atota_image_segment_t *seg = &s->info.segments[i];
    uint32_t flash_addr = s->opts.flash_offset + seg->header_offset + ATOTA_IMAGE_SEG_HEADER_LEN;
    uint32_t page = s->mmu_page ? s->mmu_page : MMU_PAGE;
    if (atota_chip_is_mapped(chip, seg->load_addr) && flash_addr % page != seg->load_addr % page)
        return FAIL(s, diag, ATOTA_ERR_IMAGE_MMU,
                    "segment %u: load address 0x%08x and flash address 0x%x differ modulo the "
                    "%u KB MMU page (0x%x vs 0x%x)",
                    i, seg->load_addr, flash_addr, page / 1024, seg->load_addr % page,
                    flash_addr % page);
    return ATOTA_OK;
}

/* The MMU page size: 64 KB, except on chips with a configurable page, where IDF takes
 * mmu_page_size from the descriptor (v5.4+) or else derives it from the flash size (1 MB: 16 KB,
 * 2 MB: 32 KB, larger: 64 KB; Kconfig MMU_PAGE_SIZE). */
static uint32_t mmu_page_of(const atota_image_stream_t *s)
{
    const atota_chip_t *chip = atota_chip_by_id(s->info.header.chip_id);
    if (!chip || !chip->mmu_page_configurable)
        return MMU_PAGE;
    uint8_t log2 = s->info.app_desc.mmu_page_size;
    if (s->info.has_app_desc && log2 >= 13 && log2 <= 16)
        return 1u << log2;
    if (s->info.header.spi_size == 0)
        return 0x4000;
    if (s->info.header.spi_size == 1)
        return 0x8000;
    return MMU_PAGE;
}

/* §2.4 / §2.7 step 3: checks one segment header. */
static atota_err_t check_segment_header(atota_image_stream_t *s, atota_diag_t *diag)
{
    uint32_t i = s->seg_index;
    uint32_t load = atota_le32(s->buf);
    uint32_t len = atota_le32(s->buf + 4);
    atota_image_segment_t *seg = &s->info.segments[i];
    seg->load_addr = load;
    seg->data_len = len;
    seg->header_offset = s->pos - ATOTA_IMAGE_SEG_HEADER_LEN;
    s->seg_data_off = s->pos;

    if (len % 4 != 0)
        return FAIL(s, diag, ATOTA_ERR_IMAGE_SEGMENT,
                    "segment %u: length 0x%x is not a multiple of 4", i, len);
    if (len >= ATOTA_IMAGE_MAX_LEN)
        return FAIL(s, diag, ATOTA_ERR_IMAGE_SEGMENT, "segment %u: length 0x%x is not below 16 MB",
                    i, len);
    if (!s->opts.bootloader && i == 0 && len < ATOTA_APP_DESC_LEN)
        return FAIL(s, diag, ATOTA_ERR_IMAGE_SEGMENT,
                    "segment 0: length 0x%x is too short for the app descriptor (0x%x)", len,
                    ATOTA_APP_DESC_LEN);
    if ((uint64_t)s->pos + len > max_len_of(s))
        return FAIL(s, diag, ATOTA_ERR_IMAGE_TOO_BIG,
                    "segment %u ends at 0x%llx, beyond the partition's %u bytes", i,
                    (unsigned long long)s->pos + len, max_len_of(s));
    /* Segment 0's page size comes from its own descriptor: checked in check_descriptor. */
    if (!s->opts.bootloader && i > 0) {
        atota_err_t err = check_mmu(s, i, diag);
        if (err)
            return err;
    }
    s->seg_remaining = len;
    s->buf_len = 0;
    return ATOTA_OK;
}

/* Segment 0 starts with the app descriptor (apps) or the bootloader descriptor (§2.5). */
static atota_err_t check_descriptor(atota_image_stream_t *s, atota_diag_t *diag)
{
    if (!s->opts.bootloader) {
        if (!atota_image_decode_app_desc(s->buf, &s->info.app_desc))
            return FAIL(s, diag, ATOTA_ERR_IMAGE_NO_APP_DESC,
                        "no app descriptor: word at offset 0x20 is 0x%08x, expected 0x%08x",
                        atota_le32(s->buf), ATOTA_APP_DESC_MAGIC);
        s->info.has_app_desc = true;
        s->mmu_page = mmu_page_of(s);
        return check_mmu(s, 0, diag);
    } else {
        s->info.has_bootloader_desc =
            atota_image_decode_bootloader_desc(s->buf, &s->info.bootloader_desc);
    }
    return ATOTA_OK;
}

static void next_segment(atota_image_stream_t *s)
{
    s->seg_index++;
    s->buf_len = 0;
    s->state = ST_SEG_HEADER;
}

/* Consumes bytes of segment data: checksum, hash, and the descriptor copy of segment 0. */
static atota_err_t feed_segment_data(atota_image_stream_t *s, const uint8_t *p, uint32_t n,
                                     atota_diag_t *diag)
{
    for (uint32_t k = 0; k < n; k++)
        s->checksum_word ^= p[k]; /* §2.6: 0xEF XOR every data byte */
    hash_bytes(s, p, n);
    if (s->seg_index == 0) {
        uint32_t want = s->opts.bootloader ? ATOTA_BOOTLOADER_DESC_LEN : ATOTA_APP_DESC_LEN;
        if (s->buf_len < want) {
            uint32_t take = want - s->buf_len < n ? want - s->buf_len : n;
            memcpy(s->buf + s->buf_len, p, take);
            bool had_magic = s->buf_len >= 4;
            s->buf_len += take;
            /* Refuse an app without a descriptor on its first 4 bytes, not 256 later. */
            if (!s->opts.bootloader && !had_magic && s->buf_len >= 4 &&
                atota_le32(s->buf) != ATOTA_APP_DESC_MAGIC)
                return check_descriptor(s, diag);
            if (s->buf_len == want) {
                atota_err_t err = check_descriptor(s, diag);
                if (err)
                    return err;
            }
        }
    }
    s->seg_remaining -= n;
    s->pos += n;
    return ATOTA_OK;
}

static uint8_t fold_checksum(uint32_t w)
{
    return (uint8_t)(w ^ (w >> 8) ^ (w >> 16) ^ (w >> 24));
}

/* The image is complete: report a checksum or hash mismatch (info stays filled). */
static atota_err_t finish_image(atota_image_stream_t *s, atota_diag_t *diag)
{
    s->state = ST_DONE;
    s->done = true;
    s->info.image_len = s->pos;
    atota_image_info_t *in = &s->info;
    if (!in->checksum_ok)
        return FAIL(s, diag, ATOTA_ERR_IMAGE_CHECKSUM,
                    "checksum 0x%02x is invalid (calculated 0x%02x)", in->checksum_stored,
                    in->checksum_calc);
    if (in->header.hash_appended && !in->hash_ok && !s->opts.skip_hash)
        return FAIL(s, diag, ATOTA_ERR_IMAGE_HASH,
                    "appended SHA-256 does not match the image (calculated %02x%02x%02x%02x...)",
                    in->hash_calc[0], in->hash_calc[1], in->hash_calc[2], in->hash_calc[3]);
    return ATOTA_OK;
}

atota_err_t atota_image_stream_feed(atota_image_stream_t *s, const void *data, size_t len,
                                    atota_diag_t *diag)
{
    if (s->err) {
        if (diag)
            *diag = s->diag;
        return s->err;
    }
    const uint8_t *p = data;
    while (len > 0 && s->state != ST_DONE) {
        uint32_t avail = len > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)len;
        uint32_t n;
        atota_err_t err = ATOTA_OK;
        switch (s->state) {
        case ST_HEADER:
            n = ATOTA_IMAGE_HEADER_LEN - s->buf_len;
            n = n < avail ? n : avail;
            memcpy(s->buf + s->buf_len, p, n);
            if (s->buf_len == 0 && p[0] != ATOTA_IMAGE_MAGIC) /* refuse on the first byte */
                return FAIL(s, diag, ATOTA_ERR_IMAGE_MAGIC,
                            "bad magic byte 0x%02x, expected 0xe9 (nothing flashed here?)", p[0]);
            s->buf_len += n;
            hash_bytes(s, p, n);
            s->pos += n;
            if (s->buf_len == ATOTA_IMAGE_HEADER_LEN) {
                err = check_header(s, diag);
                s->buf_len = 0;
                s->state = ST_SEG_HEADER;
                if (!err && s->info.header.segment_count == 0)
                    err = enter_footer(s, diag);
            }
            break;
        case ST_SEG_HEADER:
            n = ATOTA_IMAGE_SEG_HEADER_LEN - s->buf_len;
            n = n < avail ? n : avail;
            memcpy(s->buf + s->buf_len, p, n);
            s->buf_len += n;
            hash_bytes(s, p, n);
            s->pos += n;
            if (s->buf_len == ATOTA_IMAGE_SEG_HEADER_LEN) {
                err = check_segment_header(s, diag);
                if (!err) {
                    s->state = ST_SEG_DATA;
                    if (s->seg_remaining == 0) { /* zero-length segments are fine (§2.7) */
                        next_segment(s);
                        if (s->seg_index == s->info.header.segment_count)
                            err = enter_footer(s, diag);
                    }
                }
            }
            break;
        case ST_SEG_DATA:
            n = s->seg_remaining < avail ? s->seg_remaining : avail;
            err = feed_segment_data(s, p, n, diag);
            if (!err && s->seg_remaining == 0) {
                next_segment(s);
                if (s->seg_index == s->info.header.segment_count)
                    err = enter_footer(s, diag);
            }
            break;
        case ST_PAD:
            n = s->need < avail ? s->need : avail;
            hash_bytes(s, p, n); /* padding is hashed, not checked (§2.6) */
            s->need -= n;
            s->pos += n;
            if (s->need == 0)
                s->state = ST_CHECKSUM;
            break;
        case ST_CHECKSUM:
            n = 1;
            hash_bytes(s, p, 1);
            s->pos += 1;
            s->info.checksum_stored = p[0];
            s->info.checksum_calc = fold_checksum(s->checksum_word);
            s->info.checksum_ok = s->info.checksum_stored == s->info.checksum_calc;
            if (s->sha_live) /* covers [0, checksum] */
                atota_sha256_finish(&s->sha, s->info.hash_calc);
            s->sha_live = false;
            if (s->info.header.hash_appended) {
                s->state = ST_HASH;
                s->need = ATOTA_SHA256_LEN;
                s->buf_len = 0;
            } else {
                memset(s->info.hash_calc, 0, sizeof s->info.hash_calc);
                err = finish_image(s, diag);
            }
            break;
        case ST_HASH:
            n = s->need < avail ? s->need : avail;
            memcpy(s->info.hash_stored + (ATOTA_SHA256_LEN - s->need), p, n);
            s->need -= n;
            s->pos += n;
            if (s->need == 0) {
                s->info.hash_ok = !memcmp(s->info.hash_stored, s->info.hash_calc, ATOTA_SHA256_LEN);
                err = finish_image(s, diag);
            }
            break;
        default:
            n = avail;
            break;
        }
        if (err)
            return err;
        p += n;
        len -= n;
    }
    return ATOTA_OK;
}

bool atota_image_stream_header_ok(const atota_image_stream_t *s)
{
    if (s->err == ATOTA_ERR_IMAGE_CHECKSUM || s->err == ATOTA_ERR_IMAGE_HASH)
        return true; /* the header and descriptor were accepted; only the footer failed */
    if (s->err)
        return false;
    if (s->opts.bootloader)
        return s->state != ST_HEADER;
    return s->info.has_app_desc || (s->state > ST_SEG_DATA);
}

bool atota_image_stream_complete(const atota_image_stream_t *s)
{
    return s->done;
}

atota_err_t atota_image_stream_finish(atota_image_stream_t *s, atota_image_info_t *info,
                                      atota_diag_t *diag)
{
    atota_err_t err = s->err;
    if (!err && !s->done) {
        const char *where = "in the image header";
        switch (s->state) {
        case ST_SEG_HEADER:
            where = "in a segment header";
            break;
        case ST_SEG_DATA:
            where = "in segment data";
            break;
        case ST_PAD:
        case ST_CHECKSUM:
            where = "before the checksum";
            break;
        case ST_HASH:
            where = "in the appended SHA-256";
            break;
        default:
            break;
        }
        if (s->state == ST_SEG_HEADER || s->state == ST_SEG_DATA)
            atota_diag_set(&s->diag, ATOTA_ERR_IMAGE_TRUNCATED,
                           "image is truncated at %u bytes %s (segment %u of %u)", s->pos, where,
                           s->seg_index, s->info.header.segment_count);
        else
            atota_diag_set(&s->diag, ATOTA_ERR_IMAGE_TRUNCATED, "image is truncated at %u bytes %s",
                           s->pos, where);
        s->err = err = ATOTA_ERR_IMAGE_TRUNCATED;
        s->info.image_len = s->pos;
    }
    if (s->sha_live) {
        atota_sha256_free(&s->sha);
        s->sha_live = false;
    }
    if (info)
        *info = s->info;
    if (diag) {
        if (err)
            *diag = s->diag;
        else
            atota_diag_clear(diag);
    }
    return err;
}

/* §10.1: a signature block is valid when its magic is 0xE7 and its CRC-32 matches. */
static bool sbv2_block_valid(const uint8_t *block)
{
    return block[0] == SBV2_MAGIC &&
           atota_crc32_le(0, block, SBV2_CRC_OFFSET) == atota_le32(block + SBV2_CRC_OFFSET);
}

static void detect_signature(const uint8_t *data, size_t len, atota_image_info_t *info)
{
    memset(&info->sig, 0, sizeof info->sig);
    size_t end = info->image_len;
    /* SBv2: the sector at the first 4 KB boundary at or after the image end (§10.1) */
    size_t sector = (end + SBV2_SECTOR_LEN - 1) & ~(size_t)(SBV2_SECTOR_LEN - 1);
    if (sector + SBV2_SECTOR_LEN <= len && sbv2_block_valid(data + sector)) {
        info->sig.kind = ATOTA_IMAGE_SIG_SBV2;
        info->sig.offset = (uint32_t)sector;
        info->sig.len = SBV2_SECTOR_LEN;
        for (unsigned i = 0; i < SBV2_MAX_BLOCKS; i++) {
            const uint8_t *b = data + sector + (size_t)i * SBV2_BLOCK_LEN;
            if (!sbv2_block_valid(b))
                break; /* espsecure stops at the first absent/invalid block */
            info->sig.block_version[i] = b[1];
            info->sig.block_count++;
        }
        return;
    }
    /* SBv1: exactly one 68-byte block right after the image (§10.2); anything else trailing is
     * padding or another partition's bytes. */
    if (len - end == SBV1_SIG_LEN) {
        info->sig.kind = ATOTA_IMAGE_SIG_SBV1;
        info->sig.offset = (uint32_t)end;
        info->sig.len = SBV1_SIG_LEN;
    }
}

atota_err_t atota_image_parse(const void *data, size_t len, const atota_image_opts_t *opts,
                              atota_image_info_t *info, atota_diag_t *diag)
{
    /* The stream struct is ~1 KB: fine on the stack of any host or ESP task. */
    atota_image_stream_t stream;
    atota_image_stream_t *s = &stream;
    atota_image_stream_init(s, opts);
    atota_image_info_t local;
    atota_image_info_t *out = info ? info : &local;
    atota_image_stream_feed(s, data, len, NULL);
    atota_err_t err = atota_image_stream_finish(s, out, diag);
    if (out->image_len && s->done)
        detect_signature(data, len, out);
    if (!err && out->sig.kind != ATOTA_IMAGE_SIG_NONE) {
        /* §2.7 step 5: image_len + sig_block_len must fit in the partition */
        uint32_t max = opts && opts->max_len ? opts->max_len : ATOTA_IMAGE_MAX_LEN;
        uint64_t end = (uint64_t)out->sig.offset + out->sig.len;
        if (end > max)
            return atota_diag_set(diag, ATOTA_ERR_IMAGE_TOO_BIG,
                                  "image and its signature end at 0x%llx, beyond the partition's "
                                  "%u bytes",
                                  (unsigned long long)end, max);
    }
    return err;
}

#define FLASH_CHUNK 512u /* bytes read per flash call, on the stack */

atota_err_t atota_image_verify_flash(const atota_flash_t *flash, uint32_t offset,
                                     uint32_t part_size, const atota_image_opts_t *opts,
                                     atota_image_info_t *info, atota_diag_t *diag)
{
    atota_image_opts_t o;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    o.max_len = part_size;
    o.flash_offset = offset;
    atota_image_stream_t s;
    atota_image_stream_init(&s, &o);
    uint8_t chunk[FLASH_CHUNK];
    for (uint32_t done = 0; done < part_size && !atota_image_stream_complete(&s);) {
        uint32_t n = part_size - done < FLASH_CHUNK ? part_size - done : FLASH_CHUNK;
        atota_err_t err = atota_flash_read(flash, offset + done, chunk, n);
        if (err) {
            atota_image_stream_finish(&s, info, NULL);
            return atota_diag_set(diag, err, "cannot read flash at 0x%x: %s", offset + done,
                                  atota_strerror(err));
        }
        if (atota_image_stream_feed(&s, chunk, n, NULL))
            break;
        done += n;
    }
    return atota_image_stream_finish(&s, info, diag);
}

atota_err_t atota_image_read_app_desc(const atota_flash_t *flash, uint32_t offset,
                                      atota_app_desc_t *desc)
{
    /* esp_ota_get_partition_description: header, first segment header, then the descriptor at
     * 0x20 (§2.5). */
    uint8_t raw[ATOTA_APP_DESC_OFFSET + ATOTA_APP_DESC_LEN];
    memset(desc, 0, sizeof *desc);
    atota_err_t err = atota_flash_read(flash, offset, raw, sizeof raw);
    if (err)
        return err;
    if (raw[0] != ATOTA_IMAGE_MAGIC)
        return ATOTA_ERR_IMAGE_MAGIC;
    if (!atota_image_decode_app_desc(raw + ATOTA_APP_DESC_OFFSET, desc))
        return ATOTA_ERR_IMAGE_NO_APP_DESC;
    return ATOTA_OK;
}
