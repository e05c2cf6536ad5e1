/* Multicast and broadcast: the behaviour spec's section 3 G (items 35-41),
 * for IPv4 and IPv6, and issue 4's errors, source-specific joins,
 * IP_MULTICAST_ALL and broadcast permission.
 *
 * Everything that joins or sends runs in a network namespace of the test's
 * own (made in main(), needs root), so no report or datagram can leave the
 * machine: there lo carries IPv4 groups (route 224.0.0.0/4), and a veth pair
 * dgmc0/dgmc1 carries IPv6 ones, because Linux's lo drops IPv6 multicast
 * (its neighbour set-up fails: Ip6OutNoRoutes) even with MULTICAST set. The
 * process is pinned to one CPU so the kernel's receive backlog keeps the
 * order of what it sends: a unicast marker sent after a datagram that must
 * not arrive proves it did not, without sleeping. */
#include "helpers.h"
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct fam {
    const char *bind;     /* wildcard to listen on */
    const char *group, *group2;
    const char *iface;    /* joins and sends go through it (NULL: by route) */
    const char *ifname, *ifaddr; /* the interface groups use, and its address */
    const char *host;     /* this host, for unicast markers */
    const char *src1, *src2; /* two local addresses to send from */
} fam;

static const fam V4 = {"", "225.0.0.250", "225.0.0.251", NULL, "dgmc0", "10.77.0.1",
                       "127.0.0.1", "10.77.0.1", "10.77.0.2"};
static const fam V6 = {"::", "ff12::1234", "ff12::1235", "dgmc0", "dgmc0", "fd00:db::1",
                       "::1", "fd00:db::1", "fd00:db::2"};

static bool in_ns;
static char ns_why[160] = "";

static void need_ns(void)
{
    if (!in_ns) {
        printf("SKIP: %s\n", ns_why);
        skip();
    }
}

static dg_port *mc_listen(dg_reactor *r, t_rec *rec, const fam *f, int port, bool multiple)
{
    dg_multicast_options o;
    dg_multicast_options_init(&o);
    o.interface = f->bind;
    o.listen_multiple = multiple;
    dg_port *p = NULL;
    int rc = dg_listen_multicast(r, port, &rec->proto, &o, &p);
    if (rc < 0)
        fail_msg("listen_multicast: %s (%s)", dg_strerror(rc), dg_reactor_last_error(r));
    if (f->iface)
        assert_int_equal(dg_port_set_multicast_interface(p, f->iface), 0);
    return p;
}

static void send_to(dg_port *p, const char *text, const char *ip, int port)
{
    dg_addr to = t_addr(ip, port);
    assert_int_equal(dg_port_write(p, text, strlen(text), &to), (int)strlen(text));
}

static bool packet_is(const t_rec *rec, int i, const char *text)
{
    return i < rec->npackets && rec->packets[i].len == strlen(text) &&
           memcmp(rec->packets[i].data, text, strlen(text)) == 0;
}

static bool error_mentions(dg_reactor *r, const char *a, const char *b)
{
    const char *e = dg_reactor_last_error(r);
    return strstr(e, a) && strstr(e, b);
}

/* 35. testTTL: 1 by default, settable; 0..255 only. */
static void test_ttl(void **state)
{
    const fam *f = *state;
    dg_reactor *r = t_reactor(false);
    t_rec a;
    t_rec_init(&a, "Server");
    dg_port *p = mc_listen(r, &a, &(fam){.bind = f->bind}, 0, false);
    assert_int_equal(dg_port_get_multicast_ttl(p), 1);
    assert_int_equal(dg_port_set_multicast_ttl(p, 2), 0);
    assert_int_equal(dg_port_get_multicast_ttl(p), 2);
    assert_int_equal(dg_port_set_multicast_ttl(p, 0), 0);
    assert_int_equal(dg_port_get_multicast_ttl(p), 0);
    assert_int_equal(dg_port_set_multicast_ttl(p, 256), -EINVAL);
    assert_non_null(strstr(dg_reactor_last_error(r), "256"));
    assert_int_equal(dg_port_set_multicast_ttl(p, -1), -EINVAL);
    assert_int_equal(dg_port_get_multicast_ttl(p), 0);
    assert_int_equal(dg_port_set_multicast_ttl(p, 255), 0);
    assert_int_equal(dg_port_get_multicast_ttl(p), 255);
    dg_reactor_free(r);
}

