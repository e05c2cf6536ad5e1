/* dg_reactor_call_in_thread (Twisted's deferToThread), issue 3: work runs on
 * a bounded pool of worker threads, done on the reactor thread; jobs beyond
 * the pool's size queue; freeing the reactor cancels queued work and waits
 * for running work. */
#include "helpers.h"
#include <stdatomic.h>
#include <stdlib.h>

typedef struct job {
    pthread_t work_thread, done_thread;
    atomic_bool ran;
    bool ran_before_done; /* the work had finished when done ran */
    int done_calls, status, order;
    t_gate *hold;       /* work waits for this gate to reach 1 */
    t_gate *started;    /* work raises this when it starts */
    atomic_int *running, *max_running;
    t_gate *on_cancel;  /* done(-ECANCELED) raises this */
} job;

static int done_seq;

static void work(void *arg)
{
    job *j = arg;
    j->work_thread = pthread_self();
    if (j->running) {
        int now = atomic_fetch_add(j->running, 1) + 1;
        int m = atomic_load(j->max_running);
        while (now > m && !atomic_compare_exchange_weak(j->max_running, &m, now))
            ;
    }
    if (j->started)
        t_gate_add(j->started, 1);
    if (j->hold)
        t_gate_wait(j->hold, 1);
    if (j->running)
        atomic_fetch_sub(j->running, 1);
    atomic_store(&j->ran, true);
}

static void done(dg_reactor *r, int status, void *arg)
{
    (void)r;
    job *j = arg;
    j->done_thread = pthread_self();
    j->done_calls++;
    j->status = status;
    j->order = ++done_seq;
    j->ran_before_done = atomic_load(&j->ran);
    if (status == -ECANCELED && j->on_cancel)
        t_gate_add(j->on_cancel, 1);
}

static int dones(const job *jobs, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += jobs[i].done_calls;
    return total;
}

static dg_reactor *pool_reactor(unsigned threads)
{
    dg_reactor_options o;
    dg_reactor_options_init(&o);
    o.threads = threads;
    dg_reactor *r = NULL;
    assert_int_equal(dg_reactor_new(&o, &r), 0);
    return r;
}

/* Work on a worker thread, done on the reactor's, after the work, and never
 * inside the call. */
static void test_done_on_reactor_thread(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    job j = {0};
    assert_int_equal(dg_reactor_call_in_thread(r, work, done, &j), 0);
    assert_int_equal(j.done_calls, 0);
    T_RUN_UNTIL(r, j.done_calls == 1);
    assert_int_equal(j.status, 0);
    assert_true(j.ran_before_done);
    assert_true(pthread_equal(j.done_thread, pthread_self()));
    assert_false(pthread_equal(j.work_thread, pthread_self()));
    t_turn(r, 3);
    assert_int_equal(j.done_calls, 1);
    dg_reactor_free(r);
    assert_int_equal(j.done_calls, 1);
}

/* Three jobs that each wait until all three have started can only finish if
 * the pool runs them at once; a hundred more all complete, never more than
 * the pool's size at a time. */
#define MANY 100
static void test_many_concurrent(void **state)
{
    (void)state;
    dg_reactor *r = pool_reactor(3);
    t_gate started, all_in;
    t_gate_init(&started);
    t_gate_init(&all_in);
    atomic_int running = 0, max_running = 0;
    job gated[3] = {0};
    job *many = calloc(MANY, sizeof *many);
    assert_non_null(many);
    for (int i = 0; i < 3; i++) {
        gated[i] = (job){.started = &started, .hold = &all_in, .running = &running,
                         .max_running = &max_running};
        assert_int_equal(dg_reactor_call_in_thread(r, work, done, &gated[i]), 0);
    }
    assert_true(t_gate_wait(&started, 3)); /* three at once */
    t_gate_add(&all_in, 1);
    for (int i = 0; i < MANY; i++) {
        many[i] = (job){.running = &running, .max_running = &max_running};
        assert_int_equal(dg_reactor_call_in_thread(r, work, done, &many[i]), 0);
    }
    T_RUN_UNTIL(r, dones(many, MANY) + dones(gated, 3) == MANY + 3);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(many[i].done_calls, 1);
        assert_int_equal(many[i].status, 0);
        assert_true(many[i].ran_before_done);
    }
    assert_int_equal(atomic_load(&max_running), 3); /* the pool's size, not more */
    dg_reactor_free(r);
    free(many);
    t_gate_destroy(&started);
    t_gate_destroy(&all_in);
}

/* With both threads of a two-thread pool held, a third job waits in the
 * queue: no third thread is started for it, and it starts only when a
 * thread is free. */
