/* What a callback may do to its own port, other ports and the reactor
 * (issue 2's re-entrancy semantics; behaviour spec section 3 items 4 and 7).
 * Datagrams are queued before the reactor turns, so one read batch holds
 * several of them and the callback acts in the middle of it. */
#include "helpers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const ips[] = {"127.0.0.1", "::1"};

/* (a) Echo from inside datagram_received. */
static void echo(t_rec *rec)
{
    t_packet *k = &rec->packets[rec->npackets - 1];
    assert_int_equal(dg_port_write(rec->proto.transport, k->data, k->len, &k->from), (int)k->len);
}

static void test_echo(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Echo");
        rec.on_datagram = echo;
        dg_port *p = t_listen(r, &rec, ips[f]);
        int peer = t_peer(ips[f], NULL);
        t_peer_send(peer, "hello", 5, ips[f], t_port_number(p));
        t_peer_send(peer, "", 0, ips[f], t_port_number(p));
        char buf[16];
        int from;
        T_RUN_UNTIL(r, rec.npackets == 2);
        assert_int_equal(t_peer_recv(peer, buf, sizeof buf, &from), 5);
        assert_memory_equal(buf, "hello", 5);
        assert_int_equal(from, t_port_number(p));
        assert_int_equal(t_peer_recv(peer, buf, sizeof buf, NULL), 0);
        close(peer);
        dg_reactor_free(r);
        t_rec_free(&rec);
    }
}

/* (b) stop_listening in the middle of a batch: nothing is delivered after
 * it returns; the rest of the batch is counted as discarded; done runs on a
 * later iteration, after stop_protocol. */
static int done_calls, stopped_at_done;
static dg_port_stats stats_at_done;
static void on_done(dg_port *p, void *arg)
{
    t_rec *rec = arg;
    done_calls++;
    stopped_at_done = rec ? rec->stopped : -1;
    assert_int_equal(dg_port_get_stats(p, &stats_at_done), 0);
}

static void stop_on_first(t_rec *rec)
{
    assert_int_equal(rec->npackets, 1);
    assert_int_equal(dg_port_stop_listening(rec->proto.transport, on_done, rec), 0);
    assert_int_equal(done_calls, 0);
    assert_int_equal(rec->stopped, 0);
}

static void test_stop_listening_mid_batch(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Server");
        rec.on_datagram = stop_on_first;
        dg_port *p = t_listen(r, &rec, ips[f]);
        int peer = t_queue_n(ips[f], p, 5);
        done_calls = 0;
        T_RUN_UNTIL(r, done_calls == 1);
        assert_int_equal(rec.npackets, 1);
        assert_memory_equal(rec.packets[0].data, "0", 1);
        assert_int_equal(stopped_at_done, 1);
        assert_int_equal(stats_at_done.rx_datagrams, 1);
        assert_int_equal(stats_at_done.rx_discarded, 4);
        t_turn(r, 2);
        assert_int_equal(rec.npackets, 1);
        assert_int_equal(done_calls, 1);
        close(peer);
        dg_reactor_free(r);
        assert_int_equal(rec.stopped, 1);
        t_rec_free(&rec);
    }
}

/* (c) dg_reactor_stop inside datagram_received: run returns; the datagrams
 * already read in the batch are still delivered (they left the kernel);
 * then the shutdown closes the port once. */
static void stop_reactor(t_rec *rec)
{
    if (rec->npackets == 1)
        dg_reactor_stop(dg_port_reactor(rec->proto.transport));
}

static bool timed_out;
static void watchdog(dg_call *c, void *arg)
{
    timed_out = true;
    dg_reactor_stop(dg_call_reactor(c));
    (void)arg;
}

static void test_reactor_stop_mid_batch(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Server");
        rec.on_datagram = stop_reactor;
        dg_port *p = t_listen(r, &rec, ips[f]);
        int peer = t_queue_n(ips[f], p, 5);
        timed_out = false;
        dg_call *w = dg_call_later(r, T_DEADLINE, watchdog, NULL);
        assert_non_null(w);
        assert_int_equal(dg_reactor_run(r), 0);
        assert_false(timed_out);
        assert_int_equal(rec.npackets, 5);
        for (int i = 0; i < 5; i++) {
            assert_int_equal(rec.packets[i].len, 1);
            assert_int_equal(rec.packets[i].data[0], '0' + i);
        }
        assert_int_equal(rec.stopped, 1);
        assert_null(rec.proto.transport);
        close(peer);
        dg_reactor_free(r); /* drops the watchdog unrun */
        assert_false(timed_out);
        assert_int_equal(rec.stopped, 1);
        t_rec_free(&rec);
    }
}

