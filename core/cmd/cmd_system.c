/*
 * ESP-AT's basic commands (AT_Command_Set/Basic_AT_Commands.rst; esp-at-ota.md §1, §6) and its
 * UART commands (components/at/src/at_uart_cmd.c). AT+SYSFLASH is in cmd_sysflash.c.
 * docs/module.md lists every format with its source and the choices made where the sources
 * are silent.
 *
 * Commands that restart the module write their "\r\nOK\r\n" themselves and return SILENT, so the
 * restart (or the UART change) is asked for after the OK is out, as ESP-AT does (OK, wait for
 * the UART to drain, then act: esp-at-ota.md §1.6, at_uart_cmd.c).
 */
#include "core/cmd/module.h"

#include <stdio.h>
#include <string.h>

#include "core/fmt/otadata.h"

static const char RESULT_OK[] = "\r\nOK\r\n";

static atota_at_rc_t ok_then_restart(atota_at_t *at, atota_module_t *m)
{
    atota_at_write(at, RESULT_OK, sizeof RESULT_OK - 1);
    if (m->host && m->host->restart)
        m->host->restart(m->host->ctx);
    return ATOTA_AT_SILENT;
}

/* ---- AT, ATE0, ATE1, AT+RST ---------------------------------------------------------------- */

static atota_at_rc_t cmd_at(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at, (void)ctx, (void)p;
    return ATOTA_AT_OK;
}

static atota_at_rc_t cmd_ate0(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    at->echo = false;
    return ATOTA_AT_OK;
}

static atota_at_rc_t cmd_ate1(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    at->echo = true;
    return ATOTA_AT_OK;
}

static atota_at_rc_t cmd_rst(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    return ok_then_restart(at, ctx);
}

/* ---- AT+GMR ------------------------------------------------------------------------------ */

/* "v3.3.0.0" -> 3,3,0,0 and suffix ""; "v4.2.0.0-dev" -> 4,2,0,0 and "-dev" (§1.5: the core's
 * "%d.%d.%d.%d%s"). Fewer than four numbers are completed with zeros ("v2.1" -> 2.1.0.0); a
 * version without a leading number gives 0.0.0.0 (docs/module.md). The suffix is kept only when
 * it starts with '-'. */
void atota_module_parse_version(const char *v, unsigned num[4], const char **suffix)
{
    memset(num, 0, 4 * sizeof num[0]);
    *suffix = "";
    const char *s = v;
    if (*s == 'v' || *s == 'V')
        s++;
    if (*s < '0' || *s > '9')
        return;
    for (int i = 0; i < 4; i++) {
        if (*s < '0' || *s > '9')
            break;
        unsigned n = 0;
        while (*s >= '0' && *s <= '9') {
            if (n < 100000)
                n = n * 10 + (unsigned)(*s - '0');
            s++;
        }
        num[i] = n;
        if (i < 3 && s[0] == '.' && s[1] >= '0' && s[1] <= '9')
            s++;
        else
            break;
    }
    if (*s == '-')
        *suffix = s;
}

static void hex_digits(const uint8_t *bytes, unsigned digits, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < digits; i++)
        out[i] = hex[(bytes[i / 2] >> (i % 2 ? 0 : 4)) & 0xF];
    out[digits] = '\0';
}

