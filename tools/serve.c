/* dgram serve: an application of UDP services from a configuration file, as a
 * daemon that supervisors (systemd) expect, and that hands its sockets to a
 * new copy of itself on SIGUSR2 without losing a datagram. See
 * docs/operations.md; `dgram serve --help` is the manual. */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>
#include "dgram.h"
#include "serve_config.h"
#include "serve_protocols.h"

/* The upgraded process tells the old one it reads, through this pipe. */
#define READY_FD_ENV "DGRAM_SERVE_READY_FD"

typedef struct entry {
    serve_service_conf conf;
    dg_service *svc;
    serve_protocol *proto;
} entry;

typedef struct serve {
    const char *config_path;
    char *const *argv;        /* re-executed on SIGUSR2 */
    char exe[PATH_MAX];
    const char *exec_path;    /* --exec, else exe */
    const char *pidfile, *user, *group; /* command line, over the file's */
    bool syslog, check_only;
    serve_config *cfg;
    dg_reactor *r;
    dg_application *app;
    entry *entries[SERVE_MAX_SERVICES];
    int nentries;
    /* Sockets passed in (socket activation, or an upgrade): fds[i] named
     * names[i], until a service adopts it. */
    int nfds, fds[SERVE_MAX_SERVICES];
    char names[SERVE_MAX_SERVICES][SERVE_NAME_MAX];
    int ready_fd;             /* -1, or the pipe to tell the old process */
    int sigpipe[2];
    pid_t child;              /* the upgrade under way, or 0 */
    int child_ready;          /* its pipe's read end, or -1 */
    bool stopping, handed_over, wrote_pidfile;
    int status;
} serve;

static serve *the; /* for the signal handler's pipe only */

/* ---- logging and systemd's notify socket -------------------------------- */

