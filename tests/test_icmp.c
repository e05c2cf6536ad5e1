/* ICMP port unreachable: the behaviour spec's 2.2 and section 3 items 31, 32
 * and 34; issue 2's ICMP semantics. A connected port reports the refusal to
 * connection_refused and stays open (Twisted's epoll reactor closes it); an
 * unconnected port never hears of it. Every case runs on 127.0.0.1 and ::1. */
#include "helpers.h"
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const ips[] = {"127.0.0.1", "::1"};

/* A port on ip connected to a port nobody listens on. */
static dg_port *connected_to_dead(dg_reactor *r, t_rec *rec, const char *ip, int *dead)
{
    dg_port *p = t_listen(r, rec, ip);
    *dead = t_dead_port(ip);
    assert_int_equal(dg_port_connect(p, ip, *dead), 0);
    return p;
}

/* The refusal arrives while the port is idle: epoll and poll report an error
 * without readability. connection_refused runs once; the port stays open,
 * with its transport, and keeps sending and receiving. */
static void test_idle_refusal(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        const char *ip = ips[f];
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Client");
        int dead;
        dg_port *p = connected_to_dead(r, &rec, ip, &dead);
        assert_int_equal(dg_port_write(p, "x", 1, NULL), 1);
        t_wait_poll(dg_port_fd(p), POLLERR);
        /* Error without readability: the case Twisted's epoll reactor closes on. */
        assert_int_equal(t_poll_now(dg_port_fd(p)), POLLERR);

        T_RUN_UNTIL(r, rec.refused == 1);
        t_turn(r, 3);
        assert_int_equal(rec.refused, 1);
        assert_int_equal(rec.stopped, 0);
        assert_ptr_equal(rec.proto.transport, p);
        assert_int_equal(t_stats(p).refused, 1);
        assert_int_equal(t_stats(p).rx_errors, 0);

        /* Still usable: a live peer on that port now gets our datagram and
         * its answer is delivered. */
        int peer = t_peer_at(ip, dead);
        assert_int_equal(dg_port_write(p, "again", 5, NULL), 5);
        char buf[16];
        int from;
        assert_int_equal(t_peer_recv(peer, buf, sizeof buf, &from), 5);
        assert_memory_equal(buf, "again", 5);
        assert_int_equal(from, t_port_number(p));
        t_peer_send(peer, "back", 4, ip, from);
        T_RUN_UNTIL(r, rec.npackets == 1);
        assert_memory_equal(rec.packets[0].data, "back", 4);
        assert_int_equal(rec.refused, 1);
        close(peer);
        dg_reactor_free(r);
        assert_int_equal(rec.stopped, 1);
        t_rec_free(&rec);
    }
}

/* The refusal is still pending when the protocol writes again: the write
 * returns its length, connection_refused runs on the next iteration (never
 * inside the write), and this datagram is not lost with the error. */
static int refused_inside_write;
static void test_write_path_refusal(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        const char *ip = ips[f];
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Client");
        int dead;
        dg_port *p = connected_to_dead(r, &rec, ip, &dead);
        assert_int_equal(dg_port_write(p, "lost", 4, NULL), 4);
        t_wait_poll(dg_port_fd(p), POLLERR); /* not read: the reactor has not turned */

        /* The peer comes alive; the kernel still holds the old refusal. */
        int peer = t_peer_at(ip, dead);
        assert_int_equal(dg_port_write(p, "kept", 4, NULL), 4);
        refused_inside_write = rec.refused;
        assert_int_equal(refused_inside_write, 0);
        assert_int_equal(t_stats(p).refused, 1);

        char buf[16];
        assert_int_equal(t_peer_recv(peer, buf, sizeof buf, NULL), 4);
        assert_memory_equal(buf, "kept", 4);
        T_RUN_UNTIL(r, rec.refused == 1);
        t_turn(r, 3);
        assert_int_equal(rec.refused, 1);
        assert_false(t_peer_pending(peer)); /* sent once, not twice */
        assert_int_equal(rec.stopped, 0);
        assert_ptr_equal(rec.proto.transport, p);
        dg_port_stats s = t_stats(p);
        assert_int_equal(s.refused, 1);
        assert_int_equal(s.tx_datagrams, 2);
        assert_int_equal(s.tx_errors, 0);
        close(peer);
        dg_reactor_free(r);
        t_rec_free(&rec);
    }
}

/* Data queued and a refusal pending (item 32 with real sockets): the kernel
 * reports the refusal first; both datagrams are still delivered, in order,
 * and the port stays open. */
static int packets_at_refusal;
static void note_refusal(t_rec *rec)
{
    packets_at_refusal = rec->npackets;
}

