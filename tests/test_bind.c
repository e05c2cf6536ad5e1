/* Binding a port: the behaviour spec's section 3 B and E (items 8-11, 27-28)
 * and issue 2's bind semantics: which interfaces mean what, which are
 * refused before a socket exists, and that bind errors leak nothing and
 * leave the protocol reusable. */
#include "helpers.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int done_calls;

static void on_done(dg_port *p, void *arg)
{
    (void)p;
    (void)arg;
    done_calls++;
}

static void assert_host(dg_port *p, const char *ip)
{
    dg_addr got = t_host(p);
    char text[DG_ADDR_STRLEN];
    assert_true(dg_addr_format_host(&got, text, sizeof text) > 0);
    assert_string_equal(text, ip);
    assert_true(dg_addr_port(&got) != 0);
}

/* A listen that must fail with err before start_protocol, leaking nothing. */
static void assert_refused(dg_reactor *r, int port, const char *iface, size_t max_packet_size,
                           int err)
{
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.interface = iface;
    o.max_packet_size = max_packet_size;
    int fds = t_open_fds();
    dg_port *p = (dg_port *)&p;
    assert_int_equal(dg_listen_udp(r, port, &rec.proto, &o, &p), err);
    assert_null(p);
    assert_int_equal(t_open_fds(), fds);
    assert_int_equal(rec.started, 0);
    assert_null(rec.proto.transport);
    /* Nothing is left attached: the same protocol listens at once. */
    p = t_listen(r, &rec, "127.0.0.1");
    assert_int_equal(rec.started, 1);
    assert_int_equal(dg_port_close(p), 0);
    assert_int_equal(rec.stopped, 1);
}

/* "" is IPv4 any, as Twisted: 0.0.0.0, never "::". NULL options too. */
static void test_default_is_ipv4_any(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec a, b;
    t_rec_init(&a, "Server");
    t_rec_init(&b, "Server");
    dg_port *p = t_listen(r, &a, "");
    dg_addr h = t_host(p);
    assert_int_equal(dg_addr_family(&h), AF_INET);
    assert_host(p, "0.0.0.0");
    dg_port *q = NULL;
    assert_int_equal(dg_listen_udp(r, 0, &b.proto, NULL, &q), 0);
    assert_host(q, "0.0.0.0");
    dg_reactor_free(r);
}

/* 10. test_getHostIPv6, and "::" as IPv6 any. */
static void test_ipv6_interfaces(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec a, b;
    t_rec_init(&a, "Server");
    t_rec_init(&b, "Server");
    dg_port *any = t_listen(r, &a, "::");
    dg_addr h = t_host(any);
    assert_int_equal(dg_addr_family(&h), AF_INET6);
    assert_host(any, "::");
    dg_port *lo = t_listen(r, &b, "::1");
    assert_host(lo, "::1");
    dg_reactor_free(r);
}

/* 9. test_getHost on a given port; 28. after stop the same number can be
 * listened on again (the socket really closed). */
static void test_given_port_and_relisten(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    int number = t_port_number(p);
    done_calls = 0;
    assert_int_equal(dg_port_stop_listening(p, on_done, NULL), 0);
    T_RUN_UNTIL(r, done_calls == 1);

    dg_listen_options o;
    dg_listen_options_init(&o);
    o.interface = "127.0.0.1";
    assert_int_equal(dg_listen_udp(r, number, &rec.proto, &o, &p), 0);
    dg_addr want = t_addr("127.0.0.1", number);
    dg_addr got = t_host(p);
    assert_true(dg_addr_equal(&got, &want));
    dg_reactor_free(r);
    assert_int_equal(rec.stopped, 2);
}

/* 11. test_invalidInterface: names are refused before any socket exists,
 * so the protocol is untouched. */
