#!/usr/bin/python3
"""dgram echo --stats (issue 6): the port's counters on stderr, on SIGUSR1
and on exit, one line of name=value pairs named as dg_port_stats' fields.

- after 3 datagrams (one truncated by --max-packet-size 4), SIGUSR1 prints
  rx_datagrams=3, the bytes delivered, rx_truncated=1 and tx_datagrams=3,
  and the server keeps running;
- the echo never sends more bytes than it received: tx_bytes == rx_bytes;
- SIGTERM: exit 0, and the final line counts a 4th datagram;
- without --stats, nothing of the kind is printed.
"""
import os
import re
import signal
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import Proc, check, dgram, main, recv, server_port, stop, udp

LINE = r"dgram echo: stats (on SIGUSR1|at exit): (.*)"


def fields(m):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}


def stats():
    server = Proc(dgram("echo", "--port", 0, "--verbose", "--quiet", "--stats",
                        "--max-packet-size", 4, "--interface", "127.0.0.1"))
    port = server_port(server)
    client = udp()
    for d in (b"ab", b"0123456789", b""):
        client.sendto(d, ("127.0.0.1", port))
        recv(client, "echo of %r" % d)
    server.signal(signal.SIGUSR1)
    f = fields(server.wait_line("err", LINE))
    want = {"rx_datagrams": 3, "rx_bytes": 6, "rx_truncated": 1, "rx_discarded": 0,
            "rx_kernel_drops": 0, "rx_errors": 0, "tx_datagrams": 3, "tx_bytes": 6,
            "tx_errors": 0, "tx_err_again": 0, "tx_err_nobufs": 0, "tx_err_msgsize": 0,
            "tx_err_refused": 0, "tx_err_other": 0, "tx_deferred_errors": 0,
            # one reply per read batch here: the client waits for each
            "tx_syscalls": 3, "tx_gso_sends": 0, "rx_gro_trains": 0, "refused": 0}
    check(f == want, "stats on SIGUSR1", f, want, server.describe())
    check(f["tx_bytes"] <= f["rx_bytes"], "echo sent more bytes than it received", f)

    client.sendto(b"more", ("127.0.0.1", port))
    check(recv(client, "echo after SIGUSR1") == (b"more", ("127.0.0.1", port)),
          "the server stopped answering after SIGUSR1", server.describe())
    stop(server, signal.SIGTERM)
    last = [l for l in server.err if "stats at exit" in l]
    check(len(last) == 1, "no single stats line at exit", server.describe())
    f = fields(re.match(LINE, last[0]))
    check(f["rx_datagrams"] == 4 and f["tx_datagrams"] == 4 and f["tx_bytes"] == 10,
          "stats at exit", f, server.describe())


def without():
    server = Proc(dgram("echo", "--port", 0, "--verbose", "--quiet", "--interface", "127.0.0.1"))
    port = server_port(server)
    client = udp()
    client.sendto(b"x", ("127.0.0.1", port))
    recv(client, "echo without --stats")
    stop(server, signal.SIGTERM)
    check(not any("stats" in l for l in server.err), "stats printed without --stats",
          server.describe())


def test():
    stats()
    without()


if __name__ == "__main__":
    main(test)
