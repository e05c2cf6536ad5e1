/* The reactor's private state, shared by the files that implement it. */
#ifndef DG_REACTOR_H
#define DG_REACTOR_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include "dgram.h"
#include "backend.h"
#include "timer.h"
#include "udp.h"

#pragma GCC visibility push(hidden)

/* Who is interested in one descriptor: a port, or a foreign reader/writer. */
typedef struct dg__watcher {
    dg_port *port;
    dg_io_fn read_fn, write_fn;
    void *read_arg, *write_arg;
    unsigned mask; /* what the backend watches: DG_READABLE | DG_WRITABLE */
} dg__watcher;

/* A call queued for the reactor thread. Either allocated by
 * dg_reactor_call_from_thread (heap: freed after it runs) or embedded in a
 * worker job, whose fn releases it (so a worker never allocates to report). */
typedef struct dg__thread_call {
    struct dg__thread_call *next;
    dg_thread_fn fn;
    void *arg;
    bool heap;
} dg__thread_call;

typedef struct dg__pool dg__pool;

struct dg_reactor {
    const dg__backend *backend;
    void *backend_data;

    dg__watcher *watchers; /* indexed by fd */
    int nwatchers;

    dg__timers timers;
    bool fake_clock;
    double fake_now;

    bool running;  /* inside dg_reactor_run: only then does a stop (or signal) count */
    bool stopping;
    int depth; /* > 0 while dispatching: run, free and run_once are refused */

    dg__port_list ports;   /* live ports, for shutdown */
    dg_port *pending;      /* ports with work for the next iteration (close, refusal) */
    dg_port *dead;         /* closed ports, freed at the end of the iteration */
    bool woken;            /* the wake-up descriptor fired this iteration */
    /* Timers not due soon wake the loop through a timerfd (timer_wake.c). */
    int tfd;               /* -1: none (fake clock, or none to be had) */
    double tfd_armed;      /* the due time it is armed for, or INFINITY */
    /* This iteration's wait had no timeout for the timers, and since then
     * the timerfd has not fired nor an earlier timer come: none is due. */
    bool timer_by_fd;
    double clock_seen;     /* the clock's last reading (seconds) */
    dg__rx rx;             /* receive buffers shared by every port */
    /* The port whose read batch is being delivered: its writes may be
     * batched (udp_write.c). */
    dg_port *tx_batch_port;

    pthread_mutex_t lock;  /* guards thread_calls and closing */
    dg__thread_call *thread_calls, **thread_tail;
    bool closing;          /* being freed: dg_reactor_call_from_thread is refused */
    int wake_rfd, wake_wfd; /* eventfd (both the same) or a pipe */
    bool signals;

    dg__pool *pool;        /* worker threads, started on first use (pool.c) */
    unsigned max_threads;

    dg_log_fn log;
    void *log_arg;
    char last_error[256];
};

/* Record "message: <strerror(err)>." as the last error and return err (a
 * negative errno). dg__refuse records "message." for errors whose message
 * already says why. */
int dg__fail(dg_reactor *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int dg__refuse(dg_reactor *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void dg__log(dg_reactor *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One ready descriptor from the backend; returns the callbacks run. A port
 * first, inline: nearly every event is one. The table only grows, so an fd
 * the backend reports is in it, unless it is the reactor's own. */
int dg__dispatch_other(dg_reactor *r, int fd, unsigned events);
static inline int dg__dispatch(dg_reactor *r, int fd, unsigned events)
{
    dg_port *p = fd < r->nwatchers ? r->watchers[fd].port : NULL;
    if (!p)
        return dg__dispatch_other(r, fd, events);
    /* Errors (a pending ICMP refusal) are read through recv, so that a
     * connected port reports connection_refused instead of closing. */
    dg__port_on_readable(p, events);
    return 1;
}

/* Register interest in fd for a port (mask 0: forget it). */
int dg__watch_port(dg_reactor *r, int fd, dg_port *p, unsigned mask);

/* Wake-up channel, call_from_thread queue, signal handling (threads.c, signals.c). */
int dg__wakeup_init(dg_reactor *r);
void dg__wakeup_free(dg_reactor *r);
void dg__wakeup_drain(dg_reactor *r);
void dg__wakeup(dg_reactor *r);
int dg__run_thread_calls(dg_reactor *r);
/* Queue c for the reactor thread and wake it; false once it is shutting down. */
bool dg__post(dg_reactor *r, dg__thread_call *c);
/* Refuse the user's calls from now on; the pool's reports are still taken. */
void dg__close_thread_calls(dg_reactor *r);
/* Worker pool (pool.c). */
typedef void (*dg__job_fn)(void *arg);
typedef struct dg__job dg__job;
/* Queue work (NULL: none, done runs from the loop at once). Returns 0 and
 * the job, -ENOMEM, -ESHUTDOWN while the reactor is being freed, or
 * pthread_create's error when no worker thread could start. */
int dg__pool_submit(dg_reactor *r, dg_work_fn work, dg_work_done_fn done, void *arg,
                    dg__job **out);
/* Cancel a job: its work is skipped if not started, and done gets -ECANCELED. */
void dg__pool_cancel(dg__job *j);
/* The reactor is being freed: reports now come from dg__pool_free. */
bool dg__pool_closing(const dg_reactor *r);
void dg__pool_free(dg_reactor *r);
int dg__signals_install(dg_reactor *r);
void dg__signals_remove(dg_reactor *r);
bool dg__signals_take(dg_reactor *r);
/* Arm the timerfd for due (the loop checks first whether it is armed for an
 * earlier time: then it fires no later than due, at worst spuriously).
 * False: no timerfd, use a timeout. */
bool dg__tfd_wait(dg_reactor *r, double due);
void dg__tfd_open(dg_reactor *r);
void dg__tfd_fired(dg_reactor *r);
void dg__tfd_free(dg_reactor *r);
/* The clock (or the fake one), noted in clock_seen. */
double dg__now(dg_reactor *r);

#pragma GCC visibility pop

#endif
