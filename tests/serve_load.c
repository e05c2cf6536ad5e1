/* Load generator for tests/scripts/serve_restart.py: sends numbered datagrams
 * to an echo server at a steady rate until SIGINT (or SECONDS pass), counts
 * the echoes, and prints the totals:
 *
 *   serve_load HOST PORT RATE SECONDS
 *   -> "load: running" once the first datagram is out, "load: answered N"
 *      for every half second's worth of echoes, then at the end
 *      "load: sent N answered M duplicates D rate R/s client_drops K"
 *
 * client_drops is what the kernel dropped at this end (the echoes' queue
 * full, SK_MEMINFO_DROPS); the server's own drops are read by the test. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define SIZE 32

static volatile sig_atomic_t stop;

static void on_int(int sig)
{
    (void)sig;
    stop = 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t sent, answered, duplicates;
static uint8_t *seen; /* one bit per sequence number */
static uint64_t seen_bits;

static void receive(int fd)
{
    static unsigned char bufs[BATCH][SIZE];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], SIZE};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++) {
            uint64_t seq;
            memcpy(&seq, bufs[i], sizeof seq);
            if (msgs[i].msg_len != SIZE || seq >= seen_bits) {
                duplicates++; /* not one of ours: counted as a fault too */
                continue;
            }
            if (seen[seq / 8] & (1u << (seq % 8))) {
                duplicates++;
                continue;
            }
            seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
            answered++;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: serve_load HOST PORT RATE SECONDS\n");
        return 2;
    }
    double rate = atof(argv[3]), seconds = atof(argv[4]);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 || rate <= 0 || seconds <= 0)
        return 2;
    seen_bits = (uint64_t)(rate * seconds * 1.2) + BATCH;
    seen = calloc(seen_bits / 8 + 1, 1);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int big = 16 << 20;
    if (!seen || fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) < 0) {
        perror("serve_load");
        return 1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    struct sigaction sa = {.sa_handler = on_int};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    unsigned char bufs[BATCH][SIZE];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    double start = now(), end = start + seconds;
    bool announced = false;
    uint64_t step = (uint64_t)(rate / 2) + 1, next_report = step;
    while (!stop && now() < end && sent + BATCH < seen_bits) {
        uint64_t due = (uint64_t)((now() - start) * rate);
        while (sent < due && sent + BATCH < seen_bits) {
            int n = (int)(due - sent < BATCH ? due - sent : BATCH);
            for (int i = 0; i < n; i++) {
                uint64_t seq = sent + (uint64_t)i;
                memset(bufs[i], 0, SIZE);
                memcpy(bufs[i], &seq, sizeof seq);
                iov[i] = (struct iovec){bufs[i], SIZE};
                msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
            }
            int got = sendmmsg(fd, msgs, (unsigned)n, 0);
            if (got <= 0)
                break; /* no room now (ENOBUFS): try again on the next tick */
            sent += (uint64_t)got;
            receive(fd);
        }
        if (answered >= next_report) {
            printf("load: answered %llu\n", (unsigned long long)answered);
            fflush(stdout);
            next_report += step;
        }
        if (!announced && sent) {
            printf("load: running\n");
            fflush(stdout);
            announced = true;
        }
        receive(fd);
        poll(NULL, 0, 1); /* the pacing tick: the rate is kept by 'due', not by this */
    }
    double elapsed = now() - start;
    /* The last echoes: wait while they keep coming, at most 5 s in all. */
    double last = now(), give_up = last + 5;
    uint64_t before = answered;
    while (answered < sent && now() < give_up && now() - last < 1.0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, 100);
        receive(fd);
        if (answered != before) {
            before = answered;
            last = now();
        }
    }
    uint32_t mem[SK_MEMINFO_VARS] = {0};
    socklen_t len = sizeof mem;
    getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len);
    printf("load: sent %llu answered %llu duplicates %llu rate %.0f/s client_drops %u\n",
           (unsigned long long)sent, (unsigned long long)answered, (unsigned long long)duplicates,
           (double)sent / elapsed, mem[SK_MEMINFO_DROPS]);
    fflush(stdout);
    close(fd);
    free(seen);
    return 0;
}
