/* A dgram serve plugin for tests/scripts/serve_plugin.py: answers each
 * datagram with ARGUMENT followed by the datagram in upper case, and counts
 * its starts and stops in the log. argument "fail" makes create() fail. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "serve_plugin.h"

typedef struct upper {
    dg_protocol proto;
    char prefix[64];
    unsigned char buf[DG_MAX_PACKET_SIZE_LIMIT + 64];
} upper;

static void received(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    upper *u = DG_CONTAINER_OF(self, upper, proto);
    size_t n = strlen(u->prefix);
    memcpy(u->buf, u->prefix, n);
    for (size_t i = 0; i < len; i++)
        u->buf[n + i] = (unsigned char)toupper(((const unsigned char *)data)[i]);
    dg_port_write(self->transport, u->buf, n + len, from);
}

static const dg_protocol_ops ops = {.name = "Upper", .datagram_received = received};

static dg_protocol *create(const char *service, const char *argument, char *err, size_t errlen)
{
    (void)service;
    if (strcmp(argument, "fail") == 0) {
        snprintf(err, errlen, "asked to fail");
        return NULL;
    }
    upper *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->proto.ops = &ops;
    snprintf(u->prefix, sizeof u->prefix, "%s", argument);
    return &u->proto;
}

static void destroy(dg_protocol *proto)
{
    free(DG_CONTAINER_OF(proto, upper, proto));
}

const dgram_serve_plugin dgram_serve_plugin_v1 = {
    .abi = DGRAM_SERVE_PLUGIN_ABI, .create = create, .destroy = destroy};
