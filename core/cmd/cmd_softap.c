/*
 * The softAP commands: AT+CWSAP (the softAP's configuration) and AT+CWLIF (the stations joined
 * to it). Formats and limits: docs/wifi.md "The softAP", from ESP-AT's Wi-Fi_AT_Commands.rst.
 * The handlers sit in cmd_wifi.c's table, where ESP-AT lists them (after AT+CWQAP); the
 * configuration lives in atota_wifi_t (wifi.h) and is stored by wifi_nvs.c.
 *
 * The simulator has no virtual stations: nothing ever joins the softAP, so AT+CWLIF lists none.
 */
#include <string.h>

#include "core/at/at.h"
#include "core/cmd/module.h"
#include "core/cmd/wifi.h"

/* "This command works only when AT+CWMODE=2 or AT+CWMODE=3." */
static bool softap_on(const atota_wifi_t *w)
{
    return (w->mode & 2) != 0;
}

static atota_at_rc_t invalid(atota_at_t *at)
{
    atota_at_set_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_INVALID));
    return ATOTA_AT_ERROR;
}

/* +CWSAP:<"ssid">,<"pwd">,<chl>,<ecn>,<max conn>,<ssid hidden>. The strings are printed as they
 * are, quotes and commas unescaped, as ESP-AT prints them (and as AT+CWJAP? prints the ssid). */
atota_at_rc_t atota_cmd_cwsap_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    if (!softap_on(&m->wifi))
        return ATOTA_AT_ERROR;
    const atota_wifi_softap_t *ap = &m->wifi.softap;
    atota_at_printf(at, "+CWSAP:\"%s\",\"%s\",%u,%u,%u,%u\r\n", ap->ssid, ap->password,
                    (unsigned)ap->channel, (unsigned)ap->ecn, (unsigned)ap->max_conn,
                    (unsigned)ap->hidden);
    return ATOTA_AT_OK;
}

/* AT+CWSAP=<"ssid">,<"pwd">,<chl>,<ecn>[,<max conn>][,<ssid hidden>]. An omitted <max conn> or
 * <ssid hidden> takes its default (10, 0), not the value set before. */
atota_at_rc_t atota_cmd_cwsap_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    const char *ssid, *pwd;
    size_t slen, plen;
    int64_t chl, ecn, max_conn, hidden;
    if (!atota_at_count(at, p, 4, 6) || !atota_at_str(at, p, 0, 32, &ssid, &slen) ||
        !atota_at_str(at, p, 1, 63, &pwd, &plen) ||
        !atota_at_int(at, p, 2, 1, ATOTA_WIFI_SOFTAP_CHANNEL_MAX, &chl) ||
        !atota_at_int(at, p, 3, 0, ATOTA_WIFI_ECN_WPA_WPA2_PSK, &ecn) ||
        !atota_at_int_opt(at, p, 4, 1, ATOTA_WIFI_SOFTAP_MAX_CONN, ATOTA_WIFI_SOFTAP_MAX_CONN,
                          &max_conn) ||
        !atota_at_int_opt(at, p, 5, 0, 1, 0, &hidden))
        return ATOTA_AT_ERROR;
    /* escapes can put a NUL in a string: a name or password cannot hold one */
    if (strlen(ssid) != slen || strlen(pwd) != plen)
        return invalid(at);
    atota_wifi_softap_t ap;
    memset(&ap, 0, sizeof ap);
    memcpy(ap.ssid, ssid, slen);
    memcpy(ap.password, pwd, plen);
    ap.channel = (uint8_t)chl;
    ap.ecn = (uint8_t)ecn;
    ap.max_conn = (uint8_t)max_conn;
    ap.hidden = (uint8_t)hidden;
    /* an empty ssid, WEP (1), a password of 1-7 bytes, no password with encryption */
    if (!atota_wifi_softap_valid(&ap))
        return invalid(at);
    if (!softap_on(&m->wifi))
        return ATOTA_AT_ERROR;
    m->wifi.softap = ap;
    m->wifi.has_softap = true;
    /* "The configuration changes will be saved in the NVS area if AT+SYSSTORE=1." */
    (void)atota_module_save_settings(m);
    return ATOTA_AT_OK;
}

/* +CWLIF:<ip addr>,<mac> per joined station: none here, so OK alone. With the softAP off,
 * ESP-IDF's esp_wifi_ap_get_sta_list fails (ESP_ERR_WIFI_MODE): ERROR. */
atota_at_rc_t atota_cmd_cwlif_exec(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at;
    (void)p;
    atota_module_t *m = ctx;
    return softap_on(&m->wifi) ? ATOTA_AT_OK : ATOTA_AT_ERROR;
}
