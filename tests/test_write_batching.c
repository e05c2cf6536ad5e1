/* Write batching (dg_port_set_write_batching): the replies written while one
 * read batch is delivered leave in one sendmmsg, in order, with the same
 * bytes; errors that need no kernel still come back from the write; the
 * kernel's refusals reach write_failed and the stats; and every callback may
 * close, stop, write or turn batching off in the middle of it.
 *
 * A peer's datagrams are all queued before the reactor turns (loopback
 * delivers inside the sender's syscall), so one recvmmsg reads them all:
 * that makes the syscall counts below exact. */
#include "helpers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const ips[] = {"127.0.0.1", "::1"};

typedef struct batcher batcher;
typedef void (*on_datagram_fn)(batcher *b, const void *data, size_t len, const dg_addr *from);

struct batcher {
    dg_protocol proto;
    dg_protocol_ops ops;
    on_datagram_fn on_datagram;
    int received, stopped;
    int failed;               /* write_failed calls */
    int failed_err[8];
    char failed_data[8][16];
    dg_addr failed_to[8];
    bool failed_to_null[8];
    void (*on_failed)(batcher *b);
    dg_addr target;           /* for tests that write elsewhere */
    int replies;              /* replies per datagram */
    dg_port *other;
    dg_port_stats at_close;
};

static batcher *of(dg_protocol *self)
{
    return DG_CONTAINER_OF(self, batcher, proto);
}

static void b_datagram(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    batcher *b = of(self);
    b->received++;
    b->on_datagram(b, data, len, from);
}

static void b_stop(dg_protocol *self)
{
    of(self)->stopped++;
}

static void b_failed(dg_protocol *self, int err, const void *data, size_t len, const dg_addr *to)
{
    batcher *b = of(self);
    assert_true(b->failed < 8);
    b->failed_err[b->failed] = err;
    snprintf(b->failed_data[b->failed], sizeof b->failed_data[0], "%.*s", (int)len,
             (const char *)data);
    b->failed_to_null[b->failed] = to == NULL;
    if (to)
        b->failed_to[b->failed] = *to;
    b->failed++;
    if (b->on_failed)
        b->on_failed(b);
}

static dg_port *b_listen(dg_reactor *r, batcher *b, const char *ip, on_datagram_fn fn)
{
    memset(b, 0, sizeof *b);
    b->ops = (dg_protocol_ops){.name = "Batcher", .datagram_received = b_datagram,
                               .stop_protocol = b_stop, .write_failed = b_failed};
    b->proto.ops = &b->ops;
    b->on_datagram = fn;
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.interface = ip;
    dg_port *p = NULL;
    assert_int_equal(dg_listen_udp(r, 0, &b->proto, &o, &p), 0);
    assert_int_equal(dg_port_set_write_batching(p, true), 0);
    return p;
}

/* Expect n datagrams on peer, "0", "1", ... each with suffix. */
static void expect_n(int peer, int n, const char *suffix)
{
    char buf[64], want[64];
    for (int i = 0; i < n; i++) {
        size_t len = t_peer_recv(peer, buf, sizeof buf - 1, NULL);
        buf[len] = 0;
        snprintf(want, sizeof want, "%d%s", i, suffix);
        assert_string_equal(buf, want);
    }
}

/* Expect the four good replies of reply_around_broadcast to "0" and "1". */
static void expect_0011(int peer)
{
    char buf[8];
    const char *want[] = {"0", "0", "1", "1"};
    for (int i = 0; i < 4; i++) {
        size_t len = t_peer_recv(peer, buf, sizeof buf - 1, NULL);
        buf[len] = 0;
        assert_string_equal(buf, want[i]);
    }
}

/* The reply is the received buffer itself: no copy. */
static void echo_in_place(batcher *b, const void *data, size_t len, const dg_addr *from)
{
    assert_int_equal(dg_port_write(b->proto.transport, data, len, from), (int)len);
}

/* The reply is built on the stack and overwritten before the write returns
 * to the loop: the queue must have copied it. */
