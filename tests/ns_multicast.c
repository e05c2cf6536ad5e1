/* Driver for tests/scripts/multicast_netns.sh: one member or one sender.
 *
 *   ns_multicast recv GROUP|- PORT [IFACE]
 *       Listen on the wildcard of GROUP's family (IPv4 for "-": no join),
 *       join GROUP on IFACE, print "ready", then one line per datagram.
 *       "leave" leaves the group (prints "left"); "stop" exits 0.
 *   ns_multicast send HOST PORT TEXT [--ttl N] [--iface I] [--bind A] [--broadcast]
 *       Send TEXT once; print "sent N" and exit 0, or "error: why" and exit
 *       13 for EACCES, 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dgram.h"

typedef struct member {
    dg_protocol proto;
    const char *group, *iface;
} member;

static void on_datagram(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    member *m = DG_CONTAINER_OF(self, member, proto);
    char who[DG_ADDR_STRLEN];
    dg_addr_format(from, who, sizeof who);
    printf("%.*s from %s\n", (int)len, (const char *)data, who);
    if (len == 5 && memcmp(data, "leave", 5) == 0) {
        if (dg_port_leave_group(self->transport, m->group, m->iface) == 0)
            printf("left\n");
        else
            printf("leave failed: %s\n", dg_reactor_last_error(dg_port_reactor(self->transport)));
    }
    if (len == 4 && memcmp(data, "stop", 4) == 0)
        dg_reactor_stop(dg_port_reactor(self->transport));
    fflush(stdout);
}

static int fail(dg_reactor *r, int rc)
{
    printf("error: %s\n", *dg_reactor_last_error(r) ? dg_reactor_last_error(r) : dg_strerror(rc));
    dg_reactor_free(r);
    return rc == -EACCES ? 13 : 1;
}

static int recv_main(dg_reactor *r, int argc, char **argv)
{
    static const dg_protocol_ops ops = {.name = "Member", .datagram_received = on_datagram};
    member m = {.proto = {.ops = &ops}, .group = argv[2], .iface = argc > 4 ? argv[4] : NULL};
    bool join = strcmp(m.group, "-") != 0;
    dg_multicast_options o;
    dg_multicast_options_init(&o);
    o.interface = join && strchr(m.group, ':') ? "::" : "";
    dg_port *p;
    int rc = dg_listen_multicast(r, atoi(argv[3]), &m.proto, &o, &p);
    if (rc == 0 && join)
        rc = dg_port_join_group(p, m.group, m.iface);
    if (rc < 0)
        return fail(r, rc);
    printf("ready\n");
    fflush(stdout);
    dg_reactor_run(r);
    dg_reactor_free(r);
    return 0;
}

static int send_main(dg_reactor *r, int argc, char **argv)
{
    static const dg_protocol_ops ops = {.name = "Sender"};
    dg_protocol proto = {.ops = &ops};
    dg_addr to;
    int rc = dg_addr_parse(&to, argv[2], atoi(argv[3]));
    dg_multicast_options o;
    dg_multicast_options_init(&o);
    o.interface = dg_addr_family(&to) == AF_INET6 ? "::" : "";
    for (int i = 5; i + 1 < argc; i++)
        if (strcmp(argv[i], "--bind") == 0)
            o.interface = argv[i + 1];
    dg_port *p;
    if (rc == 0)
        rc = dg_listen_multicast(r, 0, &proto, &o, &p);
    for (int i = 5; rc == 0 && i < argc; i++) {
        if (strcmp(argv[i], "--broadcast") == 0)
            rc = dg_port_set_broadcast_allowed(p, true);
        else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc)
            rc = dg_port_set_multicast_ttl(p, atoi(argv[++i]));
        else if (strcmp(argv[i], "--iface") == 0 && i + 1 < argc)
            rc = dg_port_set_multicast_interface(p, argv[++i]);
    }
    if (rc == 0)
        rc = dg_port_write(p, argv[4], strlen(argv[4]), &to);
    if (rc < 0)
        return fail(r, rc);
    printf("sent %d\n", rc);
    dg_reactor_free(r);
    return 0;
}

int main(int argc, char **argv)
{
    bool recv = argc >= 4 && strcmp(argv[1], "recv") == 0;
    if (!recv && !(argc >= 5 && strcmp(argv[1], "send") == 0)) {
        fprintf(stderr, "usage: %s recv GROUP|- PORT [IFACE] | send HOST PORT TEXT [options]\n",
                argv[0]);
        return 2;
    }
    dg_reactor *r;
    if (dg_reactor_new(NULL, &r) < 0)
        return 1;
    return recv ? recv_main(r, argc, argv) : send_main(r, argc, argv);
}
