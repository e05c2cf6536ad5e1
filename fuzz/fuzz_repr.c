/* dg_repr_bytes against a plain reference of Python's bytes repr, in full and
 * cut to every buffer length: a cut output is a prefix of the full one that
 * ends between escapes, and nothing but printable ASCII is ever written. */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dgram.h"

/* Returns the length; ends[] marks where each piece ends (cut points). */
static size_t reference(const uint8_t *d, size_t n, char *out, unsigned char *ends)
{
    int single = 0, dbl = 0;
    for (size_t i = 0; i < n; i++) {
        single |= d[i] == '\'';
        dbl |= d[i] == '"';
    }
    char q = single && !dbl ? '"' : '\'';
    size_t k = 0;
    out[k++] = 'b';
    out[k++] = q;
    ends[k] = 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = d[i];
        if (c == '\\' || c == (uint8_t)q)
            k += (size_t)sprintf(out + k, "\\%c", c);
        else if (c == '\t')
            k += (size_t)sprintf(out + k, "\\t");
        else if (c == '\n')
            k += (size_t)sprintf(out + k, "\\n");
        else if (c == '\r')
            k += (size_t)sprintf(out + k, "\\r");
        else if (c < 32 || c > 126)
            k += (size_t)sprintf(out + k, "\\x%02x", c);
        else
            out[k++] = (char)c;
        ends[k] = 1;
    }
    out[k++] = q;
    ends[k] = 1;
    out[k] = '\0';
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    size_t cap = 4 * size + 8;
    char *want = malloc(cap), *got = malloc(cap + 1);
    unsigned char *ends = calloc(cap, 1);
    CHECK(want && got && ends);
    ends[0] = 1;
    size_t n = reference(data, size, want, ends);
    CHECK(dg_repr_bytes(NULL, 0, data, size) == n);
    CHECK(dg_repr_bytes(got, cap, data, size) == n);
    CHECK(strcmp(got, want) == 0);
    for (size_t i = 0; i < n; i++)
        CHECK(got[i] >= 0x20 && got[i] < 0x7f);
    /* Cut at every length (a few, for long inputs). */
    for (size_t len = 1; len <= n; len += 1 + n / 64) {
        memset(got, 'Z', cap + 1);
        CHECK(dg_repr_bytes(got, len, data, size) == n);
        size_t used = strlen(got);
        CHECK(used < len);
        CHECK(memcmp(got, want, used) == 0);
        CHECK(ends[used]);
        /* The longest clean cut that fits is the one taken. */
        for (size_t j = used + 1; j < len; j++)
            CHECK(!ends[j]);
        CHECK(got[used + 1] == 'Z' || used + 1 >= len);
    }
    free(want);
    free(got);
    free(ends);
    return 0;
}
