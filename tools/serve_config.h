/* dgram serve's configuration file: an INI file read with Debian's libinih.
 * The format is documented in `dgram serve --help` (help text in serve.c)
 * and docs/operations.md. */
#ifndef DGRAM_TOOL_SERVE_CONFIG_H
#define DGRAM_TOOL_SERVE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define SERVE_MAX_SERVICES 64
#define SERVE_MAX_GROUPS 8
#define SERVE_NAME_MAX 64
#define SERVE_TEXT_MAX 256

typedef enum serve_proto_kind {
    SERVE_ECHO, SERVE_DISCARD, SERVE_DAYTIME, SERVE_TIME, SERVE_PLUGIN, SERVE_NO_PROTOCOL
} serve_proto_kind;

typedef struct serve_service_conf {
    char name[SERVE_NAME_MAX];
    int line;                       /* of its [service NAME] header */
    serve_proto_kind protocol;
    char plugin[SERVE_TEXT_MAX];    /* protocol = plugin: the shared object */
    char argument[SERVE_TEXT_MAX];  /* given to the plugin's create() */
    int port;                       /* -1 until set */
    char interface[SERVE_TEXT_MAX];
    char groups[SERVE_MAX_GROUPS][SERVE_NAME_MAX];
    int ngroups;                    /* > 0: a multicast service */
    char group_interface[SERVE_NAME_MAX];
    bool listen_multiple;
    size_t max_packet_size;
    int receive_buffer;             /* bytes, 0: the system's */
} serve_service_conf;

typedef struct serve_config {
    char user[SERVE_NAME_MAX];      /* "" keeps the starting user */
    char group[SERVE_NAME_MAX];
    char pidfile[SERVE_TEXT_MAX];
    bool syslog;                    /* log = syslog */
    double drain;                   /* seconds a graceful stop may take */
    serve_service_conf services[SERVE_MAX_SERVICES];
    int nservices;
} serve_config;

/* Read path into *out. Returns the number of errors: 0 on success; else err
 * holds one line per error, "PATH:LINE: message\n" (up to errlen), and *out
 * must not be used. */
int serve_config_load(const char *path, serve_config *out, char *err, size_t errlen);

/* The service binds the same socket as another: same port, interface and
 * groups (a reload hands that socket over). */
bool serve_conf_same_socket(const serve_service_conf *a, const serve_service_conf *b);

const char *serve_proto_name(serve_proto_kind k);

#endif
