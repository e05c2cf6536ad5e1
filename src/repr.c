/* Python's repr() of bytes, so the tools print datagrams exactly as the seed's
 * Twisted programs do, and a hostile datagram cannot reach the terminal raw. */
#include <string.h>
#include "dgram.h"

/* The escape for one byte, written to e; returns its length. */
static size_t escape(unsigned char c, char quote, char e[5])
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '\t': memcpy(e, "\\t", 2); return 2;
    case '\n': memcpy(e, "\\n", 2); return 2;
    case '\r': memcpy(e, "\\r", 2); return 2;
    case '\\': memcpy(e, "\\\\", 2); return 2;
    default: break;
    }
    if (c == (unsigned char)quote) {
        e[0] = '\\';
        e[1] = quote;
        return 2;
    }
    if (c >= 0x20 && c < 0x7f) {
        e[0] = (char)c;
        return 1;
    }
    e[0] = '\\'; e[1] = 'x'; e[2] = hex[c >> 4]; e[3] = hex[c & 15];
    return 4;
}

size_t dg_repr_bytes(char *buf, size_t len, const void *data, size_t n)
{
    const unsigned char *d = data;
    /* Python's rule: single quotes, unless the bytes hold ' and no ". */
    char quote = (n && memchr(d, '\'', n) && !memchr(d, '"', n)) ? '"' : '\'';
    size_t need = 0, used = 0;
    char e[5];

#define EMIT(s, k)                                                     \
    do {                                                               \
        size_t k_ = (k);                                               \
        if (used == need && buf && used + k_ < len) {                  \
            memcpy(buf + used, (s), k_);                               \
            used += k_;                                                \
        }                                                              \
        need += k_;                                                    \
    } while (0)

    e[0] = 'b';
    e[1] = quote;
    EMIT(e, 2);
    for (size_t i = 0; i < n; i++) {
        size_t k = escape(d[i], quote, e);
        EMIT(e, k);
    }
    EMIT(&quote, 1);
#undef EMIT
    if (buf && len)
        buf[used] = '\0';
    return need;
}
