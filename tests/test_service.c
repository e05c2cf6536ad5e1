/* Services and applications (issue 7): start in order, stop in reverse
 * order, a failed start undoes the starts before it with a clear error, a
 * drain deadline bounds a slow stop, and the UDP server service listens,
 * adopts, and stops reading before stop_protocol runs. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"

/* ---- recording services ---------------------------------------------- */

typedef struct rec_svc {
    const char *name;
    char *journal;     /* shared: "+a +b -b -a " */
    int fail;          /* start returns this when nonzero */
    bool silent;       /* fail without a message */
    bool slow;         /* stop(now = false) does not finish by itself */
    int stops_now;     /* stop calls with now = true */
    int released;
} rec_svc;

static void note(rec_svc *v, char what)
{
    size_t n = strlen(v->journal);
    snprintf(v->journal + n, 256 - n, "%c%s ", what, v->name);
}

static int rec_start(dg_service *s, void *arg)
{
    rec_svc *v = arg;
    if (v->fail && v->silent)
        return v->fail;
    if (v->fail)
        return dg_service_fail(s, v->fail, "no %s today", v->name);
    note(v, '+');
    return 0;
}

static void rec_stop(dg_service *s, bool now, void *arg)
{
    rec_svc *v = arg;
    if (now)
        v->stops_now++;
    if (v->slow && !now)
        return;
    note(v, '-');
    dg_service_stopped(s);
}

static void rec_release(dg_service *s, void *arg)
{
    (void)s;
    ((rec_svc *)arg)->released++;
}

static const dg_service_ops rec_ops = {.start = rec_start, .stop = rec_stop, .release = rec_release};

static void app_done(dg_application *app, void *arg)
{
    (void)app;
    (*(int *)arg)++;
}

static void test_order(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    dg_application *app;
    char journal[256] = "";
    rec_svc v[3] = {{.name = "a", .journal = journal}, {.name = "b", .journal = journal},
                    {.name = "c", .journal = journal}};
    assert_int_equal(dg_application_new(r, &app), 0);
    dg_service *s;
    for (int i = 0; i < 3; i++)
        assert_int_equal(dg_service_new(app, v[i].name, &rec_ops, &v[i], &s), 0);
    assert_int_equal(dg_service_new(app, "b", &rec_ops, &v[1], &s), -EEXIST);
    assert_null(s);
    assert_int_equal(dg_application_start(app), 0);
    assert_string_equal(journal, "+a +b +c ");
    assert_true(dg_service_running(dg_application_find(app, "b")));
    int done = 0;
    assert_int_equal(dg_application_stop(app, 1.0, app_done, &done), 0);
    assert_string_equal(journal, "+a +b +c -c -b -a ");
    assert_int_equal(done, 1);
    assert_false(dg_service_running(dg_application_find(app, "b")));
    /* Services restart, as Twisted's do. */
    assert_int_equal(dg_application_start(app), 0);
    assert_string_equal(journal, "+a +b +c -c -b -a +a +b +c ");
    dg_application_free(app);
    assert_string_equal(journal, "+a +b +c -c -b -a +a +b +c -c -b -a ");
    for (int i = 0; i < 3; i++)
        assert_int_equal(v[i].released, 1);
    dg_reactor_free(r);
}

static void test_failed_start(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    dg_application *app;
    char journal[256] = "";
    rec_svc v[4] = {{.name = "a", .journal = journal}, {.name = "b", .journal = journal},
                    {.name = "c", .journal = journal, .fail = -EACCES},
                    {.name = "d", .journal = journal}};
    assert_int_equal(dg_application_new(r, &app), 0);
    dg_service *s;
    for (int i = 0; i < 4; i++)
        assert_int_equal(dg_service_new(app, v[i].name, &rec_ops, &v[i], &s), 0);
    assert_int_equal(dg_application_start(app), -EACCES);
    /* b and a stop, last first; d never starts. */
    assert_string_equal(journal, "+a +b -b -a ");
    assert_string_equal(dg_reactor_last_error(r),
                        "Service c failed to start: no c today: Permission denied.");
    for (dg_service *x = dg_application_first(app); x; x = dg_service_next(x))
        assert_false(dg_service_running(x));
    /* A running service is not undone by a later failure of another. */
    v[2].fail = 0;
    dg_service *c = dg_application_find(app, "c");
    assert_int_equal(dg_service_start(c), 0);
    v[0].fail = -ENOENT; /* a failure with no message of its own */
    v[0].silent = true;
    assert_int_equal(dg_application_start(app), -ENOENT);
    assert_true(dg_service_running(c));
    assert_string_equal(dg_reactor_last_error(r), "Service a failed to start: No such file or directory.");
    assert_int_equal(dg_service_remove(c), -EBUSY);
    dg_application_free(app);
    dg_reactor_free(r);
}

