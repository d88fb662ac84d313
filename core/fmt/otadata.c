/*
 * The OTA data partition (esp-idf-formats.md §5). Every write goes through
 * atota_otadata_write_copy, which is IDF's rewrite_ota_seq / the bootloader's write_otadata: erase
 * the copy's 4 KB sector, then program its 32 bytes. A copy is therefore never half-updated in a
 * way that passes the CRC of a seq it was not given: a cut leaves it erased (seq 0xFFFFFFFF,
 * invalid), partly programmed (the CRC of the seq field no longer matches, or the state is some
 * value the selection treats as it would any other), or complete.
 */
#include "core/fmt/otadata.h"

#include <string.h>

#include "core/util/crc32.h"

#define OTADATA_SEQ_OFF   0x00
#define OTADATA_LABEL_OFF 0x04
#define OTADATA_STATE_OFF 0x18
#define OTADATA_CRC_OFF   0x1C

uint32_t atota_otadata_crc(uint32_t seq)
{
    /* §5.3: esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4) over the little-endian bytes. */
    uint8_t le[4];
    atota_put_le32(le, seq);
    return atota_crc32_le(UINT32_MAX, le, sizeof le);
}

void atota_otadata_decode(const uint8_t raw[ATOTA_OTADATA_ENTRY_LEN], atota_otadata_entry_t *e)
{
    e->seq = atota_le32(raw + OTADATA_SEQ_OFF);
    memcpy(e->seq_label, raw + OTADATA_LABEL_OFF, sizeof e->seq_label);
    e->state = atota_le32(raw + OTADATA_STATE_OFF);
    e->crc = atota_le32(raw + OTADATA_CRC_OFF);
}

void atota_otadata_encode(const atota_otadata_entry_t *e, uint8_t raw[ATOTA_OTADATA_ENTRY_LEN])
{
    atota_put_le32(raw + OTADATA_SEQ_OFF, e->seq);
    memcpy(raw + OTADATA_LABEL_OFF, e->seq_label, sizeof e->seq_label);
    atota_put_le32(raw + OTADATA_STATE_OFF, e->state);
    atota_put_le32(raw + OTADATA_CRC_OFF, e->crc);
}

const char *atota_otadata_state_name(uint32_t state, char buf[12])
{
    static const char *const names[] = {"NEW", "PENDING_VERIFY", "VALID", "INVALID", "ABORTED"};
    static const char hex[] = "0123456789abcdef";

    if (state < sizeof names / sizeof names[0])
        return names[state];
    if (state == ATOTA_OTA_STATE_UNDEFINED)
        return "UNDEFINED";
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 8; i++)
        buf[2 + i] = hex[(state >> (28 - 4 * i)) & 0xFu];
    buf[10] = '\0';
    return buf;
}

bool atota_otadata_entry_invalid(const atota_otadata_entry_t *e)
{
    /* §5.4: the bootloader's invalid() looks at seq and state only. */
    return e->seq == ATOTA_OTADATA_SEQ_EMPTY || e->state == ATOTA_OTA_STATE_INVALID ||
           e->state == ATOTA_OTA_STATE_ABORTED;
}

bool atota_otadata_entry_valid(const atota_otadata_entry_t *e)
{
    return !atota_otadata_entry_invalid(e) && e->crc == atota_otadata_crc(e->seq);
}

int atota_otadata_select(const atota_otadata_entry_t e[2])
{
    /* §5.4 select_otadata(max=true): MAX(seq0, seq1) == seq0 sends a tie to copy 0. */
    bool ok0 = atota_otadata_entry_valid(&e[0]);
    bool ok1 = atota_otadata_entry_valid(&e[1]);

    if (ok0 && ok1)
        return e[0].seq >= e[1].seq ? 0 : 1;
    if (ok0)
        return 0;
    if (ok1)
        return 1;
    return -1;
}

unsigned atota_otadata_slot(uint32_t seq, unsigned slot_count)
{
    /* §5.4: uint32 arithmetic, so seq 0 maps to 0xFFFFFFFF % n, as on the chip. */
    return (unsigned)((uint32_t)(seq - 1u) % (uint32_t)slot_count);
}

atota_err_t atota_otadata_read(const atota_flash_t *flash, uint32_t offset,
                               atota_otadata_entry_t e[2])
{
    /* §5.1: copy i is the first 32 bytes of sector i of the partition. */
    for (int i = 0; i < 2; i++) {
        uint8_t raw[ATOTA_OTADATA_ENTRY_LEN];
        atota_err_t err = atota_flash_read(flash, offset + (uint32_t)i * ATOTA_FLASH_SECTOR_SIZE,
                                           raw, sizeof raw);
        if (err != ATOTA_OK)
            return err;
        atota_otadata_decode(raw, &e[i]);
    }
    return ATOTA_OK;
}

