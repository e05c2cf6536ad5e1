/* UDP ports: bind, adopt, connect, and the close sequence. Reading is in
 * udp_read.c, writing in udp_write.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "reactor.h"

void dg_listen_options_init(dg_listen_options *o)
{
    memset(o, 0, sizeof *o);
    o->interface = "";
    o->max_packet_size = DG_DEFAULT_MAX_PACKET_SIZE;
}

static const char *proto_name(const dg_protocol *proto)
{
    return proto && proto->ops && proto->ops->name ? proto->ops->name : "DatagramProtocol";
}

static void list_add(dg__port_list *l, dg_port *p)
{
    p->prev = NULL;
    p->next = l->head;
    if (l->head)
        l->head->prev = p;
    l->head = p;
}

static void list_remove(dg__port_list *l, dg_port *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        l->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

static size_t packet_size(size_t requested)
{
    return requested ? requested : DG_DEFAULT_MAX_PACKET_SIZE;
}

static bool attached(const dg_reactor *r, const dg_protocol *proto)
{
    if (proto->transport)
        return true;
    for (const dg_port *p = r->ports.head; p; p = p->next) /* a lookup under way */
        if (p->proto == proto)
            return true;
    return false;
}

int dg__port_new(dg_reactor *r, dg_protocol *proto, size_t max_packet_size, const char *what,
                 dg_port **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!proto)
        return dg__refuse(r, -EINVAL, "Couldn't %s: no protocol", what);
    if (attached(r, proto))
        return dg__refuse(r, -EBUSY, "Couldn't %s: protocol %s is already attached to a port", what,
                          proto_name(proto));
    size_t size = packet_size(max_packet_size);
    if (size > DG_MAX_PACKET_SIZE_LIMIT)
        return dg__refuse(r, -EINVAL, "Couldn't %s: max_packet_size %zu is over %d", what, size,
                          DG_MAX_PACKET_SIZE_LIMIT);
    size_t name_len = strlen(proto_name(proto)) + 1;
    dg_port *p = calloc(1, sizeof *p + name_len);
    int rc = p ? dg__rx_reserve(&r->rx, size) : -ENOMEM;
    if (rc < 0) {
        free(p);
        return dg__fail(r, rc, "Couldn't %s", what);
    }
    *p = (dg_port){.r = r, .proto = proto, .fd = -1, .max_packet_size = size,
                   .state = DG__RESOLVING};
    memcpy(p->name, proto_name(proto), name_len);
    list_add(&r->ports, p);
    *out = p;
    return 0;
}

void dg__port_discard(dg_port *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    p->state = DG__CLOSED;
    list_remove(&p->r->ports, p);
    p->pending_next = p->r->dead;
    p->r->dead = p;
}

/* Register for reading, then start_protocol, as Twisted's _connectToProtocol.
 * Watching can fail (no memory for the table, epoll's max_user_watches): a
 * port that would never read must not pretend to listen. */
int dg__port_open(dg_port *p, int fd, int family)
{
    dg_reactor *r = p->r;
    int rc = dg__watch_port(r, fd, p, DG_READABLE);
    if (rc < 0)
        return rc;
    p->fd = fd;
    p->family = family;
    p->gso = dg__gso_supported(fd);
    dg__rx_count_drops(p);
    dg_addr host;
    p->number = getsockname(fd, &host.u.sa, &(socklen_t){sizeof host}) == 0 ? dg_addr_port(&host) : 0;
    p->state = DG__LISTENING;
    dg__log(r, "%s starting on %d", p->name, p->number);
    p->proto->transport = p;
    p->started = true;
    if (p->proto->ops && p->proto->ops->start_protocol)
        p->proto->ops->start_protocol(p->proto);
    return 0;
}

