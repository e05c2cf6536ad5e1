/* Faults (issue 6): each case asserts a clear error, that the port or
 * reactor survives or shuts down cleanly, and that no descriptor leaks
 * (memory: ASan and valgrind runs of this file). The send flood with a tiny
 * SO_SNDBUF is in test_write_errors.c, callbacks acting at every point in
 * test_reentrancy.c. */
#include "helpers.h"
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

/* ---- kernel receive-queue drops ------------------------------------------ */

/* A flood into a tiny receive buffer while the reactor does not turn: the
 * kernel drops most of it. Every datagram sent is then either delivered or
 * counted in rx_kernel_drops, exactly. The flood stays under the loopback
 * device's backlog (netdev_max_backlog, 1000 by default), so the only place
 * that can drop is the socket. */
enum { FLOOD = 900 };

/* The library reads drops through SO_MEMINFO; where a kernel lacks it, the
 * port falls back to SO_RXQ_OVFL. no_meminfo makes it lack it here. */
static bool no_meminfo;
int __real_getsockopt(int fd, int level, int name, void *value, socklen_t *len);
int __wrap_getsockopt(int fd, int level, int name, void *value, socklen_t *len)
{
#ifdef SO_MEMINFO
    if (no_meminfo && level == SOL_SOCKET && name == SO_MEMINFO) {
        errno = ENOPROTOOPT;
        return -1;
    }
#endif
    return __real_getsockopt(fd, level, name, value, len);
}

static void kernel_drops_counted_exactly(bool meminfo)
{
    no_meminfo = !meminfo;
    int before = t_open_fds();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Sink");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    int tiny = 0; /* the kernel's minimum */
    assert_int_equal(setsockopt(dg_port_fd(p), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny), 0);
    int peer = t_peer("127.0.0.1", NULL);
    dg_addr to = t_addr("127.0.0.1", t_port_number(p));
    unsigned long long backlog = t_backlog_drops();
    char payload[200];
    memset(payload, 'x', sizeof payload);
    int sent = 0;
    for (int i = 0; i < FLOOD; i++)
        if (sendto(peer, payload, sizeof payload, 0, &to.u.sa, sizeof to.u.in4) == (ssize_t)sizeof payload)
            sent++;
    assert_true(sent > FLOOD / 2);

    /* Read what the queue kept, until it is empty. */
    T_RUN_UNTIL(r, !(t_poll_now(dg_port_fd(p)) & POLLIN));
    int kept = rec.received_total;
    /* SO_MEMINFO has the drops at once. SO_RXQ_OVFL reports them with the
     * next datagram the kernel queues: one more, into the now empty queue,
     * carries the total. */
    if (meminfo && t_backlog_drops() == backlog)
        assert_int_equal((uint64_t)kept + t_stats(p).rx_kernel_drops, (uint64_t)sent);
    t_peer_send(peer, "end", 3, "127.0.0.1", t_port_number(p));
    T_RUN_UNTIL(r, rec.received_total == kept + 1);

    dg_port_stats s = t_stats(p);
    printf("# flood: %d sent, %d delivered, %llu kernel drops\n", sent, kept,
           (unsigned long long)s.rx_kernel_drops);
    if (t_backlog_drops() != backlog) {
        /* Something (another test's flood on this CPU) filled the device
         * backlog: what it dropped never reached a socket to be counted. */
        close(peer);
        dg_reactor_free(r);
        t_rec_free(&rec);
        skip();
    }
    assert_true(s.rx_kernel_drops > 0);
    assert_int_equal(s.rx_datagrams, (uint64_t)kept + 1);
    assert_int_equal((uint64_t)kept + s.rx_kernel_drops, (uint64_t)sent);
    assert_int_equal(s.rx_discarded, 0);

    /* A second flood: counted as the difference, not added again in total. */
    for (int i = 0; i < FLOOD; i++)
        if (sendto(peer, payload, sizeof payload, 0, &to.u.sa, sizeof to.u.in4) == (ssize_t)sizeof payload)
            sent++;
    T_RUN_UNTIL(r, !(t_poll_now(dg_port_fd(p)) & POLLIN));
    kept = rec.received_total;
    t_peer_send(peer, "end", 3, "127.0.0.1", t_port_number(p));
    T_RUN_UNTIL(r, rec.received_total == kept + 1);
    s = t_stats(p);
    if (t_backlog_drops() == backlog)
        assert_int_equal(s.rx_datagrams + s.rx_kernel_drops, (uint64_t)sent + 2);

    close(peer);
    dg_reactor_free(r);
    t_rec_free(&rec);
    no_meminfo = false;
    assert_int_equal(t_open_fds(), before);
}

