/* Multicast calls by name (Twisted's joinGroup, leaveGroup and
 * setOutgoingInterface resolve theirs): dg_port_join_group_name and friends.
 *
 * The process moves into its own network and mount namespaces first, with an
 * /etc/hosts and a resolv.conf of its own bind-mounted in, so the names are
 * the test's and no lookup leaves the machine. Without root every test skips. */
#include "helpers.h"
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define GROUP "225.0.0.250"
#define GROUP_NAME "mcast-group.dgram.test"
#define IFACE_NAME "lo-addr.dgram.test" /* 127.0.0.1 */
#define UNKNOWN "no-such-group.dgram.test"

static bool isolated;
static char why_not[128] = "not root";

static bool bind_file(const char *text, const char *target)
{
    char path[] = "/tmp/dgtest-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return false;
    bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text) &&
              mount(path, target, "none", MS_BIND, NULL) == 0;
    close(fd);
    unlink(path); /* the mount keeps the file */
    return ok;
}

/* Before any thread exists: unshare() of the mount namespace refuses
 * multi-threaded callers, and the workers must inherit the namespaces. */
static void isolate(void)
{
    if (geteuid() != 0)
        return;
    int saved = t_netns_enter(); /* never left: the whole process stays inside */
    if (saved >= 0)
        close(saved);
    if (saved < 0 || unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
        !bind_file("127.0.0.1 localhost " IFACE_NAME "\n" GROUP " " GROUP_NAME "\n", "/etc/hosts") ||
        !bind_file("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", "/etc/resolv.conf") ||
        t_run((const char *const[]){"ip", "route", "add", "224.0.0.0/4", "dev", "lo", NULL}) != 0) {
        snprintf(why_not, sizeof why_not, "cannot make the namespaces, hosts file or route");
        return;
    }
    isolated = true;
}

#define NEED_NAMESPACE()                                                        \
    do {                                                                        \
        if (!isolated) {                                                        \
            print_message("skipped: %s\n", why_not);                            \
            skip();                                                             \
        }                                                                       \
    } while (0)

typedef struct result {
    int calls, status;
    bool inside; /* done ran inside the starting call */
    dg_port *port;
} result;

static bool starting;

static void on_done(dg_port *p, int status, void *arg)
{
    result *res = arg;
    res->calls++;
    res->status = status;
    res->inside = starting;
    res->port = p;
}

static dg_port *mc_port(dg_reactor *r, t_rec *rec)
{
    dg_multicast_options o;
    dg_multicast_options_init(&o);
    dg_port *p = NULL;
    assert_int_equal(dg_listen_multicast(r, 0, &rec->proto, &o, &p), 0);
    return p;
}

static void wait_result(dg_reactor *r, result *res)
{
    T_RUN_UNTIL(r, res->calls > 0);
    t_turn(r, 2);
    assert_int_equal(res->calls, 1);
    assert_false(res->inside);
}

/* A join by group name, on an interface given by host name: the port then
 * receives the group's datagrams, and a leave by name stops them. */
