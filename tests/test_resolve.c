/* Names, issue 3: dg_lookup_start/cancel and dg_connect_udp to a name, on the
 * host's own resolver. Only names /etc/hosts answers ("localhost") and IP
 * literals are looked up here, so no query leaves the machine; DNS servers,
 * IPv6-only names and hung resolvers are in ns_resolve.c, inside a network
 * namespace (tests/scripts/resolve_netns.sh). A worker held by a blocking
 * job stands in for a slow resolver where only the queue matters. */
#include "helpers.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct answer {
    int calls, status;
    size_t n;
    dg_addr addrs[8];
    bool on_reactor_thread;
    char error[256];     /* dg_reactor_last_error() during fn */
    dg_lookup *cancel;   /* cancelled from inside fn */
    t_gate *release;     /* raised from inside fn */
} answer;

static pthread_t main_thread;

static void on_answer(dg_reactor *r, int status, const dg_addr *addrs, size_t n, void *arg)
{
    answer *a = arg;
    a->calls++;
    a->status = status;
    a->n = n;
    for (size_t i = 0; i < n && i < 8; i++)
        a->addrs[i] = addrs[i];
    a->on_reactor_thread = pthread_equal(pthread_self(), main_thread);
    snprintf(a->error, sizeof a->error, "%s", dg_reactor_last_error(r));
    if (a->cancel)
        dg_lookup_cancel(a->cancel);
    if (a->release)
        t_gate_add(a->release, 1);
}

static bool has_addr(const answer *a, const char *ip)
{
    dg_addr want = t_addr(ip, 0);
    for (size_t i = 0; i < a->n; i++)
        if (dg_addr_equal(&a->addrs[i], &want))
            return true;
    return false;
}

/* A worker held until the gate opens, so lookups queue behind it. */
static void hold(void *arg)
{
    t_gate_wait(arg, 1);
}

static void held_done(dg_reactor *r, int status, void *arg)
{
    (void)r;
    (void)status;
    (void)arg;
}

static dg_reactor *one_thread_reactor(void)
{
    dg_reactor_options o;
    dg_reactor_options_init(&o);
    o.threads = 1;
    dg_reactor *r = NULL;
    assert_int_equal(dg_reactor_new(&o, &r), 0);
    return r;
}

/* "localhost" from /etc/hosts: answered from the loop, with 127.0.0.1 and
 * port 0; family 4 gives IPv4 addresses only. */
static void test_lookup_localhost(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    answer any = {0}, v4 = {0};
    dg_lookup *q = NULL;
    assert_int_equal(dg_lookup_start(r, "localhost", AF_UNSPEC, 5, on_answer, &any, &q), 0);
    assert_non_null(q);
    assert_int_equal(dg_lookup_start(r, "localhost", AF_INET, 0, on_answer, &v4, NULL), 0);
    assert_int_equal(any.calls + v4.calls, 0);
    T_RUN_UNTIL(r, any.calls && v4.calls);
    assert_int_equal(any.status, 0);
    assert_true(any.n >= 1);
    assert_true(has_addr(&any, "127.0.0.1"));
    for (size_t i = 0; i < any.n; i++)
        assert_int_equal(dg_addr_port(&any.addrs[i]), 0);
    assert_true(any.on_reactor_thread);
    assert_int_equal(v4.status, 0);
    for (size_t i = 0; i < v4.n; i++)
        assert_int_equal(dg_addr_family(&v4.addrs[i]), AF_INET);
    t_turn(r, 3);
    assert_int_equal(any.calls, 1);
    assert_int_equal(v4.calls, 1);
    dg_reactor_free(r);
}

/* A literal needs no resolver but is still answered from the loop; one of
 * the other family than asked is "not found", naming the host. */