static void test_refusal_with_data_queued(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        const char *ip = ips[f];
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Client");
        rec.on_refused = note_refusal;
        int peer_port;
        int peer = t_peer(ip, &peer_port);
        dg_port *p = t_listen(r, &rec, ip);
        assert_int_equal(dg_port_connect(p, ip, peer_port), 0);
        t_peer_send(peer, "a", 1, ip, t_port_number(p));
        t_peer_send(peer, "b", 1, ip, t_port_number(p));
        close(peer); /* now dead: our write draws the ICMP */
        assert_int_equal(dg_port_write(p, "x", 1, NULL), 1);
        t_wait_poll(dg_port_fd(p), POLLERR);
        assert_int_equal(t_poll_now(dg_port_fd(p)), POLLIN | POLLERR);

        packets_at_refusal = -1;
        T_RUN_UNTIL(r, rec.refused == 1 && rec.npackets == 2);
        assert_int_equal(packets_at_refusal, 0);
        assert_memory_equal(rec.packets[0].data, "a", 1);
        assert_memory_equal(rec.packets[1].data, "b", 1);
        t_turn(r, 3);
        assert_int_equal(rec.refused, 1);
        assert_int_equal(rec.stopped, 0);
        assert_ptr_equal(rec.proto.transport, p);
        assert_int_equal(t_stats(p).refused, 1);
        assert_int_equal(t_stats(p).rx_datagrams, 2);
        dg_reactor_free(r);
        t_rec_free(&rec);
    }
}

/* Item 31: an unconnected port writing to a dead port is never closed and
 * never told (Linux reports no ICMP errors on unconnected sockets). */
static void test_unconnected_never_refused(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        const char *ip = ips[f];
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Server");
        dg_port *p = t_listen(r, &rec, ip);
        dg_addr dead = t_addr(ip, t_dead_port(ip));
        for (int i = 0; i < 10; i++) {
            assert_int_equal(dg_port_write(p, "x", 1, &dead), 1);
            t_turn(r, 1);
        }
        /* A live peer's datagram marks that the reactor has been through
         * everything the writes caused. */
        int peer = t_peer(ip, NULL);
        t_peer_send(peer, "ping", 4, ip, t_port_number(p));
        T_RUN_UNTIL(r, rec.npackets == 1);
        assert_int_equal(rec.refused, 0);
        assert_int_equal(rec.stopped, 0);
        assert_ptr_equal(rec.proto.transport, p);
        dg_port_stats s = t_stats(p);
        assert_int_equal(s.refused, 0);
        assert_int_equal(s.tx_datagrams, 10);
        assert_int_equal(s.rx_errors, 0);
        close(peer);
        dg_reactor_free(r);
        t_rec_free(&rec);
    }
}

/* Item 34 (test_connectionRefused): ten connected writes to a dead port make
 * connection_refused fire; an unconnected server writing there too keeps
 * working. */
static void test_connection_refused_item34(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        const char *ip = ips[f];
        dg_reactor *r = t_reactor(false);
        t_rec client, server;
        t_rec_init(&client, "Client");
        t_rec_init(&server, "Server");
        int dead;
        dg_port *c = connected_to_dead(r, &client, ip, &dead);
        dg_port *s = t_listen(r, &server, ip);
        dg_addr to = t_addr(ip, dead);
        char msg[8];
        for (int i = 0; i < 10; i++) {
            int n = snprintf(msg, sizeof msg, "%d", i);
            assert_int_equal(dg_port_write(c, msg, (size_t)n, NULL), n);
            assert_int_equal(dg_port_write(s, msg, (size_t)n, &to), n);
        }
        T_RUN_UNTIL(r, client.refused >= 1);
        assert_int_equal(client.stopped, 0);
        assert_ptr_equal(client.proto.transport, c);
        /* Every refusal is counted; refusals reported within one iteration
         * share one callback. */
        dg_port_stats cs = t_stats(c);
        assert_true(cs.refused >= (uint64_t)client.refused);
        assert_int_equal(cs.tx_datagrams, 10);
        assert_int_equal(cs.tx_errors, 0);

        int peer_port;
        int peer = t_peer(ip, &peer_port);
        t_peer_send(peer, "hi", 2, ip, t_port_number(s));
        T_RUN_UNTIL(r, server.npackets == 1);
        dg_addr back = t_addr(ip, peer_port);
        assert_int_equal(dg_port_write(s, "ok", 2, &back), 2);
        char buf[8];
        assert_int_equal(t_peer_recv(peer, buf, sizeof buf, NULL), 2);
        assert_int_equal(server.refused, 0);
        assert_int_equal(server.stopped, 0);
        assert_int_equal(t_stats(s).refused, 0);
        close(peer);
        dg_reactor_free(r);
        assert_int_equal(client.stopped, 1);
        assert_int_equal(server.stopped, 1);
        t_rec_free(&client);
        t_rec_free(&server);
    }
}

