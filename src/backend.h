/* The readiness backend interface: one file per backend (backend_epoll.c,
 * backend_poll.c) behind this table, chosen at run time by the reactor. As
 * libuv's uv__io_poll, a backend both waits and dispatches: each ready
 * descriptor goes straight to dg__dispatch() (reactor.h), with no copy of
 * the events in between. */
#ifndef DG_BACKEND_H
#define DG_BACKEND_H

#pragma GCC visibility push(hidden)

typedef struct dg_reactor dg_reactor;

typedef struct dg__backend {
    const char *name;
    int (*init)(dg_reactor *r);
    void (*destroy)(dg_reactor *r);
    /* Change the interest mask of fd from old_mask to new_mask (either may be
     * 0: add, remove). */
    int (*update)(dg_reactor *r, int fd, unsigned old_mask, unsigned new_mask);
    /* Wait up to timeout_ms (-1: forever), then pass each ready descriptor
     * to dg__dispatch(). Returns the callbacks run (0 on timeout or EINTR),
     * or a negative errno. */
    int (*wait)(dg_reactor *r, int timeout_ms);
} dg__backend;

extern const dg__backend dg__backend_epoll;
extern const dg__backend dg__backend_poll;

#pragma GCC visibility pop

#endif
