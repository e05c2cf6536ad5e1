/* The seed's echo server (Twisted's UDP howto): print each datagram as
 * Python 3 prints it, and send it back to where it came from.
 *
 *   $ ./echo_server                      (Ctrl-C stops it)
 *   received b'hello' from 127.0.0.1:40001
 */
#include <stdio.h>
#include "dgram.h"

static void datagram_received(dg_protocol *self, const void *data, size_t len,
                              const dg_addr *from)
{
    /* Python's repr() takes at most 4 characters a byte, plus b'' and NUL. */
    char text[4 * DG_DEFAULT_MAX_PACKET_SIZE + 4], host[DG_ADDR_STRLEN];
    dg_repr_bytes(text, sizeof text, data, len);
    dg_addr_format_host(from, host, sizeof host);
    printf("received %s from %s:%d\n", text, host, dg_addr_port(from));
    fflush(stdout);
    dg_port_write(self->transport, data, len, from);
}

static const dg_protocol_ops echo_ops = {.name = "Echo", .datagram_received = datagram_received};

int main(void)
{
    dg_protocol echo = {.ops = &echo_ops};
    dg_reactor_options options;
    dg_reactor_options_init(&options);
    options.handle_signals = true; /* Ctrl-C stops the reactor cleanly */
    dg_reactor *reactor;
    int err = dg_reactor_new(&options, &reactor);
    if (err < 0) {
        fprintf(stderr, "echo_server: %s\n", dg_strerror(err));
        return 1;
    }
    dg_port *port;
    if (dg_listen_udp(reactor, 9999, &echo, NULL, &port) < 0) {
        fprintf(stderr, "echo_server: %s\n", dg_reactor_last_error(reactor));
        dg_reactor_free(reactor);
        return 1;
    }
    dg_reactor_run(reactor);
    dg_reactor_free(reactor);
    return 0;
}
