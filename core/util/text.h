/*
 * Small text helpers shared by the parsers of the core (AT parameters, MAC addresses).
 */
#ifndef ATOTA_CORE_UTIL_TEXT_H
#define ATOTA_CORE_UTIL_TEXT_H

/* The value of a hexadecimal digit (either case), or -1. */
static inline int atota_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif /* ATOTA_CORE_UTIL_TEXT_H */
