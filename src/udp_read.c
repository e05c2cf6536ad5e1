/* The receive path: per readiness event, read a bounded batch and deliver it.
 * Kept on one screen: reserve, read batch, dispatch, repeat within budget. */
#include "dg_config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#ifdef __linux__
#include <linux/sock_diag.h>
#endif
#include "reactor.h"

#ifndef SOL_UDP
#define SOL_UDP IPPROTO_UDP
#endif

/* Datagrams per recvmmsg call. libuv uses 20, quinn 32; the knee measured on
 * loopback is around 8-16 (see docs/performance.md). 32 bounds the buffer
 * memory at 32 slots without costing the small-datagram case. */
#define DG_RX_BATCH 32
/* The per-event budget, so one busy port cannot starve the others. Twisted
 * reads up to 256 KiB per event but counts only payload bytes, so empty
 * datagrams never end its loop; we bound the count as well. */
#define DG_RX_BUDGET_BYTES (256 * 1024)
#define DG_RX_BUDGET_DATAGRAMS 256
/* Per slot: room for the SO_RXQ_OVFL count and a GRO train's segment size,
 * and for what else the user turned on through dg_port_fd() (timestamps,
 * pktinfo): the kernel may put those first, and a GRO size cut off would
 * deliver a train as one datagram. A multiple of the cmsg alignment, so the
 * slots' buffers can sit side by side after the messages. */
#define DG_RX_CONTROL 256

/* The kernel writes these back for the messages it fills: each slot is
 * made ready for the next read as it is delivered (or discarded). */
static inline void reset(struct msghdr *h)
{
    h->msg_namelen = sizeof(dg_addr);
    h->msg_flags = 0;
    h->msg_controllen = DG_RX_CONTROL;
}

int dg__rx_reserve(dg__rx *rx, size_t max_packet_size)
{
    if (rx->cur && max_packet_size <= rx->cur->slot_size)
        return 0;
    /* Whole batches no larger than the byte budget (at least one slot). */
    unsigned n = (unsigned)(DG_RX_BUDGET_BYTES / max_packet_size);
    n = n < 1 ? 1 : n > DG_RX_BATCH ? DG_RX_BATCH : n;
    /* One allocation: header, messages, control buffers, iovecs, addresses,
     * then the data; nothing is allocated per datagram. */
    size_t head = sizeof(dg__rxset) + n * (sizeof(struct mmsghdr) + DG_RX_CONTROL +
                                           sizeof(struct iovec) + sizeof(dg_addr));
    dg__rxset *s = malloc(head + (size_t)n * max_packet_size);
    if (!s)
        return -ENOMEM;
    *s = (dg__rxset){.slot_size = max_packet_size, .nslots = n};
    s->msgs = (struct mmsghdr *)(s + 1);
    unsigned char *control = (unsigned char *)(s->msgs + n);
    s->iov = (struct iovec *)(control + (size_t)n * DG_RX_CONTROL);
    s->addrs = (dg_addr *)(s->iov + n);
    s->buf = (unsigned char *)s + head;
    memset(s->msgs, 0, n * sizeof *s->msgs);
    for (unsigned i = 0; i < n; i++) {
        /* The whole slot, whatever the reading port's own limit: deliver()
         * truncates to that, so the iovecs are never rewritten. */
        s->iov[i] = (struct iovec){s->buf + (size_t)i * max_packet_size, max_packet_size};
        s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
        s->msgs[i].msg_hdr.msg_iovlen = 1;
        s->msgs[i].msg_hdr.msg_name = &s->addrs[i];
        s->msgs[i].msg_hdr.msg_control = control + (size_t)i * DG_RX_CONTROL;
        reset(&s->msgs[i].msg_hdr);
    }
    if (rx->cur) {
        /* A read loop may be using it: freed after the iteration. */
        rx->cur->next = rx->retired;
        rx->retired = rx->cur;
    }
    rx->cur = s;
    rx->lo = s->buf;
    rx->hi = s->buf + (size_t)n * max_packet_size;
    return 0;
}

