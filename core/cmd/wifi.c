/*
 * The virtual Wi-Fi of a simulated module (wifi.h, docs/wifi.md): the access points, joining one,
 * the addresses a station gets, auto-connect after boot, and the softAP's configuration. The
 * settings kept in NVS are wifi_nvs.c; the AT commands that drive it are in cmd_wifi.c and
 * cmd_softap.c.
 */
#include "core/cmd/wifi.h"

#include <string.h>

#include "core/at/at.h"
#include "core/cmd/module.h"
#include "core/util/text.h"

static const uint8_t default_base_mac[6] = {0x24, 0x0a, 0xc4, 0x00, 0x00, 0x01};

/* FNV-1a: the made-up radio facts of an AP and its network come from its name, so the same --ap
 * gives the same BSSID, channel, RSSI and subnet on every run. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 16777619u;
    }
    return h;
}

static void ap_derive(atota_wifi_ap_t *ap)
{
    uint32_t h = name_hash(ap->ssid);
    uint32_t x = h;
    for (unsigned i = 0; i < 6; i++) {
        x = x * 1103515245u + 12345u;
        ap->bssid[i] = (uint8_t)(x >> 16);
    }
    /* a unicast, locally administered address: nobody's real router */
    ap->bssid[0] = (uint8_t)((ap->bssid[0] & 0xFC) | 0x02);
    ap->channel = (uint8_t)(1 + h % 11);             /* 1-11: allowed everywhere */
    ap->rssi = (int8_t)(-40 - (int)((h >> 8) % 40)); /* -40 to -79 dBm */
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool password_ok(const char *pwd, size_t len)
{
    if (len == 0)
        return true;
    if (len == 64) {
        for (size_t i = 0; i < len; i++)
            if (!is_hex(pwd[i]))
                return false;
        return true;
    }
    return len >= 8 && len <= 63;
}

atota_err_t atota_wifi_ap_parse(const char *text, atota_wifi_ap_t *ap, atota_diag_t *diag)
{
    if (text == NULL || ap == NULL)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "no access point given");
    memset(ap, 0, sizeof *ap);
    size_t n = 0;
    const char *p = text;
    for (; *p && *p != ':'; p++) {
        char c = *p;
        if (c == '\\' && (p[1] == ':' || p[1] == '\\'))
            c = *++p;
        if (n >= sizeof ap->ssid - 1)
            return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                                  "access point \"%s\": the name is longer than 32 bytes", text);
        ap->ssid[n++] = c;
    }
    ap->ssid[n] = '\0';
    if (n == 0)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "access point \"%s\": the name is empty (expected NAME:PASSWORD)",
                              text);
    const char *pwd = *p == ':' ? p + 1 : "";
    size_t plen = strlen(pwd);
    if (!password_ok(pwd, plen))
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "access point \"%s\": a WPA2 password has 8 to 63 characters or 64 "
                              "hex digits, this one has %zu",
                              ap->ssid, plen);
    memcpy(ap->password, pwd, plen + 1);
    ap->ecn = plen ? ATOTA_WIFI_ECN_WPA2_PSK : ATOTA_WIFI_ECN_OPEN;
    ap_derive(ap);
    return ATOTA_OK;
}

static void softap_default(atota_wifi_softap_t *ap, const uint8_t ap_mac[6]);

