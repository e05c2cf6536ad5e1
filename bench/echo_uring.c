/* The raw loop again, through io_uring and nothing else (no liburing): can
 * the ring beat a blocking recvmmsg + sendmmsg on this kernel? One multishot
 * recvmsg fills buffers from a provided-buffer ring; each datagram goes back
 * with its own send SQE, submitted by the same io_uring_enter that waits for
 * the next datagrams, so a batch costs one syscall instead of two.
 *
 * Variants measured on 6.18 and dropped, none faster: sendmsg SQEs
 * (a msghdr per buffer, no faster than send with the address in addr2), one
 * sendmmsg per batch (io_uring only replacing recvmmsg: no faster), sends
 * with IOSQE_CQE_SKIP_SUCCESS (no faster, and it relies on inline issue), a
 * registered buffer for the send (EINVAL on 6.18), 256 buffers (12 % more
 * CPU per 1200 B echo: the buffers no longer fit the cache). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "bench.h"

/* Newer than the 6.1 header this is built against; the kernel may know it. */
#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16)
#endif

/* As many buffers as the raw loop's batch: the window fits, and so does the
 * cache. A buffer is in one send at most, so the SQ never needs more. */
#define NBUF 64
#define SLOT 2048
#define BGID 0
#define TAG_RECV (1ULL << 32) /* user_data of the recvmsg; a send's is its buffer id */

typedef struct ring {
    int fd, real_fd; /* fd: the registered index once enter_flags says so */
    unsigned enter_flags;
    unsigned *sq_tail, sq_mask, sq_entries, sq_local, to_submit;
    struct io_uring_sqe *sqes;
    unsigned *cq_head, *cq_tail, cq_mask;
    struct io_uring_cqe *cqes;
    struct io_uring_buf_ring *br;
    unsigned short br_tail;
} ring;

static int enter(ring *r, unsigned submit, unsigned wait, struct io_uring_getevents_arg *arg)
{
    unsigned flags = r->enter_flags | (wait ? IORING_ENTER_GETEVENTS : 0);
    if (arg)
        flags |= IORING_ENTER_EXT_ARG;
    return (int)syscall(__NR_io_uring_enter, r->fd, submit, wait, flags, arg,
                        arg ? sizeof *arg : 0);
}

/* The kernel consumes every SQE at each enter (no SQPOLL), so a full queue
 * only needs one submit to empty it. */
static struct io_uring_sqe *get_sqe(ring *r)
{
    if (r->to_submit == r->sq_entries) {
        int n = enter(r, r->to_submit, 0, NULL);
        r->to_submit -= n > 0 ? (unsigned)n : 0;
        if (r->to_submit)
            return NULL;
    }
    struct io_uring_sqe *sqe = &r->sqes[r->sq_local & r->sq_mask];
    memset(sqe, 0, sizeof *sqe);
    r->sq_local++;
    r->to_submit++;
    __atomic_store_n(r->sq_tail, r->sq_local, __ATOMIC_RELEASE);
    return sqe;
}

/* Buffers go back in bulk: the kernel sees them at buf_publish(). */
static void buf_return(ring *r, unsigned char (*bufs)[SLOT], unsigned short bid)
{
    struct io_uring_buf *b = &r->br->bufs[r->br_tail++ & (NBUF - 1)];
    *b = (struct io_uring_buf){.addr = (uintptr_t)bufs[bid], .len = SLOT, .bid = bid};
}

static void buf_publish(ring *r)
{
    __atomic_store_n(&r->br->tail, r->br_tail, __ATOMIC_RELEASE);
}

/* DEFER_TASKRUN runs the receive's task work only inside our own enter, when
 * we ask for completions: no interrupting the loop, and a whole burst is
 * received in one go. Older kernels refuse the flags: fall back. */
static int ring_open(ring *r)
{
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_NO_SQARRAY,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    struct io_uring_params p;
    int fd = -1;
    for (size_t i = 0; i < sizeof tries / sizeof tries[0] && fd < 0; i++) {
        memset(&p, 0, sizeof p);
        p.flags = tries[i];
        fd = (int)syscall(__NR_io_uring_setup, NBUF, &p);
        if (fd < 0 && errno != EINVAL)
            return -1;
    }
    if (fd < 0 || !(p.features & IORING_FEAT_SINGLE_MMAP) || !(p.features & IORING_FEAT_EXT_ARG)) {
        errno = ENOSYS;
        return -1;
    }
    *r = (ring){.fd = fd, .real_fd = fd};
    size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    unsigned char *m = mmap(NULL, sq_size > cq_size ? sq_size : cq_size, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    void *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (m == MAP_FAILED || sqes == MAP_FAILED)
        return -1;
    r->sq_tail = (unsigned *)(m + p.sq_off.tail);
    r->sq_mask = *(unsigned *)(m + p.sq_off.ring_mask);
    r->sq_entries = p.sq_entries;
    r->sq_local = *r->sq_tail;
    r->sqes = sqes;
    if (!(p.flags & IORING_SETUP_NO_SQARRAY)) {
        unsigned *array = (unsigned *)(m + p.sq_off.array);
        for (unsigned i = 0; i < p.sq_entries; i++)
            array[i] = i; /* identity: the SQ tail then indexes the SQEs directly */
    }
    r->cq_head = (unsigned *)(m + p.cq_off.head);
    r->cq_tail = (unsigned *)(m + p.cq_off.tail);
    r->cq_mask = *(unsigned *)(m + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(m + p.cq_off.cqes);
    return 0;
}

static int buffers_register(ring *r, unsigned char (*bufs)[SLOT])
{
    void *m = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    r->br = m;
    struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)m, .ring_entries = NBUF, .bgid = BGID};
    if (syscall(__NR_io_uring_register, r->real_fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
        return -1;
    for (unsigned short i = 0; i < NBUF; i++)
        buf_return(r, bufs, i);
    buf_publish(r);
    return 0;
}

/* Every enter would otherwise look the ring up in the file table. Last:
 * io_uring_register() takes only the real fd (the 6.1 header has no
 * IORING_REGISTER_USE_REGISTERED_RING). */
static void ring_register_fd(ring *r)
{
    struct io_uring_rsrc_update up = {.offset = -1U, .data = (uint64_t)r->fd};
    if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_RING_FDS, &up, 1) == 1) {
        r->fd = (int)up.offset;
        r->enter_flags = IORING_ENTER_REGISTERED_RING;
    }
}

