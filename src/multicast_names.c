/* Names for the multicast calls. Twisted's joinGroup, leaveGroup and
 * setOutgoingInterface resolve a name first and answer with a Deferred; here
 * each name is looked up with dg_lookup (never blocking the loop), then the
 * literal call of multicast.c is made, and done reports its result. */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include "reactor.h"

enum mc_op { OP_JOIN, OP_LEAVE, OP_IFACE };

/* One call under way, on its port's list until done runs. */
struct dg__mc_name {
    dg__mc_name *next;
    dg_port *p;
    enum mc_op op;
    int step, nsteps;     /* text[step] is being looked up */
    dg_lookup *lookup;
    dg_call *later;       /* nothing to look up: report from the loop all the same */
    char text[2][256];    /* group (or, for OP_IFACE, the interface), interface; the
                           * names are replaced by the addresses found */
    dg_port_result_fn done;
    void *arg;
};

/* An interface may be given by name ("eth0") or index ("2") too: those are
 * not host names. */
static bool needs_lookup(const char *text, bool is_iface)
{
    dg_addr a;
    if (!*text || dg_addr_parse(&a, text, 0) == 0)
        return false;
    return !(is_iface && (if_nametoindex(text) || strspn(text, "0123456789") == strlen(text)));
}

static void finish(dg__mc_name *m, int status)
{
    dg__mc_name **pp = &m->p->mc_names;
    while (*pp != m)
        pp = &(*pp)->next;
    *pp = m->next;
    m->done(m->p, status, m->arg);
    free(m);
}

static void apply(dg__mc_name *m)
{
    const char *iface = m->text[1][0] ? m->text[1] : NULL;
    int rc = m->op == OP_JOIN    ? dg_port_join_group(m->p, m->text[0], iface)
             : m->op == OP_LEAVE ? dg_port_leave_group(m->p, m->text[0], iface)
                                 : dg_port_set_multicast_interface(m->p, m->text[0]);
    finish(m, rc);
}

static void applied_later(dg_call *c, void *arg)
{
    (void)c;
    dg__mc_name *m = arg;
    m->later = NULL;
    apply(m);
}

static void looked_up(dg_reactor *r, int status, const dg_addr *addrs, size_t n, void *arg);

/* Start the next lookup, or apply once every name is an address. Returns 0,
 * or the error of a lookup that could not start. */
static int advance(dg__mc_name *m, bool from_loop)
{
    for (; m->step < m->nsteps; m->step++) {
        bool is_iface = m->op == OP_IFACE || m->step == 1;
        if (needs_lookup(m->text[m->step], is_iface))
            return dg_lookup_start(m->p->r, m->text[m->step], m->p->family, 0, looked_up, m,
                                   &m->lookup);
    }
    if (from_loop)
        apply(m);
    else if (!(m->later = dg_call_later(m->p->r, 0, applied_later, m)))
        return -ENOMEM;
    return 0;
}

static void looked_up(dg_reactor *r, int status, const dg_addr *addrs, size_t n, void *arg)
{
    (void)r;
    (void)n;
    dg__mc_name *m = arg;
    m->lookup = NULL;
    if (status == 0) {
        dg_addr_format_host(&addrs[0], m->text[m->step], sizeof m->text[0]);
        m->step++;
        status = advance(m, true);
    }
    if (status < 0) /* the lookup's message, naming the host, stays the last error */
        finish(m, status);
}

static int start(dg_port *p, enum mc_op op, const char *first, const char *iface,
                 dg_port_result_fn done, void *arg)
{
    if (!p || p->fd < 0 || p->state == DG__CLOSED)
        return -EBADF;
    if (!first || !done)
        return -EINVAL;
    if (!iface)
        iface = "";
    if (strlen(first) >= sizeof((dg__mc_name *)0)->text[0] ||
        strlen(iface) >= sizeof((dg__mc_name *)0)->text[0])
        return dg__refuse(p->r, -EINVAL, "Couldn't resolve multicast name: longer than 255 bytes");
    dg__mc_name *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    *m = (dg__mc_name){.next = p->mc_names, .p = p, .op = op, .nsteps = op == OP_IFACE ? 1 : 2,
                       .done = done, .arg = arg};
    strcpy(m->text[0], first);
    strcpy(m->text[1], iface);
    p->mc_names = m;
    int rc = advance(m, false);
    if (rc < 0) {
        p->mc_names = m->next;
        free(m);
    }
    return rc;
}

int dg_port_join_group_name(dg_port *p, const char *group, const char *iface,
                            dg_port_result_fn done, void *arg)
{
    return start(p, OP_JOIN, group, iface, done, arg);
}

int dg_port_leave_group_name(dg_port *p, const char *group, const char *iface,
                             dg_port_result_fn done, void *arg)
{
    return start(p, OP_LEAVE, group, iface, done, arg);
}

int dg_port_set_multicast_interface_name(dg_port *p, const char *iface,
                                         dg_port_result_fn done, void *arg)
{
    return start(p, OP_IFACE, iface ? iface : "", NULL, done, arg);
}

void dg__multicast_names_cancel(dg_port *p)
{
    while (p->mc_names) {
        dg__mc_name *m = p->mc_names;
        if (m->lookup)
            dg_lookup_cancel(m->lookup);
        if (m->later)
            dg_call_cancel(m->later);
        finish(m, -ECANCELED);
    }
}