void dg__rx_free_retired(dg__rx *rx)
{
    while (rx->retired) {
        dg__rxset *s = rx->retired;
        rx->retired = s->next;
        free(s);
    }
}

void dg__rx_free(dg__rx *rx)
{
    dg__rx_free_retired(rx);
    free(rx->cur);
    rx->cur = NULL;
}

/* Read up to n datagrams into the shared slots. MSG_TRUNC makes the kernel
 * report each datagram's real length, so truncation is seen, not silent. */
static int read_batch(dg_port *p, dg__rxset *s, unsigned n)
{
    struct mmsghdr *m = s->msgs;
#ifdef DGRAM_HAVE_RECVMMSG
    int got = recvmmsg(p->fd, m, n, MSG_DONTWAIT | MSG_TRUNC, NULL);
#else
    ssize_t len = recvmsg(p->fd, &m[0].msg_hdr, MSG_DONTWAIT | MSG_TRUNC);
    int got = len < 0 ? -1 : 1;
    if (len >= 0)
        m[0].msg_len = (unsigned)len;
#endif
    return got < 0 ? -errno : got;
}

/* The socket's cumulative drop count (it wraps), or false without one. */
static bool socket_drops(int fd, uint32_t *drops)
{
#if defined(SO_MEMINFO) && defined(__linux__) /* SK_MEMINFO_* are enum constants */
    uint32_t mem[SK_MEMINFO_VARS] = {0};
    socklen_t len = sizeof mem;
    /* Kernels before 4.7 give no drop count (8 values): the fallback then. */
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
        len > SK_MEMINFO_DROPS * sizeof *mem) {
        *drops = mem[SK_MEMINFO_DROPS];
        return true;
    }
#endif
    (void)fd, (void)drops;
    return false;
}

/* Drops are read from SO_MEMINFO when they can have happened: after a
 * read that found the queue full, when the stats are asked for, and at
 * close. SO_RXQ_OVFL, which tells each datagram the count, costs the
 * kernel a control message per datagram once there has been one drop
 * (9 % of a flooded sink's time, docs/performance.md): only the fallback
 * where SO_MEMINFO is missing. An adopted socket may have dropped before:
 * those are not ours. */
void dg__rx_count_drops(dg_port *p)
{
    p->drops_by_meminfo = socket_drops(p->fd, &p->kernel_drops);
#ifdef SO_RXQ_OVFL
    if (!p->drops_by_meminfo)
        setsockopt(p->fd, SOL_SOCKET, SO_RXQ_OVFL, &(int){1}, sizeof(int));
#endif
}

uint64_t dg__rx_drops(const dg_port *p)
{
    uint32_t now;
    if (p->drops_by_meminfo && p->fd >= 0 && socket_drops(p->fd, &now))
        return p->stats.rx_kernel_drops + (uint32_t)(now - p->kernel_drops);
    return p->stats.rx_kernel_drops;
}

void dg__rx_note_drops(dg_port *p)
{
    uint32_t now;
    if (p->drops_by_meminfo && p->fd >= 0 && socket_drops(p->fd, &now)) {
        p->stats.rx_kernel_drops += (uint32_t)(now - p->kernel_drops);
        p->kernel_drops = now;
    }
}

/* The datagram's control messages. With SO_RXQ_OVFL, each datagram
 * carries the socket's cumulative drop count when it was queued (only once
 * it is nonzero): count the difference from the last one seen, so no drop
 * is counted twice (envoy#15524 added the total each time). Returns the
 * segment size of a GRO train, or 0. */
static size_t read_control(dg_port *p, struct msghdr *h)
{
    size_t segment = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
#ifdef SO_RXQ_OVFL
        /* Only where SO_MEMINFO counts nothing: the user (or an adopted
         * socket's first owner) may have turned SO_RXQ_OVFL on, and its
         * totals are older than the one SO_MEMINFO gave. */
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL && !p->drops_by_meminfo) {
            uint32_t total;
            memcpy(&total, CMSG_DATA(c), sizeof total);
            p->stats.rx_kernel_drops += (uint32_t)(total - p->kernel_drops);
            p->kernel_drops = total;
        }
