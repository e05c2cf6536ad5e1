/* The entry point of a dgram serve plugin: a shared object that gives a
 * service its protocol (protocol = plugin, plugin = PATH in the
 * configuration). See docs/operations.md.
 *
 * The shared object defines
 *
 *     const dgram_serve_plugin dgram_serve_plugin_v1 = {
 *         .abi = DGRAM_SERVE_PLUGIN_ABI, .create = my_create, .destroy = my_destroy};
 *
 * and is linked without libdgram: dgram serve exports the library's
 * functions to the plugins it loads (cc -shared -fPIC -o my.so my.c). */
#ifndef DGRAM_SERVE_PLUGIN_H
#define DGRAM_SERVE_PLUGIN_H

#include "dgram.h"

#define DGRAM_SERVE_PLUGIN_ABI 1
#define DGRAM_SERVE_PLUGIN_SYMBOL "dgram_serve_plugin_v1"

typedef struct dgram_serve_plugin {
    int abi; /* DGRAM_SERVE_PLUGIN_ABI */
    /* A new protocol for one service. argument is the service's argument
     * (may be ""). On failure return NULL, with a reason in err. */
    dg_protocol *(*create)(const char *service, const char *argument, char *err, size_t errlen);
    /* Free what create made; called once the protocol has stopped (after its
     * stop_protocol) or if it never started. */
    void (*destroy)(dg_protocol *proto);
} dgram_serve_plugin;

#endif
