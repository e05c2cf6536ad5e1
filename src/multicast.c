/* Multicast: Twisted's listenMulticast and MulticastMixin, for IPv4 and IPv6.
 * Every call works on any open port of the group's family; only
 * dg_listen_multicast() adds the options that must precede the bind. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reactor.h"

void dg_multicast_options_init(dg_multicast_options *o)
{
    memset(o, 0, sizeof *o);
    o->interface = "";
    o->max_packet_size = DG_DEFAULT_MAX_PACKET_SIZE;
}

/* Linux hands a socket bound to the wildcard every group that ANY socket on
 * the host joined, when the port matches (IP_MULTICAST_ALL defaults to 1).
 * A port should hear only the groups it joined itself. */
static int only_own_groups(int fd, int family)
{
    int off = 0;
    if (family == AF_INET)
        return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off) < 0 ? -errno : 0;
#ifdef IPV6_MULTICAST_ALL
    /* Linux 4.20 and later; an older kernel says ENOPROTOOPT and has no such leak. */
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &off, sizeof off) < 0 && errno != ENOPROTOOPT)
        return -errno;
#endif
    return 0;
}

/* Twisted's listenMultiple: SO_REUSEADDR, and SO_REUSEPORT where the kernel
 * has it, so several ports share one number and each gets the group's
 * datagrams. */
static int prepare(int fd, int family, const void *arg)
{
    const dg_multicast_options *o = arg;
    int on = 1;
    if (o->listen_multiple) {
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
            return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0 && errno != ENOPROTOOPT)
            return -errno;
    }
    return only_own_groups(fd, family);
}

int dg_listen_multicast(dg_reactor *r, int port, dg_protocol *proto, const dg_multicast_options *o,
                        dg_port **out)
{
    dg_multicast_options defaults;
    if (!o) {
        dg_multicast_options_init(&defaults);
        o = &defaults;
    }
    dg_listen_options lo = {.interface = o->interface, .max_packet_size = o->max_packet_size};
    return dg__listen(r, port, proto, &lo, prepare, o, out);
}

/* ---- interfaces ------------------------------------------------------------ */

static bool is_any(const dg_addr *a)
{
    if (dg_addr_family(a) == AF_INET)
        return a->u.in4.sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
}

