#!/usr/bin/python3
"""dgram echo and dgram listen, end to end:

- truncation: with --max-packet-size 4 a 10-byte datagram is printed and
  echoed as its first 4 bytes (never more than arrived), with a note on
  stderr, and the next datagram is whole again;
- hostile bytes (ESC, CR, quotes, 0xff) are printed as Python's repr;
- listen prints the same lines and sends nothing back;
- --quiet echoes without printing; SIGTERM stops a server with exit 0;
- a port in use: exit 1 and Twisted's 'Couldn't listen on any:PORT: ...'.
"""
import os
import signal
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tool_lib"))
from e2e import Proc, check, dgram, main, recv, server_port, stop, udp


def truncation():
    server = Proc(dgram("echo", "--port", 0, "--verbose", "--max-packet-size", 4))
    port = server_port(server)
    client = udp()
    cport = client.getsockname()[1]
    for sent, back in ((b"0123456789", b"0123"), (b"abcd", b"abcd"), (b"", b"")):
        client.sendto(sent, ("127.0.0.1", port))
        got = recv(client, "echo of %r" % sent)
        check(got == (back, ("127.0.0.1", port)), "echo of %r with --max-packet-size 4" % sent, got)
    stop(server, signal.SIGTERM)
    check(server.out == ["received b'0123' from 127.0.0.1:%d" % cport,
                         "received b'abcd' from 127.0.0.1:%d" % cport,
                         "received b'' from 127.0.0.1:%d" % cport], "truncated lines", server.describe())
    note = "dgram echo: datagram from 127.0.0.1:%d truncated to 4 bytes (--max-packet-size)" % cport
    check(server.err.count(note) == 1, "no single truncation note on stderr", server.describe())


def hostile_and_listen():
    server = Proc(dgram("listen", "--port", 0, "--verbose", "--interface", "127.0.0.1"))
    port = int(server.wait_line("err", r"Listen starting on (\d+)").group(1))
    client = udp()
    cport = client.getsockname()[1]
    hostile = [b"\x1b[2J\r\x07", b"it's", b"'\"", b"\\\xff\x80\t"]
    for d in hostile:
        client.sendto(d, ("127.0.0.1", port))
        server.wait_line("out", r".* from 127\.0\.0\.1:%d" % cport)
    stop(server)
    want = ["received %r from 127.0.0.1:%d" % (d, cport) for d in hostile]
    check(server.out == want, "listen's lines are not Python's repr", want, server.describe())
    # Each datagram was handled (printed) before the next was sent, so an echo
    # of any of them would be queued on the client by now.
    client.setblocking(False)
    try:
        got = client.recvfrom(65536)
    except BlockingIOError:
        got = None
    check(got is None, "dgram listen sent something back", got)


def quiet_and_in_use():
    server = Proc(dgram("echo", "--port", 0, "--verbose", "--quiet", "--interface", "127.0.0.1"))
    port = server_port(server)
    client = udp()
    client.sendto(b"shh", ("127.0.0.1", port))
    check(recv(client, "quiet echo") == (b"shh", ("127.0.0.1", port)), "--quiet did not echo")

    second = Proc(dgram("echo", "--port", port, "--interface", "127.0.0.1"))
    rc = second.finish()
    check(rc == 1, "a second echo on a port in use: exit %s, not 1" % rc, second.describe())
    check(second.err == ["dgram echo: Couldn't listen on 127.0.0.1:%d: Address already in use." % port],
          "bind error message", second.describe())
    stop(server)
    check(server.out == [], "--quiet printed", server.describe())


def test():
    truncation()
    hostile_and_listen()
    quiet_and_in_use()


if __name__ == "__main__":
    main(test)