static void test_lookup_literal(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    answer v4 = {0}, v6 = {0}, wrong = {0};
    assert_int_equal(dg_lookup_start(r, "127.0.0.1", AF_INET, 1, on_answer, &v4, NULL), 0);
    assert_int_equal(dg_lookup_start(r, "::1", AF_UNSPEC, 1, on_answer, &v6, NULL), 0);
    assert_int_equal(dg_lookup_start(r, "::1", AF_INET, 1, on_answer, &wrong, NULL), 0);
    assert_int_equal(v4.calls + v6.calls + wrong.calls, 0);
    T_RUN_UNTIL(r, v4.calls && v6.calls && wrong.calls);
    assert_int_equal(v4.status, 0);
    assert_int_equal(v4.n, 1);
    assert_true(has_addr(&v4, "127.0.0.1"));
    assert_int_equal(v6.status, 0);
    assert_int_equal(v6.n, 1);
    assert_true(has_addr(&v6, "::1"));
    assert_int_equal(wrong.status, DG_ERR_NAME_NOT_FOUND);
    assert_int_equal(wrong.n, 0);
    assert_string_equal(wrong.error, "DNS lookup failed: ::1: name not found.");
    dg_reactor_free(r);
}

static void test_lookup_bad_arguments(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    answer a = {0};
    dg_lookup *q = (dg_lookup *)&a;
    assert_int_equal(dg_lookup_start(NULL, "localhost", 0, 1, on_answer, &a, &q), -EINVAL);
    assert_null(q);
    assert_int_equal(dg_lookup_start(r, NULL, 0, 1, on_answer, &a, &q), -EINVAL);
    assert_int_equal(dg_lookup_start(r, "", 0, 1, on_answer, &a, &q), -EINVAL);
    assert_int_equal(dg_lookup_start(r, "localhost", 0, 1, NULL, &a, &q), -EINVAL);
    assert_int_equal(dg_lookup_start(r, "localhost", 0, -1, on_answer, &a, &q), -EINVAL);
    assert_int_equal(dg_lookup_start(r, "localhost", 0, NAN, on_answer, &a, &q), -EINVAL);
    assert_int_equal(dg_lookup_start(r, "localhost", 0, INFINITY, on_answer, &a, &q), -EINVAL);
    assert_int_equal(dg_lookup_start(r, "localhost", AF_UNIX, 1, on_answer, &a, &q), -EAFNOSUPPORT);
    assert_non_null(strstr(dg_reactor_last_error(r), "localhost"));
    assert_null(q);
    dg_lookup_cancel(NULL);
    t_turn(r, 3);
    assert_int_equal(a.calls, 0);
    dg_reactor_free(r);
}

/* Cancelled lookups never call back: a literal cancelled before the loop
 * ran, a name queued behind a held worker, one cancelled from another
 * lookup's fn, and a lookup cancelling itself inside its own fn. */
static void test_lookup_cancel(void **state)
{
    (void)state;
    dg_reactor *r = one_thread_reactor();
    t_gate gate;
    t_gate_init(&gate);
    assert_int_equal(dg_reactor_call_in_thread(r, hold, held_done, &gate), 0);
    answer lit = {0}, queued = {0}, victim = {0}, killer = {0}, self = {0};
    dg_lookup *q_lit, *q_queued, *q_victim, *q_self;
    assert_int_equal(dg_lookup_start(r, "127.0.0.1", 0, 0, on_answer, &lit, &q_lit), 0);
    assert_int_equal(dg_lookup_start(r, "localhost", 0, 0, on_answer, &queued, &q_queued), 0);
    assert_int_equal(dg_lookup_start(r, "localhost", 0, 5, on_answer, &victim, &q_victim), 0);
    killer.cancel = q_victim;
    assert_int_equal(dg_lookup_start(r, "::1", 0, 0, on_answer, &killer, NULL), 0);
    assert_int_equal(dg_lookup_start(r, "127.0.0.1", 0, 0, on_answer, &self, &q_self), 0);
    self.cancel = q_self;
    dg_lookup_cancel(q_lit);
    dg_lookup_cancel(q_queued);
    T_RUN_UNTIL(r, killer.calls && self.calls);
    assert_int_equal(self.status, 0);
    t_gate_add(&gate, 1);
    /* An uncancelled lookup queued last: once it is answered, the worker
     * has passed the cancelled ones. */
    answer last = {0};
    assert_int_equal(dg_lookup_start(r, "localhost", 0, 0, on_answer, &last, NULL), 0);
    T_RUN_UNTIL(r, last.calls == 1);
    t_turn(r, 3);
    assert_int_equal(lit.calls, 0);
    assert_int_equal(queued.calls, 0);
    assert_int_equal(victim.calls, 0); /* its timer was cancelled with it */
    assert_int_equal(killer.calls, 1);
    assert_int_equal(self.calls, 1);
    dg_reactor_free(r);
    t_gate_destroy(&gate);
}

