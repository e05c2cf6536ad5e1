/* What every benchmark server shares: the command line, the ready line and
 * the bounded lifetime. Header-only, so each server stays one file. */
#ifndef DGRAM_BENCH_H
#define DGRAM_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* server PORT [--sink] [--seconds S]: bind 127.0.0.1:PORT, echo (or only
 * count, with --sink), and exit by itself after S seconds (default 60) or on
 * SIGTERM/SIGINT, so no run can outlive its orchestrator. */
typedef struct bench_args {
    int port;
    bool sink;
    double seconds;
} bench_args;

static inline bench_args bench_parse(int argc, char **argv)
{
    bench_args a = {.port = 0, .sink = false, .seconds = 60};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sink") == 0)
            a.sink = true;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            a.seconds = atof(argv[++i]);
        else
            a.port = atoi(argv[i]);
    }
    if (a.port <= 0 || a.port > 65535 || !(a.seconds > 0)) {
        fprintf(stderr, "usage: %s PORT [--sink] [--seconds S]\n", argv[0]);
        exit(2);
    }
    return a;
}

/* The orchestrator starts the load only after this line. */
static inline void bench_ready(void)
{
    printf("READY\n");
    fflush(stdout);
}

/* A sink's result, read by the orchestrator after it stops the sink. */
static inline void bench_report_count(unsigned long long n)
{
    printf("COUNT %llu\n", n);
    fflush(stdout);
}

/* The raw loops' stop: SIGTERM and SIGINT set bench_stop, without
 * SA_RESTART, so a blocking read or io_uring_enter returns EINTR at once. */
static volatile sig_atomic_t bench_stop;

static inline void bench_on_signal(int sig)
{
    (void)sig;
    bench_stop = 1;
}

static inline void bench_stop_on_signals(void)
{
    struct sigaction sa = {.sa_handler = bench_on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* Monotonic seconds, for the lifetime bound. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
