/* The reactor loop: wait for readiness, dispatch, run due timers, and the
 * deferred work (port closes) that Twisted schedules with callLater(0). */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "reactor.h"

/* Events taken from the backend per wait. Collected first, then dispatched,
 * so a callback that removes another descriptor is safe. */
/* Timers due sooner than this after the last clock reading wake the loop by
 * the wait's timeout, later ones by the timerfd (timer_wake.c). */
#define DG_TFD_NEAR 0.001

void dg_reactor_options_init(dg_reactor_options *o)
{
    memset(o, 0, sizeof *o);
}

static const dg__backend *backend_named(const char *name)
{
    static const dg__backend *const all[] = {&dg__backend_epoll, &dg__backend_poll};
    if (!name || !*name)
        return all[0];
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

int dg_reactor_new(const dg_reactor_options *o, dg_reactor **out)
{
    dg_reactor_options defaults;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!o) {
        dg_reactor_options_init(&defaults);
        o = &defaults;
    }
    const char *name = o->backend ? o->backend : getenv("DGRAM_BACKEND");
    const dg__backend *b = backend_named(name);
    if (!b)
        return -EINVAL;

    dg_reactor *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->backend = b;
    r->fake_clock = o->fake_clock;
    r->log = o->log;
    r->log_arg = o->log_arg;
    r->max_threads = o->threads;
    r->wake_rfd = r->wake_wfd = -1;
    r->tfd = -1;
    r->tfd_armed = INFINITY;
    r->thread_tail = &r->thread_calls;
    pthread_mutex_init(&r->lock, NULL);

    int rc = b->init(r);
    if (rc == 0)
        rc = dg__wakeup_init(r);
    if (rc == 0 && !r->fake_clock)
        dg__tfd_open(r);
    if (rc == 0 && o->handle_signals)
        rc = dg__signals_install(r);
    if (rc < 0) {
        dg_reactor_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double dg_reactor_now(const dg_reactor *r)
{
    return r->fake_clock ? r->fake_now : monotonic();
}

double dg__now(dg_reactor *r)
{
    if (r->fake_clock)
        return r->fake_now;
    return r->clock_seen = monotonic();
}

const char *dg_reactor_backend(const dg_reactor *r)
{
    return r->backend->name;
}

int dg_reactor_advance(dg_reactor *r, double seconds)
{
    if (!r->fake_clock || !(seconds >= 0) || isinf(seconds))
        return -EINVAL;
    r->fake_now += seconds;
    r->depth++;
    /* Called inside datagram_received, the timers' writes are not that
     * port's replies: they go at once, as from the loop. */
    dg_port *batching = r->tx_batch_port;
    if (batching)
        dg__port_send_queued(batching); /* the replies written so far go first */
    r->tx_batch_port = NULL;
    /* Each pass runs what was due at its start; calls a pass schedules for
     * "now" run in the following pass, as Clock.advance() runs them too. */
    while (r->timers.len && dg__timers_first(&r->timers) <= r->fake_now)
        dg__timers_run(&r->timers, r->fake_now);
    if (batching && batching->state != DG__CLOSED && batching->txq)
        r->tx_batch_port = batching;
    r->depth--;
    return 0;
}

void dg_reactor_stop(dg_reactor *r)
{
    /* Outside dg_reactor_run() there is nothing to stop; a request kept
     * until then would make run_once() stop waiting and be lost by run(). */
    if (r->running)
        r->stopping = true;
}

/* ---- descriptor interest -------------------------------------------------- */

static int grow_watchers(dg_reactor *r, int fd)
{
    if (fd < r->nwatchers)
        return 0;
    int n = r->nwatchers ? r->nwatchers : 64;
    while (n <= fd)
        n *= 2;
    dg__watcher *w = realloc(r->watchers, (size_t)n * sizeof *w);
    if (!w)
        return -ENOMEM;
    memset(w + r->nwatchers, 0, (size_t)(n - r->nwatchers) * sizeof *w);
    r->watchers = w;
    r->nwatchers = n;
    return 0;
}

static int set_mask(dg_reactor *r, int fd, unsigned mask)
{
    dg__watcher *w = &r->watchers[fd];
    /* An unchanged mask is still told to the backend: epoll forgets a
     * descriptor closed without being removed, and the number may now be a
     * new descriptor's. */
    if (!w->mask && !mask)
        return 0;
    int rc = r->backend->update(r, fd, w->mask, mask);
    if (rc == 0)
        w->mask = mask;
    return rc;
}

int dg__watch_port(dg_reactor *r, int fd, dg_port *p, unsigned mask)
{
    int rc = grow_watchers(r, fd);
    if (rc < 0)
        return rc;
    rc = set_mask(r, fd, mask);
    /* Also drops the callbacks of a foreign descriptor closed without
     * removal whose number the port now has; a removal always forgets. */
    if (rc == 0 || !mask)
        r->watchers[fd] = (dg__watcher){.port = mask ? p : NULL, .mask = mask};
    return rc;
}

static int add_io(dg_reactor *r, int fd, unsigned bit, dg_io_fn fn, void *arg)
{
    if (fd < 0)
        return -EBADF;
    if (!fn)
        return -EINVAL;
    if (fd == r->wake_rfd || fd == r->wake_wfd || fd == r->tfd)
        return -EEXIST;
    /* poll() would take a closed descriptor and report POLLNVAL forever. */
    if (fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    int rc = grow_watchers(r, fd);
    if (rc < 0)
        return rc;
    dg__watcher *w = &r->watchers[fd];
    if (w->port)
        return -EEXIST;
    rc = set_mask(r, fd, w->mask | bit);
    if (rc < 0)
        return rc;
    if (bit == DG_READABLE) {
        w->read_fn = fn;
        w->read_arg = arg;
    } else {
        w->write_fn = fn;
        w->write_arg = arg;
    }
    return 0;
}

static int remove_io(dg_reactor *r, int fd, unsigned bit)
{
    if (fd < 0 || fd >= r->nwatchers || r->watchers[fd].port || !(r->watchers[fd].mask & bit))
        return -ENOENT;
    int rc = set_mask(r, fd, r->watchers[fd].mask & ~bit);
    /* Forget the callback even if the kernel already dropped a closed fd. */
    if (bit == DG_READABLE)
        r->watchers[fd].read_fn = NULL;
    else
        r->watchers[fd].write_fn = NULL;
    if (rc < 0)
        r->watchers[fd].mask &= ~bit;
    return 0;
}

int dg_reactor_add_reader(dg_reactor *r, int fd, dg_io_fn fn, void *arg)
{
    return add_io(r, fd, DG_READABLE, fn, arg);
}

int dg_reactor_add_writer(dg_reactor *r, int fd, dg_io_fn fn, void *arg)
{
    return add_io(r, fd, DG_WRITABLE, fn, arg);
}

int dg_reactor_remove_reader(dg_reactor *r, int fd)
{
    return remove_io(r, fd, DG_READABLE);
}

int dg_reactor_remove_writer(dg_reactor *r, int fd)
{
    return remove_io(r, fd, DG_WRITABLE);
}

/* ---- one iteration -------------------------------------------------------- */

/* Marks the ports queued before a pass; beside udp.h's DG__PENDING_* bits. */
#define PENDING_THIS_PASS (1u << 8)

static int run_pending(dg_reactor *r)
{
    int n = 0;
    /* Work queued while this runs (a stop from stop_protocol) waits for the
     * next iteration, so a callback never re-enters its own port. Each port
     * stays on r->pending until its turn: a callback that closes another
     * queued port unschedules it from there, without breaking this walk. */
    for (dg_port *p = r->pending; p; p = p->pending_next)
        p->pending |= PENDING_THIS_PASS;
    for (;;) {
        dg_port **pp = &r->pending;
        while (*pp && !((*pp)->pending & PENDING_THIS_PASS))
            pp = &(*pp)->pending_next;
        dg_port *p = *pp;
        if (!p)
            return n;
        *pp = p->pending_next;
        p->pending_next = NULL;
        p->pending &= ~PENDING_THIS_PASS;
        dg__port_run_pending(p);
        n++;
    }
}

static void free_dead(dg_reactor *r)
{
    dg__rx_free_retired(&r->rx);
    while (r->dead) {
        dg_port *p = r->dead;
        r->dead = p->pending_next;
        dg__port_release(p);
    }
}

/* dg__dispatch() for everything but a port: the reactor's own descriptors
 * and foreign watchers. */
int dg__dispatch_other(dg_reactor *r, int fd, unsigned events)
{
    if (fd == r->wake_rfd) {
        dg__wakeup_drain(r);
        r->woken = true;
        return 0;
    }
    if (fd == r->tfd) {
        dg__tfd_fired(r);
        return 0;
    }
    if (fd >= r->nwatchers)
        return 0;
    dg__watcher *w = &r->watchers[fd];
    int n = 0;
    /* An error or hang-up reaches each callback as its own event too, so a
     * reader reads and sees the end of file or the error (as libuv does). */
    if (events & DG_ERROR)
        events |= w->mask;
    /* Re-check the mask before each call: the first may remove the second. */
    if ((w->mask & DG_READABLE) && (events & DG_READABLE) && w->read_fn) {
        w->read_fn(r, fd, events, w->read_arg);
        n++;
    }
    w = &r->watchers[fd]; /* the callback may have grown the table */
    if ((w->mask & DG_WRITABLE) && (events & DG_WRITABLE) && w->write_fn) {
        w->write_fn(r, fd, events, w->write_arg);
        n++;
    }
    return n;
}

/* now: a clock reading a few instructions old, or -1 to read the clock. */
static inline __attribute__((always_inline)) int wait_timeout(dg_reactor *r, int timeout_ms,
                                                              double now)
{
    /* Calls from threads need no check here: posting one wakes the wait. */
    r->timer_by_fd = false;
    if (r->pending || r->stopping)
        return 0;
    if (r->fake_clock || r->timers.len == 0)
        return timeout_ms;
    double first = dg__timers_first(&r->timers);
    /* Armed for the first timer already (the usual case), or worth arming. */
    if (first >= r->tfd_armed ||
        (first >= (now >= 0 ? now : r->clock_seen) + DG_TFD_NEAR && dg__tfd_wait(r, first))) {
        r->timer_by_fd = true;
        return timeout_ms;
    }
    double ms = (first - (now >= 0 ? now : dg__now(r))) * 1000.0;
    if (ms <= 0)
        return 0;
    /* Rounded up, so a timer is never polled for just before it is due. */
    int ceil_ms = ms < 2147483647.0 ? (int)ms + 1 : INT_MAX;
    return (timeout_ms >= 0 && timeout_ms < ceil_ms) ? timeout_ms : ceil_ms;
}

/* *now: the clock as read after the previous wait of this run, while no
 * callback has run since (else -1), so that an iteration reads it once.
 * Inline in both callers: a frame per run, not per iteration. */
static inline __attribute__((always_inline)) int iterate(dg_reactor *r, int timeout_ms,
                                                         double *now)
{
    int n = r->pending ? run_pending(r) : 0;
    int k = r->backend->wait(r, wait_timeout(r, timeout_ms, n ? -1 : *now));
    /* Calls from threads and caught signals always write the wake-up
     * descriptor, so only a wake-up needs looking at them; one that comes
     * after this look wakes the next wait. */
    if (r->woken) {
        r->woken = false;
        if (__atomic_load_n(&r->thread_calls, __ATOMIC_ACQUIRE))
            n += dg__run_thread_calls(r);
        /* A signal caught outside run() waits for it, so it is not lost. */
        if (r->running && dg__signals_take(r))
            r->stopping = true;
    }
    *now = -1;
    /* With the timerfd set for the first timer, nothing is due unless it
     * fired, or a callback scheduled an earlier one: no clock to read. */
    if (!r->timer_by_fd && !r->fake_clock && r->timers.len) {
        double t = dg__now(r);
        if (dg__timers_first(&r->timers) <= t)
            n += dg__timers_run(&r->timers, t);
        else
            *now = t;
    }
    if (r->dead || r->rx.retired)
        free_dead(r);
    return k < 0 ? k : n + k;
}

int dg_reactor_run_once(dg_reactor *r, int timeout_ms)
{
    if (r->depth)
        return -EBUSY;
    r->depth++;
    double now = -1; /* the caller may have been away for any time */
    int n = iterate(r, timeout_ms, &now);
    r->depth--;
    return n;
}

static void close_all_ports(dg_reactor *r)
{
    while (r->ports.head)
        dg__port_close_now(r->ports.head);
    run_pending(r); /* refusals queued for ports now closed: discarded there */
    free_dead(r);
}

int dg_reactor_run(dg_reactor *r)
{
    if (r->depth)
        return -EBUSY;
    r->depth++;
    r->running = true;
    r->stopping = dg__signals_take(r); /* one caught while not running */
    int rc = 0;
    double now = -1;
    while (!r->stopping) {
        int n = iterate(r, -1, &now);
        if (n < 0 && n != -EINTR) {
            rc = dg__fail(r, n, "reactor wait failed");
            break;
        }
    }
    /* Twisted's "during shutdown" trigger: disconnectAll. */
    close_all_ports(r);
    r->running = r->stopping = false;
    r->depth--;
    return rc;
}

void dg_reactor_free(dg_reactor *r)
{
    if (!r || r->depth)
        return;
    /* Callbacks below still see a live reactor (depth keeps them from
     * freeing it again); what they start (ports, work, accepted calls) is
     * shut down by the next round. */
    r->depth++;
    dg__close_thread_calls(r);
    do {
        close_all_ports(r);
        dg__pool_free(r);
        dg__run_thread_calls(r);
    } while (r->ports.head || r->pool);
    free_dead(r);
    r->depth--;
    dg__signals_remove(r);
    dg__wakeup_free(r);
    dg__tfd_free(r);
    if (r->backend->destroy)
        r->backend->destroy(r);
    dg__timers_free(&r->timers);
    dg__rx_free(&r->rx);
    free(r->watchers);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
