/*
 * ESP app and bootloader images (esp-idf-formats.md §2): parse, verify (whole or as a stream fed in
 * chunks of any size), and build.
 *
 * Verification follows esp_image_verify() (§2.7): header, chip id and revision bounds, segment
 * count and lengths, the app descriptor in segment 0, the MMU rule for mapped segments, the XOR
 * checksum, the appended SHA-256, and the image length against the partition size. The stream
 * reports each error as soon as the bytes that show it have arrived, so an OTA writer can refuse an
 * image on its first bytes, before anything is erased. The stream's memory is fixed (no
 * allocation, nothing that grows with the image).
 */
#ifndef ATOTA_CORE_FMT_IMAGE_H
#define ATOTA_CORE_FMT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hal.h"
#include "core/util/hash.h"

#define ATOTA_IMAGE_MAGIC           0xE9
#define ATOTA_IMAGE_MAX_SEGMENTS    16
#define ATOTA_IMAGE_HEADER_LEN      24
#define ATOTA_IMAGE_SEG_HEADER_LEN  8
#define ATOTA_APP_DESC_MAGIC        0xABCD5432u
#define ATOTA_APP_DESC_OFFSET       0x20 /* file offset of esp_app_desc_t */
#define ATOTA_APP_DESC_LEN          256
#define ATOTA_BOOTLOADER_DESC_MAGIC 0x50
#define ATOTA_IMAGE_MAX_LEN         0x1000000u /* 16 MB */

/* Chip ids (esp_chip_id_t, §2.3). */
#define ATOTA_CHIP_ESP32    0x0000
#define ATOTA_CHIP_ESP32S2  0x0002
#define ATOTA_CHIP_ESP32C3  0x0005
#define ATOTA_CHIP_ESP32S3  0x0009
#define ATOTA_CHIP_ESP32C2  0x000C
#define ATOTA_CHIP_ESP32C6  0x000D
#define ATOTA_CHIP_ESP32H2  0x0010
#define ATOTA_CHIP_ESP32P4  0x0012
#define ATOTA_CHIP_ESP32C61 0x0014
#define ATOTA_CHIP_ESP32C5  0x0017

/* What the project knows of a chip. */
typedef struct {
    uint16_t id;
    const char *target;         /* "esp32c3": the name used on command lines */
    const char *name;           /* "ESP32-C3": the name esptool prints */
    uint32_t bootloader_offset; /* flash offset of the 2nd-stage bootloader (§1) */
    uint32_t drom_base;         /* start of the DROM (flash data) address range */
    uint32_t drom_end;
    uint32_t irom_base; /* start of the IROM (flash code) address range */
    uint32_t irom_end;
    uint32_t default_entry;     /* entry point used by atota_image_build */
    uint16_t default_max_rev;   /* max_chip_rev_full written by IDF builds (ESP32: 399) */
    bool mmu_page_configurable; /* SOC_MMU_PAGE_SIZE_CONFIGURABLE: 16/32/64 KB pages (§2.7) */
} atota_chip_t;

/* The chip with this id, or NULL. */
const atota_chip_t *atota_chip_by_id(uint16_t id);
/* The chip with this target name ("esp32", "esp32c3", case-insensitive), or NULL. */
const atota_chip_t *atota_chip_by_target(const char *target);
/* esptool's memory-type names for a load address on a chip ("DROM", "BYTE_ACCESSIBLE, DRAM",
 * "IRAM", "PADDING" for 0), written into out (cap bytes). Returns out. */
const char *atota_chip_memory_types(const atota_chip_t *chip, uint32_t load_addr, char *out,
                                    size_t cap);
/* The index-th chip of the table (0, 1, ...), or NULL past the end: lets tools list the chips. */
const atota_chip_t *atota_chip_at(size_t index);
/* True when load_addr is in the chip's IROM or DROM range, i.e. the segment is mapped from flash
 * through the MMU and must obey the 64 KB congruence rule (§2.7 step 3). */
bool atota_chip_is_mapped(const atota_chip_t *chip, uint32_t load_addr);

/* esp_image_header_t, decoded (§2.2). */
typedef struct {
    uint8_t magic;
    uint8_t segment_count;
    uint8_t spi_mode;  /* 0 QIO, 1 QOUT, 2 DIO, 3 DOUT */
    uint8_t spi_speed; /* low nibble of byte 3 */
    uint8_t spi_size;  /* high nibble of byte 3: 0 = 1MB ... 7 = 128MB */
    uint32_t entry_addr;
    uint8_t wp_pin;
    uint8_t spi_pin_drv[3];
    uint16_t chip_id;
    uint8_t min_chip_rev; /* legacy */
    uint16_t min_chip_rev_full;
    uint16_t max_chip_rev_full;
    uint8_t hash_appended;
} atota_image_header_t;

