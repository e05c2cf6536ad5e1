/* dgram serve's configuration file, parsed by Debian's libinih (libinih-dev):
 * INI is all this needs, and libinih is small and packaged, so we write no
 * parser of our own. libinih gives no line numbers to its handler (Debian
 * builds it without INI_HANDLER_LINENO), so our reader counts the lines. */
#include "serve_config.h"

#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dgram.h"

typedef struct loader {
    FILE *f;
    const char *path;
    int line;         /* of the text inih is handling */
    bool line_done;   /* the last chunk read ended its line */
    serve_config *c;
    serve_service_conf *cur; /* the [service] being read, NULL elsewhere */
    bool in_serve;           /* in [serve] */
    bool bad_section;        /* the current section is in error: its keys are skipped */
    /* Section headers, noted by the reader: inih tells its handler only the
     * section's name, so two [service a] in a row, an empty section, or the
     * header's line would go unseen. */
    unsigned section_seq, seen_seq;
    int section_line;
    int empty_header;        /* line of a header with no key yet, or 0 */
    int errors;
    char *err;
    size_t errlen, used;
} loader;

static void error_at(loader *l, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void error_at(loader *l, int line, const char *fmt, ...)
{
    l->errors++;
    if (l->used + 1 >= l->errlen)
        return;
    int n = snprintf(l->err + l->used, l->errlen - l->used, "%s:%d: ", l->path, line);
    if (n > 0 && l->used + (size_t)n < l->errlen) {
        l->used += (size_t)n;
        va_list ap;
        va_start(ap, fmt);
        n = vsnprintf(l->err + l->used, l->errlen - l->used, fmt, ap);
        va_end(ap);
        if (n > 0)
            l->used += (size_t)n;
        if (l->used + 1 < l->errlen) {
            l->err[l->used++] = '\n';
            l->err[l->used] = '\0';
        }
    }
    if (l->used >= l->errlen)
        l->used = l->errlen - 1;
}

/* fgets for inih, counting lines; an overlong line is an error and its
 * remainder is skipped, so it is never read as a line of its own. */
static char *read_line(char *str, int num, void *stream)
{
    loader *l = stream;
    if (!fgets(str, num, l->f))
        return NULL;
    l->line++;
    size_t n = strlen(str);
    if (n && str[n - 1] != '\n' && !feof(l->f)) {
        error_at(l, l->line, "line too long (at most %d characters)", num - 2);
        int ch;
        while ((ch = fgetc(l->f)) != EOF && ch != '\n')
            ;
        str[0] = '\0'; /* a blank line to inih */
    }
    const char *t = str + strspn(str, " \t");
    if (*t == '[') {
        if (l->empty_header)
            error_at(l, l->empty_header, "empty section");
        l->section_seq++;
        l->section_line = l->empty_header = l->line;
    }
    return str;
}

static bool parse_int(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return (*out = true);
        if (strcasecmp(v, no[i]) == 0)
            return !(*out = false);
    }
    return false;
}

static bool copy(char *dst, size_t size, const char *v)
{
    size_t n = strlen(v);
    if (n >= size)
        return false;
    memcpy(dst, v, n + 1);
    return true;
}

static const char *const proto_names[] = {"echo", "discard", "daytime", "time", "plugin"};

const char *serve_proto_name(serve_proto_kind k)
{
    return k < SERVE_NO_PROTOCOL ? proto_names[k] : "(none)";
}

