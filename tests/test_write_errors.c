/* What a write refuses, and how: the behaviour spec's section 3 D (items
 * 22-24), its section 2.3, and issue 2's write errors. Every error is
 * returned (never queued, never a crash) and counted in tx_errors. */
#include "helpers.h"
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The largest datagram goes out and arrives whole at a port sized for it;
 * one byte more is -EMSGSIZE. IPv4: 65535 - 20 - 8; IPv6: 65535 - 8. */
static void check_size_limit(const char *ip, size_t limit)
{
    dg_reactor *r = t_reactor(false);
    t_rec server, client;
    t_rec_init(&server, "Server");
    t_rec_init(&client, "Client");
    dg_port *s = t_listen_sized(r, &server, ip, DG_MAX_PACKET_SIZE_LIMIT);
    dg_port *c = t_listen(r, &client, ip);
    dg_addr to = t_addr(ip, t_port_number(s));
    unsigned char *data = malloc(limit + 1);
    assert_non_null(data);
    for (size_t i = 0; i <= limit; i++)
        data[i] = (unsigned char)(i * 7);

    assert_int_equal(dg_port_write(c, data, limit, &to), (int)limit);
    assert_int_equal(dg_port_write(c, data, limit + 1, &to), -EMSGSIZE);
    assert_int_equal(dg_port_write(c, data, DG_MAX_PACKET_SIZE_LIMIT + 1, &to), -EMSGSIZE);
    assert_int_equal(dg_port_write(c, data, 70000, &to), -EMSGSIZE);
    struct iovec halves[] = {{data, limit / 2}, {data + limit / 2, limit + 1 - limit / 2}};
    assert_int_equal(dg_port_write_sequence(c, halves, 2, &to), -EMSGSIZE);
    /* A sum that wraps around SIZE_MAX is still too long. */
    struct iovec wrap[] = {{data, 16}, {data, SIZE_MAX - 8}};
    assert_int_equal(dg_port_write_sequence(c, wrap, 2, &to), -EMSGSIZE);

    T_RUN_UNTIL(r, server.npackets == 1);
    t_turn(r, 2);
    assert_int_equal(server.npackets, 1);
    assert_int_equal(server.packets[0].len, limit);
    assert_int_equal(server.packets[0].flags, 0);
    assert_memory_equal(server.packets[0].data, data, limit);
    dg_port_stats st = t_stats(c);
    assert_int_equal(st.tx_datagrams, 1);
    assert_int_equal(st.tx_bytes, limit);
    assert_int_equal(st.tx_errors, 5);
    free(data);
    dg_reactor_free(r);
    t_rec_free(&server);
}

static void test_size_limit_ipv4(void **state)
{
    (void)state;
    check_size_limit("127.0.0.1", 65507);
}

static void test_size_limit_ipv6(void **state)
{
    (void)state;
    check_size_limit("::1", 65527);
}

/* 22. A hostname cannot even become a dg_addr, so no write resolves one. */
static void test_hostname_is_not_an_address(void **state)
{
    (void)state;
    dg_addr a;
    const char *bad[] = {"example.invalid", "localhost", "1.2.3", "", "127.0.0.1 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(dg_addr_parse(&a, bad[i], 1), -EINVAL);
        assert_int_equal(dg_addr_family(&a), 0);
    }
}

/* An address holding neither family, and 23/24: the other family. An
 * IPv4-mapped address is IPv6, and fine on an IPv6 port. */
static void test_address_family(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec four, six, any;
    t_rec_init(&four, "Four");
    t_rec_init(&six, "Six");
    t_rec_init(&any, "Any");
    dg_port *p4 = t_listen(r, &four, "127.0.0.1");
    dg_port *p6 = t_listen(r, &six, "::1");
    dg_port *pany = t_listen(r, &any, "::");
    dg_addr none;
    memset(&none, 0, sizeof none);
    dg_addr v6 = t_addr("::1", 1), v4 = t_addr("127.0.0.1", 1), bcast = t_addr("<broadcast>", 1);
    assert_int_equal(dg_port_write(p4, "spam", 4, &none), -EINVAL);
    assert_int_equal(dg_port_write(p6, "spam", 4, &none), -EINVAL);
    assert_int_equal(dg_port_write(p4, "spam", 4, &v6), -EAFNOSUPPORT);
    assert_int_equal(dg_port_write(p6, "spam", 4, &v4), -EAFNOSUPPORT);
    assert_int_equal(dg_port_write(p6, "spam", 4, &bcast), -EAFNOSUPPORT);
    assert_int_equal(t_stats(p4).tx_errors, 2);
    assert_int_equal(t_stats(p6).tx_errors, 3);

    int peer_port;
    int peer = t_peer("127.0.0.1", &peer_port);
    dg_addr mapped = t_addr("::ffff:127.0.0.1", peer_port);
    assert_int_equal(dg_port_write(pany, "spam", 4, &mapped), 4);
    char buf[8];
    assert_int_equal(t_peer_recv(peer, buf, sizeof buf, NULL), 4);
    close(peer);
    dg_reactor_free(r);
}

