/* Adopting a bound socket: the behaviour spec's section 3 H (items 43-46).
 * The port works on a duplicate, so the caller's descriptor (and its
 * O_NONBLOCK flag) stays the caller's; and an adopted port sends and
 * receives exactly as a listened one (item 46 runs a subset of the
 * send/receive tests again through adopted sockets, as Twisted's
 * UDPFDServerTestsBuilder does). */
#include "helpers.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int done_calls;

static void on_done(dg_port *p, void *arg)
{
    (void)p;
    (void)arg;
    done_calls++;
}

/* A socket bound to ip with an ephemeral port, blocking unless asked. */
static int bound_socket(const char *ip, bool nonblock)
{
    int fd = t_peer(ip, NULL);
    if (!nonblock)
        assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
    return fd;
}

static dg_port *adopt(dg_reactor *r, t_rec *rec, int fd, int family)
{
    dg_port *p = NULL;
    int rc = dg_adopt_datagram_port(r, fd, family, &rec->proto, NULL, &p);
    if (rc < 0)
        fail_msg("adopt: %s (%s)", dg_strerror(rc), dg_reactor_last_error(r));
    return p;
}

/* As Twisted's builder: bind, adopt, and close our own copy at once. */
static dg_port *t_adopt(dg_reactor *r, t_rec *rec, const char *ip)
{
    dg_addr a = t_addr(ip, 0);
    int fd = bound_socket(ip, true);
    dg_port *p = adopt(r, rec, fd, dg_addr_family(&a));
    close(fd);
    return p;
}

/* An adoption that must fail with err, before start_protocol, leaking
 * nothing, the protocol reusable. */
static void assert_refused(dg_reactor *r, int fd, int family, size_t max_packet_size, int err)
{
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.max_packet_size = max_packet_size;
    int fds = t_open_fds();
    dg_port *p = (dg_port *)&p;
    assert_int_equal(dg_adopt_datagram_port(r, fd, family, &rec.proto, &o, &p), err);
    assert_null(p);
    assert_int_equal(t_open_fds(), fds);
    assert_int_equal(rec.started, 0);
    assert_null(rec.proto.transport);
    p = t_listen(r, &rec, "127.0.0.1");
    assert_int_equal(dg_port_close(p), 0);
}

/* 43. test_invalidDescriptor: a closed fd is -EBADF. */
static void test_closed_descriptor(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int fd = bound_socket("127.0.0.1", true);
    close(fd);
    assert_refused(r, fd, AF_INET, 0, -EBADF);
    assert_refused(r, -1, AF_INET, 0, -EBADF);
    dg_reactor_free(r);
}

/* 44. test_invalidAddressFamily: 2**16+7 is -EAFNOSUPPORT; so is AF_UNIX. */
static void test_bad_family(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int fd = bound_socket("127.0.0.1", true);
    assert_refused(r, fd, (1 << 16) + 7, 0, -EAFNOSUPPORT);
    assert_refused(r, fd, AF_UNIX, 0, -EAFNOSUPPORT);
    close(fd);
    dg_reactor_free(r);
}

/* Not a datagram socket of that family: -EINVAL, and the duplicate made to
 * find out is closed again. */
static void test_not_a_datagram_socket(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(tcp >= 0);
    assert_refused(r, tcp, AF_INET, 0, -EINVAL);
    int v4 = bound_socket("127.0.0.1", true);
    assert_refused(r, v4, AF_INET6, 0, -EINVAL);
    int pair[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
    assert_refused(r, pair[0], AF_INET, 0, -EINVAL);
    int pipes[2];
    assert_int_equal(pipe(pipes), 0);
    assert_refused(r, pipes[0], AF_INET, 0, -EINVAL);
    assert_refused(r, v4, AF_INET, DG_MAX_PACKET_SIZE_LIMIT + 1, -EINVAL);
    close(tcp);
    close(v4);
    close(pair[0]);
    close(pair[1]);
    close(pipes[0]);
    close(pipes[1]);
    dg_reactor_free(r);
}

/* A protocol attached to a live port is -EBUSY, with no duplicate made. */
static void test_busy_protocol(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    int fd = bound_socket("127.0.0.1", true);
    int fds = t_open_fds();
    dg_port *q = (dg_port *)&q;
    assert_int_equal(dg_adopt_datagram_port(r, fd, AF_INET, &rec.proto, NULL, &q), -EBUSY);
    assert_null(q);
    assert_int_equal(t_open_fds(), fds);
    assert_ptr_equal(rec.proto.transport, p);
    assert_int_equal(rec.started, 1);
    close(fd);
    dg_reactor_free(r);
}

/* 45. test_stopOnlyCloses: after stop the caller's descriptor still works
 * (EAGAIN, not EBADF or EINVAL: closed, never shut down), and still
 * receives. */
static void test_stop_only_closes(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    int fd = bound_socket("127.0.0.1", true);
    dg_port *p = adopt(r, &rec, fd, AF_INET);
    int number = t_port_number(p);
    done_calls = 0;
    assert_int_equal(dg_port_stop_listening(p, on_done, NULL), 0);
    T_RUN_UNTIL(r, done_calls == 1);
    char buf[16];
    errno = 0;
    assert_int_equal(recv(fd, buf, sizeof buf, 0), -1);
    assert_int_equal(errno, EAGAIN);

    int peer = t_peer("127.0.0.1", NULL);
    t_peer_send(peer, "still", 5, "127.0.0.1", number);
    assert_int_equal(t_peer_recv(fd, buf, sizeof buf, NULL), 5);
    assert_memory_equal(buf, "still", 5);
    close(peer);
    close(fd);
    dg_reactor_free(r);
}

static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    return fl & O_NONBLOCK;
}