/* (d) dg_port_close inside datagram_received, then free the protocol's own
 * memory: the read loop must not touch it again (ASan and valgrind watch). */
typedef struct heap_proto {
    dg_protocol proto;
    int *received, *stopped;
} heap_proto;

static void hp_datagram(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    (void)data;
    (void)len;
    (void)from;
    heap_proto *h = DG_CONTAINER_OF(self, heap_proto, proto);
    (*h->received)++;
    assert_int_equal(dg_port_close(self->transport), 0);
    assert_int_equal(*h->stopped, 1);
    assert_null(self->transport);
    free(h);
}

static void hp_stop(dg_protocol *self)
{
    heap_proto *h = DG_CONTAINER_OF(self, heap_proto, proto);
    (*h->stopped)++;
}

static void hp_stop_and_free(dg_protocol *self)
{
    hp_stop(self);
    free(DG_CONTAINER_OF(self, heap_proto, proto));
}

static const dg_protocol_ops hp_close_ops = {.name = "Heap", .datagram_received = hp_datagram,
                                             .stop_protocol = hp_stop};
static const dg_protocol_ops hp_free_ops = {.name = "Heap", .stop_protocol = hp_stop_and_free};

static heap_proto *hp_new(const dg_protocol_ops *ops, int *received, int *stopped)
{
    heap_proto *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->proto.ops = ops;
    h->received = received;
    h->stopped = stopped;
    return h;
}

static void test_close_and_free_in_datagram(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        dg_reactor *r = t_reactor(false);
        int received = 0, stopped = 0;
        int fds = t_open_fds();
        heap_proto *h = hp_new(&hp_close_ops, &received, &stopped);
        dg_listen_options o;
        dg_listen_options_init(&o);
        o.interface = ips[f];
        dg_port *p;
        assert_int_equal(dg_listen_udp(r, 0, &h->proto, &o, &p), 0);
        int peer = t_queue_n(ips[f], p, 3);
        T_RUN_UNTIL(r, stopped == 1);
        t_turn(r, 2);
        assert_int_equal(received, 1);
        assert_int_equal(stopped, 1);
        close(peer);
        assert_int_equal(t_open_fds(), fds);
        dg_reactor_free(r);
    }
}

/* Inside stop_protocol the protocol may free itself: after stop_listening,
 * and when the reactor is freed with the port still live. */
static void test_free_in_stop_protocol(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int received = 0, stopped = 0;
    heap_proto *h = hp_new(&hp_free_ops, &received, &stopped);
    dg_port *p;
    assert_int_equal(dg_listen_udp(r, 0, &h->proto, NULL, &p), 0);
    done_calls = 0;
    assert_int_equal(dg_port_stop_listening(p, on_done, NULL), 0);
    T_RUN_UNTIL(r, done_calls == 1);
    assert_int_equal(stopped, 1);

    h = hp_new(&hp_free_ops, &received, &stopped);
    assert_int_equal(dg_listen_udp(r, 0, &h->proto, NULL, &p), 0);
    dg_reactor_free(r);
    assert_int_equal(stopped, 2);
}

/* (e) A callback closes another port whose event was collected in the same
 * iteration: that port is never called back. Then it opens a new port,
 * which probably takes the closed one's descriptor number: the stale event
 * must not reach it either. */
static t_rec pair[2];
static dg_port *pair_port[2];
static t_rec reborn;
static dg_port *reborn_port;

static void close_the_other(t_rec *rec)
{
    int other = rec == &pair[0] ? 1 : 0;
    if (!pair[other].proto.transport)
        return;
    assert_int_equal(dg_port_close(pair_port[other]), 0);
    assert_int_equal(pair[other].stopped, 1);
    t_rec_init(&reborn, "Reborn");
    reborn_port = t_listen(dg_port_reactor(rec->proto.transport), &reborn, "127.0.0.1");
}