/* Inside connection_refused the protocol may stop or close its port. */
static int done_calls;
static void on_done(dg_port *p, void *arg)
{
    (void)p;
    (void)arg;
    done_calls++;
}
static void stop_on_refusal(t_rec *rec)
{
    assert_int_equal(dg_port_stop_listening(rec->proto.transport, on_done, NULL), 0);
    assert_int_equal(rec->stopped, 0); /* later, not inside */
}
static void close_on_refusal(t_rec *rec)
{
    assert_int_equal(dg_port_close(rec->proto.transport), 0);
    assert_int_equal(rec->stopped, 1);
}

static void run_refusal_hook(const char *ip, t_hook hook, bool write_path)
{
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Client");
    rec.on_refused = hook;
    int dead;
    int fds = t_open_fds();
    dg_port *p = connected_to_dead(r, &rec, ip, &dead);
    assert_int_equal(dg_port_write(p, "x", 1, NULL), 1);
    t_wait_poll(dg_port_fd(p), POLLERR);
    if (write_path)
        assert_int_equal(dg_port_write(p, "y", 1, NULL), 1);
    done_calls = 0;
    T_RUN_UNTIL(r, rec.stopped == 1);
    t_turn(r, 2);
    assert_int_equal(rec.refused, 1);
    assert_int_equal(rec.stopped, 1);
    assert_null(rec.proto.transport);
    assert_int_equal(done_calls, hook == stop_on_refusal ? 1 : 0);
    assert_int_equal(t_open_fds(), fds);
    dg_reactor_free(r);
    assert_int_equal(rec.stopped, 1);
    t_rec_free(&rec);
}

static void test_stop_or_close_in_refused(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++)
        for (int w = 0; w < 2; w++) {
            run_refusal_hook(ips[f], stop_on_refusal, w);
            run_refusal_hook(ips[f], close_on_refusal, w);
        }
}

/* A user who turns on IP_RECVERR (through dg_port_fd) also gets the error
 * queue, which keeps the descriptor in error until drained; the port must
 * neither close nor spin (libuv#4447), and on an unconnected port the
 * refusal stays silent. */
static void test_recverr_error_queue(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        const char *ip = ips[f];
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Server");
        dg_port *p = t_listen(r, &rec, ip);
        int on = 1;
        if (f == 0)
            assert_int_equal(setsockopt(dg_port_fd(p), IPPROTO_IP, IP_RECVERR, &on, sizeof on), 0);
        else
            assert_int_equal(setsockopt(dg_port_fd(p), IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on), 0);
        dg_addr dead = t_addr(ip, t_dead_port(ip));
        assert_int_equal(dg_port_write(p, "x", 1, &dead), 1);
        t_wait_poll(dg_port_fd(p), POLLERR);

        /* Each turn either reports something or finds nothing to do; a
         * descriptor left in error would be dispatched on every one. */
        t_turn(r, 3);
        assert_int_equal(dg_reactor_run_once(r, 0), 0);
        assert_int_equal(t_poll_now(dg_port_fd(p)), 0);
        assert_int_equal(rec.refused, 0);
        assert_int_equal(rec.stopped, 0);
        assert_ptr_equal(rec.proto.transport, p);

        int peer = t_peer(ip, NULL);
        t_peer_send(peer, "ping", 4, ip, t_port_number(p));
        T_RUN_UNTIL(r, rec.npackets == 1);
        close(peer);
        dg_reactor_free(r);
        t_rec_free(&rec);
    }
}


/* Item 33 (test_readUnknownError) with real sockets: an ICMP error other
 * than port-unreachable on a connected port. Twisted re-raises it and its
 * reactor closes the port; here it is counted and logged, and the port stays
 * open and keeps reading. Loopback never produces one by itself, so it is
 * forged with a raw socket ("administratively prohibited": EHOSTUNREACH over
 * IPv4, EACCES over IPv6, both hard errors a connected socket reports). */
