/*
 * The simulated module (core/cmd/module.c, cmd_system.c, cmd_sysflash.c): boot from a flash laid
 * out as `atota flash create` makes it, the exact bytes of the basic commands, AT+SYSROLLBACK and
 * the rollback contract (esp-at-ota.md §6), AT+SYSFLASH, and the settings kept in NVS across
 * reboots (a reboot is atota_module_boot() again over the same flash).
 */
#include "core/cmd/module.h"
#include "core/fmt/fwconfig.h"
#include "core/fmt/otadata.h"
#include "support/capture_host.h"
#include "support/fixture.h"

#define OUT_CAP FX_OUT_CAP

/* One module over one flash. */
typedef struct {
    atota_profile_t profile;
    atota_flash_sim_t *sim;
    const atota_flash_t *flash;
    fx_host_state_t host_state;
    atota_module_host_t host;
    atota_module_t m;
    const atota_partition_t *ota0, *ota1, *otadata, *nvs;
    size_t len0, len1; /* image lengths */
} rig_t;

/* An app image with an ELF SHA-256 of its own (AT+GMR's commits come from it) and, when
 * module_name is given, a firmware-configuration block naming the module. */
static size_t build_app(const char *version, const char *module_name, uint8_t **out)
{
    static const uint8_t code[64] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t sha[32] = {0x3b, 0x13, 0xd0, 0x4a, 0xbe, 0x33, 0x25, 0x68, 0x99};
    atota_image_build_segment_t seg[2];
    memset(seg, 0, sizeof seg);
    seg[0].data = code;
    seg[0].len = sizeof code;
    uint8_t block[ATOTA_FWCONFIG_MAX_LEN];
    unsigned nseg = 1;
    if (module_name) {
        atota_fwconfig_t c;
        atota_fwconfig_defaults(&c);
        snprintf(c.module_name, sizeof c.module_name, "%s", module_name);
        size_t n = atota_fwconfig_encode(&c, block, sizeof block);
        assert_true(n > 0);
        seg[1].data = block;
        seg[1].len = (uint32_t)n;
        nseg = 2;
    }
    atota_image_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.chip_id = ATOTA_CHIP_ESP32;
    o.version = version;
    o.project_name = "esp-at";
    o.time = "08:21:45";
    o.date = "May  8 2024";
    o.idf_ver = "v5.4.4";
    o.app_elf_sha256 = sha;
    o.segments = seg;
    o.segment_count = nseg;
    size_t cap = atota_image_build_size(&o);
    assert_true(cap > 0);
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = 0;
    assert_int_equal(atota_image_build(&o, buf, cap, &len, NULL), ATOTA_OK);
    *out = buf;
    return len;
}

static size_t put_app(rig_t *r, const atota_partition_t *p, const char *version,
                      const char *module_name)
{
    uint8_t *img;
    size_t len = build_app(version, module_name, &img);
    uint8_t *data = atota_flash_sim_data(r->sim);
    memset(data + p->offset, 0xFF, p->size);
    memcpy(data + p->offset, img, len);
    free(img);
    return len;
}

/* The flash `atota flash create --module esp32-wroom-32` makes (apps/atota/cmd_flash.c):
 * partitions_at.bin at 0x8000 without an MD5 row, at_customize.bin at the start of at_customize,
 * the app in ota_0 (and ota_1 when v1 is given), otadata erased. */
static rig_t *rig_new(const char *v0, const char *v1)
{
    rig_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    atota_diag_t d = {{0}};
    atota_err_t err = atota_profile_load("esp32-wroom-32", &r->profile, &d);
    if (err) {
        print_error("profile: %s\n", atota_diag_text(&d, err));
        fail();
    }
    r->sim = fx_sim_new(r->profile.flash_size);
    r->flash = atota_flash_sim_flash(r->sim);
    assert_false(r->profile.partitions.has_md5);
    fx_put_module_tables(r->sim, &r->profile);
    r->ota0 = fx_table_get(&r->profile.partitions, "ota_0");
    r->ota1 = fx_table_get(&r->profile.partitions, "ota_1");
    r->otadata = fx_table_get(&r->profile.partitions, "otadata");
    r->nvs = fx_table_get(&r->profile.partitions, "nvs");
    if (v0)
        r->len0 = put_app(r, r->ota0, v0, NULL);
    if (v1)
        r->len1 = put_app(r, r->ota1, v1, NULL);
    fx_host_init(&r->host, &r->host_state);
    return r;
}

