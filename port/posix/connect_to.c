/*
 * "HOST:PORT:HOST2:PORT2" mappings for CURLOPT_CONNECT_TO (port/posix/connect_to.h): checked
 * here, so that a typo is refused when the simulator starts instead of being ignored by libcurl
 * (which skips an entry it cannot parse, and so connects to the real host).
 */
#include "port/posix/connect_to.h"

#include <stdbool.h>
#include <string.h>

#define HOST_MAX 253 /* a DNS name's longest text form */

static const char *const field_names[4] = {"HOST", "PORT", "HOST2", "PORT2"};

/* A host field: a name or IPv4 address (letters, digits, '-', '.', '_'), or an IPv6 address in
 * brackets. Empty is checked by the caller. */
static bool host_ok(const char *s, size_t n)
{
    if (s[0] == '[') {
        if (n < 4 || s[n - 1] != ']')
            return false;
        for (size_t i = 1; i + 1 < n; i++) {
            char c = s[i];
            bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex && c != ':' && c != '.')
                return false;
        }
        return true;
    }
    if (n > HOST_MAX || s[0] == '-' || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && c != '-' && c != '.' && c != '_')
            return false;
    }
    return true;
}

/* A port field: 1..65535 in decimal. */
static bool port_ok(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

atota_err_t atota_connect_to_check(const char *spec, atota_diag_t *diag)
{
    if (!spec || !spec[0])
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "empty mapping: expected HOST:PORT:HOST2:PORT2");
    size_t len = strlen(spec);
    if (len > ATOTA_CONNECT_TO_SPEC_MAX)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "mapping longer than %d bytes",
                              ATOTA_CONNECT_TO_SPEC_MAX);
    /* Split into fields at ':' outside brackets. */
    const char *start[4] = {0};
    size_t n[4] = {0};
    unsigned field = 0;
    const char *p = spec, *end = spec + len;
    for (;;) {
        if (field == 4)
            return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                                  "more than 4 fields: expected HOST:PORT:HOST2:PORT2 (an IPv6 "
                                  "address goes in brackets)");
        start[field] = p;
        if (*p == '[') {
            const char *close = memchr(p, ']', (size_t)(end - p));
            if (!close)
                return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "%s has '[' without ']'",
                                      field_names[field]);
            p = close + 1;
        }
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *stop = colon ? colon : end;
        n[field] = (size_t)(stop - start[field]);
        field++;
        if (!colon)
            break;
        p = colon + 1;
    }
    if (field != 4)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "%u field%s, expected 4: HOST:PORT:HOST2:PORT2", field,
                              field == 1 ? "" : "s");
    for (unsigned i = 0; i < 4; i++) {
        if (n[i] == 0)
            continue; /* curl's wildcards: any host or port, or the original one */
        bool ok = (i % 2 == 0) ? host_ok(start[i], n[i]) : port_ok(start[i], n[i]);
        if (!ok)
            return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG, "%s \"%.*s\" is not %s",
                                  field_names[i], (int)n[i], start[i],
                                  (i % 2 == 0) ? "a host name or an IP address ([::1] for IPv6)"
                                               : "a port number (1-65535)");
    }
    if (n[2] == 0 && n[3] == 0)
        return atota_diag_set(diag, ATOTA_ERR_INVALID_ARG,
                              "HOST2 and PORT2 are both empty: the mapping changes nothing");
    return ATOTA_OK;
}

atota_err_t atota_connect_to_append(struct curl_slist **list, const char *spec, atota_diag_t *diag)
{
    atota_err_t err = atota_connect_to_check(spec, diag);
    if (err)
        return err;
    struct curl_slist *l = curl_slist_append(*list, spec);
    if (!l)
        return atota_diag_set(diag, ATOTA_ERR_NO_MEM, "out of memory");
    *list = l;
    return ATOTA_OK;
}
