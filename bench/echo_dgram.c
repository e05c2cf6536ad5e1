/* dgram's echo server (and sink), through the public API only: the seed's
 * Echo without the print. Linked with -Wl,--wrap=malloc (and calloc,
 * realloc), so it also counts the library's heap allocations in steady state:
 * from the WARMUP-th datagram on, every allocation is one too many. */
#include <stdint.h>
#include <stdlib.h>
#include "bench.h"
#include "dgram.h"

#define WARMUP 10000

static unsigned long long allocs; /* malloc + calloc + realloc calls, all threads */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
    __atomic_fetch_add(&allocs, 1, __ATOMIC_RELAXED);
    return __real_malloc(n);
}
void *__wrap_calloc(size_t k, size_t n)
{
    __atomic_fetch_add(&allocs, 1, __ATOMIC_RELAXED);
    return __real_calloc(k, n);
}
void *__wrap_realloc(void *p, size_t n)
{
    __atomic_fetch_add(&allocs, 1, __ATOMIC_RELAXED);
    return __real_realloc(p, n);
}

typedef struct server {
    dg_protocol proto;
    unsigned long long count;
    unsigned long long allocs_at_warmup;
} server;

static void echo(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    server *s = DG_CONTAINER_OF(self, server, proto);
    if (++s->count == WARMUP)
        s->allocs_at_warmup = allocs;
    dg_port_write(self->transport, data, len, from);
}

static void sink(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    (void)data, (void)len, (void)from;
    server *s = DG_CONTAINER_OF(self, server, proto);
    if (++s->count == WARMUP)
        s->allocs_at_warmup = allocs;
}

static void expire(dg_call *c, void *arg)
{
    (void)c;
    dg_reactor_stop(arg);
}

int main(int argc, char **argv)
{
    bench_args a = bench_parse(argc, argv);
    static const dg_protocol_ops echo_ops = {.name = "Echo", .datagram_received = echo};
    static const dg_protocol_ops sink_ops = {.name = "Sink", .datagram_received = sink};
    server s = {.proto.ops = a.sink ? &sink_ops : &echo_ops};
    dg_reactor_options ro;
    dg_reactor_options_init(&ro);
    ro.handle_signals = true;
    dg_reactor *r;
    int err = dg_reactor_new(&ro, &r);
    if (err < 0) {
        fprintf(stderr, "echo_dgram: %s\n", dg_strerror(err));
        return 1;
    }
    dg_listen_options lo;
    dg_listen_options_init(&lo);
    lo.interface = "127.0.0.1";
    dg_port *port;
    if (dg_listen_udp(r, a.port, &s.proto, &lo, &port) < 0) {
        fprintf(stderr, "echo_dgram: %s\n", dg_reactor_last_error(r));
        dg_reactor_free(r);
        return 1;
    }
    /* The replies of one read batch leave in one sendmmsg, as the raw
     * loop's do; DGRAM_BENCH_UNBATCHED=1 measures one sendmsg per reply. */
    const char *unbatched = getenv("DGRAM_BENCH_UNBATCHED");
    if (!(unbatched && *unbatched == '1'))
        dg_port_set_write_batching(port, true);
    /* DGRAM_BENCH_GRO=1: a bulk receiver's GRO (bench/run.py's bulk scenario). */
    const char *gro = getenv("DGRAM_BENCH_GRO");
    if (gro && *gro == '1' && (err = dg_port_set_gro(port, true)) < 0)
        fprintf(stderr, "echo_dgram: GRO: %s\n", dg_strerror(err));
    dg_call_later(r, a.seconds, expire, r);
    bench_ready();
    dg_reactor_run(r);
    if (a.sink)
        bench_report_count(s.count);
    /* Counted before the teardown, which frees but does not allocate. */
    if (s.count >= WARMUP)
        printf("ALLOCS %llu %llu\n", allocs - s.allocs_at_warmup, s.count - WARMUP);
    dg_reactor_free(r);
    return 0;
}