/* 36. test_loopback: on by default, so the sender hears its own group
 * datagram; off, it does not (the marker arrives alone). Any nonzero is 1. */
static void test_loopback(void **state)
{
    const fam *f = *state;
    need_ns();
    dg_reactor *r = t_reactor(false);
    t_rec a;
    t_rec_init(&a, "Server");
    dg_port *p = mc_listen(r, &a, f, 0, false);
    int port = t_port_number(p);
    assert_int_equal(dg_port_get_multicast_loop(p), 1);
    assert_int_equal(dg_port_join_group(p, f->group, f->iface), 0);
    send_to(p, "hello", f->group, port);
    T_RUN_UNTIL(r, a.npackets == 1);
    assert_true(packet_is(&a, 0, "hello"));

    assert_int_equal(dg_port_set_multicast_loop(p, 5), 0);
    assert_int_equal(dg_port_get_multicast_loop(p), 1);
    assert_int_equal(dg_port_set_multicast_loop(p, 0), 0);
    assert_int_equal(dg_port_get_multicast_loop(p), 0);
    send_to(p, "not looped", f->group, port);
    send_to(p, "marker", f->host, port);
    T_RUN_UNTIL(r, a.npackets >= 2);
    assert_true(packet_is(&a, 1, "marker"));
    t_turn(r, 2);
    assert_int_equal(a.npackets, 2);
    t_rec_free(&a);
    dg_reactor_free(r);
}

/* 37. test_interface: "0.0.0.0" (IPv6: "") by default; set by address,
 * name or index; unknown ones are -ENODEV and change nothing. */
static void test_interface(void **state)
{
    const fam *f = *state;
    bool v4 = f == &V4;
    dg_reactor *r = t_reactor(false);
    t_rec a;
    t_rec_init(&a, "Server");
    dg_port *p = mc_listen(r, &a, &(fam){.bind = f->bind}, 0, false);
    char buf[64];
    const char *lo_shown = v4 ? "127.0.0.1" : "lo";
    assert_int_equal(dg_port_get_multicast_interface(p, buf, sizeof buf), v4 ? 7 : 0);
    assert_string_equal(buf, v4 ? "0.0.0.0" : "");
    const char *forms[] = {v4 ? "127.0.0.1" : "::1", "lo", "1"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(dg_port_set_multicast_interface(p, ""), 0);
        assert_int_equal(dg_port_set_multicast_interface(p, forms[i]), 0);
        assert_true(dg_port_get_multicast_interface(p, buf, sizeof buf) > 0);
        assert_string_equal(buf, lo_shown);
    }
    assert_int_equal(dg_port_set_multicast_interface(p, "nosuch0"), -ENODEV);
    assert_true(error_mentions(r, "nosuch0", "No such device"));
    assert_int_equal(dg_port_set_multicast_interface(p, v4 ? "10.255.255.1" : "fd00:ffff::1"), -ENODEV);
    assert_int_equal(dg_port_get_multicast_interface(p, buf, sizeof buf), (int)strlen(lo_shown));
    assert_int_equal(dg_port_get_multicast_interface(p, buf, strlen(lo_shown)), -ENOSPC);
    assert_int_equal(dg_port_set_multicast_interface(p, v4 ? "0.0.0.0" : "::"), 0);
    assert_int_equal(dg_port_get_multicast_interface(p, buf, sizeof buf), v4 ? 7 : 0);
    dg_reactor_free(r);
}

/* 38. test_joinLeave: both ports join and leave in turn; the interface may
 * be given by route, name, index or address, and one form leaves another's
 * join. */
static void test_join_leave(void **state)
{
    const fam *f = *state;
    need_ns();
    dg_reactor *r = t_reactor(false);
    t_rec a, b;
    t_rec_init(&a, "Server");
    t_rec_init(&b, "Client");
    dg_port *server = mc_listen(r, &a, f, 0, false);
    dg_port *client = mc_listen(r, &b, f, 0, false);
    assert_int_equal(dg_port_join_group(client, f->group, NULL), 0);
    assert_int_equal(dg_port_leave_group(client, f->group, NULL), 0);
    assert_int_equal(dg_port_join_group(server, f->group, NULL), 0);
    assert_int_equal(dg_port_leave_group(server, f->group, ""), 0);

    const char *name = f->ifname, *address = f->ifaddr;
    char index[16];
    snprintf(index, sizeof index, "%u", if_nametoindex(name));
    assert_int_equal(dg_port_join_group(server, f->group, name), 0);
    assert_int_equal(dg_port_leave_group(server, f->group, index), 0);
    assert_int_equal(dg_port_join_group(server, f->group, address), 0);
    assert_int_equal(dg_port_leave_group(server, f->group, name), 0);
    assert_int_equal(dg_port_leave_group(server, f->group, name), -EADDRNOTAVAIL);
    dg_reactor_free(r);
}