static void rig_free(rig_t *r)
{
    atota_flash_sim_close(r->sim);
    free(r);
}

/* Boots with echo off, as most tests want only the answers. */
static void boot_quiet(rig_t *r)
{
    fx_module_boot(&r->m, r->flash, &r->host, &r->host_state);
    fx_module_send(&r->m, &r->host_state, "ATE0\r\n", "ATE0\r\n\r\nOK\r\n");
}

static void expect_active(rig_t *r, const char *what, uint32_t seq, uint32_t state)
{
    atota_otadata_entry_t e[2];
    fx_get_otadata(r->sim, r->otadata->offset, e);
    int a = atota_otadata_select(e);
    if (a < 0 || e[a].seq != seq || e[a].state != state) {
        char sb[12], sw[12];
        print_error("%s: expected active otadata seq %u %s, got copy %d seq %u %s\n", what,
                    (unsigned)seq, atota_otadata_state_name(state, sw), a,
                    a < 0 ? 0u : (unsigned)e[a].seq,
                    a < 0 ? "-" : atota_otadata_state_name(e[a].state, sb));
        fail();
    }
}

/* ---- boot ---------------------------------------------------------------------------------- */

static void test_boot_ready(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    fx_module_boot(&r->m, r->flash, &r->host, &r->host_state);
    assert_int_equal(r->m.boot.index, 0);
    assert_int_equal(r->m.boots, 1);
    assert_true(r->m.nvs_ok);
    assert_int_equal(r->m.at_customize.count, 2);
    assert_int_equal(r->m.at_customize_offset, 0x20000);
    assert_string_equal(r->m.config.module_name, "WROOM-32"); /* no block: the profile's */
    /* blank otadata: the bootloader boots ota_0 and records seq 1 */
    expect_active(r, "first boot", 1, ATOTA_OTA_STATE_VALID);
    /* the AT UART comes up with the stored configuration (the defaults, now stored) */
    assert_int_equal(r->host_state.uart_sets, 1);
    assert_int_equal(r->host_state.baud, 115200);
    assert_int_equal(r->host_state.data_bits, 8);
    assert_int_equal(r->host_state.stop_bits, 1);
    assert_int_equal(r->host_state.parity, 0);
    assert_int_equal(r->host_state.flow, 1);
    /* a stable base MAC with Espressif's OUI, the same on the next boot */
    uint8_t mac[6];
    memcpy(mac, r->m.wifi.sta_mac, 6);
    assert_int_equal(mac[0], 0x24);
    assert_int_equal(mac[1], 0x0A);
    assert_int_equal(mac[2], 0xC4);
    fx_module_boot(&r->m, r->flash, &r->host, &r->host_state);
    assert_memory_equal(mac, r->m.wifi.sta_mac, 6);
    assert_int_equal(r->m.boots, 2);
    rig_free(r);
}

static void test_boot_no_table(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    memset(atota_flash_sim_data(r->sim) + 0x8000, 0xFF, 0x1000);
    atota_diag_t d = {{0}};
    atota_module_opts_t o = {.profile_name = "esp32-wroom-32"};
    atota_err_t err = atota_module_boot(&r->m, r->flash, &r->host, &o, &d);
    assert_int_equal(err, ATOTA_ERR_NO_BOOTABLE_APP);
    assert_non_null(strstr(d.msg, "partition table at 0x8000"));
    assert_int_equal(r->host_state.len, 0); /* no "ready" */
    rig_free(r);
}

static void test_boot_no_app(void **state)
{
    (void)state;
    rig_t *r = rig_new(NULL, NULL);
    atota_diag_t d = {{0}};
    atota_module_opts_t o = {.profile_name = "esp32-wroom-32"};
    assert_int_equal(atota_module_boot(&r->m, r->flash, &r->host, &o, &d),
                     ATOTA_ERR_NO_BOOTABLE_APP);
    assert_int_equal(r->host_state.len, 0);
    rig_free(r);
}

static void test_boot_foreign_nvs(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    memset(atota_flash_sim_data(r->sim) + r->nvs->offset, 0x5A, r->nvs->size);
    boot_quiet(r);
    assert_true(r->m.nvs_ok);
    assert_non_null(strstr(r->host_state.log, "erasing and formatting"));
    fx_module_send(&r->m, &r->host_state, "AT+UART_DEF?\r\n",
                   "+UART_DEF:115200,8,1,0,1\r\n\r\nOK\r\n");
    rig_free(r);
}

