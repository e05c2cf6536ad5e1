/* dgram: the programs of Twisted's UDP howto as one command-line tool, on the
 * public API alone. `dgram --help` is the manual. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* signalfd */
#endif
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "args.h"
#include "dgram.h"
#include "serve.h"

/* One datagram's repr: at most 4 characters a byte, plus b'' and the NUL.
 * Static, so printing allocates nothing per datagram. */
static char repr_buf[4 * DG_MAX_PACKET_SIZE_LIMIT + 4];

static const char *repr(const void *data, size_t len)
{
    dg_repr_bytes(repr_buf, sizeof repr_buf, data, len);
    return repr_buf;
}

static void log_line(dg_reactor *r, const char *line, void *arg)
{
    (void)r;
    (void)arg;
    fprintf(stderr, "%s\n", line);
}

static int new_reactor(const args *a, dg_reactor **out)
{
    dg_reactor_options o;
    dg_reactor_options_init(&o);
    o.handle_signals = true; /* SIGINT and SIGTERM end dg_reactor_run() cleanly */
    if (a->verbose)
        o.log = log_line;
    int err = dg_reactor_new(&o, out);
    if (err < 0)
        fprintf(stderr, "dgram %s: %s\n", args_command_name(a->cmd), dg_strerror(err));
    return err;
}

/* ---- echo and listen ---------------------------------------------------- */

typedef struct server {
    dg_protocol proto;
    const args *a;
    dg_port *port; /* for --stats: valid until stop_protocol returns */
} server;

/* --stats: one line of name=value pairs, named as dg_port_stats' fields. */
static void print_stats(const server *s, const char *when)
{
    dg_port_stats st;
    if (!s->port || dg_port_get_stats(s->port, &st) < 0)
        return;
    const struct { const char *name; uint64_t value; } f[] = {
        {"rx_datagrams", st.rx_datagrams}, {"rx_bytes", st.rx_bytes},
        {"rx_truncated", st.rx_truncated}, {"rx_discarded", st.rx_discarded},
        {"rx_kernel_drops", st.rx_kernel_drops}, {"rx_errors", st.rx_errors},
        {"tx_datagrams", st.tx_datagrams}, {"tx_bytes", st.tx_bytes},
        {"tx_errors", st.tx_errors}, {"tx_err_again", st.tx_err_again},
        {"tx_err_nobufs", st.tx_err_nobufs}, {"tx_err_msgsize", st.tx_err_msgsize},
        {"tx_err_refused", st.tx_err_refused}, {"tx_err_other", st.tx_err_other},
        {"tx_deferred_errors", st.tx_deferred_errors}, {"tx_syscalls", st.tx_syscalls},
        {"tx_gso_sends", st.tx_gso_sends}, {"rx_gro_trains", st.rx_gro_trains},
        {"refused", st.refused}};
    char line[768];
    int n = snprintf(line, sizeof line, "dgram %s: stats %s:", args_command_name(s->a->cmd), when);
    for (size_t i = 0; i < sizeof f / sizeof f[0] && n > 0 && (size_t)n < sizeof line; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " %s=%llu", f[i].name,
                      (unsigned long long)f[i].value);
    fprintf(stderr, "%s\n", line);
}

static void server_start(dg_protocol *self)
{
    server *s = DG_CONTAINER_OF(self, server, proto);
    s->port = self->transport;
    /* The replies to one read batch leave in one sendmmsg. */
    if (s->a->cmd == CMD_ECHO)
        dg_port_set_write_batching(s->port, true);
}

/* The port has closed; its memory, and so its final counts, live until
 * this returns. */
static void server_stop(dg_protocol *self)
{
    server *s = DG_CONTAINER_OF(self, server, proto);
    if (s->a->stats)
        print_stats(s, "at exit");
    s->port = NULL;
}

static void on_sigusr1(dg_reactor *r, int fd, unsigned events, void *arg)
{
    struct signalfd_siginfo si;
    (void)r;
    (void)events;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
        print_stats(arg, "on SIGUSR1");
}

