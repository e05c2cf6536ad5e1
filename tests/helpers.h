/* Test helpers: a reactor with captured log lines, a recording protocol,
 * raw peer sockets on loopback, and waiting on events with a deadline.
 *
 * Tests synchronise on events: T_RUN_UNTIL turns the reactor until a
 * condition holds, and fails the test if it does not within T_DEADLINE
 * seconds. Nothing sleeps. */
#ifndef DG_TEST_HELPERS_H
#define DG_TEST_HELPERS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "dgram.h"

/* Seconds any single wait may take before the test fails. Generous, since
 * the suite also runs under valgrind. */
#define T_DEADLINE 20.0

double t_now(void);

/* ---- reactor with log capture ---------------------------------------- */

#define T_LOG_MAX 64
extern char t_log[T_LOG_MAX][256];
extern int t_nlog;

/* A reactor on the backend DGRAM_BACKEND names, logging into t_log.
 * fake_clock as dg_reactor_options. Fails the test on error. */
dg_reactor *t_reactor(bool fake_clock);
void t_log_clear(void);
/* Index of the first captured line equal to line, or -1. */
int t_log_find(const char *line);

/* Turn the reactor until expr holds; fail the test after T_DEADLINE. */
#define T_RUN_UNTIL(r, expr)                                                   \
    do {                                                                       \
        double t_start_ = t_now();                                             \
        while (!(expr)) {                                                      \
            if (t_now() - t_start_ > T_DEADLINE)                               \
                fail_msg("timed out waiting for: %s", #expr);                  \
            assert_true(dg_reactor_run_once((r), 10) >= 0);                    \
        }                                                                      \
    } while (0)

/* Turn the reactor n times without waiting for anything (timeout 0): for
 * "nothing more happens" checks after a peer's datagram has been seen. */
void t_turn(dg_reactor *r, int n);

/* ---- the recording protocol ------------------------------------------ */

#define T_MAX_PACKETS 512

typedef struct t_packet {
    unsigned char *data; /* a copy, freed by t_rec_free */
    size_t len;
    dg_addr from;
    unsigned flags;
} t_packet;

typedef struct t_rec t_rec;
/* Optional hooks, for tests of what a callback may do. */
typedef void (*t_hook)(t_rec *rec);

struct t_rec {
    dg_protocol proto;
    dg_protocol_ops ops;
    int started, stopped, refused, failed;
    int failed_err;
    bool transport_in_start;  /* transport was set inside start_protocol */
    bool transport_in_stop;   /* transport was set inside stop_protocol */
    t_packet packets[T_MAX_PACKETS];
    int npackets;
    int received_total;       /* including those past T_MAX_PACKETS */
    t_hook on_start, on_stop, on_datagram, on_refused;
    void *user;
};

/* A protocol named name whose callbacks record into rec. */
void t_rec_init(t_rec *rec, const char *name);
void t_rec_free(t_rec *rec);

/* ---- ports and peers --------------------------------------------------- */

/* Listen on ip ("127.0.0.1", "::1", "" ...) with an ephemeral port, and
 * max_packet_size (0: the default). */
dg_port *t_listen(dg_reactor *r, t_rec *rec, const char *ip);
dg_port *t_listen_sized(dg_reactor *r, t_rec *rec, const char *ip, size_t max_packet_size);
/* A port's bound address and its counters; fail the test on error. */
dg_addr t_host(dg_port *p);
dg_port_stats t_stats(dg_port *p);
/* The port number a port is bound to. */
int t_port_number(dg_port *p);
dg_addr t_addr(const char *ip, int port);

/* A raw, non-blocking UDP socket bound to ip with an ephemeral port. */
int t_peer(const char *ip, int *port_out);
void t_peer_send(int fd, const void *data, size_t len, const char *ip, int port);
/* Wait (poll, up to T_DEADLINE) for one datagram; returns its length and
 * fails the test on timeout. from_port may be NULL. */
size_t t_peer_recv(int fd, void *buf, size_t cap, int *from_port);
/* True if a datagram is already queued on fd (no waiting). */
bool t_peer_pending(int fd);

/* Datagrams the kernel dropped before any socket (the per-CPU backlog was
 * full): the second column of /proc/net/softnet_stat, summed over CPUs. No
 * socket can count these, so tests that account for every datagram check
 * that they did not move. */
unsigned long long t_backlog_drops(void);

/* Count of open descriptors in this process, to check that nothing leaks. */
int t_open_fds(void);

/* ---- receive path, ICMP --------------------------------------------------- */

/* A port number on ip that nobody listens on (bound once, then closed), for
 * ICMP port-unreachable tests. */
int t_dead_port(const char *ip);
/* Bind a fresh raw peer socket to ip:port (a port t_dead_port() gave). */
int t_peer_at(const char *ip, int port);
/* Wait (poll, up to T_DEADLINE) until fd reports any of events; returns the
 * revents seen, and fails the test on timeout. */
short t_wait_poll(int fd, short events);
/* What fd reports now (POLLIN, POLLERR ...), without waiting. */
short t_poll_now(int fd);
/* Return once what peer_fd sent before is queued at its destinations: send
 * a marker from peer_fd to a fresh socket on ip and wait for it (loopback
 * delivers in order). */
void t_settle(int peer_fd, const char *ip);
/* Queue n datagrams "0", "1", ... on port p from a new peer on ip, all
 * before the reactor turns (so one read batch holds them); returns the
 * peer, for the test to close. */
int t_queue_n(const char *ip, dg_port *p, int n);
/* Make fd's receive buffer at least bytes (SO_RCVBUFFORCE when allowed). */
void t_rcvbuf(int fd, int bytes);

/* ---- send path, private network namespaces ----------------------------- */

/* Wait (poll, up to T_DEADLINE) for one datagram; its sender in *from. */
size_t t_peer_recv_from(int fd, void *buf, size_t cap, dg_addr *from);
/* Run a program (argv[0] looked up in PATH) and wait for it; its exit
 * status, or -1 if it could not run or was killed. */
int t_run(const char *const argv[]);
/* Move this thread into a new network namespace with lo up, so a test can
 * shape its own loopback (tc) without touching the host's. Sockets made
 * inside keep the namespace alive after t_netns_leave(). Returns the
 * descriptor of the previous namespace, or -1 when not permitted (not
 * root): skip the test then. */
int t_netns_enter(void);
void t_netns_leave(int saved);

/* ---- names and worker threads (test_resolve, test_call_in_thread) ----- */

#include <pthread.h>

/* A counter that threads raise and wait on: work on a worker thread waits
 * for the test's go-ahead, the test waits for the work to have started. */
typedef struct t_gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int count;
} t_gate;
void t_gate_init(t_gate *g);
void t_gate_destroy(t_gate *g);
void t_gate_add(t_gate *g, int n);
int t_gate_count(t_gate *g);
/* Wait until count >= n; false after T_DEADLINE. Any thread (no cmocka). */
bool t_gate_wait(t_gate *g, int n);

/* Threads in this process (/proc/self/task). */
int t_threads(void);

/* A protocol that sends each datagram back to its sender. */
typedef struct t_echo {
    dg_protocol proto;
    dg_protocol_ops ops;
    int echoed;
} t_echo;
dg_port *t_echo_listen(dg_reactor *r, t_echo *e, const char *ip);

/* dg_connect_udp(host, port) with o; checks start_protocol waits for the
 * reactor (for a name), waits for it, and checks a round trip through the
 * echo port on the peer. Returns the port; its peer in *peer. */
dg_port *t_connect_echo(dg_reactor *r, t_rec *rec, const char *host, int port,
                        const dg_connect_options *o, dg_addr *peer);
/* dg_connect_udp(host, port) with o, which must fail asynchronously: waits
 * for connection_failed and returns its err; the protocol never started. */
int t_connect_fail(dg_reactor *r, t_rec *rec, const char *host, int port,
                   const dg_connect_options *o);

#endif
