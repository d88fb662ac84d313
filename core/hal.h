/*
 * The one interface from the core to a port (ARCHITECTURE.md). The core never calls the OS; every
 * effect goes through a struct of function pointers that a port fills in, with a context pointer
 * of the port's own (MCUboot's flash_area_*, Zephyr's stream_flash). Any number of flashes can
 * exist in one process: there is no global state.
 *
 * Flash contract (SPI NOR, as on ESP32 modules):
 *  - Erased flash reads 0xFF.
 *  - erase(addr, len): addr and len are multiples of ATOTA_FLASH_SECTOR_SIZE; the range becomes
 *    0xFF. A port erases each 64 KB-aligned run of 64 KB with one block erase and the rest with
 *    4 KB sector erases; each of those is one flash operation.
 *  - write(addr, data, len): NOR programming can only clear bits (new = old & data). A port in
 *    strict mode refuses a write onto bytes that are not erased (ATOTA_ERR_FLASH_NOT_ERASED).
 *    Any length and alignment is accepted; a port splits at 256-byte page boundaries.
 *  - read(addr, buf, len): any length and alignment.
 *  - Every address range must lie inside [0, size): else ATOTA_ERR_FLASH_RANGE.
 *  - After a power cut (fault injection in a port) every operation fails with
 *    ATOTA_ERR_FLASH_POWER_CUT until the port powers the flash on again.
 */
#ifndef ATOTA_CORE_HAL_H
#define ATOTA_CORE_HAL_H

#include <stdint.h>

#include "core/err.h"

#define ATOTA_FLASH_SECTOR_SIZE 0x1000u  /* erase unit */
#define ATOTA_FLASH_BLOCK_SIZE  0x10000u /* large erase unit, also the MMU page */
#define ATOTA_FLASH_PAGE_SIZE   0x100u   /* program page */

typedef struct {
    atota_err_t (*read)(void *ctx, uint32_t addr, void *buf, uint32_t len);
    atota_err_t (*write)(void *ctx, uint32_t addr, const void *data, uint32_t len);
    atota_err_t (*erase)(void *ctx, uint32_t addr, uint32_t len);
} atota_flash_ops_t;

typedef struct {
    const atota_flash_ops_t *ops;
    void *ctx;     /* the port's own state */
    uint32_t size; /* bytes */
} atota_flash_t;

static inline atota_err_t atota_flash_read(const atota_flash_t *f, uint32_t addr, void *buf,
                                           uint32_t len)
{
    return f->ops->read(f->ctx, addr, buf, len);
}

static inline atota_err_t atota_flash_write(const atota_flash_t *f, uint32_t addr, const void *data,
                                            uint32_t len)
{
    return f->ops->write(f->ctx, addr, data, len);
}

static inline atota_err_t atota_flash_erase(const atota_flash_t *f, uint32_t addr, uint32_t len)
{
    return f->ops->erase(f->ctx, addr, len);
}

#endif /* ATOTA_CORE_HAL_H */
