/*
 * The Wi-Fi and TCP/IP status AT commands (module.h; docs/wifi.md gives each response format and
 * the page of ESP-AT's documentation it comes from: Wi-Fi_AT_Commands.rst and
 * TCP-IP_AT_Commands.rst). The model they drive (access points, joins, addresses) is wifi.c, its
 * NVS part wifi_nvs.c. The table also holds cmd_softap.c's AT+CWSAP and AT+CWLIF.
 *
 * Handlers write their "+CMD:..." lines and return; the engine adds "\r\nOK\r\n" or
 * "\r\nERROR\r\n". Where ESP-AT prints an event after OK (WIFI DISCONNECT after AT+CWQAP), the
 * handler writes OK itself and returns ATOTA_AT_SILENT.
 */
#include <string.h>

#include "core/at/at.h"
#include "core/cmd/module.h"
#include "core/cmd/wifi.h"

#define OK_BYTES "\r\nOK\r\n"

static bool sta_on(const atota_wifi_t *w)
{
    return (w->mode & 1) != 0;
}

static bool softap_on(const atota_wifi_t *w)
{
    return (w->mode & 2) != 0;
}

/* "Configuration changes will be saved in the NVS area if AT+SYSSTORE=1" */
static void persist(atota_module_t *m)
{
    if (m->nvs_ok && m->sys.sysstore)
        (void)atota_wifi_save(&m->wifi, &m->nvs);
}

/* OK now, then an event line (ESP-AT prints Wi-Fi events after the command's result). */
static atota_at_rc_t ok_then(atota_at_t *at, const char *event)
{
    atota_at_write(at, OK_BYTES, sizeof OK_BYTES - 1);
    atota_at_write(at, event, strlen(event));
    return ATOTA_AT_SILENT;
}

/* A string parameter that must not hold NUL bytes (escapes can make them). */
static bool text_param(atota_at_t *at, const atota_at_params_t *p, unsigned i, size_t max,
                       const char **out)
{
    size_t len = 0;
    if (!atota_at_str_opt(at, p, i, max, out, &len))
        return false;
    if (*out != NULL && strlen(*out) != len) {
        atota_at_set_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_INVALID));
        return false;
    }
    return true;
}

static bool mac_param(atota_at_t *at, const atota_at_params_t *p, unsigned i, uint8_t mac[6],
                      bool *given)
{
    const char *s = NULL;
    if (!text_param(at, p, i, 17, &s))
        return false;
    *given = s != NULL;
    if (s != NULL && !atota_wifi_parse_mac(s, mac)) {
        atota_at_set_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_INVALID));
        return false;
    }
    return true;
}

/* --- AT+CWMODE --- */

static atota_at_rc_t cwmode_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    atota_at_printf(at, "+CWMODE:%u\r\n", (unsigned)m->wifi.mode);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cwmode_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    atota_wifi_t *w = &m->wifi;
    int64_t mode, autoc;
    if (!atota_at_count(at, p, 1, 2) || !atota_at_int(at, p, 0, 0, 3, &mode) ||
        !atota_at_int_opt(at, p, 1, 0, 1, 1, &autoc))
        return ATOTA_AT_ERROR;
    bool had_sta = sta_on(w);
    w->mode = (uint8_t)mode;
    persist(m);
    if (had_sta && !sta_on(w)) {
        if (atota_wifi_disconnect(w))
            return ok_then(at, "WIFI DISCONNECT\r\n");
    } else if (!had_sta && sta_on(w) && autoc && w->has_saved) {
        /* <auto_connect>: reconnect the saved AP when the station comes back */
        atota_wifi_join_begin(m, w->saved_ssid, w->saved_password, NULL, w->pci_en,
                              ATOTA_WIFI_JOIN_AUTO);
    }
    return ATOTA_AT_OK;
}

/* --- AT+CWDHCP --- */

