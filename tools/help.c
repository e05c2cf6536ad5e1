/* The dgram tool's manual pages. Each page is a list of sections because ISO
 * C only promises string literals of 4095 characters. */
#include "args.h"

#include <stddef.h>

static const char exit_status[] =
    "EXIT STATUS\n"
    "    0    Success. echo and listen exit 0 when SIGINT or SIGTERM stops them;\n"
    "         send exits 0 once one reply per MESSAGE has arrived.\n"
    "    1    Failure: the port could not be bound, the name not resolved or the\n"
    "         socket not connected; the peer refused (ICMP port unreachable:\n"
    "         no one listening); or a datagram could not be sent.\n"
    "    2    Bad command line: an unknown command or option, a bad number or\n"
    "         address, a missing operand. One line on stderr names the word.\n"
    "    3    send: not every reply arrived within --timeout seconds.\n"
    "    130  send: interrupted by SIGINT or SIGTERM before every reply arrived.\n"
    "\n";

static const char environment[] =
    "ENVIRONMENT\n"
    "    DGRAM_BACKEND\n"
    "           The reactor's readiness backend: epoll (the default) or poll.\n"
    "\n";

static const char *const page_general[] = {
    "NAME\n"
    "    dgram - UDP echo server, listener and client on libdgram\n"
    "\n"
    "SYNOPSIS\n"
    "    dgram echo   [-p PORT] [-i ADDR] [-g GROUP] [-m BYTES] [-q] [-v] [--stats]\n"
    "    dgram listen [-p PORT] [-i ADDR] [-g GROUP] [-m BYTES] [-q] [-v] [--stats]\n"
    "    dgram send   [-4|-6] [-i ADDR] [-l PORT] [-t SECONDS] [-T TTL] [-m BYTES]\n"
    "                 [-q] [-v] HOST PORT MESSAGE...\n"
    "    dgram serve  [--pidfile PATH] [--user USER] [--group GROUP] [--syslog]\n"
    "                 [--exec PATH] [--check] CONFIG\n"
    "    dgram help [COMMAND]\n"
    "    dgram COMMAND --help\n"
    "    dgram --help | --version\n"
    "\n"
    "DESCRIPTION\n"
    "    dgram runs the two programs of Twisted's UDP howto, built on libdgram,\n"
    "    Twisted's UDP model in C.\n"
    "\n"
    "    echo    The howto's echo server: print each datagram as\n"
    "            received b'...' from HOST:PORT\n"
    "            and send it back to its sender. Runs until SIGINT or SIGTERM.\n"
    "    listen  As echo, but only print; nothing is sent back.\n"
    "    send    The howto's connected client: connect to HOST PORT (a name or an\n"
    "            IP literal), send each MESSAGE as one datagram, print each reply,\n"
    "            and exit once one reply per MESSAGE has arrived.\n"
    "    serve   Run UDP services (echo, discard, daytime, time, plugins) from a\n"
    "            configuration file, as a daemon: socket activation, privilege\n"
    "            drop, reload, and upgrades that lose no datagram.\n"
    "\n"
    "    Datagrams are printed as Python 3 prints bytes (repr), so binary data\n"
    "    and terminal escapes arrive escaped: b'\\x00\\xffbin\\n'.\n"
    "    'dgram help COMMAND' describes each command and its options.\n"
    "\n"
    "OPTIONS\n"
    "    -h, --help\n"
    "           Print this page and exit. After a command: that command's page.\n"
    "    -V, --version\n"
    "           Print the version and exit.\n"
    "\n",
    exit_status,
    environment,
    "EXAMPLES\n"
    "    Run the howto's echo server on UDP port 9999, and talk to it:\n"
    "        $ dgram echo\n"
    "        $ dgram send 127.0.0.1 9999 hello\n"
    "        received b'hello' from 127.0.0.1:9999\n"
    "\n"
    "    Print what arrives on [::1]:5353, with the port's log lines:\n"
    "        $ dgram listen --interface ::1 --port 5353 --verbose\n"
    "\n"
    "    Two datagrams to a name, giving up after one second:\n"
    "        $ dgram send --timeout 1 localhost 9999 ping pong\n",
    NULL};