static void test_drain_deadline(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    dg_application *app;
    char journal[256] = "";
    rec_svc v[2] = {{.name = "a", .journal = journal},
                    {.name = "slow", .journal = journal, .slow = true}};
    assert_int_equal(dg_application_new(r, &app), 0);
    dg_service *s;
    for (int i = 0; i < 2; i++)
        assert_int_equal(dg_service_new(app, v[i].name, &rec_ops, &v[i], &s), 0);
    assert_int_equal(dg_application_start(app), 0);
    int done = 0;
    assert_int_equal(dg_application_stop(app, -1, app_done, &done), -EINVAL);
    assert_int_equal(dg_application_stop(app, 2.0, app_done, &done), 0);
    assert_int_equal(dg_application_stop(app, 2.0, app_done, &done), -EALREADY);
    assert_int_equal(dg_application_start(app), -EALREADY);
    /* slow has not finished: a waits, as stops go one at a time. */
    assert_string_equal(journal, "+a +slow ");
    assert_int_equal(dg_reactor_advance(r, 1.9), 0);
    assert_int_equal(done, 0);
    assert_int_equal(dg_reactor_advance(r, 0.2), 0);
    /* The deadline passed: slow is told to finish now, then a (no time
     * left, so now as well). */
    assert_string_equal(journal, "+a +slow -slow -a ");
    assert_int_equal(v[1].stops_now, 1);
    assert_int_equal(v[0].stops_now, 1);
    assert_int_equal(done, 1);
    dg_application_free(app);
    dg_reactor_free(r);
}

/* ---- the UDP server service --------------------------------------------- */

static void echo_received(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    dg_port_write(self->transport, data, len, from);
}

static const dg_protocol_ops echo_ops = {.name = "Echo", .datagram_received = echo_received};

static void test_udp_server(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int fds = t_open_fds();
    dg_application *app;
    dg_protocol e = {.ops = &echo_ops};
    t_rec rec;
    t_rec_init(&rec, "Server");
    assert_int_equal(dg_application_new(r, &app), 0);
    dg_udp_server_options o;
    dg_udp_server_options_init(&o);
    o.interface = "127.0.0.1";
    o.rcvbuf = 1 << 20;
    dg_service *s, *echo;
    assert_int_equal(dg_udp_server_new(app, "rec", 0, &rec.proto, &o, &s), 0);
    assert_int_equal(dg_udp_server_new(app, "echo", 0, &e, &o, &echo), 0);
    assert_int_equal(dg_udp_server_new(app, "bad", 70000, &rec.proto, &o, &s), -EINVAL);
    s = dg_application_find(app, "rec");
    assert_null(dg_service_port(s));
    assert_int_equal(dg_application_start(app), 0);
    assert_int_equal(rec.started, 1);
    dg_port *p = dg_service_port(s);
    assert_non_null(p);
    int port = t_port_number(p);
    int peer = t_peer("127.0.0.1", NULL);
    t_peer_send(peer, "one", 3, "127.0.0.1", port);
    T_RUN_UNTIL(r, rec.npackets == 1);
    /* The echo service answers. */
    char buf[16];
    t_peer_send(peer, "two", 3, "127.0.0.1", t_port_number(dg_service_port(echo)));
    T_RUN_UNTIL(r, t_peer_pending(peer));
    assert_int_equal(t_peer_recv(peer, buf, sizeof buf, NULL), 3);
    /* Stop with a deadline: reading ends at once, stop_protocol follows. */
    int done = 0;
    assert_int_equal(dg_application_stop(app, 5.0, app_done, &done), 0);
    /* One at a time, last first: echo stops, then rec. */
    assert_null(dg_service_port(echo));
    assert_true(dg_service_running(s));
    T_RUN_UNTIL(r, !dg_service_running(s));
    assert_null(dg_service_port(s));
    t_peer_send(peer, "late", 4, "127.0.0.1", port);
    T_RUN_UNTIL(r, done == 1);
    assert_int_equal(rec.stopped, 1);
    assert_int_equal(rec.npackets, 1);
    /* Started again: a new port, start_protocol again. */
    assert_int_equal(dg_application_start(app), 0);
    assert_int_equal(rec.started, 2);
    dg_application_free(app);
    assert_int_equal(rec.stopped, 2);
    close(peer);
    assert_int_equal(t_open_fds(), fds);
    t_rec_free(&rec);
    dg_reactor_free(r);
}