static void test_more_jobs_than_threads_queue(void **state)
{
    (void)state;
    dg_reactor *r = pool_reactor(2);
    int threads_before = t_threads();
    t_gate started, hold1, hold2;
    t_gate_init(&started);
    t_gate_init(&hold1);
    t_gate_init(&hold2);
    atomic_int running = 0, max_running = 0;
    job j[3] = {
        {.started = &started, .hold = &hold1, .running = &running, .max_running = &max_running},
        {.started = &started, .hold = &hold2, .running = &running, .max_running = &max_running},
        {.started = &started, .running = &running, .max_running = &max_running},
    };
    for (int i = 0; i < 2; i++)
        assert_int_equal(dg_reactor_call_in_thread(r, work, done, &j[i]), 0);
    assert_true(t_gate_wait(&started, 2));
    assert_int_equal(dg_reactor_call_in_thread(r, work, done, &j[2]), 0);
    /* Threads are started inside the call, so the count is final now. */
    assert_int_equal(t_threads(), threads_before + 2);
    t_turn(r, 3);
    assert_int_equal(t_gate_count(&started), 2);
    assert_false(atomic_load(&j[2].ran));

    t_gate_add(&hold1, 1);
    T_RUN_UNTIL(r, j[2].done_calls == 1);
    assert_int_equal(j[0].done_calls, 1);
    assert_true(j[0].order < j[2].order);
    assert_int_equal(j[1].done_calls, 0); /* still held */
    assert_int_equal(atomic_load(&max_running), 2);
    t_gate_add(&hold2, 1);
    T_RUN_UNTIL(r, j[1].done_calls == 1);
    assert_int_equal(t_threads(), threads_before + 2);
    dg_reactor_free(r);
    t_gate_destroy(&started);
    t_gate_destroy(&hold1);
    t_gate_destroy(&hold2);
}

static int resubmit_rc;

static void done_resubmits(dg_reactor *r, int status, void *arg)
{
    done(r, status, arg);
    resubmit_rc = dg_reactor_call_in_thread(r, work, done, arg);
}

/* Freeing the reactor with one job running and two queued: the queued jobs'
 * work never runs and their done gets -ECANCELED (first, so here the first
 * one lets the running job finish); the running job is waited for and its
 * done gets 0; all before dg_reactor_free returns. New work is refused. */
static void test_free_with_jobs_queued(void **state)
{
    (void)state;
    dg_reactor *r = pool_reactor(1);
    t_gate started, hold;
    t_gate_init(&started);
    t_gate_init(&hold);
    job running = {.started = &started, .hold = &hold};
    job queued[2] = {{.on_cancel = &hold}, {0}};
    assert_int_equal(dg_reactor_call_in_thread(r, work, done, &running), 0);
    assert_true(t_gate_wait(&started, 1));
    assert_int_equal(dg_reactor_call_in_thread(r, work, done_resubmits, &queued[0]), 0);
    assert_int_equal(dg_reactor_call_in_thread(r, work, done, &queued[1]), 0);
    done_seq = 0;
    resubmit_rc = 0;
    dg_reactor_free(r);

    for (int i = 0; i < 2; i++) {
        assert_int_equal(queued[i].done_calls, 1);
        assert_int_equal(queued[i].status, -ECANCELED);
        assert_false(atomic_load(&queued[i].ran));
        assert_true(pthread_equal(queued[i].done_thread, pthread_self()));
    }
    assert_int_equal(resubmit_rc, -ESHUTDOWN);
    assert_int_equal(running.done_calls, 1);
    assert_int_equal(running.status, 0);
    assert_true(running.ran_before_done);
    assert_true(queued[0].order < queued[1].order);
    assert_true(queued[1].order < running.order);
    t_gate_destroy(&started);
    t_gate_destroy(&hold);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    job j = {0};
    assert_int_equal(dg_reactor_call_in_thread(NULL, work, done, &j), -EINVAL);
    assert_int_equal(dg_reactor_call_in_thread(r, NULL, done, &j), -EINVAL);
    /* No done: the work still runs, and nothing is called back. */
    t_gate started;
    t_gate_init(&started);
    j.started = &started;
    assert_int_equal(dg_reactor_call_in_thread(r, work, NULL, &j), 0);
    assert_true(t_gate_wait(&started, 1));
    dg_reactor_free(r); /* waits for it */
    assert_true(atomic_load(&j.ran));
    assert_int_equal(j.done_calls, 0);
    t_gate_destroy(&started);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_done_on_reactor_thread),
        cmocka_unit_test(test_many_concurrent),
        cmocka_unit_test(test_more_jobs_than_threads_queue),
        cmocka_unit_test(test_free_with_jobs_queued),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