/* echo's and listen's options: the same flags, the same meaning. */
static const char server_options[] =
    "OPTIONS\n"
    "    -p, --port PORT\n"
    "           The UDP port to bind, 0-65535; 0 picks a free one (see -v).\n"
    "           Default 9999.\n"
    "    -i, --interface ADDR\n"
    "           The local IP address to bind: 127.0.0.1, ::1, :: (IPv6 and\n"
    "           IPv4-mapped) ... Default: IPv4 any (0.0.0.0), as Twisted.\n"
    "    -g, --group GROUP\n"
    "           Join the multicast GROUP (224.0.0.0/4 or ff00::/8) and bind any\n"
    "           address of its family, shared with other listeners on the same\n"
    "           port (SO_REUSEPORT), so each gets every group datagram. With a\n"
    "           group, --interface names the interface to join on: an address,\n"
    "           a name (eth0) or an index. Default: the kernel's choice by route.\n"
    "    -m, --max-packet-size BYTES\n"
    "           Longest datagram received whole, 1-65535. Default 8192.\n"
    "    -q, --quiet\n"
    "           Print nothing per datagram.\n"
    "    -v, --verbose\n"
    "           Log the port's Twisted log lines on stderr: 'Echo starting on\n"
    "           9999' (for listen, 'Listen starting on 9999') gives the bound\n"
    "           port; '(UDP Port 9999 Closed)' its close.\n"
    "    --stats\n"
    "           Print the port's counters on stderr, as one line of name=value\n"
    "           pairs (datagrams and bytes received and sent, truncated, kernel\n"
    "           drops, send errors by kind, send syscalls, refusals;\n"
    "           docs/reliability.md), on SIGUSR1 and at exit.\n"
    "    -h, --help\n"
    "           Print this page and exit.\n"
    "\n";

static const char *const page_echo[] = {
    "NAME\n"
    "    dgram echo - the UDP echo server of Twisted's howto\n"
    "\n"
    "SYNOPSIS\n"
    "    dgram echo [-p PORT] [-i ADDR] [-g GROUP] [-m BYTES] [-q] [-v] [--stats]\n"
    "\n"
    "DESCRIPTION\n"
    "    Bind a UDP port and, for each datagram, print one line\n"
    "        received b'...' from HOST:PORT\n"
    "    exactly as the howto's Python 3 server prints it (HOST without brackets,\n"
    "    also for IPv6), then send the datagram back to its sender. Stdout is\n"
    "    flushed after each line. Runs until SIGINT or SIGTERM, then exits 0.\n"
    "\n"
    "    A datagram longer than --max-packet-size arrives truncated; it is\n"
    "    printed and echoed truncated (never more bytes than were received), and\n"
    "    a note goes to stderr.\n"
    "\n"
    "    The replies to the datagrams of one read leave in one sendmmsg()\n"
    "    (dg_port_set_write_batching()); a reply the kernel refuses is reported\n"
    "    on stderr all the same, as 'dgram echo: reply to HOST:PORT: ERROR'.\n"
    "\n",
    server_options,
    exit_status,
    environment,
    "EXAMPLES\n"
    "    $ dgram echo\n"
    "    received b'hello' from 127.0.0.1:40001\n"
    "\n"
    "    $ dgram echo --interface ::1 --port 0 --verbose\n"
    "    Echo starting on 38725\n",
    NULL};

static const char *const page_listen[] = {
    "NAME\n"
    "    dgram listen - print the datagrams a UDP port receives\n"
    "\n"
    "SYNOPSIS\n"
    "    dgram listen [-p PORT] [-i ADDR] [-g GROUP] [-m BYTES] [-q] [-v] [--stats]\n"
    "\n"
    "DESCRIPTION\n"
    "    As dgram echo, without the echo: bind a UDP port and, for each\n"
    "    datagram, print\n"
    "        received b'...' from HOST:PORT\n"
    "    Nothing is sent. Runs until SIGINT or SIGTERM, then exits 0.\n"
    "    A datagram longer than --max-packet-size is printed truncated, with a\n"
    "    note on stderr.\n"
    "\n",
    server_options,
    exit_status,
    environment,
    "EXAMPLES\n"
    "    $ dgram listen --port 5000\n"
    "    received b'\\x00\\xffbin\\n' from 127.0.0.1:40001\n",
    NULL};