static void say(serve *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(serve *s, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (s->syslog)
        syslog(level, "%s", line);
    else
        fprintf(stderr, "dgram serve[%d]: %s\n", (int)getpid(), line);
}

static void reactor_log(dg_reactor *r, const char *line, void *arg)
{
    (void)r;
    say(arg, LOG_INFO, "%s", line);
}

/* sd_notify(3) by hand: one datagram to $NOTIFY_SOCKET, a path or, with a
 * leading '@', an abstract name. No libsystemd needed. */
static void notify(serve *s, const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    memcpy(sa.sun_path, path, n);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
        say(s, LOG_WARNING, "notify %s: %s", path, strerror(errno));
    close(fd);
}

/* ---- passed sockets: LISTEN_FDS ----------------------------------------- */

/* systemd's protocol (sd_listen_fds(3)), also used by our upgrades: fds
 * 3..3+LISTEN_FDS-1, for this pid only, named by LISTEN_FDNAMES. */
static void take_passed_fds(serve *s)
{
    const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES"), *ready = getenv(READY_FD_ENV);
    bool ours = pid && nfds && strtol(pid, NULL, 10) == (long)getpid();
    int n = ours ? (int)strtol(nfds, NULL, 10) : 0;
    if (n > SERVE_MAX_SERVICES) {
        say(s, LOG_WARNING, "LISTEN_FDS=%d: only the first %d are used", n, SERVE_MAX_SERVICES);
        n = SERVE_MAX_SERVICES;
    }
    for (int i = 0; i < n; i++) {
        s->fds[s->nfds] = 3 + i;
        fcntl(3 + i, F_SETFD, FD_CLOEXEC);
        s->names[s->nfds][0] = '\0';
        if (names) {
            size_t len = strcspn(names, ":");
            if (len < SERVE_NAME_MAX) {
                memcpy(s->names[s->nfds], names, len);
                s->names[s->nfds][len] = '\0';
            }
            names = names[len] ? names + len + 1 : NULL;
        }
        s->nfds++;
    }
    s->ready_fd = ours && ready ? (int)strtol(ready, NULL, 10) : -1;
    if (s->ready_fd >= 0)
        fcntl(s->ready_fd, F_SETFD, FD_CLOEXEC);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    unsetenv(READY_FD_ENV);
}

static bool fd_matches(int fd, const serve_service_conf *c)
{
    dg_addr host, want;
    socklen_t len = sizeof host;
    if (getsockname(fd, &host.u.sa, &len) < 0)
        return false;
    if (c->port != 0 && dg_addr_port(&host) != c->port)
        return false;
    if (!c->interface[0] || dg_addr_parse(&want, c->interface, dg_addr_port(&host)) < 0)
        return c->port != 0;
    return dg_addr_equal(&host, &want);
}

/* The passed socket for c, by name (FileDescriptorName=), else by address. */
static int claim_fd(serve *s, const serve_service_conf *c)
{
    int found = -1;
    for (int i = 0; i < s->nfds && found < 0; i++)
        if (s->fds[i] >= 0 && strcmp(s->names[i], c->name) == 0)
            found = i;
    for (int i = 0; i < s->nfds && found < 0; i++)
        if (s->fds[i] >= 0 && (!s->names[i][0] || strcmp(s->names[i], "unknown") == 0) &&
            fd_matches(s->fds[i], c))
            found = i;
    if (found < 0)
        return -1;
    int fd = s->fds[found];
    s->fds[found] = -1;
    return fd;
}

static void close_unclaimed(serve *s)
{
    for (int i = 0; i < s->nfds; i++)
        if (s->fds[i] >= 0) {
            say(s, LOG_WARNING, "passed socket %d (%s) matches no service: closed", s->fds[i],
                s->names[i][0] ? s->names[i] : "unnamed");
            close(s->fds[i]);
            s->fds[i] = -1;
        }
    s->nfds = 0;
}

/* ---- services -------------------------------------------------------------- */

static void entry_free(entry *e)
{
    if (!e)
        return;
    if (e->svc)
        dg_service_remove(e->svc); /* stopped: its port closed, stop_protocol ran */
    serve_protocol_free(e->proto);
    free(e);
}

/* A service for c, on fd (adopted) if fd >= 0; not started. */
static entry *entry_new(serve *s, const serve_service_conf *c, int fd)
{
    entry *e = calloc(1, sizeof *e);
    char err[512];
    if (!e) {
        say(s, LOG_ERR, "service %s: out of memory", c->name);
        return NULL;
    }
    e->conf = *c;
    e->proto = serve_protocol_new(c, err, sizeof err);
    if (!e->proto) {
        say(s, LOG_ERR, "%s", err);
        free(e);
        return NULL;
    }
    const char *groups[SERVE_MAX_GROUPS];
    for (int i = 0; i < c->ngroups; i++)
        groups[i] = c->groups[i];
    dg_udp_server_options o;
    dg_udp_server_options_init(&o);
    o.interface = c->interface;
    o.max_packet_size = c->max_packet_size;
    o.fd = fd;
    o.rcvbuf = c->receive_buffer;
    o.groups = groups;
    o.ngroups = (size_t)c->ngroups;
    o.group_interface = c->group_interface;
    o.listen_multiple = c->listen_multiple;
    int rc = c->ngroups ? dg_multicast_server_new(s->app, c->name, c->port, serve_protocol_get(e->proto), &o, &e->svc)
                        : dg_udp_server_new(s->app, c->name, c->port, serve_protocol_get(e->proto), &o, &e->svc);
    if (rc < 0) {
        say(s, LOG_ERR, "service %s: %s", c->name, dg_strerror(rc));
        entry_free(e);
        return NULL;
    }
    return e;
}

/* Every service of the configuration, started in order; on failure none is
 * left running. */
static int start_all(serve *s)
{
    for (int i = 0; i < s->cfg->nservices; i++) {
        const serve_service_conf *c = &s->cfg->services[i];
        entry *e = entry_new(s, c, claim_fd(s, c));
        if (!e)
            return -1;
        s->entries[s->nentries++] = e;
    }
    int rc = dg_application_start(s->app);
    if (rc < 0)
        say(s, LOG_ERR, "%s", dg_reactor_last_error(s->r));
    return rc;
}

/* ---- privileges and pidfile -------------------------------------------- */

static int drop_privileges(serve *s)
{
    const char *user = s->user ? s->user : s->cfg->user;
    const char *group = s->group ? s->group : s->cfg->group;
    if (!*user && !*group)
        return 0;
    struct passwd *pw = *user ? getpwnam(user) : NULL;
    struct group *gr = *group ? getgrnam(group) : NULL;
    if ((*user && !pw) || (*group && !gr)) {
        say(s, LOG_ERR, "no such %s: %s", *user && !pw ? "user" : "group", *user && !pw ? user : group);
        return -1;
    }
    uid_t uid = pw ? pw->pw_uid : getuid();
    gid_t gid = gr ? gr->gr_gid : pw ? pw->pw_gid : getgid();
    if (getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid)
        return 0; /* already there: an upgraded process, for one */
    if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
        say(s, LOG_ERR, "cannot become %s:%s: %s", *user ? user : "-", *group ? group : "-",
            strerror(errno));
        return -1;
    }
    say(s, LOG_INFO, "running as uid %d gid %d", (int)uid, (int)gid);
    return 0;
}