static void test_boot_no_at_customize(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    memset(atota_flash_sim_data(r->sim) + 0x20000, 0xFF, 0x1000);
    boot_quiet(r);
    assert_int_equal(r->m.at_customize.count, 0);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH?\r\n", "\r\nERROR\r\n");
    rig_free(r);
}

/* ---- basic commands ------------------------------------------------------------------------ */

static void test_echo_and_at(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    fx_module_boot(&r->m, r->flash, &r->host, &r->host_state);
    fx_module_send(&r->m, &r->host_state, "AT\r\n", "AT\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "ATE0\r\n", "ATE0\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT\r\n", "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "ATE1\r\n", "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT\r\n", "AT\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+RST\r\n", "AT+RST\r\n\r\nOK\r\n");
    assert_int_equal(r->host_state.restarts, 1);
    fx_module_boot(&r->m, r->flash, &r->host,
                   &r->host_state); /* echo is on again after a restart */
    fx_module_send(&r->m, &r->host_state, "AT\r\n", "AT\r\n\r\nOK\r\n");
    rig_free(r);
}

static void test_gmr(void **state)
{
    (void)state;
    rig_t *r = rig_new("v4.2.0.0-dev", NULL);
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+GMR\r\n",
                   "AT version:4.2.0.0-dev(3b13d04 - ESP32 - May  8 2024 08:21:45)\r\n"
                   "SDK version:v5.4.4\r\n"
                   "compile time(be332568):May  8 2024 08:21:45\r\n"
                   "Bin version:v4.2.0.0-dev(WROOM-32)\r\n"
                   "\r\nOK\r\n");

    /* the module name from the image's firmware configuration; a short version */
    put_app(r, r->ota0, "2.1", "MINI-1");
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+GMR\r\n",
                   "AT version:2.1.0.0(3b13d04 - ESP32 - May  8 2024 08:21:45)\r\n"
                   "SDK version:v5.4.4\r\n"
                   "compile time(be332568):May  8 2024 08:21:45\r\n"
                   "Bin version:2.1(MINI-1)\r\n"
                   "\r\nOK\r\n");

    /* a version that is not numbered */
    put_app(r, r->ota0, "nightly", NULL);
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+GMR\r\n",
                   "AT version:0.0.0.0(3b13d04 - ESP32 - May  8 2024 08:21:45)\r\n"
                   "SDK version:v5.4.4\r\n"
                   "compile time(be332568):May  8 2024 08:21:45\r\n"
                   "Bin version:nightly(WROOM-32)\r\n"
                   "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+GMR?\r\n", "\r\nERROR\r\n");
    rig_free(r);
}

static void test_cmd_list(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    boot_quiet(r);
    fx_host_clear_out(&r->host_state);
    atota_module_feed(&r->m, "AT+CMD?\r\n", 9);
    const char *head = "+CMD:0,\"AT\",0,0,0,1\r\n"
                       "+CMD:1,\"ATE0\",0,0,0,1\r\n"
                       "+CMD:2,\"ATE1\",0,0,0,1\r\n"
                       "+CMD:3,\"AT+RST\",0,0,0,1\r\n"
                       "+CMD:4,\"AT+GMR\",0,0,0,1\r\n"
                       "+CMD:5,\"AT+CMD\",0,1,0,0\r\n"
                       "+CMD:6,\"AT+RESTORE\",0,0,0,1\r\n"
                       "+CMD:7,\"AT+SYSFLASH\",0,1,1,0\r\n"
                       "+CMD:8,\"AT+RFPOWER\",0,1,1,0\r\n"
                       "+CMD:9,\"AT+SYSMSG\",0,1,1,0\r\n"
                       "+CMD:10,\"AT+SYSROLLBACK\",0,1,0,1\r\n"
                       "+CMD:11,\"AT+SYSLOG\",0,1,1,0\r\n"
                       "+CMD:12,\"AT+SYSSTORE\",0,1,1,0\r\n";
    const char *out = r->host_state.out;
    if (strncmp(out, head, strlen(head)) != 0) {
        char a[4096], b[OUT_CAP * 2];
        print_error("AT+CMD? head:\n%s\n--- got\n%s\n", fx_visible(head, a, sizeof a),
                    fx_visible(out, b, sizeof b));
        fail();
    }
    /* one line per registered command, the UART table, AT+USEROTA, then AT+WEBSERVER last */
    unsigned n = 0;
    while (atota_at_cmd_at(&r->m.at, n))
        n++;
    char tail[256];
    snprintf(tail, sizeof tail,
             "+CMD:%u,\"AT+UART\",0,1,1,0\r\n+CMD:%u,\"AT+UART_CUR\",0,1,1,0\r\n"
             "+CMD:%u,\"AT+UART_DEF\",0,1,1,0\r\n+CMD:%u,\"AT+USEROTA\",0,0,1,0\r\n"
             "+CMD:%u,\"AT+WEBSERVER\",0,0,1,0\r\n\r\nOK\r\n",
             n - 5, n - 4, n - 3, n - 2, n - 1);
    size_t tl = strlen(tail);
    assert_true(r->host_state.len > tl);
    assert_string_equal(out + r->host_state.len - tl, tail);
    unsigned lines = 0;
    for (const char *s = out; (s = strstr(s, "+CMD:")) != NULL; s++)
        lines++;
    assert_int_equal(lines, n);
    rig_free(r);
}

