/*
 * AT+USEROTA=<url len> (esp-at-ota.md §2; ESP-AT components/at/src/at_user_cmd.c): the prompt,
 * exactly <url len> raw URL bytes, "\r\nRecv <n> bytes\r\n", then the image is downloaded into the
 * next OTA slot (core/ota/download.c) and the module restarts into it after "\r\nOK\r\n". Any
 * failure after the URL is "\r\nERROR\r\n" with the running firmware untouched; the reason goes
 * to the host's log (ESP-AT prints it on its log UART only). docs/userota.md has the bytes and
 * what differs from ESP-AT (resume, time limit).
 */
#include <string.h>

#include "core/cmd/module.h"

#define USEROTA_URL_LEN_MAX    8192u  /* AT_USEROTA_URL_LEN_MAX (8 * 1024), §2.1 */
#define USEROTA_STALL_MS       10000u /* esp_http_client_config_t.timeout_ms = 10000, §2.3 */
#define USEROTA_RETRY_DELAY_MS 200u   /* before each resume: a short pause, the link may flap */

/* Every failure after the URL: the engine's default for a handler's ERROR, exec fail
 * (0x010a0000), as ESP-AT's handler returns ESP_AT_RESULT_CODE_ERROR (§1.2 "probably"). The
 * reason is in the log, not in the code (docs/userota.md). */
#define USEROTA_ERR_CODE ATOTA_AT_ERR_CODE(ATOTA_AT_SUB_EXEC_FAIL)

/* Progress lines from the download, for the host's log (ESP-AT prints nothing on the AT port
 * while downloading, §2.2). */
static void download_log(void *ctx, const char *line)
{
    atota_module_log(ctx, "userota: %s", line);
}

static void download_done(void *ctx, atota_err_t err, const char *msg)
{
    atota_module_t *m = ctx;
    if (err) {
        atota_module_log(m, "userota: failed: %s (%s)", msg, atota_err_name(err));
        atota_at_set_error(&m->at, USEROTA_ERR_CODE);
        atota_at_complete(&m->at, ATOTA_AT_ERROR);
        return;
    }
    atota_module_log(m, "userota: %s; restarting", msg);
    /* §2.2: OK, then the UART drains and esp_restart(); the new image boots PENDING_VERIFY and
     * is confirmed before "ready" (module.c, §6). */
    atota_at_complete(&m->at, ATOTA_AT_OK);
    if (m->host->restart)
        m->host->restart(m->host->ctx);
}

/* The URL after the prompt, as it arrives. m->download.url holds it (the download is idle: the
 * set handler checked), NUL-terminated as it grows; a NUL byte in the URL is kept as DEL so that
 * the length stays right and the download refuses it as a bad URL. */
static atota_at_rc_t userota_url(atota_at_t *at, void *ctx, const uint8_t *data, size_t len,
                                 bool last)
{
    atota_module_t *m = ctx;
    char *url = m->download.url;
    size_t pos = strlen(url);
    for (size_t i = 0; i < len && pos < USEROTA_URL_LEN_MAX; i++)
        url[pos++] = data[i] ? (char)data[i] : (char)0x7F;
    url[pos] = '\0';
    if (!last)
        return ATOTA_AT_PENDING;

    /* at_user_cmd.c: "\r\nRecv %d bytes\r\n" once the URL is in. Surplus bytes of the same
     * write are command input for the engine, which answers them with busy while the download
     * runs (§1.4; docs/userota.md). */
    atota_at_printf(at, "\r\nRecv %u bytes\r\n", (unsigned)pos);

    const atota_module_host_t *host = m->host;
    if (!host->http.ops) {
        atota_module_log(m, "userota: failed: no network: the host has no HTTP client (%s)",
                         atota_err_name(ATOTA_ERR_NET_DOWN));
        atota_at_set_error(at, USEROTA_ERR_CODE);
        return ATOTA_AT_ERROR;
    }
    if (!atota_wifi_connected(&m->wifi)) {
        atota_module_log(m, "userota: failed: %s (%s)", atota_strerror(ATOTA_ERR_NET_DOWN),
                         atota_err_name(ATOTA_ERR_NET_DOWN));
        atota_at_set_error(at, USEROTA_ERR_CODE);
        return ATOTA_AT_ERROR;
    }

    atota_download_policy_t policy;
    memset(&policy, 0, sizeof policy);
    policy.max_retries = m->config.ota_retries;
    policy.time_limit_ms = m->config.ota_time_limit * 1000u;
    policy.stall_timeout_ms = USEROTA_STALL_MS;
    policy.retry_delay_ms = USEROTA_RETRY_DELAY_MS;
    policy.ca_file = m->opts.ca_file;

    atota_ota_writer_opts_t wo;
    atota_module_writer_opts(m, &wo);

    atota_diag_t d;
    atota_diag_clear(&d);
    atota_err_t err =
        atota_download_start(&m->download, &host->http, &policy, &wo, m->download.url, host->now_ms,
                             host->ctx, download_done, download_log, m, &d);
    if (err) {
        atota_module_log(m, "userota: failed: %s (%s)", atota_diag_text(&d, err),
                         atota_err_name(err));
        atota_at_set_error(at, USEROTA_ERR_CODE);
        return ATOTA_AT_ERROR;
    }
    return ATOTA_AT_PENDING;
}

/* §2.1: set only, exactly one parameter, 1 <= len <= 8192, else ERROR without a prompt. */
static atota_at_rc_t userota_set(atota_at_t *at, void *ctx, const atota_at_params_t *p)
{
    atota_module_t *m = ctx;
    int64_t len;
    if (!atota_at_count(at, p, 1, 1) || !atota_at_int(at, p, 0, 1, USEROTA_URL_LEN_MAX, &len))
        return ATOTA_AT_ERROR;
    if (atota_module_ota_running(m)) {
        atota_module_log(m, "userota: refused: %s", atota_strerror(ATOTA_ERR_OTA_IN_PROGRESS));
        return ATOTA_AT_ERROR;
    }
    m->download.url[0] = '\0';
    atota_at_expect_data(at, (size_t)len, userota_url, m);
    return ATOTA_AT_PROMPT;
}

/* at_user_cmd.c registers {"+USEROTA", NULL, NULL, at_setup_cmd_userota, NULL}: AT+CMD? shows
 * 0,0,1,0 (§1.1). */
static const atota_at_cmd_t userota_cmds[] = {
    {"+USEROTA", NULL, NULL, userota_set, NULL},
};

atota_err_t atota_cmd_userota_register(atota_module_t *m)
{
    /* CONFIG_AT_USER_COMMAND_SUPPORT: a firmware built without it has no such command. */
    if (!(m->config.features & ATOTA_FEATURE_USEROTA))
        return ATOTA_OK;
    return atota_at_add_table(&m->at, userota_cmds, sizeof userota_cmds / sizeof userota_cmds[0],
                              m);
}