static atota_at_rc_t cwdhcp_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    atota_at_printf(at, "+CWDHCP:%u\r\n", (unsigned)m->wifi.dhcp);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cwdhcp_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    int64_t operate, mode;
    /* <mode> bit 0 station, bit 1 softAP (bit 2 is Ethernet, absent from ESP32 AT builds) */
    if (!atota_at_count(at, p, 2, 2) || !atota_at_int(at, p, 0, 0, 1, &operate) ||
        !atota_at_int(at, p, 1, 0, 3, &mode))
        return ATOTA_AT_ERROR;
    if (operate)
        m->wifi.dhcp = (uint8_t)(m->wifi.dhcp | mode);
    else
        m->wifi.dhcp = (uint8_t)(m->wifi.dhcp & ~mode);
    persist(m);
    return ATOTA_AT_OK;
}

/* --- AT+CWAUTOCONN --- */

static atota_at_rc_t cwautoconn_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    atota_at_printf(at, "+CWAUTOCONN:%u\r\n", (unsigned)m->wifi.autoconn);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cwautoconn_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    int64_t enable;
    if (!atota_at_count(at, p, 1, 1) || !atota_at_int(at, p, 0, 0, 1, &enable))
        return ATOTA_AT_ERROR;
    m->wifi.autoconn = (uint8_t)enable;
    /* "The configuration changes will be saved in the NVS area." (no AT+SYSSTORE condition) */
    if (m->nvs_ok)
        (void)atota_wifi_save_autoconn(&m->wifi, &m->nvs);
    return ATOTA_AT_OK;
}

/* --- AT+CWJAP --- */

static atota_at_rc_t cwjap_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    const atota_wifi_t *w = &m->wifi;
    if (!sta_on(w))
        return ATOTA_AT_ERROR;
    if (!w->connected || w->joined_ap < 0) {
        atota_at_printf(at, "No AP\r\n");
        return ATOTA_AT_OK;
    }
    const atota_wifi_ap_t *ap = &w->aps[w->joined_ap];
    char bssid[18];
    atota_wifi_format_mac(ap->bssid, bssid);
    atota_at_printf(at, "+CWJAP:\"%s\",\"%s\",%u,%d,%u,%u,%u,%u,%u\r\n", ap->ssid, bssid,
                    (unsigned)ap->channel, (int)ap->rssi, (unsigned)w->pci_en,
                    (unsigned)w->reconn_interval, (unsigned)w->listen_interval,
                    (unsigned)w->scan_mode, (unsigned)w->pmf);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cwjap_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    atota_wifi_t *w = &m->wifi;
    const char *ssid = NULL, *pwd = NULL;
    uint8_t bssid[6];
    bool has_bssid = false;
    int64_t pci, reconn, listen, scan, timeout, pmf;
    if (!atota_at_count(at, p, 1, 9) || !text_param(at, p, 0, 32, &ssid) ||
        !text_param(at, p, 1, 64, &pwd) || !mac_param(at, p, 2, bssid, &has_bssid) ||
        !atota_at_int_opt(at, p, 3, 0, 1, 0, &pci) ||
        !atota_at_int_opt(at, p, 4, 0, 7200, 1, &reconn) ||
        !atota_at_int_opt(at, p, 5, 1, 100, 3, &listen) ||
        !atota_at_int_opt(at, p, 6, 0, 1, 0, &scan) ||
        !atota_at_int_opt(at, p, 7, 3, 600, 15, &timeout) ||
        !atota_at_int_opt(at, p, 8, 0, 3, 1, &pmf))
        return ATOTA_AT_ERROR;
    (void)timeout;  /* a simulated join always ends within ATOTA_WIFI_JOIN_MS, under 3 s */
    if (!sta_on(w)) /* "This command requires Station mode to be enabled." */
        return ATOTA_AT_ERROR;
    if (ssid == NULL) {
        /* "If the <ssid> and <password> parameter are omitted, AT will use the last
         * configuration." */
        if (pwd != NULL || !w->has_saved)
            return ATOTA_AT_ERROR;
    } else {
        if (ssid[0] == '\0') {
            atota_at_set_error(at, ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_PARA_INVALID));
            return ATOTA_AT_ERROR;
        }
        memcpy(w->saved_ssid, ssid, strlen(ssid) + 1);
        if (pwd == NULL)
            pwd = "";
        memcpy(w->saved_password, pwd, strlen(pwd) + 1);
        w->has_saved = true;
    }
    w->pci_en = (uint8_t)pci;
    w->reconn_interval = (uint16_t)reconn;
    w->listen_interval = (uint16_t)listen;
    w->scan_mode = (uint8_t)scan;
    w->pmf = (uint8_t)pmf;
    persist(m); /* the station configuration is stored before the connection is tried */
    atota_wifi_join_begin(m, w->saved_ssid, w->saved_password, has_bssid ? bssid : NULL,
                          w->pci_en != 0, ATOTA_WIFI_JOIN_COMMAND);
    return ATOTA_AT_PENDING;
}

