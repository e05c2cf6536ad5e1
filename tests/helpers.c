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
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

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

dg_port *t_listen_sized(dg_reactor *r, t_rec *rec, const char *ip, size_t max_packet_size)
{
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.interface = ip;
    o.max_packet_size = max_packet_size;
    dg_port *p = NULL;
    int rc = dg_listen_udp(r, 0, &rec->proto, &o, &p);
    if (rc < 0)
        fail_msg("listen on %s: %s (%s)", ip, dg_strerror(rc), dg_reactor_last_error(r));
    return p;
}

dg_port *t_listen(dg_reactor *r, t_rec *rec, const char *ip)
{
    return t_listen_sized(r, rec, ip, 0);
}

dg_addr t_host(dg_port *p)
{
    dg_addr a;
    assert_int_equal(dg_port_get_host(p, &a), 0);
    return a;
}

dg_port_stats t_stats(dg_port *p)
{
    dg_port_stats s;
    assert_int_equal(dg_port_get_stats(p, &s), 0);
    return s;
}

int t_port_number(dg_port *p)
{
    dg_addr a = t_host(p);
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

unsigned long long t_backlog_drops(void)
{
    FILE *f = fopen("/proc/net/softnet_stat", "r");
    unsigned long long sum = 0;
    unsigned processed, dropped;
    char rest[512];
    while (f && fscanf(f, "%x %x", &processed, &dropped) == 2 && fgets(rest, sizeof rest, f))
        sum += dropped;
    if (f)
        fclose(f);
    return sum;
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

/* ---- receive path, ICMP --------------------------------------------------- */

int t_dead_port(const char *ip)
{
    int port;
    close(t_peer(ip, &port));
    return port;
}

int t_peer_at(const char *ip, int port)
{
    dg_addr a = t_addr(ip, port);
    int fd = socket(dg_addr_family(&a), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    socklen_t len;
    const struct sockaddr *sa = dg_addr_sockaddr(&a, &len);
    if (bind(fd, sa, len) < 0)
        fail_msg("bind %s:%d: %s", ip, port, strerror(errno));
    return fd;
}

short t_wait_poll(int fd, short events)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int n = poll(&pfd, 1, (int)(T_DEADLINE * 1000));
    if (n != 1 || !(pfd.revents & events))
        fail_msg("fd %d: no poll event 0x%x within %.0f s", fd, (unsigned)events, T_DEADLINE);
    return pfd.revents;
}

void t_settle(int peer_fd, const char *ip)
{
    int port;
    int m = t_peer(ip, &port);
    t_peer_send(peer_fd, "m", 1, ip, port);
    char buf[4];
    assert_int_equal(t_peer_recv(m, buf, sizeof buf, NULL), 1);
    close(m);
}

short t_poll_now(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_true(poll(&pfd, 1, 0) >= 0);
    return pfd.revents;
}

void t_rcvbuf(int fd, int bytes)
{
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes), 0);
    int got = 0;
    socklen_t len = sizeof got;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len), 0);
    if (got < bytes)
        fail_msg("receive buffer %d < %d: raise net.core.rmem_max", got, bytes);
}

/* ---- send path, private network namespaces ------------------------------- */

size_t t_peer_recv_from(int fd, void *buf, size_t cap, dg_addr *from)
{
    t_wait_poll(fd, POLLIN);
    socklen_t alen = sizeof *from;
    memset(from, 0, sizeof *from);
    ssize_t got = recvfrom(fd, buf, cap, 0, &from->u.sa, &alen);
    assert_true(got >= 0);
    return (size_t)got;
}

