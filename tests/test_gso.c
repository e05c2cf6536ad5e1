/* Bulk sends (dg_port_write_segments): every datagram arrives once, in
 * order, with its exact length and bytes, whether GSO carries it or
 * sendmmsg does; the stats say which path did; every error is returned and
 * counted. The run-time fallback (a device that refuses GSO) needs a veth:
 * tests/scripts/gso_netns.sh.
 *
 * Each bulk send is followed by an empty marker datagram from the same
 * socket: loopback delivers in order, so once the marker is in, whatever is
 * missing was dropped, and the receiver's rx_kernel_drops (reported with the
 * marker) or the device backlog says where. */
#include "helpers.h"
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

/* The kernel refuses a GSO send with EIO only on paths few test machines
 * have (a device without checksum offload before Linux 6.11, an IPsec
 * route), so the refusal is injected: this binary links with
 * -Wl,--wrap=sendmsg (tests/CMakeLists.txt), and a sendmsg() carrying
 * UDP_SEGMENT fails with gso_fail_err once gso_fail_after such sends have
 * gone through. Every other call is the real one. */
ssize_t __real_sendmsg(int fd, const struct msghdr *m, int flags);
static int gso_fail_err, gso_fail_after, gso_attempts;

ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags)
{
    struct msghdr *mm = (struct msghdr *)m; /* CMSG_NXTHDR's signature; read only */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mm); c; c = CMSG_NXTHDR(mm, c)) {
        if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_SEGMENT) {
            if (gso_fail_err && gso_attempts++ >= gso_fail_after) {
                errno = gso_fail_err;
                return -1;
            }
            break;
        }
    }
    return __real_sendmsg(fd, m, flags);
}

static const char *const ips[] = {"127.0.0.1", "::1"};

/* Datagram i's bytes: its number (big-endian) in the first four, then a
 * pattern that depends on i, so a swapped, repeated or shifted datagram
 * cannot compare equal. */
static unsigned char *make_bulk(size_t len, size_t seg)
{
    unsigned char *d = malloc(len);
    assert_non_null(d);
    for (size_t o = 0; o < len; o++) {
        size_t i = o / seg, j = o % seg;
        d[o] = seg >= 4 && j < 4 ? (unsigned char)(i >> (8 * (3 - j)))
                                 : (unsigned char)(i * 29 + j * 7 + 1);
    }
    return d;
}

static size_t count_of(size_t len, size_t seg)
{
    return (len + seg - 1) / seg;
}

/* Whether an empty datagram came at or after packet first. */
static bool marker_after(const t_rec *rec, int first)
{
    for (int i = first; i < rec->npackets; i++)
        if (rec->packets[i].len == 0)
            return true;
    return false;
}

/* A receiver on ip with room for a burst. */
static dg_port *receiver(dg_reactor *r, t_rec *rec, const char *ip, size_t max_packet)
{
    t_rec_init(rec, "Receiver");
    dg_port *p = t_listen_sized(r, rec, ip, max_packet);
    t_rcvbuf(dg_port_fd(p), 4 << 20);
    return p;
}

/* Wait for the marker sent after rec's packets [first, ...), then check that
 * exactly the datagrams of data (cut at seg) came before it, from `from`. */
static void expect_bulk(dg_reactor *r, t_rec *rec, dg_port *rp, int first, const unsigned char *data,
                        size_t len, size_t seg, const dg_addr *from, unsigned long long backlog)
{
    T_RUN_UNTIL(r, marker_after(rec, first));
    int n = (int)count_of(len, seg);
    int got = rec->npackets - 1 - first;
    if (got != n) {
        dg_port_stats s = t_stats(rp);
        fail_msg("%d of %d datagrams arrived; receiver's kernel drops %llu, device backlog "
                 "drops %llu",
                 got, n, (unsigned long long)s.rx_kernel_drops, t_backlog_drops() - backlog);
    }
    for (int i = 0; i < n; i++) {
        const t_packet *k = &rec->packets[first + i];
        size_t off = (size_t)i * seg, l = len - off < seg ? len - off : seg;
        if (k->len != l || memcmp(k->data, data + off, l) != 0)
            fail_msg("datagram %d of %d: %zu bytes, want %zu, or other bytes", i, n, k->len, l);
        assert_int_equal(k->flags, 0);
        if (from)
            assert_true(dg_addr_equal(&k->from, from));
    }
    assert_int_equal(rec->packets[first + n].len, 0);
}

