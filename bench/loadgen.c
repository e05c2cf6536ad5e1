/* The load generator: one connected UDP socket on loopback, batched with
 * sendmmsg/recvmmsg so that it costs less per datagram than any server.
 *
 *   loadgen echo   PORT SIZE WINDOW SECONDS  keep WINDOW datagrams in flight;
 *                                            prints "RATE <echoed datagrams/s>
 *                                            STALLS <window losses> TOTAL <echoes,
 *                                            warm-up included>"
 *   loadgen ingest PORT SIZE SECONDS         send as fast as possible, one way;
 *                                            prints "SENT <n> <seconds>"
 *   loadgen pingmany SIZE COUNT WARMUP PORT...
 *                                            as ping, one in flight in all, but
 *                                            to each port in turn, so that every
 *                                            server is timed under the same
 *                                            conditions; prints one
 *                                            "RTT <port> <p50> <p99> <lost>" each
 *   loadgen ping   PORT SIZE COUNT WARMUP [GAP_US]
 *                                            one in flight; prints
 *                                            "RTT <p50 us> <p99 us> <lost>"
 *                                            GAP_US: pause after each echo, so that a
 *                                            slowed server (callgrind) is back in its
 *                                            wait before the next datagram comes.
 *
 * Every loop is bounded by its deadline or its count, and every wait by a
 * timeout, so a dead server ends the run instead of hanging it. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define BATCH 64
#define SLOT 2048
#define WARMUP_SECONDS 0.3
/* Silence this long means the window was lost (a full queue dropped it). */
#define STALL_MS 20

static struct mmsghdr msgs[BATCH];
static struct iovec iov[BATCH];
static unsigned char bufs[BATCH][SLOT];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        perror("loadgen");
        exit(1);
    }
    /* Room for every echo of the window, whatever the datagram size. */
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
    return fd;
}

static void set_lengths(size_t len)
{
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = len};
        msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
}

/* Send n datagrams of size bytes; returns how many the kernel took. */
static int send_n(int fd, int n, size_t size)
{
    int sent = 0;
    while (sent < n) {
        int want = n - sent > BATCH ? BATCH : n - sent;
        set_lengths(size);
        int k = sendmmsg(fd, msgs, (unsigned)want, MSG_DONTWAIT);
        if (k <= 0)
            break; /* ENOBUFS or ECONNREFUSED: the stall logic resends */
        sent += k;
    }
    return sent;
}

static int recv_batch(int fd)
{
    set_lengths(SLOT);
    int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    return n < 0 ? 0 : n;
}

static int echo(int port, size_t size, int window, double seconds)
{
    int fd = connect_to(port);
    memset(bufs, 'e', sizeof bufs);
    double start = now(), measure = start + WARMUP_SECONDS, end = measure + seconds;
    unsigned long long got = 0, total = 0, stalls = 0;
    send_n(fd, window, size);
    for (;;) {
        double t = now();
        if (t >= end)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, STALL_MS) == 0) {
            stalls++;
            send_n(fd, window, size);
            continue;
        }
        int n = recv_batch(fd);
        total += (unsigned)n;
        if (t >= measure)
            got += (unsigned)n;
        if (n)
            send_n(fd, n, size);
    }
    printf("RATE %.0f STALLS %llu TOTAL %llu\n", (double)got / (now() - measure), stalls, total);
    return 0;
}

static int ingest(int port, size_t size, double seconds)
{
    int fd = connect_to(port);
    memset(bufs, 'i', sizeof bufs);
    unsigned long long sent = 0;
    double start = now(), end = start + seconds, t = start;
    while ((t = now()) < end)
        for (int i = 0; i < 16; i++)
            sent += (unsigned)send_n(fd, BATCH, size);
    printf("SENT %llu %.6f\n", sent, t - start);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int ping(int port, size_t size, int count, int warmup, long gap_us)
{
    int fd = connect_to(port);
    /* A lost datagram costs a timeout, not the run. */
    struct timeval tv = {.tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    unsigned char out[SLOT], in[SLOT];
    memset(out, 'p', sizeof out);
    double *rtt = malloc((size_t)count * sizeof *rtt);
    int n = 0, lost = 0;
    for (int i = 0; i < warmup + count; i++) {
        double t0 = now();
        if (send(fd, out, size, 0) < 0 || recv(fd, in, sizeof in, 0) < 0) {
            lost++;
            if (lost > 10)
                break; /* the server is gone */
            continue;
        }
        if (i >= warmup)
            rtt[n++] = now() - t0;
        if (gap_us > 0)
            nanosleep(&(struct timespec){.tv_nsec = gap_us * 1000}, NULL);
    }
    if (n == 0) {
        printf("RTT nan nan %d\n", lost);
        return 1;
    }
    qsort(rtt, (size_t)n, sizeof *rtt, cmp_double);
    printf("RTT %.2f %.2f %d\n", rtt[n / 2] * 1e6, rtt[(size_t)n * 99 / 100] * 1e6, lost);
    free(rtt);
    return 0;
}

#define MAX_PORTS 8

static int pingmany(size_t size, int count, int warmup, int nports, char **ports)
{
    if (nports < 1 || nports > MAX_PORTS)
        return 2;
    int fd[MAX_PORTS], lost[MAX_PORTS] = {0}, n[MAX_PORTS] = {0};
    double *rtt[MAX_PORTS];
    struct timeval tv = {.tv_usec = 200000};
    for (int k = 0; k < nports; k++) {
        fd[k] = connect_to(atoi(ports[k]));
        setsockopt(fd[k], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        rtt[k] = malloc((size_t)count * sizeof *rtt[k]);
    }
    unsigned char out[SLOT], in[SLOT];
    memset(out, 'p', sizeof out);
    for (int i = 0; i < warmup + count; i++) {
        for (int k = 0; k < nports; k++) {
            if (lost[k] > 10)
                continue; /* that server is gone */
            double t0 = now();
            if (send(fd[k], out, size, 0) < 0 || recv(fd[k], in, sizeof in, 0) < 0) {
                lost[k]++;
                continue;
            }
            if (i >= warmup)
                rtt[k][n[k]++] = now() - t0;
        }
    }
    for (int k = 0; k < nports; k++) {
        if (n[k] == 0) {
            printf("RTT %s nan nan %d\n", ports[k], lost[k]);
        } else {
            qsort(rtt[k], (size_t)n[k], sizeof *rtt[k], cmp_double);
            printf("RTT %s %.2f %.2f %d\n", ports[k], rtt[k][n[k] / 2] * 1e6,
                   rtt[k][(size_t)n[k] * 99 / 100] * 1e6, lost[k]);
        }
        free(rtt[k]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "pingmany") == 0)
        return pingmany((size_t)atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), argc - 5, argv + 5);
    if (argc == 6 && strcmp(argv[1], "echo") == 0)
        return echo(atoi(argv[2]), (size_t)atoi(argv[3]), atoi(argv[4]), atof(argv[5]));
    if (argc == 5 && strcmp(argv[1], "ingest") == 0)
        return ingest(atoi(argv[2]), (size_t)atoi(argv[3]), atof(argv[4]));
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "ping") == 0)
        return ping(atoi(argv[2]), (size_t)atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
                    argc == 7 ? atol(argv[6]) : 0);
    fprintf(stderr, "usage: loadgen echo PORT SIZE WINDOW SECONDS | ingest PORT SIZE SECONDS"
                    " | ping PORT SIZE COUNT WARMUP [GAP_US] | pingmany SIZE COUNT WARMUP PORT...\n");
    return 2;
}
