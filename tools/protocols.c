/* The classic small services over UDP, and protocols from plugins.
 *   echo     RFC 862: each datagram is sent back to its sender.
 *   discard  RFC 863: each datagram is dropped.
 *   daytime  RFC 867: any datagram is answered with the date and time as
 *            text (the RFC leaves the format free; ours is "Tuesday,
 *            February 22, 1982 17:37:43-PST\r\n" as its example, in local time).
 *   time     RFC 868: any datagram is answered with 4 bytes, the seconds
 *            since 1900-01-01 00:00 UTC in network order (wrapping in 2036, as
 *            the RFC's 32 bits do). */
#include "serve_protocols.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "serve_plugin.h"

struct serve_protocol {
    dg_protocol builtin;  /* the built-in protocols */
    dg_protocol *proto;   /* &builtin, or the plugin's */
    void *dl;
    const dgram_serve_plugin *plugin;
};

static void reply(dg_protocol *self, const void *data, size_t len, const dg_addr *to)
{
    /* Answers are best effort, as UDP: a full buffer loses this one reply,
     * and the port counts it in tx_errors. */
    dg_port_write(self->transport, data, len, to);
}

static void echo_received(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    reply(self, data, len, from);
}

static void daytime_received(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    (void)data;
    (void)len;
    char text[128];
    time_t now = time(NULL);
    struct tm tm;
    size_t n = localtime_r(&now, &tm) ? strftime(text, sizeof text, "%A, %B %d, %Y %H:%M:%S-%Z\r\n", &tm) : 0;
    reply(self, text, n, from);
}

/* RFC 868: 1900-01-01 to 1970-01-01 is 2208988800 seconds. */
#define EPOCH_1900 2208988800u

static void time_received(dg_protocol *self, const void *data, size_t len, const dg_addr *from)
{
    (void)data;
    (void)len;
    uint32_t t = (uint32_t)((uint64_t)time(NULL) + EPOCH_1900);
    unsigned char b[4] = {(unsigned char)(t >> 24), (unsigned char)(t >> 16), (unsigned char)(t >> 8),
                          (unsigned char)t};
    reply(self, b, sizeof b, from);
}

static const dg_protocol_ops builtin_ops[] = {
    [SERVE_ECHO] = {.name = "Echo", .datagram_received = echo_received},
    [SERVE_DISCARD] = {.name = "Discard"},
    [SERVE_DAYTIME] = {.name = "Daytime", .datagram_received = daytime_received},
    [SERVE_TIME] = {.name = "Time", .datagram_received = time_received},
};

static serve_protocol *from_plugin(serve_protocol *p, const serve_service_conf *c, char *err,
                                   size_t errlen)
{
    p->dl = dlopen(c->plugin, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl) {
        snprintf(err, errlen, "service %s: cannot load plugin: %s", c->name, dlerror());
        return NULL;
    }
    p->plugin = dlsym(p->dl, DGRAM_SERVE_PLUGIN_SYMBOL);
    if (!p->plugin) {
        snprintf(err, errlen, "service %s: plugin %s has no symbol %s", c->name, c->plugin,
                 DGRAM_SERVE_PLUGIN_SYMBOL);
        return NULL;
    }
    if (p->plugin->abi != DGRAM_SERVE_PLUGIN_ABI || !p->plugin->create || !p->plugin->destroy) {
        snprintf(err, errlen, "service %s: plugin %s: ABI %d, expected %d with create and destroy",
                 c->name, c->plugin, p->plugin->abi, DGRAM_SERVE_PLUGIN_ABI);
        return NULL;
    }
    char why[256] = "";
    p->proto = p->plugin->create(c->name, c->argument, why, sizeof why);
    if (!p->proto) {
        snprintf(err, errlen, "service %s: plugin %s failed: %s", c->name, c->plugin,
                 why[0] ? why : "no reason given");
        return NULL;
    }
    return p;
}

serve_protocol *serve_protocol_new(const serve_service_conf *c, char *err, size_t errlen)
{
    serve_protocol *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (c->protocol == SERVE_PLUGIN) {
        if (!from_plugin(p, c, err, errlen)) {
            serve_protocol_free(p);
            return NULL;
        }
        return p;
    }
    p->builtin.ops = &builtin_ops[c->protocol];
    p->proto = &p->builtin;
    return p;
}

dg_protocol *serve_protocol_get(serve_protocol *p)
{
    return p->proto;
}

void serve_protocol_free(serve_protocol *p)
{
    if (!p)
        return;
    if (p->plugin && p->proto)
        p->plugin->destroy(p->proto);
    if (p->dl)
        dlclose(p->dl);
    free(p);
}