static void stop_reactor(dg_call *c, void *arg)
{
    (void)c;
    dg_reactor_stop(arg);
}

/* The reactor's shutdown closes the ports under running services: the
 * services must notice, not close them again. */
static void test_reactor_shutdown(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    dg_application *app;
    t_rec rec;
    t_rec_init(&rec, "Server");
    assert_int_equal(dg_application_new(r, &app), 0);
    dg_service *s;
    assert_int_equal(dg_udp_server_new(app, "rec", 0, &rec.proto, NULL, &s), 0);
    assert_int_equal(dg_application_start(app), 0);
    assert_non_null(dg_call_later(r, 0, stop_reactor, r));
    assert_int_equal(dg_reactor_run(r), 0);
    assert_int_equal(rec.stopped, 1);
    assert_null(dg_service_port(s));
    int done = 0;
    assert_int_equal(dg_application_stop(app, 1.0, app_done, &done), 0);
    assert_int_equal(done, 1);
    dg_application_free(app);
    assert_int_equal(rec.stopped, 1);
    t_rec_free(&rec);
    dg_reactor_free(r);
}

static void test_udp_server_fails(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    dg_application *app;
    t_rec a, b;
    t_rec_init(&a, "A");
    t_rec_init(&b, "B");
    int taken = t_peer("127.0.0.1", NULL);
    dg_addr host;
    getsockname(taken, &host.u.sa, &(socklen_t){sizeof host});
    assert_int_equal(dg_application_new(r, &app), 0);
    dg_udp_server_options o;
    dg_udp_server_options_init(&o);
    o.interface = "127.0.0.1";
    dg_service *s;
    assert_int_equal(dg_udp_server_new(app, "first", 0, &a.proto, &o, &s), 0);
    assert_int_equal(dg_udp_server_new(app, "dns", dg_addr_port(&host), &b.proto, &o, &s), 0);
    assert_int_equal(dg_application_start(app), -EADDRINUSE);
    char want[200];
    snprintf(want, sizeof want, "Service dns failed to start: Couldn't listen on 127.0.0.1:%d: "
             "Address already in use.", dg_addr_port(&host));
    assert_string_equal(dg_reactor_last_error(r), want);
    assert_int_equal(a.started, 1);
    assert_int_equal(a.stopped, 1); /* undone */
    assert_int_equal(b.started, 0);
    /* The same socket, adopted: a socket handed over works. */
    dg_service_remove(s);
    o.fd = taken;
    assert_int_equal(dg_udp_server_new(app, "dns", 9, &b.proto, &o, &s), 0);
    assert_int_equal(dg_application_start(app), 0);
    assert_int_equal(t_port_number(dg_service_port(s)), dg_addr_port(&host));
    dg_application_free(app);
    /* The caller's descriptor is still the caller's. */
    assert_true(fcntl(taken, F_GETFD) >= 0);
    close(taken);
    t_rec_free(&a);
    t_rec_free(&b);
    dg_reactor_free(r);
}

static void test_multicast_server(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    dg_application *app;
    t_rec rec;
    t_rec_init(&rec, "Group");
    assert_int_equal(dg_application_new(r, &app), 0);
    const char *groups[] = {"239.255.77.1"};
    dg_udp_server_options o;
    dg_udp_server_options_init(&o);
    o.groups = groups;
    o.ngroups = 1;
    o.group_interface = "127.0.0.1";
    dg_service *s;
    assert_int_equal(dg_udp_server_new(app, "x", 0, &rec.proto, &o, &s), -EINVAL); /* not multicast */
    assert_int_equal(dg_multicast_server_new(app, "group", 0, &rec.proto, &o, &s), 0);
    int rc = dg_application_start(app);
    if (rc == -ENODEV || rc == -EADDRNOTAVAIL) {
        dg_application_free(app);
        t_rec_free(&rec);
        dg_reactor_free(r);
        skip(); /* no multicast on loopback here */
    }
    assert_int_equal(rc, 0);
    int port = t_port_number(dg_service_port(s));
    int peer = t_peer("127.0.0.1", NULL);
    int on = 1;
    struct in_addr lo = {htonl(INADDR_LOOPBACK)};
    setsockopt(peer, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo);
    setsockopt(peer, IPPROTO_IP, IP_MULTICAST_LOOP, &on, sizeof on);
    t_peer_send(peer, "g", 1, "239.255.77.1", port);
    T_RUN_UNTIL(r, rec.npackets == 1);
    close(peer);
    dg_application_free(app);
    assert_int_equal(rec.stopped, 1);
    t_rec_free(&rec);
    dg_reactor_free(r);
}

