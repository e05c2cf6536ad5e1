/*
 * dgram: Twisted's UDP model in C.
 *
 * A reactor owns time and readiness; a protocol (dg_protocol) only reacts to
 * datagrams; a port (dg_port) is the protocol's transport and only acts.
 *
 * Conventions, everywhere in this header:
 *  - Functions that can fail return 0 (or a count) on success and a negative
 *    errno value on failure; dg_strerror() turns one into text, and
 *    dg_reactor_last_error() gives the full message of the last failure on a
 *    reactor ("Couldn't listen on any:9998: Address already in use.").
 *  - Handles (dg_reactor, dg_port, dg_call) are opaque. The user owns protocol
 *    memory; the library owns ports and timers.
 *  - Every callback receives its owner first.
 *  - Options structs are initialised with their *_init() function, which sets
 *    the documented defaults; a NULL options pointer means "all defaults".
 *  - Nothing here is thread-safe except dg_reactor_call_from_thread().
 */
#ifndef DGRAM_H
#define DGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DG_VERSION_MAJOR 0
#define DG_VERSION_MINOR 1
#define DG_VERSION_PATCH 0
#define DG_VERSION_STRING "0.1.0"

typedef struct dg_reactor dg_reactor;
typedef struct dg_port dg_port;
typedef struct dg_call dg_call;
typedef struct dg_protocol dg_protocol;

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* Name resolution fails with these (they are not errno values). */
enum {
    DG_ERR_NAME_NOT_FOUND = -3001, /* the name has no address (of that family) */
    DG_ERR_NAME_TEMPORARY = -3002, /* the resolver could not answer now */
    DG_ERR_NAME_FAILED = -3003     /* the resolver failed for good */
};

/* Text for a negative errno value returned by this library ("Address already
 * in use"). Never NULL; unknown values give "Unknown error N". */
const char *dg_strerror(int err);

/* The full message of the most recent failing call on this reactor, naming
 * what failed, e.g. "Couldn't listen on 127.0.0.1:9999: Address already in
 * use." Empty string when nothing has failed. Valid until the next call. */
const char *dg_reactor_last_error(const dg_reactor *r);

/* ------------------------------------------------------------------------ */
/* Addresses: an IPv4/IPv6 value type. Copy it freely; read it through the  */
/* functions below.                                                         */
/* ------------------------------------------------------------------------ */

typedef struct dg_addr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } u;
} dg_addr;

/* Longest text dg_addr_format() writes, with its NUL:
 * "[" + IPv6 + "%" + interface name + "]:" + "65535". */
#define DG_ADDR_STRLEN 72

/* Parse an IP literal and a port (0..65535) into *out. Accepts dotted-quad
 * IPv4, IPv6 (with an optional %scope, by interface name or number) and
 * "<broadcast>" (255.255.255.255, as Twisted). A hostname, an empty string or
 * a bad port is -EINVAL: nothing here resolves names. */
int dg_addr_parse(dg_addr *out, const char *host, int port);

/* Write "127.0.0.1:9999" or "[::1]:9999" into buf. Returns the length written
 * (without the NUL) or -ENOSPC if it does not fit, -EAFNOSUPPORT for an
 * address of another family. */
int dg_addr_format(const dg_addr *a, char *buf, size_t len);

/* Write only the host part ("127.0.0.1", "::1", "fe80::1%eth0"). Returns as
 * dg_addr_format(). */
int dg_addr_format_host(const dg_addr *a, char *buf, size_t len);

/* AF_INET, AF_INET6, or 0 for an address that holds neither. */
int dg_addr_family(const dg_addr *a);

/* The port, 0..65535. */
int dg_addr_port(const dg_addr *a);

/* Value equality: family, address, port and (IPv6) scope; flow info is
 * ignored. */
bool dg_addr_equal(const dg_addr *a, const dg_addr *b);

/* The sockaddr view, and its length for bind/sendto. */
const struct sockaddr *dg_addr_sockaddr(const dg_addr *a, socklen_t *len);

/* Copy an AF_INET or AF_INET6 sockaddr in; -EAFNOSUPPORT otherwise, -EINVAL
 * if len is too short. */
int dg_addr_from_sockaddr(dg_addr *out, const struct sockaddr *sa, socklen_t len);

/* ------------------------------------------------------------------------ */
/* Reactor                                                                  */
/* ------------------------------------------------------------------------ */

/* Receives one log line, without a newline: Twisted's lines, such as
 * "Echo starting on 9999" and "(UDP Port 9999 Closed)". */
typedef void (*dg_log_fn)(dg_reactor *r, const char *line, void *arg);

typedef struct dg_reactor_options {
    /* "epoll" (the default on Linux) or "poll". NULL means the DGRAM_BACKEND
     * environment variable if set, else the best one available. */
    const char *backend;
    /* Fake clock (Twisted's task.Clock): time starts at 0 and moves only by
     * dg_reactor_advance(), so tests drive timers without sleeping. */
    bool fake_clock;
    /* Opt-in: SIGINT and SIGTERM stop the reactor cleanly. Only one reactor
     * in a process may ask for this at a time (-EBUSY otherwise). */
    bool handle_signals;
    /* Silent by default. */
    dg_log_fn log;
    void *log_arg;
    /* Most worker threads for dg_reactor_call_in_thread() and name lookups;
     * 0 means 4. Threads start on first use. */
    unsigned threads;
} dg_reactor_options;