void atota_wifi_init(atota_wifi_t *w, const atota_wifi_ap_t *aps, unsigned count,
                     const uint8_t base_mac[6])
{
    memset(w, 0, sizeof *w);
    if (aps == NULL || count == 0) {
        atota_wifi_ap_t *ap = &w->aps[0];
        memcpy(ap->ssid, ATOTA_WIFI_DEFAULT_SSID, sizeof ATOTA_WIFI_DEFAULT_SSID);
        memcpy(ap->password, ATOTA_WIFI_DEFAULT_PASSWORD, sizeof ATOTA_WIFI_DEFAULT_PASSWORD);
        ap->ecn = ATOTA_WIFI_ECN_WPA2_PSK;
        ap_derive(ap);
        w->ap_count = 1;
    } else {
        w->ap_count = count < ATOTA_WIFI_MAX_APS ? count : ATOTA_WIFI_MAX_APS;
        memcpy(w->aps, aps, w->ap_count * sizeof *aps);
    }
    /* ESP-AT's defaults (Wi-Fi_AT_Commands.rst, TCP-IP_AT_Commands.rst; docs/wifi.md) */
    w->mode = 1;
    w->autoconn = 1;
    w->dhcp = 3;
    w->joined_ap = -1;
    w->join_target = -1;
    w->pci_en = 0;
    w->reconn_interval = 1;
    w->listen_interval = 3;
    w->scan_mode = 0;
    w->pmf = 1;
    w->lapopt_sort = 0;
    w->lapopt_mask = 0x7FF;
    w->lapopt_rssi = -100;
    w->lapopt_authmask = 0xFFFF;
    static const uint8_t ap_ip[4] = {192, 168, 4, 1}; /* ESP-IDF's softAP default */
    memcpy(w->ap_ip, ap_ip, 4);
    memcpy(w->sta_mac, base_mac ? base_mac : default_base_mac, 6);
    /* ESP-IDF: softAP MAC = base MAC + 1 (a 48-bit increment here) */
    memcpy(w->ap_mac, w->sta_mac, 6);
    for (int i = 5; i >= 0; i--)
        if (++w->ap_mac[i] != 0)
            break;
    softap_default(&w->softap, w->ap_mac);
}

/* ESP-IDF's wifi.rst, AP Basic Configuration: "the AP defaults the SSID to ESP_aabbcc, where
 * aabbcc is the last three bytes of the AP MAC" (uppercase on real modules: "ESP_57E062"), open,
 * channel 1, max_connection 10, SSID broadcast. */
static void softap_default(atota_wifi_softap_t *ap, const uint8_t ap_mac[6])
{
    static const char hex[] = "0123456789ABCDEF";
    memset(ap, 0, sizeof *ap);
    memcpy(ap->ssid, "ESP_", 4);
    for (int i = 0; i < 3; i++) {
        ap->ssid[4 + 2 * i] = hex[ap_mac[3 + i] >> 4];
        ap->ssid[5 + 2 * i] = hex[ap_mac[3 + i] & 0xF];
    }
    ap->ssid[10] = '\0';
    ap->channel = 1;
    ap->ecn = ATOTA_WIFI_ECN_OPEN;
    ap->max_conn = ATOTA_WIFI_SOFTAP_MAX_CONN;
}

/* The length of a string in a field of cap bytes; cap when it has no NUL. */
static size_t field_len(const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap);
    return nul ? (size_t)(nul - s) : cap;
}

bool atota_wifi_softap_valid(const atota_wifi_softap_t *ap)
{
    size_t slen = field_len(ap->ssid, sizeof ap->ssid);
    size_t plen = field_len(ap->password, sizeof ap->password);
    if (slen == 0 || slen >= sizeof ap->ssid || plen >= sizeof ap->password)
        return false;
    if ((plen != 0 && plen < 8) || (plen == 0 && ap->ecn != ATOTA_WIFI_ECN_OPEN))
        return false;
    bool ecn_ok = ap->ecn == ATOTA_WIFI_ECN_OPEN || ap->ecn == ATOTA_WIFI_ECN_WPA_PSK ||
                  ap->ecn == ATOTA_WIFI_ECN_WPA2_PSK || ap->ecn == ATOTA_WIFI_ECN_WPA_WPA2_PSK;
    return ecn_ok && ap->channel >= 1 && ap->channel <= ATOTA_WIFI_SOFTAP_CHANNEL_MAX &&
           ap->max_conn >= 1 && ap->max_conn <= ATOTA_WIFI_SOFTAP_MAX_CONN && ap->hidden <= 1;
}

/* --- joining --- */

static uint64_t now_ms(const atota_module_t *m)
{
    if (m->host == NULL || m->host->now_ms == NULL)
        return 0;
    return m->host->now_ms(m->host->ctx);
}