static atota_at_rc_t cmd_gmr(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    const atota_app_desc_t *d = &m->boot.app_desc;
    unsigned v[4];
    const char *suffix;
    atota_module_parse_version(d->version, v, &suffix);
    /* The two commits (the closed core's and the esp-at project's) are not in the image: they
     * are taken from the app's ELF SHA-256, 7 and 8 hex digits like the real ones. */
    char core[8], project[9];
    hex_digits(d->app_elf_sha256, 7, core);
    hex_digits(d->app_elf_sha256 + 4, 8, project);
    /* "ESP32-C3" -> "ESP32C3": the core prints CONFIG_IDF_TARGET upper-cased (§1.5 examples). */
    char chip[16];
    size_t n = 0;
    for (const char *s = m->profile.chip->name; *s && n + 1 < sizeof chip; s++)
        if (*s != '-')
            chip[n++] = *s;
    chip[n] = '\0';
    atota_at_printf(at, "AT version:%u.%u.%u.%u%s(%s - %s - %s %s)\r\n", v[0], v[1], v[2], v[3],
                    suffix, core, chip, d->date, d->time);
    atota_at_printf(at, "SDK version:%s\r\n", d->idf_ver);
    atota_at_printf(at, "compile time(%s):%s %s\r\n", project, d->date, d->time);
    atota_at_printf(at, "Bin version:%s(%s)\r\n", d->version, m->config.module_name);
    return ATOTA_AT_OK;
}

/* ---- AT+CMD? ----------------------------------------------------------------------------- */

static atota_at_rc_t cmd_cmd_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    const atota_at_cmd_t *c;
    for (unsigned i = 0; (c = atota_at_cmd_at(at, i)) != NULL; i++)
        /* §1.1 [lib]: "%s:%d,\"AT%s\",%d,%d,%d,%d\r\n" */
        atota_at_printf(at, "+CMD:%u,\"AT%s\",%d,%d,%d,%d\r\n", i, c->name, c->test != NULL,
                        c->query != NULL, c->set != NULL, c->exec != NULL);
    return ATOTA_AT_OK;
}

/* ---- AT+RESTORE -------------------------------------------------------------------------- */

static atota_at_rc_t cmd_restore(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    /* "restore all parameters saved in flash to factory default settings" and restart: the
     * whole nvs partition is erased (nvs_flash_erase); the next boot stores the defaults. */
    if (m->nvs_ok && atota_nvs_erase_all(&m->nvs) != ATOTA_OK)
        return ATOTA_AT_ERROR;
    return ok_then_restart(at, m);
}

/* ---- AT+SYSROLLBACK ---------------------------------------------------------------------- */

/* esp_ota_get_next_update_partition(NULL): the OTA slot after the running one (ota_0 after a
 * factory or test app); NULL when there is no other slot. */
static const atota_partition_t *other_slot(const atota_module_t *m, unsigned *slot, unsigned *count)
{
    const atota_partition_t *slots[16];
    unsigned n = atota_boot_ota_slots(&m->table, slots);
    *count = n;
    if (n == 0)
        return NULL;
    unsigned next = m->boot.index >= 0 ? ((unsigned)m->boot.index + 1) % n : 0;
    if (m->boot.index >= 0 && next == (unsigned)m->boot.index)
        return NULL; /* a single OTA slot, running */
    *slot = next;
    return slots[next];
}

static atota_at_rc_t cmd_sysrollback_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    unsigned slot, count;
    const atota_partition_t *other = other_slot(m, &slot, &count);
    if (!other)
        return ATOTA_AT_ERROR;
    /* esp_ota_get_partition_description: an empty version when the slot holds no app. */
    atota_app_desc_t desc;
    if (atota_image_read_app_desc(m->flash, other->offset, &desc) != ATOTA_OK)
        desc.version[0] = '\0';
    /* §6 [lib]: "%s:0x%x,\"%s\",0x%x,\"%s\"" */
    atota_at_printf(at, "+SYSROLLBACK:0x%x,\"%s\",0x%x,\"%s\"\r\n",
                    (unsigned)m->boot.partition.offset, m->boot.app_desc.version,
                    (unsigned)other->offset, desc.version);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cmd_sysrollback_exec(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    unsigned slot, count;
    const atota_partition_t *other = other_slot(m, &slot, &count);
    const atota_partition_t *od =
        atota_partition_find_type(&m->table, ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_OTA);
    if (!other || !od)
        return ATOTA_AT_ERROR;
    /* esp_ota_set_boot_partition verifies the image (esp_image_verify: chip, revision, checksum,
     * hash) before it writes otadata (§6: "invalid target -> ERROR"). */
    atota_image_opts_t o;
    memset(&o, 0, sizeof o);
    o.check_chip = true;
    o.chip_id = m->profile.chip->id;
    o.check_chip_rev = true;
    o.chip_rev = m->opts.chip_rev;
    if (atota_image_verify_flash(m->flash, other->offset, other->size, &o, NULL, NULL) != ATOTA_OK)
        return ATOTA_AT_ERROR;
    if (atota_otadata_set_boot_slot(m->flash, od->offset, slot, count,
                                    m->profile.rollback_enabled) != ATOTA_OK)
        return ATOTA_AT_ERROR;
    return ok_then_restart(at, m); /* at_handle_restart */
}

