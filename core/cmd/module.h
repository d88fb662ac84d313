/*
 * One simulated ESP-AT module: its flash (the whole persistent state), what booted from it, the
 * running firmware's configuration, the settings in its NVS, the volatile state of its commands,
 * and the AT engine that reaches them. The host program (apps/atota-sim) provides a port
 * (atota_module_host_t): time, a log, and a way to restart. Everything here is portable core
 * code; a reboot is atota_module_boot() again over the same flash.
 *
 * Command tables live in core/cmd/cmd_<group>.c and are registered by atota_module_boot():
 *   cmd_system.c  AT, ATE0, ATE1, AT+RST, AT+GMR, AT+CMD?, AT+RESTORE, AT+SYSROLLBACK, AT+RFPOWER,
 *                 AT+SYSMSG, AT+SYSLOG, AT+SYSSTORE; AT+UART, AT+UART_CUR, AT+UART_DEF (a table
 *                 of their own, registered after the OTA commands as ESP-AT does)
 *   cmd_sysflash.c AT+SYSFLASH
 *   cmd_wifi.c    AT+CWMODE, AT+CWDHCP, AT+CWAUTOCONN, AT+CWJAP, AT+CWQAP, AT+CWLAP, AT+CWLAPOPT,
 *                 AT+CIPSTA?, AT+CIPAP?, AT+CIPSTAMAC?, AT+CIPAPMAC?, AT+CIFSR, AT+CIPMUX,
 *                 AT+CIPRECVMODE, AT+CIPV6, AT+CIPDINFO, AT+CIPSTATUS, AT+CIPSTATE?; and in its
 *                 table, after AT+CWQAP, cmd_softap.c's AT+CWSAP and AT+CWLIF
 *   cmd_userota.c AT+USEROTA
 *   cmd_ciupdate.c AT+CIUPDATE, AT+CIPFWVER?
 *   cmd_webserver.c AT+WEBSERVER (its endpoints: web_wifi.c provisioning, web_upload.c uploads;
 *                 the page core/cmd/web/index.html, embedded by the build), registered last,
 *                 after AT+USEROTA, as ESP-AT's esp_at_web_server_cmd_regist follows
 *                 esp_at_user_cmd_regist
 */
#ifndef ATOTA_CORE_CMD_MODULE_H
#define ATOTA_CORE_CMD_MODULE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/at/at.h"
#include "core/cmd/ciupdate.h"
#include "core/cmd/webserver.h"
#include "core/cmd/wifi.h"
#include "core/err.h"
#include "core/fmt/fwconfig.h"
#include "core/fmt/nvs.h"
#include "core/fmt/partition.h"
#include "core/fmt/profile.h"
#include "core/hal.h"
#include "core/net/http.h"
#include "core/net/httpd.h"
#include "core/net/stream.h"
#include "core/ota/boot.h"
#include "core/ota/download.h"

typedef struct {
    void *ctx;
    /* Monotonic milliseconds. */
    uint64_t (*now_ms)(void *ctx);
    /* One line for the simulator's own log (not the AT port), without a newline. */
    void (*log)(void *ctx, const char *line);
    /* Bytes for the AT port. */
    void (*write)(void *ctx, const void *data, size_t len);
    /* Asks for a restart once the output written so far has drained (AT+RST, AT+SYSROLLBACK,
     * AT+RESTORE, the end of an OTA). The host then calls atota_module_boot() again. */
    void (*restart)(void *ctx);
    /* The UART's baud rate and framing changed (AT+UART_CUR/DEF); may be NULL. */
    void (*set_uart)(void *ctx, uint32_t baud, unsigned data_bits, unsigned stop_bits,
                     unsigned parity, unsigned flow);
    /* The host's network for the station (AT+USEROTA, AT+CIUPDATE); ops NULL: none. Usable only
     * while the virtual station is connected (atota_wifi_connected), as on a module. */
    atota_http_t http;
    /* The host's TCP/TLS streams for the station (AT+CIUPDATE's raw requests, core/net/stream.h);
     * ops NULL: none. Same rule as http. */
    atota_stream_t stream;
    /* The host's HTTP server for the module's web server (AT+WEBSERVER, core/net/httpd.h); ops
     * NULL: none (AT+WEBSERVER=1 is then ERROR). */
    atota_httpd_t httpd;
} atota_module_host_t;

