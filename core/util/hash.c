#include "core/util/hash.h"

#include <mbedtls/version.h>

/* mbedTLS 2.x names the int-returning functions *_ret; 3.x dropped the suffix. */
#if MBEDTLS_VERSION_MAJOR < 3
#define SHA256_STARTS mbedtls_sha256_starts_ret
#define SHA256_UPDATE mbedtls_sha256_update_ret
#define SHA256_FINISH mbedtls_sha256_finish_ret
#define MD5_STARTS    mbedtls_md5_starts_ret
#define MD5_UPDATE    mbedtls_md5_update_ret
#define MD5_FINISH    mbedtls_md5_finish_ret
#else
#define SHA256_STARTS mbedtls_sha256_starts
#define SHA256_UPDATE mbedtls_sha256_update
#define SHA256_FINISH mbedtls_sha256_finish
#define MD5_STARTS    mbedtls_md5_starts
#define MD5_UPDATE    mbedtls_md5_update
#define MD5_FINISH    mbedtls_md5_finish
#endif

/* The software implementations cannot fail for in-memory input; their return codes only report
 * hardware-accelerator errors, which a port without one never sees. */

void atota_sha256_init(atota_sha256_t *h)
{
    mbedtls_sha256_init(&h->ctx);
    (void)SHA256_STARTS(&h->ctx, 0);
}

void atota_sha256_update(atota_sha256_t *h, const void *data, size_t len)
{
    if (len)
        (void)SHA256_UPDATE(&h->ctx, data, len);
}

void atota_sha256_finish(atota_sha256_t *h, uint8_t out[ATOTA_SHA256_LEN])
{
    (void)SHA256_FINISH(&h->ctx, out);
    mbedtls_sha256_free(&h->ctx);
}

void atota_sha256_free(atota_sha256_t *h)
{
    mbedtls_sha256_free(&h->ctx);
}

void atota_sha256(const void *data, size_t len, uint8_t out[ATOTA_SHA256_LEN])
{
    atota_sha256_t h;
    atota_sha256_init(&h);
    atota_sha256_update(&h, data, len);
    atota_sha256_finish(&h, out);
}

void atota_md5_init(atota_md5_t *h)
{
    mbedtls_md5_init(&h->ctx);
    (void)MD5_STARTS(&h->ctx);
}

void atota_md5_update(atota_md5_t *h, const void *data, size_t len)
{
    if (len)
        (void)MD5_UPDATE(&h->ctx, data, len);
}

void atota_md5_finish(atota_md5_t *h, uint8_t out[ATOTA_MD5_LEN])
{
    (void)MD5_FINISH(&h->ctx, out);
    mbedtls_md5_free(&h->ctx);
}

void atota_md5(const void *data, size_t len, uint8_t out[ATOTA_MD5_LEN])
{
    atota_md5_t h;
    atota_md5_init(&h);
    atota_md5_update(&h, data, len);
    atota_md5_finish(&h, out);
}

char *atota_hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}