static uint16_t inet_sum(const void *data, size_t len)
{
    const unsigned char *b = data;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (len & 1)
        sum += (uint32_t)b[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

/* Send the ICMP error about a datagram from local to remote; false if raw
 * sockets are not allowed here. */
static bool forge_prohibited(const dg_addr *local, const dg_addr *remote)
{
    unsigned char pkt[8 + 40 + 8] = {0};
    size_t len;
    struct udphdr *uh;
    int fd;
    if (dg_addr_family(local) == AF_INET) {
        fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
        struct icmphdr *ic = (struct icmphdr *)pkt;
        struct iphdr *ip = (struct iphdr *)(pkt + 8);
        ic->type = ICMP_DEST_UNREACH;
        ic->code = ICMP_PKT_FILTERED;
        ip->version = 4;
        ip->ihl = 5;
        ip->ttl = 64;
        ip->protocol = IPPROTO_UDP;
        ip->tot_len = htons(20 + 8 + 1);
        ip->saddr = local->u.in4.sin_addr.s_addr;
        ip->daddr = remote->u.in4.sin_addr.s_addr;
        ip->check = inet_sum(ip, 20);
        uh = (struct udphdr *)(pkt + 8 + 20);
        len = 8 + 20 + 8;
    } else {
        fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
        struct icmp6_hdr *ic = (struct icmp6_hdr *)pkt;
        struct ip6_hdr *ip = (struct ip6_hdr *)(pkt + 8);
        ic->icmp6_type = ICMP6_DST_UNREACH;
        ic->icmp6_code = ICMP6_DST_UNREACH_ADMIN;
        ip->ip6_flow = htonl(6u << 28);
        ip->ip6_plen = htons(8 + 1);
        ip->ip6_nxt = IPPROTO_UDP;
        ip->ip6_hlim = 64;
        ip->ip6_src = local->u.in6.sin6_addr;
        ip->ip6_dst = remote->u.in6.sin6_addr;
        uh = (struct udphdr *)(pkt + 8 + 40);
        len = 8 + 40 + 8;
    }
    if (fd < 0) {
        assert_true(errno == EPERM || errno == EACCES);
        return false;
    }
    uh->source = htons((uint16_t)dg_addr_port(local));
    uh->dest = htons((uint16_t)dg_addr_port(remote));
    uh->len = htons(8 + 1);
    if (dg_addr_family(local) == AF_INET)
        ((struct icmphdr *)pkt)->checksum = inet_sum(pkt, len); /* ICMPv6: the kernel's */
    /* To the local address the error is about; raw sockets take no port. */
    dg_addr to = *local;
    if (dg_addr_family(&to) == AF_INET)
        to.u.in4.sin_port = 0;
    else
        to.u.in6.sin6_port = 0;
    socklen_t alen;
    const struct sockaddr *sa = dg_addr_sockaddr(&to, &alen);
    assert_int_equal(sendto(fd, pkt, len, 0, sa, alen), (ssize_t)len);
    close(fd);
    return true;
}

static void test_other_read_error_keeps_port(void **state)
{
    (void)state;
    for (size_t f = 0; f < 2; f++) {
        const char *ip = ips[f];
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Client");
        int peer_port;
        int peer = t_peer(ip, &peer_port);
        dg_port *p = t_listen(r, &rec, ip);
        assert_int_equal(dg_port_connect(p, ip, peer_port), 0);
        dg_addr local, remote;
        assert_int_equal(dg_port_get_host(p, &local), 0);
        assert_int_equal(dg_port_get_peer(p, &remote), 0);
        if (!forge_prohibited(&local, &remote)) {
            close(peer);
            dg_reactor_free(r);
            skip(); /* needs CAP_NET_RAW to forge the ICMP error */
        }
        t_wait_poll(dg_port_fd(p), POLLERR);
        assert_int_equal(t_poll_now(dg_port_fd(p)), POLLERR);
        T_RUN_UNTIL(r, t_stats(p).rx_errors == 1);
        t_turn(r, 2);
        dg_port_stats s = t_stats(p);
        assert_int_equal(s.rx_errors, 1);
        assert_int_equal(s.refused, 0);
        assert_int_equal(rec.refused, 0);
        assert_int_equal(rec.stopped, 0);
        assert_ptr_equal(rec.proto.transport, p);
        char line[128];
        snprintf(line, sizeof line, "(UDP Port %d) receive error: %s", t_port_number(p),
                 dg_strerror(f == 0 ? -EHOSTUNREACH : -EACCES));
        assert_true(t_log_find(line) >= 0);

        t_peer_send(peer, "still", 5, ip, t_port_number(p));
        T_RUN_UNTIL(r, rec.npackets == 1);
        assert_int_equal(dg_port_write(p, "yes", 3, NULL), 3);
        char buf[8];
        assert_int_equal(t_peer_recv(peer, buf, sizeof buf, NULL), 3);
        close(peer);
        dg_reactor_free(r);
        t_rec_free(&rec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_refusal),
        cmocka_unit_test(test_write_path_refusal),
        cmocka_unit_test(test_refusal_with_data_queued),
        cmocka_unit_test(test_unconnected_never_refused),
        cmocka_unit_test(test_connection_refused_item34),
        cmocka_unit_test(test_stop_or_close_in_refused),
        cmocka_unit_test(test_recverr_error_queue),
        cmocka_unit_test(test_other_read_error_keeps_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
