/* Shutdown (issue 2's shutdown semantics; behaviour spec 1.9, Twisted's
 * disconnectAll): when run returns, and when a reactor is freed, every live
 * port closes once, stop_protocol and done included; pending timers never
 * run; no descriptor or memory is left behind. */
#include "helpers.h"
#include <stdio.h>
#include <unistd.h>

static int done_calls, timer_calls;
static void on_done(dg_port *p, void *arg)
{
    (void)p;
    t_rec *rec = arg;
    assert_int_equal(rec->stopped, 1); /* stop_protocol first */
    done_calls++;
}

static void never(dg_call *c, void *arg)
{
    (void)c;
    (void)arg;
    timer_calls++;
}

static bool timed_out;
static void watchdog(dg_call *c, void *arg)
{
    (void)arg;
    timed_out = true;
    dg_reactor_stop(dg_call_reactor(c));
}

/* Three kinds of live port: plain, connected, and stopping (stop_listening
 * called in the same iteration as the stop, so its close is still due). */
typedef struct trio {
    t_rec plain, connected, stopping;
    dg_port *pp, *pc, *ps;
    int peer;
    char closed[3][64];
} trio;

static void trio_open(dg_reactor *r, trio *t)
{
    t_rec_init(&t->plain, "Plain");
    t_rec_init(&t->connected, "Connected");
    t_rec_init(&t->stopping, "Stopping");
    t->pp = t_listen(r, &t->plain, "127.0.0.1");
    t->pc = t_listen(r, &t->connected, "::1");
    t->ps = t_listen(r, &t->stopping, "127.0.0.1");
    int peer_port;
    t->peer = t_peer("::1", &peer_port);
    assert_int_equal(dg_port_connect(t->pc, "::1", peer_port), 0);
    dg_port *ports[3] = {t->pp, t->pc, t->ps};
    for (int i = 0; i < 3; i++)
        snprintf(t->closed[i], sizeof t->closed[i], "(UDP Port %d Closed)", t_port_number(ports[i]));
}

static void trio_check_closed(trio *t)
{
    t_rec *recs[3] = {&t->plain, &t->connected, &t->stopping};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(recs[i]->started, 1);
        assert_int_equal(recs[i]->stopped, 1);
        assert_false(recs[i]->transport_in_stop);
        assert_null(recs[i]->proto.transport);
        assert_true(t_log_find(t->closed[i]) >= 0);
    }
    assert_int_equal(done_calls, 1);
}

static void trio_free(trio *t)
{
    if (t->peer >= 0)
        close(t->peer);
    t_rec_free(&t->plain);
    t_rec_free(&t->connected);
    t_rec_free(&t->stopping);
}

static void stop_all(dg_call *c, void *arg)
{
    trio *t = arg;
    assert_int_equal(dg_port_stop_listening(t->ps, on_done, &t->stopping), 0);
    dg_reactor_stop(dg_call_reactor(c));
}

/* dg_reactor_stop with three live ports: run returns with each closed
 * once; a later timer is kept, then dropped unrun by dg_reactor_free. */
static void test_run_returns_closing_ports(void **state)
{
    (void)state;
    int fds0 = t_open_fds();
    dg_reactor *r = t_reactor(false);
    int fds_reactor = t_open_fds();
    trio t;
    trio_open(r, &t);
    done_calls = timer_calls = 0;
    timed_out = false;
    assert_non_null(dg_call_later(r, 0, stop_all, &t));
    dg_call *later = dg_call_later(r, 1000, never, NULL);
    assert_non_null(later);
    assert_non_null(dg_call_later(r, T_DEADLINE, watchdog, NULL));

    assert_int_equal(dg_reactor_run(r), 0);
    assert_false(timed_out);
    trio_check_closed(&t);
    close(t.peer);
    t.peer = -1;
    assert_int_equal(t_open_fds(), fds_reactor);
    assert_true(dg_call_active(later)); /* kept, as documented */

    dg_reactor_free(r);
    trio_check_closed(&t); /* nothing twice */
    assert_int_equal(timer_calls, 0);
    assert_false(timed_out);
    assert_int_equal(t_open_fds(), fds0);
    trio_free(&t);
}

