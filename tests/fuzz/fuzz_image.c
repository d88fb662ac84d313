/* libFuzzer target: atota_image_parse and the stream fed in chunks of random sizes (derived from
 * the input) must agree on every input; abort() when they do not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt/image.h"

static void check(const uint8_t *data, size_t size, const atota_image_opts_t *opts)
{
    atota_image_info_t whole, streamed;
    atota_err_t e1 = atota_image_parse(data, size, opts, &whole, NULL);

    atota_image_stream_t s;
    atota_image_stream_init(&s, opts);
    uint32_t rng = 0x9E3779B9u ^ (uint32_t)size;
    for (size_t i = 0; i < size && i < 64; i++)
        rng = rng * 31 + data[i];
    for (size_t off = 0; off < size;) {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        size_t n = 1 + rng % (rng & 0x100 ? 7 : 4099);
        if (n > size - off)
            n = size - off;
        atota_image_stream_feed(&s, data + off, n, NULL);
        off += n;
    }
    atota_err_t e2 = atota_image_stream_finish(&s, &streamed, NULL);
    if (e1 != e2)
        abort();
    if (whole.image_len != streamed.image_len || whole.checksum_ok != streamed.checksum_ok ||
        whole.hash_ok != streamed.hash_ok || whole.has_app_desc != streamed.has_app_desc ||
        memcmp(whole.segments, streamed.segments, sizeof whole.segments))
        abort();
    if (!e1 && (whole.image_len > size || whole.image_len % 16 != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size, NULL);
    atota_image_opts_t boot = {.bootloader = true};
    check(data, size, &boot);
    return 0;
}