int dg__bind(int fd, int family, const char *interface, int port)
{
    dg_addr addr;
    const char *any = family == AF_INET6 ? "::" : "0.0.0.0";
    int rc = dg_addr_parse(&addr, interface && *interface ? interface : any, port);
    if (rc < 0)
        return rc;
    if (dg_addr_family(&addr) != family)
        return -EAFNOSUPPORT;
    socklen_t len;
    const struct sockaddr *sa = dg_addr_sockaddr(&addr, &len);
    return bind(fd, sa, len) < 0 ? -errno : 0;
}

int dg_listen_udp(dg_reactor *r, int port, dg_protocol *proto, const dg_listen_options *o,
                  dg_port **out)
{
    return dg__listen(r, port, proto, o, NULL, NULL, out);
}

int dg__listen(dg_reactor *r, int port, dg_protocol *proto, const dg_listen_options *o,
               dg__prepare_fn prepare, const void *arg, dg_port **out)
{
    dg_listen_options defaults;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!o) {
        dg_listen_options_init(&defaults);
        o = &defaults;
    }
    /* "" is IPv4 any, as Twisted; "::" is IPv6 any; only IP literals, and
     * all of it checked before a socket exists. */
    const char *iface = o->interface ? o->interface : "";
    const char *shown = *iface ? iface : "any";
    dg_addr addr;
    if (port < 0 || port > 65535)
        return dg__refuse(r, -EINVAL, "Couldn't listen on %s:%d: port must be 0-65535", shown, port);
    if (dg_addr_parse(&addr, *iface ? iface : "0.0.0.0", port) < 0 || strcmp(iface, "<broadcast>") == 0)
        return dg__refuse(r, -EINVAL, "Couldn't listen on %s:%d: not an IPv4 or IPv6 address", shown,
                          port);
    int family = dg_addr_family(&addr);
    dg_port *p;
    int rc = dg__port_new(r, proto, o->max_packet_size, "listen", &p);
    if (rc < 0)
        return rc;
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    rc = fd < 0 ? -errno : prepare ? prepare(fd, family, arg) : 0;
    if (rc == 0)
        rc = dg__bind(fd, family, iface, port);
    if (rc == 0)
        rc = dg__port_open(p, fd, family);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        dg__port_discard(p);
        return dg__fail(r, rc, "Couldn't listen on %s:%d", shown, port);
    }
    *out = p->state == DG__CLOSED ? NULL : p; /* start_protocol may have closed it */
    return 0;
}

int dg_adopt_datagram_port(dg_reactor *r, int fd, int family, dg_protocol *proto,
                           const dg_listen_options *o, dg_port **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (family != AF_INET && family != AF_INET6)
        return dg__refuse(r, -EAFNOSUPPORT, "Couldn't adopt descriptor %d: address family %d", fd,
                          family);
    dg_port *p;
    int rc = dg__port_new(r, proto, o ? o->max_packet_size : 0, "adopt a port", &p);
    if (rc < 0)
        return rc;
    /* A duplicate: the caller's descriptor stays theirs, and stop closes
     * only ours (never shutdown(), which would break theirs too). */
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
        rc = -errno;
        dg__port_discard(p);
        return dg__fail(r, rc, "Couldn't adopt descriptor %d", fd);
    }
    int type = 0;
    dg_addr host;
    socklen_t len = sizeof type;
    if (getsockopt(dup, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_DGRAM ||
        (len = sizeof host, getsockname(dup, &host.u.sa, &len)) < 0 ||
        host.u.sa.sa_family != family) {
        p->fd = dup;
        dg__port_discard(p);
        return dg__refuse(r, -EINVAL, "Couldn't adopt descriptor %d: not a bound datagram socket "
                          "of family %d", fd, family);
    }
    /* Non-blocking behaviour comes from MSG_DONTWAIT on every call, not from
     * O_NONBLOCK, which the dup would share with the caller's descriptor. */
    rc = dg__port_open(p, dup, family);
    if (rc < 0) {
        close(dup);
        dg__port_discard(p);
        return dg__fail(r, rc, "Couldn't adopt descriptor %d", fd);
    }
    *out = p->state == DG__CLOSED ? NULL : p;
    return 0;
}

