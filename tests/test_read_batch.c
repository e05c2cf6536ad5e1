/* Bounded, fair reads (behaviour spec 2.1; issue 2's receive semantics): one
 * readiness event reads at most a bounded number of datagrams and bytes, so
 * a flooded port cannot starve the others. Twisted bounds only payload
 * bytes, so empty datagrams never end its loop; we bound the count too. */
#include "helpers.h"
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The per-event bounds of src/udp_read.c (DG_RX_BUDGET_DATAGRAMS and
 * DG_RX_BUDGET_BYTES), which this test pins. */
#define MAX_PER_EVENT 256
#define MAX_BYTES_PER_EVENT (256 * 1024)

enum { FLOOD = 2000 };

static int foreign_calls, a_at_foreign = -1;
static t_rec *flooded;

static void foreign_read(dg_reactor *r, int fd, unsigned events, void *arg)
{
    (void)r;
    (void)events;
    (void)arg;
    char buf[8];
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
        if (foreign_calls++ == 0)
            a_at_foreign = flooded->received_total;
}

static int a_at_b = -1;
static void note_b(t_rec *rec)
{
    (void)rec;
    if (a_at_b < 0)
        a_at_b = flooded->received_total;
}

/* Turn the reactor until A has everything; no iteration may deliver more
 * than max of A's datagrams. Returns the iterations that delivered some. */
static int drain_bounded(dg_reactor *r, t_rec *a, int total, int max)
{
    int prev = a->received_total, busy = 0;
    double start = t_now();
    while (a->received_total < total) {
        if (t_now() - start > T_DEADLINE)
            fail_msg("only %d of %d datagrams within %.0f s", a->received_total, total, T_DEADLINE);
        assert_true(dg_reactor_run_once(r, 10) >= 0);
        int delta = a->received_total - prev;
        if (delta > max)
            fail_msg("%d datagrams in one iteration, bound %d", delta, max);
        busy += delta > 0;
        prev = a->received_total;
    }
    return busy;
}

/* 2000 empty datagrams flood port A; port B and a foreign reader each have
 * one datagram waiting. Both are served before A's flood is done, A never
 * gets more than the bound per event, and nothing is lost. */
static void test_empty_flood_is_bounded(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec a, b;
    t_rec_init(&a, "Flooded");
    t_rec_init(&b, "Quiet");
    b.on_datagram = note_b;
    flooded = &a;
    a_at_b = a_at_foreign = -1;
    foreign_calls = 0;
    dg_port *pa = t_listen(r, &a, "127.0.0.1");
    dg_port *pb = t_listen(r, &b, "127.0.0.1");
    t_rcvbuf(dg_port_fd(pa), 4 << 20);
    int fport;
    int foreign = t_peer("127.0.0.1", &fport);
    assert_int_equal(dg_reactor_add_reader(r, foreign, foreign_read, NULL), 0);

    int peer = t_peer("127.0.0.1", NULL);
    for (int i = 0; i < FLOOD; i++)
        t_peer_send(peer, "", 0, "127.0.0.1", t_port_number(pa));
    t_peer_send(peer, "b", 1, "127.0.0.1", t_port_number(pb));
    t_peer_send(peer, "f", 1, "127.0.0.1", fport);

    int busy = drain_bounded(r, &a, FLOOD, MAX_PER_EVENT);
    assert_true(busy >= (FLOOD + MAX_PER_EVENT - 1) / MAX_PER_EVENT);
    T_RUN_UNTIL(r, b.npackets == 1 && foreign_calls == 1);
    assert_true(a_at_b >= 0 && a_at_b <= MAX_PER_EVENT);
    assert_true(a_at_foreign >= 0 && a_at_foreign <= MAX_PER_EVENT);

    dg_port_stats s;
    assert_int_equal(dg_port_get_stats(pa, &s), 0);
    assert_int_equal(s.rx_datagrams, FLOOD);
    assert_int_equal(s.rx_bytes, 0);
    assert_int_equal(s.rx_discarded, 0);
    assert_int_equal(s.rx_errors, 0);
    assert_int_equal(a.received_total, FLOOD);
    for (int i = 0; i < a.npackets; i++)
        assert_int_equal(a.packets[i].len, 0);
    t_turn(r, 2);
    assert_int_equal(a.received_total, FLOOD);
    assert_false(t_peer_pending(dg_port_fd(pa)));

    assert_int_equal(dg_reactor_remove_reader(r, foreign), 0);
    close(foreign);
    close(peer);
    dg_reactor_free(r);
    t_rec_free(&a);
    t_rec_free(&b);
}

