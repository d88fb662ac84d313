/*
 * Virtual Wi-Fi and the TCP/IP status of a simulated module (core/cmd/cmd_wifi.c). The access
 * points are configured (atota-sim --ap NAME:PASSWORD; by default one, "atota" with password
 * "atota-pass"); joining one checks the password and gives the station an address. The network
 * a connected station reaches is the host's. A saved station reconnects by itself after a reboot
 * (AT+CWAUTOCONN=1, ESP-AT's default), printing "WIFI CONNECTED" and "WIFI GOT IP" unsolicited.
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

typedef struct {
    char ssid[33];
    char password[65];
    uint8_t bssid[6];
    int8_t rssi;
    uint8_t channel;
    uint8_t ecn; /* AT+CWLAP's encryption: 0 open, 3 WPA2_PSK, ... */
} atota_wifi_ap_t;

#define ATOTA_WIFI_MAX_APS 16

/* The state cmd_wifi.c keeps; fields are cmd_wifi.c's own. */
typedef struct {
    atota_wifi_ap_t aps[ATOTA_WIFI_MAX_APS];
    unsigned ap_count;
    /* persistent (NVS) */
    uint8_t mode;     /* AT+CWMODE: 0 off, 1 station, 2 softAP, 3 both */
    uint8_t autoconn; /* AT+CWAUTOCONN */
    uint8_t dhcp;     /* AT+CWDHCP bits */
    char saved_ssid[33];
    char saved_password[65];
    bool has_saved;
    /* volatile */
    bool connected;
    int joined_ap;             /* index in aps, -1 */
    uint64_t join_deadline_ms; /* a join in progress completes at this time; 0 none */
    int pending_error;         /* +CWJAP:<code> of the join in progress, 0 = it succeeds */
    uint8_t cipmux, recvmode, ipv6, dinfo;
    uint32_t lapopt_mask;
    int lapopt_sort;
    uint8_t sta_ip[4], sta_gw[4], sta_mask[4];
    uint8_t ap_ip[4];
    uint8_t sta_mac[6], ap_mac[6];
} atota_wifi_t;

/* Fresh state for a boot: the access points (NULL/0: the default one), ESP-AT's defaults. */
void atota_wifi_init(atota_wifi_t *w, const atota_wifi_ap_t *aps, unsigned count,
                     const uint8_t base_mac[6]);
/* Loads / stores the persistent part. A missing key keeps the default. */
atota_err_t atota_wifi_load(atota_wifi_t *w, atota_nvs_t *nvs);
atota_err_t atota_wifi_save(const atota_wifi_t *w, atota_nvs_t *nvs);
/* After "ready": reconnects a saved station when auto-connect is on. */
void atota_wifi_start(struct atota_module *m);
/* Timers: completes a join in progress. */
void atota_wifi_poll(struct atota_module *m);
/* Whether the station is connected with an address (network features need it). */
bool atota_wifi_connected(const atota_wifi_t *w);

/* Parses "NAME:PASSWORD" (the --ap option) into ap with a stable made-up BSSID, channel and
 * RSSI derived from the name. An empty password makes an open network. */
atota_err_t atota_wifi_ap_parse(const char *text, atota_wifi_ap_t *ap, atota_diag_t *diag);

#endif /* ATOTA_CORE_CMD_WIFI_H */