static void server_received(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    server *s = DG_CONTAINER_OF(self, server, proto);
    char host[DG_ADDR_STRLEN];
    dg_addr_format_host(from, host, sizeof host);
    if (!s->a->quiet) {
        /* The seed's '%s:%d' % (host, port): no brackets around IPv6. */
        printf("received %s from %s:%d\n", repr(data, len), host, dg_addr_port(from));
        fflush(stdout);
    }
    if (dg_port_datagram_flags(self->transport) & DG_TRUNCATED)
        fprintf(stderr, "dgram %s: datagram from %s:%d truncated to %zu bytes (--max-packet-size)\n",
                args_command_name(s->a->cmd), host, dg_addr_port(from), len);
    if (s->a->cmd != CMD_ECHO)
        return;
    /* len is what arrived, after any truncation: never more goes back. */
    int rc = dg_port_write(self->transport, data, len, from);
    if (rc < 0)
        fprintf(stderr, "dgram echo: reply to %s:%d: %s\n", host, dg_addr_port(from), dg_strerror(rc));
}

/* A batched reply the kernel refused: reported as one refused at once. */
static void server_write_failed(dg_protocol *self, int err, const void *data, size_t len,
                                const dg_addr *to)
{
    (void)self, (void)data, (void)len;
    char host[DG_ADDR_STRLEN];
    dg_addr_format_host(to, host, sizeof host);
    fprintf(stderr, "dgram echo: reply to %s:%d: %s\n", host, dg_addr_port(to), dg_strerror(err));
}

static const dg_protocol_ops echo_ops = {.name = "Echo", .start_protocol = server_start,
    .stop_protocol = server_stop, .datagram_received = server_received,
    .write_failed = server_write_failed};
static const dg_protocol_ops listen_ops = {.name = "Listen", .start_protocol = server_start,
    .stop_protocol = server_stop, .datagram_received = server_received};

/* A plain port on --interface, or with --group a multicast port (shared, so
 * several listeners on one host each see the group) that joins the group on
 * --interface. */
static int listen_port(dg_reactor *r, const args *a, dg_protocol *proto, dg_port **out)
{
    if (!a->group) {
        dg_listen_options o;
        dg_listen_options_init(&o);
        o.interface = a->interface;
        o.max_packet_size = a->max_packet_size;
        return dg_listen_udp(r, a->port, proto, &o, out);
    }
    dg_multicast_options o;
    dg_multicast_options_init(&o);
    o.interface = strchr(a->group, ':') ? "::" : "";
    o.max_packet_size = a->max_packet_size;
    o.listen_multiple = true;
    int rc = dg_listen_multicast(r, a->port, proto, &o, out);
    if (rc == 0 && (rc = dg_port_join_group(*out, a->group, a->interface)) < 0)
        dg_port_close(*out);
    return rc;
}

static int serve(const args *a)
{
    server s = {.proto.ops = a->cmd == CMD_ECHO ? &echo_ops : &listen_ops, .a = a};
    /* --stats: SIGUSR1 through a signalfd, blocked before the reactor can
     * start a thread, so that no thread takes it with the default action. */
    sigset_t usr1, saved;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    int sfd = -1;
    if (a->stats) {
        sigprocmask(SIG_BLOCK, &usr1, &saved);
        sfd = signalfd(-1, &usr1, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sfd < 0) {
            fprintf(stderr, "dgram %s: --stats: %s\n", args_command_name(a->cmd), strerror(errno));
            sigprocmask(SIG_SETMASK, &saved, NULL);
            return STATUS_FAIL;
        }
    }
    dg_reactor *r = NULL;
    dg_port *port;
    int status = STATUS_OK, rc;
    if (new_reactor(a, &r) < 0) {
        status = STATUS_FAIL;
    } else if (sfd >= 0 && (rc = dg_reactor_add_reader(r, sfd, on_sigusr1, &s)) < 0) {
        fprintf(stderr, "dgram %s: --stats: %s\n", args_command_name(a->cmd), dg_strerror(rc));
        status = STATUS_FAIL;
    } else if (listen_port(r, a, &s.proto, &port) < 0) {
        fprintf(stderr, "dgram %s: %s\n", args_command_name(a->cmd), dg_reactor_last_error(r));
        status = STATUS_FAIL;
    } else if (dg_reactor_run(r) < 0) {
        fprintf(stderr, "dgram %s: %s\n", args_command_name(a->cmd), dg_reactor_last_error(r));
        status = STATUS_FAIL;
    }
    if (r && sfd >= 0)
        dg_reactor_remove_reader(r, sfd);
    dg_reactor_free(r);
    if (sfd >= 0) {
        close(sfd);
        sigprocmask(SIG_SETMASK, &saved, NULL);
    }
    return status;
}

