/* dg_addr: IPv4/IPv6 values, parsed from literals only (names are resolved
 * elsewhere, never on the data path). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dgram.h"

/* Twisted's isIPAddress: exactly four dotted decimal parts, so "1.2.3" and
 * "127.1" are not addresses even though inet_aton() would take them. */
static int parse_v4(const char *host, struct in_addr *out)
{
    return inet_pton(AF_INET, host, out) == 1 ? 0 : -EINVAL;
}

static int parse_v6(const char *host, struct sockaddr_in6 *out)
{
    char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    const char *pct = strchr(host, '%');
    size_t n = pct ? (size_t)(pct - host) : strlen(host);
    if (n >= INET6_ADDRSTRLEN)
        return -EINVAL;
    memcpy(tmp, host, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET6, tmp, &out->sin6_addr) != 1)
        return -EINVAL;
    if (pct) {
        const char *scope = pct + 1;
        char *end;
        unsigned long id = strtoul(scope, &end, 10);
        if (*scope == '\0')
            return -EINVAL;
        if (*end != '\0' || *scope < '0' || *scope > '9') /* strtoul takes "+1" and " 1" */
            id = if_nametoindex(scope);
        if (id == 0 || id > UINT32_MAX)
            return -EINVAL;
        out->sin6_scope_id = (uint32_t)id;
    }
    return 0;
}

int dg_addr_parse(dg_addr *out, const char *host, int port)
{
    if (!out || !host || port < 0 || port > 65535)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (strcmp(host, "<broadcast>") == 0) {
        out->u.in4.sin_family = AF_INET;
        out->u.in4.sin_addr.s_addr = htonl(INADDR_BROADCAST);
    } else if (parse_v4(host, &out->u.in4.sin_addr) == 0) {
        out->u.in4.sin_family = AF_INET;
    } else if (parse_v6(host, &out->u.in6) == 0) {
        out->u.in6.sin6_family = AF_INET6;
    } else {
        memset(out, 0, sizeof *out);
        return -EINVAL;
    }
    /* sin_port and sin6_port share their offset. */
    out->u.in4.sin_port = htons((uint16_t)port);
    return 0;
}

int dg_addr_family(const dg_addr *a)
{
    int f = a ? a->u.sa.sa_family : 0;
    return f == AF_INET || f == AF_INET6 ? f : 0;
}

int dg_addr_port(const dg_addr *a)
{
    return dg_addr_family(a) ? ntohs(a->u.in4.sin_port) : 0;
}

int dg_addr_format_host(const dg_addr *a, char *buf, size_t len)
{
    char host[DG_ADDR_STRLEN];
    switch (dg_addr_family(a)) {
    case AF_INET:
        inet_ntop(AF_INET, &a->u.in4.sin_addr, host, sizeof host);
        break;
    case AF_INET6: {
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, host, sizeof host);
        uint32_t scope = a->u.in6.sin6_scope_id;
        if (scope) {
            char name[IF_NAMESIZE];
            size_t n = strlen(host);
            if (if_indextoname(scope, name))
                snprintf(host + n, sizeof host - n, "%%%s", name);
            else
                snprintf(host + n, sizeof host - n, "%%%u", (unsigned)scope);
        }
        break;
    }
    default:
        return -EAFNOSUPPORT;
    }
    int n = snprintf(buf, len, "%s", host);
    return (size_t)n < len ? n : -ENOSPC;
}

int dg_addr_format(const dg_addr *a, char *buf, size_t len)
{
    char host[DG_ADDR_STRLEN];
    int rc = dg_addr_format_host(a, host, sizeof host);
    if (rc < 0)
        return rc;
    const char *fmt = dg_addr_family(a) == AF_INET6 ? "[%s]:%d" : "%s:%d";
    int n = snprintf(buf, len, fmt, host, dg_addr_port(a));
    return (size_t)n < len ? n : -ENOSPC;
}

bool dg_addr_equal(const dg_addr *a, const dg_addr *b)
{
    int f = dg_addr_family(a);
    if (f == 0 || f != dg_addr_family(b) || dg_addr_port(a) != dg_addr_port(b))
        return false;
    if (f == AF_INET)
        return a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
    return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, sizeof a->u.in6.sin6_addr) == 0 &&
           a->u.in6.sin6_scope_id == b->u.in6.sin6_scope_id;
}

const struct sockaddr *dg_addr_sockaddr(const dg_addr *a, socklen_t *len)
{
    if (len)
        *len = dg_addr_family(a) == AF_INET ? sizeof a->u.in4 : sizeof a->u.in6;
    return &a->u.sa;
}

int dg_addr_from_sockaddr(dg_addr *out, const struct sockaddr *sa, socklen_t len)
{
    if (!out || !sa || len < (socklen_t)sizeof sa->sa_family)
        return -EINVAL;
    size_t need;
    switch (sa->sa_family) {
    case AF_INET: need = sizeof(struct sockaddr_in); break;
    case AF_INET6: need = sizeof(struct sockaddr_in6); break;
    default: return -EAFNOSUPPORT;
    }
    if (len < need)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    memcpy(out, sa, need);
    return 0;
}
