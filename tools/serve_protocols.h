/* dgram serve's protocols: the built-in ones (echo, discard, daytime, time)
 * and those a plugin gives. */
#ifndef DGRAM_TOOL_SERVE_PROTOCOLS_H
#define DGRAM_TOOL_SERVE_PROTOCOLS_H

#include <stddef.h>
#include "dgram.h"
#include "serve_config.h"

typedef struct serve_protocol serve_protocol;

/* A protocol for conf. NULL on failure, with the reason in err. */
serve_protocol *serve_protocol_new(const serve_service_conf *conf, char *err, size_t errlen);
dg_protocol *serve_protocol_get(serve_protocol *p);
/* Once its port has closed (or it never started). NULL is a no-op. */
void serve_protocol_free(serve_protocol *p);

#endif
