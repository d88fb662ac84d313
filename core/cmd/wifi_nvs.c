/*
 * The Wi-Fi settings a simulated module keeps in NVS (wifi.h atota_wifi_load / atota_wifi_save;
 * docs/wifi.md "Settings in NVS"): the mode, auto-connect, DHCP, the station of AT+CWJAP and the
 * softAP of AT+CWSAP, in namespace "atota.wifi".
 */
#include "core/cmd/wifi.h"

#include <stddef.h>
#include <string.h>

/* NVS names (docs/wifi.md). ESP-AT's own live in its closed library; these are ours. */
#define WIFI_NS            "atota.wifi"
#define WIFI_KEY_MODE      "mode"
#define WIFI_KEY_AUTO      "autoconn"
#define WIFI_KEY_DHCP      "dhcp"
#define WIFI_KEY_SSID      "sta.ssid"
#define WIFI_KEY_PWD       "sta.pwd"
#define WIFI_KEY_PMF       "sta.pmf"
#define WIFI_KEY_PCI       "sta.pci"
#define WIFI_KEY_RECON     "sta.reconn"
#define WIFI_KEY_LISTN     "sta.listen"
#define WIFI_KEY_SCAN      "sta.scan"
#define WIFI_KEY_AP_SSID   "ap.ssid"
#define WIFI_KEY_AP_PWD    "ap.pwd"
#define WIFI_KEY_AP_CHL    "ap.chl"
#define WIFI_KEY_AP_ECN    "ap.ecn"
#define WIFI_KEY_AP_MAX    "ap.maxconn"
#define WIFI_KEY_AP_HIDDEN "ap.hidden"

static atota_err_t load_int(atota_nvs_t *nvs, const char *key, atota_nvs_type_t type, int64_t min,
                            int64_t max, int64_t *out)
{
    int64_t v;
    atota_err_t err = atota_nvs_get_int(nvs, WIFI_NS, key, type, &v);
    if (err == ATOTA_ERR_NVS_NOT_FOUND)
        return ATOTA_OK;
    if (err != ATOTA_OK)
        return err;
    if (v >= min && v <= max) /* a value out of range keeps the default */
        *out = v;
    return ATOTA_OK;
}

static void keep_first(atota_err_t *first, atota_err_t err)
{
    if (*first == ATOTA_OK && err != ATOTA_OK)
        *first = err;
}

/* The integer settings, in the order they are loaded and saved: the module's (saved always), then
 * the station's (saved with its name and password). */
typedef struct {
    const char *key;
    atota_nvs_type_t type; /* ATOTA_NVS_U8 or ATOTA_NVS_U16, the field's width */
    int64_t min, max;
    size_t offset; /* in atota_wifi_t */
} int_setting_t;

static const int_setting_t module_ints[] = {
    {WIFI_KEY_MODE, ATOTA_NVS_U8, 0, 3, offsetof(atota_wifi_t, mode)},
    {WIFI_KEY_AUTO, ATOTA_NVS_U8, 0, 1, offsetof(atota_wifi_t, autoconn)},
    {WIFI_KEY_DHCP, ATOTA_NVS_U8, 0, 3, offsetof(atota_wifi_t, dhcp)},
};
static const int_setting_t station_ints[] = {
    {WIFI_KEY_PCI, ATOTA_NVS_U8, 0, 1, offsetof(atota_wifi_t, pci_en)},
    {WIFI_KEY_RECON, ATOTA_NVS_U16, 0, 7200, offsetof(atota_wifi_t, reconn_interval)},
    {WIFI_KEY_LISTN, ATOTA_NVS_U16, 1, 100, offsetof(atota_wifi_t, listen_interval)},
    {WIFI_KEY_SCAN, ATOTA_NVS_U8, 0, 1, offsetof(atota_wifi_t, scan_mode)},
    {WIFI_KEY_PMF, ATOTA_NVS_U8, 0, 3, offsetof(atota_wifi_t, pmf)},
};

static int64_t int_get(const atota_wifi_t *w, const int_setting_t *s)
{
    const uint8_t *field = (const uint8_t *)w + s->offset;
    if (s->type == ATOTA_NVS_U16) {
        uint16_t v;
        memcpy(&v, field, sizeof v);
        return v;
    }
    return *field;
}