/* The sender's stats moved by one bulk send of len bytes in n datagrams.
 * gso: 1 some went by GSO, 0 none did, -1 either (segments too large for
 * two to share one IP datagram go by sendmmsg even on a GSO port). */
static void expect_sent(const dg_port_stats *before, const dg_port_stats *after, size_t len,
                        size_t n, int gso)
{
    assert_int_equal(after->tx_datagrams - before->tx_datagrams, n);
    assert_int_equal(after->tx_bytes - before->tx_bytes, len);
    assert_int_equal(after->tx_errors, before->tx_errors);
    uint64_t calls = after->tx_syscalls - before->tx_syscalls;
    uint64_t gsos = after->tx_gso_sends - before->tx_gso_sends;
    assert_true(calls >= 1);
    assert_true(gsos <= calls);
    if (n > 1)
        assert_true(calls < n); /* batched, either way */
    if (gso == 1 && n > 1)
        assert_true(gsos > 0);
    if (gso == 0)
        assert_int_equal(gsos, 0);
}

/* One bulk send from s to rp (to: NULL on a connected s), checked end to end;
 * gso as expect_sent(), or AUTO: by the port's setting and the size. */
enum { AUTO = 2 };
static void bulk_once_as(dg_reactor *r, dg_port *s, t_rec *rec, dg_port *rp, const dg_addr *to,
                         size_t len, size_t seg, int want_gso)
{
    unsigned char *data = make_bulk(len, seg);
    size_t n = count_of(len, seg);
    int first = rec->npackets;
    unsigned long long backlog = t_backlog_drops();
    dg_port_stats before = t_stats(s);
    int gso = dg_port_get_gso(s);
    assert_true(gso == 0 || gso == 1);
    if (gso && seg > 1500)
        gso = -1;
    if (want_gso != AUTO)
        gso = want_gso;
    assert_int_equal(dg_port_write_segments(s, data, len, seg, to), (int)n);
    dg_port_stats after = t_stats(s);
    expect_sent(&before, &after, len, n, gso);
    assert_int_equal(dg_port_write(s, "", 0, to), 0);
    dg_addr from = t_host(s);
    expect_bulk(r, rec, rp, first, data, len, seg, &from, backlog);
    free(data);
}

static void bulk_once(dg_reactor *r, dg_port *s, t_rec *rec, dg_port *rp, const dg_addr *to,
                      size_t len, size_t seg)
{
    bulk_once_as(r, s, rec, rp, to, len, seg, AUTO);
}

static void check_bulk(const char *ip, bool gso)
{
    dg_reactor *r = t_reactor(false);
    t_rec rec, snd;
    dg_port *rp = receiver(r, &rec, ip, 0);
    t_rec_init(&snd, "Sender");
    dg_port *s = t_listen(r, &snd, ip);
    int have = dg_port_get_gso(s);
    assert_true(have == 0 || have == 1);
    if (!have)
        printf("# no UDP GSO in this kernel: the sendmmsg path only\n");
    if (!gso) {
        assert_int_equal(dg_port_set_gso(s, false), 0);
        assert_int_equal(dg_port_get_gso(s), 0);
    }
    dg_addr to = t_host(rp);
    enum { SEG = 1200, N = 150, TAIL = 333 };
    unsigned char *data = make_bulk(N * SEG + TAIL, SEG);
    unsigned long long backlog = t_backlog_drops();
    dg_port_stats before = t_stats(s);
    assert_int_equal(dg_port_write_segments(s, data, N * SEG + TAIL, SEG, &to), N + 1);
    dg_port_stats after = t_stats(s);
    expect_sent(&before, &after, N * SEG + TAIL, N + 1, gso && have);
    assert_int_equal(dg_port_write(s, "", 0, &to), 0);
    dg_addr from = t_host(s);
    expect_bulk(r, &rec, rp, 0, data, N * SEG + TAIL, SEG, &from, backlog);
    assert_int_equal(t_stats(rp).rx_datagrams, N + 2);
    assert_int_equal(dg_port_get_gso(s), gso ? have : 0);

    if (!gso && have) {
        /* Back on: the same port takes the GSO path again. */
        assert_int_equal(dg_port_set_gso(s, true), 0);
        assert_int_equal(dg_port_get_gso(s), 1);
        bulk_once(r, s, &rec, rp, &to, N * SEG + TAIL, SEG);
    }
    free(data);
    dg_reactor_free(r);
    t_rec_free(&rec);
    t_rec_free(&snd);
}

