/* The dgram tool's command line: parsing and help text, as pure functions
 * (no I/O, no exit, no allocation), so they can be tested and fuzzed alone. */
#ifndef DGRAM_TOOL_ARGS_H
#define DGRAM_TOOL_ARGS_H

#include <stdbool.h>
#include <stddef.h>

/* Exit statuses, documented in dgram --help. */
enum {
    STATUS_OK = 0,
    STATUS_FAIL = 1,     /* could not bind, resolve or connect; refused; a send failed */
    STATUS_USAGE = 2,    /* bad command line */
    STATUS_TIMEOUT = 3,  /* dgram send: not every reply came within --timeout */
    STATUS_SIGNAL = 130  /* dgram send: interrupted by SIGINT or SIGTERM */
};

typedef enum command {
    CMD_NONE,
    CMD_ECHO,
    CMD_LISTEN,
    CMD_SEND,
    CMD_HELP,    /* print help_topic's text */
    CMD_VERSION
} command;

typedef struct args {
    command cmd;
    command help_topic;      /* CMD_NONE: the general help */
    int port;                /* echo, listen: local port (default 9999); send: the peer's */
    const char *interface;   /* local IP literal; "" (default) is IPv4 any. With a group:
                                the group's interface, by address, name or index */
    const char *group;       /* echo, listen: a multicast group to join (--group) */
    int ttl;                 /* send to a group: --ttl 0-255, or -1 for the default (1) */
    size_t max_packet_size;  /* default 8192 */
    bool quiet;              /* no per-datagram lines */
    bool verbose;            /* the library's log lines on stderr */
    bool stats;              /* echo, listen: the port's counters on SIGUSR1 and at exit */
    int family;              /* send: AF_UNSPEC, AF_INET (-4) or AF_INET6 (-6) */
    int local_port;          /* send */
    double timeout;          /* send: seconds, default 5; 0 waits for ever */
    const char *host;        /* send */
    char *const *messages;   /* send: at least one, pointing into argv */
    int nmessages;
} args;

/* Parse argv (argv[0] is the program). Returns STATUS_OK, or STATUS_USAGE with a
 * one-line message naming the offending word in err (without a newline). */
int args_parse(int argc, char *const argv[], args *out, char *err, size_t errlen);

/* The manual page of a command, or the general one for CMD_NONE: a NULL-
 * terminated list of sections to print one after another. */
const char *const *args_help(command topic);

/* Whether host is a multicast IP literal (IPv4 224/4 or IPv6 ff00::/8). */
bool args_is_group(const char *host);

/* "echo", "listen", "send", or "dgram" for CMD_NONE: for messages. */
const char *args_command_name(command cmd);

#endif
