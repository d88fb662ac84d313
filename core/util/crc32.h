/* CRC-32 as the ESP32 ROM computes it (esp-idf-formats.md §5.3). */
#ifndef ATOTA_CORE_UTIL_CRC32_H
#define ATOTA_CORE_UTIL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* esp_rom_crc32_le(crc, buf, len): reflected polynomial 0xEDB88320, the register is inverted on
 * entry and on exit. atota_crc32_le(0, b, n) is the standard CRC-32 (zlib crc32(0, b, n));
 * atota_crc32_le(0xFFFFFFFF, b, n) is the otadata CRC. */
uint32_t atota_crc32_le(uint32_t crc, const void *buf, size_t len);

/* Little-endian loads and stores: every on-flash field is little-endian. */
static inline uint16_t atota_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t atota_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void atota_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void atota_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

#endif /* ATOTA_CORE_UTIL_CRC32_H */