/* ---- AT+RFPOWER -------------------------------------------------------------------------- */

/* Basic_AT_Commands.rst, AT+RFPOWER: the Wi-Fi power a query reports for a set value. ESP32:
 * the level table ([40,43] -> 34, ..., [78,84] -> 78); the other chips report the set value. */
static uint8_t wifi_power_get_value(uint16_t chip, int64_t set)
{
    if (chip != ATOTA_CHIP_ESP32)
        return (uint8_t)set;
    static const struct {
        uint8_t from, value;
    } levels[] = {{78, 78}, {72, 72}, {66, 66}, {60, 60}, {56, 56}, {52, 52}, {44, 44}, {40, 34}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (set >= levels[i].from)
            return levels[i].value;
    return 34;
}

/* Whether the chip reports the three Bluetooth LE levels, and their range. */
static bool ble_power_range(uint16_t chip, int64_t *min, int64_t *max)
{
    switch (chip) {
    case ATOTA_CHIP_ESP32:
        *min = 0, *max = 7;
        return true;
    case ATOTA_CHIP_ESP32C3:
        *min = 0, *max = 15;
        return true;
    case ATOTA_CHIP_ESP32C6:
        *min = 3, *max = 15;
        return true;
    default: /* ESP32-C2, ESP32-S2: "+RFPOWER:<wifi_power>" only */
        return false;
    }
}

static atota_at_rc_t cmd_rfpower_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    int64_t min, max;
    if (m->wifi.mode == 0)
        return ATOTA_AT_ERROR; /* "When Wi-Fi is turned off ... cannot set or query" */
    if (ble_power_range(m->profile.chip->id, &min, &max))
        atota_at_printf(at, "+RFPOWER:%u,%u,%u,%u\r\n", m->rfpower[0], m->rfpower[1], m->rfpower[2],
                        m->rfpower[3]);
    else
        atota_at_printf(at, "+RFPOWER:%u\r\n", m->rfpower[0]);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cmd_rfpower_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    uint16_t chip = m->profile.chip->id;
    int64_t min = 0, max = 0, v[4];
    bool ble = ble_power_range(chip, &min, &max);
    if (!atota_at_count(at, p, 1, ble ? 4 : 1) || !atota_at_int(at, p, 0, 40, 84, &v[0]))
        return ATOTA_AT_ERROR;
    for (unsigned i = 1; i < 4 && ble; i++)
        if (!atota_at_int_opt(at, p, i, min, max, m->rfpower[i], &v[i]))
            return ATOTA_AT_ERROR;
    if (m->wifi.mode == 0)
        return ATOTA_AT_ERROR;
    m->rfpower[0] = wifi_power_get_value(chip, v[0]);
    for (unsigned i = 1; i < 4 && ble; i++)
        m->rfpower[i] = (uint8_t)v[i];
    return ATOTA_AT_OK;
}

/* ---- AT+SYSMSG, AT+SYSLOG, AT+SYSSTORE --------------------------------------------------- */

