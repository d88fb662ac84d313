/*
 * What the tests of the POSIX network ports (port/posix: http, httpd, stream) share to talk to
 * themselves over TCP on 127.0.0.1: a monotonic clock for their deadlines, a sleep, the byte
 * pattern of every test payload, a port nobody listens on, a listening socket on a free port,
 * and a growing receive buffer. Header-only (static inline), like fixture.h.
 */
#ifndef ATOTA_TESTS_SUPPORT_LOOPBACK_H
#define ATOTA_TESTS_SUPPORT_LOOPBACK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* Milliseconds on CLOCK_MONOTONIC: only differences mean anything. */
static inline uint64_t fx_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void fx_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The byte at offset i of every test payload (stream's python TLS server makes the same). */
static inline uint8_t fx_pattern_byte(size_t i)
{
    return (uint8_t)(i * 7u + 3u);
}

/* n bytes of the pattern (NULL when out of memory); the caller frees them. */
static inline uint8_t *fx_pattern(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; p && i < n; i++)
        p[i] = fx_pattern_byte(i);
    return p;
}

/* 127.0.0.1:port (0: any free port, for bind). */
static inline struct sockaddr_in fx_loopback_addr(uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}

/* A port nobody listens on now: bound, never listened, closed. */
static inline uint16_t fx_unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = fx_loopback_addr(0);
    socklen_t al = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    return ntohs(a.sin_port);
}

/* A socket listening on 127.0.0.1 at a free port (stored in *port) with this backlog; the test
 * fails when it cannot be made. The caller closes it. */
static inline int fx_loopback_listen(int backlog, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = fx_loopback_addr(0);
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Appends n bytes to the buffer *buf (*len used, *cap allocated), doubling it as it fills; false
 * when out of memory (the buffer is then as it was). Safe from any thread: it asserts nothing. */
static inline bool fx_buffer_append(uint8_t **buf, size_t *len, size_t *cap, const void *data,
                                    size_t n)
{
    if (*len + n > *cap) {
        size_t grown = (*len + n) * 2;
        uint8_t *b = realloc(*buf, grown);
        if (!b)
            return false;
        *buf = b;
        *cap = grown;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    return true;
}

#endif /* ATOTA_TESTS_SUPPORT_LOOPBACK_H */