int dg_port_connect(dg_port *p, const char *host, int port)
{
    if (!p || p->fd < 0)
        return -EBADF;
    dg_reactor *r = p->r;
    dg_addr peer;
    const char *shown = host ? host : "(null)";
    if (p->connected)
        return dg__refuse(r, -EISCONN, "Couldn't connect to %s:%d: already connected, reconnecting "
                          "is not supported", shown, port);
    if (port < 0 || port > 65535)
        return dg__refuse(r, -EINVAL, "Couldn't connect to %s:%d: port must be 0-65535", shown, port);
    if (!host || dg_addr_parse(&peer, host, port) < 0)
        return dg__refuse(r, -EINVAL, "Couldn't connect to %s:%d: not an IPv4 or IPv6 address",
                          shown, port);
    if (dg_addr_family(&peer) != p->family)
        return dg__refuse(r, -EAFNOSUPPORT, "Couldn't connect to %s:%d: wrong address family for "
                          "this port", host, port);
    socklen_t len;
    const struct sockaddr *sa = dg_addr_sockaddr(&peer, &len);
    dg__port_send_queued(p); /* replies written before the connect go first */
    if (connect(p->fd, sa, len) < 0)
        return dg__fail(r, -errno, "Couldn't connect to %s:%d", host, port);
    /* Only now: a failed connect leaves the port unconnected (Twisted sets
     * its address first and is left half-connected). */
    p->peer = peer;
    p->connected = true;
    return 0;
}

int dg_port_get_host(const dg_port *p, dg_addr *out)
{
    if (!out)
        return -EINVAL;
    if (!p || p->fd < 0)
        return -EBADF;
    socklen_t len = sizeof *out;
    memset(out, 0, sizeof *out);
    return getsockname(p->fd, &out->u.sa, &len) < 0 ? -errno : 0;
}

int dg_port_get_peer(const dg_port *p, dg_addr *out)
{
    if (!out)
        return -EINVAL;
    if (!p || p->fd < 0)
        return -EBADF;
    if (!p->connected)
        return -ENOTCONN;
    *out = p->peer;
    return 0;
}

int dg_port_set_broadcast_allowed(dg_port *p, bool allowed)
{
    if (!p || p->fd < 0)
        return -EBADF;
    int on = allowed;
    return setsockopt(p->fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on) < 0 ? -errno : 0;
}

int dg_port_get_broadcast_allowed(const dg_port *p)
{
    if (!p || p->fd < 0)
        return -EBADF;
    int on = 0;
    socklen_t len = sizeof on;
    return getsockopt(p->fd, SOL_SOCKET, SO_BROADCAST, &on, &len) < 0 ? -errno : on != 0;
}

int dg_port_fd(const dg_port *p)
{
    return p && p->fd >= 0 ? p->fd : -EBADF;
}

dg_protocol *dg_port_protocol(const dg_port *p)
{
    return p && p->state != DG__CLOSED ? p->proto : NULL;
}

dg_reactor *dg_port_reactor(const dg_port *p)
{
    return p ? p->r : NULL;
}

unsigned dg_port_datagram_flags(const dg_port *p)
{
    return p ? p->cur_flags : 0;
}

int dg_port_get_stats(const dg_port *p, dg_port_stats *out)
{
    if (!p || !out)
        return -EINVAL;
    *out = p->stats;
    out->rx_kernel_drops = dg__rx_drops(p);
    return 0;
}

int dg_port_format(const dg_port *p, char *buf, size_t len)
{
    if (!p)
        return -EBADF;
    /* Twisted's port keeps its number until connectionLost, so a stopping
     * port is still "on N". */
    int n = p->started && p->state != DG__CLOSED
                ? snprintf(buf, len, "<%s on %d>", p->name, p->number)
                : snprintf(buf, len, "<%s not connected>", p->name);
    return (size_t)n < len ? n : -ENOSPC;
}

