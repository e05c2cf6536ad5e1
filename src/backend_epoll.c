/* Readiness backend: Linux epoll, level-triggered (a port that leaves
 * datagrams in the queue after its bounded batch is simply reported again). */
#include "dg_config.h"
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "reactor.h"

#ifdef DGRAM_HAVE_EPOLL
#include <sys/epoll.h>

#define EP_MAX_EVENTS 256

typedef struct epoll_data_ {
    int epfd;
    struct epoll_event events[EP_MAX_EVENTS];
} epoll_data_;

static int ep_init(dg_reactor *r)
{
    epoll_data_ *d = malloc(sizeof *d);
    if (!d)
        return -ENOMEM;
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->epfd < 0) {
        int err = -errno;
        free(d);
        return err;
    }
    r->backend_data = d;
    return 0;
}

static void ep_destroy(dg_reactor *r)
{
    epoll_data_ *d = r->backend_data;
    if (!d)
        return;
    close(d->epfd);
    free(d);
    r->backend_data = NULL;
}

static int ep_update(dg_reactor *r, int fd, unsigned old_mask, unsigned new_mask)
{
    epoll_data_ *d = r->backend_data;
    struct epoll_event ev = {.data.fd = fd};
    if (new_mask & DG_READABLE)
        ev.events |= EPOLLIN;
    if (new_mask & DG_WRITABLE)
        ev.events |= EPOLLOUT;
    int op = !new_mask ? EPOLL_CTL_DEL : !old_mask ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(d->epfd, op, fd, &ev) == 0)
        return 0;
    /* The reactor's idea of the old mask is stale when a descriptor was
     * closed without removal (the kernel dropped it) and its number reused. */
    if (op == EPOLL_CTL_MOD && errno == ENOENT)
        op = EPOLL_CTL_ADD;
    else if (op == EPOLL_CTL_ADD && errno == EEXIST)
        op = EPOLL_CTL_MOD;
    else
        return -errno;
    return epoll_ctl(d->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/* epoll's low bits (EPOLLIN 1, EPOLLPRI 2, EPOLLOUT 4, EPOLLERR 8, EPOLLHUP 16)
 * to ours, by table: every event passes here. */
#define EP_MAP(e) \
    (((e) & EPOLLIN ? DG_READABLE : 0u) | ((e) & EPOLLOUT ? DG_WRITABLE : 0u) | \
     ((e) & (EPOLLERR | EPOLLHUP) ? DG_ERROR : 0u))
#define EP_MAP4(e) EP_MAP(e), EP_MAP((e) + 1), EP_MAP((e) + 2), EP_MAP((e) + 3)
static const unsigned char ep_events[32] = {EP_MAP4(0),  EP_MAP4(4),  EP_MAP4(8),  EP_MAP4(12),
                                            EP_MAP4(16), EP_MAP4(20), EP_MAP4(24), EP_MAP4(28)};

static int ep_wait(dg_reactor *r, int timeout_ms)
{
    epoll_data_ *d = r->backend_data;
    int n = epoll_wait(d->epfd, d->events, EP_MAX_EVENTS, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    /* The events are our own copy: callbacks may change the interest set. */
    int k = 0;
    for (int i = 0; i < n; i++)
        k += dg__dispatch(r, d->events[i].data.fd, ep_events[d->events[i].events & 31]);
    return k;
}

const dg__backend dg__backend_epoll = {"epoll", ep_init, ep_destroy, ep_update, ep_wait};

#else

static int ep_unavailable(dg_reactor *r)
{
    (void)r;
    return -ENOSYS;
}

const dg__backend dg__backend_epoll = {"epoll", ep_unavailable, NULL, NULL, NULL};

#endif