void dg_reactor_options_init(dg_reactor_options *o);

/* -EINVAL for an unknown backend name, -ENOMEM, or the errno of the backend's
 * set-up. */
int dg_reactor_new(const dg_reactor_options *o, dg_reactor **out);

/* Run until dg_reactor_stop(). Then shut down as Twisted does: every live port
 * closes and its stop_protocol runs once. Pending timers are kept (freed by
 * dg_reactor_free()). Returns 0, or -EBUSY if called from a callback. */
int dg_reactor_run(dg_reactor *r);

/* One iteration: wait up to timeout_ms (-1: until something happens; timers
 * shorten the wait) for events, dispatch them, run due timers. No shutdown.
 * Returns the number of callbacks dispatched, or -EBUSY from a callback. */
int dg_reactor_run_once(dg_reactor *r, int timeout_ms);

/* Ask dg_reactor_run() to return (outside it, a no-op). Safe from any
 * callback; the timers already due still run, as in Twisted, and the
 * datagrams already read in the current batch are still delivered (they have
 * left the kernel, so dropping them would lose them). */
void dg_reactor_stop(dg_reactor *r);

/* Close every live port (running stop_protocol once each, if not done yet),
 * drop pending timers without calling them, release everything. Not from a
 * callback. NULL is a no-op. */
void dg_reactor_free(dg_reactor *r);

/* Monotonic seconds (CLOCK_MONOTONIC), or the fake clock's time. */
double dg_reactor_now(const dg_reactor *r);

/* Fake clock only: move time forward by seconds (>= 0) and run the calls that
 * became due, as Twisted's Clock.advance(). -EINVAL on a real clock or for a
 * negative or NaN amount. Called inside a batching port's datagram_received,
 * it sends the replies queued so far first: the calls' writes go at once. */
int dg_reactor_advance(dg_reactor *r, double seconds);

/* "epoll" or "poll". */
const char *dg_reactor_backend(const dg_reactor *r);

/* Run fn(r, arg) on the reactor thread during its next iteration, waking it.
 * The one thread-safe call. -ENOMEM, or -ESHUTDOWN once the reactor is being
 * freed; a call accepted before that runs exactly once, at the latest inside
 * dg_reactor_free(). */
typedef void (*dg_thread_fn)(dg_reactor *r, void *arg);
int dg_reactor_call_from_thread(dg_reactor *r, dg_thread_fn fn, void *arg);

/* Run work(arg) on a worker thread, then done(r, status, arg) on the reactor
 * thread (Twisted's deferToThread); done may be NULL. Jobs beyond the pool's
 * threads (dg_reactor_options.threads) queue. status is 0, or -ECANCELED
 * when the reactor was freed before the work started: dg_reactor_free()
 * runs those dones first, then waits for the work that is running and runs
 * its dones (status 0). Returns -EINVAL (NULL work), -ENOMEM, -ESHUTDOWN
 * while the reactor is being freed, or -EAGAIN when no thread could start. */
typedef void (*dg_work_fn)(void *arg);
typedef void (*dg_work_done_fn)(dg_reactor *r, int status, void *arg);
int dg_reactor_call_in_thread(dg_reactor *r, dg_work_fn work, dg_work_done_fn done, void *arg);

/* Readers and writers for foreign descriptors (Twisted's addReader). fn runs
 * when fd is readable (or writable); events holds DG_READABLE, DG_WRITABLE
 * and DG_ERROR bits. A descriptor has at most one reader and one writer:
 * adding again replaces the callback. Remove before closing the descriptor.
 * -EBADF for a negative fd, -EEXIST if the fd is one of the reactor's own. */
enum { DG_READABLE = 1, DG_WRITABLE = 2, DG_ERROR = 4 };
typedef void (*dg_io_fn)(dg_reactor *r, int fd, unsigned events, void *arg);
int dg_reactor_add_reader(dg_reactor *r, int fd, dg_io_fn fn, void *arg);
int dg_reactor_remove_reader(dg_reactor *r, int fd);
int dg_reactor_add_writer(dg_reactor *r, int fd, dg_io_fn fn, void *arg);
int dg_reactor_remove_writer(dg_reactor *r, int fd);

/* ------------------------------------------------------------------------ */
/* Timers (Twisted's callLater and DelayedCall)                             */
/* ------------------------------------------------------------------------ */

typedef void (*dg_call_fn)(dg_call *c, void *arg);

/* Call fn(c, arg) once, delay seconds from now (>= 0). A call made while due
 * calls are running waits for the next pass, even with delay 0. Returns NULL
 * only for a negative or NaN delay, a NULL fn, or out of memory.
 *
 * The handle stays valid while the call is active and during its own
 * callback; after the callback returns (unless it re-armed the call with
 * dg_call_reset()) or after dg_call_cancel(), the handle is gone. */