static void write_str(atota_module_t *m, const char *s)
{
    atota_at_write(&m->at, s, strlen(s));
}

static bool psk_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    if (la != 64) /* passphrases are case-sensitive */
        return strcmp(a, b) == 0;
    for (size_t i = 0; i < la; i++) { /* a raw PSK in hex: any case */
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'F')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'F')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

bool atota_wifi_disconnect(atota_wifi_t *w)
{
    bool was = w->connected;
    w->connected = false;
    w->has_ip = false;
    w->joined_ap = -1;
    memset(w->sta_ip, 0, 4);
    memset(w->sta_gw, 0, 4);
    memset(w->sta_mask, 0, 4);
    if (w->joining == ATOTA_WIFI_JOIN_AUTO) {
        w->joining = ATOTA_WIFI_JOIN_NONE;
        w->join_target = -1;
    }
    return was;
}

void atota_wifi_join_begin(atota_module_t *m, const char *ssid, const char *password,
                           const uint8_t *bssid, bool pci_en, atota_wifi_join_t kind)
{
    atota_wifi_t *w = &m->wifi;
    if (atota_wifi_disconnect(w))
        write_str(m, "WIFI DISCONNECT\r\n");
    int target = -1;
    int error = ATOTA_WIFI_JAP_NO_AP;
    for (unsigned i = 0; i < w->ap_count; i++) {
        const atota_wifi_ap_t *ap = &w->aps[i];
        if (strcmp(ap->ssid, ssid) != 0)
            continue;
        if (bssid != NULL && memcmp(ap->bssid, bssid, 6) != 0)
            continue;
        /* <pci_en> 1: no OPEN (or WEP) networks; such an AP is filtered out of the scan */
        if (pci_en && ap->ecn == ATOTA_WIFI_ECN_OPEN)
            continue;
        target = (int)i;
        if (ap->ecn == ATOTA_WIFI_ECN_OPEN || psk_equal(ap->password, password))
            error = 0;
        else
            error = ATOTA_WIFI_JAP_WRONG_PASSWORD;
        break;
    }
    w->joining = (uint8_t)kind;
    w->join_target = target;
    w->pending_error = error;
    w->join_deadline_ms = now_ms(m) + ATOTA_WIFI_JOIN_MS;
    w->sta_started = true;
}

/* The station's network: 192.168.<N>.0/24 with N from the AP's name (10-249, never the softAP's
 * 192.168.4.0/24), gateway .1, the station at .100-.199 from its MAC. */
static void assign_address(atota_wifi_t *w, const atota_wifi_ap_t *ap)
{
    uint8_t net = (uint8_t)(10 + name_hash(ap->ssid) % 240);
    w->sta_ip[0] = 192;
    w->sta_ip[1] = 168;
    w->sta_ip[2] = net;
    w->sta_ip[3] = (uint8_t)(100 + w->sta_mac[5] % 100);
    memcpy(w->sta_gw, w->sta_ip, 3);
    w->sta_gw[3] = 1;
    static const uint8_t mask[4] = {255, 255, 255, 0};
    memcpy(w->sta_mask, mask, 4);
}

void atota_wifi_poll(atota_module_t *m)
{
    atota_wifi_t *w = &m->wifi;
    if (w->joining == ATOTA_WIFI_JOIN_NONE || now_ms(m) < w->join_deadline_ms)
        return;
    atota_wifi_join_t kind = (atota_wifi_join_t)w->joining;
    w->joining = ATOTA_WIFI_JOIN_NONE;
    if (w->pending_error != 0) {
        w->join_target = -1;
        if (kind == ATOTA_WIFI_JOIN_COMMAND) {
            atota_at_printf(&m->at, "+CWJAP:%d\r\n", w->pending_error);
            atota_at_complete(&m->at, ATOTA_AT_ERROR);
        }
        /* a failed auto-connect is silent, as ESP-AT's (docs/wifi.md) */
        return;
    }
    w->connected = true;
    w->joined_ap = w->join_target;
    w->join_target = -1;
    /* Wi-Fi_AT_Commands.rst, AT+CWJAP: WIFI CONNECTED, WIFI GOT IP, OK, [WIFI GOT IPv6 LL]. With
     * station DHCP off there is no address to get (no static one is simulated). */
    write_str(m, "WIFI CONNECTED\r\n");
    if (w->dhcp & 1) {
        assign_address(w, &w->aps[w->joined_ap]);
        w->has_ip = true;
        write_str(m, "WIFI GOT IP\r\n");
    }
    if (kind == ATOTA_WIFI_JOIN_COMMAND)
        atota_at_complete(&m->at, ATOTA_AT_OK);
    if (w->ipv6)
        write_str(m, "WIFI GOT IPv6 LL\r\n");
}

