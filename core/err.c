#include "core/err.h"

#include <stdio.h>

static const char *const messages[] = {
#define ATOTA_ERR_MSG(name, msg) msg,
    ATOTA_ERR_LIST(ATOTA_ERR_MSG)
#undef ATOTA_ERR_MSG
};

static const char *const names[] = {
#define ATOTA_ERR_NAME(name, msg) #name,
    ATOTA_ERR_LIST(ATOTA_ERR_NAME)
#undef ATOTA_ERR_NAME
};

const char *atota_strerror(atota_err_t err)
{
    if ((unsigned)err >= (unsigned)ATOTA_ERR_COUNT)
        return "unknown error";
    return messages[err];
}

const char *atota_err_name(atota_err_t err)
{
    if ((unsigned)err >= (unsigned)ATOTA_ERR_COUNT)
        return "ATOTA_ERR_UNKNOWN";
    return names[err];
}

atota_err_t atota_diag_set(atota_diag_t *diag, atota_err_t err, const char *fmt, ...)
{
    if (diag) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
        va_end(ap);
    }
    return err;
}

const char *atota_diag_text(const atota_diag_t *diag, atota_err_t err)
{
    if (diag && diag->msg[0])
        return diag->msg;
    return atota_strerror(err);
}

void atota_diag_clear(atota_diag_t *diag)
{
    if (diag)
        diag->msg[0] = '\0';
}