static void test_syslog(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+SYSLOG?\r\n", "+SYSLOG:0\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+FAKE\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSLOG=1\r\n", "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSLOG?\r\n", "+SYSLOG:1\r\n\r\nOK\r\n");
    /* Basic_AT_Commands.rst: AT+FAKE -> ERR CODE:0x01090000 */
    fx_module_send(&r->m, &r->host_state, "AT+FAKE\r\n", "ERR CODE:0x01090000\r\n\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSLOG=2\r\n",
                   "ERR CODE:0x01070000\r\n\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSLOG=1,1\r\n",
                   "ERR CODE:0x01060000\r\n\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+GMR=1\r\n", "ERR CODE:0x010c0000\r\n\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSLOG=0\r\n", "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+FAKE\r\n", "\r\nERROR\r\n");
    rig_free(r);
}

static void test_sysmsg_sysstore_restore(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+SYSMSG?\r\n", "+SYSMSG:0\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSSTORE?\r\n", "+SYSSTORE:1\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSMSG=5\r\n", "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSMSG=8\r\n", "\r\nERROR\r\n");
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+SYSMSG?\r\n", "+SYSMSG:5\r\n\r\nOK\r\n");

    /* AT+SYSSTORE=0: the next AT+SYSMSG stays in RAM */
    fx_module_send(&r->m, &r->host_state, "AT+SYSSTORE=0\r\n", "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSMSG=3\r\n", "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSMSG?\r\n", "+SYSMSG:3\r\n\r\nOK\r\n");
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+SYSMSG?\r\n", "+SYSMSG:5\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSSTORE?\r\n", "+SYSSTORE:0\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSSTORE=1\r\n", "\r\nOK\r\n");

    /* AT+RESTORE: OK, restart, factory defaults */
    fx_module_send(&r->m, &r->host_state, "AT+RESTORE\r\n", "\r\nOK\r\n");
    assert_int_equal(r->host_state.restarts, 1);
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+SYSMSG?\r\n", "+SYSMSG:0\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSSTORE?\r\n", "+SYSSTORE:1\r\n\r\nOK\r\n");
    rig_free(r);
}

static void test_restore_uart(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+UART_DEF=9600,8,1,0,0\r\n", "\r\nOK\r\n");
    boot_quiet(r);
    assert_int_equal(r->host_state.baud, 9600);
    fx_module_send(&r->m, &r->host_state, "AT+RESTORE\r\n", "\r\nOK\r\n");
    boot_quiet(r);
    assert_int_equal(r->host_state.baud, 115200);
    fx_module_send(&r->m, &r->host_state, "AT+UART_DEF?\r\n",
                   "+UART_DEF:115200,8,1,0,1\r\n\r\nOK\r\n");
    rig_free(r);
}