#endif
#ifdef UDP_GRO
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int size;
            memcpy(&size, CMSG_DATA(c), sizeof size);
            segment = size > 0 ? (size_t)size : 0;
        }
#endif
    }
    return segment;
}

/* One datagram to the protocol, cut to the port's max_packet_size. */
static inline size_t deliver_one(dg_port *p, void *data, size_t len, bool cut, const dg_addr *from)
{
    if (cut || len > p->max_packet_size) {
        len = len < p->max_packet_size ? len : p->max_packet_size;
        p->cur_flags = DG_TRUNCATED;
        p->stats.rx_truncated++;
    }
    p->stats.rx_datagrams++;
    p->stats.rx_bytes += len;
    const dg_protocol_ops *ops = p->proto->ops;
    if (ops && ops->datagram_received)
        ops->datagram_received(p->proto, data, len, from);
    p->cur_flags = 0;
    return len;
}

/* A GRO train of len bytes (real, before any cut to the slot): the
 * sender's datagrams, each segment bytes but the last, delivered one by
 * one. Those a callback's stop leaves undelivered, or that did not fit the
 * slot, are counted in rx_discarded. */
__attribute__((noinline)) static size_t deliver_train(dg_port *p, unsigned char *data, size_t len,
                                                      size_t in_slot, size_t segment,
                                                      const dg_addr *from)
{
    p->stats.rx_gro_trains++;
    size_t bytes = 0, off = 0;
    for (; off < len && p->state == DG__LISTENING; off += segment) {
        size_t n = len - off < segment ? len - off : segment;
        if (off + n > in_slot)
            break;
        bytes += deliver_one(p, data + off, n, false, from);
    }
    if (off < len)
        p->stats.rx_discarded += (len - off + segment - 1) / segment;
    return bytes;
}

/* Stopped by a callback: the datagrams in slots [i, got) left the kernel
 * already; each is counted, a train's one by one. */
__attribute__((noinline)) static void discard(dg_port *p, dg__rxset *s, unsigned i, unsigned got)
{
    for (; i < got; i++) {
        struct msghdr *h = &s->msgs[i].msg_hdr;
        size_t len = s->msgs[i].msg_len;
        size_t segment = h->msg_controllen ? read_control(p, h) : 0;
        p->stats.rx_discarded += segment && len > segment ? (len + segment - 1) / segment : 1;
        reset(h);
    }
}

/* Deliver the got datagrams the last read left in the slots, with the
 * port's replies queued meanwhile when it batches writes (udp_write.c).
 * Returns the bytes delivered; *done is how many were, fewer when a
 * callback stopped the port. */
static size_t deliver(dg_port *p, dg__rxset *s, unsigned got, unsigned *done)
{
    if (p->txq)
        p->r->tx_batch_port = p;
    size_t bytes = 0;
    struct mmsghdr *m = s->msgs, *end = m + got;
    for (; m < end && p->state == DG__LISTENING; m++) {
        struct msghdr *h = &m->msg_hdr;
        size_t len = m->msg_len, segment = 0;
        if (h->msg_controllen)
            segment = read_control(p, h);
        bool cut = h->msg_flags & MSG_TRUNC;
        reset(h);
        if (segment && len > segment)
            bytes += deliver_train(p, h->msg_iov->iov_base, len, cut ? s->slot_size : len,
                                   segment, h->msg_name);
        else
            bytes += deliver_one(p, h->msg_iov->iov_base, len, cut, h->msg_name);
    }
    p->r->tx_batch_port = NULL;
    if (p->txq)
        dg__port_flush(p);
    unsigned i = (unsigned)(m - s->msgs);
    *done = i;
    if (i < got)
        discard(p, s, i, got);
    return bytes;
}

