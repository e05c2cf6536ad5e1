/* How the loop wakes for a timer that is not due soon: a timerfd armed at
 * its absolute due time, so the wait itself has no timeout. A timeout makes
 * the kernel arm and cancel a timer on every sleep, which on a virtual
 * machine costs about 2 us of exits each time (measured on a busy sink:
 * 1,860 ns of CPU per datagram with a timeout, 1,550 without); and the loop
 * then need not read the clock on iterations the timerfd did not end.
 * Timers due within DG_TFD_NEAR of the last clock reading (callLater(0) and
 * the like) keep the timeout: arming for them would cost two syscalls. */
#include "dg_config.h"
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>
#ifdef DGRAM_HAVE_TIMERFD
#include <sys/timerfd.h>
#endif
#include "reactor.h"

/* Opened with the reactor, so that a running reactor's descriptors do not
 * change with its timers. Without one (no timerfd, no descriptor to spare)
 * the loop uses timeouts. */
void dg__tfd_open(dg_reactor *r)
{
#ifdef DGRAM_HAVE_TIMERFD
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd >= 0 && r->backend->update(r, fd, 0, DG_READABLE) == 0) {
        r->tfd = fd;
        return;
    }
    if (fd >= 0)
        close(fd);
#else
    (void)r;
#endif
}

bool dg__tfd_wait(dg_reactor *r, double due)
{
#ifdef DGRAM_HAVE_TIMERFD
    if (r->tfd < 0 || !(due < 1e15)) /* beyond time_t: the loop's clamped timeout */
        return false;
    /* Rounded up to the nanosecond, so it never fires before due. */
    double s = floor(due);
    long ns = (long)ceil((due - s) * 1e9);
    struct itimerspec it = {.it_value = {.tv_sec = (time_t)s + ns / 1000000000L,
                                         .tv_nsec = ns % 1000000000L}};
    if (it.it_value.tv_sec == 0 && it.it_value.tv_nsec == 0)
        it.it_value.tv_nsec = 1; /* all zero would disarm it */
    if (timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &it, NULL) < 0)
        return false;
    r->tfd_armed = due;
    return true;
#else
    (void)r, (void)due;
    return false;
#endif
}

void dg__tfd_fired(dg_reactor *r)
{
    uint64_t expirations;
    while (read(r->tfd, &expirations, sizeof expirations) < 0 && errno == EINTR)
        ;
    r->tfd_armed = INFINITY;
    r->timer_by_fd = false;
}

void dg__tfd_free(dg_reactor *r)
{
    if (r->tfd >= 0)
        close(r->tfd);
    r->tfd = -1;
}
