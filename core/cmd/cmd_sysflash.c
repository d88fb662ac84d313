/*
 * AT+SYSFLASH: the user partitions of at_customize.bin, erased, written and read by hand
 * (Basic_AT_Commands.rst; esp-at-ota.md §5.4). Only the partitions of the secondary table are
 * reachable, as esp_at_custom_partition_find searches only that table (§5.2).
 *
 *   AT+SYSFLASH? +SYSFLASH:"<name>",<type>,<subtype>,0x<addr>,0x<size>
 *   AT+SYSFLASH=0,"<name>"[,<offset>,<length>] erase (all of it, or 4 KB-aligned offset/length)
 *   AT+SYSFLASH=1,"<name>",<offset>,<length>   ">" then exactly <length> raw bytes, written as
 *                                              they arrive onto erased bytes (else ERROR after
 *                                              the last byte)
 *   AT+SYSFLASH=2,"<name>",<offset>,<length>   +SYSFLASH:<length>,<raw bytes>\r\n
 *
 * Errors (docs/module.md): an unknown partition or a range outside it is PARA_INVALID
 * (0x01070000); data onto bytes that are not erased, or a flash failure, is EXEC_FAIL
 * (0x010a0000).
 */
#include "core/cmd/module.h"

#include <string.h>

#define SYSFLASH_ERASE 0
#define SYSFLASH_WRITE 1
#define SYSFLASH_READ  2

#define CHUNK 256 /* bytes read from flash at a time */

atota_at_rc_t atota_cmd_sysflash_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    if (m->at_customize.count == 0)
        return ATOTA_AT_ERROR; /* "make sure that you have downloaded at_customize.bin" */
    for (unsigned i = 0; i < m->at_customize.count; i++) {
        const atota_partition_t *e = &m->at_customize.entries[i];
        /* §5.4 [lib]: "%s:\"%s\",%d,%d,0x%x,0x%x" */
        atota_at_printf(at, "+SYSFLASH:\"%s\",%u,%u,0x%x,0x%x\r\n", e->name, e->type, e->subtype,
                        (unsigned)e->offset, (unsigned)e->size);
    }
    return ATOTA_AT_OK;
}

static bool given(const atota_at_params_t *p, unsigned i)
{
    return i < p->count && p->p[i].kind != ATOTA_AT_PARAM_OMITTED;
}

static atota_at_rc_t invalid(atota_at_t *at)
{
    atota_at_set_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_INVALID));
    return ATOTA_AT_ERROR;
}

/* Whether [addr, addr + len) reads all 0xFF (NOR programming only clears bits: writing onto
 * anything else would not give the bytes sent). */
static bool range_erased(const atota_flash_t *flash, uint32_t addr, uint32_t len)
{
    uint8_t buf[CHUNK];
    while (len > 0) {
        uint32_t n = len < CHUNK ? len : CHUNK;
        if (atota_flash_read(flash, addr, buf, n) != ATOTA_OK)
            return false;
        for (uint32_t i = 0; i < n; i++)
            if (buf[i] != 0xFF)
                return false;
        addr += n;
        len -= n;
    }
    return true;
}

/* Each chunk as it arrives: refused when its bytes are not erased ("please make sure that you
 * have already erased this partition"; NOR programming only clears bits, so the bytes would not
 * be those sent), else written. A refusal or a flash failure aborts the transfer: the engine
 * swallows the rest and writes ERROR after the last byte; the chunks before stay written. */
static atota_at_rc_t write_data(atota_at_t *at, void *ctx, const uint8_t *data, size_t len,
                                bool last)
{
    (void)at, (void)last;
    atota_module_t *m = ctx;
    if (len > m->sysflash_left)
        len = m->sysflash_left;
    if (len > 0 && (!range_erased(m->flash, m->sysflash_addr, (uint32_t)len) ||
                    atota_flash_write(m->flash, m->sysflash_addr, data, (uint32_t)len))) {
        m->sysflash_left = 0;
        return ATOTA_AT_ERROR;
    }
    m->sysflash_addr += (uint32_t)len;
    m->sysflash_left -= (uint32_t)len;
    return ATOTA_AT_OK;
}

/* Flash reads fail only after a power cut, when nothing more reaches the host anyway: the line
 * then ends where the failure came, and ERROR follows. */
static atota_at_rc_t read_out(atota_at_t *at, const atota_flash_t *flash, uint32_t addr,
                              uint32_t len)
{
    uint8_t buf[CHUNK];
    atota_at_printf(at, "+SYSFLASH:%u,", (unsigned)len);
    for (uint32_t done = 0; done < len;) {
        uint32_t n = len - done < CHUNK ? len - done : CHUNK;
        if (atota_flash_read(flash, addr + done, buf, n) != ATOTA_OK)
            return ATOTA_AT_ERROR;
        atota_at_write(at, buf, n);
        done += n;
    }
    atota_at_write(at, "\r\n", 2);
    return ATOTA_AT_OK;
}

atota_at_rc_t atota_cmd_sysflash_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    int64_t op, off = 0, len = 0;
    const char *name;
    size_t name_len;
    if (!atota_at_count(at, p, 2, 4) || !atota_at_int(at, p, 0, 0, 2, &op) ||
        !atota_at_str(at, p, 1, ATOTA_PT_NAME_LEN, &name, &name_len))
        return ATOTA_AT_ERROR;
    const atota_partition_t *part = atota_partition_find(&m->at_customize, name);
    if (!part)
        return invalid(at);

    bool range = given(p, 2) || given(p, 3);
    if (range || op != SYSFLASH_ERASE) {
        if (!atota_at_count(at, p, 4, 4) || !atota_at_int(at, p, 2, 0, UINT32_MAX, &off) ||
            !atota_at_int(at, p, 3, 0, UINT32_MAX, &len))
            return ATOTA_AT_ERROR;
        if (len == 0 || off + len > (int64_t)part->size)
            return invalid(at);
    }
    uint32_t addr = part->offset + (uint32_t)off;

    switch (op) {
    case SYSFLASH_ERASE:
        if (!range)
            len = part->size; /* AT+SYSFLASH=0,"<name>": the whole partition */
        else if (off % ATOTA_FLASH_SECTOR_SIZE || len % ATOTA_FLASH_SECTOR_SIZE)
            return invalid(at); /* "they have to be 4KB-aligned" */
        return atota_flash_erase(m->flash, addr, (uint32_t)len) == ATOTA_OK ? ATOTA_AT_OK
                                                                            : ATOTA_AT_ERROR;
    case SYSFLASH_WRITE:
        m->sysflash_addr = addr;
        m->sysflash_left = (uint32_t)len;
        atota_at_expect_data(at, (size_t)len, write_data, m);
        return ATOTA_AT_PROMPT;
    default:
        return read_out(at, m->flash, addr, (uint32_t)len);
    }
}