/* Our timeout abandons a lookup the resolver has not answered (here: stuck
 * behind a held worker): fn gets -ETIMEDOUT once, naming the host, and the
 * job's later report calls nothing. */
static void test_lookup_timeout(void **state)
{
    (void)state;
    dg_reactor *r = one_thread_reactor();
    t_gate gate;
    t_gate_init(&gate);
    assert_int_equal(dg_reactor_call_in_thread(r, hold, held_done, &gate), 0);
    answer a = {0};
    assert_int_equal(dg_lookup_start(r, "localhost", 0, 0.05, on_answer, &a, NULL), 0);
    T_RUN_UNTIL(r, a.calls);
    assert_int_equal(a.status, -ETIMEDOUT);
    assert_int_equal(a.n, 0);
    assert_string_equal(a.error, "DNS lookup failed: localhost: timed out after 0.05 s.");
    t_gate_add(&gate, 1);
    answer last = {0};
    assert_int_equal(dg_lookup_start(r, "localhost", 0, 0, on_answer, &last, NULL), 0);
    T_RUN_UNTIL(r, last.calls == 1);
    assert_int_equal(last.status, 0);
    t_turn(r, 3);
    assert_int_equal(a.calls, 1);
    dg_reactor_free(r);
    t_gate_destroy(&gate);
}

/* Freeing the reactor ends pending lookups with -ECANCELED: one queued
 * behind a held worker (its fn lets the worker go), and a literal not yet
 * delivered. */
static void test_lookup_pending_at_free(void **state)
{
    (void)state;
    dg_reactor *r = one_thread_reactor();
    t_gate gate;
    t_gate_init(&gate);
    assert_int_equal(dg_reactor_call_in_thread(r, hold, held_done, &gate), 0);
    answer queued = {.release = &gate}, lit = {0};
    assert_int_equal(dg_lookup_start(r, "localhost", 0, 5, on_answer, &queued, NULL), 0);
    assert_int_equal(dg_lookup_start(r, "127.0.0.1", 0, 5, on_answer, &lit, NULL), 0);
    dg_reactor_free(r);
    assert_int_equal(queued.calls, 1);
    assert_int_equal(queued.status, -ECANCELED);
    assert_int_equal(lit.calls, 1);
    assert_int_equal(lit.status, -ECANCELED);
    t_gate_destroy(&gate);
}

/* dg_connect_udp to "localhost": start_protocol only once resolved, then a
 * connected exchange with an echo port; with family 4 and with a local
 * interface and port. */
static void test_connect_localhost_echo(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_echo echo;
    dg_port *ep = t_echo_listen(r, &echo, "127.0.0.1");
    int port = t_port_number(ep);
    t_rec any, v4, local;
    t_rec_init(&any, "Client");
    t_rec_init(&v4, "Client4");
    t_rec_init(&local, "Local");
    dg_addr peer;
    t_connect_echo(r, &any, "localhost", port, NULL, &peer);
    dg_addr want = t_addr("127.0.0.1", port);
    assert_true(dg_addr_equal(&peer, &want));

    dg_connect_options o;
    dg_connect_options_init(&o);
    o.family = AF_INET;
    t_connect_echo(r, &v4, "localhost", port, &o, &peer);
    assert_true(dg_addr_equal(&peer, &want));

    int local_port;
    close(t_peer("127.0.0.1", &local_port)); /* a free port number */
    dg_connect_options_init(&o);
    o.interface = "127.0.0.1";
    o.local_port = local_port;
    dg_port *p = t_connect_echo(r, &local, "localhost", port, &o, &peer);
    dg_addr host;
    assert_int_equal(dg_port_get_host(p, &host), 0);
    dg_addr want_host = t_addr("127.0.0.1", local_port);
    assert_true(dg_addr_equal(&host, &want_host));
    assert_int_equal(echo.echoed, 3);
    dg_reactor_free(r);
    assert_int_equal(any.stopped + v4.stopped + local.stopped, 3);
    t_rec_free(&any);
    t_rec_free(&v4);
    t_rec_free(&local);
}

