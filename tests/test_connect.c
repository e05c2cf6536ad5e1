/* Connecting a port to one peer: the behaviour spec's items 25-26 and
 * section 2.5, and issue 2's connect semantics. A failed connect leaves the
 * port unconnected (Twisted is left half-connected). */
#include "helpers.h"
#include <string.h>
#include <unistd.h>

static void assert_unconnected(dg_port *p)
{
    dg_addr peer;
    assert_int_equal(dg_port_get_peer(p, &peer), -ENOTCONN);
    assert_int_equal(dg_port_write(p, "x", 1, NULL), -EDESTADDRREQ);
}

/* 25, 26. test_connectingToHostnameRaisesInvalidAddressError and
 * test_badConnect: names are refused and change nothing; a literal
 * connects; a second connect is -EISCONN and keeps the first peer. */
static void test_hostname_then_literal_then_again(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Client");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    assert_int_equal(dg_port_connect(p, "example.invalid", 1), -EINVAL);
    assert_string_equal(dg_reactor_last_error(r),
                        "Couldn't connect to example.invalid:1: not an IPv4 or IPv6 address.");
    assert_unconnected(p);
    assert_int_equal(dg_port_connect(p, "localhost", 80), -EINVAL);
    assert_int_equal(dg_port_connect(p, NULL, 80), -EINVAL);
    assert_unconnected(p);

    assert_int_equal(dg_port_connect(p, "127.0.0.1", 80), 0);
    dg_addr peer, want = t_addr("127.0.0.1", 80);
    assert_int_equal(dg_port_get_peer(p, &peer), 0);
    assert_true(dg_addr_equal(&peer, &want));
    assert_int_equal(dg_port_connect(p, "127.0.0.1", 80), -EISCONN);
    assert_int_equal(dg_port_connect(p, "127.0.0.2", 81), -EISCONN);
    assert_int_equal(dg_port_get_peer(p, &peer), 0);
    assert_true(dg_addr_equal(&peer, &want));
    dg_reactor_free(r);
}

/* The other family is -EAFNOSUPPORT and leaves no half-connected port: a
 * valid connect works afterwards (Twisted's bug, fixed). */
static void test_wrong_family_not_half_connected(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec four, six;
    t_rec_init(&four, "Four");
    t_rec_init(&six, "Six");
    dg_port *p4 = t_listen(r, &four, "127.0.0.1");
    dg_port *p6 = t_listen(r, &six, "::1");
    assert_int_equal(dg_port_connect(p4, "::1", 80), -EAFNOSUPPORT);
    assert_unconnected(p4);
    assert_int_equal(dg_port_connect(p6, "127.0.0.1", 80), -EAFNOSUPPORT);
    assert_unconnected(p6);
    assert_int_equal(dg_port_connect(p4, "127.0.0.1", 80), 0);
    assert_int_equal(dg_port_connect(p6, "::1", 80), 0);
    dg_addr peer, want = t_addr("::1", 80);
    assert_int_equal(dg_port_get_peer(p6, &peer), 0);
    assert_true(dg_addr_equal(&peer, &want));
    dg_reactor_free(r);
}

/* A port outside 0..65535 (Python's OverflowError) changes nothing either. */
static void test_bad_port(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Client");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    assert_int_equal(dg_port_connect(p, "127.0.0.1", 70000), -EINVAL);
    assert_string_equal(dg_reactor_last_error(r),
                        "Couldn't connect to 127.0.0.1:70000: port must be 0-65535.");
    assert_int_equal(dg_port_connect(p, "127.0.0.1", -1), -EINVAL);
    assert_unconnected(p);
    assert_int_equal(dg_port_connect(p, "127.0.0.1", 65535), 0);
    dg_reactor_free(r);
}

/* After connecting, only the peer's datagrams arrive (the kernel filters
 * them), on both families. */