static void echo_copied(batcher *b, const void *data, size_t len, const dg_addr *from)
{
    (void)b;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%.*s!", (int)len, (const char *)data);
    assert_int_equal(dg_port_write(b->proto.transport, buf, (size_t)n, from), n);
    memset(buf, 'X', sizeof buf);
}

/* Gathered from three buffers, one of them the received datagram. */
static void echo_sequence(batcher *b, const void *data, size_t len, const dg_addr *from)
{
    struct iovec v[3] = {{(void *)data, len}, {"-", 1}, {"seq", 3}};
    assert_int_equal(dg_port_write_sequence(b->proto.transport, v, 3, from), (int)len + 4);
}

static void run_echo(on_datagram_fn fn, const char *suffix)
{
    for (size_t f = 0; f < 2; f++) {
        dg_reactor *r = t_reactor(false);
        batcher b;
        dg_port *p = b_listen(r, &b, ips[f], fn);
        int peer = t_queue_n(ips[f], p, 20);
        T_RUN_UNTIL(r, b.received == 20);
        expect_n(peer, 20, suffix);
        dg_port_stats st = t_stats(p);
        assert_int_equal(st.tx_datagrams, 20);
        assert_int_equal(st.tx_errors, 0);
        assert_int_equal(st.tx_syscalls, 1); /* one sendmmsg for the batch */
        close(peer);
        dg_reactor_free(r);
        assert_int_equal(b.stopped, 1);
    }
}

static void test_echo_in_place(void **state)
{
    (void)state;
    run_echo(echo_in_place, "");
}

static void test_echo_copied(void **state)
{
    (void)state;
    run_echo(echo_copied, "!");
}

static void test_echo_sequence(void **state)
{
    (void)state;
    run_echo(echo_sequence, "-seq");
}

/* Errors that need no kernel come back from the write itself. */
static void bad_writes(batcher *b, const void *data, size_t len, const dg_addr *from)
{
    dg_port *p = b->proto.transport;
    dg_addr other = t_addr(dg_addr_family(from) == AF_INET ? "::1" : "127.0.0.1", 9);
    assert_int_equal(dg_port_write(p, data, len, NULL), -EDESTADDRREQ);
    assert_int_equal(dg_port_write(p, data, len, &other), -EAFNOSUPPORT);
    assert_int_equal(dg_port_write_sequence(p, NULL, 1, from), -EINVAL);
    /* Too large for any queue: sent at once, the kernel's answer returned. */
    static char big[65508];
    assert_int_equal(dg_port_write(p, big, sizeof big, from), -EMSGSIZE);
    echo_in_place(b, data, len, from);
}

static void test_sync_errors(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    batcher b;
    dg_port *p = b_listen(r, &b, "127.0.0.1", bad_writes);
    int peer = t_queue_n("127.0.0.1", p, 3);
    T_RUN_UNTIL(r, b.received == 3);
    expect_n(peer, 3, "");
    dg_port_stats st = t_stats(p);
    assert_int_equal(st.tx_datagrams, 3);
    assert_int_equal(st.tx_errors, 12);
    assert_int_equal(st.tx_deferred_errors, 0);
    assert_int_equal(st.tx_err_msgsize, 3);
    assert_int_equal(b.failed, 0);
    close(peer);
    dg_reactor_free(r);
}

/* Between two good replies, one to the broadcast address without
 * SO_BROADCAST: the kernel refuses it (EACCES) before anything leaves. */
static void reply_around_broadcast(batcher *b, const void *data, size_t len, const dg_addr *from)
{
    dg_port *p = b->proto.transport;
    char tag[16];
    int n = snprintf(tag, sizeof tag, "b%.*s", (int)len, (const char *)data);
    assert_int_equal(dg_port_write(p, data, len, from), (int)len);
    assert_int_equal(dg_port_write(p, tag, (size_t)n, &b->target), n);
    assert_int_equal(dg_port_write(p, data, len, from), (int)len);
}

