/* libevent's echo server: libevent has no datagram model, so this is the
 * usual user code: a persistent read event on the socket, then recvfrom and
 * sendto until EAGAIN. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/event.h>
#include "bench.h"

static unsigned long long count;
static bool sink;

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what, (void)arg;
    char buf[65536];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN: wait for the next event */
        }
        count++;
        if (!sink)
            sendto(fd, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&from, len);
    }
}

static void on_stop(evutil_socket_t fd, short what, void *base)
{
    (void)fd, (void)what;
    event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
    bench_args a = bench_parse(argc, argv);
    sink = a.sink;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a.port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        perror("echo_event");
        return 1;
    }
    struct event_base *base = event_base_new();
    struct event *ev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, NULL);
    event_add(ev, NULL);
    struct timeval life = {.tv_sec = (time_t)a.seconds,
                           .tv_usec = (suseconds_t)((a.seconds - (double)(time_t)a.seconds) * 1e6)};
    struct event *timer = evtimer_new(base, on_stop, base);
    evtimer_add(timer, &life);
    struct event *sterm = evsignal_new(base, SIGTERM, on_stop, base);
    struct event *sint = evsignal_new(base, SIGINT, on_stop, base);
    evsignal_add(sterm, NULL);
    evsignal_add(sint, NULL);
    bench_ready();
    event_base_dispatch(base);
    if (a.sink)
        bench_report_count(count);
    event_free(ev);
    event_free(timer);
    event_free(sterm);
    event_free(sint);
    event_base_free(base);
    close(fd);
    return 0;
}
