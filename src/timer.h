/* Timers: a binary min-heap of dg_call ordered by (when, seq), so calls due at
 * the same time run in the order they were scheduled, and cancel/reset are
 * O(log n) through each call's heap index. */
#ifndef DG_TIMER_H
#define DG_TIMER_H

#include <stddef.h>
#include <stdint.h>
#include "dgram.h"

#pragma GCC visibility push(hidden)

enum call_state { CALL_ACTIVE, CALL_RUNNING, CALL_DONE };

struct dg_call {
    double when;
    uint64_t seq;
    size_t index; /* position in the heap while active */
    dg_call_fn fn;
    void *arg;
    dg_reactor *r;
    enum call_state state;
    dg_call *next_free;
};

typedef struct dg__timers {
    dg_call **heap;
    size_t len, cap;
    uint64_t next_seq;
    dg_call *free_list; /* released calls, reused so a busy timer loop does not hit malloc */
} dg__timers;

void dg__timers_free(dg__timers *t);
/* When the earliest call is due; only with t->len > 0. Inline: the loop
 * asks twice per iteration. */
static inline double dg__timers_first(const dg__timers *t)
{
    return t->heap[0]->when;
}
/* Run the calls due at now, except those scheduled during this pass.
 * Returns how many ran. */
int dg__timers_run(dg__timers *t, double now);

#pragma GCC visibility pop

#endif
