/* Timers (Twisted's callLater): a binary min-heap keyed by (when, seq). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include "reactor.h"

static bool before(const dg_call *a, const dg_call *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void place(dg__timers *t, size_t i, dg_call *c)
{
    t->heap[i] = c;
    c->index = i;
}

static void sift_up(dg__timers *t, size_t i)
{
    dg_call *c = t->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(c, t->heap[parent]))
            break;
        place(t, i, t->heap[parent]);
        i = parent;
    }
    place(t, i, c);
}

static void sift_down(dg__timers *t, size_t i)
{
    dg_call *c = t->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= t->len)
            break;
        if (child + 1 < t->len && before(t->heap[child + 1], t->heap[child]))
            child++;
        if (!before(t->heap[child], c))
            break;
        place(t, i, t->heap[child]);
        i = child;
    }
    place(t, i, c);
}

static void heap_remove(dg__timers *t, dg_call *c)
{
    size_t i = c->index;
    dg_call *last = t->heap[--t->len];
    if (i == t->len)
        return;
    place(t, i, last);
    if (i > 0 && before(last, t->heap[(i - 1) / 2]))
        sift_up(t, i);
    else
        sift_down(t, i);
}

static int heap_push(dg__timers *t, dg_call *c)
{
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        dg_call **h = realloc(t->heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        t->heap = h;
        t->cap = cap;
    }
    c->seq = t->next_seq++;
    if (c->when < c->r->tfd_armed)
        c->r->timer_by_fd = false; /* due before the timerfd fires */
    place(t, t->len++, c);
    sift_up(t, c->index);
    return 0;
}

static void release(dg__timers *t, dg_call *c)
{
    c->state = CALL_DONE;
    c->next_free = t->free_list;
    t->free_list = c;
}

static bool bad_delay(double d)
{
    return !(d >= 0) || isinf(d);
}

dg_call *dg_call_later(dg_reactor *r, double delay, dg_call_fn fn, void *arg)
{
    if (!r || !fn || bad_delay(delay))
        return NULL;
    dg__timers *t = &r->timers;
    dg_call *c = t->free_list;
    if (c)
        t->free_list = c->next_free;
    else if (!(c = malloc(sizeof *c)))
        return NULL;
    *c = (dg_call){.when = dg__now(r) + delay, .fn = fn, .arg = arg, .r = r,
                   .state = CALL_ACTIVE};
    if (heap_push(t, c) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

int dg_call_cancel(dg_call *c)
{
    if (!c)
        return -EINVAL;
    if (c->state != CALL_ACTIVE)
        return -EALREADY;
    heap_remove(&c->r->timers, c);
    release(&c->r->timers, c);
    return 0;
}

int dg_call_reset(dg_call *c, double delay)
{
    if (!c || bad_delay(delay))
        return -EINVAL;
    /* A released handle sits on the free list: pushing it would corrupt both. */
    if (c->state == CALL_DONE)
        return -EALREADY;
    dg__timers *t = &c->r->timers;
    if (c->state == CALL_ACTIVE)
        heap_remove(t, c);
    c->when = dg__now(c->r) + delay;
    /* A fresh seq: a reset call runs after calls already due at the same time.
     * Only a running call can fail here (the heap may need to grow); it then
     * stays running and is released when its callback returns. */
    int rc = heap_push(t, c);
    if (rc == 0)
        c->state = CALL_ACTIVE;
    return rc;
}

bool dg_call_active(const dg_call *c)
{
    return c && c->state == CALL_ACTIVE;
}

double dg_call_time(const dg_call *c)
{
    return c->when;
}

dg_reactor *dg_call_reactor(const dg_call *c)
{
    return c->r;
}

/* Every due call runs, even after a dg_reactor_stop() from one of them, as
 * Twisted's runUntilCurrent does. Kept out of line: see dg__timers_run. */
__attribute__((noinline)) static int run_due(dg__timers *t, double now)
{
    /* Calls scheduled (or reset) during this pass have seq >= this mark and
     * wait for the next pass, as Twisted's runUntilCurrent does. */
    uint64_t mark = t->next_seq;
    int ran = 0;
    while (t->len > 0) {
        dg_call *c = t->heap[0];
        if (c->when > now || c->seq >= mark)
            break;
        heap_remove(t, c);
        c->state = CALL_RUNNING;
        c->fn(c, c->arg);
        ran++;
        if (c->state == CALL_RUNNING) /* not re-armed by dg_call_reset */
            release(t, c);
    }
    return ran;
}

int dg__timers_run(dg__timers *t, double now)
{
    /* Most passes have nothing due: answered before run_due's set-up. */
    if (t->len == 0 || t->heap[0]->when > now)
        return 0;
    return run_due(t, now);
}

void dg__timers_free(dg__timers *t)
{
    for (size_t i = 0; i < t->len; i++)
        free(t->heap[i]);
    while (t->free_list) {
        dg_call *c = t->free_list;
        t->free_list = c->next_free;
        free(c);
    }
    free(t->heap);
    *t = (dg__timers){0};
}
