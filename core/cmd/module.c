/*
 * One simulated ESP-AT module: the boot sequence and the settings kept in NVS (docs/module.md).
 *
 * Boot follows what a real module does from reset to "ready":
 *   1. the 2nd-stage bootloader reads the partition table at CONFIG_PARTITION_TABLE_OFFSET (0x8000;
 *      ESP-AT builds it without an MD5 row, esp-at-ota.md §5.1) and chooses the app with
 *      rollback (core/ota/boot.c, writing otadata as the real one does);
 *   2. the app starts: ESP-AT finds at_customize.bin at the start of the at_customize partition
 *      (§5.2), opens NVS (nvs_flash_init: a partition that is not NVS is erased and formatted),
 *      configures the AT UART from NVS (namespace "UART"; the defaults are stored when absent,
 *      as at_uart_interface.c does), registers the command sets;
 *   3. esp_at_init marks a PENDING_VERIFY app valid just before "\r\nready\r\n" (§6), then a
 *      saved station reconnects (auto-connect).
 */
#include "core/cmd/module.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/fmt/otadata.h"

/* NVS names (docs/module.md). "UART" and its keys are ESP-AT's own (at_uart_api.c), so a flash
 * from a real module keeps its UART settings here and the other way round. */
#define NVS_NS_UART      "UART"
#define NVS_NS_SYS       "atota.sys" /* ESP-AT's names for these are in its closed core */
#define NVS_KEY_SYSMSG   "sysmsg"
#define NVS_KEY_SYSSTORE "sysstore"

/* ESP-IDF's uart_parity_t: AT's 0 none, 1 odd, 2 even are stored as these (at_uart_api.c keeps
 * the driver's values in NVS). */
#define IDF_PARITY_DISABLE 0
#define IDF_PARITY_EVEN    2
#define IDF_PARITY_ODD     3