static void test_uart(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    boot_quiet(r);
    /* esp-at main/interface/uart/Kconfig defaults: 8 data bits, 1 stop bit, no parity, RTS;
     * UART_CUR reports what the divider gives, as on a real WROOM-32 (esp-at issues #141, #338:
     * "+UART_CUR:115201,8,1,0,1" next to "+UART_DEF:115200,8,1,0,1") */
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR?\r\n",
                   "+UART_CUR:115201,8,1,0,1\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+UART_DEF?\r\n",
                   "+UART_DEF:115200,8,1,0,1\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+UART?\r\n", "+UART:115201,8,1,0,1\r\n\r\nOK\r\n");

    r->host_state.uart_sets = 0;
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR=921600,8,1,0,0\r\n", "\r\nOK\r\n");
    assert_int_equal(r->host_state.uart_sets, 1);
    assert_int_equal(r->host_state.baud, 921600);
    assert_int_equal(r->host_state.flow, 0);
    /* the rate the divider gives: 80 MHz * 16 / 1388 */
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR?\r\n",
                   "+UART_CUR:922190,8,1,0,0\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+UART_DEF?\r\n",
                   "+UART_DEF:115200,8,1,0,1\r\n\r\nOK\r\n");

    fx_module_send(&r->m, &r->host_state, "AT+UART_DEF=230400,7,3,2,3\r\n", "\r\nOK\r\n");
    assert_int_equal(r->host_state.uart_sets, 2);
    assert_int_equal(r->host_state.baud, 230400);
    assert_int_equal(r->host_state.data_bits, 7);
    assert_int_equal(r->host_state.stop_bits, 3);
    assert_int_equal(r->host_state.parity, 2);
    assert_int_equal(r->host_state.flow, 3);
    fx_module_send(&r->m, &r->host_state, "AT+UART_DEF?\r\n",
                   "+UART_DEF:230400,7,3,2,3\r\n\r\nOK\r\n");

    /* out of range, too few, too many: nothing changes */
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR=79,8,1,0,0\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR=5000001,8,1,0,0\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR=115200,4,1,0,0\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR=115200,8,0,0,0\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR=115200,8,1,3,0\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR=115200,8,1,0,4\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR=115200,8,1,0\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+UART_DEF=115200,8,1,0,0,1\r\n", "\r\nERROR\r\n");
    assert_int_equal(r->host_state.uart_sets, 2);

    /* UART_DEF survives a reboot and configures the port; UART_CUR does not */
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR=9600,8,1,0,0\r\n", "\r\nOK\r\n");
    boot_quiet(r);
    assert_int_equal(r->host_state.baud, 230400);
    assert_int_equal(r->host_state.data_bits, 7);
    fx_module_send(&r->m, &r->host_state, "AT+UART_DEF?\r\n",
                   "+UART_DEF:230400,7,3,2,3\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+UART_CUR?\r\n",
                   "+UART_CUR:230423,7,3,2,3\r\n\r\nOK\r\n");
    rig_free(r);
}

static void test_rfpower(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER?\r\n", "+RFPOWER:78,5,5,5\r\n\r\nOK\r\n");
    /* ESP32's levels: [44,51] -> 44, [40,43] -> 34, [78,84] -> 78 */
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER=50\r\n", "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER?\r\n", "+RFPOWER:44,5,5,5\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER=40,0,7,3\r\n", "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER?\r\n", "+RFPOWER:34,0,7,3\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER=84\r\n", "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER?\r\n", "+RFPOWER:78,0,7,3\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER=39\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER=85\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER=60,8\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER=60,1,1,1,1\r\n", "\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER?\r\n", "+RFPOWER:78,0,7,3\r\n\r\nOK\r\n");
    /* not kept across a reboot */
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+RFPOWER?\r\n", "+RFPOWER:78,5,5,5\r\n\r\nOK\r\n");
    rig_free(r);
}

/* ---- AT+SYSROLLBACK and the rollback contract --------------------------------------------- */

static void test_sysrollback(void **state)
{
    (void)state;
    rig_t *r = rig_new("v4.1.0.0", "v4.0.0.0");
    boot_quiet(r);
    assert_int_equal(r->m.boot.index, 0);
    fx_module_send(&r->m, &r->host_state, "AT+SYSROLLBACK?\r\n",
                   "+SYSROLLBACK:0x100000,\"v4.1.0.0\",0x280000,\"v4.0.0.0\"\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSROLLBACK\r\n", "\r\nOK\r\n");
    assert_int_equal(r->host_state.restarts, 1);
    /* esp_ota_set_boot_partition with rollback enabled: seq 2, NEW */
    expect_active(r, "after AT+SYSROLLBACK", 2, ATOTA_OTA_STATE_NEW);

    boot_quiet(r);
    assert_int_equal(r->m.boot.index, 1);
    /* booted once in PENDING_VERIFY, confirmed before "ready" */
    expect_active(r, "after the reboot", 2, ATOTA_OTA_STATE_VALID);
    fx_module_send(&r->m, &r->host_state, "AT+SYSROLLBACK?\r\n",
                   "+SYSROLLBACK:0x280000,\"v4.0.0.0\",0x100000,\"v4.1.0.0\"\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+GMR\r\n",
                   "AT version:4.0.0.0(3b13d04 - ESP32 - May  8 2024 08:21:45)\r\n"
                   "SDK version:v5.4.4\r\n"
                   "compile time(be332568):May  8 2024 08:21:45\r\n"
                   "Bin version:v4.0.0.0(WROOM-32)\r\n"
                   "\r\nOK\r\n");

    /* and back */
    fx_module_send(&r->m, &r->host_state, "AT+SYSROLLBACK\r\n", "\r\nOK\r\n");
    boot_quiet(r);
    assert_int_equal(r->m.boot.index, 0);
    expect_active(r, "back", 3, ATOTA_OTA_STATE_VALID);
    rig_free(r);
}