static void test_kernel_drops_counted_exactly(void **state)
{
    (void)state;
    kernel_drops_counted_exactly(true);
}

static void test_kernel_drops_counted_exactly_rxq_ovfl(void **state)
{
    (void)state;
    kernel_drops_counted_exactly(false);
}

/* An adopted socket's drops before adoption are not the port's. */
static void test_adopted_drops_not_counted(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    dg_addr any = t_addr("127.0.0.1", 0);
    assert_int_equal(bind(fd, &any.u.sa, sizeof any.u.in4), 0);
    int tiny = 0;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny), 0);
    dg_addr to;
    assert_int_equal(getsockname(fd, &to.u.sa, &(socklen_t){sizeof to}), 0);
    int peer = t_peer("127.0.0.1", NULL);
    char payload[200] = {0};
    for (int i = 0; i < FLOOD; i++)
        sendto(peer, payload, sizeof payload, 0, &to.u.sa, sizeof to.u.in4);
    char buf[256];
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
        ;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Sink");
    dg_port *p;
    assert_int_equal(dg_adopt_datagram_port(r, fd, AF_INET, &rec.proto, NULL, &p), 0);
    t_peer_send(peer, "end", 3, "127.0.0.1", t_port_number(p));
    T_RUN_UNTIL(r, rec.received_total == 1);
    assert_int_equal(t_stats(p).rx_kernel_drops, 0);
    close(peer);
    close(fd);
    dg_reactor_free(r);
    t_rec_free(&rec);
}

/* SO_RXQ_OVFL turned on by the user (through dg_port_fd()) or by an adopted
 * socket's first owner while the port counts through SO_MEMINFO: a
 * datagram's control message carries an older total than the one noted,
 * and must not be counted again (it wrapped the count by 2^32). */
static int flood(int peer, const dg_addr *to)
{
    char payload[200];
    memset(payload, 'x', sizeof payload);
    int sent = 0;
    for (int i = 0; i < FLOOD; i++)
        if (sendto(peer, payload, sizeof payload, 0, &to->u.sa, sizeof to->u.in4) ==
            (ssize_t)sizeof payload)
            sent++;
    return sent;
}

static void test_rxq_ovfl_on_with_meminfo(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Sink");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    int fd = dg_port_fd(p);
    /* Room for more datagrams than one event's budget (256). */
    t_rcvbuf(fd, 200 * 1024);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &(int){1}, sizeof(int)), 0);
    int peer = t_peer("127.0.0.1", NULL);
    dg_addr to = t_addr("127.0.0.1", t_port_number(p));
    unsigned long long backlog = t_backlog_drops();
    int sent = 0;
    /* Overflow, read one event's worth (the drops are noted), overflow
     * again: the datagrams queued between carry an older count than the one
     * noted. */
    for (int round = 0; round < 4; round++) {
        sent += flood(peer, &to);
        t_settle(peer, "127.0.0.1");
        t_turn(r, 1);
    }
    T_RUN_UNTIL(r, !(t_poll_now(fd) & POLLIN));
    dg_port_stats s = t_stats(p);
    printf("# sent %d, delivered %llu, kernel drops %llu\n", sent,
           (unsigned long long)s.rx_datagrams, (unsigned long long)s.rx_kernel_drops);
    assert_true(s.rx_kernel_drops > 0);
    if (t_backlog_drops() == backlog)
        assert_int_equal(s.rx_datagrams + s.rx_kernel_drops, (uint64_t)sent);
    else
        assert_true(s.rx_datagrams + s.rx_kernel_drops <= (uint64_t)sent);
    close(peer);
    dg_reactor_free(r);
    t_rec_free(&rec);
}