dg_call *dg_call_later(dg_reactor *r, double delay, dg_call_fn fn, void *arg);

/* Cancel an active call: it will not run, and the handle is released.
 * -EALREADY if the call is running now (inside its own callback). */
int dg_call_cancel(dg_call *c);

/* Reschedule to delay seconds from now. Inside its own callback this re-arms
 * the call (a periodic timer without a new allocation). -EINVAL for a
 * negative or NaN delay. */
int dg_call_reset(dg_call *c, double delay);

/* True while the call is scheduled; false inside its own callback. */
bool dg_call_active(const dg_call *c);

/* The time (dg_reactor_now() scale) the call is due. */
double dg_call_time(const dg_call *c);

dg_reactor *dg_call_reactor(const dg_call *c);

/* ------------------------------------------------------------------------ */
/* Protocols (Twisted's DatagramProtocol)                                   */
/* ------------------------------------------------------------------------ */

/* Flags of the datagram being delivered: dg_port_datagram_flags(). */
enum { DG_TRUNCATED = 1 };

typedef struct dg_protocol_ops {
    /* Log prefix (Twisted's logPrefix()); NULL means "DatagramProtocol". */
    const char *name;
    /* Runs inside dg_listen_udp() before it returns, transport set. */
    void (*start_protocol)(dg_protocol *self);
    /* Runs once when the port has closed, transport NULL. The protocol may
     * free itself here: the library does not touch it afterwards. */
    void (*stop_protocol)(dg_protocol *self);
    /* One datagram. data is valid only during the call. from is the sender
     * (also on connected ports). Each readiness event reads at most 256
     * datagrams or 256 KiB (empty datagrams count), so one busy port cannot
     * starve the others; the rest wait for the next iteration. */
    void (*datagram_received)(dg_protocol *self, const void *data, size_t len,
                              const dg_addr *from);
    /* Connected ports only: the peer's port was unreachable (an ICMP error
     * caused by an earlier write). The port stays open. Refusals that
     * surface on writes during one iteration are reported by one call on
     * the next; dg_port_stats.refused counts each. */
    void (*connection_refused)(dg_protocol *self);
    /* dg_connect_udp() could not set up the connection (name resolution,
     * for example). The port is already closed, transport NULL. */
    void (*connection_failed)(dg_protocol *self, int err);
    /* Write batching only (dg_port_set_write_batching()): the kernel refused
     * a datagram that dg_port_write() had queued. err is what the write
     * would have returned (-EAGAIN, -ENOBUFS, -EACCES, ...); data, len and
     * to (NULL on a connected port) are the datagram, valid only during the
     * call. Runs when the batch is sent: after its datagram_received calls,
     * or inside dg_port_close() or dg_port_set_write_batching(p, false) when
     * one of those sends it; never inside a write. It may write (sent at
     * once) or close the port (then no further call follows). Each refusal
     * is also counted in dg_port_stats, with or without this callback. */
    void (*write_failed)(dg_protocol *self, int err, const void *data, size_t len,
                         const dg_addr *to);
} dg_protocol_ops;

/* Embed this in your own struct and set ops; use DG_CONTAINER_OF to get back
 * to your struct in a callback. Any callback may be NULL. */
struct dg_protocol {
    const dg_protocol_ops *ops;
    /* Set while attached to a port (from start_protocol until the port has
     * closed); NULL otherwise. Read-only for the user. */
    dg_port *transport;
};

#define DG_CONTAINER_OF(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------------ */
/* Ports (Twisted's udp.Port: IListeningPort and IUDPTransport)             */
/* ------------------------------------------------------------------------ */

#define DG_DEFAULT_MAX_PACKET_SIZE 8192
#define DG_MAX_PACKET_SIZE_LIMIT 65535

typedef struct dg_listen_options {
    /* An IP literal to bind: "" (the default) is IPv4 any, "::" is IPv6 any.
     * A name is -EINVAL before any socket exists. */
    const char *interface;
    /* Receive buffer per datagram, 1..65535; default 8192. Longer datagrams
     * are delivered truncated with DG_TRUNCATED set, and counted. */
    size_t max_packet_size;
} dg_listen_options;

void dg_listen_options_init(dg_listen_options *o);

/* Bind a UDP port (0: an ephemeral one) and attach proto to it; start_protocol
 * runs before this returns (if it closes the port with dg_port_close(), this
 * returns 0 with *out NULL: the port is gone). Errors leak nothing: -EINVAL (bad interface,
 * port outside 0..65535, bad max_packet_size), -EBUSY (proto is attached to
 * another live port), -EADDRINUSE, -EADDRNOTAVAIL, -EMFILE, ... */
int dg_listen_udp(dg_reactor *r, int port, dg_protocol *proto,
                  const dg_listen_options *o, dg_port **out);

/* Adopt a bound datagram socket. The descriptor is duplicated: the caller's
 * keeps working and stays the caller's to close. family must be AF_INET or
 * AF_INET6 (-EAFNOSUPPORT); a bad fd is -EBADF; a socket that is not a
 * datagram socket of that family is -EINVAL. Only max_packet_size of o is
 * used. */
