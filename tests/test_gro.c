/* UDP GRO (dg_port_set_gro): a GSO sender's trains arrive at a GRO port as
 * one read each, on loopback, and the library cuts them apart again: every
 * datagram is delivered once, in order, with its own bytes, as without GRO;
 * max_packet_size, a stop in the middle of a train and plain datagrams
 * behave as on any port. */
#include "helpers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

static const char *const ips[] = {"127.0.0.1", "::1"};

#define SEG 1000
#define COUNT 100
#define TAIL 333
#define TOTAL ((size_t)COUNT * SEG + TAIL)

/* Datagram i: its number, then bytes that depend on it. */
static unsigned char *bulk(void)
{
    unsigned char *d = malloc(TOTAL);
    assert_non_null(d);
    for (size_t k = 0; k < TOTAL; k++)
        d[k] = (unsigned char)(k / SEG * 7 + k % SEG);
    return d;
}

static void check_delivery(t_rec *rec, const unsigned char *d, size_t max)
{
    assert_int_equal(rec->npackets, COUNT + 1);
    for (int i = 0; i <= COUNT; i++) {
        size_t len = i < COUNT ? SEG : TAIL;
        size_t want = len < max ? len : max;
        assert_int_equal(rec->packets[i].len, want);
        assert_memory_equal(rec->packets[i].data, d + (size_t)i * SEG, want);
        assert_int_equal(rec->packets[i].flags, len > max ? DG_TRUNCATED : 0u);
    }
}

/* Send the bulk from a GSO port to a receiver with GRO on or off, and
 * return the receiver's stats once all arrived. */
static dg_port_stats run(const char *ip, bool gro, size_t max, t_rec *rec, bool *trains_possible)
{
    dg_reactor *r = t_reactor(false);
    t_rec_init(rec, "Receiver");
    t_rec sender_rec;
    t_rec_init(&sender_rec, "Sender");
    dg_port *rx = t_listen_sized(r, rec, ip, max);
    dg_port *tx = t_listen(r, &sender_rec, ip);
    t_rcvbuf(dg_port_fd(rx), 4 << 20);
    int rc = dg_port_set_gro(rx, gro);
    if (rc == -EOPNOTSUPP) {
        *trains_possible = false;
        assert_int_equal(dg_port_set_gro(rx, false), 0);
    } else {
        assert_int_equal(rc, 0);
    }
    assert_int_equal(dg_port_get_gro(rx), gro && rc == 0);
    unsigned char *d = bulk();
    dg_addr to = t_host(rx);
    assert_int_equal(dg_port_write_segments(tx, d, TOTAL, SEG, &to), COUNT + 1);
    *trains_possible = *trains_possible && dg_port_get_gro(rx) == 1 && t_stats(tx).tx_gso_sends > 0;
    T_RUN_UNTIL(r, rec->npackets == COUNT + 1);
    check_delivery(rec, d, max ? max : DG_DEFAULT_MAX_PACKET_SIZE);
    dg_port_stats st = t_stats(rx);
    assert_int_equal(st.rx_datagrams, COUNT + 1);
    assert_int_equal(st.rx_kernel_drops, 0);
    free(d);
    dg_reactor_free(r);
    t_rec_free(&sender_rec);
    return st;
}

static void test_trains_cut_apart(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        t_rec rec;
        bool trains = true;
        dg_port_stats st = run(ips[f], true, 0, &rec, &trains);
        /* A GSO sender on loopback hands a GRO socket whole trains. */
        print_message("%s: %llu trains for %d datagrams%s\n", ips[f],
                      (unsigned long long)st.rx_gro_trains, COUNT + 1,
                      trains ? "" : " (no GSO or no GRO here)");
        if (trains)
            assert_true(st.rx_gro_trains > 0);
        assert_int_equal(st.rx_truncated, 0);
        t_rec_free(&rec);
    }
}