/* No address on an unconnected port; another address on a connected one. */
static void test_destination_required_or_fixed(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec server, client;
    t_rec_init(&server, "Server");
    t_rec_init(&client, "Client");
    dg_port *s = t_listen(r, &server, "127.0.0.1");
    dg_port *c = t_listen(r, &client, "127.0.0.1");
    assert_int_equal(dg_port_write(c, "x", 1, NULL), -EDESTADDRREQ);
    assert_int_equal(dg_port_write_sequence(c, &(struct iovec){"x", 1}, 1, NULL), -EDESTADDRREQ);

    int sport = t_port_number(s);
    assert_int_equal(dg_port_connect(c, "127.0.0.1", sport), 0);
    dg_addr other_port = t_addr("127.0.0.1", sport == 65535 ? 1 : sport + 1);
    dg_addr other_host = t_addr("127.0.0.2", sport);
    dg_addr other_family = t_addr("::1", sport);
    assert_int_equal(dg_port_write(c, "x", 1, &other_port), -EISCONN);
    assert_int_equal(dg_port_write(c, "x", 1, &other_host), -EISCONN);
    assert_int_equal(dg_port_write(c, "x", 1, &other_family), -EISCONN);
    dg_addr peer = t_addr("127.0.0.1", sport);
    assert_int_equal(dg_port_write(c, "y", 1, &peer), 1);
    T_RUN_UNTIL(r, server.npackets == 1);
    t_turn(r, 2);
    assert_int_equal(server.npackets, 1);
    assert_memory_equal(server.packets[0].data, "y", 1);
    dg_port_stats st = t_stats(c);
    assert_int_equal(st.tx_errors, 5);
    assert_int_equal(st.tx_datagrams, 1);
    dg_reactor_free(r);
    t_rec_free(&server);
}

/* Writes after close: through the protocol's transport (NULL by then), and
 * through the port itself inside stop_protocol and done. Each is -EBADF and
 * sends nothing. Between stop_listening and the close, writes still work,
 * as in Twisted. */
static int peer_port_g;
static dg_port *port_g;
static int in_stop_rc, in_stop_saved_rc, in_done_rc;
static uint64_t in_done_errors;

static void write_in_stop(t_rec *rec)
{
    dg_addr to = t_addr("127.0.0.1", peer_port_g);
    in_stop_rc = dg_port_write(rec->proto.transport, "stop", 4, &to);
    in_stop_saved_rc = dg_port_write(port_g, "stop", 4, &to);
}

static void write_in_done(dg_port *p, void *arg)
{
    (void)arg;
    dg_addr to = t_addr("127.0.0.1", peer_port_g);
    in_done_rc = dg_port_write(p, "done", 4, &to);
    in_done_errors = t_stats(p).tx_errors;
}

static void test_write_after_close(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    rec.on_stop = write_in_stop;
    int peer = t_peer("127.0.0.1", &peer_port_g);
    dg_addr to = t_addr("127.0.0.1", peer_port_g);
    port_g = t_listen(r, &rec, "127.0.0.1");
    in_stop_rc = in_stop_saved_rc = in_done_rc = 0;

    assert_int_equal(dg_port_stop_listening(port_g, write_in_done, NULL), 0);
    assert_int_equal(dg_port_write(port_g, "late", 4, &to), 4);
    char buf[8];
    assert_int_equal(t_peer_recv(peer, buf, sizeof buf, NULL), 4);
    assert_memory_equal(buf, "late", 4);

    T_RUN_UNTIL(r, rec.stopped == 1);
    assert_int_equal(in_stop_rc, -EBADF);
    assert_int_equal(in_stop_saved_rc, -EBADF);
    assert_int_equal(in_done_rc, -EBADF);
    assert_int_equal(in_done_errors, 2); /* the saved pointer's, and done's */
    assert_null(rec.proto.transport);
    assert_int_equal(dg_port_write(rec.proto.transport, "gone", 4, &to), -EBADF);
    assert_int_equal(dg_port_write_sequence(rec.proto.transport, &(struct iovec){"g", 1}, 1, &to),
                     -EBADF);
    /* "late" was the only datagram: the refused writes sent nothing. */
    assert_false(t_peer_pending(peer));
    close(peer);
    dg_reactor_free(r);
}