static atota_at_rc_t cwjap_exec(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at;
    (void)p;
    atota_module_t *m = ctx;
    atota_wifi_t *w = &m->wifi;
    if (!sta_on(w) || !w->has_saved)
        return ATOTA_AT_ERROR;
    atota_wifi_join_begin(m, w->saved_ssid, w->saved_password, NULL, w->pci_en != 0,
                          ATOTA_WIFI_JOIN_COMMAND);
    return ATOTA_AT_PENDING;
}

/* --- AT+CWQAP --- */

static atota_at_rc_t cwqap_exec(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    if (!sta_on(&m->wifi))
        return ATOTA_AT_ERROR;
    if (atota_wifi_disconnect(&m->wifi))
        return ok_then(at, "WIFI DISCONNECT\r\n");
    return ATOTA_AT_OK;
}

/* --- AT+CWLAP, AT+CWLAPOPT --- */

/* +CWLAP:(<ecn>,<ssid>,<rssi>,<mac>,<channel>,<freq_offset>,<freqcal_val>,<pairwise_cipher>,
 * <group_cipher>,<bgn>,<wps>), each field shown when its bit of <print mask> is set. The reserved
 * freq fields read -1 and a WPA2 network uses CCMP (4) for both ciphers, as on real ESP32s. */
static void print_ap(atota_at_t *at, const atota_wifi_ap_t *ap, uint32_t mask)
{
    char mac[18];
    atota_wifi_format_mac(ap->bssid, mac);
    unsigned cipher = ap->ecn == ATOTA_WIFI_ECN_OPEN ? 0 : 4;
    bool first = true;
    atota_at_printf(at, "+CWLAP:(");
    for (unsigned bit = 0; bit < 11; bit++) {
        if (!(mask & (1u << bit)))
            continue;
        if (!first)
            atota_at_write(at, ",", 1);
        first = false;
        switch (bit) {
        case 0:
            atota_at_printf(at, "%u", (unsigned)ap->ecn);
            break;
        case 1:
            atota_at_printf(at, "\"%s\"", ap->ssid);
            break;
        case 2:
            atota_at_printf(at, "%d", (int)ap->rssi);
            break;
        case 3:
            atota_at_printf(at, "\"%s\"", mac);
            break;
        case 4:
            atota_at_printf(at, "%u", (unsigned)ap->channel);
            break;
        case 5:
        case 6:
            atota_at_printf(at, "-1");
            break;
        case 7:
        case 8:
            atota_at_printf(at, "%u", cipher);
            break;
        case 9:
            atota_at_printf(at, "7"); /* 802.11 b/g/n */
            break;
        default:
            atota_at_printf(at, "0"); /* no WPS */
            break;
        }
    }
    atota_at_printf(at, ")\r\n");
}