/* 39. test_joinFailure: a unicast address is no group; the message names
 * group, interface and reason, as MulticastJoinError. */
static void test_join_failure(void **state)
{
    const fam *f = *state;
    dg_reactor *r = t_reactor(false);
    t_rec a;
    t_rec_init(&a, "Server");
    dg_port *p = mc_listen(r, &a, &(fam){.bind = f->bind}, 0, false);
    assert_int_equal(dg_port_join_group(p, f->host, NULL), -EINVAL);
    char want[128];
    snprintf(want, sizeof want, "Couldn't join multicast group %s on interface any: not a "
             "multicast address.", f->host);
    assert_string_equal(dg_reactor_last_error(r), want);
    assert_int_equal(dg_port_join_group(p, "no.such.host", NULL), -EINVAL);
    assert_int_equal(dg_port_join_group(p, NULL, NULL), -EINVAL);
    assert_int_equal(dg_port_join_group(p, f == &V4 ? V6.group : V4.group, NULL), -EAFNOSUPPORT);
    assert_true(error_mentions(r, f == &V4 ? V6.group : V4.group, "port"));
    assert_int_equal(dg_port_join_group(NULL, f->group, NULL), -EBADF);
    dg_reactor_free(r);
}

/* Joining twice, leaving a group never joined, unknown interfaces. */
static void test_join_errors(void **state)
{
    const fam *f = *state;
    need_ns();
    dg_reactor *r = t_reactor(false);
    t_rec a;
    t_rec_init(&a, "Server");
    dg_port *p = mc_listen(r, &a, f, 0, false);
    assert_int_equal(dg_port_join_group(p, f->group, f->iface), 0);
    assert_int_equal(dg_port_join_group(p, f->group, f->iface), -EADDRINUSE);
    assert_true(error_mentions(r, f->group, "Address already in use"));
    assert_int_equal(dg_port_leave_group(p, f->group2, f->iface), -EADDRNOTAVAIL);
    assert_true(error_mentions(r, f->group2, "leave"));
    assert_int_equal(dg_port_join_group(p, f->group2, "nosuch0"), -ENODEV);
    assert_true(error_mentions(r, f->group2, "on interface nosuch0: No such device"));
    assert_int_equal(dg_port_join_group(p, f->group2, "999"), -ENODEV);
    assert_int_equal(dg_port_join_group(p, f->group2, f == &V4 ? "10.255.255.1" : "fd00:ffff::1"),
                     -ENODEV);
    dg_reactor_free(r);
}

/* 40. test_multicast: a third port's write to the group reaches the member. */
static void test_multicast(void **state)
{
    const fam *f = *state;
    need_ns();
    dg_reactor *r = t_reactor(false);
    t_rec a, c;
    t_rec_init(&a, "Server");
    t_rec_init(&c, "Sender");
    dg_port *server = mc_listen(r, &a, f, 0, false);
    dg_port *sender = mc_listen(r, &c, f, 0, false);
    assert_int_equal(dg_port_join_group(server, f->group, f->iface), 0);
    send_to(sender, "hello world", f->group, t_port_number(server));
    T_RUN_UNTIL(r, a.npackets == 1);
    assert_true(packet_is(&a, 0, "hello world"));
    assert_int_equal(dg_addr_port(&a.packets[0].from), t_port_number(sender));
    assert_int_equal(c.npackets, 0);
    t_rec_free(&a);
    dg_reactor_free(r);
}

/* 41. test_multiListen: two listen_multiple ports on one number both get
 * the group datagram; a port without it on that number is refused. */
