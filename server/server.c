/*
 * What the route groups share (server/server.h): the server's log.
 */
#include <stdarg.h>
#include <stdio.h>

#include "server/server.h"

void atota_server_log(const atota_server_t *srv, const char *fmt, ...)
{
    if (!srv->log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* names come from clients: no control character reaches the log (no forged lines) */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    srv->log(srv->log_ctx, line);
}
