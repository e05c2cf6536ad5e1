/* Driver for tests/scripts/gso_netns.sh: one receiver or one bulk sender.
 *
 *   ns_gso recv ADDR PORT N SEG
 *       Listen on ADDR:PORT, print "ready", then take datagrams until an
 *       empty one (the sender's marker) and check that exactly the N
 *       datagrams of ns_gso send N SEG came before it, in order, bytes
 *       exact. Prints "ok N" and exits 0, or "bad: why" and exits 1.
 *   ns_gso send ADDR PORT N SEG [--no-gso]
 *       Bulk-send N datagrams of SEG bytes (the last one shorter) with one
 *       dg_port_write_segments() call, then the marker. Prints the log lines
 *       ("log: ..."), then "sent R gso G gso_sends S syscalls C" (R: the
 *       call's result; G: dg_port_get_gso() after it) and exits 0 when R is
 *       N, else 1.
 *
 * Both give up after 20 s, so a lost marker ends the run. */
#define _GNU_SOURCE /* SO_RCVBUFFORCE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "dgram.h"

#define TAIL_SHORT 17 /* the last datagram is this much shorter */

static unsigned char byte_at(size_t i, size_t j)
{
    return j < 4 ? (unsigned char)(i >> (8 * (3 - j))) : (unsigned char)(i * 29 + j * 7 + 1);
}

static size_t len_of(size_t i, size_t n, size_t seg)
{
    return i + 1 == n ? seg - TAIL_SHORT : seg;
}

typedef struct checker {
    dg_protocol proto;
    size_t n, seg, got;
    int status; /* -1 running, 0 ok, 1 bad */
} checker;

static void bad(checker *c, dg_protocol *self, const char *why, size_t i)
{
    printf("bad: %s at datagram %zu of %zu\n", why, i, c->n);
    c->status = 1;
    dg_reactor_stop(dg_port_reactor(self->transport));
}

static void on_datagram(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    (void)from;
    checker *c = DG_CONTAINER_OF(self, checker, proto);
    if (c->status >= 0)
        return;
    if (len == 0) {
        if (c->got != c->n) {
            bad(c, self, "marker early: missing datagrams", c->got);
            return;
        }
        printf("ok %zu\n", c->got);
        c->status = 0;
        dg_reactor_stop(dg_port_reactor(self->transport));
        return;
    }
    size_t i = c->got++;
    const char *why = i >= c->n ? "more datagrams than sent"
                      : len != len_of(i, c->n, c->seg) ? "wrong length" : NULL;
    if (why) {
        bad(c, self, why, i);
        return;
    }
    const unsigned char *d = data;
    size_t j = 0;
    while (j < len && d[j] == byte_at(i, j))
        j++;
    if (j < len)
        bad(c, self, "wrong bytes (out of order or corrupt)", i);
}

static void give_up(dg_call *call, void *arg)
{
    (void)arg;
    printf("bad: timed out\n");
    dg_reactor_stop(dg_call_reactor(call));
}

static void print_log(dg_reactor *r, const char *line, void *arg)
{
    (void)r, (void)arg;
    printf("log: %s\n", line);
}

static int recv_main(dg_reactor *r, const char *addr, int port, size_t n, size_t seg)
{
    static const dg_protocol_ops ops = {.name = "Receiver", .datagram_received = on_datagram};
    checker c = {.proto = {.ops = &ops}, .n = n, .seg = seg, .status = -1};
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.interface = addr;
    dg_port *p;
    int rc = dg_listen_udp(r, port, &c.proto, &o, &p);
    if (rc < 0) {
        printf("bad: %s\n", dg_reactor_last_error(r));
        dg_reactor_free(r);
        return 1;
    }
    int big = 8 << 20;
    setsockopt(dg_port_fd(p), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    dg_call_later(r, 20, give_up, NULL);
    printf("ready\n");
    fflush(stdout);
    dg_reactor_run(r);
    dg_reactor_free(r); /* before c goes */
    return c.status == 0 ? 0 : 1;
}

static int send_main(dg_reactor *r, const char *addr, int port, size_t n, size_t seg, bool gso)
{
    static const dg_protocol_ops ops = {.name = "Sender"};
    dg_protocol proto = {.ops = &ops};
    dg_port *p;
    int rc = dg_connect_udp(r, addr, port, &proto, NULL, &p);
    unsigned char *data = malloc(n * seg);
    if (rc < 0 || !p || !data || (!gso && dg_port_set_gso(p, false) < 0)) {
        printf("bad: %s\n", dg_reactor_last_error(r));
        free(data);
        dg_reactor_free(r);
        return 1;
    }
    printf("gso before %d\n", dg_port_get_gso(p));
    size_t len = n * seg - TAIL_SHORT;
    for (size_t o = 0; o < len; o++)
        data[o] = byte_at(o / seg, o % seg);
    int sent = dg_port_write_segments(p, data, len, seg, NULL);
    int marker = dg_port_write(p, "", 0, NULL);
    free(data);
    dg_port_stats s;
    dg_port_get_stats(p, &s);
    printf("sent %d gso %d gso_sends %llu syscalls %llu marker %d\n", sent, dg_port_get_gso(p),
           (unsigned long long)s.tx_gso_sends, (unsigned long long)s.tx_syscalls, marker);
    dg_reactor_free(r); /* before proto goes */
    return sent == (int)n && marker == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 6 || (strcmp(argv[1], "recv") != 0 && strcmp(argv[1], "send") != 0)) {
        fprintf(stderr, "usage: ns_gso recv|send ADDR PORT N SEG [--no-gso]\n");
        return 2;
    }
    size_t n = strtoul(argv[4], NULL, 10), seg = strtoul(argv[5], NULL, 10);
    if (n < 1 || seg <= TAIL_SHORT)
        return 2;
    dg_reactor_options o;
    dg_reactor_options_init(&o);
    o.log = print_log;
    dg_reactor *r;
    if (dg_reactor_new(&o, &r) < 0)
        return 1;
    int rc = argv[1][0] == 'r'
                 ? recv_main(r, argv[2], atoi(argv[3]), n, seg)
                 : send_main(r, argv[2], atoi(argv[3]), n, seg,
                             !(argc > 6 && strcmp(argv[6], "--no-gso") == 0));
    fflush(stdout);
    return rc;
}