int dg_adopt_datagram_port(dg_reactor *r, int fd, int family, dg_protocol *proto,
                           const dg_listen_options *o, dg_port **out);

/* Send one datagram. to is NULL on a connected port (or equal to its peer).
 * Returns the bytes sent, or:
 *  -EDESTADDRREQ  no address on an unconnected port
 *  -EISCONN       another address on a connected port
 *  -EAFNOSUPPORT  an address of the other family (IPv4-mapped IPv6 is fine)
 *  -EMSGSIZE      larger than the protocol allows (65507 bytes over IPv4,
 *                 65527 over IPv6)
 *  -EAGAIN, -ENOBUFS  the kernel has no room now; nothing was queued
 *  -EACCES        a broadcast without dg_port_set_broadcast_allowed()
 *  -EINVAL        an address of no family, or NULL buffers
 *  -ENOTCONN      a dg_connect_udp() port whose name lookup is under way
 *  -EBADF         port is NULL (the protocol's transport after close) or
 *                 closed (from stop_protocol or done on)
 * Every error is also counted in dg_port_stats.tx_errors.
 * EINTR is retried. An ICMP refusal that surfaces here on a connected port
 * calls connection_refused (on the next iteration, never re-entrantly), and
 * this datagram is sent again once, so it is not lost to an earlier one's
 * error. */
int dg_port_write(dg_port *p, const void *data, size_t len, const dg_addr *to);

/* Gather write (Twisted's writeSequence): the buffers go out as one datagram.
 * Returns and errors as dg_port_write(); -EINVAL for more than IOV_MAX
 * buffers. */
int dg_port_write_sequence(dg_port *p, const struct iovec *bufs, size_t n,
                           const dg_addr *to);

/* Write batching, off by default. When on, a write made inside this port's
 * own datagram_received is checked at once (every error above that needs no
 * kernel is still returned then) and queued, and the write returns the byte
 * count. The replies written while one read batch is delivered then leave in
 * one sendmmsg(): after the batch, or sooner when the queue is full (64
 * datagrams or 64 KiB of copies), or when the port closes or connects.
 * Datagrams over 65507 bytes are not queued (sent at once, after the queue).
 * A reply whose
 * buffer is the received datagram (or part of it) is not copied; other
 * buffers are, into the port's queue. The kernel's verdict comes with the
 * flush: each datagram it takes is counted in tx_datagrams, each it refuses
 * in tx_errors (its kind, and tx_deferred_errors) and reported to the
 * protocol's write_failed. Writes made anywhere else (timers, another port's
 * callbacks, write_failed itself) are sent at once, as without batching.
 * Returns 0, -ENOMEM, or -EBADF (NULL or closed port). */
int dg_port_set_write_batching(dg_port *p, bool on);

/* Bulk send to one destination (or the peer, to NULL): data is cut into
 * datagrams of segment_size bytes (the last may be shorter), sent in order.
 * With UDP GSO (UDP_SEGMENT, Linux 4.18 on) one syscall carries up to 64 of
 * them; where the kernel lacks it, or refuses it at run time (EIO from a
 * device that cannot checksum segments, like a veth with tx offload off),
 * the same datagrams leave by sendmmsg() and the port stops trying GSO.
 * Returns the number of datagrams sent: all of them, or fewer when the
 * kernel ran out of room (the rest were not sent: send them again later),
 * or a negative errno when none was: the errors of dg_port_write(), and
 * -EINVAL for len 0, segment_size 0 or a segment over 65507 bytes. Each
 * datagram sent counts in tx_datagrams; a failed call counts one error. */
int dg_port_write_segments(dg_port *p, const void *data, size_t len, size_t segment_size,
                           const dg_addr *to);

/* Whether dg_port_write_segments() tries GSO: on by default where the kernel
 * has it. Turning it on where it is missing is -EOPNOTSUPP; get returns 1 or
 * 0 (0 also after a run-time refusal), or a negative errno. */
int dg_port_set_gso(dg_port *p, bool on);
int dg_port_get_gso(const dg_port *p);

/* UDP GRO for bulk receivers, off by default: the kernel may hand the port
 * a train of datagrams from one sender as one read (Linux 5.0 on; on
 * loopback, what a GSO sender sent), which saves their trips through the
 * stack one by one. The library cuts the train apart again: datagram_received
 * sees each datagram as sent, and each counts in rx_datagrams
 * (rx_gro_trains counts the trains). A train needs a 64 KiB receive slot, so
 * turning it on makes the reactor's shared slots that long for the rest of
 * its life, which cuts every port's read batch to 4 datagrams
 * (docs/performance.md). -EOPNOTSUPP where
 * the kernel lacks it, -ENOMEM, -EBADF (NULL or closed port), -ENOTCONN (a
 * name lookup under way); get returns 1 or 0, or a negative errno. */
int dg_port_set_gro(dg_port *p, bool on);
int dg_port_get_gro(const dg_port *p);

