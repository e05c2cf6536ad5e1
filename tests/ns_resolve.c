/* Names against real resolvers, issue 3. Runs only inside the network
 * namespace tests/scripts/resolve_netns.sh makes, whose /etc/hosts holds
 * IPv4-only, IPv6-only and dual names under dgram.test, and whose
 * resolv.conf points at
 *   "dns":  dnsmasq on 127.0.0.1:53 (ok.dgram.test is 127.0.0.1,
 *           ok6.dgram.test ::1, any other *.dgram.test NXDOMAIN), or
 *   "hang": a socket on 127.0.0.2:53 that reads queries and never answers
 *           (resolver options timeout:2 attempts:1).
 * Usage: ns_resolve dns|hang. */
#include "helpers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct answer {
    int calls, status;
    size_t n;
    dg_addr first;
} answer;

static void on_answer(dg_reactor *r, int status, const dg_addr *addrs, size_t n, void *arg)
{
    (void)r;
    answer *a = arg;
    a->calls++;
    a->status = status;
    a->n = n;
    if (n)
        a->first = addrs[0];
}

static dg_connect_options family(int af)
{
    dg_connect_options o;
    dg_connect_options_init(&o);
    o.family = af;
    return o;
}

/* ---- "dns": /etc/hosts and dnsmasq ------------------------------------- */

/* Names from the namespace's /etc/hosts: the family option picks the
 * address, and a connected exchange works over each. */
