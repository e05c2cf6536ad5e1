/* The dgram tool's command line. Pure: it reads argv and writes *out and err,
 * nothing else, so a fuzzer can drive it with any argv. */
#include "args.h"

#include <errno.h>
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "dgram.h"

/* Which commands take an option: bit (1 << command). */
enum {
    F_ECHO = 1 << CMD_ECHO,
    F_LISTEN = 1 << CMD_LISTEN,
    F_SEND = 1 << CMD_SEND,
    F_SERVE = F_ECHO | F_LISTEN,
    F_ALL = F_SERVE | F_SEND
};

typedef enum opt_id {
    O_HELP, O_PORT, O_INTERFACE, O_MAX_PACKET, O_QUIET, O_VERBOSE,
    O_IPV4, O_IPV6, O_LOCAL_PORT, O_TIMEOUT, O_GROUP, O_TTL, O_STATS
} opt_id;

typedef struct option {
    const char *name; /* after "--" */
    char letter;      /* after "-" */
    bool has_value;
    unsigned commands;
    opt_id id;
} option;

static const option options[] = {
    {"help", 'h', false, F_ALL, O_HELP},
    {"port", 'p', true, F_SERVE, O_PORT},
    {"interface", 'i', true, F_ALL, O_INTERFACE},
    {"max-packet-size", 'm', true, F_ALL, O_MAX_PACKET},
    {"quiet", 'q', false, F_ALL, O_QUIET},
    {"verbose", 'v', false, F_ALL, O_VERBOSE},
    {"ipv4", '4', false, F_SEND, O_IPV4},
    {"ipv6", '6', false, F_SEND, O_IPV6},
    {"local-port", 'l', true, F_SEND, O_LOCAL_PORT},
    {"timeout", 't', true, F_SEND, O_TIMEOUT},
    {"group", 'g', true, F_SERVE, O_GROUP},
    {"ttl", 'T', true, F_SEND, O_TTL},
    {"stats", '\0', false, F_SERVE, O_STATS}, /* long only */
};

#define NOPTIONS (sizeof options / sizeof options[0])

/* Longest --timeout: a year, far below where a double loses whole seconds. */
#define MAX_TIMEOUT (365.0 * 24 * 3600)

typedef struct parser {
    args *a;
    char *err;
    size_t errlen;
} parser;

static int usage(parser *p, const char *fmt, ...)
{
    command c = p->a->cmd;
    int n = c >= CMD_ECHO && c <= CMD_SEND
                ? snprintf(p->err, p->errlen, "dgram %s: ", args_command_name(c))
                : snprintf(p->err, p->errlen, "dgram: ");
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->errlen)
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    /* The message quotes the offending word: keep it one line, and keep an
     * argument's escape sequences from reaching the terminal (fuzz_args). */
    for (char *c = p->err; p->errlen && *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return STATUS_USAGE;
}

const char *args_command_name(command cmd)
{
    switch (cmd) {
    case CMD_ECHO: return "echo";
    case CMD_LISTEN: return "listen";
    case CMD_SEND: return "send";
    default: return "dgram";
    }
}

static command command_named(const char *word)
{
    for (command c = CMD_ECHO; c <= CMD_SEND; c++)
        if (strcmp(word, args_command_name(c)) == 0)
            return c;
    return CMD_NONE;
}

