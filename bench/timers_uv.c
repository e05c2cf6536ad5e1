/* libuv's side of timers_dgram.c: 1M uv_timer_start then uv_timer_stop,
 * twice, with the same delays. The handles are the caller's memory in libuv
 * (dgram allocates its own), so they are initialised before the clock runs.
 * Prints "TIMERS <start ns/op> <stop ns/op> <first-round start ns/op>". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

#define N 1000000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t delay_ms(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005u + 1442695040888963407u;
    return 3600000 + (*seed >> 40) % 3600000;
}

static void never(uv_timer_t *t)
{
    (void)t;
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t *timers = malloc(N * sizeof *timers);
    for (int i = 0; i < N; i++)
        uv_timer_init(loop, &timers[i]);
    double start[2], stop[2];
    for (int round = 0; round < 2; round++) {
        uint64_t seed = 42;
        double t0 = now();
        for (int i = 0; i < N; i++)
            uv_timer_start(&timers[i], never, delay_ms(&seed), 0);
        double t1 = now();
        for (int i = 0; i < N; i++)
            uv_timer_stop(&timers[i]);
        double t2 = now();
        start[round] = (t1 - t0) * 1e9 / N;
        stop[round] = (t2 - t1) * 1e9 / N;
    }
    printf("TIMERS %.1f %.1f %.1f\n", start[1], stop[1], start[0]);
    /* uv_loop_close needs every handle closed: that walk is not measured. */
    for (int i = 0; i < N; i++)
        uv_close((uv_handle_t *)&timers[i], NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    free(timers);
    return 0;
}