static void begin_section(loader *l, const char *section)
{
    l->cur = NULL;
    l->in_serve = false;
    l->bad_section = false;
    if (strcmp(section, "serve") == 0) {
        l->in_serve = true;
        return;
    }
    if (strncmp(section, "service ", 8) != 0) {
        error_at(l, l->section_line, "unknown section [%s] (expected [serve] or [service NAME])", section);
        l->bad_section = true;
        return;
    }
    const char *name = section + 8;
    while (*name == ' ')
        name++;
    bool ok = *name != '\0';
    for (const char *p = name; *p; p++)
        if (!(p[0] == '-' || p[0] == '_' || p[0] == '.' || (p[0] >= '0' && p[0] <= '9') ||
              (p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')))
            ok = false;
    if (!ok || strlen(name) >= SERVE_NAME_MAX) {
        error_at(l, l->section_line, "bad service name '%s' (letters, digits, '-', '_', '.'; at most %d)",
                 name, SERVE_NAME_MAX - 1);
        l->bad_section = true;
        return;
    }
    for (int i = 0; i < l->c->nservices; i++)
        if (strcmp(l->c->services[i].name, name) == 0) {
            error_at(l, l->section_line, "service '%s' is already defined on line %d", name,
                     l->c->services[i].line);
            l->bad_section = true;
            return;
        }
    if (l->c->nservices == SERVE_MAX_SERVICES) {
        error_at(l, l->section_line, "too many services (at most %d)", SERVE_MAX_SERVICES);
        l->bad_section = true;
        return;
    }
    serve_service_conf *s = &l->c->services[l->c->nservices++];
    memset(s, 0, sizeof *s);
    copy(s->name, sizeof s->name, name);
    s->line = l->section_line;
    s->protocol = SERVE_NO_PROTOCOL;
    s->port = -1;
    s->max_packet_size = DG_DEFAULT_MAX_PACKET_SIZE;
    l->cur = s;
}

static bool is_literal(const char *v)
{
    dg_addr a;
    return dg_addr_parse(&a, v, 0) == 0 && strcmp(v, "<broadcast>") != 0;
}

static void serve_key(loader *l, const char *name, const char *v)
{
    serve_config *c = l->c;
    if (strcmp(name, "user") == 0) {
        if (!getpwnam(v))
            error_at(l, l->line, "user: no such user '%s'", v);
        else if (!copy(c->user, sizeof c->user, v))
            error_at(l, l->line, "user: too long");
    } else if (strcmp(name, "group") == 0) {
        if (!getgrnam(v))
            error_at(l, l->line, "group: no such group '%s'", v);
        else if (!copy(c->group, sizeof c->group, v))
            error_at(l, l->line, "group: too long");
    } else if (strcmp(name, "pidfile") == 0) {
        if (v[0] != '/' || !copy(c->pidfile, sizeof c->pidfile, v))
            error_at(l, l->line, "pidfile: '%s' is not an absolute path (of at most %d characters)", v,
                     SERVE_TEXT_MAX - 1);
    } else if (strcmp(name, "log") == 0) {
        if (strcmp(v, "stderr") == 0 || strcmp(v, "syslog") == 0)
            c->syslog = v[1] == 'y';
        else
            error_at(l, l->line, "log: '%s' is not stderr or syslog", v);
    } else if (strcmp(name, "drain") == 0) {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end || !(d >= 0 && d <= 3600))
            error_at(l, l->line, "drain: '%s' is not a number of seconds from 0 to 3600", v);
        else
            c->drain = d;
    } else {
        error_at(l, l->line, "unknown key '%s' in [serve]", name);
    }
}

static void service_key(loader *l, const char *name, const char *v)
{
    serve_service_conf *s = l->cur;
    long n;
    bool b;
    if (strcmp(name, "protocol") == 0) {
        s->protocol = SERVE_NO_PROTOCOL;
        for (int i = 0; i < SERVE_NO_PROTOCOL; i++)
            if (strcmp(v, proto_names[i]) == 0)
                s->protocol = (serve_proto_kind)i;
        if (s->protocol == SERVE_NO_PROTOCOL)
            error_at(l, l->line, "protocol: '%s' is not echo, discard, daytime, time or plugin", v);
    } else if (strcmp(name, "plugin") == 0) {
        if (!copy(s->plugin, sizeof s->plugin, v) || !*v)
            error_at(l, l->line, "plugin: empty or too long");
    } else if (strcmp(name, "argument") == 0) {
        if (!copy(s->argument, sizeof s->argument, v))
            error_at(l, l->line, "argument: too long");
    } else if (strcmp(name, "port") == 0) {
        if (!parse_int(v, 0, 65535, &n))
            error_at(l, l->line, "port: '%s' is not a port number 0-65535", v);
        else
            s->port = (int)n;
    } else if (strcmp(name, "interface") == 0) {
        if (*v && (!is_literal(v) || !copy(s->interface, sizeof s->interface, v)))
            error_at(l, l->line, "interface: '%s' is not an IP address", v);
    } else if (strcmp(name, "group") == 0) {
        dg_addr a;
        bool mc = dg_addr_parse(&a, v, 0) == 0 &&
                  (dg_addr_family(&a) == AF_INET ? IN_MULTICAST(ntohl(a.u.in4.sin_addr.s_addr))
                                                  : IN6_IS_ADDR_MULTICAST(&a.u.in6.sin6_addr));
        if (!mc)
            error_at(l, l->line, "group: '%s' is not a multicast IP address", v);
        else if (s->ngroups == SERVE_MAX_GROUPS)
            error_at(l, l->line, "group: at most %d groups per service", SERVE_MAX_GROUPS);
        else if (!copy(s->groups[s->ngroups], sizeof s->groups[0], v))
            error_at(l, l->line, "group: too long");
        else
            s->ngroups++;
    } else if (strcmp(name, "group-interface") == 0) {
        if (!copy(s->group_interface, sizeof s->group_interface, v))
            error_at(l, l->line, "group-interface: too long");
    } else if (strcmp(name, "listen-multiple") == 0) {
        if (!parse_bool(v, &b))
            error_at(l, l->line, "listen-multiple: '%s' is not yes or no", v);
        else
            s->listen_multiple = b;
    } else if (strcmp(name, "max-packet-size") == 0) {
        if (!parse_int(v, 1, DG_MAX_PACKET_SIZE_LIMIT, &n))
            error_at(l, l->line, "max-packet-size: '%s' is not a size 1-%d", v,
                     DG_MAX_PACKET_SIZE_LIMIT);
        else
            s->max_packet_size = (size_t)n;
    } else if (strcmp(name, "receive-buffer") == 0) {
        if (!parse_int(v, 0, 1L << 30, &n))
            error_at(l, l->line, "receive-buffer: '%s' is not a size 0-%ld bytes", v, 1L << 30);
        else
            s->receive_buffer = (int)n;
    } else {
        error_at(l, l->line, "unknown key '%s' in [service %s]", name, s->name);
    }
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    loader *l = user;
    if (!name) /* builds with INI_CALL_HANDLER_ON_NEW_SECTION */
        return 1;
    if (l->seen_seq != l->section_seq) {
        l->seen_seq = l->section_seq;
        l->empty_header = 0;
        begin_section(l, section);
    } else if (l->section_seq == 0 && !l->bad_section) {
        error_at(l, l->line, "'%s' is outside any section", name);
        l->bad_section = true;
    }
    if (l->bad_section)
        return 1;
    if (l->in_serve)
        serve_key(l, name, value);
    else if (l->cur)
        service_key(l, name, value);
    return 1;
}

static void check_services(loader *l)
{
    if (l->c->nservices == 0 && l->errors == 0)
        error_at(l, l->line, "no [service NAME] sections: nothing to serve");
    for (int i = 0; i < l->c->nservices; i++) {
        serve_service_conf *s = &l->c->services[i];
        if (s->protocol == SERVE_NO_PROTOCOL)
            error_at(l, s->line, "service '%s' has no protocol", s->name);
        if (s->port < 0)
            error_at(l, s->line, "service '%s' has no port", s->name);
        if (s->protocol == SERVE_PLUGIN && !s->plugin[0])
            error_at(l, s->line, "service '%s': protocol = plugin needs a plugin = PATH", s->name);
        if (s->protocol != SERVE_PLUGIN && (s->plugin[0] || s->argument[0]))
            error_at(l, s->line, "service '%s': plugin and argument need protocol = plugin", s->name);
        if (!s->ngroups && (s->group_interface[0] || s->listen_multiple))
            error_at(l, s->line, "service '%s': group-interface and listen-multiple need a group",
                     s->name);
    }
}

int serve_config_load(const char *path, serve_config *out, char *err, size_t errlen)
{
    loader l = {.path = path, .c = out, .err = err, .errlen = errlen};
    memset(out, 0, sizeof *out);
    out->drain = 5;
    if (errlen)
        err[0] = '\0';
    l.f = fopen(path, "r");
    if (!l.f) {
        snprintf(err, errlen, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    ini_allow_multiline = false; /* an indented line is an error, not a continuation */
    int first_bad = ini_parse_stream(read_line, &l, handler, &l);
    fclose(l.f);
    if (l.empty_header)
        error_at(&l, l.empty_header, "empty section");
    if (first_bad > 0)
        error_at(&l, first_bad, "syntax error (expected [section], KEY = VALUE or a # comment)");
    else if (first_bad < 0)
        error_at(&l, 0, "cannot read the file");
    check_services(&l);
    return l.errors;
}

bool serve_conf_same_socket(const serve_service_conf *a, const serve_service_conf *b)
{
    if (a->port != b->port || strcmp(a->interface, b->interface) != 0 || a->ngroups != b->ngroups ||
        strcmp(a->group_interface, b->group_interface) != 0 || a->listen_multiple != b->listen_multiple)
        return false;
    for (int i = 0; i < a->ngroups; i++)
        if (strcmp(a->groups[i], b->groups[i]) != 0)
            return false;
    return true;
}