static void test_bulk_gso(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++)
        check_bulk(ips[i], true);
}

static void test_bulk_sendmmsg(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++)
        check_bulk(ips[i], false);
}

/* A connected port sends with to NULL (or its peer's own address), on
 * either path; made by dg_connect_udp() or by dg_port_connect(). */
static void check_connected(const char *ip, bool port_connect)
{
    dg_reactor *r = t_reactor(false);
    t_rec rec, snd;
    dg_port *rp = receiver(r, &rec, ip, 0);
    t_rec_init(&snd, "Client");
    dg_port *c = NULL;
    if (port_connect) {
        c = t_listen(r, &snd, ip);
        assert_int_equal(dg_port_connect(c, ip, t_port_number(rp)), 0);
    } else {
        assert_int_equal(dg_connect_udp(r, ip, t_port_number(rp), &snd.proto, NULL, &c), 0);
        assert_non_null(c);
        assert_int_equal(snd.started, 1);
    }
    bulk_once(r, c, &rec, rp, NULL, 100 * 1200 + 7, 1200);
    dg_addr peer = t_host(rp);
    bulk_once(r, c, &rec, rp, &peer, 64 * 1000, 1000);
    assert_int_equal(dg_port_set_gso(c, false), 0);
    bulk_once(r, c, &rec, rp, NULL, 100 * 1200 + 7, 1200);
    dg_reactor_free(r);
    t_rec_free(&rec);
    t_rec_free(&snd);
}

static void test_connected(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        check_connected(ips[i], false);
        check_connected(ips[i], true);
    }
}

/* Sizes at the edges: a segment longer than the data (one datagram), an
 * exact multiple (no short tail), segments too large for 64 in one GSO
 * send, one-byte segments, the largest segment, and segments so large that
 * only one fits a GSO send (the sendmmsg path, on a GSO port). */
static void check_sizes(const char *ip)
{
    dg_reactor *r = t_reactor(false);
    t_rec rec, snd;
    dg_port *rp = receiver(r, &rec, ip, DG_MAX_PACKET_SIZE_LIMIT);
    t_rec_init(&snd, "Sender");
    dg_port *s = t_listen(r, &snd, ip);
    dg_addr to = t_host(rp);
    static const struct {
        size_t len, seg;
    } cases[] = {
        {100, 1200},        /* one datagram, shorter than a segment */
        {1200, 1200},       /* one datagram, exactly a segment */
        {1201, 1200},       /* a segment and a one-byte tail */
        {40 * 1000, 1000},  /* an exact multiple */
        {100 * 1500 + 1, 1500}, /* 1500 * 64 > 65000: fewer per GSO send */
        {130, 1},           /* one-byte datagrams */
        {65507, 65507},     /* the largest segment */
        {100000, 40000},    /* two segments exceed one IP datagram */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        bulk_once(r, s, &rec, rp, &to, cases[i].len, cases[i].seg);
    dg_reactor_free(r);
    t_rec_free(&rec);
    t_rec_free(&snd);
}

static void test_sizes(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++)
        check_sizes(ips[i]);
}

