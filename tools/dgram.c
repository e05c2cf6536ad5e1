/* dgram: the programs of Twisted's UDP howto as one command-line tool, on the
 * public API alone. `dgram --help` is the manual. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "args.h"
#include "dgram.h"

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
} server;

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

static const dg_protocol_ops echo_ops = {.name = "Echo", .datagram_received = server_received};
static const dg_protocol_ops listen_ops = {.name = "Listen", .datagram_received = server_received};

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
    dg_reactor *r;
    if (new_reactor(a, &r) < 0)
        return STATUS_FAIL;
    dg_port *port;
    int status = STATUS_OK;
    if (listen_port(r, a, &s.proto, &port) < 0) {
        fprintf(stderr, "dgram %s: %s\n", args_command_name(a->cmd), dg_reactor_last_error(r));
        status = STATUS_FAIL;
    } else if (dg_reactor_run(r) < 0) {
        fprintf(stderr, "dgram %s: %s\n", args_command_name(a->cmd), dg_reactor_last_error(r));
        status = STATUS_FAIL;
    }
    dg_reactor_free(r);
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