static void test_without_gro(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        t_rec rec;
        bool trains = true;
        dg_port_stats st = run(ips[f], false, 0, &rec, &trains);
        assert_int_equal(st.rx_gro_trains, 0);
        t_rec_free(&rec);
    }
}

/* max_packet_size applies to each datagram of a train, not to the train. */
static void test_cut_to_max_packet_size(void **state)
{
    (void)state;
    t_rec rec;
    bool trains = true;
    dg_port_stats st = run("127.0.0.1", true, 500, &rec, &trains);
    assert_int_equal(st.rx_truncated, COUNT);
    assert_int_equal(st.rx_bytes, (uint64_t)COUNT * 500 + TAIL);
    t_rec_free(&rec);
}

/* Stopped by the 10th datagram of a train: nothing more is delivered, and
 * the rest of the train is counted as discarded, datagram by datagram. */
static dg_port_stats at_close;

static void stats_at_close(dg_port *p, void *arg)
{
    (void)arg;
    assert_int_equal(dg_port_get_stats(p, &at_close), 0);
}

static void stop_at_ten_with_done(t_rec *rec)
{
    if (rec->npackets == 10)
        assert_int_equal(dg_port_stop_listening(rec->proto.transport, stats_at_close, NULL), 0);
}

static void test_stop_mid_train(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec, sender_rec;
    t_rec_init(&rec, "Receiver");
    t_rec_init(&sender_rec, "Sender");
    rec.on_datagram = stop_at_ten_with_done;
    dg_port *rx = t_listen(r, &rec, "127.0.0.1");
    dg_port *tx = t_listen(r, &sender_rec, "127.0.0.1");
    t_rcvbuf(dg_port_fd(rx), 4 << 20);
    int rc = dg_port_set_gro(rx, true);
    if (rc == -EOPNOTSUPP) {
        dg_reactor_free(r);
        skip();
    }
    assert_int_equal(rc, 0);
    unsigned char *d = bulk();
    dg_addr to = t_host(rx);
    assert_int_equal(dg_port_write_segments(tx, d, TOTAL, SEG, &to), COUNT + 1);
    T_RUN_UNTIL(r, rec.stopped == 1);
    assert_int_equal(rec.npackets, 10);
    assert_int_equal(at_close.rx_datagrams, 10);
    /* The rest of the first train, at least, was read and not delivered;
     * what was never read went with the socket. */
    if (at_close.rx_gro_trains > 0) /* the sender's first train is 64 datagrams */
        assert_true(at_close.rx_datagrams + at_close.rx_discarded >= 64);
    assert_true(at_close.rx_datagrams + at_close.rx_discarded <= COUNT + 1);
    free(d);
    dg_reactor_free(r);
    t_rec_free(&rec);
    t_rec_free(&sender_rec);
}

/* GRO turned on by datagram_received in the middle of a full read batch:
 * the next read of that event must use the grown slots, or a train that
 * arrived meanwhile is cut at the old slot size. */
static dg_port *mid_rx, *mid_tx;
static unsigned char *mid_data;

static void turn_on_and_send(t_rec *rec)
{
    if (rec->npackets != 1)
        return;
    int rc = dg_port_set_gro(mid_rx, true);
    assert_true(rc == 0 || rc == -EOPNOTSUPP);
    dg_addr to = t_host(mid_rx);
    /* On loopback the train is queued at mid_rx before this returns. */
    assert_int_equal(dg_port_write_segments(mid_tx, mid_data, TOTAL, SEG, &to), COUNT + 1);
}