static void test_deferred_error(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    batcher b;
    dg_port *p = b_listen(r, &b, "127.0.0.1", reply_around_broadcast);
    b.target = t_addr("<broadcast>", 9);
    int peer = t_queue_n("127.0.0.1", p, 2);
    T_RUN_UNTIL(r, b.received == 2);
    assert_int_equal(b.failed, 2);
    for (int i = 0; i < 2; i++) {
        char want[8];
        snprintf(want, sizeof want, "b%d", i);
        assert_string_equal(b.failed_data[i], want);
        assert_true(b.failed_err[i] < 0);
        assert_false(b.failed_to_null[i]);
        assert_true(dg_addr_equal(&b.failed_to[i], &b.target));
    }
    /* The good replies went, in order, around the refused ones. */
    expect_0011(peer);
    dg_port_stats st = t_stats(p);
    assert_int_equal(st.tx_datagrams, 4);
    assert_int_equal(st.tx_errors, 2);
    assert_int_equal(st.tx_deferred_errors, 2);
    assert_int_equal(st.tx_err_again + st.tx_err_nobufs + st.tx_err_msgsize + st.tx_err_refused +
                         st.tx_err_other,
                     2);
    close(peer);
    dg_reactor_free(r);
}

/* Without write_failed the refusals are still counted. */
static void test_deferred_error_uncalled(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    batcher b;
    dg_port *p = b_listen(r, &b, "127.0.0.1", reply_around_broadcast);
    b.ops.write_failed = NULL;
    b.target = t_addr("<broadcast>", 9);
    int peer = t_queue_n("127.0.0.1", p, 2);
    T_RUN_UNTIL(r, b.received == 2);
    dg_port_stats st = t_stats(p);
    assert_int_equal(st.tx_datagrams, 4);
    assert_int_equal(st.tx_deferred_errors, 2);
    assert_int_equal(b.failed, 0);
    close(peer);
    dg_reactor_free(r);
}

/* write_failed closes the port: no further call, stop_protocol once. */
static void close_in_failed(batcher *b)
{
    b->at_close = t_stats(b->proto.transport);
    assert_int_equal(dg_port_close(b->proto.transport), 0);
}

static void test_close_in_write_failed(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    batcher b;
    dg_port *p = b_listen(r, &b, "127.0.0.1", reply_around_broadcast);
    b.on_failed = close_in_failed;
    b.target = t_addr("<broadcast>", 9);
    int peer = t_queue_n("127.0.0.1", p, 2);
    T_RUN_UNTIL(r, b.stopped == 1);
    t_turn(r, 3);
    /* One batch held both datagrams; the flush sent all four good replies
     * before the first report closed the port, which ended the reports. */
    assert_int_equal(b.received, 2);
    assert_int_equal(b.failed, 1);
    assert_int_equal(b.at_close.tx_datagrams, 4);
    assert_int_equal(b.at_close.tx_deferred_errors, 2);
    expect_0011(peer);
    close(peer);
    dg_reactor_free(r);
    assert_int_equal(b.stopped, 1);
}

/* write_failed writes (sent at once) and turns batching off (the queue is
 * released after the flush under way). */
static void write_and_unbatch_in_failed(batcher *b)
{
    dg_port *p = b->proto.transport;
    assert_int_equal(dg_port_write(p, "late", 4, &b->failed_to[0]), -EACCES);
    assert_int_equal(dg_port_set_write_batching(p, false), 0);
}

static void test_write_in_write_failed(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    batcher b;
    dg_port *p = b_listen(r, &b, "127.0.0.1", reply_around_broadcast);
    b.on_failed = write_and_unbatch_in_failed;
    b.target = t_addr("<broadcast>", 9);
    int peer = t_queue_n("127.0.0.1", p, 2);
    T_RUN_UNTIL(r, b.received == 2);
    /* Both reports came (the flush under way finished), each with its late
     * write refused at once. */
    assert_int_equal(b.failed, 2);
    dg_port_stats st = t_stats(p);
    assert_int_equal(st.tx_datagrams, 4);
    assert_int_equal(st.tx_errors, 4);
    assert_int_equal(st.tx_deferred_errors, 2);
    expect_0011(peer);
    close(peer);
    /* Batching is off now: one syscall per reply. */
    b.on_datagram = echo_in_place;
    peer = t_queue_n("127.0.0.1", p, 3);
    T_RUN_UNTIL(r, b.received == 5);
    expect_n(peer, 3, "");
    assert_int_equal(t_stats(p).tx_syscalls, st.tx_syscalls + 3);
    close(peer);
    dg_reactor_free(r);
}

