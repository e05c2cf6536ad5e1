/* Names. dg_lookup runs getaddrinfo() on a worker thread, so /etc/hosts,
 * resolv.conf and nsswitch all apply and the reactor never blocks;
 * dg_connect_udp's name path is one such lookup. docs/resolution.md says why
 * not c-ares. */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "reactor.h"

#define DG_DEFAULT_RESOLVE_TIMEOUT 10.0

/* Shared by the caller's handle and the worker's job. fn is cleared once the
 * caller is done with the lookup (fn ran, or it was cancelled); the memory
 * goes when the job has reported as well, since a running getaddrinfo()
 * cannot be stopped and still writes here. */
struct dg_lookup {
    dg_reactor *r;
    dg__job *job;
    dg_call *timer;
    dg_lookup_fn fn;
    void *arg;
    int family;
    double timeout;
    /* The answer: written by the worker, read after its report. */
    int status;
    dg_addr *addrs; /* &literal, or allocated by the worker */
    size_t n;
    dg_addr literal;
    char host[];
};

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

/* On a worker thread. No AI_ADDRCONFIG: glibc ignores loopback addresses for
 * it, so on a host (or namespace) with only lo, "::1 name" from /etc/hosts
 * would not resolve; an unroutable address fails at connect instead. */
static void resolve(void *arg)
{
    dg_lookup *q = arg;
    struct addrinfo hints = {.ai_family = q->family, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    errno = 0;
    q->status = map_gai(getaddrinfo(q->host, NULL, &hints, &res), errno);
    size_t n = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        n++;
    if (q->status == 0 && !(q->addrs = calloc(n ? n : 1, sizeof *q->addrs)))
        q->status = -ENOMEM;
    for (struct addrinfo *ai = res; ai && q->addrs; ai = ai->ai_next)
        if (dg_addr_from_sockaddr(&q->addrs[q->n], ai->ai_addr, ai->ai_addrlen) == 0)
            q->n++;
    if (q->status == 0 && q->n == 0)
        q->status = DG_ERR_NAME_NOT_FOUND;
    if (res)
        freeaddrinfo(res);
}

static void lookup_free(dg_lookup *q)
{
    if (q->addrs != &q->literal)
        free(q->addrs);
    free(q);
}

/* The caller's side ends here: fn runs once, and a failure is recorded on
 * the reactor naming the host. */
static void finish(dg_lookup *q, int status)
{
    dg_lookup_fn fn = q->fn;
    q->fn = NULL;
    if (q->timer)
        dg_call_cancel(q->timer);
    q->timer = NULL;
    if (status == -ETIMEDOUT)
        dg__refuse(q->r, status, "DNS lookup failed: %s: timed out after %g s", q->host,
                   q->timeout);
    else if (status < 0)
        dg__fail(q->r, status, "DNS lookup failed: %s", q->host);
    fn(q->r, status, status == 0 ? q->addrs : NULL, status == 0 ? q->n : 0, q->arg);
}

/* The job's report, on the reactor thread. A caller still waiting is told
 * the answer, or -ECANCELED while the reactor is being freed. */
static void reported(dg_reactor *r, int status, void *arg)
{
    dg_lookup *q = arg;
    q->job = NULL;
    if (q->fn)
        finish(q, status < 0 || dg__pool_closing(r) ? -ECANCELED : q->status);
    lookup_free(q);
}

/* The worker may be stuck in the resolver: skip the job if it has not
 * started, and leave the rest to the report. */
static void timed_out(dg_call *call, void *arg)
{
    (void)call;
    dg_lookup *q = arg;
    q->timer = NULL; /* this call is running: not ours to cancel */
    dg__pool_cancel(q->job);
    finish(q, -ETIMEDOUT);
}

int dg_lookup_start(dg_reactor *r, const char *host, int family, double timeout, dg_lookup_fn fn,
                    void *arg, dg_lookup **out)
{
    if (out)
        *out = NULL;
    if (!r)
        return -EINVAL;
    if (!host || !*host || !fn || !(timeout >= 0) || isinf(timeout))
        return dg__refuse(r, -EINVAL, "Couldn't look up %s: no name, no callback or a bad timeout",
                          host ? host : "(null)");
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
        return dg__refuse(r, -EAFNOSUPPORT, "Couldn't look up %s: address family %d", host, family);
    size_t len = strlen(host) + 1;
    dg_lookup *q = calloc(1, sizeof *q + len);
    if (!q)
        return dg__fail(r, -ENOMEM, "Couldn't look up %s", host);
    *q = (dg_lookup){.r = r, .fn = fn, .arg = arg, .family = family, .timeout = timeout};
    memcpy(q->host, host, len);
    /* A literal needs no worker, but is still answered from the loop, so
     * callers have one path. */
    bool literal = dg_addr_parse(&q->literal, host, 0) == 0;
    if (literal) {
        q->addrs = &q->literal;
        q->n = 1;
        if (family && dg_addr_family(&q->literal) != family)
            q->status = DG_ERR_NAME_NOT_FOUND;
    } else if (timeout > 0 && !(q->timer = dg_call_later(r, timeout, timed_out, q))) {
        lookup_free(q);
        return dg__fail(r, -ENOMEM, "Couldn't look up %s", host);
    }
    int rc = dg__pool_submit(r, literal ? NULL : resolve, reported, q, &q->job);
    if (rc < 0) {
        if (q->timer)
            dg_call_cancel(q->timer);
        lookup_free(q);
        return dg__fail(r, rc, "Couldn't look up %s", host);
    }
    if (out)
        *out = q;
    return 0;
}

void dg_lookup_cancel(dg_lookup *q)
{
    if (!q || !q->fn) /* inside its own fn: nothing left to cancel */
        return;
    q->fn = NULL;
    if (q->timer)
        dg_call_cancel(q->timer);
    q->timer = NULL;
    dg__pool_cancel(q->job);
}

/* ---- dg_connect_udp ----------------------------------------------------- */

/* A connected port waiting for its name: owned by the port (p->conn). */
typedef struct dg__connecting {
    dg_port *port;
    dg_lookup *lookup;
    int remote_port, local_port;
    const char *interface; /* in text[], after the host */
    char text[];           /* host, NUL, interface, NUL */
} dg__connecting;

void dg_connect_options_init(dg_connect_options *o)
{
    memset(o, 0, sizeof *o);
    o->interface = "";
    o->max_packet_size = DG_DEFAULT_MAX_PACKET_SIZE;
    o->family = AF_UNSPEC;
    o->resolve_timeout = DG_DEFAULT_RESOLVE_TIMEOUT;
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

/* Open fd as p's socket, connected to peer; start_protocol runs. Returns 0,
 * or a negative errno with fd closed and p unchanged. */
static int start_connected(dg_port *p, int fd, const dg_addr *peer)
{
    p->peer = *peer;
    p->connected = true;
    int rc = dg__port_open(p, fd, dg_addr_family(peer));
    if (rc < 0) {
        p->connected = false;
        close(fd);
    }
    return rc;
}

/* Close a port that never started, then tell the protocol. It is told last,
 * with transport NULL, so it may free itself or connect again. */
static void fail(dg_port *p, int err)
{
    dg_protocol *proto = p->proto;
    dg__port_close_now(p);
    if (proto->ops && proto->ops->connection_failed)
        proto->ops->connection_failed(proto, err);
}

void dg__connect_abandon(dg_port *p)
{
    dg__connecting *c = p->conn;
    p->conn = NULL;
    dg_lookup_cancel(c->lookup);
    free(c);
}

/* The lookup's answer: try each address in the resolver's order until one
 * binds and connects (an IPv6 address on a host without IPv6 fails here and
 * the next is tried). */
static void resolved(dg_reactor *r, int status, const dg_addr *addrs, size_t n, void *arg)
{
    dg__connecting *c = arg;
    dg_port *p = c->port;
    p->conn = NULL;
    int rc = status < 0 ? status : -EADDRNOTAVAIL;
    for (size_t i = 0; i < n && rc < 0; i++) {
        dg_addr peer = addrs[i];
        peer.u.in4.sin_port = htons((uint16_t)c->remote_port); /* same offset in in6 */
        int fd = open_connected(dg_addr_family(&peer), c->interface, c->local_port, &peer);
        rc = fd < 0 ? fd : start_connected(p, fd, &peer);
    }
    if (rc < 0 && status == 0)
        dg__fail(r, rc, "Couldn't connect to %s:%d", c->text, c->remote_port);
    free(c);
    if (rc < 0)
        fail(p, rc); /* the lookup recorded its own failure, naming the host */
}

static int connect_literal(dg_reactor *r, dg_port *p, const dg_addr *peer, const char *host,
                           const dg_connect_options *o)
{
    int fd = open_connected(dg_addr_family(peer), o->interface, o->local_port, peer);
    int rc = fd < 0 ? fd : start_connected(p, fd, peer);
    if (rc < 0) {
        dg__port_discard(p);
        return dg__fail(r, rc, "Couldn't connect to %s:%d", host, dg_addr_port(peer));
    }
    return 0;
}

static int connect_name(dg_reactor *r, dg_port *p, const char *host, int port, int family,
                        const dg_connect_options *o)
{
    const char *iface = o->interface ? o->interface : "";
    size_t hlen = strlen(host) + 1, ilen = strlen(iface) + 1;
    dg__connecting *c = calloc(1, sizeof *c + hlen + ilen);
    if (!c) {
        dg__port_discard(p);
        return dg__fail(r, -ENOMEM, "Couldn't connect to %s:%d", host, port);
    }
    *c = (dg__connecting){.port = p, .remote_port = port, .local_port = o->local_port};
    memcpy(c->text, host, hlen);
    memcpy(c->text + hlen, iface, ilen);
    c->interface = c->text + hlen;
    int rc = dg_lookup_start(r, host, family, o->resolve_timeout, resolved, c, &c->lookup);
    if (rc < 0) { /* the reason is recorded already */
        free(c);
        dg__port_discard(p);
        return rc;
    }
    p->conn = c;
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
        isinf(o->resolve_timeout) || (*iface && dg_addr_parse(&local, iface, o->local_port) < 0))
        return dg__refuse(r, -EINVAL, "Couldn't connect to %s:%d: bad local interface, port or "
                          "timeout", host, port);
    int family = *iface ? dg_addr_family(&local) : o->family;
    if (o->family && family != o->family)
        return dg__refuse(r, -EINVAL, "Couldn't connect to %s:%d: interface %s is not of the "
                          "requested address family", host, port, iface);
    bool literal = dg_addr_parse(&peer, host, port) == 0;
    if (literal && family && dg_addr_family(&peer) != family)
        return dg__refuse(r, -EAFNOSUPPORT, "Couldn't connect to %s:%d: not of the requested "
                          "address family", host, port);

    dg_port *p;
    int rc = dg__port_new(r, proto, o->max_packet_size, "connect", &p);
    if (rc < 0)
        return rc;
    rc = literal ? connect_literal(r, p, &peer, host, o) : connect_name(r, p, host, port, family, o);
    /* A failed port is already discarded; one whose start_protocol closed it is gone. */
    *out = rc < 0 || p->state == DG__CLOSED ? NULL : p;
    return rc;
}
