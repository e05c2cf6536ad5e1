/* Opt-in SIGINT/SIGTERM handling: the handler only sets a flag and wakes the
 * loop; the loop then stops as dg_reactor_stop() would. Signal dispositions
 * are process-wide, so one reactor at a time may own them. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include "reactor.h"

static dg_reactor *volatile owner;
static volatile sig_atomic_t caught;
static struct sigaction saved_int, saved_term;

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno; /* the interrupted code may be about to read it */
    caught = 1;
    dg_reactor *r = owner;
    if (r)
        dg__wakeup(r);
    errno = saved;
}

int dg__signals_install(dg_reactor *r)
{
    if (owner)
        return -EBUSY;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    caught = 0;
    owner = r;
    if (sigaction(SIGINT, &sa, &saved_int) < 0)
        return owner = NULL, -errno;
    if (sigaction(SIGTERM, &sa, &saved_term) < 0) {
        int err = -errno;
        sigaction(SIGINT, &saved_int, NULL);
        owner = NULL;
        return err;
    }
    r->signals = true;
    return 0;
}

void dg__signals_remove(dg_reactor *r)
{
    if (!r->signals)
        return;
    sigaction(SIGINT, &saved_int, NULL);
    sigaction(SIGTERM, &saved_term, NULL);
    owner = NULL;
    r->signals = false;
}

bool dg__signals_take(dg_reactor *r)
{
    if (!r->signals || !caught)
        return false;
    caught = 0;
    return true;
}