static void test_sysrollback_invalid_target(void **state)
{
    (void)state;
    rig_t *r = rig_new("v4.1.0.0", "v4.0.0.0");
    boot_quiet(r);
    fx_corrupt_checksum(r->sim, r->ota1, r->len1);
    uint8_t before[0x2000];
    memcpy(before, atota_flash_sim_data(r->sim) + r->otadata->offset, sizeof before);
    fx_module_send(&r->m, &r->host_state, "AT+SYSLOG=1\r\n", "\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSROLLBACK\r\n",
                   "ERR CODE:0x010a0000\r\n\r\nERROR\r\n");
    assert_int_equal(r->host_state.restarts, 0);
    assert_memory_equal(before, atota_flash_sim_data(r->sim) + r->otadata->offset, sizeof before);

    /* an empty slot: no version to report, nothing to switch to */
    memset(atota_flash_sim_data(r->sim) + r->ota1->offset, 0xFF, r->ota1->size);
    fx_module_send(&r->m, &r->host_state, "AT+SYSROLLBACK?\r\n",
                   "+SYSROLLBACK:0x100000,\"v4.1.0.0\",0x280000,\"\"\r\n\r\nOK\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSROLLBACK\r\n",
                   "ERR CODE:0x010a0000\r\n\r\nERROR\r\n");
    assert_int_equal(r->host_state.restarts, 0);
    rig_free(r);
}

/* An app set to boot (NEW, as after an OTA) boots once in PENDING_VERIFY and is valid after
 * "ready"; one whose previous boot never reached "ready" (still PENDING_VERIFY) is abandoned:
 * the bootloader marks it ABORTED and boots the previous one. */
static void test_rollback_contract(void **state)
{
    (void)state;
    rig_t *r = rig_new("v1.0.0.0", "v2.0.0.0");
    uint32_t od = r->otadata->offset;

    fx_put_otadata(r->sim, od, 0, 1, ATOTA_OTA_STATE_VALID, atota_otadata_crc(1));
    fx_put_otadata(r->sim, od, 1, 2, ATOTA_OTA_STATE_NEW, atota_otadata_crc(2));
    boot_quiet(r);
    assert_int_equal(r->m.boot.index, 1);
    assert_string_equal(r->m.boot.app_desc.version, "v2.0.0.0");
    expect_active(r, "NEW app after ready", 2, ATOTA_OTA_STATE_VALID);
    assert_non_null(strstr(r->host_state.log, "confirmed"));

    /* the same app, but its first boot was cut before esp_at_init marked it valid */
    fx_put_otadata(r->sim, od, 0, 1, ATOTA_OTA_STATE_VALID, atota_otadata_crc(1));
    fx_put_otadata(r->sim, od, 1, 2, ATOTA_OTA_STATE_PENDING_VERIFY, atota_otadata_crc(2));
    boot_quiet(r);
    assert_int_equal(r->m.boot.index, 0);
    assert_string_equal(r->m.boot.app_desc.version, "v1.0.0.0");
    atota_otadata_entry_t e[2];
    fx_get_otadata(r->sim, od, e);
    assert_int_equal(e[1].state, ATOTA_OTA_STATE_ABORTED);
    expect_active(r, "after the fallback", 1, ATOTA_OTA_STATE_VALID);
    rig_free(r);
}

/* A real power cut between the bootloader's PENDING_VERIFY write and the mark-valid: the next
 * boot falls back. */
