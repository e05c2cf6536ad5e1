/* dg_connect_udp: connected ports to a name, resolved on a worker thread with
 * getaddrinfo() so that /etc/hosts, resolv.conf and nsswitch all apply and
 * the reactor never blocks (docs/resolution.md says why not c-ares). */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "reactor.h"

#define DG_DEFAULT_RESOLVE_TIMEOUT 10.0

/* A lookup under way. Shared by the port and the worker's job until one
 * side lets go: the port sets port = NULL to abandon it, and the job's
 * report frees it. */
typedef struct dg__connecting {
    dg_port *port;
    dg__job *job;
    dg_call *timer;
    char *host;
    char *interface;
    int remote_port, local_port, family;
    struct addrinfo *result;
    int gai, sys_errno;
} dg__connecting;

void dg_connect_options_init(dg_connect_options *o)
{
    memset(o, 0, sizeof *o);
    o->interface = "";
    o->max_packet_size = DG_DEFAULT_MAX_PACKET_SIZE;
    o->family = AF_UNSPEC;
    o->resolve_timeout = DG_DEFAULT_RESOLVE_TIMEOUT;
}

static int map_gai(int gai, int sys_errno)
{
    switch (gai) {
    case 0: return 0;
    case EAI_NONAME:
    case EAI_NODATA:
    case EAI_ADDRFAMILY: return DG_ERR_NAME_NOT_FOUND;
    case EAI_AGAIN: return DG_ERR_NAME_TEMPORARY;
    case EAI_MEMORY: return -ENOMEM;
    case EAI_SYSTEM: return sys_errno ? -sys_errno : DG_ERR_NAME_FAILED;
    default: return DG_ERR_NAME_FAILED;
    }
}

/* Socket, bind, connect: the open half of a connected port. Returns the fd or
 * a negative errno. */