/* A literal connects inside the call, as dg_listen_udp starts. */
static void test_connect_literal(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_echo echo;
    int port = t_port_number(t_echo_listen(r, &echo, "::1"));
    t_rec rec;
    t_rec_init(&rec, "Client");
    dg_addr peer;
    dg_port *p = t_connect_echo(r, &rec, "::1", port, NULL, &peer);
    dg_addr want = t_addr("::1", port);
    assert_true(dg_addr_equal(&peer, &want));
    assert_int_equal(dg_port_close(p), 0);
    assert_int_equal(rec.stopped, 1);
    dg_reactor_free(r);
    t_rec_free(&rec);
}

static int port_done;

static void on_port_done(dg_port *p, void *arg)
{
    (void)p;
    (void)arg;
    port_done++;
}

/* Stopping or closing while the name is being looked up cancels the
 * lookup: no protocol callback at all, the done callback runs, no
 * descriptor is left, and the protocol is free for another port. */
static void test_connect_stopped_during_lookup(void **state)
{
    (void)state;
    int fds = t_open_fds();
    dg_reactor *r = one_thread_reactor();
    int reactor_fds = t_open_fds();
    t_gate gate;
    t_gate_init(&gate);
    assert_int_equal(dg_reactor_call_in_thread(r, hold, held_done, &gate), 0);
    t_rec stopped, closed;
    t_rec_init(&stopped, "Stopped");
    t_rec_init(&closed, "Closed");
    dg_port *ps, *pc, *other;
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &stopped.proto, NULL, &ps), 0);
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &closed.proto, NULL, &pc), 0);
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &stopped.proto, NULL, &other), -EBUSY);
    port_done = 0;
    assert_int_equal(dg_port_stop_listening(ps, on_port_done, NULL), 0);
    assert_int_equal(dg_port_close(pc), 0);
    T_RUN_UNTIL(r, port_done == 1);
    t_gate_add(&gate, 1);
    /* Queued after the cancelled ones: once it is answered, the worker has
     * passed them and their reports have come back. */
    answer last = {0};
    assert_int_equal(dg_lookup_start(r, "localhost", 0, 0, on_answer, &last, NULL), 0);
    T_RUN_UNTIL(r, last.calls == 1);
    t_turn(r, 3);
    assert_int_equal(stopped.started + stopped.stopped + stopped.failed, 0);
    assert_int_equal(closed.started + closed.stopped + closed.failed, 0);
    assert_int_equal(t_open_fds(), reactor_fds);

    t_echo echo;
    int port = t_port_number(t_echo_listen(r, &echo, "127.0.0.1"));
    dg_addr peer;
    t_connect_echo(r, &stopped, "localhost", port, NULL, &peer);
    dg_reactor_free(r);
    assert_int_equal(t_open_fds(), fds);
    t_gate_destroy(&gate);
    t_rec_free(&stopped);
}

/* Freeing the reactor while a name is being looked up: no protocol
 * callback, nothing left open. (The queued user lookup's -ECANCELED lets
 * the held worker go.) */
static void test_connect_freed_during_lookup(void **state)
{
    (void)state;
    int fds = t_open_fds();
    dg_reactor *r = one_thread_reactor();
    t_gate gate;
    t_gate_init(&gate);
    assert_int_equal(dg_reactor_call_in_thread(r, hold, held_done, &gate), 0);
    t_rec rec;
    t_rec_init(&rec, "Freed");
    dg_port *p;
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &rec.proto, NULL, &p), 0);
    answer releaser = {.release = &gate};
    assert_int_equal(dg_lookup_start(r, "localhost", 0, 0, on_answer, &releaser, NULL), 0);
    dg_reactor_free(r);
    assert_int_equal(releaser.status, -ECANCELED);
    assert_int_equal(rec.started + rec.stopped + rec.failed, 0);
    assert_int_equal(t_open_fds(), fds);
    t_gate_destroy(&gate);
}

/* resolve_timeout: connection_failed(-ETIMEDOUT) naming the host, the port
 * closed first (so the protocol may connect again from the callback), and
 * nothing left open. */