static void test_rollback_power_cut(void **state)
{
    (void)state;
    rig_t *r = rig_new("v1.0.0.0", "v2.0.0.0");
    uint32_t od = r->otadata->offset;
    fx_put_otadata(r->sim, od, 0, 1, ATOTA_OTA_STATE_VALID, atota_otadata_crc(1));
    fx_put_otadata(r->sim, od, 1, 2, ATOTA_OTA_STATE_NEW, atota_otadata_crc(2));
    /* first boot of the NEW app from a fresh NVS: count the mutating flash operations up to and
     * including the bootloader's otadata write (erase + program of copy 1) */
    atota_flash_sim_reset_stats(r->sim);
    atota_boot_opts_t bo = {
        .rollback_enabled = true, .chip_id = FX_CHIP, .chip_rev = FX_CHIP_REV, .dry_run = false};
    atota_boot_result_t res;
    uint8_t saved[0x2000];
    memcpy(saved, atota_flash_sim_data(r->sim) + od, sizeof saved);
    assert_int_equal(atota_boot_select(r->flash, &r->profile.partitions, &bo, &res, NULL),
                     ATOTA_OK);
    uint64_t boot_ops = fx_mutating_ops(r->sim);
    assert_true(boot_ops > 0);
    memcpy(atota_flash_sim_data(r->sim) + od, saved, sizeof saved);

    /* cut the power right after the bootloader's write: "ready" is never reached */
    atota_flash_sim_arm_power_cut(r->sim, boot_ops, ATOTA_POWER_CUT_BEFORE, 1);
    atota_module_opts_t o = {.profile_name = "esp32-wroom-32"};
    fx_host_clear_out(&r->host_state);
    atota_err_t err = atota_module_boot(&r->m, r->flash, &r->host, &o, NULL);
    assert_int_equal(err, ATOTA_ERR_FLASH_POWER_CUT);
    assert_null(strstr(r->host_state.out, "ready"));
    atota_flash_sim_power_on(r->sim);
    atota_flash_sim_disarm_power_cut(r->sim);
    atota_otadata_entry_t e[2];
    fx_get_otadata(r->sim, od, e);
    assert_int_equal(e[1].state, ATOTA_OTA_STATE_PENDING_VERIFY);

    boot_quiet(r);
    assert_int_equal(r->m.boot.index, 0);
    fx_get_otadata(r->sim, od, e);
    assert_int_equal(e[1].state, ATOTA_OTA_STATE_ABORTED);
    rig_free(r);
}

/* ---- AT+SYSFLASH ------------------------------------------------------------------------- */

