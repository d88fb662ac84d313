/*
 * The simulator's virtual network: "HOST:PORT:HOST2:PORT2" mappings, curl's --connect-to
 * (CURLOPT_CONNECT_TO). A connection the firmware makes to HOST:PORT (the name it has compiled
 * in, e.g. iot.example.com:443) goes to HOST2:PORT2 instead (a local test server); the firmware
 * still sees its own name: the HTTP Host header, TLS SNI and, with a CA, the certificate check
 * all use HOST. Shared by the stream port (port/posix/stream.h) and the HTTP client
 * (port/posix/http.h).
 *
 * Syntax, as curl's: four fields separated by ':'; a host may be an IPv6 address in brackets
 * ("[::1]"). HOST empty: any host; PORT empty: any port; HOST2 empty: HOST itself; PORT2 empty:
 * PORT itself (HOST2 and PORT2 cannot both be empty). Ports are 1..65535; host names are letters,
 * digits, '-', '.' and '_'.
 */
#ifndef ATOTA_PORT_POSIX_CONNECT_TO_H
#define ATOTA_PORT_POSIX_CONNECT_TO_H

#include <curl/curl.h>

#include "core/err.h"

#define ATOTA_CONNECT_TO_SPEC_MAX 600 /* the longest spec accepted, in bytes */

/* Checks spec's syntax. ATOTA_OK, or ATOTA_ERR_INVALID_ARG with diag (may be NULL) saying which
 * field is wrong and why. */
atota_err_t atota_connect_to_check(const char *spec, atota_diag_t *diag);

/* Checks spec and appends a copy of it to *list (a libcurl string list for CURLOPT_CONNECT_TO;
 * the caller frees it with curl_slist_free_all). ATOTA_ERR_INVALID_ARG (diag says why; *list
 * unchanged), ATOTA_ERR_NO_MEM. */
atota_err_t atota_connect_to_append(struct curl_slist **list, const char *spec, atota_diag_t *diag);

#endif /* ATOTA_PORT_POSIX_CONNECT_TO_H */