/* Connect to an IP literal: only that peer's datagrams arrive, and writes
 * need no address. -EINVAL for a hostname or a bad port, -EISCONN if already
 * connected, -EAFNOSUPPORT for the other family. A failed connect leaves the
 * port unconnected. */
int dg_port_connect(dg_port *p, const char *host, int port);

/* The bound address (getsockname), or the peer's. -ENOTCONN: no peer. */
int dg_port_get_host(const dg_port *p, dg_addr *out);
int dg_port_get_peer(const dg_port *p, dg_addr *out);

/* Stop reading now, and close the port on the next iteration: then
 * "(UDP Port N Closed)" is logged, stop_protocol runs (transport NULL), the
 * socket closes, and done(p, arg) runs last (p valid only during done). No
 * datagram is delivered after this returns; datagrams already read but not
 * yet delivered are counted in dg_port_stats.rx_discarded. Writes still work
 * until the close. A second call returns -EALREADY and changes nothing. */
typedef void (*dg_port_done_fn)(dg_port *p, void *arg);
int dg_port_stop_listening(dg_port *p, dg_port_done_fn done, void *arg);

/* Close now (Twisted's connectionLost()): as dg_port_stop_listening() but
 * synchronous, stop_protocol and done included, except that the port's
 * memory lives until the current callback returns. After this returns the
 * library holds no reference to the protocol, which may free itself. */
int dg_port_close(dg_port *p);

typedef struct dg_connect_options {
    /* Local address to bind, an IP literal; "" (default) is any of the
     * resolved family. It fixes the family: a name resolves to that family
     * only. */
    const char *interface;
    int local_port;          /* default 0: ephemeral */
    size_t max_packet_size;  /* as dg_listen_options; default 8192 */
    int family;              /* AF_UNSPEC (default: any), AF_INET or AF_INET6 */
    double resolve_timeout;  /* seconds for the lookup; default 10, 0: none */
} dg_connect_options;

void dg_connect_options_init(dg_connect_options *o);

/* A connected port to host (a name or an IP literal) and port (Twisted's old
 * connectUDP). A name is resolved with dg_lookup_start(), so /etc/hosts,
 * resolv.conf and nsswitch apply and the reactor never blocks; the addresses
 * are tried in the resolver's order until one binds and connects. *out is
 * set at once; start_protocol runs only when the socket is bound and
 * connected (inside this call for a literal: if it closes the port, *out
 * is NULL). A failed lookup or connect
 * closes the port (no stop_protocol: the protocol never started), then calls
 * connection_failed(self, err) with transport NULL, so the protocol may free
 * itself or connect again; the port handle is gone afterwards. err is a
 * DG_ERR_NAME_* value, -ETIMEDOUT (resolve_timeout) or the connect's errno,
 * and dg_reactor_last_error() names the host, e.g. "DNS lookup failed:
 * no-such-host.test: name not found." Stopping the port during the lookup
 * cancels it: no protocol callback follows. Returns -EINVAL (bad host, port,
 * interface or timeout; interface not of family), -EAFNOSUPPORT (bad family;
 * a literal not of family), -EBUSY as dg_listen_udp(), or the errno of a
 * literal's bind or connect. */
int dg_connect_udp(dg_reactor *r, const char *host, int port, dg_protocol *proto,
                   const dg_connect_options *o, dg_port **out);

/* Asynchronous name lookup (getaddrinfo() on the worker pool; see
 * docs/resolution.md). fn(r, status, addrs, n, arg) runs once, on the
 * reactor thread, from the loop: never inside dg_lookup_start(), even for an
 * IP literal. status is 0 with n >= 1 addresses (port 0, the resolver's
 * order, valid only during fn), or a negative error: DG_ERR_NAME_NOT_FOUND
 * (also for a literal of the other family), DG_ERR_NAME_TEMPORARY,
 * DG_ERR_NAME_FAILED, -ETIMEDOUT (timeout seconds passed; 0: the resolver's
 * own limits only), -ECANCELED (the reactor is being freed). A failure's
 * message, naming the host, is in dg_reactor_last_error() during fn. */
typedef struct dg_lookup dg_lookup;
typedef void (*dg_lookup_fn)(dg_reactor *r, int status, const dg_addr *addrs, size_t n,
                             void *arg);

/* family is AF_UNSPEC, AF_INET or AF_INET6 (-EAFNOSUPPORT otherwise). *out
 * (may be NULL) is the handle for dg_lookup_cancel(), valid until fn runs.
 * Returns -EINVAL (empty host, NULL fn, negative, NaN or infinite timeout),
 * -ENOMEM, -ESHUTDOWN while the reactor is being freed, or -EAGAIN when no
 * worker thread could start. */
int dg_lookup_start(dg_reactor *r, const char *host, int family, double timeout,
                    dg_lookup_fn fn, void *arg, dg_lookup **out);

/* fn will not run, and q is gone: cancel it once. Safe from any callback,
 * including other lookups' fn; a no-op inside q's own fn. A lookup already in the resolver keeps its worker
 * until the resolver returns. */
void dg_lookup_cancel(dg_lookup *q);

