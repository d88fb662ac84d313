/*
 * Listings copied out of the store (server/store.h: atota_store_rows_t), so that a caller can
 * use the rows, and call the store again, after the listing's callback has returned.
 */
#include <stdlib.h>
#include <string.h>

#include "server/store.h"

int atota_store_collect(void *ctx, const void *row)
{
    atota_store_rows_t *r = ctx;
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        uint8_t *grown = realloc(r->rows, cap * r->size);
        if (!grown) {
            r->oom = true;
            return 1;
        }
        r->rows = grown;
        r->cap = cap;
    }
    memcpy(r->rows + r->count * r->size, row, r->size);
    r->count++;
    return 0;
}

void atota_store_rows_free(atota_store_rows_t *r)
{
    free(r->rows);
    r->rows = NULL;
    r->count = r->cap = 0;
}
