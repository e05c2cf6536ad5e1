/* Worker threads (Twisted's deferToThread): a bounded pool, started on first
 * use, that runs blocking work (getaddrinfo) off the reactor thread and
 * reports back through the reactor's thread-call queue. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include "reactor.h"

#define DG_DEFAULT_THREADS 4

struct dg__job {
    dg__thread_call report; /* embedded: reporting never allocates */
    dg__job *next;
    dg_reactor *r;
    dg_work_fn work;
    dg_work_done_fn done;
    void *arg;
    int status;
    bool cancelled; /* guarded by the pool lock */
};

struct dg__pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    dg__job *head, **tail;
    pthread_t *threads;
    unsigned nthreads, idle, max;
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
            break; /* shutdown with nothing queued */
        pool->head = j->next;
        if (!pool->head)
            pool->tail = &pool->head;
        bool skip = j->cancelled;
        pthread_mutex_unlock(&pool->lock);
        if (!skip)
            j->work(j->arg);
        dg__post(j->r, &j->report);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* On the reactor thread. */
static void report(dg_reactor *r, void *arg)
{
    dg__job *j = arg;
    pthread_mutex_lock(&r->pool->lock);
    int status = j->cancelled ? -ECANCELED : j->status;
    pthread_mutex_unlock(&r->pool->lock);
    if (j->done)
        j->done(r, status, j->arg);
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

/* Called with the lock held. Workers block every signal, so SIGINT and
 * SIGTERM reach the reactor's thread. */
static void maybe_spawn(dg__pool *pool)
{
    if (pool->idle > 0 || pool->nthreads == pool->max)
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&pool->threads[pool->nthreads], NULL, worker, pool) == 0)
        pool->nthreads++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

dg__job *dg__pool_submit(dg_reactor *r, dg_work_fn work, dg_work_done_fn done, void *arg)
{
    dg__pool *pool = pool_get(r);
    dg__job *j = pool ? calloc(1, sizeof *j) : NULL;
    if (!j)
        return NULL;
    j->report = (dg__thread_call){.fn = report, .arg = j};
    j->r = r;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&pool->lock);
    *pool->tail = j;
    pool->tail = &j->next;
    maybe_spawn(pool);
    bool none = pool->nthreads == 0;
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    if (none) { /* not even one thread could start: take the job back */
        pthread_mutex_lock(&pool->lock);
        pool->head = NULL;
        pool->tail = &pool->head;
        pthread_mutex_unlock(&pool->lock);
        free(j);
        return NULL;
    }
    return j;
}

/* The job still reports, with -ECANCELED, so its owner can release what the
 * work uses; a queued job's work is skipped. */
void dg__pool_cancel(dg__job *j)
{
    pthread_mutex_lock(&j->r->pool->lock);
    j->cancelled = true;
    pthread_mutex_unlock(&j->r->pool->lock);
}

int dg_reactor_call_in_thread(dg_reactor *r, dg_work_fn work, dg_work_done_fn done, void *arg)
{
    if (!r || !work)
        return -EINVAL;
    return dg__pool_submit(r, work, done, arg) ? 0 : -ENOMEM;
}

/* Reactor free: queued work is cancelled (done gets -ECANCELED), running work
 * is waited for and reported. */
void dg__pool_free(dg_reactor *r)
{
    dg__pool *pool = r->pool;
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    dg__job *queued = pool->head;
    pool->head = NULL;
    pool->tail = &pool->head;
    pool->shutdown = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    dg__run_thread_calls(r); /* reports of the work that was running */
    while (queued) {
        dg__job *next = queued->next;
        if (queued->done)
            queued->done(r, -ECANCELED, queued->arg);
        free(queued);
        queued = next;
    }
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
    r->pool = NULL;
}