/* The reload pattern: stop a service, and remove it from the stop's done,
 * even when the stop finishes inside the call (drain 0). */
static int removed;
static void stop_at_once(dg_service *s, bool now, void *arg)
{
    (void)now;
    (void)arg;
    dg_service_stopped(s);
}
static void remove_when_stopped(dg_service *s, void *arg)
{
    (void)arg;
    assert_int_equal(dg_service_remove(s), 0);
    removed++;
}

static void test_remove_from_stop_done(void **state)
{
    (void)state;
    static const dg_service_ops ops = {.stop = stop_at_once};
    dg_reactor *r = t_reactor(false);
    dg_application *app;
    assert_int_equal(dg_application_new(r, &app), 0);
    dg_service *s;
    assert_int_equal(dg_service_new(app, "svc", &ops, NULL, &s), 0);
    assert_int_equal(dg_application_start(app), 0);
    removed = 0;
    assert_int_equal(dg_service_stop(s, 0, remove_when_stopped, NULL), 0);
    assert_int_equal(removed, 1);
    assert_null(dg_application_find(app, "svc"));
    /* An endless drain would never end the stop: refused, as for the application. */
    assert_int_equal(dg_service_new(app, "svc2", &ops, NULL, &s), 0);
    assert_int_equal(dg_application_start(app), 0);
    assert_int_equal(dg_service_stop(s, INFINITY, NULL, NULL), -EINVAL);
    assert_true(dg_service_running(s));
    dg_application_free(app);
    dg_reactor_free(r);
}

/* A protocol that closes its own transport: the service forgets the port
 * (no dangling pointer), and the application still stops cleanly. */
static void close_transport(dg_call *c, void *arg)
{
    (void)c;
    assert_int_equal(dg_port_close(((dg_protocol *)arg)->transport), 0);
}

static void test_protocol_closes_its_port(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    dg_application *app;
    assert_int_equal(dg_application_new(r, &app), 0);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_service *s;
    assert_int_equal(dg_udp_server_new(app, "udp", 0, &rec.proto, NULL, &s), 0);
    assert_int_equal(dg_application_start(app), 0);
    assert_non_null(dg_service_port(s));
    assert_non_null(dg_call_later(r, 0, close_transport, &rec.proto));
    T_RUN_UNTIL(r, rec.stopped == 1);
    t_turn(r, 1); /* the closed port is freed at the end of its iteration */
    assert_null(dg_service_port(s));
    int done = 0;
    assert_int_equal(dg_application_stop(app, 1.0, app_done, &done), 0);
    T_RUN_UNTIL(r, done == 1);
    assert_int_equal(rec.stopped, 1);
    dg_application_free(app);
    dg_reactor_free(r);
}

/* A protocol that closes its port inside start_protocol: the service fails
 * to start, with a reason, instead of using a port that is gone. */
static void close_in_start(t_rec *rec)
{
    assert_int_equal(dg_port_close(rec->proto.transport), 0);
}

static void test_protocol_closes_in_start(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    dg_application *app;
    assert_int_equal(dg_application_new(r, &app), 0);
    t_rec rec;
    t_rec_init(&rec, "Server");
    rec.on_start = close_in_start;
    dg_service *s;
    assert_int_equal(dg_udp_server_new(app, "udp", 0, &rec.proto, NULL, &s), 0);
    assert_int_equal(dg_application_start(app), -ECONNABORTED);
    assert_non_null(strstr(dg_reactor_last_error(r), "Service udp failed to start"));
    assert_false(dg_service_running(s));
    dg_application_free(app);
    dg_reactor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_failed_start),
        cmocka_unit_test(test_drain_deadline),
        cmocka_unit_test(test_udp_server),
        cmocka_unit_test(test_reactor_shutdown),
        cmocka_unit_test(test_udp_server_fails),
        cmocka_unit_test(test_multicast_server),
        cmocka_unit_test(test_remove_from_stop_done),
        cmocka_unit_test(test_protocol_closes_its_port),
        cmocka_unit_test(test_protocol_closes_in_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