/* SO_BROADCAST; off by default. get returns 0 or 1, or a negative errno. */
int dg_port_set_broadcast_allowed(dg_port *p, bool allowed);
int dg_port_get_broadcast_allowed(const dg_port *p);

/* The socket, for options this API does not cover. Do not close it. */
int dg_port_fd(const dg_port *p);

dg_protocol *dg_port_protocol(const dg_port *p);
dg_reactor *dg_port_reactor(const dg_port *p);

/* Inside datagram_received: the flags (DG_TRUNCATED) of the datagram being
 * delivered; 0 elsewhere. */
unsigned dg_port_datagram_flags(const dg_port *p);

/* Twisted's str(port): "<Echo on 9999>", or "<Echo not connected>" once
 * stopped. Returns the length, or -ENOSPC. */
int dg_port_format(const dg_port *p, char *buf, size_t len);

/* A port's counters, from its creation. Every datagram the kernel handed
 * the port is in rx_datagrams or rx_discarded; every datagram the kernel
 * dropped for want of room in the receive queue is in rx_kernel_drops (the
 * socket's own count, read through SO_MEMINFO when this is called, and after
 * a read that found the queue full; an adopted socket's earlier drops are
 * not counted. Where SO_MEMINFO is missing, SO_RXQ_OVFL instead: drops show
 * once a later datagram is read). Every write is in tx_datagrams or
 * tx_errors, and each error in exactly one of the tx_err_* kinds. */
typedef struct dg_port_stats {
    uint64_t rx_datagrams;   /* delivered to datagram_received */
    uint64_t rx_bytes;       /* bytes delivered (after truncation) */
    uint64_t rx_truncated;   /* delivered with DG_TRUNCATED */
    uint64_t rx_discarded;   /* read from the kernel, not delivered: port stopped */
    uint64_t rx_errors;      /* receive errors other than refusals */
    uint64_t tx_datagrams;   /* sent */
    uint64_t tx_bytes;
    uint64_t tx_errors;      /* writes that returned an error: the sum of tx_err_* */
    uint64_t refused;        /* ICMP port-unreachable reports */
    uint64_t rx_kernel_drops; /* dropped by the kernel: receive queue full */
    uint64_t tx_err_again;   /* -EAGAIN (-EWOULDBLOCK): socket buffer full */
    uint64_t tx_err_nobufs;  /* -ENOBUFS: device or qdisc queue full */
    uint64_t tx_err_msgsize; /* -EMSGSIZE: too large */
    uint64_t tx_err_refused; /* -ECONNREFUSED: refused again after the retry */
    uint64_t tx_err_other;   /* any other error (-EBADF, -EDESTADDRREQ, ...) */
    uint64_t tx_deferred_errors; /* of tx_errors: found when a write batch was sent */
    uint64_t tx_syscalls;    /* send syscalls made: fewer than the datagrams when batched */
    uint64_t tx_gso_sends;   /* of tx_syscalls: sends that carried datagrams with GSO */
    uint64_t rx_gro_trains;  /* GRO trains received and cut into their datagrams */
} dg_port_stats;

/* -EINVAL for a NULL port or out. Also works on a closed port while its
 * memory lives: inside its stop_protocol and done, where the counts are
 * final (dgram echo --stats prints them there). */
int dg_port_get_stats(const dg_port *p, dg_port_stats *out);

/* ------------------------------------------------------------------------ */
/* Multicast (Twisted's listenMulticast and IMulticastTransport), IPv4 and  */
/* IPv6. The dg_port_* calls below work on any open port of the group's     */
/* family; dg_listen_multicast() only adds what must precede the bind.      */
/* ------------------------------------------------------------------------ */

typedef struct dg_multicast_options {
    /* As dg_listen_options: "" (default) binds 0.0.0.0, "::" IPv6 any.
     * Bind the wildcard: a port bound to a unicast address does not
     * receive datagrams sent to a group. */
    const char *interface;
    size_t max_packet_size; /* as dg_listen_options; default 8192 */
    /* Twisted's listenMultiple: SO_REUSEADDR and SO_REUSEPORT, so several
     * ports share one number and each gets every group datagram. A port
     * without it on that number is -EADDRINUSE. Default false. */
    bool listen_multiple;
} dg_multicast_options;

void dg_multicast_options_init(dg_multicast_options *o);

/* dg_listen_udp() for multicast. Unlike Twisted (and Linux's default), the
 * port receives only the groups it joined itself, not those other sockets
 * on the host joined (IP_MULTICAST_ALL and IPV6_MULTICAST_ALL are 0).
 * Errors as dg_listen_udp(). */
int dg_listen_multicast(dg_reactor *r, int port, dg_protocol *proto,
                        const dg_multicast_options *o, dg_port **out);