static void test_hosts_families(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_echo e4, e6;
    int p4 = t_port_number(t_echo_listen(r, &e4, "127.0.0.1"));
    int p6 = t_port_number(t_echo_listen(r, &e6, "::1"));
    static const struct {
        const char *host;
        int family;
        const char *ip;
    } cases[] = {
        {"localhost", AF_UNSPEC, "127.0.0.1"},
        {"v6only.dgram.test", AF_UNSPEC, "::1"},
        {"v6only.dgram.test", AF_INET6, "::1"},
        {"v4only.dgram.test", AF_INET, "127.0.0.1"},
        {"both.dgram.test", AF_INET6, "::1"},
        {"both.dgram.test", AF_INET, "127.0.0.1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_rec rec;
        t_rec_init(&rec, "Client");
        int port = strchr(cases[i].ip, ':') ? p6 : p4;
        dg_connect_options o = family(cases[i].family);
        dg_addr peer;
        dg_port *p = t_connect_echo(r, &rec, cases[i].host, port, &o, &peer);
        dg_addr want = t_addr(cases[i].ip, port);
        if (!dg_addr_equal(&peer, &want))
            fail_msg("%s family %d: not %s", cases[i].host, cases[i].family, cases[i].ip);
        assert_int_equal(dg_port_close(p), 0);
        t_rec_free(&rec);
    }
    assert_int_equal(e4.echoed + e6.echoed, 6);
    dg_reactor_free(r);
}

/* An IPv4-only name asked for as IPv6: connection_failed with "not found",
 * the message naming the host; the port is gone and nothing is left open. */
static void test_hosts_wrong_family(void **state)
{
    (void)state;
    int fds = t_open_fds();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Client");
    dg_connect_options o = family(AF_INET6);
    assert_int_equal(t_connect_fail(r, &rec, "v4only.dgram.test", 9, &o), DG_ERR_NAME_NOT_FOUND);
    assert_string_equal(dg_reactor_last_error(r),
                        "DNS lookup failed: v4only.dgram.test: name not found.");
    t_turn(r, 2);
    dg_reactor_free(r);
    assert_int_equal(t_open_fds(), fds);
}

/* A name only the DNS server knows: resolved, then a connected exchange. */
static void test_dns_resolves(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_echo echo;
    int port = t_port_number(t_echo_listen(r, &echo, "127.0.0.1"));
    t_rec rec;
    t_rec_init(&rec, "Client");
    dg_addr peer;
    t_connect_echo(r, &rec, "ok.dgram.test", port, NULL, &peer);
    dg_addr want = t_addr("127.0.0.1", port);
    assert_true(dg_addr_equal(&peer, &want));
    answer v6 = {0};
    assert_int_equal(dg_lookup_start(r, "ok6.dgram.test", AF_INET6, 5, on_answer, &v6, NULL), 0);
    T_RUN_UNTIL(r, v6.calls);
    assert_int_equal(v6.status, 0);
    assert_int_equal(v6.n, 1);
    dg_addr want6 = t_addr("::1", 0);
    assert_true(dg_addr_equal(&v6.first, &want6));
    dg_reactor_free(r);
    t_rec_free(&rec);
}

/* NXDOMAIN: connection_failed(DG_ERR_NAME_NOT_FOUND), naming the host. */
static void test_dns_nxdomain(void **state)
{
    (void)state;
    int fds = t_open_fds();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Client");
    assert_int_equal(t_connect_fail(r, &rec, "no-such-host.dgram.test", 9, NULL),
                     DG_ERR_NAME_NOT_FOUND);
    assert_string_equal(dg_reactor_last_error(r),
                        "DNS lookup failed: no-such-host.dgram.test: name not found.");
    dg_reactor_free(r);
    assert_int_equal(t_open_fds(), fds);
}

/* A batch of lookups against the DNS server at once: found, not found and
 * cancelled ones. Each one not cancelled answers once, correctly. */
typedef struct item {
    answer a;
    dg_lookup *q;
    bool cancelled, found;
} item;

static int pending(const item *it, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += !it[i].cancelled && !it[i].a.calls;
    return k;
}

static void test_dns_batch(void **state)
{
    (void)state;
    enum { n = 1000 };
    dg_reactor *r = t_reactor(false);
    item *it = calloc(n, sizeof *it);
    assert_non_null(it);
    char host[64];
    double start = t_now();
    for (int i = 0; i < n; i++) {
        it[i].found = i % 3 != 2;
        snprintf(host, sizeof host, "%s%d.%s", it[i].found ? "x" : "nx", i,
                 it[i].found ? "ok.dgram.test" : "dgram.test");
        assert_int_equal(dg_lookup_start(r, host, AF_INET, 10, on_answer, &it[i].a, &it[i].q), 0);
        if (i % 4 == 3) {
            dg_lookup_cancel(it[i].q);
            it[i].cancelled = true;
        }
    }
    T_RUN_UNTIL(r, pending(it, n) == 0);
    double took = t_now() - start;
    int cancelled = 0;
    for (int i = 0; i < n; i++) {
        cancelled += it[i].cancelled;
        assert_int_equal(it[i].a.calls, !it[i].cancelled);
        if (!it[i].cancelled)
            assert_int_equal(it[i].a.status, it[i].found ? 0 : DG_ERR_NAME_NOT_FOUND);
    }
    print_message("%d DNS lookups (%d cancelled) in %.3f s: %.0f lookups/s\n", n, cancelled,
                  took, n / took);
    dg_reactor_free(r);
    free(it);
}

/* ---- "hang": a server that never answers ------------------------------- */

/* resolve_timeout fires: connection_failed(-ETIMEDOUT) naming the host, the
 * port closed, nothing left open (the worker stays in the resolver until
 * its own timeout; freeing the reactor waits for it). */
static void test_hang_timeout(void **state)
{
    (void)state;
    int fds = t_open_fds();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Client");
    dg_connect_options o;
    dg_connect_options_init(&o);
    o.resolve_timeout = 0.5;
    assert_int_equal(t_connect_fail(r, &rec, "hang.dgram.test", 9, &o), -ETIMEDOUT);
    assert_string_equal(dg_reactor_last_error(r),
                        "DNS lookup failed: hang.dgram.test: timed out after 0.5 s.");
    dg_reactor_free(r);
    assert_int_equal(t_open_fds(), fds);
}

typedef struct served {
    dg_reactor *r;
    t_rec *client;  /* resolving: pending while client has neither started nor failed */
    answer *lookup; /* pending while not answered */
    int ticks, echoes;
    int peer_fd, echo_port;
} served;

static bool still_pending(const served *s)
{
    return !s->client->started && !s->client->failed && !s->lookup->calls;
}

static void tick(dg_call *c, void *arg)
{
    served *s = arg;
    if (still_pending(s))
        s->ticks++;
    dg_call_reset(c, 0.01);
}

static void peer_readable(dg_reactor *r, int fd, unsigned events, void *arg)
{
    (void)r;
    (void)events;
    served *s = arg;
    char buf[16];
    while (recv(fd, buf, sizeof buf, 0) > 0) {
        if (still_pending(s))
            s->echoes++;
        t_peer_send(fd, "again", 5, "127.0.0.1", s->echo_port);
    }
}

/* While a connect's lookup and a dg_lookup hang in the resolver, a timer
 * keeps firing and another port keeps echoing; then stopping the port and
 * cancelling the lookup mean no callback ever comes. */
static void test_hang_reactor_keeps_serving(void **state)
{
    (void)state;
    int fds = t_open_fds();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Client");
    answer looked = {0};
    served s = {.r = r, .client = &rec, .lookup = &looked};
    dg_connect_options o;
    dg_connect_options_init(&o);
    o.resolve_timeout = 0; /* only the resolver's own limit */
    dg_port *p = NULL;
    assert_int_equal(dg_connect_udp(r, "hang.dgram.test", 9, &rec.proto, &o, &p), 0);
    dg_lookup *q = NULL;
    assert_int_equal(dg_lookup_start(r, "hang2.dgram.test", 0, 0, on_answer, &looked, &q), 0);

    t_echo echo;
    s.echo_port = t_port_number(t_echo_listen(r, &echo, "127.0.0.1"));
    s.peer_fd = t_peer("127.0.0.1", NULL);
    assert_int_equal(dg_reactor_add_reader(r, s.peer_fd, peer_readable, &s), 0);
    t_peer_send(s.peer_fd, "first", 5, "127.0.0.1", s.echo_port);
    dg_call *timer = dg_call_later(r, 0.01, tick, &s);
    assert_non_null(timer);
    T_RUN_UNTIL(r, (s.ticks >= 3 && s.echoes >= 3) || !still_pending(&s));
    assert_true(still_pending(&s));
    assert_true(s.ticks >= 3);
    assert_true(s.echoes >= 3);

    assert_int_equal(dg_port_stop_listening(p, NULL, NULL), 0);
    dg_lookup_cancel(q);
    dg_call_cancel(timer);
    assert_int_equal(dg_reactor_remove_reader(r, s.peer_fd), 0);
    t_turn(r, 3);
    dg_reactor_free(r); /* waits for both workers to leave the resolver */
    close(s.peer_fd);
    assert_int_equal(rec.started + rec.failed + rec.stopped, 0);
    assert_int_equal(looked.calls, 0);
    assert_int_equal(t_open_fds(), fds);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest dns[] = {
        cmocka_unit_test(test_hosts_families),
        cmocka_unit_test(test_hosts_wrong_family),
        cmocka_unit_test(test_dns_resolves),
        cmocka_unit_test(test_dns_nxdomain),
        cmocka_unit_test(test_dns_batch),
    };
    const struct CMUnitTest hang[] = {
        cmocka_unit_test(test_hang_timeout),
        cmocka_unit_test(test_hang_reactor_keeps_serving),
    };
    if (argc == 2 && strcmp(argv[1], "dns") == 0)
        return cmocka_run_group_tests_name("ns_resolve dns", dns, NULL, NULL);
    if (argc == 2 && strcmp(argv[1], "hang") == 0)
        return cmocka_run_group_tests_name("ns_resolve hang", hang, NULL, NULL);
    fprintf(stderr, "usage: %s dns|hang (inside tests/scripts/resolve_netns.sh's namespace)\n",
            argv[0]);
    return 2;
}
