/* Foreign readers and writers (Twisted's addReader/addWriter): readiness,
 * removal from callbacks, and collect-then-dispatch safety (style guide 7). */
#include "helpers.h"
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct io_rec {
    int calls;
    int fd;
    unsigned events;
    dg_reactor *r;
    /* What the callback does after recording. */
    int remove_reader_fd, remove_writer_fd; /* -1: none */
    bool drain;   /* read what is there (and see EOF) */
    ssize_t last_read;
} io_rec;

static void io_init(io_rec *w)
{
    memset(w, 0, sizeof *w);
    w->fd = w->remove_reader_fd = w->remove_writer_fd = -1;
}

static void on_io(dg_reactor *r, int fd, unsigned events, void *arg)
{
    io_rec *w = arg;
    w->calls++;
    w->fd = fd;
    w->events = events;
    w->r = r;
    if (w->drain) {
        char buf[256];
        w->last_read = read(fd, buf, sizeof buf);
    }
    if (w->remove_reader_fd >= 0)
        assert_int_equal(dg_reactor_remove_reader(r, w->remove_reader_fd), 0);
    if (w->remove_writer_fd >= 0)
        assert_int_equal(dg_reactor_remove_writer(r, w->remove_writer_fd), 0);
}

static void nonblocking_pipe(int p[2])
{
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void test_reader_fires(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int p[2];
    nonblocking_pipe(p);
    io_rec w;
    io_init(&w);
    w.drain = true;
    assert_int_equal(dg_reactor_add_reader(r, p[0], on_io, &w), 0);
    t_turn(r, 3);
    assert_int_equal(w.calls, 0); /* nothing to read yet */
    assert_int_equal(write(p[1], "x", 1), 1);
    T_RUN_UNTIL(r, w.calls == 1);
    assert_ptr_equal(w.r, r);
    assert_int_equal(w.fd, p[0]);
    assert_true(w.events & DG_READABLE);
    assert_false(w.events & DG_ERROR);
    assert_int_equal(w.last_read, 1);
    t_turn(r, 3);
    assert_int_equal(w.calls, 1); /* drained: not called again */
    assert_int_equal(dg_reactor_remove_reader(r, p[0]), 0);
    dg_reactor_free(r);
    close(p[0]);
    close(p[1]);
}

static void test_writer_fires(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int s[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    io_rec w;
    io_init(&w);
    w.remove_writer_fd = s[0]; /* once is enough */
    assert_int_equal(dg_reactor_add_writer(r, s[0], on_io, &w), 0);
    T_RUN_UNTIL(r, w.calls == 1);
    assert_int_equal(w.fd, s[0]);
    assert_true(w.events & DG_WRITABLE);
    assert_false(w.events & DG_READABLE);
    t_turn(r, 3);
    assert_int_equal(w.calls, 1);
    assert_int_equal(dg_reactor_remove_writer(r, s[0]), -ENOENT); /* already gone */
    dg_reactor_free(r);
    close(s[0]);
    close(s[1]);
}

/* Adding again replaces the callback; the reader and writer of one fd are
 * independent. */
static void test_replace_and_both(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int s[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    io_rec first, second, wr;
    io_init(&first);
    io_init(&second);
    io_init(&wr);
    second.drain = true;
    wr.remove_writer_fd = s[0];
    assert_int_equal(dg_reactor_add_reader(r, s[0], on_io, &first), 0);
    assert_int_equal(dg_reactor_add_reader(r, s[0], on_io, &second), 0);
    assert_int_equal(dg_reactor_add_writer(r, s[0], on_io, &wr), 0);
    assert_int_equal(write(s[1], "x", 1), 1);
    T_RUN_UNTIL(r, second.calls == 1 && wr.calls == 1);
    assert_int_equal(first.calls, 0);
    assert_true(second.events & DG_READABLE);
    assert_int_equal(dg_reactor_remove_writer(r, s[0]), -ENOENT);
    assert_int_equal(dg_reactor_remove_reader(r, s[0]), 0);
    assert_int_equal(dg_reactor_remove_reader(r, s[0]), -ENOENT);
    dg_reactor_free(r);
    close(s[0]);
    close(s[1]);
}

/* A reader that removes itself is not called again, with data still there. */
static void test_remove_inside_callback(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int p[2];
    nonblocking_pipe(p);
    io_rec w;
    io_init(&w);
    w.remove_reader_fd = p[0];
    assert_int_equal(dg_reactor_add_reader(r, p[0], on_io, &w), 0);
    assert_int_equal(write(p[1], "xyz", 3), 3);
    T_RUN_UNTIL(r, w.calls == 1);
    t_turn(r, 5);
    assert_int_equal(w.calls, 1);
    dg_reactor_free(r);
    close(p[0]);
    close(p[1]);
}

/* Both descriptors are ready in the same wait; whichever runs first removes
 * the other's reader, which must then not be called in that batch. The same
 * for a reader that removes the writer of its own descriptor. */
static void test_remove_other_in_same_batch(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int a[2], b[2];
    nonblocking_pipe(a);
    nonblocking_pipe(b);
    io_rec wa, wb;
    io_init(&wa);
    io_init(&wb);
    wa.remove_reader_fd = b[0];
    wb.remove_reader_fd = a[0];
    assert_int_equal(dg_reactor_add_reader(r, a[0], on_io, &wa), 0);
    assert_int_equal(dg_reactor_add_reader(r, b[0], on_io, &wb), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    int n = dg_reactor_run_once(r, (int)(T_DEADLINE * 1000));
    assert_int_equal(n, 1);
    assert_int_equal(wa.calls + wb.calls, 1);
    /* The one that ran removed the other; its own reader still works. */
    io_rec *ran = wa.calls ? &wa : &wb;
    int still = wa.calls ? a[0] : b[0];
    ran->remove_reader_fd = -1;
    t_turn(r, 3);
    assert_int_equal(wa.calls + wb.calls, 4);
    assert_int_equal(ran->calls, 4); /* data left: level-triggered */
    assert_int_equal(dg_reactor_remove_reader(r, still), 0);

    int s[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    io_rec rd, wr;
    io_init(&rd);
    io_init(&wr);
    rd.remove_writer_fd = s[0];
    assert_int_equal(dg_reactor_add_reader(r, s[0], on_io, &rd), 0);
    assert_int_equal(dg_reactor_add_writer(r, s[0], on_io, &wr), 0);
    assert_int_equal(write(s[1], "x", 1), 1);
    T_RUN_UNTIL(r, rd.calls >= 1);
    assert_int_equal(wr.calls, 0);
    assert_int_equal(dg_reactor_remove_reader(r, s[0]), 0);
    dg_reactor_free(r);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
        close(s[i]);
    }
}

/* The same across a port, both ready in one wait: the datagram callback
 * removes the pipe's reader, the pipe's callback closes the port. Whichever
 * runs first, the other is not called (a closed port is never called back). */
static int port_victim = -1;
static void remove_victim(t_rec *rec)
{
    dg_reactor *r = dg_port_reactor(rec->proto.transport);
    assert_int_equal(dg_reactor_remove_reader(r, port_victim), 0);
}

static dg_port *pipe_victim;
static void close_port(dg_reactor *r, int fd, unsigned events, void *arg)
{
    (void)r, (void)fd, (void)events;
    (*(int *)arg)++;
    assert_int_equal(dg_port_close(pipe_victim), 0);
}

/* pipe_first: registered and made ready first, so that both backends
 * (poll scans in registration order, epoll reports in readiness order)
 * are likely to try both orders. */
static int port_and_reader(bool pipe_first)
{
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Remover");
    rec.on_datagram = remove_victim;
    int p[2];
    nonblocking_pipe(p);
    int pipe_calls = 0;
    port_victim = p[0];
    if (pipe_first)
        assert_int_equal(dg_reactor_add_reader(r, p[0], close_port, &pipe_calls), 0);
    pipe_victim = t_listen(r, &rec, "127.0.0.1");
    if (!pipe_first)
        assert_int_equal(dg_reactor_add_reader(r, p[0], close_port, &pipe_calls), 0);
    int peer = t_peer("127.0.0.1", NULL);
    if (pipe_first)
        assert_int_equal(write(p[1], "x", 1), 1);
    t_peer_send(peer, "x", 1, "127.0.0.1", t_port_number(pipe_victim));
    if (!pipe_first)
        assert_int_equal(write(p[1], "x", 1), 1);
    struct pollfd pfd = {.fd = dg_port_fd(pipe_victim), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, (int)(T_DEADLINE * 1000)), 1); /* both ready now */
    assert_int_equal(dg_reactor_run_once(r, 0), 1);
    assert_int_equal(rec.npackets + pipe_calls, 1);
    if (pipe_calls) {
        assert_int_equal(rec.stopped, 1);
        assert_int_equal(dg_reactor_remove_reader(r, p[0]), 0);
    } else {
        assert_int_equal(dg_reactor_remove_reader(r, p[0]), -ENOENT);
    }
    t_turn(r, 3);
    assert_int_equal(rec.npackets + pipe_calls, 1);
    dg_reactor_free(r);
    close(p[0]);
    close(p[1]);
    close(peer);
    t_rec_free(&rec);
    return pipe_calls;
}

static void test_port_and_reader_in_same_batch(void **state)
{
    (void)state;
    int pipe_won = port_and_reader(false) + port_and_reader(true);
    print_message("the pipe ran first in %d of 2 orders\n", pipe_won);
}

static void test_errors(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    io_rec w;
    io_init(&w);
    assert_int_equal(dg_reactor_add_reader(r, -1, on_io, &w), -EBADF);
    assert_int_equal(dg_reactor_add_writer(r, -5, on_io, &w), -EBADF);
    int p[2];
    nonblocking_pipe(p);
    close(p[1]);
    /* A descriptor that is not open: both backends refuse it. */
    assert_int_equal(dg_reactor_add_reader(r, p[1], on_io, &w), -EBADF);
    assert_int_equal(dg_reactor_add_reader(r, p[0], NULL, &w), -EINVAL);

    assert_int_equal(dg_reactor_remove_reader(r, p[0]), -ENOENT);
    assert_int_equal(dg_reactor_remove_writer(r, p[0]), -ENOENT);
    assert_int_equal(dg_reactor_remove_reader(r, -1), -ENOENT);
    assert_int_equal(dg_reactor_remove_reader(r, 1 << 20), -ENOENT);
    assert_int_equal(dg_reactor_add_reader(r, p[0], on_io, &w), 0);
    assert_int_equal(dg_reactor_remove_writer(r, p[0]), -ENOENT); /* only a reader */
    assert_int_equal(dg_reactor_remove_reader(r, p[0]), 0);
    close(p[0]);
    dg_reactor_free(r);
}

/* A port's own descriptor is not for foreign callbacks, and a refused add
 * leaves the port reading. */
static void test_port_fd_refused(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *port = t_listen(r, &rec, "127.0.0.1");
    int fd = dg_port_fd(port);
    assert_true(fd >= 0);
    io_rec w;
    io_init(&w);
    assert_int_equal(dg_reactor_add_reader(r, fd, on_io, &w), -EEXIST);
    assert_int_equal(dg_reactor_add_writer(r, fd, on_io, &w), -EEXIST);
    assert_int_equal(dg_reactor_remove_reader(r, fd), -ENOENT);
    int peer = t_peer("127.0.0.1", NULL);
    t_peer_send(peer, "ok", 2, "127.0.0.1", t_port_number(port));
    T_RUN_UNTIL(r, rec.npackets == 1);
    assert_int_equal(w.calls, 0);
    dg_reactor_free(r);
    close(peer);
    t_rec_free(&rec);
}

/* The peer goes away: the reader is told (readable and/or error) and reads
 * end of file; once it removes itself nothing more is called. */
static void check_hangup(dg_reactor *r, int rfd, int wfd)
{
    io_rec w;
    io_init(&w);
    w.drain = true;
    w.remove_reader_fd = rfd;
    assert_int_equal(dg_reactor_add_reader(r, rfd, on_io, &w), 0);
    close(wfd);
    T_RUN_UNTIL(r, w.calls == 1);
    assert_true(w.events & DG_READABLE);
    assert_int_equal(w.last_read, 0); /* end of file */
    t_turn(r, 5);
    assert_int_equal(w.calls, 1);
    close(rfd);
}

static void test_peer_closed(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int p[2];
    nonblocking_pipe(p);
    check_hangup(r, p[0], p[1]); /* a pipe: POLLHUP without POLLIN */
    int s[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    check_hangup(r, s[0], s[1]);
    dg_reactor_free(r);
}

/* Against the rules (remove before closing), a reader's descriptor was closed
 * without removal and its number came back as a new descriptor: adding a
 * reader for the new one, or a port on it, must still work (epoll forgot the
 * old one by itself). */
static void test_closed_without_removal_reused(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int p[2];
    nonblocking_pipe(p);
    io_rec old;
    io_init(&old);
    assert_int_equal(dg_reactor_add_reader(r, p[0], on_io, &old), 0);
    int num = p[0];
    close(p[0]);
    close(p[1]);

    int q[2];
    nonblocking_pipe(q);
    if (q[0] != num)
        skip(); /* the number did not come back */
    io_rec w;
    io_init(&w);
    w.drain = true;
    assert_int_equal(dg_reactor_add_reader(r, q[0], on_io, &w), 0);
    assert_int_equal(write(q[1], "x", 1), 1);
    T_RUN_UNTIL(r, w.calls == 1);
    assert_int_equal(old.calls, 0);

    /* And a port that gets such a number. */
    assert_int_equal(dg_reactor_add_reader(r, q[1], on_io, &old), 0);
    num = q[1];
    close(q[1]);
    t_rec rec;
    t_rec_init(&rec, "Server");
    dg_port *port = t_listen(r, &rec, "127.0.0.1");
    assert_int_equal(dg_port_fd(port), num);
    int peer = t_peer("127.0.0.1", NULL);
    t_peer_send(peer, "x", 1, "127.0.0.1", t_port_number(port));
    T_RUN_UNTIL(r, rec.npackets == 1);
    assert_int_equal(old.calls, 0);
    assert_int_equal(dg_reactor_remove_reader(r, q[0]), 0);
    dg_reactor_free(r);
    close(q[0]);
    close(peer);
    t_rec_free(&rec);
}

/* A high descriptor number grows the reactor's table. */
static void test_high_fd(void **state)
{
    (void)state;
    dg_reactor *r = t_reactor(false);
    int p[2];
    nonblocking_pipe(p);
    int high = fcntl(p[0], F_DUPFD_CLOEXEC, 700);
    assert_true(high >= 700);
    io_rec w;
    io_init(&w);
    w.drain = true;
    assert_int_equal(dg_reactor_add_reader(r, high, on_io, &w), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    T_RUN_UNTIL(r, w.calls == 1);
    assert_int_equal(w.fd, high);
    assert_int_equal(dg_reactor_remove_reader(r, high), 0);
    dg_reactor_free(r);
    close(high);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_fires),
        cmocka_unit_test(test_writer_fires),
        cmocka_unit_test(test_replace_and_both),
        cmocka_unit_test(test_remove_inside_callback),
        cmocka_unit_test(test_remove_other_in_same_batch),
        cmocka_unit_test(test_port_and_reader_in_same_batch),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_port_fd_refused),
        cmocka_unit_test(test_peer_closed),
        cmocka_unit_test(test_closed_without_removal_reused),
        cmocka_unit_test(test_high_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