static bool same_host(const dg_addr *a, const struct sockaddr *sa)
{
    if (sa->sa_family != dg_addr_family(a))
        return false;
    if (sa->sa_family == AF_INET)
        return a->u.in4.sin_addr.s_addr == ((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr;
    const struct in6_addr *b = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    return memcmp(&a->u.in6.sin6_addr, b, sizeof *b) == 0;
}

/* The interface iface names, as an index (0: any) and an IPv4 address of it
 * (IP_MULTICAST_IF reports the address, so IPv4 sets both). iface is "" or
 * NULL (any), an unspecified address (any), a number (an index), an address
 * one of the interfaces holds, or a name. -ENODEV if there is none such. */
static int find_iface(const char *iface, unsigned *index, struct in_addr *v4)
{
    *index = 0;
    v4->s_addr = htonl(INADDR_ANY);
    if (!iface || !*iface)
        return 0;
    dg_addr a;
    bool literal = dg_addr_parse(&a, iface, 0) == 0 && strcmp(iface, "<broadcast>") != 0;
    if (literal && is_any(&a))
        return 0;
    char name[IF_NAMESIZE] = "";
    if (!literal) {
        char *end;
        unsigned long n = strtoul(iface, &end, 10);
        bool number = isdigit((unsigned char)iface[0]) && *end == '\0';
        *index = number ? (n <= UINT32_MAX ? (unsigned)n : 0) : if_nametoindex(iface);
        if (!*index || !if_indextoname(*index, name))
            return -ENODEV;
    }
    struct ifaddrs *list;
    if (getifaddrs(&list) < 0)
        return -errno;
    int rc = literal ? -ENODEV : 0;
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        /* IPv4 aliases are labelled "eth0:1"; the device is "eth0". */
        char dev[IF_NAMESIZE];
        snprintf(dev, sizeof dev, "%.*s", (int)strcspn(i->ifa_name, ":"), i->ifa_name);
        if (literal && same_host(&a, i->ifa_addr)) {
            *index = if_nametoindex(dev);
            rc = *index ? 0 : -ENODEV;
            if (dg_addr_family(&a) == AF_INET)
                *v4 = a.u.in4.sin_addr;
            break;
        }
        if (!literal && i->ifa_addr->sa_family == AF_INET && strcmp(dev, name) == 0) {
            *v4 = ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
            break;
        }
    }
    freeifaddrs(list);
    return rc;
}

/* ---- membership --------------------------------------------------------------- */

static bool is_multicast(const dg_addr *a)
{
    if (dg_addr_family(a) == AF_INET)
        return IN_MULTICAST(ntohl(a->u.in4.sin_addr.s_addr));
    return IN6_IS_ADDR_MULTICAST(&a->u.in6.sin6_addr);
}

static int any_source(dg_port *p, bool join, const dg_addr *g, unsigned index, struct in_addr v4)
{
    int rc;
    if (p->family == AF_INET) {
        struct ip_mreqn m = {.imr_multiaddr = g->u.in4.sin_addr, .imr_address = v4,
                             .imr_ifindex = (int)index};
        rc = setsockopt(p->fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof m);
    } else {
        struct ipv6_mreq m = {.ipv6mr_multiaddr = g->u.in6.sin6_addr, .ipv6mr_interface = index};
        rc = setsockopt(p->fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m, sizeof m);
    }
    return rc < 0 ? -errno : 0;
}

/* The protocol-independent call serves both families, by interface index. */
static int one_source(dg_port *p, bool join, const dg_addr *g, const dg_addr *s, unsigned index)
{
    struct group_source_req req = {.gsr_interface = index};
    socklen_t len;
    const struct sockaddr *sa = dg_addr_sockaddr(g, &len);
    memcpy(&req.gsr_group, sa, len);
    sa = dg_addr_sockaddr(s, &len);
    memcpy(&req.gsr_source, sa, len);
    int level = p->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
    int opt = join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP;
    if (setsockopt(p->fd, level, opt, &req, sizeof req) == 0)
        return 0;
    /* The kernel's words for "already" and "not a member" differ by family
     * and call; callers get the ones a plain join or leave gives. */
    if (join && errno == EADDRNOTAVAIL)
        return -EADDRINUSE;
    if (!join && (errno == ESRCH || errno == EINVAL || errno == ENOENT))
        return -EADDRNOTAVAIL;
    return -errno;
}

/* Parse an address argument that must be of the port's family; a reason for
 * the message when it is not. */
static int parse_for(const dg_port *p, const char *text, dg_addr *out, const char **why)
{
    if (!text || strcmp(text, "<broadcast>") == 0 || dg_addr_parse(out, text, 0) < 0) {
        *why = "not an IPv4 or IPv6 address";
        return -EINVAL;
    }
    if (dg_addr_family(out) != p->family) {
        *why = p->family == AF_INET ? "an IPv6 address on an IPv4 port"
                                    : "an IPv4 address on an IPv6 port";
        return -EAFNOSUPPORT;
    }
    return 0;
}

static int membership(dg_port *p, bool join, const char *group, const char *source, const char *iface)
{
    if (!p || p->fd < 0)
        return -EBADF;
    dg_reactor *r = p->r;
    const char *verb = join ? "join" : "leave";
    const char *shown = iface && *iface ? iface : "any";
    const char *src = source ? " from source " : "";
    const char *gtext = group ? group : "(null)";
    dg_addr g, s;
    const char *why = "not a multicast address";
    int rc = parse_for(p, group, &g, &why);
    if (rc == 0 && !is_multicast(&g))
        rc = -EINVAL;
    if (rc == 0 && source)
        rc = parse_for(p, source, &s, &why);
    if (rc < 0)
        return dg__refuse(r, rc, "Couldn't %s multicast group %s%s%s on interface %s: %s", verb, gtext,
                          src, source ? source : "", shown, why);
    unsigned index;
    struct in_addr v4;
    rc = find_iface(iface, &index, &v4);
    /* "ff02::1%eth0" carries its interface; an explicit one wins. */
    if (rc == 0 && index == 0 && p->family == AF_INET6)
        index = g.u.in6.sin6_scope_id;
    if (rc == 0)
        rc = source ? one_source(p, join, &g, &s, index) : any_source(p, join, &g, index, v4);
    /* Ports from dg_listen_udp() or adoption hear only their own groups too. */
    if (rc == 0 && join)
        rc = only_own_groups(p->fd, p->family);
    if (rc < 0)
        return dg__fail(r, rc, "Couldn't %s multicast group %s%s%s on interface %s", verb, gtext, src,
                        source ? source : "", shown);
    return 0;
}

int dg_port_join_group(dg_port *p, const char *group, const char *iface)
{
    return membership(p, true, group, NULL, iface);
}

int dg_port_leave_group(dg_port *p, const char *group, const char *iface)
{
    return membership(p, false, group, NULL, iface);
}

int dg_port_join_source_group(dg_port *p, const char *group, const char *source, const char *iface)
{
    return source ? membership(p, true, group, source, iface) : -EINVAL;
}

int dg_port_leave_source_group(dg_port *p, const char *group, const char *source, const char *iface)
{
    return source ? membership(p, false, group, source, iface) : -EINVAL;
}

/* ---- per-port settings ---------------------------------------------------------- */

static int set_int(dg_port *p, int v4_opt, int v6_opt, int value)
{
    if (!p || p->fd < 0)
        return -EBADF;
    int rc = p->family == AF_INET ? setsockopt(p->fd, IPPROTO_IP, v4_opt, &value, sizeof value)
                                  : setsockopt(p->fd, IPPROTO_IPV6, v6_opt, &value, sizeof value);
    return rc < 0 ? -errno : 0;
}

static int get_int(const dg_port *p, int v4_opt, int v6_opt)
{
    if (!p || p->fd < 0)
        return -EBADF;
    int value = 0;
    socklen_t len = sizeof value;
    int rc = p->family == AF_INET ? getsockopt(p->fd, IPPROTO_IP, v4_opt, &value, &len)
                                  : getsockopt(p->fd, IPPROTO_IPV6, v6_opt, &value, &len);
    return rc < 0 ? -errno : value;
}

int dg_port_set_multicast_ttl(dg_port *p, int ttl)
{
    if (ttl < 0 || ttl > 255)
        return p ? dg__refuse(p->r, -EINVAL, "Couldn't set multicast TTL %d: must be 0-255", ttl)
                 : -EBADF;
    return set_int(p, IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS, ttl);
}

int dg_port_get_multicast_ttl(const dg_port *p)
{
    return get_int(p, IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS);
}

int dg_port_set_multicast_loop(dg_port *p, int mode)
{
    return set_int(p, IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP, mode != 0);
}

int dg_port_get_multicast_loop(const dg_port *p)
{
    int mode = get_int(p, IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP);
    return mode < 0 ? mode : mode != 0;
}

int dg_port_set_multicast_interface(dg_port *p, const char *iface)
{
    if (!p || p->fd < 0)
        return -EBADF;
    unsigned index;
    struct in_addr v4;
    int rc = find_iface(iface, &index, &v4);
    if (rc == 0 && p->family == AF_INET) {
        struct ip_mreqn m = {.imr_address = v4, .imr_ifindex = (int)index};
        rc = setsockopt(p->fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) < 0 ? -errno : 0;
    } else if (rc == 0) {
        rc = set_int(p, 0, IPV6_MULTICAST_IF, (int)index);
    }
    if (rc < 0)
        return dg__fail(p->r, rc, "Couldn't send multicast through interface %s",
                        iface && *iface ? iface : "any");
    return 0;
}

int dg_port_get_multicast_interface(const dg_port *p, char *buf, size_t len)
{
    if (!p || p->fd < 0)
        return -EBADF;
    char text[INET_ADDRSTRLEN > IF_NAMESIZE ? INET_ADDRSTRLEN : IF_NAMESIZE] = "";
    if (p->family == AF_INET) {
        struct in_addr a;
        socklen_t alen = sizeof a;
        if (getsockopt(p->fd, IPPROTO_IP, IP_MULTICAST_IF, &a, &alen) < 0)
            return -errno;
        inet_ntop(AF_INET, &a, text, sizeof text);
    } else {
        int index = get_int(p, 0, IPV6_MULTICAST_IF);
        if (index < 0)
            return index;
        if (index > 0 && !if_indextoname((unsigned)index, text))
            snprintf(text, sizeof text, "%d", index);
    }
    int n = snprintf(buf, len, "%s", text);
    return (size_t)n < len ? n : -ENOSPC;
}