static dg_reactor *retry_reactor;
static int retry_rc;
static char fail_text[256];
static void retry_on_fail(dg_protocol *self, int err)
{
    t_rec *rec = DG_CONTAINER_OF(self, t_rec, proto);
    rec->failed++;
    rec->failed_err = err;
    dg_port *again = NULL;
    snprintf(fail_text, sizeof fail_text, "%s", dg_reactor_last_error(retry_reactor));
    assert_null(self->transport);
    retry_rc = dg_connect_udp(retry_reactor, "127.0.0.1", 9, self, NULL, &again);
    if (again)
        dg_port_close(again);
}

static void test_connect_timeout(void **state)
{
    (void)state;
    int fds = t_open_fds();
    dg_reactor *r = one_thread_reactor();
    t_gate gate;
    t_gate_init(&gate);
    assert_int_equal(dg_reactor_call_in_thread(r, hold, held_done, &gate), 0);
    t_rec rec;
    t_rec_init(&rec, "Client");
    rec.ops.connection_failed = retry_on_fail;
    retry_reactor = r;
    dg_connect_options o;
    dg_connect_options_init(&o);
    o.resolve_timeout = 0.05;
    dg_port *p = NULL;
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &rec.proto, &o, &p), 0);
    T_RUN_UNTIL(r, rec.failed);
    assert_int_equal(rec.failed_err, -ETIMEDOUT);
    assert_string_equal(fail_text, "DNS lookup failed: localhost: timed out after 0.05 s.");
    assert_int_equal(retry_rc, 0);
    assert_int_equal(rec.started, 1); /* the retry, to a literal */
    assert_int_equal(rec.stopped, 1);
    t_gate_add(&gate, 1);
    dg_reactor_free(r);
    assert_int_equal(rec.failed, 1);
    assert_int_equal(t_open_fds(), fds);
    t_gate_destroy(&gate);
}

/* Resolved, but the socket cannot be set up (the local port is taken):
 * connection_failed with the errno, the message naming host and port. A
 * protocol that frees itself in the callback is fine. */
static void free_on_fail(dg_protocol *self, int err)
{
    t_rec *rec = DG_CONTAINER_OF(self, t_rec, proto);
    rec->failed_err = err;
    snprintf(fail_text, sizeof fail_text, "%s", dg_reactor_last_error(retry_reactor));
    free(rec);
}

static void test_connect_fails_after_lookup(void **state)
{
    (void)state;
    int fds = t_open_fds();
    dg_reactor *r = t_reactor(false);
    retry_reactor = r;
    int taken_port;
    int taken = t_peer("127.0.0.1", &taken_port);
    t_rec *rec = malloc(sizeof *rec);
    assert_non_null(rec);
    t_rec_init(rec, "Client");
    rec->ops.connection_failed = free_on_fail;
    dg_connect_options o;
    dg_connect_options_init(&o);
    o.family = AF_INET;
    o.local_port = taken_port;
    dg_port *p = NULL;
    fail_text[0] = 0;
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &rec->proto, &o, &p), 0);
    T_RUN_UNTIL(r, fail_text[0]);
    assert_string_equal(fail_text, "Couldn't connect to localhost:9: Address already in use.");
    close(taken);
    t_turn(r, 2);
    dg_reactor_free(r);
    assert_int_equal(t_open_fds(), fds);
}

static void test_connect_bad_arguments(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int fds = t_open_fds();
    t_rec rec;
    t_rec_init(&rec, "Client");
    dg_port *p = (dg_port *)&rec;
    dg_connect_options o;
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &rec.proto, NULL, NULL), -EINVAL);
    assert_int_equal(dg_connect_udp(r, NULL, 9, &rec.proto, NULL, &p), -EINVAL);
    assert_null(p);
    assert_int_equal(dg_connect_udp(r, "", 9, &rec.proto, NULL, &p), -EINVAL);
    assert_int_equal(dg_connect_udp(r, "localhost", -1, &rec.proto, NULL, &p), -EINVAL);
    assert_int_equal(dg_connect_udp(r, "localhost", 65536, &rec.proto, NULL, &p), -EINVAL);
    assert_int_equal(dg_connect_udp(r, "localhost", 9, NULL, NULL, &p), -EINVAL);
    dg_connect_options_init(&o);
    o.family = AF_UNIX;
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &rec.proto, &o, &p), -EAFNOSUPPORT);
    dg_connect_options_init(&o);
    o.interface = "localhost"; /* a name: only literals bind */
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &rec.proto, &o, &p), -EINVAL);
    dg_connect_options_init(&o);
    o.interface = "::1";
    o.family = AF_INET;
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &rec.proto, &o, &p), -EINVAL);
    dg_connect_options_init(&o);
    o.family = AF_INET;
    assert_int_equal(dg_connect_udp(r, "::1", 9, &rec.proto, &o, &p), -EAFNOSUPPORT);
    dg_connect_options_init(&o);
    o.resolve_timeout = -1;
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &rec.proto, &o, &p), -EINVAL);
    dg_connect_options_init(&o);
    o.local_port = 70000;
    assert_int_equal(dg_connect_udp(r, "localhost", 9, &rec.proto, &o, &p), -EINVAL);
    assert_non_null(strstr(dg_reactor_last_error(r), "localhost:9"));
    assert_null(p);
    t_turn(r, 3);
    assert_int_equal(rec.started + rec.failed + rec.stopped, 0);
    assert_int_equal(t_open_fds(), fds);
    dg_reactor_free(r);
}