/* ---- descriptor exhaustion ------------------------------------------------ */

typedef struct exhausted {
    struct rlimit saved;
    int fds[64];
    int n;
} exhausted;

static struct rlimit saved_limit;

/* Lower RLIMIT_NOFILE to 64 and fill what is left of it. */
static void exhaust(exhausted *e)
{
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &e->saved), 0);
    saved_limit = e->saved;
    struct rlimit low = {.rlim_cur = 64, .rlim_max = e->saved.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    e->n = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        assert_true(e->n < 64);
        e->fds[e->n++] = fd;
    }
}

/* A failed assertion leaves a test early: the next ones need descriptors. */
static int restore_limit(void **state)
{
    (void)state;
    return setrlimit(RLIMIT_NOFILE, &saved_limit);
}

static void restore(exhausted *e)
{
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &e->saved), 0);
    while (e->n > 0)
        close(e->fds[--e->n]);
}

static void test_emfile_at_listen_and_connect(void **state)
{
    (void)state;
    int before = t_open_fds();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Starved");
    int fds = t_open_fds();
    exhausted e;
    exhaust(&e);

    dg_port *p = (dg_port *)&e; /* must be reset to NULL */
    assert_int_equal(dg_listen_udp(r, 0, &rec.proto, NULL, &p), -EMFILE);
    assert_null(p);
    assert_string_equal(dg_reactor_last_error(r), "Couldn't listen on any:0: Too many open files.");
    p = (dg_port *)&e;
    assert_int_equal(dg_connect_udp(r, "127.0.0.1", 9, &rec.proto, NULL, &p), -EMFILE);
    assert_null(p);
    assert_string_equal(dg_reactor_last_error(r), "Couldn't connect to 127.0.0.1:9: Too many open files.");
    assert_int_equal(rec.started, 0);
    assert_int_equal(rec.failed, 0);
    assert_null(rec.proto.transport);

    /* Room again: nothing was kept, and the same protocol listens and
     * connects. */
    restore(&e);
    assert_int_equal(t_open_fds(), fds);
    assert_int_equal(dg_listen_udp(r, 0, &rec.proto, NULL, &p), 0);
    assert_int_equal(rec.started, 1);
    assert_int_equal(dg_port_close(p), 0);
    assert_int_equal(dg_connect_udp(r, "127.0.0.1", 9, &rec.proto, NULL, &p), 0);
    assert_int_equal(rec.started, 2);
    assert_int_equal(dg_port_close(p), 0);
    assert_int_equal(rec.stopped, 2);

    dg_reactor_free(r);
    t_rec_free(&rec);
    assert_int_equal(t_open_fds(), before);
}

/* The same for a name: the lookup (which opens /etc/hosts) and the socket
 * both need descriptors. Whichever fails first, connection_failed reports it
 * once, naming the host; the port is gone and nothing is kept. */
static void test_emfile_at_connect_by_name(void **state)
{
    (void)state;
    int before = t_open_fds();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Starved");
    int fds = t_open_fds();
    exhausted e;
    exhaust(&e);
    dg_port *p = NULL;
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &rec.proto, NULL, &p), 0);
    T_RUN_UNTIL(r, rec.failed == 1);
    assert_true(rec.failed_err < 0);
    assert_non_null(strstr(dg_reactor_last_error(r), "localhost"));
    assert_int_equal(rec.started, 0);
    assert_null(rec.proto.transport);
    restore(&e);
    t_turn(r, 2);
    assert_int_equal(rec.failed, 1);
    assert_int_equal(t_open_fds(), fds);
    /* Room again: the same protocol connects by name. */
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &rec.proto, NULL, &p), 0);
    T_RUN_UNTIL(r, rec.started == 1);
    dg_reactor_free(r);
    t_rec_free(&rec);
    assert_int_equal(t_open_fds(), before);
}

