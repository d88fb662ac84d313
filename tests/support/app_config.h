/*
 * App images that carry a firmware-configuration block (core/fmt/fwconfig.h), for module tests
 * whose firmware must point somewhere (an OTA server, a token) or change a policy. Header-only.
 */
#ifndef ATOTA_TESTS_SUPPORT_APP_CONFIG_H
#define ATOTA_TESTS_SUPPORT_APP_CONFIG_H

#include "core/fmt/fwconfig.h"
#include "core/fmt/image.h"
#include "support/check.h"

/* An ESP32 app image: a descriptor (this version, project "esp-at", May  8 2024 08:21:45, IDF
 * v5.4.4), a DROM segment of `size` pseudo-random bytes and, when config is given, a
 * firmware-configuration block with these KEY=VALUE lines ("k=v\nk=v"). The caller frees *out. */
static inline size_t fx_build_app_config(const char *version, size_t size, const char *config,
                                         uint8_t **out)
{
    uint8_t *payload = malloc(size);
    assert_non_null(payload);
    uint32_t x = 88172645u;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        payload[i] = (uint8_t)x;
    }
    atota_image_build_segment_t seg[2];
    memset(seg, 0, sizeof seg);
    uint8_t block[ATOTA_FWCONFIG_MAX_LEN];
    unsigned nseg = 0;
    if (config) {
        atota_fwconfig_t c;
        atota_fwconfig_defaults(&c);
        char kv[512];
        snprintf(kv, sizeof kv, "%s", config);
        for (char *line = strtok(kv, "\n"); line; line = strtok(NULL, "\n"))
            assert_int_equal(atota_fwconfig_set(&c, line, NULL), ATOTA_OK);
        size_t n = atota_fwconfig_encode(&c, block, sizeof block);
        assert_true(n > 0);
        seg[nseg].data = block;
        seg[nseg++].len = (uint32_t)n;
    }
    seg[nseg].data = payload;
    seg[nseg++].len = (uint32_t)size;
    atota_image_build_opts_t o;
    memset(&o, 0, sizeof o);
    o.chip_id = ATOTA_CHIP_ESP32;
    o.version = version;
    o.project_name = "esp-at";
    o.time = "08:21:45";
    o.date = "May  8 2024";
    o.idf_ver = "v5.4.4";
    o.segments = seg;
    o.segment_count = nseg;
    size_t cap = atota_image_build_size(&o);
    assert_true(cap > 0);
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = 0;
    assert_int_equal(atota_image_build(&o, buf, cap, &len, NULL), ATOTA_OK);
    free(payload);
    *out = buf;
    return len;
}

#endif /* ATOTA_TESTS_SUPPORT_APP_CONFIG_H */