typedef struct {
    const char *profile_name;   /* module profile ("esp32-wroom-32"): chip, layout defaults */
    const atota_wifi_ap_t *aps; /* the virtual access points (--ap); NULL/0: the default one */
    unsigned ap_count;
    uint16_t chip_rev;   /* major*100+minor, default 300 on ESP32 */
    const char *ca_file; /* AT+USEROTA over https: verify the server with this CA (atota-sim
                            --ca); NULL: no verification, as ESP-AT */
} atota_module_opts_t;

/* UART settings as AT+UART_CUR/AT+UART_DEF report them. */
typedef struct {
    uint32_t baud;
    uint8_t data_bits, stop_bits, parity, flow;
} atota_uart_cfg_t;

/* Settings kept in NVS across reboots and cleared by AT+RESTORE (docs/module.md): uart_def
 * always (namespace "UART", as ESP-AT), sysstore always, sysmsg only with AT+SYSSTORE=1 (ESP-AT's
 * default). The module works on these copies. */
typedef struct {
    atota_uart_cfg_t uart_def;
    uint32_t sysmsg;
    uint8_t sysstore;
} atota_sys_settings_t;

typedef struct atota_module {
    const atota_module_host_t *host;
    const atota_flash_t *flash;
    atota_module_opts_t opts;
    atota_profile_t profile;
    /* what is on the flash: the primary table, at_customize.bin (empty when absent) */
    atota_partition_table_t table;
    atota_partition_table_t at_customize;
    uint32_t at_customize_offset;
    /* what booted */
    atota_boot_result_t boot;
    atota_fwconfig_t config; /* the running image's block, or ESP-AT's defaults */
    /* settings */
    atota_nvs_t nvs;
    bool nvs_ok; /* false when the nvs partition is missing or unreadable: settings stay volatile */
    atota_sys_settings_t sys;
    atota_uart_cfg_t uart_cur;
    /* AT+RFPOWER: wifi (0.25 dBm, the value a query reports), ble adv, ble scan, ble conn.
     * Volatile: ESP-AT does not store it (Basic_AT_Commands.rst says nothing of flash). */
    uint8_t rfpower[4];
    /* AT+SYSFLASH=1 in progress: where the next raw byte goes, and how many are still due */
    uint32_t sysflash_addr;
    uint32_t sysflash_left;
    /* the Wi-Fi and TCP/IP state (core/cmd/wifi.h) */
    atota_wifi_t wifi;
    /* AT+USEROTA (core/cmd/cmd_userota.c): the download running, if any */
    atota_download_t download;
    /* AT+CIUPDATE and AT+CIPFWVER (core/cmd/cmd_ciupdate.c) */
    atota_ciupdate_t ciupdate;
    /* AT+WEBSERVER (core/cmd/webserver.h): the server, provisioning, the upload */
    atota_webserver_t webserver;
    /* the AT port */
    atota_at_t at;
    unsigned boots; /* how many times atota_module_boot ran over this flash in this process */
} atota_module_t;

/* Boots the module from its flash: reads the partition tables, runs the bootloader's selection
 * (writing otadata as the real one does), reads the running app's descriptor and firmware
 * configuration, opens NVS and loads the settings, registers the commands, marks a
 * PENDING_VERIFY app valid (ESP-AT's esp_at_init, esp-at-ota.md §6) and writes "\r\nready\r\n".
 * Returns ATOTA_ERR_NO_BOOTABLE_APP when nothing can boot (a real module then resets forever), or
 * a flash error (a power cut). m is (re)initialised; flash and host must outlive it. A reboot
 * (m booted before over the same flash) first stops the web server the last boot left running
 * (atota_webserver_reset): a reset ends it, and its port is the host's to reuse. */
