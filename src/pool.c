/* Worker threads (Twisted's deferToThread): a bounded pool, started on first
 * use, that runs blocking work (getaddrinfo) off the reactor thread and
 * reports back through the reactor's thread-call queue. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include "reactor.h"

/* Enough for a few slow lookups at once without a hung resolver taking many
 * threads; docs/resolution.md explains the choice. */
#define DG_DEFAULT_THREADS 4

struct dg__job {
    dg__thread_call report; /* embedded: reporting never allocates */
    dg__job *next;
    dg_reactor *r;
    dg_work_fn work;
    dg_work_done_fn done;
    void *arg;
    bool cancelled; /* written under the pool lock, which the worker reads it under */
};

struct dg__pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    dg__job *head, **tail;
    pthread_t *threads;
    unsigned nthreads, idle, queued, max;
    bool shutdown;
};

static void *worker(void *arg)
{
    dg__pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->head && !pool->shutdown) {
            pool->idle++;
            pthread_cond_wait(&pool->wake, &pool->lock);
            pool->idle--;
        }
        dg__job *j = pool->head;
        if (!j)
            break; /* shutdown: the queue was taken by dg__pool_free */
        pool->head = j->next;
        if (!pool->head)
            pool->tail = &pool->head;
        pool->queued--;
        bool skip = j->cancelled;
        pthread_mutex_unlock(&pool->lock);
        if (!skip)
            j->work(j->arg);
        dg__post(j->r, &j->report); /* cannot fail: the wake-up channel outlives the pool */
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* On the reactor thread, which is the only writer of cancelled after the
 * worker let go of the job. */
static void report(dg_reactor *r, void *arg)
{
    dg__job *j = arg;
    if (j->done)
        j->done(r, j->cancelled ? -ECANCELED : 0, j->arg);
    free(j);
}

static dg__pool *pool_get(dg_reactor *r)
{
    if (r->pool)
        return r->pool;
    dg__pool *pool = calloc(1, sizeof *pool);
    unsigned max = r->max_threads ? r->max_threads : DG_DEFAULT_THREADS;
    if (!pool || !(pool->threads = calloc(max, sizeof *pool->threads))) {
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->tail = &pool->head;
    pool->max = max;
    r->pool = pool;
    return pool;
}

/* Called with the lock held, the new job counted in queued: a job that no
 * idle worker will take gets a new thread, up to max. Workers block every
 * signal, so SIGINT and SIGTERM reach the reactor's thread. Returns 0 or
 * pthread_create's error. */
static int maybe_spawn(dg__pool *pool)
{
    if (pool->queued <= pool->idle || pool->nthreads == pool->max)
        return 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&pool->threads[pool->nthreads], NULL, worker, pool);
    if (rc == 0)
        pool->nthreads++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int dg__pool_submit(dg_reactor *r, dg_work_fn work, dg_work_done_fn done, void *arg,
                    dg__job **out)
{
    dg__pool *pool = pool_get(r);
    dg__job *j = pool ? calloc(1, sizeof *j) : NULL;
    if (!j)
        return -ENOMEM;
    *j = (dg__job){.report = {.fn = report, .arg = j}, .r = r, .work = work, .done = done,
                   .arg = arg};
    if (pool->shutdown) {
        free(j);
        return -ESHUTDOWN;
    }
    if (!work) { /* nothing to run: report from the loop at once */
        if (!dg__post(r, &j->report)) {
            free(j);
            return -ESHUTDOWN;
        }
        *out = j;
        return 0;
    }
    pthread_mutex_lock(&pool->lock);
    pool->queued++;
    int rc = maybe_spawn(pool);
    if (rc != 0 && pool->nthreads == 0) { /* no thread at all would ever take it */
        pool->queued--;
        pthread_mutex_unlock(&pool->lock);
        free(j);
        return -rc;
    }
    *pool->tail = j;
    pool->tail = &j->next;
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    *out = j;
    return 0;
}

void dg__pool_cancel(dg__job *j)
{
    pthread_mutex_lock(&j->r->pool->lock);
    j->cancelled = true;
    pthread_mutex_unlock(&j->r->pool->lock);
}

bool dg__pool_closing(const dg_reactor *r)
{
    return r->pool && r->pool->shutdown;
}

int dg_reactor_call_in_thread(dg_reactor *r, dg_work_fn work, dg_work_done_fn done, void *arg)
{
    if (!r || !work)
        return -EINVAL;
    dg__job *j;
    return dg__pool_submit(r, work, done, arg, &j);
}

/* Take the pool's reports out of the thread-call queue, leaving the calls of
 * dg_reactor_call_from_thread() (they are for an iteration that will not
 * come, and threads.c drops them). */
static dg__thread_call *take_reports(dg_reactor *r)
{
    dg__thread_call *mine = NULL, **mine_tail = &mine;
    pthread_mutex_lock(&r->lock);
    dg__thread_call **pp = &r->thread_calls;
    r->thread_tail = &r->thread_calls;
    while (*pp) {
        dg__thread_call *c = *pp;
        if (c->fn == report) {
            *pp = c->next;
            *mine_tail = c;
            mine_tail = &c->next;
            c->next = NULL;
        } else {
            pp = &c->next;
            r->thread_tail = pp;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return mine;
}

/* Reactor free. Queued work never starts: its done runs first, with
 * -ECANCELED. Then running work is waited for, and the reports of all work
 * that ran are delivered. */
void dg__pool_free(dg_reactor *r)
{
    dg__pool *pool = r->pool;
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    dg__job *queued = pool->head;
    pool->head = NULL;
    pool->tail = &pool->head;
    pool->queued = 0;
    pool->shutdown = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    while (queued) {
        dg__job *next = queued->next;
        queued->cancelled = true;
        report(r, queued);
        queued = next;
    }
    for (unsigned i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    for (dg__thread_call *c = take_reports(r), *next; c; c = next) {
        next = c->next;
        c->fn(r, c->arg);
    }
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
    r->pool = NULL;
}