static void test_names_refused(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    const char *bad[] = {"example.com", "localhost", "1.2.3", "<broadcast>", "::1%no-such-if0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_refused(r, 0, bad[i], 0, -EINVAL);
    assert_refused(r, 0, "example.com", 0, -EINVAL);
    assert_string_equal(dg_reactor_last_error(r),
                        "Couldn't listen on example.com:0: not an IPv4 or IPv6 address.");
    dg_reactor_free(r);
}

/* Python raises OverflowError for these; we refuse them the same way. */
static void test_bad_port(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    assert_refused(r, -1, "127.0.0.1", 0, -EINVAL);
    assert_refused(r, 70000, "", 0, -EINVAL);
    assert_refused(r, 65536, "::1", 0, -EINVAL);
    assert_string_equal(dg_reactor_last_error(r),
                        "Couldn't listen on ::1:65536: port must be 0-65535.");
    dg_reactor_free(r);
}

/* 27. test_bindError, with Twisted's message ("any" for ""). */
static void test_address_in_use(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec a, b;
    t_rec_init(&a, "Server");
    t_rec_init(&b, "Server");
    dg_port *p = t_listen(r, &a, "127.0.0.1");
    int number = t_port_number(p);
    char want[128];
    assert_refused(r, number, "127.0.0.1", 0, -EADDRINUSE);
    snprintf(want, sizeof want, "Couldn't listen on 127.0.0.1:%d: Address already in use.",
             number);
    assert_string_equal(dg_reactor_last_error(r), want);

    dg_port *any = t_listen(r, &b, "");
    number = t_port_number(any);
    assert_refused(r, number, "", 0, -EADDRINUSE);
    snprintf(want, sizeof want, "Couldn't listen on any:%d: Address already in use.", number);
    assert_string_equal(dg_reactor_last_error(r), want);
    dg_reactor_free(r);
}

/* An address this host does not have (TEST-NET-1): bind only, nothing is
 * sent anywhere. */
static void test_address_not_local(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    assert_refused(r, 0, "192.0.2.1", 0, -EADDRNOTAVAIL);
    assert_string_equal(dg_reactor_last_error(r),
                        "Couldn't listen on 192.0.2.1:0: Cannot assign requested address.");
    assert_refused(r, 0, "2001:db8::1", 0, -EADDRNOTAVAIL);
    dg_reactor_free(r);
}

/* max_packet_size: 0 is the default (8192), the limit is 65535. The default
 * is observable as the length a longer datagram is cut to. */
static void test_max_packet_size(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    assert_refused(r, 0, "127.0.0.1", DG_MAX_PACKET_SIZE_LIMIT + 1, -EINVAL);

    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_listen_options o;
    dg_listen_options_init(&o);
    assert_int_equal(o.max_packet_size, DG_DEFAULT_MAX_PACKET_SIZE);
    o.interface = "127.0.0.1";
    o.max_packet_size = 0;
    dg_port *p;
    assert_int_equal(dg_listen_udp(r, 0, &rec.proto, &o, &p), 0);
    static unsigned char big[DG_DEFAULT_MAX_PACKET_SIZE + 1];
    memset(big, 'x', sizeof big);
    int peer = t_peer("127.0.0.1", NULL);
    t_peer_send(peer, big, sizeof big, "127.0.0.1", t_port_number(p));
    T_RUN_UNTIL(r, rec.npackets == 1);
    assert_int_equal(rec.packets[0].len, DG_DEFAULT_MAX_PACKET_SIZE);

    t_rec top;
    t_rec_init(&top, "Server");
    o.max_packet_size = DG_MAX_PACKET_SIZE_LIMIT;
    assert_int_equal(dg_listen_udp(r, 0, &top.proto, &o, &p), 0);
    close(peer);
    dg_reactor_free(r);
    t_rec_free(&rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_ipv4_any),
        cmocka_unit_test(test_ipv6_interfaces),
        cmocka_unit_test(test_given_port_and_relisten),
        cmocka_unit_test(test_names_refused),
        cmocka_unit_test(test_bad_port),
        cmocka_unit_test(test_address_in_use),
        cmocka_unit_test(test_address_not_local),
        cmocka_unit_test(test_max_packet_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
