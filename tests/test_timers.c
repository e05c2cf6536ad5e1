/* Timers (Twisted's callLater and DelayedCall) on the fake clock (Twisted's
 * task.Clock) and on the real one: issue 2's timer points and spec 1.9. */
#include "helpers.h"
#include <unistd.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ORDER 16
static int order[MAX_ORDER];
static int norder;

static void record(dg_call *c, void *arg)
{
    (void)c;
    assert_true(norder < MAX_ORDER);
    order[norder++] = (int)(intptr_t)arg;
}

static dg_call *later(dg_reactor *r, double delay, dg_call_fn fn, int tag)
{
    dg_call *c = dg_call_later(r, delay, fn, (void *)(intptr_t)tag);
    assert_non_null(c);
    return c;
}

static void test_fake_clock_time(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    assert_true(dg_reactor_now(r) == 0.0);
    assert_int_equal(dg_reactor_advance(r, 2.5), 0);
    assert_true(dg_reactor_now(r) == 2.5);
    dg_call *c = later(r, 1.25, record, 0);
    assert_true(dg_call_time(c) == 3.75);
    assert_ptr_equal(dg_call_reactor(c), r);
    assert_true(dg_call_active(c));
    dg_reactor_free(r); /* a pending call is dropped, uncalled and not leaked */
}

/* By time, then by the order they were scheduled; a call due exactly now runs. */
static void test_order(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    norder = 0;
    later(r, 3, record, 3);
    later(r, 1, record, 1);
    later(r, 2, record, 2);
    later(r, 1, record, 11);
    later(r, 0, record, 0);
    assert_int_equal(dg_reactor_advance(r, 0.5), 0);
    assert_int_equal(norder, 1);
    assert_int_equal(order[0], 0);
    assert_int_equal(dg_reactor_advance(r, 0.5), 0); /* now == 1: due exactly */
    assert_int_equal(norder, 3);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 11);
    assert_int_equal(dg_reactor_advance(r, 10), 0);
    assert_int_equal(norder, 5);
    assert_int_equal(order[3], 2);
    assert_int_equal(order[4], 3);
    dg_reactor_free(r);
}

static void test_bad_delays(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    assert_null(dg_call_later(r, -1, record, NULL));
    assert_null(dg_call_later(r, -1e-9, record, NULL));
    assert_null(dg_call_later(r, NAN, record, NULL));
    assert_null(dg_call_later(r, INFINITY, record, NULL));
    assert_null(dg_call_later(r, 1, NULL, NULL));
    dg_call *c = later(r, 1, record, 0);
    assert_int_equal(dg_call_reset(c, -1), -EINVAL);
    assert_int_equal(dg_call_reset(c, NAN), -EINVAL);
    assert_true(dg_call_time(c) == 1.0); /* unchanged */
    assert_true(dg_call_active(c));

    assert_int_equal(dg_reactor_advance(r, -1), -EINVAL);
    assert_int_equal(dg_reactor_advance(r, NAN), -EINVAL);
    assert_int_equal(dg_reactor_advance(r, -INFINITY), -EINVAL);
    assert_true(dg_reactor_now(r) == 0.0);
    dg_reactor_free(r);

    r = t_reactor(false);
    assert_int_equal(dg_reactor_advance(r, 1), -EINVAL); /* a real clock */
    assert_int_equal(dg_reactor_advance(r, 0), -EINVAL);
    dg_reactor_free(r);
}

static void test_cancel(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    norder = 0;
    dg_call *a = later(r, 1, record, 1);
    later(r, 2, record, 2);
    assert_int_equal(dg_call_cancel(a), 0);
    assert_int_equal(dg_call_cancel(NULL), -EINVAL);
    assert_int_equal(dg_reactor_advance(r, 5), 0);
    assert_int_equal(norder, 1);
    assert_int_equal(order[0], 2);
    dg_reactor_free(r);
}

/* A call cancelled by an earlier call of the same pass does not run. */
static dg_call *victim;
static void cancel_victim(dg_call *c, void *arg)
{
    record(c, arg);
    assert_int_equal(dg_call_cancel(victim), 0);
}

