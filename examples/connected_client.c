/* The seed's connected client (Twisted's Helloer): connect to HOST PORT, a
 * name or an IP literal, say hello and print what comes back. Ctrl-C stops it.
 *   $ ./connected_client 127.0.0.1 9999 */
#include <stdio.h>
#include <stdlib.h>
#include "dgram.h"

typedef struct helloer {
    dg_protocol proto;
    dg_reactor *reactor;
    const char *host;
    int port, status;
} helloer;

static void start_protocol(dg_protocol *self)
{
    helloer *h = DG_CONTAINER_OF(self, helloer, proto);
    printf("now we can only send to host %s port %d\n", h->host, h->port);
    dg_port_write(self->transport, "hello", 5, NULL); /* no need for an address */
}

static void datagram_received(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    char text[4 * DG_DEFAULT_MAX_PACKET_SIZE + 4], host[DG_ADDR_STRLEN];
    (void)self;
    dg_repr_bytes(text, sizeof text, data, len);
    dg_addr_format_host(from, host, sizeof host);
    printf("received %s from ('%s', %d)\n", text, host, dg_addr_port(from)); /* a Python tuple */
}

static void connection_refused(dg_protocol *self)
{
    (void)self;
    printf("No one listening\n");
}

static void connection_failed(dg_protocol *self, int err)
{
    helloer *h = DG_CONTAINER_OF(self, helloer, proto);
    (void)err; /* the reactor's last error says it all, naming the host */
    fprintf(stderr, "%s\n", dg_reactor_last_error(h->reactor));
    h->status = 1;
    dg_reactor_stop(h->reactor);
}

static const dg_protocol_ops helloer_ops = {
    .name = "Helloer", .start_protocol = start_protocol, .datagram_received = datagram_received,
    .connection_refused = connection_refused, .connection_failed = connection_failed};

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* each line out at once, even into a pipe */
    helloer h = {.proto.ops = &helloer_ops, .host = argv[1], .port = atoi(argv[2])};
    dg_reactor_options options;
    dg_reactor_options_init(&options);
    options.handle_signals = true; /* Ctrl-C stops the reactor cleanly */
    dg_port *port;
    if (dg_reactor_new(&options, &h.reactor) < 0)
        return 1;
    if (dg_connect_udp(h.reactor, h.host, h.port, &h.proto, NULL, &port) < 0) {
        fprintf(stderr, "%s\n", dg_reactor_last_error(h.reactor));
        h.status = 1;
    } else {
        dg_reactor_run(h.reactor);
    }
    dg_reactor_free(h.reactor);
    return h.status;
}
