/* Waking the loop from other threads (and signal handlers), and
 * dg_reactor_call_from_thread's queue. */
#include "dg_config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "reactor.h"
#ifdef DGRAM_HAVE_EVENTFD
#include <sys/eventfd.h>
#endif

int dg__wakeup_init(dg_reactor *r)
{
#ifdef DGRAM_HAVE_EVENTFD
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    r->wake_rfd = r->wake_wfd = fd;
#else
    int fds[2];
    if (pipe(fds) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
    }
    r->wake_rfd = fds[0];
    r->wake_wfd = fds[1];
#endif
    int rc = r->backend->update(r, r->wake_rfd, 0, DG_READABLE);
    return rc;
}

void dg__wakeup_free(dg_reactor *r)
{
    pthread_mutex_lock(&r->lock);
    dg__thread_call *c = r->thread_calls;
    r->thread_calls = NULL;
    r->thread_tail = &r->thread_calls;
    int rfd = r->wake_rfd, wfd = r->wake_wfd;
    r->wake_rfd = r->wake_wfd = -1; /* later call_from_thread: -ESHUTDOWN */
    pthread_mutex_unlock(&r->lock);
    while (c) { /* only heap calls are left: the pool has drained its own */
        dg__thread_call *next = c->next;
        if (c->heap)
            free(c);
        c = next;
    }
    if (rfd >= 0)
        close(rfd);
    if (wfd >= 0 && wfd != rfd)
        close(wfd);
}

/* Async-signal-safe: only write(). */
void dg__wakeup(dg_reactor *r)
{
    uint64_t one = 1;
    int fd = r->wake_wfd;
    if (fd >= 0) {
        ssize_t n = write(fd, &one, r->wake_rfd == fd ? sizeof one : 1);
        (void)n; /* full pipe or counter: already awake */
    }
}

void dg__wakeup_drain(dg_reactor *r)
{
    uint64_t buf[16];
    while (read(r->wake_rfd, buf, sizeof buf) > 0 && r->wake_rfd != r->wake_wfd)
        ;
}

/* user: a dg_reactor_call_from_thread call, refused as soon as the reactor
 * is being freed (checked under the lock, so none slips in and is dropped). */
static bool post(dg_reactor *r, dg__thread_call *c, bool user)
{
    c->next = NULL;
    pthread_mutex_lock(&r->lock);
    bool open = r->wake_wfd >= 0 && !(user && r->closing);
    if (open) {
        /* Atomic: iterate() peeks at the head without the lock. */
        __atomic_store_n(r->thread_tail, c, __ATOMIC_RELEASE);
        r->thread_tail = &c->next;
        dg__wakeup(r);
    }
    pthread_mutex_unlock(&r->lock);
    return open;
}

bool dg__post(dg_reactor *r, dg__thread_call *c)
{
    return post(r, c, false);
}

void dg__close_thread_calls(dg_reactor *r)
{
    pthread_mutex_lock(&r->lock);
    r->closing = true;
    pthread_mutex_unlock(&r->lock);
}

int dg_reactor_call_from_thread(dg_reactor *r, dg_thread_fn fn, void *arg)
{
    if (!r || !fn)
        return -EINVAL;
    dg__thread_call *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = (dg__thread_call){.fn = fn, .arg = arg, .heap = true};
    if (!post(r, c, true)) {
        free(c);
        return -ESHUTDOWN;
    }
    return 0;
}

int dg__run_thread_calls(dg_reactor *r)
{
    /* Take the whole queue at once: calls queued by these callbacks run on
     * the next iteration, so a thread cannot starve the loop. */
    pthread_mutex_lock(&r->lock);
    dg__thread_call *c = r->thread_calls;
    r->thread_calls = NULL;
    r->thread_tail = &r->thread_calls;
    pthread_mutex_unlock(&r->lock);
    int n = 0;
    while (c) {
        dg__thread_call *next = c->next;
        bool heap = c->heap;
        c->fn(r, c->arg);
        if (heap)
            free(c);
        c = next;
        n++;
    }
    return n;
}