/* datagram_received turns batching off with a refused reply queued, and
 * write_failed, called from that flush, turns it off too: one queue, freed
 * once. */
static void unbatch(batcher *b)
{
    assert_int_equal(dg_port_set_write_batching(b->proto.transport, false), 0);
}

static void refused_then_unbatch(batcher *b, const void *data, size_t len, const dg_addr *from)
{
    (void)data, (void)len, (void)from;
    assert_int_equal(dg_port_write(b->proto.transport, "b", 1, &b->target), 1);
    unbatch(b);
}

static void test_unbatch_twice(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    batcher b;
    dg_port *p = b_listen(r, &b, "127.0.0.1", refused_then_unbatch);
    b.on_failed = unbatch;
    b.target = t_addr("<broadcast>", 9);
    int peer = t_queue_n("127.0.0.1", p, 1);
    T_RUN_UNTIL(r, b.received == 1);
    assert_int_equal(b.failed, 1);
    assert_int_equal(t_stats(p).tx_deferred_errors, 1);
    close(peer);
    dg_reactor_free(r);
}

/* A reply too long to queue (legal over IPv6) leaves after those queued
 * before it. */
static void short_then_long(batcher *b, const void *data, size_t len, const dg_addr *from)
{
    static char big[65520];
    assert_int_equal(dg_port_write(b->proto.transport, data, len, from), (int)len);
    assert_int_equal(dg_port_write(b->proto.transport, big, sizeof big, from), (int)sizeof big);
}

static void test_unqueued_keeps_order(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    batcher b;
    dg_port *p = b_listen(r, &b, "::1", short_then_long);
    int peer = t_queue_n("::1", p, 1);
    T_RUN_UNTIL(r, b.received == 1);
    static char buf[65536];
    assert_int_equal(t_peer_recv(peer, buf, sizeof buf, NULL), 1);
    assert_int_equal(t_peer_recv(peer, buf, sizeof buf, NULL), 65520);
    close(peer);
    dg_reactor_free(r);
}

/* What datagram_received may do after queueing a reply: the reply still
 * leaves. */
enum { ACT_CLOSE, ACT_STOP_LISTENING, ACT_STOP_REACTOR, ACT_UNBATCH };
static int action;

static void reply_then_act(batcher *b, const void *data, size_t len, const dg_addr *from)
{
    dg_port *p = b->proto.transport;
    echo_copied(b, data, len, from);
    echo_in_place(b, data, len, from);
    switch (action) {
    case ACT_CLOSE:
        assert_int_equal(dg_port_close(p), 0);
        break;
    case ACT_STOP_LISTENING:
        assert_int_equal(dg_port_stop_listening(p, NULL, NULL), 0);
        break;
    case ACT_STOP_REACTOR:
        dg_reactor_stop(dg_port_reactor(p));
        break;
    case ACT_UNBATCH:
        assert_int_equal(dg_port_set_write_batching(p, false), 0);
        assert_int_equal(t_stats(p).tx_datagrams, 2); /* flushed by that */
        break;
    }
}