/* Only plain decimal digits: strtol alone would take "+1", " 1" and "1e3"'s 1. */
static bool parse_int(const char *s, long lo, long hi, long *out)
{
    if (!*s || strspn(s, "0123456789") != strlen(s))
        return false;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Decimal seconds such as "5" or "0.25": no sign, exponent, hex, inf or nan. */
static bool parse_seconds(const char *s, double *out)
{
    size_t whole = strspn(s, "0123456789"), fraction = 0;
    const char *rest = s + whole;
    if (*rest == '.') {
        fraction = strspn(rest + 1, "0123456789");
        rest += 1 + fraction;
    }
    if (whole + fraction == 0 || *rest)
        return false;
    double v = strtod(s, NULL);
    if (!isfinite(v) || v > MAX_TIMEOUT)
        return false;
    *out = v;
    return true;
}

static int set_port(parser *p, const char *what, const char *value, long lo, int *out)
{
    long v;
    if (!parse_int(value, lo, 65535, &v))
        return usage(p, "%s: '%s' is not a port number (%ld-65535)", what, value, lo);
    *out = (int)v;
    return STATUS_OK;
}

static int apply(parser *p, const option *o, const char *shown, const char *value)
{
    args *a = p->a;
    long v;
    switch (o->id) {
    case O_HELP:
        a->help_topic = a->cmd;
        a->cmd = CMD_HELP;
        return STATUS_OK;
    case O_PORT:
        return set_port(p, shown, value, 0, &a->port);
    case O_LOCAL_PORT:
        return set_port(p, shown, value, 0, &a->local_port);
    case O_INTERFACE:
        /* Checked once the command line is whole: with a group it may also
         * name an interface ("eth0", "2"). */
        a->interface = value;
        return STATUS_OK;
    case O_GROUP:
        if (!args_is_group(value))
            return usage(p, "%s: '%s' is not a multicast group address", shown, value);
        a->group = value;
        return STATUS_OK;
    case O_TTL:
        if (!parse_int(value, 0, 255, &v))
            return usage(p, "%s: '%s' is not a TTL (0-255)", shown, value);
        a->ttl = (int)v;
        return STATUS_OK;
    case O_MAX_PACKET:
        if (!parse_int(value, 1, DG_MAX_PACKET_SIZE_LIMIT, &v))
            return usage(p, "%s: '%s' is not a size in bytes (1-%d)", shown, value,
                         DG_MAX_PACKET_SIZE_LIMIT);
        a->max_packet_size = (size_t)v;
        return STATUS_OK;
    case O_TIMEOUT:
        if (!parse_seconds(value, &a->timeout))
            return usage(p, "%s: '%s' is not a number of seconds (0-%.0f)", shown, value,
                         MAX_TIMEOUT);
        return STATUS_OK;
    case O_QUIET:
        a->quiet = true;
        return STATUS_OK;
    case O_VERBOSE:
        a->verbose = true;
        return STATUS_OK;
    case O_STATS:
        a->stats = true;
        return STATUS_OK;
    case O_IPV4:
    case O_IPV6: {
        int family = o->id == O_IPV4 ? AF_INET : AF_INET6;
        if (a->family != AF_UNSPEC && a->family != family)
            return usage(p, "-4 and -6 cannot be used together");
        a->family = family;
        return STATUS_OK;
    }
    }
    return STATUS_OK;
}

static const option *find_option(const char *word, size_t namelen)
{
    for (size_t i = 0; i < NOPTIONS; i++) {
        const option *o = &options[i];
        if (word[1] == '-' ? (strlen(o->name) == namelen && strncmp(word + 2, o->name, namelen) == 0)
                           : word[1] == o->letter)
            return o;
    }
    return NULL;
}

/* One option word at argv[*i]: "--name", "--name=VALUE", "--name VALUE",
 * "-x", "-xVALUE" or "-x VALUE". Advances *i past a separate value. */
static int option_word(parser *p, int argc, char *const argv[], int *i)
{
    const char *word = argv[*i];
    bool is_long = word[1] == '-';
    const char *eq = is_long ? strchr(word, '=') : NULL;
    size_t namelen = is_long ? (eq ? (size_t)(eq - word - 2) : strlen(word + 2)) : 1;
    const option *o = find_option(word, namelen);
    if (!o || !(o->commands & (1u << p->a->cmd)))
        return usage(p, "unknown option '%.*s' (see 'dgram %s --help')",
                     (int)(is_long ? namelen + 2 : 2), word, args_command_name(p->a->cmd));
    char shown[32];
    if (is_long)
        snprintf(shown, sizeof shown, "--%s", o->name);
    else
        snprintf(shown, sizeof shown, "-%c", o->letter);
    const char *value = is_long ? (eq ? eq + 1 : NULL) : (word[2] ? word + 2 : NULL);
    if (!o->has_value) {
        if (value)
            return usage(p, "option '%s' takes no value", shown);
        return apply(p, o, shown, NULL);
    }
    if (!value) {
        if (*i + 1 >= argc)
            return usage(p, "option '%s' needs a value", shown);
        value = argv[++*i];
    }
    return apply(p, o, shown, value);
}

/* The operands: none for echo and listen; HOST PORT MESSAGE... for send. */
static int operand(parser *p, char *const argv[], int i, int n)
{
    args *a = p->a;
    if (a->cmd != CMD_SEND)
        return usage(p, "unexpected argument '%s' (see 'dgram %s --help')", argv[i],
                     args_command_name(a->cmd));
    if (n == 0) {
        a->host = argv[i];
        return STATUS_OK;
    }
    if (n == 1)
        return set_port(p, "PORT", argv[i], 1, &a->port);
    if (n == 2)
        a->messages = argv + i;
    a->nmessages++;
    return STATUS_OK;
}

static int parse_command(parser *p, int argc, char *const argv[])
{
    args *a = p->a;
    int noperands = 0;
    bool options_done = false;
    for (int i = 2; i < argc; i++) {
        const char *word = argv[i];
        bool looks_like_option = !options_done && word[0] == '-' && word[1];
        if (looks_like_option && a->nmessages > 0)
            /* The messages are argv's tail, so nothing may follow them but more. */
            return usage(p, "option '%s' after a MESSAGE: put options first, and '--' before "
                            "a MESSAGE that starts with '-'", word);
        int rc;
        if (looks_like_option && strcmp(word, "--") == 0) {
            options_done = true;
            continue;
        }
        if (looks_like_option)
            rc = option_word(p, argc, argv, &i);
        else
            rc = operand(p, argv, i, noperands++);
        if (rc != STATUS_OK || a->cmd == CMD_HELP)
            return rc;
    }
    if (a->cmd == CMD_SEND && noperands < 3)
        return usage(p, "missing %s (see 'dgram send --help')",
                     noperands == 0 ? "HOST" : noperands == 1 ? "PORT" : "MESSAGE");
    bool to_group = a->group || (a->cmd == CMD_SEND && args_is_group(a->host));
    dg_addr addr;
    if (*a->interface && !to_group && dg_addr_parse(&addr, a->interface, 0) < 0)
        return usage(p, "--interface: '%s' is not an IPv4 or IPv6 address", a->interface);
    if (a->ttl >= 0 && !to_group)
        return usage(p, "--ttl: HOST '%s' is not a multicast group", a->host);
    return STATUS_OK;
}

bool args_is_group(const char *host)
{
    dg_addr a;
    if (!host || dg_addr_parse(&a, host, 0) < 0)
        return false;
    if (dg_addr_family(&a) == AF_INET)
        return (ntohl(a.u.in4.sin_addr.s_addr) >> 28) == 0xe;
    return a.u.in6.sin6_addr.s6_addr[0] == 0xff;
}

int args_parse(int argc, char *const argv[], args *out, char *err, size_t errlen)
{
    *out = (args){.cmd = CMD_NONE, .help_topic = CMD_NONE, .port = 9999, .interface = "",
                  .max_packet_size = DG_DEFAULT_MAX_PACKET_SIZE, .family = AF_UNSPEC,
                  .timeout = 5.0, .ttl = -1};
    if (errlen)
        err[0] = '\0';
    parser p = {out, err, errlen};
    if (argc < 2 || !argv[1])
        return usage(&p, "missing command (see 'dgram --help')");
    const char *word = argv[1];
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0) {
        out->cmd = CMD_HELP;
        return STATUS_OK;
    }
    if (strcmp(word, "--version") == 0 || strcmp(word, "-V") == 0) {
        out->cmd = CMD_VERSION;
        return STATUS_OK;
    }
    if (strcmp(word, "help") == 0) {
        if (argc > 3)
            return usage(&p, "help: one COMMAND at most (see 'dgram --help')");
        out->help_topic = argc == 3 ? command_named(argv[2]) : CMD_NONE;
        if (argc == 3 && out->help_topic == CMD_NONE)
            return usage(&p, "help: unknown command '%s' (echo, listen, send)", argv[2]);
        out->cmd = CMD_HELP;
        return STATUS_OK;
    }
    out->cmd = command_named(word);
    if (out->cmd == CMD_NONE)
        return usage(&p, word[0] == '-' ? "unknown option '%s' (see 'dgram --help')"
                                        : "unknown command '%s' (see 'dgram --help')", word);
    return parse_command(&p, argc, argv);
}
