/* UDP ports: private state, and the entry points the reactor uses. */
#ifndef DG_UDP_H
#define DG_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "dgram.h"

#pragma GCC visibility push(hidden)

enum dg__port_state { DG__RESOLVING, DG__LISTENING, DG__STOPPING, DG__CLOSED };
enum { DG__PENDING_CLOSE = 1, DG__PENDING_REFUSED = 2 };

typedef struct dg__port_list {
    dg_port *head;
} dg__port_list;

struct dg_port {
    dg_reactor *r;
    dg_protocol *proto;
    int fd;
    int family;
    int number; /* the bound port, for log lines */
    size_t max_packet_size;
    enum dg__port_state state;
    bool connected;
    dg_addr peer;
    unsigned cur_flags; /* of the datagram being delivered */
    unsigned pending;   /* DG__PENDING_* */
    dg_port_done_fn done;
    void *done_arg;
    /* The library's own close hook (a service owning the port), run after
     * done; unlike done, dg_port_stop_listening() and dg_port_close() never
     * replace it. */
    dg_port_done_fn owner_done;
    void *owner_arg;
    dg_port_stats stats;
    uint32_t kernel_drops;  /* the socket's drop count last seen (cumulative, wraps) */
    bool drops_by_meminfo;  /* read through SO_MEMINFO, else SO_RXQ_OVFL */
    bool started;           /* start_protocol ran: stop_protocol is owed */
    struct dg__connecting *conn; /* name lookup under way (resolve.c) */
    struct dg__mc_name *mc_names; /* multicast calls waiting for names (multicast_names.c) */
    struct dg__txq *txq;    /* write batching, when on (udp_write.c) */
    bool gso;               /* dg_port_write_segments() tries UDP_SEGMENT (udp_gso.c) */
    bool gro;               /* UDP_GRO on: trains arrive (udp_read.c) */
    dg_port *prev, *next;   /* reactor's live list */
    dg_port *pending_next;  /* reactor's pending list, or dead list once closed */
    /* The protocol's name, copied: "<Name not connected>" is formatted after
     * stop_protocol, when the protocol may have freed itself. */
    char name[];
};

/* Shared receive buffers: one batch of slots, each as long as the largest
 * max_packet_size of any port. Only one port reads at a time (the reactor
 * thread), so one set serves all. A callback that opens a larger port
 * replaces the set; the old one lives until the iteration ends. */
typedef struct dg__rxset {
    struct dg__rxset *next; /* on the retired list */
    size_t slot_size;
    unsigned nslots;
    unsigned char *buf;
    dg_addr *addrs;
    struct iovec *iov;
    struct mmsghdr *msgs;
} dg__rxset;

typedef struct dg__rx {
    dg__rxset *cur;
    dg__rxset *retired; /* replaced sets, freed at the end of the iteration */
    const unsigned char *lo, *hi; /* cur's slots: replies from there need no copy */
} dg__rx;

int dg__rx_reserve(dg__rx *rx, size_t max_packet_size);
/* Note the socket's drops so far, and how later ones will be seen. */
void dg__rx_count_drops(dg_port *p);
/* Count the socket's drops since the last look (SO_MEMINFO). */
void dg__rx_note_drops(dg_port *p);
/* rx_kernel_drops as of now, without counting it. */
uint64_t dg__rx_drops(const dg_port *p);
void dg__rx_free(dg__rx *rx);
void dg__rx_free_retired(dg__rx *rx);

/* A port not yet open (fd -1), on the reactor's live list. Checks that proto
 * is free and the sizes are sane first; errors are recorded on the reactor. */
int dg__port_new(dg_reactor *r, dg_protocol *proto, size_t max_packet_size, const char *what,
                 dg_port **out);
/* Give p its bound socket and start it: read, log, start_protocol. On error
 * (no room to watch fd) nothing changed: the caller still owns fd and p. */
int dg__port_open(dg_port *p, int fd, int family);
/* Take a port that never opened off the reactor (its fd, if any, closed). */
void dg__port_discard(dg_port *p);
/* Bind fd to the interface literal ("" is any of family) and local port. */
int dg__bind(int fd, int family, const char *interface, int port);
/* dg_listen_udp, with prepare(fd, family, arg) run between socket() and
 * bind(), for options that must precede the bind (multicast.c). */
typedef int (*dg__prepare_fn)(int fd, int family, const void *arg);
int dg__listen(dg_reactor *r, int port, dg_protocol *proto, const dg_listen_options *o,
               dg__prepare_fn prepare, const void *arg, dg_port **out);
/* resolve.c: give up a lookup under way, with no callback. */
void dg__connect_abandon(dg_port *p);
/* multicast_names.c: report -ECANCELED to the calls still waiting for names. */
typedef struct dg__mc_name dg__mc_name;
void dg__multicast_names_cancel(dg_port *p);

/* The send path's parts, for udp_write.c and udp_gso.c. Check a write of
 * bufs to `to` (port open, buffers, destination) and point m at them;
 * returns the byte count or a negative errno. */
int dg__tx_check(dg_port *p, const struct iovec *bufs, size_t n, const dg_addr *to,
                 struct msghdr *m);
/* One sendmsg of m: EINTR retried, an ICMP refusal reported and the datagram
 * sent again once. Returns the bytes sent or a negative errno, uncounted. */
int dg__tx_sendmsg(dg_port *p, struct msghdr *m);
/* An earlier datagram's ICMP refusal, surfaced on a send: counted, and
 * reported to a connected port's protocol on the next iteration. */
void dg__tx_refused(dg_port *p);
/* Count one failed write in the port's stats. */
void dg__tx_count_error(dg_port *p, int err);
/* Send what dg_port_write() queued (write batching) and report the kernel's
 * refusals to write_failed. Safe to call when nothing is queued. */
void dg__port_flush(dg_port *p);
void dg__txq_free(dg_port *p);
/* Hand what write batching has queued to the kernel now, ahead of a write
 * that is not queued; the refusals still reach write_failed at the flush. */
void dg__port_send_queued(dg_port *p);
/* Whether the kernel takes UDP_SEGMENT on fd (udp_gso.c). */
bool dg__gso_supported(int fd);

/* The port's descriptor is readable or in error (events: the backend's
 * DG_READABLE and DG_ERROR bits; only an error calls for draining the error
 * queue). */
void dg__port_on_readable(dg_port *p, unsigned events);
/* Run the port's deferred work (close, refusal report). */
void dg__port_run_pending(dg_port *p);
/* Shutdown: close now, running stop_protocol and done. */
void dg__port_close_now(dg_port *p);
void dg__port_schedule(dg_port *p, unsigned what);
void dg__port_release(dg_port *p);

#pragma GCC visibility pop

#endif
