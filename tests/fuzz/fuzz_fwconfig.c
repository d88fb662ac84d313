/*
 * libFuzzer target: the firmware-configuration block. Inputs that do not start with the magic are
 * wrapped as the payload of a block with a correct header and CRC, so the line parser sees them
 * (the replay's vector files are images, tables and CSVs: plenty of odd text). Whatever decodes
 * must encode and decode again to the same configuration; abort() when it does not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt/fwconfig.h"
#include "core/util/crc32.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t block[ATOTA_FWCONFIG_MAX_LEN + 64];
    const uint8_t *in = data;
    size_t len = size;
    if (size < 8 || memcmp(data, ATOTA_FWCONFIG_MAGIC, 8) != 0) {
        size_t n = size < ATOTA_FWCONFIG_MAX_LEN - ATOTA_FWCONFIG_HEADER_LEN
                       ? size
                       : ATOTA_FWCONFIG_MAX_LEN - ATOTA_FWCONFIG_HEADER_LEN;
        memcpy(block, ATOTA_FWCONFIG_MAGIC, 8);
        put_le16(block + 8, 1);
        put_le16(block + 10, (uint16_t)n);
        put_le32(block + 12, atota_crc32_le(0, data, n));
        memcpy(block + ATOTA_FWCONFIG_HEADER_LEN, data, n);
        in = block;
        len = ATOTA_FWCONFIG_HEADER_LEN + n;
    }
    atota_fwconfig_t a, b;
    atota_diag_t diag;
    if (atota_fwconfig_decode(in, len, &a, &diag) != ATOTA_OK)
        return 0;
    if (!a.present)
        abort();
    static uint8_t out[ATOTA_FWCONFIG_MAX_LEN];
    size_t n = atota_fwconfig_encode(&a, out, sizeof out);
    if (n == 0 || atota_fwconfig_decode(out, n, &b, &diag) != ATOTA_OK)
        abort();
    if (memcmp(&a, &b, sizeof a) != 0)
        abort();
    return 0;
}
