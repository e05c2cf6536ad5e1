/* Truncation (issue 2's receive semantics): a datagram longer than
 * max_packet_size is delivered cut to that size with DG_TRUNCATED set and
 * counted, where Twisted truncates silently (behaviour spec 1.1). */
#include "helpers.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const ips[] = {"127.0.0.1", "::1"};

/* max_packet_size 10: 16 bytes arrive as the first 10, flagged; exactly 10
 * and 5 are not; the flag belongs to each datagram of a batch on its own;
 * 0 outside datagram_received. */
static void test_truncated_flagged(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        const char *ip = ips[f];
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Server");
        dg_port *p = t_listen_sized(r, &rec, ip, 10);
        int peer = t_peer(ip, NULL);
        int port = t_port_number(p);
        t_peer_send(peer, "0123456789ABCDEF", 16, ip, port);
        t_peer_send(peer, "0123456789", 10, ip, port);
        t_peer_send(peer, "hello", 5, ip, port);
        t_peer_send(peer, "abcdefghijk", 11, ip, port);
        T_RUN_UNTIL(r, rec.npackets == 4);

        static const struct { const char *data; size_t len; unsigned flags; } want[] = {
            {"0123456789", 10, DG_TRUNCATED},
            {"0123456789", 10, 0},
            {"hello", 5, 0},
            {"abcdefghij", 10, DG_TRUNCATED},
        };
        for (int i = 0; i < 4; i++) {
            assert_int_equal(rec.packets[i].len, want[i].len);
            assert_memory_equal(rec.packets[i].data, want[i].data, want[i].len);
            assert_int_equal(rec.packets[i].flags, want[i].flags);
        }
        assert_int_equal(dg_port_datagram_flags(p), 0);
        dg_port_stats s = t_stats(p);
        assert_int_equal(s.rx_datagrams, 4);
        assert_int_equal(s.rx_truncated, 2);
        assert_int_equal(s.rx_bytes, 35);
        assert_int_equal(s.rx_discarded, 0);
        close(peer);
        dg_reactor_free(r);
        t_rec_free(&rec);
    }
}

/* The largest IPv4 datagram with the default size: 8192 bytes, flagged; the
 * same datagram on a port sized 65535 arrives whole and unflagged. */
static void test_largest_datagram(void **state)
{
    (void)state;
    enum { BIG = 65507 };
    unsigned char *big = malloc(BIG);
    assert_non_null(big);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 7 + 1);
    dg_reactor *r = t_reactor(false);
    t_rec small, large;
    t_rec_init(&small, "Small");
    t_rec_init(&large, "Large");
    dg_port *ps = t_listen_sized(r, &small, "127.0.0.1", 0); /* 0: the default */
    dg_port *pl = t_listen_sized(r, &large, "127.0.0.1", DG_MAX_PACKET_SIZE_LIMIT);
    int peer = t_peer("127.0.0.1", NULL);
    t_peer_send(peer, big, BIG, "127.0.0.1", t_port_number(ps));
    t_peer_send(peer, big, BIG, "127.0.0.1", t_port_number(pl));
    T_RUN_UNTIL(r, small.npackets == 1 && large.npackets == 1);

    assert_int_equal(small.packets[0].len, DG_DEFAULT_MAX_PACKET_SIZE);
    assert_memory_equal(small.packets[0].data, big, DG_DEFAULT_MAX_PACKET_SIZE);
    assert_int_equal(small.packets[0].flags, DG_TRUNCATED);
    assert_int_equal(t_stats(ps).rx_truncated, 1);
    assert_int_equal(t_stats(ps).rx_bytes, DG_DEFAULT_MAX_PACKET_SIZE);

    assert_int_equal(large.packets[0].len, BIG);
    assert_memory_equal(large.packets[0].data, big, BIG);
    assert_int_equal(large.packets[0].flags, 0);
    assert_int_equal(t_stats(pl).rx_truncated, 0);
    assert_int_equal(t_stats(pl).rx_bytes, BIG);
    close(peer);
    dg_reactor_free(r);
    t_rec_free(&small);
    t_rec_free(&large);
    free(big);
}

/* An empty datagram is a datagram: delivered, length 0, not flagged; also
 * on a port whose buffer is a single byte. */
static void test_empty_datagram(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        const char *ip = ips[f];
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Server");
        dg_port *p = t_listen_sized(r, &rec, ip, 1);
        int peer = t_peer(ip, NULL);
        t_peer_send(peer, "", 0, ip, t_port_number(p));
        t_peer_send(peer, "x", 1, ip, t_port_number(p));
        t_peer_send(peer, "xy", 2, ip, t_port_number(p));
        T_RUN_UNTIL(r, rec.npackets == 3);
        assert_int_equal(rec.packets[0].len, 0);
        assert_int_equal(rec.packets[0].flags, 0);
        assert_int_equal(rec.packets[1].len, 1);
        assert_int_equal(rec.packets[1].flags, 0);
        assert_int_equal(rec.packets[2].len, 1);
        assert_int_equal(rec.packets[2].flags, DG_TRUNCATED);
        dg_port_stats s = t_stats(p);
        assert_int_equal(s.rx_datagrams, 3);
        assert_int_equal(s.rx_truncated, 1);
        assert_int_equal(s.rx_bytes, 2);
        assert_int_equal(dg_port_datagram_flags(p), 0);
        close(peer);
        dg_reactor_free(r);
        t_rec_free(&rec);
    }
}

/* Out of range sizes are refused before any socket exists. */
static void test_size_limits(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    int fds = t_open_fds();
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.max_packet_size = DG_MAX_PACKET_SIZE_LIMIT + 1;
    dg_port *p = NULL;
    assert_int_equal(dg_listen_udp(r, 0, &rec.proto, &o, &p), -EINVAL);
    assert_null(p);
    assert_int_equal(rec.started, 0);
    assert_int_equal(t_open_fds(), fds);
    assert_int_equal(dg_port_datagram_flags(NULL), 0);
    dg_reactor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_flagged),
        cmocka_unit_test(test_largest_datagram),
        cmocka_unit_test(test_empty_datagram),
        cmocka_unit_test(test_size_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