int t_run(const char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) { /* keep the test's output to its own lines */
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int t_netns_enter(void)
{
    int saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved < 0)
        return -1;
    if (unshare(CLONE_NEWNET) < 0) {
        close(saved);
        return -1;
    }
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool up = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 &&
              (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
    if (s >= 0)
        close(s);
    if (!up) {
        t_netns_leave(saved);
        return -1;
    }
    return saved;
}

void t_netns_leave(int saved)
{
    assert_int_equal(setns(saved, CLONE_NEWNET), 0);
    close(saved);
}

/* ---- names and worker threads ------------------------------------------ */

void t_gate_init(t_gate *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->count = 0;
}

void t_gate_destroy(t_gate *g)
{
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
}

void t_gate_add(t_gate *g, int n)
{
    pthread_mutex_lock(&g->lock);
    g->count += n;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

int t_gate_count(t_gate *g)
{
    pthread_mutex_lock(&g->lock);
    int n = g->count;
    pthread_mutex_unlock(&g->lock);
    return n;
}

bool t_gate_wait(t_gate *g, int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)T_DEADLINE;
    pthread_mutex_lock(&g->lock);
    int rc = 0;
    while (g->count < n && rc == 0)
        rc = pthread_cond_timedwait(&g->cond, &g->lock, &until);
    bool ok = g->count >= n;
    pthread_mutex_unlock(&g->lock);
    return ok;
}

int t_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void echo_datagram(dg_protocol *p, const void *data, size_t len, const dg_addr *from)
{
    t_echo *e = DG_CONTAINER_OF(p, t_echo, proto);
    if (dg_port_write(p->transport, data, len, from) == (int)len)
        e->echoed++;
}

dg_port *t_echo_listen(dg_reactor *r, t_echo *e, const char *ip)
{
    memset(e, 0, sizeof *e);
    e->ops = (dg_protocol_ops){.name = "Echo", .datagram_received = echo_datagram};
    e->proto.ops = &e->ops;
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.interface = ip;
    dg_port *p = NULL;
    int rc = dg_listen_udp(r, 0, &e->proto, &o, &p);
    if (rc < 0)
        fail_msg("echo on %s: %s (%s)", ip, dg_strerror(rc), dg_reactor_last_error(r));
    return p;
}

dg_port *t_connect_echo(dg_reactor *r, t_rec *rec, const char *host, int port,
                        const dg_connect_options *o, dg_addr *peer)
{
    dg_port *p = NULL;
    int rc = dg_connect_udp(r, host, port, &rec->proto, o, &p);
    if (rc < 0)
        fail_msg("connect %s:%d: %s (%s)", host, port, dg_strerror(rc), dg_reactor_last_error(r));
    assert_non_null(p);
    dg_addr literal;
    if (dg_addr_parse(&literal, host, port) < 0)
        assert_int_equal(rec->started, 0); /* a name: only once resolved, from the loop */
    T_RUN_UNTIL(r, rec->started == 1 || rec->failed);
    if (rec->failed)
        fail_msg("connect %s:%d failed: %s", host, port, dg_reactor_last_error(r));
    assert_true(rec->transport_in_start);
    assert_ptr_equal(rec->proto.transport, p);
    assert_int_equal(dg_port_get_peer(p, peer), 0);
    assert_int_equal(dg_addr_port(peer), port);
    int before = rec->npackets;
    assert_int_equal(dg_port_write(p, "ping", 4, NULL), 4);
    T_RUN_UNTIL(r, rec->npackets > before);
    assert_int_equal(rec->packets[before].len, 4);
    assert_memory_equal(rec->packets[before].data, "ping", 4);
    assert_true(dg_addr_equal(&rec->packets[before].from, peer));
    return p;
}

int t_connect_fail(dg_reactor *r, t_rec *rec, const char *host, int port,
                   const dg_connect_options *o)
{
    dg_port *p = NULL;
    int rc = dg_connect_udp(r, host, port, &rec->proto, o, &p);
    if (rc < 0)
        fail_msg("connect %s:%d refused at once: %s (%s)", host, port, dg_strerror(rc),
                 dg_reactor_last_error(r));
    assert_non_null(p);
    assert_int_equal(rec->failed, 0); /* never inside the call */
    T_RUN_UNTIL(r, rec->failed || rec->started);
    assert_int_equal(rec->failed, 1);
    assert_int_equal(rec->started, 0);
    assert_int_equal(rec->stopped, 0);
    assert_null(rec->proto.transport);
    return rec->failed_err;
}

int t_queue_n(const char *ip, dg_port *p, int n)
{
    int peer = t_peer(ip, NULL);
    char msg[12];
    for (int i = 0; i < n; i++) {
        int len = snprintf(msg, sizeof msg, "%d", i);
        t_peer_send(peer, msg, (size_t)len, ip, t_port_number(p));
    }
    t_settle(peer, ip);
    return peer;
}
