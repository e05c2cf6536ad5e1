/* The send path: validate the destination as Twisted does (but with errno
 * values instead of asserts), then one immediate syscall; EAGAIN and ENOBUFS
 * go back to the caller, who decides. With write batching on, the replies a
 * port writes while its read batch is delivered are queued instead and leave
 * in one sendmmsg() after the batch; the kernel's refusals then go to
 * write_failed. Every datagram is counted once in the port's stats, as sent
 * or as an error. */
#include "dg_config.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "reactor.h"

/* The largest datagram IPv4 carries; larger ones are sent at once, so the
 * kernel's EMSGSIZE is returned, not deferred. */
#define DG_TXQ_MAX_DATAGRAM 65507
#define DG_TXQ_SLOTS 64
#define DG_TXQ_BYTES (64 * 1024)

/* Queued datagrams [0, n); [0, sent) have been through the kernel, with
 * err[i] its verdict. Once full, further writes go out at once, behind the
 * queued ones, and the records wait for the flush's write_failed calls. */
typedef struct dg__txq {
    unsigned n, sent;
    size_t used; /* bytes of arena */
    bool reporting; /* inside write_failed: writes go out at once */
    bool release;   /* batching turned off inside write_failed: free after */
    struct mmsghdr msgs[DG_TXQ_SLOTS];
    struct iovec iov[DG_TXQ_SLOTS];
    dg_addr to[DG_TXQ_SLOTS];
    int err[DG_TXQ_SLOTS];
    unsigned char arena[DG_TXQ_BYTES];
} dg__txq;

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
 * return and a wrapping sum of iov_len cannot slip through. Returns the
 * total. */
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
    return (int)total;
}

int dg__tx_check(dg_port *p, const struct iovec *bufs, size_t n, const dg_addr *to,
                 struct msghdr *m)
{
    /* Closed includes "inside stop_protocol", when the socket is still open
     * but the port is already on the reactor's dead list. */
    if (p->state == DG__CLOSED)
        return -EBADF;
    if (p->fd < 0)
        return -ENOTCONN; /* a name lookup is under way */
    int total = check_buffers(bufs, n);
    if (total < 0)
        return total;
    *m = (struct msghdr){.msg_iov = (struct iovec *)bufs, .msg_iovlen = n};
    int rc = destination(p, to, m);
    return rc < 0 ? rc : total;
}

