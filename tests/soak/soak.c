/* Soak: an echo server and several clients exchange datagrams on loopback
 * for SOAK_SECONDS (default 60), then check what issue 6 asks:
 *  - every datagram sent was echoed back or counted as dropped, exactly
 *    (kernel queue drops of server and clients, the server's send errors);
 *  - resident memory at the end is within 1 % of what it was at 10 % of
 *    the run;
 *  - no descriptor was gained or lost.
 * The first client has the smallest receive buffer the kernel allows, so
 * its queue overflows all along, and it sends a burst every 50 ms. Clients keep a window of datagrams in flight, so the loopback device's
 * backlog (netdev_max_backlog), which no socket counter sees, never fills.
 * Exits 0 on pass and prints the figures; not part of `make test`. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dgram.h"
#include "helpers.h"

enum { CLIENTS = 4, WINDOW = 32, MAX_LEN = 1400 };

typedef struct server {
    dg_protocol proto;
    uint64_t echoed, write_failed;
} server;

typedef struct client {
    dg_protocol proto;
    uint32_t seq;
    uint64_t sent, received, corrupt, last_received;
} client;

static bool sending = true;
static unsigned char payload[MAX_LEN];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read with open/read, not stdio: fopen's buffers would be the growth. */
static long rss_kib(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    long pages = 0, resident = 0;
    if (sscanf(buf, "%ld %ld", &pages, &resident) != 2)
        return -1;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void server_received(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    server *s = DG_CONTAINER_OF(self, server, proto);
    /* As dgram echo: the same bytes back, never more. */
    if (dg_port_write(self->transport, data, len, from) < 0)
        s->write_failed++;
    else
        s->echoed++;
}

/* Sizes 1..MAX_LEN, and bytes that depend on the sequence number, so a
 * datagram echoed wrong (cut, mixed up) is seen. */
static void client_send(client *c)
{
    uint32_t seq = c->seq++;
    size_t len = 4 + (seq * 2654435761u) % (MAX_LEN - 4);
    memcpy(payload, &seq, 4);
    for (size_t i = 4; i < len; i += 97)
        payload[i] = (unsigned char)(seq + i);
    if (dg_port_write(c->proto.transport, payload, len, NULL) == (int)len)
        c->sent++;
}

static void client_received(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    client *c = DG_CONTAINER_OF(self, client, proto);
    const unsigned char *d = data;
    (void)from;
    uint32_t seq;
    memcpy(&seq, d, 4);
    bool ok = len == 4 + (seq * 2654435761u) % (MAX_LEN - 4);
    for (size_t i = 4; ok && i < len; i += 97)
        ok = d[i] == (unsigned char)(seq + i);
    c->corrupt += !ok;
    c->received++;
    if (sending)
        client_send(c);
}

static const dg_protocol_ops server_ops = {.name = "SoakEcho", .datagram_received = server_received};
static const dg_protocol_ops client_ops = {.name = "SoakClient", .datagram_received = client_received};

/* Every 50 ms: a client that heard nothing since the last tick lost its
 * window to drops; send a new one. The first client bursts every tick. */
static void refill(dg_call *c, void *arg)
{
    client *cl = arg;
    for (int i = 0; i < CLIENTS; i++, cl++) {
        /* The first client also bursts every tick, into its tiny queue. */
        if (sending && (cl->received == cl->last_received || i == 0))
            for (int k = 0; k < WINDOW; k++)
                client_send(cl);
        cl->last_received = cl->received;
    }
    dg_call_reset(c, 0.05);
}

typedef struct totals {
    uint64_t sent, received, corrupt, server_queue, server_errors, client_queues, discarded;
} totals;

static totals count(server *s, dg_port *sp, client *cl, dg_port **cp)
{
    totals t = {0};
    dg_port_stats st;
    dg_port_get_stats(sp, &st);
    t.server_queue = st.rx_kernel_drops;
    t.server_errors = st.tx_errors;
    t.discarded = st.rx_discarded;
    (void)s;
    for (int i = 0; i < CLIENTS; i++) {
        dg_port_get_stats(cp[i], &st);
        t.sent += cl[i].sent;
        t.received += cl[i].received;
        t.corrupt += cl[i].corrupt;
        t.client_queues += st.rx_kernel_drops;
        t.discarded += st.rx_discarded;
    }
    return t;
}

static uint64_t accounted(const totals *t)
{
    return t->received + t->server_queue + t->server_errors + t->client_queues + t->discarded;
}

int main(void)
{
    const char *env = getenv("SOAK_SECONDS");
    double seconds = env ? atof(env) : 60;
    if (!(seconds > 0)) {
        fprintf(stderr, "soak: SOAK_SECONDS must be a positive number\n");
        return 2;
    }
    /* Once before anything is measured: the first call faults in the libc
     * code it uses (file pages count in RSS), which is no growth of ours. */
    rss_kib();
    int fds_before = t_open_fds();
    unsigned long long backlog = t_backlog_drops();
    dg_reactor *r;
    if (dg_reactor_new(NULL, &r) < 0)
        return 1;
    server s = {.proto.ops = &server_ops};
    client cl[CLIENTS];
    dg_port *sp, *cp[CLIENTS];
    dg_listen_options lo;
    dg_listen_options_init(&lo);
    lo.interface = "127.0.0.1";
    lo.max_packet_size = 2048;
    if (dg_listen_udp(r, 0, &s.proto, &lo, &sp) < 0) {
        fprintf(stderr, "soak: %s\n", dg_reactor_last_error(r));
        return 1;
    }
    /* The write path dgram echo and the benchmark use: one sendmmsg per
     * read batch, the kernel's refusals in tx_errors all the same. */
    dg_port_set_write_batching(sp, true);
    dg_addr host;
    dg_port_get_host(sp, &host);
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (client){.proto.ops = &client_ops, .seq = (uint32_t)i << 28};
        if (dg_connect_udp(r, "127.0.0.1", dg_addr_port(&host), &cl[i].proto, NULL, &cp[i]) < 0) {
            fprintf(stderr, "soak: %s\n", dg_reactor_last_error(r));
            return 1;
        }
    }
    /* The first client's receive queue is as small as the kernel allows,
     * so drops happen all along, not only at the start. */
    int tiny = 0;
    setsockopt(dg_port_fd(cp[0]), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny);
    dg_call *tick = dg_call_later(r, 0.05, refill, cl);
    int fds_running = t_open_fds();

    double start = now(), end = start + seconds, at10 = start + seconds / 10;
    long rss10 = -1, rss_max = 0;
    for (int i = 0; i < CLIENTS; i++)
        for (int k = 0; k < WINDOW; k++)
            client_send(&cl[i]);
    while (now() < end) {
        dg_reactor_run_once(r, 10);
        if (rss10 < 0 && now() >= at10)
            rss10 = rss_kib();
        if (rss10 >= 0) {
            long rss = rss_kib();
            if (getenv("SOAK_TRACE") && rss > rss_max)
                fprintf(stderr, "soak: t=%.2f s RSS %ld KiB\n", now() - start, rss);
            rss_max = rss > rss_max ? rss : rss_max;
        }
    }
    long rss_end = rss_kib();
    int fds_end = t_open_fds();

    /* Stop, drain, and let a last datagram per client carry the kernels'
     * drop counts (reported with the next datagram queued). */
    sending = false;
    double deadline = now() + 10;
    totals t = count(&s, sp, cl, cp);
    while (accounted(&t) != t.sent && now() < deadline) {
        if (dg_reactor_run_once(r, 10) == 0)
            for (int i = 0; i < CLIENTS; i++)
                client_send(&cl[i]);
        t = count(&s, sp, cl, cp);
    }
    dg_call_cancel(tick);
    dg_reactor_free(r);
    int fds_after = t_open_fds();
    backlog = t_backlog_drops() - backlog;

    double pct = rss10 > 0 ? 100.0 * (double)(rss_end - rss10) / (double)rss10 : 0;
    double pct_max = rss10 > 0 ? 100.0 * (double)(rss_max - rss10) / (double)rss10 : 0;
    printf("soak: %.0f s, %d clients, window %d, datagrams of 4-%d bytes\n", seconds, CLIENTS,
           WINDOW, MAX_LEN);
    printf("soak: sent %llu, echoed back %llu (%.0f round trips/s), corrupt %llu\n",
           (unsigned long long)t.sent, (unsigned long long)t.received,
           (double)t.received / seconds, (unsigned long long)t.corrupt);
    printf("soak: drops counted: server queue %llu, server send errors %llu, client queues %llu, "
           "discarded %llu\n", (unsigned long long)t.server_queue,
           (unsigned long long)t.server_errors, (unsigned long long)t.client_queues,
           (unsigned long long)t.discarded);
    printf("soak: not countable by a socket: device backlog drops on this host %llu\n", backlog);
    printf("soak: sent = echoed + counted drops: %llu = %llu: %s\n", (unsigned long long)t.sent,
           (unsigned long long)accounted(&t), accounted(&t) == t.sent ? "exact" : "MISMATCH");
    printf("soak: RSS at 10%%: %ld KiB, at end: %ld KiB (%+.2f%%), highest after 10%%: %ld KiB "
           "(%+.2f%%)\n", rss10, rss_end, pct, rss_max, pct_max);
    printf("soak: descriptors: %d before, %d running, %d at end, %d after free\n", fds_before,
           fds_running, fds_end, fds_after);
    bool ok = accounted(&t) == t.sent && t.corrupt == 0 && t.received > 0 && rss10 > 0 &&
              pct_max <= 1.0 && pct >= -1.0 && fds_end == fds_running && fds_after == fds_before;
    printf("soak: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