/* Join or leave a group (Twisted's joinGroup/leaveGroup), IP literals only.
 * iface NULL or "" lets the kernel choose by route; otherwise an interface
 * name ("eth0"), index ("2") or an address it holds ("127.0.0.1"). An IPv6
 * group may carry its interface as a scope ("ff02::1%eth0"). Joining also
 * turns IP_MULTICAST_ALL off on ports made elsewhere. The message in
 * dg_reactor_last_error() names group, interface and reason (Twisted's
 * MulticastJoinError), e.g. "Couldn't join multicast group 225.0.0.250 on
 * interface any: Address already in use."
 *  -EINVAL        group is not a multicast address (or not an IP literal)
 *  -EAFNOSUPPORT  group (or source) of the other family than the port
 *  -EADDRINUSE    already joined (on that interface)
 *  -EADDRNOTAVAIL leaving a group not joined
 *  -ENODEV        no such interface (or no route to choose one by)
 *  -EBADF         the port is closed */
int dg_port_join_group(dg_port *p, const char *group, const char *iface);
int dg_port_leave_group(dg_port *p, const char *group, const char *iface);

/* Source-specific membership: only source's datagrams to group arrive
 * (MCAST_JOIN_SOURCE_GROUP). Several sources may be joined one by one.
 * Errors as dg_port_join_group(); a NULL source is -EINVAL. */
int dg_port_join_source_group(dg_port *p, const char *group, const char *source,
                              const char *iface);
int dg_port_leave_source_group(dg_port *p, const char *group, const char *source,
                               const char *iface);

/* TTL (IPv6: hop limit) of datagrams sent to groups (Twisted's setTTL):
 * 0..255, else -EINVAL; default 1, so nothing crosses a router. Linux
 * drops TTL 0 datagrams before the wire only when this host is itself a
 * member of the group on that interface; otherwise they reach the link
 * (where only routers decrement TTL). get returns the value or a negative
 * errno. */
int dg_port_set_multicast_ttl(dg_port *p, int ttl);
int dg_port_get_multicast_ttl(const dg_port *p);

/* Whether this host's own members (this port included) receive what the
 * port sends to a group (Twisted's setLoopbackMode). Any nonzero mode
 * stores 1. Default 1. get returns 0 or 1, or a negative errno. */
int dg_port_set_multicast_loop(dg_port *p, int mode);
int dg_port_get_multicast_loop(const dg_port *p);

/* The interface group datagrams leave by (Twisted's setOutgoingInterface):
 * given as for dg_port_join_group(); "", NULL, "0.0.0.0" or "::" restore
 * the kernel's choice by route. -ENODEV for no such interface. get writes
 * the IPv4 address ("0.0.0.0" by default; "0.0.0.0" as well for an
 * interface chosen by name that has no IPv4 address) or the IPv6 interface
 * name ("" by default) and returns its length, or -ENOSPC. */
int dg_port_set_multicast_interface(dg_port *p, const char *iface);
int dg_port_get_multicast_interface(const dg_port *p, char *buf, size_t len);

/* The same three calls for names, as Twisted's joinGroup, leaveGroup and
 * setOutgoingInterface, which resolve theirs: group and interface may be
 * host names (an interface also by device name or index, as above). Each
 * name is looked up with dg_lookup_start() in the port's family, then the
 * call above is made. done(p, status, arg) runs exactly once, from the loop,
 * never inside this call: status is that call's result, a lookup error
 * (DG_ERR_NAME_*, its message naming the host), or -ECANCELED when the port
 * closes first (done then runs during the close, p still valid). Returns 0,
 * or at once -EBADF (closed port), -EINVAL (NULL group or done, a name over
 * 255 bytes), -ENOMEM, or dg_lookup_start()'s error. */
typedef void (*dg_port_result_fn)(dg_port *p, int status, void *arg);
int dg_port_join_group_name(dg_port *p, const char *group, const char *iface,
                            dg_port_result_fn done, void *arg);
int dg_port_leave_group_name(dg_port *p, const char *group, const char *iface,
                             dg_port_result_fn done, void *arg);
int dg_port_set_multicast_interface_name(dg_port *p, const char *iface,
                                         dg_port_result_fn done, void *arg);

/* ------------------------------------------------------------------------ */
/* Services and applications (Twisted's IService, MultiService and          */
/* internet.UDPServer): named parts of a program that start in order and    */
/* stop in reverse order. See docs/operations.md.                           */
/* ------------------------------------------------------------------------ */

typedef struct dg_application dg_application;
typedef struct dg_service dg_service;

typedef struct dg_service_ops {
    /* Start: 0, or a negative errno with the reason recorded by
     * dg_service_fail() (or left in dg_reactor_last_error()). NULL: always
     * starts. */
    int (*start)(dg_service *s, void *arg);
    /* Begin stopping; call dg_service_stopped(s) when finished, inside this
     * call or later. now is true when the drain deadline has passed (or the
     * stop was not allowed one): finish before returning. NULL: stopped at
     * once. */
    void (*stop)(dg_service *s, bool now, void *arg);
    /* The service is being removed (dg_service_remove(), or the application
     * is freed): release arg. May be NULL. */
    void (*release)(dg_service *s, void *arg);
} dg_service_ops;

/* An application on r, empty. Services run on r's thread. */
int dg_application_new(dg_reactor *r, dg_application **out);

/* Stop every running service now (stop with now = true, reverse order),
 * release and free them all. NULL is a no-op. Not from a service callback. */
