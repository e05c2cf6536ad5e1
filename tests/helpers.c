#include "helpers.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

char t_log[T_LOG_MAX][256];
int t_nlog;

double t_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void capture(dg_reactor *r, const char *line, void *arg)
{
    (void)r;
    (void)arg;
    if (t_nlog < T_LOG_MAX)
        snprintf(t_log[t_nlog++], sizeof t_log[0], "%s", line);
}

dg_reactor *t_reactor(bool fake_clock)
{
    dg_reactor_options o;
    dg_reactor_options_init(&o);
    o.fake_clock = fake_clock;
    o.log = capture;
    dg_reactor *r = NULL;
    assert_int_equal(dg_reactor_new(&o, &r), 0);
    assert_non_null(r);
    t_log_clear();
    return r;
}

void t_log_clear(void)
{
    t_nlog = 0;
}

int t_log_find(const char *line)
{
    for (int i = 0; i < t_nlog; i++)
        if (strcmp(t_log[i], line) == 0)
            return i;
    return -1;
}

void t_turn(dg_reactor *r, int n)
{
    for (int i = 0; i < n; i++)
        assert_true(dg_reactor_run_once(r, 0) >= 0);
}

/* ---- recording protocol ---------------------------------------------- */

static t_rec *rec_of(dg_protocol *p)
{
    return DG_CONTAINER_OF(p, t_rec, proto);
}

static void rec_start(dg_protocol *p)
{
    t_rec *rec = rec_of(p);
    rec->started++;
    rec->transport_in_start = p->transport != NULL;
    if (rec->on_start)
        rec->on_start(rec);
}

static void rec_stop(dg_protocol *p)
{
    t_rec *rec = rec_of(p);
    rec->stopped++;
    rec->transport_in_stop = p->transport != NULL;
    if (rec->on_stop)
        rec->on_stop(rec);
}

static void rec_datagram(dg_protocol *p, const void *data, size_t len, const dg_addr *from)
{
    t_rec *rec = rec_of(p);
    rec->received_total++;
    if (rec->npackets < T_MAX_PACKETS) {
        t_packet *k = &rec->packets[rec->npackets++];
        k->data = malloc(len ? len : 1);
        assert_non_null(k->data);
        memcpy(k->data, data, len);
        k->len = len;
        k->from = *from;
        k->flags = dg_port_datagram_flags(p->transport);
    }
    if (rec->on_datagram)
        rec->on_datagram(rec);
}

static void rec_refused(dg_protocol *p)
{
    t_rec *rec = rec_of(p);
    rec->refused++;
    if (rec->on_refused)
        rec->on_refused(rec);
}

static void rec_failed(dg_protocol *p, int err)
{
    t_rec *rec = rec_of(p);
    rec->failed++;
    rec->failed_err = err;
}

void t_rec_init(t_rec *rec, const char *name)
{
    memset(rec, 0, sizeof *rec);
    rec->ops = (dg_protocol_ops){.name = name, .start_protocol = rec_start,
                                 .stop_protocol = rec_stop, .datagram_received = rec_datagram,
                                 .connection_refused = rec_refused,
                                 .connection_failed = rec_failed};
    rec->proto.ops = &rec->ops;
}

void t_rec_free(t_rec *rec)
{
    for (int i = 0; i < rec->npackets; i++)
        free(rec->packets[i].data);
    rec->npackets = 0;
}

/* ---- ports and peers ---------------------------------------------------- */

dg_port *t_listen(dg_reactor *r, t_rec *rec, const char *ip)
{
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.interface = ip;
    dg_port *p = NULL;
    int rc = dg_listen_udp(r, 0, &rec->proto, &o, &p);
    if (rc < 0)
        fail_msg("listen on %s: %s (%s)", ip, dg_strerror(rc), dg_reactor_last_error(r));
    return p;
}

int t_port_number(dg_port *p)
{
    dg_addr a;
    assert_int_equal(dg_port_get_host(p, &a), 0);
    return dg_addr_port(&a);
}

dg_addr t_addr(const char *ip, int port)
{
    dg_addr a;
    assert_int_equal(dg_addr_parse(&a, ip, port), 0);
    return a;
}

int t_peer(const char *ip, int *port_out)
{
    dg_addr a = t_addr(ip, 0);
    int fd = socket(dg_addr_family(&a), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    socklen_t len;
    const struct sockaddr *sa = dg_addr_sockaddr(&a, &len);
    assert_int_equal(bind(fd, sa, len), 0);
    if (port_out) {
        dg_addr b;
        len = sizeof b;
        assert_int_equal(getsockname(fd, &b.u.sa, &len), 0);
        *port_out = dg_addr_port(&b);
    }
    return fd;
}

void t_peer_send(int fd, const void *data, size_t len, const char *ip, int port)
{
    dg_addr a = t_addr(ip, port);
    socklen_t alen;
    const struct sockaddr *sa = dg_addr_sockaddr(&a, &alen);
    assert_int_equal(sendto(fd, data, len, 0, sa, alen), (ssize_t)len);
}

size_t t_peer_recv(int fd, void *buf, size_t cap, int *from_port)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n = poll(&pfd, 1, (int)(T_DEADLINE * 1000));
    if (n != 1)
        fail_msg("peer: no datagram within %.0f s", T_DEADLINE);
    dg_addr from;
    socklen_t alen = sizeof from;
    ssize_t got = recvfrom(fd, buf, cap, 0, &from.u.sa, &alen);
    assert_true(got >= 0);
    if (from_port)
        *from_port = dg_addr_port(&from);
    return (size_t)got;
}

bool t_peer_pending(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 1;
}

int t_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}