static void check_filter(const char *ip)
{
    dg_reactor *r = t_reactor(false);
    t_rec client, peer, other;
    t_rec_init(&client, "Client");
    t_rec_init(&peer, "Peer");
    t_rec_init(&other, "Other");
    dg_port *c = t_listen(r, &client, ip);
    dg_port *p = t_listen(r, &peer, ip);
    dg_port *o = t_listen(r, &other, ip);
    assert_int_equal(dg_port_connect(c, ip, t_port_number(p)), 0);
    dg_addr to = t_addr(ip, t_port_number(c));
    /* The stranger first: when the peer's datagram has arrived, the
     * stranger's was already refused by the kernel. */
    assert_int_equal(dg_port_write(o, "stranger", 8, &to), 8);
    assert_int_equal(dg_port_write(p, "peer", 4, &to), 4);
    T_RUN_UNTIL(r, client.npackets == 1);
    t_turn(r, 3);
    assert_int_equal(client.npackets, 1);
    assert_int_equal(client.packets[0].len, 4);
    assert_memory_equal(client.packets[0].data, "peer", 4);
    dg_addr from = t_addr(ip, t_port_number(p));
    assert_true(dg_addr_equal(&client.packets[0].from, &from));
    dg_reactor_free(r);
    t_rec_free(&client);
}

static void test_only_peer_arrives_ipv4(void **state)
{
    (void)state;
    check_filter("127.0.0.1");
}

static void test_only_peer_arrives_ipv6(void **state)
{
    (void)state;
    check_filter("::1");
}

/* Connect and get_peer on no port, or a closed one. */
static void test_closed_port(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Client");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    dg_addr peer;
    assert_int_equal(dg_port_get_peer(p, NULL), -EINVAL);
    assert_int_equal(dg_port_close(p), 0);
    assert_null(rec.proto.transport);
    assert_int_equal(dg_port_connect(rec.proto.transport, "127.0.0.1", 80), -EBADF);
    assert_int_equal(dg_port_get_peer(rec.proto.transport, &peer), -EBADF);
    dg_reactor_free(r);
}

/* dg_connect_udp() to a literal: a protocol attached to a live port is
 * -EBUSY with nothing opened, and a failed bind leaves *out NULL, leaks
 * nothing and the protocol reusable. */
static void test_connect_udp_literal_errors(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec, other;
    t_rec_init(&rec, "Client");
    t_rec_init(&other, "Client");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    int fds = t_open_fds();
    dg_port *q = (dg_port *)&q;
    assert_int_equal(dg_connect_udp(r, "127.0.0.1", 80, &rec.proto, NULL, &q), -EBUSY);
    assert_null(q);
    assert_int_equal(t_open_fds(), fds);
    assert_ptr_equal(rec.proto.transport, p);
    assert_int_equal(rec.started, 1);

    dg_connect_options o;
    dg_connect_options_init(&o);
    o.interface = "192.0.2.1"; /* not this host's: bind fails, nothing is sent */
    q = (dg_port *)&q;
    assert_int_equal(dg_connect_udp(r, "127.0.0.1", 80, &other.proto, &o, &q), -EADDRNOTAVAIL);
    assert_null(q);
    assert_int_equal(t_open_fds(), fds);
    assert_int_equal(other.started + other.failed, 0);
    assert_null(other.proto.transport);
    assert_int_equal(dg_connect_udp(r, "127.0.0.1", 80, &other.proto, NULL, &q), 0);
    assert_ptr_equal(other.proto.transport, q);
    assert_int_equal(other.started, 1);
    dg_addr peer, want = t_addr("127.0.0.1", 80);
    assert_int_equal(dg_port_get_peer(q, &peer), 0);
    assert_true(dg_addr_equal(&peer, &want));
    dg_reactor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostname_then_literal_then_again),
        cmocka_unit_test(test_wrong_family_not_half_connected),
        cmocka_unit_test(test_bad_port),
        cmocka_unit_test(test_only_peer_arrives_ipv4),
        cmocka_unit_test(test_only_peer_arrives_ipv6),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_connect_udp_literal_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