static void test_act_after_reply(void **state)
{
    (void)state;
    for (action = ACT_CLOSE; action <= ACT_UNBATCH; action++) {
        dg_reactor *r = t_reactor(false);
        batcher b;
        dg_port *p = b_listen(r, &b, "127.0.0.1", reply_then_act);
        /* Stopping the reactor ends the loop, not the batch under way
         * (as Twisted's doRead): queue one datagram only then. */
        bool one = action == ACT_UNBATCH || action == ACT_STOP_REACTOR;
        int peer = t_queue_n("127.0.0.1", p, one ? 1 : 3);
        if (action == ACT_STOP_REACTOR)
            assert_int_equal(dg_reactor_run(r), 0);
        else
            T_RUN_UNTIL(r, b.received == 1);
        expect_n(peer, 1, "!");
        expect_n(peer, 1, "");
        if (action != ACT_UNBATCH && action != ACT_STOP_REACTOR)
            T_RUN_UNTIL(r, b.stopped == 1);
        t_turn(r, 2);
        assert_false(t_peer_pending(peer));
        close(peer);
        dg_reactor_free(r);
        assert_int_equal(b.stopped, 1);
        assert_int_equal(b.failed, 0);
    }
}

/* More replies than the queue holds (64 datagrams, 64 KiB): the rest go out
 * at once, behind the queued ones, in order. */
static void many_replies(batcher *b, const void *data, size_t len, const dg_addr *from)
{
    (void)data;
    (void)len;
    char buf[2500];
    for (int i = 0; i < b->replies; i++) {
        int n = snprintf(buf, sizeof buf, "%d", i);
        size_t size = b->replies > 64 ? (size_t)n : sizeof buf;
        memset(buf + n, '.', sizeof buf - (size_t)n);
        assert_int_equal(dg_port_write(b->proto.transport, buf, size, from), (int)size);
    }
}

static void test_queue_overflow(void **state)
{
    (void)state;
    const int counts[] = {100, 30}; /* past the slots; past the bytes */
    for (int c = 0; c < 2; c++) {
        dg_reactor *r = t_reactor(false);
        batcher b;
        dg_port *p = b_listen(r, &b, "127.0.0.1", many_replies);
        b.replies = counts[c];
        int peer = t_queue_n("127.0.0.1", p, 1);
        t_rcvbuf(peer, 1 << 20);
        T_RUN_UNTIL(r, b.received == 1);
        char buf[2600], want[8];
        for (int i = 0; i < counts[c]; i++) {
            size_t len = t_peer_recv(peer, buf, sizeof buf, NULL);
            int n = snprintf(want, sizeof want, "%d", i);
            assert_int_equal(len, counts[c] > 64 ? (size_t)n : 2500);
            assert_memory_equal(buf, want, (size_t)n);
            assert_true(counts[c] > 64 || buf[len - 1] == '.');
        }
        dg_port_stats st = t_stats(p);
        assert_int_equal(st.tx_datagrams, (uint64_t)counts[c]);
        assert_true(st.tx_syscalls > 1 && st.tx_syscalls < (uint64_t)counts[c]);
        close(peer);
        dg_reactor_free(r);
    }
}

/* Writes outside the port's own read batch go at once: from the loop, and
 * to another port from inside the batch. */
static void reply_on_other(batcher *b, const void *data, size_t len, const dg_addr *from)
{
    assert_int_equal(dg_port_write(b->other, data, len, from), (int)len);
    assert_int_equal(t_stats(b->other).tx_syscalls, (uint64_t)b->received);
}

static void test_outside_batch(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    batcher b, other;
    dg_port *p = b_listen(r, &b, "127.0.0.1", reply_on_other);
    dg_port *q = b_listen(r, &other, "127.0.0.1", echo_in_place);
    b.other = q;
    int peer_port;
    int peer = t_peer("127.0.0.1", &peer_port);
    dg_addr to = t_addr("127.0.0.1", peer_port);
    assert_int_equal(dg_port_write(p, "x", 1, &to), 1);
    assert_int_equal(t_stats(p).tx_syscalls, 1);
    char buf[4];
    assert_int_equal(t_peer_recv(peer, buf, sizeof buf, NULL), 1);
    close(peer);
    peer = t_queue_n("127.0.0.1", p, 3);
    T_RUN_UNTIL(r, b.received == 3);
    expect_n(peer, 3, "");
    close(peer);
    dg_reactor_free(r);
}

/* A connected port batches too, with no address per write and NULL in
 * write_failed. */