/* ---- errors ------------------------------------------------------------ */

static dg_port *closing_port;
static int in_stop_write, in_stop_set, in_stop_get;
static uint64_t in_stop_errors;

static void write_in_stop(t_rec *rec)
{
    (void)rec;
    dg_addr to = t_addr("127.0.0.1", 9);
    in_stop_write = dg_port_write_segments(closing_port, "abcd", 4, 2, &to);
    in_stop_set = dg_port_set_gso(closing_port, true);
    in_stop_get = dg_port_get_gso(closing_port);
    in_stop_errors = t_stats(closing_port).tx_errors;
}

static void test_errors(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec, p4rec, p6rec, crec;
    dg_port *rp = receiver(r, &rec, "127.0.0.1", 0);
    t_rec_init(&p4rec, "Four");
    t_rec_init(&p6rec, "Six");
    t_rec_init(&crec, "Connected");
    dg_port *p4 = t_listen(r, &p4rec, "127.0.0.1");
    dg_port *p6 = t_listen(r, &p6rec, "::1");
    dg_port *c = t_listen(r, &crec, "127.0.0.1");
    assert_int_equal(dg_port_connect(c, "127.0.0.1", t_port_number(rp)), 0);
    dg_addr to = t_host(rp), v6 = t_addr("::1", t_port_number(rp)), other = t_addr("127.0.0.1", 9);
    dg_addr none;
    memset(&none, 0, sizeof none);
    static unsigned char data[3000];

    assert_int_equal(dg_port_write_segments(p4, data, 0, 1200, &to), -EINVAL);
    assert_int_equal(dg_port_write_segments(p4, data, sizeof data, 0, &to), -EINVAL);
    assert_int_equal(dg_port_write_segments(p4, data, sizeof data, 65508, &to), -EINVAL);
    assert_int_equal(dg_port_write_segments(p4, NULL, sizeof data, 1200, &to), -EINVAL);
    assert_int_equal(dg_port_write_segments(p4, data, sizeof data, 1200, NULL), -EDESTADDRREQ);
    assert_int_equal(dg_port_write_segments(p4, data, sizeof data, 1200, &v6), -EAFNOSUPPORT);
    assert_int_equal(dg_port_write_segments(p4, data, sizeof data, 1200, &none), -EINVAL);
    assert_int_equal(dg_port_write_segments(p6, data, sizeof data, 1200, &to), -EAFNOSUPPORT);
    assert_int_equal(dg_port_write_segments(c, data, sizeof data, 1200, &other), -EISCONN);
    assert_int_equal(dg_port_write_segments(NULL, data, sizeof data, 1200, &to), -EBADF);
    dg_port_stats s4 = t_stats(p4), s6 = t_stats(p6), sc = t_stats(c);
    assert_int_equal(s4.tx_errors, 7);
    assert_int_equal(s4.tx_err_other, 7);
    assert_int_equal(s6.tx_errors, 1);
    assert_int_equal(sc.tx_errors, 1);
    assert_int_equal(s4.tx_datagrams + s6.tx_datagrams + sc.tx_datagrams, 0);
    assert_int_equal(s4.tx_syscalls + s6.tx_syscalls + sc.tx_syscalls, 0);
    assert_int_equal(dg_port_set_gso(NULL, true), -EBADF);
    assert_int_equal(dg_port_get_gso(NULL), -EBADF);

    /* Closed: inside stop_protocol the port is still readable, and refuses. */
    closing_port = p4;
    p4rec.on_stop = write_in_stop;
    assert_int_equal(dg_port_close(p4), 0);
    assert_int_equal(p4rec.stopped, 1);
    assert_int_equal(in_stop_write, -EBADF);
    assert_int_equal(in_stop_set, -EBADF);
    assert_int_equal(in_stop_get, -EBADF);
    assert_int_equal(in_stop_errors, 8);

    /* A dg_connect_udp() port whose name lookup is under way has no socket. */
    t_rec lrec;
    t_rec_init(&lrec, "Looking");
    dg_port *l = NULL;
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &lrec.proto, NULL, &l), 0);
    assert_non_null(l);
    if (lrec.started == 0) {
        assert_int_equal(dg_port_write_segments(l, data, sizeof data, 1200, NULL), -ENOTCONN);
        assert_int_equal(dg_port_set_gso(l, false), -ENOTCONN);
        assert_int_equal(t_stats(l).tx_errors, 1);
    }
    assert_int_equal(dg_port_close(l), 0);

    /* Nothing above reached the receiver: the marker arrives alone. */
    assert_int_equal(dg_port_write(c, "", 0, NULL), 0);
    T_RUN_UNTIL(r, marker_after(&rec, 0));
    assert_int_equal(rec.received_total, 1);
    dg_reactor_free(r);
    t_rec_free(&rec);
}