static void int_set(atota_wifi_t *w, const int_setting_t *s, int64_t v)
{
    uint8_t *field = (uint8_t *)w + s->offset;
    if (s->type == ATOTA_NVS_U16) {
        uint16_t u = (uint16_t)v;
        memcpy(field, &u, sizeof u);
    } else {
        *field = (uint8_t)v;
    }
}

static atota_err_t load_ints(atota_wifi_t *w, atota_nvs_t *nvs, const int_setting_t *set,
                             size_t count)
{
    atota_err_t first = ATOTA_OK;
    for (size_t i = 0; i < count; i++) {
        int64_t v = int_get(w, &set[i]);
        keep_first(&first, load_int(nvs, set[i].key, set[i].type, set[i].min, set[i].max, &v));
        int_set(w, &set[i], v);
    }
    return first;
}

static atota_err_t load_str(atota_nvs_t *nvs, const char *key, char *out, size_t cap, bool *found)
{
    size_t len;
    atota_err_t err = atota_nvs_get_str(nvs, WIFI_NS, key, out, cap, &len);
    *found = err == ATOTA_OK;
    return err == ATOTA_ERR_NVS_NOT_FOUND ? ATOTA_OK : err;
}

/* The softAP is taken whole or not at all: a set of keys that is not one AT+CWSAP accepts (a
 * power cut between two of them, say WPA2 with the empty password of the open network before)
 * keeps the default. */
static atota_err_t load_softap(atota_wifi_t *w, atota_nvs_t *nvs)
{
    atota_wifi_softap_t ap = w->softap;
    atota_err_t first = ATOTA_OK;
    bool has_ssid = false, has_pwd = false;
    keep_first(&first, load_str(nvs, WIFI_KEY_AP_SSID, ap.ssid, sizeof ap.ssid, &has_ssid));
    keep_first(&first, load_str(nvs, WIFI_KEY_AP_PWD, ap.password, sizeof ap.password, &has_pwd));
    if (!has_ssid || !has_pwd)
        return first;
    static const struct {
        const char *key;
        size_t offset;
    } bytes[] = {
        {WIFI_KEY_AP_CHL, offsetof(atota_wifi_softap_t, channel)},
        {WIFI_KEY_AP_ECN, offsetof(atota_wifi_softap_t, ecn)},
        {WIFI_KEY_AP_MAX, offsetof(atota_wifi_softap_t, max_conn)},
        {WIFI_KEY_AP_HIDDEN, offsetof(atota_wifi_softap_t, hidden)},
    };
    for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++) {
        uint8_t *field = (uint8_t *)&ap + bytes[i].offset;
        int64_t v = *field;
        keep_first(&first, load_int(nvs, bytes[i].key, ATOTA_NVS_U8, 0, 255, &v));
        *field = (uint8_t)v;
    }
    if (first == ATOTA_OK && atota_wifi_softap_valid(&ap)) {
        w->softap = ap;
        w->has_softap = true;
    }
    return first;
}

atota_err_t atota_wifi_load(atota_wifi_t *w, atota_nvs_t *nvs)
{
    atota_err_t first = ATOTA_OK;
    keep_first(&first, load_ints(w, nvs, module_ints, sizeof module_ints / sizeof module_ints[0]));
    keep_first(&first,
               load_ints(w, nvs, station_ints, sizeof station_ints / sizeof station_ints[0]));

    char ssid[sizeof w->saved_ssid], pwd[sizeof w->saved_password];
    size_t slen = 0, plen = 0;
    atota_err_t es = atota_nvs_get_str(nvs, WIFI_NS, WIFI_KEY_SSID, ssid, sizeof ssid, &slen);
    atota_err_t ep = atota_nvs_get_str(nvs, WIFI_NS, WIFI_KEY_PWD, pwd, sizeof pwd, &plen);
    if (es == ATOTA_OK && slen > 0 && (ep == ATOTA_OK || ep == ATOTA_ERR_NVS_NOT_FOUND)) {
        memcpy(w->saved_ssid, ssid, slen + 1);
        if (ep == ATOTA_OK)
            memcpy(w->saved_password, pwd, plen + 1);
        else
            w->saved_password[0] = '\0';
        w->has_saved = true;
    }
    if (es != ATOTA_ERR_NVS_NOT_FOUND)
        keep_first(&first, es);
    if (ep != ATOTA_ERR_NVS_NOT_FOUND)
        keep_first(&first, ep);
    keep_first(&first, load_softap(w, nvs));
    return first;
}

