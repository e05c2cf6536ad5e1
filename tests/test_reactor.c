/* The reactor itself (issue 2): backend choice, run/stop/free from
 * callbacks, the clock, and Twisted's shutdown (spec 1.9: disconnectAll). */
#include "helpers.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static dg_reactor *new_with(const char *backend, int *rc)
{
    dg_reactor_options o;
    dg_reactor_options_init(&o);
    o.backend = backend;
    static char sentinel;
    dg_reactor *r = (dg_reactor *)(void *)&sentinel; /* must be overwritten */
    *rc = dg_reactor_new(&o, &r);
    if (*rc < 0)
        assert_null(r);
    return r;
}

static void test_options_defaults(void **state)
{
    (void)state;
    dg_reactor_options o;
    memset(&o, 0x5a, sizeof o);
    dg_reactor_options_init(&o);
    assert_null(o.backend);
    assert_false(o.fake_clock);
    assert_false(o.handle_signals);
    assert_null(o.log);
    assert_int_equal(o.threads, 0);
    assert_int_equal(dg_reactor_new(&o, NULL), -EINVAL);
    dg_reactor *r = NULL;
    assert_int_equal(dg_reactor_new(NULL, &r), 0);
    assert_non_null(r);
    assert_string_equal(dg_reactor_last_error(r), "");
    dg_reactor_free(r);
    dg_reactor_free(NULL);
}

static void test_backend_by_option(void **state)
{
    (void)state;
    int rc;
    static const char *const names[] = {"epoll", "poll"};
    for (int i = 0; i < 2; i++) {
        dg_reactor *r = new_with(names[i], &rc);
        assert_int_equal(rc, 0);
        assert_string_equal(dg_reactor_backend(r), names[i]);
        dg_reactor_free(r);
    }
    assert_null(new_with("select", &rc));
    assert_int_equal(rc, -EINVAL);
    assert_null(new_with("EPOLL", &rc));
    assert_int_equal(rc, -EINVAL);
}

/* DGRAM_BACKEND picks the backend when the options do not; CTest runs the
 * suite once per backend this way. */
