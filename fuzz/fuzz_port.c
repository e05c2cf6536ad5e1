/* A port driven by arbitrary datagrams and arbitrary callback actions over
 * loopback. The input is a script of operations (peer sends, port writes,
 * loop turns, stop, close, reopen, connect, a reactor run that a timer
 * stops) and of actions the next callbacks take (write, stop, close, close
 * and free the protocol, stop the reactor, open another port, turn write
 * batching or GRO on or off, bulk-send to itself). Ports start with write
 * batching on or off, and write_failed acts too. Checks: no crash or leak
 * (ASan), stop_protocol once per start, and a port's rx_datagrams equal to
 * the datagram_received calls its protocol saw. */
#include "fuzz.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dgram.h"

#define MAX_PROTOS 8

typedef struct fz_proto {
    dg_protocol proto;
    dg_port *port; /* from start_protocol: its stats are read in stop_protocol */
    uint64_t delivered;
    int started, stopped;
    bool self_free;  /* free itself in stop_protocol */
    bool freed;
} fz_proto;

static struct {
    const uint8_t *d;
    size_t n, i;
    dg_reactor *r;
    fz_proto *protos[MAX_PROTOS];
    int nprotos;
    dg_port *port;    /* the current port, NULL once its stop_protocol ran */
    fz_proto *cur;
    int peer;
    dg_addr peer_addr, port_addr;
} g;

static unsigned next(void)
{
    return g.i < g.n ? g.d[g.i++] : 0;
}

static void open_port(void);

/* What a callback does: the next byte of the script. */
static void act(fz_proto *f, const dg_addr *from)
{
    dg_port *p = f->proto.transport;
    unsigned a = next();
    switch (a % 10) {
    case 1:
        if (p)
            dg_port_write(p, "reply", a % 6, from);
        break;
    case 2:
        if (p) {
            struct iovec v[2] = {{"ab", 2}, {"cd", (a >> 3) % 3}};
            dg_port_write_sequence(p, v, 2, from);
        }
        break;
    case 3:
        dg_port_stop_listening(p, NULL, NULL);
        break;
    case 4:
        dg_port_close(p);
        break;
    case 5:
        f->self_free = true;
        dg_port_close(p);
        break;
    case 6:
        dg_reactor_stop(g.r);
        break;
    case 7:
        open_port();
        break;
    case 8:
        dg_port_set_write_batching(p, a & 16);
        break;
    case 9:
        if (p) {
            static const uint8_t bulk[256];
            dg_port_set_gro(p, a & 16);
            dg_port_write_segments(p, bulk, 1 + next(), 1 + (a >> 5), &g.port_addr);
        }
        break;
    default:
        break;
    }
}

static void on_start(dg_protocol *self)
{
    fz_proto *f = DG_CONTAINER_OF(self, fz_proto, proto);
    f->started++;
    f->port = self->transport;
}

static void on_stop(dg_protocol *self)
{
    fz_proto *f = DG_CONTAINER_OF(self, fz_proto, proto);
    f->stopped++;
    CHECK(f->stopped == f->started);
    CHECK(!self->transport);
    dg_port_stats st;
    CHECK(dg_port_get_stats(f->port, &st) == 0);
    CHECK(st.rx_datagrams == f->delivered);
    if (g.cur == f)
        g.port = NULL;
    if (f->self_free) {
        f->freed = true;
        free(f);
        for (int i = 0; i < g.nprotos; i++)
            if (g.protos[i] == f)
                g.protos[i] = NULL;
    }
}

static void on_datagram(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    fz_proto *f = DG_CONTAINER_OF(self, fz_proto, proto);
    (void)data;
    (void)len;
    CHECK(self->transport);
    f->delivered++;
    act(f, from);
}

static void on_refused(dg_protocol *self)
{
    act(DG_CONTAINER_OF(self, fz_proto, proto), NULL);
}

static void on_write_failed(dg_protocol *self, int err, const void *data, size_t len,
                            const dg_addr *to)
{
    (void)data, (void)len;
    CHECK(err < 0);
    act(DG_CONTAINER_OF(self, fz_proto, proto), to);
}

static const dg_protocol_ops ops = {.name = "Fuzz", .start_protocol = on_start,
    .stop_protocol = on_stop, .datagram_received = on_datagram,
    .connection_refused = on_refused, .write_failed = on_write_failed};

static void open_port(void)
{
    if (g.nprotos == MAX_PROTOS)
        return;
    fz_proto *f = calloc(1, sizeof *f);
    CHECK(f);
    f->proto.ops = &ops;
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.interface = "127.0.0.1";
    o.max_packet_size = 1 + next() * 4;
    dg_port *p;
    if (dg_listen_udp(g.r, 0, &f->proto, &o, &p) < 0) {
        free(f);
        return;
    }
    g.protos[g.nprotos++] = f;
    if (next() & 1)
        dg_port_set_write_batching(p, true);
    g.port = p;
    g.cur = f;
    dg_port_get_host(p, &g.port_addr);
}

static void stop_reactor(dg_call *c, void *arg)
{
    (void)c;
    dg_reactor_stop(arg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t payload[1024];
    if (size > 512)
        return 0;
    memset(&g, 0, sizeof g);
    g.d = data;
    g.n = size;
    dg_reactor_options ro;
    dg_reactor_options_init(&ro);
    CHECK(dg_reactor_new(&ro, &g.r) == 0);
    g.peer = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(dg_addr_parse(&g.peer_addr, "127.0.0.1", 0) == 0);
    socklen_t len = sizeof g.peer_addr.u.in4;
    CHECK(bind(g.peer, &g.peer_addr.u.sa, len) == 0);
    CHECK(getsockname(g.peer, &g.peer_addr.u.sa, &len) == 0);
    open_port();

    while (g.i < g.n) {
        unsigned op = next();
        size_t n = next() * 4;
        switch (op % 9) {
        case 0: /* the peer sends, to the current port (or the last one) */
            sendto(g.peer, payload, n, 0, &g.port_addr.u.sa, sizeof g.port_addr.u.in4);
            break;
        case 1:
            dg_port_write(g.port, payload, n, op & 16 ? NULL : &g.peer_addr);
            break;
        case 2:
            dg_reactor_run_once(g.r, 0);
            break;
        case 3:
            dg_port_stop_listening(g.port, NULL, NULL);
            break;
        case 4:
            dg_port_close(g.port);
            break;
        case 5:
            if (!g.port)
                open_port();
            break;
        case 6:
            if (g.port)
                dg_port_connect(g.port, "127.0.0.1", n & 1 ? dg_addr_port(&g.peer_addr) : 9);
            break;
        case 7: /* a run, which a timer ends; its shutdown closes every port */
            if (dg_call_later(g.r, 0, stop_reactor, g.r))
                dg_reactor_run(g.r);
            break;
        default: /* drain what the peer got */
            while (recv(g.peer, payload, sizeof payload, MSG_DONTWAIT) >= 0)
                ;
            break;
        }
    }
    dg_reactor_free(g.r);
    close(g.peer);
    for (int i = 0; i < g.nprotos; i++) {
        fz_proto *f = g.protos[i];
        if (!f)
            continue;
        CHECK(f->started == 1 && f->stopped == 1);
        free(f);
    }
    return 0;
}