static atota_at_rc_t list_aps(atota_module_t *m, const char *ssid, const uint8_t *mac,
                              int64_t channel)
{
    const atota_wifi_t *w = &m->wifi;
    unsigned idx[ATOTA_WIFI_MAX_APS], n = 0;
    for (unsigned i = 0; i < w->ap_count; i++) {
        const atota_wifi_ap_t *ap = &w->aps[i];
        if (ssid != NULL && strcmp(ap->ssid, ssid) != 0)
            continue;
        if (mac != NULL && memcmp(ap->bssid, mac, 6) != 0)
            continue;
        if (channel > 0 && ap->channel != channel)
            continue;
        if (ap->rssi < w->lapopt_rssi || !(w->lapopt_authmask & (1u << ap->ecn)))
            continue;
        /* insertion keeps configuration order, or strongest first when sorting */
        unsigned at = n;
        if (w->lapopt_sort)
            while (at > 0 && w->aps[idx[at - 1]].rssi < ap->rssi)
                at--;
        memmove(&idx[at + 1], &idx[at], (n - at) * sizeof idx[0]);
        idx[at] = i;
        n++;
    }
    for (unsigned i = 0; i < n; i++)
        print_ap(&m->at, &w->aps[idx[i]], w->lapopt_mask);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cwlap_exec(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at;
    (void)p;
    atota_module_t *m = ctx;
    if (!sta_on(&m->wifi)) /* scanning needs the station interface */
        return ATOTA_AT_ERROR;
    return list_aps(m, NULL, NULL, 0);
}

static atota_at_rc_t cwlap_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    const char *ssid = NULL;
    uint8_t mac[6];
    bool has_mac = false;
    int64_t channel, scan_type, tmin, tmax;
    if (!atota_at_count(at, p, 1, 6) || !text_param(at, p, 0, 32, &ssid) ||
        !mac_param(at, p, 1, mac, &has_mac) || !atota_at_int_opt(at, p, 2, 0, 14, 0, &channel) ||
        !atota_at_int_opt(at, p, 3, 0, 1, 0, &scan_type) ||
        !atota_at_int_opt(at, p, 4, 0, 1500, 0, &tmin) ||
        !atota_at_int_opt(at, p, 5, 0, 1500, 0, &tmax))
        return ATOTA_AT_ERROR;
    if (!sta_on(&m->wifi))
        return ATOTA_AT_ERROR;
    return list_aps(m, ssid, has_mac ? mac : NULL, channel);
}

static atota_at_rc_t cwlapopt_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    int64_t sort, mask, rssi, auth;
    if (!atota_at_count(at, p, 2, 4) || !atota_at_int(at, p, 0, 0, 1, &sort) ||
        !atota_at_int(at, p, 1, 0, 0x7FF, &mask) ||
        !atota_at_int_opt(at, p, 2, -100, 40, -100, &rssi) ||
        !atota_at_int_opt(at, p, 3, 0, 0xFFFF, 0xFFFF, &auth))
        return ATOTA_AT_ERROR;
    m->wifi.lapopt_sort = (int)sort;
    m->wifi.lapopt_mask = (uint32_t)mask;
    m->wifi.lapopt_rssi = (int8_t)rssi;
    m->wifi.lapopt_authmask = (uint16_t)auth;
    return ATOTA_AT_OK;
}

/* --- addresses --- */

static void print_ip_line(atota_at_t *at, const char *cmd, const char *what, const uint8_t ip[4])
{
    char s[16];
    atota_wifi_format_ip(ip, s);
    atota_at_printf(at, "+%s:%s:\"%s\"\r\n", cmd, what, s);
}