/* More than IOV_MAX buffers is -EINVAL; IOV_MAX of them is one datagram. */
static void test_iov_max(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec server, client;
    t_rec_init(&server, "Server");
    t_rec_init(&client, "Client");
    dg_port *s = t_listen(r, &server, "127.0.0.1");
    dg_port *c = t_listen(r, &client, "127.0.0.1");
    dg_addr to = t_addr("127.0.0.1", t_port_number(s));
    struct iovec *v = calloc(IOV_MAX + 1, sizeof *v);
    assert_non_null(v);
    for (int i = 0; i <= IOV_MAX; i++)
        v[i] = (struct iovec){.iov_base = "z", .iov_len = 1};
    assert_int_equal(dg_port_write_sequence(c, v, IOV_MAX + 1, &to), -EINVAL);
    assert_int_equal(dg_port_write_sequence(c, NULL, 1, &to), -EINVAL);
    assert_int_equal(dg_port_write(c, NULL, 10, &to), -EINVAL); /* a NULL buffer, not -EFAULT */
    assert_int_equal(dg_port_write_sequence(c, v, IOV_MAX, &to), IOV_MAX);
    T_RUN_UNTIL(r, server.npackets == 1);
    assert_int_equal(server.packets[0].len, IOV_MAX);
    dg_port_stats st = t_stats(c);
    assert_int_equal(st.tx_errors, 3);
    assert_int_equal(st.tx_datagrams, 1);
    assert_int_equal(st.tx_bytes, IOV_MAX);
    free(v);
    dg_reactor_free(r);
    t_rec_free(&server);
}

/* tx_datagrams and tx_bytes count what went out, tx_errors what did not. */
static void test_stats(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec server, client;
    t_rec_init(&server, "Server");
    t_rec_init(&client, "Client");
    dg_port *s = t_listen(r, &server, "127.0.0.1");
    dg_port *c = t_listen(r, &client, "127.0.0.1");
    dg_addr to = t_addr("127.0.0.1", t_port_number(s));
    dg_port_stats st = t_stats(c);
    assert_int_equal(st.tx_datagrams + st.tx_bytes + st.tx_errors, 0);
    size_t total = 0;
    for (size_t n = 0; n < 10; n++) {
        char buf[16];
        memset(buf, 'a' + (int)n, n);
        assert_int_equal(dg_port_write(c, buf, n, &to), (int)n);
        total += n;
    }
    assert_int_equal(dg_port_write(c, "x", 1, NULL), -EDESTADDRREQ);
    T_RUN_UNTIL(r, server.npackets == 10);
    st = t_stats(c);
    assert_int_equal(st.tx_datagrams, 10);
    assert_int_equal(st.tx_bytes, total);
    assert_int_equal(st.tx_errors, 1);
    st = t_stats(s);
    assert_int_equal(st.rx_datagrams, 10);
    assert_int_equal(st.rx_bytes, total);
    assert_int_equal(st.tx_datagrams, 0);
    assert_int_equal(dg_port_get_stats(NULL, &st), -EINVAL);
    dg_reactor_free(r);
    t_rec_free(&server);
}

/* EAGAIN: loopback frees a datagram's send buffer at once, so it never
 * fills. A namespace of the test's own, with a token bucket on its lo,
 * holds datagrams in the qdisc and so in the sender's tiny SO_SNDBUF, until
 * a write fails. The failure is returned and counted, and nothing is queued:
 * once the bucket drains, exactly the datagrams that were accepted arrive,
 * then a marker, and never the refused one. */
static void test_eagain_returned_not_queued(void **state)
{
    (void)state;
    int saved = t_netns_enter();
    if (saved < 0)
        skip(); /* needs CAP_SYS_ADMIN for a private network namespace */
    const char *tbf[] = {"tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "80kbit",
                         "burst", "1600", "limit", "100000", NULL};
    if (t_run(tbf) != 0) {
        t_netns_leave(saved);
        skip(); /* no tc, or no tbf qdisc */
    }
    dg_reactor *r = t_reactor(false);
    t_rec server, client;
    t_rec_init(&server, "Server");
    t_rec_init(&client, "Client");
    dg_port *s = t_listen(r, &server, "127.0.0.1");
    dg_port *c = t_listen(r, &client, "127.0.0.1");
    t_netns_leave(saved); /* the sockets keep their namespace */

    int one = 1;
    assert_int_equal(setsockopt(dg_port_fd(c), SOL_SOCKET, SO_SNDBUF, &one, sizeof one), 0);
    dg_addr to = t_addr("127.0.0.1", t_port_number(s));
    int sent = 0, rc = 0;
    char msg[16];
    while (sent < 100000) {
        snprintf(msg, sizeof msg, "%d", sent);
        rc = dg_port_write(c, msg, strlen(msg), &to);
        if (rc < 0)
            break;
        sent++;
    }
    if (rc != -EAGAIN && rc != -ENOBUFS)
        fail_msg("flood ended with %d (%s) after %d datagrams", rc, dg_strerror(rc), sent);
    dg_port_stats st = t_stats(c);
    assert_int_equal(st.tx_errors, 1);
    assert_int_equal(st.tx_datagrams, (uint64_t)sent);

    T_RUN_UNTIL(r, server.received_total == sent);
    /* Everything accepted has left the qdisc, so the buffer is free again. */
    assert_int_equal(dg_port_write(c, "end", 3, &to), 3);
    T_RUN_UNTIL(r, server.received_total == sent + 1);
    t_turn(r, 2);
    assert_int_equal(server.received_total, sent + 1);
    for (int i = 0; i < sent && i < T_MAX_PACKETS; i++) {
        snprintf(msg, sizeof msg, "%d", i);
        assert_int_equal(server.packets[i].len, strlen(msg));
        assert_memory_equal(server.packets[i].data, msg, strlen(msg));
    }
    if (sent + 1 <= T_MAX_PACKETS) {
        assert_int_equal(server.packets[sent].len, 3);
        assert_memory_equal(server.packets[sent].data, "end", 3);
    }
    st = t_stats(c);
    assert_int_equal(st.tx_datagrams, (uint64_t)sent + 1);
    assert_int_equal(st.tx_errors, 1);
    dg_reactor_free(r);
    t_rec_free(&server);
}