void atota_module_log(const atota_module_t *m, const char *fmt, ...)
{
    if (!m->host || !m->host->log)
        return;
    char line[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    m->host->log(m->host->ctx, line);
}

/* The chip revision a module reports when the options give none (docs/module.md): the revision
 * of the chips sold in ESP-AT's modules today. */
static uint16_t default_chip_rev(uint16_t chip_id)
{
    switch (chip_id) {
    case ATOTA_CHIP_ESP32:
        return 300; /* v3.0 (ECO3), WROOM-32E and later */
    case ATOTA_CHIP_ESP32C3:
        return 4; /* v0.4 */
    case ATOTA_CHIP_ESP32C2:
        return 102; /* v1.2 */
    default:
        return 0;
    }
}

/* A stable base MAC for the module (docs/module.md): Espressif's OUI 24:0A:C4 and the low three
 * bytes of an FNV-1a hash of the profile name and the flash size, so that the same flash file
 * always gets the same MACs and different profiles get different ones. */
static void derive_base_mac(const atota_profile_t *p, uint8_t mac[6])
{
    uint32_t h = 2166136261u;
    for (const char *s = p->name; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    for (int i = 0; i < 4; i++)
        h = (h ^ (uint8_t)(p->flash_size >> (8 * i))) * 16777619u;
    mac[0] = 0x24;
    mac[1] = 0x0A;
    mac[2] = 0xC4;
    mac[3] = (uint8_t)(h >> 16);
    mac[4] = (uint8_t)(h >> 8);
    mac[5] = (uint8_t)h & 0xFE; /* even: the softAP's MAC is base + 1 without a carry */
}

/* ---- NVS settings ------------------------------------------------------------------------ */

/* Writes an integer unless NVS already holds that value (nvs_set_* skips identical writes too). */
static atota_err_t nvs_put_int(atota_nvs_t *nvs, const char *ns, const char *key,
                               atota_nvs_type_t type, int64_t value)
{
    int64_t old;
    if (atota_nvs_get_int(nvs, ns, key, type, &old) == ATOTA_OK && old == value)
        return ATOTA_OK;
    return atota_nvs_set_int(nvs, ns, key, type, value);
}

static void uart_defaults(atota_uart_cfg_t *u)
{
    /* esp-at main/interface/uart/Kconfig: CONFIG_AT_UART_DEFAULT_DATABITS 8, _STOPBITS 1,
     * _PARITY_BITS 0, _FLOW_CONTROL 1 (RTS); the baud rate from factory_param_data.csv
     * (uart_baudrate 115200 for every UART module). */
    u->baud = 115200;
    u->data_bits = 8;
    u->stop_bits = 1;
    u->parity = 0;
    u->flow = 1;
}

atota_err_t atota_module_save_uart_def(atota_module_t *m)
{
    if (!m->nvs_ok)
        return ATOTA_OK;
    const atota_uart_cfg_t *u = &m->sys.uart_def;
    static const uint8_t parity_idf[3] = {IDF_PARITY_DISABLE, IDF_PARITY_ODD, IDF_PARITY_EVEN};
    atota_err_t err;
    /* at_nvs_uart_config_set_internal: i32 rate, i8 databits (uart_word_length_t, bits - 5),
     * i8 stopbits (1, 2 = 1.5, 3 = 2), i8 parity (uart_parity_t), i8 flow_ctrl. */
    if ((err = nvs_put_int(&m->nvs, NVS_NS_UART, "rate", ATOTA_NVS_I32, (int64_t)u->baud)) ||
        (err = nvs_put_int(&m->nvs, NVS_NS_UART, "databits", ATOTA_NVS_I8, u->data_bits - 5)) ||
        (err = nvs_put_int(&m->nvs, NVS_NS_UART, "stopbits", ATOTA_NVS_I8, u->stop_bits)) ||
        (err = nvs_put_int(&m->nvs, NVS_NS_UART, "parity", ATOTA_NVS_I8,
                           parity_idf[u->parity <= 2 ? u->parity : 0])) ||
        (err = nvs_put_int(&m->nvs, NVS_NS_UART, "flow_ctrl", ATOTA_NVS_I8, u->flow)))
        return err;
    return ATOTA_OK;
}

atota_err_t atota_module_save_sysstore(atota_module_t *m)
{
    if (!m->nvs_ok)
        return ATOTA_OK;
    return nvs_put_int(&m->nvs, NVS_NS_SYS, NVS_KEY_SYSSTORE, ATOTA_NVS_U8, m->sys.sysstore);
}

atota_err_t atota_module_save_settings(atota_module_t *m)
{
    if (!m || !m->nvs_ok || !m->sys.sysstore)
        return ATOTA_OK;
    atota_err_t err =
        nvs_put_int(&m->nvs, NVS_NS_SYS, NVS_KEY_SYSMSG, ATOTA_NVS_U32, m->sys.sysmsg);
    if (err)
        return err;
    return atota_wifi_save(&m->wifi, &m->nvs);
}

/* at_nvs_uart_config_get: all five keys or nothing; each value is taken only when in range.
 * Returns false when the set is incomplete (the caller stores the defaults, as ESP-AT does). */
static bool load_uart_def(atota_module_t *m)
{
    static const char *const keys[5] = {"rate", "databits", "stopbits", "parity", "flow_ctrl"};
    static const atota_nvs_type_t types[5] = {ATOTA_NVS_I32, ATOTA_NVS_I8, ATOTA_NVS_I8,
                                              ATOTA_NVS_I8, ATOTA_NVS_I8};
    int64_t v[5];
    for (int i = 0; i < 5; i++)
        if (atota_nvs_get_int(&m->nvs, NVS_NS_UART, keys[i], types[i], &v[i]) != ATOTA_OK)
            return false;
    atota_uart_cfg_t *u = &m->sys.uart_def;
    if (v[0] >= 80 && v[0] <= 5000000)
        u->baud = (uint32_t)v[0];
    if (v[1] >= 0 && v[1] <= 3)
        u->data_bits = (uint8_t)(v[1] + 5);
    if (v[2] >= 1 && v[2] <= 3)
        u->stop_bits = (uint8_t)v[2];
    if (v[3] == IDF_PARITY_DISABLE)
        u->parity = 0;
    else if (v[3] == IDF_PARITY_ODD)
        u->parity = 1;
    else if (v[3] == IDF_PARITY_EVEN)
        u->parity = 2;
    if (v[4] >= 0 && v[4] <= 3)
        u->flow = (uint8_t)v[4];
    return true;
}

static void load_settings(atota_module_t *m)
{
    atota_sys_settings_t *s = &m->sys;
    uart_defaults(&s->uart_def);
    s->sysmsg = 0;   /* Basic_AT_Commands.rst: every bit off unless set */
    s->sysstore = 1; /* Basic_AT_Commands.rst: "1: ... stored into flash. (Default)" */
    if (!m->nvs_ok)
        return;
    if (!load_uart_def(m)) {
        atota_err_t err = atota_module_save_uart_def(m);
        if (err)
            atota_module_log(m, "nvs: storing the default UART settings: %s", atota_strerror(err));
    }
    int64_t v;
    if (atota_nvs_get_int(&m->nvs, NVS_NS_SYS, NVS_KEY_SYSSTORE, ATOTA_NVS_U8, &v) == ATOTA_OK &&
        v <= 1)
        s->sysstore = (uint8_t)v;
    if (atota_nvs_get_int(&m->nvs, NVS_NS_SYS, NVS_KEY_SYSMSG, ATOTA_NVS_U32, &v) == ATOTA_OK &&
        v <= 7)
        s->sysmsg = (uint32_t)v;
}

/* ---- boot -------------------------------------------------------------------------------- */

static bool is_power_loss(atota_err_t err)
{
    return err == ATOTA_ERR_FLASH_POWER_CUT || err == ATOTA_ERR_IO;
}

/* The primary table (the bootloader's first step) and at_customize.bin (ESP-AT's). */
static atota_err_t read_tables(atota_module_t *m, atota_diag_t *diag)
{
    uint8_t buf[ATOTA_PT_BIN_SIZE];
    uint32_t off = m->profile.partition_table_offset;
    if ((uint64_t)off + sizeof buf > m->flash->size)
        return atota_diag_set(diag, ATOTA_ERR_NO_BOOTABLE_APP,
                              "no partition table: offset 0x%x is past the end of the %u-byte "
                              "flash",
                              (unsigned)off, (unsigned)m->flash->size);
    atota_err_t err = atota_flash_read(m->flash, off, buf, sizeof buf);
    if (err)
        return atota_diag_set(diag, err, "reading the partition table at 0x%x: %s", (unsigned)off,
                              atota_strerror(err));
    atota_diag_t d = {{0}};
    err = atota_partition_table_parse_bin(buf, sizeof buf, &m->table, &d);
    if (!err && m->table.count == 0)
        err = atota_diag_set(&d, ATOTA_ERR_PT_MAGIC, "no partition entries (erased flash?)");
    if (err)
        /* The bootloader stops here ("Failed to verify partition table") and the chip resets
         * forever: nothing boots. */
        return atota_diag_set(diag, ATOTA_ERR_NO_BOOTABLE_APP,
                              "no valid partition table at 0x%x: %s; the module does not boot",
                              (unsigned)off, atota_diag_text(&d, err));

    const atota_partition_t *ac =
        atota_partition_find_type(&m->table, ATOTA_PT_TYPE_AT_CUSTOMIZE, 0);
    m->at_customize.count = 0;
    m->at_customize_offset = ac ? ac->offset : 0;
    if (!ac) {
        atota_module_log(
            m, "at_customize: no at_customize partition (type 0x40 subtype 0) in the table");
        return ATOTA_OK;
    }
    if ((uint64_t)ac->offset + sizeof buf > m->flash->size) {
        atota_module_log(m, "at_customize: partition at 0x%x is past the end of the flash",
                         (unsigned)ac->offset);
        return ATOTA_OK;
    }
    err = atota_flash_read(m->flash, ac->offset, buf, sizeof buf);
    if (err)
        return atota_diag_set(diag, err, "reading at_customize.bin at 0x%x: %s",
                              (unsigned)ac->offset, atota_strerror(err));
    atota_diag_clear(&d);
    err = atota_partition_table_parse_bin(buf, sizeof buf, &m->at_customize, &d);
    if (err) {
        /* ESP-AT logs "find secondary partition failed" and runs without the user partitions. */
        m->at_customize.count = 0;
        bool blank = true;
        for (size_t i = 0; i < sizeof buf && blank; i++)
            blank = buf[i] == 0xFF;
        atota_module_log(m, "at_customize: %s at 0x%x; no user partitions",
                         blank ? "no at_customize.bin (erased)" : atota_diag_text(&d, err),
                         (unsigned)ac->offset);
    }
    return ATOTA_OK;
}

/* ATOTA's firmware completes a custom-partition update that a power cut interrupted after its
 * commit point (core/ota/part_update.h) before anything reads the partition. */
static atota_err_t complete_partition_update(atota_module_t *m, atota_diag_t *diag)
{
    if (m->at_customize.count == 0)
        return ATOTA_OK;
    char label[ATOTA_PT_NAME_LEN + 1] = "";
    atota_diag_t d = {{0}};
    atota_err_t err = atota_part_update_recover(m->flash, &m->table, &m->at_customize, label, &d);
    if (err && is_power_loss(err))
        return atota_diag_set(diag, err, "completing a partition update: %s",
                              atota_diag_text(&d, err));
    if (err)
        atota_module_log(m, "ciupdate: an interrupted partition update was dropped: %s",
                         atota_diag_text(&d, err));
    else if (label[0])
        atota_module_log(m, "ciupdate: completed the interrupted update of %s", label);
    return ATOTA_OK;
}

/* nvs_flash_init on the `nvs` partition, with ESP-AT's retry: NO_FREE_PAGES / NEW_VERSION_FOUND
 * (a partition that is not NVS this code can use) -> nvs_flash_erase and init again. */
static atota_err_t open_nvs(atota_module_t *m, atota_diag_t *diag)
{
    const atota_partition_t *p = atota_partition_find(&m->table, "nvs");
    if (!p || p->type != ATOTA_PT_TYPE_DATA || p->subtype != ATOTA_PT_SUBTYPE_DATA_NVS) {
        atota_module_log(m, "nvs: no `nvs` data partition: settings are not kept across reboots");
        return ATOTA_OK;
    }
    atota_diag_t d = {{0}};
    atota_err_t err = atota_nvs_open(&m->nvs, m->flash, p->offset, p->size, false, &d);
    if (err == ATOTA_ERR_NVS_CORRUPT) {
        atota_module_log(m,
                         "nvs: partition at 0x%x is not usable NVS (%s): erasing and formatting it",
                         (unsigned)p->offset, atota_diag_text(&d, err));
        atota_diag_clear(&d);
        err = atota_nvs_open(&m->nvs, m->flash, p->offset, p->size, true, &d);
    }
    if (err) {
        if (is_power_loss(err))
            return atota_diag_set(diag, err, "nvs at 0x%x: %s", (unsigned)p->offset,
                                  atota_diag_text(&d, err));
        atota_module_log(m, "nvs: cannot open the partition at 0x%x (%s): settings are not kept",
                         (unsigned)p->offset, atota_diag_text(&d, err));
        return ATOTA_OK;
    }
    m->nvs_ok = true;
    return ATOTA_OK;
}

/* The running image's firmware configuration (core/fmt/fwconfig.h), or ESP-AT's defaults. */
static atota_err_t read_fwconfig(atota_module_t *m, atota_diag_t *diag)
{
    atota_fwconfig_defaults(&m->config);
    const atota_partition_t *p = &m->boot.partition;
    atota_image_opts_t o;
    memset(&o, 0, sizeof o);
    o.check_chip = true;
    o.chip_id = m->profile.chip->id;
    atota_image_info_t info;
    atota_diag_t d = {{0}};
    atota_err_t err = atota_image_verify_flash(m->flash, p->offset, p->size, &o, &info, &d);
    if (!err)
        err = atota_fwconfig_read_flash(m->flash, p->offset, &info, &m->config, &d);
    if (err) {
        if (is_power_loss(err))
            return atota_diag_set(diag, err, "reading the running image: %s",
                                  atota_diag_text(&d, err));
        atota_module_log(m, "fwconfig: %s: using ESP-AT's defaults", atota_diag_text(&d, err));
        atota_fwconfig_defaults(&m->config);
    }
    if (m->config.module_name[0] == '\0')
        snprintf(m->config.module_name, sizeof m->config.module_name, "%s", m->profile.module_name);
    return ATOTA_OK;
}

/* esp_ota_mark_app_valid_cancel_rollback from esp_at_init (esp-at-ota.md §6): only when the
 * otadata entry that chose the running app says PENDING_VERIFY. */
static atota_err_t mark_valid_if_pending(atota_module_t *m, atota_diag_t *diag)
{
    if (m->boot.otadata_copy < 0)
        return ATOTA_OK; /* factory or test app, or blank otadata: nothing to confirm */
    const atota_partition_t *od =
        atota_partition_find_type(&m->table, ATOTA_PT_TYPE_DATA, ATOTA_PT_SUBTYPE_DATA_OTA);
    if (!od)
        return ATOTA_OK;
    atota_otadata_entry_t e[2];
    atota_err_t err = atota_otadata_read(m->flash, od->offset, e);
    if (!err && e[m->boot.otadata_copy].state != ATOTA_OTA_STATE_PENDING_VERIFY)
        return ATOTA_OK;
    if (!err)
        err = atota_otadata_mark_valid(m->flash, od->offset);
    if (err) {
        if (is_power_loss(err))
            return atota_diag_set(diag, err, "marking the app valid: %s", atota_strerror(err));
        /* esp_at_init only logs a failure and goes on to "ready" */
        atota_module_log(m, "ota: marking %s valid: %s", m->boot.partition.name,
                         atota_strerror(err));
        return ATOTA_OK;
    }
    atota_module_log(m, "ota: %s confirmed (PENDING_VERIFY -> VALID)", m->boot.partition.name);
    return ATOTA_OK;
}

atota_err_t atota_module_boot(atota_module_t *m, const atota_flash_t *flash,
                              const atota_module_host_t *host, const atota_module_opts_t *opts,
                              atota_diag_t *diag)
{
    if (!m || !flash || !host)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "atota_module_boot: NULL argument");
    unsigned boots = m->flash == flash ? m->boots : 0;
    if (m->flash == flash)
        atota_webserver_reset(m); /* a reset kills the web server */
    memset(m, 0, sizeof *m);
    m->flash = flash;
    m->host = host;
    m->boots = boots + 1;
    if (opts)
        m->opts = *opts;
    if (!m->opts.profile_name)
        m->opts.profile_name = "esp32-wroom-32";

    atota_err_t err = atota_profile_load(m->opts.profile_name, &m->profile, diag);
    if (err)
        return err;
    if (m->opts.chip_rev == 0)
        m->opts.chip_rev = default_chip_rev(m->profile.chip->id);

    if ((err = read_tables(m, diag)))
        return err;

    atota_boot_opts_t bo;
    memset(&bo, 0, sizeof bo);
    bo.rollback_enabled = m->profile.rollback_enabled;
    bo.chip_id = m->profile.chip->id;
    bo.chip_rev = m->opts.chip_rev;
    err = atota_boot_select(flash, &m->table, &bo, &m->boot, diag);
    atota_module_log(m, "boot #%u: %s", m->boots, m->boot.reason);
    if (err)
        return err;

    if ((err = complete_partition_update(m, diag)) || (err = read_fwconfig(m, diag)) ||
        (err = open_nvs(m, diag)))
        return err;
    load_settings(m);
    m->uart_cur = m->sys.uart_def; /* the AT UART starts with the stored configuration */
    m->rfpower[0] = 78;            /* factory_param_data.csv max_tx_power 78 (19.5 dBm) */
    /* BLE levels (not simulated beyond the numbers): ESP-IDF's default controller TX power
     * index, +3 dBm on ESP32 (ESP_PWR_LVL_P3 = 5), +9 dBm on the newer chips (P9 = 11). */
    uint8_t ble = m->profile.chip->id == ATOTA_CHIP_ESP32 ? 5 : 11;
    m->rfpower[1] = m->rfpower[2] = m->rfpower[3] = ble;

    uint8_t mac[6];
    derive_base_mac(&m->profile, mac);
    atota_wifi_init(&m->wifi, m->opts.aps, m->opts.ap_count, mac);
    if (m->nvs_ok) {
        err = atota_wifi_load(&m->wifi, &m->nvs);
        if (err) {
            if (is_power_loss(err))
                return atota_diag_set(diag, err, "loading Wi-Fi settings: %s", atota_strerror(err));
            atota_module_log(m, "nvs: loading Wi-Fi settings: %s", atota_strerror(err));
        }
    }

    atota_at_init(&m->at, host->write, host->ctx);
    /* ESP-AT's order: base, Wi-Fi, the OTA commands (esp_at_ota_cmd_regist), UART, the user
     * commands (AT+USEROTA), then the web server (esp_at_web_server_cmd_regist). */
    if ((err = atota_cmd_system_register(m)) || (err = atota_cmd_wifi_register(m)) ||
        (err = atota_cmd_ciupdate_register(m)) || (err = atota_cmd_uart_register(m)) ||
        (err = atota_cmd_userota_register(m)) || (err = atota_cmd_webserver_register(m)))
        return atota_diag_set(diag, err, "registering the AT commands: %s", atota_strerror(err));

    if (host->set_uart)
        host->set_uart(host->ctx, m->uart_cur.baud, m->uart_cur.data_bits, m->uart_cur.stop_bits,
                       m->uart_cur.parity, m->uart_cur.flow);

    if ((err = mark_valid_if_pending(m, diag)))
        return err;
    atota_at_write(&m->at, "\r\nready\r\n", 9); /* at_init.c s_ready_str (§1.2) */
    atota_wifi_start(m);
    return ATOTA_OK;
}

void atota_module_writer_opts(const atota_module_t *m, atota_ota_writer_opts_t *wo)
{
    memset(wo, 0, sizeof *wo);
    wo->flash = m->flash;
    wo->table = &m->table;
    wo->running = &m->boot.partition;
    wo->rollback_enabled = m->profile.rollback_enabled;
    wo->chip_id = m->profile.chip->id;
    wo->chip_rev = m->opts.chip_rev;
}

void atota_module_feed(atota_module_t *m, const void *data, size_t len)
{
    if (m)
        atota_at_feed(&m->at, data, len);
}

void atota_module_poll(atota_module_t *m)
{
    if (!m)
        return;
    atota_wifi_poll(m);
    atota_download_poll(&m->download);
    atota_ciupdate_poll(m);
    atota_webserver_poll(m);
}