static atota_at_rc_t cipsta_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    const atota_wifi_t *w = &m->wifi;
    if (!sta_on(w))
        return ATOTA_AT_ERROR;
    print_ip_line(at, "CIPSTA", "ip", w->sta_ip);
    print_ip_line(at, "CIPSTA", "gateway", w->sta_gw);
    print_ip_line(at, "CIPSTA", "netmask", w->sta_mask);
    if (w->ipv6 && w->connected) {
        /* the virtual APs announce no IPv6 prefix: a link-local address only, no ip6gl */
        char ll[40];
        atota_wifi_format_ip6ll(w->sta_mac, ll);
        atota_at_printf(at, "+CIPSTA:ip6ll:\"%s\"\r\n", ll);
    }
    return ATOTA_AT_OK;
}

static atota_at_rc_t cipap_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    const atota_wifi_t *w = &m->wifi;
    if (!softap_on(w))
        return ATOTA_AT_ERROR;
    static const uint8_t mask[4] = {255, 255, 255, 0};
    print_ip_line(at, "CIPAP", "ip", w->ap_ip);
    print_ip_line(at, "CIPAP", "gateway", w->ap_ip);
    print_ip_line(at, "CIPAP", "netmask", mask);
    if (w->ipv6) {
        char ll[40];
        atota_wifi_format_ip6ll(w->ap_mac, ll);
        atota_at_printf(at, "+CIPAP:ip6ll:\"%s\"\r\n", ll);
    }
    return ATOTA_AT_OK;
}

static atota_at_rc_t print_mac(atota_at_t *at, const char *cmd, bool on, const uint8_t mac[6])
{
    if (!on)
        return ATOTA_AT_ERROR;
    char s[18];
    atota_wifi_format_mac(mac, s);
    atota_at_printf(at, "+%s:\"%s\"\r\n", cmd, s);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cipstamac_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    return print_mac(at, "CIPSTAMAC", sta_on(&m->wifi), m->wifi.sta_mac);
}

static atota_at_rc_t cipapmac_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    return print_mac(at, "CIPAPMAC", softap_on(&m->wifi), m->wifi.ap_mac);
}

/* +CIFSR:<kind>,"<value>" for each interface that is on: softAP first, then station. */
static atota_at_rc_t cifsr_exec(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_module_t *m = ctx;
    const atota_wifi_t *w = &m->wifi;
    char s[40];
    if (softap_on(w)) {
        atota_wifi_format_ip(w->ap_ip, s);
        atota_at_printf(at, "+CIFSR:APIP,\"%s\"\r\n", s);
        if (w->ipv6) {
            atota_wifi_format_ip6ll(w->ap_mac, s);
            atota_at_printf(at, "+CIFSR:APIP6LL,\"%s\"\r\n", s);
        }
        atota_wifi_format_mac(w->ap_mac, s);
        atota_at_printf(at, "+CIFSR:APMAC,\"%s\"\r\n", s);
    }
    if (sta_on(w)) {
        atota_wifi_format_ip(w->sta_ip, s);
        atota_at_printf(at, "+CIFSR:STAIP,\"%s\"\r\n", s);
        if (w->ipv6 && w->connected) {
            atota_wifi_format_ip6ll(w->sta_mac, s);
            atota_at_printf(at, "+CIFSR:STAIP6LL,\"%s\"\r\n", s);
        }
        atota_wifi_format_mac(w->sta_mac, s);
        atota_at_printf(at, "+CIFSR:STAMAC,\"%s\"\r\n", s);
    }
    return ATOTA_AT_OK;
}

/* --- TCP/IP switches: AT+CIPMUX, AT+CIPRECVMODE, AT+CIPV6, AT+CIPDINFO --- */

static atota_at_rc_t set_flag(atota_at_t *at, const atota_at_params_t *p, uint8_t *flag)
{
    int64_t v;
    if (!atota_at_count(at, p, 1, 1) || !atota_at_int(at, p, 0, 0, 1, &v))
        return ATOTA_AT_ERROR;
    *flag = (uint8_t)v;
    return ATOTA_AT_OK;
}

static atota_at_rc_t cipmux_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_at_printf(at, "+CIPMUX:%u\r\n", (unsigned)((atota_module_t *)ctx)->wifi.cipmux);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cipmux_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    return set_flag(at, p, &((atota_module_t *)ctx)->wifi.cipmux);
}

