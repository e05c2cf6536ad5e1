/* The send path: validate the destination as Twisted does (but with errno
 * values instead of asserts), then one immediate syscall. Nothing is queued:
 * EAGAIN and ENOBUFS go back to the caller, who decides. Every write is
 * counted once in the port's stats, as sent or as an error. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "reactor.h"

/* The destination for this write into m, or a negative errno. */
static int destination(const dg_port *p, const dg_addr *to, struct msghdr *m)
{
    if (p->connected)
        return to && !dg_addr_equal(to, &p->peer) ? -EISCONN : 0;
    if (!to)
        return -EDESTADDRREQ;
    /* dg_addr_family() and dg_addr_sockaddr(), inline: every datagram
     * passes here. */
    int f = to->u.sa.sa_family;
    if (f != AF_INET && f != AF_INET6)
        return -EINVAL;
    /* An IPv4 address on an IPv6 port must be written IPv4-mapped
     * (::ffff:a.b.c.d), as Twisted requires. */
    if (f != p->family)
        return -EAFNOSUPPORT;
    m->msg_name = (void *)&to->u.sa;
    m->msg_namelen = f == AF_INET ? sizeof to->u.in4 : sizeof to->u.in6;
    return 0;
}

/* Checked here, not left to the kernel, so the byte count fits the int we
 * return and a wrapping sum of iov_len cannot slip through. */
static int check_buffers(const struct iovec *bufs, size_t n)
{
    if (n > IOV_MAX || (n && !bufs))
        return -EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!bufs[i].iov_base && bufs[i].iov_len)
            return -EINVAL;
        if (bufs[i].iov_len > DG_MAX_PACKET_SIZE_LIMIT - total)
            return -EMSGSIZE;
        total += bufs[i].iov_len;
    }
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

/* The ICMP answer to an earlier datagram, reported on this send. Only a
 * connected port hears about it (Twisted swallows it on unconnected ones),
 * and on the next iteration, never inside the write. */
static void refused(dg_port *p)
{
    p->stats.refused++;
    if (p->connected)
        dg__port_schedule(p, DG__PENDING_REFUSED);
}

static int send_datagram(dg_port *p, const struct iovec *bufs, size_t n, const dg_addr *to)
{
    /* Closed includes "inside stop_protocol", when the socket is still open
     * but the port is already on the reactor's dead list. */
    if (p->state == DG__CLOSED)
        return -EBADF;
    if (p->fd < 0)
        return -ENOTCONN; /* a name lookup is under way */
    int rc = check_buffers(bufs, n);
    if (rc < 0)
        return rc;
    struct msghdr m = {.msg_iov = (struct iovec *)bufs, .msg_iovlen = n};
    rc = destination(p, to, &m);
    if (rc < 0)
        return rc;
    rc = send_once(p, &m);
    if (rc == -ECONNREFUSED) {
        /* The kernel dropped this datagram with the earlier one's error:
         * send it again, once. A second refusal is a second ICMP. */
        refused(p);
        rc = send_once(p, &m);
        if (rc == -ECONNREFUSED)
            refused(p);
    }
    return rc;
}

int dg_port_write_sequence(dg_port *p, const struct iovec *bufs, size_t n, const dg_addr *to)
{
    if (!p)
        return -EBADF;
    int rc = send_datagram(p, bufs, n, to);
    if (rc < 0) {
        p->stats.tx_errors++;
        if (rc == -EAGAIN || rc == -EWOULDBLOCK)
            p->stats.tx_err_again++;
        else if (rc == -ENOBUFS)
            p->stats.tx_err_nobufs++;
        else if (rc == -EMSGSIZE)
            p->stats.tx_err_msgsize++;
        else if (rc == -ECONNREFUSED)
            p->stats.tx_err_refused++;
        else
            p->stats.tx_err_other++;
        return rc;
    }
    p->stats.tx_datagrams++;
    p->stats.tx_bytes += (uint64_t)rc;
    return rc;
}

int dg_port_write(dg_port *p, const void *data, size_t len, const dg_addr *to)
{
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    return dg_port_write_sequence(p, &iov, 1, to);
}
