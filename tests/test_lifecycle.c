/* Port lifecycle and protocol callbacks: the behaviour spec's section 3 A
 * (items 1-6) and the Protocol lifecycle of issue 2. */
#include "helpers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int done_calls;
static int stopped_before_done;

static void on_done(dg_port *p, void *arg)
{
    t_rec *rec = arg;
    (void)p;
    done_calls++;
    stopped_before_done = rec->stopped;
}

/* 1. test_oldAddress: the host of a port on 127.0.0.1 is that address. */
static void test_get_host(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    dg_addr host;
    assert_int_equal(dg_port_get_host(p, &host), 0);
    assert_int_equal(dg_addr_family(&host), AF_INET);
    dg_addr want = t_addr("127.0.0.1", t_port_number(p));
    assert_true(dg_addr_equal(&host, &want));
    assert_true(dg_addr_port(&host) != 0);
    dg_reactor_free(r);
}

/* 2. test_startStop: start_protocol inside listen with transport set;
 * stop_protocol once, with transport NULL, before done runs. */
static void test_start_stop(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    assert_int_equal(rec.started, 1);
    assert_true(rec.transport_in_start);
    assert_ptr_equal(rec.proto.transport, p);
    assert_int_equal(rec.stopped, 0);

    done_calls = 0;
    assert_int_equal(dg_port_stop_listening(p, on_done, &rec), 0);
    /* Closed on the next iteration, never inside the call. */
    assert_int_equal(rec.stopped, 0);
    assert_int_equal(done_calls, 0);
    T_RUN_UNTIL(r, done_calls == 1);
    assert_int_equal(rec.stopped, 1);
    assert_int_equal(stopped_before_done, 1);
    assert_false(rec.transport_in_stop);
    assert_null(rec.proto.transport);
    dg_reactor_free(r);
    assert_int_equal(rec.stopped, 1); /* never twice */
}

/* 3. test_rebind: a stopped protocol can listen again, and starts again. */
static void test_rebind(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    done_calls = 0;
    assert_int_equal(dg_port_stop_listening(p, on_done, &rec), 0);
    T_RUN_UNTIL(r, done_calls == 1);
    p = t_listen(r, &rec, "127.0.0.1");
    assert_non_null(p);
    assert_int_equal(rec.started, 2);
    dg_reactor_free(r);
    assert_int_equal(rec.stopped, 2);
}

/* 4. test_stopProtocolScheduling: stop_listening inside start_protocol runs
 * stop_protocol later, not re-entrantly. */
static bool stopped_in_start;
static void stop_in_start(t_rec *rec)
{
    assert_int_equal(dg_port_stop_listening(rec->proto.transport, NULL, NULL), 0);
    stopped_in_start = rec->stopped != 0;
}

static void test_stop_in_start(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    rec.on_start = stop_in_start;
    stopped_in_start = true;
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    assert_non_null(p);
    assert_false(stopped_in_start);
    assert_int_equal(rec.started, 1);
    assert_int_equal(rec.stopped, 0);
    T_RUN_UNTIL(r, rec.stopped == 1);
    dg_reactor_free(r);
    assert_int_equal(rec.stopped, 1);
}

/* 5 and 6. The log lines Twisted pins exactly. */
static void test_log_lines(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Crazy Protocol");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    int port = t_port_number(p);
    char line[64];
    snprintf(line, sizeof line, "Crazy Protocol starting on %d", port);
    assert_true(t_nlog >= 1);
    assert_string_equal(t_log[0], line);

    t_log_clear();
    done_calls = 0;
    dg_port_stop_listening(p, on_done, &rec);
    T_RUN_UNTIL(r, done_calls == 1);
    snprintf(line, sizeof line, "(UDP Port %d Closed)", port);
    assert_true(t_nlog >= 1);
    assert_string_equal(t_log[0], line);
    dg_reactor_free(r);
}

/* A second stop is harmless, and the first done still runs (once). */
static void test_double_stop(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    done_calls = 0;
    assert_int_equal(dg_port_stop_listening(p, on_done, &rec), 0);
    assert_int_equal(dg_port_stop_listening(p, on_done, &rec), -EALREADY);
    T_RUN_UNTIL(r, done_calls >= 1);
    t_turn(r, 3);
    assert_int_equal(done_calls, 1);
    assert_int_equal(rec.stopped, 1);
    dg_reactor_free(r);
}

/* One protocol on a second live port is -EBUSY, with nothing bound. */
static void test_second_port_busy(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    int fds = t_open_fds();
    dg_port *q = (dg_port *)&q;
    assert_int_equal(dg_listen_udp(r, 0, &rec.proto, NULL, &q), -EBUSY);
    assert_null(q);
    assert_int_equal(t_open_fds(), fds);
    assert_ptr_equal(rec.proto.transport, p);
    assert_int_equal(rec.started, 1);
    dg_reactor_free(r);
    assert_int_equal(rec.stopped, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_host),
        cmocka_unit_test(test_start_stop),
        cmocka_unit_test(test_rebind),
        cmocka_unit_test(test_stop_in_start),
        cmocka_unit_test(test_log_lines),
        cmocka_unit_test(test_double_stop),
        cmocka_unit_test(test_second_port_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