/* ---- closing ---------------------------------------------------------------- */

void dg__port_schedule(dg_port *p, unsigned what)
{
    if (!p->pending) {
        p->pending_next = p->r->pending;
        p->r->pending = p;
    }
    p->pending |= what;
}

static void unschedule(dg_port *p)
{
    dg_port **pp = &p->r->pending;
    while (*pp && *pp != p)
        pp = &(*pp)->pending_next;
    if (*pp)
        *pp = p->pending_next;
    p->pending_next = NULL;
    p->pending = 0;
}

/* Twisted's connectionLost order: log, detach, stop_protocol, close, done.
 * The protocol is not touched after stop_protocol, so it may free itself. */
void dg__port_close_now(dg_port *p)
{
    dg_reactor *r = p->r;
    /* Queued writes were accepted: they leave before the socket closes, and
     * their refusals reach the protocol while it is still attached. */
    dg__port_flush(p);
    if (p->state == DG__CLOSED)
        return; /* by write_failed */
    if (p->pending)
        unschedule(p);
    if (p->conn)
        dg__connect_abandon(p);
    if (p->fd >= 0)
        dg__watch_port(r, p->fd, p, 0);
    p->state = DG__CLOSED;
    list_remove(&r->ports, p);
    if (p->mc_names)
        dg__multicast_names_cancel(p);
    if (p->started)
        dg__log(r, "(UDP Port %d Closed)", p->number);

    dg_protocol *proto = p->proto;
    p->proto = NULL;
    if (p->started) {
        proto->transport = NULL;
        if (proto->ops && proto->ops->stop_protocol)
            proto->ops->stop_protocol(proto);
    }
    if (p->fd >= 0) {
        dg__rx_note_drops(p); /* the last look: the count goes with the socket */
        close(p->fd);
    }
    p->fd = -1;
    if (p->done)
        p->done(p, p->done_arg);
    if (p->owner_done)
        p->owner_done(p, p->owner_arg);
    /* Freed at the end of the iteration: a read loop may still hold p. */
    p->pending_next = r->dead;
    r->dead = p;
}

void dg__port_run_pending(dg_port *p)
{
    unsigned what = p->pending;
    p->pending = 0;
    if (p->state == DG__CLOSED)
        return;
    if ((what & DG__PENDING_REFUSED) && p->proto->ops && p->proto->ops->connection_refused)
        p->proto->ops->connection_refused(p->proto);
    /* The refusal callback may have closed the port itself. */
    if ((what & DG__PENDING_CLOSE) && p->state != DG__CLOSED)
        dg__port_close_now(p);
}

static int begin_stop(dg_port *p, dg_port_done_fn done, void *arg)
{
    if (!p || (p->state != DG__LISTENING && p->state != DG__RESOLVING))
        return -EALREADY;
    if (p->conn)
        dg__connect_abandon(p); /* no callback may follow the stop */
    p->state = DG__STOPPING;
    p->done = done;
    p->done_arg = arg;
    if (p->fd >= 0)
        dg__watch_port(p->r, p->fd, p, 0);
    return 0;
}

int dg_port_stop_listening(dg_port *p, dg_port_done_fn done, void *arg)
{
    int rc = begin_stop(p, done, arg);
    if (rc == 0)
        dg__port_schedule(p, DG__PENDING_CLOSE);
    return rc;
}

int dg_port_close(dg_port *p)
{
    if (!p || p->state == DG__CLOSED)
        return -EALREADY;
    if (p->state != DG__STOPPING)
        begin_stop(p, NULL, NULL);
    dg__port_close_now(p);
    return 0;
}

void dg__port_release(dg_port *p)
{
    dg__txq_free(p);
    free(p);
}