int main(int argc, char **argv)
{
    bench_args a = bench_parse(argc, argv);
    bench_stop_on_signals();
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a.port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        perror("echo_uring");
        return 1;
    }
    static unsigned char bufs[NBUF][SLOT] __attribute__((aligned(4096)));
    ring r;
    if (ring_open(&r) < 0 || buffers_register(&r, bufs) < 0) {
        perror("echo_uring: io_uring");
        return 1;
    }
    /* A fixed file spares each request the fget/fput of the socket. */
    int sfd = fd;
    unsigned char fixed = 0;
    if (syscall(__NR_io_uring_register, r.real_fd, IORING_REGISTER_FILES, &fd, 1) == 0) {
        sfd = 0;
        fixed = IOSQE_FIXED_FILE;
    }
    ring_register_fd(&r);
    /* The template of every receive: each buffer then holds a struct
     * io_uring_recvmsg_out, msg_namelen bytes of address, and the payload. */
    static struct msghdr tmpl = {.msg_namelen = sizeof(struct sockaddr_in)};
    const size_t payload_at = sizeof(struct io_uring_recvmsg_out) + sizeof(struct sockaddr_in);

    unsigned long long count = 0, send_errors = 0;
    double deadline = bench_now() + a.seconds;
    bool armed = false;
    bench_ready();
    while (!bench_stop) {
        if (!armed) {
            struct io_uring_sqe *sqe = get_sqe(&r);
            if (!sqe)
                break;
            sqe->opcode = IORING_OP_RECVMSG;
            sqe->fd = sfd;
            sqe->addr = (uintptr_t)&tmpl;
            sqe->len = 1;
            sqe->ioprio = IORING_RECV_MULTISHOT;
            sqe->flags = IOSQE_BUFFER_SELECT | fixed;
            sqe->buf_group = BGID;
            sqe->user_data = TAG_RECV;
            armed = true;
        }
        /* The lifetime bound is checked whenever the socket is idle this long. */
        struct __kernel_timespec ts = {.tv_nsec = 100000000};
        struct io_uring_getevents_arg arg = {.ts = (uintptr_t)&ts};
        int n = enter(&r, r.to_submit, 1, &arg);
        if (n >= 0) {
            r.to_submit -= (unsigned)n;
        } else if (errno != ETIME && errno != EINTR) {
            perror("echo_uring: io_uring_enter");
            break;
        } else if (bench_now() > deadline) {
            break;
        }
        unsigned head = *r.cq_head, tail = __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE);
        for (; head != tail; head++) {
            const struct io_uring_cqe *cqe = &r.cqes[head & r.cq_mask];
            if (cqe->user_data != TAG_RECV) {
                /* Sent, or failed and dropped as sendmmsg would: the buffer
                 * is free again. */
                if (cqe->res < 0 && send_errors++ == 0)
                    fprintf(stderr, "echo_uring: send: %s\n", strerror(-cqe->res));
                buf_return(&r, bufs, (unsigned short)cqe->user_data);
                continue;
            }
            if (!(cqe->flags & IORING_CQE_F_MORE))
                armed = false; /* out of buffers (ENOBUFS), or the kernel ended it */
            if (cqe->res < 0 || !(cqe->flags & IORING_CQE_F_BUFFER)) {
                if (cqe->res != -ENOBUFS)
                    fprintf(stderr, "echo_uring: recvmsg: %s\n", strerror(-cqe->res));
                continue;
            }
            unsigned short bid = (unsigned short)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            count++;
            const struct io_uring_recvmsg_out *o = (const void *)bufs[bid];
            struct io_uring_sqe *sqe;
            if (a.sink || (o->flags & MSG_TRUNC) || !(sqe = get_sqe(&r))) {
                buf_return(&r, bufs, bid);
                continue;
            }
            /* IORING_OP_SEND takes the address itself, as sendto(): the one
             * in the buffer, next to the payload. */
            sqe->opcode = IORING_OP_SEND;
            sqe->fd = sfd;
            sqe->flags = fixed;
            sqe->addr = (uintptr_t)(bufs[bid] + payload_at);
            sqe->len = o->payloadlen;
            sqe->addr2 = (uintptr_t)(bufs[bid] + sizeof *o);
            sqe->addr_len = (uint16_t)o->namelen;
            sqe->user_data = bid;
        }
        __atomic_store_n(r.cq_head, head, __ATOMIC_RELEASE);
        buf_publish(&r);
    }
    if (a.sink)
        bench_report_count(count);
    return 0;
}