static atota_at_rc_t cmd_sysmsg_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    atota_at_printf(at, "+SYSMSG:%u\r\n", (unsigned)m->sys.sysmsg);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cmd_sysmsg_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    int64_t v;
    /* bit0 +QUITT, bit1 +LINK_CONN, bit2 passthrough status messages */
    if (!atota_at_count(at, p, 1, 1) || !atota_at_int(at, p, 0, 0, 7, &v))
        return ATOTA_AT_ERROR;
    m->sys.sysmsg = (uint32_t)v;
    /* "saved in the NVS area if AT+SYSSTORE=1" */
    return atota_module_save_settings(m) == ATOTA_OK ? ATOTA_AT_OK : ATOTA_AT_ERROR;
}

static atota_at_rc_t cmd_syslog_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx, (void)p;
    atota_at_printf(at, "+SYSLOG:%d\r\n", at->syslog ? 1 : 0);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cmd_syslog_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)ctx;
    int64_t v;
    if (!atota_at_count(at, p, 1, 1) || !atota_at_int(at, p, 0, 0, 1, &v))
        return ATOTA_AT_ERROR;
    at->syslog = v == 1;
    return ATOTA_AT_OK;
}

static atota_at_rc_t cmd_sysstore_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    atota_at_printf(at, "+SYSSTORE:%u\r\n", m->sys.sysstore);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cmd_sysstore_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    int64_t v;
    if (!atota_at_count(at, p, 1, 1) || !atota_at_int(at, p, 0, 0, 1, &v))
        return ATOTA_AT_ERROR;
    m->sys.sysstore = (uint8_t)v;
    return atota_module_save_sysstore(m) == ATOTA_OK ? ATOTA_AT_OK : ATOTA_AT_ERROR;
}

/* ESP-AT's registration order for the ones simulated here (a real ESP32 module's AT+CMD? lists
 * AT, ATE0, ATE1, AT+RST, AT+GMR, AT+CMD, AT+GSLP, ..., AT+RESTORE, AT+SYSRAM, AT+SYSFLASH,
 * AT+RFPOWER, AT+SYSMSG, AT+SYSROLLBACK, AT+SYSLOG, AT+SYSSTORE, ...; docs/module.md). */
static const atota_at_cmd_t system_cmds[] = {
    {"", NULL, NULL, NULL, cmd_at},
    {"E0", NULL, NULL, NULL, cmd_ate0},
    {"E1", NULL, NULL, NULL, cmd_ate1},
    {"+RST", NULL, NULL, NULL, cmd_rst},
    {"+GMR", NULL, NULL, NULL, cmd_gmr},
    {"+CMD", NULL, cmd_cmd_query, NULL, NULL},
    {"+RESTORE", NULL, NULL, NULL, cmd_restore},
    {"+SYSFLASH", NULL, atota_cmd_sysflash_query, atota_cmd_sysflash_set, NULL},
    {"+RFPOWER", NULL, cmd_rfpower_query, cmd_rfpower_set, NULL},
    {"+SYSMSG", NULL, cmd_sysmsg_query, cmd_sysmsg_set, NULL},
    {"+SYSROLLBACK", NULL, cmd_sysrollback_query, NULL, cmd_sysrollback_exec},
    {"+SYSLOG", NULL, cmd_syslog_query, cmd_syslog_set, NULL},
    {"+SYSSTORE", NULL, cmd_sysstore_query, cmd_sysstore_set, NULL},
};

atota_err_t atota_cmd_system_register(atota_module_t *m)
{
    return atota_at_add_table(&m->at, system_cmds, sizeof system_cmds / sizeof system_cmds[0], m);
}

/* ---- AT+UART, AT+UART_CUR, AT+UART_DEF (at_uart_cmd.c) ----------------------------------- */

/* What uart_get_baudrate reads back after uart_set_baudrate(baud) with an 80 MHz APB source
 * clock: the divider has a 4-bit fraction, so the rate is 80 MHz * 16 / (80 MHz * 16 / baud)
 * ("may have minor differences from the set value because of the clock division"). ESP32's
 * integer part has 20 bits; the newer chips (12 bits) add a pre-divider for low rates
 * (uart_ll_set_baudrate / uart_ll_get_baudrate). */