static void test_multi_listen(void **state)
{
    const fam *f = *state;
    need_ns();
    dg_reactor *r = t_reactor(false);
    t_rec a, b, c, d;
    t_rec_init(&a, "First");
    t_rec_init(&b, "Second");
    t_rec_init(&c, "Sender");
    t_rec_init(&d, "Third");
    dg_port *first = mc_listen(r, &a, f, 0, true);
    int port = t_port_number(first);
    dg_port *second = mc_listen(r, &b, f, port, true);
    dg_port *sender = mc_listen(r, &c, f, 0, false);
    assert_int_equal(dg_port_join_group(first, f->group, f->iface), 0);
    assert_int_equal(dg_port_join_group(second, f->group, f->iface), 0);
    send_to(sender, "both", f->group, port);
    T_RUN_UNTIL(r, a.npackets == 1 && b.npackets == 1);
    assert_true(packet_is(&a, 0, "both") && packet_is(&b, 0, "both"));

    dg_multicast_options o;
    dg_multicast_options_init(&o);
    o.interface = f->bind;
    dg_port *third = NULL;
    assert_int_equal(dg_listen_multicast(r, port, &d.proto, &o, &third), -EADDRINUSE);
    assert_null(third);
    dg_listen_options lo;
    dg_listen_options_init(&lo);
    lo.interface = f->bind;
    assert_int_equal(dg_listen_udp(r, port, &d.proto, &lo, &third), -EADDRINUSE);
    t_rec_free(&a);
    t_rec_free(&b);
    dg_reactor_free(r);
}

/* A raw socket sharing the port, with the kernel's default IP_MULTICAST_ALL. */
static int leaky_peer(const fam *f, int port)
{
    dg_addr at = t_addr(*f->bind ? f->bind : "0.0.0.0", port);
    int fd = socket(dg_addr_family(&at), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on), 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on), 0);
    socklen_t len;
    const struct sockaddr *sa = dg_addr_sockaddr(&at, &len);
    assert_int_equal(bind(fd, sa, len), 0);
    return fd;
}

/* IP_MULTICAST_ALL off: a port gets only the groups it joined, though
 * another socket on the host joined more on the same port number. The raw
 * socket with Linux's default shows what the setting prevents. */
static void test_multicast_all(void **state)
{
    const fam *f = *state;
    need_ns();
    dg_reactor *r = t_reactor(false);
    t_rec a, b, c;
    t_rec_init(&a, "Quiet");
    t_rec_init(&b, "Member");
    t_rec_init(&c, "Sender");
    dg_port *quiet = mc_listen(r, &a, f, 0, true);
    int port = t_port_number(quiet);
    dg_port *member = mc_listen(r, &b, f, port, true);
    dg_port *sender = mc_listen(r, &c, f, 0, false);
    int raw = leaky_peer(f, port);
    assert_int_equal(dg_port_join_group(member, f->group, f->iface), 0);
    send_to(sender, "for members", f->group, port);
    assert_int_equal(dg_port_join_group(quiet, f->group2, f->iface), 0);
    send_to(sender, "for quiet", f->group2, port);
    T_RUN_UNTIL(r, a.npackets >= 1 && b.npackets >= 1);
    t_turn(r, 2);
    assert_int_equal(a.npackets, 1);
    assert_true(packet_is(&a, 0, "for quiet"));
    assert_int_equal(b.npackets, 1);
    assert_true(packet_is(&b, 0, "for members"));
    char buf[32];
    size_t n = t_peer_recv(raw, buf, sizeof buf, NULL);
    assert_memory_equal(buf, "for members", n);
    close(raw);
    t_rec_free(&a);
    t_rec_free(&b);
    dg_reactor_free(r);
}

/* Source-specific membership: only the joined source's datagrams arrive. */
static void test_source_group(void **state)
{
    const fam *f = *state;
    need_ns();
    dg_reactor *r = t_reactor(false);
    t_rec a, s1, s2;
    t_rec_init(&a, "Server");
    t_rec_init(&s1, "Wanted");
    t_rec_init(&s2, "Other");
    dg_port *server = mc_listen(r, &a, f, 0, false);
    int port = t_port_number(server);
    dg_port *wanted = mc_listen(r, &s1, &(fam){.bind = f->src1, .iface = f->iface}, 0, false);
    dg_port *other = mc_listen(r, &s2, &(fam){.bind = f->src2, .iface = f->iface}, 0, false);
    assert_int_equal(dg_port_join_source_group(server, f->group, f->src1, f->iface), 0);
    assert_int_equal(dg_port_join_source_group(server, f->group, f->src1, f->iface), -EADDRINUSE);
    assert_true(error_mentions(r, f->group, f->src1));
    send_to(other, "other", f->group, port);
    send_to(wanted, "wanted", f->group, port);
    T_RUN_UNTIL(r, a.npackets >= 1);
    t_turn(r, 2);
    assert_int_equal(a.npackets, 1);
    assert_true(packet_is(&a, 0, "wanted"));
    dg_addr src = t_addr(f->src1, t_port_number(wanted));
    assert_true(dg_addr_equal(&a.packets[0].from, &src));

    assert_int_equal(dg_port_leave_source_group(server, f->group, f->src1, f->iface), 0);
    assert_int_equal(dg_port_leave_source_group(server, f->group, f->src1, f->iface), -EADDRNOTAVAIL);
    assert_int_equal(dg_port_join_source_group(server, f->group, NULL, f->iface), -EINVAL);
    assert_int_equal(dg_port_join_source_group(server, f->group, f == &V4 ? V6.src1 : V4.src1,
                                               f->iface), -EAFNOSUPPORT);
    t_rec_free(&a);
    dg_reactor_free(r);
}