static void test_backend_by_environment(void **state)
{
    (void)state;
    const char *env = getenv("DGRAM_BACKEND");
    char *saved = env ? strdup(env) : NULL;
    if (saved) {
        dg_reactor *r = t_reactor(false);
        assert_string_equal(dg_reactor_backend(r), saved);
        dg_reactor_free(r);
    }
    int rc;
    static const char *const names[] = {"poll", "epoll"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(setenv("DGRAM_BACKEND", names[i], 1), 0);
        dg_reactor *r = new_with(NULL, &rc);
        assert_int_equal(rc, 0);
        assert_string_equal(dg_reactor_backend(r), names[i]);
        dg_reactor_free(r);
    }
    assert_int_equal(setenv("DGRAM_BACKEND", "kqueue", 1), 0);
    assert_null(new_with(NULL, &rc));
    assert_int_equal(rc, -EINVAL);
    dg_reactor *r = new_with("poll", &rc); /* the option wins */
    assert_int_equal(rc, 0);
    assert_string_equal(dg_reactor_backend(r), "poll");
    dg_reactor_free(r);
    assert_int_equal(unsetenv("DGRAM_BACKEND"), 0);
    r = new_with(NULL, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(dg_reactor_backend(r), "epoll"); /* the best on Linux */
    dg_reactor_free(r);
    if (saved)
        assert_int_equal(setenv("DGRAM_BACKEND", saved, 1), 0);
    free(saved);
}

static void test_now(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    double before = t_now();
    double prev = dg_reactor_now(r);
    assert_true(prev >= before);
    for (int i = 0; i < 1000; i++) {
        double now = dg_reactor_now(r);
        assert_true(now >= prev);
        prev = now;
    }
    assert_true(prev <= t_now()); /* the same clock: CLOCK_MONOTONIC */
    dg_reactor_free(r);
}

static void test_run_once_idle(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    assert_int_equal(dg_reactor_run_once(r, 0), 0);
    assert_int_equal(dg_reactor_run_once(r, 1), 0);
    dg_reactor_free(r);
}

/* ---- stop, run and free from callbacks ----------------------------------- */

static int fired, busy_run, busy_once;

static void stop_it(dg_call *c, void *arg)
{
    (void)arg;
    fired++;
    dg_reactor_stop(dg_call_reactor(c));
}

static void count(dg_call *c, void *arg)
{
    (void)c;
    (void)arg;
    fired++;
}

static void test_stop_from_timer(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    fired = 0;
    dg_call_later(r, 0.01, stop_it, NULL);
    assert_int_equal(dg_reactor_run(r), 0);
    assert_int_equal(fired, 1);
    /* And it runs again after a stop. */
    dg_call_later(r, 0, stop_it, NULL);
    assert_int_equal(dg_reactor_run(r), 0);
    assert_int_equal(fired, 2);
    dg_reactor_free(r);
}

/* As Twisted's runUntilCurrent, calls already due still run after a stop. */
static void test_stop_runs_due_calls(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    fired = 0;
    dg_call_later(r, 0, stop_it, NULL);
    dg_call_later(r, 0, count, NULL);
    dg_call *far = dg_call_later(r, 100, count, NULL);
    assert_int_equal(dg_reactor_run(r), 0);
    assert_int_equal(fired, 2);
    assert_true(dg_call_active(far)); /* pending calls are kept */
    dg_reactor_free(r);
}

/* A stop outside dg_reactor_run() has nothing to stop, and must not leave
 * run_once() unable to wait. */
static void test_stop_outside_run(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    fired = 0;
    dg_reactor_stop(r);
    dg_call_later(r, 0, stop_it, NULL); /* a stop from a timer of run_once */
    T_RUN_UNTIL(r, fired == 1);
    dg_call_later(r, 0.05, count, NULL);
    assert_int_equal(dg_reactor_run_once(r, -1), 1); /* waited for it */
    assert_int_equal(fired, 2);
    dg_reactor_free(r);
}

static void reenter(dg_call *c, void *arg)
{
    (void)arg;
    dg_reactor *r = dg_call_reactor(c);
    busy_run = dg_reactor_run(r);
    busy_once = dg_reactor_run_once(r, 0);
    dg_reactor_free(r); /* refused: a no-op */
    fired++;
    dg_reactor_stop(r);
}

static void test_reentry_refused(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    fired = busy_run = busy_once = 0;
    dg_call_later(r, 0, reenter, NULL);
    assert_int_equal(dg_reactor_run(r), 0);
    assert_int_equal(fired, 1);
    assert_int_equal(busy_run, -EBUSY);
    assert_int_equal(busy_once, -EBUSY);

    /* The same from run_once, and the reactor still works after the
     * refused free. */
    busy_run = busy_once = 0;
    dg_call_later(r, 0, reenter, NULL);
    T_RUN_UNTIL(r, fired == 2);
    assert_int_equal(busy_run, -EBUSY);
    assert_int_equal(busy_once, -EBUSY);
    dg_call_later(r, 0, count, NULL);
    T_RUN_UNTIL(r, fired == 3);
    dg_reactor_free(r);
}

static void test_reentry_refused_fake_clock(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    fired = busy_run = busy_once = 0;
    dg_call_later(r, 1, reenter, NULL);
    assert_int_equal(dg_reactor_advance(r, 1), 0);
    assert_int_equal(fired, 1);
    assert_int_equal(busy_run, -EBUSY);
    assert_int_equal(busy_once, -EBUSY);
    dg_reactor_free(r);
}

/* ---- shutdown -------------------------------------------------------------- */

static void stop_on_datagram(t_rec *rec)
{
    dg_reactor_stop(dg_port_reactor(rec->proto.transport));
}

/* Twisted's disconnectAll: run() ends by closing every live port, so each
 * stop_protocol runs once, transport NULL. */
static void test_run_closes_ports(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec a, b;
    t_rec_init(&a, "A");
    t_rec_init(&b, "B");
    a.on_datagram = stop_on_datagram;
    dg_port *pa = t_listen(r, &a, "127.0.0.1");
    dg_port *pb = t_listen(r, &b, "127.0.0.1");
    char closed_a[64], closed_b[64];
    snprintf(closed_a, sizeof closed_a, "(UDP Port %d Closed)", t_port_number(pa));
    snprintf(closed_b, sizeof closed_b, "(UDP Port %d Closed)", t_port_number(pb));
    int peer = t_peer("127.0.0.1", NULL);
    t_peer_send(peer, "x", 1, "127.0.0.1", t_port_number(pa));
    assert_int_equal(dg_reactor_run(r), 0);
    assert_int_equal(a.npackets, 1);
    assert_int_equal(a.stopped, 1);
    assert_int_equal(b.stopped, 1);
    assert_null(a.proto.transport);
    assert_null(b.proto.transport);
    assert_true(t_log_find(closed_a) >= 0);
    assert_true(t_log_find(closed_b) >= 0);
    dg_reactor_free(r);
    assert_int_equal(a.stopped, 1);
    assert_int_equal(b.stopped, 1);
    close(peer);
    t_rec_free(&a);
    t_rec_free(&b);
}

/* Freeing with pending timers, live ports and foreign readers releases all
 * of it (ASan and valgrind check the memory, this the descriptors). */
static void noop_io(dg_reactor *r, int fd, unsigned events, void *arg)
{
    (void)r, (void)fd, (void)events, (void)arg;
}

static void test_free_releases_everything(void **state)
{
    (void)state;
    int fds_before = t_open_fds();
    dg_reactor *r = t_reactor(false);
    for (int i = 0; i < 1000; i++)
        assert_non_null(dg_call_later(r, 100 + i, count, NULL));
    dg_call *c = dg_call_later(r, 5, count, NULL);
    assert_int_equal(dg_call_cancel(c), 0); /* a recycled handle too */
    t_rec rec;
    t_rec_init(&rec, "Server");
    t_listen(r, &rec, "127.0.0.1");
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(dg_reactor_add_reader(r, p[0], noop_io, NULL), 0);
    assert_int_equal(dg_reactor_remove_reader(r, p[0]), 0);
    close(p[0]);
    close(p[1]);
    fired = 0;
    dg_reactor_free(r);
    assert_int_equal(fired, 0); /* dropped, never called */
    assert_int_equal(rec.stopped, 1);
    assert_int_equal(t_open_fds(), fds_before);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(dg_strerror(-EADDRINUSE), "Address already in use");
    assert_string_equal(dg_strerror(DG_ERR_NAME_NOT_FOUND), "name not found");
    assert_string_equal(dg_strerror(-9999), "Unknown error -9999");
    assert_string_equal(dg_strerror(INT_MIN), "Unknown error -2147483648");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_defaults),
        cmocka_unit_test(test_backend_by_option),
        cmocka_unit_test(test_backend_by_environment),
        cmocka_unit_test(test_now),
        cmocka_unit_test(test_run_once_idle),
        cmocka_unit_test(test_stop_from_timer),
        cmocka_unit_test(test_stop_runs_due_calls),
        cmocka_unit_test(test_stop_outside_run),
        cmocka_unit_test(test_reentry_refused),
        cmocka_unit_test(test_reentry_refused_fake_clock),
        cmocka_unit_test(test_run_closes_ports),
        cmocka_unit_test(test_free_releases_everything),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