/* ---- from inside datagram_received --------------------------------------- */

enum { RE_SEG = 1200, RE_N = 100, RE_TAIL = 10, RE_LEN = RE_N * RE_SEG + RE_TAIL };
static unsigned char *re_data;
static int re_rc, re_marker_rc, re_first_rc;
static bool re_batched;

/* "go" from the client: answer it with a bulk send, a marker behind. */
static void answer_in_callback(t_rec *rec)
{
    const t_packet *k = &rec->packets[rec->npackets - 1];
    if (k->len != 2 || memcmp(k->data, "go", 2) != 0)
        return;
    dg_port *p = rec->proto.transport;
    if (re_batched)
        re_first_rc = dg_port_write(p, "first", 5, &k->from);
    re_rc = dg_port_write_segments(p, re_data, RE_LEN, RE_SEG, &k->from);
    re_marker_rc = dg_port_write(p, "", 0, &k->from);
}

static void check_reentrant(const char *ip, bool batched)
{
    dg_reactor *r = t_reactor(false);
    t_rec server, client;
    t_rec_init(&server, "Server");
    server.on_datagram = answer_in_callback;
    dg_port *sp = t_listen(r, &server, ip);
    dg_port *cp = receiver(r, &client, ip, 0);
    if (batched)
        assert_int_equal(dg_port_set_write_batching(sp, true), 0);
    re_batched = batched;
    re_data = make_bulk(RE_LEN, RE_SEG);
    re_rc = re_marker_rc = re_first_rc = -1;
    unsigned long long backlog = t_backlog_drops();
    dg_addr to = t_host(sp);
    assert_int_equal(dg_port_write(cp, "go", 2, &to), 2);
    T_RUN_UNTIL(r, re_rc != -1);
    assert_int_equal(re_rc, count_of(RE_LEN, RE_SEG));
    assert_int_equal(re_marker_rc, 0);
    int first = 0;
    if (batched) {
        /* What was written before the bulk send arrives before it. */
        assert_int_equal(re_first_rc, 5);
        T_RUN_UNTIL(r, client.npackets > 0);
        assert_int_equal(client.packets[0].len, 5);
        assert_memory_equal(client.packets[0].data, "first", 5);
        first = 1;
    }
    expect_bulk(r, &client, cp, first, re_data, RE_LEN, RE_SEG, &to, backlog);
    dg_port_stats s = t_stats(sp);
    assert_int_equal(s.tx_datagrams, count_of(RE_LEN, RE_SEG) + 1 + batched);
    assert_int_equal(s.tx_errors, 0);
    free(re_data);
    dg_reactor_free(r);
    t_rec_free(&server);
    t_rec_free(&client);
}

static void test_reentrant(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++)
        check_reentrant(ips[i], false);
}

static void test_reentrant_batched(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++)
        check_reentrant(ips[i], true);
}

/* ---- the kernel refuses GSO ---------------------------------------------- */

static int count_log(const char *needle)
{
    int n = 0;
    for (int i = 0; i < t_nlog; i++)
        n += strstr(t_log[i], needle) != NULL;
    return n;
}

