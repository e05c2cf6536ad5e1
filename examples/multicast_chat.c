/* Multicast chat: each line typed goes to the group; each line any member sends
 * (this one's too) is printed with its sender. Usage: multicast_chat [GROUP [PORT
 * [INTERFACE]]], default 228.0.0.5 8005; IPv6 needs one: ff12::8005 8005 eth0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dgram.h"

static dg_addr group; /* and port */

static void heard(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    char who[DG_ADDR_STRLEN], text[1024];
    (void)self;
    dg_addr_format(from, who, sizeof who);
    dg_repr_bytes(text, sizeof text, data, len);
    printf("%s: %s\n", who, text);
    fflush(stdout);
}

static void typed(dg_reactor *r, int fd, unsigned events, void *arg)
{
    char line[1024];
    (void)events;
    ssize_t n = read(fd, line, sizeof line);
    int rc = n > 0 ? dg_port_write(arg, line, (size_t)n - (line[n - 1] == '\n'), &group) : 0;
    if (n <= 0)
        dg_reactor_stop(r);
    else if (rc < 0)
        fprintf(stderr, "send: %s\n", dg_strerror(rc));
}

int main(int argc, char **argv)
{
    const char *g = argc > 1 ? argv[1] : "228.0.0.5", *iface = argc > 3 ? argv[3] : NULL;
    int port = argc > 2 ? atoi(argv[2]) : 8005;
    static const dg_protocol_ops ops = {.name = "Chat", .datagram_received = heard};
    dg_protocol chat = {.ops = &ops};
    dg_multicast_options o;
    dg_multicast_options_init(&o);
    o.interface = strchr(g, ':') ? "::" : "";
    o.listen_multiple = true; /* several members on one host */
    dg_reactor *r;
    dg_port *p;
    if (dg_addr_parse(&group, g, port) < 0 || dg_reactor_new(NULL, &r) < 0)
        return fprintf(stderr, "usage: %s [GROUP [PORT [INTERFACE]]]\n", argv[0]), 2;
    if (dg_listen_multicast(r, port, &chat, &o, &p) < 0 || dg_port_join_group(p, g, iface) < 0 ||
        (iface && dg_port_set_multicast_interface(p, iface) < 0)) {
        fprintf(stderr, "%s\n", dg_reactor_last_error(r));
        dg_reactor_free(r);
        return 1;
    }
    dg_reactor_add_reader(r, STDIN_FILENO, typed, p);
    dg_reactor_run(r);
    dg_reactor_remove_reader(r, STDIN_FILENO);
    dg_reactor_free(r); /* closes the port, leaving the group */
    return 0;
}