static int open_connected(int family, const char *interface, int local_port, const dg_addr *peer)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    socklen_t len;
    const struct sockaddr *sa = dg_addr_sockaddr(peer, &len);
    int rc = dg__bind(fd, family, interface, local_port);
    if (rc == 0 && connect(fd, sa, len) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

static void start_connected(dg_port *p, int fd, const dg_addr *peer)
{
    p->peer = *peer;
    p->connected = true;
    dg__port_open(p, fd, dg_addr_family(peer));
}

/* Close a port that never started, then tell the protocol. The protocol is
 * told last, with transport NULL, so it may free itself in the callback. */
static void fail(dg_port *p, int err)
{
    dg_protocol *proto = p->proto;
    dg__port_close_now(p);
    if (proto->ops && proto->ops->connection_failed)
        proto->ops->connection_failed(proto, err);
}

static void connecting_free(dg__connecting *c)
{
    if (c->result)
        freeaddrinfo(c->result);
    free(c->host);
    free(c->interface);
    free(c);
}

void dg__connect_abandon(dg_port *p)
{
    dg__connecting *c = p->conn;
    p->conn = NULL;
    c->port = NULL;
    if (c->timer)
        dg_call_cancel(c->timer);
    c->timer = NULL;
    dg__pool_cancel(c->job); /* its report frees c */
}

static void lookup(void *arg)
{
    dg__connecting *c = arg;
    struct addrinfo hints = {.ai_family = c->family, .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_ADDRCONFIG};
    c->gai = getaddrinfo(c->host, NULL, &hints, &c->result);
    c->sys_errno = errno; /* the worker's errno, for EAI_SYSTEM */
}

static void looked_up(dg_reactor *r, int status, void *arg)
{
    dg__connecting *c = arg;
    dg_port *p = c->port;
    if (!p || status < 0) { /* abandoned: stopped, timed out, or reactor freed */
        if (p)
            p->conn = NULL;
        connecting_free(c);
        return;
    }
    p->conn = NULL;
    if (c->timer)
        dg_call_cancel(c->timer);
    int err = map_gai(c->gai, c->sys_errno);
    if (err) {
        dg__fail(r, err, "DNS lookup failed: %s", c->host);
        connecting_free(c);
        fail(p, err);
        return;
    }
    /* Try each address in the resolver's order until one connects. */
    int fd = -EADDRNOTAVAIL;
    dg_addr peer;
    for (struct addrinfo *ai = c->result; ai && fd < 0; ai = ai->ai_next) {
        if (dg_addr_from_sockaddr(&peer, ai->ai_addr, ai->ai_addrlen) < 0)
            continue;
        peer.u.in4.sin_port = htons((uint16_t)c->remote_port);
        fd = open_connected(ai->ai_family, c->interface, c->local_port, &peer);
    }
    if (fd < 0) {
        dg__fail(r, fd, "Couldn't connect to %s:%d", c->host, c->remote_port);
        connecting_free(c);
        fail(p, fd);
        return;
    }
    connecting_free(c);
    start_connected(p, fd, &peer);
}

static void timed_out(dg_call *call, void *arg)
{
    (void)call;
    dg_port *p = arg;
    dg__connecting *c = p->conn;
    c->timer = NULL; /* this call is running: not ours to cancel */
    dg__refuse(p->r, -ETIMEDOUT, "DNS lookup failed: %s: timed out", c->host);
    dg__connect_abandon(p);
    fail(p, -ETIMEDOUT);
}

static int connect_literal(dg_reactor *r, dg_port *p, const dg_addr *peer, const char *host,
                           const dg_connect_options *o)
{
    int fd = open_connected(dg_addr_family(peer), o->interface, o->local_port, peer);
    if (fd < 0) {
        dg__port_discard(p);
        return dg__fail(r, fd, "Couldn't connect to %s:%d", host, dg_addr_port(peer));
    }
    start_connected(p, fd, peer);
    return 0;
}

int dg_connect_udp(dg_reactor *r, const char *host, int port, dg_protocol *proto,
                   const dg_connect_options *o, dg_port **out)
{
    dg_connect_options defaults;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!o) {
        dg_connect_options_init(&defaults);
        o = &defaults;
    }
    const char *iface = o->interface ? o->interface : "";
    dg_addr peer, local;
    if (!host || !*host || port < 0 || port > 65535)
        return dg__refuse(r, -EINVAL, "Couldn't connect to %s:%d: bad host or port",
                          host ? host : "(null)", port);
    if (o->family != AF_UNSPEC && o->family != AF_INET && o->family != AF_INET6)
        return dg__refuse(r, -EAFNOSUPPORT, "Couldn't connect to %s:%d: address family %d", host,
                          port, o->family);
    if (o->local_port < 0 || o->local_port > 65535 || !(o->resolve_timeout >= 0) ||
        (*iface && dg_addr_parse(&local, iface, o->local_port) < 0))
        return dg__refuse(r, -EINVAL, "Couldn't connect to %s:%d: bad local interface, port or "
                          "timeout", host, port);
    int family = *iface ? dg_addr_family(&local) : o->family;
    bool literal = dg_addr_parse(&peer, host, port) == 0;
    if (literal && family && dg_addr_family(&peer) != family)
        return dg__refuse(r, -EAFNOSUPPORT, "Couldn't connect to %s:%d: not of the requested "
                          "address family", host, port);

    dg_port *p;
    int rc = dg__port_new(r, proto, o->max_packet_size, "connect", &p);
    if (rc < 0)
        return rc;
    *out = p;
    if (literal)
        return connect_literal(r, p, &peer, host, o);

    dg__connecting *c = calloc(1, sizeof *c);
    if (c) {
        *c = (dg__connecting){.port = p, .host = strdup(host), .interface = strdup(iface),
                              .remote_port = port, .local_port = o->local_port, .family = family};
        if (c->host && c->interface && o->resolve_timeout > 0)
            c->timer = dg_call_later(r, o->resolve_timeout, timed_out, p);
        if (c->host && c->interface && (c->timer || o->resolve_timeout == 0))
            c->job = dg__pool_submit(r, lookup, looked_up, c);
    }
    if (!c || !c->job) {
        if (c) {
            if (c->timer)
                dg_call_cancel(c->timer);
            connecting_free(c);
        }
        dg__port_discard(p);
        *out = NULL;
        return dg__fail(r, -ENOMEM, "Couldn't connect to %s:%d", host, port);
    }
    p->conn = c;
    return 0;
}