static const char *const page_send[] = {
    "NAME\n"
    "    dgram send - send datagrams on a connected UDP port and print the replies\n"
    "\n"
    "SYNOPSIS\n"
    "    dgram send [-4|-6] [-i ADDR] [-l PORT] [-t SECONDS] [-T TTL] [-m BYTES]\n"
    "               [-q] [-v] HOST PORT MESSAGE...\n"
    "\n"
    "DESCRIPTION\n"
    "    The howto's connected client. Connect a UDP port to HOST PORT, where\n"
    "    HOST is a name (resolved with getaddrinfo, so /etc/hosts applies) or an\n"
    "    IP literal; send each MESSAGE as one datagram, in order; print each\n"
    "    reply as\n"
    "        received b'...' from ADDR:PORT\n"
    "    (the address it came from; IPv6 in brackets); and exit 0 once one reply\n"
    "    per MESSAGE has arrived.\n"
    "\n"
    "    If no one listens on HOST PORT (ICMP port unreachable), send exits 1\n"
    "    saying so. If the replies do not all arrive within --timeout seconds,\n"
    "    counted from the start, name lookup included, it exits 3.\n"
    "\n"
    "    HOST may be a multicast group: the port is then not connected, each\n"
    "    MESSAGE goes to the group, replies from any member are printed, and\n"
    "    send exits 0 once as many replies as MESSAGEs have arrived.\n"
    "\n"
    "    Options come before the MESSAGEs; put '--' before a MESSAGE that starts\n"
    "    with '-'. An empty MESSAGE ('') is sent as an empty datagram.\n"
    "\n"
    "OPTIONS\n"
    "    -4, --ipv4\n"
    "           Use IPv4 addresses of HOST only.\n"
    "    -6, --ipv6\n"
    "           Use IPv6 addresses of HOST only.\n"
    "    -i, --interface ADDR\n"
    "           The local IP address to bind. Default: any, of HOST's family.\n"
    "           To a group: the interface group datagrams leave by, an address,\n"
    "           a name (eth0) or an index.\n"
    "    -l, --local-port PORT\n"
    "           The local port to bind, 0-65535. Default 0: a free one.\n"
    "    -t, --timeout SECONDS\n"
    "           How long to wait for every reply, such as 5 or 0.5; 0 waits for\n"
    "           ever. Default 5.\n"
    "    -T, --ttl TTL\n"
    "           To a group only: the multicast TTL (IPv6 hop limit), 0-255.\n"
    "           Default 1: the local link.\n"
    "    -m, --max-packet-size BYTES\n"
    "           Longest reply received whole, 1-65535. Default 8192.\n"
    "    -q, --quiet\n"
    "           Print no replies; only the exit status tells.\n"
    "    -v, --verbose\n"
    "           Log the port's log lines on stderr.\n"
    "    -h, --help\n"
    "           Print this page and exit.\n"
    "\n",
    exit_status,
    environment,
    "EXAMPLES\n"
    "    $ dgram send 127.0.0.1 9999 hello\n"
    "    received b'hello' from 127.0.0.1:9999\n"
    "\n"
    "    $ dgram send -4 localhost 9999 a b\n"
    "    $ dgram send 127.0.0.1 9 hello\n"
    "    dgram send: 127.0.0.1:9: connection refused (no one listening)\n",
    NULL};

const char *const *args_help(command topic)
{
    switch (topic) {
    case CMD_ECHO: return page_echo;
    case CMD_LISTEN: return page_listen;
    case CMD_SEND: return page_send;
    default: return page_general;
    }
}
