/* Services and applications: Twisted's IService and MultiService, and its
 * internet.UDPServer over our ports. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reactor.h"

enum svc_state { SVC_STOPPED, SVC_RUNNING, SVC_STOPPING };

struct dg_service {
    dg_application *app;
    const dg_service_ops *ops;
    void *arg;
    enum svc_state state;
    bool fresh; /* started by the dg_application_start() under way */
    bool finishing; /* inside stop_now's stop call: it reports, after the call */
    dg_service_done_fn done;
    void *done_arg;
    dg_call *deadline;
    dg_service *prev, *next;
    char name[];
};

struct dg_application {
    dg_reactor *r;
    dg_service *head, *tail;
    bool stopping;
    double drain_end;
    dg_application_done_fn done;
    void *done_arg;
};

int dg_application_new(dg_reactor *r, dg_application **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!r)
        return -EINVAL;
    dg_application *app = calloc(1, sizeof *app);
    if (!app)
        return -ENOMEM;
    app->r = r;
    *out = app;
    return 0;
}

int dg_service_new(dg_application *app, const char *name, const dg_service_ops *ops, void *arg,
                   dg_service **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!app || !name || !*name || !ops)
        return -EINVAL;
    if (dg_application_find(app, name))
        return dg__refuse(app->r, -EEXIST, "Couldn't add service %s: the name is taken", name);
    size_t len = strlen(name) + 1;
    dg_service *s = calloc(1, sizeof *s + len);
    if (!s)
        return -ENOMEM;
    *s = (dg_service){.app = app, .ops = ops, .arg = arg, .prev = app->tail};
    memcpy(s->name, name, len);
    if (app->tail)
        app->tail->next = s;
    else
        app->head = s;
    app->tail = s;
    *out = s;
    return 0;
}

/* ---- stopping ----------------------------------------------------------- */

/* Tell the stop's done, last: done may remove the service, so nothing may
 * touch s after this. */
static void report_stopped(dg_service *s)
{
    dg_service_done_fn done = s->done;
    s->done = NULL;
    if (done)
        done(s, s->done_arg);
}

void dg_service_stopped(dg_service *s)
{
    if (!s || s->state != SVC_STOPPING)
        return;
    if (s->deadline)
        dg_call_cancel(s->deadline);
    s->deadline = NULL;
    s->state = SVC_STOPPED;
    if (!s->finishing)
        report_stopped(s);
}

/* Tell a stopping service to finish now; one that does not is taken as
 * stopped, so a stop always ends. */
static void stop_now(dg_service *s)
{
    if (s->deadline)
        dg_call_cancel(s->deadline);
    s->deadline = NULL;
    s->finishing = true;
    if (s->ops->stop)
        s->ops->stop(s, true, s->arg);
    s->finishing = false;
    s->state = SVC_STOPPED;
    report_stopped(s);
}

static void deadline_passed(dg_call *c, void *arg)
{
    dg_service *s = arg;
    (void)c;
    s->deadline = NULL; /* the handle is gone once this returns */
    stop_now(s);
}

int dg_service_stop(dg_service *s, double drain, dg_service_done_fn done, void *arg)
{
    if (!s)
        return -EINVAL;
    if (!(drain >= 0) || isinf(drain))
        return -EINVAL;
    if (s->state != SVC_RUNNING)
        return -EALREADY;
    s->state = SVC_STOPPING;
    s->done = done;
    s->done_arg = arg;
    if (drain <= 0 || !s->ops->stop) {
        stop_now(s);
        return 0;
    }
    /* Without a timer the stop could hang for ever: then stop at once. */
    s->deadline = dg_call_later(s->app->r, drain, deadline_passed, s);
    if (!s->deadline) {
        stop_now(s);
        return 0;
    }
    s->ops->stop(s, false, s->arg);
    return 0;
}