void atota_wifi_start(atota_module_t *m)
{
    atota_wifi_t *w = &m->wifi;
    if ((w->mode & 1) && w->autoconn && w->has_saved)
        atota_wifi_join_begin(m, w->saved_ssid, w->saved_password, NULL, w->pci_en,
                              ATOTA_WIFI_JOIN_AUTO);
}

bool atota_wifi_connected(const atota_wifi_t *w)
{
    return w->connected && w->has_ip;
}

unsigned atota_wifi_status(const atota_wifi_t *w)
{
    if (!(w->mode & 1))
        return ATOTA_WIFI_STATUS_NOT_INIT;
    if (atota_wifi_connected(w))
        return ATOTA_WIFI_STATUS_GOT_IP;
    return w->sta_started ? ATOTA_WIFI_STATUS_NOT_JOINED : ATOTA_WIFI_STATUS_IDLE;
}

/* --- text forms --- */

static char *put_dec(char *p, unsigned v)
{
    char tmp[4];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_hex(char *p, unsigned v, int min_digits)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[8];
    int n = 0;
    do {
        tmp[n++] = digits[v & 0xF];
        v >>= 4;
    } while (v || n < min_digits);
    while (n)
        *p++ = tmp[--n];
    return p;
}

void atota_wifi_format_ip(const uint8_t ip[4], char out[16])
{
    char *p = out;
    for (int i = 0; i < 4; i++) {
        if (i)
            *p++ = '.';
        p = put_dec(p, ip[i]);
    }
    *p = '\0';
}

void atota_wifi_format_mac(const uint8_t mac[6], char out[18])
{
    char *p = out;
    for (int i = 0; i < 6; i++) {
        if (i)
            *p++ = ':';
        p = put_hex(p, mac[i], 2);
    }
    *p = '\0';
}

/* lwIP's ip6addr_ntoa_r: lowercase hex without leading zeros, and the first run of two or more
 * zero blocks shown as "::". */
void atota_wifi_format_ip6ll(const uint8_t mac[6], char out[40])
{
    uint16_t b[8] = {0xfe80, 0, 0, 0, 0, 0, 0, 0};
    b[4] = (uint16_t)(((mac[0] ^ 0x02) << 8) | mac[1]); /* EUI-64: flip the U/L bit */
    b[5] = (uint16_t)((mac[2] << 8) | 0xff);
    b[6] = (uint16_t)(0xfe00 | mac[3]);
    b[7] = (uint16_t)((mac[4] << 8) | mac[5]);
    char *p = out;
    int empty = 0; /* 0 none yet, 1 inside the "::" run, 2 after it */
    for (int i = 0; i < 8; i++) {
        if (b[i] == 0) {
            if (i == 7 && empty == 1) {
                *p++ = ':';
                break;
            }
            if (empty == 0 && i < 7 && b[i + 1] == 0) {
                empty = 1;
                *p++ = ':';
                continue;
            }
            if (empty == 1)
                continue;
        } else if (empty == 1) {
            empty = 2;
        }
        if (i > 0)
            *p++ = ':';
        p = put_hex(p, b[i], 1);
    }
    *p = '\0';
}

bool atota_wifi_parse_mac(const char *text, uint8_t mac[6])
{
    if (strlen(text) != 17)
        return false;
    for (int i = 0; i < 6; i++) {
        int hi = atota_hex_digit(text[i * 3]), lo = atota_hex_digit(text[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':'))
            return false;
        mac[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}
