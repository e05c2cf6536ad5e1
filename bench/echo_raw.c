/* The floor: no reactor, one blocking recvmmsg and one sendmmsg per batch.
 * What is left of an echo server once every user-space cost is gone, so
 * its rate is the cost of the syscalls themselves. */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "bench.h"

#define BATCH 64
#define SLOT 2048

int main(int argc, char **argv)
{
    bench_args a = bench_parse(argc, argv);
    bench_stop_on_signals();
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a.port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        perror("echo_raw");
        return 1;
    }
    /* The lifetime bound is checked whenever the socket is idle this long. */
    struct timeval tv = {.tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    static unsigned char buf[BATCH][SLOT];
    static struct sockaddr_in from[BATCH];
    static struct iovec iov[BATCH];
    static struct mmsghdr msgs[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){.iov_base = buf[i], .iov_len = SLOT};
        msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_iov = &iov[i],
                                          .msg_iovlen = 1};
    }
    unsigned long long count = 0;
    double deadline = bench_now() + a.seconds;
    bench_ready();
    int used = BATCH; /* slots the last batch changed, to reset */
    while (!bench_stop) {
        for (int i = 0; i < used; i++) {
            iov[i].iov_len = SLOT;
            msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        used = 0;
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if ((errno != EAGAIN && errno != EINTR) || bench_now() > deadline)
                break;
            continue;
        }
        count += (unsigned)n;
        used = n;
        if (a.sink)
            continue;
        for (int i = 0; i < n; i++)
            iov[i].iov_len = msgs[i].msg_len;
        for (int sent = 0; sent < n;) {
            int k = sendmmsg(fd, msgs + sent, (unsigned)(n - sent), 0);
            if (k < 0)
                break; /* drop the rest, as a real server under ENOBUFS would */
            sent += k;
        }
    }
    if (a.sink)
        bench_report_count(count);
    return 0;
}