typedef struct {
    uint32_t load_addr;
    uint32_t data_len;
    uint32_t header_offset; /* file offset of the 8-byte segment header ("File offs") */
} atota_image_segment_t;

/* esp_app_desc_t (§2.5). Strings are NUL-terminated copies of the 32/16-byte fields. */
typedef struct {
    uint32_t magic_word;
    uint32_t secure_version;
    char version[33];
    char project_name[33];
    char time[17];
    char date[17];
    char idf_ver[33];
    uint8_t app_elf_sha256[32];
    uint16_t min_efuse_blk_rev_full;
    uint16_t max_efuse_blk_rev_full;
    uint8_t mmu_page_size;
    uint8_t spi_flash_mode;
} atota_app_desc_t;

/* esp_bootloader_desc_t (§2.5). */
typedef struct {
    uint8_t magic_byte;
    uint8_t secure_version;
    uint32_t version;
    char idf_ver[33];
    char date_time[25];
} atota_bootloader_desc_t;

typedef enum {
    ATOTA_IMAGE_SIG_NONE = 0,
    ATOTA_IMAGE_SIG_SBV1, /* 68-byte ECDSA block right after the image (§10.2) */
    ATOTA_IMAGE_SIG_SBV2, /* 4 KB signature sector at the next 4 KB boundary (§10.1) */
} atota_image_sig_kind_t;

typedef struct {
    atota_image_sig_kind_t kind;
    uint32_t offset;          /* file offset of the signature block / sector */
    uint32_t len;             /* 68 or 4096 */
    unsigned block_count;     /* SBv2: signature blocks with magic 0xE7 and a valid CRC */
    uint8_t block_version[3]; /* SBv2: 0x02 RSA, 0x03 ECDSA, per block */
} atota_image_sig_t;

/* Everything known about an image after parsing. */
typedef struct {
    atota_image_header_t header;
    atota_image_segment_t segments[ATOTA_IMAGE_MAX_SEGMENTS];
    uint8_t checksum_stored;
    uint8_t checksum_calc;
    bool checksum_ok;
    uint8_t hash_stored[ATOTA_SHA256_LEN];
    uint8_t hash_calc[ATOTA_SHA256_LEN];
    bool hash_ok;       /* false when no hash is appended */
    uint32_t image_len; /* bytes, including checksum and appended hash; excluding signature */
    bool has_app_desc;
    atota_app_desc_t app_desc;
    bool has_bootloader_desc;
    atota_bootloader_desc_t bootloader_desc;
    atota_image_sig_t sig; /* filled by atota_image_parse only (needs the bytes after the image) */
} atota_image_info_t;

/* What to hold an image to. Zero-initialised = any chip, any revision, no size limit, app. */
typedef struct {
    bool check_chip; /* require header.chip_id == chip_id */
    uint16_t chip_id;
    bool check_chip_rev;   /* require min_chip_rev_full <= chip_rev <= max (app, when max set) */
    uint16_t chip_rev;     /* major*100+minor */
    uint32_t max_len;      /* partition size: image_len (+ signature) must fit; 0 = 16 MB */
    uint32_t flash_offset; /* absolute flash address of the image, for the MMU rule (§2.7 step 3) */
    bool bootloader;       /* a bootloader image: no app descriptor rule, no max-rev check */
    bool skip_hash; /* stream only: do not compute the SHA-256 (hash_calc is zero, hash_ok false,
                       no ATOTA_ERR_IMAGE_HASH): for a caller that verifies the copy it wrote,
                       as the OTA writer does on flash, so the image is hashed once */
} atota_image_opts_t;

/* Streaming verifier. Treat as opaque; a plain struct so it can live on the stack. */
typedef struct {
    atota_image_opts_t opts;
    atota_image_info_t info;
    atota_sha256_t sha;
    uint32_t pos;   /* bytes of the image consumed so far */
    uint32_t state; /* internal state machine */
    uint32_t seg_index;
    uint32_t seg_remaining;
    uint32_t checksum_word;
    uint32_t need;                   /* bytes still needed for the current field */
    uint8_t buf[ATOTA_APP_DESC_LEN]; /* field being assembled (headers, app descriptor) */
    uint32_t buf_len;
    uint8_t word[4]; /* checksum bytes not yet a full word */
    uint32_t word_len;
    bool done;             /* every byte of the image (up to its hash) has been consumed */
    bool sha_live;         /* sha holds an initialised context that finish() must release */
    uint32_t seg_data_off; /* file offset of the current segment's data */
    uint32_t mmu_page;     /* MMU page size for the congruence rule, known after the descriptor */
    atota_err_t err;       /* sticky: the first error seen */
    atota_diag_t diag;     /* the message of err, repeated by later calls */
} atota_image_stream_t;

/* Starts a verification. opts may be NULL (no checks beyond the format). */
void atota_image_stream_init(atota_image_stream_t *s, const atota_image_opts_t *opts);

