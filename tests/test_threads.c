/* dg_reactor_call_from_thread (Twisted's callFromThread): the one
 * thread-safe call. Runs on the reactor thread, wakes a sleeping loop, and
 * is refused once the reactor is being freed. */
#include "helpers.h"
#include <pthread.h>
#include <semaphore.h>
#include <string.h>

static pthread_t reactor_thread;

/* ---- many threads ------------------------------------------------------------ */

#define NTHREADS 4
#define NCALLS 1000

typedef struct sender {
    dg_reactor *r;
    int id;
    int failures;
} sender;

static int got_total, got_per[NTHREADS], last_seq[NTHREADS], wrong_thread, out_of_order;

static void on_call(dg_reactor *r, void *arg)
{
    intptr_t v = (intptr_t)arg;
    int id = (int)(v / NCALLS), seq = (int)(v % NCALLS);
    if (!pthread_equal(pthread_self(), reactor_thread))
        wrong_thread++;
    if (seq != last_seq[id] + 1) /* one thread's calls run in its order */
        out_of_order++;
    last_seq[id] = seq;
    got_per[id]++;
    if (++got_total == NTHREADS * NCALLS)
        dg_reactor_stop(r);
}

static void *send_calls(void *arg)
{
    sender *s = arg;
    for (int i = 0; i < NCALLS; i++)
        if (dg_reactor_call_from_thread(s->r, on_call, (void *)(intptr_t)(s->id * NCALLS + i)) != 0)
            s->failures++;
    return NULL;
}

static void test_many_threads(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    reactor_thread = pthread_self();
    got_total = wrong_thread = out_of_order = 0;
    sender s[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        got_per[i] = 0;
        last_seq[i] = -1;
        s[i] = (sender){.r = r, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, send_calls, &s[i]), 0);
    }
    assert_int_equal(dg_reactor_run(r), 0); /* no timers: only the calls wake it */
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(s[i].failures, 0);
        assert_int_equal(got_per[i], NCALLS);
    }
    assert_int_equal(got_total, NTHREADS * NCALLS);
    assert_int_equal(wrong_thread, 0);
    assert_int_equal(out_of_order, 0);
    dg_reactor_free(r);
}

/* ---- waking a sleeping reactor -------------------------------------------- */

/* Ping-pong: each call lets the thread send the next one only after it ran,
 * so every call but the first arrives while the reactor is (about to be)
 * blocked in a wait with no timeout: only the wake-up can end that wait. */
#define ROUNDS 200
static sem_t ran;
static int rounds;

static void ping(dg_reactor *r, void *arg)
{
    (void)arg;
    if (++rounds == ROUNDS)
        dg_reactor_stop(r);
    sem_post(&ran);
}

static void *pinger(void *arg)
{
    dg_reactor *r = arg;
    for (int i = 0; i < ROUNDS; i++) {
        if (dg_reactor_call_from_thread(r, ping, NULL) != 0)
            return (void *)1;
        sem_wait(&ran);
    }
    return NULL;
}

static void test_wakes_blocked_run(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    rounds = 0;
    assert_int_equal(sem_init(&ran, 0, 0), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pinger, r), 0);
    assert_int_equal(dg_reactor_run(r), 0);
    void *res;
    assert_int_equal(pthread_join(th, &res), 0);
    assert_null(res);
    assert_int_equal(rounds, ROUNDS);
    sem_destroy(&ran);
    dg_reactor_free(r);
}

/* The same on a fake clock, whose pending timers never end a wait. */
static void stop_call(dg_reactor *r, void *arg)
{
    (void)arg;
    dg_reactor_stop(r);
}

static void *stopper(void *arg)
{
    return (void *)(intptr_t)dg_reactor_call_from_thread(arg, stop_call, NULL);
}

static void never(dg_call *c, void *arg)
{
    (void)c;
    (void)arg;
    fail_msg("a fake-clock timer ran without dg_reactor_advance()");
}

static void test_wakes_fake_clock(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(true);
    dg_call_later(r, 0, never, NULL);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stopper, r), 0);
    assert_int_equal(dg_reactor_run(r), 0);
    void *res;
    assert_int_equal(pthread_join(th, &res), 0);
    assert_int_equal((intptr_t)res, 0);
    dg_reactor_free(r);
}

