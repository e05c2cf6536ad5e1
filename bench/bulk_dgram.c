/* Bulk send (issue 7): one connected dgram port sends SIZE-byte datagrams
 * to a sink on loopback as fast as dg_port_write_segments() takes them,
 * with UDP GSO or with it turned off (sendmmsg), through the public API
 * only.
 *
 *   bulk_dgram PORT [--no-gso] [--seconds S] [--size B] [--batch N]
 *
 * Sends for 0.3 s of warm-up, then S seconds (default 1) measured, N
 * datagrams (default 256) per call. Prints
 *   "SENT <measured> <seconds> TOTAL <all, warm-up included> GSO <0|1>
 *    SYSCALLS <n> GSO_SENDS <n> ERRORS <n>"
 * and exits 1 when --no-gso was not given but the port has no GSO. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dgram.h"

#define WARMUP_SECONDS 0.3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int port = 0;
    bool gso = true;
    double seconds = 1;
    size_t size = 1200, batch = 256;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-gso") == 0)
            gso = false;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            size = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = strtoul(argv[++i], NULL, 10);
        else
            port = atoi(argv[i]);
    }
    if (port <= 0 || port > 65535 || !(seconds > 0) || size < 1 || size > 65507 || batch < 1 ||
        batch > 4096) {
        fprintf(stderr, "usage: %s PORT [--no-gso] [--seconds S] [--size B] [--batch N]\n",
                argv[0]);
        return 2;
    }
    dg_reactor *r;
    static const dg_protocol_ops ops = {.name = "Bulk"};
    static dg_protocol proto = {.ops = &ops};
    dg_port *p = NULL;
    if (dg_reactor_new(NULL, &r) < 0)
        return 1;
    if (dg_connect_udp(r, "127.0.0.1", port, &proto, NULL, &p) < 0 || !p) {
        fprintf(stderr, "bulk_dgram: %s\n", dg_reactor_last_error(r));
        return 1;
    }
    if (!gso)
        dg_port_set_gso(p, false);
    else if (dg_port_get_gso(p) != 1) {
        fprintf(stderr, "bulk_dgram: no UDP GSO here\n");
        return 1;
    }
    size_t len = size * batch;
    unsigned char *data = malloc(len);
    if (!data)
        return 1;
    memset(data, 'b', len);

    unsigned long long total = 0, measured = 0, errors = 0;
    double start = now(), measure = start + WARMUP_SECONDS, end = measure + seconds, t = start;
    while ((t = now()) < end) {
        int n = dg_port_write_segments(p, data, len, size, NULL);
        if (n < 0) {
            /* The sink's ICMP while it starts or stops, or a full queue:
             * counted, and the loop goes on. */
            errors++;
            if (n != -EAGAIN && n != -ENOBUFS && n != -ECONNREFUSED) {
                fprintf(stderr, "bulk_dgram: %s\n", dg_strerror(n));
                return 1;
            }
            dg_reactor_run_once(r, 0);
            continue;
        }
        total += (unsigned)n;
        if (t >= measure)
            measured += (unsigned)n;
    }
    dg_port_stats s;
    dg_port_get_stats(p, &s);
    printf("SENT %llu %.6f TOTAL %llu GSO %d SYSCALLS %llu GSO_SENDS %llu ERRORS %llu\n", measured,
           t - measure, total, dg_port_get_gso(p), (unsigned long long)s.tx_syscalls,
           (unsigned long long)s.tx_gso_sends, errors);
    free(data);
    dg_reactor_free(r);
    return 0;
}