atota_err_t atota_otadata_write_copy(const atota_flash_t *flash, uint32_t offset, int copy,
                                     const atota_otadata_entry_t *e)
{
    if (copy != 0 && copy != 1)
        return ATOTA_ERR_INVALID_ARG;
    uint32_t addr = offset + (uint32_t)copy * ATOTA_FLASH_SECTOR_SIZE;
    uint8_t raw[ATOTA_OTADATA_ENTRY_LEN];
    atota_otadata_encode(e, raw);

    /* §5.5 rewrite_ota_seq: erase the sector, then program the entry; the rest stays 0xFF. */
    atota_err_t err = atota_flash_erase(flash, addr, ATOTA_FLASH_SECTOR_SIZE);
    if (err != ATOTA_OK)
        return err;
    return atota_flash_write(flash, addr, raw, sizeof raw);
}

/* rewrite_ota_seq: the entry read from that copy (seq_label and state as the caller left them),
 * with the new seq and its CRC. */
static atota_err_t rewrite_ota_seq(const atota_flash_t *flash, uint32_t offset,
                                   atota_otadata_entry_t two[2], uint32_t seq, int copy)
{
    two[copy].seq = seq;
    two[copy].crc = atota_otadata_crc(seq);
    return atota_otadata_write_copy(flash, offset, copy, &two[copy]);
}

atota_err_t atota_otadata_set_boot_slot(const atota_flash_t *flash, uint32_t offset, unsigned slot,
                                        unsigned slot_count, bool rollback_enabled)
{
    if (slot_count == 0 || slot_count > 16 || slot >= slot_count)
        return ATOTA_ERR_NO_OTA_SLOT;

    atota_otadata_entry_t two[2];
    atota_err_t err = atota_otadata_read(flash, offset, two);
    if (err != ATOTA_OK)
        return err;

    int active = atota_otadata_select(two);
    int next;
    uint32_t new_seq;
    if (active != -1) {
        /* §5.5 (v4.4 ... v5.5): the smallest (slot + 1) % n + i * n that is >= the active seq,
         * always in the other copy, so a cut leaves the active copy in charge. Computed without
         * IDF's loop; a result that would reach 0xFFFFFFFF (the empty marker) cannot be
         * represented and is refused. */
        uint64_t n = slot_count;
        uint64_t base = (slot + 1u) % n;
        uint64_t seq = two[active].seq;
        uint64_t i = seq > base ? (seq - base + n - 1u) / n : 0u;
        uint64_t candidate = base + i * n;
        if (candidate >= ATOTA_OTADATA_SEQ_EMPTY)
            return ATOTA_ERR_STATE;
        new_seq = (uint32_t)candidate;
        next = 1 - active;
    } else {
        next = 0;
        new_seq = slot + 1u;
    }
    two[next].state = rollback_enabled ? ATOTA_OTA_STATE_NEW : ATOTA_OTA_STATE_UNDEFINED;
    return rewrite_ota_seq(flash, offset, two, new_seq, next);
}

static atota_err_t set_active_state(const atota_flash_t *flash, uint32_t offset, uint32_t state)
{
    atota_otadata_entry_t two[2];
    atota_err_t err = atota_otadata_read(flash, offset, two);
    if (err != ATOTA_OK)
        return err;
    int active = atota_otadata_select(two);
    if (active == -1)
        return ATOTA_ERR_OTADATA_INVALID; /* IDF: "Running firmware is factory" */
    if (two[active].state == state)
        return ATOTA_OK;
    /* §5.5: in place, on the active copy (the non-atomic window IDF has too). */
    two[active].state = state;
    return rewrite_ota_seq(flash, offset, two, two[active].seq, active);
}

atota_err_t atota_otadata_mark_valid(const atota_flash_t *flash, uint32_t offset)
{
    return set_active_state(flash, offset, ATOTA_OTA_STATE_VALID);
}

atota_err_t atota_otadata_mark_invalid(const atota_flash_t *flash, uint32_t offset)
{
    return set_active_state(flash, offset, ATOTA_OTA_STATE_INVALID);
}

atota_err_t atota_otadata_erase(const atota_flash_t *flash, uint32_t offset)
{
    /* §5.5 step 2: esp_ota_set_boot_partition(factory) erases the whole partition. */
    return atota_flash_erase(flash, offset, ATOTA_OTADATA_SIZE);
}