static void test_cancel_from_earlier_call(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    norder = 0;
    later(r, 1, cancel_victim, 1);
    victim = later(r, 1, record, 2);
    later(r, 1, record, 3);
    assert_int_equal(dg_reactor_advance(r, 1), 0);
    assert_int_equal(norder, 2);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 3);
    dg_reactor_free(r);
}

/* Inside its own callback a call is not active and cannot be cancelled. */
static int self_checks;
static void self_check(dg_call *c, void *arg)
{
    (void)arg;
    assert_false(dg_call_active(c));
    assert_int_equal(dg_call_cancel(c), -EALREADY);
    self_checks++;
}

static void test_inside_own_callback(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    self_checks = 0;
    dg_call *c = later(r, 1, self_check, 0);
    assert_true(dg_call_active(c));
    assert_int_equal(dg_reactor_advance(r, 1), 0);
    assert_int_equal(self_checks, 1);
    /* The header calls the handle gone now; the library recycles handles
     * rather than freeing them before dg_reactor_free(), so looking is
     * memory-safe, and it must not claim to be scheduled. */
    assert_false(dg_call_active(c));
    assert_int_equal(dg_reactor_advance(r, 10), 0);
    assert_int_equal(self_checks, 1);
    dg_reactor_free(r);
}

static void test_reset(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    norder = 0;
    dg_call *a = later(r, 10, record, 1);
    dg_call *b = later(r, 1, record, 2);
    assert_int_equal(dg_call_reset(a, 2), 0); /* earlier */
    assert_true(dg_call_time(a) == 2.0);
    assert_int_equal(dg_call_reset(b, 5), 0); /* later */
    assert_true(dg_call_time(b) == 5.0);
    assert_int_equal(dg_reactor_advance(r, 1), 0);
    assert_int_equal(norder, 0);
    assert_int_equal(dg_reactor_advance(r, 1), 0);
    assert_int_equal(norder, 1);
    assert_int_equal(order[0], 1);
    assert_true(dg_call_active(b));
    assert_int_equal(dg_reactor_advance(r, 2.5), 0);
    assert_int_equal(norder, 1);
    assert_int_equal(dg_reactor_advance(r, 0.5), 0);
    assert_int_equal(norder, 2);
    assert_int_equal(order[1], 2);

    /* A reset call runs after those already due at the same time. */
    norder = 0;
    dg_call *x = later(r, 1, record, 10);
    later(r, 1, record, 11);
    assert_int_equal(dg_call_reset(x, 1), 0);
    assert_int_equal(dg_reactor_advance(r, 1), 0);
    assert_int_equal(norder, 2);
    assert_int_equal(order[0], 11);
    assert_int_equal(order[1], 10);
    dg_reactor_free(r);
}

/* Reset inside its own callback re-arms the same handle: a periodic timer. */
static dg_call *periodic_handle;
static int ticks;
static void tick(dg_call *c, void *arg)
{
    (void)arg;
    assert_ptr_equal(c, periodic_handle); /* the same call, no new one */
    assert_false(dg_call_active(c));
    ticks++;
    if (ticks < 5) {
        assert_int_equal(dg_call_reset(c, 1), 0);
        assert_true(dg_call_active(c));
        assert_true(dg_call_time(c) == dg_reactor_now(dg_call_reactor(c)) + 1);
    }
}

static void test_periodic(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    ticks = 0;
    periodic_handle = later(r, 1, tick, 0);
    for (int i = 1; i <= 7; i++) {
        assert_int_equal(dg_reactor_advance(r, 1), 0);
        assert_int_equal(ticks, i < 5 ? i : 5); /* once per second, then done */
    }
    dg_reactor_free(r);
}

/* Re-armed, then cancelled, all inside the callback: it does not run again. */
static void rearm_then_cancel(dg_call *c, void *arg)
{
    (void)arg;
    ticks++;
    assert_int_equal(dg_call_reset(c, 1), 0);
    assert_int_equal(dg_call_cancel(c), 0);
}

static void test_rearm_then_cancel(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    ticks = 0;
    later(r, 1, rearm_then_cancel, 0);
    assert_int_equal(dg_reactor_advance(r, 1), 0);
    assert_int_equal(dg_reactor_advance(r, 5), 0);
    assert_int_equal(ticks, 1);
    dg_reactor_free(r);
}

/* A call made while due calls run waits for the next pass, even with delay 0:
 * on the fake clock it runs after every call that was already due. */