static dg_service *last_running(dg_application *app)
{
    for (dg_service *s = app->tail; s; s = s->prev)
        if (s->state == SVC_RUNNING)
            return s;
    return NULL;
}

static void stop_next(dg_service *stopped, void *arg);

static void stop_step(dg_application *app)
{
    dg_service *s = last_running(app);
    if (!s) {
        app->stopping = false;
        dg_application_done_fn done = app->done;
        app->done = NULL;
        if (done)
            done(app, app->done_arg);
        return;
    }
    double left = app->drain_end - dg_reactor_now(app->r);
    dg_service_stop(s, left > 0 ? left : 0, stop_next, app);
}

static void stop_next(dg_service *stopped, void *arg)
{
    (void)stopped;
    stop_step(arg);
}

int dg_application_stop(dg_application *app, double drain, dg_application_done_fn done, void *arg)
{
    if (!app || !(drain >= 0) || isinf(drain))
        return -EINVAL;
    if (app->stopping)
        return -EALREADY;
    app->stopping = true;
    app->drain_end = dg_reactor_now(app->r) + drain;
    app->done = done;
    app->done_arg = arg;
    stop_step(app);
    return 0;
}

/* ---- starting ----------------------------------------------------------- */

int dg_service_fail(dg_service *s, int err, const char *fmt, ...)
{
    char msg[sizeof s->app->r->last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dg__fail(s->app->r, err, "%s", msg);
}

int dg_service_start(dg_service *s)
{
    if (!s)
        return -EINVAL;
    if (s->state != SVC_STOPPED)
        return -EALREADY;
    dg_reactor *r = s->app->r;
    r->last_error[0] = '\0'; /* so a start that records nothing is told apart */
    int rc = s->ops->start ? s->ops->start(s, s->arg) : 0;
    if (rc < 0) {
        char reason[sizeof r->last_error];
        snprintf(reason, sizeof reason, "%s", r->last_error[0] ? r->last_error : dg_strerror(rc));
        size_t n = strlen(reason);
        if (n && reason[n - 1] == '.')
            reason[n - 1] = '\0';
        return dg__refuse(r, rc, "Service %s failed to start: %s", s->name, reason);
    }
    s->state = SVC_RUNNING;
    return 0;
}

int dg_application_start(dg_application *app)
{
    if (!app)
        return -EINVAL;
    if (app->stopping)
        return -EALREADY;
    int rc = 0;
    for (dg_service *s = app->head; s && rc == 0; s = s->next) {
        s->fresh = false;
        if (s->state == SVC_STOPPED && (rc = dg_service_start(s)) == 0)
            s->fresh = true;
    }
    if (rc < 0) {
        /* Undo this call's starts, last first, keeping the start's message. */
        char msg[sizeof app->r->last_error];
        memcpy(msg, app->r->last_error, sizeof msg);
        for (dg_service *s = app->tail; s; s = s->prev)
            if (s->fresh && s->state == SVC_RUNNING)
                dg_service_stop(s, 0, NULL, NULL);
        memcpy(app->r->last_error, msg, sizeof msg);
    }
    for (dg_service *s = app->head; s; s = s->next)
        s->fresh = false;
    return rc;
}

/* ---- the rest ------------------------------------------------------------- */

int dg_service_remove(dg_service *s)
{
    if (!s)
        return -EINVAL;
    if (s->state != SVC_STOPPED)
        return -EBUSY;
    dg_application *app = s->app;
    if (s->prev)
        s->prev->next = s->next;
    else
        app->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        app->tail = s->prev;
    if (s->ops->release)
        s->ops->release(s, s->arg);
    free(s);
    return 0;
}

void dg_application_free(dg_application *app)
{
    if (!app)
        return;
    for (dg_service *s = app->tail; s; s = s->prev) {
        s->done = NULL; /* nobody is left to tell */
        if (s->state == SVC_RUNNING) {
            s->state = SVC_STOPPING;
            stop_now(s);
        } else if (s->state == SVC_STOPPING) {
            stop_now(s);
        }
    }
    while (app->head)
        dg_service_remove(app->head);
    free(app);
}

dg_service *dg_application_find(const dg_application *app, const char *name)
{
    for (dg_service *s = app && name ? app->head : NULL; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

dg_service *dg_application_first(const dg_application *app)
{
    return app ? app->head : NULL;
}

dg_service *dg_service_next(const dg_service *s)
{
    return s ? s->next : NULL;
}

const char *dg_service_name(const dg_service *s)
{
    return s ? s->name : "";
}

dg_reactor *dg_service_reactor(const dg_service *s)
{
    return s ? s->app->r : NULL;
}

bool dg_service_running(const dg_service *s)
{
    return s && s->state == SVC_RUNNING;
}

/* ---- UDP and multicast servers ---------------------------------------- */

typedef struct udp_server {
    dg_protocol *proto;
    int port_number;
    bool multicast;
    dg_udp_server_options o; /* its strings point into strings below */
    dg_port *port;
    char **groups;
    char *strings;
} udp_server;

static const dg_service_ops udp_server_ops;

void dg_udp_server_options_init(dg_udp_server_options *o)
{
    memset(o, 0, sizeof *o);
    o->interface = "";
    o->max_packet_size = DG_DEFAULT_MAX_PACKET_SIZE;
    o->fd = -1;
    o->group_interface = "";
}

static void set_rcvbuf(int fd, int bytes)
{
    /* FORCE passes net.core.rmem_max when privileged; otherwise the plain
     * option, which the kernel caps. The kernel doubles either. */
    if (bytes <= 0)
        return;
#ifdef SO_RCVBUFFORCE
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) == 0)
        return;
#endif
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

static int adopt(dg_service *s, udp_server *u)
{
    dg_addr host;
    socklen_t len = sizeof host;
    dg_reactor *r = dg_service_reactor(s);
    if (getsockname(u->o.fd, &host.u.sa, &len) < 0)
        return dg_service_fail(s, -errno, "Couldn't adopt descriptor %d", u->o.fd);
    dg_listen_options lo;
    dg_listen_options_init(&lo);
    lo.max_packet_size = u->o.max_packet_size;
    return dg_adopt_datagram_port(r, u->o.fd, host.u.sa.sa_family, u->proto, &lo, &u->port);
}

/* The port has closed (stop_protocol has run); a stop under way is done. */
static void port_done(dg_port *p, void *arg)
{
    dg_service *s = arg;
    udp_server *u = s->arg;
    (void)p;
    u->port = NULL;
    dg_service_stopped(s);
}

static int udp_server_start(dg_service *s, void *arg)
{
    udp_server *u = arg;
    dg_reactor *r = dg_service_reactor(s);
    int rc;
    if (u->o.fd >= 0) {
        rc = adopt(s, u);
    } else if (u->multicast) {
        dg_multicast_options mo;
        dg_multicast_options_init(&mo);
        mo.interface = u->o.interface;
        mo.max_packet_size = u->o.max_packet_size;
        mo.listen_multiple = u->o.listen_multiple;
        rc = dg_listen_multicast(r, u->port_number, u->proto, &mo, &u->port);
    } else {
        dg_listen_options lo;
        dg_listen_options_init(&lo);
        lo.interface = u->o.interface;
        lo.max_packet_size = u->o.max_packet_size;
        rc = dg_listen_udp(r, u->port_number, u->proto, &lo, &u->port);
    }
    if (rc < 0)
        return rc;
    if (!u->port)
        return dg_service_fail(s, -ECONNABORTED, "Couldn't start %s: its protocol closed the port "
                               "in start_protocol", dg_service_name(s));
    /* Told of any close, also one we did not ask for (the reactor's
     * shutdown, the protocol closing its transport), so u->port never
     * dangles; the owner hook, which no stop call replaces. */
    u->port->owner_done = port_done;
    u->port->owner_arg = s;
    set_rcvbuf(dg_port_fd(u->port), u->o.rcvbuf);
    for (size_t i = 0; i < u->o.ngroups && rc == 0; i++) {
        rc = dg_port_join_group(u->port, u->groups[i], u->o.group_interface);
        if (rc == -EADDRINUSE && u->o.fd >= 0)
            rc = 0; /* the adopted socket is a member already */
    }
    if (rc < 0) {
        dg_port_close(u->port);
        u->port = NULL;
    }
    return rc;
}

/* Reading ends now; the close, and so stop_protocol, follows on the next
 * iteration (which sends any replies write batching still holds). */
static void udp_server_stop(dg_service *s, bool now, void *arg)
{
    udp_server *u = arg;
    if (!u->port) {
        dg_service_stopped(s);
        return;
    }
    if (!now && dg_port_stop_listening(u->port, NULL, NULL) == 0)
        return;
    /* port_done, run from the close, marks the service stopped (and its
     * done may remove it: nothing follows). */
    dg_port_close(u->port);
}

static void udp_server_release(dg_service *s, void *arg)
{
    udp_server *u = arg;
    (void)s;
    free(u->groups);
    free(u->strings);
    free(u);
}

static const dg_service_ops udp_server_ops = {
    .start = udp_server_start, .stop = udp_server_stop, .release = udp_server_release};

static int server_new(dg_application *app, const char *name, int port, dg_protocol *proto,
                      const dg_udp_server_options *o, bool multicast, dg_service **out)
{
    dg_udp_server_options defaults;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!o) {
        dg_udp_server_options_init(&defaults);
        o = &defaults;
    }
    if (!app || !proto || port < 0 || port > 65535 || o->rcvbuf < 0 ||
        (o->ngroups && !o->groups) || (o->ngroups && !multicast))
        return -EINVAL;
    const char *iface = o->interface ? o->interface : "";
    const char *giface = o->group_interface ? o->group_interface : "";
    size_t total = strlen(iface) + strlen(giface) + 2;
    for (size_t i = 0; i < o->ngroups; i++) {
        if (!o->groups[i])
            return -EINVAL;
        total += strlen(o->groups[i]) + 1;
    }
    udp_server *u = calloc(1, sizeof *u);
    char *strings = malloc(total);
    char **groups = calloc(o->ngroups + 1, sizeof *groups);
    if (!u || !strings || !groups) {
        free(u);
        free(strings);
        free(groups);
        return -ENOMEM;
    }
    *u = (udp_server){.proto = proto, .port_number = port, .multicast = multicast, .o = *o,
                      .groups = groups, .strings = strings};
    char *at = strings;
    u->o.interface = strcpy(at, iface);
    at += strlen(iface) + 1;
    u->o.group_interface = strcpy(at, giface);
    at += strlen(giface) + 1;
    for (size_t i = 0; i < o->ngroups; i++) {
        groups[i] = strcpy(at, o->groups[i]);
        at += strlen(at) + 1;
    }
    u->o.groups = (const char *const *)groups;
    int rc = dg_service_new(app, name, &udp_server_ops, u, out);
    if (rc < 0)
        udp_server_release(NULL, u);
    return rc;
}

int dg_udp_server_new(dg_application *app, const char *name, int port, dg_protocol *proto,
                      const dg_udp_server_options *o, dg_service **out)
{
    return server_new(app, name, port, proto, o, false, out);
}

int dg_multicast_server_new(dg_application *app, const char *name, int port, dg_protocol *proto,
                            const dg_udp_server_options *o, dg_service **out)
{
    return server_new(app, name, port, proto, o, true, out);
}

dg_port *dg_service_port(const dg_service *s)
{
    if (!s || s->ops != &udp_server_ops || s->state != SVC_RUNNING)
        return NULL;
    return ((const udp_server *)s->arg)->port;
}
