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

#ifndef DGRAM_HAVE_SENDMMSG
/* One sendmsg() each, with sendmmsg()'s results: how many went, or -1 and
 * errno when the first did not. */
static int sendmmsg(int fd, struct mmsghdr *m, unsigned n, int flags)
{
    unsigned i = 0;
    for (; i < n; i++) {
        ssize_t len = sendmsg(fd, &m[i].msg_hdr, flags);
        if (len < 0)
            return i ? (int)i : -1;
        m[i].msg_len = (unsigned)len;
    }
    return (int)i;
}
#endif

/* The largest datagram IPv4 carries; larger ones are sent at once, so the
 * kernel's EMSGSIZE is returned, not deferred. */
#define DG_TXQ_MAX_DATAGRAM 65507
#define DG_TXQ_SLOTS 64
#define DG_TXQ_BYTES (64 * 1024)


/* The destination for this write into m, or a negative errno. Inline:
 * every unbatched datagram passes here. */
static inline __attribute__((always_inline)) int destination(const dg_port *p, const dg_addr *to,
                                                             struct msghdr *m)
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
void dg__tx_refused(dg_port *p)
{
    p->stats.refused++;
    if (p->connected)
        dg__port_schedule(p, DG__PENDING_REFUSED);
}

/* rc: the send of m so far. On a refusal the kernel dropped this datagram
 * with the earlier one's error: send it again, once. A second refusal is a
 * second ICMP. */
static int retry_refused(dg_port *p, struct msghdr *m, int rc)
{
    if (rc == -ECONNREFUSED) {
        dg__tx_refused(p);
        rc = send_once(p, m);
        if (rc == -ECONNREFUSED)
            dg__tx_refused(p);
    }
    return rc;
}