void dg_application_free(dg_application *app);

/* Add a service at the end of the start order. name is copied; names are
 * unique within an application (-EEXIST). A service added to a running
 * application is not started: call dg_service_start(). -EINVAL for a NULL
 * or empty name or NULL ops. */
int dg_service_new(dg_application *app, const char *name, const dg_service_ops *ops, void *arg,
                   dg_service **out);

/* Start the services that are not running, in order. When one fails, the
 * ones this call started are stopped at once (reverse order) and its error
 * is returned, with dg_reactor_last_error() saying "Service NAME failed to
 * start: REASON". Those that were running before the call are left alone.
 * -EALREADY while the application is stopping. */
int dg_application_start(dg_application *app);

/* Stop every running service in reverse order, each after the previous has
 * called dg_service_stopped(). drain bounds the whole stop, in seconds
 * (>= 0; 0: no wait, every service is stopped with now = true): when it
 * passes, the services still stopping are told to finish now. done(app,
 * arg) runs once all have stopped (perhaps inside this call; may be NULL).
 * -EALREADY while already stopping; -EINVAL for a negative or NaN drain. */
typedef void (*dg_application_done_fn)(dg_application *app, void *arg);
int dg_application_stop(dg_application *app, double drain, dg_application_done_fn done,
                        void *arg);

/* Start or stop one service (for reloads). dg_service_stop() takes a drain
 * deadline as dg_application_stop(); done runs once it has stopped. */
typedef void (*dg_service_done_fn)(dg_service *s, void *arg);
int dg_service_start(dg_service *s);
int dg_service_stop(dg_service *s, double drain, dg_service_done_fn done, void *arg);

/* From a service's stop: it has finished. Safe to call more than once. */
void dg_service_stopped(dg_service *s);

/* From a service's start: record why it failed ("message: strerror(err)."),
 * returned as err. */
int dg_service_fail(dg_service *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Take a stopped service out of the application and release it; -EBUSY
 * while it runs or stops. */
int dg_service_remove(dg_service *s);

/* The first service of that name, or NULL; then the next in start order. */
dg_service *dg_application_find(const dg_application *app, const char *name);
dg_service *dg_application_first(const dg_application *app);
dg_service *dg_service_next(const dg_service *s);

const char *dg_service_name(const dg_service *s);
dg_reactor *dg_service_reactor(const dg_service *s);
bool dg_service_running(const dg_service *s); /* started, and not stopping */

typedef struct dg_udp_server_options {
    /* As dg_listen_options / dg_multicast_options: "" (default) is IPv4
     * any, "::" IPv6 any. */
    const char *interface;
    size_t max_packet_size; /* default 8192 */
    /* >= 0: adopt this bound socket instead of binding (socket activation,
     * a socket handed over by an upgrade). The service keeps its own
     * duplicate and the caller's descriptor stays the caller's. Default -1. */
    int fd;
    /* SO_RCVBUF in bytes, set as the port opens, before the reactor reads
     * it (0, default: the system's).
     * Processes with CAP_NET_ADMIN get it past net.core.rmem_max. */
    int rcvbuf;
    /* Multicast servers only: the groups to join (IP literals) on
     * group_interface (as dg_port_join_group()), and listen_multiple as
     * dg_multicast_options. On an adopted socket, a group it already holds
     * is not an error. */
    const char *const *groups;
    size_t ngroups;
    const char *group_interface;
    bool listen_multiple;
} dg_udp_server_options;

void dg_udp_server_options_init(dg_udp_server_options *o);

/* A service that, when started, listens on port (Twisted's UDPServer) or
 * adopts o->fd, with proto attached: start_protocol runs at each start,
 * stop_protocol at each stop. Stopping ends reading at once; there is no
 * write queue to flush (every dg_port_write() is immediate), so the port
 * closes and stop_protocol runs on the next iteration, well within any
 * drain deadline. The strings of o are copied. Errors as dg_service_new(),
 * and -EINVAL for a bad option (the start reports bind errors). */
int dg_udp_server_new(dg_application *app, const char *name, int port, dg_protocol *proto,
                      const dg_udp_server_options *o, dg_service **out);

/* The same for dg_listen_multicast(), joining o->groups at each start. */
int dg_multicast_server_new(dg_application *app, const char *name, int port, dg_protocol *proto,
                            const dg_udp_server_options *o, dg_service **out);

/* The port of a running UDP or multicast server service; NULL otherwise. */
dg_port *dg_service_port(const dg_service *s);

/* ------------------------------------------------------------------------ */
/* Utilities                                                                */
/* ------------------------------------------------------------------------ */

/* Python's repr() of bytes: b'hello', b'\x00\xffbin\n', b"it's". Control
 * characters and bytes >= 0x7f are escaped, so printing a hostile datagram
 * cannot inject terminal escapes. Writes at most len bytes with the NUL and
 * returns the length the full repr needs (like snprintf); the output is cut
 * cleanly, never mid-escape. */
size_t dg_repr_bytes(char *buf, size_t len, const void *data, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* DGRAM_H */