/* ---- datagram sizes -------------------------------------------------------- */

/* 0, 1 and 65507 bytes (the IPv4 maximum) arrive whole on a port that takes
 * 65535; one byte over max_packet_size arrives cut, flagged and counted; a
 * write over 65507 is -EMSGSIZE, counted by kind. */
static void test_datagram_sizes(void **state)
{
    (void)state;
    int before = t_open_fds();
    dg_reactor *r = t_reactor(false);
    t_rec big, small;
    t_rec_init(&big, "Big");
    t_rec_init(&small, "Small");
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.interface = "127.0.0.1";
    o.max_packet_size = DG_MAX_PACKET_SIZE_LIMIT;
    dg_port *pb;
    assert_int_equal(dg_listen_udp(r, 0, &big.proto, &o, &pb), 0);
    o.max_packet_size = 512;
    dg_port *ps;
    assert_int_equal(dg_listen_udp(r, 0, &small.proto, &o, &ps), 0);

    static unsigned char data[65508];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7);
    int peer = t_peer("127.0.0.1", NULL);
    const size_t sizes[] = {0, 1, 65507};
    for (size_t i = 0; i < 3; i++) {
        t_peer_send(peer, data, sizes[i], "127.0.0.1", t_port_number(pb));
        T_RUN_UNTIL(r, big.npackets == (int)i + 1);
        assert_int_equal(big.packets[i].len, sizes[i]);
        assert_int_equal(big.packets[i].flags, 0);
        assert_memory_equal(big.packets[i].data, data, sizes[i]);
    }
    t_peer_send(peer, data, 513, "127.0.0.1", t_port_number(ps));
    T_RUN_UNTIL(r, small.npackets == 1);
    assert_int_equal(small.packets[0].len, 512);
    assert_int_equal(small.packets[0].flags, DG_TRUNCATED);
    assert_memory_equal(small.packets[0].data, data, 512);
    assert_int_equal(t_stats(ps).rx_truncated, 1);
    assert_int_equal(t_stats(pb).rx_truncated, 0);
    assert_int_equal(t_stats(pb).rx_bytes, 65508);

    /* And the other way: the port sends the same sizes; one more is refused. */
    int peer_port;
    int sink = t_peer("127.0.0.1", &peer_port);
    t_rcvbuf(sink, 256 * 1024);
    dg_addr to = t_addr("127.0.0.1", peer_port);
    unsigned char back[65536];
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(dg_port_write(pb, data, sizes[i], &to), (int)sizes[i]);
        assert_int_equal(t_peer_recv(sink, back, sizeof back, NULL), sizes[i]);
    }
    assert_int_equal(dg_port_write(pb, data, 65508, &to), -EMSGSIZE);
    dg_port_stats s = t_stats(pb);
    assert_int_equal(s.tx_datagrams, 3);
    assert_int_equal(s.tx_errors, 1);
    assert_int_equal(s.tx_err_msgsize, 1);
    assert_int_equal(s.tx_err_again + s.tx_err_nobufs + s.tx_err_refused + s.tx_err_other, 0);

    close(sink);
    close(peer);
    dg_reactor_free(r);
    t_rec_free(&big);
    t_rec_free(&small);
    assert_int_equal(t_open_fds(), before);
}

/* ---- ICMP storm ------------------------------------------------------------ */

/* Hundreds of writes to a dead port: hundreds of ICMP refusals. The port
 * stays open and attached, the refusals are counted, every write is counted
 * as sent or as refused, and once the storm is over the loop goes quiet (a
 * pending error that is never cleared would keep it dispatching). Then a
 * listener appears on the dead port and the same port reaches it. */