int dg__tx_sendmsg(dg_port *p, struct msghdr *m)
{
    return retry_refused(p, m, send_once(p, m));
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

/* Queued datagrams [0, n); [0, sent) have been through the kernel, and the
 * ones it refused are listed in failed[], with their errors, for the
 * flush's write_failed calls. Once full, further writes go out at once,
 * behind the queued ones. The messages point at iov[i] and to[i] from the
 * start; a write sets only the lengths and the buffer. */
typedef struct dg__txq {
    unsigned n, sent, nfailed;
    size_t used;    /* bytes of arena */
    uint64_t bytes; /* of the datagrams queued */
    bool reporting; /* inside write_failed */
    bool release;   /* batching turned off inside write_failed: free after */
    struct mmsghdr msgs[DG_TXQ_SLOTS];
    struct iovec iov[DG_TXQ_SLOTS];
    dg_addr to[DG_TXQ_SLOTS];
    unsigned char failed[DG_TXQ_SLOTS];
    int err[DG_TXQ_SLOTS];
    unsigned char arena[DG_TXQ_BYTES];
} dg__txq;

int dg_port_set_write_batching(dg_port *p, bool on)
{
    if (!p || p->state == DG__CLOSED)
        return -EBADF;
    dg__txq *q = p->txq;
    if (on && !q) {
        q = p->txq = calloc(1, sizeof *p->txq);
        if (!q)
            return -ENOMEM;
        for (unsigned i = 0; i < DG_TXQ_SLOTS; i++) {
            q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
            q->msgs[i].msg_hdr.msg_iovlen = 1;
            q->msgs[i].msg_hdr.msg_name = &q->to[i];
        }
    } else if (q && q->reporting) {
        q->release = !on; /* the flush under way still reads the queue */
    } else if (!on && q) {
        dg__port_flush(p);
        if (p->state == DG__CLOSED)
            return 0; /* write_failed closed it; the queue goes with the port */
        /* write_failed may have turned batching off too, and the flush freed
         * the queue already. */
        dg__txq_free(p);
    }
    return 0;
}

/* The rest of a send of the queue from q->sent that returned k (errno set
 * when k < 0): count what went and why the next did not, and send on.
 * sendmmsg() stops at the first datagram it cannot send and reports only
 * how many went; the next call then fails with that one's error. */
__attribute__((noinline)) static void send_rest(dg_port *p, dg__txq *q, int k)
{
    unsigned refused_at = UINT_MAX;
    for (;;) {
        if (k > 0) {
            q->sent += (unsigned)k;
            p->stats.tx_datagrams += (unsigned)k;
        } else if (errno != EINTR) {
            int err = -errno;
            if (err == -ECONNREFUSED)
                dg__tx_refused(p);
            if (err == -ECONNREFUSED && refused_at != q->sent) {
                refused_at = q->sent; /* as dg__tx_sendmsg: once more */
            } else {
                q->err[q->sent] = err;
                q->bytes -= q->iov[q->sent].iov_len;
                q->failed[q->nfailed++] = (unsigned char)q->sent++;
                dg__tx_count_error(p, err);
                p->stats.tx_deferred_errors++;
            }
        }
        if (q->sent == q->n)
            return;
        p->stats.tx_syscalls++;
        k = sendmmsg(p->fd, &q->msgs[q->sent], q->n - q->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
}

/* Hand the queue's unsent datagrams to the kernel; usually one call takes
 * them all. */
static inline void send_queued(dg_port *p, dg__txq *q)
{
    unsigned n = q->n - q->sent;
    if (!n)
        return;
    p->stats.tx_syscalls++;
    int k = sendmmsg(p->fd, &q->msgs[q->sent], n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (k != (int)n) {
        send_rest(p, q, k);
        return;
    }
    q->sent = q->n;
    p->stats.tx_datagrams += n;
}

static void report_failures(dg_port *p, dg__txq *q)
{
    q->reporting = true;
    for (unsigned k = 0; k < q->nfailed && p->state != DG__CLOSED; k++) {
        const dg_protocol_ops *ops = p->proto->ops;
        unsigned i = q->failed[k];
        if (ops && ops->write_failed)
            ops->write_failed(p->proto, q->err[i], q->iov[i].iov_base, q->iov[i].iov_len,
                              q->msgs[i].msg_hdr.msg_namelen ? &q->to[i] : NULL);
    }
    q->nfailed = 0;
    q->reporting = false;
    if (q->release && p->state != DG__CLOSED) {
        free(q);
        p->txq = NULL;
    }
}

void dg__port_send_queued(dg_port *p)
{
    dg__txq *q = p->txq;
    if (q && p->r->tx_batch_port == p)
        send_queued(p, q);
}

void dg__port_flush(dg_port *p)
{
    dg__txq *q = p->txq;
    if (p->r->tx_batch_port == p)
        p->r->tx_batch_port = NULL; /* what write_failed writes goes at once */
    if (!q || !q->n || q->reporting)
        return;
    send_queued(p, q);
    p->stats.tx_bytes += q->bytes;
    q->n = q->sent = 0;
    q->used = 0;
    q->bytes = 0;
    if (q->nfailed)
        report_failures(p, q);
}

void dg__txq_free(dg_port *p)
{
    free(p->txq);
    p->txq = NULL;
}

/* The queue has no room for a datagram: it goes out at once, after the
 * queued ones, so that it keeps its place. */
__attribute__((noinline)) static int queue_full(dg_port *p, dg__txq *q)
{
    send_queued(p, q);
    return -1;
}

/* Take a queue entry for a datagram of len bytes to `to` (its buffer
 * copied into the arena unless in_place). Returns the entry, or -1 when the
 * datagram must go out at once: on an error (the send path returns and
 * counts it), or when the queue has no room. Only the port whose read batch
 * is being delivered gets here, so it is open and its queue exists. */
static inline int reserve(dg_port *p, size_t len, bool in_place, const dg_addr *to)
{
    dg__txq *q = p->txq;
    socklen_t namelen = 0;
    if (p->connected) {
        if (to && !dg_addr_equal(to, &p->peer))
            return -1;
    } else {
        if (!to || to->u.sa.sa_family != p->family)
            return -1;
        namelen = p->family == AF_INET ? sizeof to->u.in4 : sizeof to->u.in6;
    }
    if (q->n == DG_TXQ_SLOTS || (!in_place && len > DG_TXQ_BYTES - q->used))
        return queue_full(p, q);
    unsigned i = q->n++;
    q->bytes += len;
    q->msgs[i].msg_hdr.msg_namelen = namelen;
    if (namelen)
        q->to[i] = *to;
    return (int)i;
}

/* A send's result, counted once in the port's stats. */
static inline int counted(dg_port *p, int rc)
{
    if (rc < 0) {
        dg__tx_count_error(p, rc);
        return rc;
    }
    p->stats.tx_datagrams++;
    p->stats.tx_bytes += (uint64_t)rc;
    return rc;
}

int dg_port_write_sequence(dg_port *p, const struct iovec *bufs, size_t n, const dg_addr *to)
{
    if (!p)
        return -EBADF;
    struct msghdr m;
    int rc = dg__tx_check(p, bufs, n, to, &m);
    if (rc >= 0 && rc <= DG_TXQ_MAX_DATAGRAM && p->r->tx_batch_port == p) {
        int i = reserve(p, (size_t)rc, false, to);
        if (i >= 0) {
            dg__txq *q = p->txq;
            q->iov[i] = (struct iovec){q->arena + q->used, (size_t)rc};
            for (size_t k = 0; k < n; q->used += bufs[k++].iov_len)
                if (bufs[k].iov_len)
                    memcpy(q->arena + q->used, bufs[k].iov_base, bufs[k].iov_len);
            return rc;
        }
    }
    if (rc >= 0) {
        if (p->r->tx_batch_port == p)
            dg__port_send_queued(p); /* a write not queued leaves behind the queue */
        rc = dg__tx_sendmsg(p, &m);
    }
    return counted(p, rc);
}

__attribute__((noinline)) static int write_now(dg_port *p, const void *data, size_t len,
                                               const dg_addr *to)
{
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    return dg_port_write_sequence(p, &iov, 1, to);
}

/* The batch's path: a reply from the receive buffers is queued as it is;
 * others are copied. */
__attribute__((noinline)) static int write_queued_slow(dg_port *p, const void *data, size_t len,
                                                       const dg_addr *to)
{
    dg_reactor *r = p->r;
    uintptr_t b = (uintptr_t)data;
    bool in_place = b >= (uintptr_t)r->rx.lo && b + len <= (uintptr_t)r->rx.hi;
    int i = reserve(p, len, in_place, to);
    if (i < 0)
        return write_now(p, data, len, to);
    dg__txq *q = p->txq;
    if (in_place) {
        q->iov[i] = (struct iovec){(void *)data, len};
    } else {
        q->iov[i] = (struct iovec){q->arena + q->used, len};
        if (len)
            memcpy(q->arena + q->used, data, len);
        q->used += len;
    }
    return (int)len;
}

/* The usual reply, inline: from the receive buffer, to an address of the
 * port's family, on an unconnected port with room in its queue. Needs no
 * frame, so the rest is a jump. */
static inline int write_queued(dg_port *p, const void *data, size_t len, const dg_addr *to)
{
    const dg_reactor *r = p->r;
    dg__txq *q = p->txq;
    uintptr_t b = (uintptr_t)data;
    if (b < (uintptr_t)r->rx.lo || b + len > (uintptr_t)r->rx.hi || q->n == DG_TXQ_SLOTS ||
        p->connected || !to || to->u.sa.sa_family != p->family)
        return write_queued_slow(p, data, len, to);
    unsigned i = q->n++;
    q->bytes += len;
    q->iov[i] = (struct iovec){(void *)data, len};
    q->msgs[i].msg_hdr.msg_namelen = p->family == AF_INET ? sizeof to->u.in4 : sizeof to->u.in6;
    q->to[i] = *to;
    return (int)len;
}

/* The first sendmsg of a write failed (errno): on as dg__tx_sendmsg. */
__attribute__((noinline)) static int write_failed_now(dg_port *p, struct msghdr *m)
{
    int err = errno == EINTR ? send_once(p, m) : -errno;
    return counted(p, retry_refused(p, m, err));
}

/* One syscall now, with the usual case (a valid destination, a datagram
 * the kernel takes) in one frame: every unbatched reply passes here. */
__attribute__((noinline)) static int write_direct(dg_port *p, const void *data, size_t len,
                                                  const dg_addr *to)
{
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    int rc = destination(p, to, &m);
    if (rc < 0)
        return counted(p, rc);
    p->stats.tx_syscalls++;
    ssize_t n = sendmsg(p->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0)
        return write_failed_now(p, &m);
    p->stats.tx_datagrams++;
    p->stats.tx_bytes += (uint64_t)n;
    return (int)n;
}

/* dg_port_write_sequence() for one buffer. No frame of its own, so each
 * path is a jump: the unusual (errors, the largest datagrams, a lookup
 * under way) to the general one. */
int dg_port_write(dg_port *p, const void *data, size_t len, const dg_addr *to)
{
    if (!p || len > DG_TXQ_MAX_DATAGRAM || (!data && len))
        return write_now(p, data, len, to);
    /* The batch's port is open: a close sends the queue and ends the batch. */
    if (p->r->tx_batch_port == p)
        return write_queued(p, data, len, to);
    if (p->state == DG__CLOSED || p->fd < 0)
        return write_now(p, data, len, to);
    return write_direct(p, data, len, to);
}