/* ---- from the reactor thread itself ----------------------------------------- */

static int calls_run;
static void count_call(dg_reactor *r, void *arg)
{
    (void)r;
    (void)arg;
    calls_run++;
}

static void post_from_timer(dg_call *c, void *arg)
{
    (void)arg;
    assert_int_equal(dg_reactor_call_from_thread(dg_call_reactor(c), count_call, NULL), 0);
    assert_int_equal(calls_run, 0); /* never re-entrantly */
}

static void test_from_reactor_thread(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    calls_run = 0;
    dg_call_later(r, 0, post_from_timer, NULL);
    T_RUN_UNTIL(r, calls_run == 1);
    t_turn(r, 3);
    assert_int_equal(calls_run, 1);
    assert_int_equal(dg_reactor_call_from_thread(r, NULL, NULL), -EINVAL);
    assert_int_equal(dg_reactor_call_from_thread(NULL, count_call, NULL), -EINVAL);
    dg_reactor_free(r);
}

/* ---- while the reactor is being freed ----------------------------------- */

/* A call accepted before dg_reactor_free() still runs, exactly once, so a
 * thread that hands over memory with it is not leaked. */
static void test_accepted_call_runs_at_free(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    calls_run = 0;
    assert_int_equal(dg_reactor_call_from_thread(r, count_call, NULL), 0);
    dg_reactor_free(r);
    assert_int_equal(calls_run, 1);
}

/* From stop_protocol during dg_reactor_free(): -ESHUTDOWN, never run. */
static int stop_rc;
static void post_in_stop(t_rec *rec)
{
    stop_rc = dg_reactor_call_from_thread((dg_reactor *)rec->user, count_call, NULL);
}

static void test_refused_during_free(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    rec.on_stop = post_in_stop;
    rec.user = r;
    t_listen(r, &rec, "127.0.0.1");
    calls_run = 0;
    stop_rc = 1;
    dg_reactor_free(r);
    assert_int_equal(rec.stopped, 1);
    assert_int_equal(stop_rc, -ESHUTDOWN);
    assert_int_equal(calls_run, 0);
}

/* From another thread during dg_reactor_free(): a worker whose work is
 * running when the reactor is freed (free waits for it) posts a call. */
static sem_t work_started, may_post;
static int worker_rc, done_status, done_calls;

static void work(void *arg)
{
    dg_reactor *r = arg;
    sem_post(&work_started);
    sem_wait(&may_post); /* until the reactor is being freed */
    worker_rc = dg_reactor_call_from_thread(r, count_call, NULL);
}

static void work_done(dg_reactor *r, int status, void *arg)
{
    (void)r;
    (void)arg;
    done_status = status;
    done_calls++;
}

static void let_worker_post(t_rec *rec)
{
    (void)rec;
    sem_post(&may_post);
}

static void test_refused_from_thread_during_free(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    assert_int_equal(sem_init(&work_started, 0, 0), 0);
    assert_int_equal(sem_init(&may_post, 0, 0), 0);
    t_rec rec;
    t_rec_init(&rec, "Server");
    rec.on_stop = let_worker_post; /* runs inside dg_reactor_free */
    t_listen(r, &rec, "127.0.0.1");
    calls_run = done_calls = 0;
    worker_rc = done_status = 1;
    assert_int_equal(dg_reactor_call_in_thread(r, work, work_done, r), 0);
    sem_wait(&work_started);
    dg_reactor_free(r);
    assert_int_equal(worker_rc, -ESHUTDOWN);
    assert_int_equal(calls_run, 0);
    assert_int_equal(done_calls, 1);
    assert_int_equal(done_status, 0);
    sem_destroy(&work_started);
    sem_destroy(&may_post);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_wakes_blocked_run),
        cmocka_unit_test(test_wakes_fake_clock),
        cmocka_unit_test(test_from_reactor_thread),
        cmocka_unit_test(test_accepted_call_runs_at_free),
        cmocka_unit_test(test_refused_during_free),
        cmocka_unit_test(test_refused_from_thread_during_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
