/*
 * Virtual Wi-Fi and the TCP/IP status of a simulated module (core/cmd/wifi.c, the model;
 * core/cmd/wifi_nvs.c, its settings in NVS; core/cmd/cmd_wifi.c and cmd_softap.c, the AT
 * commands; docs/wifi.md). The access points are configured
 * (atota-sim --ap NAME:PASSWORD; by default one, "atota" with password "atota-pass"); joining one
 * checks the password and gives the station an address. The network a connected station reaches
 * is the host's. A saved station reconnects by itself after a reboot (AT+CWAUTOCONN=1, ESP-AT's
 * default), printing "WIFI CONNECTED" and "WIFI GOT IP" unsolicited.
 */
#ifndef ATOTA_CORE_CMD_WIFI_H
#define ATOTA_CORE_CMD_WIFI_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/fmt/nvs.h"

struct atota_module;

#define ATOTA_WIFI_DEFAULT_SSID     "atota"
#define ATOTA_WIFI_DEFAULT_PASSWORD "atota-pass"

/* How long a simulated join (association, 4-way handshake, DHCP) takes. A real one takes one to
 * a few seconds; short here so that tests stay fast. */
#define ATOTA_WIFI_JOIN_MS 300u

/* AT+CWLAP's <ecn> (Wi-Fi_AT_Commands.rst). */
#define ATOTA_WIFI_ECN_OPEN     0
#define ATOTA_WIFI_ECN_WPA2_PSK 3

/* AT+CWJAP's "+CWJAP:<error code>" (Wi-Fi_AT_Commands.rst). */
#define ATOTA_WIFI_JAP_TIMEOUT        1
#define ATOTA_WIFI_JAP_WRONG_PASSWORD 2
#define ATOTA_WIFI_JAP_NO_AP          3
#define ATOTA_WIFI_JAP_FAILED         4

/* AT+CIPSTATUS's STATUS:<stat> (TCP-IP_AT_Commands.rst, the deprecated AT+CIPSTATUS). */
#define ATOTA_WIFI_STATUS_NOT_INIT   0 /* no station interface (CWMODE 0 or 2) */
#define ATOTA_WIFI_STATUS_IDLE       1 /* station on, no connection started since boot */
#define ATOTA_WIFI_STATUS_GOT_IP     2
#define ATOTA_WIFI_STATUS_NOT_JOINED 5 /* a connection was started but is not (or no longer) up */

typedef struct {
    char ssid[33];
    char password[65];
    uint8_t bssid[6];
    int8_t rssi;
    uint8_t channel;
    uint8_t ecn; /* AT+CWLAP's encryption: 0 open, 3 WPA2_PSK, ... */
} atota_wifi_ap_t;

#define ATOTA_WIFI_MAX_APS 16

/* AT+CWSAP's <ecn> (Wi-Fi_AT_Commands.rst: "WEP is not supported"). */
#define ATOTA_WIFI_ECN_WPA_PSK      2
#define ATOTA_WIFI_ECN_WPA_WPA2_PSK 4

/* The softAP's channels: ESP-AT's country from factory_param_data.csv (start_channel 1,
 * channel_num 13, "CN"). */
#define ATOTA_WIFI_SOFTAP_CHANNEL_MAX 13
/* <max conn>: ESP-IDF's wifi.rst "AP Basic Configuration": default 10; at most
 * 17 - CONFIG_ESP_WIFI_ESPNOW_MAX_ENCRYPT_NUM (7 by default) = 10 on ESP32. */
#define ATOTA_WIFI_SOFTAP_MAX_CONN 10

/* The softAP's configuration (AT+CWSAP; docs/wifi.md "The softAP"). */
typedef struct {
    char ssid[33];     /* 1-32 bytes */
    char password[64]; /* empty, or 8-63 bytes; required unless ecn is open */
    uint8_t channel;   /* 1-ATOTA_WIFI_SOFTAP_CHANNEL_MAX */
    uint8_t ecn;       /* 0 open, 2 WPA_PSK, 3 WPA2_PSK, 4 WPA_WPA2_PSK */
    uint8_t max_conn;  /* 1-ATOTA_WIFI_SOFTAP_MAX_CONN */
    uint8_t hidden;    /* 1: the SSID is not broadcast */
} atota_wifi_softap_t;

/* Who started the join in progress. */
typedef enum {
    ATOTA_WIFI_JOIN_NONE = 0,
    ATOTA_WIFI_JOIN_COMMAND, /* AT+CWJAP: the engine is PENDING until the join ends */
    ATOTA_WIFI_JOIN_AUTO,    /* auto-connect after boot or AT+CWMODE: unsolicited messages only */
} atota_wifi_join_t;