static int send_once(dg_port *p, struct msghdr *m)
{
    for (;;) {
        p->stats.tx_syscalls++;
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

int dg__tx_sendmsg(dg_port *p, struct msghdr *m)
{
    int rc = send_once(p, m);
    if (rc == -ECONNREFUSED) {
        /* The kernel dropped this datagram with the earlier one's error:
         * send it again, once. A second refusal is a second ICMP. */
        refused(p);
        rc = send_once(p, m);
        if (rc == -ECONNREFUSED)
            refused(p);
    }
    return rc;
}

void dg__tx_count_error(dg_port *p, int err)
{
    p->stats.tx_errors++;
    if (err == -EAGAIN || err == -EWOULDBLOCK)
        p->stats.tx_err_again++;
    else if (err == -ENOBUFS)
        p->stats.tx_err_nobufs++;
    else if (err == -EMSGSIZE)
        p->stats.tx_err_msgsize++;
    else if (err == -ECONNREFUSED)
        p->stats.tx_err_refused++;
    else
        p->stats.tx_err_other++;
}

/* ---- Write batching ---- */

int dg_port_set_write_batching(dg_port *p, bool on)
{
    if (!p || p->state == DG__CLOSED)
        return -EBADF;
    dg__txq *q = p->txq;
    if (on && !q) {
        p->txq = calloc(1, sizeof *p->txq);
        if (!p->txq)
            return -ENOMEM;
    } else if (q && q->reporting) {
        q->release = !on; /* the flush under way still reads the queue */
    } else if (!on && q) {
        dg__port_flush(p);
        if (p->state == DG__CLOSED)
            return 0; /* write_failed closed it; the queue goes with the port */
        free(q);
        p->txq = NULL;
    }
    return 0;
}

/* Hand the queue's unsent datagrams to the kernel, recording each one's
 * verdict. sendmmsg() stops at the first it cannot send and reports only
 * how many went; the next call then fails with that one's error. */
static void send_queued(dg_port *p, dg__txq *q)
{
    unsigned refused_at = UINT_MAX;
    while (q->sent < q->n) {
        p->stats.tx_syscalls++;
#ifdef DGRAM_HAVE_SENDMMSG
        int k = sendmmsg(p->fd, &q->msgs[q->sent], q->n - q->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
#else
        ssize_t len = sendmsg(p->fd, &q->msgs[q->sent].msg_hdr, MSG_DONTWAIT | MSG_NOSIGNAL);
        int k = len < 0 ? -1 : 1;
        if (len >= 0)
            q->msgs[q->sent].msg_len = (unsigned)len;
#endif
        if (k > 0) {
            for (int i = 0; i < k; i++, q->sent++) {
                q->err[q->sent] = 0;
                p->stats.tx_datagrams++;
                p->stats.tx_bytes += q->msgs[q->sent].msg_len;
            }
            continue;
        }
        int err = -errno;
        if (err == -EINTR)
            continue;
        if (err == -ECONNREFUSED) {
            refused(p);
            if (refused_at != q->sent) { /* as dg__tx_sendmsg: once more */
                refused_at = q->sent;
                continue;
            }
        }
        q->err[q->sent++] = err;
        dg__tx_count_error(p, err);
        p->stats.tx_deferred_errors++;
    }
}

void dg__port_flush(dg_port *p)
{
    dg__txq *q = p->txq;
    if (!q || !q->n || q->reporting)
        return;
    if (p->fd >= 0)
        send_queued(p, q);
    q->reporting = true;
    for (unsigned i = 0; i < q->n && p->state != DG__CLOSED; i++) {
        const dg_protocol_ops *ops = p->proto->ops;
        if (q->err[i] && ops && ops->write_failed) {
            const struct msghdr *h = &q->msgs[i].msg_hdr;
            ops->write_failed(p->proto, q->err[i], h->msg_iov->iov_base, h->msg_iov->iov_len,
                              h->msg_name ? &q->to[i] : NULL);
        }
    }
    q->n = q->sent = 0;
    q->used = 0;
    q->reporting = false;
    if (q->release && p->state != DG__CLOSED) {
        free(q);
        p->txq = NULL;
    }
}

void dg__txq_free(dg_port *p)
{
    free(p->txq);
    p->txq = NULL;
}

/* Queue m (total bytes) for the flush. Returns total, or 0 when the queue has
 * no room and the datagram must go out at once. */
static int enqueue(dg_port *p, dg__txq *q, const struct msghdr *m, size_t total)
{
    dg_reactor *r = p->r;
    uintptr_t b = (uintptr_t)m->msg_iov[0].iov_base;
    bool in_place = m->msg_iovlen == 1 && b >= (uintptr_t)r->rx_lo &&
                    b + total <= (uintptr_t)r->rx_hi;
    if (q->n == DG_TXQ_SLOTS || total > DG_TXQ_MAX_DATAGRAM ||
        (!in_place && total > DG_TXQ_BYTES - q->used)) {
        send_queued(p, q); /* so the datagram going out now keeps its place */
        return 0;
    }
    unsigned i = q->n++;
    struct iovec *v = &q->iov[i];
    if (in_place) {
        *v = m->msg_iov[0];
    } else {
        *v = (struct iovec){q->arena + q->used, total};
        for (size_t k = 0, off = 0; k < m->msg_iovlen; off += m->msg_iov[k++].iov_len)
            if (m->msg_iov[k].iov_len)
                memcpy(q->arena + q->used + off, m->msg_iov[k].iov_base, m->msg_iov[k].iov_len);
        q->used += total;
    }
    q->msgs[i].msg_hdr = (struct msghdr){.msg_iov = v, .msg_iovlen = 1};
    if (m->msg_name) {
        memcpy(&q->to[i], m->msg_name, m->msg_namelen);
        q->msgs[i].msg_hdr.msg_name = &q->to[i];
        q->msgs[i].msg_hdr.msg_namelen = m->msg_namelen;
    }
    return (int)total;
}

int dg_port_write_sequence(dg_port *p, const struct iovec *bufs, size_t n, const dg_addr *to)
{
    if (!p)
        return -EBADF;
    struct msghdr m;
    int rc = dg__tx_check(p, bufs, n, to, &m);
    if (rc >= 0 && p->r->tx_batch_port == p && p->txq && !p->txq->reporting && n) {
        int queued = enqueue(p, p->txq, &m, (size_t)rc);
        if (queued)
            return queued;
    }
    if (rc >= 0)
        rc = dg__tx_sendmsg(p, &m);
    if (rc < 0) {
        dg__tx_count_error(p, rc);
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