static void schedule_zero(dg_call *c, void *arg)
{
    record(c, arg);
    later(dg_call_reactor(c), 0, record, 99);
}

static void test_zero_delay_next_pass_fake(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    norder = 0;
    later(r, 1, schedule_zero, 1);
    later(r, 1, record, 2);
    later(r, 1, record, 3);
    assert_int_equal(dg_reactor_advance(r, 1), 0);
    assert_int_equal(norder, 4);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 3);
    assert_int_equal(order[3], 99);
    dg_reactor_free(r);
}

/* On the real clock, "next pass" is the next iteration. */
static void test_zero_delay_next_pass_real(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    norder = 0;
    later(r, 0, schedule_zero, 1);
    T_RUN_UNTIL(r, norder >= 1);
    assert_int_equal(norder, 1);
    assert_int_equal(order[0], 1);
    assert_int_equal(dg_reactor_run_once(r, 0), 1);
    assert_int_equal(norder, 2);
    assert_int_equal(order[1], 99);
    dg_reactor_free(r);
}

static void stop_reactor(dg_call *c, void *arg)
{
    (void)arg;
    ticks++;
    dg_reactor_stop(dg_call_reactor(c));
}

static void test_real_clock_run(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    ticks = 0;
    double start = dg_reactor_now(r);
    dg_call *c = later(r, 0.02, stop_reactor, 0);
    assert_true(dg_call_time(c) >= start + 0.02);
    assert_int_equal(dg_reactor_run(r), 0);
    assert_int_equal(ticks, 1);
    assert_true(dg_reactor_now(r) >= start + 0.02);
    dg_reactor_free(r);
}

/* run_once(-1) sleeps until the timer is due (not a busy return with
 * nothing done, not forever) and runs it in that one iteration. */
static void test_wait_until_timer(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    ticks = 0;
    later(r, 0.05, stop_reactor, 0);
    assert_int_equal(dg_reactor_run_once(r, -1), 1);
    assert_int_equal(ticks, 1);
    /* And a timeout shorter than the timer is kept. */
    later(r, 30, stop_reactor, 0);
    assert_int_equal(dg_reactor_run_once(r, 1), 0);
    assert_int_equal(ticks, 1);
    dg_reactor_free(r);
}

/* A timer not due soon wakes the loop through a timerfd, armed at its due
 * time: re-armed for an earlier timer, left armed (a spurious wake-up at
 * worst) for a later one, never firing a call early, and closed with the
 * reactor. */
static bool early;

static void check_not_early(dg_call *c, void *arg)
{
    (void)arg;
    if (dg_reactor_now(dg_call_reactor(c)) < dg_call_time(c))
        early = true;
    ticks++;
}

static void test_timer_wakeups(void **state)
{
    (void)state;
    int fds = t_open_fds();
    dg_reactor *r = t_reactor(false);
    ticks = 0;
    early = false;
    dg_call *far = later(r, 30, check_not_early, 0);
    assert_int_equal(dg_reactor_run_once(r, 0), 0); /* armed for 30 s */
    later(r, 0.03, check_not_early, 0);             /* earlier: armed again */
    assert_int_equal(dg_reactor_run_once(r, -1), 1);
    assert_int_equal(ticks, 1);

    /* The armed one cancelled: a later one still runs, on time. */
    dg_call *soon = later(r, 0.02, check_not_early, 0);
    assert_int_equal(dg_reactor_run_once(r, 0), 0);
    assert_int_equal(dg_call_cancel(soon), 0);
    later(r, 0.04, check_not_early, 0);
    int turns = 0;
    while (ticks < 2 && turns < 100) {
        assert_true(dg_reactor_run_once(r, -1) >= 0);
        turns++;
    }
    assert_int_equal(ticks, 2);
    assert_true(turns <= 2); /* the cancelled one's wake-up, then this one */
    assert_false(early);
    assert_int_equal(dg_call_cancel(far), 0);
    dg_reactor_free(r);
    assert_int_equal(t_open_fds(), fds);
}

/* A callLater(0) made by a datagram's callback runs in the same run_once
 * (wait, dispatch, run what is due), also while a far timer holds the
 * timerfd and nothing else would make the loop read the clock. */
