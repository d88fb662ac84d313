/* SHA-256 and MD5 for the core, on mbedTLS (portable C, as in ESP-IDF). Hides the API differences
 * between mbedTLS 2.28 (Debian 12) and 3.x. Contexts are plain structs: no allocation. */
#ifndef ATOTA_CORE_UTIL_HASH_H
#define ATOTA_CORE_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/md5.h>
#include <mbedtls/sha256.h>

#define ATOTA_SHA256_LEN 32
#define ATOTA_MD5_LEN    16

typedef struct {
    mbedtls_sha256_context ctx;
} atota_sha256_t;

typedef struct {
    mbedtls_md5_context ctx;
} atota_md5_t;

void atota_sha256_init(atota_sha256_t *h);
void atota_sha256_update(atota_sha256_t *h, const void *data, size_t len);
/* Writes the digest and frees the context; init again to reuse. */
void atota_sha256_finish(atota_sha256_t *h, uint8_t out[ATOTA_SHA256_LEN]);
/* Frees the context without a digest (abort paths). */
void atota_sha256_free(atota_sha256_t *h);
void atota_sha256(const void *data, size_t len, uint8_t out[ATOTA_SHA256_LEN]);

void atota_md5_init(atota_md5_t *h);
void atota_md5_update(atota_md5_t *h, const void *data, size_t len);
void atota_md5_finish(atota_md5_t *h, uint8_t out[ATOTA_MD5_LEN]);
void atota_md5(const void *data, size_t len, uint8_t out[ATOTA_MD5_LEN]);

/* Lower-case hex of len bytes into out (2*len+1 bytes). Returns out. */
char *atota_hex(const uint8_t *data, size_t len, char *out);

#endif /* ATOTA_CORE_UTIL_HASH_H */