static const char *pidfile(const serve *s)
{
    return s->pidfile ? s->pidfile : s->cfg->pidfile;
}

static void write_pidfile(serve *s)
{
    const char *path = pidfile(s);
    if (!*path)
        return;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    /* Written whole and renamed into place: a reader never sees half a pid. */
    if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
        say(s, LOG_WARNING, "pidfile %s: %s", path, strerror(errno));
        unlink(tmp);
        return;
    }
    s->wrote_pidfile = true;
}

/* ---- stopping -------------------------------------------------------------- */

static void stopped(dg_application *app, void *arg)
{
    serve *s = arg;
    (void)app;
    dg_reactor_stop(s->r);
}

static void begin_stop(serve *s, const char *why)
{
    if (s->stopping) {
        say(s, LOG_INFO, "%s again: stopping now", why);
        dg_reactor_stop(s->r);
        return;
    }
    s->stopping = true;
    if (!s->handed_over)
        notify(s, "STOPPING=1");
    say(s, LOG_INFO, "%s: stopping (drain %g s)", why, s->cfg->drain);
    for (int i = 0; i < s->nentries; i++) {
        dg_port_stats st;
        if (dg_port_get_stats(dg_service_port(s->entries[i]->svc), &st) == 0)
            say(s, LOG_INFO, "service %s: received %llu, discarded %llu, kernel drops %llu, "
                "send errors %llu", s->entries[i]->conf.name, (unsigned long long)st.rx_datagrams,
                (unsigned long long)st.rx_discarded, (unsigned long long)st.rx_kernel_drops,
                (unsigned long long)st.tx_errors);
    }
    dg_application_stop(s->app, s->cfg->drain, stopped, s);
}

/* ---- reload (SIGHUP) ------------------------------------------------------- */

static bool same_conf(const serve_service_conf *a, const serve_service_conf *b)
{
    return serve_conf_same_socket(a, b) && a->protocol == b->protocol &&
           strcmp(a->plugin, b->plugin) == 0 && strcmp(a->argument, b->argument) == 0 &&
           a->max_packet_size == b->max_packet_size && a->receive_buffer == b->receive_buffer;
}

/* Services added start, removed ones stop; an unchanged one runs on, and one
 * changed on the same address gets its old socket (so its port and queued
 * datagrams stay). A bad file changes nothing. */