static void test_join_and_leave_by_name(void **state)
{
    (void)state;
    NEED_NAMESPACE();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = mc_port(r, &rec);
    result res = {0};
    starting = true;
    assert_int_equal(dg_port_join_group_name(p, GROUP_NAME, IFACE_NAME, on_done, &res), 0);
    starting = false;
    wait_result(r, &res);
    assert_int_equal(res.status, 0);
    assert_ptr_equal(res.port, p);
    /* Joined for real: a literal join now says so. */
    assert_int_equal(dg_port_join_group(p, GROUP, "127.0.0.1"), -EADDRINUSE);

    int peer = t_peer("127.0.0.1", NULL);
    t_peer_send(peer, "hello", 5, GROUP, t_port_number(p));
    T_RUN_UNTIL(r, rec.npackets == 1);
    assert_memory_equal(rec.packets[0].data, "hello", 5);

    res = (result){0};
    assert_int_equal(dg_port_leave_group_name(p, GROUP_NAME, IFACE_NAME, on_done, &res), 0);
    wait_result(r, &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(dg_port_leave_group(p, GROUP, "127.0.0.1"), -EADDRNOTAVAIL);
    close(peer);
    dg_reactor_free(r);
    t_rec_free(&rec);
}

/* Literals and device names need no lookup, and still answer from the loop. */
static void test_literals_answer_from_the_loop(void **state)
{
    (void)state;
    NEED_NAMESPACE();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = mc_port(r, &rec);
    result res = {0};
    starting = true;
    assert_int_equal(dg_port_join_group_name(p, GROUP, "lo", on_done, &res), 0);
    starting = false;
    assert_int_equal(res.calls, 0);
    wait_result(r, &res);
    assert_int_equal(res.status, 0);
    /* The literal call's own errors come back through done. */
    res = (result){0};
    assert_int_equal(dg_port_join_group_name(p, "127.0.0.1", NULL, on_done, &res), 0);
    wait_result(r, &res);
    assert_int_equal(res.status, -EINVAL);
    dg_reactor_free(r);
}

static void test_outgoing_interface_by_name(void **state)
{
    (void)state;
    NEED_NAMESPACE();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = mc_port(r, &rec);
    result res = {0};
    assert_int_equal(dg_port_set_multicast_interface_name(p, IFACE_NAME, on_done, &res), 0);
    wait_result(r, &res);
    assert_int_equal(res.status, 0);
    char buf[DG_ADDR_STRLEN];
    assert_true(dg_port_get_multicast_interface(p, buf, sizeof buf) > 0);
    assert_string_equal(buf, "127.0.0.1");
    dg_reactor_free(r);
}

/* An unknown name fails through done, naming the host; the port is unharmed. */
static void test_unknown_name(void **state)
{
    (void)state;
    NEED_NAMESPACE();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = mc_port(r, &rec);
    result res = {0};
    assert_int_equal(dg_port_join_group_name(p, UNKNOWN, NULL, on_done, &res), 0);
    wait_result(r, &res);
    assert_true(res.status < 0);
    assert_non_null(strstr(dg_reactor_last_error(r), UNKNOWN));
    assert_ptr_equal(rec.proto.transport, p);
    assert_int_equal(rec.stopped, 0);
    dg_reactor_free(r);
}

/* A port that closes first reports -ECANCELED to each waiting call, once,
 * during the close; nothing arrives afterwards and nothing leaks. */
static void test_close_cancels(void **state)
{
    (void)state;
    NEED_NAMESPACE();
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = mc_port(r, &rec);
    result a = {0}, b = {0};
    assert_int_equal(dg_port_join_group_name(p, GROUP_NAME, NULL, on_done, &a), 0);
    assert_int_equal(dg_port_join_group_name(p, GROUP, NULL, on_done, &b), 0);
    assert_int_equal(dg_port_close(p), 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, -ECANCELED);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.status, -ECANCELED);
    t_turn(r, 3);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    dg_reactor_free(r);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *p = t_listen(r, &rec, "127.0.0.1");
    result res = {0};
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(dg_port_join_group_name(NULL, GROUP, NULL, on_done, &res), -EBADF);
    assert_int_equal(dg_port_join_group_name(p, NULL, NULL, on_done, &res), -EINVAL);
    assert_int_equal(dg_port_join_group_name(p, GROUP, NULL, NULL, &res), -EINVAL);
    assert_int_equal(dg_port_join_group_name(p, longname, NULL, on_done, &res), -EINVAL);
    assert_int_equal(dg_port_leave_group_name(p, GROUP, longname, on_done, &res), -EINVAL);
    t_turn(r, 2);
    assert_int_equal(res.calls, 0);
    dg_reactor_free(r);
}

int main(void)
{
    isolate();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_and_leave_by_name),
        cmocka_unit_test(test_literals_answer_from_the_loop),
        cmocka_unit_test(test_outgoing_interface_by_name),
        cmocka_unit_test(test_unknown_name),
        cmocka_unit_test(test_close_cancels),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
