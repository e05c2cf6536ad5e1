/* 1M timers on dgram: schedule them all, cancel them all, twice (the second
 * round reuses freed handles, the steady state); then an idle wait with 1M
 * pending, which must sleep until the earliest is due and no longer.
 * Prints "TIMERS <schedule ns/op> <cancel ns/op> <cold schedule ns/op>"
 * and "IDLE <ms slept> <callbacks run> <ms until due>". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "dgram.h"

#define N 1000000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The delays: 1 to 2 hours, in a fixed pseudo-random order (an LCG), the
 * same sequence as timers_uv.c. */
static double delay_of(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005u + 1442695040888963407u;
    return 3600.0 + (double)((*seed >> 40) % 3600000) / 1000.0;
}

static void never(dg_call *c, void *arg)
{
    (void)c, (void)arg;
}

static void due(dg_call *c, void *arg)
{
    (void)c;
    *(int *)arg += 1;
}

int main(void)
{
    dg_reactor *r;
    if (dg_reactor_new(NULL, &r) < 0)
        return 1;
    dg_call **calls = malloc(N * sizeof *calls);
    double sched[2], cancel[2];
    for (int round = 0; round < 2; round++) {
        uint64_t seed = 42;
        double t0 = now();
        for (int i = 0; i < N; i++)
            calls[i] = dg_call_later(r, delay_of(&seed), never, NULL);
        double t1 = now();
        for (int i = 0; i < N; i++)
            dg_call_cancel(calls[i]);
        double t2 = now();
        sched[round] = (t1 - t0) * 1e9 / N;
        cancel[round] = (t2 - t1) * 1e9 / N;
    }
    printf("TIMERS %.1f %.1f %.1f\n", sched[1], cancel[1], sched[0]);

    uint64_t seed = 42;
    for (int i = 0; i < N; i++)
        dg_call_later(r, delay_of(&seed), never, NULL);
    int ran = 0;
    double due_in = 0.2, t0 = now();
    dg_call_later(r, due_in, due, &ran);
    int wakes = 0;
    while (ran == 0 && wakes < 100) { /* bounded: a spinning reactor ends it */
        dg_reactor_run_once(r, -1);
        wakes++;
    }
    printf("IDLE %.1f %d %.0f WAKES %d\n", (now() - t0) * 1e3, ran, due_in * 1e3, wakes);
    free(calls);
    dg_reactor_free(r);
    return 0;
}