static atota_at_rc_t ciprecvmode_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_at_printf(at, "+CIPRECVMODE:%u\r\n", (unsigned)((atota_module_t *)ctx)->wifi.recvmode);
    return ATOTA_AT_OK;
}

static atota_at_rc_t ciprecvmode_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    return set_flag(at, p, &((atota_module_t *)ctx)->wifi.recvmode);
}

static atota_at_rc_t cipv6_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_at_printf(at, "+CIPV6:%u\r\n", (unsigned)((atota_module_t *)ctx)->wifi.ipv6);
    return ATOTA_AT_OK;
}

static atota_at_rc_t cipv6_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    return set_flag(at, p, &((atota_module_t *)ctx)->wifi.ipv6);
}

static atota_at_rc_t cipdinfo_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    atota_at_printf(at, "+CIPDINFO:%s\r\n", ((atota_module_t *)ctx)->wifi.dinfo ? "true" : "false");
    return ATOTA_AT_OK;
}

static atota_at_rc_t cipdinfo_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    return set_flag(at, p, &((atota_module_t *)ctx)->wifi.dinfo);
}

/* --- AT+CIPSTATUS (deprecated), AT+CIPSTATE? --- */

static atota_at_rc_t cipstatus_exec(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)p;
    /* no +CIPSTATUS:<link> lines: the simulator has no sockets of its own */
    atota_at_printf(at, "STATUS:%u\r\n", atota_wifi_status(&((atota_module_t *)ctx)->wifi));
    return ATOTA_AT_OK;
}

static atota_at_rc_t cipstate_query(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    (void)at;
    (void)ctx;
    (void)p;
    return ATOTA_AT_OK; /* "When there is no connection, AT returns: OK" */
}

static const atota_at_cmd_t wifi_cmds[] = {
    {"+CWMODE", NULL, cwmode_query, cwmode_set, NULL},
    {"+CWJAP", NULL, cwjap_query, cwjap_set, cwjap_exec},
    {"+CWLAPOPT", NULL, NULL, cwlapopt_set, NULL},
    {"+CWLAP", NULL, NULL, cwlap_set, cwlap_exec},
    {"+CWQAP", NULL, NULL, NULL, cwqap_exec},
    {"+CWSAP", NULL, atota_cmd_cwsap_query, atota_cmd_cwsap_set, NULL},
    {"+CWLIF", NULL, NULL, NULL, atota_cmd_cwlif_exec},
    {"+CWDHCP", NULL, cwdhcp_query, cwdhcp_set, NULL},
    {"+CWAUTOCONN", NULL, cwautoconn_query, cwautoconn_set, NULL},
    {"+CIPSTAMAC", NULL, cipstamac_query, NULL, NULL},
    {"+CIPAPMAC", NULL, cipapmac_query, NULL, NULL},
    {"+CIPSTA", NULL, cipsta_query, NULL, NULL},
    {"+CIPAP", NULL, cipap_query, NULL, NULL},
    {"+CIPV6", NULL, cipv6_query, cipv6_set, NULL},
    {"+CIPSTATE", NULL, cipstate_query, NULL, NULL},
    {"+CIPSTATUS", NULL, NULL, NULL, cipstatus_exec},
    {"+CIFSR", NULL, NULL, NULL, cifsr_exec},
    {"+CIPMUX", NULL, cipmux_query, cipmux_set, NULL},
    {"+CIPDINFO", NULL, cipdinfo_query, cipdinfo_set, NULL},
    {"+CIPRECVMODE", NULL, ciprecvmode_query, ciprecvmode_set, NULL},
};

atota_err_t atota_cmd_wifi_register(atota_module_t *m)
{
    return atota_at_add_table(&m->at, wifi_cmds, sizeof wifi_cmds / sizeof wifi_cmds[0], m);
}