static void test_icmp_storm(void **state)
{
    (void)state;
    static const char *const ips[] = {"127.0.0.1", "::1"};
    for (size_t f = 0; f < 2; f++) {
        int before = t_open_fds();
        dg_reactor *r = t_reactor(false);
        t_rec rec;
        t_rec_init(&rec, "Stormy");
        dg_port *p = t_listen(r, &rec, ips[f]);
        int dead = t_dead_port(ips[f]);
        assert_int_equal(dg_port_connect(p, ips[f], dead), 0);
        int ok = 0, refused = 0;
        for (int i = 0; i < 500; i++) {
            int rc = dg_port_write(p, "ping", 4, NULL);
            if (rc == 4)
                ok++;
            else if (rc == -ECONNREFUSED)
                refused++;
            else
                fail_msg("write %d: %s", i, dg_strerror(rc));
            if (i % 50 == 0)
                t_turn(r, 1);
        }
        T_RUN_UNTIL(r, rec.refused > 0);
        int quiet = 0;
        for (int i = 0; i < 1000 && quiet < 3; i++) {
            int n = dg_reactor_run_once(r, 0);
            assert_true(n >= 0);
            quiet = n == 0 ? quiet + 1 : 0;
        }
        assert_int_equal(quiet, 3);

        dg_port_stats s = t_stats(p);
        printf("# %s: %d writes sent, %d refused, %d reports, %llu refusals counted\n", ips[f], ok,
               refused, rec.refused, (unsigned long long)s.refused);
        assert_int_equal(s.tx_datagrams, (uint64_t)ok);
        assert_int_equal(s.tx_err_refused, (uint64_t)refused);
        assert_int_equal(s.tx_errors, (uint64_t)refused);
        assert_true(s.refused >= (uint64_t)rec.refused);
        assert_int_equal(rec.stopped, 0);
        assert_ptr_equal(rec.proto.transport, p);

        int alive = t_peer_at(ips[f], dead);
        assert_int_equal(dg_port_write(p, "late", 4, NULL), 4);
        char buf[8];
        assert_int_equal(t_peer_recv(alive, buf, sizeof buf, NULL), 4);
        close(alive);
        dg_reactor_free(r);
        assert_int_equal(rec.stopped, 1);
        t_rec_free(&rec);
        assert_int_equal(t_open_fds(), before);
    }
}

/* ---- a reactor stopped and freed with everything live --------------------- */

typedef struct live {
    int timers_ran, lookups_done, lookup_status[3], works_done, work_status[2];
    t_gate gate, running;
} live;

static void never(dg_call *c, void *arg)
{
    (void)c;
    ((live *)arg)->timers_ran++;
}

static void stop_now(dg_call *c, void *arg)
{
    (void)c;
    dg_reactor_stop(arg);
}

static void looked_up(dg_reactor *r, int status, const dg_addr *addrs, size_t n, void *arg)
{
    (void)r;
    (void)addrs;
    (void)n;
    live *l = arg;
    l->lookup_status[l->lookups_done++ % 3] = status;
}

static void hold(void *arg)
{
    live *l = arg;
    t_gate_add(&l->running, 1);
    t_gate_wait(&l->gate, 1);
}

static void worked(dg_reactor *r, int status, void *arg)
{
    (void)r;
    live *l = arg;
    l->work_status[l->works_done++ % 2] = status;
}

/* A timer stops the reactor while ports (one connected, one connecting by
 * name), timers, a held worker and lookups queued behind it are live. Then
 * the reactor is freed: every port stops once, no timer runs, every lookup
 * and every work's done runs exactly once, and no descriptor or thread is
 * left. */
static void *nothing(void *arg)
{
    return arg;
}