static void reload(serve *s)
{
    notify(s, "RELOADING=1");
    serve_config *next = malloc(sizeof *next);
    char err[4096];
    if (!next || serve_config_load(s->config_path, next, err, sizeof err) != 0) {
        say(s, LOG_ERR, "reload: %s unchanged, the file has errors:\n%s", s->config_path,
            next ? err : "out of memory");
        free(next);
        notify(s, "READY=1");
        return;
    }
    entry *old[SERVE_MAX_SERVICES];
    int nold = s->nentries, kept = 0, added = 0, removed = 0;
    memcpy(old, s->entries, sizeof old);
    s->nentries = 0;
    entry *keep[SERVE_MAX_SERVICES] = {0};
    int reuse_fd[SERVE_MAX_SERVICES];
    for (int i = 0; i < next->nservices; i++) {
        reuse_fd[i] = -1;
        for (int j = 0; j < nold; j++) {
            if (!old[j] || strcmp(old[j]->conf.name, next->services[i].name) != 0)
                continue;
            dg_port *p = dg_service_port(old[j]->svc);
            /* Port 0 was an ephemeral port: the one it got is the same
             * address as a configuration that names it now. */
            serve_service_conf was = old[j]->conf;
            dg_addr host;
            if (was.port == 0 && next->services[i].port != 0 && p && dg_port_get_host(p, &host) == 0)
                was.port = dg_addr_port(&host);
            if (same_conf(&old[j]->conf, &next->services[i]) && p) {
                keep[i] = old[j];
                old[j] = NULL;
            } else if (serve_conf_same_socket(&was, &next->services[i]) && p) {
                reuse_fd[i] = fcntl(dg_port_fd(p), F_DUPFD_CLOEXEC, 0);
            }
        }
    }
    for (int j = nold - 1; j >= 0; j--)
        if (old[j]) {
            dg_service_stop(old[j]->svc, 0, NULL, NULL);
            entry_free(old[j]);
            removed++;
        }
    for (int i = 0; i < next->nservices; i++) {
        entry *e = keep[i];
        if (e) {
            e->conf = next->services[i];
            kept++;
        } else if ((e = entry_new(s, &next->services[i], reuse_fd[i])) != NULL) {
            if (dg_service_start(e->svc) < 0) {
                say(s, LOG_ERR, "reload: %s", dg_reactor_last_error(s->r));
                entry_free(e);
                e = NULL;
            } else {
                added++;
            }
        }
        if (reuse_fd[i] >= 0)
            close(reuse_fd[i]);
        if (e)
            s->entries[s->nentries++] = e;
    }
    free(s->cfg);
    s->cfg = next;
    say(s, LOG_INFO, "reloaded %s: %d kept, %d started, %d stopped", s->config_path, kept, added,
        removed);
    notify(s, "READY=1");
}

/* ---- upgrade (SIGUSR2) ------------------------------------------------------ */

static void child_ready(dg_reactor *r, int fd, unsigned events, void *arg)
{
    serve *s = arg;
    char c;
    (void)events;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR)
        return;
    dg_reactor_remove_reader(r, fd);
    close(fd);
    s->child_ready = -1;
    if (n == 1) {
        /* The new process reads from every socket now: stop reading, deliver
         * what this process has read already, and go. */
        say(s, LOG_INFO, "upgrade: pid %d is serving; this process stops reading", (int)s->child);
        s->handed_over = true;
        begin_stop(s, "upgrade");
    } else {
        say(s, LOG_ERR, "upgrade: pid %d exited before it was ready; still serving", (int)s->child);
        s->child = 0;
    }
}

static void upgrade(serve *s)
{
    if (s->child || s->stopping) {
        say(s, LOG_WARNING, "upgrade: already under way");
        return;
    }
    int fds[SERVE_MAX_SERVICES], n = 0;
    char names[SERVE_MAX_SERVICES * SERVE_NAME_MAX + 1] = "";
    for (int i = 0; i < s->nentries; i++) {
        dg_port *p = dg_service_port(s->entries[i]->svc);
        if (!p)
            continue;
        fds[n++] = dg_port_fd(p);
        if (n > 1)
            strcat(names, ":");
        strcat(names, s->entries[i]->conf.name);
    }
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        say(s, LOG_ERR, "upgrade: pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* Lay the sockets out as systemd would, fds 3.., then the pipe; the
         * copies in between are close-on-exec, the final ones not. */
        int high = 3 + n + 1, tmp[SERVE_MAX_SERVICES + 1];
        for (int i = 0; i < n; i++)
            tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, high);
        tmp[n] = fcntl(ready[1], F_DUPFD_CLOEXEC, high);
        for (int i = 0; i <= n; i++)
            if (tmp[i] < 0 || dup2(tmp[i], 3 + i) < 0)
                _exit(127);
        char num[32];
        snprintf(num, sizeof num, "%d", n);
        setenv("LISTEN_FDS", num, 1);
        setenv("LISTEN_FDNAMES", names, 1);
        snprintf(num, sizeof num, "%d", (int)getpid());
        setenv("LISTEN_PID", num, 1);
        snprintf(num, sizeof num, "%d", 3 + n);
        setenv(READY_FD_ENV, num, 1);
        execv(s->exec_path, s->argv);
        fprintf(stderr, "dgram serve[%d]: upgrade: cannot run %s: %s\n", (int)getpid(), s->exec_path,
                strerror(errno));
        _exit(127);
    }
    close(ready[1]);
    if (pid < 0) {
        say(s, LOG_ERR, "upgrade: fork: %s", strerror(errno));
        close(ready[0]);
        return;
    }
    s->child = pid;
    s->child_ready = ready[0];
    dg_reactor_add_reader(s->r, ready[0], child_ready, s);
    say(s, LOG_INFO, "upgrade: started %s as pid %d with %d sockets", s->exec_path, (int)pid, n);
}