/* Writes only what differs, so that saving unchanged settings costs no flash writes. */
static atota_err_t save_int(atota_nvs_t *nvs, const char *key, atota_nvs_type_t type, int64_t value)
{
    int64_t old;
    if (atota_nvs_get_int(nvs, WIFI_NS, key, type, &old) == ATOTA_OK && old == value)
        return ATOTA_OK;
    return atota_nvs_set_int(nvs, WIFI_NS, key, type, value);
}

static atota_err_t save_str(atota_nvs_t *nvs, const char *key, const char *value)
{
    char old[80];
    size_t len;
    if (atota_nvs_get_str(nvs, WIFI_NS, key, old, sizeof old, &len) == ATOTA_OK &&
        strcmp(old, value) == 0)
        return ATOTA_OK;
    return atota_nvs_set_str(nvs, WIFI_NS, key, value);
}

static atota_err_t save_ints(const atota_wifi_t *w, atota_nvs_t *nvs, const int_setting_t *set,
                             size_t count)
{
    atota_err_t err = ATOTA_OK;
    for (size_t i = 0; i < count && err == ATOTA_OK; i++)
        err = save_int(nvs, set[i].key, set[i].type, int_get(w, &set[i]));
    return err;
}

static atota_err_t erase_key(atota_nvs_t *nvs, const char *key)
{
    atota_err_t err = atota_nvs_erase_key(nvs, WIFI_NS, key);
    return err == ATOTA_ERR_NVS_NOT_FOUND ? ATOTA_OK : err;
}

atota_err_t atota_wifi_save_autoconn(const atota_wifi_t *w, atota_nvs_t *nvs)
{
    return save_int(nvs, WIFI_KEY_AUTO, ATOTA_NVS_U8, w->autoconn);
}

/* The password, channel and the rest before the name, as the station's: a power cut leaves the old
 * name, and load_softap refuses a set that does not fit together. */
static atota_err_t save_softap(const atota_wifi_t *w, atota_nvs_t *nvs)
{
    static const char *const keys[] = {WIFI_KEY_AP_PWD, WIFI_KEY_AP_CHL,    WIFI_KEY_AP_ECN,
                                       WIFI_KEY_AP_MAX, WIFI_KEY_AP_HIDDEN, WIFI_KEY_AP_SSID};
    const atota_wifi_softap_t *ap = &w->softap;
    atota_err_t err = ATOTA_OK;
    if (!w->has_softap) {
        for (size_t i = 0; i < sizeof keys / sizeof keys[0] && err == ATOTA_OK; i++)
            err = erase_key(nvs, keys[i]);
        return err;
    }
    if ((err = save_str(nvs, WIFI_KEY_AP_PWD, ap->password)) != ATOTA_OK ||
        (err = save_int(nvs, WIFI_KEY_AP_CHL, ATOTA_NVS_U8, ap->channel)) != ATOTA_OK ||
        (err = save_int(nvs, WIFI_KEY_AP_ECN, ATOTA_NVS_U8, ap->ecn)) != ATOTA_OK ||
        (err = save_int(nvs, WIFI_KEY_AP_MAX, ATOTA_NVS_U8, ap->max_conn)) != ATOTA_OK ||
        (err = save_int(nvs, WIFI_KEY_AP_HIDDEN, ATOTA_NVS_U8, ap->hidden)) != ATOTA_OK)
        return err;
    return save_str(nvs, WIFI_KEY_AP_SSID, ap->ssid);
}

atota_err_t atota_wifi_save(const atota_wifi_t *w, atota_nvs_t *nvs)
{
    atota_err_t err;
    if ((err = save_softap(w, nvs)) != ATOTA_OK)
        return err;
    if ((err = save_ints(w, nvs, module_ints, sizeof module_ints / sizeof module_ints[0])) !=
        ATOTA_OK)
        return err;
    if (!w->has_saved) {
        if ((err = erase_key(nvs, WIFI_KEY_SSID)) != ATOTA_OK)
            return err;
        return erase_key(nvs, WIFI_KEY_PWD);
    }
    /* the password before the name: a power cut between the two leaves the old name, never a
     * new name with an old password */
    if ((err = save_str(nvs, WIFI_KEY_PWD, w->saved_password)) != ATOTA_OK)
        return err;
    if ((err = save_str(nvs, WIFI_KEY_SSID, w->saved_ssid)) != ATOTA_OK)
        return err;
    return save_ints(w, nvs, station_ints, sizeof station_ints / sizeof station_ints[0]);
}