/* dg_reactor_free on a reactor that never ran: the same closes, the
 * stopping port's done included, and no pending timer runs, even one
 * already due. */
static void test_free_without_run(void **state)
{
    (void)state;
    int fds0 = t_open_fds();
    dg_reactor *r = t_reactor(false);
    trio t;
    trio_open(r, &t);
    done_calls = timer_calls = 0;
    assert_int_equal(dg_port_stop_listening(t.ps, on_done, &t.stopping), 0);
    assert_non_null(dg_call_later(r, 0, never, NULL));
    assert_non_null(dg_call_later(r, 5, never, NULL));
    dg_reactor_free(r);
    trio_check_closed(&t);
    assert_int_equal(timer_calls, 0);
    close(t.peer);
    t.peer = -1;
    assert_int_equal(t_open_fds(), fds0);
    trio_free(&t);
}

/* The same on the fake clock, where timers only move by advance. */
static void test_free_fake_clock(void **state)
{
    (void)state;
    int fds0 = t_open_fds();
    dg_reactor *r = t_reactor(true);
    t_rec rec;
    t_rec_init(&rec, "Server");
    t_listen(r, &rec, "127.0.0.1");
    timer_calls = 0;
    assert_non_null(dg_call_later(r, 1, never, NULL));
    assert_int_equal(dg_reactor_advance(r, 0.5), 0);
    dg_reactor_free(r);
    assert_int_equal(timer_calls, 0);
    assert_int_equal(rec.stopped, 1);
    assert_int_equal(t_open_fds(), fds0);
}

/* After run returns, the reactor runs again with new ports. */
static void stop_reactor(dg_call *c, void *arg)
{
    (void)arg;
    dg_reactor_stop(dg_call_reactor(c));
}

static void test_run_again(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec a, b;
    t_rec_init(&a, "First");
    t_rec_init(&b, "Second");
    t_listen(r, &a, "127.0.0.1");
    assert_non_null(dg_call_later(r, 0, stop_reactor, NULL));
    assert_int_equal(dg_reactor_run(r), 0);
    assert_int_equal(a.stopped, 1);

    dg_port *p = t_listen(r, &b, "127.0.0.1");
    int peer = t_peer("127.0.0.1", NULL);
    t_peer_send(peer, "x", 1, "127.0.0.1", t_port_number(p));
    T_RUN_UNTIL(r, b.npackets == 1);
    timed_out = false;
    assert_non_null(dg_call_later(r, 0, stop_reactor, NULL));
    assert_non_null(dg_call_later(r, T_DEADLINE, watchdog, NULL));
    assert_int_equal(dg_reactor_run(r), 0);
    assert_false(timed_out);
    assert_int_equal(b.stopped, 1);
    assert_int_equal(a.stopped, 1);
    close(peer);
    dg_reactor_free(r);
    assert_int_equal(b.stopped, 1);
    t_rec_free(&b);
}

/* A stop_protocol that listens again during the shutdown: the new port is
 * live too, so it is closed as well before run returns. */
static dg_reactor *relisten_r;
static void relisten_once(t_rec *rec)
{
    if (rec->stopped == 1)
        t_listen(relisten_r, rec, "127.0.0.1");
}

static void test_listen_during_shutdown(void **state)
{
    (void)state;
    int fds0 = t_open_fds();
    dg_reactor *r = relisten_r = t_reactor(false);
    int fds_reactor = t_open_fds();
    t_rec rec;
    t_rec_init(&rec, "Phoenix");
    rec.on_stop = relisten_once;
    t_listen(r, &rec, "127.0.0.1");
    assert_non_null(dg_call_later(r, 0, stop_reactor, NULL));
    assert_int_equal(dg_reactor_run(r), 0);
    assert_int_equal(rec.started, 2);
    assert_int_equal(rec.stopped, 2);
    assert_null(rec.proto.transport);
    assert_int_equal(t_open_fds(), fds_reactor);
    dg_reactor_free(r);
    assert_int_equal(rec.stopped, 2);
    assert_int_equal(t_open_fds(), fds0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_returns_closing_ports),
        cmocka_unit_test(test_free_without_run),
        cmocka_unit_test(test_free_fake_clock),
        cmocka_unit_test(test_run_again),
        cmocka_unit_test(test_listen_during_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