static void reply_connected(batcher *b, const void *data, size_t len, const dg_addr *from)
{
    (void)from;
    assert_int_equal(dg_port_write(b->proto.transport, data, len, NULL), (int)len);
}

static void test_connected(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        dg_reactor *r = t_reactor(false);
        batcher b;
        dg_port *p = b_listen(r, &b, ips[f], reply_connected);
        int peer_port;
        int peer = t_peer(ips[f], &peer_port);
        assert_int_equal(dg_port_connect(p, ips[f], peer_port), 0);
        char msg[4];
        for (int i = 0; i < 5; i++) {
            int n = snprintf(msg, sizeof msg, "%d", i);
            t_peer_send(peer, msg, (size_t)n, ips[f], t_port_number(p));
        }
        T_RUN_UNTIL(r, b.received == 5);
        expect_n(peer, 5, "");
        assert_int_equal(t_stats(p).tx_syscalls, 1);
        close(peer);
        dg_reactor_free(r);
    }
}

static void test_bad_calls(void **state)
{
    (void)state;
    assert_int_equal(dg_port_set_write_batching(NULL, true), -EBADF);
    dg_reactor *r = t_reactor(false);
    batcher b;
    dg_port *p = b_listen(r, &b, "127.0.0.1", echo_in_place);
    assert_int_equal(dg_port_set_write_batching(p, true), 0); /* again: no change */
    assert_int_equal(dg_port_set_write_batching(p, false), 0);
    assert_int_equal(dg_port_set_write_batching(p, false), 0);
    assert_int_equal(dg_port_set_write_batching(p, true), 0);
    dg_reactor_free(r);
}

/* dg_reactor_advance() inside datagram_received, on a port that batches
 * writes: the reply written before the advance must leave before what a
 * timer the advance runs writes to the same peer. */
static dg_addr peer_addr;

static void timer_writes(dg_call *c, void *arg)
{
    (void)c;
    dg_port *p = arg;
    assert_int_equal(dg_port_write(p, "timer", 5, &peer_addr), 5);
}

static void reply_then_advance(t_rec *rec)
{
    dg_port *p = rec->proto.transport;
    peer_addr = rec->packets[rec->npackets - 1].from;
    assert_int_equal(dg_port_write(p, "reply", 5, &peer_addr), 5);
    assert_int_equal(dg_reactor_advance(dg_port_reactor(p), 1), 0);
}

static void test_advance_in_batch_keeps_write_order(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    t_rec rec;
    t_rec_init(&rec, "Replier");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    assert_int_equal(dg_port_set_write_batching(p, true), 0);
    assert_non_null(dg_call_later(r, 1, timer_writes, p));
    rec.on_datagram = reply_then_advance;
    int peer = t_peer("127.0.0.1", NULL);
    t_peer_send(peer, "go", 2, "127.0.0.1", t_port_number(p));
    T_RUN_UNTIL(r, rec.received_total == 1);
    char first[16] = {0}, second[16] = {0};
    t_peer_recv(peer, first, sizeof first - 1, NULL);
    t_peer_recv(peer, second, sizeof second - 1, NULL);
    printf("# order: %s, %s\n", first, second);
    close(peer);
    dg_reactor_free(r);
    t_rec_free(&rec);
    assert_string_equal(first, "reply");
    assert_string_equal(second, "timer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advance_in_batch_keeps_write_order),
        cmocka_unit_test(test_echo_in_place),
        cmocka_unit_test(test_echo_copied),
        cmocka_unit_test(test_echo_sequence),
        cmocka_unit_test(test_sync_errors),
        cmocka_unit_test(test_deferred_error),
        cmocka_unit_test(test_deferred_error_uncalled),
        cmocka_unit_test(test_close_in_write_failed),
        cmocka_unit_test(test_write_in_write_failed),
        cmocka_unit_test(test_act_after_reply),
        cmocka_unit_test(test_unbatch_twice),
        cmocka_unit_test(test_unqueued_keeps_order),
        cmocka_unit_test(test_queue_overflow),
        cmocka_unit_test(test_outside_batch),
        cmocka_unit_test(test_connected),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