static uint32_t uart_actual_baud(uint16_t chip, uint32_t baud)
{
    const uint64_t sclk16 = 80000000ull << 4;
    uint64_t pre = 1;
    if (chip != ATOTA_CHIP_ESP32) {
        const uint64_t max_div = (1u << 12) - 1;
        pre = (80000000ull + max_div * baud - 1) / (max_div * baud);
    }
    uint64_t div = sclk16 / ((uint64_t)baud * pre);
    if (div == 0)
        return baud;
    return (uint32_t)(sclk16 / (div * pre));
}

static void print_uart(atota_at_t *at, const char *name, const atota_uart_cfg_t *u, uint32_t baud)
{
    /* at_uart_cmd.c: "%s:%d,%d,%d,%d,%d\r\n" with the command's name */
    atota_at_printf(at, "%s:%u,%u,%u,%u,%u\r\n", name, (unsigned)baud, u->data_bits, u->stop_bits,
                    u->parity, u->flow);
}

static atota_at_rc_t cmd_uart_cur_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    const char *name = at->current ? at->current->name : "+UART_CUR";
    print_uart(at, name, &m->uart_cur, uart_actual_baud(m->profile.chip->id, m->uart_cur.baud));
    return ATOTA_AT_OK;
}

static atota_at_rc_t cmd_uart_def_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    print_uart(at, "+UART_DEF", &m->sys.uart_def, m->sys.uart_def.baud);
    return ATOTA_AT_OK;
}

/* at_setup_cmd_uart_common: five numbers, each in range, exactly five; the stored copy first
 * (UART_DEF), then OK, then the UART changes. */
static atota_at_rc_t uart_set(atota_at_t *at, atota_module_t *m, const atota_at_params_t *p,
                              bool save)
{
    int64_t baud, data, stop, parity, flow;
    if (!atota_at_count(at, p, 5, 5) || !atota_at_int(at, p, 0, 80, 5000000, &baud) ||
        !atota_at_int(at, p, 1, 5, 8, &data) || !atota_at_int(at, p, 2, 1, 3, &stop) ||
        !atota_at_int(at, p, 3, 0, 2, &parity) || !atota_at_int(at, p, 4, 0, 3, &flow))
        return ATOTA_AT_ERROR;
    atota_uart_cfg_t u = {(uint32_t)baud, (uint8_t)data, (uint8_t)stop, (uint8_t)parity,
                          (uint8_t)flow};
    if (save) {
        atota_uart_cfg_t old = m->sys.uart_def;
        m->sys.uart_def = u;
        if (atota_module_save_uart_def(m) != ATOTA_OK) {
            m->sys.uart_def = old;
            return ATOTA_AT_ERROR;
        }
    }
    m->uart_cur = u;
    atota_at_write(at, RESULT_OK, sizeof RESULT_OK - 1);
    if (m->host && m->host->set_uart)
        m->host->set_uart(m->host->ctx, u.baud, u.data_bits, u.stop_bits, u.parity, u.flow);
    return ATOTA_AT_SILENT;
}

static atota_at_rc_t cmd_uart_cur_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    return uart_set(at, ctx, p, false);
}

static atota_at_rc_t cmd_uart_def_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    return uart_set(at, ctx, p, true);
}

static const atota_at_cmd_t uart_cmds[] = {
    {"+UART", NULL, cmd_uart_cur_query, cmd_uart_def_set, NULL},
    {"+UART_CUR", NULL, cmd_uart_cur_query, cmd_uart_cur_set, NULL},
    {"+UART_DEF", NULL, cmd_uart_def_query, cmd_uart_def_set, NULL},
};

atota_err_t atota_cmd_uart_register(atota_module_t *m)
{
    return atota_at_add_table(&m->at, uart_cmds, sizeof uart_cmds / sizeof uart_cmds[0], m);
}