static void test_free_with_everything_live(void **state)
{
    (void)state;
    /* A thread first, so that ThreadSanitizer's own helper thread (started
     * with the first one) is in the baseline. */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, nothing, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    int fds = t_open_fds(), threads = t_threads();
    dg_reactor_options ro;
    dg_reactor_options_init(&ro);
    ro.threads = 1;
    dg_reactor *r;
    assert_int_equal(dg_reactor_new(&ro, &r), 0);
    live l = {0};
    t_gate_init(&l.gate);
    t_gate_init(&l.running);
    t_rec a, b, c;
    t_rec_init(&a, "Listening");
    t_rec_init(&b, "Connected");
    t_rec_init(&c, "Connecting");
    dg_port *pa = t_listen(r, &a, "127.0.0.1"), *pb, *pc;
    assert_int_equal(dg_connect_udp(r, "127.0.0.1", t_port_number(pa), &b.proto, NULL, &pb), 0);
    assert_int_equal(dg_port_write(pb, "hi", 2, NULL), 2);
    assert_int_equal(dg_reactor_call_in_thread(r, hold, worked, &l), 0);
    assert_true(t_gate_wait(&l.running, 1)); /* the one worker is busy now */
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &c.proto, NULL, &pc), 0);
    assert_int_equal(dg_lookup_start(r, "localhost", AF_UNSPEC, 0, looked_up, &l, NULL), 0);
    assert_int_equal(dg_lookup_start(r, "127.0.0.1", AF_INET, 5, looked_up, &l, NULL), 0);
    assert_int_equal(dg_lookup_start(r, "localhost", AF_INET6, 0, looked_up, &l, NULL), 0);
    assert_int_equal(dg_reactor_call_in_thread(r, hold, worked, &l), 0);
    for (int i = 0; i < 10; i++)
        assert_non_null(dg_call_later(r, 100 + i, never, &l));
    assert_non_null(dg_call_later(r, 0, stop_now, r));
    assert_int_equal(dg_reactor_run(r), 0);
    /* The run's shutdown closed the ports; timers and the pool are live. */
    assert_int_equal(a.stopped, 1);
    assert_int_equal(b.stopped, 1);
    assert_int_equal(c.started, 0);

    t_gate_add(&l.gate, 1); /* the held worker may finish, during the free or before */
    dg_reactor_free(r);
    assert_int_equal(l.timers_ran, 0);
    assert_int_equal(l.lookups_done, 3);
    for (int i = 0; i < 3; i++)
        assert_true(l.lookup_status[i] == 0 || l.lookup_status[i] == -ECANCELED);
    /* The first was running, so it finished; the second may have started. */
    assert_int_equal(l.works_done, 2);
    assert_true(l.work_status[0] == 0 || l.work_status[1] == 0);
    assert_true(l.work_status[0] == 0 || l.work_status[0] == -ECANCELED);
    assert_true(l.work_status[1] == 0 || l.work_status[1] == -ECANCELED);
    /* Closed during its lookup: no protocol callback at all. */
    assert_int_equal(c.started + c.stopped + c.failed, 0);
    assert_int_equal(a.stopped + b.stopped, 2);
    assert_int_equal(t_open_fds(), fds);
    assert_int_equal(t_threads(), threads);
    t_gate_destroy(&l.gate);
    t_gate_destroy(&l.running);
    t_rec_free(&a);
    t_rec_free(&b);
    t_rec_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_drops_counted_exactly),
        cmocka_unit_test(test_kernel_drops_counted_exactly_rxq_ovfl),
        cmocka_unit_test(test_adopted_drops_not_counted),
        cmocka_unit_test(test_rxq_ovfl_on_with_meminfo),
        cmocka_unit_test_teardown(test_emfile_at_listen_and_connect, restore_limit),
        cmocka_unit_test_teardown(test_emfile_at_connect_by_name, restore_limit),
        cmocka_unit_test(test_datagram_sizes),
        cmocka_unit_test(test_icmp_storm),
        cmocka_unit_test(test_free_with_everything_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