/* 1000 lookups at once on the default pool: names, literals, and lookups
 * cancelled at once or from other lookups' callbacks. Each one not
 * cancelled calls back exactly once; the suite's ASan and valgrind runs
 * show nothing leaks. */
typedef struct batch_item {
    int calls, status;
    dg_lookup *q;
    struct batch_item *victim; /* cancelled from this one's fn, if still pending */
    bool cancelled;
} batch_item;

static void batch_answer(dg_reactor *r, int status, const dg_addr *addrs, size_t n, void *arg)
{
    (void)r;
    (void)addrs;
    (void)n;
    batch_item *b = arg;
    b->calls++;
    b->status = status;
    if (b->victim && !b->victim->calls && !b->victim->cancelled) {
        dg_lookup_cancel(b->victim->q);
        b->victim->cancelled = true;
    }
}

/* Lookups neither answered nor cancelled. */
static int batch_pending(const batch_item *b, int count)
{
    int n = 0;
    for (int i = 0; i < count; i++)
        n += !b[i].calls && !b[i].cancelled;
    return n;
}

static void test_lookup_batch(void **state)
{
    (void)state;
    enum { count = 1000 };
    dg_reactor *r = t_reactor(false);
    batch_item *b = calloc(count, sizeof *b);
    assert_non_null(b);
    static const char *const names[] = {"localhost", "127.0.0.1", "::1", "localhost"};
    double start = t_now();
    for (int i = 0; i < count; i++) {
        if (i % 5 == 4)
            b[i].victim = &b[i - 1]; /* b[i-1] may be answered first: then it is kept */
        assert_int_equal(dg_lookup_start(r, names[i % 4], i % 8 == 7 ? AF_INET : AF_UNSPEC, 10,
                                         batch_answer, &b[i], &b[i].q), 0);
        if (i % 5 == 1) {
            dg_lookup_cancel(b[i].q);
            b[i].cancelled = true;
        }
    }
    T_RUN_UNTIL(r, batch_pending(b, count) == 0);
    double end = t_now();
    int cancelled = 0;
    for (int i = 0; i < count; i++) {
        assert_int_equal(b[i].calls, b[i].cancelled ? 0 : 1);
        if (!b[i].cancelled)
            assert_int_equal(b[i].status, 0);
        cancelled += b[i].cancelled;
    }
    print_message("%d lookups (%d cancelled) in %.3f s: %.0f lookups/s\n", count, cancelled,
                  end - start, count / (end - start));
    t_turn(r, 3);
    dg_reactor_free(r);
    free(b);
}

int main(void)
{
    main_thread = pthread_self();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_localhost),
        cmocka_unit_test(test_lookup_literal),
        cmocka_unit_test(test_lookup_bad_arguments),
        cmocka_unit_test(test_lookup_cancel),
        cmocka_unit_test(test_lookup_timeout),
        cmocka_unit_test(test_lookup_pending_at_free),
        cmocka_unit_test(test_connect_localhost_echo),
        cmocka_unit_test(test_connect_literal),
        cmocka_unit_test(test_connect_stopped_during_lookup),
        cmocka_unit_test(test_connect_freed_during_lookup),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_connect_fails_after_lookup),
        cmocka_unit_test(test_connect_bad_arguments),
        cmocka_unit_test(test_lookup_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