atota_err_t atota_module_boot(atota_module_t *m, const atota_flash_t *flash,
                              const atota_module_host_t *host, const atota_module_opts_t *opts,
                              atota_diag_t *diag);

/* One line for the host's log (host->log; nothing when there is none), at most 319 bytes. */
void atota_module_log(const atota_module_t *m, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Bytes from the UART. */
void atota_module_feed(atota_module_t *m, const void *data, size_t len);

/* Runs timers (a pending Wi-Fi join, a scan, the web server's provisioning); the host calls it
 * every few milliseconds. */
void atota_module_poll(atota_module_t *m);

/* Stores the settings that AT+SYSSTORE governs (m->sys.sysmsg, Wi-Fi's via atota_wifi_save) in
 * NVS when AT+SYSSTORE is 1. Only keys whose value changed are written. ATOTA_OK without NVS (the
 * settings then stay volatile). */
atota_err_t atota_module_save_settings(atota_module_t *m);

/* Stores m->sys.uart_def (AT+UART_DEF) / m->sys.sysstore (AT+SYSSTORE) whatever AT+SYSSTORE says.
 * ATOTA_OK without NVS. */
atota_err_t atota_module_save_uart_def(atota_module_t *m);
atota_err_t atota_module_save_sysstore(atota_module_t *m);

/* Command tables, registered by atota_module_boot in this order: system, Wi-Fi, CIUPDATE, UART,
 * USEROTA, WEBSERVER (core/cmd/webserver.h). */
atota_err_t atota_cmd_system_register(atota_module_t *m);
atota_err_t atota_cmd_wifi_register(atota_module_t *m);
atota_err_t atota_cmd_userota_register(atota_module_t *m);
atota_err_t atota_cmd_uart_register(atota_module_t *m);
atota_err_t atota_cmd_ciupdate_register(atota_module_t *m);

/* AT+CIUPDATE's timer (the 3-minute limit); atota_module_poll calls it. */
void atota_ciupdate_poll(atota_module_t *m);

/* The OTA writer's options for an app update of this module: its flash and table, the running
 * slot, the profile's rollback setting, its chip and revision (AT+USEROTA, AT+CIUPDATE). */
void atota_module_writer_opts(const atota_module_t *m, atota_ota_writer_opts_t *wo);

/* Whether an OTA of any kind (AT+USEROTA, AT+CIUPDATE, an AT+WEBSERVER upload) is running: one
 * at a time. */
bool atota_module_ota_running(const atota_module_t *m);

/* The four numbers AT+GMR prints after "AT version:" (and /getotainfo's at_core_version), from an
 * app descriptor's version: "v4.2.0.0-dev" gives 4,2,0,0 and suffix "-dev" (docs/module.md). */
void atota_module_parse_version(const char *version, unsigned num[4], const char **suffix);

/* AT+SYSFLASH's handlers (cmd_sysflash.c), in cmd_system.c's table (ctx is the module). */
atota_at_rc_t atota_cmd_sysflash_query(atota_at_t *at, void *ctx, const atota_at_params_t *p);
atota_at_rc_t atota_cmd_sysflash_set(atota_at_t *at, void *ctx, const atota_at_params_t *p);

/* AT+CWSAP's and AT+CWLIF's handlers (cmd_softap.c), in cmd_wifi.c's table (ctx is the module).
 * Each answers ERROR unless AT+CWMODE has the softAP (2 or 3). */
atota_at_rc_t atota_cmd_cwsap_query(atota_at_t *at, void *ctx, const atota_at_params_t *p);
atota_at_rc_t atota_cmd_cwsap_set(atota_at_t *at, void *ctx, const atota_at_params_t *p);
atota_at_rc_t atota_cmd_cwlif_exec(atota_at_t *at, void *ctx, const atota_at_params_t *p);

#endif /* ATOTA_CORE_CMD_MODULE_H */