int dg_port_set_gro(dg_port *p, bool on)
{
    if (!p || p->state == DG__CLOSED)
        return -EBADF;
    if (p->fd < 0)
        return -ENOTCONN;
#ifdef UDP_GRO
    /* The slots first: a train cut short would lose datagrams. */
    int rc = on ? dg__rx_reserve(&p->r->rx, DG_MAX_PACKET_SIZE_LIMIT) : 0;
    if (rc < 0)
        return rc;
    int v = on;
    if (setsockopt(p->fd, SOL_UDP, UDP_GRO, &v, sizeof v) < 0)
        return errno == ENOPROTOOPT ? -EOPNOTSUPP : -errno;
    p->gro = on;
    return 0;
#else
    return on ? -EOPNOTSUPP : 0;
#endif
}

int dg_port_get_gro(const dg_port *p)
{
    if (!p || p->state == DG__CLOSED)
        return -EBADF;
    return p->gro;
}

/* A receive error. Returns true to keep reading in this event. */
static bool read_error(dg_port *p, int err)
{
    switch (err) {
    case -EINTR:
        return true;
    case -EAGAIN:
#if EAGAIN != EWOULDBLOCK
    case -EWOULDBLOCK:
#endif
        return false;
    case -ECONNREFUSED:
        /* The ICMP of an earlier write. On a connected port it is the
         * protocol's business and the port stays open (Twisted's epoll
         * reactor closes it instead: a bug we do not copy). */
        p->stats.refused++;
        if (p->connected && p->proto->ops && p->proto->ops->connection_refused)
            p->proto->ops->connection_refused(p->proto);
        return true;
    default:
        /* Host or net unreachable and the like: transient, never fatal. */
        p->stats.rx_errors++;
        dg__log(p->r, "(UDP Port %d) receive error: %s", p->number, dg_strerror(err));
        return false;
    }
}

/* A wakeup with nothing to read. If the user turned on IP_RECVERR through
 * dg_port_fd(), ICMP errors also sit in the error queue, which keeps the
 * descriptor in error (and the loop spinning) until drained (libuv#4447).
 * The error itself reaches us through recv (the socket's pending error), so
 * the queued copies are only dropped. */
static void drain_error_queue(dg_port *p)
{
    struct msghdr m = {0};
    while (recvmsg(p->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0)
        m = (struct msghdr){0};
}

/* A failed read: returns true to keep reading in this event. */
__attribute__((noinline)) static bool read_failed(dg_port *p, int err, bool any, unsigned events)
{
    if (err == -EAGAIN && !any && (events & DG_ERROR))
        drain_error_queue(p);
    return read_error(p, err);
}

/* Read and deliver batches until the queue is empty or the event's budget
 * (datagrams, errors and bytes) is spent. The slots stay valid through the
 * event even if a callback replaces the set (dg__rx_reserve retires it). */
void dg__port_on_readable(dg_port *p, unsigned events)
{
    size_t bytes = 0;
    unsigned count = 0; /* datagrams and errors */
    while (p->state == DG__LISTENING && !p->r->stopping) {
        /* Each batch reads into the current set: a callback may have grown
         * it (dg_port_set_gro), and a train must not meet the old slots. */
        dg__rxset *s = p->r->rx.cur;
        unsigned want = s->nslots;
        if (want > DG_RX_BUDGET_DATAGRAMS - count)
            want = DG_RX_BUDGET_DATAGRAMS - count;
        int got = read_batch(p, s, want);
        if (got < 0) {
            /* errors use the budget too, so none can spin here */
            if (!read_failed(p, got, count++ > 0 || bytes > 0, events))
                return;
        } else {
            unsigned done;
            bytes += deliver(p, s, (unsigned)got, &done);
            /* Stopped by a callback, or the queue is empty: skip the
             * recvmmsg that says EAGAIN. */
            if (done < (unsigned)got || (unsigned)got < want)
                break;
            count += (unsigned)got;
        }
        if (count >= DG_RX_BUDGET_DATAGRAMS || bytes >= DG_RX_BUDGET_BYTES)
            break;
    }
    /* A full batch: the queue may have overflowed, and this is when. */
    if (count)
        dg__rx_note_drops(p);
}
