/* Readiness backend: POSIX poll(). Portable; O(n) per wait, so epoll is the
 * default where it exists. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include "reactor.h"

typedef struct poll_data_ {
    struct pollfd *fds;
    int len, cap;
    int *slot; /* fd -> index in fds, or -1 */
    int nslot;
} poll_data_;

static int pl_init(dg_reactor *r)
{
    poll_data_ *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    r->backend_data = d;
    return 0;
}

static void pl_destroy(dg_reactor *r)
{
    poll_data_ *d = r->backend_data;
    if (!d)
        return;
    free(d->fds);
    free(d->slot);
    free(d);
    r->backend_data = NULL;
}

static int grow_slots(poll_data_ *d, int fd)
{
    if (fd < d->nslot)
        return 0;
    int n = d->nslot ? d->nslot : 64;
    while (n <= fd)
        n *= 2;
    int *s = realloc(d->slot, (size_t)n * sizeof *s);
    if (!s)
        return -ENOMEM;
    for (int i = d->nslot; i < n; i++)
        s[i] = -1;
    d->slot = s;
    d->nslot = n;
    return 0;
}

static short to_poll(unsigned mask)
{
    return (short)(((mask & DG_READABLE) ? POLLIN : 0) | ((mask & DG_WRITABLE) ? POLLOUT : 0));
}

static int pl_update(dg_reactor *r, int fd, unsigned old_mask, unsigned new_mask)
{
    poll_data_ *d = r->backend_data;
    (void)old_mask;
    if (grow_slots(d, fd) < 0)
        return -ENOMEM;
    int i = d->slot[fd];
    if (!new_mask) {
        if (i < 0)
            return -ENOENT;
        d->fds[i] = d->fds[--d->len];
        d->slot[d->fds[i].fd] = i;
        d->slot[fd] = -1;
        return 0;
    }
    if (i < 0) {
        if (d->len == d->cap) {
            int cap = d->cap ? d->cap * 2 : 16;
            struct pollfd *f = realloc(d->fds, (size_t)cap * sizeof *f);
            if (!f)
                return -ENOMEM;
            d->fds = f;
            d->cap = cap;
        }
        i = d->len++;
        d->slot[fd] = i;
        d->fds[i].fd = fd;
    }
    d->fds[i].events = to_poll(new_mask);
    d->fds[i].revents = 0;
    return 0;
}

/* Ready descriptors are collected before any is dispatched: a callback may
 * add or remove descriptors, which reorders fds. */
#define PL_MAX_EVENTS 256

static int pl_wait(dg_reactor *r, int timeout_ms)
{
    poll_data_ *d = r->backend_data;
    int n = poll(d->fds, (nfds_t)d->len, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    struct {
        int fd;
        unsigned events;
    } ready[PL_MAX_EVENTS];
    int k = 0;
    for (int i = 0; i < d->len && k < PL_MAX_EVENTS && n > 0; i++) {
        short e = d->fds[i].revents;
        if (!e)
            continue;
        n--;
        ready[k].fd = d->fds[i].fd;
        ready[k].events = ((e & POLLIN) ? DG_READABLE : 0u) | ((e & POLLOUT) ? DG_WRITABLE : 0u) |
                          ((e & (POLLERR | POLLHUP | POLLNVAL)) ? DG_ERROR : 0u);
        k++;
    }
    int calls = 0;
    for (int i = 0; i < k; i++)
        calls += dg__dispatch(r, ready[i].fd, ready[i].events);
    return calls;
}

const dg__backend dg__backend_poll = {"poll", pl_init, pl_destroy, pl_update, pl_wait};