static void test_sysflash(void **state)
{
    (void)state;
    rig_t *r = rig_new("v3.3.0.0", NULL);
    uint8_t *data = atota_flash_sim_data(r->sim);
    boot_quiet(r);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH?\r\n",
                   "+SYSFLASH:\"mfg_nvs\",1,2,0x21000,0x1c000\r\n"
                   "+SYSFLASH:\"fs_storage\",1,255,0x70000,0x90000\r\n"
                   "\r\nOK\r\n");

    /* erase the whole partition */
    memset(data + 0x21000, 0x00, 0x1c000);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=0,\"mfg_nvs\"\r\n", "\r\nOK\r\n");
    assert_true(fx_is_blank(data + 0x21000, 0x1c000));

    /* write through the prompt, in chunks, then read it back */
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=1,\"mfg_nvs\",0x100,10\r\n",
                   "\r\nOK\r\n\r\n>");
    fx_module_send(&r->m, &r->host_state, "hello", "");
    assert_memory_equal(data + 0x21100, "hello", 5); /* written as the bytes arrive */
    fx_module_send(&r->m, &r->host_state, "world", "\r\nOK\r\n");
    assert_memory_equal(data + 0x21100, "helloworld", 10);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=2,\"mfg_nvs\",256,10\r\n",
                   "+SYSFLASH:10,helloworld\r\n\r\nOK\r\n");
    /* raw bytes, CR LF and NUL included */
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=1,\"mfg_nvs\",0x200,4\r\n",
                   "\r\nOK\r\n\r\n>");
    fx_host_clear_out(&r->host_state);
    atota_module_feed(&r->m, "\r\n\0A", 4);
    fx_expect_out(&r->host_state, "4 raw bytes", "\r\nOK\r\n");
    fx_host_clear_out(&r->host_state);
    const char *rd = "AT+SYSFLASH=2,\"mfg_nvs\",0x1FF,6\r\n";
    atota_module_feed(&r->m, rd, strlen(rd));
    assert_int_equal(r->host_state.len, 12 + 6 + 2 + 6);
    assert_memory_equal(r->host_state.out, "+SYSFLASH:6,\xff\r\n\0A\xff\r\n\r\nOK\r\n", 26);

    /* data onto bytes that are not erased: the prompt, then ERROR after the last byte; the
     * chunks that landed on erased bytes before stay written */
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=1,\"mfg_nvs\",0x105,10\r\n",
                   "\r\nOK\r\n\r\n>");
    fx_module_send(&r->m, &r->host_state, "0123456789", "\r\nERROR\r\n");
    assert_memory_equal(data + 0x21100, "helloworld", 10);
    assert_int_equal(data[0x2110A], 0xFF);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=1,\"mfg_nvs\",0xF8,16\r\n",
                   "\r\nOK\r\n\r\n>");
    fx_module_send(&r->m, &r->host_state, "ABCDEFGH", "");
    fx_module_send(&r->m, &r->host_state, "IJKLMNOP", "\r\nERROR\r\n");
    assert_memory_equal(data + 0x210F8, "ABCDEFGHhelloworld", 18);
    fx_module_send(&r->m, &r->host_state, "AT\r\n",
                   "\r\nOK\r\n"); /* the engine is back in command mode */

    /* erase a 4 KB-aligned range only */
    memset(data + 0x21000, 0x00, 0x4000);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=0,\"mfg_nvs\",4096,8192\r\n", "\r\nOK\r\n");
    assert_int_equal(data[0x21fff], 0x00);
    assert_true(fx_is_blank(data + 0x22000, 0x2000));
    assert_int_equal(data[0x24000], 0x00);

    /* bounds and arguments */
    fx_module_send(&r->m, &r->host_state, "AT+SYSLOG=1\r\n", "\r\nOK\r\n");
    const char *inval = "ERR CODE:0x01070000\r\n\r\nERROR\r\n";
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=0,\"mfg_nvs\",100,4096\r\n", inval);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=0,\"mfg_nvs\",4096,100\r\n", inval);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=0,\"mfg_nvs\",0x1b000,0x2000\r\n", inval);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=2,\"mfg_nvs\",0x1bffb,10\r\n", inval);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=2,\"mfg_nvs\",0,0\r\n", inval);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=1,\"mfg_nvs\",0x1c000,1\r\n", inval);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=2,\"nvs\",0,10\r\n",
                   inval); /* not a user partition */
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=2,\"nosuch\",0,10\r\n", inval);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=3,\"mfg_nvs\",0,10\r\n", inval);
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=2,\"mfg_nvs\",0\r\n",
                   "ERR CODE:0x01060000\r\n\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=1,\"mfg_nvs\"\r\n",
                   "ERR CODE:0x01060000\r\n\r\nERROR\r\n");
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=2,mfg_nvs,0,10\r\n",
                   "ERR CODE:0x01050000\r\n\r\nERROR\r\n");
    /* the last byte of the partition is reachable */
    fx_module_send(&r->m, &r->host_state, "AT+SYSFLASH=2,\"fs_storage\",0x8ffff,1\r\n",
                   "+SYSFLASH:1,\xff\r\n\r\nOK\r\n");
    rig_free(r);
}

/* A module keeps working across many reboots and the flash stays bootable. */
static void test_many_reboots(void **state)
{
    (void)state;
    rig_t *r = rig_new("v1.0.0.0", "v2.0.0.0");
    for (int i = 0; i < 6; i++) {
        boot_quiet(r);
        assert_int_equal(r->m.boot.index, i % 2);
        fx_module_send(&r->m, &r->host_state, "AT+SYSROLLBACK\r\n", "\r\nOK\r\n");
        assert_int_equal(r->host_state.restarts, 1);
    }
    assert_int_equal(r->m.boots, 6);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_ready),
        cmocka_unit_test(test_boot_no_table),
        cmocka_unit_test(test_boot_no_app),
        cmocka_unit_test(test_boot_foreign_nvs),
        cmocka_unit_test(test_boot_no_at_customize),
        cmocka_unit_test(test_echo_and_at),
        cmocka_unit_test(test_gmr),
        cmocka_unit_test(test_cmd_list),
        cmocka_unit_test(test_syslog),
        cmocka_unit_test(test_sysmsg_sysstore_restore),
        cmocka_unit_test(test_restore_uart),
        cmocka_unit_test(test_uart),
        cmocka_unit_test(test_rfpower),
        cmocka_unit_test(test_sysrollback),
        cmocka_unit_test(test_sysrollback_invalid_target),
        cmocka_unit_test(test_rollback_contract),
        cmocka_unit_test(test_rollback_power_cut),
        cmocka_unit_test(test_sysflash),
        cmocka_unit_test(test_many_reboots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