/* ---- signals ---------------------------------------------------------------- */

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (the && write(the->sigpipe[1], &b, 1) < 0) {
        /* The pipe is full: signals already wait there. */
    }
    errno = saved;
}

static void signal_ready(dg_reactor *r, int fd, unsigned events, void *arg)
{
    serve *s = arg;
    unsigned char sigs[64];
    (void)r;
    (void)events;
    ssize_t n = read(fd, sigs, sizeof sigs);
    for (ssize_t i = 0; i < n; i++) {
        switch (sigs[i]) {
        case SIGTERM:
            begin_stop(s, "SIGTERM");
            break;
        case SIGINT:
            begin_stop(s, "SIGINT");
            break;
        case SIGHUP:
            if (!s->stopping)
                reload(s);
            break;
        case SIGUSR2:
            upgrade(s);
            break;
        case SIGCHLD:
            for (pid_t pid; (pid = waitpid(-1, NULL, WNOHANG)) > 0;)
                if (pid == s->child && s->child_ready < 0 && !s->handed_over)
                    s->child = 0;
            break;
        }
    }
}

static int install_signals(serve *s)
{
    if (pipe2(s->sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    the = s;
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return dg_reactor_add_reader(s->r, s->sigpipe[0], signal_ready, s);
}

/* ---- the command line ------------------------------------------------------ */

static int usage(const char *fmt, const char *word)
{
    fprintf(stderr, "dgram serve: ");
    fprintf(stderr, fmt, word);
    fprintf(stderr, " (dgram serve --help)\n");
    return SERVE_USAGE;
}

static int parse(serve *s, int argc, char **argv, bool *help)
{
    static const char *const valued[] = {"--pidfile", "--user", "--group", "--exec"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *help = true;
            return 0;
        }
        if (strcmp(a, "--syslog") == 0) {
            s->syslog = true;
            continue;
        }
        if (strcmp(a, "--check") == 0) {
            s->check_only = true;
            continue;
        }
        bool known = false;
        for (size_t k = 0; k < 4 && !known; k++) {
            size_t n = strlen(valued[k]);
            if (strncmp(a, valued[k], n) != 0 || (a[n] != '\0' && a[n] != '='))
                continue;
            known = true;
            const char *v = a[n] == '=' ? a + n + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!v || !*v)
                return usage("%s needs a value", valued[k]);
            const char **slot[] = {&s->pidfile, &s->user, &s->group, &s->exec_path};
            *slot[k] = v;
        }
        if (known)
            continue;
        if (a[0] == '-' && a[1])
            return usage("unknown option '%s'", a);
        if (s->config_path)
            return usage("one CONFIG only, got '%s' too", a);
        s->config_path = a;
    }
    if (!s->config_path)
        return usage("%s", "missing CONFIG");
    if (s->pidfile && s->pidfile[0] != '/')
        return usage("--pidfile '%s' is not an absolute path", s->pidfile);
    if (s->user && !getpwnam(s->user))
        return usage("--user: no such user '%s'", s->user);
    if (s->group && !getgrnam(s->group))
        return usage("--group: no such group '%s'", s->group);
    return 0;
}