static dg_reactor *zero_r;

static void schedule_zero_now(t_rec *rec)
{
    (void)rec;
    assert_non_null(dg_call_later(zero_r, 0, check_not_early, 0));
}

static void test_zero_delay_beside_far_timer(void **state)
{
    (void)state;
    zero_r = t_reactor(false);
    ticks = 0;
    t_rec rec;
    t_rec_init(&rec, "Receiver");
    rec.on_datagram = schedule_zero_now;
    dg_port *p = t_listen(zero_r, &rec, "127.0.0.1");
    dg_call *far = later(zero_r, 30, check_not_early, 0);
    assert_int_equal(dg_reactor_run_once(zero_r, 0), 0); /* the timerfd armed for 30 s */
    int peer = t_queue_n("127.0.0.1", p, 1);
    assert_int_equal(dg_reactor_run_once(zero_r, -1), 2); /* the datagram, then the call */
    assert_int_equal(ticks, 1);
    assert_int_equal(dg_call_cancel(far), 0);
    close(peer);
    dg_reactor_free(zero_r);
    t_rec_free(&rec);
}

/* A delay too long for a timerfd (far beyond time_t) falls back to the
 * wait's clamped timeout, with no overflow (UBSan watches the casts). */
static void test_huge_delay(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    dg_call *c = later(r, DBL_MAX / 2, check_not_early, 0);
    assert_int_equal(dg_reactor_run_once(r, 0), 0);
    assert_int_equal(dg_call_cancel(c), 0);
    dg_reactor_free(r);
}

/* Many calls, half cancelled and some reset: the heap keeps its order. */
#define MANY 100000
static double many_when[MANY];
static uint32_t many_seq[MANY]; /* order of (re)scheduling */
static dg_call *many_call[MANY];
static int many_last = -1, many_fired;
static bool many_bad;

static void many_fire(dg_call *c, void *arg)
{
    int i = (int)(intptr_t)arg;
    if (dg_call_time(c) != many_when[i] || many_when[i] > dg_reactor_now(dg_call_reactor(c)))
        many_bad = true;
    if (many_last >= 0) {
        int j = many_last;
        if (many_when[j] > many_when[i] || (many_when[j] == many_when[i] && many_seq[j] > many_seq[i]))
            many_bad = true;
    }
    many_call[i] = NULL; /* fired: at most once */
    many_last = i;
    many_fired++;
}

static void test_many(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    uint32_t rnd = 12345, seq = 0;
    for (int i = 0; i < MANY; i++) {
        rnd = rnd * 1103515245u + 12345u;
        /* 100 distinct times: many ties, so the scheduling order matters. */
        double delay = (double)((rnd >> 16) % 100) / 10.0;
        many_call[i] = later(r, delay, many_fire, i);
        many_when[i] = delay;
        many_seq[i] = seq++;
    }
    int cancelled = 0;
    for (int i = 0; i < MANY; i += 2) {
        assert_int_equal(dg_call_cancel(many_call[i]), 0);
        many_call[i] = NULL;
        cancelled++;
    }
    for (int i = 1; i < MANY; i += 6) {
        rnd = rnd * 1103515245u + 12345u;
        double delay = (double)((rnd >> 16) % 100) / 10.0;
        assert_int_equal(dg_call_reset(many_call[i], delay), 0);
        many_when[i] = delay;
        many_seq[i] = seq++;
    }
    for (int step = 0; step < 40; step++)
        assert_int_equal(dg_reactor_advance(r, 0.37), 0);
    assert_false(many_bad);
    assert_int_equal(many_fired, MANY - cancelled);
    for (int i = 0; i < MANY; i++)
        assert_null(many_call[i]);
    dg_reactor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_clock_time),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_bad_delays),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_from_earlier_call),
        cmocka_unit_test(test_inside_own_callback),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_rearm_then_cancel),
        cmocka_unit_test(test_zero_delay_next_pass_fake),
        cmocka_unit_test(test_zero_delay_next_pass_real),
        cmocka_unit_test(test_real_clock_run),
        cmocka_unit_test(test_wait_until_timer),
        cmocka_unit_test(test_timer_wakeups),
        cmocka_unit_test(test_zero_delay_beside_far_timer),
        cmocka_unit_test(test_huge_delay),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