/* The duplicate shares the file's flags with the caller's descriptor, so
 * the port never sets O_NONBLOCK; it never blocks either (a blocking read
 * would hang this test after the datagram). */
static void test_caller_flags_kept(void **state)
{
    (void)state;
    for (int nb = 0; nb < 2; nb++) {
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Server");
        int fd = bound_socket("127.0.0.1", nb);
        int before = nonblock(fd);
        assert_int_equal(before != 0, nb);
        dg_port *p = adopt(r, &rec, fd, AF_INET);
        assert_int_equal(nonblock(fd), before);
        int peer_port;
        int peer = t_peer("127.0.0.1", &peer_port);
        t_peer_send(peer, "in", 2, "127.0.0.1", t_port_number(p));
        T_RUN_UNTIL(r, rec.npackets == 1);
        t_turn(r, 3);
        dg_addr to = t_addr("127.0.0.1", peer_port);
        assert_int_equal(dg_port_write(p, "out", 3, &to), 3);
        char buf[8];
        assert_int_equal(t_peer_recv(peer, buf, sizeof buf, NULL), 3);
        assert_int_equal(nonblock(fd), before);
        assert_int_equal(dg_port_close(p), 0);
        assert_int_equal(nonblock(fd), before);
        close(peer);
        close(fd);
        dg_reactor_free(r);
        t_rec_free(&rec);
    }
}

/* 46: get_host (item 9) and the log lines (items 5, 6). */
static void test_adopted_host_and_log(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec four, six;
    t_rec_init(&four, "Crazy Protocol");
    t_rec_init(&six, "Server");
    int fd = bound_socket("127.0.0.1", true);
    dg_addr bound;
    socklen_t len = sizeof bound;
    assert_int_equal(getsockname(fd, &bound.u.sa, &len), 0);
    dg_port *p = adopt(r, &four, fd, AF_INET);
    close(fd);
    dg_addr host = t_host(p);
    assert_true(dg_addr_equal(&host, &bound));
    assert_int_equal(four.started, 1);
    assert_true(four.transport_in_start);
    char line[64];
    snprintf(line, sizeof line, "Crazy Protocol starting on %d", dg_addr_port(&bound));
    assert_int_equal(t_log_find(line), 0);
    char text[64];
    snprintf(line, sizeof line, "<Crazy Protocol on %d>", dg_addr_port(&bound));
    assert_true(dg_port_format(p, text, sizeof text) > 0);
    assert_string_equal(text, line);

    dg_port *q = t_adopt(r, &six, "::1");
    host = t_host(q);
    assert_int_equal(dg_addr_family(&host), AF_INET6);
    assert_true(dg_addr_port(&host) != 0);

    t_log_clear();
    done_calls = 0;
    assert_int_equal(dg_port_stop_listening(p, on_done, NULL), 0);
    T_RUN_UNTIL(r, done_calls == 1);
    snprintf(line, sizeof line, "(UDP Port %d Closed)", dg_addr_port(&bound));
    assert_true(t_nlog >= 1);
    assert_string_equal(t_log[0], line);
    dg_reactor_free(r);
}

/* 46: send and receive (item 16), write_sequence (17), IPv6 write (18)
 * and connected write (19), all between adopted ports. */
static void check_adopted_traffic(const char *ip)
{
    dg_reactor *r = t_reactor(false);
    t_rec server, client;
    t_rec_init(&server, "Server");
    t_rec_init(&client, "Client");
    dg_port *s = t_adopt(r, &server, ip);
    dg_port *c = t_adopt(r, &client, ip);
    dg_addr s_addr = t_host(s), c_addr = t_host(c);

    assert_int_equal(dg_port_write(s, "hello", 5, &c_addr), 5);
    struct iovec seq[] = {{"some", 4}, {"bytes", 5}, {"to", 2}, {"write", 5}};
    assert_int_equal(dg_port_write_sequence(c, seq, 4, &s_addr), 16);
    T_RUN_UNTIL(r, client.npackets == 1 && server.npackets == 1);
    assert_int_equal(client.packets[0].len, 5);
    assert_memory_equal(client.packets[0].data, "hello", 5);
    assert_true(dg_addr_equal(&client.packets[0].from, &s_addr));
    assert_int_equal(server.packets[0].len, 16);
    assert_memory_equal(server.packets[0].data, "somebytestowrite", 16);
    assert_true(dg_addr_equal(&server.packets[0].from, &c_addr));

    assert_int_equal(dg_port_connect(c, ip, dg_addr_port(&s_addr)), 0);
    assert_int_equal(dg_port_write(c, "spam", 4, NULL), 4);
    assert_int_equal(dg_port_write(c, "eggs", 4, &s_addr), 4);
    T_RUN_UNTIL(r, server.npackets == 3);
    assert_memory_equal(server.packets[1].data, "spam", 4);
    assert_memory_equal(server.packets[2].data, "eggs", 4);
    assert_true(dg_addr_equal(&server.packets[2].from, &c_addr));
    dg_reactor_free(r);
    t_rec_free(&server);
    t_rec_free(&client);
}

static void test_adopted_traffic_ipv4(void **state)
{
    (void)state;
    check_adopted_traffic("127.0.0.1");
}

static void test_adopted_traffic_ipv6(void **state)
{
    (void)state;
    check_adopted_traffic("::1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_descriptor),
        cmocka_unit_test(test_bad_family),
        cmocka_unit_test(test_not_a_datagram_socket),
        cmocka_unit_test(test_busy_protocol),
        cmocka_unit_test(test_stop_only_closes),
        cmocka_unit_test(test_caller_flags_kept),
        cmocka_unit_test(test_adopted_host_and_log),
        cmocka_unit_test(test_adopted_traffic_ipv4),
        cmocka_unit_test(test_adopted_traffic_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