/* EIO (the device cannot checksum segments): the same call's datagrams all
 * arrive by sendmmsg, the port stops trying GSO, says so once, and the user
 * may turn it on again. */
static void check_refused(const char *ip)
{
    dg_reactor *r = t_reactor(false);
    t_rec rec, snd;
    dg_port *rp = receiver(r, &rec, ip, 0);
    t_rec_init(&snd, "Sender");
    dg_port *s = t_listen(r, &snd, ip);
    if (dg_port_get_gso(s) != 1) {
        printf("# no UDP GSO in this kernel: nothing to refuse\n");
        dg_reactor_free(r);
        t_rec_free(&rec);
        skip();
    }
    dg_addr to = t_host(rp);
    gso_fail_err = EIO;
    gso_fail_after = 1; /* the first GSO send goes, the second is refused */
    gso_attempts = 0;
    t_log_clear();
    bulk_once(r, s, &rec, rp, &to, 150 * 1200 + 99, 1200);
    assert_int_equal(gso_attempts, 2);
    assert_int_equal(dg_port_get_gso(s), 0);
    char line[128];
    snprintf(line, sizeof line, "(UDP Port %d) GSO refused by the device; using sendmmsg",
             t_port_number(s));
    assert_true(t_log_find(line) >= 0);
    assert_int_equal(t_stats(s).tx_gso_sends, 1);

    /* Not tried again: nothing more to refuse, nothing more logged. */
    bulk_once(r, s, &rec, rp, &to, 100 * 1200, 1200);
    assert_int_equal(gso_attempts, 2);
    assert_int_equal(count_log("GSO refused"), 1);
    assert_int_equal(t_stats(s).tx_gso_sends, 1);
    assert_int_equal(t_stats(s).tx_errors, 0);

    /* The user's call: GSO again (refused no more). */
    gso_fail_err = 0;
    assert_int_equal(dg_port_set_gso(s, true), 0);
    bulk_once(r, s, &rec, rp, &to, 100 * 1200, 1200);
    assert_true(t_stats(s).tx_gso_sends > 1);
    dg_reactor_free(r);
    t_rec_free(&rec);
    t_rec_free(&snd);
}

static void test_refused_by_device(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++)
        check_refused(ips[i]);
    gso_fail_err = 0;
}

/* The kernel's room runs out after the first GSO send: the call returns how
 * many went (the first ones, delivered), counts one error, and the rest can
 * be sent again. */
static void test_partial(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec, snd;
    dg_port *rp = receiver(r, &rec, "127.0.0.1", 0);
    t_rec_init(&snd, "Sender");
    dg_port *s = t_listen(r, &snd, "127.0.0.1");
    if (dg_port_get_gso(s) != 1) {
        dg_reactor_free(r);
        t_rec_free(&rec);
        skip();
    }
    dg_addr to = t_host(rp);
    size_t len = 150 * 1200, seg = 1200;
    unsigned char *data = make_bulk(len, seg);
    gso_fail_err = EAGAIN;
    gso_fail_after = 1;
    gso_attempts = 0;
    int sent = dg_port_write_segments(s, data, len, seg, &to);
    gso_fail_err = 0;
    assert_true(sent > 0 && sent < 150);
    dg_port_stats st = t_stats(s);
    assert_int_equal(st.tx_datagrams, sent);
    assert_int_equal(st.tx_bytes, (size_t)sent * seg);
    assert_int_equal(st.tx_errors, 1);
    assert_int_equal(st.tx_err_again, 1);
    assert_int_equal(dg_port_get_gso(s), 1); /* no room is not a refusal */
    /* The rest, sent again: the receiver has all 150, in order. */
    size_t off = (size_t)sent * seg;
    assert_int_equal(dg_port_write_segments(s, data + off, len - off, seg, &to), 150 - sent);
    assert_int_equal(dg_port_write(s, "", 0, &to), 0);
    unsigned long long backlog = t_backlog_drops();
    dg_addr from = t_host(s);
    expect_bulk(r, &rec, rp, 0, data, len, seg, &from, backlog);
    free(data);
    dg_reactor_free(r);
    t_rec_free(&rec);
    t_rec_free(&snd);
}

