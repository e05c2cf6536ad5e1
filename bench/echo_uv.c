/* libuv's echo server, as its documentation suggests writing one: recvmmsg
 * receive (UV_UDP_RECVMMSG, libuv's fastest path) and uv_udp_try_send, the
 * unqueued send (no request allocation, no write queue). */
#include <uv.h>
#include "bench.h"

#define CHUNKS 20 /* libuv's own recvmmsg batch limit */

static unsigned long long count;
static bool sink;
static char slab[CHUNKS * 64 * 1024];

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    *buf = uv_buf_init(slab, sizeof slab);
}

static void recv_cb(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
    /* n == 0 with no address, or the UV_UDP_MMSG_FREE call: nothing read. */
    if (n <= 0 || !from)
        return;
    (void)flags;
    count++;
    if (!sink) {
        uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
        uv_udp_try_send(h, &out, 1, from);
    }
}

static void expire(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    uv_stop(s->loop);
}

int main(int argc, char **argv)
{
    bench_args a = bench_parse(argc, argv);
    sink = a.sink;
    uv_loop_t *loop = uv_default_loop();
    uv_udp_t udp;
    struct sockaddr_in sin;
    uv_ip4_addr("127.0.0.1", a.port, &sin);
    int err = uv_udp_init_ex(loop, &udp, AF_INET | UV_UDP_RECVMMSG);
    if (!err)
        err = uv_udp_bind(&udp, (const struct sockaddr *)&sin, 0);
    if (!err)
        err = uv_udp_recv_start(&udp, alloc_cb, recv_cb);
    if (err) {
        fprintf(stderr, "echo_uv: %s\n", uv_strerror(err));
        return 1;
    }
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, expire, (uint64_t)(a.seconds * 1000), 0);
    uv_signal_t sterm, sint;
    uv_signal_init(loop, &sterm);
    uv_signal_start(&sterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sint);
    uv_signal_start(&sint, on_signal, SIGINT);
    bench_ready();
    uv_run(loop, UV_RUN_DEFAULT);
    if (a.sink)
        bench_report_count(count);
    return 0;
}