/* The state wifi.c and cmd_wifi.c keep; fields are theirs. */
typedef struct {
    atota_wifi_ap_t aps[ATOTA_WIFI_MAX_APS];
    unsigned ap_count;
    /* persistent (NVS, docs/wifi.md) */
    uint8_t mode;     /* AT+CWMODE: 0 off, 1 station, 2 softAP, 3 both */
    uint8_t autoconn; /* AT+CWAUTOCONN */
    uint8_t dhcp;     /* AT+CWDHCP bits: 0 station, 1 softAP */
    char saved_ssid[33];
    char saved_password[65];
    bool has_saved;
    atota_wifi_softap_t softap;
    bool
        has_softap; /* softap was set by AT+CWSAP (or loaded): saved; else the default, not saved */
    /* volatile */
    bool connected;
    int joined_ap;             /* index in aps, -1 */
    uint64_t join_deadline_ms; /* a join in progress completes at this time */
    int pending_error;         /* +CWJAP:<code> of the join in progress, 0 = it succeeds */
    uint8_t joining;           /* atota_wifi_join_t */
    int join_target;           /* the AP the join in progress reaches, -1 none */
    bool sta_started;          /* a connection was started since boot (CIPSTATUS 1 vs 5) */
    bool has_ip;               /* the station has an IPv4 address (DHCP) */
    /* AT+CWJAP's options, reported by AT+CWJAP? */
    uint8_t pci_en, scan_mode, pmf;
    uint16_t reconn_interval, listen_interval;
    uint8_t cipmux, recvmode, ipv6, dinfo;
    /* AT+CWLAPOPT */
    uint32_t lapopt_mask;
    int lapopt_sort;
    int8_t lapopt_rssi;
    uint16_t lapopt_authmask;
    uint8_t sta_ip[4], sta_gw[4], sta_mask[4];
    uint8_t ap_ip[4];
    uint8_t sta_mac[6], ap_mac[6];
} atota_wifi_t;

/* Fresh state for a boot: the access points (NULL/0: the default one; more than
 * ATOTA_WIFI_MAX_APS are cut), ESP-AT's defaults. base_mac (NULL: 24:0a:c4:00:00:01) is the
 * station's MAC; the softAP's is base_mac + 1, as ESP-IDF derives it, and the default softAP is
 * ESP-IDF's: "ESP_" and the softAP MAC's last three bytes (uppercase hex), open, channel 1. */
void atota_wifi_init(atota_wifi_t *w, const atota_wifi_ap_t *aps, unsigned count,
                     const uint8_t base_mac[6]);
/* Loads / stores the persistent part (namespace "atota.wifi", docs/wifi.md; wifi_nvs.c). A
 * missing key keeps the default; load returns the first other NVS error and keeps going. The
 * softAP loads whole or not at all (a set of keys atota_wifi_softap_valid refuses keeps the
 * default). save writes only the keys whose stored value differs, and the softAP only when
 * has_softap (its keys are erased otherwise). */
atota_err_t atota_wifi_load(atota_wifi_t *w, atota_nvs_t *nvs);
atota_err_t atota_wifi_save(const atota_wifi_t *w, atota_nvs_t *nvs);
/* Whether a softAP configuration is one AT+CWSAP accepts (the limits of atota_wifi_softap_t). */
bool atota_wifi_softap_valid(const atota_wifi_softap_t *ap);
/* Stores AT+CWAUTOCONN alone (ESP-AT saves it whatever AT+SYSSTORE says). */
atota_err_t atota_wifi_save_autoconn(const atota_wifi_t *w, atota_nvs_t *nvs);
/* After "ready": reconnects a saved station when auto-connect is on. */
void atota_wifi_start(struct atota_module *m);
/* Timers: completes a join in progress. */
void atota_wifi_poll(struct atota_module *m);
/* Whether the station is connected with an address (network features need it). */
bool atota_wifi_connected(const atota_wifi_t *w);

/* Parses "NAME:PASSWORD" (the --ap option) into ap with a stable made-up BSSID, channel and
 * RSSI derived from the name. The name ends at the first ':' not escaped by a backslash ("\:" and
 * "\\" put ':' and '\' in a name); the password is the rest, verbatim. An empty password, or no
 * ':' at all, makes an open network. Limits: name 1-32 bytes; password empty, 8-63 characters or
 * 64 hex digits (WPA2-PSK). ATOTA_ERR_INVALID_ARG otherwise, with diag saying why. */
atota_err_t atota_wifi_ap_parse(const char *text, atota_wifi_ap_t *ap, atota_diag_t *diag);

/* --- for cmd_wifi.c --- */

/* Starts a join of the station: finds the AP (by ssid, and bssid when not NULL; pci_en refuses
 * an open one) and decides the outcome, which atota_wifi_poll reveals after ATOTA_WIFI_JOIN_MS.
 * A connected station is dropped first ("WIFI DISCONNECT" is printed). */
void atota_wifi_join_begin(struct atota_module *m, const char *ssid, const char *password,
                           const uint8_t *bssid, bool pci_en, atota_wifi_join_t kind);
/* Drops the connection and any join in progress (not a command's: that one is never cancelled
 * here). Returns whether a connection was up (the caller prints "WIFI DISCONNECT"). */
bool atota_wifi_disconnect(atota_wifi_t *w);
/* STATUS:<stat> of AT+CIPSTATUS. */
unsigned atota_wifi_status(const atota_wifi_t *w);
/* Text forms: "192.168.4.1", "24:0a:c4:00:00:01", and the EUI-64 link-local IPv6 address of a
 * MAC as lwIP prints it ("fe80::260a:c4ff:fe00:1"). */
void atota_wifi_format_ip(const uint8_t ip[4], char out[16]);
void atota_wifi_format_mac(const uint8_t mac[6], char out[18]);
void atota_wifi_format_ip6ll(const uint8_t mac[6], char out[40]);
/* "aa:bb:cc:dd:ee:ff" (either case) into mac; false if malformed. */
bool atota_wifi_parse_mac(const char *text, uint8_t mac[6]);

#endif /* ATOTA_CORE_CMD_WIFI_H */
