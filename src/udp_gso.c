/* Bulk sends to one destination: UDP generic segmentation offload, where one
 * sendmsg() with a UDP_SEGMENT size carries up to 64 datagrams through the
 * stack as one, and sendmmsg() where the kernel lacks it or refuses it. The
 * run-time refusal is EIO, from a device that cannot checksum the segments
 * (quinn#1128): then the port stops trying. */
#include "dg_config.h"
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include "reactor.h"

#ifndef SOL_UDP
#define SOL_UDP IPPROTO_UDP
#endif
/* The kernel's limits for one GSO send: UDP_MAX_SEGMENTS segments, and the
 * whole within one IP datagram (65507 payload bytes over IPv4, 65527 over
 * IPv6; 65000 leaves room for IP options and extension headers). */
#define DG_GSO_MAX_SEGMENTS 64
#define DG_GSO_MAX_BYTES 65000
#define DG_MAX_SEGMENT 65507
#define DG_MMSG_BATCH 64

bool dg__gso_supported(int fd)
{
#ifdef UDP_SEGMENT
    int v;
    return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &(socklen_t){sizeof v}) == 0;
#else
    (void)fd;
    return false;
#endif
}

int dg_port_set_gso(dg_port *p, bool on)
{
    if (!p || p->state == DG__CLOSED)
        return -EBADF;
    if (p->fd < 0)
        return -ENOTCONN;
    if (on && !dg__gso_supported(p->fd))
        return -EOPNOTSUPP;
    p->gso = on;
    return 0;
}

int dg_port_get_gso(const dg_port *p)
{
    if (!p || p->state == DG__CLOSED)
        return -EBADF;
    return p->gso;
}

/* One GSO send of n segments of seg bytes from data (the last may be
 * shorter; total bytes). Returns the bytes sent or a negative errno. */
static int send_gso(dg_port *p, struct msghdr *m, const unsigned char *data, size_t total,
                    size_t seg)
{
#ifdef UDP_SEGMENT
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control = {0};
    struct iovec iov = {(void *)data, total};
    m->msg_iov = &iov;
    m->msg_iovlen = 1;
    m->msg_control = control.buf;
    m->msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(m);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t size = (uint16_t)seg;
    memcpy(CMSG_DATA(c), &size, sizeof size);
    int rc = dg__tx_sendmsg(p, m);
    m->msg_control = NULL;
    m->msg_controllen = 0;
    return rc;
#else
    (void)p, (void)m, (void)data, (void)total, (void)seg;
    return -EOPNOTSUPP;
#endif
}

/* Up to DG_MMSG_BATCH datagrams of seg bytes from data (total bytes) by
 * sendmmsg(). Returns how many were sent, or a negative errno if none. */
static int send_each(dg_port *p, const struct msghdr *m, const unsigned char *data, size_t total,
                     size_t seg)
{
    struct mmsghdr msgs[DG_MMSG_BATCH];
    struct iovec iov[DG_MMSG_BATCH];
    unsigned n = 0;
    for (size_t off = 0; off < total && n < DG_MMSG_BATCH; off += seg, n++) {
        iov[n] = (struct iovec){(void *)(data + off), total - off < seg ? total - off : seg};
        msgs[n].msg_hdr = (struct msghdr){.msg_name = m->msg_name, .msg_namelen = m->msg_namelen,
                                          .msg_iov = &iov[n], .msg_iovlen = 1};
    }
#ifdef DGRAM_HAVE_SENDMMSG
    bool retried = false;
    for (;;) {
        p->stats.tx_syscalls++;
        int k = sendmmsg(p->fd, msgs, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k >= 0)
            return k;
        int err = -errno;
        if (err == -ECONNREFUSED) {
            dg__tx_refused(p); /* and the datagrams go again once, as dg__tx_sendmsg */
            if (!retried) {
                retried = true;
                continue;
            }
        }
        if (err != -EINTR)
            return err;
    }
#else
    int rc = dg__tx_sendmsg(p, &msgs[0].msg_hdr);
    return rc < 0 ? rc : 1;
#endif
}

int dg_port_write_segments(dg_port *p, const void *data, size_t len, size_t segment_size,
                           const dg_addr *to)
{
    if (!p)
        return -EBADF;
    struct iovec none = {(void *)data, 0};
    struct msghdr m;
    int rc = dg__tx_check(p, &none, 1, to, &m);
    if (rc >= 0 && (!data || !len || !segment_size || segment_size > DG_MAX_SEGMENT ||
                    (len - 1) / segment_size >= INT_MAX))
        rc = -EINVAL;
    if (rc < 0) {
        dg__tx_count_error(p, rc);
        return rc;
    }
    /* What this callback queued by write batching leaves first, in order. */
    dg__port_send_queued(p);
    const unsigned char *d = data;
    size_t off = 0, sent = 0;
    size_t per_gso = DG_GSO_MAX_BYTES / segment_size;
    if (per_gso > DG_GSO_MAX_SEGMENTS)
        per_gso = DG_GSO_MAX_SEGMENTS;
    while (off < len) {
        size_t left = len - off, n = 0;
        if (p->gso && per_gso >= 2 && left > segment_size) {
            size_t chunk = left < per_gso * segment_size ? left : per_gso * segment_size;
            rc = send_gso(p, &m, d + off, chunk, segment_size);
            if (rc >= 0) {
                p->stats.tx_gso_sends++;
                n = (chunk + segment_size - 1) / segment_size;
            } else if (rc == -EIO) {
                /* The device cannot checksum segments: never again here. */
                p->gso = false;
                dg__log(p->r, "(UDP Port %d) GSO refused by the device; using sendmmsg", p->number);
                continue;
            } else if (rc == -EMSGSIZE || rc == -EINVAL) {
                /* A segment larger than the path's MTU (the kernel makes no
                 * segments the device would fragment), or a socket it will
                 * not segment for: this call's datagrams go one by one,
                 * fragmented where need be. */
                per_gso = 0;
                continue;
            }
        } else {
            rc = send_each(p, &m, d + off, left, segment_size);
            if (rc == 0)
                rc = -EAGAIN; /* nothing went, nothing failed: no progress */
            n = rc > 0 ? (size_t)rc : 0;
        }
        if (rc < 0) {
            dg__tx_count_error(p, rc);
            return sent ? (int)sent : rc;
        }
        for (size_t i = 0; i < n; i++, sent++) {
            size_t l = len - off < segment_size ? len - off : segment_size;
            off += l;
            p->stats.tx_datagrams++;
            p->stats.tx_bytes += l;
        }
    }
    return (int)sent;
}