/* ---- send ---------------------------------------------------------------- */

typedef struct sender {
    dg_protocol proto;
    const args *a;
    dg_reactor *r;
    int replies;
    int status; /* -1 until decided */
    dg_addr group; /* sending to a group: unconnected, replies come from members */
    bool hold;     /* start_protocol must not write yet */
    char peer[DG_ADDR_STRLEN + 256]; /* "127.0.0.1:9", or "NAME (ADDR)" once known */
} sender;

/* Decide the outcome once: later events (a reply in the same batch as the
 * last one, a timer) change nothing. */
static void finish(sender *s, int status, const char *fmt, ...)
{
    if (s->status >= 0)
        return;
    s->status = status;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs("dgram send: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    dg_reactor_stop(s->r);
}

static void sender_start(dg_protocol *self)
{
    sender *s = DG_CONTAINER_OF(self, sender, proto);
    if (s->hold)
        return;
    dg_addr peer, literal;
    char addr[DG_ADDR_STRLEN] = "?";
    const dg_addr *to = dg_addr_family(&s->group) ? &s->group : NULL;
    if (to || dg_port_get_peer(self->transport, &peer) == 0)
        dg_addr_format(to ? to : &peer, addr, sizeof addr);
    if (dg_addr_parse(&literal, s->a->host, s->a->port) == 0)
        snprintf(s->peer, sizeof s->peer, "%s", addr);
    else
        snprintf(s->peer, sizeof s->peer, "%s (%s)", s->a->host, addr);
    for (int i = 0; i < s->a->nmessages && s->status < 0; i++) {
        const char *m = s->a->messages[i];
        int rc = dg_port_write(self->transport, m, strlen(m), to);
        if (rc < 0)
            finish(s, STATUS_FAIL, "%s: cannot send MESSAGE %d (%zu bytes): %s", s->peer, i + 1,
                   strlen(m), dg_strerror(rc));
    }
}

static void sender_received(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    sender *s = DG_CONTAINER_OF(self, sender, proto);
    if (s->status >= 0)
        return;
    if (!s->a->quiet) {
        char addr[DG_ADDR_STRLEN];
        dg_addr_format(from, addr, sizeof addr);
        printf("received %s from %s\n", repr(data, len), addr);
        fflush(stdout);
    }
    if (++s->replies == s->a->nmessages)
        finish(s, STATUS_OK, NULL);
}

static void sender_refused(dg_protocol *self)
{
    sender *s = DG_CONTAINER_OF(self, sender, proto);
    finish(s, STATUS_FAIL, "%s: connection refused (no one listening)", s->peer);
}

static void sender_failed(dg_protocol *self, int err)
{
    sender *s = DG_CONTAINER_OF(self, sender, proto);
    (void)err;
    finish(s, STATUS_FAIL, "%s", dg_reactor_last_error(s->r));
}

static void sender_timeout(dg_call *c, void *arg)
{
    sender *s = arg;
    (void)c;
    if (s->peer[0])
        finish(s, STATUS_TIMEOUT, "%s: %d of %d replies within %g s", s->peer, s->replies,
               s->a->nmessages, s->a->timeout);
    else
        finish(s, STATUS_TIMEOUT, "%s: name lookup did not finish within %g s", s->a->host,
               s->a->timeout);
}

static const dg_protocol_ops send_ops = {
    .name = "Send", .start_protocol = sender_start, .datagram_received = sender_received,
    .connection_refused = sender_refused, .connection_failed = sender_failed};

/* A group has no single peer to connect to: an unconnected port of the
 * group's family, with --ttl and --interface for the group, writes to it. */
static void open_group_sender(sender *s, dg_port **port)
{
    const args *a = s->a;
    dg_listen_options o;
    dg_listen_options_init(&o);
    o.interface = strchr(a->host, ':') ? "::" : "";
    o.max_packet_size = a->max_packet_size;
    dg_addr_parse(&s->group, a->host, a->port);
    s->hold = true; /* start_protocol writes, and the group options come first */
    int rc = dg_listen_udp(s->r, a->local_port, &s->proto, &o, port);
    s->hold = false;
    if (rc == 0 && a->ttl >= 0)
        rc = dg_port_set_multicast_ttl(*port, a->ttl);
    if (rc == 0 && *a->interface)
        rc = dg_port_set_multicast_interface(*port, a->interface);
    if (rc < 0) {
        finish(s, STATUS_FAIL, "%s", dg_reactor_last_error(s->r));
        return;
    }
    sender_start(&s->proto);
}

static int send_messages(const args *a)
{
    sender s = {.proto.ops = &send_ops, .a = a, .status = -1};
    if (new_reactor(a, &s.r) < 0)
        return STATUS_FAIL;
    dg_connect_options o;
    dg_connect_options_init(&o);
    o.interface = a->interface;
    o.local_port = a->local_port;
    o.max_packet_size = a->max_packet_size;
    o.family = a->family;
    o.resolve_timeout = 0; /* --timeout covers the lookup too, with one message */
    if (a->timeout > 0 && !dg_call_later(s.r, a->timeout, sender_timeout, &s))
        finish(&s, STATUS_FAIL, "%s", dg_strerror(-ENOMEM));
    dg_port *port;
    if (s.status < 0 && args_is_group(a->host))
        open_group_sender(&s, &port);
    else if (s.status < 0 && dg_connect_udp(s.r, a->host, a->port, &s.proto, &o, &port) < 0)
        finish(&s, STATUS_FAIL, "%s", dg_reactor_last_error(s.r));
    /* A literal connects, and so writes, inside dg_connect_udp(): the outcome
     * may be known already, and a stop before run would be lost. */
    if (s.status < 0 && dg_reactor_run(s.r) < 0)
        finish(&s, STATUS_FAIL, "%s", dg_reactor_last_error(s.r));
    if (s.status < 0)
        finish(&s, STATUS_SIGNAL, "interrupted after %d of %d replies", s.replies, a->nmessages);
    dg_reactor_free(s.r);
    return s.status;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    args a;
    char err[512];
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return serve_main(argc - 1, argv + 1); /* its own command line: serve.c */
    if (argc == 3 && strcmp(argv[1], "help") == 0 && strcmp(argv[2], "serve") == 0) {
        char *help[] = {argv[0], "serve", "--help", NULL};
        return serve_main(2, help + 1);
    }
    if (args_parse(argc, argv, &a, err, sizeof err) != STATUS_OK) {
        fprintf(stderr, "%s\n", err);
        return STATUS_USAGE;
    }
    switch (a.cmd) {
    case CMD_HELP:
        for (const char *const *section = args_help(a.help_topic); *section; section++)
            fputs(*section, stdout);
        return STATUS_OK;
    case CMD_VERSION:
        printf("dgram %s\n", DG_VERSION_STRING);
        return STATUS_OK;
    case CMD_ECHO:
    case CMD_LISTEN:
        return serve(&a);
    case CMD_SEND:
        return send_messages(&a);
    default:
        return STATUS_USAGE;
    }
}