/* EINVAL from a GSO send (a kernel that will not segment for this socket,
 * e.g. SO_NO_CHECK before Linux 6.11): this call's datagrams go by sendmmsg,
 * and the port keeps GSO for the next call, which tries it again. */
static void test_invalid_for_gso(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        dg_reactor *r = t_reactor(false);
        t_rec rec, snd;
        dg_port *rp = receiver(r, &rec, ips[i], 0);
        t_rec_init(&snd, "Sender");
        dg_port *s = t_listen(r, &snd, ips[i]);
        if (dg_port_get_gso(s) != 1) {
            dg_reactor_free(r);
            t_rec_free(&rec);
            skip();
        }
        dg_addr to = t_host(rp);
        gso_fail_err = EINVAL;
        gso_fail_after = 0;
        gso_attempts = 0;
        t_log_clear();
        bulk_once_as(r, s, &rec, rp, &to, 100 * 1200 + 5, 1200, 0);
        assert_int_equal(gso_attempts, 1);
        assert_int_equal(dg_port_get_gso(s), 1);
        assert_int_equal(count_log("GSO"), 0);
        bulk_once_as(r, s, &rec, rp, &to, 100 * 1200 + 5, 1200, 0);
        assert_int_equal(gso_attempts, 2);
        gso_fail_err = 0;
        dg_reactor_free(r);
        t_rec_free(&rec);
        t_rec_free(&snd);
    }
}

/* A segment longer than the path's MTU: the kernel will not make GSO
 * segments the device would have to fragment (EMSGSIZE), but each datagram
 * alone is fragmented and sent, as without GSO; so the call must deliver
 * them either way. Loopback with a 1500-byte MTU, in a namespace of the
 * test's own (root only). */
static void test_segment_over_mtu(void **state)
{
    (void)state;
    int saved = t_netns_enter();
    if (saved < 0) {
        printf("# not permitted to make a network namespace: skipped\n");
        skip();
    }
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    ifr.ifr_mtu = 1500;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(ioctl(fd, SIOCSIFMTU, &ifr), 0);
    close(fd);
    for (size_t i = 0; i < 2; i++) {
        dg_reactor *r = t_reactor(false);
        t_rec rec, snd;
        dg_port *rp = receiver(r, &rec, ips[i], 0);
        t_rec_init(&snd, "Sender");
        dg_port *s = t_listen(r, &snd, ips[i]);
        dg_addr to = t_host(rp);
        bulk_once(r, s, &rec, rp, &to, 20 * 2000 + 3, 2000);
        assert_int_equal(dg_port_set_gso(s, false), 0);
        bulk_once(r, s, &rec, rp, &to, 20 * 2000 + 3, 2000);
        dg_reactor_free(r);
        t_rec_free(&rec);
        t_rec_free(&snd);
    }
    t_netns_leave(saved);
}

/* A failed assertion leaves no injection behind for the next test. */
static int no_injection(void **state)
{
    (void)state;
    gso_fail_err = 0;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_bulk_gso, no_injection),
        cmocka_unit_test_setup(test_bulk_sendmmsg, no_injection),
        cmocka_unit_test_setup(test_connected, no_injection),
        cmocka_unit_test_setup(test_sizes, no_injection),
        cmocka_unit_test_setup(test_errors, no_injection),
        cmocka_unit_test_setup(test_reentrant, no_injection),
        cmocka_unit_test_setup(test_reentrant_batched, no_injection),
        cmocka_unit_test_setup(test_refused_by_device, no_injection),
        cmocka_unit_test_setup(test_partial, no_injection),
        cmocka_unit_test_setup(test_invalid_for_gso, no_injection),
        cmocka_unit_test_setup(test_segment_over_mtu, no_injection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