/* An ICMP refusal of an earlier datagram surfaces on the next send as
 * ECONNREFUSED, and the kernel drops that datagram with it. The write sends
 * it again (the resend draws its own ICMP), returns its length, and tells the
 * protocol on the next iteration, never inside the write. Run in a private
 * namespace when allowed, so other tests' ICMP cannot hit the global rate
 * limit. */
static void test_refusal_resends(void **state)
{
    (void)state;
    int saved = t_netns_enter();
    dg_reactor *r = t_reactor(false);
    t_rec client;
    t_rec_init(&client, "Client");
    dg_port *c = t_listen(r, &client, "127.0.0.1");
    int dead = t_dead_port("127.0.0.1");
    if (saved >= 0)
        t_netns_leave(saved);
    assert_int_equal(dg_port_connect(c, "127.0.0.1", dead), 0);

    /* The reactor is not turned here, so nothing reads the pending error. */
    assert_int_equal(dg_port_write(c, "1", 1, NULL), 1);
    t_wait_poll(dg_port_fd(c), POLLERR);
    assert_int_equal(dg_port_write(c, "2", 1, NULL), 1);
    dg_port_stats st = t_stats(c);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.tx_datagrams, 2);
    assert_int_equal(st.tx_errors, 0);
    assert_int_equal(client.refused, 0);
    t_wait_poll(dg_port_fd(c), POLLERR); /* the resent datagram's own refusal */

    T_RUN_UNTIL(r, client.refused >= 1);
    assert_ptr_equal(client.proto.transport, c); /* the port stays open */
    assert_int_equal(client.stopped, 0);
    dg_reactor_free(r);
}

/* The same refusal on a write to an unconnected port is counted but not
 * reported: Twisted swallows it there. An adopted socket with IP_RECVERR
 * set by its owner sees such errors even unconnected. */
static void test_refusal_unconnected(void **state)
{
    (void)state;
    int saved = t_netns_enter();
    dg_reactor *r = t_reactor(false);
    t_rec client;
    t_rec_init(&client, "Client");
    int fd = t_peer("127.0.0.1", NULL);
    int on = 1;
    assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on), 0);
    dg_port *c = NULL;
    assert_int_equal(dg_adopt_datagram_port(r, fd, AF_INET, &client.proto, NULL, &c), 0);
    close(fd);
    int dead = t_dead_port("127.0.0.1");
    if (saved >= 0)
        t_netns_leave(saved);
    dg_addr to = t_addr("127.0.0.1", dead);
    assert_int_equal(dg_port_write(c, "1", 1, &to), 1);
    t_wait_poll(dg_port_fd(c), POLLERR);
    int rc = dg_port_write(c, "2", 1, &to);
    dg_port_stats st = t_stats(c);
    assert_int_equal(rc, 1);
    assert_int_equal(st.refused, 1);
    t_turn(r, 3);
    assert_int_equal(client.refused, 0);
    dg_reactor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_limit_ipv4),
        cmocka_unit_test(test_size_limit_ipv6),
        cmocka_unit_test(test_hostname_is_not_an_address),
        cmocka_unit_test(test_address_family),
        cmocka_unit_test(test_destination_required_or_fixed),
        cmocka_unit_test(test_write_after_close),
        cmocka_unit_test(test_iov_max),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_eagain_returned_not_queued),
        cmocka_unit_test(test_refusal_resends),
        cmocka_unit_test(test_refusal_unconnected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