/* Full-size datagrams end an event on the byte budget, as Twisted's 256 KiB
 * (which delivered 100 x 8192 bytes as 32, 32, 32, 4). */
static void test_byte_budget(void **state)
{
    (void)state;
    enum { N = 100, SIZE = 8192 };
    dg_reactor *r = t_reactor(false);
    t_rec a;
    t_rec_init(&a, "Bulk");
    flooded = &a;
    dg_port *pa = t_listen(r, &a, "127.0.0.1");
    t_rcvbuf(dg_port_fd(pa), 4 << 20);
    unsigned char *buf = calloc(1, SIZE);
    assert_non_null(buf);
    int peer = t_peer("127.0.0.1", NULL);
    for (int i = 0; i < N; i++) {
        buf[0] = (unsigned char)i;
        t_peer_send(peer, buf, SIZE, "127.0.0.1", t_port_number(pa));
    }
    int busy = drain_bounded(r, &a, N, MAX_BYTES_PER_EVENT / SIZE);
    assert_true(busy >= (N * SIZE + MAX_BYTES_PER_EVENT - 1) / MAX_BYTES_PER_EVENT);
    for (int i = 0; i < N; i++) {
        assert_int_equal(a.packets[i].len, SIZE);
        assert_int_equal(a.packets[i].data[0], (unsigned char)i); /* in order */
    }
    dg_port_stats s;
    assert_int_equal(dg_port_get_stats(pa, &s), 0);
    assert_int_equal(s.rx_datagrams, N);
    assert_int_equal(s.rx_bytes, (uint64_t)N * SIZE);
    close(peer);
    free(buf);
    dg_reactor_free(r);
    t_rec_free(&a);
}

/* Item 30's EAGAIN: an event collected for a port whose datagram is gone by
 * the time it is dispatched (the other port's callback read it) reads
 * nothing, counts no error and leaves the port open. */
static dg_port *ports[2];
static t_rec recs[2];
static void steal_other(t_rec *rec)
{
    int other = rec == &recs[0] ? 1 : 0;
    char buf[8];
    if (recs[other].received_total == 0 && recs[other].user == NULL) {
        recs[other].user = rec; /* drained once */
        assert_int_equal(recv(dg_port_fd(ports[other]), buf, sizeof buf, MSG_DONTWAIT), 1);
    }
}

static void test_stale_event(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int peer = t_peer("127.0.0.1", NULL);
    for (int i = 0; i < 2; i++) {
        t_rec_init(&recs[i], "Server");
        recs[i].on_datagram = steal_other;
        ports[i] = t_listen(r, &recs[i], "127.0.0.1");
    }
    for (int i = 0; i < 2; i++)
        t_peer_send(peer, "x", 1, "127.0.0.1", t_port_number(ports[i]));
    for (int i = 0; i < 2; i++)
        t_wait_poll(dg_port_fd(ports[i]), POLLIN);
    T_RUN_UNTIL(r, recs[0].received_total + recs[1].received_total == 1);
    t_turn(r, 3);
    assert_int_equal(recs[0].received_total + recs[1].received_total, 1);
    for (int i = 0; i < 2; i++) {
        dg_port_stats s;
        assert_int_equal(dg_port_get_stats(ports[i], &s), 0);
        assert_int_equal(s.rx_errors, 0);
        assert_int_equal(recs[i].stopped, 0);
        assert_ptr_equal(recs[i].proto.transport, ports[i]);
        recs[i].on_datagram = NULL;
        t_peer_send(peer, "y", 1, "127.0.0.1", t_port_number(ports[i]));
    }
    T_RUN_UNTIL(r, recs[0].received_total + recs[1].received_total == 3);
    close(peer);
    dg_reactor_free(r);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(recs[i].stopped, 1);
        t_rec_free(&recs[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_flood_is_bounded),
        cmocka_unit_test(test_byte_budget),
        cmocka_unit_test(test_stale_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