static void cleanup(serve *s)
{
    dg_application_free(s->app);
    for (int i = 0; i < s->nentries; i++) {
        s->entries[i]->svc = NULL; /* freed with the application */
        entry_free(s->entries[i]);
    }
    close_unclaimed(s);
    if (s->child_ready >= 0)
        close(s->child_ready);
    dg_reactor_free(s->r);
    if (s->sigpipe[0] >= 0) {
        close(s->sigpipe[0]);
        close(s->sigpipe[1]);
    }
    /* After a hand-over the pidfile holds the new pid: leave it. */
    if (s->wrote_pidfile && !s->handed_over)
        unlink(pidfile(s));
    free(s->cfg);
    if (s->syslog)
        closelog();
}

int serve_main(int argc, char **argv)
{
    static serve s;
    s = (serve){.argv = argv - 1, .ready_fd = -1, .sigpipe = {-1, -1}, .child_ready = -1};
    bool help = false;
    int rc = parse(&s, argc, argv, &help);
    if (rc != 0)
        return rc;
    if (help) {
        for (const char *const *section = serve_help(); *section; section++)
            fputs(*section, stdout);
        return SERVE_OK;
    }
    ssize_t len = readlink("/proc/self/exe", s.exe, sizeof s.exe - 1);
    s.exe[len > 0 ? len : 0] = '\0';
    if (!s.exec_path)
        s.exec_path = s.exe;
    s.cfg = malloc(sizeof *s.cfg);
    char *err = malloc(16384);
    if (!s.cfg || !err) {
        free(s.cfg);
        free(err);
        fprintf(stderr, "dgram serve: out of memory\n");
        return SERVE_FAIL;
    }
    int errors = serve_config_load(s.config_path, s.cfg, err, 16384);
    if (errors) {
        fprintf(stderr, "%sdgram serve: %d error%s in %s: nothing started\n", err, errors,
                errors == 1 ? "" : "s", s.config_path);
        free(err);
        free(s.cfg);
        return SERVE_CONFIG;
    }
    free(err);
    if (s.check_only) {
        printf("%s: %d services, no errors\n", s.config_path, s.cfg->nservices);
        free(s.cfg);
        return SERVE_OK;
    }
    s.syslog = s.syslog || s.cfg->syslog;
    if (s.syslog)
        openlog("dgram-serve", LOG_PID, LOG_DAEMON);
    take_passed_fds(&s);

    dg_reactor_options o;
    dg_reactor_options_init(&o);
    o.log = reactor_log;
    o.log_arg = &s;
    s.status = SERVE_FAIL;
    if ((rc = dg_reactor_new(&o, &s.r)) < 0 || (rc = dg_application_new(s.r, &s.app)) < 0) {
        say(&s, LOG_ERR, "%s", dg_strerror(rc));
    } else if (install_signals(&s) == 0 && start_all(&s) == 0 && drop_privileges(&s) == 0) {
        close_unclaimed(&s);
        write_pidfile(&s);
        if (s.ready_fd >= 0) {
            /* The old process stops reading once this byte arrives. */
            if (write(s.ready_fd, "R", 1) != 1)
                say(&s, LOG_WARNING, "upgrade: cannot tell the old process: %s", strerror(errno));
            close(s.ready_fd);
            s.ready_fd = -1;
            char msg[64];
            snprintf(msg, sizeof msg, "MAINPID=%d\nREADY=1", (int)getpid());
            notify(&s, msg);
        } else {
            notify(&s, "READY=1");
        }
        say(&s, LOG_INFO, "ready: %d services from %s", s.nentries, s.config_path);
        s.status = dg_reactor_run(s.r) == 0 ? SERVE_OK : SERVE_FAIL;
        say(&s, LOG_INFO, "stopped%s", s.handed_over ? " (handed over)" : "");
    } else {
        say(&s, LOG_ERR, "nothing started");
        if (s.ready_fd >= 0)
            close(s.ready_fd); /* EOF: the old process keeps serving */
        s.ready_fd = -1;
    }
    cleanup(&s);
    return s.status;
}