static void test_close_other_port_in_batch(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int peer = t_peer("127.0.0.1", NULL);
    for (int i = 0; i < 2; i++) {
        t_rec_init(&pair[i], "Pair");
        pair[i].on_datagram = close_the_other;
        pair_port[i] = t_listen(r, &pair[i], "127.0.0.1");
    }
    for (int i = 0; i < 2; i++)
        t_peer_send(peer, "x", 1, "127.0.0.1", t_port_number(pair_port[i]));
    t_settle(peer, "127.0.0.1");
    T_RUN_UNTIL(r, pair[0].npackets + pair[1].npackets == 1);
    t_turn(r, 3);
    int alive = pair[0].proto.transport ? 0 : 1;
    int closed = 1 - alive;
    assert_int_equal(pair[alive].npackets, 1);
    assert_int_equal(pair[alive].stopped, 0);
    assert_int_equal(pair[closed].npackets, 0);
    assert_int_equal(pair[closed].stopped, 1);
    assert_int_equal(reborn.npackets, 0);
    assert_int_equal(reborn.started, 1);

    t_peer_send(peer, "new", 3, "127.0.0.1", t_port_number(reborn_port));
    T_RUN_UNTIL(r, reborn.npackets == 1);
    dg_port_stats s;
    assert_int_equal(dg_port_get_stats(reborn_port, &s), 0);
    assert_int_equal(s.rx_errors, 0);
    close(peer);
    dg_reactor_free(r);
    assert_int_equal(pair[alive].stopped, 1);
    assert_int_equal(pair[closed].stopped, 1);
    assert_int_equal(reborn.stopped, 1);
    for (int i = 0; i < 2; i++)
        t_rec_free(&pair[i]);
    t_rec_free(&reborn);
}

/* (f) A callback opens a port with a larger max_packet_size, which replaces
 * the shared receive buffers while the read loop is still delivering from
 * the old ones: the rest of the batch arrives intact. */
static t_rec big;
static dg_port *big_port;
static void open_big(t_rec *rec)
{
    if (rec->npackets != 1)
        return;
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.interface = "127.0.0.1";
    o.max_packet_size = DG_MAX_PACKET_SIZE_LIMIT;
    t_rec_init(&big, "Big");
    assert_int_equal(dg_listen_udp(dg_port_reactor(rec->proto.transport), 0, &big.proto, &o,
                                   &big_port), 0);
}

static void test_open_larger_port_mid_batch(void **state)
{
    (void)state;
    enum { N = 6, LEN = 4000, HUGE = 60000 };
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    rec.on_datagram = open_big;
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    int peer = t_peer("127.0.0.1", NULL);
    unsigned char *buf = malloc(HUGE);
    assert_non_null(buf);
    for (int i = 0; i < N; i++) {
        memset(buf, 'a' + i, LEN);
        t_peer_send(peer, buf, LEN, "127.0.0.1", t_port_number(p));
    }
    t_settle(peer, "127.0.0.1");
    T_RUN_UNTIL(r, rec.npackets == N);
    assert_int_equal(big.started, 1);
    for (int i = 0; i < N; i++) {
        memset(buf, 'a' + i, LEN);
        assert_int_equal(rec.packets[i].len, LEN);
        assert_memory_equal(rec.packets[i].data, buf, LEN);
    }
    for (int i = 0; i < HUGE; i++)
        buf[i] = (unsigned char)(i % 251);
    t_peer_send(peer, buf, HUGE, "127.0.0.1", t_port_number(big_port));
    t_peer_send(peer, "after", 5, "127.0.0.1", t_port_number(p));
    T_RUN_UNTIL(r, big.npackets == 1 && rec.npackets == N + 1);
    assert_int_equal(big.packets[0].len, HUGE);
    assert_int_equal(big.packets[0].flags, 0);
    assert_memory_equal(big.packets[0].data, buf, HUGE);
    assert_memory_equal(rec.packets[N].data, "after", 5);
    close(peer);
    free(buf);
    dg_reactor_free(r);
    t_rec_free(&rec);
    t_rec_free(&big);
}

/* dg_port_close inside start_protocol: allowed, and the synchronous close it
 * always is, so stop_protocol runs inside it; listen returns 0 with *out NULL,
 * since the port is gone. Nothing leaks. */
static void close_in_start(t_rec *rec)
{
    assert_int_equal(dg_port_close(rec->proto.transport), 0);
    assert_int_equal(rec->stopped, rec->started); /* stop_protocol ran inside the close */
    assert_null(rec->proto.transport);
}

