/* dg_addr_parse and dg_addr_format: whatever parses formats, within
 * DG_ADDR_STRLEN, and the formatted host parses back to the same address.
 * Input: two bytes of port, then the host text. */
#include "fuzz.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dgram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 512)
        return 0;
    /* Ports outside 0..65535 too: they must be refused. */
    int port = (int)((data[0] << 8 | data[1]) * 2) - 32768;
    char host[512];
    memcpy(host, data + 2, size - 2);
    host[size - 2] = '\0';
    dg_addr a;
    int rc = dg_addr_parse(&a, host, port);
    if (rc < 0) {
        CHECK(rc == -EINVAL);
        return 0;
    }
    CHECK(port >= 0 && port <= 65535);
    CHECK(dg_addr_family(&a) == AF_INET || dg_addr_family(&a) == AF_INET6);
    CHECK(dg_addr_port(&a) == port);

    char full[DG_ADDR_STRLEN], text[DG_ADDR_STRLEN];
    int n = dg_addr_format(&a, full, sizeof full);
    CHECK(n > 0 && (size_t)n == strlen(full));
    int h = dg_addr_format_host(&a, text, sizeof text);
    CHECK(h > 0 && (size_t)h == strlen(text));
    /* Every shorter buffer is refused cleanly, never overrun. */
    char small[DG_ADDR_STRLEN];
    for (int len = 0; len <= n; len++)
        CHECK(dg_addr_format(&a, small, (size_t)len) == -ENOSPC);

    dg_addr b;
    CHECK(dg_addr_parse(&b, text, port) == 0);
    CHECK(dg_addr_equal(&a, &b));
    char again[DG_ADDR_STRLEN];
    CHECK(dg_addr_format(&b, again, sizeof again) == n && strcmp(again, full) == 0);

    socklen_t len;
    const struct sockaddr *sa = dg_addr_sockaddr(&a, &len);
    CHECK(dg_addr_from_sockaddr(&b, sa, len) == 0 && dg_addr_equal(&a, &b));
    return 0;
}
