/*
 * The 2nd-stage bootloader's choice of app, as esp-idf-formats.md §7 writes it in pseudocode
 * (bootloader_utility_get_selected_boot_partition, bootloader_utility_load_boot_image,
 * set_actual_ota_seq), with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE as an option and without
 * anti-rollback. The partition table comes in as a struct (the caller has read and verified it).
 */
#include "core/ota/boot.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define INVALID_INDEX (-99)
#define MAX_OTA_SLOTS 16

/* The bootloader_state_t the bootloader builds from the table (§7 boot()). */
typedef struct {
    const atota_partition_t *factory;
    const atota_partition_t *test;
    const atota_partition_t *ota[MAX_OTA_SLOTS];
    const atota_partition_t *ota_info;
    unsigned app_count;
} boot_state_t;

/* What one run knows and has done, so the reason can be written at the end. */
typedef struct {
    const atota_flash_t *flash;
    const atota_boot_opts_t *opts;
    atota_boot_result_t *result;
    boot_state_t bs;
    atota_otadata_entry_t od[2];
    bool ota_has_initial_contents;
    int active;
    size_t reason_len;
} boot_run_t;

static void reason_add(boot_run_t *run, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void reason_add(boot_run_t *run, const char *fmt, ...)
{
    char *reason = run->result->reason;
    size_t cap = sizeof run->result->reason;
    if (run->reason_len >= cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(reason + run->reason_len, cap - run->reason_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        run->reason_len +=
            (size_t)n < cap - run->reason_len ? (size_t)n : cap - 1 - run->reason_len;
}

unsigned atota_boot_ota_slots(const atota_partition_table_t *table,
                              const atota_partition_t *slots[16])
{
    /* §5.4: the app (esp_ota_get_app_partition_count) and otatool stop at the first missing
     * ota_N. */
    unsigned n = 0;
    for (; n < MAX_OTA_SLOTS; n++) {
        const atota_partition_t *found = NULL;
        for (unsigned i = 0; i < table->count && found == NULL; i++) {
            const atota_partition_t *p = &table->entries[i];
            if (p->type == ATOTA_PT_TYPE_APP && p->subtype == ATOTA_PT_SUBTYPE_APP_OTA_0 + n)
                found = p;
        }
        if (found == NULL)
            break;
        slots[n] = found;
    }
    return n;
}

static void load_state(const atota_partition_table_t *table, boot_state_t *bs)
{
    /* §7 boot(): the last entry of each kind wins; app_count counts every ota_N subtype, but only
     * ota[i] with i < app_count can ever be used (index_to_partition). A table with ota_0 and
     * ota_2 has app_count 2 and an empty ota[1]: only ota_0 can boot, the contiguous rule. */
    memset(bs, 0, sizeof *bs);
    unsigned count = table->count < ATOTA_PT_MAX_ENTRIES ? table->count : ATOTA_PT_MAX_ENTRIES;
    for (unsigned i = 0; i < count; i++) {
        const atota_partition_t *e = &table->entries[i];
        if (e->type == ATOTA_PT_TYPE_APP) {
            if (e->subtype == ATOTA_PT_SUBTYPE_APP_FACTORY) {
                bs->factory = e;
            } else if (e->subtype == ATOTA_PT_SUBTYPE_APP_TEST) {
                bs->test = e;
            } else if ((e->subtype & 0xF0u) == ATOTA_PT_SUBTYPE_APP_OTA_0) {
                bs->ota[e->subtype & 0x0Fu] = e;
                bs->app_count++;
            }
        } else if (e->type == ATOTA_PT_TYPE_DATA && e->subtype == ATOTA_PT_SUBTYPE_DATA_OTA) {
            bs->ota_info = e;
        }
    }
}

/* index_to_partition: the app partition of a boot index, or NULL when that slot is empty. */
static const atota_partition_t *index_to_partition(const boot_state_t *bs, int index)
{
    const atota_partition_t *p = NULL;
    if (index == ATOTA_BOOT_FACTORY)
        p = bs->factory;
    else if (index == ATOTA_BOOT_TEST)
        p = bs->test;
    else if (index >= 0 && (unsigned)index < bs->app_count && index < MAX_OTA_SLOTS)
        p = bs->ota[index];
    return p != NULL && p->size != 0 ? p : NULL;
}

static const char *index_name(const boot_state_t *bs, int index, char buf[24])
{
    const atota_partition_t *p = index_to_partition(bs, index);
    if (p != NULL && p->name[0] != '\0')
        return p->name;
    if (index == ATOTA_BOOT_FACTORY)
        return "factory";
    if (index == ATOTA_BOOT_TEST)
        return "test";
    snprintf(buf, 24, "ota_%d", index);
    return buf;
}

/* FACTORY_INDEX when there is no factory app: load_boot_image then tries every slot. */
static const char *factory_or_all(const boot_state_t *bs)
{
    return index_to_partition(bs, ATOTA_BOOT_FACTORY) != NULL ? "factory"
                                                              : "no factory app, trying every slot";
}

/* Writes (or, in a dry run, counts) one otadata sector, as write_otadata does. */
static atota_err_t write_otadata(boot_run_t *run, int copy)
{
    run->result->otadata_writes++;
    if (run->opts->dry_run)
        return ATOTA_OK;
    return atota_otadata_write_copy(run->flash, run->bs.ota_info->offset, copy, &run->od[copy]);
}

/* bootloader_utility_get_selected_boot_partition (§7). Returns ATOTA_OK with *index set, or a
 * flash error, or ATOTA_ERR_OTADATA_SIZE (INVALID_INDEX: the chip resets). */
static atota_err_t get_selected_boot_partition(boot_run_t *run, int *index, atota_diag_t *diag)
{
    const boot_state_t *bs = &run->bs;
    char sb[12];

    *index = INVALID_INDEX;
    if (bs->ota_info == NULL || bs->ota_info->offset == 0) {
        reason_add(run, "no otadata partition: %s", factory_or_all(bs));
        *index = ATOTA_BOOT_FACTORY;
        return ATOTA_OK;
    }
    if (bs->ota_info->size < ATOTA_OTADATA_SIZE) {
        reason_add(run,
                   "otadata partition '%s' is 0x%x bytes, less than 0x2000: the bootloader "
                   "resets",
                   bs->ota_info->name, (unsigned)bs->ota_info->size);
        return atota_diag_set(diag, ATOTA_ERR_OTADATA_SIZE, "%s", run->result->reason);
    }
    atota_err_t err = atota_otadata_read(run->flash, bs->ota_info->offset, run->od);
    if (err != ATOTA_OK)
        return atota_diag_set(diag, err, "reading otadata at 0x%x: %s",
                              (unsigned)bs->ota_info->offset, atota_strerror(err));

    if (run->opts->rollback_enabled) {
        /* The rollback trigger: an app that was booted once and never confirmed did not make it.
         * The sweep looks at the state only (no CRC) and runs before selection, on both copies;
         * the entry is written back as read, CRC untouched. */
        for (int i = 0; i < 2; i++) {
            if (run->od[i].state != ATOTA_OTA_STATE_PENDING_VERIFY)
                continue;
            run->od[i].state = ATOTA_OTA_STATE_ABORTED;
            err = write_otadata(run, i);
            if (err != ATOTA_OK)
                return atota_diag_set(diag, err, "marking otadata copy %d ABORTED: %s", i,
                                      atota_strerror(err));
            reason_add(run, "otadata copy %d (seq %u) PENDING_VERIFY -> ABORTED (rollback); ", i,
                       (unsigned)run->od[i].seq);
        }
    }

    if ((atota_otadata_entry_invalid(&run->od[0]) && atota_otadata_entry_invalid(&run->od[1])) ||
        bs->app_count == 0) {
        const char *why =
            bs->app_count == 0 ? "no OTA app partitions" : "both otadata copies invalid";
        if (bs->factory != NULL && bs->factory->offset != 0) {
            reason_add(run, "%s: factory", why);
            *index = ATOTA_BOOT_FACTORY;
            return ATOTA_OK;
        }
        bool blank[2];
        for (int i = 0; i < 2; i++)
            blank[i] = run->od[i].seq == ATOTA_OTADATA_SEQ_EMPTY ||
                       run->od[i].crc != atota_otadata_crc(run->od[i].seq);
        run->ota_has_initial_contents = blank[0] && blank[1];
        reason_add(run, "%s%s and no factory app: ota_0", why,
                   run->ota_has_initial_contents ? " (blank)" : "");
        *index = 0;
        return ATOTA_OK;
    }

    run->active = atota_otadata_select(run->od);
    if (run->active == -1) {
        reason_add(run, "no otadata copy passes its CRC: %s", factory_or_all(bs));
        *index = ATOTA_BOOT_FACTORY;
        return ATOTA_OK;
    }

    atota_otadata_entry_t *a = &run->od[run->active];
    *index = (int)atota_otadata_slot(a->seq, bs->app_count);
    char ib[24];
    if (run->opts->rollback_enabled && a->state == ATOTA_OTA_STATE_NEW) {
        /* Selected once: if this app never confirms itself, the next boot aborts it. */
        a->state = ATOTA_OTA_STATE_PENDING_VERIFY;
        err = write_otadata(run, run->active);
        if (err != ATOTA_OK)
            return atota_diag_set(diag, err, "marking otadata copy %d PENDING_VERIFY: %s",
                                  run->active, atota_strerror(err));
        reason_add(run, "otadata copy %d (seq %u, NEW -> PENDING_VERIFY) selects %s", run->active,
                   (unsigned)a->seq, index_name(bs, *index, ib));
    } else {
        reason_add(run, "otadata copy %d (seq %u, %s) selects %s", run->active, (unsigned)a->seq,
                   atota_otadata_state_name(a->state, sb), index_name(bs, *index, ib));
    }
    return ATOTA_OK;
}

/* A flash error that stops the bootloader itself, as opposed to an image that fails to verify. */
static bool is_flash_failure(atota_err_t err)
{
    return err == ATOTA_ERR_FLASH_POWER_CUT || err == ATOTA_ERR_IO;
}

/* load_and_verify (§2.7 with SHA, chip id and revision). ATOTA_OK: bootable. */
static atota_err_t verify_partition(boot_run_t *run, const atota_partition_t *p)
{
    atota_image_opts_t o;
    memset(&o, 0, sizeof o);
    o.check_chip = true;
    o.chip_id = run->opts->chip_id;
    o.check_chip_rev = true;
    o.chip_rev = run->opts->chip_rev;
    o.max_len = p->size;
    o.flash_offset = p->offset;
    return atota_image_verify_flash(run->flash, p->offset, p->size, &o, NULL, NULL);
}

/* set_actual_ota_seq (§7): blank otadata and no factory app; record the OTA slot that booted. */
static atota_err_t set_actual_ota_seq(boot_run_t *run, int index, atota_diag_t *diag)
{
    if (index <= ATOTA_BOOT_FACTORY || !run->ota_has_initial_contents)
        return ATOTA_OK;
    atota_otadata_entry_t *e = &run->od[0];
    memset(e, 0xFF, sizeof *e);
    e->seq = (uint32_t)index + 1u;
    e->state = ATOTA_OTA_STATE_VALID;
    e->crc = atota_otadata_crc(e->seq);
    atota_err_t err = write_otadata(run, 0);
    if (err != ATOTA_OK)
        return atota_diag_set(diag, err, "recording seq %u in otadata copy 0: %s", (unsigned)e->seq,
                              atota_strerror(err));
    reason_add(run, "; seq %u VALID %s otadata copy 0", (unsigned)e->seq,
               run->opts->dry_run ? "would be written to" : "written to");
    return ATOTA_OK;
}

/* Tries one index; *booted is true when it verified and became the result. */
static atota_err_t try_index(boot_run_t *run, int start, int index, bool *booted,
                             atota_diag_t *diag)
{
    const atota_partition_t *p = index_to_partition(&run->bs, index);
    *booted = false;
    if (p == NULL)
        return ATOTA_OK;

    atota_err_t err = verify_partition(run, p);
    if (is_flash_failure(err))
        return atota_diag_set(diag, err, "reading %s: %s", p->name, atota_strerror(err));
    if (err != ATOTA_OK) {
        /* The bootloader logs and moves on; otadata is not rewritten (§7 consequences). The
         * one-line message keeps the reason short; `atota image info` gives the details. */
        reason_add(run, "; %s fails verification (%s)", p->name, atota_strerror(err));
        return ATOTA_OK;
    }

    atota_boot_result_t *r = run->result;
    if (index != start) {
        char ib[24];
        reason_add(run, "; fell back to %s", index_name(&run->bs, index, ib));
    }
    err = set_actual_ota_seq(run, index, diag);
    if (err != ATOTA_OK)
        return err;
    r->index = index;
    r->partition = *p;
    if (atota_image_read_app_desc(run->flash, p->offset, &r->app_desc) != ATOTA_OK)
        memset(&r->app_desc, 0, sizeof r->app_desc);
    r->otadata_copy = index == start && index >= 0 ? run->active : -1;
    *booted = true;
    return ATOTA_OK;
}

/* bootloader_utility_load_boot_image (§7): start, down to factory, forward, then test. */
static atota_err_t load_boot_image(boot_run_t *run, int start, atota_diag_t *diag)
{
    bool booted = false;
    atota_err_t err;

    if (start == ATOTA_BOOT_TEST) {
        err = try_index(run, start, ATOTA_BOOT_TEST, &booted, diag);
        if (err != ATOTA_OK || booted)
            return err;
    } else {
        for (int i = start; i >= ATOTA_BOOT_FACTORY; i--) {
            err = try_index(run, start, i, &booted, diag);
            if (err != ATOTA_OK || booted)
                return err;
        }
        for (int i = start + 1; i < (int)run->bs.app_count; i++) {
            err = try_index(run, start, i, &booted, diag);
            if (err != ATOTA_OK || booted)
                return err;
        }
        err = try_index(run, start, ATOTA_BOOT_TEST, &booted, diag);
        if (err != ATOTA_OK || booted)
            return err;
    }
    reason_add(run, "; no bootable app partition: the chip resets");
    return atota_diag_set(diag, ATOTA_ERR_NO_BOOTABLE_APP, "%s", run->result->reason);
}

atota_err_t atota_boot_select(const atota_flash_t *flash, const atota_partition_table_t *table,
                              const atota_boot_opts_t *opts, atota_boot_result_t *result,
                              atota_diag_t *diag)
{
    if (flash == NULL || table == NULL || opts == NULL || result == NULL)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "atota_boot_select: NULL argument");

    memset(result, 0, sizeof *result);
    result->index = INVALID_INDEX;
    result->otadata_copy = -1;
    result->active_copy = -1;

    boot_run_t run;
    memset(&run, 0, sizeof run);
    run.flash = flash;
    run.opts = opts;
    run.result = result;
    run.active = -1;
    load_state(table, &run.bs);

    int start;
    atota_err_t err = get_selected_boot_partition(&run, &start, diag);
    result->selected_index = start;
    result->active_copy = run.active;
    if (err != ATOTA_OK)
        return err;
    return load_boot_image(&run, start, diag);
}