static void test_close_in_start_protocol(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int fds = t_open_fds();
    t_rec rec;
    t_rec_init(&rec, "Server");
    rec.on_start = close_in_start;
    dg_port *p = (dg_port *)&p;
    assert_int_equal(dg_listen_udp(r, 0, &rec.proto, NULL, &p), 0);
    assert_null(p);
    assert_int_equal(rec.started, 1);
    assert_int_equal(rec.stopped, 1);
    assert_null(rec.proto.transport);
    assert_int_equal(t_open_fds(), fds);
    t_turn(r, 2);
    assert_int_equal(rec.stopped, 1);
    /* The protocol is free again. */
    rec.on_start = NULL;
    p = t_listen(r, &rec, "127.0.0.1");
    assert_int_equal(rec.started, 2);
    assert_int_equal(rec.stopped, 1);
    assert_int_equal(dg_port_close(p), 0);
    /* The same for a connected port, whose start_protocol runs inside
     * dg_connect_udp() for a literal. */
    rec.on_start = close_in_start;
    dg_port *q = (dg_port *)&q;
    assert_int_equal(dg_connect_udp(r, "127.0.0.1", 9, &rec.proto, NULL, &q), 0);
    assert_null(q);
    assert_int_equal(rec.started, 3);
    assert_int_equal(rec.stopped, 3);
    dg_reactor_free(r);
    assert_int_equal(rec.stopped, 3);
}

/* Inside stop_protocol the protocol may listen again (Twisted's
 * test_rebind, from the callback): it starts at once and works. */
static dg_port *relistened;
static dg_reactor *relisten_reactor;
static void listen_again(t_rec *rec)
{
    if (rec->stopped == 1)
        relistened = t_listen(relisten_reactor, rec, "127.0.0.1");
}

static void test_listen_in_stop_protocol(void **state)
{
    (void)state;
    dg_reactor *r = relisten_reactor = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    rec.on_stop = listen_again;
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    done_calls = 0;
    assert_int_equal(dg_port_stop_listening(p, on_done, &rec), 0);
    T_RUN_UNTIL(r, done_calls == 1);
    assert_int_equal(rec.stopped, 1);
    assert_int_equal(rec.started, 2);
    assert_non_null(relistened);
    assert_ptr_equal(rec.proto.transport, relistened);
    int peer = t_peer("127.0.0.1", NULL);
    t_peer_send(peer, "x", 1, "127.0.0.1", t_port_number(relistened));
    T_RUN_UNTIL(r, rec.npackets == 1);
    close(peer);
    dg_reactor_free(r);
    assert_int_equal(rec.stopped, 2);
    t_rec_free(&rec);
}

/* Several ports stopping in one iteration, and the first stop_protocol to
 * run closes another of them: every port still closes, each stop_protocol
 * and done exactly once. */
static t_rec trio[3];
static dg_port *trio_port[3];
static int trio_done[3];
static void trio_on_done(dg_port *p, void *arg)
{
    (void)p;
    trio_done[(t_rec *)arg - trio]++;
}
static void close_middle(t_rec *rec)
{
    (void)rec;
    if (trio[1].proto.transport)
        assert_int_equal(dg_port_close(trio_port[1]), 0);
}

static void test_close_other_in_stop_protocol(void **state)
{
    (void)state;
    /* Each of the outer two closes the middle one: whichever runs first. */
    for (int hooked = 0; hooked < 3; hooked += 2) {
        dg_reactor *r = t_reactor(false);
        for (int i = 0; i < 3; i++) {
            t_rec_init(&trio[i], "Trio");
            trio_done[i] = 0;
            trio_port[i] = t_listen(r, &trio[i], "127.0.0.1");
        }
        trio[hooked].on_stop = close_middle;
        for (int i = 0; i < 3; i++)
            assert_int_equal(dg_port_stop_listening(trio_port[i], trio_on_done, &trio[i]), 0);
        T_RUN_UNTIL(r, trio_done[0] + trio_done[1] + trio_done[2] == 3);
        t_turn(r, 2);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(trio[i].stopped, 1);
            assert_int_equal(trio_done[i], 1);
        }
        dg_reactor_free(r);
        for (int i = 0; i < 3; i++)
            assert_int_equal(trio[i].stopped, 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_stop_listening_mid_batch),
        cmocka_unit_test(test_reactor_stop_mid_batch),
        cmocka_unit_test(test_close_and_free_in_datagram),
        cmocka_unit_test(test_free_in_stop_protocol),
        cmocka_unit_test(test_close_other_port_in_batch),
        cmocka_unit_test(test_open_larger_port_mid_batch),
        cmocka_unit_test(test_close_in_start_protocol),
        cmocka_unit_test(test_listen_in_stop_protocol),
        cmocka_unit_test(test_close_other_in_stop_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