/* Feeds the next len bytes (any size, including 0). Returns the first error the bytes fed so far
 * show (sticky: later calls return it again), else ATOTA_OK. Bytes after the end of the image are
 * accepted and ignored. */
atota_err_t atota_image_stream_feed(atota_image_stream_t *s, const void *data, size_t len,
                                    atota_diag_t *diag);

/* True once the image header and (for an app) the app descriptor have been seen and accepted. */
bool atota_image_stream_header_ok(const atota_image_stream_t *s);

/* True once every byte of the image has been fed. */
bool atota_image_stream_complete(const atota_image_stream_t *s);

/* Ends a verification: fills info (may be NULL) with what was seen, frees the hash context.
 * Returns ATOTA_ERR_IMAGE_TRUNCATED when the image is incomplete, ATOTA_ERR_IMAGE_CHECKSUM or
 * ATOTA_ERR_IMAGE_HASH on a mismatch (info is filled even then), or the stream's earlier error. */
atota_err_t atota_image_stream_finish(atota_image_stream_t *s, atota_image_info_t *info,
                                      atota_diag_t *diag);

/* Decodes a 256-byte esp_app_desc_t (§2.5). Returns false (desc zeroed) when the magic word is not
 * 0xABCD5432. */
bool atota_image_decode_app_desc(const uint8_t raw[ATOTA_APP_DESC_LEN], atota_app_desc_t *desc);

/* Decodes an 80-byte esp_bootloader_desc_t (§2.5). Returns false (desc zeroed) when the magic byte
 * is not 0x50. */
#define ATOTA_BOOTLOADER_DESC_LEN 80
bool atota_image_decode_bootloader_desc(const uint8_t raw[ATOTA_BOOTLOADER_DESC_LEN],
                                        atota_bootloader_desc_t *desc);

/* Parses and verifies a whole image in memory (the file may have trailing bytes). Also detects a
 * Secure Boot signature after the image. Same errors as the stream; info is filled as far as the
 * bytes allowed, even on failure. */
atota_err_t atota_image_parse(const void *data, size_t len, const atota_image_opts_t *opts,
                              atota_image_info_t *info, atota_diag_t *diag);

/* Verifies the image stored in flash at [offset, offset + part_size), reading in small chunks.
 * opts->max_len and opts->flash_offset are taken from offset and part_size. info may be NULL. */
atota_err_t atota_image_verify_flash(const atota_flash_t *flash, uint32_t offset,
                                     uint32_t part_size, const atota_image_opts_t *opts,
                                     atota_image_info_t *info, atota_diag_t *diag);

/* Reads only the app descriptor of the image at a flash offset (esp_ota_get_partition_description):
 * ATOTA_ERR_IMAGE_MAGIC / ATOTA_ERR_IMAGE_NO_APP_DESC when absent. */
atota_err_t atota_image_read_app_desc(const atota_flash_t *flash, uint32_t offset,
                                      atota_app_desc_t *desc);

/* An extra segment for atota_image_build. */
typedef struct {
    uint32_t load_addr; /* 0: placed in DROM right after the previous mapped data, MMU-congruent */
    const void *data;
    uint32_t len; /* padded with zeros to a multiple of 4 */
} atota_image_build_segment_t;

/* What to build. Zero/NULL fields take the defaults of the worked example (§3): DIO, 40 MHz,
 * 4 MB, the chip's default entry and max revision, hash appended, mmu_page_size 16. */
typedef struct {
    uint16_t chip_id;
    const char *version; /* app descriptor strings; truncated to their fields */
    const char *project_name;
    const char *time;
    const char *date;
    const char *idf_ver;
    uint32_t secure_version;
    uint8_t spi_mode;  /* default 2 (DIO); 0 means the default unless spi_mode_set */
    bool spi_mode_set; /* use spi_mode as given, so that 0 (QIO) can be asked for */
    uint8_t spi_speed;
    uint8_t spi_size;    /* default 2 (4 MB) */
    uint32_t entry_addr; /* 0: chip default */
    uint16_t min_chip_rev_full;
    uint16_t max_chip_rev_full;                  /* 0: chip default */
    const uint8_t *app_elf_sha256;               /* 32 bytes or NULL */
    const atota_image_build_segment_t *segments; /* after the descriptor segment */
    unsigned segment_count;                      /* at most 15 */
} atota_image_build_opts_t;

/* Size of the image atota_image_build would produce, or 0 if the options are invalid. */
size_t atota_image_build_size(const atota_image_build_opts_t *opts);

/* Builds a valid app image into out (cap bytes; at least atota_image_build_size). */
atota_err_t atota_image_build(const atota_image_build_opts_t *opts, uint8_t *out, size_t cap,
                              size_t *out_len, atota_diag_t *diag);

#endif /* ATOTA_CORE_FMT_IMAGE_H */
