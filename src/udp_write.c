/* The send path: validate the destination as Twisted does (but with errno
 * values instead of asserts), then one immediate syscall. Nothing is queued:
 * EAGAIN and ENOBUFS go back to the caller, who decides. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "reactor.h"

/* The destination for this write, or a negative errno. */
static int destination(const dg_port *p, const dg_addr *to, const struct sockaddr **sa,
                       socklen_t *len)
{
    *sa = NULL;
    *len = 0;
    if (p->connected) {
        if (to && !dg_addr_equal(to, &p->peer))
            return -EISCONN;
        return 0;
    }
    if (!to)
        return -EDESTADDRREQ;
    int f = dg_addr_family(to);
    if (f == 0)
        return -EINVAL;
    /* An IPv4 address on an IPv6 port must be written IPv4-mapped
     * (::ffff:a.b.c.d), as Twisted requires. */
    if (f != p->family)
        return -EAFNOSUPPORT;
    *sa = dg_addr_sockaddr(to, len);
    return 0;
}

static int send_once(dg_port *p, struct msghdr *m)
{
    for (;;) {
        ssize_t n = sendmsg(p->fd, m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno != EINTR)
            return -errno;
    }
}

static int send_datagram(dg_port *p, struct iovec *iov, size_t n, const dg_addr *to)
{
    if (!p || p->fd < 0)
        return p && p->state == DG__RESOLVING ? -ENOTCONN : -EBADF;
    if (n > IOV_MAX)
        return -EINVAL;
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = n};
    const struct sockaddr *sa;
    int rc = destination(p, to, &sa, &m.msg_namelen);
    m.msg_name = (void *)sa;
    if (rc == 0) {
        rc = send_once(p, &m);
        if (rc == -ECONNREFUSED) {
            /* The ICMP answer to an earlier datagram, reported on this send:
             * tell the protocol on the next iteration, and send this one,
             * which the kernel dropped with the error. */
            p->stats.refused++;
            dg__port_schedule(p, DG__PENDING_REFUSED);
            rc = send_once(p, &m);
        }
    }
    if (rc < 0) {
        p->stats.tx_errors++;
        return rc;
    }
    p->stats.tx_datagrams++;
    p->stats.tx_bytes += (uint64_t)rc;
    return rc;
}

int dg_port_write(dg_port *p, const void *data, size_t len, const dg_addr *to)
{
    if (len > DG_MAX_PACKET_SIZE_LIMIT)
        return p ? (p->stats.tx_errors++, -EMSGSIZE) : -EBADF;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    return send_datagram(p, &iov, 1, to);
}

int dg_port_write_sequence(dg_port *p, const struct iovec *bufs, size_t n, const dg_addr *to)
{
    size_t total = 0;
    for (size_t i = 0; i < n && total <= DG_MAX_PACKET_SIZE_LIMIT; i++)
        total += bufs[i].iov_len;
    if (total > DG_MAX_PACKET_SIZE_LIMIT)
        return p ? (p->stats.tx_errors++, -EMSGSIZE) : -EBADF;
    return send_datagram(p, (struct iovec *)bufs, n, to);
}