/* Broadcast needs permission: -EACCES for "<broadcast>" and for the subnet's
 * broadcast address until dg_port_set_broadcast_allowed(). */
static void test_broadcast(void **state)
{
    (void)state;
    need_ns();
    dg_reactor *r = t_reactor(false);
    t_rec a, b;
    t_rec_init(&a, "Receiver");
    t_rec_init(&b, "Sender");
    dg_port *receiver = t_listen(r, &a, "");
    dg_port *sender = t_listen(r, &b, "10.77.0.1");
    int port = t_port_number(receiver);
    dg_addr all = t_addr("<broadcast>", port), subnet = t_addr("10.77.0.255", port);
    assert_int_equal(dg_port_get_broadcast_allowed(sender), 0);
    assert_int_equal(dg_port_write(sender, "x", 1, &all), -EACCES);
    assert_int_equal(dg_port_write(sender, "x", 1, &subnet), -EACCES);
    assert_int_equal(dg_port_set_broadcast_allowed(sender, true), 0);
    assert_int_equal(dg_port_get_broadcast_allowed(sender), 1);
    assert_int_equal(dg_port_write(sender, "all", 3, &all), 3);
    assert_int_equal(dg_port_write(sender, "subnet", 6, &subnet), 6);
    T_RUN_UNTIL(r, a.npackets == 2);
    assert_true(packet_is(&a, 0, "all") && packet_is(&a, 1, "subnet"));
    t_rec_free(&a);
    dg_reactor_free(r);
}

/* lo for IPv4 groups, a veth pair for IPv6 ones (see the top), and a subnet
 * with a broadcast address; all of it dies with the process. */
static void make_namespace(void)
{
    if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
        snprintf(ns_why, sizeof ns_why, "joining and sending need a network namespace of the "
                 "test's own, and that needs root (%s)", geteuid() ? "not root" : dg_strerror(-errno));
        return;
    }
    const char *setup =
        "set -e; exec >/dev/null 2>&1\n"
        "ip link set lo up\n"
        "ip link add dgmc0 type veth peer name dgmc1\n"
        "for i in dgmc0 dgmc1; do echo 0 > /proc/sys/net/ipv6/conf/$i/accept_dad; done\n"
        "ip link set dgmc0 up; ip link set dgmc1 up\n"
        "ip -6 addr add fd00:db::1/64 dev dgmc0 nodad; ip -6 addr add fd00:db::2/64 dev dgmc0 nodad\n"
        "ip addr add 10.77.0.1/24 broadcast + dev dgmc0; ip addr add 10.77.0.2/24 dev dgmc0\n"
        "ip route add 224.0.0.0/4 dev dgmc0\n";
    if (system(setup) != 0) {
        snprintf(ns_why, sizeof ns_why, "could not set up the test's namespace with ip(8)");
        return;
    }
    in_ns = true;
}

int main(void)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() > 0 ? sched_getcpu() : 0, &one);
    sched_setaffinity(0, sizeof one, &one);
    make_namespace();
    const struct CMUnitTest tests[] = {
#define BOTH(t) cmocka_unit_test_prestate(t, (void *)&V4), cmocka_unit_test_prestate(t, (void *)&V6)
        BOTH(test_ttl),
        BOTH(test_loopback),
        BOTH(test_interface),
        BOTH(test_join_leave),
        BOTH(test_join_failure),
        BOTH(test_join_errors),
        BOTH(test_multicast),
        BOTH(test_multi_listen),
        BOTH(test_multicast_all),
        BOTH(test_source_group),
        cmocka_unit_test(test_broadcast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
