/* Opt-in SIGINT/SIGTERM handling: a signal stops dg_reactor_run() cleanly
 * (live ports' stop_protocol runs, as Twisted's shutdown), one reactor owns
 * the handlers at a time, and freeing it restores what was there before. */
#include "helpers.h"
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t user_hits;
static void user_handler(int sig)
{
    (void)sig;
    user_hits++;
}

static void (*handler_of(int sig))(int)
{
    struct sigaction sa;
    assert_int_equal(sigaction(sig, NULL, &sa), 0);
    return sa.sa_handler;
}

static void set_handler(int sig, void (*h)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(sig, &sa, NULL), 0);
}

static dg_reactor *signal_reactor(int *rc)
{
    dg_reactor_options o;
    dg_reactor_options_init(&o);
    o.handle_signals = true;
    dg_reactor *r = NULL;
    *rc = dg_reactor_new(&o, &r);
    return r;
}

static void raise_sigint(dg_call *c, void *arg)
{
    (void)c;
    (void)arg;
    assert_int_equal(raise(SIGINT), 0);
}

static void test_sigint_stops_run(void **state)
{
    (void)state;
    set_handler(SIGINT, user_handler);
    user_hits = 0;
    int rc;
    dg_reactor *r = signal_reactor(&rc);
    assert_int_equal(rc, 0);
    t_rec rec;
    t_rec_init(&rec, "Server");
    t_listen(r, &rec, "127.0.0.1");
    dg_call_later(r, 0.01, raise_sigint, NULL);
    dg_call *far = dg_call_later(r, 100, raise_sigint, NULL);
    assert_int_equal(dg_reactor_run(r), 0);
    assert_int_equal(rec.stopped, 1);
    assert_null(rec.proto.transport);
    assert_int_equal(user_hits, 0); /* the reactor's handler took it */
    assert_true(dg_call_active(far));
    dg_reactor_free(r);
    set_handler(SIGINT, SIG_DFL);
}

/* SIGTERM sent to the process while the loop sleeps (no due timers), from
 * another thread, which may be the one the kernel delivers it to. */
static void *send_sigterm(void *arg)
{
    (void)arg;
    kill(getpid(), SIGTERM);
    return NULL;
}

static void start_killer(dg_call *c, void *arg)
{
    (void)c;
    assert_int_equal(pthread_create((pthread_t *)arg, NULL, send_sigterm, NULL), 0);
}

static void test_sigterm_stops_run(void **state)
{
    (void)state;
    int rc;
    dg_reactor *r = signal_reactor(&rc);
    assert_int_equal(rc, 0);
    t_rec rec;
    t_rec_init(&rec, "Server");
    t_listen(r, &rec, "127.0.0.1");
    pthread_t th;
    dg_call_later(r, 0, start_killer, &th);
    assert_int_equal(dg_reactor_run(r), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(rec.stopped, 1);
    dg_reactor_free(r);
}

/* A signal that arrives while the loop is driven by run_once (or not at
 * all) is kept for the next dg_reactor_run(), which returns at once. */
static void test_signal_outside_run_kept(void **state)
{
    (void)state;
    int rc;
    dg_reactor *r = signal_reactor(&rc);
    assert_int_equal(rc, 0);
    assert_int_equal(raise(SIGINT), 0);
    t_turn(r, 3); /* nothing to stop; and run_once still works */
    dg_call *far = dg_call_later(r, 100, raise_sigint, NULL);
    assert_int_equal(dg_reactor_run(r), 0);
    assert_true(dg_call_active(far));
    dg_reactor_free(r);
}

static void test_one_owner(void **state)
{
    (void)state;
    int rc;
    dg_reactor *a = signal_reactor(&rc);
    assert_int_equal(rc, 0);
    dg_reactor *b = signal_reactor(&rc);
    assert_int_equal(rc, -EBUSY);
    assert_null(b);
    dg_reactor *plain = t_reactor(false); /* without handle_signals: fine */
    dg_reactor_free(plain);
    dg_reactor_free(a);
    b = signal_reactor(&rc); /* free gave the handlers up */
    assert_int_equal(rc, 0);
    dg_reactor_free(b);
}

static void test_disposition_restored(void **state)
{
    (void)state;
    set_handler(SIGINT, user_handler);
    set_handler(SIGTERM, SIG_IGN);
    int rc;
    dg_reactor *r = signal_reactor(&rc);
    assert_int_equal(rc, 0);
    assert_true(handler_of(SIGINT) != user_handler);
    assert_true(handler_of(SIGTERM) != SIG_IGN);
    assert_true(handler_of(SIGINT) == handler_of(SIGTERM));
    dg_reactor_free(r);
    assert_true(handler_of(SIGINT) == user_handler);
    assert_true(handler_of(SIGTERM) == SIG_IGN);
    user_hits = 0;
    assert_int_equal(raise(SIGINT), 0);
    assert_int_equal(user_hits, 1);
    set_handler(SIGINT, SIG_DFL);
    set_handler(SIGTERM, SIG_DFL);
}

/* The default reactor leaves signals alone. */
static void test_default_installs_nothing(void **state)
{
    (void)state;
    set_handler(SIGINT, user_handler);
    dg_reactor *r = t_reactor(false);
    assert_true(handler_of(SIGINT) == user_handler);
    assert_true(handler_of(SIGTERM) == SIG_DFL);
    user_hits = 0;
    assert_int_equal(raise(SIGINT), 0);
    assert_int_equal(user_hits, 1);
    dg_reactor_free(r);
    set_handler(SIGINT, SIG_DFL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigint_stops_run),
        cmocka_unit_test(test_sigterm_stops_run),
        cmocka_unit_test(test_signal_outside_run_kept),
        cmocka_unit_test(test_one_owner),
        cmocka_unit_test(test_disposition_restored),
        cmocka_unit_test(test_default_installs_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
