/* CHECK: an assert that release builds keep, for the fuzz targets. */
#ifndef DG_FUZZ_H
#define DG_FUZZ_H
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                                 \
    do {                                                                         \
        if (!(x)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
            abort();                                                             \
        }                                                                        \
    } while (0)

#endif