static void test_gro_on_mid_batch(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec, sender_rec;
    t_rec_init(&rec, "Receiver");
    t_rec_init(&sender_rec, "Sender");
    rec.on_datagram = turn_on_and_send;
    mid_rx = t_listen(r, &rec, "127.0.0.1");
    mid_tx = t_listen(r, &sender_rec, "127.0.0.1");
    t_rcvbuf(dg_port_fd(mid_rx), 4 << 20);
    mid_data = bulk();
    int peer = t_queue_n("127.0.0.1", mid_rx, 32); /* one full batch of the default slots */
    T_RUN_UNTIL(r, rec.npackets == 32 + COUNT + 1);
    dg_port_stats st = t_stats(mid_rx);
    assert_int_equal(st.rx_discarded, 0);
    assert_int_equal(st.rx_truncated, 0);
    for (int i = 0; i <= COUNT; i++)
        assert_int_equal(rec.packets[32 + i].len, i < COUNT ? SEG : TAIL);
    close(peer);
    free(mid_data);
    dg_reactor_free(r);
    t_rec_free(&rec);
    t_rec_free(&sender_rec);
}

/* Control messages the user turned on through dg_port_fd() (here receive
 * timestamps) come before the GRO segment size: there must be room for it
 * still, or a train is delivered as one truncated datagram. */
static void test_gro_beside_timestamps(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec, sender_rec;
    t_rec_init(&rec, "Receiver");
    t_rec_init(&sender_rec, "Sender");
    dg_port *rx = t_listen(r, &rec, "127.0.0.1");
    dg_port *tx = t_listen(r, &sender_rec, "127.0.0.1");
    t_rcvbuf(dg_port_fd(rx), 4 << 20);
    int on = 1;
    assert_int_equal(setsockopt(dg_port_fd(rx), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on), 0);
    int rc = dg_port_set_gro(rx, true);
    assert_true(rc == 0 || rc == -EOPNOTSUPP);
    unsigned char *d = bulk();
    dg_addr to = t_host(rx);
    assert_int_equal(dg_port_write_segments(tx, d, TOTAL, SEG, &to), COUNT + 1);
    T_RUN_UNTIL(r, rec.npackets == COUNT + 1);
    check_delivery(&rec, d, DG_DEFAULT_MAX_PACKET_SIZE);
    free(d);
    dg_reactor_free(r);
    t_rec_free(&rec);
    t_rec_free(&sender_rec);
}

/* Plain datagrams on a GRO port arrive as on any port. */
static void test_plain_datagrams(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Receiver");
    dg_port *rx = t_listen(r, &rec, "::1");
    int rc = dg_port_set_gro(rx, true);
    assert_true(rc == 0 || rc == -EOPNOTSUPP);
    int peer = t_peer("::1", NULL);
    for (int i = 0; i < 5; i++) {
        char m[4];
        int n = snprintf(m, sizeof m, "%d", i);
        t_peer_send(peer, m, (size_t)n, "::1", t_port_number(rx));
    }
    T_RUN_UNTIL(r, rec.npackets == 5);
    for (int i = 0; i < 5; i++) {
        char m[4];
        int n = snprintf(m, sizeof m, "%d", i);
        assert_int_equal(rec.packets[i].len, (size_t)n);
        assert_memory_equal(rec.packets[i].data, m, (size_t)n);
    }
    assert_int_equal(t_stats(rx).rx_gro_trains, 0);
    close(peer);
    dg_reactor_free(r);
    t_rec_free(&rec);
}

static void test_bad_calls(void **state)
{
    (void)state;
    assert_int_equal(dg_port_set_gro(NULL, true), -EBADF);
    assert_int_equal(dg_port_get_gro(NULL), -EBADF);
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Receiver");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    assert_int_equal(dg_port_get_gro(p), 0);
    assert_int_equal(dg_port_set_gro(p, false), 0);
    dg_reactor_free(r);
    t_rec_free(&rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trains_cut_apart),
        cmocka_unit_test(test_without_gro),
        cmocka_unit_test(test_cut_to_max_packet_size),
        cmocka_unit_test(test_stop_mid_train),
        cmocka_unit_test(test_gro_on_mid_batch),
        cmocka_unit_test(test_gro_beside_timestamps),
        cmocka_unit_test(test_plain_datagrams),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
